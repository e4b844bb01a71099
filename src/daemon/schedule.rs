//! Job scheduling with tokio-cron-scheduler, cron jobs only (its repeated jobs can stop firing under load).
//!
//! The scheduler spawns every activation, so runs of one job could overlap; each job therefore has a guard
//! taken with `try_lock`: when the previous run still holds it, the activation is skipped and counted in
//! `ccr_sentinel_job_skipped_total`. The [`JobTracker`] records start, end and success times so `/health` and
//! the systemd watchdog can tell when a job stopped running on time. Cron expressions are evaluated in UTC.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::config::CronSchedule;
use crate::metrics::SelfMetrics;

/// What a run of a job achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Every request succeeded.
    Success,
    /// The run finished but some requests failed (counted elsewhere).
    Partial,
}

/// The body of a job. It receives a token cancelled at shutdown; long or mutating jobs should stop at a safe
/// point when it fires.
pub type JobFn = Arc<
    dyn Fn(CancellationToken) -> Pin<Box<dyn Future<Output = JobOutcome> + Send>> + Send + Sync,
>;

/// A job to schedule.
#[derive(Clone)]
pub struct JobSpec {
    /// The `job_name` label value (`poll`, `doc_counts`, `reconcile`).
    pub name: &'static str,
    pub schedule: CronSchedule,
    pub run: JobFn,
}

/// The timing of one job, as `/status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub schedule: String,
    pub period_seconds: u64,
    pub running: bool,
    pub runs: u64,
    pub skipped: u64,
    pub last_start: Option<DateTime<Utc>>,
    pub last_finish: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// Monotonic reference for overdue checks: registration, then each finish.
    #[serde(skip)]
    reference: Instant,
    #[serde(skip)]
    period: Duration,
}

/// Timing of every job, shared by the jobs, `/health`, `/status` and the watchdog.
#[derive(Debug, Default)]
pub struct JobTracker {
    jobs: Mutex<BTreeMap<&'static str, JobStatus>>,
}

impl JobTracker {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<&'static str, JobStatus>) -> R) -> R {
        let mut g = crate::sync::lock(&self.jobs);
        f(&mut g)
    }

    /// Starts tracking a job; the overdue clock starts now. Registering a tracked job again keeps its history
    /// and takes the schedule given (a reloaded configuration's).
    pub fn register(&self, name: &'static str, schedule: &CronSchedule) {
        self.with(|j| {
            if let Some(s) = j.get_mut(name) {
                s.schedule.clone_from(&schedule.expr);
                s.period_seconds = schedule.period.as_secs();
                s.period = schedule.period;
                return;
            }
            j.entry(name).or_insert_with(|| JobStatus {
                schedule: schedule.expr.clone(),
                period_seconds: schedule.period.as_secs(),
                running: false,
                runs: 0,
                skipped: 0,
                last_start: None,
                last_finish: None,
                last_success: None,
                reference: Instant::now(),
                period: schedule.period,
            });
        })
    }

    /// Stops tracking every job not in `names` (a job a reloaded configuration no longer has).
    pub fn retain(&self, names: &[&str]) {
        self.with(|j| j.retain(|name, _| names.contains(name)))
    }

    fn started(&self, name: &str) {
        self.with(|j| {
            if let Some(s) = j.get_mut(name) {
                s.running = true;
                s.last_start = Some(Utc::now());
            }
        })
    }

    fn finished(&self, name: &str, outcome: JobOutcome) -> DateTime<Utc> {
        let now = Utc::now();
        self.with(|j| {
            if let Some(s) = j.get_mut(name) {
                s.running = false;
                s.runs += 1;
                s.last_finish = Some(now);
                s.reference = Instant::now();
                if outcome == JobOutcome::Success {
                    s.last_success = Some(now);
                }
            }
        });
        now
    }

    fn skipped(&self, name: &str) {
        self.with(|j| {
            if let Some(s) = j.get_mut(name) {
                s.skipped += 1;
            }
        })
    }

    /// Every job's timing.
    pub fn statuses(&self) -> BTreeMap<String, JobStatus> {
        self.with(|j| j.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    /// Jobs that have not finished a run for more than `periods` of their period, with a description each.
    /// A job is measured from its last finish, or from registration when it never finished.
    pub fn overdue(&self, periods: u32) -> Vec<String> {
        let now = Instant::now();
        self.with(|j| {
            j.iter()
                .filter_map(|(name, s)| {
                    let limit = s.period * periods;
                    let since = now.saturating_duration_since(s.reference);
                    (since > limit).then(|| {
                        format!(
                            "job {name} has not finished a run for {}s (period {}s, limit {}s)",
                            since.as_secs(),
                            s.period.as_secs(),
                            limit.as_secs()
                        )
                    })
                })
                .collect()
        })
    }
}

/// Held while a job runs; `try_lock` failing means a run is in progress.
type JobGuard = Arc<tokio::sync::Mutex<()>>;

/// Runs jobs on their schedules and once on demand, never two runs of one job at a time.
#[derive(Clone)]
pub struct Runner {
    tracker: Arc<JobTracker>,
    metrics: SelfMetrics,
    guards: Arc<Mutex<BTreeMap<&'static str, JobGuard>>>,
    cancel: CancellationToken,
}

/// Whether a run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    Ran(JobOutcome),
    /// The previous run was still going.
    Skipped,
    /// The runner was cancelled (shutdown, or a reload replacing its daemon) before the run began.
    Cancelled,
}

