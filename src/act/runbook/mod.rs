//! Multi-step actions: the unfollow runbook (pause if active, close, unfollow, open), promote (wait until
//! caught up, then unfollow) and the switchover of a pair of clusters ([`switchover`]).
//!
//! The unfollow runbook is level-triggered: before every step it looks at the index (exists? open? follower?
//! active or paused?) and does the first step still missing ([`plan_steps`], pure). So it never repeats a step
//! Elasticsearch would reject, and it tolerates another process (a second daemon, a person) doing any step in
//! between. Progress is recorded before each step in a small state file (`[policy] state_dir`,
//! `runbooks/<cluster>__<index>.json`) so that a restarted run still knows the leader the follower had (needed
//! for the leader-side clean-up once the index is no longer a follower), and so that a running daemon leaves
//! the follower alone meanwhile.
//!
//! An unfollow whose retention-lease removal on the leader failed (HTTP 500 `failed_to_remove_retention_leases`,
//! contract §4) has nevertheless been applied: the runbook sees the index is no longer a follower, finishes with
//! open, and then tries `forget_follower` on the leader (contract §9), reporting the result.
//!
//! Every step goes through the shared [`Executor`], so it is audited, counted and honours dry run.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::act::history::{key, write_atomic, Rule};
use crate::act::{Action, ActionResult, Executor};
use crate::config::{ClusterKey, Config};
use crate::es::FollowerStatus;
use crate::es::{EsClient, EsError};
use crate::observe::caught_up::ShardLook;

mod data_stream;
mod data_stream_plan;
mod plan;
mod rotate;
pub mod switchover;
pub mod switchover_plan;
pub use data_stream::*;
pub use plan::*;
pub use rotate::*;

/// The progress record of one runbook, kept in the state file while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookRecord {
    pub cluster: String,
    pub follower_index: String,
    pub rule: Rule,
    pub started_at: DateTime<Utc>,
    /// The follower's leader, remembered because the index forgets it at unfollow.
    #[serde(default)]
    pub remote_cluster: String,
    #[serde(default)]
    pub leader_index: String,
    /// Steps done, in order.
    #[serde(default)]
    pub done: Vec<Step>,
    /// The step being attempted (written before it is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Step>,
    /// Set when the unfollow was applied but could not remove the retention leases on the leader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_cleanup: Option<String>,
    /// The process running the runbook (its pid), written with every save; when that process is gone, the
    /// runbook has been abandoned (see [`RunbookRecord::abandoned`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_pid: Option<u32>,
    /// The last save.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Why the runbook stopped before the end (e.g. the command was interrupted by a signal), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl RunbookRecord {
    /// The runbook's process is gone and nobody is finishing it. Only knowable where `/proc` lists processes
    /// (Linux); elsewhere, and for records written without an owner, a runbook is never called abandoned.
    pub fn abandoned(&self) -> bool {
        owner_gone(self.owner_pid)
    }
}

/// Whether the process `owner_pid` names is gone, so nobody is finishing the record it wrote: what every runbook
/// record's `abandoned()` asks. Only knowable where `/proc` lists processes (Linux); elsewhere, and for records
/// written without an owner, never.
pub(crate) fn owner_gone(owner_pid: Option<u32>) -> bool {
    match owner_pid {
        Some(pid) if pid == std::process::id() => false,
        Some(pid) => {
            let proc = std::path::Path::new("/proc");
            proc.join("self").exists() && !process_alive(proc, pid)
        }
        None => false,
    }
}

/// Whether process `pid` exists (a zombie counts as gone: it finishes nothing).
fn process_alive(proc: &std::path::Path, pid: u32) -> bool {
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        // `pid (comm) state ...`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Reading or writing a runbook state file failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read runbook state {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("runbook state {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write runbook state {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A directory of JSON records, one file per (cluster, name) written atomically, or nowhere (memory only)
/// without a state directory: what the unfollow and rotate-key runbooks persist their progress in.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordDir {
    dir: Option<PathBuf>,
}

impl RecordDir {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    fn path(&self, cluster: &str, name: &str) -> Option<PathBuf> {
        // Index, alias and cluster names cannot contain `/`; `__` keeps the file name readable.
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{cluster}__{name}.json")))
    }

