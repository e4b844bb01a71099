//! Executing actions against the clusters: the one place where ccr-sentinel changes anything.
//!
//! Reconcile ([`crate::reconcile`]) and policy both hand an [`Action`] to an [`Executor`], which
//! - honours dry run (nothing is sent, the event says `dry_run`);
//! - sends the request to the right cluster through its [`EsClient`];
//! - turns "someone already did it" into success by re-observing, never by retrying the mutation (a follow of
//!   a name that is now a follower of the right leader, a pause of a paused follower, ...);
//! - emits exactly one [`AuditEvent`] per action: a structured `tracing` event (target `ccr_sentinel::audit`),
//!   a JSON line in the optional audit file ([`AuditLog`]), and one count in
//!   `ccr_sentinel_reconcile_actions_total{action,result}` (rule `reconcile`) or
//!   `ccr_sentinel_actions_total{action,rule,result}` (any other rule).

pub mod backoff;
pub mod heartbeat;
pub mod history;
pub mod runbook;
pub mod secret;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::FollowParameters;
use crate::es::FollowerStatus;
use crate::es::{classify, FailureReason};
use crate::es::{Clients, EsClient, EsError};
use crate::metrics::ActionMetrics;

/// The `rule` of actions planned by reconcile.
pub const RECONCILE_RULE: &str = "reconcile";

/// One change to one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `PUT /_cluster/settings` with these flat persistent settings (`cluster.remote.<alias>.*`; `null`
    /// removes a key).
    PutRemote {
        cluster: String,
        alias: String,
        settings: Map<String, Value>,
    },
    /// `PUT /{follower_index}/_ccr/follow?wait_for_active_shards=0`: answers once the restore has started.
    Follow {
        cluster: String,
        follower_index: String,
        remote_cluster: String,
        leader_index: String,
        /// Follower index settings (7.9+); not sent when empty.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        settings: BTreeMap<String, String>,
        #[serde(skip_serializing_if = "FollowParameters::is_empty")]
        parameters: FollowParameters,
        /// The local data stream a follower of a backing index joins (8.4+, `data_stream_name`); `None`: not
        /// sent (the leader's stream name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_stream_name: Option<String>,
    },
    /// `POST /{follower_index}/_ccr/pause_follow`.
    PauseFollow {
        cluster: String,
        follower_index: String,
    },
    /// `POST /{follower_index}/_ccr/resume_follow` with these parameters (none: the defaults).
    ResumeFollow {
        cluster: String,
        follower_index: String,
        #[serde(skip_serializing_if = "FollowParameters::is_empty")]
        parameters: FollowParameters,
    },
    /// `POST /{follower_index}/_ccr/unfollow` (paused and closed first).
    Unfollow {
        cluster: String,
        follower_index: String,
    },
    /// `POST /{index}/_close`.
    CloseIndex { cluster: String, index: String },
    /// `POST /{index}/_open`.
    OpenIndex { cluster: String, index: String },
    /// `POST /{leader_index}/_ccr/forget_follower` on the leader cluster `cluster`.
    ForgetFollower {
        cluster: String,
        leader_index: String,
        /// The follower cluster's `cluster_name` (from `GET /`).
        follower_cluster: String,
        follower_index: String,
        follower_index_uuid: String,
        leader_remote_cluster: String,
    },
    /// `PUT /_ccr/auto_follow/{name}` with this body (creates or overwrites).
    PutAutoFollow {
        cluster: String,
        name: String,
        body: Value,
    },
    /// `DELETE /_ccr/auto_follow/{name}`.
    DeleteAutoFollow { cluster: String, name: String },
    /// `POST /_ccr/auto_follow/{name}/pause`.
    PauseAutoFollow { cluster: String, name: String },
    /// `POST /_ccr/auto_follow/{name}/resume`.
    ResumeAutoFollow { cluster: String, name: String },
    /// `POST /_data_stream/_promote/{data_stream}` (7.9+): a replicated data stream becomes a regular one that
    /// can roll over locally. Its backing indices stay followers (ES `PromoteDataStreamTransportAction`).
    PromoteDataStream {
        cluster: String,
        data_stream: String,
    },
    /// `POST /{data_stream}/_rollover`: a new backing index from the local template becomes the write index.
    RolloverDataStream {
        cluster: String,
        data_stream: String,
    },
}

