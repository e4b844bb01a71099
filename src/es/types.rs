//! Response types of the Elasticsearch APIs the daemon reads, tolerant of every version from 6.7 to 9.x.
//!
//! Rules that keep them tolerant (see docs/es-contract.md §5–§10, §17, §20):
//! - no `deny_unknown_fields`: newer versions add fields;
//! - every field that some version omits is `Option` or `#[serde(default)]`;
//! - checkpoints and `time_since_last_read_millis` may be `-1` ("none yet"), so they are `i64`;
//! - `fatal_exception` is per shard; `read_exceptions` may be empty or absent;
//! - `_remote/info` has sniff and proxy modes, no `mode` before 7.7, and `http_addresses` on 6.x.
//!
//! All types also `Serialize`, so `/status` and `status --format json` can show them; none carries a secret
//! (`_remote/info`'s `cluster_credentials` is deliberately not modelled).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

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

/// `GET /_ccr/stats`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CcrStatsResponse {
    #[serde(default)]
    pub auto_follow_stats: Option<AutoFollowStats>,
    #[serde(default)]
    pub follow_stats: FollowStatsResponse,
}

/// `auto_follow_stats` of `GET /_ccr/stats`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AutoFollowStats {
    #[serde(default)]
    pub number_of_failed_follow_indices: i64,
    #[serde(default)]
    pub number_of_failed_remote_cluster_state_requests: i64,
    #[serde(default)]
    pub number_of_successful_follow_indices: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub recent_auto_follow_errors: Vec<AutoFollowError>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub auto_followed_clusters: Vec<AutoFollowedCluster>,
}

/// One entry of `recent_auto_follow_errors` (`timestamp` is missing in early 6.x).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AutoFollowError {
    #[serde(default)]
    pub leader_index: Option<String>,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub auto_follow_exception: Option<ErrorCause>,
}

/// One entry of `auto_followed_clusters`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AutoFollowedCluster {
    #[serde(default)]
    pub cluster_name: Option<String>,
    #[serde(default)]
    pub time_since_last_check_millis: Option<i64>,
    #[serde(default)]
    pub last_seen_metadata_version: Option<i64>,
}

/// `GET /{index}/_ccr/stats`, and `follow_stats` of `GET /_ccr/stats`. Paused followers are absent.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FollowStatsResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub indices: Vec<FollowerIndexStats>,
}

/// The follow stats of one follower index.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FollowerIndexStats {
    pub index: String,
    /// Sum over shards of leader minus follower global checkpoint; ES 8.13+ only.
    #[serde(default)]
    pub total_global_checkpoint_lag: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub shards: Vec<ShardFollowStats>,
}

/// The follow task status of one shard (ShardFollowNodeTaskStatus). Counters reset when the task restarts.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ShardFollowStats {
    #[serde(default)]
    pub remote_cluster: String,
    #[serde(default)]
    pub leader_index: String,
    #[serde(default)]
    pub follower_index: String,
    #[serde(default)]
    pub shard_id: i64,
    #[serde(default = "minus_one")]
    pub leader_global_checkpoint: i64,
    #[serde(default = "minus_one")]
    pub leader_max_seq_no: i64,
    #[serde(default = "minus_one")]
    pub follower_global_checkpoint: i64,
    #[serde(default = "minus_one")]
    pub follower_max_seq_no: i64,
    #[serde(default = "minus_one")]
    pub last_requested_seq_no: i64,
    #[serde(default)]
    pub outstanding_read_requests: i64,
    #[serde(default)]
    pub outstanding_write_requests: i64,
    #[serde(default)]
    pub write_buffer_operation_count: i64,
    #[serde(default)]
    pub write_buffer_size_in_bytes: i64,
    #[serde(default)]
    pub follower_mapping_version: i64,
    #[serde(default)]
    pub follower_settings_version: i64,
    /// 7.3+.
    #[serde(default)]
    pub follower_aliases_version: Option<i64>,
    #[serde(default)]
    pub total_read_time_millis: i64,
    #[serde(default)]
    pub total_read_remote_exec_time_millis: i64,
    #[serde(default)]
    pub successful_read_requests: i64,
    #[serde(default)]
    pub failed_read_requests: i64,
    #[serde(default)]
    pub operations_read: i64,
    #[serde(default)]
    pub bytes_read: i64,
    #[serde(default)]
    pub total_write_time_millis: i64,
    #[serde(default)]
    pub successful_write_requests: i64,
    #[serde(default)]
    pub failed_write_requests: i64,
    #[serde(default)]
    pub operations_written: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub read_exceptions: Vec<ReadException>,
    /// `-1` when the task has not read yet.
    #[serde(default = "minus_one")]
    pub time_since_last_read_millis: i64,
    /// Present only when the shard task failed fatally; it then needs pause + resume (or more).
    #[serde(default)]
    pub fatal_exception: Option<ErrorCause>,
}

