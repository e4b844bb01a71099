//! The switchover runner: `ccr-sentinel switchover --from A --to B` and `failover --to B`.
//!
//! It moves the write role of the followers and auto-follow patterns that B has of A ([`scope`]) to B, and sets
//! up the reverse direction. Level-triggered like the unfollow runbook: before every step it looks at both
//! clusters and the topology file, asks the pure planner ([`remaining`]) for the first step still missing and
//! does it, recording it in `state_dir/runbooks/switchovers/<from>__<to>.json` before it is sent. A re-run
//! after an interruption at any point resumes the same switchover (same scope, no anti-flap check, the gate not
//! repeated once passed) and converges; a step someone else did meanwhile is not repeated.
//!
//! It never deletes an index: A's stale copy of a plain follower is reported as the operator step (the exact
//! `DELETE`, once the document counts show nothing is lost). Every change goes through the shared [`Executor`]
//! (audited, dry-runnable); the plain followers use the unfollow runbook ([`unfollow`]) and the data streams the
//! data-stream promotion ([`promote_data_stream`]). The reverse direction is the topology file
//! ([`crate::config::Topology`]) applied by the reconciler, the one place that sets up remotes, followers and
//! patterns.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::switchover_plan::*;
use super::{
    inspect, look, plan_data_stream, promote_data_stream_as, promote_ready, sample, unfollow,
    CatchUpSample, Ctx, DsRefusal, PromoteOptions, RecordDir, RunbookError, StoreError,
};
use crate::act::history::Rule;
use crate::act::{Action, Executor};
use crate::config::{Config, PairState, SwitchoverKind, SwitchoverMark, Topology, TopologyError};
use crate::es::FailureReason;

pub use super::switchover_plan::{Scope, SwitchStep};

/// The progress record of a switchover, kept while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchoverRecord {
    pub from: String,
    pub to: String,
    pub kind: SwitchoverKind,
    pub started_at: DateTime<Utc>,
    /// `failover --force`: the caught-up gate is skipped.
    #[serde(default)]
    pub force: bool,
    /// What the switchover moves, fixed when it started.
    pub scope: Scope,
    /// Steps done, in order.
    #[serde(default)]
    pub done: Vec<SwitchStep>,
    /// The step being attempted (written before it is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<SwitchStep>,
    /// The process running it; when that process is gone, the switchover was abandoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Why the last run stopped before the end, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl SwitchoverRecord {
    /// The process that ran it is gone (see [`super::RunbookRecord::abandoned`]).
    pub fn abandoned(&self) -> bool {
        super::owner_gone(self.owner_pid)
    }
}

/// The switchover records: `state_dir/runbooks/switchovers/`.
fn records(state_dir: &Path) -> RecordDir {
    RecordDir::new(Some(state_dir.join("runbooks").join("switchovers")))
}

impl super::RunbookStore {
    /// Every switchover in progress: a running daemon leaves the followers in their scope alone meanwhile
    /// ([`super::RunbookStore::in_progress`]).
    pub fn switchover_records(&self) -> Vec<SwitchoverRecord> {
        RecordDir::new(self.records.dir.as_ref().map(|d| d.join("switchovers"))).all()
    }
}

/// Asks the running daemon whether a follower is within `health.max_promote_lag`: `Err` with its reasons when
/// it is not. Supplied by the command (it knows the daemon's address).
pub type LagGate =
    Arc<dyn Fn(String, String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Asks the running daemon (`/followers/<cluster>/<index>`) what a follower may lose: its JSON, `None` when no
/// daemon answers.
pub type LossProbe =
    Arc<dyn Fn(String, String) -> BoxFuture<'static, Option<serde_json::Value>> + Send + Sync>;

/// One item of a reconcile run, as the switchover folds it into its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciledItem {
    pub cluster: String,
    /// `remote`, `follower` or `auto_follow`.
    pub kind: &'static str,
    pub name: String,
    /// `Some((reason, message))` when reconcile could not set it up.
    pub blocked: Option<(Option<FailureReason>, String)>,
    /// The actions sent, described.
    pub actions: Vec<String>,
}

/// What one reconcile run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileRun {
    /// `reconcile: 3 in sync, 1 changed`.
    pub summary: String,
    pub items: Vec<ReconciledItem>,
    /// Actions that failed, in words.
    pub failed: Vec<String>,
}

/// Runs the reconciler once over the given configuration through the switchover's executor. Supplied by the
/// command: reconcile sits above `act` (it hands `act` its actions), so the runner only calls it.
pub type ReconcileOnce = Arc<dyn Fn(Config) -> BoxFuture<'static, ReconcileRun> + Send + Sync>;

/// How a switchover runs.
#[derive(Clone)]
pub struct SwitchoverOptions {
    pub from: String,
    pub to: String,
    pub kind: SwitchoverKind,
    /// Skip the caught-up gate (`failover --force`; it also overrides the anti-flap rule).
    pub force: bool,
    /// `--ignore-anti-flap`.
    pub ignore_anti_flap: bool,
    /// Keep looking until caught up (up to `timeout`) instead of stopping at the first look that is not.
    pub wait: bool,
    pub timeout: Duration,
    /// `--follower`: only these followers (with `--pattern`: only the named ones of both).
    pub followers: Vec<String>,
    /// `--pattern`: only these patterns (and the data streams they follow).
    pub patterns: Vec<String>,
    /// Cancelled to stop at the next step boundary (a signal).
    pub stop: Option<tokio_util::sync::CancellationToken>,
    /// Stop after this many steps, as a crash would (test-only: `CCR_TEST_SWITCHOVER_STOP_AFTER_STEP`).
    pub stop_after_steps: Option<usize>,
    pub lag_gate: Option<LagGate>,
    pub loss_probe: Option<LossProbe>,
    /// The reverse direction's setup: the reconciler once (see [`ReconcileOnce`]).
    pub reconcile: ReconcileOnce,
}

impl std::fmt::Debug for SwitchoverOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwitchoverOptions")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("kind", &self.kind)
            .field("force", &self.force)
            .finish_non_exhaustive()
    }
}

