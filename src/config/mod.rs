//! Configuration: TOML file plus `CCR_SENTINEL_*` environment overrides, validated in one pass.
//!
//! Loading happens in three steps so that a user sees every problem at once:
//! 1. the `config` crate merges the file and the environment into one tree;
//! 2. keys the schema does not know are removed from the tree and reported (serde's `deny_unknown_fields`
//!    would stop at the first one; it stays on the structs as a safety net);
//! 3. the pruned tree is deserialized into [`RawConfig`] and [`RawConfig::validate`] checks every semantic
//!    rule (references, cron syntax, secret files, duplicates), collecting all problems.
//!
//! Secrets are `secrecy` types: their `Debug` prints `[REDACTED]` and they have no `Serialize`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub mod policy;
pub use policy::{OnLeaderDeleted, PolicySettings, Window};
pub mod key;
pub use key::ClusterKey;

/// Where the daemon looks for its configuration when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/ccr-sentinel/ccr-sentinel.toml";
/// Prefix of environment overrides (`CCR_SENTINEL_HTTP__LISTEN=...`).
pub const ENV_PREFIX: &str = "CCR_SENTINEL";
/// Environment variables with the prefix that belong to the CLI, not to the configuration tree.
const ENV_NOT_CONFIG: &[&str] = &["CCR_SENTINEL_CONFIG"];

/// The configuration could not be loaded. `problems` lists every problem found, one per entry.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The configuration file that was read.
    pub path: PathBuf,
    /// Every problem, as a sentence naming the key it concerns.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid configuration {} ({n} problem{}):",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------------
// File schema (what serde reads)
// ---------------------------------------------------------------------------------------------------------------

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

/// The ten follow parameters of `PUT /{index}/_ccr/follow`, `resume_follow` and auto-follow patterns.
/// Unset parameters are not sent (the cluster's defaults apply) and never count as drift. Sizes and times are
/// Elasticsearch strings (`"32mb"`, `"500ms"`); they are compared by value, so `"1m"` equals `"60s"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_read_request_operation_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_outstanding_read_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_read_request_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_request_operation_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_request_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_outstanding_write_requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_buffer_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_write_buffer_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retry_delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_poll_timeout: Option<String>,
}

impl FollowParameters {
    /// True when no parameter is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The parameters as a JSON object (only the set ones), for request bodies.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    /// Checks the values like Elasticsearch would (positive counts, parseable sizes and times, retry delay at
    /// most 5m), recording one problem per bad value under `at`.
    fn validate(&self, at: &str, p: &mut Vec<String>) {
        for (k, v) in [
            (
                "max_read_request_operation_count",
                self.max_read_request_operation_count,
            ),
            (
                "max_outstanding_read_requests",
                self.max_outstanding_read_requests,
            ),
            (
                "max_write_request_operation_count",
                self.max_write_request_operation_count,
            ),
            (
                "max_outstanding_write_requests",
                self.max_outstanding_write_requests,
            ),
            ("max_write_buffer_count", self.max_write_buffer_count),
        ] {
            if v == Some(0) || v.is_some_and(|n| n > i32::MAX as u64) {
                p.push(format!(
                    "`{at}.parameters.{k}` must be between 1 and {}",
                    i32::MAX
                ));
            }
        }
        for (k, v) in [
            ("max_read_request_size", &self.max_read_request_size),
            ("max_write_request_size", &self.max_write_request_size),
            ("max_write_buffer_size", &self.max_write_buffer_size),
        ] {
            if let Some(v) = v {
                match parse_byte_size(v) {
                    Some(n) if n > 0 => {}
                    _ => p.push(format!(
                        "`{at}.parameters.{k}` = `{v}` is not a positive byte size like \"32mb\""
                    )),
                }
            }
        }
        for (k, v) in [
            ("max_retry_delay", &self.max_retry_delay),
            ("read_poll_timeout", &self.read_poll_timeout),
        ] {
            if let Some(v) = v {
                match parse_es_time(v) {
                    Some(d)
                        if k == "max_retry_delay"
                            && (d.is_zero() || d > Duration::from_secs(300)) =>
                    {
                        p.push(format!(
                            "`{at}.parameters.{k}` = `{v}` must be positive and at most 5m"
                        ))
                    }
                    Some(_) => {}
                    None => p.push(format!(
                        "`{at}.parameters.{k}` = `{v}` is not a time like \"500ms\" or \"1m\""
                    )),
                }
            }
        }
    }
}

/// Parses an Elasticsearch byte size (`"512mb"`, `"9223372036854775807b"`, `"1.5gb"`) into bytes.
pub fn parse_byte_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim() {
        "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        "t" | "tb" => 1 << 40,
        "p" | "pb" => 1 << 50,
        _ => return None,
    };
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult);
    }
    let f: f64 = num.parse().ok()?;
    (f.is_finite() && f >= 0.0).then_some((f * mult as f64) as u64)
}

/// Parses an Elasticsearch time value (`"500ms"`, `"1m"`, `"30s"`, `"2h"`, `"1d"`, `"100micros"`).
pub fn parse_es_time(s: &str) -> Option<Duration> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" || t == "0" {
        return Some(Duration::ZERO);
    }
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "nanos" => Duration::from_nanos(n),
        "micros" => Duration::from_micros(n),
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    })
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
fn default_max_lag() -> u64 {
    10_000
}
fn default_max_read() -> String {
    "5m".into()
}
fn default_overdue_periods() -> u32 {
    3
}

