//! Preflight (`ccr-sentinel check`): the prerequisites of the CCR setup runbook, checked and explained before
//! anything is changed. [`gather`] reads the clusters (read-only requests only, in `gather.rs`); [`evaluate`]
//! is pure (in `evaluate.rs`) and turns the facts into [`CheckResult`]s, each with a how-to-fix.
//!
//! Checks (the `check` label of `ccr_sentinel_preflight_problems`): `reachable`, `version`, `version_compat`,
//! `license`, `remote`, `seeds`, `leader_index`, `soft_deletes`, `replication_type`, `follower_index`,
//! `privileges`, and for the remote security models (`security.rs`) `remote_security`, `api_key`,
//! `remote_privileges`, `leader_manage`.

mod evaluate;
mod gather;
mod security;

pub use evaluate::evaluate;
pub use gather::gather;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::config::Config;
use crate::es::{
    ApiKeyInfo, HasPrivilegesResponse, IndexSettings, LicenseInfo, UserPrivilegesResponse,
};
use crate::es::{EsClient, EsError};
use crate::es::{FollowerInfo, RemoteInfoResponse, RootInfo};

/// A preflight check: the `check` field of the report and the `check` label of `ccr_sentinel_preflight_problems`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    Reachable,
    Version,
    VersionCompat,
    License,
    Remote,
    Seeds,
    LeaderIndex,
    SoftDeletes,
    ReplicationType,
    FollowerIndex,
    Privileges,
    RemoteSecurity,
    ApiKey,
    RemotePrivileges,
    LeaderManage,
}

impl Check {
    /// Every check.
    pub const ALL: [Check; 15] = [
        Check::Reachable,
        Check::Version,
        Check::VersionCompat,
        Check::License,
        Check::Remote,
        Check::Seeds,
        Check::LeaderIndex,
        Check::SoftDeletes,
        Check::ReplicationType,
        Check::FollowerIndex,
        Check::Privileges,
        Check::RemoteSecurity,
        Check::ApiKey,
        Check::RemotePrivileges,
        Check::LeaderManage,
    ];

    /// The name in reports and labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            Check::Reachable => "reachable",
            Check::Version => "version",
            Check::VersionCompat => "version_compat",
            Check::License => "license",
            Check::Remote => "remote",
            Check::Seeds => "seeds",
            Check::LeaderIndex => "leader_index",
            Check::SoftDeletes => "soft_deletes",
            Check::ReplicationType => "replication_type",
            Check::FollowerIndex => "follower_index",
            Check::Privileges => "privileges",
            Check::RemoteSecurity => "remote_security",
            Check::ApiKey => "api_key",
            Check::RemotePrivileges => "remote_privileges",
            Check::LeaderManage => "leader_manage",
        }
    }
}

/// Serialized as its name.
impl Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    /// Not blocking, but against the runbook's advice.
    Warn,
    /// Blocks CCR.
    Fail,
    /// Could not be checked (the note says why).
    Skip,
}

impl CheckStatus {
    /// The table word.
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "FAIL",
            CheckStatus::Skip => "skip",
        }
    }
}

/// One check of one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub check: Check,
    /// What was checked: `cluster leader`, `follower/leader`, `leader:logs`, ...
    pub target: String,
    pub status: CheckStatus,
    pub message: String,
    /// How to fix it, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Every check of a run.
#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub ok: bool,
    pub problems: usize,
    pub warnings: usize,
    pub checks: Vec<CheckResult>,
}

/// The `preflight` section of `/status`: [`PreflightReport::status_view`].
#[derive(Debug, Serialize)]
pub struct PreflightStatus<'a> {
    pub ok: bool,
    pub problems: usize,
    pub warnings: usize,
    /// Checks that passed, counted only.
    pub passed: usize,
    /// Every check that did not pass (failed, warned or skipped).
    pub checks: Vec<&'a CheckResult>,
}

impl PreflightReport {
    /// Wraps results.
    pub fn new(checks: Vec<CheckResult>) -> Self {
        let problems = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .count();
        let warnings = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Warn)
            .count();
        Self {
            ok: problems == 0,
            problems,
            warnings,
            checks,
        }
    }

    /// What `/status` keeps of the report while the daemon runs: the counts, and the checks that did not pass.
    /// With thousands of followers the passed checks are most of the report, repeat what `/status` says of each
    /// follower, and would stay in memory for the daemon's life; `ccr-sentinel preflight` lists them all.
    pub fn status_view(&self) -> PreflightStatus<'_> {
        PreflightStatus {
            ok: self.ok,
            problems: self.problems,
            warnings: self.warnings,
            passed: self
                .checks
                .iter()
                .filter(|c| c.status == CheckStatus::Ok)
                .count(),
            checks: self
                .checks
                .iter()
                .filter(|c| c.status != CheckStatus::Ok)
                .collect(),
        }
    }

    /// Failed checks by check name (every check name present, 0 when it passed), for the gauge.
    pub fn problems_by_check(&self) -> BTreeMap<&'static str, usize> {
        let mut m: BTreeMap<&'static str, usize> =
            Check::ALL.iter().map(|c| (c.as_str(), 0)).collect();
        for c in self.checks.iter().filter(|c| c.status == CheckStatus::Fail) {
            *m.entry(c.check.as_str()).or_default() += 1;
        }
        m
    }
}

