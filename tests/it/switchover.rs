//! Disaster-recovery switchover against the simulator (deterministic clock), the CLI as a process: a full
//! switchover a -> b of a plain follower and a data stream (the stale plain copy on `a` reported as the operator
//! step, deleted by the test as the operator would, then followed back), the failback b -> a after the anti-flap
//! refusal and its override, `failover --force` with the old write cluster stopped, the switchover interrupted
//! after every step and resumed (with a step done by hand in between), `--dry-run` sending no mutating request,
//! and the up-front refusal when the new write cluster has no data-stream template for a stream.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use ccr_sim::{ClusterConfig, Sim};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::common::policy::{assert_exit, text};
use crate::common::{closed_port, connect, must, write_config};

const VERSION: &str = "8.15.0";

/// Clusters `a` and `b` (deterministic clock), each with the other as a remote.
async fn pair() -> Sim {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("a").version(VERSION))
        .cluster(ClusterConfig::new("b").version(VERSION))
        .deterministic_clock()
        .start()
        .await
        .unwrap();
    connect(&sim, "b", "a", "a");
    connect(&sim, "a", "b", "b");
    sim
}

/// Lets replication, restores and the auto-followers run.
fn settle(sim: &Sim) {
    for _ in 0..6 {
        sim.advance(Duration::from_secs(2)).unwrap();
    }
}

/// The configuration: `b` follows `a`'s `orders` and auto-follows its `logs-*` streams; both remotes declared.
fn config(sim: &Sim, dir: &Path, extra: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
[http]
listen = "127.0.0.1:{port}"
[clusters.a]
url = "{a}"
timeout = "2s"
[clusters.b]
url = "{b}"
timeout = "2s"
[[remotes]]
cluster = "b"
alias = "a"
leader = "a"
seeds = ["{ta}"]
[[remotes]]
cluster = "a"
alias = "b"
leader = "b"
seeds = ["{tb}"]
[[followers]]
cluster = "b"
remote = "a"
leader_index = "orders"
follower_index = "orders"
[[auto_follow]]
cluster = "b"
name = "logs"
remote = "a"
leader_index_patterns = ["logs-*"]
[reconcile]
connect_timeout = "2s"
[policy]
state_dir = "{state}"
promote_poll_interval = "50ms"
promote_stable_polls = 2
promote_timeout = "5s"
[audit]
file = "{state}/audit.jsonl"
{extra}
"#,
        port = closed_port(),
        a = sim.url("a"),
        b = sim.url("b"),
        ta = sim.transport_address("a"),
        tb = sim.transport_address("b"),
        state = dir.display(),
    );
    write_config(dir, &text)
}

/// `a` writes `orders` (5 documents) and the stream `logs-app`; `b` follows both (reconcile once, then a
/// rollover on `a` so the pattern has a backing index created after it); more writes, then they stop.
async fn replicating(with_stream: bool) -> (Sim, TempDir, std::path::PathBuf) {
    let sim = pair().await;
    let (a, b) = (sim.cluster("a"), sim.cluster("b"));
    must(
        a.request(
            "PUT",
            "/orders",
            Some(json!({"settings": {"index.number_of_shards": 1}})),
        ),
        "orders",
    );
    a.index_docs("orders", 5).unwrap();
    if with_stream {
        for c in [&a, &b] {
            c.put_data_stream_template("logs", &["logs-*"], 100)
                .unwrap();
        }
        a.create_data_stream("logs-app").unwrap();
        a.index_docs("logs-app", 3).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&sim, dir.path(), "");
    let out = cli(&["reconcile", "--once"], &cfg, &[]).await;
    assert_exit(&out, 0);
    if with_stream {
        a.rollover("logs-app").unwrap();
        a.index_docs("logs-app", 4).unwrap();
    }
    settle(&sim);
    a.index_docs("orders", 2).unwrap();
    settle(&sim);
    assert_eq!(b.doc_count("orders"), Some(7), "b caught up");
    if with_stream {
        assert_eq!(
            count(&sim, "b", "logs-app"),
            4,
            "b follows the new backing index"
        );
        assert_eq!(b.data_stream_replicated("logs-app"), Some(true));
    }
    (sim, dir, cfg)
}