/// The keys the schema knows, per table, for reporting every unknown key at once.
/// Keep in step with the `Raw*` structs; `deny_unknown_fields` and the example-config test catch drift.
fn known_keys(section: &str) -> &'static [&'static str] {
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

// ---------------------------------------------------------------------------------------------------------------
// Validated configuration (what the daemon uses)
// ---------------------------------------------------------------------------------------------------------------

/// The validated configuration. Every reference in it resolves; secrets are loaded.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpSettings,
    pub log: LogSettings,
    pub schedule: Schedules,
    /// Clusters by their configuration name (the `cluster` / `follower_cluster` label value).
    pub clusters: BTreeMap<String, ClusterSettings>,
    pub remotes: Vec<RemoteSettings>,
    pub followers: Vec<FollowerSettings>,
    pub auto_follow: Vec<AutoFollowSettings>,
    pub health: HealthThresholds,
    pub reconcile: ReconcileSettings,
    pub audit: AuditSettings,
    pub policy: PolicySettings,
    pub metrics: MetricsSettings,
}

/// `[reconcile]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileSettings {
    /// Run the `reconcile` job in `run` (at start-up and on `schedule.reconcile`).
    pub enabled: bool,
    /// Plan and log, send nothing.
    pub dry_run: bool,
    /// Fix follow-parameter drift by pause + resume with the configured parameters.
    pub apply_parameter_changes: bool,
    /// Wait before retrying a failed item; doubles per consecutive failure up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How long a run waits for a remote it just set to report `connected`.
    pub connect_timeout: Duration,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            dry_run: false,
            apply_parameter_changes: false,
            backoff_initial: Duration::from_secs(30),
            backoff_max: Duration::from_secs(1800),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// `[audit]`, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditSettings {
    pub file: Option<PathBuf>,
}

/// `[metrics]`, validated.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// Export per-shard series too.
    pub per_shard: bool,
}

/// `[http]`, validated.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[log]`, validated.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    pub level: Option<String>,
    pub format: LogFormat,
}

/// A cron schedule accepted by tokio-cron-scheduler (always 6 fields after normalisation).
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// The expression as the scheduler receives it (a 5-field crontab gets a leading `0 `).
    pub expr: String,
    /// The longest gap between consecutive runs (over the next runs); drives "overdue" detection.
    pub period: Duration,
}

/// `[schedule]`, validated.
#[derive(Debug, Clone)]
pub struct Schedules {
    pub poll: CronSchedule,
    pub doc_counts: CronSchedule,
    pub reconcile: CronSchedule,
}

/// How the daemon authenticates to a cluster.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: String,
        password: SecretString,
    },
    /// The encoded API key, sent as `Authorization: ApiKey <key>`.
    ApiKey(SecretString),
}

/// `[clusters.NAME]`, validated; secrets and the CA certificate are loaded.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub name: String,
    /// Base URL without credentials, query or fragment.
    pub url: reqwest::Url,
    pub auth: Auth,
    /// PEM bytes of an extra CA to trust (in addition to the built-in roots).
    pub ca_cert_pem: Option<Vec<u8>>,
    pub insecure_skip_verify: bool,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// Remote cluster connection mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteMode {
    Sniff,
    Proxy,
}

/// `[[remotes]]`, validated: on `cluster`, alias `alias` points at configured cluster `leader`.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    pub cluster: String,
    pub alias: String,
    pub leader: String,
    pub mode: RemoteMode,
    pub seeds: Vec<String>,
    pub proxy_address: Option<String>,
    pub server_name: Option<String>,
    pub skip_unavailable: Option<bool>,
    /// Reconcile writes this remote's settings (default); `false` only maps the alias.
    pub manage: bool,
}

/// `[[followers]]`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FollowerSettings {
    pub cluster: String,
    pub remote: String,
    pub leader_index: String,
    pub follower_index: String,
    /// Follower index settings for the follow request, flattened to `index.*` keys with string values.
    pub settings: BTreeMap<String, String>,
    pub parameters: FollowParameters,
    /// Unfollow automatically once caught up (the `promote` policy).
    pub promote: bool,
}

/// `[[auto_follow]]`, validated.
#[derive(Debug, Clone)]
pub struct AutoFollowSettings {
    pub cluster: String,
    pub name: String,
    pub remote: String,
    pub leader_index_patterns: Vec<String>,
    pub leader_index_exclusion_patterns: Vec<String>,
    pub follow_index_pattern: Option<String>,
    /// Settings for created followers, flattened to `index.*` keys with string values.
    pub settings: BTreeMap<String, String>,
    pub parameters: FollowParameters,
    pub active: Option<bool>,
}

/// `[health]`, validated: the thresholds of the verdicts in [`crate::evaluate::health`].
#[derive(Debug, Clone, PartialEq)]
pub struct HealthThresholds {
    pub max_lag_operations: u64,
    pub max_time_since_last_read: Duration,
    pub max_docs_difference: u64,
    /// `/health` fails when a job has not run for this many of its periods.
    pub job_overdue_periods: u32,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            max_lag_operations: default_max_lag(),
            max_time_since_last_read: Duration::from_secs(300),
            max_docs_difference: 0,
            job_overdue_periods: default_overdue_periods(),
        }
    }
}

impl Config {
    /// The configured remote on `cluster` named `alias`, if any.
    pub fn remote(&self, cluster: &str, alias: &str) -> Option<&RemoteSettings> {
        self.remotes
            .iter()
            .find(|r| r.cluster == cluster && r.alias == alias)
    }

