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
use crate::api::xcontent::{self, XContent};
use crate::api::{control, rest};
use crate::version::Version;
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

/// The largest request body the simulator inflates (ES's `http.max_content_length` default).
const MAX_CONTENT_LENGTH: u64 = 100 * 1024 * 1024;

/// A response compression Netty's `HttpContentCompressor` can pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Gzip,
    Deflate,
}

/// Netty's `HttpContentCompressor.determineWrapper`: the highest-q of gzip and deflate (gzip
/// on a tie), `*` meaning gzip; nothing when neither is acceptable.
fn choose_encoding(accept_encoding: &str) -> Option<Encoding> {
    let (mut star, mut gzip, mut deflate) = (-1.0f32, -1.0f32, -1.0f32);
    for enc in accept_encoding.split(',') {
        let q = match enc.find('=') {
            Some(at) => enc[at + 1..].trim().parse::<f32>().unwrap_or(0.0),
            None => 1.0,
        };
        if enc.contains('*') {
            star = q;
        } else if enc.contains("gzip") && q > gzip {
            gzip = q;
        } else if enc.contains("deflate") && q > deflate {
            deflate = q;
        }
    }
    if gzip > 0.0 || deflate > 0.0 {
        return Some(if gzip >= deflate {
            Encoding::Gzip
        } else {
            Encoding::Deflate
        });
    }
    if star > 0.0 {
        if gzip == -1.0 {
            return Some(Encoding::Gzip);
        }
        if deflate == -1.0 {
            return Some(Encoding::Deflate);
        }
    }
    None
}

/// Compresses at ES's `http.compression_level` default, 3.
fn compress(body: &[u8], enc: Encoding) -> Vec<u8> {
    use std::io::Write;
    let level = flate2::Compression::new(3);
    let out = match enc {
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            e.write_all(body).and_then(|()| e.finish())
        }
        Encoding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
            e.write_all(body).and_then(|()| e.finish())
        }
    };
    out.unwrap_or_default()
}

/// Netty's `HttpContentDecompressor`, always in ES's pipeline: `gzip`/`x-gzip` and
/// `deflate`/`x-deflate` request bodies are inflated before ES sees them (other encodings pass
/// through). The error text is Netty's `DecompressionException` message (reconstructed).
fn decompress(body: &[u8], content_encoding: Option<&str>) -> Result<Option<Vec<u8>>, Reply> {
    use std::io::Read;
    let enc = match content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
        Some(e) if e == "gzip" || e == "x-gzip" => Encoding::Gzip,
        Some(e) if e == "deflate" || e == "x-deflate" => Encoding::Deflate,
        _ => return Ok(None),
    };
    if body.is_empty() {
        return Ok(Some(Vec::new()));
    }
    let mut out = Vec::new();
    let read = match enc {
        Encoding::Gzip => flate2::read::GzDecoder::new(body)
            .take(MAX_CONTENT_LENGTH + 1)
            .read_to_end(&mut out),
        Encoding::Deflate => flate2::read::ZlibDecoder::new(body)
            .take(MAX_CONTENT_LENGTH + 1)
            .read_to_end(&mut out),
    };
    if read.is_err() {
        let reason = match enc {
            Encoding::Gzip => "Input is not in the GZIP format",
            Encoding::Deflate => "decompression failure",
        };
        let e = crate::error::EsError::new(400, "decompression_exception", reason).foreign();
        return Err(Reply::error(&e));
    }
    if out.len() as u64 > MAX_CONTENT_LENGTH {
        return Err(Reply {
            status: 413,
            body: ReplyBody::Empty,
            headers: Vec::new(),
        });
    }
    Ok(Some(out))
}

