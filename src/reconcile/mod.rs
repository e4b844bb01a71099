//! The reconcile loop: observe -> [`plan`] -> act, item by item, with per-item exponential backoff.
//!
//! One run:
//! 1. reads every local cluster (`GET /`, `_remote/info`, `_all/_ccr/info`, `_cat/indices`, `_ccr/auto_follow`)
//!    and the index lists of the leader clusters the daemon can reach;
//! 2. plans and applies the remote connections first; for `api_key` remotes, makes sure the leader has their
//!    cross-cluster API key and reports the keystore step ([`credentials`]); then waits (up to
//!    `reconcile.connect_timeout`) for the remotes it set to report `connected` in `_remote/info`;
//! 3. plans again with the new remote state and applies followers and auto-follow patterns.
//!
//! An item whose actions fail is retried only after a backoff (`backoff_initial` doubling up to `backoff_max`;
//! problems only a person can fix start at `backoff_max`), so one broken follower neither blocks the others nor
//! floods a cluster. Blocked items, with their reasons, are in the [`ReconcileReport`] that `/status`,
//! `ccr_sentinel_reconcile_blocked` and `reconcile --once` show.

pub mod credentials;
pub mod plan;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde::Serialize;

use crate::act::backoff::Backoff;
use crate::act::history::{History, PausedByUs, Rule, SharedHistory};
use crate::act::{ActionResult, AuditEvent, AuditLog, Executor, RECONCILE_RULE};
use crate::config::{ClusterKey, Config};
use crate::es::EsClient;
use crate::es::FailureReason;
use crate::es::RemoteInfo;
use crate::metrics::{ReconcileMetrics, RequestFailed, SelfMetrics};
use crate::reconcile::plan::{
    plan, ClusterObservation, Decision, ItemKey, ItemKind, Observation, PlanOptions,
};
use crate::sync::lock;

/// How often a run polls `_remote/info` while waiting for a remote it set to connect.
const CONNECT_POLL: Duration = Duration::from_millis(200);

/// Where an item stands after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Matches the configuration; nothing was sent.
    InSync,
    /// Actions were applied (or found already done) in this run.
    Changed,
    /// Dry run: these actions would be sent.
    Planned,
    /// Cannot reach the desired state now; `reason` says why.
    Blocked,
}

/// One item after a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemReport {
    pub cluster: String,
    pub kind: ItemKind,
    pub name: String,
    pub state: ItemState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    /// Why it was changed, planned or blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The actions sent (or planned), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// When a failed item will be tried again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<DateTime<Utc>>,
    /// Consecutive failed attempts.
    #[serde(skip_serializing_if = "is_zero")]
    pub failures: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The outcome of one reconcile run.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileReport {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub dry_run: bool,
    pub items: Vec<ItemReport>,
    /// The audit events of this run, in order.
    pub events: Vec<AuditEvent>,
}

impl ReconcileReport {
    /// The blocked items.
    pub fn blocked(&self) -> impl Iterator<Item = &ItemReport> {
        self.items.iter().filter(|i| i.state == ItemState::Blocked)
    }

    /// True when nothing is blocked and no action failed.
    pub fn ok(&self) -> bool {
        self.blocked().next().is_none()
            && self.events.iter().all(|e| e.result != ActionResult::Failed)
    }