/// What an action is about: serialized into the audit event as `"follower_index": "..."`, `"alias": ...`,
/// `"pattern": ...`, `"index": ...` or `"data_stream": ...`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    FollowerIndex(String),
    Alias(String),
    Pattern(String),
    Index(String),
    DataStream(String),
}

impl Target {
    /// The kind (`follower_index`, `alias`, `pattern`, `index`, `data_stream`).
    pub fn kind(&self) -> &'static str {
        match self {
            Target::FollowerIndex(_) => "follower_index",
            Target::Alias(_) => "alias",
            Target::Pattern(_) => "pattern",
            Target::Index(_) => "index",
            Target::DataStream(_) => "data_stream",
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        match self {
            Target::FollowerIndex(n)
            | Target::Alias(n)
            | Target::Pattern(n)
            | Target::Index(n)
            | Target::DataStream(n) => n,
        }
    }
}

impl Action {
    /// The `action` label value.
    pub fn name(&self) -> &'static str {
        match self {
            Action::PutRemote { .. } => "put_remote",
            Action::Follow { .. } => "follow",
            Action::PauseFollow { .. } => "pause_follow",
            Action::ResumeFollow { .. } => "resume_follow",
            Action::Unfollow { .. } => "unfollow",
            Action::CloseIndex { .. } => "close_index",
            Action::OpenIndex { .. } => "open_index",
            Action::ForgetFollower { .. } => "forget_follower",
            Action::PutAutoFollow { .. } => "put_auto_follow",
            Action::DeleteAutoFollow { .. } => "delete_auto_follow",
            Action::PauseAutoFollow { .. } => "pause_auto_follow",
            Action::ResumeAutoFollow { .. } => "resume_auto_follow",
            Action::PromoteDataStream { .. } => "promote_data_stream",
            Action::RolloverDataStream { .. } => "rollover_data_stream",
        }
    }

    /// The configuration name of the cluster the request goes to.
    pub fn cluster(&self) -> &str {
        match self {
            Action::PutRemote { cluster, .. }
            | Action::Follow { cluster, .. }
            | Action::PauseFollow { cluster, .. }
            | Action::ResumeFollow { cluster, .. }
            | Action::Unfollow { cluster, .. }
            | Action::CloseIndex { cluster, .. }
            | Action::OpenIndex { cluster, .. }
            | Action::ForgetFollower { cluster, .. }
            | Action::PutAutoFollow { cluster, .. }
            | Action::DeleteAutoFollow { cluster, .. }
            | Action::PauseAutoFollow { cluster, .. }
            | Action::ResumeAutoFollow { cluster, .. }
            | Action::PromoteDataStream { cluster, .. }
            | Action::RolloverDataStream { cluster, .. } => cluster,
        }
    }

    /// What the action is about.
    pub fn target(&self) -> Target {
        match self {
            Action::PutRemote { alias, .. } => Target::Alias(alias.clone()),
            Action::Follow { follower_index, .. }
            | Action::PauseFollow { follower_index, .. }
            | Action::ResumeFollow { follower_index, .. }
            | Action::Unfollow { follower_index, .. }
            | Action::ForgetFollower { follower_index, .. } => {
                Target::FollowerIndex(follower_index.clone())
            }
            Action::CloseIndex { index, .. } | Action::OpenIndex { index, .. } => {
                Target::Index(index.clone())
            }
            Action::PutAutoFollow { name, .. }
            | Action::DeleteAutoFollow { name, .. }
            | Action::PauseAutoFollow { name, .. }
            | Action::ResumeAutoFollow { name, .. } => Target::Pattern(name.clone()),
            Action::PromoteDataStream { data_stream, .. }
            | Action::RolloverDataStream { data_stream, .. } => {
                Target::DataStream(data_stream.clone())
            }
        }
    }

    /// The request body of a follow, as sent.
    fn follow_body(
        remote_cluster: &str,
        leader_index: &str,
        settings: &BTreeMap<String, String>,
        parameters: &FollowParameters,
        data_stream_name: Option<&str>,
    ) -> Value {
        let mut body = parameters.to_json();
        body.insert("remote_cluster".into(), remote_cluster.into());
        body.insert("leader_index".into(), leader_index.into());
        if let Some(ds) = data_stream_name {
            body.insert("data_stream_name".into(), ds.into());
        }
        if !settings.is_empty() {
            let s: Map<String, Value> = settings
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            body.insert("settings".into(), Value::Object(s));
        }
        Value::Object(body)
    }

    /// A one-line description for logs and tables: `follow follower:logs-copy <- leader:logs`.
    pub fn describe(&self) -> String {
        match self {
            Action::PutRemote {
                cluster,
                alias,
                settings,
            } => {
                let keys: Vec<String> = settings
                    .iter()
                    .map(|(k, v)| {
                        let short = k
                            .strip_prefix(&format!("cluster.remote.{alias}."))
                            .unwrap_or(k);
                        format!("{short}={v}")
                    })
                    .collect();
                format!("set remote `{alias}` on `{cluster}` ({})", keys.join(", "))
            }
            Action::Follow {
                cluster,
                follower_index,
                remote_cluster,
                leader_index,
                ..
            } => format!(
                "follow `{remote_cluster}:{leader_index}` as `{follower_index}` on `{cluster}`"
            ),
            Action::PutAutoFollow { cluster, name, .. } => {
                format!("put auto-follow pattern `{name}` on `{cluster}`")
            }
            other => format!(
                "{} {} `{}` on `{}`",
                other.name(),
                other.target().kind(),
                other.target().name(),
                other.cluster()
            ),
        }
    }
}

