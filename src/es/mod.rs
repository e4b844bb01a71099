//! Elasticsearch client: one [`EsClient`] per configured cluster, typed methods per endpoint.
//!
//! Each client owns one `reqwest::Client`, so connections are kept alive and reused across polls. Every request
//! has the cluster's timeout. Errors ([`EsError`]) never carry a URL (only the endpoint path, which holds no
//! secret: credentials travel in headers marked sensitive) and expose a bounded [`EsError::reason`] for the
//! `reason` label of `ccr_sentinel_request_errors_total`.
//!
//! Follow-up modules add mutating methods (follow, pause, resume, unfollow, ...) next to the reads here; they
//! should go through [`EsClient::request`] so timeouts, auth and error mapping stay in one place.

pub mod admin;
pub mod types;

pub use admin::*;
pub use types::*;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;

use crate::config::{Auth, ClusterSettings};

/// Largest error-body excerpt kept in an error message.
const MAX_REASON_CHARS: usize = 300;

/// Which API a request was for: the `endpoint` label of `ccr_sentinel_request_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /`
    Root,
    /// `GET /_ccr/stats`
    CcrStats,
    /// `GET /{index}/_ccr/stats`
    FollowStats,
    /// `GET /{index}/_ccr/info`
    FollowInfo,
    /// `GET /_remote/info`
    RemoteInfo,
    /// `GET /_cat/indices`
    CatIndices,
    /// Any other endpoint (added by follow-up modules).
    Other(&'static str),
}

impl Endpoint {
    /// The label value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Endpoint::Root => "root",
            Endpoint::CcrStats => "ccr_stats",
            Endpoint::FollowStats => "follow_stats",
            Endpoint::FollowInfo => "follow_info",
            Endpoint::RemoteInfo => "remote_info",
            Endpoint::CatIndices => "cat_indices",
            Endpoint::Other(s) => s,
        }
    }
}

/// Serialized as its label value, so it can key JSON maps.
impl serde::Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed request to a cluster. Messages name the cluster and endpoint, never a URL or credential.
#[derive(Debug, thiserror::Error)]
pub enum EsError {
    /// No answer within the configured timeout.
    #[error("{cluster}: {endpoint} timed out after {timeout:?}")]
    Timeout {
        cluster: String,
        endpoint: Endpoint,
        timeout: Duration,
    },
    /// The TCP/TLS connection could not be established.
    #[error("{cluster}: {endpoint}: cannot connect: {message}")]
    Connect {
        cluster: String,
        endpoint: Endpoint,
        message: String,
    },
    /// The connection broke or the body could not be read.
    #[error("{cluster}: {endpoint}: transport error: {message}")]
    Transport {
        cluster: String,
        endpoint: Endpoint,
        message: String,
    },
    /// Elasticsearch answered with an error status.
    #[error("{cluster}: {endpoint}: HTTP {status}{}", error_suffix(.error))]
    Status {
        cluster: String,
        endpoint: Endpoint,
        status: u16,
        /// The `error` object of the body, when there was one.
        error: Option<ErrorCause>,
    },
    /// The body was not the JSON the endpoint returns (malformed, truncated or unexpected).
    #[error("{cluster}: {endpoint}: unexpected response body: {message}")]
    Decode {
        cluster: String,
        endpoint: Endpoint,
        message: String,
    },
    /// The client itself could not be built (bad CA, TLS setup).
    #[error("{cluster}: cannot build the HTTP client: {message}")]
    Client { cluster: String, message: String },
}

