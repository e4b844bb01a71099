//! HTTP endpoints: `/metrics`, `/health` (liveness), `/ready`, `/status` (JSON), the per-follower health
//! `/followers/{cluster}/{index}?max_lag=30s` (200 or 503 with the reasons, for load balancers and DR scripts, in
//! the spirit of Patroni's `/replica?lag=`) and a landing page at `/`.
//!
//! Handlers only read the latest report and job timings; none of them talks to a cluster, so a scrape answers
//! quickly whatever state the clusters are in.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::daemon::schedule::JobTracker;
use crate::metrics::{Exposition, Metrics, SharedReport};

/// Extra top-level sections of `/status` (e.g. `reconcile`, `preflight`), set by the jobs that own them.
pub type StatusSections =
    Arc<std::sync::RwLock<std::collections::BTreeMap<String, serde_json::Value>>>;

/// What the handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub report: SharedReport,
    pub metrics: Metrics,
    pub tracker: Arc<JobTracker>,
    /// Set once the first poll finished.
    pub ready: Arc<AtomicBool>,
    /// `/health` fails when a job has not run for this many periods.
    pub overdue_periods: u32,
    /// Extra sections merged into `/status`.
    pub sections: StatusSections,
}

/// The router, separate from serving so tests can call it directly.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/status", get(status))
        .route("/followers/{cluster}/{index}", get(follower))
        .with_state(state)
}

async fn landing() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><head><title>ccr-sentinel</title></head><body><h1>ccr-sentinel</h1><ul>\
         <li><a href=\"/metrics\">/metrics</a></li><li><a href=\"/status\">/status</a></li>\
         <li><a href=\"/health\">/health</a></li><li><a href=\"/ready\">/ready</a></li></ul></body></html>",
    )
}

/// The exposition, gzipped when the scraper accepts it (Prometheus always does): the text of thousands of
/// followers repeats its label strings, so it shrinks many times over. Rendered on a blocking thread, so a
/// large scrape never holds up the runtime the jobs share.
async fn metrics(State(s): State<HttpState>, headers: axum::http::HeaderMap) -> Response {
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';').map(str::trim);
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case("gzip"))
                && !parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"))
        });
    let rendered = tokio::task::spawn_blocking(move || s.metrics.scrape(gzip)).await;
    let rendered = match rendered {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "rendering metrics failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot render metrics\n").into_response();
        }
    };
    match rendered {
        Ok(x) if x.gzipped => (
            [
                (header::CONTENT_TYPE, prometheus::TEXT_FORMAT),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            Parts::body(x),
        )
            .into_response(),
        Ok(x) => (
            [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
            Parts::body(x),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode metrics: {e}\n"),
            )
                .into_response()
        }
    }
}

/// A body of shared buffers of known total length, sent one after the other: hyper writes each as it is,
/// without copying them into one, and sends the length as `Content-Length`.
struct Parts {
    parts: std::collections::VecDeque<Bytes>,
    remaining: u64,
}

impl Parts {
    fn body(x: Exposition) -> Body {
        let parts: std::collections::VecDeque<Bytes> = x.into_parts().into();
        let remaining = parts.iter().map(|p| p.len() as u64).sum();
        Body::new(Self { parts, remaining })
    }
}