/// How a switchover ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchoverResult {
    /// The write role moved and the reverse direction runs.
    Done,
    /// The write role moved (or is moving) but something is left: an operator step, a cluster that did not
    /// answer, followers not caught up yet.
    Blocked,
    /// Refused before any change.
    Refused,
    /// A step failed; re-running resumes.
    Failed,
    /// Stopped between two steps (a signal, or the test-only step limit); re-running resumes.
    Interrupted,
    /// `--dry-run`: nothing was sent.
    DryRun,
}

impl SwitchoverResult {
    /// The JSON value.
    pub fn as_str(&self) -> &'static str {
        match self {
            SwitchoverResult::Done => "done",
            SwitchoverResult::Blocked => "blocked",
            SwitchoverResult::Refused => "refused",
            SwitchoverResult::Failed => "failed",
            SwitchoverResult::Interrupted => "interrupted",
            SwitchoverResult::DryRun => "dry_run",
        }
    }
}

/// One step as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchStepReport {
    /// `pause_pattern logs`, `gate`, `promote_follower logs`, ...
    pub step: String,
    /// `success`, `already_done`, `failed`, `dry_run`, `skipped`.
    pub result: String,
    pub detail: String,
}

/// What a follower may lose when promoted without the caught-up gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PossibleLoss {
    pub cluster: String,
    pub follower_index: String,
    /// `daemon` (the running daemon's view, with time) or `follow_stats` (the follower cluster's last read).
    pub source: &'static str,
    /// Operations the leader had that the follower had not (last known checkpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operations_behind: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_at_risk: Option<f64>,
    /// In words.
    pub detail: String,
}

/// The outcome of a switchover, printed by the command.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchoverReport {
    pub from: String,
    pub to: String,
    pub kind: SwitchoverKind,
    pub dry_run: bool,
    pub result: SwitchoverResult,
    /// Why it did not start (nothing was changed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
    pub scope: Scope,
    /// `failover --force`: what may be lost, stated before the promotion.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub possible_loss: Vec<PossibleLoss>,
    pub steps: Vec<SwitchStepReport>,
    /// What only a person can do to finish the reverse direction.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operator_steps: Vec<String>,
    /// Items of the reverse direction reconcile could not set up (yet), with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// The pair's topology after the run (or, in dry run, the one it would write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology: Option<PairState>,
    /// The TOML that makes the new topology permanent in the configuration.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub permanent_config: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A switchover that cannot even be looked at: bad arguments or configuration, unreadable state.
#[derive(Debug, thiserror::Error)]
pub enum SwitchoverError {
    #[error("cluster `{0}` is not configured (configured: {1})")]
    UnknownCluster(String, String),
    #[error("--from and --to both name `{0}`: a switchover needs two clusters")]
    SameCluster(String),
    #[error(
        "[policy] state_dir is not set: a switchover records its progress and the topology there"
    )]
    NoStateDir,
    #[error("{}", .0.join("; "))]
    Selection(Vec<String>),
    #[error(
        "the configuration declares no follower or auto-follow pattern on `{to}` of `{from}` ([[followers]] or \
         [[auto_follow]] with cluster = \"{to}\" and a remote whose leader is `{from}`)"
    )]
    NothingDeclared { from: String, to: String },
    #[error("failover --to `{0}`: {1}; name it with --from")]
    AmbiguousFrom(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Topology(#[from] TopologyError),
    #[error(transparent)]
    Runbook(#[from] RunbookError),
}

impl SwitchoverError {
    /// Bad arguments or configuration (exit status 2), not a problem met on the clusters.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SwitchoverError::UnknownCluster(..)
                | SwitchoverError::SameCluster(_)
                | SwitchoverError::NoStateDir
                | SwitchoverError::Selection(_)
                | SwitchoverError::NothingDeclared { .. }
                | SwitchoverError::AmbiguousFrom(..)
        )
    }
}

/// The cluster `failover --to <to>` moves the writes from: the one leader of `to`'s declared followers and
/// patterns (in the configuration with the topology applied).
pub fn failover_from(cfg: &Config, to: &str) -> Result<String, SwitchoverError> {
    check_cluster(cfg, to)?;
    let eff = effective(cfg)?;
    let leaders: BTreeSet<&str> = eff
        .followers
        .iter()
        .filter(|f| f.cluster == to)
        .filter_map(|f| eff.leader_cluster(to, &f.remote))
        .chain(
            eff.auto_follow
                .iter()
                .filter(|a| a.cluster == to && a.active != Some(false))
                .filter(|a| {
                    !is_mirror_pattern(a.follow_index_pattern.as_deref(), &eff.dr.replicated_suffix)
                })
                .filter_map(|a| eff.leader_cluster(to, &a.remote)),
        )
        .filter(|l| *l != to)
        .collect();
    match leaders.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(SwitchoverError::AmbiguousFrom(
            to.to_string(),
            "it follows no configured cluster".into(),
        )),
        many => Err(SwitchoverError::AmbiguousFrom(
            to.to_string(),
            format!("it follows several clusters ({})", many.join(", ")),
        )),
    }
}

fn check_cluster(cfg: &Config, c: &str) -> Result<(), SwitchoverError> {
    if cfg.clusters.contains_key(c) {
        Ok(())
    } else {
        Err(SwitchoverError::UnknownCluster(
            c.to_string(),
            cfg.clusters.keys().cloned().collect::<Vec<_>>().join(", "),
        ))
    }
}

/// The configuration with the topology file applied.
fn effective(cfg: &Config) -> Result<Config, SwitchoverError> {
    let dir = cfg
        .policy
        .state_dir
        .as_deref()
        .ok_or(SwitchoverError::NoStateDir)?;
    Ok(cfg.with_topology(&Topology::load(dir)?))
}

/// The part of `cfg` the reconciler runs on for the pair: the remotes, followers and patterns of the two
/// clusters.
fn pair_only(cfg: &Config, a: &str, b: &str) -> Config {
    let mut c = cfg.clone();
    let ours = |x: &str| x == a || x == b;
    c.remotes.retain(|r| ours(&r.cluster));
    c.followers.retain(|f| ours(&f.cluster));
    c.auto_follow.retain(|p| ours(&p.cluster));
    c
}

/// The most steps one run takes (a step per pattern, follower and stream, and the pair-wide ones), and a
/// few re-looks after races.
fn max_steps(scope: &Scope) -> usize {
    scope.followers.len()
        + scope.patterns.len()
        + scope.data_streams.len()
        + scope.rollovers.len()
        + 10
}

