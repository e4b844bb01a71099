//! What ccr-sentinel remembers of what it did: which followers it paused itself and by which rule (a policy,
//! reconcile, or an operator's command), recovery attempts, back-off, how long a remote has been down or up, and
//! the last actions per follower. It sits beside the executor because every acting stage writes it.
//!
//! Plain data, updated by the pure [`crate::policy`] functions and by reconcile. With `[policy] state_dir` it is kept in
//! `history.json` there (written atomically), so a restarted daemon still knows what it paused, and the CLI's
//! `pause`/`resume` commands can tell a running daemon that a pause was intended.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::act::ActionResult;
use crate::config::ClusterKey;

/// How many past actions are kept per follower (shown in `/status`).
pub const LAST_ACTIONS: usize = 10;

/// The rule that caused an action: the `rule` label of `ccr_sentinel_actions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    RecoverFatal,
    RecoverNotStarted,
    ResumeUnexpectedPause,
    PauseOnRemoteOutage,
    Window,
    Promote,
    OnLeaderDeleted,
    /// A command run by a person (`ccr-sentinel pause|resume|unfollow|promote`).
    Manual,
    /// Reconcile: a pause to change follow parameters, until its resume succeeds.
    Reconcile,
    /// `ccr-sentinel switchover`: a planned role swap between two clusters.
    Switchover,
    /// `ccr-sentinel failover`: a role swap towards the cluster that stays.
    Failover,
}

impl Rule {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::RecoverFatal => "recover_fatal",
            Rule::RecoverNotStarted => "recover_not_started",
            Rule::ResumeUnexpectedPause => "resume_unexpected_pause",
            Rule::PauseOnRemoteOutage => "pause_on_remote_outage",
            Rule::Window => "window",
            Rule::Promote => "promote",
            Rule::OnLeaderDeleted => "on_leader_deleted",
            Rule::Manual => "manual",
            Rule::Reconcile => "reconcile",
            Rule::Switchover => "switchover",
            Rule::Failover => "failover",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pause ccr-sentinel made (so it is not mistaken for someone else's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedByUs {
    pub rule: Rule,
    pub at: DateTime<Utc>,
    /// Free text: the window name, the remote, ...
    #[serde(default)]
    pub why: String,
}

/// Consecutive failures of one rule's action on one target, and when it may be tried again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryState {
    pub failures: u32,
    pub until: DateTime<Utc>,
}

/// One past action, as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub at: DateTime<Utc>,
    pub action: String,
    pub rule: Rule,
    pub reason: String,
    /// Written `success`, `failure` or `dry_run` ([`result_str`]).
    #[serde(with = "result_words")]
    pub result: ActionResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The word for an action's result in the history file and `/status`: as the `result` label, except that a
/// failure is `failure` there, as in the existing files; `failed` is read as well.
pub fn result_str(r: ActionResult) -> &'static str {
    match r {
        ActionResult::Failed => "failure",
        other => other.as_str(),
    }
}

mod result_words {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{result_str, ActionResult};

    pub fn serialize<S: Serializer>(r: &ActionResult, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(result_str(*r))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ActionResult, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "success" => ActionResult::Success,
            "already_done" => ActionResult::AlreadyDone,
            "failure" | "failed" => ActionResult::Failed,
            "dry_run" => ActionResult::DryRun,
            other => {
                return Err(serde::de::Error::unknown_variant(
                    other,
                    &["success", "already_done", "failure", "failed", "dry_run"],
                ))
            }
        })
    }
}

/// What is remembered about one follower index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowerHistory {
    /// Set while the follower is paused because ccr-sentinel paused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_by_us: Option<PausedByUs>,
    /// When a pause by someone else was first seen (start of the `resume_unexpected_pause` grace period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_pause_since: Option<DateTime<Utc>>,
    /// Times of `recover_fatal` attempts, for the per-window cap (older ones are dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recover_attempts: Vec<DateTime<Utc>>,
    /// Times of `recover_not_started` attempts, capped as `recover_fatal`'s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_started_attempts: Vec<DateTime<Utc>>,
    /// Back-off per rule after failed actions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub backoff: BTreeMap<Rule, RetryState>,
    /// Consecutive evaluations in which the follower was caught up (for `promote = true`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub caught_up_polls: u32,
    /// Consecutive evaluations in which the leader index was missing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub leader_missing_polls: u32,
    /// Alerts already logged in the current episode (so each is logged once, not every poll).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub alerted: BTreeSet<String>,
    /// The latest actions, oldest first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub last_actions: VecDeque<ActionRecord>,
}