/// A failed read, reduced to what the checks need.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    pub status: Option<u16>,
    pub message: String,
}

impl From<&EsError> for ReadError {
    fn from(e: &EsError) -> Self {
        Self {
            status: e.status(),
            message: e.to_string(),
        }
    }
}

type Read<T> = Result<T, ReadError>;

/// What was read from one configured cluster. Reads a cluster does not need are `None`.
#[derive(Debug, Clone)]
pub struct ClusterFacts {
    /// `host:port` of the configured URL.
    pub http_address: Option<String>,
    pub root: Read<RootInfo>,
    pub license: Option<Read<LicenseInfo>>,
    pub remotes: Option<Read<RemoteInfoResponse>>,
    /// `_cat/indices`: name -> open.
    pub indices: Option<Read<BTreeMap<String, bool>>>,
    pub followers: Option<Read<BTreeMap<String, FollowerInfo>>>,
    /// Flat settings of the configured leader indices that exist.
    pub leader_settings: Option<Read<BTreeMap<String, IndexSettings>>>,
    pub privileges: Option<Read<HasPrivilegesResponse>>,
    /// The reads of the remote security checks.
    pub security: SecurityFacts,
}

/// What the remote security checks read from one cluster; `None`: not needed there.
#[derive(Debug, Clone, Default)]
pub struct SecurityFacts {
    /// Follower of an `api_key` remote: `GET /_security/user/_privileges` (the `remote_indices`).
    pub user_privileges: Option<Read<UserPrivilegesResponse>>,
    /// Leader of an `api_key` remote: the keys named `ccr-sentinel-*` (`GET /_security/api_key`, active only).
    pub api_keys: Option<Read<Vec<ApiKeyInfo>>>,
    /// Leader of a certificate remote: index `manage` on the leader indices (`_has_privileges`).
    pub leader_manage: Option<Read<HasPrivilegesResponse>>,
}

/// What a seed address answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedProbe {
    /// It answered an HTTP request: an HTTP port, not a transport port.
    AnswersHttp,
    /// No HTTP answer (refused, timed out, or not HTTP).
    NoHttp,
    /// Elasticsearch's transport port: it answers HTTP with "This is not an HTTP port".
    TransportPort,
}

/// Everything [`evaluate`] needs.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub clusters: BTreeMap<String, ClusterFacts>,
    pub seeds: BTreeMap<String, SeedProbe>,
    /// When the facts were read (epoch milliseconds), for key expiry.
    pub now_ms: i64,
}

/// Reads the clusters and evaluates every check.
pub async fn run(cfg: &Config, clients: &BTreeMap<String, EsClient>) -> PreflightReport {
    let facts = gather(cfg, clients).await;
    PreflightReport::new(evaluate(cfg, &facts))
}

/// Runs the checks at daemon start-up: logs every problem and sets `ccr_sentinel_preflight_problems`.
pub async fn at_startup(
    cfg: Arc<Config>,
    clients: crate::es::Clients,
    gauge: prometheus::GaugeVec,
) -> PreflightReport {
    let report = run(&cfg, &clients).await;
    for (check, n) in report.problems_by_check() {
        gauge.with_label_values(&[check]).set(n as f64);
    }
    for c in &report.checks {
        match c.status {
            CheckStatus::Fail => {
                tracing::warn!(check = c.check.as_str(), target = %c.target, fix = c.fix.as_deref().unwrap_or(""), "preflight: {}", c.message)
            }
            CheckStatus::Warn => {
                tracing::info!(check = c.check.as_str(), target = %c.target, fix = c.fix.as_deref().unwrap_or(""), "preflight warning: {}", c.message)
            }
            _ => {
                tracing::debug!(check = c.check.as_str(), target = %c.target, "preflight {}: {}", c.status.as_str(), c.message)
            }
        }
    }
    tracing::info!(
        problems = report.problems,
        warnings = report.warnings,
        "preflight finished"
    );
    report
}