impl http_body::Body for Parts {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = self.parts.pop_front();
        if let Some(b) = &next {
            self.remaining -= b.len() as u64;
        }
        Poll::Ready(next.map(|b| Ok(http_body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

async fn health(State(s): State<HttpState>) -> Response {
    let overdue = s.tracker.overdue(s.overdue_periods);
    let jobs = s.tracker.statuses();
    if overdue.is_empty() {
        (StatusCode::OK, Json(json!({"status": "ok", "jobs": jobs}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "overdue", "problems": overdue, "jobs": jobs})),
        )
            .into_response()
    }
}

async fn ready(State(s): State<HttpState>) -> Response {
    if s.ready.load(Ordering::Acquire) {
        (StatusCode::OK, Json(json!({"status": "ready"}))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting", "problems": ["the first poll has not finished"]})),
        )
            .into_response()
    }
}

/// `max_lag` as `30s`, `2m`, `1h 30m` (humantime) or plain seconds (`30`, `1.5`).
fn parse_max_lag(v: &str) -> Result<std::time::Duration, String> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if (0.0..1e12).contains(&secs) {
            return Ok(std::time::Duration::from_secs_f64(secs));
        }
        return Err(format!(
            "max_lag `{v}` must be a non-negative number of seconds"
        ));
    }
    humantime::parse_duration(v).map_err(|e| {
        format!(
            "max_lag `{v}` is not a duration ({e}); use e.g. `30s`, `2m` or a number of seconds"
        )
    })
}

async fn follower(
    State(s): State<HttpState>,
    Path((cluster, index)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let max_lag = match q.get("max_lag").map(|v| parse_max_lag(v)).transpose() {
        Ok(m) => m,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    };
    let report = Arc::clone(&crate::sync::read(&s.report));
    let Some(f) = report.follower(&cluster, &index) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no follower_index `{index}` is known on cluster `{cluster}`")})),
        )
            .into_response();
    };
    let reasons = f.gate(max_lag);
    let code = if reasons.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let t = f.time.as_ref();
    let body = json!({
        "status": if code == StatusCode::OK { "ok" } else { "unavailable" },
        "follower_cluster": cluster,
        "follower_index": index,
        "remote_cluster": f.observation.remote_cluster,
        "leader_index": f.observation.leader_index,
        "state": f.state,
        "max_lag_seconds": max_lag.map(|d| d.as_secs_f64()),
        "lag_seconds": t.map(|t| t.lag_seconds),
        "lag_lower_bound": t.map(|t| t.lag_lower_bound),
        "lag_source": t.map(|t| t.lag_source),
        "rpo_seconds": t.map(|t| t.rpo_seconds),
        "ops_at_risk": t.map(|t| t.ops_at_risk),
        "grade": t.map(|t| t.grade),
        "completeness": t.map(|t| t.completeness),
        "reasons": reasons,
        "generated_at": report.generated_at,
    });
    (code, Json(body)).into_response()
}

async fn status(State(s): State<HttpState>) -> Response {
    let report = Arc::clone(&crate::sync::read(&s.report));
    let mut body = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "ready": s.ready.load(Ordering::Acquire),
        "summary": report.summary(),
        "generated_at": report.generated_at,
        "jobs": s.tracker.statuses(),
        "clusters": report.clusters,
        "remotes": report.remotes,
        "auto_follow": report.auto_follow,
        "followers": report.followers,
        "data_streams": report.data_streams,
        "unfollowed_matches": report.unfollowed_matches,
        "dr": report.dr,
    });
    let sections = crate::sync::read(&s.sections).clone();
    if let Some(obj) = body.as_object_mut() {
        for (k, v) in sections {
            obj.entry(k).or_insert(v);
        }
    }
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/metrics` over HTTP, plain and gzipped: the whole exposition, with its length in `Content-Length`.
    #[tokio::test]
    async fn metrics_answers_its_length_plain_and_gzipped() {
        let report = SharedReport::default();
        let mut big = crate::evaluate::report::Report::default();
        big.clusters.push(crate::testing::cluster_up("follower"));
        *report.write().unwrap() = Arc::new(big);
        let metrics = Metrics::new(report.clone());
        let state = HttpState {
            report,
            metrics: metrics.clone(),
            tracker: Arc::default(),
            ready: Arc::default(),
            overdue_periods: 3,
            sections: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let cancel = tokio_util::sync::CancellationToken::new();
        let server = tokio::spawn(crate::daemon::server::serve(
            listener,
            router(state),
            Default::default(),
            cancel.clone(),
        ));
        let client = reqwest::Client::builder().no_gzip().build().unwrap();
        for (accept, gzipped) in [("gzip", true), ("identity", false)] {
            for _ in 0..2 {
                let r = client
                    .get(format!("{base}/metrics"))
                    .header(header::ACCEPT_ENCODING, accept)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let encoding = r.headers().get(header::CONTENT_ENCODING).cloned();
                let length = r.headers().get(header::CONTENT_LENGTH).cloned();
                let body = r.bytes().await.unwrap();
                assert_eq!(
                    length.and_then(|v| v.to_str().ok()?.parse::<usize>().ok()),
                    Some(body.len()),
                    "{accept}"
                );
                let text = if gzipped {
                    assert_eq!(encoding.as_ref().map(|v| v.as_bytes()), Some(&b"gzip"[..]));
                    let mut text = String::new();
                    std::io::Read::read_to_string(
                        &mut flate2::read::GzDecoder::new(&body[..]),
                        &mut text,
                    )
                    .unwrap();
                    text
                } else {
                    assert_eq!(encoding, None);
                    String::from_utf8(body.to_vec()).unwrap()
                };
                assert!(text.contains("ccr_sentinel_cluster_up{cluster=\"follower\"} 1\n"));
                assert_eq!(text, metrics.render().unwrap(), "{accept}");
            }
        }
        cancel.cancel();
        server.await.unwrap().unwrap();
    }
}
