//! The daemon against the simulator over real HTTP on loopback: every verdict state from its matching simulator
//! condition, visible in `/metrics`, `/status` and `ccr-sentinel status`; counts and lag equal to the simulator's
//! truth (`/_sim/state`); the request budget per poll; a version matrix.

use std::time::Duration;

use ccr_sentinel::evaluate::health::FollowerState;
use ccr_sim::{ClusterConfig, Sim};
use serde_json::{json, Value};

use crate::common::policy::connected_pair;
use crate::common::{
    closed_port, connect, daemon_config, must, one_shot, run_with_config, Running,
};

/// Creates `leader` on `leader_cluster` with soft deletes (needed on 6.x) and `docs` documents.
fn leader_index(sim: &Sim, leader_cluster: &str, leader: &str, docs: u64) {
    must(
        sim.cluster(leader_cluster).request(
            "PUT",
            &format!("/{leader}"),
            Some(json!({"settings": {"index.soft_deletes.enabled": true, "index.number_of_shards": 2}})),
        ),
        "create leader index",
    );
    if docs > 0 {
        sim.cluster(leader_cluster)
            .index_docs(leader, docs)
            .unwrap();
    }
}

/// The connected pair (`deterministic` for a simulated clock that only [`advance`] moves) with leader index
/// `orders` (10 documents) followed as `orders-copy`.
async fn pair_following_orders(deterministic: bool) -> Sim {
    let sim = connected_pair(deterministic).await;
    leader_index(&sim, "leader", "orders", 10);
    follow(&sim, "orders-copy", "leader", "orders");
    sim
}

/// The daemon config watching `orders-copy` only.
fn orders_config(sim: &Sim) -> String {
    config(
        sim,
        &followers_toml(&[("follower", "leader", "orders", "orders-copy")]),
    )
}

/// The `/metrics` line saying `orders-copy` is in `state`.
fn orders_state(state: &str) -> String {
    state_series("follower", "orders-copy", state)
}

/// Follows with small read batches (10 operations, one outstanding read), so a burst of writes stays visible as
/// lag for a while in simulated time.
fn follow(sim: &Sim, follower: &str, alias: &str, leader: &str) {
    must(
        sim.cluster("follower").request(
            "PUT",
            &format!("/{follower}/_ccr/follow?wait_for_active_shards=1"),
            Some(json!({"remote_cluster": alias, "leader_index": leader,
                        "max_read_request_operation_count": 10, "max_outstanding_read_requests": 1})),
        ),
        "follow",
    );
}

/// Calls the simulator's `/_sim/` control API of the follower cluster over HTTP; it must answer 200.
async fn sim_control(sim: &Sim, method: &str, path: &str, body: Option<Value>) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = reqwest::Client::new().request(method, format!("{}{path}", sim.url("follower")));
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{path}: {}", r.text().await.unwrap());
}

/// Advances the deterministic clock in steps (replication happens in simulated time).
fn advance(sim: &Sim, d: Duration) {
    sim.advance(d).unwrap();
}

/// The daemon config with health thresholds that make a burst of writes visible as lag.
fn config(sim: &Sim, extra: &str) -> String {
    daemon_config(
        sim,
        &format!(
            "[health]\nmax_lag_operations = 1000\nmax_time_since_last_read = \"1m\"\nmax_docs_difference = 0\n{extra}"
        ),
    )
}

fn followers_toml(list: &[(&str, &str, &str, &str)]) -> String {
    list.iter()
        .map(|(cluster, remote, leader, follower)| {
            format!(
                "[[followers]]\ncluster = \"{cluster}\"\nremote = \"{remote}\"\nleader_index = \"{leader}\"\nfollower_index = \"{follower}\"\n"
            )
        })
        .collect()
}

fn state_series(cluster: &str, follower: &str, state: &str) -> String {
    format!(
        r#"ccr_sentinel_follower_state{{follower_cluster="{cluster}",follower_index="{follower}",state="{state}"}} 1"#
    )
}

/// The info series of a configured follower: where its remote and leader are said.
fn info_series(cluster: &str, remote: &str, leader: &str, follower: &str) -> String {
    format!(
        r#"ccr_sentinel_follower_info{{follower_cluster="{cluster}",follower_index="{follower}",remote_cluster="{remote}",leader_index="{leader}",managed="true"}} 1"#
    )
}

