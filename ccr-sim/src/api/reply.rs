//! The request and reply types shared by the Elasticsearch endpoints, the `/_sim/` control
//! endpoints and the HTTP server, so none of them needs another's module for its types.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::EsError;
use crate::util::percent_decode;

/// A parsed HTTP request.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: String,
    /// The request target as sent (path and query), for security messages.
    pub uri: String,
    pub segs: Vec<String>,
    pub query: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub authorization: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Accept` header, if any.
    pub accept: Option<String>,
}

impl Req {
    pub(crate) fn new(
        method: &str,
        uri: &str,
        body: Vec<u8>,
        authorization: Option<String>,
    ) -> Self {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let segs = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Self {
            method: method.to_ascii_uppercase(),
            uri: uri.to_string(),
            segs,
            query,
            body,
            authorization,
            content_type: None,
            accept: None,
        }
    }

    pub(crate) fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }

    /// A boolean query flag: present with no value or any value but `false`. The REST layer
    /// has already refused values other than empty, `true` and `false` for the route's boolean
    /// parameters (`Param::boolean`), so this reads them as ES's `paramAsBoolean` does.
    pub(crate) fn flag(&self, k: &str) -> bool {
        self.q(k).is_some_and(|v| v != "false")
    }

    /// The path without the query string (ES's `request.path()`).
    pub(crate) fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or("/")
    }
}

/// The body of a reply.
#[derive(Debug, Clone)]
pub(crate) enum ReplyBody {
    Json(Value),
    /// Already-serialised JSON (large stats bodies are written directly).
    Raw(String),
    Text(String),
    /// An error body: ES builds these with `newErrorBuilder`, which never applies `filter_path`.
    Error(Value),
    Empty,
    /// An answer Elasticsearch sends only later; the server awaits it without holding the
    /// world lock (see [`Deferred`]).
    Deferred(Box<Deferred>),
}

/// A reply that waits for simulated time to pass.
#[derive(Debug, Clone)]
pub(crate) enum Deferred {
    /// Send `reply` once the clock reaches `at_ms` (a request through a black-holed remote).
    At { at_ms: u64, reply: Box<Reply> },
    /// Put follow with `wait_for_active_shards` >= 1: answer once the restore of the follower
    /// (`uuid`) finished and its final resume ran, then once `wait` active shard copies are
    /// there or `timeout_ms` passed (ActiveShardsObserver).
    PutFollow {
        follower: String,
        uuid: String,
        /// Copies per shard to wait for; None for `all`.
        wait: Option<u64>,
        timeout_ms: u64,
    },
}

/// A reply before faults and formatting are applied.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: ReplyBody,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub(crate) fn json(v: Value) -> Self {
        Self {
            status: 200,
            body: ReplyBody::Json(v),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_status(status: u16, v: Value) -> Self {
        Self {
            status,
            body: ReplyBody::Json(v),
            headers: Vec::new(),
        }
    }

    pub(crate) fn ack() -> Self {
        Self::json(json!({"acknowledged": true}))
    }

    /// An error body that is not an exception (`createSimpleErrorResponse`,
    /// `{"error": "...", "status": N}`, and the no-handler body): never filtered.
    pub(crate) fn error_body(status: u16, v: Value) -> Self {
        Self {
            status,
            body: ReplyBody::Error(v),
            headers: Vec::new(),
        }
    }

    pub(crate) fn error(e: &EsError) -> Self {
        let mut r = Self::error_body(e.status, e.to_body());
        if let Some(h) = &e.header {
            match &**h {
                Value::Array(items) => {
                    for i in items {
                        if let Some(s) = i.as_str() {
                            r.headers.push(("WWW-Authenticate".into(), s.into()));
                        }
                    }
                }
                Value::String(s) => r.headers.push(("WWW-Authenticate".into(), s.clone())),
                _ => {}
            }
        }
        r
    }

    /// A reply the server sends later.
    pub(crate) fn deferred(d: Deferred) -> Self {
        Self {
            status: 200,
            body: ReplyBody::Deferred(Box::new(d)),
            headers: Vec::new(),
        }
    }

    /// The body as JSON: `Null` for text, empty and unparsable bodies (the Rust API returns
    /// control and request results as JSON).
    pub(crate) fn json_body(&self) -> Value {
        match &self.body {
            ReplyBody::Json(v) | ReplyBody::Error(v) => v.clone(),
            ReplyBody::Raw(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }
}