    /// The configured leader cluster that `alias` on `cluster` points at.
    pub fn leader_cluster(&self, cluster: &str, alias: &str) -> Option<&str> {
        self.remote(cluster, alias).map(|r| r.leader.as_str())
    }

    /// The configured follower `follower_index` on `cluster`, if any.
    pub fn follower(&self, cluster: &str, follower_index: &str) -> Option<&FollowerSettings> {
        self.followers
            .iter()
            .find(|f| f.cluster == cluster && f.follower_index == follower_index)
    }

    /// Clusters polled by the `poll` job: every cluster that is not only a leader. A cluster named by no
    /// follower, remote or auto-follow pattern is polled too, so its unmanaged followers are seen.
    pub fn follower_clusters(&self) -> Vec<String> {
        let leaders: BTreeSet<&str> = self.remotes.iter().map(|r| r.leader.as_str()).collect();
        let locals: BTreeSet<&str> = self
            .remotes
            .iter()
            .map(|r| r.cluster.as_str())
            .chain(self.followers.iter().map(|f| f.cluster.as_str()))
            .chain(self.auto_follow.iter().map(|a| a.cluster.as_str()))
            .collect();
        self.clusters
            .keys()
            .filter(|c| locals.contains(c.as_str()) || !leaders.contains(c.as_str()))
            .cloned()
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------------------------

/// Loads and validates `path` with overrides from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    load_with_env(path, std::env::vars())
}

/// Loads and validates `path` with overrides from `env` (all variables; those without the prefix are ignored
/// except `CREDENTIALS_DIRECTORY`). Tests pass their own environment instead of mutating the process's.
pub fn load_with_env(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let fail = |problems: Vec<String>| ConfigError {
        path: path.to_path_buf(),
        problems,
    };
    let env: HashMap<String, String> = env.into_iter().collect();
    if !path.exists() {
        return Err(fail(vec![format!(
            "configuration file {} does not exist",
            path.display()
        )]));
    }
    build(
        config::File::from(path).format(config::FileFormat::Toml),
        path,
        env,
    )
}

/// Validates configuration text (TOML) without environment overrides; for the demo and tests.
pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
    build(
        config::File::from_str(text, config::FileFormat::Toml),
        Path::new("<inline>"),
        HashMap::new(),
    )
}

fn build<S>(file: S, path: &Path, env: HashMap<String, String>) -> Result<Config, ConfigError>
where
    S: config::Source + Send + Sync + 'static,
{
    let fail = |problems: Vec<String>| ConfigError {
        path: path.to_path_buf(),
        problems,
    };
    let credentials_dir = env
        .get("CREDENTIALS_DIRECTORY")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let prefix = format!("{ENV_PREFIX}_");
    let overrides: config::Map<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix) && !ENV_NOT_CONFIG.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let built = config::Config::builder()
        .add_source(file)
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .ignore_empty(true)
                .source(Some(overrides)),
        )
        .build();
    let mut built = match built {
        Ok(b) => b,
        Err(e) => return Err(fail(vec![e.to_string()])),
    };

    let mut problems = Vec::new();
    prune_unknown(&mut built.cache, "", "", &mut problems);
    let raw: RawConfig = match built.try_deserialize() {
        Ok(raw) => raw,
        Err(e) => {
            problems.push(e.to_string());
            return Err(fail(problems));
        }
    };
    match raw.validate(credentials_dir.as_deref()) {
        Ok(cfg) if problems.is_empty() => Ok(cfg),
        Ok(_) => Err(fail(problems)),
        Err(more) => {
            problems.extend(more);
            Err(fail(problems))
        }
    }
}

/// Removes keys the schema does not know from `value` (a table at `path`), recording one problem each.
fn prune_unknown(value: &mut config::Value, section: &str, path: &str, problems: &mut Vec<String>) {
    use config::ValueKind;
    let ValueKind::Table(table) = &mut value.kind else {
        return;
    };
    let known = known_keys(section);
    let mut unknown: Vec<String> = table
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .cloned()
        .collect();
    unknown.sort();
    for key in unknown {
        let origin = table
            .get(&key)
            .and_then(|v| v.origin())
            .map(|o| format!(" (from {o})"))
            .unwrap_or_default();
        let full = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let hint = if known.is_empty() {
            String::new()
        } else {
            format!("; known keys here: {}", known.join(", "))
        };
        problems.push(format!("unknown key `{full}`{origin}{hint}"));
        table.remove(&key);
    }
    for (key, child) in table.iter_mut() {
        let child_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match (section, key.as_str()) {
            ("", "clusters") => {
                if let ValueKind::Table(clusters) = &mut child.kind {
                    for (name, c) in clusters.iter_mut() {
                        prune_unknown(c, "clusters.*", &format!("clusters.{name}"), problems);
                    }
                }
            }
            ("", "remotes" | "followers" | "auto_follow") => {
                let sub = format!("{key}[]");
                if let ValueKind::Array(items) = &mut child.kind {
                    for (i, item) in items.iter_mut().enumerate() {
                        prune_unknown(item, &sub, &format!("{key}[{i}]"), problems);
                    }
                }
            }
            ("policy", "windows") => {
                if let ValueKind::Array(items) = &mut child.kind {
                    for (i, item) in items.iter_mut().enumerate() {
                        prune_unknown(
                            item,
                            "policy.windows[]",
                            &format!("policy.windows[{i}]"),
                            problems,
                        );
                    }
                }
            }
            ("", _) => prune_unknown(child, key, &child_path, problems),
            _ => {}
        }
    }
}

