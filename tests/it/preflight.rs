//! `ccr-sentinel check` as a process against the simulator (and, for what the simulator cannot plant, a scripted
//! Elasticsearch): passes on a clean pair, finds each planted problem, exit 0/1, table and JSON, sends nothing
//! that changes a cluster.

use std::path::Path;

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use ccr_sim::{ClusterConfig, License, Sim};
use serde_json::{json, Value};

use crate::common::{
    connect, create_leader_index, leader_remote, pair_clusters, reset, run_cli_with_config,
    two_clusters,
};

fn config(leader_url: &str, follower_url: &str, seeds: &str, follower_index: &str) -> String {
    format!(
        r#"
{clusters}{remote}
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "{follower_index}"
"#,
        clusters = pair_clusters(leader_url, follower_url, "3s"),
        remote = leader_remote(seeds),
    )
}

/// The config for the simulator's pair: the remote `leader` seeded with the leader's transport address, following
/// `logs` as `logs-copy`.
fn sim_config(sim: &Sim) -> String {
    config(
        &sim.url("leader"),
        &sim.url("follower"),
        &sim.transport_address("leader"),
        "logs-copy",
    )
}

async fn check(dir: &Path, text: &str, json: bool) -> (Option<i32>, String) {
    let path = dir.join("ccr.toml");
    std::fs::write(&path, text).unwrap();
    let args: &'static [&'static str] = if json {
        &["check", "--format", "json"]
    } else {
        &["check"]
    };
    let out = run_cli_with_config(args, &path).await;
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// (check, target) -> status from the JSON output.
fn statuses(json: &str) -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_string(),
                c["target"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(s: &[(String, String, String)], check: &str, status: &str) -> bool {
    s.iter().any(|(c, _, st)| c == check && st == status)
}

/// The simulator's pair at the given versions, the leader holding `logs` with soft deletes, the follower's remote
/// `leader` connected.
async fn connected_pair(leader_version: &str, follower_version: &str) -> Sim {
    let sim = two_clusters(leader_version, follower_version).await;
    create_leader_index(&sim, "logs", 0);
    connect(&sim, "follower", "leader", "leader");
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_pair_passes_in_table_and_json_and_nothing_is_changed() {
    let sim = connected_pair("7.17.0", "7.17.0").await;
    reset(&sim);
    let dir = tempfile::tempdir().unwrap();
    let text = sim_config(&sim);
    let (code, table) = check(dir.path(), &text, false).await;
    assert_eq!(code, Some(0), "{table}");
    for needle in [
        "CHECK",
        "license",
        "soft_deletes",
        "seeds",
        "ok: 0 problem(s)",
    ] {
        assert!(table.contains(needle), "missing {needle}:\n{table}");
    }
    let (code, json) = check(dir.path(), &text, true).await;
    assert_eq!(code, Some(0), "{json}");
    let s = statuses(&json);
    assert!(!s.iter().any(|(_, _, st)| st == "fail"), "{s:?}");
    // The names are the JSON interface of `check --format json`: listed literally so a rename is caught.
    for c in [
        "reachable",
        "version",
        "version_compat",
        "license",
        "remote",
        "seeds",
        "leader_index",
        "soft_deletes",
        "replication_type",
        "follower_index",
    ] {
        assert!(has(&s, c, "ok"), "{c} not ok: {s:?}");
    }
    // The simulator has no _has_privileges API: skipped with a note, not failed.
    assert!(has(&s, "privileges", "skip"), "{s:?}");
    assert_eq!(sim.cluster("leader").requests().mutating, 0);
    assert_eq!(sim.cluster("follower").requests().mutating, 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_problems_are_found_and_exit_1() {
    // 6.8 leader index without soft deletes; the leader's HTTP port in seeds; a regular index holding the
    // follower name; a basic license on the leader.
    let sim = two_clusters("6.8.0", "6.8.0").await;
    sim.cluster("leader").create_index("logs", 1).unwrap();
    sim.cluster("follower").create_index("taken", 1).unwrap();
    sim.cluster("leader").set_license(License::basic()).unwrap();
    let http_addr = sim.url("leader").trim_start_matches("http://").to_string();
    let dir = tempfile::tempdir().unwrap();
    let text = config(
        &sim.url("leader"),
        &sim.url("follower"),
        &http_addr,
        "taken",
    );
    let (code, json) = check(dir.path(), &text, true).await;
    assert_eq!(code, Some(1), "{json}");
    let s = statuses(&json);
    for c in ["soft_deletes", "seeds", "follower_index", "license"] {
        assert!(has(&s, c, "fail"), "{c} not failed: {s:?}");
    }
    let v: Value = serde_json::from_str(&json).unwrap();
    let fix_of = |check: &str| -> String {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == check && c["status"] == "fail")
            .and_then(|c| c["fix"].as_str())
            .unwrap_or("")
            .to_string()
    };
    assert!(fix_of("soft_deletes").contains("reindex"), "{json}");
    assert!(fix_of("seeds").contains("9300"), "{json}");
    // 6.8 serves the license at /_xpack/license only: the fallback found it.
    assert!(v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["check"] == "license"
            && c["target"] == "cluster leader"
            && c["message"].as_str().unwrap().contains("basic")));
    let (code, table) = check(dir.path(), &text, false).await;
    assert_eq!(code, Some(1));
    assert!(table.contains("BLOCKED"), "{table}");
    assert!(
        table.contains("is the HTTP address of cluster `leader`"),
        "{table}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_follower_than_its_leader_is_an_error() {
    let sim = connected_pair("7.17.0", "7.10.2").await;
    let dir = tempfile::tempdir().unwrap();
    let text = sim_config(&sim);
    let (code, json) = check(dir.path(), &text, true).await;
    assert_eq!(code, Some(1), "{json}");
    assert!(has(&statuses(&json), "version_compat", "fail"), "{json}");
    sim.shutdown().await;
}

/// A managed 6.7 leader as a scripted Elasticsearch: its index carries `index.replication.type`, it serves the
/// license only under `/_xpack/license`, and its `_has_privileges` answers that `read` is missing.
async fn scripted_leader() -> (String, tokio::task::JoinHandle<()>) {
    async fn handler(uri: Uri) -> axum::response::Response {
        let body = match uri.path() {
            "/" => json!({"name": "n", "cluster_name": "managed", "cluster_uuid": "u",
                          "version": {"number": "6.7.0"}, "tagline": "You Know, for Search"}),
            "/_xpack/license" => json!({"license": {"type": "platinum", "status": "active"}}),
            "/_cat/indices" => json!([{"index": "logs", "status": "open", "docs.count": "3"}]),
            "/logs/_settings" => json!({"logs": {"settings": {
                "index.soft_deletes.enabled": "true", "index.replication.type": "SEGMENT",
                "index.version.created": "6070099"}}}),
            "/_security/user/_has_privileges" => json!({"username": "ccr", "has_all_requested": false,
                "cluster": {"read_ccr": true}, "index": {"logs": {"monitor": true, "read": false}}}),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": format!("no handler found for uri [{}]", uri.path()), "status": 400})),
                )
                    .into_response()
            }
        };
        axum::Json(body).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(handler);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_physical_replication_setting_and_missing_privileges_are_found() {
    let (leader_url, task) = scripted_leader().await;
    let sim = Sim::builder()
        .cluster(ClusterConfig::new("follower").version("6.8.0"))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = config(
        &leader_url,
        &sim.url("follower"),
        "127.0.0.1:9300",
        "logs-copy",
    );
    let (code, json) = check(dir.path(), &text, true).await;
    assert_eq!(code, Some(1), "{json}");
    let s = statuses(&json);
    assert!(has(&s, "replication_type", "fail"), "{s:?}");
    assert!(has(&s, "privileges", "fail"), "{s:?}");
    // The soft-deletes setting is there, the license is read from /_xpack/license.
    assert!(has(&s, "soft_deletes", "ok"), "{s:?}");
    assert!(
        s.iter()
            .any(|(c, t, st)| c == "license" && t == "cluster leader" && st == "ok"),
        "{s:?}"
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    let fix = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "replication_type")
        .and_then(|c| c["fix"].as_str())
        .unwrap_or("")
        .to_string();
    assert!(
        fix.contains("_close") && fix.contains("null") && fix.contains("_open"),
        "{fix}"
    );
    task.abort();
    sim.shutdown().await;
}

/// Something on `127.0.0.1:PORT` answering every connection with `response` (raw bytes).
async fn raw_server(response: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_are_probed_a_transport_port_passes_an_http_port_fails() {
    let sim = two_clusters("8.15.0", "8.15.0").await;
    create_leader_index(&sim, "logs", 0);
    // What Elasticsearch's transport port answers to an HTTP request.
    let (transport, t1) = raw_server(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=UTF-8\r\ncontent-length: 24\r\n\r\nThis is not an HTTP port",
    )
    .await;
    // Some other cluster's HTTP port.
    let (http, t2) = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 35\r\n\r\n{\"tagline\":\"You Know, for Search\"}\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_, json) = check(
        dir.path(),
        &config(
            &sim.url("leader"),
            &sim.url("follower"),
            &transport,
            "logs-copy",
        ),
        true,
    )
    .await;
    assert!(has(&statuses(&json), "seeds", "ok"), "{json}");
    let (code, json) = check(
        dir.path(),
        &config(&sim.url("leader"), &sim.url("follower"), &http, "logs-copy"),
        true,
    )
    .await;
    assert_eq!(code, Some(1));
    assert!(has(&statuses(&json), "seeds", "fail"), "{json}");
    assert!(json.contains("answers HTTP"), "{json}");
    t1.abort();
    t2.abort();
    sim.shutdown().await;
}
