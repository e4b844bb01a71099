//! The configuration file as serde reads it: the `Raw*` structs, their defaults, and `known_keys()`, the
//! per-table key lists that let the loader report every unknown key at once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::policy;
use super::FollowParameters;

/// The configuration file as written, before validation.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[http]`
    #[serde(default)]
    pub http: RawHttp,
    /// `[log]`
    #[serde(default)]
    pub log: RawLog,
    /// `[schedule]`
    #[serde(default)]
    pub schedule: RawSchedule,
    /// `[clusters.NAME]`, by name
    #[serde(default)]
    pub clusters: BTreeMap<String, RawCluster>,
    /// `[[remotes]]`
    #[serde(default)]
    pub remotes: Vec<RawRemote>,
    /// `[[followers]]`
    #[serde(default)]
    pub followers: Vec<RawFollower>,
    /// `[[auto_follow]]`
    #[serde(default)]
    pub auto_follow: Vec<RawAutoFollow>,
    /// `[health]`
    #[serde(default)]
    pub health: RawHealth,
    /// `[reconcile]`
    #[serde(default)]
    pub reconcile: RawReconcile,
    /// `[audit]`
    #[serde(default)]
    pub audit: RawAudit,
    /// `[policy]`
    #[serde(default)]
    pub policy: policy::RawPolicy,
    /// `[metrics]`
    #[serde(default)]
    pub metrics: RawMetrics,
    /// `[dr]`
    #[serde(default)]
    pub dr: RawDr,
}

/// `[dr]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDr {
    /// No switchover or failover of a pair within this time of its last one (default `1h`; `0s`: none).
    #[serde(default = "default_anti_flap_period")]
    pub anti_flap_period: String,
    /// Suffix of the reverse direction's data stream followers, before the leader cluster's name (default
    /// `-replicated_from_`).
    #[serde(default = "default_replicated_suffix")]
    pub replicated_suffix: String,
}
impl Default for RawDr {
    fn default() -> Self {
        Self {
            anti_flap_period: default_anti_flap_period(),
            replicated_suffix: default_replicated_suffix(),
        }
    }
}
fn default_anti_flap_period() -> String {
    "1h".into()
}
fn default_replicated_suffix() -> String {
    super::DEFAULT_REPLICATED_SUFFIX.into()
}

/// `[metrics]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Also export per-shard lag and time-since-last-read series (one series per shard of every follower).
    #[serde(default)]
    pub per_shard: bool,
    /// Also export the per-follower families no shipped alert or recording rule needs (paused, read exceptions,
    /// shards, lag lower bound, catch-up ETA, operations at risk).
    #[serde(default)]
    pub detailed: bool,
}

/// `[http]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// `host:port` of the HTTP server (default `127.0.0.1:9725`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Connections served at once (default 256); more wait in the kernel's accept queue.
    pub max_connections: Option<u64>,
    /// Time a connection has to send a complete request head, also the keep-alive idle limit (default `5s`).
    pub header_read_timeout: Option<String>,
    /// Time a request has to be answered (default `10s`).
    pub request_timeout: Option<String>,
}
impl Default for RawHttp {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            max_connections: None,
            header_read_timeout: None,
            request_timeout: None,
        }
    }
}
fn default_listen() -> String {
    "127.0.0.1:9725".into()
}

/// `[log]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// A `tracing` filter such as `info` or `ccr_sentinel=debug,info`; `RUST_LOG` wins when set.
    pub level: Option<String>,
    /// `text` (default) or `json`; `--log-format` wins when given.
    pub format: Option<String>,
}

/// `[schedule]`: cron expressions (6 fields with seconds, or 5-field crontab).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// When the `poll` job runs (default every 15 s).
    #[serde(default = "default_poll")]
    pub poll: String,
    /// When the `doc_counts` job runs (default every minute).
    #[serde(default = "default_doc_counts")]
    pub doc_counts: String,
    /// When the `reconcile` job runs (default every 5 minutes, at second 30).
    #[serde(default = "default_reconcile")]
    pub reconcile: String,
    /// When the `heartbeat` job writes (default every 5 s); only runs with a `heartbeat = true` remote.
    #[serde(default = "default_heartbeat")]
    pub heartbeat: String,
}
impl Default for RawSchedule {
    fn default() -> Self {
        Self {
            poll: default_poll(),
            doc_counts: default_doc_counts(),
            reconcile: default_reconcile(),
            heartbeat: default_heartbeat(),
        }
    }
}
fn default_heartbeat() -> String {
    "*/5 * * * * *".into()
}
fn default_poll() -> String {
    "*/15 * * * * *".into()
}
fn default_doc_counts() -> String {
    "0 * * * * *".into()
}
fn default_reconcile() -> String {
    "30 */5 * * * *".into()
}

