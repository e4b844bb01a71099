//! Configuration reload (SIGHUP, `systemctl reload`): the new file is loaded and validated off the runtime's
//! threads; when it is valid the daemon is rebuilt on it and swapped in between job runs (see
//! [`Daemon::run_with_reload`](super::Daemon::run_with_reload)), otherwise the running configuration stays and
//! every problem is logged. Reloads are counted and the configuration's identity is shown in `/status`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::config::Config;

/// A reload whose file cannot be read within this time (a FIFO, a hung network file system) fails instead of
/// holding the daemon.
const LOAD_DEADLINE: Duration = Duration::from_secs(10);

/// Where reloads come from: the configuration file and a channel of reload requests.
pub struct Reload {
    /// The file read at start-up, read again on each request.
    pub path: PathBuf,
    /// One message per reload request (a SIGHUP).
    pub requests: mpsc::Receiver<()>,
}

impl Reload {
    /// Reloads of `path` on every SIGHUP the process receives.
    pub fn on_sighup(path: PathBuf) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(1);
        #[cfg(unix)]
        {
            let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    tracing::info!("SIGHUP received; reloading the configuration");
                    // A reload already queued covers this one too.
                    let _ = tx.try_send(());
                }
            });
        }
        #[cfg(not(unix))]
        drop(tx);
        Ok(Self { path, requests: rx })
    }
}

/// The identity of the running configuration, the `config` section of `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigIdentity {
    /// The file, when the daemon was started from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// SHA-256 of the file's bytes as read (environment overrides are not included), as `sha256sum` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// 1 at start-up, one more at each successful reload.
    pub generation: u64,
    pub loaded_at: DateTime<Utc>,
    /// The last reload attempt, successful or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reload: Option<ReloadAttempt>,
}

/// One reload attempt.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadAttempt {
    pub at: DateTime<Utc>,
    /// `success` or `failure`.
    pub result: &'static str,
    /// Why it failed (every problem of the new file), empty on success.
    pub problems: Vec<String>,
}

/// SHA-256 of the file at `path`, lowercase hex; `None` when it cannot be read.
pub fn file_sha256(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let d = ring::digest::digest(&ring::digest::SHA256, &bytes);
    Some(d.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// Loads and validates `path` on a blocking thread, within [`LOAD_DEADLINE`]; every problem on failure.
pub(super) async fn load(path: &Path) -> Result<(Config, Option<String>), Vec<String>> {
    let p = path.to_path_buf();
    let task = tokio::task::spawn_blocking(move || {
        let hash = file_sha256(&p);
        crate::config::load(&p).map(|c| (c, hash))
    });
    match tokio::time::timeout(LOAD_DEADLINE, task).await {
        Ok(Ok(Ok(loaded))) => Ok(loaded),
        Ok(Ok(Err(e))) => Err(e.problems),
        Ok(Err(e)) => Err(vec![format!("the configuration loader failed: {e}")]),
        Err(_) => Err(vec![format!(
            "{} (or a file it names) could not be read within {}",
            path.display(),
            humantime::format_duration(LOAD_DEADLINE)
        )]),
    }
}

/// What a reload cannot change while the daemon runs: the HTTP listener (address and limits) and the overdue
/// limit of `/health` and the watchdog. Each one that changed is named so the log says a restart is needed.
pub(super) fn needs_restart(old: &Config, new: &Config) -> Vec<String> {
    let mut v = Vec::new();
    if old.http.listen != new.http.listen {
        v.push(format!(
            "`http.listen` changed from {} to {}",
            old.http.listen, new.http.listen
        ));
    }
    if old.http.limits != new.http.limits {
        v.push("the `[http]` limits changed".into());
    }
    if old.health.job_overdue_periods != new.health.job_overdue_periods {
        // `/health` and the watchdog were started with the old value.
        v.push("`health.job_overdue_periods` changed".into());
    }
    v
}
