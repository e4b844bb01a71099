//! Elasticsearch client: one [`EsClient`] per configured cluster, typed methods per endpoint.
//!
//! Each client owns one `reqwest::Client`, so connections are kept alive and reused across polls. Every request
//! has the cluster's timeout. Errors ([`EsError`]) never carry a URL (only the endpoint path, which holds no
//! secret: credentials travel in headers marked sensitive) and expose a bounded [`EsError::reason`] for the
//! `reason` label of `ccr_sentinel_request_errors_total`.
//!
//! The calls live by endpoint family, each next to its response types: [`ccr`] (`_ccr/*`), [`cluster`] (`GET /`,
//! `_remote/info`, `_cluster/settings`, `_license`, `_has_privileges`), [`indices`] (`_cat/indices`, open,
//! close, `_settings`) and [`security`] (`_authenticate`, cross-cluster API keys, `_security/user/_privileges`,
//! `_nodes/reload_secure_settings`). Every call goes through [`EsClient::request`], so timeouts, authentication and error
//! mapping stay in one place. Paths are built from validated names (config validation rejects characters that
//! need escaping in index names) but are still percent-encoded defensively.
//!
//! Response types are tolerant of every version from 6.7 to 9.x (see docs/es-contract.md §5–§10, §17, §20):
//! - no `deny_unknown_fields`: newer versions add fields;
//! - every field that some version omits is `Option` or `#[serde(default)]`; a field every version writes and
//!   the daemon relies on (sections, names, checkpoints) is required, so an empty or partial answer such as `{}`
//!   is a decode error, never a healthy default;
//! - checkpoints and `time_since_last_read_millis` may be `-1` ("none yet"), so they are `i64`;
//! - `fatal_exception` is per shard; `read_exceptions` may be empty or absent;
//! - `_remote/info` has sniff and proxy modes, no `mode` before 7.7, and `http_addresses` on 6.x.
//!
//! All response types also `Serialize`, so `/status` and `status --format json` can show them; none carries a
//! secret (`_remote/info`'s `cluster_credentials` is read as a presence flag only; a created API key's secret is a
//! `SecretString` without `Serialize`).

pub mod ccr;
pub mod cluster;
pub mod error;
pub mod indices;
pub mod security;

pub use ccr::*;
pub use cluster::*;
pub use error::*;
pub use indices::*;
pub use security::*;

use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::{Auth, ClusterSettings};

