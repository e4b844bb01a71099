//! Mutating and administrative Elasticsearch calls (reconcile, policy, preflight), and the typed
//! classification of their errors ([`FailureReason`]).
//!
//! Every call goes through [`EsClient::request`], so timeouts, authentication and error mapping stay in one
//! place. Paths are built from validated names (config validation rejects characters that need escaping in
//! index names) but are still percent-encoded defensively.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::types::{ErrorCause, FollowInfoResponse};
use super::{Endpoint, EsClient, EsError};

/// `{"acknowledged": true}` and friends; extra fields are ignored.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Acknowledged {
    #[serde(default)]
    pub acknowledged: bool,
}

/// The answer of `PUT /{index}/_ccr/follow`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PutFollowResponse {
    #[serde(default)]
    pub follow_index_created: bool,
    #[serde(default)]
    pub follow_index_shards_acked: bool,
    #[serde(default)]
    pub index_following_started: bool,
}

/// `GET /_cluster/settings?flat_settings=true`: flat keys, values as Elasticsearch renders them (strings or
/// string arrays).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ClusterSettingsResponse {
    #[serde(default)]
    pub persistent: BTreeMap<String, Value>,
    #[serde(default)]
    pub transient: BTreeMap<String, Value>,
}

impl ClusterSettingsResponse {
    /// The effective value of a flat key (transient wins, as in Elasticsearch).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.transient.get(key).or_else(|| self.persistent.get(key))
    }
}

/// `GET /_ccr/auto_follow`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AutoFollowPatternsResponse {
    #[serde(default)]
    pub patterns: Vec<NamedAutoFollowPattern>,
}

/// One entry of `GET /_ccr/auto_follow`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct NamedAutoFollowPattern {
    pub name: String,
    #[serde(default)]
    pub pattern: AutoFollowPattern,
}

/// An auto-follow pattern as the cluster reports it. `active` is absent before 7.5; follow parameters appear
/// only when set explicitly.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct AutoFollowPattern {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default)]
    pub remote_cluster: String,
    #[serde(default)]
    pub leader_index_patterns: Vec<String>,
    #[serde(default)]
    pub leader_index_exclusion_patterns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_index_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    /// Follow parameters and any field this version does not know.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `GET /{index}/_settings?flat_settings=true`: flat settings by index (values are strings).
pub type IndexSettingsResponse = BTreeMap<String, IndexSettings>;

/// The settings of one index.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IndexSettings {
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
}

impl IndexSettings {
    /// A flat setting as a string.
    pub fn get(&self, key: &str) -> Option<String> {
        match self.settings.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// `GET /_license` (or `/_xpack/license` on 6.x).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LicenseResponse {
    #[serde(default)]
    pub license: LicenseInfo,
}

/// The license of a cluster.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct LicenseInfo {
    /// `basic`, `trial`, `platinum`, `enterprise`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `active`, `expired`, ...
    #[serde(default)]
    pub status: String,
}

impl LicenseInfo {
    /// True when the license allows CCR (platinum, enterprise or trial, and active; contract §0.4).
    pub fn allows_ccr(&self) -> bool {
        matches!(
            self.kind.to_ascii_lowercase().as_str(),
            "platinum" | "enterprise" | "trial"
        ) && self.status.eq_ignore_ascii_case("active")
    }
}

/// The request of `_security/user/_has_privileges`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HasPrivilegesRequest {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cluster: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<IndexPrivilegesCheck>,
}

/// Index privileges to check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexPrivilegesCheck {
    pub names: Vec<String>,
    pub privileges: Vec<String>,
}

/// The answer of `_security/user/_has_privileges`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct HasPrivilegesResponse {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub has_all_requested: bool,
    #[serde(default)]
    pub cluster: BTreeMap<String, bool>,
    /// index name -> privilege -> granted.
    #[serde(default)]
    pub index: BTreeMap<String, BTreeMap<String, bool>>,
}

