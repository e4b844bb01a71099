//! The composition root of `ccr-sentinel run` (and `demo`): [`build`] creates, once per process, the client
//! registry, the metrics, the observer, the executors, the reconciler, the policy engine, the start-up preflight
//! and every job; [`Daemon::run`] then serves HTTP, talks to systemd, schedules the jobs and shuts down.
//!
//! The stages below never name this module: they get what they need (clients, executor, metrics) as
//! arguments, and the jobs carry their results back into the shared state.

pub mod http;
mod jobs;
pub mod schedule;
pub mod systemd;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::act::{AuditLog, Executor};
use crate::config::{ClusterKey, Config};
use crate::daemon::http::{router, HttpState, StatusSections};
use crate::daemon::schedule::{JobOutcome, JobSpec, JobTracker, Runner, Scheduler};
use crate::es::{Clients, EsError};
use crate::evaluate::health::FollowerState;
use crate::evaluate::report::Report;
use crate::metrics::{Metrics, RequestFailed, SharedReport};
use crate::observe::{Observer, Snapshot};
use crate::policy::runner::PolicyRunner;
use crate::reconcile::Reconciler;
use crate::sync::{lock, read, write};

/// How long shutdown waits for running jobs and open HTTP connections, each.
const DRAIN_DEADLINE: Duration = Duration::from_secs(3);

/// What [`build_with`] wires besides polling: the stages that act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stages {
    /// The policy engine, evaluated after every poll.
    pub policy: bool,
    /// The start-up preflight and, unless `[reconcile] enabled = false`, the `reconcile` job.
    pub reconcile: bool,
}

impl Stages {
    /// Everything: what `run` and `demo` start.
    pub const ALL: Self = Self {
        policy: true,
        reconcile: true,
    };
}

/// The daemon of `ccr-sentinel run`, with every stage: see [`build_with`].
pub fn build(cfg: Config) -> anyhow::Result<Daemon> {
    build_with(cfg, Stages::ALL)
}

/// Builds the daemon with `stages`; contacts no cluster. With `stages.reconcile`, starts the start-up preflight
/// in the background, so it must be called inside a Tokio runtime.
///
/// Everything is built once and shared: one [`Clients`] registry (so one connection pool per cluster), one
/// [`Metrics`] registry, one audit file handle and one set of action counters for the reconcile and policy
/// executors.
pub fn build_with(cfg: Config, stages: Stages) -> anyhow::Result<Daemon> {
    let cfg = Arc::new(cfg);
    let clients = Clients::from_config(&cfg)?;
    let mut d = Daemon::core(cfg.clone(), clients.clone());
    let exec = if stages.policy || stages.reconcile {
        Some(
            Executor::new(clients.clone())
                .with_audit(AuditLog::from_config(&cfg)?)
                .with_metrics(d.metrics.actions.clone()),
        )
    } else {
        None
    };
    if let (true, Some(exec)) = (stages.policy, &exec) {
        d.policy = Some(Arc::new(PolicyRunner::new(cfg.clone(), exec.clone())?));
    }
    d.add_polling_jobs();
    let Some(exec) = exec.filter(|_| stages.reconcile) else {
        return Ok(d);
    };

    let (sections, gauge) = (
        d.status_sections.clone(),
        d.metrics.reconcile.preflight_problems.clone(),
    );
    tokio::spawn(async move {
        let report = crate::preflight::at_startup(cfg, clients, gauge).await;
        match serde_json::to_value(&report) {
            Ok(v) => set_section(&sections, "preflight", v),
            Err(e) => tracing::warn!(error = %e, "cannot render the preflight report"),
        }
    });

    if !d.cfg.reconcile.enabled {
        tracing::info!("reconcile is disabled ([reconcile] enabled = false)");
        return Ok(d);
    }
    let mut reconciler = Reconciler::new(d.cfg.clone(), exec.with_dry_run(d.cfg.reconcile.dry_run))
        .with_metrics(d.metrics.reconcile.clone())
        .with_request_errors(d.metrics.own.clone());
    // Reconcile sees the auto-follow patterns the policies' maintenance windows hold paused, and leaves them.
    // Its pauses go into the same persisted history as the policies', so a restarted daemon still knows them.
    if let Some(policy) = d.policy.clone() {
        reconciler = reconciler.with_history(policy.history_handle());
        reconciler =
            reconciler.with_held_patterns(Arc::new(move || policy.window_paused_patterns()));
    }
    let job = jobs::reconcile(&d, reconciler);
    d.add_startup_job(job);
    Ok(d)
}

/// The daemon's shared state. Cheap to clone (everything is behind `Arc`).
#[derive(Clone)]
pub struct Daemon {
    pub(crate) cfg: Arc<Config>,
    pub(crate) observer: Observer,
    pub(crate) snapshot: Arc<Mutex<Snapshot>>,
    pub(crate) report: SharedReport,
    pub(crate) metrics: Metrics,
    pub(crate) tracker: Arc<JobTracker>,
    pub(crate) runner: Runner,
    pub(crate) cancel: CancellationToken,
    pub(crate) ready: Arc<AtomicBool>,
    /// Extra `/status` sections (`reconcile`, `preflight`, `policy`).
    pub(crate) status_sections: StatusSections,
    /// The policy engine; `None` in a daemon that only polls (`status`).
    pub(crate) policy: Option<Arc<PolicyRunner>>,
    /// Every job, `poll` and `doc_counts` first.
    jobs: Vec<JobSpec>,
    /// Jobs also run once right after start-up (after READY).
    startup_jobs: Vec<&'static str>,
}

