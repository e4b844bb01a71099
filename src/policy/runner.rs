//! Runs the policies in the daemon: after every poll, [`crate::policy::evaluate`] on the fresh report, the
//! planned actions through the shared [`Executor`] (audited, counted, dry run honoured), results folded back
//! into the [`History`], which is kept in `[policy] state_dir` when configured.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Value};

use crate::act::history::{ActionRecord, History, PausedByUs, SharedHistory};
use crate::act::runbook::{self, RunbookStore};
use crate::act::{Action, ActionResult, Executor};
use crate::config::{ClusterKey, Config};
use crate::evaluate::report::Report;
use crate::policy::{evaluate, record, ActionKind, InProgress, Outcome, Planned};

/// The policy engine of a running daemon.
pub struct PolicyRunner {
    cfg: Arc<Config>,
    exec: Executor,
    history: SharedHistory,
    store: RunbookStore,
    /// Serialises evaluations (a slow runbook must not overlap the next poll's evaluation).
    running: tokio::sync::Mutex<()>,
    /// Runbooks whose process is gone, as of the last evaluation.
    abandoned: std::sync::Mutex<Vec<runbook::RunbookRecord>>,
    /// The actions the last evaluation held back, with why (`/status` `policy.deferred`).
    deferred: std::sync::Mutex<Vec<(Planned, String)>>,
}

impl std::fmt::Debug for PolicyRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyRunner")
            .field("exec", &self.exec)
            .finish_non_exhaustive()
    }
}

impl PolicyRunner {
    /// Acts through `exec`, the process's shared executor (its clients, audit file and counters), in dry run
    /// when `[policy] dry_run` is set.
    pub fn new(cfg: Arc<Config>, exec: Executor) -> anyhow::Result<Self> {
        let exec = exec.with_dry_run(cfg.policy.dry_run);
        let history = match &cfg.policy.state_dir {
            Some(dir) => match History::load(dir) {
                Ok(h) => h,
                // A damaged state file must not keep the daemon from starting: keep it aside for a person and
                // start afresh (what the policies paused is then re-learned as "paused by someone else").
                Err(e @ crate::act::history::HistoryError::Parse { .. }) => {
                    let path = History::path(dir);
                    let aside =
                        path.with_extension(format!("json.damaged-{}", Utc::now().timestamp()));
                    let moved = std::fs::rename(&path, &aside).is_ok();
                    tracing::error!(error = %e, kept_as = %aside.display(), moved, "starting with an empty policy history");
                    History::default()
                }
                Err(e) => return Err(e.into()),
            },
            None => History::default(),
        };
        Ok(Self {
            store: RunbookStore::new(cfg.policy.state_dir.as_deref()),
            history: SharedHistory::new(history, cfg.policy.state_dir.clone()),
            cfg,
            exec,
            running: tokio::sync::Mutex::new(()),
            abandoned: Default::default(),
            deferred: Default::default(),
        })
    }

    /// Takes over `old`'s history when neither keeps one in a state directory (with one, the file is the
    /// history and was loaded already), so a configuration reload does not forget back-offs and pauses.
    pub fn inherit(&mut self, old: &PolicyRunner) {
        if self.cfg.policy.state_dir.is_none() && old.cfg.policy.state_dir.is_none() {
            self.history = old.history.clone();
        }
    }

    #[cfg(test)]
    fn history(&self) -> History {
        self.history.snapshot()
    }

    /// The history this engine keeps, to share with reconcile (which records its own pauses there).
    pub fn history_handle(&self) -> SharedHistory {
        self.history.clone()
    }

    /// Auto-follow patterns (cluster, name) a maintenance window paused and has not resumed yet.
    pub fn window_paused_patterns(&self) -> BTreeSet<ClusterKey> {
        self.history.read(|h| {
            self.cfg
                .auto_follow
                .iter()
                .filter(|p| {
                    h.paused_patterns
                        .get(&crate::act::history::key(&p.cluster, &p.name))
                        .is_some_and(|by| by.rule == crate::act::history::Rule::Window)
                })
                .map(|p| ClusterKey::new(&p.cluster, &p.name))
                .collect()
        })
    }