impl HasPrivilegesResponse {
    /// Every privilege that was not granted, as `cluster:<p>` or `<index>:<p>`.
    pub fn missing(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .cluster
            .iter()
            .filter(|(_, ok)| !**ok)
            .map(|(p, _)| format!("cluster:{p}"))
            .collect();
        for (index, privs) in &self.index {
            out.extend(
                privs
                    .iter()
                    .filter(|(_, ok)| !**ok)
                    .map(|(p, _)| format!("{index}:{p}")),
            );
        }
        out
    }
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

impl EsClient {
    /// `PUT /_cluster/settings` with `body` (`{"persistent": {...}}`).
    pub async fn put_cluster_settings(&self, body: &Value) -> Result<Value, EsError> {
        self.request(
            Method::PUT,
            Endpoint::Other("put_cluster_settings"),
            "_cluster/settings?flat_settings=true",
            Some(body),
        )
        .await
    }

    /// `GET /_cluster/settings?flat_settings=true`.
    pub async fn get_cluster_settings(&self) -> Result<ClusterSettingsResponse, EsError> {
        self.request(
            Method::GET,
            Endpoint::Other("cluster_settings"),
            "_cluster/settings?flat_settings=true",
            None,
        )
        .await
    }

    /// `PUT /{follower_index}/_ccr/follow?wait_for_active_shards=1` with `body` (remote_cluster, leader_index,
    /// settings, follow parameters).
    pub async fn put_follow(
        &self,
        follower_index: &str,
        body: &Value,
    ) -> Result<PutFollowResponse, EsError> {
        self.request(
            Method::PUT,
            Endpoint::Other("put_follow"),
            &format!(
                "{}/_ccr/follow?wait_for_active_shards=1",
                seg(follower_index)
            ),
            Some(body),
        )
        .await
    }

    /// `POST /{index}/_ccr/pause_follow`.
    pub async fn pause_follow(&self, follower_index: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::Other("pause_follow"),
            &format!("{}/_ccr/pause_follow", seg(follower_index)),
            None,
        )
        .await
    }

