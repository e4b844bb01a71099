//! Reconcile against the simulator over real HTTP on loopback: from two empty clusters to remote + followers +
//! auto-follow in one run and nothing sent by the next; every error case with its own reason (in the report,
//! `/status`, logs and `ccr_sentinel_reconcile_blocked`); dry run; the CLI as a process.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ccr_sentinel::es::FailureReason;
use ccr_sentinel::metrics::ReconcileMetrics;
use ccr_sentinel::reconcile::{one_shot, ItemState, ReconcileReport, Reconciler};
use ccr_sim::{ClusterConfig, License, Role, Security, Sim};
use serde_json::{json, Value};

use crate::common::{
    bin_with_config, closed_port, connect, create_leader_index, leader_remote,
    logs_already_followed, must, pair_clusters, reset, run_cli_with_config, run_with_config,
    send_signal, two_clusters, two_clusters_with_logs, wait_until, write_config, Running,
};

fn base_config(sim: &Sim, http_port: u16, extra: &str) -> String {
    format!(
        r#"
[http]
listen = "127.0.0.1:{http_port}"
[schedule]
poll = "*/2 * * * * *"
doc_counts = "*/2 * * * * *"
reconcile = "0 0 0 1 1 *"
[reconcile]
connect_timeout = "1s"
backoff_initial = "1s"
backoff_max = "1m"
{clusters}{extra}
"#,
        clusters = pair_clusters(&sim.url("leader"), &sim.url("follower"), "3s"),
    )
}

fn remote(sim: &Sim) -> String {
    leader_remote(&sim.transport_address("leader"))
}

/// The reconcile config of the simulator's pair (HTTP on a closed port) with the remote `leader`, then `rest`.
fn config_with_remote(sim: &Sim, rest: &str) -> String {
    base_config(sim, closed_port(), &format!("{}{rest}", remote(sim)))
}

const FOLLOWER: &str = r#"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs-copy"
"#;

/// A `[[followers]]` entry: `leader_index` through `remote`, followed on `cluster` as `follower_index`.
fn follower_on(cluster: &str, remote: &str, leader_index: &str, follower_index: &str) -> String {
    format!(
        "[[followers]]\ncluster = \"{cluster}\"\nremote = \"{remote}\"\nleader_index = \"{leader_index}\"\nfollower_index = \"{follower_index}\"\n"
    )
}

const PATTERN: &str = r#"
[[auto_follow]]
cluster = "follower"
name = "metrics"
remote = "leader"
leader_index_patterns = ["metrics-*"]
follow_index_pattern = "{{leader_index}}-copy"
active = true
"#;

/// `text` with `[reconcile] apply_parameter_changes = true`.
fn allowing_parameter_changes(text: &str) -> String {
    text.replace(
        "[reconcile]\n",
        "[reconcile]\napply_parameter_changes = true\n",
    )
}

/// The `_ccr/info` entry of the follower `logs-copy`.
fn logs_copy_info(sim: &Sim) -> Value {
    let info = must(
        sim.cluster("follower")
            .request("GET", "/logs-copy/_ccr/info", None),
        "info",
    );
    info["follower_indices"][0].clone()
}

fn mutating(sim: &Sim) -> u64 {
    sim.cluster("leader").requests().mutating + sim.cluster("follower").requests().mutating
}

/// Waits until `logs-copy` follows: put follow answers once its restore has started, following starts after it.
async fn wait_for_following(sim: &Sim) {
    let f = sim.cluster("follower");
    wait_until("logs-copy following", Duration::from_secs(10), || {
        f.state()["followers"]["logs-copy"]["status"] == "active"
    })
    .await;
}

/// A one-shot reconciler for the config `text`.
fn reconciler(text: &str, dry_run: bool) -> Reconciler {
    one_shot(ccr_sentinel::config::from_toml_str(text).unwrap(), dry_run).unwrap()
}

/// Runs `r` again from zeroed request counters: every item is in sync and nothing that changes a cluster is sent.
async fn assert_next_run_idle(r: &Reconciler, sim: &Sim, what: &str) {
    reset(sim);
    let again = r.run_once().await;
    assert!(
        again.items.iter().all(|i| i.state == ItemState::InSync),
        "{what}: {again:#?}"
    );
    assert_eq!(mutating(sim), 0, "{what}");
}