    pub(crate) fn load<R: serde::de::DeserializeOwned>(
        &self,
        cluster: &str,
        name: &str,
    ) -> Result<Option<R>, StoreError> {
        let Some(path) = self.path(cluster, name) else {
            return Ok(None);
        };
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| StoreError::Parse { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read { path, source }),
        }
    }

    pub(crate) fn save<R: Serialize>(
        &self,
        cluster: &str,
        name: &str,
        r: &R,
    ) -> Result<(), StoreError> {
        let Some(path) = self.path(cluster, name) else {
            return Ok(());
        };
        let bytes = serde_json::to_vec_pretty(r).map_err(|e| StoreError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&path, &bytes).map_err(|source| StoreError::Write { path, source })
    }

    /// Every record of the directory (unreadable ones are skipped with a warning).
    pub(crate) fn all<R: serde::de::DeserializeOwned>(&self) -> Vec<R> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| {
                let path = e.path();
                match std::fs::read(&path).map(|b| serde_json::from_slice::<R>(&b)) {
                    Ok(Ok(r)) => Some(r),
                    Ok(Err(err)) => {
                        tracing::warn!(path = %path.display(), error = %err, "ignoring an unreadable runbook record");
                        None
                    }
                    Err(_) => None,
                }
            })
            .collect()
    }

    pub(crate) fn remove(&self, cluster: &str, name: &str) -> Result<(), StoreError> {
        let Some(path) = self.path(cluster, name) else {
            return Ok(());
        };
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Write { path, source }),
        }
    }
}

/// Where runbook records live: `state_dir/runbooks/` (one per index) and `state_dir/runbooks/data_streams/` (one
/// per data-stream promotion), or nowhere (memory only) without a state directory.
#[derive(Debug, Clone, Default)]
pub struct RunbookStore {
    records: RecordDir,
    data_streams: RecordDir,
}

impl RunbookStore {
    /// A store under `state_dir` (or a memory-only one).
    pub fn new(state_dir: Option<&std::path::Path>) -> Self {
        Self {
            records: RecordDir::new(state_dir.map(|d| d.join("runbooks"))),
            data_streams: RecordDir::new(
                state_dir.map(|d| d.join("runbooks").join("data_streams")),
            ),
        }
    }

    /// The record of a runbook in progress, if any.
    pub fn load(&self, cluster: &str, index: &str) -> Result<Option<RunbookRecord>, StoreError> {
        self.records.load(cluster, index)
    }

    /// Writes a record (atomically), owned by this process.
    pub fn save(&self, r: &RunbookRecord) -> Result<(), StoreError> {
        let mut r = r.clone();
        r.owner_pid = Some(std::process::id());
        r.updated_at = Some(Utc::now());
        self.records.save(&r.cluster, &r.follower_index, &r)
    }

    /// Removes a finished runbook's record.
    pub fn remove(&self, cluster: &str, index: &str) -> Result<(), StoreError> {
        self.records.remove(cluster, index)
    }

    /// Every runbook in progress (unreadable records are skipped with a warning).
    pub fn records(&self) -> Vec<RunbookRecord> {
        self.records.all()
    }

    /// Keys (`cluster/index`) of every runbook in progress: each index with a runbook of its own, and every
    /// backing index of a data-stream promotion in progress.
    pub fn in_progress(&self) -> BTreeSet<ClusterKey> {
        let Some(dir) = &self.records.dir else {
            return BTreeSet::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return BTreeSet::new();
        };
        let mut keys: BTreeSet<ClusterKey> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".json")?;
                let (cluster, index) = stem.split_once("__")?;
                Some(key(cluster, index))
            })
            .collect();
        for r in self.data_stream_records() {
            keys.extend(r.backing_indices.iter().map(|i| key(&r.cluster, i)));
        }
        for r in self.switchover_records() {
            keys.extend(r.scope.followers.iter().map(|i| key(&r.to, i)));
        }
        keys
    }
}

/// One step as it happened, for printing and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub step: Step,
    /// `success`, `already_done`, `failed`, `dry_run`.
    pub result: String,
    /// What happened, in words (the error when it failed).
    pub detail: String,
}

/// How a runbook ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunbookOutcome {
    pub cluster: String,
    pub follower_index: String,
    pub steps: Vec<StepReport>,
    /// The index is a regular open index now (or, in dry run, would be).
    pub finished: bool,
    /// The leader-side clean-up, when the unfollow could not remove the retention leases itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_cleanup: Option<String>,
    /// Why it did not finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A runbook could not even start (configuration or state problems; cluster errors end up in the outcome).