/// How an action ended: the `result` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionResult {
    /// The request succeeded.
    Success,
    /// The cluster was already in the wanted state (someone else did it); nothing changed.
    AlreadyDone,
    /// The request failed; `reason` says why.
    Failed,
    /// Dry run: nothing was sent.
    DryRun,
}

impl ActionResult {
    /// The label value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActionResult::Success => "success",
            ActionResult::AlreadyDone => "already_done",
            ActionResult::Failed => "failed",
            ActionResult::DryRun => "dry_run",
        }
    }

    /// Success or already done.
    pub fn is_ok(&self) -> bool {
        matches!(self, ActionResult::Success | ActionResult::AlreadyDone)
    }
}

/// One audit event: what was done, to what, why, and how it ended. Carries no credential.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub time: DateTime<Utc>,
    /// Configuration name of the cluster the request went to.
    pub cluster: String,
    /// `"follower_index": ..`, `"alias": ..`, `"pattern": ..` or `"index": ..`.
    #[serde(flatten)]
    pub target: Target,
    /// The action label (`follow`, `put_remote`, ...).
    pub action: &'static str,
    /// `reconcile`, or the policy rule that decided it.
    pub rule: String,
    /// Why the action was planned.
    pub why: String,
    pub result: ActionResult,
    /// The bounded error reason, when it failed (or when it was already done for a reason worth naming).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FailureReason>,
    /// The error message (cluster, endpoint and Elasticsearch's reason; never a URL or credential).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
    pub dry_run: bool,
    /// For a follow or resume that was sent: the principal the follower's shard tasks now run as (the
    /// credential that last created or resumed a follower, elastic/elasticsearch#30239), from `_authenticate`
    /// on its cluster. Never a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// Which principal ccr-sentinel last created or resumed a follower as, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartedAs {
    pub principal: String,
    /// `follow` or `resume_follow`.
    pub action: &'static str,
    pub at: DateTime<Utc>,
}

/// The most followers whose [`StartedAs`] is kept (the audit file keeps every one).
pub const STARTED_AS_MAX: usize = 10_000;