fn item<'a>(
    r: &'a ReconcileReport,
    kind: &str,
    name: &str,
) -> &'a ccr_sentinel::reconcile::ItemReport {
    r.items
        .iter()
        .find(|i| i.kind.as_str() == kind && i.name == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:#?}", r.items))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_reaches_the_desired_state_and_the_next_sends_nothing() {
    let sim = two_clusters_with_logs("8.15.0", 40).await;
    create_leader_index(&sim, "metrics-1", 5);
    let text = config_with_remote(&sim, &format!("{FOLLOWER}{PATTERN}"));
    let cfg = ccr_sentinel::config::from_toml_str(&text).unwrap();
    let r = one_shot(cfg.clone(), false).unwrap();

    let first = r.run_once().await;
    assert!(first.ok(), "{first:#?}");
    for (kind, name) in [
        ("remote", "leader"),
        ("follower", "logs-copy"),
        ("auto_follow", "metrics"),
    ] {
        assert_eq!(
            item(&first, kind, name).state,
            ItemState::Changed,
            "{kind} {name}"
        );
    }
    let actions: Vec<&str> = first.events.iter().map(|e| e.action).collect();
    assert_eq!(actions, ["put_remote", "follow", "put_auto_follow"]);

    // The simulator's truth: remote connected, follower replicating, pattern active and following metrics-1.
    let state = sim.cluster("follower").state();
    assert_eq!(state["remotes"]["leader"]["connected"], true, "{state}");
    // Put follow answers once the restore has started; following starts when it ends.
    wait_for_following(&sim).await;
    wait_until("the follower to catch up", Duration::from_secs(10), || {
        sim.cluster("follower").doc_count("logs-copy") == Some(40)
    })
    .await;
    // Indices that match when the pattern is created count as already followed; new ones get followed.
    create_leader_index(&sim, "metrics-2", 5);
    wait_until(
        "the pattern to follow metrics-2",
        Duration::from_secs(10),
        || {
            sim.cluster("follower")
                .doc_count("metrics-2-copy")
                .is_some()
        },
    )
    .await;
    assert!(sim
        .cluster("follower")
        .doc_count("metrics-1-copy")
        .is_none());
    let patterns = must(
        sim.cluster("follower")
            .request("GET", "/_ccr/auto_follow/metrics", None),
        "get pattern",
    );
    assert_eq!(patterns["patterns"][0]["pattern"]["active"], true);

    // Level-triggered and idempotent: the next run only reads.
    reset(&sim);
    let second = r.run_once().await;
    assert!(second.ok(), "{second:#?}");
    assert!(
        second.items.iter().all(|i| i.state == ItemState::InSync),
        "{second:#?}"
    );
    assert!(second.events.is_empty());
    assert_eq!(
        mutating(&sim),
        0,
        "{:?} {:?}",
        sim.cluster("leader").requests(),
        sim.cluster("follower").requests()
    );

    // A second, independent reconciler (another host) finds nothing to do either.
    let other = one_shot(cfg, false).unwrap().run_once().await;
    assert!(other.items.iter().all(|i| i.state == ItemState::InSync));
    assert_eq!(mutating(&sim), 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_done_by_someone_else_is_success_and_pattern_state_follows_active() {
    // Someone already set the remote and the follower.
    let sim = logs_already_followed("8.15.0").await;
    // And a pattern, paused, that the configuration wants active.
    must(
        sim.cluster("follower").request(
            "PUT",
            "/_ccr/auto_follow/metrics",
            Some(
                json!({"remote_cluster": "leader", "leader_index_patterns": ["metrics-*"],
                        "follow_index_pattern": "{{leader_index}}-copy"}),
            ),
        ),
        "pattern",
    );
    must(
        sim.cluster("follower")
            .request("POST", "/_ccr/auto_follow/metrics/pause", None),
        "pause",
    );
    reset(&sim);
    let text = config_with_remote(&sim, &format!("{FOLLOWER}{PATTERN}"));
    let r = reconciler(&text, false);
    let report = r.run_once().await;
    assert!(report.ok(), "{report:#?}");
    assert_eq!(item(&report, "remote", "leader").state, ItemState::InSync);
    assert_eq!(
        item(&report, "follower", "logs-copy").state,
        ItemState::InSync
    );
    assert_eq!(
        item(&report, "auto_follow", "metrics").state,
        ItemState::Changed
    );
    let actions: Vec<&str> = report.events.iter().map(|e| e.action).collect();
    assert_eq!(actions, ["resume_auto_follow"]);
    assert_eq!(sim.cluster("follower").requests().mutating, 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_plans_everything_and_sends_nothing() {
    let sim = two_clusters_with_logs("8.15.0", 3).await;
    reset(&sim);
    let text = config_with_remote(&sim, &format!("{FOLLOWER}{PATTERN}"));
    let r = reconciler(&text, true);
    let report = r.run_once().await;
    assert!(report.dry_run);
    for (kind, name) in [
        ("remote", "leader"),
        ("follower", "logs-copy"),
        ("auto_follow", "metrics"),
    ] {
        assert_eq!(
            item(&report, kind, name).state,
            ItemState::Planned,
            "{kind} {name}: {report:#?}"
        );
    }
    assert!(report
        .events
        .iter()
        .all(|e| e.dry_run && e.result.as_str() == "dry_run"));
    assert_eq!(mutating(&sim), 0);
    assert!(sim.cluster("follower").state()["remotes"]
        .as_object()
        .unwrap()
        .is_empty());
    sim.shutdown().await;
}

/// Runs one reconcile of `text` with the reconcile metrics registered: the reconciler (for more runs), the report
/// and the exposition of those metrics.
async fn run_with_metrics(text: &str) -> (Reconciler, std::sync::Arc<ReconcileReport>, String) {
    let metrics = ReconcileMetrics::new();
    let registry = prometheus::Registry::new();
    metrics.register(&registry).unwrap();
    let r = reconciler(text, false).with_metrics(metrics);
    let report = r.run_once().await;
    let exposition = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap();
    (r, report, exposition)
}

/// Runs one reconcile of the remote `leader` and `rest` and returns the report and the blocked gauge text.
async fn blocked_run(sim: &Sim, rest: &str) -> (std::sync::Arc<ReconcileReport>, String) {
    let (_, report, exposition) = run_with_metrics(&config_with_remote(sim, rest)).await;
    (report, exposition)
}

fn assert_blocked(
    report: &ReconcileReport,
    metrics: &str,
    kind: &str,
    name: &str,
    reason: FailureReason,
) {
    let i = item(report, kind, name);
    assert_eq!(i.state, ItemState::Blocked, "{kind} {name}: {i:#?}");
    assert_eq!(i.reason, Some(reason), "{kind} {name}: {i:#?}");
    let line = format!(
        r#"ccr_sentinel_reconcile_blocked{{cluster="follower",kind="{kind}",name="{name}",reason="{}"}} 1"#,
        reason.as_str()
    );
    assert!(metrics.contains(&line), "missing `{line}` in:\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_deletes_off_on_a_6_8_leader_is_reported_and_backed_off() {
    let sim = two_clusters("6.8.0", "6.8.0").await;
    // 6.x: soft deletes are off unless set at creation.
    sim.cluster("leader").create_index("logs", 1).unwrap();
    let (r, report, text) = run_with_metrics(&config_with_remote(&sim, FOLLOWER)).await;
    assert_blocked(
        &report,
        &text,
        "follower",
        "logs-copy",
        FailureReason::SoftDeletesDisabled,
    );
    assert_eq!(item(&report, "remote", "leader").state, ItemState::Changed);
    let follow = report.events.iter().find(|e| e.action == "follow").unwrap();
    assert!(
        follow.error.as_deref().unwrap().contains("soft deletes"),
        "{follow:?}"
    );
    // A configuration problem: the next run does not send the follow again (no retry storm).
    reset(&sim);
    let again = r.run_once().await;
    let i = item(&again, "follower", "logs-copy");
    assert_eq!(
        (i.state, i.reason),
        (ItemState::Blocked, Some(FailureReason::SoftDeletesDisabled))
    );
    assert!(i.retry_after.is_some());
    assert_eq!(sim.cluster("follower").requests().mutating, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn license_basic_on_the_follower_and_on_the_leader() {
    let sim = two_clusters_with_logs("8.15.0", 1).await;
    sim.cluster("follower")
        .set_license(License::basic())
        .unwrap();
    let (report, m) = blocked_run(&sim, FOLLOWER).await;
    assert_blocked(&report, &m, "follower", "logs-copy", FailureReason::License);

    sim.cluster("follower")
        .set_license(License::trial())
        .unwrap();
    sim.cluster("leader").set_license(License::basic()).unwrap();
    let (report, m) = blocked_run(&sim, FOLLOWER).await;
    assert_blocked(
        &report,
        &m,
        "follower",
        "logs-copy",
        FailureReason::RemoteLicense,
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_privileges_are_reported_as_unauthorized() {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(
            ClusterConfig::new("follower").security(Security::new().user(
                "watcher",
                "pw-watcher",
                Role::Monitor,
            )),
        )
        .start()
        .await
        .unwrap();
    create_leader_index(&sim, "logs", 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "pw-watcher").unwrap();
    let text = config_with_remote(&sim, FOLLOWER).replace(
        &format!("url = \"{}\"", sim.url("follower")),
        &format!(
            "url = \"{}\"\nusername = \"watcher\"\npassword_file = \"{}\"",
            sim.url("follower"),
            dir.path().join("pw").display()
        ),
    );
    let (_, report, m) = run_with_metrics(&text).await;
    // The remote cannot be set by a monitor-only user: 403 on PUT /_cluster/settings.
    assert_blocked(&report, &m, "remote", "leader", FailureReason::Unauthorized);
    let e = &report.events[0];
    assert!(
        e.error
            .as_deref()
            .unwrap()
            .contains("is unauthorized for user [watcher]"),
        "{e:?}"
    );
    assert!(!serde_json::to_string(&*report)
        .unwrap()
        .contains("pw-watcher"));
    // With the remote set by an administrator, the follow itself gets the 403.
    connect(&sim, "follower", "leader", "leader");
    let r = reconciler(&text, false);
    let report = r.run_once().await;
    let i = item(&report, "follower", "logs-copy");
    assert_eq!(
        (i.state, i.reason),
        (ItemState::Blocked, Some(FailureReason::Unauthorized)),
        "{i:#?}"
    );
    assert!(i.message.as_deref().unwrap().contains("put_follow"));
    sim.shutdown().await;
}

/// `promtool check metrics` on an exposition, when promtool is installed.
fn promtool_check(text: &str) {
    use std::io::Write;
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed; skipping the lint");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_dry_run_then_reconcile_then_nothing() {
    let sim = two_clusters_with_logs("7.17.0", 10).await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let text = format!(
        "{}\n[audit]\nfile = \"{}\"\n",
        config_with_remote(&sim, &format!("{FOLLOWER}{PATTERN}")),
        audit.display()
    );
    let config = write_config(dir.path(), &text);
    reset(&sim);

    let dry = run_cli_with_config(&["reconcile", "--once", "--dry-run"], &config).await;
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        out.contains("would: follow `leader:logs` as `logs-copy` on `follower`"),
        "{out}"
    );
    assert!(out.contains("planned"), "{out}");
    assert_eq!(mutating(&sim), 0);

    let real = run_cli_with_config(&["reconcile", "--once"], &config).await;
    let out = String::from_utf8_lossy(&real.stdout);
    assert!(
        real.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert!(out.contains("3 changed"), "{out}");
    wait_for_following(&sim).await;

    reset(&sim);
    let again = run_cli_with_config(&["reconcile", "--once", "--format", "json"], &config).await;
    assert!(again.status.success());
    let v: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "in_sync"),
        "{v}"
    );
    assert_eq!(mutating(&sim), 0);

    // The audit file has one JSON line per action: 3 dry-run events, then the 3 real ones.
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let results: Vec<&str> = lines
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        ["dry_run", "dry_run", "dry_run", "success", "success", "success"]
    );
    assert_eq!(lines[4]["follower_index"], "logs-copy");
    assert_eq!(
        lines[4]["why"],
        "follower index `logs-copy` does not exist on `follower`"
    );

    // Without --once: usage error.
    let usage = run_with_config(&["reconcile"], &config);
    assert_eq!(usage.status.code(), Some(2));
    sim.shutdown().await;
}

/// The daemon as a process: blocked items show their reason in /status, /metrics and the logs.
/// Runs the daemon as a process (JSON logs, HTTP on `port`) until `/status` satisfies `ready` (20 s at most),
/// then scrapes `/metrics` and stops it with SIGTERM: `/status`, `/metrics` and the logs.
async fn run_until_status(
    config: &Path,
    port: u16,
    ready: impl Fn(&Value) -> bool,
) -> (Value, String, String) {
    let child = bin_with_config(&["run", "--log-format", "json"], config)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status: Value = loop {
        assert!(Instant::now() < deadline, "no reconcile section in /status");
        if let Ok(r) = http.get(format!("{base}/status")).send().await {
            let v: Value = r.json().await.unwrap_or(Value::Null);
            if ready(&v) {
                break v;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    send_signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    (
        status,
        metrics,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reports_each_blocked_reason_in_status_metrics_and_logs() {
    let sim = two_clusters_with_logs("8.15.0", 2).await;
    // A regular index holding the name of a configured follower.
    sim.cluster("follower").create_index("taken", 1).unwrap();
    let port = closed_port();
    let extra = format!(
        r#"{remote}
[[remotes]]
cluster = "follower"
alias = "nowhere"
leader = "leader"
manage = false
[[remotes]]
cluster = "follower"
alias = "dead"
leader = "leader"
seeds = ["127.0.0.1:{dead}"]
{FOLLOWER}{followers}"#,
        remote = remote(&sim),
        dead = closed_port(),
        followers = [
            ("leader", "no-such-leader", "missing-copy"),
            ("leader", "logs", "taken"),
            ("nowhere", "logs", "via-unknown"),
            ("dead", "logs", "via-dead"),
        ]
        .map(|(via, leader, follower)| follower_on("follower", via, leader, follower))
        .concat(),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &base_config(&sim, port, &extra));
    let (status, metrics, logs) = run_until_status(&config, port, |v| {
        v.get("reconcile").is_some() && v.get("preflight").is_some()
    })
    .await;

    let blocked = status["reconcile"]["blocked"].as_array().unwrap();
    let reason_of = |kind: &str, name: &str| -> String {
        blocked
            .iter()
            .find(|b| b["kind"] == kind && b["name"] == name)
            .map(|b| b["reason"].as_str().unwrap_or("").to_string())
            .unwrap_or_else(|| panic!("{kind} {name} not blocked in {status:#}"))
    };
    let expected = [
        ("follower", "missing-copy", "leader_missing"),
        ("follower", "taken", "name_conflict"),
        ("follower", "via-unknown", "remote_unknown"),
        ("follower", "via-dead", "remote_not_connected"),
        ("remote", "nowhere", "remote_unknown"),
        ("remote", "dead", "remote_not_connected"),
    ];
    for (kind, name, reason) in expected {
        assert_eq!(reason_of(kind, name), reason, "{kind} {name}");
        let line = format!(
            r#"ccr_sentinel_reconcile_blocked{{cluster="follower",kind="{kind}",name="{name}",reason="{reason}"}} 1"#
        );
        assert!(metrics.contains(&line), "missing `{line}`:\n{metrics}");
        assert!(
            logs.lines()
                .any(|l| l.contains("reconcile blocked") && l.contains(name) && l.contains(reason)),
            "no log line for {name} {reason}:\n{logs}"
        );
    }
    assert_eq!(blocked.len(), expected.len(), "{status:#}");
    // The healthy follower was created; the conflicting index is untouched (never deleted or overwritten). Its
    // shard tasks start once its initial copy is done, which a loaded machine may not have finished yet.
    wait_until(
        "the created follower's tasks run",
        Duration::from_secs(20),
        || sim.cluster("follower").state()["followers"]["logs-copy"]["status"] == "active",
    )
    .await;
    let state = sim.cluster("follower").state();
    assert_eq!(state["followers"]["logs-copy"]["status"], "active");
    assert_eq!(state["indices"]["taken"]["follower"], false);
    assert!(
        metrics.contains(
            r#"ccr_sentinel_reconcile_actions_total{action="follow",result="success"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ccr_sentinel_preflight_problems{check="follower_index"} 1"#),
        "{metrics}"
    );
    promtool_check(&metrics);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_drift_is_reported_then_fixed_by_pause_and_resume_when_allowed() {
    let sim = logs_already_followed("7.17.0").await;
    let follower = format!(
        "{FOLLOWER}parameters = {{ max_read_request_operation_count = 1000, read_poll_timeout = \"60s\" }}\n"
    );
    let text = config_with_remote(&sim, &follower);
    reset(&sim);
    let (report, m) = blocked_run(&sim, &follower).await;
    assert_blocked(
        &report,
        &m,
        "follower",
        "logs-copy",
        FailureReason::ParameterDrift,
    );
    let msg = item(&report, "follower", "logs-copy")
        .message
        .clone()
        .unwrap();
    assert!(
        msg.contains("max_read_request_operation_count is 5120, configured 1000"),
        "{msg}"
    );
    assert!(!msg.contains("read_poll_timeout"), "1m equals 60s: {msg}");
    assert_eq!(mutating(&sim), 0, "drift is only reported");

    let r = reconciler(&allowing_parameter_changes(&text), false);
    let report = r.run_once().await;
    assert!(report.ok(), "{report:#?}");
    let actions: Vec<&str> = report.events.iter().map(|e| e.action).collect();
    assert_eq!(actions, ["pause_follow", "resume_follow"]);
    let f = logs_copy_info(&sim);
    assert_eq!(f["status"], "active");
    assert_eq!(
        f["parameters"]["max_read_request_operation_count"], 1000,
        "{f}"
    );
    assert_next_run_idle(&r, &sim, "").await;
    sim.shutdown().await;
}

/// The executor shared with policy: work someone else already did is `already_done`, found by re-reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executor_reports_work_already_done_as_success() {
    use ccr_sentinel::act::{Action, ActionResult, Executor};
    let sim = logs_already_followed("8.15.0").await;
    sim.cluster("follower").create_index("plain", 1).unwrap();
    let cfg = ccr_sentinel::config::from_toml_str(&base_config(&sim, closed_port(), "")).unwrap();
    let clients = ccr_sentinel::es::Clients::from_config(&cfg).unwrap();
    let exec = Executor::new(clients);
    // A follow of the leader's `logs` as `follower_index`.
    let follow = |follower_index: &str| Action::Follow {
        cluster: "follower".into(),
        follower_index: follower_index.into(),
        remote_cluster: "leader".into(),
        leader_index: "logs".into(),
        settings: Default::default(),
        parameters: Default::default(),
        data_stream_name: None,
    };
    let cases: Vec<(Action, ActionResult)> = vec![
        // The follower already exists and follows the right leader.
        (follow("logs-copy"), ActionResult::AlreadyDone),
        // Resume of an active follower.
        (
            Action::ResumeFollow {
                cluster: "follower".into(),
                follower_index: "logs-copy".into(),
                parameters: Default::default(),
            },
            ActionResult::AlreadyDone,
        ),
        (
            Action::PauseFollow {
                cluster: "follower".into(),
                follower_index: "logs-copy".into(),
            },
            ActionResult::Success,
        ),
        // Pause of a paused follower.
        (
            Action::PauseFollow {
                cluster: "follower".into(),
                follower_index: "logs-copy".into(),
            },
            ActionResult::AlreadyDone,
        ),
        // Unfollow of an index that is not a follower.
        (
            Action::Unfollow {
                cluster: "follower".into(),
                follower_index: "plain".into(),
            },
            ActionResult::AlreadyDone,
        ),
        // Deleting a pattern that does not exist.
        (
            Action::DeleteAutoFollow {
                cluster: "follower".into(),
                name: "nope".into(),
            },
            ActionResult::AlreadyDone,
        ),
        // A follow onto a regular index is a real conflict.
        (follow("plain"), ActionResult::Failed),
    ];
    for (a, want) in cases {
        let e = exec.execute(&a, "test", "table").await;
        assert_eq!(e.result, want, "{} {:?}: {e:?}", a.name(), a.target());
    }
    let conflict = exec.execute(&follow("plain"), "test", "again").await;
    assert_eq!(conflict.reason, Some(FailureReason::NameConflict));
    // The regular index is untouched.
    assert_eq!(
        sim.cluster("follower").state()["indices"]["plain"]["follower"],
        false
    );
    sim.shutdown().await;
}

/// The daemon as a process against six simulated clusters: the license, remote license, soft-deletes and
/// privilege failures of the follow requests each show their own reason in /status, /metrics and the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reports_follow_request_failures_with_their_reasons() {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("basicleader").license(License::basic()))
        .cluster(ClusterConfig::new("old").version("6.8.0"))
        .cluster(ClusterConfig::new("oldfollower").version("6.8.0"))
        .cluster(ClusterConfig::new("basicfollower").license(License::basic()))
        .cluster(ClusterConfig::new("secure").security(Security::new().user(
            "watcher",
            "pw-watcher",
            Role::Monitor,
        )))
        .start()
        .await
        .unwrap();
    for c in ["leader", "basicleader"] {
        must(
            sim.cluster(c).request(
                "PUT",
                "/logs",
                Some(json!({"settings": {"index.number_of_shards": 1}})),
            ),
            "leader index",
        );
    }
    // 6.8: created without soft deletes.
    sim.cluster("old").create_index("nosoft", 1).unwrap();
    // The secure cluster's remote is set by an administrator; the daemon's user can only read.
    connect(&sim, "secure", "leader", "leader");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "pw-watcher").unwrap();
    let port = closed_port();
    let mut text = format!(
        r#"
[http]
listen = "127.0.0.1:{port}"
[schedule]
reconcile = "0 0 0 1 1 *"
[reconcile]
connect_timeout = "1s"
[clusters.secure]
url = "{secure}"
username = "watcher"
password_file = "{pw}"
"#,
        secure = sim.url("secure"),
        pw = dir.path().join("pw").display()
    );
    for c in [
        "leader",
        "basicleader",
        "old",
        "oldfollower",
        "basicfollower",
    ] {
        text.push_str(&format!("[clusters.{c}]\nurl = \"{}\"\n", sim.url(c)));
    }
    for (cluster, alias, index, follower) in [
        ("oldfollower", "old", "nosoft", "from-old"),
        ("basicfollower", "leader", "logs", "lic-copy"),
        ("leader", "basicleader", "logs", "from-basic"),
        ("secure", "leader", "logs", "sec-copy"),
    ] {
        text.push_str(&format!(
            "[[remotes]]\ncluster = \"{cluster}\"\nalias = \"{alias}\"\nleader = \"{alias}\"\nseeds = [\"{seeds}\"]\n",
            seeds = sim.transport_address(alias)
        ));
        text.push_str(&follower_on(cluster, alias, index, follower));
    }
    let config = write_config(dir.path(), &text);
    let (status, metrics, logs) =
        run_until_status(&config, port, |v| v.get("reconcile").is_some()).await;
    assert!(!logs.contains("pw-watcher") && !status.to_string().contains("pw-watcher"));

    let blocked = status["reconcile"]["blocked"].as_array().unwrap();
    for (cluster, name, reason) in [
        ("oldfollower", "from-old", "soft_deletes_disabled"),
        ("basicfollower", "lic-copy", "license"),
        ("leader", "from-basic", "remote_license"),
        ("secure", "sec-copy", "unauthorized"),
    ] {
        let b = blocked
            .iter()
            .find(|b| b["cluster"] == cluster && b["name"] == name)
            .unwrap_or_else(|| panic!("{cluster}/{name} not blocked: {status:#}"));
        assert_eq!(b["reason"], reason, "{b}");
        assert!(
            b["retry_after"].is_string(),
            "a failed request is backed off: {b}"
        );
        let line = format!(
            r#"ccr_sentinel_reconcile_blocked{{cluster="{cluster}",kind="follower",name="{name}",reason="{reason}"}} 1"#
        );
        assert!(metrics.contains(&line), "missing `{line}`:\n{metrics}");
        assert!(
            logs.lines()
                .any(|l| l.contains("reconcile blocked") && l.contains(name) && l.contains(reason)),
            "no blocked log line for {name}:\n{logs}"
        );
        // The audit log line of the failed follow names the reason too.
        assert!(
            logs.lines()
                .any(|l| l.contains("action failed") && l.contains(name) && l.contains(reason)),
            "no audit line for {name}:\n{logs}"
        );
    }
    assert!(
        metrics
            .contains(r#"ccr_sentinel_reconcile_actions_total{action="follow",result="failed"} 4"#),
        "{metrics}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stops_before_the_next_item_at_shutdown() {
    let sim = two_clusters_with_logs("8.15.0", 1).await;
    reset(&sim);
    let text = config_with_remote(&sim, FOLLOWER);
    let r = reconciler(&text, false);
    let cancel = tokio_util::sync::CancellationToken::new();
    cancel.cancel();
    let report = r.run_until(&cancel).await;
    assert!(
        report.items.is_empty() && report.events.is_empty(),
        "{report:#?}"
    );
    assert_eq!(mutating(&sim), 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_switches_between_proxy_and_sniff_mode() {
    let sim = two_clusters_with_logs("8.15.0", 1).await;
    let proxy = format!(
        "[[remotes]]\ncluster = \"follower\"\nalias = \"leader\"\nleader = \"leader\"\nmode = \"proxy\"\nproxy_address = \"{}\"\nskip_unavailable = true\n",
        sim.transport_address("leader")
    );
    for (extra, mode) in [
        (proxy.as_str(), "proxy"),
        (remote(&sim).as_str(), "sniff"),
        (proxy.as_str(), "proxy"),
    ] {
        let text = base_config(&sim, closed_port(), &format!("{extra}{FOLLOWER}"));
        let r = reconciler(&text, false);
        let report = r.run_once().await;
        assert!(report.ok(), "{mode}: {report:#?}");
        let info = must(
            sim.cluster("follower")
                .request("GET", "/_remote/info", None),
            "remote info",
        );
        assert_eq!(info["leader"]["mode"], mode, "{info}");
        assert_eq!(info["leader"]["connected"], true, "{info}");
        // And the next run is a no-op.
        assert_next_run_idle(&r, &sim, mode).await;
    }
    sim.shutdown().await;
}

/// The same desired state from empty clusters on every major line, and nothing sent by the second run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_matrix_from_empty_to_desired_and_idle() {
    let pattern = PATTERN.replace("active = true\n", "");
    for version in ["6.8.0", "7.10.2", "7.17.0", "8.15.0", "9.1.0"] {
        let sim = two_clusters_with_logs(version, 7).await;
        let text = config_with_remote(&sim, &format!("{FOLLOWER}{pattern}"));
        let r = reconciler(&text, false);
        let first = r.run_once().await;
        assert!(first.ok(), "{version}: {first:#?}");
        assert_eq!(first.events.len(), 3, "{version}: {first:#?}");
        wait_until("the follower to catch up", Duration::from_secs(10), || {
            sim.cluster("follower").doc_count("logs-copy") == Some(7)
        })
        .await;
        assert_next_run_idle(&r, &sim, version).await;
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_follow_patterns_with_settings_and_parameters_are_updated_only_when_different() {
    let sim = two_clusters("8.15.0", "8.15.0").await;
    let pattern = |patterns: &str| {
        format!(
            "{PATTERN}settings = {{ \"index.number_of_replicas\" = 0 }}\nparameters = {{ max_read_request_operation_count = 100, read_poll_timeout = \"30s\" }}\n"
        )
        .replace("[\"metrics-*\"]", patterns)
    };
    for (patterns, expect_actions) in [
        ("[\"metrics-*\"]", vec!["put_remote", "put_auto_follow"]),
        ("[\"metrics-*\"]", vec![]),
        ("[\"metrics-*\", \"traces-*\"]", vec!["put_auto_follow"]),
        ("[\"traces-*\", \"metrics-*\"]", vec![]),
    ] {
        let text = base_config(
            &sim,
            closed_port(),
            &format!("{}{}", remote(&sim), pattern(patterns)),
        );
        let r = reconciler(&text, false);
        reset(&sim);
        let report = r.run_once().await;
        assert!(report.ok(), "{patterns}: {report:#?}");
        let actions: Vec<&str> = report.events.iter().map(|e| e.action).collect();
        assert_eq!(actions, expect_actions, "{patterns}: {report:#?}");
        assert_eq!(mutating(&sim), expect_actions.len() as u64, "{patterns}");
    }
    let got = must(
        sim.cluster("follower")
            .request("GET", "/_ccr/auto_follow/metrics", None),
        "get",
    );
    let p = &got["patterns"][0]["pattern"];
    assert_eq!(
        p["leader_index_patterns"],
        json!(["metrics-*", "traces-*"]),
        "{got}"
    );
    assert_eq!(p["max_read_request_operation_count"], 100, "{got}");
    sim.shutdown().await;
}

/// Two reconcilers (two hosts) racing on fresh clusters: both succeed, the loser finds the follower already there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reconcilers_at_once_do_not_conflict() {
    let sim = two_clusters_with_logs("8.15.0", 5).await;
    let text = config_with_remote(&sim, &format!("{FOLLOWER}{PATTERN}"));
    let cfg = ccr_sentinel::config::from_toml_str(&text).unwrap();
    let (a, b) = (
        one_shot(cfg.clone(), false).unwrap(),
        one_shot(cfg, false).unwrap(),
    );
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    assert!(ra.ok(), "{ra:#?}");
    assert!(rb.ok(), "{rb:#?}");
    let follows: Vec<&str> = ra
        .events
        .iter()
        .chain(rb.events.iter())
        .filter(|e| e.action == "follow")
        .map(|e| e.result.as_str())
        .collect();
    assert_eq!(
        follows.iter().filter(|r| **r == "success").count(),
        1,
        "exactly one follow created the follower: {follows:?}"
    );
    assert!(
        follows
            .iter()
            .all(|r| *r == "success" || *r == "already_done"),
        "{follows:?}"
    );
    wait_for_following(&sim).await;
    assert_next_run_idle(&a, &sim, "").await;
    sim.shutdown().await;
}

/// A follower reconcile paused to change its parameters, whose resume failed, is still reconcile's after a
/// daemon restart: the restarted daemon (same `[policy] state_dir`) resumes it with the configured parameters,
/// as the first one would have, instead of leaving it paused as someone else's pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_still_resumes_the_follower_reconcile_paused() {
    let sim = logs_already_followed("7.17.0").await;
    let state = tempfile::tempdir().unwrap();
    let follower = format!(
        "{FOLLOWER}parameters = {{ max_read_request_operation_count = 1000 }}\n[policy]\nstate_dir = \"{}\"\n",
        state.path().display()
    );
    let text = allowing_parameter_changes(&config_with_remote(&sim, &follower));
    let reconciled = |body: &str| {
        serde_json::from_str::<Value>(body)
            .ok()
            .is_some_and(|v| v["reconcile"]["items"].is_array())
    };
    // A closed leader lets the pause through and refuses the resume.
    must(
        sim.cluster("leader").request("POST", "/logs/_close", None),
        "close leader",
    );
    let first = Running::run(&text).await;
    let body = first.wait_for("/status", 20, reconciled).await;
    let status: Value = serde_json::from_str(&body).unwrap();
    let actions: Vec<&str> = status["reconcile"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["pause_follow", "resume_follow"], "{body}");
    assert_eq!(logs_copy_info(&sim)["status"], "paused");
    first.stop().await;

    must(
        sim.cluster("leader").request("POST", "/logs/_open", None),
        "open leader",
    );
    let second = Running::run(&text).await;
    let body = second.wait_for("/status", 20, reconciled).await;
    second.stop().await;
    let f = logs_copy_info(&sim);
    assert_eq!(f["status"], "active", "{body}\n{f}");
    assert_eq!(
        f["parameters"]["max_read_request_operation_count"], 1000,
        "{f}"
    );
    sim.shutdown().await;
}
