//! The DR topology file while the daemon runs: a switchover's result written into `state_dir/topology.json` is
//! picked up without a restart; reconcile then sets up the reverse direction (the old leader follows the
//! promoted index, and gets the reverse auto-follow pattern), `/status` and `/metrics` show the new active
//! cluster, and a broken file is reported while reconcile waits.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::policy::{connected_pair, following};
use crate::common::{
    connect, daemon_config, must, run_cli_with_config, sample, wait_until, write_config, Running,
};

/// The configuration: `follower` follows `leader`'s `logs` as `logs`, and each cluster has a remote on the other.
fn config(sim: &ccr_sim::Sim, state_dir: &std::path::Path) -> String {
    daemon_config(
        sim,
        &format!(
            r#"
[[remotes]]
cluster = "leader"
alias = "follower"
leader = "follower"
seeds = ["{follower_seeds}"]
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs"
[policy]
state_dir = "{state_dir}"
"#,
            follower_seeds = sim.transport_address("follower"),
            state_dir = state_dir.display(),
        ),
    )
}

/// What `switchover --from leader --to follower` records once it promoted `follower/logs` and the operator
/// deleted the stale copy on `leader`.
fn switched() -> Value {
    json!({"pairs": [{
        "clusters": ["follower", "leader"],
        "active": "follower",
        "last": {"from": "leader", "to": "follower", "kind": "switchover",
                 "started_at": "2026-12-02T09:00:00Z", "finished_at": "2026-12-02T09:02:00Z"},
        "promoted": ["follower/logs"],
        "followers": [{"cluster": "leader", "remote": "follower", "leader_index": "logs", "follower_index": "logs"}],
        "auto_follow": [{"cluster": "leader", "name": "logs-from-follower", "remote": "follower",
                         "leader_index_patterns": ["logs-app-*"],
                         "leader_index_exclusion_patterns": ["*-replicated_from_*"],
                         "follow_index_pattern": "{{leader_index}}-replicated_from_follower"}]
    }]})
}