/// The audit file could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[error("audit file {path}: {source}")]
pub struct AuditError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// An append-only JSON-lines audit file, one line per [`AuditEvent`].
#[derive(Clone, Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
}

impl AuditLog {
    /// Opens the `[audit] file` of `cfg`, if one is configured: the one place that file is opened, so every
    /// executor of a process shares one handle.
    pub fn from_config(cfg: &crate::config::Config) -> Result<Option<Self>, AuditError> {
        cfg.audit.file.as_deref().map(Self::open).transpose()
    }

    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| AuditError {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event as one line (a single write, so concurrent writers never interleave within a line).
    pub fn write(&self, e: &AuditEvent) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(e).map_err(|err| AuditError {
            path: self.path.clone(),
            source: std::io::Error::other(err),
        })?;
        line.push(b'\n');
        let mut f = crate::sync::lock(&self.file);
        f.write_all(&line).map_err(|source| AuditError {
            path: self.path.clone(),
            source,
        })
    }
}

/// Runs actions against the configured clusters.
#[derive(Clone)]
pub struct Executor {
    clients: Clients,
    dry_run: bool,
    audit: Option<AuditLog>,
    metrics: Option<ActionMetrics>,
    /// `_authenticate` of each cluster's credential, read at the first follow or resume sent there (`None`:
    /// the cluster could not say, e.g. security off). Shared by the clones of one executor.
    principals: Arc<Mutex<BTreeMap<String, Option<String>>>>,
    /// The principal each follower was last created or resumed as, by `cluster/follower_index`.
    started_as: Arc<Mutex<BTreeMap<crate::config::ClusterKey, StartedAs>>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("clusters", &self.clients.keys().collect::<Vec<_>>())
            .field("dry_run", &self.dry_run)
            .field("audit", &self.audit.as_ref().map(|a| a.path()))
            .finish()
    }
}

impl Executor {
    /// An executor over the process's clients, sending for real, not counting, no audit file.
    pub fn new(clients: Clients) -> Self {
        Self {
            clients,
            dry_run: false,
            audit: None,
            metrics: None,
            principals: Arc::default(),
            started_as: Arc::default(),
        }
    }

    /// The principal every follower was last created or resumed as by this process (`/status`).
    pub fn started_as(&self) -> BTreeMap<crate::config::ClusterKey, StartedAs> {
        crate::sync::lock(&self.started_as).clone()
    }

    /// Who the credential of `c` authenticates as (read once per cluster and process).
    async fn principal_of(&self, c: &EsClient) -> Option<String> {
        if let Some(p) = crate::sync::lock(&self.principals).get(c.name()) {
            return p.clone();
        }
        let p = match c.authenticate().await {
            Ok(a) => Some(crate::observe::keys::principal(&a)),
            Err(e) => {
                tracing::debug!(cluster = %c.name(), error = %e, "cannot tell the principal of the credential");
                None
            }
        };
        crate::sync::lock(&self.principals).insert(c.name().to_string(), p.clone());
        p
    }

    /// Dry run: plan and audit, send nothing.
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Also append every event to this audit file.
    pub fn with_audit(mut self, audit: Option<AuditLog>) -> Self {
        self.audit = audit;
        self
    }

