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

/// One step of the key rotation runbook (`rotate-key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotateStep {
    /// Create the new cross-cluster API key on the leader, with the old key's access, and hand its secret over.
    Mint,
    /// The operator installs the new key in the keystore of every follower node (only a person can).
    OperatorStep,
    /// `POST /_nodes/reload_secure_settings` on the follower cluster (8.13+).
    Reload,
    /// Wait until `_remote/info` shows the remote connected with `cluster_credentials`.
    AwaitReconnect,
    /// Invalidate the old key(s) on the leader.
    Invalidate,
}

impl RotateStep {
    /// The step's name as printed and recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            RotateStep::Mint => "mint",
            RotateStep::OperatorStep => "operator_step",
            RotateStep::Reload => "reload",
            RotateStep::AwaitReconnect => "await_reconnect",
            RotateStep::Invalidate => "invalidate",
        }
    }
}

/// What the rotation looks at before every step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RotationView {
    /// The new key the record names, when it is still usable on the leader.
    pub new_key_usable: bool,
    /// Usable keys of the remote other than the new one: what the rotation invalidates at the end.
    pub old_keys_usable: Vec<String>,
    /// The operator said the new key is in every follower node's keystore (`--installed`).
    pub installed: bool,
    /// The follower cluster reloaded its secure settings since that confirmation.
    pub reloaded: bool,
    /// `_remote/info` on the follower shows the remote connected with `cluster_credentials`.
    pub connected: bool,
}

/// The next step of the rotation, or `None` when it is done. Level-triggered like [`plan_steps`]: a re-run
/// after a crash anywhere does the first step still missing, and a step someone else did is not repeated. The
/// old keys are invalidated only once the follower is connected after reloading the confirmed new key, so the
/// followers are never left without a usable key.
pub fn rotation_next(v: &RotationView) -> Option<RotateStep> {
    if !v.new_key_usable {
        return Some(RotateStep::Mint);
    }
    if !v.installed {
        return Some(RotateStep::OperatorStep);
    }
    if !v.reloaded {
        return Some(RotateStep::Reload);
    }
    if !v.connected {
        return Some(RotateStep::AwaitReconnect);
    }
    if !v.old_keys_usable.is_empty() {
        return Some(RotateStep::Invalidate);
    }
    None
}

/// The lifetime to give a new key so it lasts as long as the one it replaces: the old key's expiration minus
/// its creation, as an Elasticsearch time value in whole seconds (`None`: the old key never expired).
pub fn same_lifetime(creation_ms: Option<i64>, expiration_ms: Option<i64>) -> Option<String> {
    let (c, e) = (creation_ms?, expiration_ms?);
    Some(format!("{}s", ((e - c) / 1000).max(1)))
}

#[cfg(test)]
mod rotate_tests {
    use super::*;

    #[test]
    fn rotation_steps_in_order_and_never_invalidate_before_reconnect() {
        let all_done = RotationView {
            new_key_usable: true,
            old_keys_usable: vec![],
            installed: true,
            reloaded: true,
            connected: true,
        };
        let with = |f: &dyn Fn(&mut RotationView)| {
            let mut v = all_done.clone();
            f(&mut v);
            rotation_next(&v)
        };
        let old = |v: &mut RotationView| v.old_keys_usable = vec!["old".into()];
        let rows: Vec<(&str, Option<RotateStep>)> = vec![
            ("done", rotation_next(&all_done)),
            (
                "nothing yet",
                rotation_next(&RotationView {
                    old_keys_usable: vec!["old".into()],
                    ..Default::default()
                }),
            ),
            (
                "minted, not installed",
                with(&|v| {
                    old(v);
                    v.installed = false;
                    v.reloaded = false;
                    v.connected = true;
                }),
            ),
            (
                "installed, not reloaded",
                with(&|v| {
                    old(v);
                    v.reloaded = false;
                }),
            ),
            (
                "reloaded, disconnected",
                with(&|v| {
                    old(v);
                    v.connected = false;
                }),
            ),
            ("connected", with(&|v| old(v))),
            (
                "the new key was invalidated meanwhile",
                with(&|v| {
                    old(v);
                    v.new_key_usable = false;
                }),
            ),
            (
                "old key already gone, disconnected",
                with(&|v| v.connected = false),
            ),
        ];
        let want = [
            None,
            Some(RotateStep::Mint),
            Some(RotateStep::OperatorStep),
            Some(RotateStep::Reload),
            Some(RotateStep::AwaitReconnect),
            Some(RotateStep::Invalidate),
            Some(RotateStep::Mint),
            Some(RotateStep::AwaitReconnect),
        ];
        for ((name, got), want) in rows.into_iter().zip(want) {
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn a_new_key_lives_as_long_as_the_old_one() {
        assert_eq!(
            same_lifetime(Some(1_000), Some(90 * 86_400_000 + 1_000)),
            Some("7776000s".into())
        );
        assert_eq!(same_lifetime(Some(1_000), None), None);
        assert_eq!(same_lifetime(Some(5_000), Some(5_000)), Some("1s".into()));
    }
}
