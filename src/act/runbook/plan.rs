//! The pure half of the runbooks: which unfollow steps are still missing ([`plan_steps`]) and whether the looks
//! at a follower allow promote to cut over ([`promote_ready`]).

use serde::{Deserialize, Serialize};

use crate::es::FollowerStatus;
use crate::observe::caught_up::{caught_up, CaughtUp, Docs, NotCaughtUp, ShardLook};

/// One step of the unfollow runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Pause,
    Close,
    Unfollow,
    Open,
    /// Leader-side retention-lease clean-up after an unfollow that could not remove them itself.
    ForgetFollower,
}

impl Step {
    /// The step's name as printed and recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Pause => "pause",
            Step::Close => "close",
            Step::Unfollow => "unfollow",
            Step::Open => "open",
            Step::ForgetFollower => "forget_follower",
        }
    }
}

/// What the runbook needs to know about the index, looked at before every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexView {
    pub exists: bool,
    pub open: bool,
    /// `None` when the index is not (or no longer) a follower.
    pub follower: Option<FollowerView>,
}

/// The follower part of [`IndexView`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerView {
    pub status: FollowerStatus,
    pub remote_cluster: String,
    pub leader_index: String,
}

/// The steps still needed to turn the index into a regular open index, in order. An empty list means done.
/// `Err` when the runbook cannot proceed (the index does not exist, or its follower status is not understood).
pub fn plan_steps(v: &IndexView) -> Result<Vec<Step>, String> {
    if !v.exists {
        return Err("the index does not exist".into());
    }
    let mut steps = Vec::new();
    match &v.follower {
        Some(f) => {
            match f.status {
                FollowerStatus::Active => steps.push(Step::Pause),
                FollowerStatus::Paused => {}
                FollowerStatus::Unknown => {
                    return Err("the follower status is neither active nor paused".into())
                }
            }
            if v.open {
                steps.push(Step::Close);
            }
            steps.push(Step::Unfollow);
            steps.push(Step::Open);
        }
        None if !v.open => steps.push(Step::Open),
        None => {}
    }
    Ok(steps)
}

/// One look at a follower for promote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CatchUpSample {
    /// `_ccr/info` status (`None`: not a follower).
    pub status: Option<FollowerStatus>,
    /// The follower's `remote_cluster`.
    pub remote_cluster: String,
    /// Whether the follower cluster's connection to `remote_cluster` was up.
    pub remote_connected: bool,
    /// The shard follow tasks (empty while there are no follow stats).
    pub shards: Vec<ShardLook>,
    pub leader_docs: Option<i64>,
    pub follower_docs: Option<i64>,
}

/// `Ok` when the last `stable` samples all show a caught-up follower of a leader that stopped receiving writes
/// (see [`crate::observe::caught_up`]), each compared with the one before it so that the leader checkpoints
/// are unchanged across the samples. Otherwise the reason.
pub fn promote_ready(samples: &[CatchUpSample], stable: usize) -> Result<(), String> {
    let stable = stable.max(1);
    let recent = &samples[samples.len().saturating_sub(stable)..];
    for (i, s) in recent.iter().enumerate().rev() {
        let earlier = i.checked_sub(1).map(|j| &recent[j]);
        sample_ok(s, earlier).map_err(|e| match e {
            NotCaughtUp::Paused => format!("{e} (resume it, or use --force)"),
            NotCaughtUp::LeaderMoved => format!("{e}; stop writes to the leader first"),
            e => e.to_string(),
        })?;
    }
    if samples.len() < stable {
        return Err(format!(
            "caught up, but only {} of {stable} looks so far",
            samples.len()
        ));
    }
    Ok(())
}

/// One sample, with the leader checkpoints of the sample before it when there is one.
fn sample_ok(s: &CatchUpSample, earlier: Option<&CatchUpSample>) -> Result<(), NotCaughtUp> {
    caught_up(&CaughtUp {
        status: s.status,
        remote_cluster: &s.remote_cluster,
        remote_connected: s.remote_connected,
        shards: Some(&s.shards),
        reported_lag: None,
        earlier: earlier.map(|e| e.shards.as_slice()),
        docs: match (s.leader_docs, s.follower_docs) {
            (Some(leader), Some(follower)) => Docs::Counted { leader, follower },
            _ => Docs::Unknown,
        },
    })
}
