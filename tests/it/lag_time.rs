//! Replication in time against the simulator on its deterministic clock, with known truth: a steady leader
//! and a throttled follower (lag in seconds within 10 % of the truth), an idle leader (0), a paused follower
//! (its retention-lease margin counting down, then `needs_refollow`, against Elasticsearch's default period and
//! against the leader's own), a restarted daemon (incomplete window, no
//! verdict from the grade), the per-follower endpoint and the promote gate.

use std::time::Duration;

use ccr_sentinel::daemon::Daemon;
use ccr_sentinel::evaluate::health::FollowerState;
use ccr_sentinel::evaluate::lag::Grade;
use ccr_sentinel::evaluate::report::FollowerReport;
use ccr_sentinel::observe::LagSource;
use ccr_sim::Sim;
use serde_json::{json, Value};

use crate::common::policy::connected_pair;
use crate::common::{daemon_config, must, one_shot, write_config, Running, SimTime};

/// A connected pair on a deterministic clock with a one-shard leader `logs` (no documents) followed as
/// `logs-copy` (caught up), and the daemon config watching it with the leader cluster configured.
async fn setup() -> (Sim, SimTime, String) {
    let sim = connected_pair(true).await;
    let t = SimTime::new(&sim);
    must(
        sim.cluster("leader").request(
            "PUT",
            "/logs",
            Some(json!({"settings": {"index.number_of_shards": 1}})),
        ),
        "leader index",
    );
    must(
        sim.cluster("follower").request(
            "PUT",
            "/logs-copy/_ccr/follow?wait_for_active_shards=0",
            Some(json!({"remote_cluster": "leader", "leader_index": "logs"})),
        ),
        "follow",
    );
    t.advance(&sim, Duration::from_secs(2));
    let toml = daemon_config(
        &sim,
        "[health]\nmax_lag_operations = 1000000\nmax_time_since_last_read = \"1h\"\nmax_promote_lag = \"30s\"\n\
         [[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"logs\"\nfollower_index = \"logs-copy\"\n",
    );
    (sim, t, toml)
}

fn daemon(toml: &str, t: &SimTime) -> Daemon {
    one_shot(toml).with_clock(t.clock())
}

fn logs_copy(d: &Daemon) -> FollowerReport {
    d.report()
        .follower("follower", "logs-copy")
        .expect("logs-copy in the report")
        .clone()
}

/// `polls` times: advance the simulator by `step`, then poll.
async fn step(d: &Daemon, sim: &Sim, t: &SimTime, polls: usize, step: Duration) {
    for _ in 0..polls {
        t.advance(sim, step);
        d.poll_once().await;
    }
}