/// `[clusters.NAME]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// Base URL (`http://` or `https://`), without credentials.
    pub url: Option<String>,
    /// User name for basic authentication.
    pub username: Option<String>,
    /// Inline password (prefer `password_file`).
    pub password: Option<SecretString>,
    /// File holding the password; relative to `$CREDENTIALS_DIRECTORY` when set.
    pub password_file: Option<PathBuf>,
    /// Inline encoded API key (prefer `api_key_file`).
    pub api_key: Option<SecretString>,
    /// File holding the encoded API key; relative to `$CREDENTIALS_DIRECTORY` when set.
    pub api_key_file: Option<PathBuf>,
    /// PEM file of an extra CA to trust.
    pub ca_cert: Option<PathBuf>,
    /// Accept any TLS certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// Per-request timeout (default `10s`).
    pub timeout: Option<String>,
    /// The largest response body read from the cluster (default `64mb`).
    pub max_response_size: Option<String>,
    /// The largest `password_file` / `api_key_file` read (default `64kb`).
    pub max_secret_file_size: Option<String>,
}

/// `[[remotes]]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRemote {
    /// The local cluster the remote is defined on.
    #[serde(default)]
    pub cluster: String,
    /// The remote cluster alias.
    #[serde(default)]
    pub alias: String,
    /// The configured cluster the alias points at.
    #[serde(default)]
    pub leader: String,
    /// `sniff` (default) or `proxy`.
    pub mode: Option<String>,
    /// Transport addresses for sniff mode.
    #[serde(default)]
    pub seeds: Vec<String>,
    /// The transport address for proxy mode.
    pub proxy_address: Option<String>,
    /// The TLS server name for proxy mode.
    pub server_name: Option<String>,
    /// `skip_unavailable` of the remote; unset leaves it alone.
    pub skip_unavailable: Option<bool>,
    /// `false`: only map the alias to a configured cluster; reconcile never writes this remote.
    pub manage: Option<bool>,
    /// `certificate` (default: TLS certificates on the transport port) or `api_key` (a cross-cluster API key,
    /// the remote cluster server port, 8.14+).
    pub security: Option<String>,
    /// How long the cross-cluster API key reconcile creates for an `api_key` remote is valid (`90d`), or
    /// `"none"`: it never expires.
    pub api_key_expiration: Option<String>,
    /// `true`: the heartbeat canary through this remote.
    pub heartbeat: Option<bool>,
}

/// `[[followers]]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFollower {
    /// The local cluster that holds the follower index.
    #[serde(default)]
    pub cluster: String,
    /// The remote cluster alias of the leader.
    #[serde(default)]
    pub remote: String,
    /// The index followed on the leader cluster.
    #[serde(default)]
    pub leader_index: String,
    /// The follower index on `cluster`.
    #[serde(default)]
    pub follower_index: String,
    /// Index settings for the follower (`settings` of the follow request, 7.9+), nested or dotted keys.
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// The follow parameters (`max_read_request_operation_count`, ...) for the follow request.
    pub parameters: Option<FollowParameters>,
    /// Unfollow automatically once caught up (the `promote` policy).
    #[serde(default)]
    pub promote: bool,
}

/// `[[auto_follow]]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAutoFollow {
    /// The local cluster that holds the pattern.
    #[serde(default)]
    pub cluster: String,
    /// The pattern name.
    #[serde(default)]
    pub name: String,
    /// The remote cluster alias of the leader.
    #[serde(default)]
    pub remote: String,
    /// Leader index patterns to follow.
    #[serde(default)]
    pub leader_index_patterns: Vec<String>,
    /// Leader index patterns never to follow.
    #[serde(default)]
    pub leader_index_exclusion_patterns: Vec<String>,
    /// The follower index name template (`{{leader_index}}` expands).
    pub follow_index_pattern: Option<String>,
    /// Index settings for the followers the pattern creates.
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// Follow parameters for the followers the pattern creates.
    pub parameters: Option<FollowParameters>,
    /// Desired state of the pattern (7.5+): reconcile pauses or resumes it to match. Unset: left alone.
    pub active: Option<bool>,
}