/// Which API a request was for: the `endpoint` label of `ccr_sentinel_request_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /`
    Root,
    /// `GET /_ccr/stats`
    CcrStats,
    /// `GET /{index}/_ccr/info`
    FollowInfo,
    /// `GET /_remote/info`
    RemoteInfo,
    /// `GET /_cat/indices`
    CatIndices,
    /// `GET /_recovery`
    Recovery,
    /// `PUT /{index}` (the heartbeat index only)
    CreateIndex,
    /// `PUT /{index}/_doc/{id}` (the heartbeat document only)
    IndexDoc,
    /// `GET /{index}/_search` (the heartbeat followers only)
    Search,
    /// `PUT /_cluster/settings`
    PutClusterSettings,
    /// `GET /_cluster/settings`
    ClusterSettings,
    /// `PUT /{index}/_ccr/follow`
    PutFollow,
    /// `POST /{index}/_ccr/pause_follow`
    PauseFollow,
    /// `POST /{index}/_ccr/resume_follow`
    ResumeFollow,
    /// `POST /{index}/_ccr/unfollow`
    Unfollow,
    /// `POST /{index}/_close`
    CloseIndex,
    /// `POST /{index}/_open`
    OpenIndex,
    /// `POST /{index}/_ccr/forget_follower`
    ForgetFollower,
    /// `GET /_ccr/auto_follow[/{name}]`
    AutoFollowGet,
    /// `PUT /_ccr/auto_follow/{name}`
    AutoFollowPut,
    /// `DELETE /_ccr/auto_follow/{name}`
    AutoFollowDelete,
    /// `POST /_ccr/auto_follow/{name}/pause`
    AutoFollowPause,
    /// `POST /_ccr/auto_follow/{name}/resume`
    AutoFollowResume,
    /// `GET /{index}/_settings`
    IndexSettings,
    /// `GET /{indices}/_stats/docs?level=shards` (the leader's own sequence numbers and retention leases)
    IndexStats,
    /// `GET /_license` (or `/_xpack/license`)
    License,
    /// `POST /_security/user/_has_privileges` (or the `_xpack` path)
    HasPrivileges,
    /// `GET /_security/_authenticate` (or the `_xpack` path)
    Authenticate,
    /// `POST /_security/cross_cluster/api_key`
    CreateCrossClusterApiKey,
    /// `PUT /_security/cross_cluster/api_key/{id}`
    UpdateCrossClusterApiKey,
    /// `GET /_security/api_key`
    GetApiKey,
    /// `DELETE /_security/api_key`
    InvalidateApiKey,
    /// `GET /_security/user/_privileges`
    UserPrivileges,
    /// `POST /_nodes/reload_secure_settings`
    ReloadSecureSettings,
    /// `GET /_data_stream[/{name}]` (7.9+)
    DataStreams,
    /// `GET /_index_template` (7.8+)
    IndexTemplates,
    /// `POST /_data_stream/_promote/{name}` (7.9+)
    PromoteDataStream,
    /// `POST /{data_stream}/_rollover`
    Rollover,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 38] = [
        Endpoint::Root,
        Endpoint::CcrStats,
        Endpoint::FollowInfo,
        Endpoint::RemoteInfo,
        Endpoint::CatIndices,
        Endpoint::Recovery,
        Endpoint::CreateIndex,
        Endpoint::IndexDoc,
        Endpoint::Search,
        Endpoint::PutClusterSettings,
        Endpoint::ClusterSettings,
        Endpoint::PutFollow,
        Endpoint::PauseFollow,
        Endpoint::ResumeFollow,
        Endpoint::Unfollow,
        Endpoint::CloseIndex,
        Endpoint::OpenIndex,
        Endpoint::ForgetFollower,
        Endpoint::AutoFollowGet,
        Endpoint::AutoFollowPut,
        Endpoint::AutoFollowDelete,
        Endpoint::AutoFollowPause,
        Endpoint::AutoFollowResume,
        Endpoint::IndexSettings,
        Endpoint::IndexStats,
        Endpoint::License,
        Endpoint::HasPrivileges,
        Endpoint::Authenticate,
        Endpoint::CreateCrossClusterApiKey,
        Endpoint::UpdateCrossClusterApiKey,
        Endpoint::GetApiKey,
        Endpoint::InvalidateApiKey,
        Endpoint::UserPrivileges,
        Endpoint::ReloadSecureSettings,
        Endpoint::DataStreams,
        Endpoint::IndexTemplates,
        Endpoint::PromoteDataStream,
        Endpoint::Rollover,
    ];

    /// The label value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Endpoint::Root => "root",
            Endpoint::CcrStats => "ccr_stats",
            Endpoint::FollowInfo => "follow_info",
            Endpoint::RemoteInfo => "remote_info",
            Endpoint::CatIndices => "cat_indices",
            Endpoint::Recovery => "recovery",
            Endpoint::CreateIndex => "create_index",
            Endpoint::IndexDoc => "index_doc",
            Endpoint::Search => "search",
            Endpoint::PutClusterSettings => "put_cluster_settings",
            Endpoint::ClusterSettings => "cluster_settings",
            Endpoint::PutFollow => "put_follow",
            Endpoint::PauseFollow => "pause_follow",
            Endpoint::ResumeFollow => "resume_follow",
            Endpoint::Unfollow => "unfollow",
            Endpoint::CloseIndex => "close_index",
            Endpoint::OpenIndex => "open_index",
            Endpoint::ForgetFollower => "forget_follower",
            Endpoint::AutoFollowGet => "auto_follow_get",
            Endpoint::AutoFollowPut => "auto_follow_put",
            Endpoint::AutoFollowDelete => "auto_follow_delete",
            Endpoint::AutoFollowPause => "auto_follow_pause",
            Endpoint::AutoFollowResume => "auto_follow_resume",
            Endpoint::IndexSettings => "index_settings",
            Endpoint::IndexStats => "index_stats",
            Endpoint::License => "license",
            Endpoint::HasPrivileges => "has_privileges",
            Endpoint::Authenticate => "authenticate",
            Endpoint::CreateCrossClusterApiKey => "create_cross_cluster_api_key",
            Endpoint::UpdateCrossClusterApiKey => "update_cross_cluster_api_key",
            Endpoint::GetApiKey => "get_api_key",
            Endpoint::InvalidateApiKey => "invalidate_api_key",
            Endpoint::UserPrivileges => "user_privileges",
            Endpoint::ReloadSecureSettings => "reload_secure_settings",
            Endpoint::DataStreams => "data_streams",
            Endpoint::IndexTemplates => "index_templates",
            Endpoint::PromoteDataStream => "promote_data_stream",
            Endpoint::Rollover => "rollover",
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

