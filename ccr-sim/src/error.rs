//! Errors: Elasticsearch error bodies the simulator sends, and the typed errors of its Rust API.

use serde_json::{json, Map, Value};

/// An Elasticsearch exception as it appears on the wire (contract §0.1).
#[derive(Clone, Debug, PartialEq)]
pub struct EsError {
    /// HTTP status (also the body's `status`).
    pub status: u16,
    /// Snake-case exception type, e.g. `illegal_argument_exception`.
    pub kind: String,
    /// The exception message.
    pub reason: String,
    /// Extra keys written beside `type` and `reason` (without the `es.` prefix).
    pub metadata: Vec<(String, Value)>,
    /// The nested cause, if any.
    pub caused_by: Option<Box<EsError>>,
    /// Response headers carried by security exceptions (`WWW-Authenticate`).
    pub header: Option<Box<Value>>,
    /// False for causes that are not Elasticsearch exceptions (e.g. a JSON parser error), which
    /// never become the `root_cause`.
    pub es_exception: bool,
}

impl EsError {
    /// An exception with a status, type and reason.
    pub fn new(status: u16, kind: &str, reason: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.to_string(),
            reason: reason.into(),
            metadata: Vec::new(),
            caused_by: None,
            header: None,
            es_exception: true,
        }
    }

    /// Adds a metadata key.
    pub fn meta(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.push((key.to_string(), value.into()));
        self
    }

    /// Sets the cause.
    pub fn caused_by(mut self, cause: EsError) -> Self {
        self.caused_by = Some(Box::new(cause));
        self
    }

    /// Marks this as a non-Elasticsearch exception (never a root cause).
    pub(crate) fn foreign(mut self) -> Self {
        self.es_exception = false;
        self
    }

    /// `illegal_argument_exception`, 400.
    pub fn illegal_argument(reason: impl Into<String>) -> Self {
        Self::new(400, "illegal_argument_exception", reason)
    }

    /// `resource_not_found_exception`, 404.
    pub fn resource_not_found(reason: impl Into<String>) -> Self {
        Self::new(404, "resource_not_found_exception", reason)
    }

    /// `index_not_found_exception` as thrown directly by CCR actions (no `resource.*` keys).
    pub fn index_not_found(index: &str) -> Self {
        Self::new(
            404,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        )
        .meta("index_uuid", "_na_")
        .meta("index", index)
    }

    /// `index_not_found_exception` as thrown by the index-name resolver.
    pub fn index_not_found_resolver(index: &str) -> Self {
        Self::new(
            404,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        )
        .meta("resource.type", "index_or_alias")
        .meta("resource.id", index)
        .meta("index_uuid", "_na_")
        .meta("index", index)
    }

    /// `index_closed_exception`, 400.
    pub fn index_closed(index: &str, uuid: &str) -> Self {
        Self::new(400, "index_closed_exception", "closed")
            .meta("index_uuid", uuid)
            .meta("index", index)
    }

    /// The local license does not allow CCR (403).
    pub fn license_noncompliant() -> Self {
        Self::new(
            403,
            "security_exception",
            "current license is non-compliant for [ccr]",
        )
        .meta("license.expired.feature", "ccr")
    }

    /// `action_request_validation_exception` listing every problem.
    pub fn validation(errors: &[String]) -> Self {
        let mut reason = String::from("Validation Failed: ");
        for (i, e) in errors.iter().enumerate() {
            reason.push_str(&format!("{}: {};", i + 1, e));
        }
        Self::new(400, "action_request_validation_exception", reason)
    }

    /// `parse_exception`, 400.
    pub fn parse(reason: impl Into<String>) -> Self {
        Self::new(400, "parse_exception", reason)
    }

    /// `x_content_parse_exception`, 400.
    pub fn x_content(reason: impl Into<String>) -> Self {
        Self::new(400, "x_content_parse_exception", reason)
    }

    /// `no_such_remote_cluster_exception`: 404 (see the README for why also before 7.11).
    pub fn no_such_remote(alias: &str) -> Self {
        Self::new(
            404,
            "no_such_remote_cluster_exception",
            format!("no such remote cluster: [{alias}]"),
        )
    }

    /// The deepest Elasticsearch exception in the cause chain (ES's `guessRootCauses`).
    pub fn root_cause(&self) -> &EsError {
        let mut deepest = self;
        let mut cur = self;
        while let Some(c) = &cur.caused_by {
            if c.es_exception {
                deepest = c;
            }
            cur = c;
        }
        deepest
    }

    fn fields(&self, with_cause: bool) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(self.kind.clone()));
        m.insert("reason".into(), Value::String(self.reason.clone()));
        for (k, v) in &self.metadata {
            m.insert(k.clone(), v.clone());
        }
        if let Some(h) = &self.header {
            m.insert("header".into(), json!({ "WWW-Authenticate": **h }));
        }
        if with_cause {
            if let Some(c) = &self.caused_by {
                m.insert("caused_by".into(), Value::Object(c.fields(true)));
            }
        }
        m
    }

    /// The cause object without the envelope (`{type, reason, ..., caused_by?}`), as used in
    /// `read_exceptions[].exception` and `fatal_exception`.
    pub fn to_cause_json(&self) -> Value {
        Value::Object(self.fields(true))
    }

    /// The full error envelope `{"error":{root_cause,...},"status":N}`.
    pub fn to_body(&self) -> Value {
        let mut error = Map::new();
        error.insert(
            "root_cause".into(),
            Value::Array(vec![Value::Object(self.root_cause().fields(false))]),
        );
        for (k, v) in self.fields(true) {
            error.insert(k, v);
        }
        json!({ "error": Value::Object(error), "status": self.status })
    }
}

