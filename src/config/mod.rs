//! Configuration: TOML file plus `CCR_SENTINEL_*` environment overrides, validated in one pass.
//!
//! Loading happens in three steps so that a user sees every problem at once:
//! 1. the `config` crate merges the file and the environment into one tree;
//! 2. keys the schema does not know are removed from the tree and reported (serde's `deny_unknown_fields`
//!    would stop at the first one; it stays on the structs as a safety net);
//! 3. the pruned tree is deserialized into [`RawConfig`] table by table, so every type error is reported with
//!    its key path (a bad key is left out and the rest still checked), and [`RawConfig::validate`] checks every
//!    semantic rule (references, cron syntax, secret files, the state directory, duplicates), collecting all
//!    problems.
//!
//! Environment variables are read as bytes: one the loader does not use may be anything, one it uses
//! (`CCR_SENTINEL_*`, `CREDENTIALS_DIRECTORY`) must be UTF-8.
//!
//! This file holds the validated types ([`Config`] and its sections), the loader and [`ConfigError`];
//! `schema` holds the file schema, `validate` the semantic checks (one function per section), `values`
//! the value parsers (sizes, times, durations, cron, follow parameters) and `policy` the `[policy]` section.
//!
//! Secrets are `secrecy` types: their `Debug` prints `[REDACTED]` and they have no `Serialize`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

pub mod policy;
pub mod schema;
pub mod topology;
mod validate;
pub use validate::{index_name, port_mixup};
pub mod values;

pub use policy::{OnLeaderDeleted, PolicySettings, Window};
pub mod key;
pub use key::ClusterKey;
pub use schema::RawConfig;
pub use topology::{
    PairState, SwitchoverKind, SwitchoverMark, Topology, TopologyError, TopologyFollower,
    TopologyPattern,
};
pub use values::{
    cron_parser, flat_index_settings, parse_byte_size, parse_es_time, CronSchedule,
    FollowParameters,
};

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

/// The validated configuration. Every reference in it resolves; secrets are loaded.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[http]`: the listen address of the metrics and health endpoints.
    pub http: HttpSettings,
    /// `[log]`: level and format.
    pub log: LogSettings,
    /// `[schedule]`: when the jobs run.
    pub schedule: Schedules,
    /// Clusters by their configuration name (the `cluster` / `follower_cluster` label value).
    pub clusters: BTreeMap<String, ClusterSettings>,
    /// `[[remotes]]`: remote cluster aliases on local clusters.
    pub remotes: Vec<RemoteSettings>,
    /// `[[followers]]`: the follower indices to watch and reconcile.
    pub followers: Vec<FollowerSettings>,
    /// `[[auto_follow]]`: the auto-follow patterns to watch and reconcile.
    pub auto_follow: Vec<AutoFollowSettings>,
    /// `[health]`: the thresholds of the verdicts.
    pub health: HealthThresholds,
    /// `[reconcile]`: how reconcile runs.
    pub reconcile: ReconcileSettings,
    /// `[audit]`: where actions are recorded.
    pub audit: AuditSettings,
    /// `[policy]`: what the daemon may do on its own.
    pub policy: PolicySettings,
    /// `[metrics]`: optional metric series.
    pub metrics: MetricsSettings,
    /// `[dr]`: switchovers and failovers between clusters.
    pub dr: DrSettings,
    /// The topology applied by [`Config::with_topology`]; empty in the declared configuration.
    pub topology: Topology,
    /// What of the applied topology does not fit the configuration ([`Topology::problems`]), and a topology file
    /// that could not be read; empty when none.
    pub topology_problems: Vec<String>,
    /// The topology file exists but could not be read: the declared configuration is in use, and reconcile is
    /// suspended so it cannot undo a switchover it does not know about.
    pub topology_error: Option<String>,
}

/// The default `[dr] anti_flap_period`: a pair is not switched again within an hour of its last switchover.
pub const DEFAULT_ANTI_FLAP_PERIOD: Duration = Duration::from_secs(3600);
/// The default `[dr] replicated_suffix`, Elastic's bi-directional convention
/// (`logs-generic-default-replicated_from_clustera`).
pub const DEFAULT_REPLICATED_SUFFIX: &str = "-replicated_from_";

