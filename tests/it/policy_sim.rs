//! Policies and action commands against the simulator over real HTTP on loopback: the commands as processes,
//! the runbook interrupted after each step, the daemon's policies (fatal recovery, needs_refollow, windows),
//! and dry run sending no mutating request.

use std::ops::ControlFlow;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use ccr_sentinel::act::runbook::{self, RunbookStore, Step, StepReport};
use ccr_sentinel::act::Executor;
use ccr_sentinel::policy::history::Rule;
use ccr_sim::{ClusterConfig, HttpFaults, Sim};
use serde_json::{json, Value};

use crate::common::{
    connect, daemon_config, must, reset, run_cli, wait_until, write_config, Running,
};

/// A leader and a follower cluster (real clock), the follower connected to the leader as `leader`.
async fn sim() -> Sim {
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"))
        .start()
        .await
        .unwrap();
    connect(&sim, "follower", "leader", "leader");
    sim
}

/// Creates leader index `leader` with `docs` documents and follows it as `follower`, waiting until caught up.
async fn following(sim: &Sim, leader: &str, follower: &str, docs: u64) {
    must(
        sim.cluster("leader").request(
            "PUT",
            &format!("/{leader}"),
            Some(json!({"settings": {"index.number_of_shards": 2}})),
        ),
        "leader index",
    );
    sim.cluster("leader").index_docs(leader, docs).unwrap();
    sim.cluster("follower")
        .follow(follower, "leader", leader)
        .unwrap();
    wait_for(&format!("{follower} catches up"), || {
        sim.cluster("follower").doc_count(follower) == Some(docs)
    })
    .await;
}

async fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(20), cond).await;
}

/// The daemon config with the audit trail in `state_dir`.
fn config(sim: &Sim, state_dir: &Path, extra: &str) -> String {
    daemon_config(
        sim,
        &format!(
            "[audit]\nfile = \"{}\"\n{extra}",
            state_dir.join("audit.jsonl").display()
        ),
    )
}

fn policy(state_dir: &Path, extra: &str) -> String {
    format!(
        "[policy]\nstate_dir = \"{}\"\npromote_poll_interval = \"100ms\"\npromote_stable_polls = 3\npromote_timeout = \"10s\"\n{extra}\n",
        state_dir.display()
    )
}

/// The daemon config with the audit trail and the `[policy]` section (plus `policy_extra`) in `dir`, and one
/// follower of the remote `leader` per `(leader_index, follower_index, extra)`.
fn policy_config(
    sim: &Sim,
    dir: &Path,
    policy_extra: &str,
    followers: &[(&str, &str, &str)],
) -> String {
    let mut text = config(sim, dir, &policy(dir, policy_extra));
    for (leader, follower, extra) in followers {
        text += &follower_toml(leader, follower, extra);
    }
    text
}

fn follower_toml(leader: &str, follower: &str, extra: &str) -> String {
    format!(
        "[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"{leader}\"\nfollower_index = \"{follower}\"\n{extra}\n"
    )
}

/// Runs `ccr-sentinel <cmd> --config <config>` as a process.
async fn cli(cmd: &[&str], config: &Path) -> Output {
    run_cli(args(cmd, config)).await
}