/// The follower's global checkpoint, from the simulator's truth.
async fn follower_checkpoint(sim: &Sim) -> i64 {
    let state: Value = reqwest::get(format!("{}/_sim/state", sim.url("follower")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    state["indices"]["logs-copy"]["global_checkpoints"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("no checkpoint in {state}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_seconds_of_a_throttled_follower_match_the_truth_then_an_idle_leader_reads_zero() {
    let (sim, t, toml) = setup().await;
    let d = daemon(&toml, &t);
    d.poll_once().await;
    // From here the leader writes 100 operations a second; the follower reads 50.
    let start_ms = sim.now_millis();
    sim.cluster("leader").set_writes("logs", 100.0).unwrap();
    sim.cluster("follower")
        .throttle_follower("logs-copy", 50.0)
        .unwrap();
    step(&d, &sim, &t, 30, Duration::from_secs(10)).await;

    let f = logs_copy(&d);
    let time = f.time.clone().expect("lag in time measured");
    // Operation n (from 0) was written at start + (n + 1) / 100 s; the follower lacks checkpoint + 1.
    let elapsed = (sim.now_millis() - start_ms) as f64 / 1000.0;
    let truth = elapsed - (follower_checkpoint(&sim).await + 2) as f64 / 100.0;
    assert!(truth > 100.0, "the follower should be far behind: {truth}");
    assert!(
        (time.lag_seconds - truth).abs() <= truth * 0.1,
        "lag {} s, truth {truth} s: {time:?}",
        time.lag_seconds
    );
    assert!(!time.lag_lower_bound, "{time:?}");
    assert_eq!(time.lag_source, LagSource::LeaderShardStats);
    assert_eq!(time.grade, Grade::FallingBehind, "{time:?}");
    assert_eq!(time.completeness, 1.0);
    assert_eq!(time.catchup_eta_seconds, None, "not closing the gap");
    assert!(time.rpo_seconds >= time.lag_seconds);
    assert!(time.ops_at_risk > 5_000, "{time:?}");
    assert_eq!(f.state, FollowerState::Lagging, "{:?}", f.reasons);
    assert!(
        f.reasons.iter().any(|r| r.contains("falling_behind")),
        "{:?}",
        f.reasons
    );

    // The leader stops writing and the follower is unthrottled: it closes the gap, then stays at 0 however
    // long the leader stays idle.
    sim.cluster("leader").set_writes("logs", 0.0).unwrap();
    sim.cluster("follower")
        .throttle_follower("logs-copy", 0.0)
        .unwrap();
    step(&d, &sim, &t, 20, Duration::from_secs(30)).await;
    let f = logs_copy(&d);
    let time = f.time.clone().unwrap();
    assert_eq!(time.lag_seconds, 0.0, "{time:?}");
    assert_eq!(time.ops_at_risk, 0);
    assert_eq!(time.grade, Grade::Ok);
    assert_eq!(f.state, FollowerState::Healthy, "{:?}", f.reasons);
    let text = d.http_state().metrics.render().unwrap();
    let labels = r#"follower_cluster="follower",follower_index="logs-copy""#;
    for series in [
        format!("ccr_sentinel_follower_lag_seconds{{{labels}}} 0"),
        format!("ccr_sentinel_follower_grade{{{labels},grade=\"ok\"}} 1"),
        format!("ccr_sentinel_follower_grade_completeness{{{labels}}} 1"),
    ] {
        assert!(text.contains(&series), "{series} not in\n{text}");
    }
    // Outside the default set (`[metrics] detailed`).
    assert!(
        !text.contains("ccr_sentinel_follower_ops_at_risk"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_follower_counts_its_lease_down_and_then_needs_refollow() {
    let (sim, t, toml) = setup().await;
    let d = daemon(&toml, &t);
    sim.cluster("leader").index_docs("logs", 20).unwrap();
    step(&d, &sim, &t, 3, Duration::from_secs(10)).await;
    must(
        sim.cluster("follower")
            .request("POST", "/logs-copy/_ccr/pause_follow", None),
        "pause",
    );
    sim.cluster("leader").index_docs("logs", 5).unwrap();
    // A minute on, the leases are read again: from then on the margin of the paused follower is exact.
    step(&d, &sim, &t, 1, Duration::from_secs(60)).await;
    let first = logs_copy(&d).time.unwrap().retention_lease_margin_seconds;
    let first = first.expect("the lease is seen on the leader");
    assert!(first > 11.0 * 3600.0 && first <= 12.0 * 3600.0, "{first}");
    // Hours pass: the lease is not renewed while paused.
    let mut last = first;
    for hour in 1..=5 {
        step(&d, &sim, &t, 1, Duration::from_secs(3600)).await;
        let f = logs_copy(&d);
        let m = f
            .time
            .clone()
            .unwrap()
            .retention_lease_margin_seconds
            .unwrap();
        assert!(
            (last - m - 3600.0).abs() < 1.0,
            "hour {hour}: {last} -> {m}"
        );
        assert_eq!(f.state, FollowerState::Paused, "{:?}", f.reasons);
        last = m;
    }
    // Past half of the period the reasons warn.
    step(&d, &sim, &t, 1, Duration::from_secs(3600)).await;
    let f = logs_copy(&d);
    assert!(
        f.reasons
            .iter()
            .any(|r| r.contains("retention lease") && r.contains("expires in")),
        "{:?}",
        f.reasons
    );
    // Past the period: the leader may have dropped the history; resuming cannot work.
    step(&d, &sim, &t, 7, Duration::from_secs(3600)).await;
    let f = logs_copy(&d);
    let m = f.time.clone().unwrap().retention_lease_margin_seconds;
    assert!(m.is_some_and(|m| m < 0.0), "{m:?}");
    assert_eq!(f.state, FollowerState::NeedsRefollow, "{:?}", f.reasons);
    assert!(f.reasons[0].contains("expired"), "{:?}", f.reasons);
}

fn settings_reads(sim: &Sim) -> u64 {
    sim.cluster("leader")
        .requests()
        .by_endpoint
        .get("GET /{index}/_settings")
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_margin_counts_down_from_the_leaders_own_lease_period() {
    let (sim, t, toml) = setup().await;
    must(
        sim.cluster("leader").request(
            "PUT",
            "/logs/_settings",
            Some(json!({"index.soft_deletes.retention_lease.period": "1h"})),
        ),
        "a 1h retention lease period on the leader",
    );
    let d = daemon(&toml, &t);
    sim.cluster("leader").index_docs("logs", 20).unwrap();
    step(&d, &sim, &t, 3, Duration::from_secs(10)).await;
    assert_eq!(settings_reads(&sim), 1, "read once, with the first poll");
    must(
        sim.cluster("follower")
            .request("POST", "/logs-copy/_ccr/pause_follow", None),
        "pause",
    );
    sim.cluster("leader").index_docs("logs", 5).unwrap();
    // A minute on, the leases are read again: from then on the margin of the paused follower is exact.
    step(&d, &sim, &t, 1, Duration::from_secs(60)).await;
    let time = logs_copy(&d).time.unwrap();
    assert_eq!(time.retention_lease_period_seconds, 3600.0, "{time:?}");
    let first = time
        .retention_lease_margin_seconds
        .expect("the lease is seen on the leader");
    assert!(first > 3500.0 && first <= 3600.0, "{first}");
    let text = d.http_state().metrics.render().unwrap();
    let labels = r#"follower_cluster="follower",follower_index="logs-copy""#;
    let period = format!("ccr_sentinel_follower_retention_lease_period_seconds{{{labels}}} 3600");
    assert!(text.contains(&period), "{period} not in\n{text}");

    // Ten minutes at a time: the margin counts down from the hour; the period is read again once it is
    // five minutes old, not at every poll.
    let mut last = first;
    for i in 1..=2 {
        step(&d, &sim, &t, 1, Duration::from_secs(600)).await;
        let f = logs_copy(&d);
        let m = f
            .time
            .clone()
            .unwrap()
            .retention_lease_margin_seconds
            .unwrap();
        assert!((last - m - 600.0).abs() < 1.0, "step {i}: {last} -> {m}");
        assert_eq!(f.state, FollowerState::Paused, "{:?}", f.reasons);
        assert!(
            !f.reasons.iter().any(|r| r.contains("retention lease")),
            "more than half of the hour left: {:?}",
            f.reasons
        );
        last = m;
    }
    assert_eq!(settings_reads(&sim), 3);
    // Past half of the hour the reasons warn (with 12h assumed, 11.5h would be left).
    step(&d, &sim, &t, 1, Duration::from_secs(600)).await;
    let f = logs_copy(&d);
    assert_eq!(f.state, FollowerState::Paused, "{:?}", f.reasons);
    assert!(
        f.reasons
            .iter()
            .any(|r| r.contains("retention lease") && r.contains("expires in")),
        "{:?}",
        f.reasons
    );
    // Past the hour the leader drops the lease, and the daemon says the follower must be recreated.
    step(&d, &sim, &t, 3, Duration::from_secs(600)).await;
    let f = logs_copy(&d);
    let m = f.time.clone().unwrap().retention_lease_margin_seconds;
    assert!(m.is_some_and(|m| m < 0.0), "{m:?}");
    assert_eq!(f.state, FollowerState::NeedsRefollow, "{:?}", f.reasons);
    assert!(
        f.reasons[0].contains("expired") && f.reasons[0].contains("retention_lease.period 1h"),
        "{:?}",
        f.reasons
    );
    let (_, stats) = sim
        .cluster("leader")
        .request("GET", "/logs/_stats?level=shards", None);
    let leases =
        stats["indices"]["logs"]["shards"]["0"][0]["retention_leases"]["leases"].to_string();
    assert!(
        !leases.contains("\"ccr\""),
        "the simulator expired it too: {leases}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_has_an_incomplete_window_and_grades_nothing() {
    let (sim, t, toml) = setup().await;
    sim.cluster("follower")
        .throttle_follower("logs-copy", 10.0)
        .unwrap();
    sim.cluster("leader").set_writes("logs", 100.0).unwrap();
    let d = daemon(&toml, &t);
    step(&d, &sim, &t, 12, Duration::from_secs(10)).await;
    assert_eq!(logs_copy(&d).state, FollowerState::Lagging);
    // A new daemon (restart): three polls of history are not a window.
    let restarted = daemon(&toml, &t);
    step(&restarted, &sim, &t, 3, Duration::from_secs(10)).await;
    let f = logs_copy(&restarted);
    let time = f.time.clone().unwrap();
    assert!(time.completeness < 1.0, "{time:?}");
    assert_eq!(f.state, FollowerState::Healthy, "{:?}", f.reasons);
    assert!(time.lag_seconds > 0.0);
}

async fn get_json(base: &str, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_endpoint_and_the_promote_gate() {
    let (sim, t, toml) = setup().await;
    sim.cluster("follower")
        .throttle_follower("logs-copy", 20.0)
        .unwrap();
    sim.cluster("leader").set_writes("logs", 100.0).unwrap();
    let d = daemon(&toml, &t);
    step(&d, &sim, &t, 12, Duration::from_secs(10)).await;
    let running = Running::serve(d.clone()).await;
    let base = running.base.clone();

    let (code, body) = get_json(&base, "/followers/follower/logs-copy?max_lag=30s").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    let reasons = body["reasons"].to_string();
    assert!(reasons.contains("is above 30s"), "{body}");
    assert!(body["lag_seconds"].as_f64().unwrap() > 30.0, "{body}");
    assert_eq!(body["lag_source"], "leader_shard_stats");

    let (code, body) = get_json(&base, "/followers/follower/nope?max_lag=30s").await;
    assert_eq!(code, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nope"), "{body}");
    let (code, body) = get_json(&base, "/followers/follower/logs-copy?max_lag=soon").await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("max_lag `soon`"),
        "{body}"
    );
    let (code, _) = get_json(&base, "/followers/follower/logs-copy?max_lag=-3").await;
    assert_eq!(code, 400);

    // promote as a process, pointed at the running daemon: refused on the lag, nothing changed.
    let dir = tempfile::tempdir().unwrap();
    let addr = base.trim_start_matches("http://");
    let cli_toml = toml.replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"{addr}\""),
        1,
    );
    let path = write_config(dir.path(), &cli_toml);
    let out = crate::common::run_with_config(&["promote", "logs-copy"], &path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("max_promote_lag"), "{stderr}");
    assert!(stderr.contains("is above 30s"), "{stderr}");
    let (_, info) = sim
        .cluster("follower")
        .request("GET", "/logs-copy/_ccr/info", None);
    assert_eq!(info["follower_indices"][0]["status"], "active", "{info}");

    // Caught up and quiet: the endpoint answers 200.
    sim.cluster("leader").set_writes("logs", 0.0).unwrap();
    sim.cluster("follower")
        .throttle_follower("logs-copy", 0.0)
        .unwrap();
    step(&d, &sim, &t, 12, Duration::from_secs(10)).await;
    let (code, body) = get_json(&base, "/followers/follower/logs-copy?max_lag=30s").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["lag_seconds"], 0.0);
    running.stop().await;
}