/// `[dr]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrSettings {
    /// A switchover or failover of a pair is refused this long after the last one finished (zero: never).
    pub anti_flap_period: Duration,
    /// Appended to a leader index name, then the leader's cluster name, to name the followers of the reverse
    /// direction of data streams (`{{leader_index}}-replicated_from_<cluster>`).
    pub replicated_suffix: String,
}

impl Default for DrSettings {
    fn default() -> Self {
        Self {
            anti_flap_period: DEFAULT_ANTI_FLAP_PERIOD,
            replicated_suffix: DEFAULT_REPLICATED_SUFFIX.to_string(),
        }
    }
}

impl DrSettings {
    /// The `follow_index_pattern` of a pattern following the data streams of `leader_cluster`:
    /// `{{leader_index}}<suffix><cluster>`, the cluster name lowercased (index names are lowercase). On 8.4+
    /// Elasticsearch applies it to the stream name inside a backing index name
    /// (`AutoFollowCoordinator.getFollowerIndexName`: `.ds-logs-replicated_from_a-2026.12.02-000001`), so the
    /// follower's stream is renamed too.
    pub fn follow_index_pattern(&self, leader_cluster: &str) -> String {
        format!(
            "{{{{leader_index}}}}{}{}",
            self.replicated_suffix,
            leader_cluster.to_lowercase()
        )
    }

    /// The `leader_index_exclusion_patterns` entry that keeps a pattern from following the other side's
    /// replicated copies back (`*-replicated_from_*`), so two clusters following each other never loop.
    pub fn replicated_exclusion_pattern(&self) -> String {
        format!("*{}*", self.replicated_suffix)
    }
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
    /// The longest wait before retrying a failed item.
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
    /// The JSON-lines audit file, if any.
    pub file: Option<PathBuf>,
}

/// `[metrics]`, validated.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// Export per-shard series too.
    pub per_shard: bool,
    /// Export the per-follower families outside the default set too.
    pub detailed: bool,
}

/// `[http]`, validated.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The address the HTTP server binds.
    pub listen: SocketAddr,
    /// The limits that keep the HTTP server from being starved.
    pub limits: HttpLimits,
}

/// `[http]` limits: a connection cap and timeouts, so idle and slow clients cannot hold the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once; further ones wait in the kernel's accept queue (no descriptor used).
    pub max_connections: usize,
    /// A connection must send a complete request head within this time of waiting for one (a new connection,
    /// or a kept-alive one between requests), else it is closed.
    pub header_read_timeout: Duration,
    /// A request is answered `503` if its handler takes longer.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_read_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`, validated.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    /// The `tracing` filter; `None` uses the default (and `RUST_LOG` wins when set).
    pub level: Option<String>,
    /// Text or JSON lines.
    pub format: LogFormat,
}

/// `[schedule]`, validated.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// The `poll` job (read follower stats).
    pub poll: CronSchedule,
    /// The `doc_counts` job (compare document counts).
    pub doc_counts: CronSchedule,
    /// The `reconcile` job.
    pub reconcile: CronSchedule,
    /// The `heartbeat` job (the canary writes).
    pub heartbeat: CronSchedule,
}

/// The leader index the heartbeat canary writes to, on every leader cluster of a `heartbeat = true` remote. The
/// daemon creates it and never deletes it; no business index is named like this, and it avoids the dot prefix
/// Elasticsearch deprecates for user indices.
pub const HEARTBEAT_INDEX: &str = "ccr-sentinel-heartbeat";

/// The follower of [`HEARTBEAT_INDEX`] through the remote `alias`: one per remote of a follower cluster.
pub fn heartbeat_follower_index(alias: &str) -> String {
    format!("{HEARTBEAT_INDEX}-{}", alias.to_ascii_lowercase())
}