/// The largest error body (non-2xx answer) read: an Elasticsearch error envelope is a few KiB, and the
/// classification needs only its `error` object; the rest of a larger body is not read.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A client for one cluster.
#[derive(Clone)]
pub struct EsClient {
    name: String,
    base: reqwest::Url,
    http: reqwest::Client,
    timeout: Duration,
    max_response_bytes: usize,
    /// [`STREAM_DECODE_BYTES`], lowered by tests so that small bodies take the streamed path.
    stream_decode_bytes: usize,
    /// The length of the latest 2xx body per endpoint, shared by the clones of this client.
    size_hints: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<Endpoint, usize>>>,
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
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose_secret()));
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
            .tcp_keepalive(Duration::from_secs(60))
            // A redirect is never followed: it would re-send the credentials to wherever it points (even
            // from https to http), and answers from another server would be taken as the cluster's.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &settings.ca_cert_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| client_err("ca_cert is not a PEM certificate".into()))?;
            if certs.is_empty() {
                return Err(client_err("ca_cert holds no PEM certificate".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if settings.insecure_skip_verify {
            tracing::warn!(
                cluster = %settings.name,
                "{}",
                crate::config::insecure_tls_warning(&settings.name)
            );
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
            max_response_bytes: settings.max_response_bytes,
            stream_decode_bytes: STREAM_DECODE_BYTES,
            size_hints: Default::default(),
        })
    }

    /// The configuration name of the cluster.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a request and decodes a JSON answer. `path_and_query` is relative to the cluster URL (no leading
    /// slash needed) and must hold no secret. Non-2xx answers become [`EsError::Status`].
    ///
    /// A body expected to reach [`STREAM_DECODE_BYTES`] (its announced length, or the endpoint's latest decoded
    /// length for a compressed answer) is decoded while it arrives instead of being held whole first: at 10,000
    /// followers the `_ccr/stats` and leader shard stats bodies are tens of MB each, read at the same time by poll
    /// and doc_counts. The result, and every error, is the same either way.
    pub async fn request<T: DeserializeOwned + Send + 'static>(
        &self,
        method: Method,
        endpoint: Endpoint,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, EsError> {
        let resp = self.send(method, endpoint, path_and_query, body).await?;
        let expected = resp
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .or_else(|| self.size_hint(endpoint));
        if expected.is_some_and(|n| n >= self.stream_decode_bytes) {
            return self.decode_streamed(endpoint, resp).await;
        }
        let bytes = self.read_body(endpoint, resp).await?;
        decode(&bytes).map_err(|message| EsError::Decode {
            cluster: self.name.clone(),
            endpoint,
            message,
        })
    }

    /// A read: [`EsClient::request`] with `filter_path` set to `T`'s [`Filtered::FILTER_PATH`], so Elasticsearch
    /// sends only the fields `T` decodes (it never filters an error body, so error classification sees the whole
    /// envelope). This is the one place a `filter_path` is added to a query string.
    pub async fn read<T: Filtered + Send + 'static>(
        &self,
        method: Method,
        endpoint: Endpoint,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, EsError> {
        let sep = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let path = format!("{path_and_query}{sep}filter_path={}", T::FILTER_PATH);
        self.request(method, endpoint, &path, body).await
    }

    /// Like [`EsClient::request`] but returns the raw body of a 2xx answer.
    pub async fn request_bytes(
        &self,
        method: Method,
        endpoint: Endpoint,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Vec<u8>, EsError> {
        let resp = self.send(method, endpoint, path_and_query, body).await?;
        self.read_body(endpoint, resp).await
    }

    /// Sends a request and returns a 2xx answer with its body unread. A redirect, a non-2xx answer (its error
    /// body read, at most [`MAX_ERROR_BODY_BYTES`]) and a 2xx answer announcing more than `max_response_bytes`
    /// are errors.
    async fn send(
        &self,
        method: Method,
        endpoint: Endpoint,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, EsError> {
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
        let mut resp = req
            .send()
            .await
            .map_err(|e| self.map_reqwest(endpoint, e))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(EsError::Redirect {
                cluster: self.name.clone(),
                endpoint,
                status: status.as_u16(),
                location: redirect_target(resp.url(), resp.headers()),
            });
        }
        if status.is_success() {
            // A 2xx body over the limit is refused (a partial answer is no answer).
            if resp
                .content_length()
                .is_some_and(|n| n > self.max_response_bytes as u64)
            {
                return Err(self.too_large(endpoint));
            }
            return Ok(resp);
        }
        // An error body is only cut, as its `error` object comes first and the status alone still classifies it.
        let mut bytes = BoundedBody::new(MAX_ERROR_BODY_BYTES);
        if let Some(n) = resp.content_length() {
            bytes.reserve(usize::try_from(n).unwrap_or(usize::MAX));
        }
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.map_reqwest(endpoint, e))?
        {
            if !bytes.push(&chunk) {
                break;
            }
        }
        let error = serde_json::from_slice::<ErrorResponse>(&bytes.into_inner())
            .ok()
            .and_then(|e| e.error);
        Err(EsError::Status {
            cluster: self.name.clone(),
            endpoint,
            status: status.as_u16(),
            error,
        })
    }

    /// Reads the body of a 2xx answer whole, refusing it past `max_response_bytes`.
    async fn read_body(
        &self,
        endpoint: Endpoint,
        mut resp: reqwest::Response,
    ) -> Result<Vec<u8>, EsError> {
        let mut body = BoundedBody::new(self.max_response_bytes);
        // One allocation of the announced size (within the limit) instead of doubling through the body. A
        // compressed answer announces no decoded length: the latest body of the endpoint, plus an eighth for
        // growth, stands in for it (polled answers keep their size from one poll to the next).
        match resp.content_length() {
            Some(n) => body.reserve(usize::try_from(n).unwrap_or(usize::MAX)),
            None => {
                if let Some(n) = self.size_hint(endpoint) {
                    body.reserve(n.saturating_add(n / 8));
                }
            }
        }
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.map_reqwest(endpoint, e))?
        {
            if !body.push(&chunk) {
                return Err(self.too_large(endpoint));
            }
        }
        let bytes = body.into_inner();
        self.set_size_hint(endpoint, bytes.len());
        Ok(bytes)
    }

    /// Decodes the body of a 2xx answer on a blocking thread as its chunks arrive, so the whole text is never
    /// held. The limit and the UTF-8 check apply here as they do to a body read whole, and with the same
    /// precedence: a body past the limit is refused even if its start is not JSON, and a body that is not UTF-8
    /// says so even if its JSON broke earlier; the body is read to its end (or the limit) either way.
    async fn decode_streamed<T: DeserializeOwned + Send + 'static>(
        &self,
        endpoint: Endpoint,
        mut resp: reqwest::Response,
    ) -> Result<T, EsError> {
        let decode_err = |message: String| EsError::Decode {
            cluster: self.name.clone(),
            endpoint,
            message,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_CHUNKS);
        let decoder = tokio::task::spawn_blocking(move || {
            let reader = std::io::BufReader::with_capacity(
                STREAM_BUFFER_BYTES,
                ChunkReader {
                    rx,
                    chunk: bytes::Bytes::new(),
                },
            );
            serde_json::from_reader::<_, T>(reader)
        });
        let mut tx = Some(tx);
        let mut utf8 = Utf8Check::default();
        let mut utf8_error = None;
        let mut len = 0usize;
        let mut pending = bytes::BytesMut::with_capacity(2 * STREAM_BUFFER_BYTES);
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.map_reqwest(endpoint, e))?
        {
            len = len.saturating_add(chunk.len());
            if len > self.max_response_bytes {
                return Err(self.too_large(endpoint));
            }
            if utf8_error.is_none() {
                if let Err(e) = utf8.feed(&chunk) {
                    utf8_error = Some(e);
                    tx = None;
                }
            }
            if let Some(sender) = &tx {
                // An inflated body arrives 4 KiB at a time (reqwest's decompression buffer): gathered, the
                // decoding thread wakes once per 64 KiB.
                pending.extend_from_slice(&chunk);
                // The decoder stops at the first JSON error; the rest is still read for the checks above.
                if pending.len() >= STREAM_BUFFER_BYTES
                    && sender.send(pending.split().freeze()).await.is_err()
                {
                    tx = None;
                }
            }
        }
        if let Some(sender) = tx.take() {
            if !pending.is_empty() {
                // An error here is the decoder's, reported below.
                let _ = sender.send(pending.freeze()).await;
            }
        }
        self.set_size_hint(endpoint, len);
        let utf8_error = utf8_error.or_else(|| utf8.finish().err());
        let decoded = decoder.await;
        if let Some(e) = utf8_error {
            return Err(decode_err(e));
        }
        match decoded {
            Ok(result) => result.map_err(|e| decode_err(e.to_string())),
            Err(e) => Err(decode_err(format!("the decoder stopped: {e}"))),
        }
    }

    fn too_large(&self, endpoint: Endpoint) -> EsError {
        EsError::ResponseTooLarge {
            cluster: self.name.clone(),
            endpoint,
            limit: self.max_response_bytes,
        }
    }

    fn size_hint(&self, endpoint: Endpoint) -> Option<usize> {
        self.size_hints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&endpoint)
            .copied()
    }

    fn set_size_hint(&self, endpoint: Endpoint, len: usize) {
        self.size_hints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(endpoint, len);
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
        if let Some(hint) = tls_hint(&message) {
            message = format!("{message} ({hint})");
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
}

/// A response type together with the `filter_path` (docs/es-contract.md §24.4) that keeps exactly the fields it
/// decodes. Each implementation sits beside its type, and a unit test decodes the fixtures with and without the
/// filter and compares the results, so a field added to the type but not to the path fails that test.
pub trait Filtered: DeserializeOwned {
    /// Comma-separated dotted paths (no wildcard needed except `*` for map keys), URL-safe as written.
    const FILTER_PATH: &'static str;
}

/// Decodes a JSON body. The body is checked to be UTF-8 once, as a whole, and then parsed as text: parsing
/// the bytes would check every string again. The error says which of the two the body is not.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The expected body length from which [`EsClient::request`] decodes a body as it arrives. Decoding from a
/// reader costs more CPU per byte than decoding a held text; below this size the text is small enough to hold.
pub const STREAM_DECODE_BYTES: usize = 16 * 1024 * 1024;

/// Chunks in flight between the reading task and the decoding thread.
const STREAM_CHUNKS: usize = 4;

/// The decoder's read buffer.
const STREAM_BUFFER_BYTES: usize = 64 * 1024;

/// The decoding thread's side of a streamed body: the chunks the reading task sends, in order; the end of the
/// channel is the end of the body.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    chunk: bytes::Bytes,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => self.chunk = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        bytes::Buf::advance(&mut self.chunk, n);
        Ok(n)
    }
}