impl Daemon {
    /// A daemon that only polls and never acts (`status`): the clients, the shared state and the `poll` and
    /// `doc_counts` jobs; contacts no cluster.
    pub fn new(cfg: Config) -> Result<Self, EsError> {
        let cfg = Arc::new(cfg);
        let clients = Clients::from_config(&cfg)?;
        let mut d = Self::core(cfg, clients);
        d.add_polling_jobs();
        Ok(d)
    }

    /// The shared state, without jobs.
    fn core(cfg: Arc<Config>, clients: Clients) -> Self {
        let observer = Observer::new(cfg.clone(), clients);
        let report = SharedReport::default();
        let metrics = Metrics::new(report.clone());
        let tracker = Arc::new(JobTracker::default());
        let cancel = CancellationToken::new();
        let runner = Runner::new(tracker.clone(), metrics.own.clone(), cancel.clone());
        Self {
            cfg,
            observer,
            snapshot: Default::default(),
            report,
            metrics,
            tracker,
            runner,
            cancel,
            ready: Default::default(),
            status_sections: Default::default(),
            policy: None,
            jobs: Vec::new(),
            startup_jobs: Vec::new(),
        }
    }

    /// Adds `poll` and `doc_counts`; after the policy engine is set, since `poll` evaluates it.
    fn add_polling_jobs(&mut self) {
        let (poll, doc_counts) = (jobs::poll(self), jobs::doc_counts(self));
        self.jobs.push(poll);
        self.jobs.push(doc_counts);
    }

    /// Adds a job to be scheduled by [`Daemon::run`].
    pub fn add_job(&mut self, job: JobSpec) {
        self.jobs.push(job);
    }

    /// Adds a job that also runs once right after start-up (after the first poll and READY), e.g. `reconcile`.
    pub fn add_startup_job(&mut self, job: JobSpec) {
        self.startup_jobs.push(job.name);
        self.jobs.push(job);
    }