    /// Count every event in these counters.
    pub fn with_metrics(mut self, metrics: ActionMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// True in dry run.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The client of a configured cluster.
    pub fn client(&self, cluster: &str) -> Option<&EsClient> {
        self.clients.get(cluster)
    }

    /// Runs one action (or, in dry run, only records it) and returns its audit event, which has already been
    /// logged, written to the audit file and counted. `rule` is [`RECONCILE_RULE`] or the policy rule name;
    /// `why` is the human reason.
    pub async fn execute(&self, action: &Action, rule: &str, why: &str) -> AuditEvent {
        let time = Utc::now();
        let t0 = Instant::now();
        let (result, reason, error) = if self.dry_run {
            (ActionResult::DryRun, None, None)
        } else {
            match self.clients.get(action.cluster()) {
                None => (
                    ActionResult::Failed,
                    Some(FailureReason::Other),
                    Some(format!("cluster `{}` is not configured", action.cluster())),
                ),
                Some(client) => match self.send(client, action).await {
                    Ok(r) => (r, None, None),
                    Err((reason, e)) => (ActionResult::Failed, Some(reason), Some(e.to_string())),
                },
            }
        };
        let starts_tasks = matches!(action, Action::Follow { .. } | Action::ResumeFollow { .. });
        let principal = match (starts_tasks, result, self.clients.get(action.cluster())) {
            (true, ActionResult::Success, Some(c)) => self.principal_of(c).await,
            _ => None,
        };
        if let (Some(p), Target::FollowerIndex(index)) = (&principal, action.target()) {
            let mut m = crate::sync::lock(&self.started_as);
            if m.len() >= STARTED_AS_MAX {
                // Bounded: the oldest entry goes (the audit file has it).
                let oldest = m.iter().min_by_key(|(_, s)| s.at).map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    m.remove(&k);
                }
            }
            m.insert(
                crate::config::ClusterKey::new(action.cluster(), index),
                StartedAs {
                    principal: p.clone(),
                    action: action.name(),
                    at: time,
                },
            );
        }
        let event = AuditEvent {
            time,
            cluster: action.cluster().to_string(),
            target: action.target(),
            action: action.name(),
            rule: rule.to_string(),
            why: why.to_string(),
            result,
            reason,
            error,
            duration_ms: t0.elapsed().as_millis() as u64,
            dry_run: self.dry_run,
            principal,
        };
        self.record(&event);
        event
    }

    /// Logs, writes and counts an event.
    pub fn record(&self, e: &AuditEvent) {
        let target_kind = e.target.kind();
        let target = e.target.name();
        let reason = e.reason.map(|r| r.as_str()).unwrap_or("");
        let error = e.error.as_deref().unwrap_or("");
        let principal = e.principal.as_deref().unwrap_or("");
        if e.result == ActionResult::Failed {
            tracing::warn!(target: "ccr_sentinel::audit", cluster = %e.cluster, target_kind, target, action = e.action,
                rule = %e.rule, why = %e.why, result = e.result.as_str(), reason, error,
                duration_ms = e.duration_ms, dry_run = e.dry_run, "action failed");
        } else {
            tracing::info!(target: "ccr_sentinel::audit", cluster = %e.cluster, target_kind, target, action = e.action,
                rule = %e.rule, why = %e.why, result = e.result.as_str(), duration_ms = e.duration_ms,
                dry_run = e.dry_run, principal, "action {}", e.result.as_str());
        }
        if let Some(a) = &self.audit {
            if let Err(err) = a.write(e) {
                tracing::error!(error = %err, "cannot write the audit file");
            }
        }
        if let Some(m) = &self.metrics {
            if e.rule == RECONCILE_RULE {
                m.count_reconcile(e.action, e.result.as_str());
            } else {
                m.count_rule(e.action, &e.rule, e.result.as_str());
            }
        }
    }

