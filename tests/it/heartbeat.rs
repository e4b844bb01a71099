//! The heartbeat canary against the simulator over real HTTP: the daemon writes its timestamp document into its
//! own leader index (created with soft deletes), reconcile follows that index like any other, and the poll reads
//! the follower's copy to publish the end-to-end delay per remote; a cut-off remote shows a delay at least as
//! old as the last replicated heartbeat; dry run writes nothing.

use std::time::Duration;

use ccr_sentinel::act::heartbeat::Heartbeat;
use ccr_sentinel::reconcile::{one_shot, ItemState};
use ccr_sim::{ClusterConfig, Sim};
use chrono::Utc;

use crate::common::{daemon_config, must, sample};

const HEARTBEAT: &str =
    "[[remotes]]\ncluster = \"follower\"\nalias = \"leader\"\nleader = \"leader\"\n";

async fn sim() -> Sim {
    Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"))
        .deterministic_clock()
        .start()
        .await
        .unwrap()
}

/// The daemon config with `heartbeat = true` on the remote `leader`.
fn config(sim: &Sim, extra: &str) -> ccr_sentinel::config::Config {
    let text = daemon_config(sim, extra);
    assert!(text.contains(HEARTBEAT), "{text}");
    let text = text.replacen(HEARTBEAT, &format!("{HEARTBEAT}heartbeat = true\n"), 1);
    ccr_sentinel::config::from_toml_str(&text).unwrap()
}

/// The `ts` of the heartbeat document in `index` on `cluster`, read over HTTP.
fn heartbeat_ts(sim: &Sim, cluster: &str, index: &str) -> Option<i64> {
    let r = must(
        sim.cluster(cluster)
            .request("GET", &format!("/{index}/_search"), None),
        "search",
    );
    r["hits"]["hits"][0]["_source"]["ts"].as_i64()
}

fn writes(sim: &Sim) -> u64 {
    sim.cluster("leader")
        .requests()
        .by_endpoint
        .get("PUT /{index}/_doc/{id}")
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_is_written_followed_and_its_delay_published() {
    let sim = sim().await;
    let cfg = config(&sim, "");
    let clients = ccr_sentinel::es::Clients::from_config(&cfg).unwrap();
    let hb = Heartbeat::new(std::sync::Arc::new(cfg.clone()), clients);

    // The first beat creates the leader index (soft deletes, one shard) and writes the document.
    let t1 = Utc::now();
    for (cluster, r) in hb.beat(t1).await {
        assert_eq!(cluster, "leader");
        r.unwrap();
    }
    assert_eq!(writes(&sim), 1, "one write per leader cluster");
    let settings = must(
        sim.cluster("leader").request(
            "GET",
            "/ccr-sentinel-heartbeat/_settings?flat_settings=true",
            None,
        ),
        "settings",
    );
    assert_eq!(
        settings["ccr-sentinel-heartbeat"]["settings"]["index.soft_deletes.enabled"],
        "true"
    );
    assert_eq!(
        heartbeat_ts(&sim, "leader", "ccr-sentinel-heartbeat"),
        Some(t1.timestamp_millis())
    );

    // Reconcile follows it like any configured follower.
    let r = one_shot(cfg.clone(), false).unwrap();
    let run = r.run_once().await;
    let item = run
        .items
        .iter()
        .find(|i| i.name == "ccr-sentinel-heartbeat-leader")
        .unwrap_or_else(|| panic!("{run:#?}"));
    assert_eq!(item.state, ItemState::Changed, "{item:?}");
    sim.advance(Duration::from_secs(5)).unwrap();

    let t2 = Utc::now();
    hb.beat(t2).await;
    assert_eq!(writes(&sim), 2);
    sim.advance(Duration::from_secs(2)).unwrap();
    assert_eq!(
        heartbeat_ts(&sim, "follower", "ccr-sentinel-heartbeat-leader"),
        Some(t2.timestamp_millis()),
        "replicated"
    );
    let d = ccr_sentinel::daemon::Daemon::new(cfg.clone()).unwrap();
    d.poll_once().await;
    let before = Utc::now();
    let delay = |d: &ccr_sentinel::daemon::Daemon| {
        d.report()
            .remotes
            .iter()
            .find(|r| r.remote_cluster == "leader")
            .and_then(|r| r.heartbeat_delay_seconds)
            .expect("a heartbeat delay for remote leader")
    };
    let first = delay(&d);
    assert!(
        first >= 0.0
            && first <= (before.timestamp_millis() - t2.timestamp_millis()) as f64 / 1000.0,
        "{first}"
    );
    let m = d.metrics().render().unwrap();
    assert_eq!(
        sample(
            &m,
            r#"ccr_sentinel_remote_heartbeat_delay_seconds{follower_cluster="follower",remote_cluster="leader"}"#
        ),
        Some(first)
    );
    // The heartbeat follower is a follower like the others.
    assert!(
        m.contains(r#"follower_index="ccr-sentinel-heartbeat-leader",state="healthy"} 1"#),
        "{m}"
    );

    // Cut off: new heartbeats stay on the leader; the delay is at least the age of the last replicated one.
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    let t3 = Utc::now();
    hb.beat(t3).await;
    sim.advance(Duration::from_secs(2)).unwrap();
    assert_eq!(
        heartbeat_ts(&sim, "follower", "ccr-sentinel-heartbeat-leader"),
        Some(t2.timestamp_millis())
    );
    let before = Utc::now();
    d.poll_once().await;
    let cut = delay(&d);
    assert!(
        cut >= (before.timestamp_millis() - t2.timestamp_millis()) as f64 / 1000.0,
        "{cut} after a heartbeat written at {t2}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_no_heartbeat() {
    let sim = sim().await;
    let cfg = config(&sim, "[reconcile]\ndry_run = true\n");
    let clients = ccr_sentinel::es::Clients::from_config(&cfg).unwrap();
    let hb = Heartbeat::new(std::sync::Arc::new(cfg), clients);
    for (_, r) in hb.beat(Utc::now()).await {
        r.unwrap();
    }
    assert_eq!(sim.cluster("leader").requests().mutating, 0);
    assert_eq!(
        sim.cluster("leader")
            .request("GET", "/ccr-sentinel-heartbeat", None)
            .0,
        404
    );
    sim.shutdown().await;
}