/// Every state produced by its simulator condition, then checked in `/metrics`, `/status` and the `status`
/// command; `docs_mismatch` (from the simulator's drift fault) is also cleared again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_from_its_simulator_condition() {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"))
        .cluster(ClusterConfig::new("other"))
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    connect(&sim, "follower", "leader", "leader");
    connect(&sim, "follower", "other", "other");
    for (leader, docs) in [
        ("healthy", 30),
        ("lagging", 10),
        ("stalled", 10),
        ("failed", 10),
        ("refollow", 10),
        ("paused", 10),
        ("orphan", 10),
        ("drift", 10),
    ] {
        leader_index(&sim, "leader", leader, docs);
    }
    leader_index(&sim, "other", "remote", 10);
    for l in [
        "healthy", "lagging", "stalled", "failed", "refollow", "paused", "orphan", "drift",
    ] {
        follow(&sim, &format!("{l}-copy"), "leader", l);
    }
    follow(&sim, "remote-copy", "other", "remote");
    advance(&sim, Duration::from_secs(5));

    // The conditions.
    let f = sim.cluster("follower");
    let l = sim.cluster("leader");
    f.fail_shard("failed-copy", 0).unwrap();
    must(
        f.request("POST", "/paused-copy/_ccr/pause_follow", None),
        "pause",
    );
    f.disconnect_remote("other").unwrap();
    // Writes the follower has not read yet, then the leader drops their history.
    l.index_docs("refollow", 5).unwrap();
    l.lose_retention_leases("refollow").unwrap();
    l.delete_index("orphan").unwrap();
    f.inject_read_exceptions("stalled-copy", 100_000).unwrap();
    l.index_docs("stalled", 20).unwrap();
    // Three documents go missing on the follower side; checkpoints do not show it. Through the control API
    // over HTTP, as an operator of the simulator would do it.
    sim_control(
        &sim,
        "POST",
        "/_sim/follower/drift-copy/drift",
        Some(json!({"docs": -3})),
    )
    .await;
    advance(&sim, Duration::from_secs(180));
    // Last: the follower learns of these within one tick but reads only 10 operations per round trip.
    l.index_docs("lagging", 5_000).unwrap();
    advance(&sim, Duration::from_millis(100));

    let dr_port = closed_port();
    let toml = config(
        &sim,
        &format!(
            r#"
[clusters.other]
url = "{other}"
[clusters.dr]
url = "http://127.0.0.1:{dr_port}"
timeout = "1s"
[[remotes]]
cluster = "follower"
alias = "other"
leader = "other"
[[remotes]]
cluster = "dr"
alias = "leader"
leader = "leader"
# This test checks verdicts: the daemon must not repair the failed follower meanwhile.
[policy]
recover_fatal = false
{followers}"#,
            other = sim.url("other"),
            followers = followers_toml(&[
                ("follower", "leader", "healthy", "healthy-copy"),
                ("follower", "leader", "lagging", "lagging-copy"),
                ("follower", "leader", "stalled", "stalled-copy"),
                ("follower", "leader", "failed", "failed-copy"),
                ("follower", "leader", "refollow", "refollow-copy"),
                ("follower", "leader", "paused", "paused-copy"),
                ("follower", "other", "remote", "remote-copy"),
                ("follower", "leader", "missing", "missing-copy"),
                ("follower", "leader", "orphan", "orphan-copy"),
                ("follower", "leader", "drift", "drift-copy"),
                ("dr", "leader", "healthy", "healthy-dr"),
            ])
        ),
    );
    let expected = [
        (
            "follower",
            "leader",
            "healthy",
            "healthy-copy",
            FollowerState::Healthy,
        ),
        (
            "follower",
            "leader",
            "lagging",
            "lagging-copy",
            FollowerState::Lagging,
        ),
        (
            "follower",
            "leader",
            "stalled",
            "stalled-copy",
            FollowerState::Stalled,
        ),
        (
            "follower",
            "leader",
            "failed",
            "failed-copy",
            FollowerState::Failed,
        ),
        (
            "follower",
            "leader",
            "refollow",
            "refollow-copy",
            FollowerState::NeedsRefollow,
        ),
        (
            "follower",
            "leader",
            "paused",
            "paused-copy",
            FollowerState::Paused,
        ),
        (
            "follower",
            "other",
            "remote",
            "remote-copy",
            FollowerState::RemoteDisconnected,
        ),
        (
            "follower",
            "leader",
            "missing",
            "missing-copy",
            FollowerState::Missing,
        ),
        (
            "follower",
            "leader",
            "orphan",
            "orphan-copy",
            FollowerState::LeaderMissing,
        ),
        (
            "follower",
            "leader",
            "drift",
            "drift-copy",
            FollowerState::DocsMismatch,
        ),
        (
            "dr",
            "leader",
            "healthy",
            "healthy-dr",
            FollowerState::Unknown,
        ),
    ];

    let d = Running::start(&toml).await;
    d.wait_for("/ready", 20, |b| b.contains("\"ready\"")).await;
    let metrics = d
        .wait_for("/metrics", 20, |b| {
            expected.iter().all(|(c, r, l, f, s)| {
                b.contains(&state_series(c, f, s.as_str())) && b.contains(&info_series(c, r, l, f))
            })
        })
        .await;
    // The cluster that does not answer: /metrics still answers, with the cluster down.
    assert!(metrics.contains(r#"ccr_sentinel_cluster_up{cluster="dr"} 0"#));
    assert!(metrics.contains(r#"ccr_sentinel_cluster_up{cluster="follower"} 1"#));
    assert!(metrics.contains(
        r#"ccr_sentinel_request_errors_total{cluster="dr",endpoint="ccr_stats",reason="connect"}"#
    ));
    assert!(metrics.contains(r#"elasticsearch_ccr_remote_cluster_connected{follower_cluster="follower",remote_cluster="other",mode="sniff"} 0"#));
    assert!(metrics.contains(r#"elasticsearch_ccr_follower_fatal_exception{follower_cluster="follower",follower_index="failed-copy"} 1"#));
    // The drift of -3 is a difference (leader minus follower) of 3.
    let drift_labels = r#"follower_cluster="follower",follower_index="drift-copy""#;
    for (metric, value) in [
        ("elasticsearch_ccr_leader_index_docs", 10),
        ("elasticsearch_ccr_follower_index_docs", 7),
    ] {
        let line = format!("{metric}{{{drift_labels}}} {value}");
        assert!(metrics.contains(&line), "{line} not in:\n{metrics}");
    }
    // A scraper that accepts gzip (Prometheus) gets the same exposition gzipped; one that refuses it, plain text.
    // Without reqwest's own decoding, so the test sees the encoding as sent.
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    for (accept, gzipped) in [("gzip, deflate", true), ("gzip;q=0, identity", false)] {
        let r = client
            .get(format!("{}/metrics", d.base))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        let encoding = r
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_string());
        let body = r.bytes().await.unwrap();
        let text = if gzipped {
            assert_eq!(encoding.as_deref(), Some("gzip"), "{accept}");
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text)
                .unwrap();
            text
        } else {
            assert_eq!(encoding, None, "{accept}");
            String::from_utf8(body.to_vec()).unwrap()
        };
        assert!(
            text.contains(r#"ccr_sentinel_cluster_up{cluster="dr"} 0"#),
            "{accept}: {text}"
        );
        assert!(
            text.contains(&state_series("follower", "paused-copy", "paused")),
            "{accept}"
        );
    }

    // /status: the same states, with reasons, and the simulator's truth for lag and counts.
    let (_, status) = d.get("/status").await;
    let status: Value = serde_json::from_str(&status).unwrap();
    let find = |index: &str| -> Value {
        status["followers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["follower_index"] == index)
            .cloned()
            .unwrap_or_else(|| panic!("{index} not in /status"))
    };
    for (_, _, _, f, s) in &expected {
        let fo = find(f);
        assert_eq!(fo["state"], s.as_str(), "{f}: {fo}");
        if *s != FollowerState::Healthy {
            assert!(
                !fo["reasons"].as_array().unwrap().is_empty(),
                "{f} has no reason"
            );
        }
    }
    let truth = sim.cluster("follower").state();
    let lag = find("lagging-copy")["shards"]["global_checkpoint_lag"]
        .as_i64()
        .unwrap();
    assert_eq!(
        lag,
        truth["followers"]["lagging-copy"]["lag"].as_i64().unwrap()
    );
    assert!(lag > 1_000, "lag {lag}");
    let healthy = find("healthy-copy");
    assert_eq!(
        healthy["docs"]["follower_docs"],
        truth["followers"]["healthy-copy"]["follower_docs"]
    );
    assert_eq!(
        healthy["docs"]["leader_docs"],
        truth["followers"]["healthy-copy"]["leader_docs"]
    );
    assert_eq!(healthy["docs"]["comparable"], true, "{healthy}");
    let drift = find("drift-copy");
    assert_eq!(drift["docs"]["comparable"], true, "{drift}");
    assert_eq!(
        drift["docs"]["follower_docs"],
        truth["followers"]["drift-copy"]["follower_docs"]
    );
    assert_eq!(drift["docs"]["follower_docs"], 7, "{drift}");
    assert!(
        drift["reasons"]
            .to_string()
            .contains("leader has 10 documents, follower 7 (difference 3, threshold 0)"),
        "{drift}"
    );
    assert!(find("refollow-copy")["reasons"]
        .to_string()
        .contains("Operations are no longer available"));
    let lagging_metric = format!(
        r#"elasticsearch_ccr_follower_global_checkpoint_lag{{follower_cluster="follower",follower_index="lagging-copy"}} {lag}"#
    );
    assert!(
        d.get("/metrics").await.1.contains(&lagging_metric),
        "{lagging_metric}"
    );

    // The `status` command as a user runs it: one poll, a table, exit 1 because not everything is healthy.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ccr.toml");
    std::fs::write(&path, &toml).unwrap();
    let out = run_with_config(&["status"], &path);
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (c, _, _, f, s) in &expected {
        assert!(
            table.lines().any(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.len() > 4 && cols[0] == *c && cols[1] == *f && cols[4] == s.as_str()
            }),
            "no row `{c} {f} ... {s}` in:\n{table}"
        );
    }
    let out = run_with_config(&["status", "--format", "json"], &path);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<&str> = json["followers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["state"].as_str().unwrap())
        .collect();
    for (_, _, _, _, s) in &expected {
        assert!(states.contains(&s.as_str()), "{s} not in {states:?}");
    }

    // Clearing the fault: the counts agree again and the follower is healthy.
    sim_control(&sim, "DELETE", "/_sim/faults", None).await;
    d.wait_for("/metrics", 20, |b| {
        b.contains(&state_series("follower", "drift-copy", "healthy")) && {
            let [leader, follower] = [
                "elasticsearch_ccr_leader_index_docs",
                "elasticsearch_ccr_follower_index_docs",
            ]
            .map(|m| crate::common::sample(b, &format!("{m}{{{drift_labels}}} ")));
            leader.is_some() && leader == follower
        }
    })
    .await;

    d.stop().await;
    sim.shutdown().await;
}

/// A follower cluster whose bodies turn malformed: errors counted per endpoint and reason, data kept and stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_from_the_simulator_are_counted_and_keep_the_last_state() {
    let sim = pair_following_orders(false).await;
    let d = Running::start(&orders_config(&sim)).await;
    d.wait_for("/metrics", 20, |b| b.contains(&orders_state("healthy")))
        .await;
    sim.cluster("follower")
        .set_http_faults(ccr_sim::HttpFaults {
            malformed_rate: 1.0,
            ..Default::default()
        })
        .unwrap();
    let body = d
        .wait_for("/metrics", 20, |b| {
            // The error is counted just before the poll's report is published, and a failed doc_counts run
            // makes the cluster stale with the followers still judged on the last good poll: the state is
            // waited for too, not read from the first scrape that shows the count.
            b.contains(r#"ccr_sentinel_request_errors_total{cluster="follower",endpoint="ccr_stats",reason="decode"}"#)
                && b.contains(r#"ccr_sentinel_cluster_stale{cluster="follower"} 1"#)
                && b.contains(&orders_state("unknown"))
        })
        .await;
    assert!(body.contains(r#"ccr_sentinel_cluster_up{cluster="follower"} 0"#));
    // The last known series stay.
    assert!(body.contains(
        r#"elasticsearch_ccr_follower_global_checkpoint_lag{follower_cluster="follower",follower_index="orders-copy"} "#
    ));
    assert!(body.contains(&info_series("follower", "leader", "orders", "orders-copy")));
    sim.cluster("follower").clear_faults().unwrap();
    d.wait_for("/metrics", 20, |b| b.contains(&orders_state("healthy")))
        .await;
    d.stop().await;
    sim.shutdown().await;
}

/// One poll costs the same requests with 1 follower and with 12: `/_sim/requests` counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_poll_are_independent_of_the_number_of_followers() {
    let mut totals = Vec::new();
    for n in [1usize, 12] {
        let sim = connected_pair(true).await;
        let mut list = Vec::new();
        for i in 0..n {
            let (leader, follower) = (format!("idx{i}"), format!("idx{i}-copy"));
            leader_index(&sim, "leader", &leader, 3);
            follow(&sim, &follower, "leader", &leader);
            list.push(followers_toml(&[(
                "follower", "leader", &leader, &follower,
            )]));
        }
        advance(&sim, Duration::from_secs(2));
        let daemon = one_shot(&config(&sim, &list.concat()));
        sim.cluster("follower").reset_requests();
        sim.cluster("leader").reset_requests();
        daemon.poll_once().await;
        let poll = sim.cluster("follower").requests();
        sim.cluster("follower").reset_requests();
        daemon.doc_counts_once().await;
        let counts_follower = sim.cluster("follower").requests().total;
        let counts_leader = sim.cluster("leader").requests().total;
        assert_eq!(daemon.report().followers.len(), n);
        assert!(
            daemon
                .report()
                .followers
                .iter()
                .all(|f| f.state == FollowerState::Healthy),
            "{:?}",
            daemon.report().followers
        );
        assert_eq!(poll.mutating, 0, "polling must not change anything");
        totals.push((poll.total, counts_follower, counts_leader));
        sim.shutdown().await;
    }
    assert_eq!(
        totals[0], totals[1],
        "requests grew with the number of followers: {totals:?}"
    );
    // The follower's poll: ccr stats, follow info and remote info; no `_recovery`, as every follower has shard
    // tasks (none can be copying). doc_counts: one `_cat/indices` per cluster, no stats read of its own (the
    // polls around it are its brackets). The leader: the poll's shard stats, the first poll's retention-lease
    // period read and the doc_counts' `_cat/indices`. No auto-follow pattern and no follower of a backing
    // index: no `_data_stream` read, so no `GET /` for its version gate.
    assert_eq!(totals[0], (3, 1, 3));
}

/// The same replication read from 6.8, 7.10, 7.17, 8.x and 9.x simulators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_matrix() {
    for version in ["6.8.23", "7.10.2", "7.17.20", "8.15.0", "9.1.0"] {
        let sim = Sim::builder()
            .cluster(ClusterConfig::new("leader").version(version))
            .cluster(ClusterConfig::new("follower").version(version))
            .deterministic_clock()
            .start()
            .await
            .unwrap();
        connect(&sim, "follower", "leader", "leader");
        leader_index(&sim, "leader", "orders", 40);
        follow(&sim, "orders-copy", "leader", "orders");
        // Before 7.0 a cluster runs one restore at a time: let the first remote recovery end.
        advance(&sim, Duration::from_millis(100));
        leader_index(&sim, "leader", "paused", 5);
        follow(&sim, "paused-copy", "leader", "paused");
        advance(&sim, Duration::from_secs(5));
        must(
            sim.cluster("follower")
                .request("POST", "/paused-copy/_ccr/pause_follow", None),
            "pause",
        );
        sim.cluster("leader").index_docs("orders", 1_500).unwrap();
        advance(&sim, Duration::from_millis(100));
        let daemon = one_shot(&config(
            &sim,
            &followers_toml(&[
                ("follower", "leader", "orders", "orders-copy"),
                ("follower", "leader", "paused", "paused-copy"),
            ]),
        ));
        daemon.poll_once().await;
        let r = daemon.report();
        let find = |i: &str| {
            r.followers
                .iter()
                .find(|f| f.observation.follower_index == i)
                .unwrap()
                .clone()
        };
        let truth = sim.cluster("follower").state();
        let orders = find("orders-copy");
        assert_eq!(
            orders.state,
            FollowerState::Lagging,
            "{version}: {:?}",
            orders.reasons
        );
        assert_eq!(
            orders
                .observation
                .shards
                .as_ref()
                .unwrap()
                .global_checkpoint_lag,
            truth["followers"]["orders-copy"]["lag"].as_i64().unwrap(),
            "{version}"
        );
        assert_eq!(
            find("paused-copy").state,
            FollowerState::Paused,
            "{version}"
        );
        assert!(
            r.clusters.iter().any(|c| c.name == "follower" && c.up),
            "{version}: {:?}",
            r.clusters
        );
        assert_eq!(r.remotes[0].mode, "sniff", "{version}");
        assert!(r.remotes[0].connected, "{version}");

        // Caught up and quiet: the counts are compared (with the polls before and after them), and equal.
        advance(&sim, Duration::from_secs(60));
        daemon.poll_once().await;
        daemon.doc_counts_once().await;
        daemon.poll_once().await;
        let r = daemon.report();
        let orders = r
            .followers
            .iter()
            .find(|f| f.observation.follower_index == "orders-copy")
            .unwrap();
        assert_eq!(
            orders.state,
            FollowerState::Healthy,
            "{version}: {:?}",
            orders.reasons
        );
        let docs = orders.observation.docs.as_ref().unwrap();
        assert!(docs.comparable, "{version}: {docs:?}");
        assert_eq!(docs.leader_docs, Some(1_540), "{version}");
        assert_eq!(docs.difference(), Some(0), "{version}");
        assert!(
            r.clusters.iter().all(|c| c.up),
            "{version}: {:?}",
            r.clusters
        );
        sim.shutdown().await;
    }
}

/// Right after a remote outage the follower still reports the leader checkpoints it saw before it, while the
/// leader kept taking writes: the counts differ but must not be judged as drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_docs_mismatch_right_after_a_remote_outage() {
    let sim = pair_following_orders(true).await;
    sim.cluster("leader").set_writes("orders", 20.0).unwrap();
    advance(&sim, Duration::from_secs(5));
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    advance(&sim, Duration::from_secs(5));
    sim.cluster("follower").connect_remote("leader").unwrap();
    let daemon = one_shot(&orders_config(&sim));
    daemon.poll_once().await;
    daemon.doc_counts_once().await;
    daemon.poll_once().await;
    let r = daemon.report();
    let orders = &r.followers[0];
    let docs = orders.observation.docs.as_ref().unwrap();
    assert!(
        docs.difference().unwrap() > 0,
        "the leader took writes during the outage: {docs:?}"
    );
    assert!(!docs.comparable, "{docs:?}");
    assert_ne!(
        orders.state,
        FollowerState::DocsMismatch,
        "{:?}",
        orders.reasons
    );
    sim.shutdown().await;
}

/// A follower cluster that goes down (connections reset) and comes back: `/metrics` keeps answering with
/// `ccr_sentinel_cluster_up 0` and the last known values, then recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_outage_and_recovery() {
    let sim = pair_following_orders(false).await;
    let d = Running::start(&orders_config(&sim)).await;
    let healthy = orders_state("healthy");
    d.wait_for("/metrics", 20, |b| {
        b.contains(&healthy) && b.contains(r#"ccr_sentinel_cluster_up{cluster="follower"} 1"#)
    })
    .await;

    sim.cluster("follower").stop().unwrap();
    // The cluster is down from the first failed read; the follower is `unknown` once a poll's `_ccr/stats`
    // failed (a doc_counts run that fails first reads only `_cat/indices`).
    let unknown = orders_state("unknown");
    let body = d
        .wait_for("/metrics", 20, |b| {
            b.contains(r#"ccr_sentinel_cluster_up{cluster="follower"} 0"#) && b.contains(&unknown)
        })
        .await;
    assert!(
        body.contains(r#"ccr_sentinel_cluster_up{cluster="leader"} 1"#),
        "{body}"
    );
    assert!(
        body.contains(
            "elasticsearch_ccr_follower_global_checkpoint_lag{follower_cluster=\"follower\""
        ),
        "last values kept"
    );
    let (code, _) = d.get("/health").await;
    assert_eq!(code, 200, "a cluster outage is not a liveness problem");

    sim.cluster("follower").start().unwrap();
    d.wait_for("/metrics", 20, |b| {
        b.contains(&healthy) && b.contains(r#"ccr_sentinel_cluster_stale{cluster="follower"} 0"#)
    })
    .await;
    d.stop().await;
    sim.shutdown().await;
}
