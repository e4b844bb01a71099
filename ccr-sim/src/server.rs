//! The HTTP side: one axum server per simulated cluster, with connection-level fault injection.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::api::reply::{Reply, ReplyBody, Req};
use crate::api::{control, rest};
use crate::world::foreign::{self, WorldLock};
use crate::world::model::World;

/// State shared by the servers, the ticker and the handles of one simulator.
pub(crate) struct Shared {
    world: WorldLock,
}

impl Shared {
    pub(crate) fn new(world: World) -> Self {
        Self {
            world: std::sync::Arc::new(parking_lot::Mutex::new(world)),
        }
    }

    /// Locks the world (parking_lot: no poisoning, so a panic elsewhere cannot wedge it).
    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, World> {
        self.world.lock()
    }

    /// The world lock itself, for registering with other simulators.
    pub(crate) fn world(&self) -> &WorldLock {
        &self.world
    }

    /// Runs `f` on the world with the clusters of other simulators that cluster `ci`'s remotes
    /// point at borrowed into it (see `foreign`).
    pub(crate) fn with_remotes<R>(&self, ci: usize, f: impl FnOnce(&mut World) -> R) -> R {
        foreign::with_remotes(&self.world, ci, f)
    }
}

/// Per-connection switch: once set, the connection fails all I/O (a simulated reset).
#[derive(Clone, Debug)]
pub(crate) struct ConnAddr {
    kill: Arc<AtomicBool>,
}

pub(crate) struct FaultStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "simulated connection reset")
}

impl AsyncRead for FaultStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

pub(crate) struct FaultListener {
    inner: TcpListener,
}

