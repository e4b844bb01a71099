//! The Elasticsearch double of the `canned` rows: pre-serialised answers of one simulated cluster that ignore
//! `filter_path` and `Accept-Encoding`, as a server honouring neither would send them.
//!
//! - `GET /{indices}/_stats[/{metric}]`, `GET /_nodes[/{node}]/stats`, `GET /_cat/shards` and `GET /_alias` are
//!   built from the simulator's shard list in the full 8.x shape ([`super::shapes`]), which the simulator itself serves only in
//!   part (its `_stats` shows `docs` and `store` of the common stats) or not at all: these are what the daemon's
//!   leader read and Debian's exporter (`--es.indices --es.shards`) parse.
//! - Any other read is forwarded once to the simulator, unfiltered and uncompressed, and that answer is served
//!   for every later request with the same method, path, query (without `filter_path`) and body.
//! - Writes and `_search` (the heartbeat's document and its replicated copy, which must move) are forwarded every
//!   time and never stored.
//!
//! Each answer is serialised once, when first asked for, and stored; the store is bounded
//! ([`MAX_CACHED`]): past it an answer is built or forwarded again each time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::shapes::{self, IndexFacts};

/// Distinct answers kept. The daemon's reads are a few dozen keys; the bound only keeps a misbehaving client from
/// growing the store.
const MAX_CACHED: usize = 1_000;

/// A stored answer: status, headers (minus framing and encoding) and the plain body.
type Answer = (StatusCode, Vec<(HeaderName, HeaderValue)>, Bytes);

struct State {
    upstream: String,
    http: reqwest::Client,
    facts: Vec<IndexFacts>,
    by_name: HashMap<String, usize>,
    cluster_name: String,
    node_id: String,
    node_name: String,
    cache: Mutex<HashMap<String, Answer>>,
}

/// What the double was built from, for the report.
pub struct Built {
    pub addr: SocketAddr,
    pub indices: usize,
    pub shards: usize,
}

/// Starts the double of the simulated cluster at `upstream` (`http://127.0.0.1:PORT`): reads its shard list once
/// (`GET /_all/_stats?level=shards`) and its names (`GET /`).
pub async fn start(upstream: String) -> Built {
    let http = super::client();
    let get = |path: &str| {
        let http = http.clone();
        let url = format!("{upstream}{path}");
        async move {
            http.get(url)
                .send()
                .await
                .expect("read the simulator")
                .json::<Value>()
                .await
                .expect("a JSON answer")
        }
    };
    let root = get("/").await;
    let stats = get("/_all/_stats?level=shards").await;
    let facts = shapes::index_facts(&stats);
    let node_id = facts
        .iter()
        .flat_map(|i| &i.shards)
        .find_map(|s| s.own["routing"]["node"].as_str().map(str::to_string))
        .unwrap_or_else(|| "node-0".to_string());
    let by_name = facts
        .iter()
        .enumerate()
        .map(|(k, i)| (i.name.clone(), k))
        .collect();
    let shards = facts.iter().map(|i| i.shards.len()).sum();
    let indices = facts.len();
    let state = Arc::new(State {
        upstream,
        http,
        facts,
        by_name,
        cluster_name: root["cluster_name"].as_str().unwrap_or("").to_string(),
        node_id,
        node_name: root["name"].as_str().unwrap_or("node-0").to_string(),
        cache: Mutex::default(),
    });
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { answer(&state, method, uri, headers, body).await }
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind canned server");
    let addr = listener.local_addr().expect("canned address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Built {
        addr,
        indices,
        shards,
    }
}

async fn answer(
    state: &State,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params: Vec<(&str, &str)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("filter_path="))
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let path_and_query = if query.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{query}", uri.path())
    };
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let live =
        method != Method::GET && method != Method::HEAD || segments.last() == Some(&"_search");
    if live {
        return match forward(state, &method, &path_and_query, &headers, body).await {
            Ok(a) => respond(a),
            Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
        };
    }
    let key = format!(
        "{method} {path_and_query} {}",
        String::from_utf8_lossy(&body)
    );
    if let Some(hit) = state.cache.lock().expect("cache").get(&key).cloned() {
        return respond(hit);
    }
    let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let built = match segments.as_slice() {
        ["_stats", rest @ ..] => stats(state, "_all", rest, param("level")),
        [expr, "_stats", rest @ ..] => stats(state, expr, rest, param("level")),
        ["_nodes", "stats"] | ["_nodes", _, "stats"] => Some(shapes::node_stats(
            &state.facts,
            &state.cluster_name,
            &state.node_id,
            &state.node_name,
        )),
        ["_alias"] | ["_aliases"] => Some(shapes::aliases(&state.facts)),
        ["_cat", "shards", ..] if param("format") == Some("json") => {
            Some(shapes::cat_shards(&state.facts, &state.node_name))
        }
        _ => None,
    };
    let a = match built {
        Some(v) => (
            StatusCode::OK,
            vec![(
                HeaderName::from_static("content-type"),
                HeaderValue::from_static("application/json"),
            )],
            Bytes::from(serde_json::to_vec(&v).expect("serialise")),
        ),
        None => match forward(state, &method, &path_and_query, &headers, body).await {
            Ok(a) => a,
            Err(e) => return (StatusCode::BAD_GATEWAY, e).into_response(),
        },
    };
    let mut cache = state.cache.lock().expect("cache");
    if cache.len() < MAX_CACHED {
        cache.insert(key, a.clone());
    }
    respond(a)
}

/// `GET /{expr}/_stats[/{metric}]`: the named indices (`_all`, `*` and `prefix*` patterns, comma-separated
/// names; missing names are left out, as with `ignore_unavailable=true`).
fn stats(state: &State, expr: &str, metric: &[&str], level: Option<&str>) -> Option<Value> {
    let level = level.unwrap_or("indices");
    if !matches!(level, "cluster" | "indices" | "shards") {
        return None;
    }
    let metrics: Option<Vec<String>> = metric
        .first()
        .map(|m| m.split(',').map(str::to_string).collect());
    let mut picked: Vec<&IndexFacts> = Vec::new();
    for part in expr.split(',') {
        if part == "_all" || part == "*" {
            picked.extend(state.facts.iter());
        } else if let Some(prefix) = part.strip_suffix('*') {
            picked.extend(state.facts.iter().filter(|i| i.name.starts_with(prefix)));
        } else if let Some(&k) = state.by_name.get(part) {
            picked.push(&state.facts[k]);
        }
    }
    Some(shapes::indices_stats(&picked, level, metrics.as_deref()))
}

async fn forward(
    state: &State,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Answer, String> {
    let mut rb = state.http.request(
        method.clone(),
        format!("{}{path_and_query}", state.upstream),
    );
    if let Some(ct) = headers.get("content-type") {
        rb = rb.header("content-type", ct);
    }
    let resp = rb.body(body).send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let hs: Vec<_> = resp
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "transfer-encoding" | "content-encoding" | "connection"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, hs, bytes))
}

fn respond((status, headers, bytes): Answer) -> Response {
    let mut resp = Response::new(axum::body::Body::from(bytes));
    *resp.status_mut() = status;
    for (k, v) in headers {
        resp.headers_mut().insert(k, v);
    }
    resp
}