impl ShardFollowStats {
    /// Operations the follower shard still has to replicate; never negative, `-1` checkpoints included.
    pub fn lag(&self) -> i64 {
        if self.leader_global_checkpoint < 0 {
            return 0;
        }
        (self.leader_global_checkpoint - self.follower_global_checkpoint.max(-1)).max(0)
    }
}

/// A transient read failure that the shard task retries.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ReadException {
    #[serde(default)]
    pub from_seq_no: Option<i64>,
    #[serde(default)]
    pub retries: Option<i64>,
    #[serde(default)]
    pub exception: Option<ErrorCause>,
}

/// `GET /{index}/_ccr/info` (6.7+).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FollowInfoResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    pub follower_indices: Vec<FollowerInfo>,
}

/// One follower index of `GET /{index}/_ccr/info`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct FollowerInfo {
    pub follower_index: String,
    #[serde(default)]
    pub remote_cluster: String,
    #[serde(default)]
    pub leader_index: String,
    /// `active` or `paused` (closed followers count as paused).
    #[serde(default)]
    pub status: FollowerStatus,
    /// The effective follow parameters; only present while active. Kept raw: values are strings or numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Follower status as `GET /{index}/_ccr/info` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowerStatus {
    Active,
    Paused,
    /// A value this version of the daemon does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

/// `GET /_remote/info`: remote connections by alias.
pub type RemoteInfoResponse = BTreeMap<String, RemoteInfo>;

/// One remote connection of `GET /_remote/info`, sniff or proxy mode, any version.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RemoteInfo {
    #[serde(default)]
    pub connected: bool,
    /// `sniff` or `proxy`; absent before 7.7 (sniff only then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub seeds: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_nodes_connected: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_per_cluster: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_proxy_sockets_connected: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_proxy_socket_connections: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_connect_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_unavailable: Option<bool>,
    /// 6.x only.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub http_addresses: Vec<String>,
}

impl RemoteInfo {
    /// The connection mode, `sniff` when the version does not say (before 7.7 only sniff existed).
    pub fn mode(&self) -> &str {
        self.mode.as_deref().unwrap_or("sniff")
    }

    /// Connected nodes (sniff) or proxy sockets (proxy).
    pub fn nodes_connected(&self) -> i64 {
        if self.mode() == "proxy" {
            self.num_proxy_sockets_connected.unwrap_or(0)
        } else {
            self.num_nodes_connected.unwrap_or(0)
        }
    }
}

/// One row of `GET /_cat/indices?format=json&h=index,status,docs.count`; values are strings in every version.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CatIndex {
    pub index: String,
    #[serde(default)]
    pub status: Option<String>,
    /// `null` or absent for closed indices.
    #[serde(rename = "docs.count", default, deserialize_with = "lenient_i64")]
    pub docs_count: Option<i64>,
}

/// `GET /`: the cluster's name and version.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RootInfo {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub cluster_name: Option<String>,
    #[serde(default)]
    pub cluster_uuid: Option<String>,
    #[serde(default)]
    pub version: RootVersion,
}

/// `version` of `GET /`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct RootVersion {
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub build_flavor: Option<String>,
}

impl RootInfo {
    /// `(major, minor)` parsed from `version.number`.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        let n = self.version.number.as_deref()?;
        let mut it = n.split(['.', '-']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    }
}