#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    #[error("cluster `{0}` is not configured")]
    UnknownCluster(String),
    #[error("remote `{0}` is not configured with a leader cluster ([[remotes]] cluster/alias)")]
    UnknownRemote(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Looks at the index: `_cat/indices` (exists, open) and `_ccr/info` (follower, status, leader).
pub async fn inspect(c: &EsClient, index: &str) -> Result<IndexView, EsError> {
    let rows = c.cat_indices().await?;
    let Some(row) = rows.iter().find(|r| r.index == index) else {
        return Ok(IndexView {
            exists: false,
            open: false,
            follower: None,
        });
    };
    let open = row.status.as_deref() != Some("close");
    let info = match c.follow_info(index).await {
        Ok(i) => i,
        // Deleted between the two reads.
        Err(e) if e.status() == Some(404) => {
            return Ok(IndexView {
                exists: false,
                open: false,
                follower: None,
            })
        }
        Err(e) => return Err(e),
    };
    let follower = info
        .follower_indices
        .into_iter()
        .find(|f| f.follower_index == index)
        .map(|f| FollowerView {
            status: f.status,
            remote_cluster: f.remote_cluster,
            leader_index: f.leader_index,
        });
    Ok(IndexView {
        exists: true,
        open,
        follower,
    })
}

/// Looks at several indices in two requests (`_cat/indices`, `_ccr/info` of the list), in the order given.
pub async fn inspect_many(c: &EsClient, indices: &[String]) -> Result<Vec<IndexView>, EsError> {
    if indices.is_empty() {
        return Ok(Vec::new());
    }
    let rows = c.cat_indices().await?;
    let info = match c.follow_info(&indices.join(",")).await {
        Ok(i) => i.follower_indices,
        // One of them deleted between the two reads: look at each on its own.
        Err(e) if e.status() == Some(404) => {
            let mut out = Vec::with_capacity(indices.len());
            for i in indices {
                out.push(inspect(c, i).await?);
            }
            return Ok(out);
        }
        Err(e) => return Err(e),
    };
    Ok(indices
        .iter()
        .map(|index| match rows.iter().find(|r| &r.index == index) {
            None => IndexView {
                exists: false,
                open: false,
                follower: None,
            },
            Some(row) => IndexView {
                exists: true,
                open: row.status.as_deref() != Some("close"),
                follower: info
                    .iter()
                    .find(|f| &f.follower_index == index)
                    .map(|f| FollowerView {
                        status: f.status,
                        remote_cluster: f.remote_cluster.clone(),
                        leader_index: f.leader_index.clone(),
                    }),
            },
        })
        .collect())
}

/// Hook called after every step; `ControlFlow::Break` stops the runbook there (as a crash would: the record
/// stays, the next run rolls forward).
pub type StepHook<'a> = &'a mut (dyn FnMut(&StepReport) -> ControlFlow<()> + Send);

/// What a runbook works with: the executor (clients, dry run, audit), the configuration and the state store.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub exec: &'a Executor,
    pub cfg: &'a Config,
    pub store: &'a RunbookStore,
}

/// The most steps one run takes: the four steps, a clean-up, and a few re-looks after races.
const MAX_STEPS: usize = 10;