impl Runner {
    /// A runner recording into `tracker` and `metrics`; `cancel` is handed to every job body.
    pub fn new(tracker: Arc<JobTracker>, metrics: SelfMetrics, cancel: CancellationToken) -> Self {
        Self {
            tracker,
            metrics,
            guards: Default::default(),
            cancel,
        }
    }

    fn guard(&self, name: &'static str) -> JobGuard {
        let mut g = crate::sync::lock(&self.guards);
        g.entry(name).or_default().clone()
    }

    /// Runs `job` now unless a run of it is in progress (then it is skipped and counted).
    pub async fn run_once(&self, job: &JobSpec) -> RunResult {
        let guard = self.guard(job.name);
        let Ok(_held) = guard.try_lock() else {
            self.tracker.skipped(job.name);
            self.metrics
                .job_skipped
                .with_label_values(&[job.name])
                .inc();
            tracing::warn!(
                job = job.name,
                "previous run still in progress; skipping this run"
            );
            return RunResult::Skipped;
        };
        // A run the scheduler fired just before a reload stopped it would otherwise begin after the drain and
        // act on the configuration being replaced.
        if self.cancel.is_cancelled() {
            return RunResult::Cancelled;
        }
        self.tracker.started(job.name);
        let t0 = Instant::now();
        let outcome = (job.run)(self.cancel.clone()).await;
        let elapsed = t0.elapsed();
        let end = self.tracker.finished(job.name, outcome);
        self.metrics
            .poll_duration
            .with_label_values(&[job.name])
            .observe(elapsed.as_secs_f64());
        if outcome == JobOutcome::Success {
            self.metrics
                .job_last_success
                .with_label_values(&[job.name])
                .set(end.timestamp_millis() as f64 / 1000.0);
        }
        tracing::debug!(
            job = job.name,
            elapsed_ms = elapsed.as_millis() as u64,
            ?outcome,
            "job finished"
        );
        RunResult::Ran(outcome)
    }

    /// Waits until no job is running, at most `deadline`. Returns false when some job was still running.
    pub async fn wait_idle(&self, deadline: Duration) -> bool {
        let guards: Vec<_> = crate::sync::lock(&self.guards).values().cloned().collect();
        tokio::time::timeout(deadline, async {
            for g in guards {
                let _ = g.lock().await;
            }
        })
        .await
        .is_ok()
    }
}

/// A started scheduler.
pub struct Scheduler {
    inner: JobScheduler,
}

/// The scheduler could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("scheduler: {0}")]
pub struct ScheduleError(String);

