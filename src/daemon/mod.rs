//! The composition root of `ccr-sentinel run` (and `demo`): [`build`] creates, once per process, the client
//! registry, the metrics, the observer, the executors, the reconciler, the policy engine, the start-up preflight
//! and every job; [`Daemon::run`] then serves HTTP, talks to systemd, schedules the jobs and shuts down.
//!
//! The stages below never name this module: they get what they need (clients, executor, metrics) as
//! arguments, and the jobs carry their results back into the shared state.

pub mod http;
mod jobs;
pub mod reload;
pub mod schedule;
pub mod server;
pub mod systemd;
mod topology;

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
use crate::config::Config;
use crate::daemon::http::{router, HttpState, StatusSections};
use crate::daemon::schedule::{JobOutcome, JobSpec, JobTracker, RunResult, Runner, Scheduler};
use crate::es::{Clients, EsError};
use crate::evaluate::health::FollowerState;
use crate::evaluate::report::{FollowerReport, Report};
use crate::metrics::{Metrics, RequestFailed, SharedReport};
use crate::observe::{Observer, Snapshot};
use crate::policy::runner::PolicyRunner;
use crate::reconcile::Reconciler;
use crate::sync::{lock, read, write};

/// How long shutdown waits for running jobs and open HTTP connections, each.
const DRAIN_DEADLINE: Duration = Duration::from_secs(3);

/// How long a reload waits for the running jobs (told to stop at their next safe point) before swapping the
/// configuration in anyway.
const RELOAD_DRAIN_DEADLINE: Duration = Duration::from_secs(30);

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
    build_from(cfg, stages, None)
}

