//! Helpers shared by the simulator's integration tests: simulator setup, an HTTP client, JSON
//! shape comparison and polling.

use std::time::{Duration, Instant};

use ccr_sim::{ClusterConfig, Sim};
use serde_json::Value;

/// A cluster config named `name`, on `version` when given (else the simulator's default).
pub fn cluster(name: &str, version: Option<&str>) -> ClusterConfig {
    let config = ClusterConfig::new(name);
    match version {
        Some(v) => config.version(v),
        None => config,
    }
}

/// Starts a simulator of `clusters` on the real-time clock.
pub async fn start(clusters: impl IntoIterator<Item = ClusterConfig>) -> Sim {
    launch(clusters, false).await
}

async fn launch(clusters: impl IntoIterator<Item = ClusterConfig>, deterministic: bool) -> Sim {
    let mut builder = Sim::builder();
    for c in clusters {
        builder = builder.cluster(c);
    }
    if deterministic {
        builder = builder.deterministic_clock();
    }
    builder.start().await.expect("start the simulator")
}

/// Starts one cluster named `name`.
pub async fn start_one(name: &str, version: Option<&str>) -> Sim {
    start([cluster(name, version)]).await
}

/// One cluster `a` on `version`, with a client and its URL.
pub async fn one_with_client(version: &str) -> (Sim, reqwest::Client, String) {
    let sim = start_one("a", Some(version)).await;
    let u = sim.url("a");
    (sim, client(), u)
}

/// Starts clusters `leader` and `follower`, on the deterministic clock when `deterministic`.
pub async fn start_pair(version: Option<&str>, deterministic: bool) -> Sim {
    launch(
        [cluster("leader", version), cluster("follower", version)],
        deterministic,
    )
    .await
}

/// [`start_pair`] with the remote alias `leader` registered on the follower: returns the
/// simulator, a client and the leader's and follower's URLs.
pub async fn pair_with_remote(
    version: Option<&str>,
    deterministic: bool,
) -> (Sim, reqwest::Client, String, String) {
    let sim = start_pair(version, deterministic).await;
    let c = client();
    let (l, f) = (sim.url("leader"), sim.url("follower"));
    add_remote(&c, &f, "leader", &sim.transport_address("leader")).await;
    (sim, c, l, f)
}

/// A test HTTP client (no proxies: everything is on loopback). The timeout only ends a hung
/// test; it is generous because a day-long clock advance costs seconds of CPU in a debug build,
/// and the tests of the one binary run in parallel, often on a busy machine.
pub fn client() -> reqwest::Client {
    // No transparent decoding (the workspace's reqwest has `gzip` on): tests see the bytes and
    // the `Content-Encoding` the simulator sends.
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("reqwest client")
}

/// Sends a request and returns the status and JSON body (Null when the body is not JSON).
pub async fn call(
    c: &reqwest::Client,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    match body {
        Some(b) => call_raw(c, method, url, &b.to_string(), "application/json").await,
        None => send(c, method, url, |rb| rb).await,
    }
}

/// GETs `url` and returns the body as text (for non-JSON answers: `_cat`, `?pretty`, faults).
pub async fn get_text(c: &reqwest::Client, url: &str) -> String {
    let resp = c
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    resp.text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// Sends a request and asserts it answered 200; returns the JSON body.
pub async fn ok(c: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let (st, b) = call(c, method, url, body).await;
    assert_eq!(st, 200, "{method} {url}: {b}");
    b
}

/// Sends a raw body labelled `application/json` (for malformed-JSON tests).
pub async fn call_json(c: &reqwest::Client, method: &str, url: &str, body: &str) -> (u16, Value) {
    call_raw(c, method, url, body, "application/json").await
}

/// Sends a raw body (for malformed-JSON tests and NDJSON).
pub async fn call_raw(
    c: &reqwest::Client,
    method: &str,
    url: &str,
    body: &str,
    ctype: &str,
) -> (u16, Value) {
    send(c, method, url, |rb| {
        rb.header("content-type", ctype).body(body.to_string())
    })
    .await
}

/// Sends `method url` with what `build` adds; returns the status and JSON body (Null when the
/// body is not JSON).
async fn send(
    c: &reqwest::Client,
    method: &str,
    url: &str,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let resp = build(c.request(m, url))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Reads a fixture from `tests/fixtures/es/` at the workspace root.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/es/{}",
        env!("CARGO_MANIFEST_DIR"),
        name
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Asserts that `actual` has exactly the keys of `expected`, with the same JSON types,
/// recursively (arrays: the first elements are compared when both are non-empty).
pub fn assert_same_shape(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let ak: Vec<&String> = a.keys().collect();
            let ek: Vec<&String> = e.keys().collect();
            let mut aks = ak.clone();
            let mut eks = ek.clone();
            aks.sort();
            eks.sort();
            assert_eq!(
                aks, eks,
                "keys differ at {path}\nactual: {actual}\nexpected: {expected}"
            );
            for (k, ev) in e {
                assert_same_shape(&a[k], ev, &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let (Some(a0), Some(e0)) = (a.first(), e.first()) {
                assert_same_shape(a0, e0, &format!("{path}[0]"));
            }
        }
        _ => assert_eq!(
            kind(actual),
            kind(expected),
            "type differs at {path}: {actual} vs {expected}"
        ),
    }
}

/// Asserts an error body: status, `type` and that `reason` matches the fixture's reason with
/// the fixture's example names replaced by ours.
pub fn assert_error(actual: (u16, &Value), status: u16, kind: &str, reason: &str) {
    let (st, body) = actual;
    assert_eq!(st, status, "status; body: {body}");
    assert_eq!(body["status"], status, "body status: {body}");
    assert_eq!(body["error"]["type"], kind, "type; body: {body}");
    assert_eq!(body["error"]["reason"], reason, "reason; body: {body}");
    assert!(body["error"]["root_cause"].is_array(), "root_cause: {body}");
}

/// Sends a request and asserts the error it answers: `(status, type, reason)` as in
/// [`assert_error`].
pub async fn expect_error(
    c: &reqwest::Client,
    method: &str,
    url: &str,
    body: Option<Value>,
    (status, kind, reason): (u16, &str, &str),
) {
    let (st, b) = call(c, method, url, body).await;
    assert_error((st, &b), status, kind, reason);
}

/// Asserts an error's status and `error.type` (for errors whose reason is not fixed).
pub fn assert_error_type(actual: (u16, &Value), status: u16, kind: &str) {
    let (st, body) = actual;
    assert_eq!(
        (st, body["error"]["type"].as_str()),
        (status, Some(kind)),
        "{body}"
    );
}

/// Polls `f` until it returns Some, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Registers `alias` on `follower_url` with seeds = `seeds`.
pub async fn add_remote(c: &reqwest::Client, follower_url: &str, alias: &str, seeds: &str) {
    ok(
        c,
        "PUT",
        &format!("{follower_url}/_cluster/settings"),
        Some(
            serde_json::json!({"persistent": {"cluster": {"remote": {alias: {"seeds": [seeds]}}}}}),
        ),
    )
    .await;
}

/// Sends a request with an optional `Authorization` header and JSON body; answers the status,
/// the body (null if not JSON) and the `WWW-Authenticate` headers.
pub async fn send_auth(
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, Vec<String>) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = client().request(m, url);
    if let Some(a) = auth {
        rb = rb.header("authorization", a);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let st = resp.status().as_u16();
    let www = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (st, resp.json().await.unwrap_or(Value::Null), www)
}