/// `ccr-sentinel <args> --config <cfg>` with `env`, off the runtime's threads.
async fn cli(args: &[&str], cfg: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = crate::common::bin_with_config(args, cfg);
    for (k, v) in env {
        c.env(k, v);
    }
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `_count` of an index, stream or pattern on a cluster.
fn count(sim: &Sim, cluster: &str, target: &str) -> u64 {
    let r = must(
        sim.cluster(cluster)
            .request("GET", &format!("/{target}/_count"), None),
        "count",
    );
    r["count"].as_u64().unwrap()
}

/// `_ccr/info` of `index` on `cluster`: `(status, remote_cluster, leader_index)` when it is a follower.
fn following(sim: &Sim, cluster: &str, index: &str) -> Option<(String, String, String)> {
    let (status, info) = sim
        .cluster(cluster)
        .request("GET", &format!("/{index}/_ccr/info"), None);
    if status != 200 {
        return None;
    }
    let f = &info["follower_indices"][0];
    Some((
        f["status"].as_str()?.to_string(),
        f["remote_cluster"].as_str()?.to_string(),
        f["leader_index"].as_str()?.to_string(),
    ))
}

/// A write to `target` on `cluster` is accepted.
fn writable(sim: &Sim, cluster: &str, target: &str) {
    let (status, body) = sim.cluster(cluster).request(
        "POST",
        &format!("/{target}/_doc"),
        Some(json!({"@timestamp": "2026-12-02T10:00:00Z", "x": 1})),
    );
    assert!(
        status == 200 || status == 201,
        "write to {cluster}/{target} refused: {status} {body}"
    );
}

fn topology(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("topology.json")).unwrap()).unwrap()
}

