//! The initial copy of a follower against the simulator on its deterministic clock, over real HTTP: reconcile
//! creates a follower of a large leader once (no `name_conflict`, one put follow), the follower is
//! `bootstrapping` with progress while its restore runs and no policy touches it, then `healthy` (a 2 GiB leader
//! on the daemon's clock set to the simulator's, with no lag in time, grade or alert while it copies); a restore that
//! never starts following is `not_started` and resumed by `recover_not_started`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ccr_sentinel::evaluate::health::FollowerState;
use ccr_sentinel::evaluate::report::FollowerReport;
use ccr_sentinel::reconcile::{one_shot, ItemState};
use ccr_sim::{ClusterConfig, Sim};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::common::{daemon_config, must, sample};

/// `leader` and `follower` on a deterministic clock, the leader holding `big` (2 shards, `docs` documents), the
/// follower copying at most `rate` per second.
async fn sim_with_big_leader(docs: u64, rate: &str) -> Sim {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"))
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    let l = sim.cluster("leader");
    must(
        l.request(
            "PUT",
            "/big",
            Some(json!({"settings": {"index.number_of_shards": 2}})),
        ),
        "create big",
    );
    l.index_docs("big", docs).unwrap();
    must(
        sim.cluster("follower").request(
            "PUT",
            "/_cluster/settings",
            Some(json!({"persistent": {"ccr.indices.recovery.max_bytes_per_sec": rate}})),
        ),
        "recovery rate",
    );
    sim
}

fn config(sim: &Sim, extra: &str) -> String {
    daemon_config(
        sim,
        &format!(
            "[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"big\"\nfollower_index = \"big-copy\"\n{extra}"
        ),
    )
}

fn put_follows(sim: &Sim) -> u64 {
    sim.cluster("follower")
        .requests()
        .by_endpoint
        .get("PUT /{index}/_ccr/follow")
        .copied()
        .unwrap_or(0)
}

fn big_copy(d: &ccr_sentinel::daemon::Daemon) -> FollowerReport {
    d.report()
        .followers
        .iter()
        .find(|f| f.observation.follower_index == "big-copy")
        .cloned()
        .expect("big-copy in the report")
}