/// UTF-8 validation of a body fed in chunks, which may split a character: the errors read as
/// [`std::str::Utf8Error`]'s do for the whole body.
#[derive(Debug, Default)]
struct Utf8Check {
    /// The start of a character the previous chunk ended in.
    carry: [u8; 4],
    carried: usize,
    /// Bytes fed before the current chunk.
    offset: usize,
}

impl Utf8Check {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        let mut rest = chunk;
        let start = self.offset;
        self.offset += chunk.len();
        if self.carried > 0 {
            // Complete the split character (at most 3 more bytes) and check it alone.
            let take = rest.len().min(4 - self.carried);
            let mut buf = self.carry;
            buf[self.carried..self.carried + take].copy_from_slice(&rest[..take]);
            let n = self.carried + take;
            let at = start - self.carried;
            match std::str::from_utf8(&buf[..n]) {
                Ok(_) => {}
                Err(e) if e.valid_up_to() > 0 => {
                    let used = e.valid_up_to() - self.carried;
                    self.carried = 0;
                    return self.feed_tail(&rest[used..], start + used);
                }
                Err(e) => match e.error_len() {
                    None => {
                        self.carry = buf;
                        self.carried = n;
                        return Ok(());
                    }
                    Some(len) => return Err(invalid_utf8(len, at)),
                },
            }
            self.carried = 0;
            rest = &rest[take..];
            return self.feed_tail(rest, start + take);
        }
        self.feed_tail(rest, start)
    }

    /// Checks `bytes`, which start on a character boundary at `at` in the body.
    fn feed_tail(&mut self, bytes: &[u8], at: usize) -> Result<(), String> {
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) => match e.error_len() {
                Some(len) => Err(invalid_utf8(len, at + e.valid_up_to())),
                None => {
                    let tail = &bytes[e.valid_up_to()..];
                    self.carry[..tail.len()].copy_from_slice(tail);
                    self.carried = tail.len();
                    Ok(())
                }
            },
        }
    }

    /// The end of the body: a character left unfinished is an error.
    fn finish(&self) -> Result<(), String> {
        match self.carried {
            0 => Ok(()),
            n => Err(format!(
                "the body is not UTF-8: incomplete utf-8 byte sequence from index {}",
                self.offset - n
            )),
        }
    }
}

