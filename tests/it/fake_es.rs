//! The daemon over real HTTP against a minimal scripted Elasticsearch (not the simulator): authentication
//! headers, malformed bodies, an outage, and the request budget per poll. The simulator-based tests cover the
//! replication behaviour; these pin the client edge cases exactly.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;

use crate::common::{one_shot, Running};

#[derive(Default)]
struct Fake {
    followers: AtomicUsize,
    /// 0 = good answers, 1 = malformed bodies.
    malformed: AtomicU32,
    /// Documents missing from every follower index (drift while caught up).
    drift: AtomicUsize,
    requests: Mutex<Vec<String>>,
    auth: Mutex<Vec<String>>,
}

async fn handler(
    State(f): State<Arc<Fake>>,
    uri: Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    f.requests.lock().unwrap().push(uri.path().to_string());
    if let Some(a) = headers.get("authorization") {
        f.auth
            .lock()
            .unwrap()
            .push(a.to_str().unwrap_or("").to_string());
    }
    if f.malformed.load(Ordering::SeqCst) == 1 {
        return (
            [("content-type", "application/json")],
            "{\"follow_stats\": [tru",
        )
            .into_response();
    }
    let n = f.followers.load(Ordering::SeqCst);
    let body = match uri.path() {
        "/_ccr/stats" => {
            let indices: Vec<_> = (0..n)
                .map(|i| {
                    serde_json::json!({"index": format!("f{i}"), "shards": [{
                        "remote_cluster": "leader", "leader_index": format!("l{i}"), "follower_index": format!("f{i}"),
                        "shard_id": 0, "leader_global_checkpoint": 10, "leader_max_seq_no": 10,
                        "follower_global_checkpoint": 10, "follower_max_seq_no": 10, "operations_written": 11,
                        "read_exceptions": [], "time_since_last_read_millis": 5}]})
                })
                .collect();
            serde_json::json!({"auto_follow_stats": {"number_of_failed_follow_indices": 0,
                "number_of_failed_remote_cluster_state_requests": 0, "number_of_successful_follow_indices": 0,
                "recent_auto_follow_errors": [], "auto_followed_clusters": []},
                "follow_stats": {"indices": indices}})
        }
        "/_all/_ccr/info" => {
            let list: Vec<_> = (0..n)
                .map(|i| serde_json::json!({"follower_index": format!("f{i}"), "remote_cluster": "leader",
                    "leader_index": format!("l{i}"), "status": "active"}))
                .collect();
            serde_json::json!({ "follower_indices": list })
        }
        "/_remote/info" => serde_json::json!({"leader": {"connected": true, "mode": "sniff",
            "seeds": ["127.0.0.1:9300"], "num_nodes_connected": 1}}),
        "/_recovery" => serde_json::json!({}),
        "/_cat/indices" => {
            let list: Vec<_> = (0..n)
                .flat_map(|i| {
                    [serde_json::json!({"index": format!("f{i}"), "status": "open", "docs.count": (11 - f.drift.load(Ordering::SeqCst)).to_string()}),
                     serde_json::json!({"index": format!("l{i}"), "status": "open", "docs.count": "11"})]
                })
                .collect();
            serde_json::Value::Array(list)
        }
        _ => return (axum::http::StatusCode::NOT_FOUND, "{}").into_response(),
    };
    axum::Json(body).into_response()
}