/// How the daemon authenticates to a cluster.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    /// No credentials.
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password, from the file or the environment.
        password: SecretString,
    },
    /// The encoded API key, sent as `Authorization: ApiKey <key>`.
    ApiKey(SecretString),
}

/// `[clusters.NAME]`, validated; secrets and the CA certificate are loaded.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The configuration name (`[clusters.NAME]`).
    pub name: String,
    /// Base URL without credentials, query or fragment.
    pub url: reqwest::Url,
    /// How requests authenticate.
    pub auth: Auth,
    /// PEM bytes of an extra CA to trust (in addition to the built-in roots).
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Accept any TLS certificate.
    pub insecure_skip_verify: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The largest successful response body read from the cluster; a larger one is an error.
    pub max_response_bytes: usize,
}

/// The default `max_response_size`: a compact `GET /_ccr/stats` of 10,000 followers with 5 shards each and
/// 40-character index names is about 52 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 << 20;
/// The default `max_secret_file_size`: the largest `password_file` or `api_key_file` read; a larger one is refused.
pub const DEFAULT_MAX_SECRET_FILE_BYTES: u64 = 64 << 10;
/// The largest `ca_cert` file read: room for a whole system bundle (Debian's `ca-certificates.crt` is about
/// 220 KB); a larger one is refused.
pub const MAX_CA_CERT_BYTES: u64 = 1 << 20;

/// Remote cluster connection mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteMode {
    /// Connect to seed nodes, then to the nodes they advertise.
    Sniff,
    /// Connect through one proxy address.
    Proxy,
}

/// How a remote connection authenticates to the leader cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteSecurity {
    /// TLS certificates trusted by both clusters, on the leader's transport port (default 9300); the only model
    /// before 8.10, deprecated in 9.0. The follower user needs privileges on the leader cluster too.
    #[default]
    Certificate,
    /// A cross-cluster API key (8.10 beta, 8.14 GA) in the follower nodes' keystores
    /// (`cluster.remote.<alias>.credentials`), on the leader's remote cluster server port (default 9443).
    ApiKey,
}

impl RemoteSecurity {
    /// The configuration value.
    pub fn as_str(&self) -> &'static str {
        match self {
            RemoteSecurity::Certificate => "certificate",
            RemoteSecurity::ApiKey => "api_key",
        }
    }
}

/// The default transport port (certificate remotes connect there).
pub const TRANSPORT_PORT: u16 = 9300;
/// The default remote cluster server port (API-key remotes connect there).
pub const REMOTE_CLUSTER_PORT: u16 = 9443;
/// The default HTTP port, which no remote can use.
pub const HTTP_PORT: u16 = 9200;
/// The default lifetime of a cross-cluster API key reconcile creates.
pub const DEFAULT_API_KEY_EXPIRATION: &str = "90d";

/// `[[remotes]]`, validated: on `cluster`, alias `alias` points at configured cluster `leader`.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// The local cluster the remote is defined on.
    pub cluster: String,
    /// The remote cluster alias (`cluster.remote.<alias>`).
    pub alias: String,
    /// The configured cluster the alias points at.
    pub leader: String,
    /// Sniff or proxy connection mode.
    pub mode: RemoteMode,
    /// Transport addresses (`host:port`) for sniff mode.
    pub seeds: Vec<String>,
    /// The transport address (`host:port`) for proxy mode.
    pub proxy_address: Option<String>,
    /// The TLS server name for proxy mode.
    pub server_name: Option<String>,
    /// `skip_unavailable` of the remote; `None` leaves the cluster setting alone.
    pub skip_unavailable: Option<bool>,
    /// Reconcile writes this remote's settings (default); `false` only maps the alias.
    pub manage: bool,
    /// The security model of the connection.
    pub security: RemoteSecurity,
    /// The `expiration` of the cross-cluster API key reconcile creates (`api_key` remotes; an Elasticsearch time
    /// value such as `90d`); `None`: the key never expires.
    pub api_key_expiration: Option<String>,
    /// The heartbeat canary: the daemon writes a timestamp into [`HEARTBEAT_INDEX`] on `leader`, follows it as
    /// [`heartbeat_follower_index`] and reads the follower's copy to measure the end-to-end delay.
    pub heartbeat: bool,
}