/// Accepts a 6-field cron expression (seconds first) or a 5-field crontab (a `0 ` seconds field is prepended).
pub fn parse_cron(expr: &str) -> Result<CronSchedule, String> {
    let fields = expr.split_whitespace().count();
    let normalised = match fields {
        6 => expr.split_whitespace().collect::<Vec<_>>().join(" "),
        5 => format!("0 {}", expr.split_whitespace().collect::<Vec<_>>().join(" ")),
        n => {
            return Err(format!(
                "`{expr}` has {n} fields; expected 6 (sec min hour day-of-month month day-of-week) or a 5-field crontab"
            ))
        }
    };
    // The same parser settings as tokio-cron-scheduler 0.15, so what passes here also schedules there.
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(&normalised)
        .map_err(|e| format!("`{expr}` is not a valid cron expression: {e}"))?;
    tokio_cron_scheduler::Job::new_async(normalised.as_str(), |_, _| Box::pin(async {}))
        .map_err(|e| format!("`{expr}` is rejected by the scheduler: {e}"))?;
    let never = |e: croner::errors::CronError| format!("`{expr}` never fires: {e}");
    let mut at = cron
        .find_next_occurrence(&Utc::now(), false)
        .map_err(never)?;
    let mut period = Duration::ZERO;
    for _ in 0..16 {
        let next = cron.find_next_occurrence(&at, false).map_err(never)?;
        period = period.max((next - at).to_std().unwrap_or(Duration::ZERO));
        at = next;
    }
    Ok(CronSchedule {
        expr: normalised,
        period,
    })
}

fn parse_duration(key: &str, s: &str, problems: &mut Vec<String>) -> Option<Duration> {
    match humantime::parse_duration(s.trim()) {
        Ok(d) if d > Duration::ZERO => Some(d),
        Ok(_) => {
            problems.push(format!("`{key}` must be longer than zero (got `{s}`)"));
            None
        }
        Err(e) => {
            problems.push(format!(
                "`{key}` = `{s}` is not a duration like \"10s\" or \"5m\": {e}"
            ));
            None
        }
    }
}

/// Reads a secret file; relative paths are resolved against `$CREDENTIALS_DIRECTORY` (systemd
/// `LoadCredential=`) when it is set. One trailing newline is removed.
fn read_secret_file(
    key: &str,
    path: &Path,
    credentials_dir: Option<&Path>,
    problems: &mut Vec<String>,
) -> Option<SecretString> {
    let full = match credentials_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    };
    match std::fs::read_to_string(&full) {
        Ok(s) => {
            let s = s.strip_suffix('\n').unwrap_or(&s);
            let s = s.strip_suffix('\r').unwrap_or(s);
            if s.is_empty() {
                problems.push(format!("`{key}`: secret file {} is empty", full.display()));
                None
            } else {
                Some(SecretString::from(s.to_string()))
            }
        }
        Err(e) => {
            problems.push(format!(
                "`{key}`: cannot read secret file {}: {e}",
                full.display()
            ));
            None
        }
    }
}

/// Flattens nested index settings into `index.*` keys with string values, the form Elasticsearch reports
/// with `flat_settings=true`; keys without the `index.` prefix get it.
pub fn flat_index_settings(
    settings: Option<&serde_json::Map<String, serde_json::Value>>,
) -> BTreeMap<String, String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut flat = BTreeMap::new();
    if let Some(m) = settings {
        walk("", &serde_json::Value::Object(m.clone()), &mut flat);
    }
    flat.into_iter()
        .map(|(k, v)| {
            if k.starts_with("index.") {
                (k, v)
            } else {
                (format!("index.{k}"), v)
            }
        })
        .collect()
}

fn check_index_name(key: &str, name: &str, problems: &mut Vec<String>) {
    if name.is_empty() {
        problems.push(format!("`{key}` is missing"));
    } else if name != name.to_lowercase()
        || name.starts_with(['-', '_', '+'])
        || name.contains([' ', ',', '*', '?', '"', '<', '>', '|', '/', '\\', '#', ':'])
    {
        problems.push(format!(
            "`{key}` = `{name}` is not a valid Elasticsearch index name (lowercase, no wildcards, commas or spaces)"
        ));
    }
}