/// The runner's state over one run.
struct Run<'a> {
    ctx: Ctx<'a>,
    o: &'a SwitchoverOptions,
    state_dir: PathBuf,
    reverse_remote: String,
    report: SwitchoverReport,
}

/// Runs (or resumes) the switchover `o.from` → `o.to`. `hook` sees every step as it ends.
pub async fn switchover(
    ctx: Ctx<'_>,
    o: &SwitchoverOptions,
    hook: &mut (dyn FnMut(&SwitchStepReport) + Send),
) -> Result<SwitchoverReport, SwitchoverError> {
    let Ctx { exec, cfg, .. } = ctx;
    let (from, to) = (o.from.as_str(), o.to.as_str());
    check_cluster(cfg, from)?;
    check_cluster(cfg, to)?;
    if from == to {
        return Err(SwitchoverError::SameCluster(from.to_string()));
    }
    let state_dir = cfg
        .policy
        .state_dir
        .clone()
        .ok_or(SwitchoverError::NoStateDir)?;
    let topo = Topology::load(&state_dir)?;
    let eff = cfg.with_topology(&topo);
    let dir = records(&state_dir);
    let existing: Option<SwitchoverRecord> = dir.load(from, to)?;
    let resuming = existing.is_some();
    let other_in_progress: Vec<String> = dir
        .all::<SwitchoverRecord>()
        .into_iter()
        .filter(|r| !(r.from == from && r.to == to))
        .filter(|r| [from, to].iter().any(|c| *c == r.from || *c == r.to))
        .map(|r| {
            format!(
                "a {} {} -> {} started at {} is not finished{}: finish it first (re-run `ccr-sentinel switchover --from {} --to {}`)",
                r.kind.as_str(),
                r.from,
                r.to,
                r.started_at.to_rfc3339(),
                if r.abandoned() { " (its process is gone)" } else { "" },
                r.from,
                r.to
            )
        })
        .collect();
    let declared_any = eff
        .followers
        .iter()
        .any(|f| f.cluster == to && eff.leader_cluster(to, &f.remote) == Some(from))
        || eff
            .auto_follow
            .iter()
            .any(|a| a.cluster == to && eff.leader_cluster(to, &a.remote) == Some(from));
    if !declared_any && !resuming {
        return Err(SwitchoverError::NothingDeclared {
            from: from.to_string(),
            to: to.to_string(),
        });
    }
    let pair = topo.pair(from, to);
    let moving = moves_role(pair, from, to);
    let reverse_remote = cfg
        .remotes
        .iter()
        .find(|r| r.cluster == from && r.leader == to)
        .map(|r| r.alias.clone());
    let mut scope = match &existing {
        Some(r) => r.scope.clone(),
        None => {
            scope(&eff, from, to, &o.followers, &o.patterns).map_err(SwitchoverError::Selection)?
        }
    };
    let mut report = SwitchoverReport {
        from: from.to_string(),
        to: to.to_string(),
        kind: existing.as_ref().map(|r| r.kind).unwrap_or(o.kind),
        dry_run: exec.is_dry_run(),
        result: SwitchoverResult::Done,
        refusals: Vec::new(),
        scope: Scope::default(),
        possible_loss: Vec::new(),
        steps: Vec::new(),
        operator_steps: Vec::new(),
        blocked: Vec::new(),
        topology: None,
        permanent_config: String::new(),
        error: None,
    };
    if existing.is_none() {
        let selected_patterns: Vec<&crate::config::AutoFollowSettings> = eff
            .auto_follow
            .iter()
            .filter(|a| a.cluster == to && scope.patterns.contains(&a.name))
            .collect();
        let mirrors = match &reverse_remote {
            Some(alias) => mirror_patterns(cfg, from, to, alias),
            None => Vec::new(),
        };
        let selection = !o.followers.is_empty() || !o.patterns.is_empty();
        match discover_streams(
            exec,
            &eff,
            from,
            to,
            &selected_patterns,
            selection,
            &mirrors,
        )
        .await
        {
            Ok((streams, rollovers)) => {
                scope.data_streams = streams;
                if moving {
                    scope.rollovers = rollovers;
                }
            }
            Err(e) => {
                report.result = SwitchoverResult::Failed;
                report.error = Some(format!("cannot read the data streams of `{to}`: {e}"));
                report.scope = scope;
                return Ok(report);
            }
        }
        let missing_templates = template_problems(exec, to, &scope.data_streams).await;
        let from_version = match exec.client(from) {
            Some(c) => c.root_info().await.ok().and_then(|r| r.major_minor()),
            None => None,
        };
        let pre = Preconditions {
            from,
            to,
            now: Utc::now(),
            pair,
            anti_flap_period: cfg.dr.anti_flap_period,
            ignore_anti_flap: o.ignore_anti_flap || o.force,
            resuming,
            reverse_remote: reverse_remote.as_deref(),
            remote_hint: remote_hint(from, to),
            missing_templates,
            from_version,
            renames_data_streams: !mirrors.is_empty()
                && (!scope.data_streams.is_empty() || !scope.rollovers.is_empty()),
            other_in_progress,
            scope: &scope,
        };
        report.refusals = refusals(&pre);
    } else {
        report.refusals = other_in_progress;
    }
    report.scope = scope.clone();
    if !report.refusals.is_empty() {
        report.result = SwitchoverResult::Refused;
        return Ok(report);
    }
    let Some(reverse_remote) = reverse_remote else {
        // Refused above when not resuming; a resumed run whose remote was removed meanwhile cannot go on.
        report.result = SwitchoverResult::Refused;
        report.refusals.push(format!(
            "no remote on `{from}` leads to `{to}`; add to the configuration:\n{}",
            remote_hint(from, to)
        ));
        return Ok(report);
    };
    // `failover --force` over an interrupted switchover turns it into a failover from here on.
    let force = o.force || existing.as_ref().is_some_and(|r| r.force);
    if o.force {
        report.kind = SwitchoverKind::Failover;
    }
    if force && (moving || resuming) {
        report.possible_loss = possible_loss(exec, to, &scope, o).await;
        // Stated before the first step, so the operator reads it before anything is promoted.
        for l in &report.possible_loss {
            hook(&SwitchStepReport {
                step: format!("possible_loss {}", l.follower_index),
                result: "warning".into(),
                detail: l.detail.clone(),
            });
        }
    }
    let mut run = Run {
        ctx,
        o,
        state_dir,
        reverse_remote,
        report,
    };
    if exec.is_dry_run() {
        run.dry_run(&scope, force, hook).await;
        return Ok(run.report);
    }
    let mut rec = existing.unwrap_or(SwitchoverRecord {
        from: from.to_string(),
        to: to.to_string(),
        kind: o.kind,
        started_at: Utc::now(),
        force,
        scope: scope.clone(),
        done: Vec::new(),
        pending: None,
        owner_pid: None,
        updated_at: None,
        stopped: None,
    });
    rec.stopped = None;
    if o.force {
        rec.force = true;
        rec.kind = SwitchoverKind::Failover;
    }
    run.steps(&dir, &mut rec, hook).await?;
    Ok(run.report)
}

