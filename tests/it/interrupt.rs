//! The action commands as processes: SIGTERM in the middle of an `unfollow` step finishes the step and stops
//! where the index is open (or, once it is closed, finishes the runbook), exits 1 saying so, and a running
//! daemon reports the abandoned runbook; index arguments Elasticsearch would refuse are refused before any
//! request.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::policy::{
    assert_exit, assert_follower_status, assert_regular_and_writable, cli, follower_status,
    pair_following, text, wait_for, write_policy_config,
};
use crate::common::{bin_with_config, must, reset, run_cli, send_signal, wait_exit, Running};

/// The runbook record of `index`, if any.
fn record(state_dir: &std::path::Path, index: &str) -> Option<Value> {
    let path = state_dir
        .join("runbooks")
        .join(format!("follower__{index}.json"));
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether `index` is open on the follower cluster.
fn is_open(sim: &ccr_sim::Sim, index: &str) -> bool {
    let cat = must(
        sim.cluster("follower").request(
            "GET",
            &format!("/_cat/indices/{index}?format=json&h=index,status"),
            None,
        ),
        "cat",
    );
    cat[0]["status"] == "open"
}

/// Runs `unfollow logs-copy` as a process, sends SIGTERM once the record says step `at` is being sent, and
/// returns its output.
async fn unfollow_interrupted_at(
    config: &std::path::Path,
    state_dir: &std::path::Path,
    at: &str,
) -> std::process::Output {
    let mut child = bin_with_config(&["unfollow", "logs-copy"], config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let what = format!("the runbook sends `{at}`");
    wait_for(&what, || {
        record(state_dir, "logs-copy").is_some_and(|r| r["pending"] == at)
    })
    .await;
    send_signal(&child, "TERM");
    let since = Instant::now();
    tokio::task::spawn_blocking(move || {
        wait_exit(
            &mut child,
            since,
            Duration::from_secs(30),
            "no exit after SIGTERM",
        );
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_pause_stops_with_the_follower_paused_and_open_and_the_daemon_reports_it() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 5)]).await;
    let config = write_policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]);
    // Each request takes a while, so the signal arrives while the pause is in flight.
    sim.cluster("follower")
        .set_latency(Duration::from_millis(700))
        .unwrap();
    let out = unfollow_interrupted_at(&config, dir.path(), "pause").await;
    sim.cluster("follower").set_latency(Duration::ZERO).unwrap();
    assert_exit(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SIGTERM"), "{}", text(&out));
    assert!(err.contains("stopped after step `pause`"), "{}", text(&out));
    // The step in flight was finished, nothing after it was sent: paused, open, still a follower.
    assert_follower_status(&sim, "logs-copy", Some("paused"));
    assert!(is_open(&sim, "logs-copy"));
    let rec = record(dir.path(), "logs-copy").expect("the record says where it stopped");
    assert_eq!(rec["done"], serde_json::json!(["pause"]), "{rec}");
    assert!(
        rec["stopped"].as_str().is_some_and(|s| s.contains("pause")),
        "{rec}"
    );

    // A daemon sharing the state directory sees the runbook abandoned (its process is gone).
    let d = Running::start_ready(&std::fs::read_to_string(&config).unwrap()).await;
    let s = d
        .wait_status(20, "the abandoned runbook is reported", |s| {
            s["policy"]["runbooks_abandoned"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r["follower_index"] == "logs-copy"))
        })
        .await;
    assert!(
        s["policy"]["runbooks_in_progress"]
            .to_string()
            .contains("logs-copy"),
        "{}",
        s["policy"]
    );
    d.wait_for("/metrics", 20, |b| {
        b.contains("ccr_sentinel_runbooks_abandoned 1")
    })
    .await;
    // A runbook a person started is left for them: the daemon did not resume or unfollow it.
    assert_follower_status(&sim, "logs-copy", Some("paused"));

    // Re-running the command finishes it; the daemon stops reporting it.
    let again = cli(&["unfollow", "logs-copy"], &config).await;
    assert_exit(&again, 0);
    assert_regular_and_writable(&sim, "logs-copy", 5);
    assert!(record(dir.path(), "logs-copy").is_none());
    d.wait_for("/metrics", 20, |b| {
        b.contains("ccr_sentinel_runbooks_abandoned 0")
    })
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_once_the_follower_is_closed_finishes_the_runbook_instead_of_leaving_it_closed() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 4)]).await;
    let config = write_policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]);
    sim.cluster("follower")
        .set_latency(Duration::from_millis(700))
        .unwrap();
    let out = unfollow_interrupted_at(&config, dir.path(), "close").await;
    sim.cluster("follower").set_latency(Duration::ZERO).unwrap();
    assert_exit(&out, 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted by SIGTERM"),
        "{}",
        text(&out)
    );
    assert_eq!(follower_status(&sim, "logs-copy"), None);
    assert_regular_and_writable(&sim, "logs-copy", 4);
    assert!(
        record(dir.path(), "logs-copy").is_none(),
        "finished runbooks leave no record"
    );
}

#[tokio::test]
async fn index_arguments_elasticsearch_would_refuse_are_refused_before_any_request() {
    let (sim, dir) = pair_following(&[("logs", "logs-copy", 1)]).await;
    let config = write_policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]);
    reset(&sim);
    let long = "a".repeat(256);
    let bad = [
        "*",
        "_all",
        "logs-*",
        "a,b",
        "",
        "Logs",
        "-x",
        "+x",
        "_x",
        ".",
        "..",
        "a b",
        "a#b",
        "a/b",
        "a\\b",
        "a?b",
        "a\"b",
        "a<b",
        "a>b",
        "a|b",
        "a:b",
        long.as_str(),
    ];
    for cmd in ["pause", "resume", "unfollow", "promote"] {
        for index in bad {
            // `--` so that a leading `-` reaches the command as a name, as a user would have to write it.
            let args = [cmd, "--config", &config.display().to_string(), "--", index]
                .map(String::from)
                .to_vec();
            let out = run_cli(args).await;
            assert_exit(&out, 2);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("index name") && !err.trim().is_empty(),
                "{cmd} {index:?}: {}",
                text(&out)
            );
        }
    }
    for c in ["leader", "follower"] {
        assert_eq!(
            sim.cluster(c).requests().total,
            0,
            "{c} was asked something"
        );
    }
}