fn error_suffix(e: &Option<ErrorCause>) -> String {
    match e {
        Some(c) => format!(" ({})", truncate(&c.summary(), MAX_REASON_CHARS)),
        None => String::new(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

impl EsError {
    /// A bounded label for metrics: `timeout`, `connect`, `transport`, `unauthorized`, `forbidden`,
    /// `not_found`, `http_4xx`, `http_5xx`, `decode`, `client`.
    pub fn reason(&self) -> &'static str {
        match self {
            EsError::Timeout { .. } => "timeout",
            EsError::Connect { .. } => "connect",
            EsError::Transport { .. } => "transport",
            EsError::Status { status: 401, .. } => "unauthorized",
            EsError::Status { status: 403, .. } => "forbidden",
            EsError::Status { status: 404, .. } => "not_found",
            EsError::Status { status, .. } if *status < 500 => "http_4xx",
            EsError::Status { .. } => "http_5xx",
            EsError::Decode { .. } => "decode",
            EsError::Client { .. } => "client",
        }
    }

    /// The endpoint the request was for (`None` for client construction errors).
    pub fn endpoint(&self) -> Option<Endpoint> {
        match self {
            EsError::Timeout { endpoint, .. }
            | EsError::Connect { endpoint, .. }
            | EsError::Transport { endpoint, .. }
            | EsError::Status { endpoint, .. }
            | EsError::Decode { endpoint, .. } => Some(*endpoint),
            EsError::Client { .. } => None,
        }
    }

    /// The HTTP status, when Elasticsearch answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            EsError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The Elasticsearch error `type` (e.g. `index_not_found_exception`), when the body had one.
    pub fn es_type(&self) -> Option<&str> {
        match self {
            EsError::Status { error: Some(e), .. } => e.kind.as_deref(),
            _ => None,
        }
    }

    /// Worth retrying later without a change: timeouts, connection problems, 5xx, 429.
    pub fn is_retryable(&self) -> bool {
        match self {
            EsError::Timeout { .. } | EsError::Connect { .. } | EsError::Transport { .. } => true,
            EsError::Status { status, .. } => *status >= 500 || *status == 429,
            EsError::Decode { .. } | EsError::Client { .. } => false,
        }
    }
}

/// A client for one cluster.
/// The client registry: one [`EsClient`] per configured cluster, built once per process and shared by every
/// stage (observer, reconciler, preflight, executors, commands). Cheap to clone: the map is behind an `Arc`, and
/// each client keeps its own connection pool.
#[derive(Debug, Clone, Default)]
pub struct Clients(std::sync::Arc<std::collections::BTreeMap<String, EsClient>>);

impl Clients {
    /// Builds the client of every configured cluster; contacts none of them.
    pub fn from_config(cfg: &crate::config::Config) -> Result<Self, EsError> {
        let map = cfg
            .clusters
            .iter()
            .map(|(name, c)| Ok((name.clone(), EsClient::new(c)?)))
            .collect::<Result<_, EsError>>()?;
        Ok(Self(std::sync::Arc::new(map)))
    }

    /// Wraps clients built elsewhere (tests pointing a name at a hostile server).
    pub fn from_map(map: std::collections::BTreeMap<String, EsClient>) -> Self {
        Self(std::sync::Arc::new(map))
    }
}

impl std::ops::Deref for Clients {
    type Target = std::collections::BTreeMap<String, EsClient>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[derive(Clone)]
pub struct EsClient {
    name: String,
    base: reqwest::Url,
    http: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for EsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The base URL is credential-free (config validation rejects userinfo) but stays out of Debug anyway.
        f.debug_struct("EsClient")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl EsClient {
    /// Builds the client for a validated cluster configuration.
    pub fn new(settings: &ClusterSettings) -> Result<Self, EsError> {
        let client_err = |message: String| EsError::Client {
            cluster: settings.name.clone(),
            message,
        };
        let mut headers = HeaderMap::new();
        match &settings.auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                use base64_like::encode;
                let token = encode(format!("{username}:{}", password.expose_secret()).as_bytes());
                let mut v = HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| {
                    client_err("username or password has characters not allowed in a header".into())
                })?;
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
            Auth::ApiKey(key) => {
                let mut v = HeaderValue::from_str(&format!("ApiKey {}", key.expose_secret()))
                    .map_err(|_| {
                        client_err("api_key has characters not allowed in a header".into())
                    })?;
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
        }
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("ccr-sentinel/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout)
            .timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(4)
            .tcp_keepalive(Duration::from_secs(60));
        if let Some(pem) = &settings.ca_cert_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|_| client_err("ca_cert is not a PEM certificate".into()))?;
            builder = builder.add_root_certificate(cert);
        }
        if settings.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| client_err(e.without_url().to_string()))?;
        let mut base = settings.url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self {
            name: settings.name.clone(),
            base,
            http,
            timeout: settings.timeout,
        })
    }

    /// The configuration name of the cluster.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a request and decodes a JSON answer. `path_and_query` is relative to the cluster URL (no leading
    /// slash needed) and must hold no secret. Non-2xx answers become [`EsError::Status`].
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: Endpoint,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, EsError> {
        let bytes = self
            .request_bytes(method, endpoint, path_and_query, body)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| EsError::Decode {
            cluster: self.name.clone(),
            endpoint,
            message: e.to_string(),
        })
    }

    /// Like [`EsClient::request`] but returns the raw body of a 2xx answer.
    pub async fn request_bytes(
        &self,
        method: Method,
        endpoint: Endpoint,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, EsError> {
        let url = self
            .base
            .join(path_and_query.trim_start_matches('/'))
            .map_err(|e| EsError::Client {
                cluster: self.name.clone(),
                message: format!("bad request path for {endpoint}: {e}"),
            })?;
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.map_reqwest(endpoint, e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.map_reqwest(endpoint, e))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let error = serde_json::from_slice::<ErrorResponse>(&bytes)
            .ok()
            .and_then(|e| e.error);
        Err(EsError::Status {
            cluster: self.name.clone(),
            endpoint,
            status: status.as_u16(),
            error,
        })
    }

    fn map_reqwest(&self, endpoint: Endpoint, e: reqwest::Error) -> EsError {
        let cluster = self.name.clone();
        if e.is_timeout() {
            return EsError::Timeout {
                cluster,
                endpoint,
                timeout: self.timeout,
            };
        }
        // Walk the source chain for the useful part ("Connection refused"); the top level only says
        // "error sending request" and, without `without_url`, would print the URL.
        let e = e.without_url();
        let mut message = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            message = s.to_string();
            src = s.source();
        }
        if e.is_connect() {
            EsError::Connect {
                cluster,
                endpoint,
                message,
            }
        } else if e.is_decode() {
            EsError::Decode {
                cluster,
                endpoint,
                message,
            }
        } else {
            EsError::Transport {
                cluster,
                endpoint,
                message,
            }
        }
    }

    /// `GET /`: cluster name and version.
    pub async fn root_info(&self) -> Result<RootInfo, EsError> {
        self.request(Method::GET, Endpoint::Root, "", None).await
    }

    /// `GET /_ccr/stats`: follow stats of every active follower plus auto-follow stats, in one request.
    pub async fn ccr_stats(&self) -> Result<CcrStatsResponse, EsError> {
        self.request(Method::GET, Endpoint::CcrStats, "_ccr/stats", None)
            .await
    }

    /// `GET /_all/_ccr/info`: every follower index, paused ones included.
    pub async fn follow_info_all(&self) -> Result<FollowInfoResponse, EsError> {
        self.request(Method::GET, Endpoint::FollowInfo, "_all/_ccr/info", None)
            .await
    }

    /// `GET /_remote/info`: remote connections by alias.
    pub async fn remote_info(&self) -> Result<RemoteInfoResponse, EsError> {
        self.request(Method::GET, Endpoint::RemoteInfo, "_remote/info", None)
            .await
    }

    /// `GET /_cat/indices?format=json&h=index,status,docs.count`: every index with its document count, in one
    /// request. Closed indices are listed by default (and hidden ones from 7.7, where the default
    /// `expand_wildcards` is `all`). No `expand_wildcards` parameter is sent: 6.x and 7.0–7.6 reject it as
    /// unrecognized.
    pub async fn cat_indices(&self) -> Result<Vec<CatIndex>, EsError> {
        self.request(
            Method::GET,
            Endpoint::CatIndices,
            "_cat/indices?format=json&h=index,status,docs.count",
            None,
        )
        .await
    }
}

/// Minimal standard base64 encoding for the Basic auth header (avoids a dependency for 20 lines).
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(input: &[u8]) -> String {
        let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
        for chunk in input.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            out.push(ALPHABET[(n >> 18) as usize & 63] as char);
            out.push(ALPHABET[(n >> 12) as usize & 63] as char);
            out.push(if chunk.len() > 1 {
                ALPHABET[(n >> 6) as usize & 63] as char
            } else {
                '='
            });
            out.push(if chunk.len() > 2 {
                ALPHABET[n as usize & 63] as char
            } else {
                '='
            });
        }
        out
    }

    #[cfg(test)]
    #[test]
    fn matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(encode(i.as_bytes()), o);
        }
    }
}