fn args(cmd: &[&str], config: &Path) -> Vec<String> {
    let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    v.push("--config".into());
    v.push(config.display().to_string());
    v
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `_ccr/info` status of `index` on the follower: `Some("active"|"paused")`, `None` when not a follower.
/// Neither cluster received a request that changes anything.
fn assert_nothing_mutated(sim: &Sim) {
    for c in ["leader", "follower"] {
        let r = sim.cluster(c).requests();
        assert_eq!(r.mutating, 0, "{c}: {r:?}");
    }
}

fn follower_status(sim: &Sim, index: &str) -> Option<String> {
    let info = must(
        sim.cluster("follower")
            .request("GET", &format!("/{index}/_ccr/info"), None),
        "follow info",
    );
    info["follower_indices"][0]["status"]
        .as_str()
        .map(str::to_string)
}

/// The index is a regular open index holding `docs` documents, and takes writes.
fn assert_regular_and_writable(sim: &Sim, index: &str, docs: u64) {
    assert_eq!(
        follower_status(sim, index),
        None,
        "{index} is still a follower"
    );
    let cat = must(
        sim.cluster("follower").request(
            "GET",
            &format!("/_cat/indices/{index}?format=json&h=index,status,docs.count"),
            None,
        ),
        "cat",
    );
    assert_eq!(cat[0]["status"], "open", "{cat}");
    assert_eq!(sim.cluster("follower").doc_count(index), Some(docs));
    let (status, body) = sim.cluster("follower").request(
        "PUT",
        &format!("/{index}/_doc/after-unfollow"),
        Some(json!({"x": 1})),
    );
    assert!(
        status == 200 || status == 201,
        "write refused: {status} {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_command_turns_a_follower_into_a_writable_index() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 20).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]),
    );
    let out = cli(&["unfollow", "logs-copy"], &cfg).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for step in ["pause", "close", "unfollow", "open"] {
        assert!(stdout.contains(&format!("  {step} ")), "{}", text(&out));
    }
    assert_regular_and_writable(&sim, "logs-copy", 20);
    // The audit file has one line per step, rule manual.
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let actions: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .inspect(|e| assert_eq!(e["rule"], "manual"))
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["pause_follow", "close_index", "unfollow", "open_index"]
    );
    // A second run has nothing to do and says so.
    let again = cli(&["unfollow", "logs-copy"], &cfg).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to do"),
        "{}",
        text(&again)
    );
    sim.shutdown().await;
}

