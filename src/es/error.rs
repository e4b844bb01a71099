//! Errors of Elasticsearch requests and their two bounded classifications: [`EsError::reason`] (the `reason`
//! label of `ccr_sentinel_request_errors_total`, by transport outcome) and [`classify`] (a [`FailureReason`] for
//! actions and blocked items, by what Elasticsearch said), with the one remediation text per reason
//! ([`FailureReason::fix`]).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::Endpoint;

/// Largest error-body excerpt kept in an error message.
const MAX_REASON_CHARS: usize = 300;

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
    /// The answer was a redirect, which is never followed (it would carry the credentials elsewhere).
    #[error("{cluster}: {endpoint}: HTTP {status} redirect to {location} refused: set the cluster's `url` to the address that answers")]
    Redirect {
        cluster: String,
        endpoint: Endpoint,
        status: u16,
        /// `scheme://host[:port]` of the `Location`, without path or credentials.
        location: String,
    },
    /// The answer was larger than the cluster's `max_response_size`; it was not read further.
    #[error(
        "{cluster}: {endpoint}: response larger than {limit} bytes refused (`max_response_size`)"
    )]
    ResponseTooLarge {
        cluster: String,
        endpoint: Endpoint,
        limit: usize,
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
    /// `not_found`, `http_4xx`, `http_5xx`, `decode`, `redirect`, `response_too_large`, `client`.
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
            EsError::Redirect { .. } => "redirect",
            EsError::ResponseTooLarge { .. } => "response_too_large",
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
            | EsError::Decode { endpoint, .. }
            | EsError::Redirect { endpoint, .. }
            | EsError::ResponseTooLarge { endpoint, .. } => Some(*endpoint),
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
            EsError::Decode { .. }
            | EsError::Redirect { .. }
            | EsError::ResponseTooLarge { .. }
            | EsError::Client { .. } => false,
        }
    }
}

/// An Elasticsearch error cause (`{"type":..,"reason":..,...}`); other metadata is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorCause {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<Box<ErrorCause>>,
    /// Metadata of the shard-changes failure when the leader no longer has the operations a follower asks for
    /// (`[from, to]`, ES 7.4+); its presence alone means the follower must be recreated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_operations_missing: Option<Box<serde_json::Value>>,
}

impl ErrorCause {
    /// `type: reason` on one line, for reason texts.
    pub fn summary(&self) -> String {
        match (&self.kind, &self.reason) {
            (Some(k), Some(r)) => format!("{k}: {r}"),
            (Some(k), None) => k.clone(),
            (None, Some(r)) => r.clone(),
            (None, None) => "unknown error".into(),
        }
    }

    /// True when this cause or a nested one carries `requested_operations_missing` metadata.
    pub fn operations_missing(&self) -> bool {
        self.requested_operations_missing.is_some()
            || self
                .caused_by
                .as_deref()
                .is_some_and(ErrorCause::operations_missing)
    }

    /// True when this cause or any nested cause mentions `needle` (lowercase) in its type or reason, ignoring
    /// case.
    pub fn mentions(&self, needle: &str) -> bool {
        let has = |s: &Option<String>| {
            s.as_deref()
                .is_some_and(|s| s.to_lowercase().contains(needle))
        };
        has(&self.kind)
            || has(&self.reason)
            || self
                .caused_by
                .as_deref()
                .is_some_and(|c| c.mentions(needle))
    }
}

/// The error envelope of a failed request (`{"error":{...},"status":N}`); 6.x may send `error` as a string.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrorResponse {
    #[serde(default, deserialize_with = "error_cause_or_string")]
    pub error: Option<ErrorCause>,
    #[serde(default)]
    pub status: Option<u16>,
}

fn error_cause_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ErrorCause>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Cause(ErrorCause),
        Text(String),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        Some(Either::Cause(c)) => Some(c),
        Some(Either::Text(t)) => Some(ErrorCause {
            reason: Some(t),
            ..Default::default()
        }),
        None => None,
    })
}