    /// `POST /{index}/_ccr/resume_follow`, with follow parameters or none (the defaults).
    pub async fn resume_follow(
        &self,
        follower_index: &str,
        parameters: Option<&Value>,
    ) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::Other("resume_follow"),
            &format!("{}/_ccr/resume_follow", seg(follower_index)),
            parameters,
        )
        .await
    }

    /// `POST /{index}/_ccr/unfollow` (the follower must be paused and closed).
    pub async fn unfollow(&self, follower_index: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::Other("unfollow"),
            &format!("{}/_ccr/unfollow", seg(follower_index)),
            None,
        )
        .await
    }

    /// `POST /{index}/_close`.
    pub async fn close_index(&self, index: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::Other("close_index"),
            &format!("{}/_close", seg(index)),
            None,
        )
        .await
    }

    /// `POST /{index}/_open`.
    pub async fn open_index(&self, index: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::Other("open_index"),
            &format!("{}/_open", seg(index)),
            None,
        )
        .await
    }

    /// `POST /{leader_index}/_ccr/forget_follower`, sent to the **leader** cluster. `follower_cluster` is the
    /// follower's `cluster_name` (from `GET /`), not its configuration name.
    pub async fn forget_follower(
        &self,
        leader_index: &str,
        follower_cluster: &str,
        follower_index: &str,
        follower_index_uuid: &str,
        leader_remote_cluster: &str,
    ) -> Result<Value, EsError> {
        let body = serde_json::json!({
            "follower_cluster": follower_cluster,
            "follower_index": follower_index,
            "follower_index_uuid": follower_index_uuid,
            "leader_remote_cluster": leader_remote_cluster,
        });
        self.request(
            Method::POST,
            Endpoint::Other("forget_follower"),
            &format!("{}/_ccr/forget_follower", seg(leader_index)),
            Some(&body),
        )
        .await
    }

    /// `GET /{index}/_ccr/info` of one index (`follower_indices` is empty when it is not a follower).
    pub async fn follow_info(&self, index: &str) -> Result<FollowInfoResponse, EsError> {
        self.request(
            Method::GET,
            Endpoint::FollowInfo,
            &format!("{}/_ccr/info", seg(index)),
            None,
        )
        .await
    }

    /// `GET /_ccr/auto_follow`: every pattern by name. Some versions answer 404 when there is none; that is an
    /// empty map here.
    pub async fn get_auto_follow_patterns(
        &self,
    ) -> Result<BTreeMap<String, AutoFollowPattern>, EsError> {
        let r: Result<AutoFollowPatternsResponse, EsError> = self
            .request(
                Method::GET,
                Endpoint::Other("auto_follow_get"),
                "_ccr/auto_follow",
                None,
            )
            .await;
        match r {
            Ok(r) => Ok(r
                .patterns
                .into_iter()
                .map(|p| (p.name, p.pattern))
                .collect()),
            Err(e) if e.status() == Some(404) => Ok(BTreeMap::new()),
            Err(e) => Err(e),
        }
    }

    /// `GET /_ccr/auto_follow/{name}`; `None` when the pattern does not exist.
    pub async fn get_auto_follow_pattern(
        &self,
        name: &str,
    ) -> Result<Option<AutoFollowPattern>, EsError> {
        let r: Result<AutoFollowPatternsResponse, EsError> = self
            .request(
                Method::GET,
                Endpoint::Other("auto_follow_get"),
                &format!("_ccr/auto_follow/{}", seg(name)),
                None,
            )
            .await;
        match r {
            Ok(r) => Ok(r
                .patterns
                .into_iter()
                .find(|p| p.name == name)
                .map(|p| p.pattern)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /_ccr/auto_follow/{name}` (creates or overwrites).
    pub async fn put_auto_follow_pattern(
        &self,
        name: &str,
        body: &Value,
    ) -> Result<Acknowledged, EsError> {
        self.request(
            Method::PUT,
            Endpoint::Other("auto_follow_put"),
            &format!("_ccr/auto_follow/{}", seg(name)),
            Some(body),
        )
        .await
    }

    /// `DELETE /_ccr/auto_follow/{name}` (followers it created stay).
    pub async fn delete_auto_follow_pattern(&self, name: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::DELETE,
            Endpoint::Other("auto_follow_delete"),
            &format!("_ccr/auto_follow/{}", seg(name)),
            None,
        )
        .await
    }

    /// `POST /_ccr/auto_follow/{name}/pause` (7.5+; idempotent).
    pub async fn pause_auto_follow_pattern(&self, name: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::Other("auto_follow_pause"),
            &format!("_ccr/auto_follow/{}/pause", seg(name)),
            None,
        )
        .await
    }

    /// `POST /_ccr/auto_follow/{name}/resume` (7.5+; idempotent).
    pub async fn resume_auto_follow_pattern(&self, name: &str) -> Result<Acknowledged, EsError> {
        self.request(
            Method::POST,
            Endpoint::Other("auto_follow_resume"),
            &format!("_ccr/auto_follow/{}/resume", seg(name)),
            None,
        )
        .await
    }

    /// `GET /{indices}/_settings?flat_settings=true` for a comma-separated list of indices.
    pub async fn index_settings(&self, indices: &str) -> Result<IndexSettingsResponse, EsError> {
        self.request(
            Method::GET,
            Endpoint::Other("index_settings"),
            &format!("{}/_settings?flat_settings=true", seg(indices)),
            None,
        )
        .await
    }

    /// `GET /_license`, falling back to `GET /_xpack/license` (6.x) when the first answers 400 or 404.
    pub async fn license(&self) -> Result<LicenseInfo, EsError> {
        let first: Result<LicenseResponse, EsError> = self
            .request(Method::GET, Endpoint::Other("license"), "_license", None)
            .await;
        match first {
            Ok(r) => Ok(r.license),
            Err(e) if matches!(e.status(), Some(400 | 404)) => {
                let r: LicenseResponse = self
                    .request(
                        Method::GET,
                        Endpoint::Other("license"),
                        "_xpack/license",
                        None,
                    )
                    .await?;
                Ok(r.license)
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /_security/user/_has_privileges` (6.x: `/_xpack/security/user/_has_privileges`, tried when the
    /// first answers 400 or 404). An error means the cluster cannot tell (security off, no such API).
    pub async fn has_privileges(
        &self,
        req: &HasPrivilegesRequest,
    ) -> Result<HasPrivilegesResponse, EsError> {
        let body = serde_json::to_value(req).map_err(|e| EsError::Client {
            cluster: self.name().to_string(),
            message: format!("cannot encode the privileges request: {e}"),
        })?;
        let first: Result<HasPrivilegesResponse, EsError> = self
            .request(
                Method::POST,
                Endpoint::Other("has_privileges"),
                "_security/user/_has_privileges",
                Some(&body),
            )
            .await;
        match first {
            Err(e) if matches!(e.status(), Some(400 | 404)) => {
                self.request(
                    Method::POST,
                    Endpoint::Other("has_privileges"),
                    "_xpack/security/user/_has_privileges",
                    Some(&body),
                )
                .await
            }
            other => other,
        }
    }
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
    /// Anything else.
    Other,
}

impl FailureReason {
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

    fn status(code: u16, body: &str) -> EsError {
        let error = serde_json::from_str::<super::super::types::ErrorResponse>(body)
            .ok()
            .and_then(|e| e.error);
        EsError::Status {
            cluster: "follower".into(),
            endpoint: Endpoint::Other("put_follow"),
            status: code,
            error,
        }
    }

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/es/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn classifies_the_contract_errors() {
        let table: Vec<(EsError, FailureReason)> = vec![
            (
                status(
                    403,
                    &fixture("error_license_noncompliant_ccr.reconstructed.json"),
                ),
                FailureReason::License,
            ),
            (
                status(
                    400,
                    &fixture("error_remote_unreachable_license_unknown.reconstructed.json"),
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
                status(401, &fixture("error_401_missing_credentials_8x.json")),
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
                    &fixture("error_follower_index_exists.reconstructed.json"),
                ),
                FailureReason::NameConflict,
            ),
            (
                status(
                    400,
                    &fixture("error_leader_soft_deletes_disabled.reconstructed.json"),
                ),
                FailureReason::SoftDeletesDisabled,
            ),
            (
                status(
                    404,
                    &fixture("error_no_such_remote_cluster.reconstructed.json"),
                ),
                FailureReason::RemoteUnknown,
            ),
            (
                status(
                    400,
                    &fixture("error_remote_license_noncompliant.reconstructed.json"),
                ),
                FailureReason::RemoteLicense,
            ),
            (
                status(
                    403,
                    &fixture("error_403_unauthorized_put_follow.reconstructed.json"),
                ),
                FailureReason::Unauthorized,
            ),
            (
                status(
                    403,
                    &fixture("error_insufficient_privileges_leader.reconstructed.json"),
                ),
                FailureReason::Unauthorized,
            ),
            (
                status(
                    400,
                    &fixture("error_resume_follow_already_active_6x7x.json"),
                ),
                FailureReason::AlreadyDone,
            ),
            (
                status(
                    404,
                    &fixture("error_index_not_found_ccr_action.reconstructed.json"),
                ),
                FailureReason::IndexMissing,
            ),
            (
                status(
                    400,
                    &fixture("error_pause_already_paused.reconstructed.json"),
                ),
                FailureReason::WrongState,
            ),
            (
                status(
                    400,
                    &fixture("error_unfollow_not_closed.reconstructed.json"),
                ),
                FailureReason::WrongState,
            ),
            (
                status(
                    400,
                    &fixture("error_validation_missing_fields.reconstructed.json"),
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
    fn license_and_privileges_helpers() {
        let l: LicenseResponse =
            serde_json::from_str(&fixture("license_get_response_trial.json")).unwrap();
        assert!(l.license.allows_ccr());
        let basic = LicenseInfo {
            kind: "basic".into(),
            status: "active".into(),
        };
        assert!(!basic.allows_ccr());
        let expired = LicenseInfo {
            kind: "platinum".into(),
            status: "expired".into(),
        };
        assert!(!expired.allows_ccr());
        let hp: HasPrivilegesResponse = serde_json::from_str(
            r#"{"username":"u","has_all_requested":false,"cluster":{"manage_ccr":false,"monitor":true},
                "index":{"logs":{"read":true,"manage_follow_index":false}},"application":{}}"#,
        )
        .unwrap();
        assert_eq!(
            hp.missing(),
            vec![
                "cluster:manage_ccr".to_string(),
                "logs:manage_follow_index".to_string()
            ]
        );
    }

    #[test]
    fn auto_follow_patterns_parse_with_and_without_active() {
        for (f, active) in [
            ("ccr_auto_follow_get_response_8x.json", Some(true)),
            ("ccr_auto_follow_get_response_6x.json", None),
        ] {
            let r: AutoFollowPatternsResponse = serde_json::from_str(&fixture(f)).unwrap();
            assert!(!r.patterns.is_empty(), "{f}");
            assert_eq!(r.patterns[0].pattern.active, active, "{f}");
            assert!(!r.patterns[0].pattern.remote_cluster.is_empty(), "{f}");
        }
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(seg("logs-2024.01"), "logs-2024.01");
        assert_eq!(seg("a/b?c"), "a%2Fb%3Fc");
    }
}
