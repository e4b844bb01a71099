//! The fault suite: the twelve faults of a real deployment, each injected into a running daemon watching a
//! follower on the simulator, with what the daemon must show while it lasts, its recovery once the fault is
//! cleared (without a restart), and `/metrics` answering 200 throughout. Where the simulator has no such fault
//! (401/403, a huge body) a small proxy in front of the follower cluster plays the hostile part. What the
//! operator sees for each is tabled in `docs/operations.md` ("Faults").
//!
//! `soak` (in [`soak`]) runs a simulated day on the simulator's deterministic clock.

#[path = "../it/common/mod.rs"]
mod common;
mod soak;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ccr_sim::{HttpFaults, License, Sim};
use serde_json::json;

use common::policy::{connected_pair, following};
use common::{daemon_config, Running};

/// The follower under watch.
const FOLLOWER: &str = r#"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs-copy"
"#;

/// Scrapes `/metrics` every 100 ms in the background and keeps every answer that was not a 200.
struct Scraper {
    failures: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Scraper {
    fn start(base: &str) -> Self {
        let failures: Arc<Mutex<Vec<String>>> = Arc::default();
        let (f, url) = (failures.clone(), format!("{base}/metrics"));
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            loop {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                    }
                    Ok(r) => f.lock().unwrap().push(format!("status {}", r.status())),
                    Err(e) => f.lock().unwrap().push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self { failures, task }
    }

    /// Stops scraping; every scrape must have answered 200.
    fn finish(self) {
        self.task.abort();
        let failures = self.failures.lock().unwrap().clone();
        assert!(
            failures.is_empty(),
            "/metrics did not answer 200: {failures:?}"
        );
    }
}

/// A daemon watching `logs-copy` (caught up with `logs`) on a connected pair, with a scraper running.
struct Fixture {
    sim: Sim,
    daemon: Running,
    scraper: Scraper,
}

impl Fixture {
    /// The pair with `logs-copy` caught up with `logs` (3 documents).
    async fn sim() -> Sim {
        let sim = connected_pair(false).await;
        following(&sim, "logs", "logs-copy", 3).await;
        sim
    }

    async fn new() -> Self {
        let sim = Self::sim().await;
        let cfg = daemon_config(&sim, FOLLOWER);
        Self::start(sim, cfg).await
    }

    /// Starts the daemon on `cfg` and waits until `logs-copy` is healthy.
    async fn start(sim: Sim, cfg: String) -> Self {
        let daemon = Running::start(&cfg).await;
        let scraper = Scraper::start(&daemon.base);
        let f = Self {
            sim,
            daemon,
            scraper,
        };
        f.wait_state("healthy").await;
        f
    }

    /// Waits until `/metrics` satisfies `pred` (30 s at most); returns the body.
    async fn wait(&self, pred: impl Fn(&str) -> bool) -> String {
        self.daemon.wait_for("/metrics", 30, pred).await
    }

    /// Waits until `logs-copy` is in `state`.
    async fn wait_state(&self, state: &str) -> String {
        self.wait(|b| state_is(b, state)).await
    }

    /// `/status` as JSON.
    async fn status(&self) -> serde_json::Value {
        let (_, body) = self.daemon.get("/status").await;
        serde_json::from_str(&body).unwrap()
    }

    /// Clears the faults, waits for `logs-copy` to be healthy and the follower cluster up again, checks that
    /// `/metrics` answered 200 throughout, and stops the daemon.
    async fn recovered(self) {
        self.wait(|b| state_is(b, "healthy") && cluster_up(b, "follower") == Some(1.0))
            .await;
        self.scraper.finish();
        self.daemon.stop().await;
    }
}

/// `logs-copy` is in `state` in a `/metrics` body.
fn state_is(body: &str, state: &str) -> bool {
    body.lines().any(|l| {
        l.starts_with("ccr_sentinel_follower_state{")
            && l.contains("follower_index=\"logs-copy\"")
            && l.contains(&format!("state=\"{state}\""))
            && l.ends_with(" 1")
    })
}

/// `ccr_sentinel_cluster_up` of `cluster`.
fn cluster_up(body: &str, cluster: &str) -> Option<f64> {
    common::sample(
        body,
        &format!("ccr_sentinel_cluster_up{{cluster=\"{cluster}\"}}"),
    )
}

/// Some request to the follower cluster failed with `reason` (`ccr_sentinel_request_errors_total`).
fn failed_with(body: &str, reason: &str) -> bool {
    body.lines().any(|l| {
        l.starts_with("ccr_sentinel_request_errors_total{")
            && l.contains("cluster=\"follower\"")
            && l.contains(&format!("reason=\"{reason}\""))
            && l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) > Some(0.0)
    })
}

