//! Builders for the policy and action tests: a connected pair with caught-up followers, the daemon config with a
//! `[policy]` section and an audit trail, the CLI against that config, and `/status` of a running daemon.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use ccr_sim::{ClusterConfig, Sim};
use serde_json::{json, Value};
use tempfile::TempDir;

use super::{connect, daemon_config, must, run_cli, wait_until, write_config, Running};

/// A `leader` and a `follower` cluster, the follower connected to the leader as `leader`; `deterministic` for a
/// simulated clock that only `Sim::advance` moves.
pub async fn connected_pair(deterministic: bool) -> Sim {
    let mut builder = Sim::builder()
        .cluster(ClusterConfig::new("leader"))
        .cluster(ClusterConfig::new("follower"));
    if deterministic {
        builder = builder.deterministic_clock();
    }
    let sim = builder.start().await.unwrap();
    connect(&sim, "follower", "leader", "leader");
    sim
}

/// Creates leader index `leader` with `docs` documents and follows it as `follower`, waiting until caught up.
pub async fn following(sim: &Sim, leader: &str, follower: &str, docs: u64) {
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

/// A connected pair (real clock) following each `(leader_index, follower_index, docs)` until caught up, and a
/// fresh directory for the state and the config.
pub async fn pair_following(indices: &[(&str, &str, u64)]) -> (Sim, TempDir) {
    let sim = connected_pair(false).await;
    for (leader, follower, docs) in indices {
        following(&sim, leader, follower, *docs).await;
    }
    (sim, tempfile::tempdir().unwrap())
}

/// Waits up to 20 s until `cond` holds.
pub async fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(20), cond).await;
}

/// The daemon config with the audit trail in `state_dir`.
pub fn audit_config(sim: &Sim, state_dir: &Path, extra: &str) -> String {
    daemon_config(
        sim,
        &format!(
            "[audit]\nfile = \"{}\"\n{extra}",
            state_dir.join("audit.jsonl").display()
        ),
    )
}

/// The `[policy]` section with its state in `state_dir`, fast promote checks, and `extra` appended.
pub fn policy(state_dir: &Path, extra: &str) -> String {
    format!(
        "[policy]\nstate_dir = \"{}\"\npromote_poll_interval = \"100ms\"\npromote_stable_polls = 3\npromote_timeout = \"10s\"\n{extra}\n",
        state_dir.display()
    )
}

/// The daemon config with the audit trail and the `[policy]` section (plus `policy_extra`) in `dir`, and one
/// follower of the remote `leader` per `(leader_index, follower_index, extra)`.
pub fn policy_config(
    sim: &Sim,
    dir: &Path,
    policy_extra: &str,
    followers: &[(&str, &str, &str)],
) -> String {
    let mut text = audit_config(sim, dir, &policy(dir, policy_extra));
    for (leader, follower, extra) in followers {
        text += &follower_toml(leader, follower, extra);
    }
    text
}

/// [`policy_config`] written as the config file in `dir`.
pub fn write_policy_config(
    sim: &Sim,
    dir: &Path,
    policy_extra: &str,
    followers: &[(&str, &str, &str)],
) -> PathBuf {
    write_config(dir, &policy_config(sim, dir, policy_extra, followers))
}

/// The daemon on [`policy_config`].
pub async fn start_with_policy(
    sim: &Sim,
    dir: &Path,
    policy_extra: &str,
    followers: &[(&str, &str, &str)],
) -> Running {
    Running::start(&policy_config(sim, dir, policy_extra, followers)).await
}

/// The daemon on [`policy_config`], once `/status` says it is ready.
pub async fn start_ready_with_policy(
    sim: &Sim,
    dir: &Path,
    policy_extra: &str,
    followers: &[(&str, &str, &str)],
) -> Running {
    Running::start_ready(&policy_config(sim, dir, policy_extra, followers)).await
}