/// Runs the unfollow runbook on `index` of `cluster` until the index is a regular open index.
pub async fn unfollow(
    ctx: Ctx<'_>,
    cluster: &str,
    index: &str,
    rule: Rule,
    why: &str,
    hook: StepHook<'_>,
) -> Result<RunbookOutcome, RunbookError> {
    let Ctx { exec, cfg, store } = ctx;
    let client = exec
        .client(cluster)
        .ok_or_else(|| RunbookError::UnknownCluster(cluster.to_string()))?
        .clone();
    let mut out = RunbookOutcome {
        cluster: cluster.to_string(),
        follower_index: index.to_string(),
        steps: Vec::new(),
        finished: false,
        lease_cleanup: None,
        error: None,
    };
    let mut rec = store.load(cluster, index)?.unwrap_or(RunbookRecord {
        cluster: cluster.to_string(),
        follower_index: index.to_string(),
        rule,
        started_at: Utc::now(),
        remote_cluster: String::new(),
        leader_index: String::new(),
        done: Vec::new(),
        pending: None,
        lease_cleanup: None,
        owner_pid: None,
        updated_at: None,
        stopped: None,
    });
    // Taken over (from an interrupted or abandoned run): it is this run's now.
    rec.stopped = None;
    let rule_s = rec.rule.as_str();

    let view = match inspect(&client, index).await {
        Ok(v) => v,
        Err(e) => {
            out.error = Some(format!("cannot look at `{index}`: {e}"));
            return Ok(out);
        }
    };
    if let Some(f) = &view.follower {
        rec.remote_cluster = f.remote_cluster.clone();
        rec.leader_index = f.leader_index.clone();
    }

    if exec.is_dry_run() {
        // Nothing changes in dry run, so plan once from what is there and report every step.
        match plan_steps(&view) {
            Ok(steps) => {
                for (s, action) in steps
                    .into_iter()
                    .filter_map(|s| step_action(s, cluster, index).map(|a| (s, a)))
                {
                    let ev = exec.execute(&action, rule_s, why).await;
                    let r = StepReport {
                        step: s,
                        result: ev.result.as_str().into(),
                        detail: "not sent (dry run)".into(),
                    };
                    let _ = hook(&r);
                    out.steps.push(r);
                }
                out.finished = true;
            }
            Err(e) => out.error = Some(format!("`{index}` on `{cluster}`: {e}")),
        }
        return Ok(out);
    }

    let mut view = view;
    for _ in 0..MAX_STEPS {
        let steps = match plan_steps(&view) {
            Ok(s) => s,
            Err(e) => {
                if !view.exists {
                    // Deleted meanwhile: nothing left to finish, so no record should keep asking for it.
                    store.remove(cluster, index)?;
                }
                out.error = Some(format!("`{index}` on `{cluster}`: {e}"));
                return Ok(out);
            }
        };
        let Some((step, action)) = steps
            .first()
            .and_then(|&s| step_action(s, cluster, index).map(|a| (s, a)))
        else {
            break;
        };
        if view.follower.is_some() || rec.pending.is_some() || !rec.done.is_empty() {
            // Only runbooks that really started on a follower leave a record.
            rec.pending = Some(step);
            store.save(&rec)?;
        }
        let ev = exec.execute(&action, rule_s, why).await;
        let mut report = StepReport {
            step,
            result: ev.result.as_str().into(),
            detail: match ev.result {
                ActionResult::AlreadyDone => "already done by someone else".into(),
                _ => ev.error.clone().unwrap_or_else(|| "done".into()),
            },
        };
        let next = match inspect(&client, index).await {
            Ok(v) => v,
            Err(e) => {
                out.steps.push(report);
                out.error = Some(format!(
                    "cannot look at `{index}` after {}: {e}",
                    step.as_str()
                ));
                return Ok(out);
            }
        };
        if ev.result == ActionResult::Failed {
            if step == Step::Unfollow && next.exists && next.follower.is_none() {
                // Applied although the request failed: the leader-side lease removal failed (contract §4).
                let e = ev.error.clone().unwrap_or_default();
                rec.lease_cleanup = Some(e.clone());
                report.result = ActionResult::Success.as_str().into();
                report.detail = format!(
                    "applied, but the retention leases on the leader could not be removed: {e}"
                );
            } else if plan_steps(&next)
                .map(|s| s.first() != Some(&step))
                .unwrap_or(false)
            {
                // Someone else did this step meanwhile.
                report.result = ActionResult::AlreadyDone.as_str().into();
                report.detail = "done by someone else meanwhile".into();
            } else {
                rec.pending = None;
                store.save(&rec)?;
                out.error = Some(format!(
                    "step `{}` failed: {}",
                    step.as_str(),
                    ev.error.unwrap_or_default()
                ));
                out.steps.push(report.clone());
                let _ = hook(&report);
                return Ok(out);
            }
        }
        rec.pending = None;
        rec.done.push(step);
        store.save(&rec)?;
        out.steps.push(report.clone());
        view = next;
        if hook(&report).is_break() {
            let why = format!("stopped after step `{}`", step.as_str());
            rec.stopped = Some(why.clone());
            store.save(&rec)?;
            out.error = Some(why);
            return Ok(out);
        }
    }
    if !plan_steps(&view).map(|s| s.is_empty()).unwrap_or(false) {
        out.error = Some(format!(
            "`{index}` did not reach a regular open index after {MAX_STEPS} steps"
        ));
        return Ok(out);
    }

    if let Some(why_cleanup) = rec.lease_cleanup.clone() {
        let report = forget_follower(exec, cfg, &client, &rec, why_cleanup).await;
        out.lease_cleanup = Some(report.detail.clone());
        let _ = hook(&report);
        out.steps.push(report);
    }
    out.finished = true;
    store.remove(cluster, index)?;
    Ok(out)
}

