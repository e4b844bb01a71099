//! systemd notify protocol (`Type=notify`): `READY=1`, `STATUS=...`, `WATCHDOG=1`, `RELOADING=1` and
//! `STOPPING=1`.
//!
//! All calls are no-ops when `NOTIFY_SOCKET` is unset (a terminal, Docker). Send failures are logged, never
//! fatal: the daemon's work does not depend on systemd hearing it.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::daemon::schedule::JobTracker;

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// `READY=1` with a first `STATUS=` line.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `STATUS=...`: a one-line summary shown by `systemctl status`.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// `RELOADING=1` with `MONOTONIC_USEC` (what `Type=notify-reload`, systemd 253+, requires; older systemd
/// ignores both), followed by [`ready`] once the new configuration runs.
pub fn reloading() {
    let mut states = vec![NotifyState::Reloading, NotifyState::Status("reloading")];
    match NotifyState::monotonic_usec_now() {
        Ok(now) => states.push(now),
        Err(e) => tracing::debug!(error = %e, "cannot read the monotonic clock for MONOTONIC_USEC"),
    }
    send(&states);
}

/// `STOPPING=1`.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// The watchdog ping interval: half of `WATCHDOG_USEC`, when systemd enabled the watchdog for this process.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

/// Pings `WATCHDOG=1` every `interval` while every job runs on time (none overdue by `periods` periods). When a
/// job is overdue the pings stop, so systemd restarts a daemon whose scheduler has stalled.
pub async fn watchdog(
    interval: Duration,
    tracker: Arc<JobTracker>,
    periods: u32,
    cancel: CancellationToken,
) {
    watchdog_with(interval, tracker, periods, cancel, || {
        send(&[NotifyState::Watchdog])
    })
    .await
}

/// [`watchdog`] with the ping injected, for tests.
pub async fn watchdog_with(
    interval: Duration,
    tracker: Arc<JobTracker>,
    periods: u32,
    cancel: CancellationToken,
    ping: impl Fn(),
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut withheld = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {
                let overdue = tracker.overdue(periods);
                if overdue.is_empty() {
                    withheld = false;
                    ping();
                } else if !withheld {
                    withheld = true;
                    tracing::error!(?overdue, "jobs are overdue; withholding the systemd watchdog ping");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::parse_cron;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn pings_stop_while_a_job_is_overdue() {
        let tracker = Arc::new(JobTracker::default());
        let mut schedule = parse_cron("* * * * * *").unwrap();
        schedule.period = Duration::from_millis(100);
        tracker.register("poll", &schedule);
        let pings = Arc::new(AtomicU32::new(0));
        let cancel = CancellationToken::new();
        let p = pings.clone();
        let task = tokio::spawn(watchdog_with(
            Duration::from_millis(20),
            tracker.clone(),
            3,
            cancel.clone(),
            move || {
                p.fetch_add(1, Ordering::SeqCst);
            },
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let on_time = pings.load(Ordering::SeqCst);
        assert!(on_time >= 2, "only {on_time} pings while on time");
        // The job never finishes: after 3 periods (300 ms) it is overdue and the pings stop.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = pings.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(pings.load(Ordering::SeqCst), before, "pinged while overdue");
        cancel.cancel();
        task.await.unwrap();
    }
}