    /// Sends the request; on failure, re-observes to tell "already done" from a real failure.
    async fn send(
        &self,
        c: &EsClient,
        action: &Action,
    ) -> Result<ActionResult, (FailureReason, EsError)> {
        let fail = |e: EsError| (classify(&e), e);
        match action {
            Action::PutRemote { settings, .. } => {
                let body = serde_json::json!({ "persistent": Value::Object(settings.clone()) });
                c.put_cluster_settings(&body).await.map_err(fail)?;
                Ok(ActionResult::Success)
            }
            Action::Follow {
                follower_index,
                remote_cluster,
                leader_index,
                settings,
                parameters,
                data_stream_name,
                ..
            } => {
                let body = Action::follow_body(
                    remote_cluster,
                    leader_index,
                    settings,
                    parameters,
                    data_stream_name.as_deref(),
                );
                match c.put_follow(follower_index, &body).await {
                    Ok(_) => Ok(ActionResult::Success),
                    Err(e) => {
                        let reason = match classify(&e) {
                            FailureReason::IndexMissing => FailureReason::LeaderMissing,
                            r => r,
                        };
                        if matches!(
                            reason,
                            FailureReason::NameConflict
                                | FailureReason::Other
                                | FailureReason::Unavailable
                        ) {
                            // Never re-sent blindly: a put follow that timed out or failed may still have started
                            // the restore (ES answers a second one with a 500 `snapshot_restore_exception`, "an
                            // open index with same name already exists"). A follower of the same leader under that
                            // name is this follower being copied, not a conflict.
                            if let Some(true) = self
                                .follows(c, follower_index, remote_cluster, leader_index)
                                .await
                            {
                                return Ok(ActionResult::AlreadyDone);
                            }
                        }
                        Err((reason, e))
                    }
                }
            }
            Action::PauseFollow { follower_index, .. } => {
                match c.pause_follow(follower_index).await {
                    Ok(_) => Ok(ActionResult::Success),
                    Err(e) => {
                        let reason = classify(&e);
                        if reason == FailureReason::WrongState
                            && self.status_of(c, follower_index).await
                                == Some(FollowerStatus::Paused)
                        {
                            return Ok(ActionResult::AlreadyDone);
                        }
                        Err((reason, e))
                    }
                }
            }
            Action::ResumeFollow {
                follower_index,
                parameters,
                ..
            } => {
                let body = (!parameters.is_empty()).then(|| Value::Object(parameters.to_json()));
                match c.resume_follow(follower_index, body.as_ref()).await {
                    Ok(_) => Ok(ActionResult::Success),
                    Err(e) => {
                        let reason = classify(&e);
                        if reason == FailureReason::AlreadyDone
                            && self.status_of(c, follower_index).await
                                == Some(FollowerStatus::Active)
                        {
                            return Ok(ActionResult::AlreadyDone);
                        }
                        Err((reason, e))
                    }
                }
            }
            Action::Unfollow { follower_index, .. } => match c.unfollow(follower_index).await {
                Ok(_) => Ok(ActionResult::Success),
                Err(e) => match classify(&e) {
                    FailureReason::NotFollower => Ok(ActionResult::AlreadyDone),
                    r => Err((r, e)),
                },
            },
            Action::CloseIndex { index, .. } => {
                c.close_index(index).await.map_err(fail)?;
                Ok(ActionResult::Success)
            }
            Action::OpenIndex { index, .. } => {
                c.open_index(index).await.map_err(fail)?;
                Ok(ActionResult::Success)
            }
            Action::ForgetFollower {
                leader_index,
                follower_cluster,
                follower_index,
                follower_index_uuid,
                leader_remote_cluster,
                ..
            } => {
                c.forget_follower(
                    leader_index,
                    follower_cluster,
                    follower_index,
                    follower_index_uuid,
                    leader_remote_cluster,
                )
                .await
                .map_err(fail)?;
                Ok(ActionResult::Success)
            }
            Action::PutAutoFollow { name, body, .. } => {
                c.put_auto_follow_pattern(name, body)
                    .await
                    .map_err(|e| match classify(&e) {
                        FailureReason::IndexMissing => (FailureReason::LeaderMissing, e),
                        r => (r, e),
                    })?;
                Ok(ActionResult::Success)
            }
            Action::DeleteAutoFollow { name, .. } => {
                match c.delete_auto_follow_pattern(name).await {
                    Ok(_) => Ok(ActionResult::Success),
                    Err(e) if e.status() == Some(404) => Ok(ActionResult::AlreadyDone),
                    Err(e) => Err(fail(e)),
                }
            }
            Action::PauseAutoFollow { name, .. } => {
                c.pause_auto_follow_pattern(name).await.map_err(fail)?;
                Ok(ActionResult::Success)
            }
            Action::ResumeAutoFollow { name, .. } => {
                c.resume_auto_follow_pattern(name).await.map_err(fail)?;
                Ok(ActionResult::Success)
            }
            Action::PromoteDataStream { data_stream, .. } => {
                // ES answers a promote of a stream that is no longer replicated with success too; a failed one
                // (a timeout) is re-read: a stream no longer replicated was promoted.
                match c.promote_data_stream(data_stream).await {
                    Ok(_) => Ok(ActionResult::Success),
                    Err(e) => {
                        let reason = classify(&e);
                        if reason == FailureReason::Unavailable
                            && self.replicated(c, data_stream).await == Some(false)
                        {
                            return Ok(ActionResult::AlreadyDone);
                        }
                        Err((reason, e))
                    }
                }
            }
            Action::RolloverDataStream { data_stream, .. } => {
                // Sent to move writes off a write index that is a follower (promotion). Never re-sent blindly:
                // one that timed out may have happened, and a second one would add one more generation. A
                // write index that is no longer a follower after a failure means it did.
                match c.rollover_data_stream(data_stream).await {
                    Ok(_) => Ok(ActionResult::Success),
                    Err(e) => {
                        let reason = classify(&e);
                        if reason == FailureReason::Unavailable
                            && self.write_index_follows(c, data_stream).await == Some(false)
                        {
                            return Ok(ActionResult::AlreadyDone);
                        }
                        Err((reason, e))
                    }
                }
            }
        }
    }