impl std::fmt::Display for EsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.status, self.reason)
    }
}

impl std::error::Error for EsError {}

/// Errors of the simulator's Rust API and control plane.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No cluster of that name in this simulator.
    #[error("no simulated cluster named [{0}]")]
    UnknownCluster(String),
    /// Two clusters with one name.
    #[error("two simulated clusters are named [{0}]")]
    DuplicateCluster(String),
    /// Binding a listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The operation needs the deterministic clock.
    #[error("the simulator clock is real time; start it with deterministic_clock() to step it")]
    NotDeterministic,
    /// The request was answered with an Elasticsearch error.
    #[error("{0}")]
    Es(#[from] EsError),
    /// A bad argument to a control operation.
    #[error("{0}")]
    Invalid(String),
    /// A scenario file could not be read or parsed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

/// A scenario file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Reading the file failed.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown actions/fields.
    #[error("invalid scenario: {0}")]
    Parse(String),
    /// An event's `at` is not a duration.
    #[error("event {index}: invalid time [{at}]: {reason} (use e.g. \"30s\", \"2m\", \"1h 5m\")")]
    Time {
        /// 1-based event number.
        index: usize,
        /// The value given.
        at: String,
        /// Why it failed.
        reason: String,
    },
    /// An event names a cluster the simulator does not have.
    #[error("event {index}: no simulated cluster named [{cluster}]")]
    UnknownCluster {
        /// 1-based event number.
        index: usize,
        /// The name given.
        cluster: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_cause_is_deepest_es_exception() {
        let e = EsError::new(400, "status_exception", "top").caused_by(
            EsError::new(500, "exception", "mid").caused_by(EsError::new(
                500,
                "connect_transport_exception",
                "deep",
            )),
        );
        let body = e.to_body();
        assert_eq!(
            body["error"]["root_cause"][0]["type"],
            "connect_transport_exception"
        );
        assert_eq!(body["error"]["caused_by"]["caused_by"]["reason"], "deep");
        assert_eq!(body["status"], 400);
        let foreign = EsError::x_content("bad")
            .caused_by(EsError::new(500, "json_parse_exception", "x").foreign());
        assert_eq!(
            foreign.to_body()["error"]["root_cause"][0]["type"],
            "x_content_parse_exception"
        );
    }
}