/// The request of a step on the follower cluster; `None` for [`Step::ForgetFollower`], which goes to the leader
/// cluster (see `forget_follower`) and is never planned by [`plan_steps`].
fn step_action(step: Step, cluster: &str, index: &str) -> Option<Action> {
    let (cluster, follower_index) = (cluster.to_string(), index.to_string());
    Some(match step {
        Step::Pause => Action::PauseFollow {
            cluster,
            follower_index,
        },
        Step::Close => Action::CloseIndex {
            cluster,
            index: follower_index,
        },
        Step::Unfollow => Action::Unfollow {
            cluster,
            follower_index,
        },
        Step::Open => Action::OpenIndex {
            cluster,
            index: follower_index,
        },
        Step::ForgetFollower => return None,
    })
}

/// Tries `forget_follower` on the leader cluster; the report says what happened and, when it could not be
/// done, the request to send by hand.
async fn forget_follower(
    exec: &Executor,
    cfg: &Config,
    follower: &EsClient,
    rec: &RunbookRecord,
    cause: String,
) -> StepReport {
    let manual = format!(
        "POST /{}/_ccr/forget_follower on the leader cluster with follower_cluster (the follower's cluster_name), \
         follower_index `{}`, its index uuid and leader_remote_cluster `{}`",
        rec.leader_index, rec.follower_index, rec.remote_cluster
    );
    let fail = |detail: String| StepReport {
        step: Step::ForgetFollower,
        result: ActionResult::Failed.as_str().into(),
        detail: format!(
            "leader-side clean-up not done ({detail}); cause: {cause}; to finish: {manual}"
        ),
    };
    let Some(leader) = cfg.leader_cluster(&rec.cluster, &rec.remote_cluster) else {
        return fail(format!(
            "remote_cluster `{}` of `{}` is not mapped to a configured cluster",
            rec.remote_cluster, rec.cluster
        ));
    };
    let cluster_name = match follower.root_info().await {
        Ok(r) => r.cluster_name.unwrap_or_default(),
        Err(e) => return fail(format!("cannot read the follower's cluster_name: {e}")),
    };
    let uuid = match follower.index_settings(&rec.follower_index).await {
        Ok(s) => s
            .get(&rec.follower_index)
            .and_then(|s| s.get("index.uuid"))
            .unwrap_or_default(),
        Err(e) => return fail(format!("cannot read the index uuid: {e}")),
    };
    if cluster_name.is_empty() || uuid.is_empty() {
        return fail("the follower's cluster_name or index uuid is unknown".into());
    }
    let ev = exec
        .execute(
            &Action::ForgetFollower {
                cluster: leader.to_string(),
                leader_index: rec.leader_index.clone(),
                follower_cluster: cluster_name,
                follower_index: rec.follower_index.clone(),
                follower_index_uuid: uuid,
                leader_remote_cluster: rec.remote_cluster.clone(),
            },
            rec.rule.as_str(),
            "unfollow could not remove the retention leases on the leader",
        )
        .await;
    if ev.result.is_ok() {
        StepReport {
            step: Step::ForgetFollower,
            result: ev.result.as_str().into(),
            detail: format!(
                "retention leases of `{}` removed on leader `{leader}` (forget_follower)",
                rec.follower_index
            ),
        }
    } else {
        fail(ev.error.unwrap_or_default())
    }
}

/// Options of promote.
#[derive(Debug, Clone)]
pub struct PromoteOptions {
    /// Keep looking until caught up (up to `timeout`) instead of refusing at the first look that is not.
    pub wait: bool,
    /// Skip the checks.
    pub force: bool,
    pub interval: Duration,
    pub stable_polls: u32,
    pub timeout: Duration,
    /// Cancelled to stop waiting (a signal): promote then refuses without having changed anything.
    pub stop: Option<tokio_util::sync::CancellationToken>,
}