impl RawConfig {
    /// Checks every semantic rule and returns the validated configuration, or every problem found.
    pub fn validate(self, credentials_dir: Option<&Path>) -> Result<Config, Vec<String>> {
        let mut p = Vec::new();

        let listen = match self.http.listen.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                p.push(format!(
                    "`http.listen` = `{}` is not an address like 127.0.0.1:9725",
                    self.http.listen
                ));
                None
            }
        };

        let format = match self.log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                p.push(format!(
                    "`log.format` = `{other}`: expected \"text\" or \"json\""
                ));
                LogFormat::Text
            }
        };
        if let Some(level) = &self.log.level {
            if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(level) {
                p.push(format!("`log.level` = `{level}` is not a log filter: {e}"));
            }
        }

        let mut cron = |key: &str, expr: &str| match parse_cron(expr) {
            Ok(c) => Some(c),
            Err(e) => {
                p.push(format!("`schedule.{key}`: {e}"));
                None
            }
        };
        let poll = cron("poll", &self.schedule.poll);
        let doc_counts = cron("doc_counts", &self.schedule.doc_counts);
        let reconcile = cron("reconcile", &self.schedule.reconcile);

        if self.clusters.is_empty() {
            p.push("no clusters are configured: add at least one [clusters.NAME] table".into());
        }
        // Names as written, so references are checked even when a cluster itself had problems.
        let names: BTreeSet<String> = self.clusters.keys().cloned().collect();
        let mut clusters = BTreeMap::new();
        for (name, c) in self.clusters {
            if let Some(cs) = validate_cluster(&name, c, credentials_dir, &mut p) {
                clusters.insert(name, cs);
            }
        }
        let cluster_known = |n: &str| names.contains(n);

        let mut remotes = Vec::new();
        let mut seen_remotes = BTreeSet::new();
        for (i, r) in self.remotes.into_iter().enumerate() {
            let at = format!("remotes[{i}]");
            if r.cluster.is_empty() {
                p.push(format!("`{at}.cluster` is missing"));
            } else if !cluster_known(&r.cluster) {
                p.push(format!(
                    "`{at}.cluster` = `{}` is not a configured cluster",
                    r.cluster
                ));
            }
            if r.alias.is_empty() {
                p.push(format!("`{at}.alias` is missing"));
            }
            if r.leader.is_empty() {
                p.push(format!("`{at}.leader` is missing"));
            } else if !cluster_known(&r.leader) {
                p.push(format!(
                    "`{at}.leader` = `{}` is not a configured cluster",
                    r.leader
                ));
            } else if r.leader == r.cluster {
                p.push(format!(
                    "`{at}`: remote `{}` on cluster `{}` points at the cluster itself",
                    r.alias, r.cluster
                ));
            }
            if !seen_remotes.insert((r.cluster.clone(), r.alias.clone())) {
                p.push(format!(
                    "`{at}`: remote `{}` on cluster `{}` is defined twice",
                    r.alias, r.cluster
                ));
            }
            let mode = match r.mode.as_deref() {
                None | Some("sniff") => RemoteMode::Sniff,
                Some("proxy") => RemoteMode::Proxy,
                Some(other) => {
                    p.push(format!(
                        "`{at}.mode` = `{other}`: expected \"sniff\" or \"proxy\""
                    ));
                    RemoteMode::Sniff
                }
            };
            match mode {
                RemoteMode::Sniff => {
                    if r.proxy_address.is_some() {
                        p.push(format!(
                            "`{at}.proxy_address` needs `mode = \"proxy\"` (sniff mode uses `seeds`)"
                        ));
                    }
                    if r.server_name.is_some() {
                        p.push(format!("`{at}.server_name` needs `mode = \"proxy\"`"));
                    }
                }
                RemoteMode::Proxy => {
                    if r.proxy_address.is_none() {
                        p.push(format!("`{at}`: `mode = \"proxy\"` needs `proxy_address`"));
                    }
                    if !r.seeds.is_empty() {
                        p.push(format!(
                            "`{at}.seeds` cannot be used with `mode = \"proxy\"` (use `proxy_address`)"
                        ));
                    }
                }
            }
            for s in r.seeds.iter().chain(r.proxy_address.iter()) {
                if s.rsplit_once(':')
                    .and_then(|(h, port)| (!h.is_empty()).then(|| port.parse::<u16>().ok()))
                    .flatten()
                    .is_none()
                {
                    p.push(format!(
                        "`{at}`: `{s}` is not a host:port transport address"
                    ));
                }
            }
            remotes.push(RemoteSettings {
                cluster: r.cluster,
                alias: r.alias,
                leader: r.leader,
                mode,
                seeds: r.seeds,
                proxy_address: r.proxy_address,
                server_name: r.server_name,
                skip_unavailable: r.skip_unavailable,
                manage: r.manage.unwrap_or(true),
            });
        }
        let remote_known = |cluster: &str, alias: &str| {
            remotes
                .iter()
                .any(|r| r.cluster == cluster && r.alias == alias)
        };

        let mut followers = Vec::new();
        let mut seen_followers = BTreeMap::new();
        for (i, f) in self.followers.into_iter().enumerate() {
            let at = format!("followers[{i}]");
            if f.cluster.is_empty() {
                p.push(format!("`{at}.cluster` is missing"));
            } else if !cluster_known(&f.cluster) {
                p.push(format!(
                    "`{at}.cluster` = `{}` is not a configured cluster",
                    f.cluster
                ));
            }
            if f.remote.is_empty() {
                p.push(format!("`{at}.remote` is missing"));
            } else if cluster_known(&f.cluster) && !remote_known(&f.cluster, &f.remote) {
                p.push(format!(
                    "`{at}.remote` = `{}`: no [[remotes]] entry defines alias `{}` on cluster `{}`",
                    f.remote, f.remote, f.cluster
                ));
            }
            check_index_name(&format!("{at}.leader_index"), &f.leader_index, &mut p);
            check_index_name(&format!("{at}.follower_index"), &f.follower_index, &mut p);
            if !f.follower_index.is_empty() {
                if let Some(first) =
                    seen_followers.insert((f.cluster.clone(), f.follower_index.clone()), i)
                {
                    p.push(format!(
                        "`{at}`: follower_index `{}` on cluster `{}` is already configured by followers[{first}]",
                        f.follower_index, f.cluster
                    ));
                }
            }
            if let Some(params) = &f.parameters {
                params.validate(&at, &mut p);
            }
            followers.push(FollowerSettings {
                cluster: f.cluster,
                remote: f.remote,
                leader_index: f.leader_index,
                follower_index: f.follower_index,
                settings: flat_index_settings(f.settings.as_ref()),
                parameters: f.parameters.unwrap_or_default(),
                promote: f.promote,
            });
        }

        let mut auto_follow = Vec::new();
        let mut seen_patterns = BTreeSet::new();
        for (i, a) in self.auto_follow.into_iter().enumerate() {
            let at = format!("auto_follow[{i}]");
            if a.cluster.is_empty() {
                p.push(format!("`{at}.cluster` is missing"));
            } else if !cluster_known(&a.cluster) {
                p.push(format!(
                    "`{at}.cluster` = `{}` is not a configured cluster",
                    a.cluster
                ));
            }
            if a.name.is_empty() {
                p.push(format!("`{at}.name` is missing"));
            } else if !seen_patterns.insert((a.cluster.clone(), a.name.clone())) {
                p.push(format!(
                    "`{at}`: auto-follow pattern `{}` on cluster `{}` is defined twice",
                    a.name, a.cluster
                ));
            }
            if a.remote.is_empty() {
                p.push(format!("`{at}.remote` is missing"));
            } else if cluster_known(&a.cluster) && !remote_known(&a.cluster, &a.remote) {
                p.push(format!(
                    "`{at}.remote` = `{}`: no [[remotes]] entry defines alias `{}` on cluster `{}`",
                    a.remote, a.remote, a.cluster
                ));
            }
            if a.leader_index_patterns.is_empty() {
                p.push(format!("`{at}.leader_index_patterns` is empty"));
            }
            if let Some(params) = &a.parameters {
                params.validate(&at, &mut p);
            }
            auto_follow.push(AutoFollowSettings {
                cluster: a.cluster,
                name: a.name,
                remote: a.remote,
                leader_index_patterns: a.leader_index_patterns,
                leader_index_exclusion_patterns: a.leader_index_exclusion_patterns,
                follow_index_pattern: a.follow_index_pattern,
                settings: flat_index_settings(a.settings.as_ref()),
                parameters: a.parameters.unwrap_or_default(),
                active: a.active,
            });
        }

        let max_read = parse_duration(
            "health.max_time_since_last_read",
            &self.health.max_time_since_last_read,
            &mut p,
        );
        let backoff_initial = parse_duration(
            "reconcile.backoff_initial",
            &self.reconcile.backoff_initial,
            &mut p,
        );
        let backoff_max =
            parse_duration("reconcile.backoff_max", &self.reconcile.backoff_max, &mut p);
        let connect_timeout = parse_duration(
            "reconcile.connect_timeout",
            &self.reconcile.connect_timeout,
            &mut p,
        );
        if let (Some(a), Some(b)) = (backoff_initial, backoff_max) {
            if b < a {
                p.push(format!(
                    "`reconcile.backoff_max` ({}) is shorter than `reconcile.backoff_initial` ({})",
                    self.reconcile.backoff_max, self.reconcile.backoff_initial
                ));
            }
        }
        if self.health.job_overdue_periods < 2 {
            p.push(format!(
                "`health.job_overdue_periods` = {} must be at least 2",
                self.health.job_overdue_periods
            ));
        }

        let policy = policy::validate(self.policy, &mut p);
        if let Some(pol) = &policy {
            policy::check_window_selectors(&pol.windows, &names, &remotes, &auto_follow, &mut p);
        }

        if !p.is_empty() {
            return Err(p);
        }
        // Every Option below is Some when no problem was recorded; the fallbacks are unreachable but keep this
        // function free of panics.
        let (
            Some(listen),
            Some(poll),
            Some(doc_counts),
            Some(reconcile),
            Some(max_read),
            Some(policy),
        ) = (listen, poll, doc_counts, reconcile, max_read, policy)
        else {
            return Err(vec!["internal error: incomplete validation".into()]);
        };
        let (Some(backoff_initial), Some(backoff_max), Some(connect_timeout)) =
            (backoff_initial, backoff_max, connect_timeout)
        else {
            return Err(vec!["internal error: incomplete validation".into()]);
        };
        Ok(Config {
            http: HttpSettings { listen },
            log: LogSettings {
                level: self.log.level,
                format,
            },
            schedule: Schedules {
                poll,
                doc_counts,
                reconcile,
            },
            clusters,
            remotes,
            followers,
            auto_follow,
            health: HealthThresholds {
                max_lag_operations: self.health.max_lag_operations,
                max_time_since_last_read: max_read,
                max_docs_difference: self.health.max_docs_difference,
                job_overdue_periods: self.health.job_overdue_periods,
            },
            reconcile: ReconcileSettings {
                enabled: self.reconcile.enabled,
                dry_run: self.reconcile.dry_run,
                apply_parameter_changes: self.reconcile.apply_parameter_changes,
                backoff_initial,
                backoff_max,
                connect_timeout,
            },
            audit: AuditSettings {
                file: self.audit.file,
            },
            policy,
            metrics: MetricsSettings {
                per_shard: self.metrics.per_shard,
            },
        })
    }
}