fn policy_actions(d: &ccr_sentinel::daemon::Daemon) -> f64 {
    let m = d.metrics().render().unwrap();
    m.lines()
        .filter(|l| l.starts_with("ccr_sentinel_actions_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_leader_bootstraps_with_progress_then_follows_after_one_put_follow() {
    let sim = sim_with_big_leader(4_000, "20kb").await;
    // Every policy that could act on a paused follower is on.
    let text = config(
        &sim,
        "[policy]\nresume_unexpected_pause = true\nresume_unexpected_pause_grace = \"1s\"\npause_on_remote_outage = true\n",
    );
    let cfg = ccr_sentinel::config::from_toml_str(&text).unwrap();
    let r = one_shot(cfg.clone(), false).unwrap();
    let first = r.run_once().await;
    assert!(first.ok(), "{first:#?}");
    assert_eq!(put_follows(&sim), 1);

    let d = ccr_sentinel::daemon::build(cfg).unwrap();
    let mut seen: Vec<(f64, u64)> = Vec::new();
    let mut rate_seen = false;
    for step in 0..400 {
        d.run_cycle().await;
        let f = big_copy(&d);
        if f.state == FollowerState::Healthy {
            break;
        }
        assert_eq!(
            f.state,
            FollowerState::Bootstrapping,
            "step {step}: {:?}",
            f.reasons
        );
        let b = f.observation.bootstrap.clone().expect("progress");
        assert!(b.bytes_total > 0 || step == 0, "{b:?}");
        assert!(f.reasons[0].contains("initial copy from remote_cluster `leader`"));
        rate_seen |= b.bytes_per_second.is_some_and(|r| r > 0.0) && b.eta_seconds.is_some();
        let m = d.metrics().render().unwrap();
        let ratio = sample(&m, "ccr_sentinel_follower_bootstrap_progress_ratio{").expect("ratio");
        assert!((0.0..1.0).contains(&ratio), "{ratio}");
        assert_eq!(ratio, b.progress_ratio());
        seen.push((ratio, b.bytes_recovered));
        // Reconcile during the copy: its own follower being restored is in sync, never a conflict, never a
        // second put follow.
        if step % 5 == 0 {
            let again = r.run_once().await;
            let item = again.items.iter().find(|i| i.name == "big-copy").unwrap();
            assert_eq!(item.state, ItemState::InSync, "{item:?}");
            assert_eq!(put_follows(&sim), 1);
        }
        sim.advance(Duration::from_secs(1)).unwrap();
    }
    assert_eq!(big_copy(&d).state, FollowerState::Healthy, "copy finished");
    assert!(
        seen.len() >= 5,
        "a copy visible over several polls: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[1].1 >= w[0].1),
        "bytes never go back: {seen:?}"
    );
    assert!(seen.last().unwrap().0 > seen[1].0, "progress: {seen:?}");
    assert!(rate_seen, "a rate and an ETA from successive polls");
    assert_eq!(put_follows(&sim), 1, "exactly one put follow");
    assert_eq!(policy_actions(&d), 0.0, "no policy action during the copy");
    let after = r.run_once().await;
    assert!(
        after.items.iter().all(|i| i.state == ItemState::InSync),
        "{after:#?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2_gib_leader_bootstraps_over_polls_on_the_simulated_clock_with_no_lag_verdict() {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"))
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    let l = sim.cluster("leader");
    must(
        l.request(
            "PUT",
            "/big",
            Some(json!({"settings": {"index.number_of_shards": 1}})),
        ),
        "create big",
    );
    // 2 GiB: 51.2 s at ES's default ccr.indices.recovery.max_bytes_per_sec (40mb).
    l.index_sized_docs("big", 1_048_576, 2048).unwrap();
    let text = config(
        &sim,
        "[policy]\nresume_unexpected_pause = true\nresume_unexpected_pause_grace = \"1s\"\npause_on_remote_outage = true\n",
    );
    let cfg = ccr_sentinel::config::from_toml_str(&text).unwrap();
    let r = one_shot(cfg.clone(), false).unwrap();
    let first = r.run_once().await;
    assert!(first.ok(), "{first:#?}");
    assert_eq!(put_follows(&sim), 1);
    // The leader keeps writing during the copy; the follower catches up once it follows.
    l.set_writes("big", 50.0).unwrap();

    let epoch = Arc::new(AtomicU64::new(sim.epoch_millis()));
    let clock = {
        let epoch = epoch.clone();
        Arc::new(move || {
            DateTime::<Utc>::from_timestamp_millis(epoch.load(Ordering::SeqCst) as i64).unwrap()
        })
    };
    let d = ccr_sentinel::daemon::build(cfg).unwrap().with_clock(clock);
    let mut ratios: Vec<f64> = Vec::new();
    for step in 0..30 {
        d.run_cycle().await;
        let f = big_copy(&d);
        if f.state != FollowerState::Bootstrapping {
            break;
        }
        let b = f.observation.bootstrap.clone().expect("progress");
        assert!(f.reasons[0].contains("initial copy"), "{:?}", f.reasons);
        assert_eq!(f.reasons.len(), 1, "step {step}: {:?}", f.reasons);
        assert!(
            f.time.is_none(),
            "no lag in time while copying: {:?}",
            f.time
        );
        let m = d.metrics().render().unwrap();
        for family in [
            "ccr_sentinel_follower_lag_seconds{",
            "ccr_sentinel_follower_grade{",
            "ccr_sentinel_follower_rpo_seconds{",
            "ccr_sentinel_follower_retention_lease_margin_seconds{",
        ] {
            assert_eq!(
                sample(&m, family),
                None,
                "step {step}: {family} while copying"
            );
        }
        if step > 0 {
            assert!(b.eta_seconds.is_some(), "step {step}: {b:?}");
        }
        ratios.push(b.progress_ratio());
        sim.advance(Duration::from_secs(5)).unwrap();
        epoch.store(sim.epoch_millis(), Ordering::SeqCst);
    }
    // 51.2 s of copy seen every 5 s: about ten polls of rising progress.
    assert!(ratios.len() >= 9, "{ratios:?}");
    assert!(ratios[0] < 0.2, "{ratios:?}");
    assert!(ratios.windows(2).all(|w| w[1] > w[0]), "{ratios:?}");
    assert!(*ratios.last().unwrap() > 0.8, "{ratios:?}");
    // Following now: caught up on the writes made during the copy, then healthy, with its lag in time.
    for _ in 0..5 {
        sim.advance(Duration::from_secs(5)).unwrap();
        epoch.store(sim.epoch_millis(), Ordering::SeqCst);
        d.run_cycle().await;
    }
    let f = big_copy(&d);
    assert_eq!(f.state, FollowerState::Healthy, "{:?}", f.reasons);
    let time = f.time.clone().expect("lag in time once following");
    assert!(time.lag_seconds < 10.0, "{time:?}");
    assert_eq!(put_follows(&sim), 1, "exactly one put follow");
    assert_eq!(policy_actions(&d), 0.0, "no policy action during the copy");

    // Recreated under the same name between two polls: a new copy, which starts without the old history.
    let fc = sim.cluster("follower");
    for (method, path) in [
        ("POST", "/big-copy/_ccr/pause_follow"),
        ("POST", "/big-copy/_close"),
        ("POST", "/big-copy/_ccr/unfollow"),
        ("DELETE", "/big-copy"),
    ] {
        must(fc.request(method, path, None), path);
    }
    must(
        fc.request(
            "PUT",
            "/big-copy/_ccr/follow?wait_for_active_shards=0",
            Some(json!({"remote_cluster": "leader", "leader_index": "big"})),
        ),
        "follow again",
    );
    for _ in 0..2 {
        sim.advance(Duration::from_secs(5)).unwrap();
        epoch.store(sim.epoch_millis(), Ordering::SeqCst);
        d.run_cycle().await;
        let f = big_copy(&d);
        assert_eq!(f.state, FollowerState::Bootstrapping, "{:?}", f.reasons);
        assert!(f.time.is_none(), "{:?}", f.time);
        assert!(
            !d.snapshot().clusters["follower"]
                .lag
                .contains_key("big-copy"),
            "the old follower's history is dropped"
        );
    }
    assert_eq!(policy_actions(&d), 0.0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_never_starts_following_is_not_started_then_resumed_by_the_policy() {
    let sim = sim_with_big_leader(200, "40mb").await;
    let text = config(&sim, "[policy]\nbackoff_initial = \"1s\"\n");
    let cfg = ccr_sentinel::config::from_toml_str(&text).unwrap();
    // The follow is started by hand so the failure can be armed before the restore ends.
    crate::common::connect(&sim, "follower", "leader", "leader");
    sim.cluster("follower")
        .follow("big-copy", "leader", "big")
        .unwrap();
    sim.cluster("follower").fail_start("big-copy").unwrap();

    // The daemon sees the copy running, then finished without following: not_started, resumed by its policy
    // with the configured parameters.
    let d = ccr_sentinel::daemon::build(cfg.clone()).unwrap();
    d.run_cycle().await;
    assert_eq!(big_copy(&d).state, FollowerState::Bootstrapping);
    assert_eq!(policy_actions(&d), 0.0);
    sim.advance(Duration::from_secs(5)).unwrap();
    assert_eq!(
        sim.cluster("follower").state()["followers"]["big-copy"]["status"],
        "paused"
    );
    // A daemon started only now has not seen the copy: to it this is a pause like any other.
    let late = ccr_sentinel::daemon::Daemon::new(cfg).unwrap();
    late.poll_once().await;
    assert_eq!(big_copy(&late).state, FollowerState::Paused);

    d.run_cycle().await;
    let f = big_copy(&d);
    assert_eq!(f.state, FollowerState::NotStarted, "{:?}", f.reasons);
    assert!(
        f.reasons[0].contains("following never started"),
        "{:?}",
        f.reasons
    );
    let m = d.metrics().render().unwrap();
    assert_eq!(
        sample(&m, "ccr_sentinel_follower_bootstrap_progress_ratio{"),
        Some(1.0)
    );
    assert_eq!(policy_actions(&d), 1.0);
    assert!(
        m.contains(r#"ccr_sentinel_actions_total{action="resume_follow",result="success",rule="recover_not_started"} 1"#),
        "{m}"
    );
    sim.advance(Duration::from_secs(2)).unwrap();
    d.run_cycle().await;
    assert_eq!(big_copy(&d).state, FollowerState::Healthy);
    d.run_cycle().await;
    assert_eq!(policy_actions(&d), 1.0, "resumed once");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_put_follow_is_not_sent_again_and_a_repeated_one_is_recognised() {
    let sim = sim_with_big_leader(200, "40mb").await;
    crate::common::connect(&sim, "follower", "leader", "leader");
    let cfg = ccr_sentinel::config::from_toml_str(&config(&sim, "")).unwrap();
    let exec =
        ccr_sentinel::act::Executor::new(ccr_sentinel::es::Clients::from_config(&cfg).unwrap());
    let follow = ccr_sentinel::act::Action::Follow {
        cluster: "follower".into(),
        follower_index: "big-copy".into(),
        remote_cluster: "leader".into(),
        leader_index: "big".into(),
        settings: Default::default(),
        parameters: Default::default(),
        data_stream_name: None,
    };
    // Every answer of the follower cluster comes after the 2 s request timeout: the put follow starts the
    // restore, but the sender only sees a timeout (and so does its re-read).
    sim.cluster("follower")
        .set_latency(Duration::from_millis(2_500))
        .unwrap();
    let ev = exec.execute(&follow, "reconcile", "test").await;
    assert_eq!(ev.result, ccr_sentinel::act::ActionResult::Failed, "{ev:?}");
    assert_eq!(ev.reason.map(|r| r.as_str()), Some("unavailable"), "{ev:?}");
    assert_eq!(put_follows(&sim), 1);
    sim.cluster("follower").clear_faults().unwrap();

    // Reconcile re-reads and finds its own follower being restored: in sync, no second put follow.
    let r = one_shot(cfg, false).unwrap();
    let run = r.run_once().await;
    let item = run.items.iter().find(|i| i.name == "big-copy").unwrap();
    assert_eq!(item.state, ItemState::InSync, "{item:?}");
    assert_eq!(put_follows(&sim), 1, "reconcile sent no second put follow");

    // A put follow repeated anyway gets ES's 500 snapshot_restore_exception; the re-read recognises the
    // follower of the same leader: already done, not name_conflict.
    let ev = exec.execute(&follow, "reconcile", "test").await;
    assert_eq!(
        ev.result,
        ccr_sentinel::act::ActionResult::AlreadyDone,
        "{ev:?}"
    );
    assert_eq!(ev.reason, None);
    sim.shutdown().await;
}