/// One look at `index` on `cluster` and its leader.
pub async fn sample(
    exec: &Executor,
    cfg: &Config,
    cluster: &str,
    index: &str,
) -> Result<CatchUpSample, String> {
    let c = exec
        .client(cluster)
        .ok_or_else(|| format!("cluster `{cluster}` is not configured"))?;
    let info = c.follow_info(index).await.map_err(|e| e.to_string())?;
    let Some(fi) = info
        .follower_indices
        .into_iter()
        .find(|f| f.follower_index == index)
    else {
        return Ok(CatchUpSample::default());
    };
    let mut s = CatchUpSample {
        status: Some(fi.status),
        remote_cluster: fi.remote_cluster.clone(),
        ..Default::default()
    };
    if fi.status == FollowerStatus::Active {
        let stats = c.ccr_stats().await.map_err(|e| e.to_string())?;
        if let Some(i) = stats.follow_stats.indices.iter().find(|i| i.index == index) {
            s.shards = ShardLook::from_stats(i);
        }
        let remotes = c.remote_info().await.map_err(|e| e.to_string())?;
        s.remote_connected = remotes.get(&fi.remote_cluster).is_some_and(|r| r.connected);
    }
    s.follower_docs = doc_count(c, index).await?;
    if let Some(lc) = cfg
        .leader_cluster(cluster, &fi.remote_cluster)
        .and_then(|l| exec.client(l))
    {
        s.leader_docs = doc_count(lc, &fi.leader_index).await?;
    }
    Ok(s)
}

async fn doc_count(c: &EsClient, index: &str) -> Result<Option<i64>, String> {
    let rows = c.cat_indices().await.map_err(|e| e.to_string())?;
    Ok(rows
        .into_iter()
        .find(|r| r.index == index)
        .and_then(|r| r.docs_count))
}

