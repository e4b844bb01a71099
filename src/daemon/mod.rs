//! Wiring for `ccr-sentinel run`: the jobs, the shared state, the HTTP server, systemd and shutdown.
//!
//! Follow-up modules add jobs with [`Daemon::add_job`] before [`Daemon::run`]; a job reads the latest
//! [`Snapshot`] / [`Report`] and the [`Observer`]'s clients from the [`Daemon`] it was built from.

pub mod http;
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

use crate::act::ActionMetrics;
use crate::config::{ClusterKey, Config};
use crate::daemon::http::{router, HttpState, StatusSections};
use crate::daemon::schedule::{JobOutcome, JobSpec, JobTracker, Runner, Scheduler};
use crate::es::EsError;
use crate::evaluate::health::FollowerState;
use crate::evaluate::report::Report;
use crate::metrics::{Metrics, SharedReport};
use crate::observe::{Observer, Snapshot};

/// How long shutdown waits for running jobs and open HTTP connections, each.
const DRAIN_DEADLINE: Duration = Duration::from_secs(3);

/// The daemon's shared state. Cheap to clone (everything is behind `Arc`).
#[derive(Clone)]
pub struct Daemon {
    pub cfg: Arc<Config>,
    pub observer: Observer,
    pub snapshot: Arc<Mutex<Snapshot>>,
    pub report: SharedReport,
    pub metrics: Metrics,
    pub tracker: Arc<JobTracker>,
    pub runner: Runner,
    pub cancel: CancellationToken,
    pub ready: Arc<AtomicBool>,
    /// `ccr_sentinel_reconcile_actions_total` and `ccr_sentinel_actions_total`, registered once, shared by
    /// reconcile and policy executors.
    pub actions: ActionMetrics,
    /// Extra `/status` sections (`reconcile`, `preflight`, ...).
    pub status_sections: StatusSections,
    /// The policy engine; set by [`Daemon::run`] (commands such as `status` that only poll never act).
    pub policy: Option<Arc<crate::policy::runner::PolicyRunner>>,
    extra_jobs: Vec<JobSpec>,
    /// Jobs also run once right after start-up (after READY).
    startup_jobs: Vec<&'static str>,
}

impl Daemon {
    /// Builds the clients and the shared state; contacts no cluster.
    pub fn new(cfg: Config) -> Result<Self, EsError> {
        let cfg = Arc::new(cfg);
        let observer = Observer::new(cfg.clone())?;
        let report = SharedReport::default();
        let metrics = Metrics::new(report.clone());
        let tracker = Arc::new(JobTracker::default());
        let cancel = CancellationToken::new();
        let runner = Runner::new(tracker.clone(), metrics.own.clone(), cancel.clone());
        let actions = ActionMetrics::new();
        actions
            .register(&metrics.registry)
            .expect("metric names are unique");
        Ok(Self {
            cfg,
            observer,
            snapshot: Default::default(),
            report,
            metrics,
            tracker,
            runner,
            cancel,
            ready: Default::default(),
            actions,
            status_sections: Default::default(),
            policy: None,
            extra_jobs: Vec::new(),
            startup_jobs: Vec::new(),
        })
    }

    /// Adds a job (e.g. `reconcile`) to be scheduled by [`Daemon::run`].
    pub fn add_job(&mut self, job: JobSpec) {
        self.extra_jobs.push(job);
    }

    /// Adds a job that also runs once right after start-up (after the first poll and READY), e.g. `reconcile`.
    pub fn add_startup_job(&mut self, job: JobSpec) {
        self.startup_jobs.push(job.name);
        self.extra_jobs.push(job);
    }

    /// Sets (or replaces) a top-level `/status` section.
    pub fn set_status_section(&self, name: &str, value: serde_json::Value) {
        match self.status_sections.write() {
            Ok(mut m) => m.insert(name.to_string(), value),
            Err(p) => p.into_inner().insert(name.to_string(), value),
        };
    }

    /// The latest report.
    pub fn report(&self) -> Arc<Report> {
        match self.report.read() {
            Ok(r) => Arc::clone(&r),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// A copy of the latest snapshot.
    pub fn snapshot(&self) -> Snapshot {
        match self.snapshot.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn update(&self, apply: impl FnOnce(&mut Snapshot)) {
        let new = {
            let mut snap = match self.snapshot.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            apply(&mut snap);
            Arc::new(Report::build(&self.cfg, &snap, Utc::now()))
        };
        let old = self.report();
        log_transitions(&old, &new);
        if old.summary() != new.summary() {
            crate::daemon::systemd::status(&new.summary());
        }
        match self.report.write() {
            Ok(mut r) => *r = new,
            Err(p) => *p.into_inner() = new,
        }
    }

    /// Counts an error, and logs it at `warn` when it is new for its cluster and endpoint (a cluster that stays
    /// down logs once, then at `debug`, instead of every poll).
    fn record_error(&self, cluster: &str, e: &EsError) {
        self.metrics.own.count_error(cluster, e);
        let message = e.to_string();
        let repeated = e.endpoint().is_some_and(|endpoint| {
            let snap = match self.snapshot.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            snap.clusters
                .get(cluster)
                .and_then(|c| c.errors.get(&endpoint))
                .is_some_and(|prev| *prev == message)
        });
        if repeated {
            tracing::debug!(%cluster, endpoint = ?e.endpoint(), reason = e.reason(), "{message}");
        } else {
            tracing::warn!(%cluster, endpoint = ?e.endpoint(), reason = e.reason(), "{message}");
        }
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

    /// The `poll` job.
    pub fn poll_job(&self) -> JobSpec {
        let d = self.clone();
        JobSpec {
            name: "poll",
            schedule: self.cfg.schedule.poll.clone(),
            run: Arc::new(move |_| {
                let d = d.clone();
                Box::pin(async move {
                    let outcome = d.poll_once().await;
                    // Policies are evaluated after every poll, on the report it just built.
                    if let Some(p) = &d.policy {
                        p.run_once(&d.report()).await;
                        d.set_status_section("policy", p.status());
                    }
                    outcome
                })
            }),
        }
    }

    /// The `doc_counts` job.
    pub fn doc_counts_job(&self) -> JobSpec {
        let d = self.clone();
        JobSpec {
            name: "doc_counts",
            schedule: self.cfg.schedule.doc_counts.clone(),
            run: Arc::new(move |_| {
                let d = d.clone();
                Box::pin(async move { d.doc_counts_once().await })
            }),
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
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        if self.policy.is_none() {
            self.policy = Some(Arc::new(crate::policy::runner::PolicyRunner::new(
                self.cfg.clone(),
                &self.observer,
                self.actions.clone(),
            )?));
        }
        let addr: SocketAddr = listener.local_addr().context("listener address")?;
        let app = router(self.http_state());
        let server_cancel = self.cancel.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(server_cancel.cancelled_owned())
                .await
        });
        tracing::info!(%addr, "serving /metrics, /health, /ready, /status");

        let mut jobs = vec![self.poll_job(), self.doc_counts_job()];
        jobs.extend(self.extra_jobs.iter().cloned());
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