    /// `reconcile: 3 in sync, 1 changed, 1 blocked`.
    pub fn summary(&self) -> String {
        let count = |s: ItemState| self.items.iter().filter(|i| i.state == s).count();
        let mut parts = vec![format!("{} in sync", count(ItemState::InSync))];
        for (s, label) in [
            (ItemState::Changed, "changed"),
            (ItemState::Planned, "planned (dry run)"),
            (ItemState::Blocked, "blocked"),
        ] {
            let n = count(s);
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        format!("reconcile: {}", parts.join(", "))
    }
}

/// The wait before retrying an item after its `failures`-th consecutive failure (1-based) for `reason`.
/// Problems only a person can fix wait the cap at once: retrying them sooner cannot succeed.
pub fn retry_delay(backoff: &Backoff, failures: u32, reason: FailureReason) -> Duration {
    if reason.needs_operator() {
        backoff.max
    } else {
        backoff.delay(failures)
    }
}

/// The failure history of one item.
#[derive(Debug, Clone, PartialEq)]
struct Failing {
    failures: u32,
    reason: FailureReason,
    message: String,
    retry_after: DateTime<Utc>,
}

/// Runs reconcile; cheap to clone (shared state behind `Arc`).
#[derive(Clone)]
pub struct Reconciler {
    cfg: Arc<Config>,
    exec: Executor,
    failing: Arc<Mutex<BTreeMap<ItemKey, Failing>>>,
    /// Where it notes the followers it paused (parameter change) and has not resumed yet: the daemon's policy
    /// history, so a restarted daemon still resumes them (and the policies leave them to reconcile).
    history: SharedHistory,
    last: Arc<RwLock<Option<Arc<ReconcileReport>>>>,
    metrics: Option<ReconcileMetrics>,
    request_errors: SelfMetrics,
    held: Option<HeldPatterns>,
    /// Where the secret of a cross-cluster API key this reconciler creates goes (none: it creates none).
    secret_sink: credentials::SecretSink,
}

/// Where a reconciler learns which auto-follow patterns a policy maintenance window holds paused.
pub type HeldPatterns = Arc<dyn Fn() -> BTreeSet<ClusterKey> + Send + Sync>;

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("exec", &self.exec)
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// A reconciler for `cfg` acting through `exec` (whose dry-run setting decides whether anything is sent).
    pub fn new(cfg: Arc<Config>, exec: Executor) -> Self {
        Self {
            cfg,
            exec,
            failing: Default::default(),
            history: Default::default(),
            last: Default::default(),
            metrics: None,
            request_errors: SelfMetrics::new(),
            held: None,
            secret_sink: Default::default(),
        }
    }

    /// Create the cross-cluster API keys of `api_key` remotes, handing their secrets to `sink` (without a sink,
    /// the remote is reported with the command that creates its key).
    pub fn with_secret_sink(mut self, sink: credentials::SecretSink) -> Self {
        self.secret_sink = sink;
        self
    }

    /// Leave the auto-follow patterns `held` returns paused (a maintenance window holds them).
    pub fn with_held_patterns(mut self, held: HeldPatterns) -> Self {
        self.held = Some(held);
        self
    }

    /// Note its pauses in `history` (the one the policy engine keeps) instead of in memory only.
    pub fn with_history(mut self, history: SharedHistory) -> Self {
        self.history = history;
        self
    }

    /// Count failed reads in this `ccr_sentinel_request_errors_total` (the daemon's; by default one of its own
    /// that nobody serves).
    pub fn with_request_errors(mut self, m: SelfMetrics) -> Self {
        self.request_errors = m;
        self
    }