/// `[reconcile]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReconcile {
    /// Run the `reconcile` job (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Plan and log, send nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Fix follow-parameter drift by pause + resume.
    #[serde(default)]
    pub apply_parameter_changes: bool,
    /// First retry delay of a failed item (default `30s`).
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial: String,
    /// Longest retry delay (default `30m`).
    #[serde(default = "default_backoff_max")]
    pub backoff_max: String,
    /// How long a run waits for a remote it set to connect (default `10s`).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: String,
}
impl Default for RawReconcile {
    fn default() -> Self {
        Self {
            enabled: true,
            dry_run: false,
            apply_parameter_changes: false,
            backoff_initial: default_backoff_initial(),
            backoff_max: default_backoff_max(),
            connect_timeout: default_connect_timeout(),
        }
    }
}
fn default_true() -> bool {
    true
}
fn default_backoff_initial() -> String {
    "30s".into()
}
fn default_backoff_max() -> String {
    "30m".into()
}
fn default_connect_timeout() -> String {
    "10s".into()
}

/// `[audit]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Append one JSON line per action (reconcile and policy) to this file, in addition to the log.
    pub file: Option<PathBuf>,
}

/// `[health]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// Lag in operations above which a follower is `lagging` (default 10000).
    #[serde(default = "default_max_lag")]
    pub max_lag_operations: u64,
    /// Time without a read above which a follower behind its leader is `stalled` (default `5m`).
    #[serde(default = "default_max_read")]
    pub max_time_since_last_read: String,
    /// Allowed document count difference of a caught-up follower (default 0).
    #[serde(default)]
    pub max_docs_difference: u64,
    /// Periods a job may miss before `/health` fails (default 3).
    #[serde(default = "default_overdue_periods")]
    pub job_overdue_periods: u32,
    /// Lag in time above which `promote` refuses without `--force` (default `2m`).
    #[serde(default = "default_max_promote_lag")]
    pub max_promote_lag: String,
}
impl Default for RawHealth {
    fn default() -> Self {
        Self {
            max_lag_operations: default_max_lag(),
            max_time_since_last_read: default_max_read(),
            max_docs_difference: 0,
            job_overdue_periods: default_overdue_periods(),
            max_promote_lag: default_max_promote_lag(),
        }
    }
}
fn default_max_promote_lag() -> String {
    "2m".into()
}
pub(super) fn default_max_lag() -> u64 {
    10_000
}
fn default_max_read() -> String {
    "5m".into()
}
pub(super) fn default_overdue_periods() -> u32 {
    3
}

/// Every table [`known_keys`] knows, as it names them: `""` is the top level, `x.*` a table of named tables,
/// `x[]` an array of tables. A test checks each top-level table has its entry here.
pub const TABLES: &[&str] = &[
    "",
    "http",
    "log",
    "schedule",
    "clusters.*",
    "remotes[]",
    "followers[]",
    "auto_follow[]",
    "health",
    "reconcile",
    "audit",
    "policy",
    "policy.windows[]",
    "metrics",
    "dr",
];