/// One `[[followers]]` entry on cluster `follower` of the remote `leader`, with `extra` lines.
pub fn follower_toml(leader: &str, follower: &str, extra: &str) -> String {
    format!(
        "[[followers]]\ncluster = \"follower\"\nremote = \"leader\"\nleader_index = \"{leader}\"\nfollower_index = \"{follower}\"\n{extra}\n"
    )
}

/// The audit trail written in `dir`.
pub fn audit(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("audit.jsonl")).unwrap()
}

/// Runs `ccr-sentinel <cmd> --config <config>` as a process.
pub async fn cli(cmd: &[&str], config: &Path) -> Output {
    let mut args: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    args.push("--config".into());
    args.push(config.display().to_string());
    run_cli(args).await
}

/// Runs `cmd` like [`cli`] and asserts it exits with `code`.
pub async fn cli_exits(cmd: &[&str], config: &Path, code: i32) -> Output {
    let out = cli(cmd, config).await;
    assert_exit(&out, code);
    out
}

/// The process exited with `code`; the failure shows its output.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
}

/// Standard output of a process, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A process's exit status and both outputs, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Neither cluster received a request that changes anything.
pub fn assert_nothing_mutated(sim: &Sim) {
    for c in ["leader", "follower"] {
        let r = sim.cluster(c).requests();
        assert_eq!(r.mutating, 0, "{c}: {r:?}");
    }
}

/// `_ccr/info` status of `index` on the follower: `Some("active"|"paused")`, `None` when not a follower.
pub fn follower_status(sim: &Sim, index: &str) -> Option<String> {
    let info = must(
        sim.cluster("follower")
            .request("GET", &format!("/{index}/_ccr/info"), None),
        "follow info",
    );
    info["follower_indices"][0]["status"]
        .as_str()
        .map(str::to_string)
}

/// The `_ccr/info` status of `index` on the follower is `expected`.
pub fn assert_follower_status(sim: &Sim, index: &str, expected: Option<&str>) {
    assert_eq!(follower_status(sim, index).as_deref(), expected);
}

/// The index is a regular open index holding `docs` documents, and takes writes.
pub fn assert_regular_and_writable(sim: &Sim, index: &str, docs: u64) {
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

/// `/status` of the daemon under test, for the policy checks.
impl Running {
    /// Starts the daemon and waits (20 s at most) until `/status` says it is ready.
    pub async fn start_ready(toml: &str) -> Self {
        let d = Running::start(toml).await;
        d.wait_status(20, "ready", |s| s["ready"] == true).await;
        d
    }

    /// `/status` as JSON; `Null` while the daemon does not answer.
    pub async fn status(&self) -> Value {
        let body = match reqwest::get(format!("{}/status", self.base)).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// Polls `/status` until `pred` holds, or fails after `secs`.
    pub async fn wait_status(&self, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
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

    /// Polls `/status` until the newest action on `index` is `action` (as `action rule result`), or fails after
    /// `secs`.
    pub async fn wait_last_action(
        &self,
        secs: u64,
        what: &str,
        index: &str,
        action: &str,
    ) -> Value {
        self.wait_status(secs, what, |s| {
            last_actions(s, index).first().is_some_and(|a| a == action)
        })
        .await
    }

    /// Waits until `/status` counts at least `more` poll runs after those of `s`.
    pub async fn wait_more_polls(&self, secs: u64, what: &str, s: &Value, more: u64) -> Value {
        let runs = poll_runs(s);
        self.wait_status(secs, what, |s| poll_runs(s) >= runs + more)
            .await
    }
}

/// The verdict state of follower `index` in `/status`, empty when not listed.
pub fn follower_state(s: &Value, index: &str) -> String {
    s["followers"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["follower_index"] == index))
        .and_then(|f| f["state"].as_str())
        .unwrap_or("")
        .to_string()
}

/// Last actions of a follower in `/status`, newest first, as `action rule result`.
pub fn last_actions(s: &Value, index: &str) -> Vec<String> {
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

/// How many times the poll job has run, from `/status`.
pub fn poll_runs(s: &Value) -> u64 {
    s["jobs"]["poll"]["runs"].as_u64().unwrap_or(0)
}