impl RemoteSettings {
    /// Every address the remote connects to (`seeds` or `proxy_address`).
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.seeds
            .iter()
            .chain(self.proxy_address.iter())
            .map(String::as_str)
    }
}

/// `[[followers]]`, validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FollowerSettings {
    /// The local cluster that holds the follower index.
    pub cluster: String,
    /// The remote cluster alias of the leader.
    pub remote: String,
    /// The index followed on the leader cluster.
    pub leader_index: String,
    /// The follower index on `cluster`.
    pub follower_index: String,
    /// Follower index settings for the follow request, flattened to `index.*` keys with string values.
    pub settings: BTreeMap<String, String>,
    /// Follow parameters for the follow request; unset ones are not sent.
    pub parameters: FollowParameters,
    /// Unfollow automatically once caught up (the `promote` policy).
    pub promote: bool,
}

/// `[[auto_follow]]`, validated.
#[derive(Debug, Clone)]
pub struct AutoFollowSettings {
    /// The local cluster that holds the pattern.
    pub cluster: String,
    /// The pattern name.
    pub name: String,
    /// The remote cluster alias of the leader.
    pub remote: String,
    /// Leader index patterns to follow.
    pub leader_index_patterns: Vec<String>,
    /// Leader index patterns never to follow.
    pub leader_index_exclusion_patterns: Vec<String>,
    /// The follower index name template (`{{leader_index}}` expands); `None` keeps the leader name.
    pub follow_index_pattern: Option<String>,
    /// Settings for created followers, flattened to `index.*` keys with string values.
    pub settings: BTreeMap<String, String>,
    /// Follow parameters for the followers the pattern creates.
    pub parameters: FollowParameters,
    /// Desired state: reconcile pauses or resumes the pattern to match; `None` leaves it alone.
    pub active: Option<bool>,
}

/// `[health]`, validated: the thresholds of the verdicts in [`crate::evaluate::health`].
#[derive(Debug, Clone, PartialEq)]
pub struct HealthThresholds {
    /// A follower lagging by more operations than this is `lagging`.
    pub max_lag_operations: u64,
    /// A follower behind its leader that has not read for longer than this is `stalled`.
    pub max_time_since_last_read: Duration,
    /// The document count difference between a caught-up follower and a quiet leader that is still `ok`.
    pub max_docs_difference: u64,
    /// `/health` fails when a job has not run for this many of its periods.
    pub job_overdue_periods: u32,
    /// `promote` refuses a follower whose lag in time is above this, unless forced.
    pub max_promote_lag: Duration,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            max_lag_operations: schema::default_max_lag(),
            max_time_since_last_read: Duration::from_secs(300),
            max_docs_difference: 0,
            job_overdue_periods: schema::default_overdue_periods(),
            max_promote_lag: Duration::from_secs(120),
        }
    }
}

/// The warning for a cluster with `insecure_skip_verify = true`, the same in the log, `config check` and
/// `status`.
pub fn insecure_tls_warning(cluster: &str) -> String {
    format!(
        "`clusters.{cluster}.insecure_skip_verify = true`: the TLS certificate of cluster {cluster} is not verified; \
         anyone on the network path can read the credentials and forge answers (set `ca_cert` instead)"
    )
}

impl Config {
    /// Settings that are valid but unsafe, one sentence each (`config check` prints them, `run` logs them).
    pub fn warnings(&self) -> Vec<String> {
        self.clusters
            .values()
            .filter(|c| c.insecure_skip_verify)
            .map(|c| insecure_tls_warning(&c.name))
            .chain(self.policy.lease_warnings())
            .collect()
    }