    /// The validated configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// The registry behind `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Cancelled when the daemon shuts down.
    pub fn cancellation(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Sets (or replaces) a top-level `/status` section.
    pub fn set_status_section(&self, name: &str, value: serde_json::Value) {
        set_section(&self.status_sections, name, value);
    }

    /// The latest report.
    pub fn report(&self) -> Arc<Report> {
        Arc::clone(&read(&self.report))
    }

    /// A copy of the latest snapshot.
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.snapshot).clone()
    }

    fn update(&self, apply: impl FnOnce(&mut Snapshot)) {
        let new = {
            let mut snap = lock(&self.snapshot);
            apply(&mut snap);
            Arc::new(Report::build(&self.cfg, &snap, Utc::now()))
        };
        let old = self.report();
        log_transitions(&old, &new);
        if old.summary() != new.summary() {
            crate::daemon::systemd::status(&new.summary());
        }
        *write(&self.report) = new;
    }

    /// Counts and logs a failed request; the log is at `warn` only when the error is new for its cluster and
    /// endpoint (a cluster that stays down logs once, then at `debug`, instead of every poll).
    fn record_error(&self, cluster: &str, error: &EsError) {
        let message = error.to_string();
        let repeated = error.endpoint().is_some_and(|endpoint| {
            lock(&self.snapshot)
                .clusters
                .get(cluster)
                .and_then(|c| c.errors.get(&endpoint))
                .is_some_and(|prev| *prev == message)
        });
        RequestFailed {
            cluster,
            error,
            stage: None,
            repeated,
        }
        .emit(&self.metrics.own);
    }

    /// One `poll`: CCR stats, follower info and remote info of every follower cluster.
    pub async fn poll_once(&self) -> JobOutcome {
        let results = self.observer.poll().await;
        let mut ok = true;
        for r in &results {
            for e in r.errors() {
                ok = false;
                self.record_error(&r.cluster, e);
            }
        }
        self.update(|snap| {
            for r in results {
                snap.apply_poll(r);
            }
        });
        if ok {
            JobOutcome::Success
        } else {
            JobOutcome::Partial
        }
    }

    /// One `doc_counts` run: leader and follower document counts and their parity.
    pub async fn doc_counts_once(&self) -> JobOutcome {
        let result = self.observer.doc_counts().await;
        let mut ok = true;
        for (cluster, e) in result.errors() {
            ok = false;
            self.record_error(cluster, e);
        }
        let cfg = self.cfg.clone();
        self.update(|snap| snap.apply_doc_counts(&cfg, result));
        if ok {
            JobOutcome::Success
        } else {
            JobOutcome::Partial
        }
    }

    /// What the HTTP handlers need.
    pub fn http_state(&self) -> HttpState {
        HttpState {
            report: self.report.clone(),
            metrics: self.metrics.clone(),
            tracker: self.tracker.clone(),
            ready: self.ready.clone(),
            overdue_periods: self.cfg.health.job_overdue_periods,
            sections: self.status_sections.clone(),
        }
    }

    /// Binds `[http] listen`.
    pub async fn bind(&self) -> anyhow::Result<TcpListener> {
        let addr = self.cfg.http.listen;
        TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))
    }

    /// Runs until `shutdown` completes: serves HTTP on `listener`, polls once, reports ready, then runs the
    /// jobs on their schedules. Stops within a few seconds of `shutdown`.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let addr: SocketAddr = listener.local_addr().context("listener address")?;
        let app = router(self.http_state());
        let server_cancel = self.cancel.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(server_cancel.cancelled_owned())
                .await
        });
        tracing::info!(%addr, "serving /metrics, /health, /ready, /status");

        let jobs = self.jobs.clone();
        for j in &jobs {
            self.tracker.register(j.name, &j.schedule);
        }

        tokio::pin!(shutdown);
        // The first poll before READY=1, so systemd (and /ready) see a daemon that has looked at its clusters.
        let first = async {
            self.runner.run_once(&jobs[0]).await;
            self.runner.run_once(&jobs[1]).await;
        };
        tokio::select! {
            _ = first => {}
            _ = &mut shutdown => {
                return self.stop(None, server).await;
            }
        }
        self.ready.store(true, Ordering::Release);
        let summary = self.report().summary();
        tracing::info!(%summary, "first poll finished; ready");
        crate::daemon::systemd::ready(&summary);

        let scheduler = Scheduler::start(&self.runner, &jobs).await?;
        for job in jobs.iter().filter(|j| self.startup_jobs.contains(&j.name)) {
            let (runner, job) = (self.runner.clone(), job.clone());
            tokio::spawn(async move {
                runner.run_once(&job).await;
            });
        }
        if let Some(interval) = crate::daemon::systemd::watchdog_interval() {
            tracing::info!(?interval, "systemd watchdog enabled");
            tokio::spawn(crate::daemon::systemd::watchdog(
                interval,
                self.tracker.clone(),
                self.cfg.health.job_overdue_periods,
                self.cancel.clone(),
            ));
        }
        shutdown.await;
        self.stop(Some(scheduler), server).await
    }

    async fn stop(
        &self,
        scheduler: Option<Scheduler>,
        server: tokio::task::JoinHandle<std::io::Result<()>>,
    ) -> anyhow::Result<()> {
        tracing::info!("shutting down");
        crate::daemon::systemd::stopping();
        self.cancel.cancel();
        if let Some(s) = scheduler {
            s.shutdown().await;
        }
        // Jobs and HTTP connections drain at the same time, so stopping takes at most one deadline.
        let (idle, served) = tokio::join!(
            self.runner.wait_idle(DRAIN_DEADLINE),
            tokio::time::timeout(DRAIN_DEADLINE, server)
        );
        if !idle {
            tracing::warn!("a job was still running at shutdown; abandoning it");
        }
        match served {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server error at shutdown"),
            Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server task failed"),
            // Idle keep-alive connections (a scraper) can hold graceful shutdown open; stop waiting.
            Err(_) => tracing::warn!("HTTP connections still open at shutdown; closing them"),
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Logs every cluster that went up or down and every follower whose state changed between two reports.
fn log_transitions(old: &Report, new: &Report) {
    for c in &new.clusters {
        let was = old.clusters.iter().find(|o| o.name == c.name).map(|o| o.up);
        match (was, c.up) {
            (Some(true), false) | (None, false) if c.last_attempt.is_some() => {
                tracing::warn!(cluster = %c.name, errors = ?c.errors, "cluster is not answering correctly")
            }
            (Some(false), true) | (None, true) => {
                tracing::info!(cluster = %c.name, "cluster answers")
            }
            _ => {}
        }
    }
    let before: BTreeMap<ClusterKey, FollowerState> = old
        .followers
        .iter()
        .map(|f| {
            (
                ClusterKey::new(
                    &f.observation.follower_cluster,
                    &f.observation.follower_index,
                ),
                f.state,
            )
        })
        .collect();
    for f in &new.followers {
        let key = ClusterKey::new(
            &f.observation.follower_cluster,
            &f.observation.follower_index,
        );
        let prev = before.get(&key).copied();
        if prev != Some(f.state) {
            let level_warn = f.state != FollowerState::Healthy;
            let from = prev.map(|s| s.as_str()).unwrap_or("new");
            if level_warn {
                tracing::warn!(follower_cluster = key.cluster.as_str(), follower_index = key.name.as_str(), from, to = %f.state, reasons = ?f.reasons, "follower state changed");
            } else {
                tracing::info!(follower_cluster = key.cluster.as_str(), follower_index = key.name.as_str(), from, to = %f.state, "follower state changed");
            }
        }
    }
}

/// Sets (or replaces) a top-level `/status` section.
fn set_section(sections: &StatusSections, name: &str, value: serde_json::Value) {
    write(sections).insert(name.to_string(), value);
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}