struct FakeServer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Closes the listener and every connection (graceful shutdown closes idle keep-alive connections).
    async fn kill(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// A fake answering for `followers` follower indices, serving on a loopback port: the fake, its URL, the server.
async fn fake_with_followers(followers: usize) -> (Arc<Fake>, String, FakeServer) {
    let fake = Arc::new(Fake::default());
    fake.followers.store(followers, Ordering::SeqCst);
    let (url, srv) = start_fake(fake.clone()).await;
    (fake, url, srv)
}

async fn start_fake(fake: Arc<Fake>) -> (String, FakeServer) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let app = Router::new().fallback(handler).with_state(fake);
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(l, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    (format!("http://{addr}"), FakeServer { stop, task })
}

fn config(url: &str, auth: &str) -> String {
    format!(
        r#"
[schedule]
poll = "* * * * * *"
doc_counts = "0 0 0 1 1 *"
[clusters.leader]
url = "{url}"
[clusters.follower]
url = "{url}/"
timeout = "2s"
{auth}
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_poll_do_not_depend_on_the_number_of_followers() {
    let (fake, url, _srv) = fake_with_followers(0).await;
    let mut per_poll = Vec::new();
    for n in [1usize, 40] {
        fake.followers.store(n, Ordering::SeqCst);
        let d = one_shot(&config(&url, ""));
        fake.requests.lock().unwrap().clear();
        d.poll_once().await;
        let poll = fake.requests.lock().unwrap().len();
        fake.requests.lock().unwrap().clear();
        d.doc_counts_once().await;
        let counts = fake.requests.lock().unwrap().clone();
        assert_eq!(d.report().followers.len(), n);
        per_poll.push((poll, counts.len()));
        // leader and follower share the fake: 2 cat calls and no stats read, whatever the number of followers.
        assert_eq!(
            counts
                .iter()
                .filter(|p| p.as_str() == "/_cat/indices")
                .count(),
            2,
            "{counts:?}"
        );
    }
    assert_eq!(
        per_poll[0], per_poll[1],
        "requests grew with followers: {per_poll:?}"
    );
    // The poll's three reads: no `_recovery`, as every follower has shard tasks (none can be copying); no
    // auto-follow pattern and no follower of a backing index: no data stream read, and so no `GET /` for its
    // version gate. doc_counts: the two `_cat/indices` only, the polls around it being its brackets.
    assert_eq!(per_poll[0], (3, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_api_key_headers_are_sent() {
    let (fake, url, _srv) = fake_with_followers(1).await;
    for (auth, expect) in [
        ("username = \"mon\"\npassword = \"pw\"", "Basic bW9uOnB3"),
        ("api_key = \"a2V5OnNlY3JldA==\"", "ApiKey a2V5OnNlY3JldA=="),
    ] {
        fake.auth.lock().unwrap().clear();
        let d = one_shot(&config(&url, auth));
        d.poll_once().await;
        let seen = fake.auth.lock().unwrap().clone();
        // The four poll reads, and the first poll's read of the credential (`_authenticate`).
        assert!(seen.len() >= 4, "{seen:?}");
        assert!(seen.iter().all(|a| a == expect), "{seen:?}");
        // Secrets stay out of everything the daemon shows.
        let status = serde_json::to_string(&*d.report()).unwrap();
        assert!(!status.contains("pw\"") && !status.contains("a2V5OnNlY3JldA=="));
        assert!(!format!("{:?}", d.config()).contains("a2V5OnNlY3JldA=="));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_and_outages_are_counted_and_keep_metrics_answering() {
    let (fake, url, srv) = fake_with_followers(2).await;
    let d = Running::start(&config(&url, "")).await;
    d.wait_for("/ready", 20, |b| b.contains("\"ready\"")).await;
    d.wait_for("/metrics", 10, |b| {
        b.contains(r#"ccr_sentinel_cluster_up{cluster="follower"} 1"#)
            && b.contains(r#"ccr_sentinel_follower_state{follower_cluster="follower",follower_index="f1",state="healthy"} 1"#)
    })
    .await;

    // Malformed bodies: counted as decode errors, last good data kept and marked stale.
    fake.malformed.store(1, Ordering::SeqCst);
    let body = d.wait_for("/metrics", 10, |b| {
        b.contains(r#"ccr_sentinel_request_errors_total{cluster="follower",endpoint="ccr_stats",reason="decode"}"#)
            && b.contains(r#"ccr_sentinel_cluster_stale{cluster="follower"} 1"#)
    })
    .await;
    assert!(body.contains(r#"ccr_sentinel_cluster_up{cluster="follower"} 0"#));
    assert!(body.contains(r#"elasticsearch_ccr_follower_operations_written_total{follower_cluster="follower",follower_index="f0"} 11"#));
    assert!(body.contains(r#"follower_index="f0",state="unknown"} 1"#));
    let (_, status) = d.get("/status").await;
    assert!(status.contains("last known state: healthy"), "{status}");

    // Outage: the port stops answering; /metrics keeps answering at once.
    fake.malformed.store(0, Ordering::SeqCst);
    srv.kill().await;
    let body = d.wait_for("/metrics", 10, |b| {
        b.contains(r#"ccr_sentinel_request_errors_total{cluster="follower",endpoint="ccr_stats",reason="connect"}"#)
    })
    .await;
    assert!(body.contains(r#"ccr_sentinel_cluster_up{cluster="follower"} 0"#));
    let t = Instant::now();
    let (code, _) = d.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "scrape took {:?}",
        t.elapsed()
    );
    let (code, health) = d.get("/health").await;
    assert_eq!(
        code, 200,
        "a cluster outage is not a liveness problem: {health}"
    );

    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_after_catching_up_is_docs_mismatch() {
    let (fake, url, _srv) = fake_with_followers(1).await;
    let toml = config(&url, "").replace(
        "doc_counts = \"0 0 0 1 1 *\"",
        "doc_counts = \"* * * * * *\"",
    );
    let d = Running::start(&toml).await;
    let labels = r#"follower_cluster="follower",follower_index="f0""#;
    // The difference is leader minus follower count in PromQL; both are equal here.
    let counts = |b: &str| {
        [
            "elasticsearch_ccr_leader_index_docs",
            "elasticsearch_ccr_follower_index_docs",
        ]
        .map(|m| crate::common::sample(b, &format!("{m}{{{labels}}} ")))
    };
    d.wait_for("/metrics", 20, |b| {
        matches!(counts(b), [Some(l), Some(f)] if l == f)
            && b.contains(&format!(
                "ccr_sentinel_follower_state{{{labels},state=\"healthy\"}} 1"
            ))
    })
    .await;
    fake.drift.store(2, Ordering::SeqCst);
    let body = d
        .wait_for("/metrics", 20, |b| {
            b.contains(&format!(
                "ccr_sentinel_follower_state{{{labels},state=\"docs_mismatch\"}} 1"
            ))
        })
        .await;
    assert!(body.contains(&format!(
        "elasticsearch_ccr_leader_index_docs{{{labels}}} 11"
    )));
    assert!(body.contains(&format!(
        "elasticsearch_ccr_follower_index_docs{{{labels}}} 9"
    )));
    let (_, status) = d.get("/status").await;
    assert!(
        status.contains("leader has 11 documents, follower 9 (difference 2, threshold 0)"),
        "{status}"
    );
    d.stop().await;
}