fn validate_cluster(
    name: &str,
    c: RawCluster,
    credentials_dir: Option<&Path>,
    p: &mut Vec<String>,
) -> Option<ClusterSettings> {
    let at = format!("clusters.{name}");
    let before = p.len();
    let url = match c.url.as_deref() {
        None => {
            p.push(format!("`{at}.url` is missing"));
            None
        }
        Some(u) => match reqwest::Url::parse(u) {
            Err(e) => {
                p.push(format!("`{at}.url` is not a URL: {e}"));
                None
            }
            Ok(url) if url.scheme() != "http" && url.scheme() != "https" => {
                p.push(format!("`{at}.url` must start with http:// or https://"));
                None
            }
            Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                // Never echo the URL: it holds a credential.
                p.push(format!(
                    "`{at}.url` contains credentials; use `username` with `password_file` (or `api_key_file`) instead"
                ));
                None
            }
            Ok(url) if url.query().is_some() || url.fragment().is_some() => {
                p.push(format!("`{at}.url` must not have a query or fragment"));
                None
            }
            Ok(url) if url.host_str().is_none() => {
                p.push(format!("`{at}.url` has no host"));
                None
            }
            Ok(url) => Some(url),
        },
    };

    let secret = |key: &str,
                  inline: Option<SecretString>,
                  file: Option<PathBuf>,
                  p: &mut Vec<String>| {
        match (inline, file) {
            (Some(_), Some(_)) => {
                p.push(format!(
                    "`{at}`: set either `{key}` or `{key}_file`, not both"
                ));
                None
            }
            (Some(s), None) if s.expose_secret().is_empty() => {
                p.push(format!("`{at}.{key}` is empty"));
                None
            }
            (Some(s), None) => Some(s),
            (None, Some(path)) => {
                read_secret_file(&format!("{at}.{key}_file"), &path, credentials_dir, p)
            }
            (None, None) => None,
        }
    };
    let has_password = c.password.is_some() || c.password_file.is_some();
    let has_api_key = c.api_key.is_some() || c.api_key_file.is_some();
    let password = secret("password", c.password, c.password_file, p);
    let api_key = secret("api_key", c.api_key, c.api_key_file, p);
    let auth = match (c.username, has_password, has_api_key) {
        (_, true, true) => {
            p.push(format!(
                "`{at}`: use either username/password or api_key, not both"
            ));
            Auth::None
        }
        (Some(_), false, true) => {
            p.push(format!("`{at}.username` is not used with api_key"));
            Auth::None
        }
        (Some(u), true, false) => match password {
            Some(password) => Auth::Basic {
                username: u,
                password,
            },
            None => Auth::None,
        },
        (Some(_), false, false) => {
            p.push(format!(
                "`{at}.username` is set but `password` / `password_file` is not"
            ));
            Auth::None
        }
        (None, true, false) => {
            p.push(format!("`{at}`: a password needs `username`"));
            Auth::None
        }
        (None, false, true) => api_key.map(Auth::ApiKey).unwrap_or_default(),
        (None, false, false) => Auth::None,
    };

    let ca_cert_pem = c
        .ca_cert
        .as_ref()
        .and_then(|path| match std::fs::read(path) {
            Ok(bytes) => match reqwest::Certificate::from_pem(&bytes) {
                Ok(_) => Some(bytes),
                Err(_) => {
                    p.push(format!(
                        "`{at}.ca_cert`: {} is not a PEM certificate",
                        path.display()
                    ));
                    None
                }
            },
            Err(e) => {
                p.push(format!(
                    "`{at}.ca_cert`: cannot read {}: {e}",
                    path.display()
                ));
                None
            }
        });
    if c.insecure_skip_verify && c.ca_cert.is_some() {
        p.push(format!(
            "`{at}`: `ca_cert` has no effect with `insecure_skip_verify = true`; remove one"
        ));
    }
    let timeout = match c.timeout.as_deref() {
        None => Some(Duration::from_secs(10)),
        Some(t) => parse_duration(&format!("{at}.timeout"), t, p),
    };
    if p.len() != before {
        return None;
    }
    Some(ClusterSettings {
        name: name.to_string(),
        url: url?,
        auth,
        ca_cert_pem,
        insecure_skip_verify: c.insecure_skip_verify,
        timeout: timeout?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        path
    }

    const GOOD: &str = r#"
[http]
listen = "127.0.0.1:0"
[clusters.leader]
url = "http://127.0.0.1:9200"
[clusters.follower]
url = "http://127.0.0.1:9201"
username = "ccr_monitor"
password_file = "pw"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
seeds = ["127.0.0.1:9300"]
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs-copy"
"#;

    #[test]
    fn loads_a_good_file_and_reads_secret_relative_to_credentials_directory() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pw", "s3cret\n");
        let path = write(dir.path(), "c.toml", GOOD);
        let env = vec![(
            "CREDENTIALS_DIRECTORY".to_string(),
            dir.path().display().to_string(),
        )];
        let cfg = load_with_env(&path, env).unwrap();
        match &cfg.clusters["follower"].auth {
            Auth::Basic { username, password } => {
                assert_eq!(username, "ccr_monitor");
                assert_eq!(password.expose_secret(), "s3cret");
            }
            other => panic!("unexpected auth {other:?}"),
        }
        assert!(!format!("{cfg:?}").contains("s3cret"));
        assert_eq!(cfg.schedule.poll.period, Duration::from_secs(15));
        assert_eq!(cfg.follower_clusters(), vec!["follower".to_string()]);
        assert_eq!(cfg.leader_cluster("follower", "leader"), Some("leader"));
    }

    #[test]
    fn environment_overrides_nested_keys_and_ignores_the_cli_variable() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pw", "x");
        let path = write(dir.path(), "c.toml", GOOD);
        let env = vec![
            (
                "CREDENTIALS_DIRECTORY".into(),
                dir.path().display().to_string(),
            ),
            ("CCR_SENTINEL_HTTP__LISTEN".into(), "0.0.0.0:9999".into()),
            (
                "CCR_SENTINEL_HEALTH__MAX_LAG_OPERATIONS".into(),
                "42".into(),
            ),
            (
                "CCR_SENTINEL_CLUSTERS__LEADER__PASSWORD".into(),
                "0123".into(),
            ),
            ("CCR_SENTINEL_CLUSTERS__LEADER__USERNAME".into(), "u".into()),
            ("CCR_SENTINEL_CONFIG".into(), "/elsewhere".into()),
        ];
        let cfg = load_with_env(&path, env).unwrap();
        assert_eq!(cfg.http.listen.to_string(), "0.0.0.0:9999");
        assert_eq!(cfg.health.max_lag_operations, 42);
        match &cfg.clusters["leader"].auth {
            Auth::Basic { password, .. } => assert_eq!(password.expose_secret(), "0123"),
            other => panic!("unexpected auth {other:?}"),
        }
    }

    #[test]
    fn reports_every_problem_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"