/// The `dr` pair of `/status`.
async fn pair(d: &Running) -> Value {
    let (_, body) = d.get("/status").await;
    let v: Value = serde_json::from_str(&body).unwrap();
    v["dr"]["pairs"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topology_written_while_running_sets_up_the_reverse_direction() {
    let sim = connected_pair(false).await;
    connect(&sim, "leader", "follower", "follower");
    following(&sim, "logs", "logs", 3).await;
    let state = tempfile::tempdir().unwrap();
    let d = Running::run(&config(&sim, state.path())).await;

    // As declared: `leader` writes, `follower` follows it.
    let active = r#"ccr_sentinel_dr_active{pair="follower/leader",cluster="leader"}"#;
    let metrics = d
        .wait_for("/metrics", 20, |b| sample(b, active) == Some(1.0))
        .await;
    assert_eq!(
        sample(
            &metrics,
            r#"ccr_sentinel_dr_replicating_followers{pair="follower/leader",cluster="follower"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "ccr_sentinel_dr_topology_problems"),
        Some(0.0)
    );
    let p = pair(&d).await;
    assert_eq!(
        (p["active"].as_str(), p["switched"].as_bool()),
        (Some("leader"), Some(false)),
        "{p}"
    );

    // The switchover's steps on the clusters: promote `follower/logs`, the operator deletes `leader/logs`.
    let f = sim.cluster("follower");
    for (method, path) in [
        ("POST", "/logs/_ccr/pause_follow"),
        ("POST", "/logs/_close"),
        ("POST", "/logs/_ccr/unfollow"),
        ("POST", "/logs/_open"),
    ] {
        must(f.request(method, path, None), path);
    }
    sim.cluster("follower").index_docs("logs", 2).unwrap();
    must(
        sim.cluster("leader").request("DELETE", "/logs", None),
        "delete the stale copy",
    );
    ccr_sentinel::config::Topology::from_json(switched().to_string().as_bytes())
        .unwrap()
        .save(state.path())
        .unwrap();

    // Picked up without a restart: reconcile follows the promoted index from the old leader and puts the pattern.
    let l = sim.cluster("leader");
    wait_until(
        "leader follows follower's logs",
        Duration::from_secs(20),
        || l.state()["followers"]["logs"]["status"] == "active",
    )
    .await;
    wait_until(
        "the reverse pattern exists",
        Duration::from_secs(20),
        || {
            l.request("GET", "/_ccr/auto_follow/logs-from-follower", None)
                .0
                == 200
        },
    )
    .await;
    let (_, body) = l.request("GET", "/_ccr/auto_follow/logs-from-follower", None);
    let pattern = &body["patterns"][0]["pattern"];
    assert_eq!(pattern["remote_cluster"], "follower", "{body}");
    assert_eq!(
        pattern["follow_index_pattern"], "{{leader_index}}-replicated_from_follower",
        "{body}"
    );
    let flipped = r#"ccr_sentinel_dr_active{pair="follower/leader",cluster="follower"}"#;
    let replicating =
        r#"ccr_sentinel_dr_replicating_followers{pair="follower/leader",cluster="leader"}"#;
    let metrics = d
        .wait_for("/metrics", 20, |b| {
            sample(b, flipped) == Some(1.0) && sample(b, replicating) == Some(1.0)
        })
        .await;
    assert_eq!(sample(&metrics, active), Some(0.0));
    assert_eq!(
        sample(
            &metrics,
            r#"ccr_sentinel_dr_switchover_in_progress{pair="follower/leader"}"#
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"ccr_sentinel_dr_last_switchover_timestamp_seconds{pair="follower/leader"}"#
        ),
        Some(1_796_202_120.0)
    );
    let p = pair(&d).await;
    assert_eq!(p["active"], "follower", "{p}");
    assert_eq!(p["passive"], "leader", "{p}");
    assert_eq!(p["switched"], true, "{p}");
    assert_eq!(p["promoted"], json!(["follower/logs"]), "{p}");
    assert_eq!(p["reverse_followers"][0]["cluster"], "leader", "{p}");
    assert_eq!(p["last"]["kind"], "switchover", "{p}");
    // The promoted index is no conflict under the effective configuration.
    let (_, status) = d.get("/status").await;
    assert!(!status.contains("name_conflict"), "{status}");
    // The docs copied over: the old leader now holds what was written on the new one.
    wait_until("leader's copy caught up", Duration::from_secs(20), || {
        l.doc_count("logs") == Some(5)
    })
    .await;

    // A broken file: reported in /status and /metrics, and reconcile waits for it.
    std::fs::write(
        ccr_sentinel::config::Topology::path(state.path()),
        "{not json",
    )
    .unwrap();
    let status = d
        .wait_for("/status", 20, |b| b.contains("\"topology_error\""))
        .await;
    let v: Value = serde_json::from_str(&status).unwrap();
    assert!(
        v["dr"]["topology_error"]
            .as_str()
            .unwrap()
            .contains("is not a ccr-sentinel topology file"),
        "{}",
        v["dr"]
    );
    assert!(
        v["reconcile"]["suspended"].as_str().is_some(),
        "reconcile is suspended: {}",
        v["reconcile"]
    );
    let (_, metrics) = d.get("/metrics").await;
    assert_eq!(
        sample(&metrics, "ccr_sentinel_dr_topology_problems"),
        Some(1.0)
    );
    d.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_read_the_topology_and_reconcile_refuses_a_broken_one() {
    let sim = connected_pair(false).await;
    connect(&sim, "leader", "follower", "follower");
    following(&sim, "logs", "logs", 3).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let path = write_config(dir.path(), &config(&sim, &state));
    ccr_sentinel::config::Topology::from_json(switched().to_string().as_bytes())
        .unwrap()
        .save(&state)
        .unwrap();

    let out = run_cli_with_config(&["status"], &path).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("dr follower/leader: follower writes, leader follows it (0 followers); last switchover leader -> follower at 2026-12-02 09:02:00"),
        "{stdout}"
    );
    let out = run_cli_with_config(&["status", "--format", "json"], &path).await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dr"]["pairs"][0]["active"], "follower", "{}", v["dr"]);
    assert!(
        v["dr"]["pairs"][0]["permanent_toml"]
            .as_str()
            .unwrap()
            .contains("[[followers]]\ncluster = \"leader\"\nremote = \"follower\""),
        "{}",
        v["dr"]
    );

    std::fs::write(ccr_sentinel::config::Topology::path(&state), "{not json").unwrap();
    let out = run_cli_with_config(&["reconcile", "--once"], &path).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("reconcile does not run without it"),
        "{stderr}"
    );
    assert!(
        stderr.contains("is not a ccr-sentinel topology file"),
        "{stderr}"
    );
    // Nothing was sent: the leader still has no follower of its own.
    assert!(sim.cluster("leader").state()["followers"]["logs"].is_null());
    let out = run_cli_with_config(&["status"], &path).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("warning: DR topology:"), "{stderr}");
    assert!(stdout.contains("! topology:"), "{stdout}");
    assert!(
        stdout.contains("dr follower/leader: leader writes, follower follows it (1 follower)"),
        "the declared direction: {stdout}"
    );
    sim.shutdown().await;
}
