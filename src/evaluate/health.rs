//! Follower verdicts: a pure function from a [`FollowerObservation`] and the thresholds to one state plus the
//! reasons, as text.
//!
//! When several problems apply, the state is the most severe one (the order of [`FollowerState::ALL`] after
//! `healthy`, read from the end: `unknown` first, `docs_mismatch` last) and `reasons` lists every problem found,
//! so a paused follower whose remote is also disconnected says both.

use serde::Serialize;

use crate::config::HealthThresholds;
use crate::es::FollowerStatus;
use crate::evaluate::lag::{FollowerTime, Grade, GRADE_WINDOW};
use crate::observe::{FollowerObservation, Freshness, RemoteObservation};

/// The state of one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowerState {
    Healthy,
    /// Replication lag over `max_lag_operations`.
    Lagging,
    /// Behind the leader and no read for longer than `max_time_since_last_read`.
    Stalled,
    /// A shard task stopped with a fatal exception; pause + resume is needed.
    Failed,
    /// A fatal exception that pause + resume cannot fix (the leader no longer keeps the history the follower
    /// needs: retention leases lost); the follower must be recreated.
    NeedsRefollow,
    Paused,
    /// The initial copy (the restore put follow started) is running: no shard tasks yet, by design.
    Bootstrapping,
    /// The initial copy finished but following never started: paused, no shard tasks, paused by nobody.
    NotStarted,
    /// The follower cluster's connection to the remote is down (or the alias is not configured there).
    RemoteDisconnected,
    /// Leader and follower document counts differ although the follower has caught up.
    DocsMismatch,
    /// Configured, but absent or not a follower.
    Missing,
    /// The leader index does not exist on the leader cluster.
    LeaderMissing,
    /// The follower's cluster cannot be read.
    Unknown,
}

impl FollowerState {
    /// Every state, in the order of the `state` label series.
    pub const ALL: [FollowerState; 13] = [
        FollowerState::Healthy,
        FollowerState::Lagging,
        FollowerState::Stalled,
        FollowerState::Failed,
        FollowerState::NeedsRefollow,
        FollowerState::Paused,
        FollowerState::RemoteDisconnected,
        FollowerState::DocsMismatch,
        FollowerState::Missing,
        FollowerState::LeaderMissing,
        FollowerState::Unknown,
        FollowerState::Bootstrapping,
        FollowerState::NotStarted,
    ];

    /// The `state` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowerState::Healthy => "healthy",
            FollowerState::Lagging => "lagging",
            FollowerState::Stalled => "stalled",
            FollowerState::Failed => "failed",
            FollowerState::NeedsRefollow => "needs_refollow",
            FollowerState::Paused => "paused",
            FollowerState::RemoteDisconnected => "remote_disconnected",
            FollowerState::DocsMismatch => "docs_mismatch",
            FollowerState::Missing => "missing",
            FollowerState::LeaderMissing => "leader_missing",
            FollowerState::Unknown => "unknown",
            FollowerState::Bootstrapping => "bootstrapping",
            FollowerState::NotStarted => "not_started",
        }
    }

    /// Higher is more severe; decides which state wins when several apply, and a data stream's worst follower.
    pub fn severity(self) -> u8 {
        match self {
            FollowerState::Healthy => 0,
            // A copy in progress is not a problem; any real problem found beside it wins.
            FollowerState::Bootstrapping => 1,
            FollowerState::DocsMismatch => 2,
            FollowerState::Lagging => 3,
            FollowerState::Stalled => 4,
            FollowerState::RemoteDisconnected => 5,
            FollowerState::Paused => 6,
            FollowerState::NotStarted => 7,
            FollowerState::Failed => 8,
            FollowerState::NeedsRefollow => 9,
            FollowerState::LeaderMissing => 10,
            FollowerState::Missing => 11,
            FollowerState::Unknown => 12,
        }
    }
}

impl std::fmt::Display for FollowerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of one follower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub state: FollowerState,
    /// Every problem found, most severe first; empty when healthy.
    pub reasons: Vec<String>,
}