impl Listener for FaultListener {
    type Io = FaultStream;
    type Addr = ConnAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    return (
                        FaultStream {
                            inner: stream,
                            kill: kill.clone(),
                        },
                        ConnAddr { kill },
                    );
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr().map(|_| ConnAddr {
            kill: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, FaultListener>> for ConnAddr {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Self {
        stream.remote_addr().clone()
    }
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    ci: usize,
}

/// What the fault dice decided for one request.
enum Fault {
    None,
    Error(u16),
    Reset,
    Malformed,
    Truncated,
}

/// Binds a cluster's listener.
pub(crate) async fn bind(addr: SocketAddr) -> io::Result<(TcpListener, SocketAddr)> {
    let l = TcpListener::bind(addr).await?;
    let local = l.local_addr()?;
    Ok((l, local))
}

/// Serves one cluster until `shutdown` resolves.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    ci: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = axum::Router::new()
        .fallback(handler)
        .with_state(AppState { shared, ci })
        .into_make_service_with_connect_info::<ConnAddr>();
    if let Err(e) = axum::serve(FaultListener { inner: listener }, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!(error = %e, "simulated cluster server stopped");
    }
}

async fn handler(
    State(st): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    if uri.path() == "/_sim" || uri.path().starts_with("/_sim/") {
        let reply = control::handle_http(st.shared.world(), st.ci, method.as_str(), &target, &body);
        return build(
            reply,
            (8, 0),
            &Req::new(method.as_str(), &target, Vec::new(), None),
            true,
        );
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let mut req = Req::new(method.as_str(), &target, body.to_vec(), auth);
    req.content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let (reply, product_header, latency, fault) = {
        let mut w = st.shared.lock();
        if w.clusters[st.ci].stopped {
            // A stopped cluster answers nothing: not even counted.
            drop(w);
            conn.kill.store(true, Ordering::SeqCst);
            return Response::new(Body::empty());
        }
        let imports = foreign::import(&mut w, st.ci);
        let reply = rest::handle(&mut w, st.ci, &req);
        foreign::restore(&mut w, imports);
        let c = &w.clusters[st.ci];
        let product = (c.version.major, c.version.minor);
        let latency = c.faults.latency_ms;
        let f = c.faults.http;
        let fault = if f.error_rate + f.reset_rate + f.malformed_rate + f.truncated_rate > 0.0 {
            let r = w.rng.next_f64();
            if r < f.error_rate {
                Fault::Error(if (500..600).contains(&f.error_status) {
                    f.error_status
                } else {
                    503
                })
            } else if r < f.error_rate + f.reset_rate {
                Fault::Reset
            } else if r < f.error_rate + f.reset_rate + f.malformed_rate {
                Fault::Malformed
            } else if r < f.error_rate + f.reset_rate + f.malformed_rate + f.truncated_rate {
                Fault::Truncated
            } else {
                Fault::None
            }
        } else {
            Fault::None
        };
        (reply, product, latency, fault)
    };
    let reply = settle(&st.shared, st.ci, reply).await;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let reply = match fault {
        Fault::None => reply,
        Fault::Error(status) => {
            let e = if status == 503 {
                crate::error::EsError::new(
                    503,
                    "cluster_block_exception",
                    "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];",
                )
            } else {
                crate::error::EsError::new(status, "exception", "simulated server error")
            };
            Reply::error(&e)
        }
        Fault::Reset => {
            conn.kill.store(true, Ordering::SeqCst);
            Reply {
                status: 200,
                body: ReplyBody::Empty,
                headers: Vec::new(),
            }
        }
        Fault::Malformed => Reply {
            status: 200,
            body: ReplyBody::Text(
                "<html><body>simulated malformed response: this is not JSON</body></html>".into(),
            ),
            headers: vec![("Content-Type".into(), "application/json".into())],
        },
        Fault::Truncated => {
            let full = render_body(&reply.body, &req);
            let mut at = full.len() / 2;
            while !full.is_char_boundary(at) {
                at -= 1;
            }
            let cut = full[..at].to_string();
            Reply {
                status: reply.status,
                body: ReplyBody::Raw(cut),
                headers: reply.headers,
            }
        }
    };
    let raw_ok = matches!(fault, Fault::Truncated);
    build(reply, product_header, &req, raw_ok)
}

/// How often a deferred reply looks at the world again (real time).
const DEFERRED_POLL: Duration = Duration::from_millis(5);

/// Waits for a deferred reply (ES answering only later: put follow holding for its restore, a
/// black-holed remote) without holding the world lock, so the clock and other requests move on.
async fn settle(shared: &Shared, ci: usize, mut reply: Reply) -> Reply {
    while let ReplyBody::Deferred(d) = reply.body {
        tokio::time::sleep(DEFERRED_POLL).await;
        reply = shared.with_remotes(ci, |w| rest::poll_deferred(w, ci, *d));
    }
    reply
}

/// Serialises a body, applying `filter_path` and `pretty` as ES does.
fn render_body(body: &ReplyBody, req: &Req) -> String {
    let filter = req.q("filter_path").filter(|f| !f.is_empty());
    let pretty = req.flag("pretty");
    let value = match body {
        ReplyBody::Json(v) => Some(v.clone()),
        ReplyBody::Raw(s) if filter.is_some() || pretty => serde_json::from_str(s).ok(),
        ReplyBody::Raw(s) => return s.clone(),
        ReplyBody::Text(t) => return t.clone(),
        ReplyBody::Empty | ReplyBody::Deferred(_) => return String::new(),
    };
    let Some(mut v) = value else {
        return String::new();
    };
    if let Some(f) = filter {
        v = crate::util::filter_path(&v, f);
    }
    let s = if pretty {
        serde_json::to_string_pretty(&v)
    } else {
        serde_json::to_string(&v)
    };
    s.unwrap_or_default()
}

fn build(reply: Reply, major_minor: (u32, u32), req: &Req, raw_as_is: bool) -> Response {
    let (major, minor) = major_minor;
    let product_header = (major, minor) >= (7, 14);
    let is_text = matches!(reply.body, ReplyBody::Text(_));
    let body = match (&reply.body, raw_as_is) {
        (ReplyBody::Raw(s), true) => s.clone(),
        (b, _) => render_body(b, req),
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    let ctype = match (is_text, major >= 8) {
        (true, _) => "text/plain; charset=UTF-8",
        (false, true) => "application/json",
        (false, false) => "application/json; charset=UTF-8",
    };
    h.insert("content-type", HeaderValue::from_static(ctype));
    if product_header {
        h.insert(
            "x-elastic-product",
            HeaderValue::from_static("Elasticsearch"),
        );
    }
    for (k, v) in reply.headers {
        if let (Ok(name), Ok(val)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            h.append(name, val);
        }
    }
    resp
}