    /// One evaluation on `report`, executing what it plans. Returns the number of actions taken.
    pub async fn run_once(&self, report: &Report) -> usize {
        let _guard = self.running.lock().await;
        // The state directory is the shared truth (the CLI's pause/resume write it too).
        let base = self.history.current();
        let records = self.store.records();
        self.note_abandoned(&records);
        let mut runbooks: Vec<InProgress> = records
            .into_iter()
            .map(|r| InProgress {
                cluster: r.cluster,
                follower_index: r.follower_index,
                rule: r.rule,
            })
            .collect();
        // A switchover in progress owns the followers it moves (a person runs it, and re-runs it).
        for s in self.store.switchover_records() {
            runbooks.extend(s.scope.followers.iter().map(|f| InProgress {
                cluster: s.to.clone(),
                follower_index: f.clone(),
                rule: crate::act::history::Rule::Manual,
            }));
        }
        // Of the history before the evaluation, only its pauses are compared with the latest one below.
        let paused_before: BTreeMap<ClusterKey, PausedByUs> = base
            .followers
            .iter()
            .filter_map(|(k, f)| Some((k.clone(), f.paused_by_us.clone()?)))
            .collect();
        let now = Utc::now();
        let ev = evaluate(&self.cfg, report, base, &runbooks, now);
        for a in &ev.alerts {
            tracing::warn!(follower_cluster = %a.cluster, follower_index = %a.target, rule = %a.rule, "{}", a.message);
        }
        let before =
            std::mem::replace(&mut *crate::sync::lock(&self.deferred), ev.deferred.clone());
        for (p, why) in &ev.deferred {
            // Back-off holds repeat every poll; only the rate limit is worth an info line, and a refusal for
            // the credential a warning when it starts.
            let new = !before.iter().any(|(b, _)| b == p);
            if why.contains("credential_expiry_margin") && new {
                tracing::warn!(cluster = %p.cluster, target = %p.target, action = %p.action, rule = %p.rule, "not sent: {why}");
            } else if why.starts_with("rate limit") {
                tracing::info!(cluster = %p.cluster, target = %p.target, action = %p.action, rule = %p.rule, "held back: {why}");
            } else {
                tracing::debug!(cluster = %p.cluster, target = %p.target, action = %p.action, rule = %p.rule, "held back: {why}");
            }
        }
        let mut h = ev.history;
        for p in &ev.actions {
            let outcome = self.execute(p).await;
            record(&mut h, &self.cfg.policy, p, &outcome, Utc::now());
        }
        // Most polls change nothing: the state file is written only when something did.
        self.history.update(|cur| {
            // Pauses others noted while this evaluation ran (reconcile, the CLI) win over its older copy.
            for (k, f) in &cur.followers {
                let was = paused_before.get(k);
                if f.paused_by_us.as_ref() != was {
                    h.followers.entry(k.clone()).or_default().paused_by_us = f.paused_by_us.clone();
                }
            }
            *cur = h;
        });
        ev.actions.len()
    }

    /// Logs each runbook newly found abandoned (its process gone, e.g. an interrupted `unfollow` command) and
    /// remembers the list for `/status` and the metric. One the policies started is rolled forward by the next
    /// evaluation; one a person started (`manual`) is left for them to re-run, as every runbook in progress.
    fn note_abandoned(&self, records: &[runbook::RunbookRecord]) {
        let now: Vec<runbook::RunbookRecord> =
            records.iter().filter(|r| r.abandoned()).cloned().collect();
        let mut known = crate::sync::lock(&self.abandoned);
        for r in &now {
            let seen = known
                .iter()
                .any(|k| k.cluster == r.cluster && k.follower_index == r.follower_index);
            if seen {
                continue;
            }
            let done: Vec<&str> = r.done.iter().map(|s| s.as_str()).collect();
            let next = if matches!(r.rule, crate::act::history::Rule::Manual) {
                "run the same command again to finish it"
            } else {
                "the policies finish it"
            };
            tracing::warn!(
                follower_cluster = %r.cluster,
                follower_index = %r.follower_index,
                rule = %r.rule,
                done = ?done,
                pending = ?r.pending.map(|s| s.as_str()),
                stopped = r.stopped.as_deref().unwrap_or("its process is gone"),
                owner_pid = r.owner_pid,
                "unfollow runbook abandoned: {next}"
            );
        }
        *known = now;
    }

    /// Runbooks whose process is gone, as of the last evaluation.
    pub fn abandoned_runbooks(&self) -> Vec<runbook::RunbookRecord> {
        crate::sync::lock(&self.abandoned).clone()
    }