fn invalid_utf8(len: usize, at: usize) -> String {
    format!("the body is not UTF-8: invalid utf-8 sequence of {len} bytes from index {at}")
}

/// A response body read chunk by chunk that never holds more than `limit` bytes.
#[derive(Debug)]
pub struct BoundedBody {
    buf: Vec<u8>,
    limit: usize,
}

impl BoundedBody {
    /// An empty body that accepts at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit,
        }
    }

    /// Makes room for `additional` more bytes, never past the limit.
    pub fn reserve(&mut self, additional: usize) {
        let want = self
            .buf
            .len()
            .saturating_add(additional)
            .min(self.limit)
            .saturating_sub(self.buf.len());
        self.buf.reserve_exact(want);
    }

    /// Appends `chunk` when the total stays within the limit; otherwise keeps what fits and returns false (the
    /// body is then complete up to the limit, and more must not be read).
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.limit - self.buf.len();
        let want = self.buf.len() + chunk.len().min(room);
        if want > self.buf.capacity() {
            // Grow by doubling as `Vec` would, but never past the limit: the allocation stays within it too.
            let cap = self
                .buf
                .capacity()
                .saturating_mul(2)
                .max(want)
                .min(self.limit);
            self.buf.reserve_exact(cap - self.buf.len());
        }
        if chunk.len() <= room {
            self.buf.extend_from_slice(chunk);
            true
        } else {
            self.buf.extend_from_slice(&chunk[..room]);
            false
        }
    }

    /// The bytes read.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Where a redirect points, as `host[:port]` only (never the path or userinfo, which may hold secrets); the