    /// The leader indices and auto-follow patterns configured through remote `alias` on `cluster`: what the
    /// cross-cluster API key of an `api_key` remote must grant (`access.replication[].names`). Sorted, without
    /// duplicates.
    pub fn replication_names(&self, cluster: &str, alias: &str) -> Vec<String> {
        let names: BTreeSet<String> = self
            .followers
            .iter()
            .filter(|f| f.cluster == cluster && f.remote == alias)
            .map(|f| f.leader_index.clone())
            .chain(
                self.auto_follow
                    .iter()
                    .filter(|a| a.cluster == cluster && a.remote == alias)
                    .flat_map(|a| a.leader_index_patterns.iter().cloned()),
            )
            .collect();
        names.into_iter().collect()
    }

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

/// Loads and validates `path` with overrides from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let env = utf8_env(std::env::vars_os()).map_err(|problems| ConfigError {
        path: path.to_path_buf(),
        problems,
    })?;
    load_with_env(path, env)
}

/// The environment variables the loader reads (`CCR_SENTINEL_*`, `CREDENTIALS_DIRECTORY`) as UTF-8 text. Any
/// other variable is passed through when it is UTF-8 and ignored when it is not (it is none of the loader's
/// business); one the loader reads that is not UTF-8 is a problem naming it.
pub fn utf8_env(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<Vec<(String, String)>, Vec<String>> {
    let prefix = format!("{ENV_PREFIX}_");
    let mut env = Vec::new();
    let mut problems = Vec::new();
    for (k, v) in vars {
        let name = k.to_string_lossy();
        let ours = name.starts_with(&prefix) || name == "CREDENTIALS_DIRECTORY";
        match (k.to_str(), v.into_string()) {
            (Some(k), Ok(v)) => env.push((k.to_string(), v)),
            _ if ours => problems.push(format!(
                "environment variable {name} is not valid UTF-8; its value is not used"
            )),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(env)
    } else {
        Err(problems)
    }
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
        Utc::now(),
    )
}

/// Validates configuration text (TOML) without environment overrides; for the demo and tests.
pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
    build(
        config::File::from_str(text, config::FileFormat::Toml),
        Path::new("<inline>"),
        HashMap::new(),
        Utc::now(),
    )
}

/// Merges `file` with the overrides in `env`, prunes and reports unknown keys, then validates; cron periods are
/// measured from `now`.
fn build<S>(
    file: S,
    path: &Path,
    env: HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Config, ConfigError>
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
    let raw = deserialize_collecting(built.cache, &mut problems);
    match raw.validate(credentials_dir.as_deref(), now) {
        Ok(cfg) if problems.is_empty() => Ok(cfg),
        Ok(_) => Err(fail(problems)),
        Err(more) => {
            problems.extend(more);
            Err(fail(problems))
        }
    }
}

/// Deserializes the pruned tree into [`RawConfig`] table by table (each section, each cluster, each array
/// item), so a type error in one place does not hide those in others: every bad key is reported with its path
/// and left out, and the rest is still deserialized and validated.
fn deserialize_collecting(tree: config::Value, problems: &mut Vec<String>) -> RawConfig {
    use config::ValueKind;
    let mut raw = RawConfig::default();
    let mut top = match tree.kind {
        ValueKind::Table(t) => t,
        _ => return raw,
    };
    let mut take = |key: &str| top.remove(key);
    if let Some(v) = take("http") {
        raw.http = table_collecting(v, "http", problems);
    }
    if let Some(v) = take("log") {
        raw.log = table_collecting(v, "log", problems);
    }
    if let Some(v) = take("schedule") {
        raw.schedule = table_collecting(v, "schedule", problems);
    }
    if let Some(v) = take("clusters") {
        match v.kind {
            ValueKind::Table(t) => {
                for (name, c) in t {
                    let at = format!("clusters.{name}");
                    let cluster = table_collecting(c, &at, problems);
                    raw.clusters.insert(name, cluster);
                }
            }
            _ => problems.push("`clusters`: expected tables like [clusters.NAME]".into()),
        }
    }
    if let Some(v) = take("remotes") {
        raw.remotes = array_collecting(v, "remotes", problems);
    }
    if let Some(v) = take("followers") {
        raw.followers = array_collecting(v, "followers", problems);
    }
    if let Some(v) = take("auto_follow") {
        raw.auto_follow = array_collecting(v, "auto_follow", problems);
    }
    if let Some(v) = take("health") {
        raw.health = table_collecting(v, "health", problems);
    }
    if let Some(v) = take("reconcile") {
        raw.reconcile = table_collecting(v, "reconcile", problems);
    }
    if let Some(v) = take("audit") {
        raw.audit = table_collecting(v, "audit", problems);
    }
    if let Some(v) = take("policy") {
        raw.policy = table_collecting(v, "policy", problems);
    }
    if let Some(v) = take("metrics") {
        raw.metrics = table_collecting(v, "metrics", problems);
    }
    if let Some(v) = take("dr") {
        raw.dr = table_collecting(v, "dr", problems);
    }
    raw
}