    /// Publish blocked items to these gauges after each run.
    pub fn with_metrics(mut self, metrics: ReconcileMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The report of the latest run.
    pub fn last_report(&self) -> Option<Arc<ReconcileReport>> {
        crate::sync::read(&self.last).clone()
    }

    fn client(&self, cluster: &str) -> Option<&EsClient> {
        self.exec.client(cluster)
    }

    /// Local clusters: those with remotes, followers or patterns to reconcile.
    fn local_clusters(&self) -> BTreeSet<String> {
        self.cfg
            .remotes
            .iter()
            .map(|r| r.cluster.clone())
            .chain(self.cfg.followers.iter().map(|f| f.cluster.clone()))
            .chain(self.cfg.auto_follow.iter().map(|a| a.cluster.clone()))
            .collect()
    }

    /// Reads what planning needs, every cluster concurrently.
    pub async fn observe(&self) -> Observation {
        let locals = self.local_clusters();
        let with_patterns: BTreeSet<&str> = self
            .cfg
            .auto_follow
            .iter()
            .map(|a| a.cluster.as_str())
            .collect();
        let count_error = |cluster: &str, error: &crate::es::EsError| {
            RequestFailed {
                cluster,
                error,
                stage: Some("reconcile"),
                repeated: false,
            }
            .emit(&self.request_errors)
        };
        let reads = locals.iter().map(|name| {
            let client = self.client(name).cloned();
            let wants_patterns = with_patterns.contains(name.as_str());
            async move {
                let Some(c) = client else {
                    let o = ClusterObservation {
                        error: Some(format!("cluster `{name}` is not configured")),
                        ..Default::default()
                    };
                    return (name.clone(), o);
                };
                let patterns = async {
                    if wants_patterns {
                        Some(c.get_auto_follow_patterns().await)
                    } else {
                        None
                    }
                };
                let (root, remotes, followers, indices, patterns) = tokio::join!(
                    c.root_info(),
                    c.remote_info(),
                    c.follow_info_all(),
                    c.cat_indices(),
                    patterns
                );
                let errors: Vec<&crate::es::EsError> = [
                    root.as_ref().err(),
                    remotes.as_ref().err(),
                    followers.as_ref().err(),
                    indices.as_ref().err(),
                    patterns.as_ref().and_then(|p| p.as_ref().err()),
                ]
                .into_iter()
                .flatten()
                .collect();
                for e in &errors {
                    count_error(name, e);
                }
                let error = errors.first().map(|e| e.to_string());
                let o = ClusterObservation {
                    version: root.ok().and_then(|r| r.major_minor()),
                    remotes: remotes.ok(),
                    followers: followers.ok().map(|f| {
                        f.follower_indices
                            .into_iter()
                            .map(|f| (f.follower_index.clone(), f))
                            .collect()
                    }),
                    indices: indices.ok().map(open_map),
                    patterns: match patterns {
                        None => Some(BTreeMap::new()),
                        Some(r) => r.ok(),
                    },
                    error,
                };
                (name.clone(), o)
            }
        });
        let leaders: BTreeSet<String> = self
            .cfg
            .remotes
            .iter()
            .filter(|r| {
                self.cfg
                    .followers
                    .iter()
                    .any(|f| f.cluster == r.cluster && f.remote == r.alias)
            })
            .map(|r| r.leader.clone())
            .collect();
        let leader_reads = leaders.into_iter().filter_map(|name| {
            let c = self.client(&name)?.clone();
            Some(async move { (name, c.cat_indices().await) })
        });
        // Data streams of the pattern clusters and their leaders, 7.9+ only (`GET /` first, as the poll does).
        let mut stream_clusters: BTreeSet<String> =
            with_patterns.iter().map(|c| c.to_string()).collect();
        stream_clusters.extend(
            self.cfg
                .auto_follow
                .iter()
                .filter_map(|a| self.cfg.leader_cluster(&a.cluster, &a.remote))
                .map(str::to_string),
        );
        let stream_reads = stream_clusters.into_iter().filter_map(|name| {
            let c = self.client(&name)?.clone();
            Some(async move {
                let v = c.root_info().await.ok()?.major_minor()?;
                if v < (7, 9) {
                    return None;
                }
                Some((name, c.data_streams().await))
            })
        });
        let (clusters, leader_lists, stream_lists) = tokio::join!(
            join_all(reads),
            join_all(leader_reads),
            join_all(stream_reads)
        );
        let mut data_streams = BTreeMap::new();
        for (name, r) in stream_lists.into_iter().flatten() {
            match r {
                Ok(d) => {
                    data_streams.insert(name, d);
                }
                // Without it no missed backing index is followed this run; the rest of the plan stands.
                Err(e) => count_error(&name, &e),
            }
        }
        let mut leader_indices = BTreeMap::new();
        for (name, r) in leader_lists {
            match r {
                Ok(rows) => {
                    leader_indices.insert(name, open_map(rows));
                }
                // Without the leader's list, the follow request itself tells whether the leader exists.
                Err(e) => count_error(&name, &e),
            }
        }
        Observation {
            clusters: clusters.into_iter().collect(),
            leader_indices,
            data_streams,
            paused_by_reconcile: paused_by_reconcile(&self.history.current()),
            held_paused_patterns: self.held.as_ref().map(|h| h()).unwrap_or_default(),
        }
    }

    /// Polls `_remote/info` of `cluster` until every alias in `aliases` is connected or `timeout` passed.
    /// Returns the last answer.
    async fn wait_connected(
        &self,
        cluster: &str,
        aliases: &BTreeSet<String>,
        timeout: Duration,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Option<BTreeMap<String, RemoteInfo>> {
        let c = self.client(cluster)?;
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Ok(r) = c.remote_info().await {
                let done = aliases
                    .iter()
                    .all(|a| r.get(a).is_some_and(|i| i.connected));
                last = Some(r);
                if done {
                    return last;
                }
            }
            if Instant::now() >= deadline {
                return last;
            }
            tokio::select! {
                _ = tokio::time::sleep(CONNECT_POLL) => {}
                _ = cancel.cancelled() => return last,
            }
        }
    }

    /// One reconcile run.
    pub async fn run_once(&self) -> Arc<ReconcileReport> {
        self.run_until(&tokio_util::sync::CancellationToken::new())
            .await
    }

    /// One reconcile run that stops before the next item once `cancel` fires (shutdown): an item's actions are
    /// never cut in the middle, the items not reached are left out of the report.
    pub async fn run_until(
        &self,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Arc<ReconcileReport> {
        let started_at = Utc::now();
        let dry_run = self.exec.is_dry_run();
        let opts = PlanOptions {
            apply_parameter_changes: self.cfg.reconcile.apply_parameter_changes,
        };
        let mut obs = self.observe().await;
        let mut items = Vec::new();
        let mut events = Vec::new();

        // Remotes first.
        let first = plan(&self.cfg, &obs, opts);
        let mut set_remotes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for item in first.iter().filter(|i| i.key.kind == ItemKind::Remote) {
            if cancel.is_cancelled() {
                break;
            }
            let report = self.apply(&item.key, &item.decision, &mut events).await;
            if matches!(report.state, ItemState::Changed | ItemState::Planned) {
                set_remotes
                    .entry(item.key.id.cluster.clone())
                    .or_default()
                    .insert(item.key.id.name.clone());
            }
            items.push(report);
        }
        // API-key remotes: their key on the leader and the keystore step, before waiting for connections.
        let mut key_outcomes = Vec::new();
        for r in self.api_key_remotes() {
            if cancel.is_cancelled() {
                break;
            }
            let Some(o) = obs.clusters.get(&r.cluster) else {
                continue;
            };
            // Without `_remote/info` the remote item is already blocked for that.
            let Some(remotes) = &o.remotes else {
                continue;
            };
            let outcome = self
                .reconcile_credentials(&r, remotes.get(&r.alias), o.version, &mut events)
                .await;
            if outcome.reread {
                if let (Some(info), Some(o)) = (&outcome.remote, obs.clusters.get_mut(&r.cluster)) {
                    o.remotes
                        .get_or_insert_with(Default::default)
                        .insert(r.alias.clone(), info.clone());
                }
            }
            if outcome.blocked.is_some() {
                // It cannot connect before the operator step: no use waiting for it.
                if let Some(a) = set_remotes.get_mut(&r.cluster) {
                    a.remove(&r.alias);
                }
            }
            key_outcomes.push((r, outcome));
        }
        for (cluster, aliases) in &set_remotes {
            if aliases.is_empty() {
                continue;
            }
            let Some(o) = obs.clusters.get_mut(cluster) else {
                continue;
            };
            if dry_run {
                // Nothing was sent; plan the rest as if the remotes were set and connected.
                let remotes = o.remotes.get_or_insert_with(Default::default);
                for r in self
                    .cfg
                    .remotes
                    .iter()
                    .filter(|r| &r.cluster == cluster && aliases.contains(&r.alias))
                {
                    remotes.insert(
                        r.alias.clone(),
                        RemoteInfo {
                            connected: true,
                            mode: Some(match r.mode {
                                crate::config::RemoteMode::Sniff => "sniff".into(),
                                crate::config::RemoteMode::Proxy => "proxy".into(),
                            }),
                            seeds: r.seeds.clone(),
                            proxy_address: r.proxy_address.clone(),
                            server_name: r.server_name.clone(),
                            skip_unavailable: r.skip_unavailable,
                            ..Default::default()
                        },
                    );
                }
                continue;
            }
            let seen = self
                .wait_connected(cluster, aliases, self.cfg.reconcile.connect_timeout, cancel)
                .await;
            for a in aliases {
                let connected = seen
                    .as_ref()
                    .and_then(|s| s.get(a))
                    .is_some_and(|i| i.connected);
                if !connected {
                    if let Some(r) = items.iter_mut().find(|r| {
                        r.kind == ItemKind::Remote && &r.cluster == cluster && &r.name == a
                    }) {
                        r.state = ItemState::Blocked;
                        r.reason = Some(FailureReason::RemoteNotConnected);
                        r.message = Some(format!(
                            "remote `{a}` was set on `{cluster}` but `_remote/info` did not report it connected within {}; check that the seeds are the leader's transport addresses (port 9300, not the HTTP port)",
                            humantime::format_duration(self.cfg.reconcile.connect_timeout)
                        ));
                    }
                }
            }
            if seen.is_some() {
                o.remotes = seen;
            }
        }

        for (r, outcome) in key_outcomes {
            let connected = obs
                .clusters
                .get(&r.cluster)
                .and_then(|o| o.remotes.as_ref())
                .and_then(|m| m.get(&r.alias))
                .is_some_and(|i| i.connected);
            if let Some(item) = items
                .iter_mut()
                .find(|i| i.kind == ItemKind::Remote && i.cluster == r.cluster && i.name == r.alias)
            {
                merge_key_outcome(item, outcome, connected, dry_run);
            }
        }

        // Then followers and auto-follow patterns, planned against the remotes as they are now.
        let second = plan(&self.cfg, &obs, opts);
        for item in second.iter().filter(|i| i.key.kind != ItemKind::Remote) {
            if cancel.is_cancelled() {
                break;
            }
            items.push(self.apply(&item.key, &item.decision, &mut events).await);
        }

        let report = Arc::new(ReconcileReport {
            started_at,
            finished_at: Utc::now(),
            dry_run,
            items,
            events,
        });
        self.log_blocked(&report);
        if let Some(m) = &self.metrics {
            m.publish_blocked(report.blocked().map(|i| {
                let reason = i.reason.map(|r| r.as_str()).unwrap_or("other");
                [i.cluster.as_str(), i.kind.as_str(), i.name.as_str(), reason]
            }));
        }
        *crate::sync::write(&self.last) = Some(report.clone());
        report
    }

    /// Warns about items that became blocked or changed reason since the previous run.
    fn log_blocked(&self, report: &ReconcileReport) {
        let before: BTreeMap<(String, ItemKind, String), Option<FailureReason>> = self
            .last_report()
            .map(|r| {
                r.blocked()
                    .map(|i| ((i.cluster.clone(), i.kind, i.name.clone()), i.reason))
                    .collect()
            })
            .unwrap_or_default();
        for i in report.blocked() {
            let key = (i.cluster.clone(), i.kind, i.name.clone());
            let reason = i.reason.map(|r| r.as_str()).unwrap_or("other");
            let message = i.message.as_deref().unwrap_or("");
            if before.get(&key) != Some(&i.reason) {
                tracing::warn!(cluster = %i.cluster, kind = i.kind.as_str(), name = %i.name, reason, retry_after = %i.retry_after.map(|t| t.to_rfc3339()).unwrap_or_default(), "reconcile blocked: {message}");
            } else {
                tracing::debug!(cluster = %i.cluster, kind = i.kind.as_str(), name = %i.name, reason, "still blocked: {message}");
            }
        }
        tracing::info!(dry_run = report.dry_run, "{}", report.summary());
    }

    /// Applies one planned item, honouring its backoff.
    async fn apply(
        &self,
        key: &ItemKey,
        decision: &Decision,
        events: &mut Vec<AuditEvent>,
    ) -> ItemReport {
        let mut r = ItemReport {
            cluster: key.id.cluster.clone(),
            kind: key.kind,
            name: key.id.name.clone(),
            state: ItemState::InSync,
            reason: None,
            message: None,
            actions: Vec::new(),
            retry_after: None,
            failures: 0,
        };
        match decision {
            Decision::InSync { note } => {
                self.forget(key);
                r.message = note.clone();
            }
            Decision::Blocked { reason, message } => {
                r.state = ItemState::Blocked;
                r.reason = Some(*reason);
                r.message = Some(message.clone());
            }
            Decision::Act { actions, why } => {
                r.actions = actions.iter().map(|a| a.describe()).collect();
                let now = Utc::now();
                if let Some(f) = self.failing_entry(key).filter(|f| f.retry_after > now) {
                    r.state = ItemState::Blocked;
                    r.reason = Some(f.reason);
                    r.message = Some(format!(
                        "{} (attempt {} failed; not retried before {})",
                        f.message,
                        f.failures,
                        f.retry_after.format("%Y-%m-%d %H:%M:%S UTC")
                    ));
                    r.retry_after = Some(f.retry_after);
                    r.failures = f.failures;
                    return r;
                }
                r.message = Some(why.clone());
                r.state = if self.exec.is_dry_run() {
                    ItemState::Planned
                } else {
                    ItemState::Changed
                };
                for a in actions {
                    let e = self.exec.execute(a, RECONCILE_RULE, why).await;
                    let failed = e.result == ActionResult::Failed;
                    if e.result.is_ok() {
                        self.note_pause(a);
                    }
                    let reason = e.reason.unwrap_or(FailureReason::Other);
                    let error = e.error.clone().unwrap_or_default();
                    events.push(e);
                    if failed {
                        let f = self.record_failure(key, reason, &error);
                        r.state = ItemState::Blocked;
                        r.reason = Some(reason);
                        r.message = Some(match reason.fix() {
                            Some(h) => format!("{error}; {h}"),
                            None => error,
                        });
                        r.retry_after = Some(f.retry_after);
                        r.failures = f.failures;
                        return r;
                    }
                }
                if !self.exec.is_dry_run() {
                    self.forget(key);
                }
            }
        }
        r
    }

    fn failing_entry(&self, key: &ItemKey) -> Option<Failing> {
        lock(&self.failing).get(key).cloned()
    }

    fn forget(&self, key: &ItemKey) {
        lock(&self.failing).remove(key);
    }

    fn record_failure(&self, key: &ItemKey, reason: FailureReason, message: &str) -> Failing {
        let backoff = Backoff {
            initial: self.cfg.reconcile.backoff_initial,
            max: self.cfg.reconcile.backoff_max,
        };
        let mut m = lock(&self.failing);
        let failures = m.get(key).map(|f| f.failures).unwrap_or(0) + 1;
        let delay = retry_delay(&backoff, failures, reason);
        let f = Failing {
            failures,
            reason,
            message: message.to_string(),
            retry_after: Utc::now()
                + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
        };
        m.insert(key.clone(), f.clone());
        f
    }
}

impl Reconciler {
    /// Remembers followers reconcile paused until it resumes them.
    fn note_pause(&self, a: &crate::act::Action) {
        use crate::act::Action;
        match a {
            Action::PauseFollow {
                cluster,
                follower_index,
            } => self.history.update(|h| {
                h.follower_mut(cluster, follower_index).paused_by_us = Some(PausedByUs {
                    rule: Rule::Reconcile,
                    at: Utc::now(),
                    why: "pause + resume to change the follow parameters".into(),
                });
            }),
            Action::ResumeFollow {
                cluster,
                follower_index,
                ..
            } => self.history.update(|h| {
                let ours = h
                    .follower(cluster, follower_index)
                    .and_then(|f| f.paused_by_us.as_ref())
                    .is_some_and(|p| p.rule == Rule::Reconcile);
                if ours {
                    h.follower_mut(cluster, follower_index).paused_by_us = None;
                }
            }),
            _ => {}
        }
    }
}

/// Folds the key step of an `api_key` remote into its item: a blocked step blocks the item unless the item is
/// already blocked for a reason of its own (a failed settings update comes first); a done step clears a
/// "not connected" block once the remote is connected.
fn merge_key_outcome(
    item: &mut ItemReport,
    outcome: credentials::KeyOutcome,
    connected: bool,
    dry_run: bool,
) {
    let own_block =
        item.state == ItemState::Blocked && item.reason != Some(FailureReason::RemoteNotConnected);
    let did = !outcome.actions.is_empty();
    item.actions.extend(outcome.actions);
    if own_block {
        return;
    }
    match outcome.blocked {
        Some((reason, message)) => {
            item.state = ItemState::Blocked;
            item.reason = Some(reason);
            item.message = Some(message);
        }
        None if dry_run => {
            if did {
                item.state = ItemState::Planned;
            }
        }
        None => {
            if item.state == ItemState::Blocked && connected {
                item.state = ItemState::Changed;
                item.reason = None;
                item.message = None;
            }
            if outcome.changed && item.state == ItemState::InSync {
                item.state = ItemState::Changed;
            }
        }
    }
}

/// The followers reconcile paused and has not resumed yet.
fn paused_by_reconcile(h: &History) -> BTreeSet<ClusterKey> {
    h.followers
        .iter()
        .filter(|(_, f)| {
            f.paused_by_us
                .as_ref()
                .is_some_and(|p| p.rule == Rule::Reconcile)
        })
        .map(|(k, _)| k.clone())
        .collect()
}

fn open_map(rows: Vec<crate::es::CatIndex>) -> BTreeMap<String, bool> {
    rows.into_iter()
        .map(|r| {
            let open = r.status.as_deref() != Some("close");
            (r.index, open)
        })
        .collect()
}

/// The `/status` section of a report: when it ran, the summary, the blocked items with reasons, every item and
/// the audit events of the run.
pub fn status_section(r: &ReconcileReport) -> serde_json::Value {
    serde_json::json!({
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "dry_run": r.dry_run,
        "summary": r.summary(),
        "blocked": r.blocked().collect::<Vec<_>>(),
        "items": r.items,
        "actions": r.events,
    })
}

/// Builds a one-shot reconciler for `cfg` (its own clients, the configured audit file), for `reconcile --once`
/// and tests. `dry_run` adds to `[reconcile] dry_run`.
pub fn one_shot(cfg: Config, dry_run: bool) -> anyhow::Result<Reconciler> {
    let cfg = Arc::new(cfg);
    let exec = Executor::new(crate::es::Clients::from_config(&cfg)?)
        .with_dry_run(dry_run || cfg.reconcile.dry_run)
        .with_audit(AuditLog::from_config(&cfg)?);
    Ok(Reconciler::new(cfg, exec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_outcomes_fold_into_the_remote_item() {
        let item = |state: ItemState, reason: Option<FailureReason>| ItemReport {
            cluster: "follower".into(),
            kind: ItemKind::Remote,
            name: "leader".into(),
            state,
            reason,
            message: None,
            actions: vec!["set remote".into()],
            retry_after: None,
            failures: 0,
        };
        let outcome = |blocked: Option<FailureReason>, changed: bool| credentials::KeyOutcome {
            actions: if changed {
                vec!["create key".into()]
            } else {
                Vec::new()
            },
            blocked: blocked.map(|r| (r, "why".to_string())),
            changed,
            ..Default::default()
        };
        use FailureReason as R;
        use ItemState as S;
        let table = [
            // (item, reason), (key blocked, changed), connected, dry run -> (state, reason)
            (
                (S::Changed, None),
                (Some(R::OperatorStep), true),
                false,
                false,
                (S::Blocked, Some(R::OperatorStep)),
            ),
            (
                (S::Blocked, Some(R::RemoteNotConnected)),
                (Some(R::OperatorStep), false),
                false,
                false,
                (S::Blocked, Some(R::OperatorStep)),
            ),
            (
                (S::Blocked, Some(R::RemoteNotConnected)),
                (None, true),
                true,
                false,
                (S::Changed, None),
            ),
            (
                (S::InSync, None),
                (None, false),
                true,
                false,
                (S::InSync, None),
            ),
            (
                (S::InSync, None),
                (None, true),
                true,
                false,
                (S::Changed, None),
            ),
            // A failed settings update stays the item's reason.
            (
                (S::Blocked, Some(R::Unauthorized)),
                (Some(R::OperatorStep), false),
                false,
                false,
                (S::Blocked, Some(R::Unauthorized)),
            ),
            (
                (S::InSync, None),
                (None, true),
                false,
                true,
                (S::Planned, None),
            ),
        ];
        for ((state, reason), (blocked, changed), connected, dry_run, want) in table {
            let mut i = item(state, reason);
            merge_key_outcome(&mut i, outcome(blocked, changed), connected, dry_run);
            assert_eq!(
                (i.state, i.reason),
                want,
                "{state:?} {reason:?} {blocked:?} {changed}"
            );
            assert_eq!(i.actions.len(), 1 + usize::from(changed));
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_operator_problems_wait_the_cap() {
        let b = Backoff {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(600),
        };
        let table = [
            (1, FailureReason::Unavailable, 30),
            (2, FailureReason::Unavailable, 60),
            (3, FailureReason::LeaderMissing, 120),
            (5, FailureReason::RemoteUnreachable, 480),
            (6, FailureReason::RemoteUnreachable, 600),
            (60, FailureReason::Unavailable, 600),
            (1, FailureReason::SoftDeletesDisabled, 600),
            (1, FailureReason::NameConflict, 600),
            (1, FailureReason::License, 600),
            (1, FailureReason::Unauthorized, 600),
        ];
        for (n, reason, secs) in table {
            assert_eq!(
                retry_delay(&b, n, reason),
                Duration::from_secs(secs),
                "{n} {reason}"
            );
        }
    }
}
