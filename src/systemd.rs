//! systemd notify protocol (`Type=notify`): `READY=1`, `STATUS=...`, `WATCHDOG=1` and `STOPPING=1`.
//!
//! All calls are no-ops when `NOTIFY_SOCKET` is unset (a terminal, Docker). Send failures are logged, never
//! fatal: the daemon's work does not depend on systemd hearing it.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::schedule::JobTracker;

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
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {
                let overdue = tracker.overdue(periods);
                if overdue.is_empty() {
                    send(&[NotifyState::Watchdog]);
                } else {
                    tracing::error!(?overdue, "jobs are overdue; withholding the systemd watchdog ping");
                }
            }
        }
    }
}
