//! The HTTP server's accept loop: at most `[http] max_connections` connections at a time, a header-read timeout
//! (which hyper also applies while a kept-alive connection waits for its next request) and a per-request timeout.
//!
//! When the cap is reached the loop stops accepting: further connections wait in the kernel's accept queue and
//! hold no descriptor of this process, so a flood of idle or slow clients can neither starve the polls of file
//! descriptors nor keep a scrape out for longer than the header-read timeout of the connections ahead of it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

use crate::config::HttpLimits;

/// How long the loop waits before accepting again after an accept error (e.g. `EMFILE`), so a process out of
/// descriptors does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `cancel` fires, then stops accepting and asks every open connection to
/// close after its request in flight. Returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            _ = cancel.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept an HTTP connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let (app, cancel) = (app.clone(), cancel.clone());
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let mut app = app.clone();
                async move {
                    let answer = tokio::time::timeout(limits.request_timeout, app.call(req.map(Body::new)));
                    Ok::<_, Infallible>(match answer.await {
                        Ok(Ok(r)) => r,
                        Ok(Err(never)) => match never {},
                        Err(_) => timed_out(limits.request_timeout),
                    })
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // Timeouts and clients that go away are routine for a public port; not worth a warning.
                tracing::debug!(%peer, error = %e, "HTTP connection closed");
            }
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

fn timed_out(limit: Duration) -> Response<Body> {
    let mut r = Response::new(Body::from(format!(
        "the request was not answered within {}\n",
        humantime::format_duration(limit)
    )));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r
}