fn minus_one() -> i64 {
    -1
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A count that is a string (`"1234"`), a number, or null.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        N(i64),
        S(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::N(n)) => Ok(Some(n)),
        Some(Raw::S(s)) if s.trim().is_empty() => Ok(None),
        Some(Raw::S(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("docs.count `{s}` is not a number"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/es/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn ccr_stats_8x_parses_with_lag_field() {
        let s: CcrStatsResponse =
            serde_json::from_str(&fixture("ccr_stats_response_8x.json")).unwrap();
        let afs = s.auto_follow_stats.unwrap();
        assert_eq!(afs.number_of_failed_follow_indices, 0);
        let idx = &s.follow_stats.indices[0];
        assert_eq!(idx.index, "follower_index");
        assert_eq!(idx.shards[0].operations_written, 832);
        assert!(idx.total_global_checkpoint_lag.is_some());
    }

    #[test]
    fn follow_stats_7x_parses_without_lag_field() {
        let s: FollowStatsResponse =
            serde_json::from_str(&fixture("ccr_follow_stats_response_7x.json")).unwrap();
        let idx = &s.indices[0];
        assert_eq!(idx.total_global_checkpoint_lag, None);
        let shard = &idx.shards[0];
        assert_eq!(
            shard.lag(),
            shard.leader_global_checkpoint - shard.follower_global_checkpoint
        );
    }

    #[test]
    fn follow_info_active_and_paused() {
        let a: FollowInfoResponse =
            serde_json::from_str(&fixture("ccr_follow_info_response_active_8x.json")).unwrap();
        assert_eq!(a.follower_indices[0].status, FollowerStatus::Active);
        assert!(a.follower_indices[0].parameters.is_some());
        let p: FollowInfoResponse =
            serde_json::from_str(&fixture("ccr_follow_info_response_paused_8x.json")).unwrap();
        assert_eq!(p.follower_indices[0].status, FollowerStatus::Paused);
        assert!(p.follower_indices[0].parameters.is_none());
    }

    #[test]
    fn remote_info_sniff_and_proxy() {
        let s: RemoteInfoResponse =
            serde_json::from_str(&fixture("remote_info_response_sniff_8x.json")).unwrap();
        let (_, r) = s.iter().next().unwrap();
        assert_eq!(r.mode(), "sniff");
        let p: RemoteInfoResponse =
            serde_json::from_str(&fixture("remote_info_response_proxy_apikey_8x.json")).unwrap();
        let (_, r) = p.iter().next().unwrap();
        assert_eq!(r.mode(), "proxy");
        assert!(!serde_json::to_string(&p).unwrap().contains("es_redacted"));
        let o: RemoteInfoResponse = serde_json::from_str(&fixture(
            "remote_info_response_proxy_apikey_observed_8x.json",
        ))
        .unwrap();
        assert!(!o.is_empty());
    }

    #[test]
    fn cat_indices_strings_and_root_version() {
        let rows: Vec<CatIndex> =
            serde_json::from_str(&fixture("cat_indices_response_8x.json")).unwrap();
        assert!(rows.iter().all(|r| r.docs_count.is_some()));
        let root: RootInfo = serde_json::from_str(&fixture("root_info_response_9x.json")).unwrap();
        assert!(root.major_minor().is_some());
    }

    #[test]
    fn error_envelopes_parse() {
        for f in [
            "error_license_noncompliant_ccr.reconstructed.json",
            "error_follow_stats_no_tasks.reconstructed.json",
            "error_401_missing_credentials_8x.json",
            "error_401_missing_credentials_6x7x.json",
        ] {
            let e: ErrorResponse = serde_json::from_str(&fixture(f)).unwrap();
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

    #[test]
    fn minus_one_checkpoints_and_missing_fields() {
        let body = r#"{"indices":[{"index":"f","shards":[{"shard_id":0,"leader_global_checkpoint":-1,
            "follower_global_checkpoint":-1,"time_since_last_read_millis":-1,"brand_new_field":{"x":1}}]}]}"#;
        let s: FollowStatsResponse = serde_json::from_str(body).unwrap();
        assert_eq!(s.indices[0].shards[0].lag(), 0);
        assert!(s.indices[0].shards[0].read_exceptions.is_empty());
    }
}