/// The replicated data streams on `to` whose backing indices follow `from` (not the mirrors of a
/// bi-directional pair), restricted to the streams the selected patterns match when `selection`; and the
/// streams of `to` that are not replicated but that the reverse patterns will follow (they need a rollover).
async fn discover_streams(
    exec: &Executor,
    eff: &Config,
    from: &str,
    to: &str,
    patterns: &[&crate::config::AutoFollowSettings],
    selection: bool,
    mirrors: &[crate::config::TopologyPattern],
) -> Result<(Vec<String>, Vec<String>), String> {
    use crate::config::policy::wildcard_match;
    let c = exec
        .client(to)
        .ok_or_else(|| format!("cluster `{to}` is not configured"))?;
    let root = c.root_info().await.map_err(|e| e.to_string())?;
    if root.major_minor().is_some_and(|v| v < (7, 9)) {
        return Ok((Vec::new(), Vec::new()));
    }
    let streams = c.data_streams().await.map_err(|e| e.to_string())?;
    let followers = c.follow_info_all().await.map_err(|e| e.to_string())?;
    let follows_from: BTreeMap<&str, &str> = followers
        .follower_indices
        .iter()
        .filter(|f| eff.leader_cluster(to, &f.remote_cluster) == Some(from))
        .map(|f| (f.follower_index.as_str(), f.leader_index.as_str()))
        .collect();
    let any_follower: BTreeSet<&str> = followers
        .follower_indices
        .iter()
        .map(|f| f.follower_index.as_str())
        .collect();
    let suffix = &eff.dr.replicated_suffix;
    let matches = |ps: &[String], ex: &[String], name: &str| {
        ps.iter().any(|p| wildcard_match(p, name)) && !ex.iter().any(|p| wildcard_match(p, name))
    };
    let mut promote = Vec::new();
    let mut rollover = Vec::new();
    for ds in streams.data_streams.iter().filter(|d| !d.system) {
        if ds.name.contains(suffix.as_str()) {
            continue;
        }
        let replicated_from = ds
            .indices
            .iter()
            .any(|i| follows_from.contains_key(i.index_name.as_str()));
        if replicated_from {
            let picked = !selection
                || patterns.iter().any(|p| {
                    matches(
                        &p.leader_index_patterns,
                        &p.leader_index_exclusion_patterns,
                        &ds.name,
                    )
                });
            if picked {
                promote.push(ds.name.clone());
            }
        } else if !ds
            .indices
            .iter()
            .any(|i| any_follower.contains(i.index_name.as_str()))
            && mirrors.iter().any(|m| {
                matches(
                    &m.leader_index_patterns,
                    &m.leader_index_exclusion_patterns,
                    &ds.name,
                )
            })
            && !selection
        {
            rollover.push(ds.name.clone());
        }
    }
    Ok((promote, rollover))
}

/// The data-stream promotion's own up-front refusals (template, version) for each stream in scope.
async fn template_problems(exec: &Executor, to: &str, streams: &[String]) -> Vec<String> {
    let Some(c) = exec.client(to) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in streams {
        match look(c, s, false).await {
            Ok(Some(v)) => {
                if let Err(
                    e @ (DsRefusal::NoTemplate(_)
                    | DsRefusal::NotADataStreamTemplate { .. }
                    | DsRefusal::TooOld(..)),
                ) = plan_data_stream(&v)
                {
                    out.push(format!("data stream `{s}` on `{to}`: {e}"));
                }
            }
            Ok(None) => out.push(format!("data stream `{s}` on `{to}` does not exist")),
            Err(e) => out.push(format!("cannot look at data stream `{s}` on `{to}`: {e}")),
        }
    }
    out
}

/// What the followers in scope may lose, stated before a forced failover: the daemon's view when one answers
/// (lag in time, RPO, operations at risk), else the follower cluster's last follow stats (operations behind
/// the last leader checkpoints it saw).
async fn possible_loss(
    exec: &Executor,
    to: &str,
    scope: &Scope,
    o: &SwitchoverOptions,
) -> Vec<PossibleLoss> {
    let Some(c) = exec.client(to) else {
        return Vec::new();
    };
    let mut indices: Vec<String> = scope.followers.clone();
    for s in &scope.data_streams {
        if let Ok(Some(v)) = look(c, s, false).await {
            indices.extend(
                v.backing
                    .into_iter()
                    .filter(|(_, iv)| iv.follower.is_some())
                    .map(|(n, _)| n),
            );
        }
    }
    let stats = c.ccr_stats().await.ok();
    let mut out = Vec::new();
    for index in indices {
        if let Some(probe) = &o.loss_probe {
            if let Some(v) = probe(to.to_string(), index.clone()).await {
                let f = |k: &str| v[k].as_f64();
                let (lag, rpo, risk) = (f("lag_seconds"), f("rpo_seconds"), f("ops_at_risk"));
                out.push(PossibleLoss {
                    cluster: to.to_string(),
                    follower_index: index.clone(),
                    source: "daemon",
                    operations_behind: None,
                    lag_seconds: lag,
                    rpo_seconds: rpo,
                    ops_at_risk: risk,
                    detail: format!(
                        "the daemon reports lag {}, RPO {}, {} operations at risk",
                        secs(lag),
                        secs(rpo),
                        risk.map(|r| format!("{r:.0}"))
                            .unwrap_or_else(|| "unknown".into())
                    ),
                });
                continue;
            }
        }
        let behind = stats.as_ref().and_then(|s| {
            s.follow_stats
                .indices
                .iter()
                .find(|i| i.index == index)
                .map(|i| {
                    i.shards
                        .iter()
                        .map(|sh| {
                            (sh.leader_max_seq_no.max(sh.leader_global_checkpoint)
                                - sh.follower_global_checkpoint)
                                .max(0)
                        })
                        .sum::<i64>()
                })
        });
        out.push(PossibleLoss {
            cluster: to.to_string(),
            follower_index: index.clone(),
            source: "follow_stats",
            operations_behind: behind,
            lag_seconds: None,
            rpo_seconds: None,
            ops_at_risk: None,
            detail: match behind {
                Some(0) => "caught up with the last leader checkpoints it read (writes after that read, if any, are lost)".into(),
                Some(n) => format!("{n} operations behind the last leader checkpoints it read: those and any later writes are lost"),
                None => "no follow stats (not an active follower): what it lacks is unknown".into(),
            },
        });
    }
    out
}