    /// Whether the write index of `data_stream` is a follower (`None`: cannot tell).
    async fn write_index_follows(&self, c: &EsClient, data_stream: &str) -> Option<bool> {
        let r = c.data_stream(data_stream).await.ok()?;
        let ds = r.data_streams.into_iter().find(|d| d.name == data_stream)?;
        let write = ds.write_index()?.to_string();
        self.status_of_checked(c, &write).await.map(|s| s.is_some())
    }

    /// The follower status of `index`: `Some(None)` when it is no follower, `None` when the cluster cannot tell.
    async fn status_of_checked(&self, c: &EsClient, index: &str) -> Option<Option<FollowerStatus>> {
        let info = c.follow_info(index).await.ok()?;
        Some(
            info.follower_indices
                .iter()
                .find(|f| f.follower_index == index)
                .map(|f| f.status),
        )
    }

    /// Whether `data_stream` is replicated (`None`: cannot tell, or a version that does not say).
    async fn replicated(&self, c: &EsClient, data_stream: &str) -> Option<bool> {
        let r = c.data_stream(data_stream).await.ok()?;
        r.data_streams
            .iter()
            .find(|d| d.name == data_stream)
            .and_then(|d| d.replicated)
    }

    /// `Some(true)` when `index` is a follower of `remote:leader`, `Some(false)` when it is not, `None` when
    /// the cluster cannot tell.
    async fn follows(&self, c: &EsClient, index: &str, remote: &str, leader: &str) -> Option<bool> {
        let info = c.follow_info(index).await.ok()?;
        Some(info.follower_indices.iter().any(|f| {
            f.follower_index == index && f.remote_cluster == remote && f.leader_index == leader
        }))
    }

