//! A counting TCP proxy: the bytes a client reads (headers included, as sent on the wire) and its requests by
//! endpoint, the same way for every server behind it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// What went through one or more proxies.
#[derive(Default)]
pub struct Counts {
    /// Bytes sent back to the client.
    pub read: AtomicU64,
    /// Requests by endpoint, keyed like `GET /{index}/_stats` (index names and ids replaced, query left out).
    pub requests: Mutex<BTreeMap<String, u64>>,
}

impl Counts {
    pub fn snapshot(&self) -> (u64, BTreeMap<String, u64>) {
        (
            self.read.load(Ordering::Relaxed),
            self.requests.lock().expect("counts").clone(),
        )
    }
}

/// A proxy to `upstream` (`host:port`) that adds to `counts`.
pub async fn start(upstream: String, counts: Arc<Counts>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("proxy address");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let counts = counts.clone();
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up_counts = counts.clone();
                let up = tokio::spawn(async move { requests(&mut cr, &mut sw, &up_counts).await });
                answers(&mut sr, &mut cw, &counts).await;
                up.abort();
            });
        }
    });
    addr
}

/// Server to client: counts the bytes.
async fn answers(from: &mut OwnedReadHalf, to: &mut OwnedWriteHalf, counts: &Counts) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                counts.read.fetch_add(k as u64, Ordering::Relaxed);
                if to.write_all(&buf[..k]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

/// Client to server: forwards the bytes and follows the HTTP/1.1 framing (request line, `content-length` body) to
/// count each request once.
async fn requests(from: &mut OwnedReadHalf, to: &mut OwnedWriteHalf, counts: &Counts) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    // Body bytes of the current request not seen yet.
    let mut skip = 0usize;
    loop {
        let k = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(k) => k,
        };
        if to.write_all(&buf[..k]).await.is_err() {
            break;
        }
        pending.extend_from_slice(&buf[..k]);
        loop {
            if skip > 0 {
                let n = skip.min(pending.len());
                pending.drain(..n);
                skip -= n;
                if skip > 0 {
                    break;
                }
            }
            let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                // A head never ends: stop looking rather than grow.
                if pending.len() > 1 << 20 {
                    pending.clear();
                }
                break;
            };
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            pending.drain(..end + 4);
            let mut lines = head.lines();
            if let Some((method, target)) = lines.next().and_then(|l| {
                let mut parts = l.split(' ');
                Some((parts.next()?, parts.next()?))
            }) {
                *counts
                    .requests
                    .lock()
                    .expect("counts")
                    .entry(endpoint(method, target))
                    .or_insert(0) += 1;
            }
            skip = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
        }
    }
    let _ = to.shutdown().await;
}

/// `GET /logs-00001,logs-00002/_stats?level=shards` -> `GET /{index}/_stats`: the index expression in first place
/// (any first segment not Elasticsearch's own `_…`), a document id after `_doc` and a setting name after
/// `_settings` are replaced, the query left out.
pub fn endpoint(method: &str, target: &str) -> String {
    let path = target.split('?').next().unwrap_or("");
    let mut out = String::from(method);
    out.push(' ');
    let mut previous = "";
    for (k, s) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
        out.push('/');
        out.push_str(match (k, previous) {
            (0, _) if !s.starts_with('_') => "{index}",
            (_, "_doc") => "{id}",
            (_, "_settings") => "{setting}",
            _ => s,
        });
        previous = s;
    }
    if path.trim_matches('/').is_empty() {
        out.push('/');
    }
    out
}