fn executor(cfg: &ccr_sentinel::config::Config) -> Executor {
    let clients = cfg
        .clusters
        .iter()
        .map(|(n, c)| (n.clone(), ccr_sentinel::es::EsClient::new(c).unwrap()))
        .collect();
    Executor::new(clients)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_interrupted_after_each_step_finishes_on_the_next_run() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let steps = [Step::Pause, Step::Close, Step::Unfollow];
    let mut toml = config(&sim, dir.path(), &policy(dir.path(), ""));
    for i in 0..steps.len() * 2 {
        toml += &follower_toml(&format!("l{i}"), &format!("f{i}"), "");
    }
    let cfg_path = write_config(dir.path(), &toml);
    let cfg = ccr_sentinel::config::load(&cfg_path).unwrap();
    let exec = executor(&cfg);
    let store = RunbookStore::new(cfg.policy.state_dir.as_deref());
    for (n, stop_after) in steps.iter().enumerate() {
        // Two ways to be interrupted: the process dies right after the step (the hook stops the runbook, like a
        // kill), or the next request fails (every request answered 503).
        for (variant, fail_next) in [(0, false), (1, true)] {
            let i = n * 2 + variant;
            let (leader, follower) = (format!("l{i}"), format!("f{i}"));
            following(&sim, &leader, &follower, 10 + i as u64).await;
            let sim_ref = &sim;
            let mut hook = |s: &StepReport| {
                if s.step != *stop_after {
                    return ControlFlow::Continue(());
                }
                if fail_next {
                    for c in ["follower", "leader"] {
                        sim_ref
                            .cluster(c)
                            .set_http_faults(HttpFaults {
                                error_rate: 1.0,
                                ..Default::default()
                            })
                            .unwrap();
                    }
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            let ctx = runbook::Ctx {
                exec: &exec,
                cfg: &cfg,
                store: &store,
            };
            let out =
                runbook::unfollow(ctx, "follower", &follower, Rule::Manual, "test", &mut hook)
                    .await
                    .unwrap();
            assert!(!out.finished, "{out:?}");
            assert_eq!(
                out.steps.iter().filter(|s| s.result == "success").count(),
                n + 1,
                "{out:?}"
            );
            for c in ["follower", "leader"] {
                sim.cluster(c).clear_faults().unwrap();
            }
            assert!(
                store
                    .in_progress()
                    .contains(&ccr_sentinel::config::ClusterKey::new(
                        "follower", &follower
                    )),
                "the record of the interrupted runbook stays"
            );
            // The interrupted state is real: after close (or unfollow) the index is left closed. (With the
            // failure variant the next request was applied by the cluster but its answer lost, so the state is
            // one step further; the next run must cope with that too.)
            if !fail_next {
                let closed = sim.cluster("follower").state()["indices"][&follower]["status"]
                    == json!("close");
                assert_eq!(closed, *stop_after != Step::Pause, "after {stop_after:?}");
            }

            let again = cli(&["unfollow", &follower], &cfg_path).await;
            assert_eq!(
                again.status.code(),
                Some(0),
                "after {stop_after:?}: {}",
                text(&again)
            );
            let stdout = String::from_utf8_lossy(&again.stdout);
            // Steps already done are not repeated.
            for done in &steps[..=n] {
                assert!(
                    !stdout.contains(&format!("  {} ", done.as_str())),
                    "{done:?} repeated after {stop_after:?}: {}",
                    text(&again)
                );
            }
            if !fail_next {
                assert!(stdout.contains("  open "), "{}", text(&again));
            }
            assert_regular_and_writable(&sim, &follower, 10 + i as u64);
            assert!(!store
                .in_progress()
                .contains(&ccr_sentinel::config::ClusterKey::new(
                    "follower", &follower
                )));
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollow_whose_lease_removal_fails_finishes_and_cleans_up_on_the_leader() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 5).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]),
    );
    // The follower cluster loses its connection to the leader: unfollow cannot remove the leases itself.
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    sim.cluster("leader").reset_requests();
    let out = cli(&["unfollow", "logs-copy"], &cfg).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("retention leases on the leader could not be removed"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("forget_follower"), "{}", text(&out));
    assert_regular_and_writable(&sim, "logs-copy", 5);
    let leader_requests = sim.cluster("leader").requests();
    assert_eq!(
        leader_requests
            .by_endpoint
            .get("POST /{index}/_ccr/forget_follower")
            .copied(),
        Some(1),
        "{leader_requests:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_cuts_over_a_caught_up_follower_and_refuses_a_lagging_one() {
    let sim = sim().await;
    following(&sim, "done", "done-copy", 30).await;
    following(&sim, "busy", "busy-copy", 30).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &policy_config(
            &sim,
            dir.path(),
            "",
            &[("done", "done-copy", ""), ("busy", "busy-copy", "")],
        ),
    );
    // Writes keep flowing into `busy`: its follower cannot be shown caught up.
    sim.cluster("leader").set_writes("busy", 200.0).unwrap();
    let refused = cli(&["promote", "busy-copy"], &cfg).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("not caught up"), "{}", text(&refused));
    assert_eq!(
        follower_status(&sim, "busy-copy").as_deref(),
        Some("active")
    );

    let out = cli(&["promote", "done-copy"], &cfg).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_regular_and_writable(&sim, "done-copy", 30);

    // --force cuts over regardless.
    let forced = cli(&["promote", "busy-copy", "--force"], &cfg).await;
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert_eq!(follower_status(&sim, "busy-copy"), None);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_commands_and_exit_statuses() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 5).await;
    must(
        sim.cluster("follower").request("PUT", "/plain", None),
        "plain index",
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]),
    );
    let out = cli(&["pause", "logs-copy"], &cfg).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        follower_status(&sim, "logs-copy").as_deref(),
        Some("paused")
    );
    // The pause is remembered as intended, for a running daemon.
    let h = ccr_sentinel::policy::history::History::load(dir.path()).unwrap();
    assert_eq!(
        h.follower("follower", "logs-copy")
            .unwrap()
            .paused_by_us
            .as_ref()
            .unwrap()
            .rule,
        Rule::Manual
    );
    let again = cli(&["pause", "logs-copy"], &cfg).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already"),
        "{}",
        text(&again)
    );
    let out = cli(&["resume", "logs-copy"], &cfg).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        follower_status(&sim, "logs-copy").as_deref(),
        Some("active")
    );

    let bad = cli(&["pause", "plain", "--cluster", "follower"], &cfg).await;
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not a follower"),
        "{}",
        text(&bad)
    );
    let bad = cli(&["pause", "logs-copy", "--cluster", "nope"], &cfg).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let bad = cli(&["promote"], &cfg).await;
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_no_mutating_request() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 5).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &policy_config(&sim, dir.path(), "", &[("logs", "logs-copy", "")]),
    );
    reset(&sim);
    for cmd in [
        vec!["pause", "logs-copy", "--dry-run"],
        vec!["resume", "logs-copy", "--dry-run"],
        vec!["unfollow", "logs-copy", "--dry-run"],
        vec!["promote", "logs-copy", "--dry-run", "--force"],
    ] {
        let out = cli(&cmd, &cfg).await;
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("dry run"),
            "{}",
            text(&out)
        );
    }
    let out = cli(&["unfollow", "logs-copy", "--dry-run"], &cfg).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for step in ["pause", "close", "unfollow", "open"] {
        assert!(stdout.contains(&format!("  {step} ")), "{}", text(&out));
    }
    assert_nothing_mutated(&sim);
    assert_eq!(
        follower_status(&sim, "logs-copy").as_deref(),
        Some("active")
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------------------
// The daemon's policies
// ---------------------------------------------------------------------------------------------------------------

/// `/status` of the daemon under test, for the policy checks.
impl Running {
    /// Starts the daemon and waits (20 s at most) until `/status` says it is ready.
    async fn start_ready(toml: &str) -> Self {
        let d = Running::start(toml).await;
        d.wait_status(20, "ready", |s| s["ready"] == true).await;
        d
    }

    /// `/status` as JSON; `Null` while the daemon does not answer.
    async fn status(&self) -> Value {
        let body = match reqwest::get(format!("{}/status", self.base)).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// Polls `/status` until `pred` holds, or fails after `secs`.
    async fn wait_status(&self, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status().await;
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {secs}s; last /status:\n{s:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn follower_state(s: &Value, index: &str) -> String {
    s["followers"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["follower_index"] == index))
        .and_then(|f| f["state"].as_str())
        .unwrap_or("")
        .to_string()
}

/// Last actions of a follower in `/status`, newest first, as `action rule result`.
fn last_actions(s: &Value, index: &str) -> Vec<String> {
    s["policy"]["last_actions"][format!("follower/{index}")]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    format!(
                        "{} {} {}",
                        x["action"].as_str().unwrap_or(""),
                        x["rule"].as_str().unwrap_or(""),
                        x["result"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn poll_runs(s: &Value) -> u64 {
    s["jobs"]["poll"]["runs"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_recovers_a_fatal_exception_and_replication_resumes() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 10).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Running::start_ready(&policy_config(
        &sim,
        dir.path(),
        "",
        &[("logs", "logs-copy", "")],
    ))
    .await;
    sim.cluster("follower").fail_shard("logs-copy", 0).unwrap();
    sim.cluster("follower").fail_shard("logs-copy", 1).unwrap();
    sim.cluster("leader").index_docs("logs", 15).unwrap();
    // Without the pause + resume the stopped shard tasks never replicate the new documents.
    wait_for("the follower replicates again", || {
        sim.cluster("follower").doc_count("logs-copy") == Some(25)
    })
    .await;
    let s = d
        .wait_status(20, "the recovery is in /status", |s| {
            last_actions(s, "logs-copy").contains(&"pause_resume recover_fatal success".to_string())
        })
        .await;
    assert_eq!(
        follower_status(&sim, "logs-copy").as_deref(),
        Some("active"),
        "{s:#}"
    );
    let (_, metrics) = d.get("/metrics").await;
    for a in ["pause_follow", "resume_follow"] {
        let series = format!(
            "ccr_sentinel_actions_total{{action=\"{a}\",result=\"success\",rule=\"recover_fatal\"}} 1"
        );
        assert!(metrics.contains(&series), "{series} missing:\n{metrics}");
    }
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"rule\":\"recover_fatal\""), "{audit}");
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_lease_loss_is_needs_refollow_and_never_resumed_in_a_loop() {
    let sim = sim().await;
    following(&sim, "gone", "gone-copy", 10).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Running::start_ready(&policy_config(
        &sim,
        dir.path(),
        "",
        &[("gone", "gone-copy", "")],
    ))
    .await;
    // The follower falls behind (paused), the leader drops the history it would need, replication restarts.
    let f = sim.cluster("follower");
    must(
        f.request("POST", "/gone-copy/_ccr/pause_follow", None),
        "pause",
    );
    sim.cluster("leader").index_docs("gone", 5).unwrap();
    sim.cluster("leader").lose_retention_leases("gone").unwrap();
    must(
        f.request("POST", "/gone-copy/_ccr/resume_follow", None),
        "resume",
    );
    let s = d
        .wait_status(20, "needs_refollow", |s| {
            follower_state(s, "gone-copy") == "needs_refollow"
        })
        .await;
    sim.cluster("follower").reset_requests();
    // Several more polls and policy evaluations.
    let runs = poll_runs(&s);
    let s = d
        .wait_status(20, "three more polls", |s| poll_runs(s) >= runs + 3)
        .await;
    assert_eq!(follower_state(&s, "gone-copy"), "needs_refollow", "{s:#}");
    assert!(last_actions(&s, "gone-copy").is_empty(), "{s:#}");
    let r = sim.cluster("follower").requests();
    assert_eq!(
        r.mutating, 0,
        "the daemon acted on a needs_refollow follower: {r:?}"
    );
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_pauses_then_resumes() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 10).await;
    following(&sim, "other", "other-copy", 10).await;
    must(
        sim.cluster("follower").request(
            "PUT",
            "/_ccr/auto_follow/metrics",
            Some(json!({"remote_cluster": "leader", "leader_index_patterns": ["metrics-*"]})),
        ),
        "auto-follow pattern",
    );
    let pattern_active = || {
        must(
            sim.cluster("follower")
                .request("GET", "/_ccr/auto_follow/metrics", None),
            "get pattern",
        )["patterns"][0]["pattern"]["active"]
            == json!(true)
    };
    let dir = tempfile::tempdir().unwrap();
    // A two-second window every four seconds, for logs-* and the `metrics` pattern only.
    let d = Running::start(
        &(config(
            &sim,
            dir.path(),
            &policy(
                dir.path(),
                "[[policy.windows]]\nname = \"blink\"\nstart = \"*/4 * * * * *\"\nduration = \"2s\"\nfollowers = [\"logs-*\"]\nauto_follow = [\"metrics\"]",
            ),
        ) + &follower_toml("logs", "logs-copy", "")
            + &follower_toml("other", "other-copy", "")
            + "[[auto_follow]]\ncluster = \"follower\"\nname = \"metrics\"\nremote = \"leader\"\nleader_index_patterns = [\"metrics-*\"]\n"),
    )
    .await;
    d.wait_status(20, "paused by the window", |s| {
        last_actions(s, "logs-copy").contains(&"pause window success".to_string())
    })
    .await;
    wait_for("the pattern paused by the window", || !pattern_active()).await;
    wait_for("the pattern resumed after the window", pattern_active).await;
    let s = d
        .wait_status(20, "resumed after the window", |s| {
            last_actions(s, "logs-copy")
                .first()
                .is_some_and(|a| a == "resume window success")
        })
        .await;
    assert!(
        last_actions(&s, "other-copy").is_empty(),
        "not selected: {s:#}"
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit.contains("maintenance window `blink`"), "{audit}");
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_promotes_a_caught_up_follower_marked_promote() {
    let sim = sim().await;
    following(&sim, "old", "old-copy", 12).await;
    following(&sim, "keep", "keep-copy", 12).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Running::start(&policy_config(
        &sim,
        dir.path(),
        "",
        &[
            ("old", "old-copy", "promote = true"),
            ("keep", "keep-copy", ""),
        ],
    ))
    .await;
    let s = d
        .wait_status(30, "promoted", |s| {
            last_actions(s, "old-copy")
                .first()
                .is_some_and(|a| a == "unfollow promote success")
        })
        .await;
    assert_regular_and_writable(&sim, "old-copy", 12);
    assert_eq!(
        follower_status(&sim, "keep-copy").as_deref(),
        Some("active"),
        "{s:#}"
    );
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_in_dry_run_plans_but_sends_no_mutating_request() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 10).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Running::start_ready(&policy_config(
        &sim,
        dir.path(),
        "dry_run = true",
        &[("logs", "logs-copy", "promote = true")],
    ))
    .await;
    sim.cluster("follower").fail_shard("logs-copy", 0).unwrap();
    reset(&sim);
    let s = d
        .wait_status(20, "the recovery planned in dry run", |s| {
            last_actions(s, "logs-copy").contains(&"pause_resume recover_fatal dry_run".to_string())
        })
        .await;
    assert_eq!(s["policy"]["dry_run"], true);
    assert_nothing_mutated(&sim);
    assert_eq!(follower_state(&s, "logs-copy"), "failed");
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_finishes_an_interrupted_promote() {
    let sim = sim().await;
    following(&sim, "old", "old-copy", 8).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = policy_config(
        &sim,
        dir.path(),
        "",
        &[("old", "old-copy", "promote = true")],
    );
    // A daemon's promote stopped right after closing the follower (the process died there).
    let cfg = ccr_sentinel::config::from_toml_str(&toml).unwrap();
    let exec = executor(&cfg);
    let store = RunbookStore::new(cfg.policy.state_dir.as_deref());
    let ctx = runbook::Ctx {
        exec: &exec,
        cfg: &cfg,
        store: &store,
    };
    let mut hook = |s: &StepReport| {
        if s.step == Step::Close {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let out = runbook::unfollow(
        ctx,
        "follower",
        "old-copy",
        Rule::Promote,
        "test",
        &mut hook,
    )
    .await
    .unwrap();
    assert!(!out.finished);
    assert_eq!(
        sim.cluster("follower").state()["indices"]["old-copy"]["status"],
        "close"
    );
    // The next daemon rolls it forward.
    let d = Running::start(&toml).await;
    let s = d
        .wait_status(20, "finished", |s| {
            last_actions(s, "old-copy")
                .first()
                .is_some_and(|a| a == "unfollow promote success")
        })
        .await;
    assert_regular_and_writable(&sim, "old-copy", 8);
    assert_eq!(s["policy"]["runbooks_in_progress"], json!([]), "{s:#}");
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_recovering_the_same_follower_do_not_fight() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 10).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start = |dir: &Path| policy_config(&sim, dir, "", &[("logs", "logs-copy", "")]);
    let a = Running::start(&start(dir_a.path())).await;
    let b = Running::start(&start(dir_b.path())).await;
    a.wait_status(20, "a ready", |s| s["ready"] == true).await;
    b.wait_status(20, "b ready", |s| s["ready"] == true).await;
    sim.cluster("follower").fail_shard("logs-copy", 0).unwrap();
    sim.cluster("leader").index_docs("logs", 10).unwrap();
    wait_for("the follower replicates again", || {
        sim.cluster("follower").doc_count("logs-copy") == Some(20)
    })
    .await;
    // A few more polls of both: the follower stays active and neither daemon saw a failed action.
    let runs = poll_runs(&a.status().await);
    let sa = a
        .wait_status(20, "more polls", |s| poll_runs(s) >= runs + 2)
        .await;
    let sb = b.status().await;
    assert_eq!(
        follower_status(&sim, "logs-copy").as_deref(),
        Some("active")
    );
    for (name, s) in [("a", &sa), ("b", &sb)] {
        assert!(
            !last_actions(s, "logs-copy")
                .iter()
                .any(|x| x.ends_with("failure")),
            "daemon {name}: {s:#}"
        );
    }
    let acted = |s: &Value| !last_actions(s, "logs-copy").is_empty();
    assert!(acted(&sa) || acted(&sb), "nobody recovered it");
    a.stop().await;
    b.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_outage_pauses_followers_and_recovery_resumes_them() {
    let sim = sim().await;
    following(&sim, "logs", "logs-copy", 10).await;
    let dir = tempfile::tempdir().unwrap();
    let d = Running::start_ready(
        &policy_config(
            &sim,
            dir.path(),
            "pause_on_remote_outage = true\nremote_outage_after = \"2s\"\nremote_recovered_after = \"2s\"",
            &[("logs", "logs-copy", "")],
        ),
    ).await;
    sim.cluster("follower").disconnect_remote("leader").unwrap();
    d.wait_status(20, "paused during the outage", |s| {
        last_actions(s, "logs-copy")
            .first()
            .is_some_and(|a| a == "pause pause_on_remote_outage success")
    })
    .await;
    assert_eq!(
        follower_status(&sim, "logs-copy").as_deref(),
        Some("paused")
    );
    sim.cluster("follower").connect_remote("leader").unwrap();
    sim.cluster("leader").index_docs("logs", 5).unwrap();
    d.wait_status(20, "resumed after recovery", |s| {
        last_actions(s, "logs-copy")
            .first()
            .is_some_and(|a| a == "resume pause_on_remote_outage success")
    })
    .await;
    wait_for("replication resumes", || {
        sim.cluster("follower").doc_count("logs-copy") == Some(15)
    })
    .await;
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_all_finishes_what_is_left_and_skips_what_is_done() {
    let sim = sim().await;
    following(&sim, "a", "a-copy", 3).await;
    following(&sim, "b", "b-copy", 4).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &policy_config(
            &sim,
            dir.path(),
            "",
            &[("a", "a-copy", ""), ("b", "b-copy", "")],
        ),
    );
    let one = cli(&["promote", "a-copy"], &cfg).await;
    assert_eq!(one.status.code(), Some(0), "{}", text(&one));
    let all = cli(&["promote", "--all"], &cfg).await;
    assert_eq!(all.status.code(), Some(0), "{}", text(&all));
    let stdout = String::from_utf8_lossy(&all.stdout);
    assert!(stdout.contains("nothing to do: `a-copy`"), "{}", text(&all));
    assert_regular_and_writable(&sim, "a-copy", 3);
    assert_regular_and_writable(&sim, "b-copy", 4);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_deleted_alerts_by_default_and_unfollows_when_configured() {
    let sim = sim().await;
    following(&sim, "temp", "temp-copy", 6).await;
    following(&sim, "keep", "keep-copy", 6).await;
    let dir = tempfile::tempdir().unwrap();
    let alert_only = Running::start_ready(&policy_config(
        &sim,
        dir.path(),
        "",
        &[("temp", "temp-copy", "")],
    ))
    .await;
    sim.cluster("leader").delete_index("temp").unwrap();
    let s = alert_only
        .wait_status(20, "leader_missing", |s| {
            follower_state(s, "temp-copy") == "leader_missing"
        })
        .await;
    let runs = poll_runs(&s);
    let s = alert_only
        .wait_status(20, "more polls", |s| poll_runs(s) >= runs + 2)
        .await;
    assert!(
        last_actions(&s, "temp-copy").is_empty(),
        "alert only: {s:#}"
    );
    assert_eq!(
        follower_status(&sim, "temp-copy").as_deref(),
        Some("active")
    );
    alert_only.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let d = Running::start(&policy_config(
        &sim,
        dir.path(),
        "on_leader_deleted = \"unfollow\"",
        &[("temp", "temp-copy", ""), ("keep", "keep-copy", "")],
    ))
    .await;
    d.wait_status(20, "unfollowed", |s| {
        last_actions(s, "temp-copy")
            .first()
            .is_some_and(|a| a == "unfollow on_leader_deleted success")
    })
    .await;
    assert_regular_and_writable(&sim, "temp-copy", 6);
    assert_eq!(
        follower_status(&sim, "keep-copy").as_deref(),
        Some("active")
    );
    d.stop().await;
    sim.shutdown().await;
}