/// Fatal exceptions that pause + resume cannot repair: the leader dropped the operations the follower needs
/// (ES reports `Operations are no longer available for replicating ...`, with `requested_operations_missing`
/// metadata since 7.4), or the leader index was recreated.
fn needs_refollow(cause: &crate::es::ErrorCause) -> bool {
    cause.operations_missing()
        || [
            "retention_lease",
            "retention lease",
            "insufficient history",
            "operations are no longer available",
            "should reference",
        ]
        .iter()
        .any(|n| cause.mentions(n))
}

/// Decides the state of one follower.
pub fn verdict(o: &FollowerObservation, t: &HealthThresholds) -> Verdict {
    let (mut found, stale_note) = match &o.freshness {
        Freshness::Unavailable { error } => {
            let why = error.clone().unwrap_or_else(|| "not polled yet".into());
            return Verdict {
                state: FollowerState::Unknown,
                reasons: vec![format!(
                    "cluster `{}` cannot be read: {why}",
                    o.follower_cluster
                )],
            };
        }
        Freshness::Stale { as_of, error } => (
            Vec::new(),
            Some(format!(
                "cluster `{}` cannot be read: {error}; last data from {}",
                o.follower_cluster,
                as_of.format("%Y-%m-%dT%H:%M:%SZ")
            )),
        ),
        Freshness::Fresh => (Vec::new(), None),
    };
    let mut add = |s: FollowerState, r: String| found.push((s, r));

    match o.status {
        None => {
            let what = match o.follower_index_exists {
                Some(true) => "exists but is not a follower index",
                Some(false) => "does not exist",
                None => "is not a follower index (or does not exist)",
            };
            if o.managed {
                add(
                    FollowerState::Missing,
                    format!(
                        "follower_index `{}` on `{}` {what}",
                        o.follower_index, o.follower_cluster
                    ),
                );
            } else {
                // An unmanaged follower that vanished is simply no longer reported; nothing else to judge.
                add(
                    FollowerState::Missing,
                    format!(
                        "follower_index `{}` is no longer a follower",
                        o.follower_index
                    ),
                );
            }
        }
        Some(_) if o.bootstrapping() => add(
            FollowerState::Bootstrapping,
            o.bootstrap
                .as_ref()
                .map(|b| b.describe())
                .unwrap_or_default(),
        ),
        Some(FollowerStatus::Paused) if o.follow_not_started() => add(
            FollowerState::NotStarted,
            format!(
                "follower_index `{}`: the initial copy finished but following never started (paused, no shard tasks, paused by nobody)",
                o.follower_index
            ),
        ),
        Some(FollowerStatus::Paused) => add(
            FollowerState::Paused,
            format!("follower_index `{}` is paused", o.follower_index),
        ),
        Some(FollowerStatus::Active) | Some(FollowerStatus::Unknown) => {}
    }

    if o.leader_index_exists == Some(false) {
        add(
            FollowerState::LeaderMissing,
            format!(
                "leader_index `{}` does not exist on cluster `{}`",
                o.leader_index,
                o.leader_cluster.as_deref().unwrap_or("?")
            ),
        );
    }

    match &o.remote {
        RemoteObservation::Seen {
            connected: false, ..
        } => add(
            FollowerState::RemoteDisconnected,
            match &o.remote_key {
                // The REST-visible symptom of a dead key is only the disconnect (docs/es-contract.md §27.4).
                Some(k) => format!(
                    "remote_cluster `{}` is not connected on `{}`: {}",
                    o.remote_cluster,
                    o.follower_cluster,
                    k.describe()
                ),
                None => format!(
                    "remote_cluster `{}` is not connected on `{}`",
                    o.remote_cluster, o.follower_cluster
                ),
            },
        ),
        RemoteObservation::NotConfigured if o.status.is_some() || o.managed => add(
            FollowerState::RemoteDisconnected,
            format!(
                "remote_cluster `{}` is not configured on `{}`",
                o.remote_cluster, o.follower_cluster
            ),
        ),
        _ => {}
    }

    if let Some(sh) = &o.shards {
        for f in &sh.fatal_exceptions {
            let state = if needs_refollow(&f.cause) {
                FollowerState::NeedsRefollow
            } else {
                FollowerState::Failed
            };
            add(
                state,
                format!(
                    "shard {} fatal exception: {}",
                    f.shard_id,
                    f.cause.summary()
                ),
            );
        }
        let lag = sh.global_checkpoint_lag;
        let max_read = i64::try_from(t.max_time_since_last_read.as_millis()).unwrap_or(i64::MAX);
        match sh.max_time_since_last_read_millis {
            Some(ms) if lag > 0 && ms > max_read => add(
                FollowerState::Stalled,
                format!(
                    "no read for {} while {lag} operations behind (threshold {})",
                    humantime::format_duration(std::time::Duration::from_secs(
                        (ms / 1000).max(0) as u64
                    )),
                    humantime::format_duration(t.max_time_since_last_read)
                ),
            ),
            _ => {}
        }
        if lag > 0 && lag as u64 > t.max_lag_operations {
            add(
                FollowerState::Lagging,
                format!(
                    "{lag} operations behind the leader (threshold {})",
                    t.max_lag_operations
                ),
            );
        }
        if sh.read_exceptions > 0 && found.is_empty() {
            // Transient and retried: worth a reason, not a state.
            found.push((
                FollowerState::Healthy,
                format!("{} read exception(s) being retried", sh.read_exceptions),
            ));
        }
    }

    if let Some(d) = &o.docs {
        if let (true, Some(diff)) = (d.comparable, d.difference()) {
            if diff.unsigned_abs() > t.max_docs_difference {
                found.push((
                    FollowerState::DocsMismatch,
                    format!(
                        "leader has {} documents, follower {} (difference {diff}, threshold {})",
                        d.leader_docs.unwrap_or(0),
                        d.follower_docs.unwrap_or(0),
                        t.max_docs_difference
                    ),
                ));
            }
        }
    }

    found.sort_by_key(|f| std::cmp::Reverse(f.0.severity()));
    let state = found.first().map(|f| f.0).unwrap_or(FollowerState::Healthy);
    let mut reasons: Vec<String> = found.into_iter().map(|f| f.1).collect();
    match stale_note {
        Some(note) => {
            reasons.insert(0, format!("{note}; last known state: {state}"));
            Verdict {
                state: FollowerState::Unknown,
                reasons,
            }
        }
        None => Verdict { state, reasons },
    }
}