/// Promote: wait until caught up (unless `force`), then run the unfollow runbook. A refusal is an outcome
/// with `error` set and no step taken.
pub async fn promote(
    ctx: Ctx<'_>,
    cluster: &str,
    index: &str,
    opts: &PromoteOptions,
    hook: StepHook<'_>,
) -> Result<RunbookOutcome, RunbookError> {
    let Ctx { exec, cfg, store } = ctx;
    let refuse = |why: String| RunbookOutcome {
        cluster: cluster.to_string(),
        follower_index: index.to_string(),
        steps: Vec::new(),
        finished: false,
        lease_cleanup: None,
        error: Some(why),
    };
    // A runbook already under way (interrupted earlier) is finished without re-checking: the index may already
    // be closed or no longer a follower. So is an index that is no longer a follower at all (promoted before,
    // e.g. by an earlier `promote --all`): the runbook only opens it if it was left closed.
    let resuming = store.load(cluster, index)?.is_some()
        || match exec.client(cluster) {
            Some(c) => matches!(
                inspect(c, index).await,
                Ok(IndexView {
                    exists: true,
                    follower: None,
                    ..
                })
            ),
            None => false,
        };
    if !opts.force && !resuming {
        let deadline = tokio::time::Instant::now() + opts.timeout;
        let stable = opts.stable_polls.max(1) as usize;
        let mut samples: Vec<CatchUpSample> = Vec::new();
        let stopped = || {
            refuse("interrupted while checking whether it caught up; nothing was changed".into())
        };
        loop {
            if opts.stop.as_ref().is_some_and(|t| t.is_cancelled()) {
                return Ok(stopped());
            }
            match sample(exec, cfg, cluster, index).await {
                Ok(s) => samples.push(s),
                Err(e) => return Ok(refuse(format!("cannot look at `{index}`: {e}"))),
            }
            if samples.len() > stable {
                samples.remove(0);
            }
            let Err(why) = promote_ready(&samples, stable) else {
                break;
            };
            // Caught up so far, but stability needs more looks: keep looking even without --wait.
            let gathering =
                samples.len() < stable && promote_ready(&samples, samples.len()).is_ok();
            if !opts.wait && !gathering {
                return Ok(refuse(format!(
                    "not caught up: {why} (use --wait to wait for it, or --force to promote anyway)"
                )));
            }
            if tokio::time::Instant::now() + opts.interval > deadline {
                return Ok(refuse(format!(
                    "not caught up after {}: {why}",
                    humantime::format_duration(opts.timeout)
                )));
            }
            match &opts.stop {
                Some(stop) => tokio::select! {
                    _ = tokio::time::sleep(opts.interval) => {}
                    _ = stop.cancelled() => return Ok(stopped()),
                },
                None => tokio::time::sleep(opts.interval).await,
            }
        }
    }
    let why = if opts.force {
        "promote --force: unfollow without the caught-up checks".to_string()
    } else {
        format!(
            "promote: caught up (lag 0, equal document counts, leader quiet) over {} looks",
            opts.stable_polls
        )
    };
    unfollow(ctx, cluster, index, Rule::Manual, &why, hook).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(exists: bool, open: bool, status: Option<FollowerStatus>) -> IndexView {
        IndexView {
            exists,
            open,
            follower: status.map(|status| FollowerView {
                status,
                remote_cluster: "leader".into(),
                leader_index: "logs".into(),
            }),
        }
    }

    #[test]
    fn plan_steps_rolls_forward_from_every_state() {
        use FollowerStatus::*;
        use Step::*;
        type Case<'a> = (&'a str, IndexView, Result<Vec<Step>, &'a str>);
        let cases: Vec<Case> = vec![
            (
                "active follower",
                view(true, true, Some(Active)),
                Ok(vec![Pause, Close, Unfollow, Open]),
            ),
            (
                "paused follower",
                view(true, true, Some(Paused)),
                Ok(vec![Close, Unfollow, Open]),
            ),
            (
                "paused and closed",
                view(true, false, Some(Paused)),
                Ok(vec![Unfollow, Open]),
            ),
            (
                "active and closed",
                view(true, false, Some(Active)),
                Ok(vec![Pause, Unfollow, Open]),
            ),
            (
                "unfollowed, still closed",
                view(true, false, None),
                Ok(vec![Open]),
            ),
            (
                "regular open index: done",
                view(true, true, None),
                Ok(vec![]),
            ),
            ("missing", view(false, false, None), Err("does not exist")),
            (
                "unknown status",
                view(true, true, Some(Unknown)),
                Err("neither active nor paused"),
            ),
        ];
        for (name, v, want) in cases {
            match (plan_steps(&v), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{name}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{name}: {got}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    fn shard(leader_gcp: i64, leader_max_seq_no: i64, follower_gcp: i64) -> ShardLook {
        ShardLook {
            leader_global_checkpoint: leader_gcp,
            leader_max_seq_no: Some(leader_max_seq_no),
            follower_global_checkpoint: follower_gcp,
            ..Default::default()
        }
    }

    fn s(leader_gcp: i64, follower_gcp: i64, docs: (i64, i64)) -> CatchUpSample {
        CatchUpSample {
            status: Some(FollowerStatus::Active),
            remote_cluster: "leader".into(),
            remote_connected: true,
            shards: vec![shard(leader_gcp, leader_gcp, follower_gcp)],
            leader_docs: Some(docs.0),
            follower_docs: Some(docs.1),
        }
    }

    #[test]
    fn promote_ready_table() {
        let ok = s(9, 9, (10, 10));
        let cases: Vec<(&str, Vec<CatchUpSample>, Result<(), &str>)> = vec![
            (
                "three quiet caught-up looks",
                vec![ok.clone(), ok.clone(), ok.clone()],
                Ok(()),
            ),
            (
                "too few looks",
                vec![ok.clone(), ok.clone()],
                Err("2 of 3 looks"),
            ),
            (
                "lagging",
                vec![ok.clone(), ok.clone(), s(12, 9, (13, 10))],
                Err("3 operations behind"),
            ),
            (
                "doc counts differ",
                vec![ok.clone(), ok.clone(), s(9, 9, (10, 8))],
                Err("difference 2"),
            ),
            (
                "leader still written",
                vec![ok.clone(), s(10, 10, (11, 11)), s(11, 11, (12, 12))],
                Err("still receiving writes"),
            ),
            (
                "an old bad look is forgotten",
                vec![s(5, 1, (6, 2)), ok.clone(), ok.clone(), ok.clone()],
                Ok(()),
            ),
            (
                "paused",
                vec![CatchUpSample {
                    status: Some(FollowerStatus::Paused),
                    ..Default::default()
                }],
                Err("paused"),
            ),
            (
                "not a follower",
                vec![CatchUpSample::default()],
                Err("not an active follower"),
            ),
            (
                "fatal",
                vec![CatchUpSample {
                    shards: vec![ShardLook {
                        fatal_exception: Some("boom".into()),
                        ..shard(9, 9, 9)
                    }],
                    ..ok.clone()
                }],
                Err("fatal exception: boom"),
            ),
            (
                "remote disconnected: the leader checkpoints may be stale",
                vec![
                    ok.clone(),
                    ok.clone(),
                    CatchUpSample {
                        remote_connected: false,
                        ..ok.clone()
                    },
                ],
                Err("remote_cluster `leader` is not connected"),
            ),
            (
                "a pending read exception",
                vec![CatchUpSample {
                    shards: vec![ShardLook {
                        read_exceptions: 1,
                        ..shard(9, 9, 9)
                    }],
                    ..ok.clone()
                }],
                Err("pending read exceptions"),
            ),
            (
                "in-flight operations above the checkpoint",
                vec![CatchUpSample {
                    shards: vec![shard(9, 11, 9)],
                    ..ok.clone()
                }],
                Err("above its global checkpoint"),
            ),
        ];
        for (name, samples, want) in cases {
            match (promote_ready(&samples, 3), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(want)) => assert!(got.contains(want), "{name}: {got}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn store_round_trip_and_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunbookStore::new(Some(dir.path()));
        let rec = RunbookRecord {
            cluster: "follower".into(),
            follower_index: "logs-copy".into(),
            rule: Rule::Manual,
            started_at: Utc::now(),
            remote_cluster: "leader".into(),
            leader_index: "logs".into(),
            done: vec![Step::Pause],
            pending: Some(Step::Close),
            lease_cleanup: None,
            owner_pid: None,
            updated_at: None,
            stopped: None,
        };
        assert_eq!(store.load("follower", "logs-copy").unwrap(), None);
        store.save(&rec).unwrap();
        let loaded = store.load("follower", "logs-copy").unwrap().unwrap();
        assert_eq!(loaded.owner_pid, Some(std::process::id()));
        assert!(!loaded.abandoned(), "this process owns it");
        assert_eq!(
            RunbookRecord {
                owner_pid: None,
                updated_at: None,
                ..loaded
            },
            rec
        );
        assert_eq!(
            store.in_progress(),
            BTreeSet::from([key("follower", "logs-copy")])
        );
        store.remove("follower", "logs-copy").unwrap();
        assert!(store.in_progress().is_empty());
        // Memory-only store: nothing persists, nothing fails.
        let mem = RunbookStore::new(None);
        assert!(mem.in_progress().is_empty());
    }

    #[test]
    fn a_data_stream_promotion_in_progress_holds_every_backing_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = RunbookStore::new(Some(dir.path()));
        let rec = DataStreamRecord {
            cluster: "follower".into(),
            data_stream: "logs-app".into(),
            rule: Rule::Manual,
            started_at: Utc::now(),
            backing_indices: vec![".ds-logs-app-1".into(), ".ds-logs-app-2".into()],
            done: vec![DsStep::Promote],
            pending: Some(DsStep::Rollover),
            owner_pid: None,
            updated_at: None,
            stopped: None,
        };
        store.save_data_stream(&rec).unwrap();
        let loaded = store
            .load_data_stream("follower", "logs-app")
            .unwrap()
            .unwrap();
        assert_eq!(loaded.pending, Some(DsStep::Rollover));
        assert_eq!(loaded.owner_pid, Some(std::process::id()));
        assert_eq!(
            store.in_progress(),
            BTreeSet::from([
                key("follower", ".ds-logs-app-1"),
                key("follower", ".ds-logs-app-2")
            ])
        );
        // Index records and stream records live apart: neither reads the other's as its own.
        assert!(store.records().is_empty());
        assert_eq!(store.data_stream_records().len(), 1);
        store.remove_data_stream("follower", "logs-app").unwrap();
        assert!(store.in_progress().is_empty());
    }

    #[test]
    fn a_record_whose_process_is_gone_is_abandoned() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let rec = |owner| RunbookRecord {
            cluster: "follower".into(),
            follower_index: "logs-copy".into(),
            rule: Rule::Manual,
            started_at: Utc::now(),
            remote_cluster: String::new(),
            leader_index: String::new(),
            done: vec![Step::Pause],
            pending: None,
            lease_cleanup: None,
            owner_pid: owner,
            updated_at: None,
            stopped: None,
        };
        assert!(rec(Some(pid)).abandoned());
        assert!(!rec(Some(std::process::id())).abandoned());
        assert!(!rec(None).abandoned(), "no owner recorded: cannot tell");
    }
}