impl FollowerHistory {
    /// Remembers an action, keeping the latest [`LAST_ACTIONS`].
    pub fn push_action(&mut self, r: ActionRecord) {
        self.last_actions.push_back(r);
        while self.last_actions.len() > LAST_ACTIONS {
            self.last_actions.pop_front();
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Connectivity history of one remote alias on one follower cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteHistory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_since: Option<DateTime<Utc>>,
}

/// Everything the policies remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// By [`key`] (`cluster/follower_index`).
    #[serde(default)]
    pub followers: BTreeMap<ClusterKey, FollowerHistory>,
    /// By [`key`] (`cluster/alias`).
    #[serde(default)]
    pub remotes: BTreeMap<ClusterKey, RemoteHistory>,
    /// Auto-follow patterns paused by ccr-sentinel, by [`key`] (`cluster/pattern`).
    #[serde(default)]
    pub paused_patterns: BTreeMap<ClusterKey, PausedByUs>,
    /// Times of actions sent in the last minute (the global rate limit).
    #[serde(default)]
    pub sent: VecDeque<DateTime<Utc>>,
}

/// The map key of a follower, remote or pattern on a cluster (written `cluster/name`).
pub fn key(cluster: &str, name: &str) -> ClusterKey {
    ClusterKey::new(cluster, name)
}

/// Reading or writing the history file failed.
pub type HistoryError = crate::sync::StateFileError;

impl History {
    /// The history file in `state_dir`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("history.json")
    }

    /// Loads `state_dir/history.json`; an absent file is an empty history.
    pub fn load(state_dir: &Path) -> Result<Self, HistoryError> {
        crate::sync::load_json(Self::path(state_dir), "history")
    }

    /// Writes `state_dir/history.json` atomically (temporary file + rename), creating the directory.
    pub fn save(&self, state_dir: &Path) -> Result<(), HistoryError> {
        crate::sync::save_json(Self::path(state_dir), self)
    }

    /// The entry of a follower, created when absent.
    pub fn follower_mut(&mut self, cluster: &str, index: &str) -> &mut FollowerHistory {
        self.followers.entry(key(cluster, index)).or_default()
    }

    /// The entry of a follower, if any.
    pub fn follower(&self, cluster: &str, index: &str) -> Option<&FollowerHistory> {
        self.followers.get(ClusterKey::parts_of(&(cluster, index)))
    }
}

/// The one [`History`] of a daemon, shared by the policy engine and reconcile: kept in memory and, with a
/// state directory, in `history.json` there (the file is the shared truth: the CLI writes it too).
#[derive(Debug, Clone, Default)]
pub struct SharedHistory {
    inner: Arc<Mutex<History>>,
    state_dir: Option<PathBuf>,
}

impl SharedHistory {
    /// Starts from `history`, saved to `state_dir` when given.
    pub fn new(history: History, state_dir: Option<PathBuf>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(history)),
            state_dir,
        }
    }

    fn lock(&self) -> MutexGuard<'_, History> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The history in memory.
    pub fn snapshot(&self) -> History {
        self.lock().clone()
    }

    /// `f` of the history in memory, read in place rather than copied.
    pub fn read<R>(&self, f: impl FnOnce(&History) -> R) -> R {
        f(&self.lock())
    }

    /// The latest history: the state file when there is one and it reads, else the one in memory.
    pub fn current(&self) -> History {
        let mem = self.snapshot();
        self.load_or(mem)
    }

    fn load_or(&self, mem: History) -> History {
        let Some(dir) = &self.state_dir else {
            return mem;
        };
        match History::load(dir) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the policy history; using the one in memory");
                mem
            }
        }
    }

    /// Changes the latest history with `f` and keeps the result, writing the state file when it changed.
    pub fn update<R>(&self, f: impl FnOnce(&mut History) -> R) -> R {
        let mut g = self.lock();
        // Without a state file there is nothing to compare against: change the history in place.
        if self.state_dir.is_none() {
            return f(&mut g);
        }
        // The file when it reads, else the history in memory.
        let before = self.load_or(g.clone());
        let mut h = before.clone();
        let r = f(&mut h);
        if h != before {
            self.save(&h);
        }
        *g = h;
        r
    }

    fn save(&self, h: &History) {
        if let Some(dir) = &self.state_dir {
            if let Err(e) = h.save(dir) {
                tracing::error!(error = %e, "cannot save the policy history");
            }
        }
    }
}

