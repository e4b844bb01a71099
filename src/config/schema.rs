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
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub schedule: RawSchedule,
    #[serde(default)]
    pub clusters: BTreeMap<String, RawCluster>,
    #[serde(default)]
    pub remotes: Vec<RawRemote>,
    #[serde(default)]
    pub followers: Vec<RawFollower>,
    #[serde(default)]
    pub auto_follow: Vec<RawAutoFollow>,
    #[serde(default)]
    pub health: RawHealth,
    #[serde(default)]
    pub reconcile: RawReconcile,
    #[serde(default)]
    pub audit: RawAudit,
    #[serde(default)]
    pub policy: policy::RawPolicy,
    #[serde(default)]
    pub metrics: RawMetrics,
}

/// `[metrics]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Also export per-shard lag and time-since-last-read series (one series per shard of every follower).
    #[serde(default)]
    pub per_shard: bool,
}

/// `[http]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    #[serde(default = "default_listen")]
    pub listen: String,
}
impl Default for RawHttp {
    fn default() -> Self {
        Self {
            listen: default_listen(),
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
    #[serde(default = "default_poll")]
    pub poll: String,
    #[serde(default = "default_doc_counts")]
    pub doc_counts: String,
    #[serde(default = "default_reconcile")]
    pub reconcile: String,
}
impl Default for RawSchedule {
    fn default() -> Self {
        Self {
            poll: default_poll(),
            doc_counts: default_doc_counts(),
            reconcile: default_reconcile(),
        }
    }
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
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub password_file: Option<PathBuf>,
    pub api_key: Option<SecretString>,
    pub api_key_file: Option<PathBuf>,
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    pub timeout: Option<String>,
}

/// `[[remotes]]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRemote {
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub alias: String,
    #[serde(default)]
    pub leader: String,
    pub mode: Option<String>,
    #[serde(default)]
    pub seeds: Vec<String>,
    pub proxy_address: Option<String>,
    pub server_name: Option<String>,
    pub skip_unavailable: Option<bool>,
    /// `false`: only map the alias to a configured cluster; reconcile never writes this remote.
    pub manage: Option<bool>,
}

/// `[[followers]]`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFollower {
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub remote: String,
    #[serde(default)]
    pub leader_index: String,
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
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub remote: String,
    #[serde(default)]
    pub leader_index_patterns: Vec<String>,
    #[serde(default)]
    pub leader_index_exclusion_patterns: Vec<String>,
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
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub apply_parameter_changes: bool,
    #[serde(default = "default_backoff_initial")]
    pub backoff_initial: String,
    #[serde(default = "default_backoff_max")]
    pub backoff_max: String,
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
    #[serde(default = "default_max_lag")]
    pub max_lag_operations: u64,
    #[serde(default = "default_max_read")]
    pub max_time_since_last_read: String,
    #[serde(default)]
    pub max_docs_difference: u64,
    #[serde(default = "default_overdue_periods")]
    pub job_overdue_periods: u32,
}
impl Default for RawHealth {
    fn default() -> Self {
        Self {
            max_lag_operations: default_max_lag(),
            max_time_since_last_read: default_max_read(),
            max_docs_difference: 0,
            job_overdue_periods: default_overdue_periods(),
        }
    }
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

/// The keys the schema knows, per table, for reporting every unknown key at once.
/// Keep in step with the `Raw*` structs; `deny_unknown_fields` and the example-config test catch drift.
pub(super) fn known_keys(section: &str) -> &'static [&'static str] {
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
        ],
        "http" => &["listen"],
        "log" => &["level", "format"],
        "schedule" => &["poll", "doc_counts", "reconcile"],
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
        "metrics" => &["per_shard"],
        "health" => &[
            "max_lag_operations",
            "max_time_since_last_read",
            "max_docs_difference",
            "job_overdue_periods",
        ],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use crate::config::from_toml_str;

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
