//! The daemon's jobs: what each one runs and where its result goes.

use std::sync::Arc;

use crate::daemon::schedule::{JobOutcome, JobSpec};
use crate::daemon::Daemon;
use crate::reconcile::{status_section, Reconciler};

/// `poll`: the CCR reads of every follower cluster, then the policies on the report it just built.
pub(super) fn poll(d: &Daemon) -> JobSpec {
    let d = d.clone();
    JobSpec {
        name: "poll",
        schedule: d.cfg.schedule.poll.clone(),
        run: Arc::new(move |_| {
            let d = d.clone();
            Box::pin(async move {
                let outcome = d.poll_once().await;
                // Policies are evaluated after every poll, on the report it just built.
                if let Some(p) = &d.policy {
                    p.run_once(&d.report()).await;
                    let abandoned = p.abandoned_runbooks().len();
                    d.metrics
                        .lifecycle
                        .runbooks_abandoned
                        .set(i64::try_from(abandoned).unwrap_or(i64::MAX));
                    d.set_status_section("policy", p.status());
                }
                outcome
            })
        }),
    }
}

/// `doc_counts`: leader and follower document counts and their parity.
pub(super) fn doc_counts(d: &Daemon) -> JobSpec {
    let d = d.clone();
    JobSpec {
        name: "doc_counts",
        schedule: d.cfg.schedule.doc_counts.clone(),
        run: Arc::new(move |_| {
            let d = d.clone();
            Box::pin(async move { d.doc_counts_once().await })
        }),
    }
}

/// `heartbeat`: the canary writes into the leader clusters of `heartbeat = true` remotes.
pub(super) fn heartbeat(d: &Daemon, hb: crate::act::heartbeat::Heartbeat) -> JobSpec {
    let d = d.clone();
    JobSpec {
        name: "heartbeat",
        schedule: d.cfg.schedule.heartbeat.clone(),
        run: Arc::new(move |_| {
            let (hb, d) = (hb.clone(), d.clone());
            Box::pin(async move {
                let mut outcome = JobOutcome::Success;
                for (cluster, r) in hb.beat(chrono::Utc::now()).await {
                    if let Err(e) = r {
                        d.record_error(&cluster, &e);
                        outcome = JobOutcome::Partial;
                    }
                }
                outcome
            })
        }),
    }
}

/// `reconcile`: one run of `reconciler` (stopping between items at shutdown); its report is the `/status`
/// `reconcile` section.
pub(super) fn reconcile(d: &Daemon, reconciler: Reconciler) -> JobSpec {
    let d = d.clone();
    JobSpec {
        name: "reconcile",
        schedule: d.cfg.schedule.reconcile.clone(),
        run: Arc::new(move |cancel| {
            let (r, d) = (reconciler.clone(), d.clone());
            Box::pin(async move {
                if d.topology_changed() {
                    // A switchover rewrote the topology: the daemon is rebuilt on it within a poll period, and
                    // this run would act on the one it replaced.
                    tracing::info!(
                        "the DR topology file changed; reconcile waits until it is applied"
                    );
                    return JobOutcome::Success;
                }
                let report = r.run_until(&cancel).await;
                d.set_status_section("reconcile", status_section(&report));
                if report.ok() {
                    JobOutcome::Success
                } else {
                    JobOutcome::Partial
                }
            })
        }),
    }
}