pub use crate::sync::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(History::load(dir.path()).unwrap(), History::default());
        let mut h = History::default();
        let now = Utc::now();
        h.follower_mut("follower", "logs").paused_by_us = Some(PausedByUs {
            rule: Rule::Window,
            at: now,
            why: "window `nightly`".into(),
        });
        for i in 0..(LAST_ACTIONS + 3) {
            h.follower_mut("follower", "logs")
                .push_action(ActionRecord {
                    at: now,
                    action: "pause".into(),
                    rule: Rule::Window,
                    reason: format!("#{i}"),
                    result: ActionResult::Success,
                    error: None,
                });
        }
        h.save(dir.path()).unwrap();
        let back = History::load(dir.path()).unwrap();
        assert_eq!(back, h);
        let f = back.follower("follower", "logs").unwrap();
        assert_eq!(f.last_actions.len(), LAST_ACTIONS);
        assert_eq!(f.last_actions.front().unwrap().reason, "#3");
    }

    /// A file as the daemon writes it (keys `cluster/name`, results `success`/`failure`/`dry_run`).
    const WRITTEN: &str = r#"{
  "followers": {
    "follower-b/logs": {
      "unexpected_pause_since": "2026-01-02T03:04:05Z"
    },
    "follower/logs-copy": {
      "paused_by_us": {
        "rule": "recover_fatal",
        "at": "2026-01-02T03:04:05Z",
        "why": "pause + resume (the resume failed)"
      },
      "recover_attempts": [
        "2026-01-02T03:04:05Z"
      ],
      "backoff": {
        "recover_fatal": {
          "failures": 2,
          "until": "2026-01-02T03:05:05Z"
        }
      },
      "caught_up_polls": 1,
      "alerted": [
        "needs_refollow"
      ],
      "last_actions": [
        {
          "at": "2026-01-02T03:04:05Z",
          "action": "pause_resume",
          "rule": "recover_fatal",
          "reason": "shard 0 failed",
          "result": "failure",
          "error": "503"
        },
        {
          "at": "2026-01-02T03:04:06Z",
          "action": "pause",
          "rule": "window",
          "reason": "maintenance window `nightly`",
          "result": "success"
        },
        {
          "at": "2026-01-02T03:04:07Z",
          "action": "resume",
          "rule": "window",
          "reason": "maintenance window `nightly` ended",
          "result": "dry_run"
        }
      ]
    }
  },
  "remotes": {
    "follower/leader": {
      "disconnected_since": "2026-01-02T03:04:05Z"
    }
  },
  "paused_patterns": {
    "follower/logs-pattern": {
      "rule": "window",
      "at": "2026-01-02T03:04:05Z",
      "why": "maintenance window `nightly`"
    }
  },
  "sent": [
    "2026-01-02T03:04:05Z"
  ]
}"#;

    #[test]
    fn a_file_written_before_loads_and_saves_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(History::path(dir.path()), WRITTEN).unwrap();
        let h = History::load(dir.path()).unwrap();
        let f = h.follower("follower", "logs-copy").unwrap();
        assert_eq!(f.backoff[&Rule::RecoverFatal].failures, 2);
        assert_eq!(f.last_actions.len(), 3);
        assert!(h.follower("follower-b", "logs").is_some());
        h.save(dir.path()).unwrap();
        let back = std::fs::read_to_string(History::path(dir.path())).unwrap();
        assert_eq!(back, WRITTEN);
    }

    #[test]
    fn results_are_written_as_before_and_failed_is_read_too() {
        let rec = |result: &str| {
            format!(
                r#"{{"at":"2026-01-02T03:04:05Z","action":"pause","rule":"window","reason":"r","result":"{result}"}}"#
            )
        };
        for (word, result) in [
            ("success", ActionResult::Success),
            ("failure", ActionResult::Failed),
            ("dry_run", ActionResult::DryRun),
            ("already_done", ActionResult::AlreadyDone),
        ] {
            let r: ActionRecord = serde_json::from_str(&rec(word)).unwrap();
            assert_eq!(r.result, result);
            assert_eq!(serde_json::to_string(&r).unwrap(), rec(word));
        }
        let r: ActionRecord = serde_json::from_str(&rec("failed")).unwrap();
        assert_eq!(r.result, ActionResult::Failed);
        assert!(serde_json::to_string(&r)
            .unwrap()
            .contains(r#""result":"failure""#));
        assert!(serde_json::from_str::<ActionRecord>(&rec("exploded")).is_err());
    }

    #[test]
    fn the_shared_history_reads_and_writes_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let shared = SharedHistory::new(History::default(), Some(dir.path().to_path_buf()));
        let other = shared.clone();
        other.update(|h| h.follower_mut("follower", "logs").caught_up_polls = 2);
        assert_eq!(
            shared
                .snapshot()
                .follower("follower", "logs")
                .unwrap()
                .caught_up_polls,
            2
        );
        let on_disk = History::load(dir.path()).unwrap();
        assert_eq!(on_disk, shared.snapshot());
        // Someone else (the CLI) writes the file: the next update starts from it.
        let mut h = on_disk;
        h.follower_mut("follower", "other").caught_up_polls = 1;
        h.save(dir.path()).unwrap();
        assert_eq!(shared.current(), h);
        shared.update(|h| h.follower_mut("follower", "logs").caught_up_polls = 3);
        let back = History::load(dir.path()).unwrap();
        assert_eq!(
            back.follower("follower", "other").unwrap().caught_up_polls,
            1
        );
        assert_eq!(
            back.follower("follower", "logs").unwrap().caught_up_polls,
            3
        );
        let mem = SharedHistory::default();
        mem.update(|h| h.sent.push_back(Utc::now()));
        assert_eq!(mem.current().sent.len(), 1);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(History::path(dir.path()), b"{not json").unwrap();
        let e = History::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("history.json"), "{e}");
    }
}