/// Why an action failed or an item is blocked: the `reason` label of `ccr_sentinel_reconcile_blocked` and the
/// error label of audit events. Bounded, stable, snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The remote alias is not configured on the follower cluster.
    RemoteUnknown,
    /// The remote is configured but cannot be reached (license state could not be determined).
    RemoteUnreachable,
    /// The remote is configured but `_remote/info` does not report it connected (planning).
    RemoteNotConnected,
    /// The leader index does not exist on the remote.
    LeaderMissing,
    /// The leader index does not have soft deletes enabled (6.x): a configuration problem.
    SoftDeletesDisabled,
    /// The local license does not allow CCR.
    License,
    /// The remote cluster's license does not allow CCR.
    RemoteLicense,
    /// The follower index name is taken by an index that is not a follower of the configured leader.
    NameConflict,
    /// 401: the daemon's credentials were rejected.
    Unauthenticated,
    /// 403: the user lacks a privilege.
    Unauthorized,
    /// The request was rejected as invalid (settings, parameters, mode).
    InvalidSettings,
    /// The target index does not exist.
    IndexMissing,
    /// The index is not a follower (pause/resume/unfollow on a regular index).
    NotFollower,
    /// The operation needs another state first (unfollow before close/pause, ...).
    WrongState,
    /// The cluster version does not support what the configuration asks.
    Unsupported,
    /// The target is already in the requested state (resume of an active follower).
    AlreadyDone,
    /// The follower's parameters differ from the configuration and `apply_parameter_changes` is off.
    ParameterDrift,
    /// Timeouts, connection problems, 5xx, 429: retry later.
    Unavailable,
    /// Waits for a step only an operator can do (installing a cross-cluster API key in the follower nodes'
    /// keystores).
    OperatorStep,
    /// Anything else.
    Other,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [FailureReason; 20] = [
        FailureReason::RemoteUnknown,
        FailureReason::RemoteUnreachable,
        FailureReason::RemoteNotConnected,
        FailureReason::LeaderMissing,
        FailureReason::SoftDeletesDisabled,
        FailureReason::License,
        FailureReason::RemoteLicense,
        FailureReason::NameConflict,
        FailureReason::Unauthenticated,
        FailureReason::Unauthorized,
        FailureReason::InvalidSettings,
        FailureReason::IndexMissing,
        FailureReason::NotFollower,
        FailureReason::WrongState,
        FailureReason::Unsupported,
        FailureReason::AlreadyDone,
        FailureReason::ParameterDrift,
        FailureReason::Unavailable,
        FailureReason::OperatorStep,
        FailureReason::Other,
    ];

    /// How an operator fixes it: the one remediation text, shown by reconcile next to a blocked item's error and
    /// by `ccr-sentinel check` for the same problem. `None` when there is nothing to tell beyond the error (the
    /// item is retried, or the error names the problem).
    pub fn fix(self) -> Option<&'static str> {
        Some(match self {
            FailureReason::SoftDeletesDisabled => "soft deletes cannot be turned on for an existing index: create a new leader index with `index.soft_deletes.enabled: true`, reindex into it (POST /_reindex), and follow the new index",
            FailureReason::License => "CCR needs an active platinum, enterprise or trial license on both clusters: install one or start a trial (POST /_license/start_trial?acknowledge=true)",
            FailureReason::RemoteLicense => "the leader cluster's license does not allow CCR: it needs an active platinum, enterprise or trial license too (install one there or start a trial: POST /_license/start_trial?acknowledge=true)",
            // The privileges of "Configure privileges for cross-cluster replication" in the Elasticsearch guide
            // (https://www.elastic.co/guide/en/elasticsearch/reference/current/_configure_privileges_for_cross_cluster_replication_2.html);
            // `monitor` on the follower cluster is for ccr-sentinel's own reads (`GET /`, `_license`).
            FailureReason::Unauthorized => "the user lacks a privilege: on the follower cluster, cluster `manage_ccr` (and `monitor` for ccr-sentinel's reads) and index `monitor`, `read`, `write`, `manage_follow_index` on the follower indices; on the leader cluster, cluster `read_ccr` and index `monitor`, `read` on the leader indices (with an API key, the leader privileges belong to the key on the follower cluster)",
            FailureReason::Unauthenticated => "the credentials were rejected: check `username` with `password_file`, or `api_key_file`",
            FailureReason::LeaderMissing => "create the leader index (or fix `leader_index` in the configuration)",
            FailureReason::RemoteUnreachable | FailureReason::RemoteNotConnected => "check that the seeds are the leader's transport addresses (port 9300, not 9200), reachable from every follower node",
            FailureReason::NameConflict => "ccr-sentinel never deletes or overwrites an index: choose another `follower_index` in the configuration, or remove the existing index yourself (unfollow it first if it is a follower)",
            FailureReason::OperatorStep => "install the cross-cluster API key in the keystore of every follower node (`bin/elasticsearch-keystore add cluster.remote.<alias>.credentials`); ccr-sentinel then reloads the secure settings (POST /_nodes/reload_secure_settings) on each pass; the item's message has the exact commands",
            _ => return None,
        })
    }

    /// The label value.
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureReason::RemoteUnknown => "remote_unknown",
            FailureReason::RemoteUnreachable => "remote_unreachable",
            FailureReason::RemoteNotConnected => "remote_not_connected",
            FailureReason::LeaderMissing => "leader_missing",
            FailureReason::SoftDeletesDisabled => "soft_deletes_disabled",
            FailureReason::License => "license",
            FailureReason::RemoteLicense => "remote_license",
            FailureReason::NameConflict => "name_conflict",
            FailureReason::Unauthenticated => "unauthenticated",
            FailureReason::Unauthorized => "unauthorized",
            FailureReason::InvalidSettings => "invalid_settings",
            FailureReason::IndexMissing => "index_missing",
            FailureReason::NotFollower => "not_follower",
            FailureReason::WrongState => "wrong_state",
            FailureReason::Unsupported => "unsupported",
            FailureReason::AlreadyDone => "already_done",
            FailureReason::ParameterDrift => "parameter_drift",
            FailureReason::Unavailable => "unavailable",
            FailureReason::OperatorStep => "operator_step",
            FailureReason::Other => "other",
        }
    }

    /// A problem only a person can fix (configuration, license, conflict, privileges): retrying soon cannot
    /// help, so such items back off at the longest interval straight away.
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            FailureReason::SoftDeletesDisabled
                | FailureReason::License
                | FailureReason::RemoteLicense
                | FailureReason::NameConflict
                | FailureReason::Unauthenticated
                | FailureReason::Unauthorized
                | FailureReason::InvalidSettings
                | FailureReason::Unsupported
                | FailureReason::ParameterDrift
                | FailureReason::OperatorStep
        )
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Collects the `type: reason` texts of a cause chain, lowercased, for matching.
fn chain_text(c: &ErrorCause) -> String {
    let mut out = String::new();
    let mut cur = Some(c);
    while let Some(x) = cur {
        out.push_str(&x.kind.clone().unwrap_or_default().to_lowercase());
        out.push(' ');
        out.push_str(&x.reason.clone().unwrap_or_default().to_lowercase());
        out.push('\n');
        cur = x.caused_by.as_deref();
    }
    out
}

