//! The DR topology file while the daemon runs: `[policy] state_dir/topology.json`, written by `switchover`, is
//! applied at start-up and at every reload, and a change is noticed by its modification time and size (one
//! `stat` per poll period, never a read per follower), after which the daemon is rebuilt on the new effective
//! configuration exactly as a reload does. Until the new topology is in, the `reconcile` job skips its runs, so
//! it never acts on the topology a switchover just replaced.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::config::{Config, Topology};

/// What identifies one version of the file: its modification time and size, or absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stamp {
    /// No state directory, or no file in it.
    Absent,
    /// The file as last seen.
    Present {
        modified: Option<SystemTime>,
        len: u64,
    },
    /// The file exists but cannot be inspected.
    Unreadable,
}

/// The topology file of `cfg`, when it has a state directory.
pub(super) fn path(cfg: &Config) -> Option<PathBuf> {
    cfg.policy.state_dir.as_deref().map(Topology::path)
}

/// The file's current stamp.
pub(super) fn stamp(cfg: &Config) -> Stamp {
    let Some(path) = path(cfg) else {
        return Stamp::Absent;
    };
    match std::fs::metadata(&path) {
        Ok(m) => Stamp::Present {
            modified: m.modified().ok(),
            len: m.len(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stamp::Absent,
        Err(_) => Stamp::Unreadable,
    }
}

/// How often the file is looked at: the poll period, at least a second.
pub(super) fn check_period(cfg: &Config) -> Duration {
    cfg.schedule.poll.period.max(Duration::from_secs(1))
}

/// The effective configuration of `declared` with its topology file, with every problem logged: a file that
/// cannot be read at `error` (the declared configuration is used and reconcile suspended), an entry that does
/// not fit at `warn`.
pub(super) fn effective(declared: &Config) -> Config {
    let cfg = declared.with_topology_file();
    let file = path(declared)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let Some(e) = &cfg.topology_error {
        tracing::error!(
            file = %file,
            error = %e,
            "the DR topology file cannot be read; using the declared configuration, and reconcile is suspended \
             until the file reads again (fix or remove it; see docs/operations.md)"
        );
    } else {
        for p in &cfg.topology_problems {
            tracing::warn!(file = %file, problem = %p, "DR topology entry left out");
        }
        for pair in &cfg.topology.pairs {
            tracing::info!(
                pair = %pair.name(),
                active = %pair.active,
                promoted = pair.promoted.len(),
                reverse_followers = pair.followers.len(),
                reverse_patterns = pair.auto_follow.len(),
                "DR topology applied"
            );
        }
    }
    cfg
}

/// Whether the applied topology of `running` differs from what `next` would apply.
pub(super) fn differs(running: &Config, next: &Config) -> bool {
    running.topology != next.topology
        || running.topology_error != next.topology_error
        || running.topology_problems != next.topology_problems
}