[http]
listen = "nope"
colour = "blue"
[schedule]
poll = "every minute"
[clusters.leader]
url = "http://user:hunter2@127.0.0.1:9200"
pasword = "x"
[clusters.follower]
url = "http://127.0.0.1:9201"
username = "u"
password_file = "/nonexistent/secret"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "nowhere"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "a"
follower_index = "b"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "c"
follower_index = "b"
[[followers]]
cluster = "ghost"
remote = "x"
leader_index = "A*"
follower_index = "d"
"#;
        let path = write(dir.path(), "bad.toml", text);
        let err = load_with_env(&path, Vec::new()).unwrap_err();
        let all = err.problems.join("\n");
        for needle in [
            "unknown key `http.colour`",
            "unknown key `clusters.leader.pasword`",
            "`http.listen`",
            "`schedule.poll`",
            "contains credentials",
            "cannot read secret file /nonexistent/secret",
            "`remotes[0].leader` = `nowhere`",
            "already configured by followers[0]",
            "`followers[2].cluster` = `ghost`",
            "`followers[2].leader_index` = `A*`",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        assert!(!all.contains("hunter2"), "credential leaked:\n{all}");
    }

    #[test]
    fn reconcile_sections_settings_and_parameters() {
        let text = r#"
[clusters.leader]
url = "http://127.0.0.1:9200"
[clusters.follower]
url = "http://127.0.0.1:9201"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
manage = false
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "logs"
follower_index = "logs-copy"
settings = { "index.number_of_replicas" = 0, index = { priority = 5 } }
parameters = { max_read_request_operation_count = 1000, read_poll_timeout = "30s" }
[[auto_follow]]
cluster = "follower"
name = "p"
remote = "leader"
leader_index_patterns = ["a-*"]
active = false
[reconcile]
dry_run = true
apply_parameter_changes = true
backoff_initial = "5s"
backoff_max = "1m"
[audit]
file = "/tmp/audit.jsonl"
"#;
        let cfg = from_toml_str(text).unwrap();
        assert!(!cfg.remotes[0].manage);
        let f = &cfg.followers[0];
        assert_eq!(
            f.settings
                .get("index.number_of_replicas")
                .map(String::as_str),
            Some("0")
        );
        assert_eq!(
            f.settings.get("index.priority").map(String::as_str),
            Some("5")
        );
        assert_eq!(f.parameters.max_read_request_operation_count, Some(1000));
        assert_eq!(f.parameters.read_poll_timeout.as_deref(), Some("30s"));
        assert_eq!(cfg.auto_follow[0].active, Some(false));
        assert!(
            cfg.reconcile.dry_run && cfg.reconcile.apply_parameter_changes && cfg.reconcile.enabled
        );
        assert_eq!(cfg.reconcile.backoff_initial, Duration::from_secs(5));
        assert_eq!(
            cfg.audit.file.as_deref(),
            Some(Path::new("/tmp/audit.jsonl"))
        );

        let bad = text
            .replace(
                "read_poll_timeout = \"30s\"",
                "max_retry_delay = \"10m\", max_write_buffer_size = \"lots\"",
            )
            .replace("backoff_max = \"1m\"", "backoff_max = \"1s\"");
        let err = from_toml_str(&bad).unwrap_err().problems.join("\n");
        for needle in [
            "`followers[0].parameters.max_retry_delay` = `10m` must be positive and at most 5m",
            "`followers[0].parameters.max_write_buffer_size` = `lots` is not a positive byte size",
            "`reconcile.backoff_max` (1s) is shorter than `reconcile.backoff_initial` (5s)",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
        }
        let unknown = text.replace("read_poll_timeout", "read_pol_timeout");
        assert!(from_toml_str(&unknown).is_err());
    }

    #[test]
    fn byte_sizes_and_times() {
        assert_eq!(parse_byte_size("32mb"), Some(32 << 20));
        assert_eq!(
            parse_byte_size("9223372036854775807b"),
            Some(i64::MAX as u64)
        );
        assert_eq!(parse_byte_size("0.5gb"), Some(512 << 20));
        assert_eq!(parse_byte_size("12"), None);
        assert_eq!(parse_es_time("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_es_time("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_es_time("soon"), None);
    }

    #[test]
    fn cron_accepts_six_and_five_fields() {
        assert_eq!(
            parse_cron("*/15 * * * * *").unwrap().period,
            Duration::from_secs(15)
        );
        let five = parse_cron("*/5 * * * *").unwrap();
        assert_eq!(five.expr, "0 */5 * * * *");
        assert_eq!(five.period, Duration::from_secs(300));
        assert!(parse_cron("* * *").is_err());
        assert!(parse_cron("61 * * * * *").is_err());
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

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
