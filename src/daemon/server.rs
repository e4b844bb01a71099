//! The HTTP server's accept loop: at most `[http] max_connections` connections at a time, a header-read timeout
//! (which hyper also applies while a kept-alive connection waits for its next request) and a per-request timeout.
//!
//! When the cap is reached, the oldest connection that has no request in progress (an idle one, or a slow one
//! still sending its request head) is closed to make room for the new one; when every connection is busy, the
//! new one waits for a free slot (up to the request timeout) and is closed if none frees. So a flood of idle or
//! slow clients can neither use more than `max_connections` descriptors (the polls keep theirs) nor keep a
//! scrape out: connections not yet accepted wait in the kernel's accept queue, which the loop keeps draining.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

use crate::config::HttpLimits;
use crate::sync::lock;

/// How long the loop waits before accepting again after an accept error (e.g. `EMFILE`), so a process out of
/// descriptors does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// An open connection, as the accept loop sees it.
struct Slot {
    /// A request is being answered.
    busy: Arc<AtomicBool>,
    /// Cancelled to close the connection at once.
    evict: CancellationToken,
}

/// Every open connection by accept order (oldest first).
#[derive(Default)]
struct Slots {
    next_id: u64,
    open: BTreeMap<u64, Slot>,
}

/// Serves `app` on `listener` until `cancel` fires, then stops accepting and asks every open connection to
/// close after its request in flight. Returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let slots: Arc<Mutex<Slots>> = Arc::default();
    let connections = TaskTracker::new();
    loop {
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
        let Some(permit) = slot_for(&permits, &slots, limits.request_timeout, &cancel).await else {
            tracing::debug!(%peer, "every HTTP connection is busy; closing a new one");
            continue;
        };
        let busy = Arc::new(AtomicBool::new(false));
        let evict = cancel.child_token();
        let id = {
            let mut s = lock(&slots);
            let id = s.next_id;
            s.next_id += 1;
            s.open.insert(
                id,
                Slot {
                    busy: busy.clone(),
                    evict: evict.clone(),
                },
            );
            id
        };
        let (app, cancel, slots) = (app.clone(), cancel.clone(), slots.clone());
        connections.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (mut app, busy) = (app.clone(), busy.clone());
                async move {
                    busy.store(true, Ordering::Release);
                    let answer =
                        tokio::time::timeout(limits.request_timeout, app.call(req.map(Body::new)))
                            .await;
                    busy.store(false, Ordering::Release);
                    Ok::<_, Infallible>(match answer {
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
                _ = evict.cancelled() => {
                    if cancel.is_cancelled() {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    } else {
                        // Evicted to make room: no request was in progress, so dropping it loses nothing.
                        Ok(())
                    }
                }
            };
            lock(&slots).open.remove(&id);
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

/// A permit for a new connection: a free one, else one freed by closing the oldest connection that has no
/// request in progress, else the first freed within `wait`. `None` when none frees in time or at shutdown.
async fn slot_for(
    permits: &Arc<Semaphore>,
    slots: &Mutex<Slots>,
    wait: Duration,
    cancel: &CancellationToken,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(p) = permits.clone().try_acquire_owned() {
        return Some(p);
    }
    {
        let mut s = lock(slots);
        let oldest_idle = s
            .open
            .iter()
            .find(|(_, slot)| !slot.busy.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        if let Some(slot) = oldest_idle.and_then(|id| s.open.remove(&id)) {
            slot.evict.cancel();
        }
    }
    tokio::select! {
        _ = cancel.cancelled() => None,
        p = tokio::time::timeout(wait, permits.clone().acquire_owned()) => p.ok()?.ok(),
    }
}

fn timed_out(limit: Duration) -> Response<Body> {
    let mut r = Response::new(Body::from(format!(
        "the request was not answered within {}\n",
        humantime::format_duration(limit)
    )));
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r
}