/// How one response is written: the cluster's version, the compression the client accepts
/// (when `http.compression` is on), and the `X-Opaque-Id` to echo.
struct Wire {
    version: Version,
    encoding: Option<Encoding>,
    opaque_id: Option<HeaderValue>,
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
        let wire = Wire {
            version: Version::new(8, 0, 0),
            encoding: None,
            opaque_id: None,
        };
        return build(
            reply,
            &wire,
            &Req::new(method.as_str(), &target, Vec::new(), None),
            true,
        );
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let opaque_id = headers.get("x-opaque-id").cloned();
    let body = match decompress(&body, header("content-encoding")) {
        Ok(Some(inflated)) => Bytes::from(inflated),
        Ok(None) => body,
        Err(reply) => {
            let version = st.shared.lock().clusters[st.ci].version;
            let wire = Wire {
                version,
                encoding: None,
                opaque_id,
            };
            let req = Req::new(method.as_str(), &target, Vec::new(), None);
            return build(reply, &wire, &req, false);
        }
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let mut req = Req::new(method.as_str(), &target, body.to_vec(), auth);
    req.content_type = header("content-type").map(String::from);
    req.accept = header("accept").map(String::from);
    let accept_encoding = header("accept-encoding").map(String::from);
    let (reply, wire, latency, fault) = {
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
        let wire = Wire {
            version: c.version,
            encoding: accept_encoding
                .as_deref()
                .filter(|_| c.http_compression && req.method != "HEAD")
                .and_then(choose_encoding),
            opaque_id,
        };
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
        (reply, wire, latency, fault)
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
            let (kind, _) = xcontent::response_media(&req, wire.version);
            let full = render_body(&reply.body, &req, kind);
            let full = String::from_utf8_lossy(&full);
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
    build(reply, &wire, &req, raw_ok)
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

/// Serialises a body in the negotiated format, applying `filter_path` (never to errors, as
/// `AbstractRestChannel.newErrorBuilder` disables it) and `pretty` as ES does.
fn render_body(body: &ReplyBody, req: &Req, kind: XContent) -> Vec<u8> {
    use std::borrow::Cow;
    let filter = req.q("filter_path").filter(|f| !f.is_empty());
    let pretty = req.flag("pretty");
    let value: Cow<'_, serde_json::Value> = match body {
        // The common case, compact JSON: written straight from the reply, filtered as it goes.
        ReplyBody::Json(v) if kind == XContent::Json && !pretty => {
            let direct = match filter {
                None => serde_json::to_vec(v).ok(),
                Some(f) => crate::util::filter_path_json(v, f),
            };
            match direct {
                Some(bytes) => return bytes,
                None => {
                    Cow::Owned(filter.map_or_else(|| v.clone(), |f| crate::util::filter_path(v, f)))
                }
            }
        }
        ReplyBody::Json(v) => filter.map_or(Cow::Borrowed(v), |f| {
            Cow::Owned(crate::util::filter_path(v, f))
        }),
        ReplyBody::Error(v) => Cow::Borrowed(v),
        ReplyBody::Raw(s) if filter.is_none() && !pretty && kind == XContent::Json => {
            return s.clone().into_bytes()
        }
        ReplyBody::Raw(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(v) => match filter {
                Some(f) if kind == XContent::Json && !pretty => {
                    if let Some(bytes) = crate::util::filter_path_json(&v, f) {
                        return bytes;
                    }
                    Cow::Owned(crate::util::filter_path(&v, f))
                }
                Some(f) => Cow::Owned(crate::util::filter_path(&v, f)),
                None => Cow::Owned(v),
            },
            Err(_) => return Vec::new(),
        },
        ReplyBody::Text(t) => return t.clone().into_bytes(),
        ReplyBody::Empty | ReplyBody::Deferred(_) => return Vec::new(),
    };
    // SMILE is refused before dispatch; JSON stands in should a reply get here regardless.
    xcontent::encode(&value, kind, pretty)
        .or_else(|| xcontent::encode(&value, XContent::Json, pretty))
        .unwrap_or_default()
}

fn build(reply: Reply, wire: &Wire, req: &Req, raw_as_is: bool) -> Response {
    let product_header = wire.version.at_least(7, 14);
    let is_text = matches!(reply.body, ReplyBody::Text(_));
    let (kind, ctype) = xcontent::response_media(req, wire.version);
    let mut body = match (&reply.body, raw_as_is) {
        (ReplyBody::Raw(s), true) => s.clone().into_bytes(),
        (b, _) => render_body(b, req, kind),
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // Netty's compressor leaves empty bodies (and HEAD, filtered out earlier) alone.
    let encoding = wire.encoding.filter(|_| !body.is_empty());
    if let Some(enc) = encoding {
        body = compress(&body, enc);
    }
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let ctype = if is_text {
        "text/plain; charset=UTF-8".to_string()
    } else {
        ctype
    };
    if let Ok(v) = HeaderValue::from_str(&ctype) {
        h.insert("content-type", v);
    }
    match encoding {
        Some(Encoding::Gzip) => {
            h.insert("content-encoding", HeaderValue::from_static("gzip"));
        }
        Some(Encoding::Deflate) => {
            h.insert("content-encoding", HeaderValue::from_static("deflate"));
        }
        None => {}
    }
    if product_header {
        h.insert(
            "x-elastic-product",
            HeaderValue::from_static("Elasticsearch"),
        );
    }
    if let Some(id) = &wire.opaque_id {
        h.insert("x-opaque-id", id.clone());
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