/// `[[key]]` items, each deserialized on its own.
fn array_collecting<T>(value: config::Value, key: &str, problems: &mut Vec<String>) -> Vec<T>
where
    T: serde::de::DeserializeOwned + Default,
{
    match value.kind {
        config::ValueKind::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| table_collecting(item, &format!("{key}[{i}]"), problems))
            .collect(),
        _ => {
            problems.push(format!(
                "`{key}`: expected an array of tables like [[{key}]]"
            ));
            Vec::new()
        }
    }
}

/// One table as `T`. When it does not deserialize, each key is tried alone (every field of the `Raw*` structs
/// is optional), each failing key is reported as `path.key: error` and dropped, and the rest is used.
fn table_collecting<T>(value: config::Value, path: &str, problems: &mut Vec<String>) -> T
where
    T: serde::de::DeserializeOwned + Default,
{
    use config::ValueKind;
    let origin = value.origin().map(str::to_string);
    let table = match value.kind {
        ValueKind::Table(t) => t,
        _ => {
            problems.push(format!("`{path}`: expected a table"));
            return T::default();
        }
    };
    let whole = config::Value::new(origin.as_ref(), ValueKind::Table(table.clone()));
    let first_error = match whole.try_deserialize::<T>() {
        Ok(v) => return v,
        Err(e) => e,
    };
    let mut good = config::Map::new();
    let mut reported = false;
    let mut keys: Vec<&String> = table.keys().collect();
    keys.sort();
    for key in keys {
        let one: config::Map<String, config::Value> =
            std::iter::once((key.clone(), table[key].clone())).collect();
        match config::Value::new(origin.as_ref(), ValueKind::Table(one)).try_deserialize::<T>() {
            Ok(_) => {
                good.insert(key.clone(), table[key].clone());
            }
            Err(e) => {
                reported = true;
                let (text, inner) = type_error_text(&e);
                let full = inner.unwrap_or_else(|| key.clone());
                problems.push(format!("`{path}.{full}`: {text}"));
            }
        }
    }
    if !reported {
        // Only a combination of keys fails (none alone): report the error as serde gave it.
        problems.push(format!("`{path}`: {}", type_error_text(&first_error).0));
    }
    config::Value::new(origin.as_ref(), ValueKind::Table(good))
        .try_deserialize::<T>()
        .unwrap_or_default()
}

/// A deserialization error's text, and the key path the `config` crate appends to it (relative to the table
/// deserialized), split off so the caller can name the full path.
fn type_error_text(e: &config::ConfigError) -> (String, Option<String>) {
    let text = e.to_string();
    let Some(i) = text.find(" for key `") else {
        return (text, None);
    };
    let rest = &text[i + " for key `".len()..];
    let key = rest.find('`').map(|j| rest[..j].to_string());
    (text[..i].to_string(), key)
}

/// Removes keys the schema does not know from `value` (a table at `path`), recording one problem each.
fn prune_unknown(value: &mut config::Value, section: &str, path: &str, problems: &mut Vec<String>) {
    use config::ValueKind;
    let ValueKind::Table(table) = &mut value.kind else {
        return;
    };
    let known = schema::known_keys(section);
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

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
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
}