    async fn execute(&self, p: &Planned) -> Outcome {
        let rule = p.rule.as_str();
        let (cluster, target) = (p.cluster.clone(), p.target.clone());
        let resume = || Action::ResumeFollow {
            cluster: cluster.clone(),
            follower_index: target.clone(),
            parameters: self
                .cfg
                .follower(&cluster, &target)
                .map(|f| f.parameters.clone())
                .unwrap_or_default(),
        };
        let pause = || Action::PauseFollow {
            cluster: cluster.clone(),
            follower_index: target.clone(),
        };
        let single = |a: Action| async move {
            let ev = self.exec.execute(&a, rule, &p.reason).await;
            outcome(&ev.result, || ev.error.clone())
        };
        match p.action {
            ActionKind::Pause => single(pause()).await,
            ActionKind::Resume => single(resume()).await,
            ActionKind::PauseResume => {
                // Another daemon (or a person) may have recovered it since the poll: look again first, so two
                // daemons watching the same follower do not pause it twice.
                if let Some(false) = self.still_failed(&cluster, &target).await {
                    tracing::info!(follower_cluster = %cluster, follower_index = %target,
                        "no fatal exception any more (recovered meanwhile); nothing to do");
                    return Outcome::success();
                }
                let ev = self.exec.execute(&pause(), rule, &p.reason).await;
                match ev.result {
                    // The pause can lose a race with another daemon that paused and resumed the follower
                    // between our look and our request ("no shard follow tasks"): that is its recovery, not
                    // our failure.
                    ActionResult::Failed
                        if self.still_failed(&cluster, &target).await == Some(false) =>
                    {
                        tracing::info!(follower_cluster = %cluster, follower_index = %target,
                            "pause refused but the fatal exception is gone (recovered by someone else)");
                        Outcome::success()
                    }
                    ActionResult::Failed => Outcome::failure(ev.error.unwrap_or_default()),
                    _ => {
                        let ev = self.exec.execute(&resume(), rule, &p.reason).await;
                        match outcome(&ev.result, || ev.error.clone()) {
                            o if o.result == ActionResult::Failed => {
                                Outcome::paused_only(o.error.unwrap_or_default())
                            }
                            o => o,
                        }
                    }
                }
            }
            ActionKind::PauseAutoFollow => {
                single(Action::PauseAutoFollow {
                    cluster: cluster.clone(),
                    name: target.clone(),
                })
                .await
            }
            ActionKind::ResumeAutoFollow => {
                single(Action::ResumeAutoFollow {
                    cluster: cluster.clone(),
                    name: target.clone(),
                })
                .await
            }
            ActionKind::Unfollow => {
                let mut hook = |_: &runbook::StepReport| ControlFlow::Continue(());
                let ctx = runbook::Ctx {
                    exec: &self.exec,
                    cfg: &self.cfg,
                    store: &self.store,
                };
                match runbook::unfollow(ctx, &cluster, &target, p.rule, &p.reason, &mut hook).await
                {
                    Ok(o) if o.finished && self.exec.is_dry_run() => Outcome::dry_run(),
                    Ok(o) if o.finished => {
                        if let Some(c) = &o.lease_cleanup {
                            tracing::warn!(follower_cluster = %cluster, follower_index = %target, "unfollow: {c}");
                        }
                        Outcome::success()
                    }
                    Ok(o) => Outcome::failure(o.error.unwrap_or_else(|| "not finished".into())),
                    Err(e) => Outcome::failure(e.to_string()),
                }
            }
        }
    }

    /// `Some(true)` when a shard of the follower still has a fatal exception, `None` when the cluster cannot tell.
    async fn still_failed(&self, cluster: &str, index: &str) -> Option<bool> {
        let stats = self.exec.client(cluster)?.ccr_stats().await.ok()?;
        Some(
            stats.follow_stats.indices.iter().any(|i| {
                i.index == index && i.shards.iter().any(|sh| sh.fatal_exception.is_some())
            }),
        )
    }

    /// The `policy` section of `/status`: settings that matter when reading it, followers paused by
    /// ccr-sentinel, runbooks in progress, and the last actions per follower.
    pub fn status(&self) -> Value {
        // Read in place: most followers have neither a pause nor an action to show.
        let (paused, patterns, last) = self.history.read(|h| {
            let mut last: BTreeMap<&ClusterKey, Vec<&ActionRecord>> = BTreeMap::new();
            let mut paused = BTreeMap::new();
            for (k, f) in &h.followers {
                if !f.last_actions.is_empty() {
                    last.insert(k, f.last_actions.iter().rev().collect());
                }
                if let Some(p) = &f.paused_by_us {
                    paused.insert(k, p);
                }
            }
            (json!(paused), json!(h.paused_patterns), json!(last))
        });
        json!({
            "dry_run": self.cfg.policy.dry_run,
            "paused_by_ccr_sentinel": paused,
            "paused_auto_follow_patterns": patterns,
            "runbooks_in_progress": self.store.in_progress(),
            "runbooks_abandoned": self.abandoned_runbooks(),
            "last_actions": last,
            "started_as": self.exec.started_as(),
            "deferred": crate::sync::lock(&self.deferred)
                .iter()
                .map(|(p, why)| json!({"cluster": p.cluster, "target": p.target, "action": p.action,
                    "rule": p.rule, "why": why}))
                .collect::<Vec<_>>(),
        })
    }
}

/// The outcome of one executed action; work already done by someone else is a success.
fn outcome(r: &ActionResult, error: impl FnOnce() -> Option<String>) -> Outcome {
    match r {
        ActionResult::Success | ActionResult::AlreadyDone => Outcome::success(),
        ActionResult::DryRun => Outcome::dry_run(),
        ActionResult::Failed => Outcome::failure(error().unwrap_or_else(|| "failed".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_history_file_is_kept_aside_and_the_daemon_starts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("history.json"), b"{half a fi").unwrap();
        let cfg = Arc::new(
            crate::config::from_toml_str(&format!(
                "[clusters.a]\nurl = \"http://127.0.0.1:1\"\n[policy]\nstate_dir = \"{}\"\n",
                dir.path().display()
            ))
            .unwrap(),
        );
        let clients = crate::es::Clients::from_config(&cfg).unwrap();
        let runner = PolicyRunner::new(cfg, Executor::new(clients)).unwrap();
        assert_eq!(runner.history(), History::default());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.contains(&"history.json".to_string()), "{names:?}");
        assert!(
            names.iter().any(|n| n.starts_with("history.json.damaged-")),
            "{names:?}"
        );
    }
}