fn secs(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.1}s"))
        .unwrap_or_else(|| "unknown".into())
}

impl Run<'_> {
    fn from(&self) -> &str {
        &self.o.from
    }

    fn to(&self) -> &str {
        &self.o.to
    }

    fn why(&self) -> String {
        format!(
            "{} {} -> {}",
            self.report.kind.as_str(),
            self.from(),
            self.to()
        )
    }

    fn rule(&self) -> &'static str {
        self.audit_rule().as_str()
    }

    /// The rule the steps are recorded and audited under, so the audit trail tells a switchover's promotions
    /// from a person's `promote`.
    fn audit_rule(&self) -> Rule {
        match self.report.kind {
            SwitchoverKind::Switchover => Rule::Switchover,
            SwitchoverKind::Failover => Rule::Failover,
        }
    }

    /// The topology now, its pair, and the pair this switchover leaves (with `mark`).
    fn wanted(
        &self,
        scope: &Scope,
        mark: SwitchoverMark,
    ) -> Result<(Topology, PairState), SwitchoverError> {
        let topo = Topology::load(&self.state_dir)?;
        let eff = self.ctx.cfg.with_topology(&topo);
        let before = topo.pair(self.from(), self.to());
        let pair = reversed_pair(
            self.ctx.cfg,
            &eff,
            before,
            Direction {
                from: self.from(),
                to: self.to(),
                reverse_remote: &self.reverse_remote,
            },
            scope,
            mark,
        );
        Ok((topo, pair))
    }

    /// The mark this switchover writes: a new one while it moves the role, the existing one on a re-run of a
    /// finished switchover.
    fn mark(&self, started_at: DateTime<Utc>, existing: Option<&PairState>) -> SwitchoverMark {
        match existing.and_then(|p| p.last.clone()) {
            Some(m)
                if !moves_role(existing, self.from(), self.to())
                    || (m.from == self.from()
                        && m.to == self.to()
                        && m.started_at == started_at) =>
            {
                m
            }
            _ => SwitchoverMark {
                from: self.from().to_string(),
                to: self.to().to_string(),
                kind: self.report.kind,
                started_at,
                finished_at: None,
                operator_steps: Vec::new(),
            },
        }
    }

    /// Looks at everything the planner needs.
    async fn view(
        &self,
        scope: &Scope,
        wanted: &PairState,
        now: Option<&PairState>,
    ) -> Result<PairView, String> {
        let c = self
            .ctx
            .exec
            .client(self.to())
            .ok_or_else(|| format!("cluster `{}` is not configured", self.to()))?;
        let mut v = PairView {
            topology_written: now.is_some_and(|p| same_topology(p, wanted)),
            ..Default::default()
        };
        if !scope.patterns.is_empty() {
            let patterns = c
                .get_auto_follow_patterns()
                .await
                .map_err(|e| e.to_string())?;
            for name in &scope.patterns {
                v.patterns.insert(
                    name.clone(),
                    patterns.get(name).map(|p| p.active.unwrap_or(true)),
                );
            }
        }
        for f in &scope.followers {
            let iv = inspect(c, f)
                .await
                .map_err(|e| format!("cannot look at `{f}`: {e}"))?;
            v.followers.insert(f.clone(), iv);
        }
        for s in &scope.data_streams {
            let sv = match look(c, s, false)
                .await
                .map_err(|e| format!("cannot look at data stream `{s}`: {e}"))?
            {
                Some(d) => StreamView {
                    exists: true,
                    backing_followers: d
                        .backing
                        .iter()
                        .filter(|(_, iv)| iv.follower.is_some())
                        .count(),
                },
                None => StreamView::default(),
            };
            v.data_streams.insert(s.clone(), sv);
        }
        Ok(v)
    }

    fn push(
        &mut self,
        step: &SwitchStep,
        result: &str,
        detail: String,
        hook: &mut (dyn FnMut(&SwitchStepReport) + Send),
    ) {
        let r = SwitchStepReport {
            step: step.to_string(),
            result: result.to_string(),
            detail,
        };
        hook(&r);
        self.report.steps.push(r);
    }

    /// `--dry-run`: every remaining step planned from what is there now; nothing is sent or written.
    async fn dry_run(
        &mut self,
        scope: &Scope,
        force: bool,
        hook: &mut (dyn FnMut(&SwitchStepReport) + Send),
    ) {
        self.report.result = SwitchoverResult::DryRun;
        let (topo, pair) = match self.wanted(scope, self.mark(Utc::now(), None)) {
            Ok(x) => x,
            Err(e) => {
                self.report.result = SwitchoverResult::Failed;
                self.report.error = Some(e.to_string());
                return;
            }
        };
        let view = match self
            .view(scope, &pair, topo.pair(self.from(), self.to()))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                self.report.result = SwitchoverResult::Failed;
                self.report.error = Some(e);
                return;
            }
        };
        let progress = Progress {
            done: Vec::new(),
            force,
        };
        let steps = match remaining(scope, &view, &progress) {
            Ok(s) => s,
            Err(e) => {
                self.report.result = SwitchoverResult::Failed;
                self.report.error = Some(e.join("; "));
                return;
            }
        };
        let mut would = topo.clone();
        *would.pair_mut(self.from(), self.to()) = pair.clone();
        for step in steps {
            let detail = match &step {
                SwitchStep::PausePattern(name) => {
                    let a = Action::PauseAutoFollow {
                        cluster: self.to().to_string(),
                        name: name.clone(),
                    };
                    self.ctx.exec.execute(&a, self.rule(), &self.why()).await;
                    a.describe()
                }
                SwitchStep::Gate => "writes to the old write cluster stopped and every follower caught up (checked when run)".into(),
                SwitchStep::PromoteFollower(index) => {
                    let mut h = |_: &super::StepReport| ControlFlow::Continue(());
                    match unfollow(self.ctx, self.to(), index, self.audit_rule(), &self.why(), &mut h).await {
                        Ok(o) => o
                            .steps
                            .iter()
                            .map(|s| s.step.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        Err(e) => e.to_string(),
                    }
                }
                SwitchStep::PromoteDataStream(s) => {
                    let opts = self.promote_options();
                    let mut h = |_: &super::DsStepReport| ControlFlow::Continue(());
                    match promote_data_stream_as(self.ctx, self.to(), s, self.audit_rule(), &opts, &mut h).await {
                        Ok(o) => o
                            .steps
                            .iter()
                            .map(|s| s.step.describe())
                            .collect::<Vec<_>>()
                            .join(", "),
                        Err(e) => e.to_string(),
                    }
                }
                SwitchStep::RolloverDataStream(s) => {
                    let a = Action::RolloverDataStream {
                        cluster: self.to().to_string(),
                        data_stream: s.clone(),
                    };
                    self.ctx.exec.execute(&a, self.rule(), &self.why()).await;
                    a.describe()
                }
                SwitchStep::WriteTopology => format!(
                    "would write {} ({} active)",
                    Topology::path(&self.state_dir).display(),
                    self.to()
                ),
                SwitchStep::Reconcile | SwitchStep::Finish => {
                    let r = self.reconcile(&would).await;
                    r.join("; ")
                }
            };
            self.push(&step, "dry_run", detail, hook);
        }
        self.report.permanent_config = pair.permanent_toml();
        self.report.topology = Some(pair);
    }

    fn promote_options(&self) -> PromoteOptions {
        let p = &self.ctx.cfg.policy;
        PromoteOptions {
            wait: false,
            // The switchover's own gate ran before (or was skipped by `failover --force`).
            force: true,
            interval: p.promote_poll_interval,
            stable_polls: p.promote_stable_polls,
            timeout: p.promote_timeout,
            stop: None,
        }
    }

    /// The reconciler once over the configuration with `topo` applied, on the pair's clusters; the
    /// operator steps and blocked items are folded into the report, the return value says what it did.
    async fn reconcile(&mut self, topo: &Topology) -> Vec<String> {
        let eff = self.ctx.cfg.with_topology(topo);
        let pair_cfg = pair_only(&eff, self.from(), self.to());
        let r = (self.o.reconcile)(pair_cfg).await;
        self.report.operator_steps.clear();
        self.report.blocked.clear();
        let reverse: BTreeSet<String> = topo
            .pair(self.from(), self.to())
            .map(|p| {
                p.followers
                    .iter()
                    .filter(|f| f.cluster == self.from())
                    .map(|f| f.follower_index.clone())
                    .collect()
            })
            .unwrap_or_default();
        let (from, to) = (self.from().to_string(), self.to().to_string());
        let declared_back = |name: &str| {
            eff.follower(&from, name)
                .is_some_and(|f| eff.leader_cluster(&from, &f.remote) == Some(to.as_str()))
        };
        let mut summary = vec![r.summary.clone()];
        for item in &r.items {
            let Some((reason, message)) = &item.blocked else {
                continue;
            };
            let stale = item.kind == "follower"
                && item.cluster == self.from()
                && *reason == Some(FailureReason::NameConflict)
                && (reverse.contains(&item.name) || declared_back(&item.name));
            if stale {
                let leader_index = eff
                    .follower(self.from(), &item.name)
                    .map(|f| f.leader_index.clone())
                    .unwrap_or_else(|| item.name.clone());
                let stale_docs = self.docs(self.from(), &item.name).await;
                let leader_docs = self.docs(self.to(), &leader_index).await;
                match stale_copy_step(self.from(), &item.name, stale_docs, self.to(), leader_docs) {
                    Ok(step) => self.report.operator_steps.push(step),
                    Err(why) => self
                        .report
                        .operator_steps
                        .push(format!("do not delete: {why}")),
                }
                continue;
            }
            self.report.blocked.push(format!(
                "{} {}/{}: {message}",
                item.kind, item.cluster, item.name
            ));
        }
        self.report.blocked.extend(r.failed.iter().cloned());
        summary.extend(
            r.items
                .iter()
                .filter(|i| !i.actions.is_empty())
                .map(|i| format!("{}/{}: {}", i.cluster, i.name, i.actions.join(", "))),
        );
        summary
    }

    async fn docs(&self, cluster: &str, index: &str) -> Option<i64> {
        let c = self.ctx.exec.client(cluster)?;
        c.cat_indices()
            .await
            .ok()?
            .into_iter()
            .find(|r| r.index == index)
            .and_then(|r| r.docs_count)
    }

    /// The caught-up gate: every follower in scope (and every backing follower of the streams) is caught up
    /// with a leader that stopped receiving writes, over `promote_stable_polls` looks, and within
    /// `health.max_promote_lag` when a daemon answers.
    async fn gate(&self, scope: &Scope) -> Result<String, String> {
        let exec = self.ctx.exec;
        let eff = effective(self.ctx.cfg).map_err(|e| e.to_string())?;
        let c = exec
            .client(self.to())
            .ok_or_else(|| format!("cluster `{}` is not configured", self.to()))?;
        let mut indices = Vec::new();
        for f in &scope.followers {
            if inspect(c, f)
                .await
                .map_err(|e| e.to_string())?
                .follower
                .is_some()
            {
                indices.push(f.clone());
            }
        }
        for s in &scope.data_streams {
            if let Some(v) = look(c, s, false).await.map_err(|e| e.to_string())? {
                indices.extend(
                    v.backing
                        .into_iter()
                        .filter(|(_, iv)| iv.follower.is_some())
                        .map(|(n, _)| n),
                );
            }
        }
        if let Some(g) = &self.o.lag_gate {
            for i in &indices {
                g(self.to().to_string(), i.clone())
                    .await
                    .map_err(|why| format!("`{i}`: {why} (health.max_promote_lag)"))?;
            }
        }
        let p = &self.ctx.cfg.policy;
        let stable = p.promote_stable_polls.max(1) as usize;
        let deadline = tokio::time::Instant::now() + self.o.timeout;
        let mut samples: BTreeMap<String, Vec<CatchUpSample>> = BTreeMap::new();
        loop {
            let mut not_ready = Vec::new();
            let mut gathering = true;
            for i in &indices {
                let s = sample(exec, &eff, self.to(), i)
                    .await
                    .map_err(|e| format!("cannot look at `{i}`: {e}"))?;
                let list = samples.entry(i.clone()).or_default();
                list.push(s);
                if list.len() > stable {
                    list.remove(0);
                }
                if let Err(why) = promote_ready(list, stable) {
                    gathering &= list.len() < stable && promote_ready(list, list.len()).is_ok();
                    not_ready.push(format!("`{i}`: {why}"));
                }
            }
            if not_ready.is_empty() {
                return Ok(format!(
                    "{} follower(s) caught up with a quiet leader over {stable} looks",
                    indices.len()
                ));
            }
            if !self.o.wait && !gathering {
                return Err(format!(
                    "not caught up: {} (stop the writes to `{}`, then re-run; --wait waits for it)",
                    not_ready.join("; "),
                    self.from()
                ));
            }
            if self.o.stop.as_ref().is_some_and(|t| t.is_cancelled()) {
                return Err("interrupted while checking whether the followers caught up".into());
            }
            if tokio::time::Instant::now() + p.promote_poll_interval > deadline {
                return Err(format!(
                    "not caught up after {}: {}",
                    humantime::format_duration(self.o.timeout),
                    not_ready.join("; ")
                ));
            }
            tokio::time::sleep(p.promote_poll_interval).await;
        }
    }

    /// Runs the remaining steps one at a time, each recorded before it is sent.
    async fn steps(
        &mut self,
        dir: &RecordDir,
        rec: &mut SwitchoverRecord,
        hook: &mut (dyn FnMut(&SwitchStepReport) + Send),
    ) -> Result<(), SwitchoverError> {
        let scope = rec.scope.clone();
        let (from, to) = (self.from().to_string(), self.to().to_string());
        let mut saved = false;
        for taken in 1..=max_steps(&scope) {
            let topo = Topology::load(&self.state_dir)?;
            let mark = self.mark(rec.started_at, topo.pair(&from, &to));
            let (topo, wanted) = self.wanted(&scope, mark)?;
            let view = match self.view(&scope, &wanted, topo.pair(&from, &to)).await {
                Ok(v) => v,
                Err(e) => {
                    self.report.result = SwitchoverResult::Failed;
                    self.report.error = Some(e);
                    return Ok(());
                }
            };
            let progress = Progress {
                done: rec.done.clone(),
                force: rec.force,
            };
            let steps = match remaining(&scope, &view, &progress) {
                Ok(s) => s,
                Err(e) => {
                    self.report.result = SwitchoverResult::Failed;
                    self.report.error = Some(e.join("; "));
                    return Ok(());
                }
            };
            let step = steps[0].clone();
            if step != SwitchStep::Finish || saved {
                rec.pending = Some(step.clone());
                dir.save(&from, &to, &stamped(rec))?;
                saved = true;
            }
            let outcome = self.step(&step, &scope, topo, wanted).await?;
            match outcome {
                Ok(detail) => {
                    rec.pending = None;
                    if step == SwitchStep::Finish {
                        self.push(&step, "success", detail, hook);
                        dir.remove(&from, &to)?;
                        if !self.report.operator_steps.is_empty() || !self.report.blocked.is_empty()
                        {
                            self.report.result = SwitchoverResult::Blocked;
                        }
                        return Ok(());
                    }
                    rec.done.push(step.clone());
                    dir.save(&from, &to, &stamped(rec))?;
                    self.push(&step, "success", detail, hook);
                }
                Err(why) => {
                    rec.pending = None;
                    rec.stopped = Some(format!("step `{step}` did not finish: {why}"));
                    dir.save(&from, &to, &stamped(rec))?;
                    self.push(&step, "failed", why.clone(), hook);
                    let signal = self.o.stop.as_ref().is_some_and(|t| t.is_cancelled());
                    self.report.result = if signal {
                        SwitchoverResult::Interrupted
                    } else if step == SwitchStep::Gate {
                        SwitchoverResult::Blocked
                    } else {
                        SwitchoverResult::Failed
                    };
                    self.report.error = Some(why);
                    return Ok(());
                }
            }
            let limit = self.o.stop_after_steps.is_some_and(|n| taken >= n);
            let signal = self.o.stop.as_ref().is_some_and(|t| t.is_cancelled());
            if limit || signal {
                let why = format!("stopped after step `{step}`");
                rec.stopped = Some(why.clone());
                dir.save(&from, &to, &stamped(rec))?;
                self.report.result = SwitchoverResult::Interrupted;
                self.report.error = Some(why);
                return Ok(());
            }
        }
        self.report.result = SwitchoverResult::Failed;
        self.report.error = Some(format!(
            "the switchover did not finish within {} steps (something keeps changing the clusters)",
            max_steps(&scope)
        ));
        Ok(())
    }

    /// One step. `Ok(Err(why))`: the step did not succeed (recorded, the run stops there).
    async fn step(
        &mut self,
        step: &SwitchStep,
        scope: &Scope,
        mut topo: Topology,
        wanted: PairState,
    ) -> Result<Result<String, String>, SwitchoverError> {
        let to = self.to().to_string();
        Ok(match step {
            SwitchStep::PausePattern(name) => {
                let a = Action::PauseAutoFollow {
                    cluster: to,
                    name: name.clone(),
                };
                let ev = self.ctx.exec.execute(&a, self.rule(), &self.why()).await;
                if ev.result.is_ok() {
                    Ok(format!("{} ({})", a.describe(), ev.result.as_str()))
                } else {
                    Err(ev.error.unwrap_or_default())
                }
            }
            SwitchStep::Gate => self.gate(scope).await,
            SwitchStep::PromoteFollower(index) => {
                let mut h = |_: &super::StepReport| ControlFlow::Continue(());
                let o =
                    unfollow(self.ctx, &to, index, self.audit_rule(), &self.why(), &mut h).await?;
                let steps: Vec<String> = o
                    .steps
                    .iter()
                    .map(|s| format!("{} {}", s.step.as_str(), s.result))
                    .collect();
                match (o.finished, o.error) {
                    (true, _) => Ok(format!(
                        "`{index}` is a regular, writable index ({}){}",
                        steps.join(", "),
                        o.lease_cleanup
                            .map(|c| format!("; {c}"))
                            .unwrap_or_default()
                    )),
                    (false, e) => Err(e.unwrap_or_else(|| "not finished".into())),
                }
            }
            SwitchStep::PromoteDataStream(s) => {
                let opts = self.promote_options();
                let mut h = |_: &super::DsStepReport| ControlFlow::Continue(());
                let o = promote_data_stream_as(self.ctx, &to, s, self.audit_rule(), &opts, &mut h)
                    .await?;
                let steps: Vec<String> = o.steps.iter().map(|s| s.step.describe()).collect();
                if o.finished {
                    Ok(format!(
                        "data stream `{s}` is a regular stream, writable and rolled over ({})",
                        steps.join(", ")
                    ))
                } else {
                    Err(o.error.unwrap_or_else(|| "not finished".into()))
                }
            }
            SwitchStep::RolloverDataStream(s) => {
                let a = Action::RolloverDataStream {
                    cluster: to,
                    data_stream: s.clone(),
                };
                let ev = self.ctx.exec.execute(&a, self.rule(), &self.why()).await;
                if ev.result.is_ok() {
                    Ok(format!(
                        "{}: its new write index is one the reverse pattern follows",
                        a.describe()
                    ))
                } else {
                    Err(ev.error.unwrap_or_default())
                }
            }
            SwitchStep::WriteTopology => {
                *topo.pair_mut(self.from(), self.to()) = wanted.clone();
                topo.save(&self.state_dir)?;
                self.report.permanent_config = wanted.permanent_toml();
                self.report.topology = Some(wanted);
                Ok(format!(
                    "{} written: `{}` takes the writes",
                    Topology::path(&self.state_dir).display(),
                    self.to()
                ))
            }
            SwitchStep::Reconcile => {
                let lines = self.reconcile(&topo).await;
                Ok(lines.join("; "))
            }
            SwitchStep::Finish => {
                let lines = self.reconcile(&topo).await;
                let mut pair = wanted;
                if let Some(m) = &mut pair.last {
                    if m.finished_at.is_none() {
                        m.finished_at = Some(Utc::now());
                    }
                    m.operator_steps = self.report.operator_steps.clone();
                }
                if topo.pair(self.from(), self.to()) != Some(&pair) {
                    *topo.pair_mut(self.from(), self.to()) = pair.clone();
                    topo.save(&self.state_dir)?;
                }
                self.report.permanent_config = pair.permanent_toml();
                self.report.topology = Some(pair);
                Ok(lines.join("; "))
            }
        })
    }
}