/// `Location` may be relative to the request URL.
fn redirect_target(request: &reqwest::Url, headers: &HeaderMap) -> String {
    let Some(location) = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return "no Location header".into();
    };
    match request.join(location) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => "a Location without a host".into(),
        },
        Err(_) => "an unparsable Location".into(),
    }
}

/// A sentence for the TLS verification failures whose rustls name alone does not tell what to change.
fn tls_hint(message: &str) -> Option<&'static str> {
    if message.contains("CaUsedAsEndEntity") {
        Some("the server presents a CA certificate as its own: give the server a certificate signed by that CA and set `ca_cert` to the CA")
    } else if message.contains("UnknownIssuer") {
        Some("the server certificate is not signed by `ca_cert` nor by a built-in root: set `ca_cert` to the CA that signed the server certificate (not the server certificate itself)")
    } else if message.contains("NotValidForName") {
        Some("the server certificate does not name the host of `url`: use a host the certificate names")
    } else {
        None
    }
}

/// `{"acknowledged": true}` and friends; extra fields are ignored.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Acknowledged {
    #[serde(default)]
    pub acknowledged: bool,
}

/// Percent-encodes one path segment (index and pattern names are plain, but never trust that).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'*' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A field every version writes, kept as `Option` for the types' other users: absent or `null` is an error (an
/// answer without it is not the endpoint's answer), never `None`.
fn required<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// A list decoded without spare capacity: the snapshot keeps every follower's and leader shard's stats until the
/// next poll, and a `Vec` grown to 5 shards holds room for 8 (to 1 shard copy, room for 4).
fn shrunk<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut v = Vec::<T>::deserialize(d)?;
    v.shrink_to_fit();
    Ok(v)
}