/// Every key of every table (sorted, without duplicates): what tools that generate configurations draw from.
pub fn all_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = TABLES.iter().flat_map(|t| known_keys(t)).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The keys the schema knows, per table, for reporting every unknown key at once.
/// Keep in step with the `Raw*` structs; `deny_unknown_fields` and the example-config test catch drift.
pub fn known_keys(section: &str) -> &'static [&'static str] {
    match section {
        "" => &[
            "http",
            "log",
            "schedule",
            "clusters",
            "remotes",
            "followers",
            "auto_follow",
            "health",
            "reconcile",
            "audit",
            "policy",
            "metrics",
            "dr",
        ],
        "http" => &[
            "listen",
            "max_connections",
            "header_read_timeout",
            "request_timeout",
        ],
        "log" => &["level", "format"],
        "schedule" => &["poll", "doc_counts", "reconcile", "heartbeat"],
        "clusters.*" => &[
            "url",
            "username",
            "password",
            "password_file",
            "api_key",
            "api_key_file",
            "ca_cert",
            "insecure_skip_verify",
            "timeout",
            "max_response_size",
            "max_secret_file_size",
        ],
        "remotes[]" => &[
            "cluster",
            "alias",
            "leader",
            "mode",
            "seeds",
            "proxy_address",
            "server_name",
            "skip_unavailable",
            "manage",
            "security",
            "api_key_expiration",
            "heartbeat",
        ],
        "followers[]" => &[
            "cluster",
            "remote",
            "leader_index",
            "follower_index",
            "settings",
            "parameters",
            "promote",
        ],
        "policy" => policy::POLICY_KEYS,
        "policy.windows[]" => policy::WINDOW_KEYS,
        "auto_follow[]" => &[
            "cluster",
            "name",
            "remote",
            "leader_index_patterns",
            "leader_index_exclusion_patterns",
            "follow_index_pattern",
            "settings",
            "parameters",
            "active",
        ],
        "reconcile" => &[
            "enabled",
            "dry_run",
            "apply_parameter_changes",
            "backoff_initial",
            "backoff_max",
            "connect_timeout",
        ],
        "audit" => &["file"],
        "metrics" => &["per_shard", "detailed"],
        "dr" => &["anti_flap_period", "replicated_suffix"],
        "health" => &[
            "max_lag_operations",
            "max_time_since_last_read",
            "max_docs_difference",
            "job_overdue_periods",
            "max_promote_lag",
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use crate::config::from_toml_str;

    use super::{all_keys, known_keys, TABLES};

    /// A top-level table without its entry in `TABLES` would leave its keys out of `all_keys()`.
    #[test]
    fn every_top_level_table_is_listed() {
        for top in known_keys("") {
            let listed = [top.to_string(), format!("{top}.*"), format!("{top}[]")]
                .iter()
                .any(|t| TABLES.contains(&t.as_str()));
            assert!(listed, "table `{top}` is missing from TABLES");
            assert!(
                TABLES
                    .iter()
                    .any(|t| t.starts_with(*top) && !known_keys(t).is_empty()),
                "table `{top}` has no keys in known_keys"
            );
        }
        assert!(all_keys().contains(&"max_promote_lag"));
    }

    /// Every key of every table, so a key added to a `Raw*` struct but not to `known_keys` (or the reverse)
    /// shows up as an "unknown key" / "unknown field" problem here.
    #[test]
    fn known_keys_match_the_structs() {
        let text = r#"
[http]
listen = "127.0.0.1:9725"
[log]
level = "info"
format = "json"
[schedule]
poll = "*/15 * * * * *"
doc_counts = "0 * * * * *"
reconcile = "30 */5 * * * *"
[clusters.a]
url = "http://127.0.0.1:9200"
username = "u"
password = "p"
password_file = "/nonexistent"
api_key = "k"
api_key_file = "/nonexistent"
ca_cert = "/nonexistent"
insecure_skip_verify = false
timeout = "5s"
max_response_size = "16mb"
[clusters.b]
url = "http://127.0.0.1:9201"
[[remotes]]
cluster = "b"
alias = "a"
leader = "a"
mode = "proxy"
seeds = []
proxy_address = "127.0.0.1:9300"
server_name = "a"
skip_unavailable = true
[[followers]]
cluster = "b"
remote = "a"
leader_index = "x"
follower_index = "y"
[[auto_follow]]
cluster = "b"
name = "n"
remote = "a"
leader_index_patterns = ["x*"]
leader_index_exclusion_patterns = ["x-old*"]
follow_index_pattern = "{{leader_index}}-copy"
[health]
max_lag_operations = 1
max_time_since_last_read = "1m"
max_docs_difference = 0
job_overdue_periods = 3
[metrics]
per_shard = true
detailed = true
[dr]
anti_flap_period = "30m"
replicated_suffix = "-replicated_from_"
"#;
        let err = from_toml_str(text).unwrap_err();
        let all = err.problems.join("\n");
        assert!(!all.contains("unknown"), "{all}");
        // The problems are the deliberate ones (both password forms, a missing CA, ...), not schema ones.
        assert!(
            all.contains("set either `password` or `password_file`"),
            "{all}"
        );
    }
}