impl Scheduler {
    /// Registers every job (tracking starts now) and starts firing them.
    pub async fn start(runner: &Runner, jobs: &[JobSpec]) -> Result<Self, ScheduleError> {
        let inner = JobScheduler::new()
            .await
            .map_err(|e| ScheduleError(e.to_string()))?;
        for job in jobs {
            runner.tracker.register(job.name, &job.schedule);
            runner.metrics.init_job(job.name);
            let runner = runner.clone();
            let spec = job.clone();
            let cron = Job::new_async(job.schedule.expr.as_str(), move |_, _| {
                let runner = runner.clone();
                let spec = spec.clone();
                Box::pin(async move {
                    runner.run_once(&spec).await;
                })
            })
            .map_err(|e| ScheduleError(format!("job {}: {e}", job.name)))?;
            inner
                .add(cron)
                .await
                .map_err(|e| ScheduleError(format!("job {}: {e}", job.name)))?;
        }
        inner
            .start()
            .await
            .map_err(|e| ScheduleError(e.to_string()))?;
        Ok(Self { inner })
    }

    /// Stops firing jobs. Runs in progress are not awaited here; see [`Runner::wait_idle`].
    pub async fn shutdown(mut self) {
        if let Err(e) = self.inner.shutdown().await {
            tracing::warn!(error = %e, "scheduler shutdown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, SharedReport};
    use crate::testing::parse_cron;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A runner never cancelled, with its metrics and job tracker.
    fn runner() -> (Metrics, Arc<JobTracker>, Runner) {
        let metrics = Metrics::new(SharedReport::default());
        let tracker = Arc::new(JobTracker::default());
        let runner = Runner::new(
            tracker.clone(),
            metrics.own.clone(),
            CancellationToken::new(),
        );
        (metrics, tracker, runner)
    }

    #[tokio::test]
    async fn overlapping_runs_are_skipped_and_counted() {
        let (metrics, tracker, runner) = runner();
        let release = Arc::new(tokio::sync::Notify::new());
        let calls = Arc::new(AtomicU32::new(0));
        let (r, c) = (release.clone(), calls.clone());
        let job = JobSpec {
            name: "poll",
            schedule: parse_cron("0 0 0 1 1 *").unwrap(),
            run: Arc::new(move |_| {
                let (r, c) = (r.clone(), c.clone());
                Box::pin(async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    r.notified().await;
                    JobOutcome::Success
                })
            }),
        };
        tracker.register("poll", &job.schedule);
        let first = tokio::spawn({
            let (runner, job) = (runner.clone(), job.clone());
            async move { runner.run_once(&job).await }
        });
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(runner.run_once(&job).await, RunResult::Skipped);
        release.notify_one();
        assert_eq!(first.await.unwrap(), RunResult::Ran(JobOutcome::Success));
        assert_eq!(
            metrics.own.job_skipped.with_label_values(&["poll"]).get(),
            1
        );
        let st = &tracker.statuses()["poll"];
        assert_eq!((st.runs, st.skipped), (1, 1));
        assert!(st.last_success.is_some());
        assert!(tracker.overdue(3).is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_runner_begins_no_run() {
        let (metrics, tracker, _) = runner();
        let cancel = CancellationToken::new();
        let runner = Runner::new(tracker.clone(), metrics.own.clone(), cancel.clone());
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let job = JobSpec {
            name: "poll",
            schedule: parse_cron("0 * * * * *").unwrap(),
            run: Arc::new(move |_| {
                let c = c.clone();
                Box::pin(async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    JobOutcome::Success
                })
            }),
        };
        tracker.register("poll", &job.schedule);
        assert_eq!(
            runner.run_once(&job).await,
            RunResult::Ran(JobOutcome::Success)
        );
        cancel.cancel();
        assert_eq!(runner.run_once(&job).await, RunResult::Cancelled);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(tracker.statuses()["poll"].runs, 1);
    }

    #[tokio::test]
    async fn scheduler_fires_cron_jobs() {
        let (_, tracker, runner) = runner();
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let job = JobSpec {
            name: "poll",
            schedule: parse_cron("* * * * * *").unwrap(),
            run: Arc::new(move |_| {
                let c = c.clone();
                Box::pin(async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    JobOutcome::Partial
                })
            }),
        };
        let sched = Scheduler::start(&runner, &[job]).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while calls.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sched.shutdown().await;
        assert!(
            calls.load(Ordering::SeqCst) >= 2,
            "cron job did not fire twice in 10s"
        );
        let st = &tracker.statuses()["poll"];
        assert!(st.last_finish.is_some());
        assert!(st.last_success.is_none(), "partial runs are not successes");
    }
}