/// A `null` field read as its default (some versions send `null` for an empty list).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_is_not_utf8_or_not_json_says_which() {
        assert_eq!(
            decode::<Vec<String>>(b"[\"a\xc3\xa9\"]").unwrap(),
            ["a\u{e9}"]
        );
        let e = decode::<Vec<String>>(b"[\"a\xff\"]").unwrap_err();
        assert!(e.starts_with("the body is not UTF-8: invalid utf-8"), "{e}");
        let e = decode::<Vec<String>>(b"<html>").unwrap_err();
        assert!(e.contains("expected value at line 1 column 1"), "{e}");
    }

    #[test]
    fn utf8_checked_in_chunks_reads_as_the_whole_body_check() {
        let bodies: [&[u8]; 8] = [
            "{\"a\":\"\u{e9}\u{20ac}\u{1f600}x\"}".as_bytes(),
            b"[\"a\xff\"]",
            b"[\"\xe2\x82\"]",
            b"[\"\xf0\x9f\x98",
            b"\xc3",
            b"ab\xed\xa0\x80",
            b"\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
            b"\xe2\x82\xac\xc3(",
        ];
        for body in bodies {
            let whole = std::str::from_utf8(body)
                .map(|_| ())
                .map_err(|e| format!("the body is not UTF-8: {e}"));
            // Every split into two and three chunks, empty chunks included.
            for i in 0..=body.len() {
                for j in i..=body.len() {
                    let mut check = Utf8Check::default();
                    let got = [&body[..i], &body[i..j], &body[j..]]
                        .iter()
                        .try_for_each(|c| check.feed(c))
                        .and_then(|()| check.finish());
                    assert_eq!(got, whole, "{body:?} split at {i}, {j}");
                }
            }
        }
    }

    /// Serves `answers` in order, one per connection: `(with a content-length, body)`; without a length the
    /// body ends where the connection closes.
    fn serve(answers: Vec<(bool, Vec<u8>)>) -> u16 {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for (with_length, body) in answers {
                let Ok((mut s, _)) = l.accept() else { return };
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let length = match with_length {
                    true => format!("content-length: {}\r\n", body.len()),
                    false => String::new(),
                };
                let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n");
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            }
        });
        port
    }

    #[tokio::test]
    async fn a_large_body_decoded_as_it_arrives_reads_as_one_read_whole() {
        // 2,048 strings of 1 KiB, each ending in a character of 3 bytes: 2 MiB, many chunks.
        let item = format!("\"{}\u{20ac}\"", "x".repeat(1021));
        let items = vec![item; 2 << 10];
        let valid = format!("[{}]", items.join(",")).into_bytes();
        let mut not_utf8 = valid.clone();
        // Broken JSON first, then a byte that is not UTF-8: the whole-body check reports the UTF-8.
        not_utf8[1] = b'x';
        not_utf8[(3 << 20) / 2] = 0xff;
        let mut broken = valid.clone();
        broken[(3 << 20) / 2] = b'\n';
        let mut too_large = valid.clone();
        too_large.extend_from_slice(&vec![b' '; 1 << 20]);
        let port = serve(vec![
            (true, valid.clone()),
            (false, not_utf8.clone()),
            (false, broken.clone()),
            (false, too_large),
            (false, valid.clone()),
        ]);
        let cfg = crate::config::from_toml_str(&format!(
            "[clusters.c]\nurl = \"http://127.0.0.1:{port}\"\ntimeout = \"20s\"\nmax_response_size = \"2500kb\"\n"
        ))
        .unwrap();
        let mut client = EsClient::new(&cfg.clusters["c"]).unwrap();
        client.stream_decode_bytes = 1 << 20;
        let get =
            || client.request::<Vec<String>>(Method::GET, Endpoint::CcrStats, "_ccr/stats", None);
        let whole = decode::<Vec<String>>(&valid).unwrap();
        // With a length, then without (the latest body's length stands in for it).
        assert_eq!(get().await.unwrap(), whole);
        for body in [&not_utf8, &broken] {
            let want = decode::<Vec<String>>(body).unwrap_err();
            match get().await.unwrap_err() {
                EsError::Decode { message, .. } => assert_eq!(message, want),
                e => panic!("{e}"),
            }
        }
        assert!(matches!(
            get().await.unwrap_err(),
            EsError::ResponseTooLarge { limit, .. } if limit == 2500 << 10
        ));
        assert_eq!(get().await.unwrap(), whole);
    }

    /// ES's include-only `filter_path` (`FilterPathBasedFilter` with `inclusive == true`): `*` matches any one
    /// name, arrays are traversed, a fully matched subtree is kept whole, and an object or array the filter
    /// emptied is dropped (`{}` when nothing is left).
    fn es_filter(v: &serde_json::Value, paths: &[Vec<&str>]) -> Option<serde_json::Value> {
        use serde_json::Value;
        if paths.iter().any(Vec::is_empty) {
            return Some(v.clone());
        }
        match v {
            Value::Object(m) => {
                let out: serde_json::Map<String, Value> = m
                    .iter()
                    .filter_map(|(k, child)| {
                        let next: Vec<Vec<&str>> = paths
                            .iter()
                            .filter(|p| p[0] == "*" || p[0] == k)
                            .map(|p| p[1..].to_vec())
                            .collect();
                        (!next.is_empty())
                            .then(|| es_filter(child, &next))
                            .flatten()
                            .map(|f| (k.clone(), f))
                    })
                    .collect();
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(items) => {
                let kept: Vec<Value> = items.iter().filter_map(|i| es_filter(i, paths)).collect();
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            _ => None,
        }
    }

    /// Decodes `fixture` whole and through `T::FILTER_PATH`; both must decode to the same value.
    fn same_through_filter<T: Filtered + Serialize>(fixture: &str) {
        let full: serde_json::Value =
            serde_json::from_str(&crate::testing::fixture_text(fixture)).unwrap();
        let paths: Vec<Vec<&str>> = T::FILTER_PATH
            .split(',')
            .map(|p| p.split('.').collect())
            .collect();
        let filtered = es_filter(&full, &paths).unwrap_or_else(|| serde_json::json!({}));
        let a = serde_json::to_value(serde_json::from_value::<T>(full.clone()).unwrap()).unwrap();
        let b = serde_json::to_value(
            serde_json::from_value::<T>(filtered.clone())
                .unwrap_or_else(|e| panic!("{fixture} filtered: {e}: {filtered}")),
        )
        .unwrap();
        assert_eq!(a, b, "{fixture}: filter_path loses a field the type reads");
        assert!(
            T::FILTER_PATH
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_.,*".contains(&c)),
            "{} needs escaping",
            T::FILTER_PATH
        );
    }

    #[test]
    fn filter_paths_keep_every_field_the_types_read() {
        same_through_filter::<RecoveryResponse>("recovery_response_ccr_restore.reconstructed.json");
        for f in [
            "ccr_stats_response_8x.json",
            "versions/ccr_stats_response_6.8.json",
            "versions/ccr_stats_response_7.10.json",
            "versions/ccr_stats_response_9.x.json",
        ] {
            same_through_filter::<CcrStatsResponse>(f);
        }
        for f in [
            "ccr_follow_info_response_active_8x.json",
            "ccr_follow_info_response_paused_8x.json",
            "versions/follow_info_response_6.8.json",
        ] {
            same_through_filter::<FollowInfoResponse>(f);
            same_through_filter::<FollowStatuses>(f);
            // The poll's read holds what the full one does, but the parameters.
            let mut full: FollowInfoResponse = crate::testing::fixture(f);
            let statuses: FollowStatuses = crate::testing::fixture(f);
            full.follower_indices
                .iter_mut()
                .for_each(|i| i.parameters = None);
            assert_eq!(
                serde_json::to_value(&statuses).unwrap(),
                serde_json::to_value(&full).unwrap(),
                "{f}"
            );
        }
        for f in [
            "remote_info_response_sniff_8x.json",
            "remote_info_response_proxy_apikey_8x.json",
            "remote_info_response_proxy_apikey_observed_8x.json",
            "versions/remote_info_response_6.8.json",
            "versions/remote_info_response_7.10.json",
            "versions/remote_info_response_7.17.json",
        ] {
            same_through_filter::<RemoteInfoResponse>(f);
        }
        for f in [
            "ccr_auto_follow_get_response_8x.json",
            "ccr_auto_follow_get_response_6x.json",
        ] {
            same_through_filter::<AutoFollowPatternsResponse>(f);
        }
        same_through_filter::<RootInfo>("root_info_response_9x.json");
        same_through_filter::<LicenseResponse>("license_get_response_trial.json");
        same_through_filter::<IndexSettingsResponse>(
            "indices_get_settings_follower.reconstructed.json",
        );
        same_through_filter::<LeasePeriodsResponse>(
            "indices_get_settings_lease_period.reconstructed.json",
        );
    }

    #[test]
    fn the_polls_follow_info_reads_no_follower_and_skips_parameters() {
        // ES drops the array its filter emptied.
        let none: FollowStatuses = serde_json::from_str("{}").unwrap();
        assert!(none.0.follower_indices.is_empty());
        let one: FollowStatuses = serde_json::from_str(
            r#"{"follower_indices":[{"follower_index":"f","remote_cluster":"r","leader_index":"l",
                "status":"active","parameters":{"max_read_request_operation_count":5120}}]}"#,
        )
        .unwrap();
        let f = &one.0.follower_indices[0];
        assert_eq!(
            (f.follower_index.as_str(), f.status, f.parameters.is_none()),
            ("f", FollowerStatus::Active, true)
        );
        assert!(serde_json::from_str::<FollowStatuses>(
            r#"{"follower_indices":[{"follower_index":"f"}]}"#
        )
        .is_err());
    }

    #[test]
    fn no_followers_reads_as_no_followers_through_the_filters() {
        let body = serde_json::json!({
            "auto_follow_stats": {"number_of_failed_follow_indices": 0,
                "number_of_failed_remote_cluster_state_requests": 0,
                "number_of_successful_follow_indices": 0, "recent_auto_follow_errors": [],
                "auto_followed_clusters": []},
            "follow_stats": {"indices": []}
        });
        let paths = |p: &'static str| -> Vec<Vec<&'static str>> {
            p.split(',').map(|p| p.split('.').collect()).collect()
        };
        let full = es_filter(&body, &paths(CcrStatsResponse::FILTER_PATH)).unwrap();
        let s: CcrStatsResponse = serde_json::from_value(full).unwrap();
        assert!(s.follow_stats.indices.is_empty());
        let info = serde_json::json!({"follower_indices": []});
        let f = es_filter(&info, &paths(FollowInfoResponse::FILTER_PATH)).unwrap();
        assert!(serde_json::from_value::<FollowInfoResponse>(f).is_ok());
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(seg("logs-2024.01"), "logs-2024.01");
        assert_eq!(seg("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn basic_auth_token_is_standard_base64() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64::engine::general_purpose::STANDARD.encode(i), o);
        }
    }

    #[test]
    fn endpoint_labels_are_unique_snake_case() {
        let labels: std::collections::BTreeSet<&str> =
            Endpoint::ALL.iter().map(Endpoint::as_str).collect();
        assert_eq!(labels.len(), Endpoint::ALL.len());
        assert!(labels
            .iter()
            .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