/// Classifies an Elasticsearch error from a CCR or settings call (contract §0.4, §0.5, §1–§4, §8, §11, §18).
pub fn classify(e: &EsError) -> FailureReason {
    let status = match e {
        EsError::Status { status, .. } => *status,
        _ if e.is_retryable() => return FailureReason::Unavailable,
        _ => return FailureReason::Other,
    };
    let text = match e {
        EsError::Status { error: Some(c), .. } => chain_text(c),
        _ => String::new(),
    };
    let has = |s: &str| text.contains(s);
    if status == 401 {
        return FailureReason::Unauthenticated;
    }
    if has("non-compliant for [ccr]") || has("license.expired.feature") {
        return FailureReason::License;
    }
    if status == 403 {
        return FailureReason::Unauthorized;
    }
    if has("no_such_remote_cluster_exception")
        || has("no such remote cluster")
        || has("unknown cluster alias")
    {
        return FailureReason::RemoteUnknown;
    }
    if has("is not licensed for [ccr]") {
        return FailureReason::RemoteLicense;
    }
    if has("license state of the remote cluster") || has("connect_transport_exception") {
        return FailureReason::RemoteUnreachable;
    }
    if has("does not have soft deletes enabled") {
        return FailureReason::SoftDeletesDisabled;
    }
    if has("resource_already_exists_exception") && has("task with id") {
        return FailureReason::AlreadyDone;
    }
    if has("cannot restore index")
        || has("resource_already_exists_exception")
        || has("already exists")
    {
        return FailureReason::NameConflict;
    }
    if has("index_not_found_exception") || has("no such index") {
        return FailureReason::IndexMissing;
    }
    if has("is not a follower index") || has("does not have ccr metadata") {
        return FailureReason::NotFollower;
    }
    if has("has not been closed")
        || has("has not been paused")
        || has("no shard follow tasks")
        || has("must be open")
    {
        return FailureReason::WrongState;
    }
    if has("no handler found") {
        return FailureReason::Unsupported;
    }
    if status == 400
        && (has("unknown setting")
            || has("could override leader settings")
            || has("validation failed")
            || has("illegal_argument_exception")
            || has("cannot be used with the configured")
            || has("not recognized")
            || has("x_content_parse_exception")
            || has("parse_exception"))
    {
        return FailureReason::InvalidSettings;
    }
    if e.is_retryable() {
        FailureReason::Unavailable
    } else {
        FailureReason::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixture, fixture_text};

    fn status(code: u16, body: &str) -> EsError {
        let error = serde_json::from_str::<ErrorResponse>(body)
            .ok()
            .and_then(|e| e.error);
        EsError::Status {
            cluster: "follower".into(),
            endpoint: Endpoint::PutFollow,
            status: code,
            error,
        }
    }

    #[test]
    fn every_fix_is_in_the_readme_reason_table() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let table: Vec<&str> = readme
            .lines()
            .skip_while(|l| !l.starts_with("| reason | meaning | what to do |"))
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert!(!table.is_empty(), "README.md has no reason table");
        for r in FailureReason::ALL {
            if let Some(fix) = r.fix() {
                let row = table
                    .iter()
                    .find(|l| l.starts_with(&format!("| `{}` |", r.as_str())))
                    .unwrap_or_else(|| panic!("README.md has no reason row for `{r}`"));
                assert!(
                    row.contains(fix),
                    "README.md row of `{r}` lacks its fix: {fix}"
                );
            }
        }
        let labels: std::collections::BTreeSet<&str> = FailureReason::ALL
            .iter()
            .map(FailureReason::as_str)
            .collect();
        assert_eq!(labels.len(), FailureReason::ALL.len());
    }

    #[test]
    fn classifies_the_contract_errors() {
        let table: Vec<(EsError, FailureReason)> = vec![
            (
                status(
                    403,
                    &fixture_text("error_license_noncompliant_ccr.reconstructed.json"),
                ),
                FailureReason::License,
            ),
            (
                status(
                    400,
                    &fixture_text("error_remote_unreachable_license_unknown.reconstructed.json"),
                ),
                FailureReason::RemoteUnreachable,
            ),
            (
                status(
                    404,
                    r#"{"error":{"type":"no_such_remote_cluster_exception","reason":"no such remote cluster: [x]"},"status":404}"#,
                ),
                FailureReason::RemoteUnknown,
            ),
            (
                status(
                    400,
                    r#"{"error":{"type":"illegal_argument_exception","reason":"unknown cluster alias [x]"},"status":400}"#,
                ),
                FailureReason::RemoteUnknown,
            ),
            (
                status(
                    400,
                    r#"{"error":{"type":"status_exception","reason":"can not fetch remote index [l:foo] metadata as the remote cluster [l] is not licensed for [ccr]; the license mode [BASIC] on cluster [l] does not enable [ccr]"},"status":400}"#,
                ),
                FailureReason::RemoteLicense,
            ),
            (
                status(
                    404,
                    r#"{"error":{"type":"index_not_found_exception","reason":"no such index [foo]"},"status":404}"#,
                ),
                FailureReason::IndexMissing,
            ),
            (
                status(
                    400,
                    r#"{"error":{"type":"illegal_argument_exception","reason":"leader index [foo] does not have soft deletes enabled"},"status":400}"#,
                ),
                FailureReason::SoftDeletesDisabled,
            ),
            (
                status(
                    500,
                    r#"{"error":{"type":"snapshot_restore_exception","reason":"[_ccr_l:_latest_/_latest_] cannot restore index [bar] because an open index with same name already exists in the cluster."},"status":500}"#,
                ),
                FailureReason::NameConflict,
            ),
            (
                status(
                    403,
                    r#"{"error":{"type":"security_exception","reason":"action [indices:admin/xpack/ccr/put_follow] is unauthorized for user [u]"},"status":403}"#,
                ),
                FailureReason::Unauthorized,
            ),
            (
                status(401, &fixture_text("error_401_missing_credentials_8x.json")),
                FailureReason::Unauthenticated,
            ),
            (
                status(
                    400,
                    r#"{"error":{"type":"illegal_argument_exception","reason":"unknown setting [index.foo]"},"status":400}"#,
                ),
                FailureReason::InvalidSettings,
            ),
            (
                status(
                    400,
                    r#"{"error":{"type":"illegal_argument_exception","reason":"index [bar] is not a follower index"},"status":400}"#,
                ),
                FailureReason::NotFollower,
            ),
            (
                status(
                    400,
                    r#"{"error":{"type":"illegal_argument_exception","reason":"no shard follow tasks for [bar]"},"status":400}"#,
                ),
                FailureReason::WrongState,
            ),
            (
                status(
                    500,
                    &fixture_text("error_follower_index_exists.reconstructed.json"),
                ),
                FailureReason::NameConflict,
            ),
            (
                status(
                    400,
                    &fixture_text("error_leader_soft_deletes_disabled.reconstructed.json"),
                ),
                FailureReason::SoftDeletesDisabled,
            ),
            (
                status(
                    404,
                    &fixture_text("error_no_such_remote_cluster.reconstructed.json"),
                ),
                FailureReason::RemoteUnknown,
            ),
            (
                status(
                    400,
                    &fixture_text("error_remote_license_noncompliant.reconstructed.json"),
                ),
                FailureReason::RemoteLicense,
            ),
            (
                status(
                    403,
                    &fixture_text("error_403_unauthorized_put_follow.reconstructed.json"),
                ),
                FailureReason::Unauthorized,
            ),
            (
                status(
                    403,
                    &fixture_text("error_insufficient_privileges_leader.reconstructed.json"),
                ),
                FailureReason::Unauthorized,
            ),
            (
                status(
                    400,
                    &fixture_text("error_resume_follow_already_active_6x7x.json"),
                ),
                FailureReason::AlreadyDone,
            ),
            (
                status(
                    404,
                    &fixture_text("error_index_not_found_ccr_action.reconstructed.json"),
                ),
                FailureReason::IndexMissing,
            ),
            (
                status(
                    400,
                    &fixture_text("error_pause_already_paused.reconstructed.json"),
                ),
                FailureReason::WrongState,
            ),
            (
                status(
                    400,
                    &fixture_text("error_unfollow_not_closed.reconstructed.json"),
                ),
                FailureReason::WrongState,
            ),
            (
                status(
                    400,
                    &fixture_text("error_validation_missing_fields.reconstructed.json"),
                ),
                FailureReason::InvalidSettings,
            ),
            (
                status(
                    503,
                    r#"{"error":{"type":"unavailable","reason":"x"},"status":503}"#,
                ),
                FailureReason::Unavailable,
            ),
            (
                EsError::Timeout {
                    cluster: "c".into(),
                    endpoint: Endpoint::Root,
                    timeout: std::time::Duration::from_secs(1),
                },
                FailureReason::Unavailable,
            ),
            (
                status(
                    400,
                    r#"{"error":"no handler found for uri [/_license] and method [GET]","status":400}"#,
                ),
                FailureReason::Unsupported,
            ),
        ];
        for (e, want) in table {
            assert_eq!(classify(&e), want, "{e}");
        }
    }

    #[test]
    fn error_envelopes_parse() {
        for f in [
            "error_license_noncompliant_ccr.reconstructed.json",
            "error_follow_stats_no_tasks.reconstructed.json",
            "error_401_missing_credentials_8x.json",
            "error_401_missing_credentials_6x7x.json",
        ] {
            let e: ErrorResponse = fixture(f);
            assert!(e.error.unwrap().kind.is_some(), "{f}");
        }
    }

    #[test]
    fn fatal_exception_metadata_of_lost_history_is_kept() {
        // The shape of ES 7.4+ ShardChangesAction's ResourceNotFoundException as a shard's fatal_exception.
        let body = r#"{"type":"resource_not_found_exception","reason":"Operations are no longer available for
            replicating. Existing retention leases [...]","requested_operations_missing":["12","40"]}"#;
        let c: ErrorCause = serde_json::from_str(&body.replace('\n', " ")).unwrap();
        assert!(c.operations_missing());
        let plain: ErrorCause = serde_json::from_str(r#"{"type":"x","reason":"y"}"#).unwrap();
        assert!(!plain.operations_missing());
    }
}