/// The follower cluster is down and counted as failing with `reason`, and `logs-copy` is `unknown`.
fn down_with(body: &str, reason: &str) -> bool {
    cluster_up(body, "follower") == Some(0.0)
        && failed_with(body, reason)
        && state_is(body, "unknown")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_down() {
    let f = Fixture::new().await;
    f.sim.cluster("follower").stop().unwrap();
    f.wait(|b| down_with(b, "transport") || down_with(b, "connect"))
        .await;
    let s = f.status().await;
    let follower = s["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "follower")
        .cloned()
        .unwrap();
    assert_eq!(follower["up"], false, "{follower}");
    f.sim.cluster("follower").start().unwrap();
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_beyond_the_timeout() {
    let f = Fixture::new().await;
    // The config's request timeout is 2 s.
    f.sim
        .cluster("follower")
        .set_latency(Duration::from_millis(2500))
        .unwrap();
    f.wait(|b| down_with(b, "timeout")).await;
    f.sim
        .cluster("follower")
        .set_latency(Duration::ZERO)
        .unwrap();
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors() {
    let f = Fixture::new().await;
    f.sim
        .cluster("follower")
        .set_http_faults(HttpFaults {
            error_rate: 1.0,
            error_status: 503,
            ..Default::default()
        })
        .unwrap();
    f.wait(|b| down_with(b, "http_5xx")).await;
    f.sim.cluster("follower").clear_faults().unwrap();
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_truncated_bodies() {
    let f = Fixture::new().await;
    for faults in [
        HttpFaults {
            malformed_rate: 1.0,
            ..Default::default()
        },
        HttpFaults {
            truncated_rate: 1.0,
            ..Default::default()
        },
    ] {
        f.sim.cluster("follower").set_http_faults(faults).unwrap();
        f.wait(|b| down_with(b, "decode")).await;
        f.sim.cluster("follower").clear_faults().unwrap();
        f.wait(|b| state_is(b, "healthy") && cluster_up(b, "follower") == Some(1.0))
            .await;
    }
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_disconnected() {
    let f = Fixture::new().await;
    f.sim
        .cluster("follower")
        .disconnect_remote("leader")
        .unwrap();
    let body = f.wait_state("remote_disconnected").await;
    assert!(
        body.lines().any(|l| l.starts_with(
            "elasticsearch_ccr_remote_cluster_connected{follower_cluster=\"follower\",remote_cluster=\"leader\""
        ) && l.ends_with(" 0")),
        "{body}"
    );
    f.sim.cluster("follower").connect_remote("leader").unwrap();
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_deleted() {
    let f = Fixture::new().await;
    f.sim.cluster("follower").delete_index("logs-copy").unwrap();
    f.wait_state("missing").await;
    // Recovery: the follower is created again (by a person, or reconcile when it is enabled).
    f.sim
        .cluster("follower")
        .follow("logs-copy", "leader", "logs")
        .unwrap();
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_deleted() {
    let f = Fixture::new().await;
    f.sim.cluster("leader").delete_index("logs").unwrap();
    f.wait_state("leader_missing").await;
    // Recovery: the leader index is restored and the follower recreated on it.
    f.sim.cluster("follower").delete_index("logs-copy").unwrap();
    common::create_leader_index(&f.sim, "logs", 3);
    f.sim
        .cluster("follower")
        .follow("logs-copy", "leader", "logs")
        .unwrap();
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn license_expired() {
    let f = Fixture::new().await;
    f.sim
        .cluster("follower")
        .set_license(License {
            kind: "platinum".into(),
            status: "expired".into(),
        })
        .unwrap();
    // Elasticsearch refuses the CCR APIs with 403 "current license is non-compliant for [ccr]".
    f.wait(|b| down_with(b, "forbidden")).await;
    f.sim
        .cluster("follower")
        .set_license(License::trial())
        .unwrap();
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_lease_lost() {
    let f = Fixture::new().await;
    // The follower falls behind (here: paused) while the leader drops the history it would need to catch up,
    // as when a follower is away for longer than the retention lease period.
    let pause = f
        .sim
        .cluster("follower")
        .request("POST", "/logs-copy/_ccr/pause_follow", None);
    assert_eq!(pause.0, 200, "{}", pause.1);
    f.sim.cluster("leader").index_docs("logs", 5).unwrap();
    f.sim
        .cluster("leader")
        .lose_retention_leases("logs")
        .unwrap();
    let resume = f
        .sim
        .cluster("follower")
        .request("POST", "/logs-copy/_ccr/resume_follow", None);
    assert_eq!(resume.0, 200, "{}", resume.1);
    f.wait_state("needs_refollow").await;
    // Recovery: the follower is recreated (pause/resume cannot help, and the policies never try).
    f.sim.cluster("follower").delete_index("logs-copy").unwrap();
    f.sim
        .cluster("follower")
        .follow("logs-copy", "leader", "logs")
        .unwrap();
    f.recovered().await;
}

/// What the proxy in front of the follower cluster does.
const FORWARD: u8 = 0;
const UNAUTHORIZED: u8 = 1;
const FORBIDDEN: u8 = 2;
const HUGE: u8 = 3;

#[derive(Clone)]
struct Proxy {
    target: String,
    mode: Arc<AtomicU8>,
    client: reqwest::Client,
}

/// Forwards to the follower cluster, or answers as the mode says: Elasticsearch's 401 and 403 bodies
/// (`security_exception`, as `ElasticsearchSecurityException` renders them), or a 200 too large to keep.
async fn proxy(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let security = |status: StatusCode, reason: &str| {
        (
            status,
            [("content-type", "application/json")],
            json!({"error": {"root_cause": [{"type": "security_exception", "reason": reason}],
                "type": "security_exception", "reason": reason}, "status": status.as_u16()})
            .to_string(),
        )
            .into_response()
    };
    match p.mode.load(Ordering::SeqCst) {
        UNAUTHORIZED => {
            return security(
                StatusCode::UNAUTHORIZED,
                "unable to authenticate user [sentinel] for REST request [/_ccr/stats]",
            )
        }
        FORBIDDEN => {
            return security(
                StatusCode::FORBIDDEN,
                "action [cluster:monitor/ccr/stats] is unauthorized for user [sentinel]",
            )
        }
        HUGE if uri.path() == "/_ccr/stats" => {
            // 256 MiB of whitespace inside an otherwise valid answer, streamed so the proxy holds none of it.
            let chunk = Bytes::from(vec![b' '; 1 << 20]);
            let head =
                Bytes::from_static(b"{\"auto_follow_stats\":{},\"follow_stats\":{\"indices\":[");
            let tail = Bytes::from_static(b"]}}");
            let stream = futures_util::stream::iter(
                std::iter::once(head)
                    .chain(std::iter::repeat(chunk).take(256))
                    .chain(std::iter::once(tail))
                    .map(Ok::<_, std::io::Error>),
            );
            return (
                [("content-type", "application/json")],
                Body::from_stream(stream),
            )
                .into_response();
        }
        _ => {}
    }
    let url = format!(
        "{}{}",
        p.target,
        uri.path_and_query().map(|x| x.as_str()).unwrap_or("/")
    );
    let mut req = p.client.request(method, &url).body(body);
    if let Some(ct) = headers.get("content-type") {
        req = req.header("content-type", ct);
    }
    match req.send().await {
        Ok(r) => {
            let status =
                StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let bytes = r.bytes().await.unwrap_or_default();
            (status, [("content-type", ct)], bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// Starts a proxy to `target`; returns its URL and its mode switch.
async fn start_proxy(target: String) -> (String, Arc<AtomicU8>) {
    let mode = Arc::new(AtomicU8::new(FORWARD));
    let state = Proxy {
        target,
        mode: mode.clone(),
        client: reqwest::Client::new(),
    };
    let app = axum::Router::new().fallback(proxy).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, mode)
}

/// A fixture whose follower cluster is reached through a proxy; returns the proxy's mode switch.
async fn proxied() -> (Fixture, Arc<AtomicU8>) {
    proxied_with("").await
}

/// [`proxied`], with `extra` lines in the follower cluster's section.
async fn proxied_with(extra: &str) -> (Fixture, Arc<AtomicU8>) {
    let sim = Fixture::sim().await;
    let follower = sim.url("follower");
    let (url, mode) = start_proxy(follower.clone()).await;
    let cfg = daemon_config(&sim, FOLLOWER).replace(
        &format!("url = \"{follower}\""),
        &format!("url = \"{url}\"\n{extra}"),
    );
    (Fixture::start(sim, cfg).await, mode)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_and_forbidden() {
    let (f, mode) = proxied().await;
    for (m, reason) in [(UNAUTHORIZED, "unauthorized"), (FORBIDDEN, "forbidden")] {
        mode.store(m, Ordering::SeqCst);
        f.wait(|b| down_with(b, reason)).await;
        mode.store(FORWARD, Ordering::SeqCst);
        f.wait(|b| state_is(b, "healthy") && cluster_up(b, "follower") == Some(1.0))
            .await;
    }
    f.recovered().await;
}

/// Resident memory of this process (the daemon runs in it), in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_body() {
    // A cap well below the 256 MiB answers, so what the read may hold is small next to them (other
    // tests of this binary share the process and its RSS).
    let (f, mode) = proxied_with("max_response_size = \"4mb\"").await;
    let before = rss_mib();
    mode.store(HUGE, Ordering::SeqCst);
    f.wait(|b| down_with(b, "response_too_large")).await;
    let peak = rss_mib();
    println!("RSS before the huge answers: {before} MiB, while they are served: {peak} MiB");
    assert!(
        peak < before + 48,
        "RSS grew from {before} MiB to {peak} MiB on 256 MiB answers"
    );
    mode.store(FORWARD, Ordering::SeqCst);
    f.recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_port_flooded() {
    let f = Fixture::new().await;
    let addr = f.daemon.base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..600 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let slow: Vec<_> = (0..20)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let Ok(mut s) = tokio::net::TcpStream::connect(&addr).await else {
                    return;
                };
                let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n").await;
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if s.write_all(b"X").await.is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    // The polls go on under the flood: a fault injected now is still noticed, and its end too.
    f.sim
        .cluster("follower")
        .disconnect_remote("leader")
        .unwrap();
    f.wait_state("remote_disconnected").await;
    f.sim.cluster("follower").connect_remote("leader").unwrap();
    f.wait_state("healthy").await;
    for s in &slow {
        s.abort();
    }
    drop(idle);
    f.recovered().await;
}