/// [`build_with`]; with `previous`, the daemon of a reload, which keeps what outlives a configuration: the
/// metrics registry, the latest report, the job timings, readiness, the `/status` sections and the policies'
/// in-memory history.
///
/// `declared` is the configuration as loaded; every stage gets it with `[policy] state_dir/topology.json`
/// applied ([`Config::with_topology`]). When that file cannot be read, the declared configuration is used and
/// the `reconcile` job is left out: reconcile over a configuration that does not know a switchover happened
/// would resume the patterns it paused and report its promoted indices as conflicts, so it waits for the file.
fn build_from(
    declared: Config,
    stages: Stages,
    previous: Option<&Daemon>,
) -> anyhow::Result<Daemon> {
    // The stamp before the read: a change in between is seen again at the next check.
    let stamp = topology::stamp(&declared);
    let cfg = Arc::new(topology::effective(&declared));
    let clients = Clients::from_config(&cfg)?;
    let mut d = Daemon::core(cfg.clone(), clients.clone(), previous);
    d.declared = Arc::new(declared);
    d.topology_stamp = Arc::new(Mutex::new(stamp));
    d.stages = stages;
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
        let mut policy = PolicyRunner::new(cfg.clone(), exec.clone())?;
        if let Some(old) = previous.and_then(|p| p.policy.as_deref()) {
            policy.inherit(old);
        }
        d.policy = Some(Arc::new(policy));
    }
    d.add_polling_jobs();
    let Some(exec) = exec.filter(|_| stages.reconcile) else {
        return Ok(d);
    };
    // The canary is a write, so it runs where reconcile may write: its index is followed by reconcile.
    if !crate::act::heartbeat::Heartbeat::leader_clusters(&d.cfg).is_empty() {
        let hb = crate::act::heartbeat::Heartbeat::new(d.cfg.clone(), clients.clone())
            .with_metrics(d.metrics.actions.clone());
        let job = jobs::heartbeat(&d, hb);
        d.add_job(job);
    }

    let (sections, gauge) = (
        d.status_sections.clone(),
        d.metrics.reconcile.preflight_problems.clone(),
    );
    tokio::spawn(async move {
        let report = crate::preflight::at_startup(cfg, clients, gauge).await;
        match serde_json::to_value(report.status_view()) {
            Ok(v) => set_section(&sections, "preflight", v),
            Err(e) => tracing::warn!(error = %e, "cannot render the preflight report"),
        }
    });

    if !d.cfg.reconcile.enabled {
        tracing::info!("reconcile is disabled ([reconcile] enabled = false)");
        return Ok(d);
    }
    if let Some(e) = &d.cfg.topology_error {
        d.set_status_section(
            "reconcile",
            serde_json::json!({
                "suspended": format!("the DR topology file cannot be read ({e}); reconcile waits until it reads"),
            }),
        );
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
    /// The effective configuration: the declared one with the DR topology applied.
    pub(crate) cfg: Arc<Config>,
    /// The configuration as loaded, before the topology; what a topology change is applied to again.
    declared: Arc<Config>,
    /// The topology file as it was when `cfg` was built.
    topology_stamp: Arc<Mutex<topology::Stamp>>,
    pub(crate) observer: Observer,
    pub(crate) snapshot: Arc<Mutex<Snapshot>>,
    /// The report of `snapshot` as it is now, built by this daemon: changed under the snapshot's lock with the
    /// snapshot itself, unlike `report`, which a reload shares with the daemon it replaces.
    built: Arc<Mutex<Option<Arc<Report>>>>,
    pub(crate) report: SharedReport,
    pub(crate) metrics: Metrics,
    pub(crate) tracker: Arc<JobTracker>,
    pub(crate) runner: Runner,
    /// Cancelled at shutdown.
    pub(crate) cancel: CancellationToken,
    /// Cancelled at shutdown and when a reload replaces this daemon: the token its jobs get.
    pub(crate) jobs_cancel: CancellationToken,
    /// Set when a reload has replaced this daemon: from then on its jobs publish no report.
    superseded: Arc<AtomicBool>,
    /// What `/status` shows as `config`.
    pub(crate) identity: Arc<Mutex<reload::ConfigIdentity>>,
    stages: Stages,
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
    /// `doc_counts` jobs; contacts no cluster. `cfg` is used as given (the CLI applies the topology file when it
    /// loads it).
    pub fn new(cfg: Config) -> Result<Self, EsError> {
        let cfg = Arc::new(cfg);
        let clients = Clients::from_config(&cfg)?;
        let mut d = Self::core(cfg, clients, None);
        d.stages = Stages {
            policy: false,
            reconcile: false,
        };
        d.add_polling_jobs();
        Ok(d)
    }

    /// The shared state, without jobs; what outlives a configuration comes from `previous` when given.
    fn core(cfg: Arc<Config>, clients: Clients, previous: Option<&Daemon>) -> Self {
        let observer = Observer::new(cfg.clone(), clients);
        let observer = match previous {
            Some(p) => observer.sharing_clock(&p.observer),
            None => observer,
        };
        let (report, metrics, tracker, cancel, ready, status_sections, identity) = match previous {
            Some(p) => (
                p.report.clone(),
                p.metrics.clone(),
                p.tracker.clone(),
                p.cancel.clone(),
                p.ready.clone(),
                p.status_sections.clone(),
                p.identity.clone(),
            ),
            None => {
                let report = SharedReport::default();
                let identity = reload::ConfigIdentity {
                    path: None,
                    sha256: None,
                    generation: 1,
                    loaded_at: Utc::now(),
                    last_reload: None,
                };
                (
                    report.clone(),
                    Metrics::new(report),
                    Arc::new(JobTracker::default()),
                    CancellationToken::new(),
                    Arc::default(),
                    StatusSections::default(),
                    Arc::new(Mutex::new(identity)),
                )
            }
        };
        let jobs_cancel = cancel.child_token();
        let runner = Runner::new(tracker.clone(), metrics.own.clone(), jobs_cancel.clone());
        Self {
            declared: cfg.clone(),
            topology_stamp: Arc::new(Mutex::new(topology::stamp(&cfg))),
            cfg,
            observer,
            snapshot: Default::default(),
            built: Arc::default(),
            report,
            metrics,
            tracker,
            runner,
            cancel,
            jobs_cancel,
            superseded: Arc::default(),
            identity,
            stages: Stages::ALL,
            ready,
            status_sections,
            policy: None,
            jobs: Vec::new(),
            startup_jobs: Vec::new(),
        }
    }

    /// The configuration file this daemon was loaded from, shown in `/status` (`config`) with its SHA-256.
    pub fn set_config_file(&self, path: &std::path::Path) {
        let sha = reload::file_sha256(path);
        {
            let mut id = lock(&self.identity);
            id.path = Some(path.to_path_buf());
            id.sha256 = sha;
        }
        self.publish_identity();
    }

    fn publish_identity(&self) {
        let id = lock(&self.identity).clone();
        match serde_json::to_value(&id) {
            Ok(v) => set_section(&self.status_sections, "config", v),
            Err(e) => tracing::warn!(error = %e, "cannot render the configuration identity"),
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

    /// The same daemon reading time from `clock` (poll timestamps, key reads, reports): tests that step a
    /// simulator's clock pass its time, so lag in time, lease margins and key expiry are measured on the
    /// simulator's timeline.
    pub fn with_clock(self, clock: crate::observe::Clock) -> Self {
        self.observer.set_clock(clock);
        self
    }

    /// The latest report.
    pub fn report(&self) -> Arc<Report> {
        Arc::clone(&read(&self.report))
    }

    /// A copy of the latest snapshot.
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.snapshot).clone()
    }

    /// Applies a job's result to the snapshot and publishes the report built from it.
    fn update(&self, apply: impl FnOnce(&mut Snapshot)) {
        self.publish(apply, false);
    }

    /// [`Daemon::update`] for a `doc_counts` run: the report is [`Report::after_doc_counts`] of this daemon's
    /// report before the run.
    fn update_counts(&self, apply: impl FnOnce(&mut Snapshot)) {
        self.publish(apply, true);
    }

    fn publish(&self, apply: impl FnOnce(&mut Snapshot), doc_counts: bool) {
        if self.superseded.load(Ordering::Acquire) {
            return;
        }
        // The report is swapped in while the snapshot's lock is still held: two jobs publishing at once (a poll and
        // a doc_counts run) then publish in the order they applied, so the newer report is never overwritten by
        // the older one built just before it.
        let (old, new) = {
            let mut snap = lock(&self.snapshot);
            apply(&mut snap);
            let now = self.observer.now();
            let mut built = lock(&self.built);
            let new = Arc::new(match built.as_deref() {
                Some(before) if doc_counts => {
                    Report::after_doc_counts(&self.cfg, &snap, now, before)
                }
                _ => Report::build(&self.cfg, &snap, now),
            });
            *built = Some(new.clone());
            // Checked under the lock: once a reload has replaced this daemon, a run that outlived the drain must
            // not publish over the report of the configuration that replaced it.
            let mut report = write(&self.report);
            if self.superseded.load(Ordering::Acquire) {
                return;
            }
            (std::mem::replace(&mut *report, new.clone()), new)
        };
        log_transitions(&old, &new);
        if old.summary() != new.summary() {
            crate::daemon::systemd::status(&new.summary());
        }
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

    /// Runs `poll` (with the policies after it) and then `doc_counts` once each, through the job runner as
    /// their schedules would, for callers that drive time themselves (the soak run steps the simulator's clock
    /// one poll period per cycle).
    pub async fn run_cycle(&self) -> [RunResult; 2] {
        for j in &self.jobs {
            self.tracker.register(j.name, &j.schedule);
        }
        let poll = self.runner.run_once(&self.jobs[0]).await;
        let doc_counts = self.runner.run_once(&self.jobs[1]).await;
        [poll, doc_counts]
    }

    /// The timing of every job (`/status` `jobs`).
    pub fn job_statuses(&self) -> BTreeMap<String, crate::daemon::schedule::JobStatus> {
        self.tracker.statuses()
    }

    /// The policy engine, when this daemon runs the policies.
    pub fn policy_runner(&self) -> Option<&Arc<PolicyRunner>> {
        self.policy.as_ref()
    }

    /// One `poll`: CCR stats, follower info and remote info of every follower cluster.
    pub async fn poll_once(&self) -> JobOutcome {
        let (periods_due, mark) = {
            let snap = lock(&self.snapshot);
            let due = snap.lease_periods_due(&self.observer.leader_targets(), self.observer.now());
            (due, snap.poll_mark())
        };
        let crate::observe::PollCycle {
            at,
            followers: results,
            leaders,
            data_streams,
        } = self.observer.poll_cycle(&periods_due).await;
        let mut ok = true;
        for d in &data_streams {
            if let Err(e) = &d.data_streams {
                ok = false;
                self.record_error(&d.cluster, e);
            }
        }
        for r in &results {
            for e in r.errors() {
                ok = false;
                self.record_error(&r.cluster, e);
            }
        }
        for l in &leaders {
            for e in l.errors() {
                ok = false;
                self.record_error(&l.cluster, e);
            }
        }
        let cfg = self.cfg.clone();
        self.update(|snap| {
            for l in leaders {
                snap.apply_leader_stats(l);
            }
            for d in data_streams {
                snap.apply_data_streams(d);
            }
            for r in results {
                snap.apply_polled(r, mark);
            }
            snap.record_lag(&cfg, at);
        });
        // Auxiliary: a failed key read is counted and shown, but does not fail the poll.
        self.keys_once_if_due().await;
        if ok {
            JobOutcome::Success
        } else {
            JobOutcome::Partial
        }
    }

    /// The key read of [`crate::observe::keys`] when it is due (after the poll it follows, so a remote that just
    /// disconnected is explained within that poll); false when one of its requests failed.
    async fn keys_once_if_due(&self) -> bool {
        let (leaders, connectivity) = {
            let snap = lock(&self.snapshot);
            if !snap.keys_due(&self.cfg, self.observer.now()) {
                return true;
            }
            (
                crate::observe::keys::key_leaders(&self.cfg, &snap),
                snap.api_key_remotes(&self.cfg),
            )
        };
        let result = self.observer.keys(leaders, connectivity).await;
        let mut ok = true;
        for (cluster, e) in result.errors() {
            ok = false;
            let message = e.to_string();
            // Logged at `warn` when new: the last read's error is kept beside the keys, not in `errors`.
            let repeated = lock(&self.snapshot).clusters.get(cluster).is_some_and(|c| {
                c.api_keys.as_ref().and_then(|k| k.error.as_ref()) == Some(&message)
                    || c.credential.as_ref().and_then(|k| k.error.as_ref()) == Some(&message)
            });
            RequestFailed {
                cluster,
                error: e,
                stage: None,
                repeated,
            }
            .emit(&self.metrics.own);
        }
        let before: BTreeMap<String, Option<i64>> = self
            .report()
            .credentials
            .iter()
            .map(|c| (c.cluster.clone(), c.expires_at.map(|t| t.timestamp())))
            .collect();
        self.update(|snap| snap.apply_keys(result));
        for c in &self.report().credentials {
            let expires = c.expires_at.map(|t| t.timestamp());
            if let (Some(at), true) = (
                c.expires_at,
                before.get(&c.cluster).copied().flatten() != expires,
            ) {
                // Follower tasks run as the credential that last created or resumed them: they stop with it.
                tracing::warn!(
                    cluster = %c.cluster,
                    principal = c.principal.as_deref().unwrap_or(""),
                    expires_at = %at.format("%Y-%m-%dT%H:%M:%SZ"),
                    "ccr-sentinel's credential on this cluster is an API key that expires; every follower it \
                     creates or resumes runs as that key and stops when it expires (use a user, or a key without \
                     expiry, and renew it before then)"
                );
            }
        }
        ok
    }

    /// One `doc_counts` run: leader and follower document counts; their parity is decided by the next poll
    /// ([`Snapshot::apply_doc_counts`]).
    pub async fn doc_counts_once(&self) -> JobOutcome {
        let before = lock(&self.snapshot).counts_before();
        let result = self.observer.doc_counts().await;
        let mut ok = true;
        for (cluster, e) in result.errors() {
            ok = false;
            self.record_error(cluster, e);
        }
        let cfg = self.cfg.clone();
        self.update_counts(|snap| snap.apply_doc_counts(&cfg, before, result));
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
        self.run_with_reload(listener, shutdown, None).await
    }

    /// [`Daemon::run`], reloading the configuration on every request of `reload`: the new file is validated;
    /// when it is valid, the scheduler stops, the running jobs are told to stop at their next safe point and
    /// awaited, the daemon is rebuilt on the new configuration (keeping the metrics, the latest report, the
    /// job timings and the policies' history), polls once and schedules its jobs again. When it is not, the
    /// running configuration stays and every problem is logged. systemd hears `RELOADING=1` (with
    /// `MONOTONIC_USEC`) and then `READY=1`. The HTTP server keeps serving throughout.
    pub async fn run_with_reload(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        mut reload: Option<reload::Reload>,
    ) -> anyhow::Result<()> {
        let addr: SocketAddr = listener.local_addr().context("listener address")?;
        let app = router(self.http_state());
        let server = tokio::spawn(server::serve(
            listener,
            app,
            self.cfg.http.limits,
            self.cancel.clone(),
        ));
        tracing::info!(%addr, "serving /metrics, /health, /ready, /status");
        self.publish_identity();

        tokio::pin!(shutdown);
        // The first poll before READY=1, so systemd (and /ready) see a daemon that has looked at its clusters.
        tokio::select! {
            _ = self.first_poll() => {}
            _ = &mut shutdown => {
                return self.stop(None, server).await;
            }
        }
        self.ready.store(true, Ordering::Release);
        let summary = self.report().summary();
        tracing::info!(%summary, "first poll finished; ready");
        crate::daemon::systemd::ready(&summary);
        if let Some(interval) = crate::daemon::systemd::watchdog_interval() {
            tracing::info!(?interval, "systemd watchdog enabled");
            tokio::spawn(crate::daemon::systemd::watchdog(
                interval,
                self.tracker.clone(),
                self.cfg.health.job_overdue_periods,
                self.cancel.clone(),
            ));
        }

        let mut d = self;
        loop {
            let scheduler = Scheduler::start(&d.runner, &d.jobs).await?;
            for job in d.jobs.iter().filter(|j| d.startup_jobs.contains(&j.name)) {
                let (runner, job) = (d.runner.clone(), job.clone());
                tokio::spawn(async move {
                    runner.run_once(&job).await;
                });
            }
            let next = loop {
                let requested = async {
                    match reload.as_mut() {
                        Some(r) => r.requests.recv().await,
                        None => std::future::pending().await,
                    }
                };
                let topology_check = tokio::time::sleep(topology::check_period(&d.cfg));
                tokio::select! {
                    _ = &mut shutdown => return d.stop(Some(scheduler), server).await,
                    req = requested => {
                        let Some(()) = req else {
                            // The signal listener is gone; no more reloads, keep running.
                            reload = None;
                            continue;
                        };
                        let path = reload.as_ref().map(|r| r.path.clone()).unwrap_or_default();
                        if let Some(next) = d.prepare_reload(&path).await {
                            break (next, "configuration reloaded");
                        }
                    }
                    _ = topology_check => {
                        if let Some(next) = d.prepare_topology() {
                            break (next, "DR topology applied");
                        }
                    }
                }
            };
            let (next, why) = next;
            crate::daemon::systemd::reloading();
            scheduler.shutdown().await;
            d.superseded.store(true, Ordering::Release);
            d.jobs_cancel.cancel();
            tokio::select! {
                idle = d.runner.wait_idle(RELOAD_DRAIN_DEADLINE) => if !idle {
                    tracing::warn!(
                        "a job was still running at reload; swapping the configuration in anyway"
                    );
                },
                _ = &mut shutdown => return d.stop(None, server).await,
            }
            d = next;
            let names: Vec<&'static str> = d.jobs.iter().map(|j| j.name).collect();
            d.tracker.retain(&names);
            for j in &d.jobs {
                d.tracker.register(j.name, &j.schedule);
            }
            tokio::select! {
                _ = d.first_poll() => {}
                _ = &mut shutdown => return d.stop(None, server).await,
            }
            let summary = d.report().summary();
            let generation = lock(&d.identity).generation;
            tracing::info!(generation, %summary, "{why}");
            crate::daemon::systemd::ready(&summary);
        }
    }

    /// `poll` then `doc_counts`, once each.
    async fn first_poll(&self) {
        for j in &self.jobs {
            self.tracker.register(j.name, &j.schedule);
        }
        for j in self.jobs.iter().take(2) {
            self.runner.run_once(j).await;
        }
    }

    /// Loads and validates `path` and builds the daemon of the new configuration; `None` (with every problem
    /// logged and counted) keeps the running one.
    async fn prepare_reload(&self, path: &std::path::Path) -> Option<Daemon> {
        let now = Utc::now();
        let refused = |problems: Vec<String>| {
            for p in &problems {
                tracing::error!(path = %path.display(), problem = %p, "configuration reload refused");
            }
            tracing::error!(
                path = %path.display(),
                problems = problems.len(),
                "the new configuration is not valid; keeping the running one"
            );
            self.metrics.lifecycle.failed();
            lock(&self.identity).last_reload = Some(reload::ReloadAttempt {
                at: now,
                result: "failure",
                problems,
            });
            self.publish_identity();
            None
        };
        let (cfg, sha256) = match reload::load(path).await {
            Ok(loaded) => loaded,
            Err(problems) => return refused(problems),
        };
        for change in reload::needs_restart(&self.cfg, &cfg) {
            tracing::warn!("{change}: it takes effect at the next restart");
        }
        let next = match build_from(cfg, self.stages, Some(self)) {
            Ok(d) => d,
            Err(e) => return refused(vec![format!("{e:#}")]),
        };
        let generation = {
            let mut id = lock(&self.identity);
            id.generation += 1;
            id.path = Some(path.to_path_buf());
            id.sha256 = sha256;
            id.loaded_at = now;
            id.last_reload = Some(reload::ReloadAttempt {
                at: now,
                result: "success",
                problems: Vec::new(),
            });
            id.generation
        };
        self.metrics.lifecycle.succeeded(generation, now);
        self.publish_identity();
        Some(next)
    }

    /// Whether the topology file changed since this daemon's configuration was built.
    pub(crate) fn topology_changed(&self) -> bool {
        topology::stamp(&self.declared) != *lock(&self.topology_stamp)
    }

    /// When the topology file changed and what it applies differs from the running one, the daemon of the same
    /// declared configuration with the new topology; `None` keeps the running one (a rewrite with the same
    /// content only updates the stamp).
    fn prepare_topology(&self) -> Option<Daemon> {
        let stamp = topology::stamp(&self.declared);
        if stamp == *lock(&self.topology_stamp) {
            return None;
        }
        let next = self.declared.with_topology_file();
        if !topology::differs(&self.cfg, &next) {
            *lock(&self.topology_stamp) = stamp;
            return None;
        }
        tracing::info!("the DR topology file changed; applying it");
        match build_from((*self.declared).clone(), self.stages, Some(self)) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot apply the DR topology; keeping the running one");
                *lock(&self.topology_stamp) = stamp;
                None
            }
        }
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
    for (f, prev) in state_changes(old, new) {
        let o = &f.observation;
        let level_warn = f.state != FollowerState::Healthy;
        let from = prev.map(|s| s.as_str()).unwrap_or("new");
        let (cluster, index) = (o.follower_cluster.as_str(), o.follower_index.as_str());
        if level_warn {
            tracing::warn!(follower_cluster = cluster, follower_index = index, from, to = %f.state, reasons = ?f.reasons, "follower state changed");
        } else {
            tracing::info!(follower_cluster = cluster, follower_index = index, from, to = %f.state, "follower state changed");
        }
    }
}