fn mutating(sim: &Sim) -> u64 {
    ["a", "b"]
        .iter()
        .map(|c| sim.cluster(c).requests().mutating)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_then_failback_of_a_plain_follower_and_a_data_stream() {
    let (sim, dir, cfg) = replicating(true).await;

    // Dry run: the plan, and nothing sent or written.
    for c in ["a", "b"] {
        sim.cluster(c).reset_requests();
    }
    let dry = cli(
        &["switchover", "--from", "a", "--to", "b", "--dry-run"],
        &cfg,
        &[],
    )
    .await;
    assert_exit(&dry, 0);
    let plan = stdout(&dry);
    for step in [
        "pause_pattern logs",
        "gate",
        "promote_follower orders",
        "write_topology",
        "promote_data_stream logs-app",
    ] {
        assert!(plan.contains(step), "{step} missing from the plan:\n{plan}");
    }
    assert_eq!(mutating(&sim), 0, "{}", text(&dry));
    assert!(!dir.path().join("topology.json").exists());

    // The switchover: b takes the writes; a's stale `orders` is the operator step.
    let out = cli(&["switchover", "--from", "a", "--to", "b"], &cfg, &[]).await;
    assert_exit(&out, 1);
    let s = stdout(&out);
    assert!(
        s.contains("operator step: DELETE /orders on `a`") && s.contains("nothing is lost"),
        "{}",
        text(&out)
    );
    assert!(s.contains("result: blocked"), "{s}");
    assert_eq!(following(&sim, "b", "orders"), None, "b/orders promoted");
    writable(&sim, "b", "orders");
    assert_eq!(
        sim.cluster("b").data_stream_replicated("logs-app"),
        Some(false)
    );
    let b_backing = sim.cluster("b").backing_indices("logs-app").unwrap();
    assert_eq!(
        b_backing.len(),
        2,
        "promoted and rolled over: {b_backing:?}"
    );
    writable(&sim, "b", "logs-app");
    sim.cluster("b").rollover("logs-app").unwrap();
    let t = topology(dir.path());
    let p = &t["pairs"][0];
    assert_eq!(p["active"], "b", "{t:#}");
    assert!(p["last"]["finished_at"].is_string(), "{t:#}");
    assert_eq!(p["paused_patterns"][0], "b/logs", "{t:#}");
    let patterns = must(
        sim.cluster("b")
            .request("GET", "/_ccr/auto_follow/logs", None),
        "pattern",
    );
    assert_eq!(patterns["patterns"][0]["pattern"]["active"], false);

    // a follows b's stream as `logs-app-replicated_from_b`: the write index b rolled over to during the
    // promotion (created after the reverse pattern) carries b's writes.
    settle(&sim);
    let mirror = sim
        .cluster("a")
        .backing_indices("logs-app-replicated_from_b")
        .expect("a has the mirror stream");
    assert!(!mirror.is_empty());
    assert!(
        mirror.iter().all(|i| following(&sim, "a", i).is_some()),
        "{mirror:?}"
    );
    assert!(
        count(&sim, "a", "logs-app-replicated_from_b") >= 1,
        "b's write reached a"
    );
    // a's own stream stays a's, writable.
    writable(&sim, "a", "logs-app");

    // The operator deletes a's stale copy; the re-run follows b's `orders` back (no anti-flap: same switch).
    sim.cluster("b").index_docs("orders", 3).unwrap();
    must(
        sim.cluster("a").request("DELETE", "/orders", None),
        "delete",
    );
    let out = cli(&["switchover", "--from", "a", "--to", "b"], &cfg, &[]).await;
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("result: done"), "{}", text(&out));
    settle(&sim);
    let (status, remote, leader) = following(&sim, "a", "orders").expect("a follows b");
    assert_eq!(
        (status.as_str(), remote.as_str(), leader.as_str()),
        ("active", "b", "orders")
    );
    let b_orders = sim.cluster("b").doc_count("orders").unwrap();
    assert_eq!(b_orders, 7 + 1 + 3);
    assert_eq!(sim.cluster("a").doc_count("orders"), Some(b_orders));

    // Failback within the anti-flap period: refused, naming when it is allowed; nothing changed.
    for c in ["a", "b"] {
        sim.cluster(c).reset_requests();
    }
    let refused = cli(&["switchover", "--from", "b", "--to", "a"], &cfg, &[]).await;
    assert_exit(&refused, 1);
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("anti-flap") && why.contains("the next switchover is allowed from"),
        "{}",
        text(&refused)
    );
    assert_eq!(mutating(&sim), 0);

    // The override: a's follower is promoted, b's stale `orders` is the operator step, b mirrors a's stream.
    let out = cli(
        &[
            "switchover",
            "--from",
            "b",
            "--to",
            "a",
            "--ignore-anti-flap",
        ],
        &cfg,
        &[],
    )
    .await;
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("operator step: DELETE /orders on `b`"),
        "{}",
        text(&out)
    );
    assert_eq!(following(&sim, "a", "orders"), None);
    writable(&sim, "a", "orders");
    must(
        sim.cluster("b").request("DELETE", "/orders", None),
        "delete",
    );
    let out = cli(&["switchover", "--from", "b", "--to", "a"], &cfg, &[]).await;
    assert_exit(&out, 0);
    sim.cluster("a").index_docs("logs-app", 2).unwrap();
    settle(&sim);
    // Replication runs a -> b again, every document intact on both sides.
    let (status, remote, _) = following(&sim, "b", "orders").expect("b follows a again");
    assert_eq!((status.as_str(), remote.as_str()), ("active", "a"));
    let a_orders = sim.cluster("a").doc_count("orders").unwrap();
    assert_eq!(a_orders, b_orders + 1);
    assert_eq!(sim.cluster("b").doc_count("orders"), Some(a_orders));
    assert!(
        count(&sim, "b", "logs-app-replicated_from_a") >= 2,
        "b mirrors a's stream after the failback"
    );
    let t = topology(dir.path());
    let p = &t["pairs"][0];
    assert_eq!(p["active"], "a", "{t:#}");
    assert_eq!(p["followers"], json!([]), "{t:#}");
    assert_eq!(p["promoted"], json!([]), "{t:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_switchover_resumes_after_every_step_to_the_same_end() {
    let (sim, dir, cfg) = replicating(true).await;
    let mut runs = 0;
    let last = loop {
        runs += 1;
        assert!(runs < 20, "the switchover never finished");
        let out = cli(
            &["switchover", "--from", "a", "--to", "b", "--output", "json"],
            &cfg,
            &[("CCR_TEST_SWITCHOVER_STOP_AFTER_STEP", "1")],
        )
        .await;
        let r: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
        if r["result"] != "interrupted" {
            break r;
        }
        assert_eq!(r["steps"].as_array().unwrap().len(), 1, "{r:#}");
        assert!(
            dir.path().join("runbooks/switchovers/a__b.json").exists(),
            "the progress record stays"
        );
        if runs == 2 {
            // Someone else promotes the plain follower between two runs: the switchover does not repeat it.
            let by_hand = cli(&["unfollow", "orders", "--cluster", "b"], &cfg, &[]).await;
            assert_exit(&by_hand, 0);
        }
    };
    assert_eq!(runs, 6, "one run per step, the hand-made one left out");
    assert_eq!(last["result"], "blocked", "{last:#}");
    assert!(
        last["operator_steps"][0]
            .as_str()
            .unwrap()
            .starts_with("DELETE /orders on `a`"),
        "{last:#}"
    );
    assert!(!dir.path().join("runbooks/switchovers/a__b.json").exists());
    assert_eq!(following(&sim, "b", "orders"), None);
    assert_eq!(
        sim.cluster("b").data_stream_replicated("logs-app"),
        Some(false)
    );
    let backing = sim.cluster("b").backing_indices("logs-app").unwrap();
    assert_eq!(backing.len(), 2, "rolled over exactly once: {backing:?}");
    assert!(backing.iter().all(|i| following(&sim, "b", i).is_none()));
    let t = topology(dir.path());
    assert_eq!(t["pairs"][0]["active"], "b");
    assert_eq!(
        t["pairs"][0]["auto_follow"][0]["name"], "logs-replicated_from_b",
        "{t:#}"
    );
    // Done is done: another run changes nothing.
    for c in ["a", "b"] {
        sim.cluster(c).reset_requests();
    }
    let again = cli(&["switchover", "--from", "a", "--to", "b"], &cfg, &[]).await;
    assert_exit(&again, 1);
    assert_eq!(mutating(&sim), 0, "{}", text(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_force_with_the_old_write_cluster_down_states_the_loss_and_promotes() {
    let (sim, _dir, cfg) = replicating(false).await;
    // b reads slowly, a takes 100 more writes, then a goes down with b behind.
    sim.cluster("b").throttle_follower("orders", 20.0).unwrap();
    sim.cluster("a").index_docs("orders", 100).unwrap();
    sim.advance(Duration::from_secs(1)).unwrap();
    sim.cluster("a").stop().unwrap();

    // Without --force the gate holds: nothing is promoted.
    let out = cli(&["failover", "--to", "b"], &cfg, &[]).await;
    assert_exit(&out, 1);
    assert!(following(&sim, "b", "orders").is_some(), "{}", text(&out));

    let out = cli(&["failover", "--to", "b", "--force"], &cfg, &[]).await;
    assert_exit(&out, 1);
    let s = stdout(&out);
    assert!(s.contains("what may be lost"), "{}", text(&out));
    let stated = s.find("possible_loss orders").expect("the loss is stated");
    let promoted = s.find("promote_follower orders").expect("then promoted");
    assert!(stated < promoted, "stated before the promotion: {s}");
    assert!(
        s.contains("b/orders:") && s.contains("operations behind"),
        "{}",
        text(&out)
    );
    assert!(
        s.contains("blocked:"),
        "the reverse direction waits for a: {s}"
    );
    assert_eq!(following(&sim, "b", "orders"), None, "{}", text(&out));
    writable(&sim, "b", "orders");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_usage_errors() {
    let sim = pair().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&sim, dir.path(), "");
    for c in ["a", "b"] {
        sim.cluster(c).reset_requests();
    }
    for (args, want) in [
        (
            vec!["switchover", "--from", "a", "--to", "a"],
            "both name `a`",
        ),
        (
            vec!["switchover", "--from", "a", "--to", "c"],
            "cluster `c` is not configured",
        ),
        (
            vec!["switchover", "--from", "b", "--to", "a"],
            "declares no follower or auto-follow pattern on `a` of `b`",
        ),
        (
            vec![
                "switchover",
                "--from",
                "a",
                "--to",
                "b",
                "--follower",
                "nope",
            ],
            "--follower `nope`",
        ),
    ] {
        let out = cli(&args, &cfg, &[]).await;
        assert_exit(&out, 2);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert_eq!(mutating(&sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_up_front_without_a_data_stream_template_on_the_new_write_cluster() {
    let (sim, dir, cfg) = replicating(true).await;
    // A plain template of higher priority wins for `logs-app` on b: the promoted stream could not roll over.
    sim.cluster("b")
        .put_index_template(
            "plain-logs",
            json!({"index_patterns": ["logs-app*"], "priority": 200}),
        )
        .unwrap();
    for c in ["a", "b"] {
        sim.cluster(c).reset_requests();
    }
    let out = cli(&["switchover", "--from", "a", "--to", "b"], &cfg, &[]).await;
    assert_exit(&out, 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused, nothing was changed")
            && err.contains("data stream `logs-app` on `b`")
            && err.contains("plain-logs"),
        "{}",
        text(&out)
    );
    assert_eq!(mutating(&sim), 0);
    assert!(following(&sim, "b", "orders").is_some());
    assert!(!dir.path().join("runbooks/switchovers/a__b.json").exists());
}