/// A record stamped with this process and the time, as it is saved.
fn stamped(r: &SwitchoverRecord) -> SwitchoverRecord {
    let mut r = r.clone();
    r.owner_pid = Some(std::process::id());
    r.updated_at = Some(Utc::now());
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::runbook::RunbookStore;
    use crate::config::ClusterKey;

    fn record(owner: Option<u32>) -> SwitchoverRecord {
        SwitchoverRecord {
            from: "a".into(),
            to: "b".into(),
            kind: SwitchoverKind::Switchover,
            started_at: Utc::now(),
            force: false,
            scope: Scope {
                followers: vec!["orders".into()],
                ..Default::default()
            },
            done: vec![SwitchStep::PausePattern("logs".into()), SwitchStep::Gate],
            pending: Some(SwitchStep::PromoteFollower("orders".into())),
            owner_pid: owner,
            updated_at: None,
            stopped: None,
        }
    }

    #[test]
    fn a_switchover_in_progress_holds_its_followers_until_its_record_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunbookStore::new(Some(dir.path()));
        let records = records(dir.path());
        let r = record(None);
        records.save("a", "b", &stamped(&r)).unwrap();
        let loaded: SwitchoverRecord = records.load("a", "b").unwrap().unwrap();
        assert_eq!(loaded.done, r.done);
        assert_eq!(loaded.pending, r.pending);
        assert_eq!(loaded.owner_pid, Some(std::process::id()));
        assert!(!loaded.abandoned());
        assert_eq!(store.switchover_records().len(), 1);
        assert!(store
            .in_progress()
            .contains(&ClusterKey::new("b", "orders")));
        // The unfollow runbook's own records are not confused with it.
        assert!(store.records().is_empty());
        records.remove("a", "b").unwrap();
        assert!(store.in_progress().is_empty());
    }

    #[test]
    fn a_switchover_whose_process_is_gone_is_abandoned() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(record(Some(pid)).abandoned());
        assert!(!record(None).abandoned());
    }

    #[test]
    fn only_the_pair_s_remotes_followers_and_patterns_are_reconciled() {
        let cfg = crate::config::from_toml_str(
            r#"
[clusters.a]
url = "http://127.0.0.1:1"
[clusters.b]
url = "http://127.0.0.1:2"
[clusters.c]
url = "http://127.0.0.1:3"
[[remotes]]
cluster = "b"
alias = "a"
leader = "a"
seeds = ["127.0.0.1:9300"]
[[remotes]]
cluster = "c"
alias = "a"
leader = "a"
seeds = ["127.0.0.1:9300"]
[[followers]]
cluster = "b"
remote = "a"
leader_index = "orders"
follower_index = "orders"
[[followers]]
cluster = "c"
remote = "a"
leader_index = "orders"
follower_index = "orders"
"#,
        )
        .unwrap();
        let p = pair_only(&cfg, "a", "b");
        assert_eq!(p.remotes.len(), 1);
        assert_eq!(p.followers.len(), 1);
        assert_eq!(p.followers[0].cluster, "b");
        let state = tempfile::tempdir().unwrap();
        let mut with_state = cfg.clone();
        with_state.policy.state_dir = Some(state.path().to_path_buf());
        assert_eq!(failover_from(&with_state, "b").unwrap(), "a");
        assert!(matches!(
            failover_from(&cfg, "b"),
            Err(SwitchoverError::NoStateDir)
        ));
    }
}