/// The followers of `new` whose state differs from `old`'s, with the state before (`None`: new follower).
fn state_changes<'a>(
    old: &Report,
    new: &'a Report,
) -> Vec<(&'a FollowerReport, Option<FollowerState>)> {
    // Shared followers are the same followers: none changed state.
    if new.followers.shared_with(&old.followers) {
        return Vec::new();
    }
    // Both reports are sorted by (follower_cluster, follower_index): one merge pass pairs each follower with its
    // previous state.
    fn key(f: &FollowerReport) -> (&str, &str) {
        (
            f.observation.follower_cluster.as_str(),
            f.observation.follower_index.as_str(),
        )
    }
    let mut before = old.followers.iter().peekable();
    let mut changed = Vec::new();
    for f in &new.followers {
        let k = key(f);
        while before.next_if(|p| key(p) < k).is_some() {}
        let prev = before.next_if(|p| key(p) == k).map(|p| p.state);
        if prev != Some(f.state) {
            changed.push((f, prev));
        }
    }
    changed
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_replaced_by_a_reload_publishes_no_report() {
        let d = Daemon::new(crate::testing::fixture_config()).unwrap();
        d.update(|_| {});
        let published = d.report();
        d.superseded.store(true, Ordering::Release);
        d.update(|_| {});
        assert!(Arc::ptr_eq(&published, &d.report()));
    }

    #[test]
    fn state_changes_pair_each_follower_with_its_state_before() {
        let report = |followers: &[(&str, FollowerState)]| Report {
            followers: followers
                .iter()
                .map(|(index, state)| FollowerReport {
                    observation: crate::testing::observation(index),
                    state: *state,
                    reasons: Vec::new(),
                    time: None,
                })
                .collect(),
            ..Default::default()
        };
        use FollowerState::{Healthy, Paused};
        let old = report(&[
            ("a", Healthy),
            ("b", Paused),
            ("c", Healthy),
            ("e", Healthy),
        ]);
        let new = report(&[("a", Healthy), ("b", Healthy), ("d", Paused), ("e", Paused)]);
        let changes: Vec<(&str, Option<FollowerState>, FollowerState)> = state_changes(&old, &new)
            .into_iter()
            .map(|(f, prev)| (f.observation.follower_index.as_str(), prev, f.state))
            .collect();
        assert_eq!(
            changes,
            [
                ("b", Some(Paused), Healthy),
                ("d", None, Paused),
                ("e", Some(Healthy), Paused)
            ]
        );
        let shared = Report {
            followers: new.followers.clone(),
            ..Default::default()
        };
        assert!(state_changes(&old, &shared).len() == 3 && state_changes(&new, &shared).is_empty());
    }

    #[test]
    fn a_doc_counts_run_reuses_only_followers_this_daemon_built() {
        let d = Daemon::new(crate::testing::fixture_config()).unwrap();
        // The report a reload hands over is not this daemon's: the first run builds its followers.
        *write(&d.report) = Arc::new(Report::default());
        d.update_counts(|_| {});
        let first = d.report();
        assert_eq!(first.followers.len(), 2);
        d.update_counts(|_| {});
        assert!(d.report().followers.shared_with(&first.followers));
        d.update(|_| {});
        assert!(!d.report().followers.shared_with(&first.followers));
    }

    /// The `_ccr/stats`, `_ccr/info` and `_remote/info` of `n` followers `logs-NNNNN-copy` of `logs-NNNNN`, five
    /// shards each, at `cycle`: the leaders write 10 operations per shard per cycle and the followers trail by 3.
    fn poll_at_scale(
        n: usize,
        cycle: i64,
        at: chrono::DateTime<Utc>,
    ) -> crate::observe::PollResult {
        let mut stats = String::from(
            r#"{"auto_follow_stats":{"number_of_failed_follow_indices":0,"number_of_failed_remote_cluster_state_requests":0,"number_of_successful_follow_indices":0,"recent_auto_follow_errors":[],"auto_followed_clusters":[]},"follow_stats":{"indices":["#,
        );
        let mut info = String::from(r#"{"follower_indices":["#);
        for i in 0..n {
            let sep = if i == 0 { "" } else { "," };
            stats.push_str(&format!(r#"{sep}{{"index":"logs-{i:05}-copy","shards":["#));
            for shard in 0..5 {
                let (l, f) = (cycle * 10, cycle * 10 - 3);
                let sep = if shard == 0 { "" } else { "," };
                stats.push_str(&format!(
                    r#"{sep}{{"remote_cluster":"leader","leader_index":"logs-{i:05}","follower_index":"logs-{i:05}-copy","shard_id":{shard},"leader_global_checkpoint":{l},"leader_max_seq_no":{l},"follower_global_checkpoint":{f},"follower_max_seq_no":{f},"last_requested_seq_no":{f},"outstanding_read_requests":1,"outstanding_write_requests":0,"write_buffer_operation_count":0,"follower_mapping_version":1,"follower_settings_version":1,"total_read_time_millis":100,"total_read_remote_exec_time_millis":50,"successful_read_requests":10,"failed_read_requests":0,"operations_read":{f},"bytes_read":1000,"total_write_time_millis":20,"write_buffer_size_in_bytes":0,"successful_write_requests":5,"failed_write_requests":0,"operations_written":{f},"read_exceptions":[],"time_since_last_read_millis":120}}"#
                ));
            }
            stats.push_str("]}");
            info.push_str(&format!(
                r#"{sep}{{"follower_index":"logs-{i:05}-copy","remote_cluster":"leader","leader_index":"logs-{i:05}","status":"active"}}"#
            ));
        }
        stats.push_str("]}}");
        info.push_str("]}");
        crate::observe::PollResult {
            cluster: "follower".into(),
            at,
            ccr_stats: Ok(serde_json::from_str(&stats).unwrap()),
            follow_info: Ok(serde_json::from_str(&info).unwrap()),
            remote_info: Ok(serde_json::from_str(
                r#"{"leader":{"seeds":["127.0.0.1:9300"],"connected":true,"num_nodes_connected":1,"max_connections_per_cluster":3,"initial_connect_timeout":"30s","skip_unavailable":false,"mode":"sniff"}}"#,
            )
            .unwrap()),
            recovery: None,
            heartbeats: None,
        }
    }

    /// `_cat/indices` of both clusters at scale, equal counts.
    fn counts_at_scale(n: usize, at: chrono::DateTime<Utc>) -> crate::observe::DocCountResult {
        let rows = |suffix: &str| {
            (0..n)
                .map(|i| crate::es::CatIndex {
                    index: format!("logs-{i:05}{suffix}"),
                    status: Some("open".into()),
                    docs_count: Some(1000),
                })
                .collect::<Vec<_>>()
        };
        crate::observe::DocCountResult {
            at,
            indices: BTreeMap::from([
                ("leader".to_string(), Ok(rows(""))),
                ("follower".to_string(), Ok(rows("-copy"))),
            ]),
        }
    }

    /// One poll (with the policies after it) and one doc_counts run of the daemon's own state updates, without
    /// the network: what `callgrind --toggle-collect=*measured_cycle*` counts.
    #[inline(never)]
    fn measured_cycle(
        d: &Daemon,
        poll: crate::observe::PollResult,
        counts: crate::observe::DocCountResult,
        history: crate::act::history::History,
    ) -> crate::act::history::History {
        let cfg = d.cfg.clone();
        let (at, mark) = (poll.at, lock(&d.snapshot).poll_mark());
        d.update(|snap| {
            snap.apply_polled(poll, mark);
            snap.record_lag(&cfg, at);
        });
        let ev = crate::policy::evaluate(&cfg, &d.report(), history, &[], at);
        let before = lock(&d.snapshot).counts_before();
        d.update_counts(|snap| snap.apply_doc_counts(&cfg, before, counts));
        ev.history
    }

    /// `cargo test --release --lib daemon::tests::cycle_cost -- --ignored --nocapture`: the CPU of the state
    /// updates of one cycle at 2,000 followers × 5 shards (printed, not asserted; under
    /// `valgrind --tool=callgrind --toggle-collect='*measured_cycle*'` an instruction count).
    #[test]
    #[ignore]
    fn cycle_cost_at_2000_followers() {
        let n = 2000;
        let extra: String = (0..n)
            .map(|i| {
                crate::testing::follower(&format!("logs-{i:05}"), &format!("logs-{i:05}-copy"))
            })
            .collect();
        let cfg = crate::testing::config(&extra);
        let start = crate::testing::epoch();
        let d = Daemon::new(cfg)
            .unwrap()
            .with_clock(Arc::new(move || start));
        let mut history = crate::act::history::History::default();
        for cycle in 1..=12 {
            let at = start + chrono::Duration::seconds(5 * cycle);
            d.observer.set_clock(Arc::new(move || at));
            let (poll, counts) = (poll_at_scale(n, cycle, at), counts_at_scale(n, at));
            let t = std::time::Instant::now();
            history = measured_cycle(&d, poll, counts, history);
            eprintln!("cycle {cycle}: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        }
        let r = d.report();
        assert_eq!(r.followers.len(), n);
        eprintln!("{}", r.summary());
    }
}