/// Seconds as a short human duration, e.g. `1h 2m 5s`.
fn secs(s: f64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(s.max(0.0) as u64)).to_string()
}

/// Adds what the follower's history says to the verdict of its latest poll: the graded status over the window
/// (`stalled` for a follower that stopped or stalled while behind, `lagging` for one falling behind; only once
/// the window is complete, so a freshly started daemon does not judge what it has not seen) and the
/// retention-lease margin (`needs_refollow` once expired: the leader may have discarded the operations the
/// follower needs, so resuming cannot work; a warning while a follower that does not renew its lease has less
/// than half of the period left). A verdict about a stale or unreadable cluster is left as it is.
pub fn judge_in_time(
    v: Verdict,
    o: &FollowerObservation,
    time: Option<&FollowerTime>,
    _t: &HealthThresholds,
) -> Verdict {
    let Some(time) = time else {
        return v;
    };
    // A copy in progress has no shard tasks by design: nothing to grade, and its lease is the restore's.
    if v.state == FollowerState::Unknown || o.bootstrapping() {
        return v;
    }
    let mut found: Vec<(FollowerState, String)> = Vec::new();
    let active = o.status == Some(FollowerStatus::Active) && o.shards.is_some();
    if time.completeness >= 1.0 && active {
        let lag = secs(time.lag_seconds);
        match time.grade {
            Grade::Stalled | Grade::Stopped => found.push((
                FollowerState::Stalled,
                format!(
                    "{}: the follower checkpoint did not advance over the last {GRADE_WINDOW} polls while {} \
                     operations behind ({lag} behind)",
                    time.grade, time.ops_at_risk
                ),
            )),
            Grade::FallingBehind => found.push((
                FollowerState::Lagging,
                format!(
                    "falling_behind: the gap grew over the last {GRADE_WINDOW} polls ({lag} behind, {} operations)",
                    time.ops_at_risk
                ),
            )),
            Grade::Rewound => found.push((
                FollowerState::Healthy,
                "rewound: a checkpoint went backwards (leader or follower index restored or recreated?)"
                    .to_string(),
            )),
            Grade::Ok => {}
        }
    }
    if let Some(margin) = time.retention_lease_margin_seconds {
        let period = time.retention_lease_period_seconds;
        if margin <= 0.0 {
            found.push((
                FollowerState::NeedsRefollow,
                format!(
                    "the follower's retention lease on leader_index `{}` expired {} ago \
                     (index.soft_deletes.retention_lease.period {}): the follower must be recreated",
                    o.leader_index,
                    secs(-margin),
                    secs(period)
                ),
            ));
        } else if !active && margin < period / 2.0 {
            found.push((
                FollowerState::Healthy,
                format!(
                    "the follower's retention lease on leader_index `{}` expires in {}",
                    o.leader_index,
                    secs(margin)
                ),
            ));
        }
    }
    if found.is_empty() {
        return v;
    }
    let mut state = v.state;
    let mut reasons = v.reasons;
    for (s, r) in found {
        if s.severity() > state.severity() {
            state = s;
            reasons.insert(0, r);
        } else {
            reasons.push(r);
        }
    }
    Verdict { state, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es::ErrorCause;
    use crate::observe::{ShardFatal, ShardSummary};
    use chrono::Utc;
    use std::time::Duration;

    fn healthy() -> FollowerObservation {
        crate::testing::observation("logs-copy")
    }

    fn with(f: impl FnOnce(&mut FollowerObservation)) -> FollowerObservation {
        let mut o = healthy();
        f(&mut o);
        o
    }

    fn copy(shards: u32, done: u32) -> crate::observe::Bootstrap {
        crate::observe::Bootstrap {
            remote_cluster: "leader".into(),
            shards,
            shards_done: done,
            bytes_total: 100,
            bytes_recovered: if done == shards { 100 } else { 50 },
            files_total: 4,
            files_recovered: 2,
            at: Utc::now(),
            ..Default::default()
        }
    }

    fn fatal(reason: &str) -> ShardSummary {
        ShardSummary {
            shards: 1,
            fatal_exceptions: vec![ShardFatal {
                shard_id: 0,
                cause: ErrorCause {
                    kind: Some("exception".into()),
                    reason: Some(reason.into()),
                    ..Default::default()
                },
            }],
            ..Default::default()
        }
    }

    #[test]
    fn verdict_table() {
        let t = HealthThresholds {
            max_lag_operations: 100,
            max_time_since_last_read: Duration::from_secs(60),
            max_docs_difference: 0,
            job_overdue_periods: 3,
            max_promote_lag: Duration::from_secs(120),
        };
        let down = |o: &mut FollowerObservation| {
            o.remote = RemoteObservation::Seen {
                connected: false,
                mode: "proxy".into(),
                nodes_connected: 0,
            };
            o.docs = None;
        };
        let cases: Vec<(&str, FollowerObservation, FollowerState, &str)> = vec![
            ("all fine", healthy(), FollowerState::Healthy, ""),
            (
                "remote down because its API key expired",
                with(|o| {
                    down(o);
                    o.remote_key = Some(crate::observe::KeyProblem::Expired {
                        id: "k1".into(),
                        at: chrono::DateTime::UNIX_EPOCH,
                    });
                }),
                FollowerState::RemoteDisconnected,
                "is not connected on `follower`: its cross-cluster API key `k1` expired at 1970-01-01T00:00:00Z",
            ),
            (
                "remote down because its API key was invalidated",
                with(|o| {
                    down(o);
                    o.remote_key = Some(crate::observe::KeyProblem::Invalidated { id: "k1".into() });
                }),
                FollowerState::RemoteDisconnected,
                "its cross-cluster API key `k1` was invalidated",
            ),
            (
                "a key problem on a connected remote is no reason",
                with(|o| o.remote_key = Some(crate::observe::KeyProblem::NoKey)),
                FollowerState::Healthy,
                "",
            ),
            (
                "lag over threshold",
                with(|o| o.shards.as_mut().unwrap().global_checkpoint_lag = 101),
                FollowerState::Lagging,
                "101 operations behind",
            ),
            (
                "lag at threshold is fine",
                with(|o| {
                    o.shards.as_mut().unwrap().global_checkpoint_lag = 100;
                    o.docs = None;
                }),
                FollowerState::Healthy,
                "",
            ),
            (
                "no read for long while behind",
                with(|o| {
                    let s = o.shards.as_mut().unwrap();
                    s.global_checkpoint_lag = 5;
                    s.max_time_since_last_read_millis = Some(61_000);
                }),
                FollowerState::Stalled,
                "no read for 1m",
            ),
            (
                "no read for long while caught up is fine",
                with(|o| {
                    o.shards.as_mut().unwrap().max_time_since_last_read_millis = Some(600_000)
                }),
                FollowerState::Healthy,
                "",
            ),
            (
                "fatal exception",
                with(|o| o.shards = Some(fatal("boom"))),
                FollowerState::Failed,
                "shard 0 fatal exception: exception: boom",
            ),
            (
                "retention lease lost",
                with(|o| {
                    o.shards = Some(fatal(
                        "Operations are no longer available for replicating. Maybe increase the retention setting \
                         [index.soft_deletes.retention_lease.period]?",
                    ))
                }),
                FollowerState::NeedsRefollow,
                "no longer available",
            ),
            (
                "history gone, said only by metadata (resource_not_found_exception, 7.4+)",
                with(|o| {
                    let mut s = fatal("shard changes failed");
                    s.fatal_exceptions[0].cause = ErrorCause {
                        kind: Some("exception".into()),
                        reason: Some("shard changes failed".into()),
                        caused_by: Some(Box::new(ErrorCause {
                            kind: Some("resource_not_found_exception".into()),
                            requested_operations_missing: Some(Box::new(serde_json::json!([
                                "12", "40"
                            ]))),
                            ..Default::default()
                        })),
                        ..Default::default()
                    };
                    o.shards = Some(s);
                }),
                FollowerState::NeedsRefollow,
                "shard changes failed",
            ),
            (
                "paused",
                with(|o| {
                    o.status = Some(FollowerStatus::Paused);
                    o.shards = None;
                }),
                FollowerState::Paused,
                "is paused",
            ),
            (
                "initial copy running",
                with(|o| {
                    o.status = Some(FollowerStatus::Paused);
                    o.shards = None;
                    o.following_seen = false;
                    o.bootstrap = Some(copy(1, 0));
                }),
                FollowerState::Bootstrapping,
                "initial copy from remote_cluster `leader`: 50 B of 100 B (50.0%)",
            ),
            (
                "initial copy running and the remote down: the outage wins",
                with(|o| {
                    o.status = Some(FollowerStatus::Paused);
                    o.shards = None;
                    o.bootstrap = Some(copy(1, 0));
                    o.remote = RemoteObservation::Seen {
                        connected: false,
                        mode: "sniff".into(),
                        nodes_connected: 0,
                    };
                }),
                FollowerState::RemoteDisconnected,
                "is not connected",
            ),
            (
                "copy finished, never followed",
                with(|o| {
                    o.status = Some(FollowerStatus::Paused);
                    o.shards = None;
                    o.following_seen = false;
                    o.bootstrap = Some(copy(1, 1));
                }),
                FollowerState::NotStarted,
                "following never started",
            ),
            (
                "copy finished, followed, then paused: a pause",
                with(|o| {
                    o.status = Some(FollowerStatus::Paused);
                    o.shards = None;
                    o.following_seen = true;
                    o.bootstrap = Some(copy(1, 1));
                }),
                FollowerState::Paused,
                "is paused",
            ),
            (
                "copy finished, never seen copying nor following (paused before this daemon started): a pause",
                with(|o| {
                    o.status = Some(FollowerStatus::Paused);
                    o.shards = None;
                    o.following_seen = false;
                    o.copy_seen = false;
                    o.bootstrap = Some(copy(1, 1));
                }),
                FollowerState::Paused,
                "is paused",
            ),
            (
                "copy finished and following: healthy",
                with(|o| o.bootstrap = Some(copy(1, 1))),
                FollowerState::Healthy,
                "",
            ),
            (
                "remote disconnected",
                with(|o| {
                    o.remote = RemoteObservation::Seen {
                        connected: false,
                        mode: "sniff".into(),
                        nodes_connected: 0,
                    }
                }),
                FollowerState::RemoteDisconnected,
                "is not connected",
            ),
            (
                "remote alias not configured",
                with(|o| o.remote = RemoteObservation::NotConfigured),
                FollowerState::RemoteDisconnected,
                "is not configured",
            ),
            (
                "docs differ after catching up",
                with(|o| o.docs.as_mut().unwrap().follower_docs = Some(8)),
                FollowerState::DocsMismatch,
                "difference 2",
            ),
            (
                "docs differ while in flight is fine",
                with(|o| {
                    let d = o.docs.as_mut().unwrap();
                    d.follower_docs = Some(8);
                    d.comparable = false;
                }),
                FollowerState::Healthy,
                "",
            ),
            (
                "configured but absent",
                with(|o| {
                    o.status = None;
                    o.shards = None;
                    o.follower_index_exists = Some(false);
                }),
                FollowerState::Missing,
                "does not exist",
            ),
            (
                "configured but a plain index",
                with(|o| {
                    o.status = None;
                    o.shards = None;
                }),
                FollowerState::Missing,
                "exists but is not a follower index",
            ),
            (
                "leader index gone",
                with(|o| o.leader_index_exists = Some(false)),
                FollowerState::LeaderMissing,
                "leader_index `logs` does not exist on cluster `leader`",
            ),
            (
                "cluster never answered",
                with(|o| {
                    o.freshness = Freshness::Unavailable {
                        error: Some("follower: ccr_stats: cannot connect".into()),
                    }
                }),
                FollowerState::Unknown,
                "cannot connect",
            ),
            (
                "cluster down, old data kept",
                with(|o| {
                    o.freshness = Freshness::Stale {
                        as_of: Utc::now(),
                        error: "timed out".into(),
                    };
                    o.status = Some(FollowerStatus::Paused);
                }),
                FollowerState::Unknown,
                "last known state: paused",
            ),
            (
                "paused and disconnected: paused wins, both reasons",
                with(|o| {
                    o.status = Some(FollowerStatus::Paused);
                    o.shards = None;
                    o.remote = RemoteObservation::Seen {
                        connected: false,
                        mode: "proxy".into(),
                        nodes_connected: 0,
                    };
                }),
                FollowerState::Paused,
                "is not connected",
            ),
        ];
        for (name, obs, state, reason) in cases {
            let v = verdict(&obs, &t);
            assert_eq!(v.state, state, "{name}: {v:?}");
            if reason.is_empty() {
                assert!(
                    v.reasons.is_empty(),
                    "{name}: unexpected reasons {:?}",
                    v.reasons
                );
            } else {
                assert!(
                    v.reasons.iter().any(|r| r.contains(reason)),
                    "{name}: no reason containing {reason:?} in {:?}",
                    v.reasons
                );
            }
        }
    }

    #[test]
    fn a_copy_in_progress_is_never_graded_nor_judged_on_its_lease() {
        let t = HealthThresholds::default();
        let bad_time = FollowerTime {
            lag_seconds: 900.0,
            lag_lower_bound: false,
            lag_source: crate::observe::LagSource::LeaderShardStats,
            catchup_eta_seconds: None,
            rpo_seconds: 900.0,
            ops_at_risk: 5_000,
            grade: Grade::Stalled,
            completeness: 1.0,
            retention_lease_margin_seconds: Some(-60.0),
            retention_lease_period_seconds: 3600.0,
        };
        let copying = with(|o| {
            o.status = Some(FollowerStatus::Paused);
            o.shards = None;
            o.bootstrap = Some(copy(2, 1));
        });
        let v = judge_in_time(verdict(&copying, &t), &copying, Some(&bad_time), &t);
        assert_eq!(v.state, FollowerState::Bootstrapping, "{:?}", v.reasons);
        assert_eq!(v.reasons.len(), 1, "{:?}", v.reasons);
        // The same history on a follower that has finished its copy and follows is judged.
        let following = healthy();
        let v = judge_in_time(verdict(&following, &t), &following, Some(&bad_time), &t);
        assert_eq!(v.state, FollowerState::NeedsRefollow, "{:?}", v.reasons);
        assert!(
            v.reasons.iter().any(|r| r.contains("stalled")),
            "{:?}",
            v.reasons
        );
        assert!(
            v.reasons.iter().all(|r| !r.contains("  ")),
            "one space between words: {:?}",
            v.reasons
        );
        let grade_only = FollowerTime {
            retention_lease_margin_seconds: Some(3000.0),
            ..bad_time
        };
        let v = judge_in_time(verdict(&following, &t), &following, Some(&grade_only), &t);
        assert_eq!(v.state, FollowerState::Stalled, "{:?}", v.reasons);
    }

    #[test]
    fn read_exceptions_are_a_reason_not_a_state() {
        let o = with(|o| o.shards.as_mut().unwrap().read_exceptions = 2);
        let v = verdict(&o, &HealthThresholds::default());
        assert_eq!(v.state, FollowerState::Healthy);
        assert_eq!(
            v.reasons,
            vec!["2 read exception(s) being retried".to_string()]
        );
    }

    #[test]
    fn extreme_checkpoints_and_counts_never_read_as_healthy() {
        use crate::es::{FollowerIndexStats, ShardFollowStats};
        use crate::observe::DocParity;
        let shard = |id, leader, follower| ShardFollowStats {
            shard_id: id,
            leader_global_checkpoint: leader,
            follower_global_checkpoint: follower,
            time_since_last_read_millis: 5,
            ..Default::default()
        };
        let table: [(Vec<ShardFollowStats>, Option<i64>, i64); 5] = [
            (vec![shard(0, i64::MAX, -1)], None, i64::MAX),
            (vec![shard(0, i64::MAX, i64::MIN)], None, i64::MAX),
            (
                vec![shard(0, i64::MAX, 0), shard(1, i64::MAX, 0)],
                None,
                i64::MAX,
            ),
            // A reported total of 0 does not hide the computed lag.
            (vec![shard(0, i64::MAX, -1)], Some(0), i64::MAX),
            (vec![shard(0, 5, 5)], Some(i64::MIN), 0),
        ];
        for (shards, reported, lag) in table {
            let stats = FollowerIndexStats {
                index: "logs-copy".into(),
                total_global_checkpoint_lag: reported,
                shards,
            };
            let summary = ShardSummary::from_stats(&stats);
            assert_eq!(summary.global_checkpoint_lag, lag, "{stats:?}");
            let o = with(|o| o.shards = Some(summary));
            let v = verdict(&o, &HealthThresholds::default());
            let want = if lag > 0 {
                FollowerState::Lagging
            } else {
                FollowerState::Healthy
            };
            assert_eq!(v.state, want, "{stats:?}: {:?}", v.reasons);
        }
        for (leader, follower) in [(i64::MAX, i64::MIN), (i64::MIN, i64::MAX), (i64::MAX, -1)] {
            let o = with(|o| {
                o.docs = Some(DocParity {
                    at: Utc::now(),
                    leader_docs: Some(leader),
                    follower_docs: Some(follower),
                    comparable: true,
                    not_compared_because: None,
                })
            });
            let v = verdict(&o, &HealthThresholds::default());
            assert_eq!(
                v.state,
                FollowerState::DocsMismatch,
                "{leader} vs {follower}"
            );
        }
    }

    #[test]
    fn every_state_has_a_distinct_label() {
        let labels: std::collections::BTreeSet<_> =
            FollowerState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(labels.len(), FollowerState::ALL.len());
    }
}