    async fn status_of(&self, c: &EsClient, index: &str) -> Option<FollowerStatus> {
        let info = c.follow_info(index).await.ok()?;
        info.follower_indices
            .iter()
            .find(|f| f.follower_index == index)
            .map(|f| f.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable_client() -> EsClient {
        let cfg = crate::config::from_toml_str(
            r#"
[clusters.follower]
url = "http://127.0.0.1:9"
timeout = "1s"
"#,
        )
        .unwrap();
        EsClient::new(&cfg.clusters["follower"]).unwrap()
    }

    fn follow() -> Action {
        Action::Follow {
            cluster: "follower".into(),
            follower_index: "logs-copy".into(),
            remote_cluster: "leader".into(),
            leader_index: "logs".into(),
            settings: BTreeMap::new(),
            parameters: FollowParameters::default(),
            data_stream_name: None,
        }
    }

    #[tokio::test]
    async fn dry_run_sends_nothing_and_still_audits_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let metrics = ActionMetrics::new();
        let exec = Executor::new(Clients::from_map(BTreeMap::from([(
            "follower".to_string(),
            unreachable_client(),
        )])))
        .with_dry_run(true)
        .with_audit(Some(AuditLog::open(&path).unwrap()))
        .with_metrics(metrics.clone());
        let e = exec.execute(&follow(), RECONCILE_RULE, "missing").await;
        assert_eq!(e.result, ActionResult::DryRun);
        assert!(e.dry_run && e.error.is_none());
        let e2 = exec
            .execute(
                &Action::PauseFollow {
                    cluster: "follower".into(),
                    follower_index: "x".into(),
                },
                "stalled",
                "no read for 10m",
            )
            .await;
        assert_eq!(e2.result, ActionResult::DryRun);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["follower_index"], "logs-copy");
        assert_eq!(lines[0]["action"], "follow");
        assert_eq!(lines[0]["rule"], "reconcile");
        assert_eq!(lines[0]["result"], "dry_run");
        assert_eq!(lines[1]["rule"], "stalled");
        assert_eq!(
            metrics
                .reconcile_actions
                .with_label_values(&["follow", "dry_run"])
                .get(),
            1
        );
        assert_eq!(
            metrics
                .actions
                .with_label_values(&["pause_follow", "stalled", "dry_run"])
                .get(),
            1
        );
    }

    #[tokio::test]
    async fn a_failed_request_is_one_failed_event_with_a_reason() {
        let exec = Executor::new(Clients::from_map(BTreeMap::from([(
            "follower".to_string(),
            unreachable_client(),
        )])));
        let e = exec.execute(&follow(), RECONCILE_RULE, "missing").await;
        assert_eq!(e.result, ActionResult::Failed);
        assert_eq!(e.reason, Some(FailureReason::Unavailable));
        assert!(e.error.as_deref().unwrap_or("").contains("follower"));
        let unknown = Action::OpenIndex {
            cluster: "ghost".into(),
            index: "i".into(),
        };
        let e = exec.execute(&unknown, RECONCILE_RULE, "x").await;
        assert_eq!(e.result, ActionResult::Failed);
    }

    #[test]
    fn follow_body_holds_only_what_is_configured() {
        let params = FollowParameters {
            max_read_request_operation_count: Some(1000),
            read_poll_timeout: Some("30s".into()),
            ..Default::default()
        };
        let settings = BTreeMap::from([("index.number_of_replicas".to_string(), "0".to_string())]);
        let body = Action::follow_body("leader", "logs", &settings, &params, None);
        assert_eq!(
            body,
            serde_json::json!({"remote_cluster": "leader", "leader_index": "logs",
                "max_read_request_operation_count": 1000, "read_poll_timeout": "30s",
                "settings": {"index.number_of_replicas": "0"}})
        );
        let plain = Action::follow_body(
            "leader",
            "logs",
            &BTreeMap::new(),
            &FollowParameters::default(),
            None,
        );
        assert_eq!(
            plain,
            serde_json::json!({"remote_cluster": "leader", "leader_index": "logs"})
        );
        let backing = Action::follow_body(
            "leader",
            ".ds-logs-a-2026.12.02-000002",
            &BTreeMap::new(),
            &FollowParameters::default(),
            Some("logs-a"),
        );
        assert_eq!(
            backing,
            serde_json::json!({"remote_cluster": "leader",
                "leader_index": ".ds-logs-a-2026.12.02-000002", "data_stream_name": "logs-a"})
        );
    }

    #[test]
    fn audit_event_serializes_flat() {
        let e = AuditEvent {
            time: Utc::now(),
            cluster: "follower".into(),
            target: Target::Alias("leader".into()),
            action: "put_remote",
            rule: RECONCILE_RULE.into(),
            why: "remote missing".into(),
            result: ActionResult::Failed,
            reason: Some(FailureReason::Unauthorized),
            error: Some("403".into()),
            duration_ms: 3,
            dry_run: false,
            principal: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["alias"], "leader");
        assert_eq!(v["reason"], "unauthorized");
        assert_eq!(v["result"], "failed");
        assert!(v.get("follower_index").is_none());
    }
}
