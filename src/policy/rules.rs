//! The per-follower rules of [`super::evaluate`], one function each, in the order [`super::follower_rules`]
//! runs them. Each rule reads a [`RuleCtx`], may update the follower's own history (timers, counters, alert
//! flags) and returns a [`Decision`]: at most one action, at most one new alert, and whether the later rules
//! are skipped.

use chrono::{DateTime, Utc};

use super::{backoff, caught_up, fmt_time, since, window_selects, ActionKind, Alert, Planned};
use crate::act::history::{FollowerHistory, RemoteHistory, Rule};
use crate::config::{OnLeaderDeleted, PolicySettings, Window};
use crate::es::FollowerStatus;
use crate::evaluate::health::FollowerState;
use crate::evaluate::report::FollowerReport;
use crate::observe::{FollowerObservation, RemoteObservation};

/// What every rule may look at for one follower.
pub struct RuleCtx<'a> {
    /// The follower is configured with `promote = true`.
    pub promote: bool,
    /// `cfg.policy`.
    pub settings: &'a PolicySettings,
    /// The follower's observation and verdict.
    pub report: &'a FollowerReport,
    /// The maintenance windows active now, with the end of their current occurrence.
    pub active_windows: &'a [(&'a Window, DateTime<Utc>)],
    /// Connectivity timers of the follower's remote.
    pub remote: &'a RemoteHistory,
    pub now: DateTime<Utc>,
}

impl RuleCtx<'_> {
    fn obs(&self) -> &FollowerObservation {
        &self.report.observation
    }

    fn state(&self) -> FollowerState {
        self.report.state
    }

    fn active(&self) -> bool {
        self.obs().status == Some(FollowerStatus::Active)
    }

    fn paused(&self) -> bool {
        self.obs().status == Some(FollowerStatus::Paused)
    }

    fn connected(&self) -> bool {
        matches!(
            self.obs().remote,
            RemoteObservation::Seen {
                connected: true,
                ..
            }
        )
    }

    fn plan(&self, action: ActionKind, rule: Rule, reason: String) -> Planned {
        let o = self.obs();
        Planned {
            cluster: o.follower_cluster.clone(),
            target: o.follower_index.clone(),
            action,
            rule,
            reason,
        }
    }

    /// An alert for this follower, unless the episode `id` was already reported.
    fn alert_once(
        &self,
        fh: &mut FollowerHistory,
        id: &str,
        rule: Rule,
        message: String,
    ) -> Option<Alert> {
        let o = self.obs();
        fh.alerted.insert(id.to_string()).then(|| Alert {
            cluster: o.follower_cluster.clone(),
            target: o.follower_index.clone(),
            rule,
            message,
        })
    }
}

/// What one rule decided.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    pub action: Option<Planned>,
    pub alert: Option<Alert>,
    /// The rule owns this follower for this evaluation: later rules are not considered.
    pub last: bool,
}

impl Decision {
    /// Nothing to do; the later rules decide.
    pub fn pass() -> Self {
        Decision::default()
    }

    /// This rule decides (possibly to do nothing): the later rules are skipped.
    fn stop(action: Option<Planned>) -> Self {
        Decision {
            action,
            alert: None,
            last: true,
        }
    }

    fn act(action: Planned) -> Self {
        Decision {
            action: Some(action),
            ..Decision::default()
        }
    }

    fn alert(alert: Option<Alert>) -> Self {
        Decision {
            alert,
            ..Decision::default()
        }
    }
}

/// Ends the episodes whose state is gone: a resumed follower is no longer paused (by us or by someone else),
/// and alerts may be raised again once their state comes back. Counts consecutive leader-missing looks.
pub fn end_episodes(cx: &RuleCtx, fh: &mut FollowerHistory) {
    let state = cx.state();
    if !cx.paused() {
        fh.paused_by_us = None;
        fh.unexpected_pause_since = None;
    }
    if state != FollowerState::NeedsRefollow {
        fh.alerted.remove("needs_refollow");
    }
    if state != FollowerState::Failed {
        fh.alerted.remove("recover_fatal_exhausted");
        fh.alerted.remove("recover_fatal_waiting");
    }
    if state != FollowerState::NotStarted {
        fh.alerted.remove("not_started");
        fh.alerted.remove("recover_not_started_exhausted");
    }
    if state != FollowerState::LeaderMissing {
        fh.alerted.remove("leader_missing");
        fh.leader_missing_polls = 0;
    } else {
        fh.leader_missing_polls = fh.leader_missing_polls.saturating_add(1);
    }
}

/// The initial copy is running (`bootstrapping`): no rule pauses, resumes or unfollows the follower. Its
/// restore holds the index (`_close` and pause are refused, ES starts the shard tasks itself when it ends), and a
/// leader missing from one listing while the copy runs is not worth destroying a copy for.
pub fn initial_copy(cx: &RuleCtx) -> Decision {
    if cx.obs().bootstrapping() {
        Decision::stop(None)
    } else {
        Decision::pass()
    }
}

/// `on_leader_deleted`: decided first, whatever paused the follower (nothing can resume it any more).
pub fn leader_deleted(cx: &RuleCtx, fh: &mut FollowerHistory) -> Decision {
    if cx.state() != FollowerState::LeaderMissing {
        return Decision::pass();
    }
    let message = format!(
        "leader_index `{}` was deleted; the follower cannot replicate any more",
        cx.obs().leader_index
    );
    match cx.settings.on_leader_deleted {
        // Two looks in a row, so one odd listing does not unfollow anything.
        OnLeaderDeleted::Unfollow if fh.leader_missing_polls >= 2 => Decision::stop(Some(cx.plan(
            ActionKind::Unfollow,
            Rule::OnLeaderDeleted,
            message,
        ))),
        OnLeaderDeleted::Unfollow => Decision::stop(None),
        OnLeaderDeleted::Alert => Decision {
            alert: cx.alert_once(fh, "leader_missing", Rule::OnLeaderDeleted, message),
            ..Decision::stop(None)
        },
    }
}

/// `[[policy.windows]]`: a follower selected by an active window is paused (when active) and left alone.
pub fn maintenance_window(cx: &RuleCtx) -> Decision {
    let o = cx.obs();
    let window = cx.active_windows.iter().find(|(w, _)| {
        window_selects(w, &o.follower_cluster, &o.remote_cluster, &o.follower_index)
    });
    let Some((w, end)) = window else {
        return Decision::pass();
    };
    Decision::stop(cx.active().then(|| {
        cx.plan(
            ActionKind::Pause,
            Rule::Window,
            format!("maintenance window `{}` until {}", w.name, fmt_time(*end)),
        )
    }))
}

/// `pause_on_remote_outage`: once the remote has been disconnected for `remote_outage_after`, an active
/// follower is paused, and the follower is left alone while the outage lasts.
pub fn remote_outage(cx: &RuleCtx) -> Decision {
    let s = cx.settings;
    if !(s.pause_on_remote_outage
        && since(cx.remote.disconnected_since, cx.now, s.remote_outage_after))
    {
        return Decision::pass();
    }
    Decision::stop(cx.active().then(|| {
        cx.plan(
            ActionKind::Pause,
            Rule::PauseOnRemoteOutage,
            format!(
                "remote_cluster `{}` disconnected since {}",
                cx.obs().remote_cluster,
                cx.remote
                    .disconnected_since
                    .map(fmt_time)
                    .unwrap_or_default()
            ),
        )
    }))
}

/// A follower we paused is resumed once the reason for the pause is gone (window over, remote connected again
/// for `remote_recovered_after`, a recovery's failed resume); one paused by a person is left alone, and so is
/// one that became `needs_refollow` meanwhile (its retention lease expired: a resume cannot catch up).
pub fn end_our_pause(cx: &RuleCtx, fh: &FollowerHistory) -> Decision {
    if !cx.paused() || cx.state() == FollowerState::NeedsRefollow {
        return Decision::pass();
    }
    let Some(by) = &fh.paused_by_us else {
        return Decision::pass();
    };
    let connected = cx.connected();
    let resume = match by.rule {
        Rule::Window => connected.then(|| format!("{} ended", by.why)),
        Rule::PauseOnRemoteOutage => since(
            cx.remote.connected_since,
            cx.now,
            cx.settings.remote_recovered_after,
        )
        .then(|| {
            format!(
                "remote_cluster `{}` connected again since {}",
                cx.obs().remote_cluster,
                cx.remote.connected_since.map(fmt_time).unwrap_or_default()
            )
        }),
        // Paused by a recovery whose resume failed: resume again (with back-off) once connected.
        Rule::RecoverFatal => {
            connected.then(|| "finish the recovery: the resume after the pause failed".to_string())
        }
        // A person paused it (or a runbook that stopped): leave it.
        _ => None,
    };
    Decision::stop(resume.map(|reason| cx.plan(ActionKind::Resume, by.rule, reason)))
}

/// `recover_fatal`: a failed follower is paused and resumed once its remote is connected, with back-off and
/// at most `recover_fatal_max_attempts` per `recover_fatal_window`; a `needs_refollow` one is reported once.
pub fn recover_fatal(cx: &RuleCtx, fh: &mut FollowerHistory) -> Decision {
    let s = cx.settings;
    let o = cx.obs();
    let f = cx.report;
    let now = cx.now;
    match f.state {
        FollowerState::Failed if s.recover_fatal => {}
        FollowerState::NeedsRefollow => {
            return Decision::alert(cx.alert_once(
                fh,
                "needs_refollow",
                Rule::RecoverFatal,
                format!(
                    "{}; pause + resume cannot fix this: recreate the follower (unfollow, delete, follow again)",
                    f.reasons.first().cloned().unwrap_or_default()
                ),
            ))
        }
        _ => return Decision::pass(),
    }
    let window_start =
        now - chrono::Duration::from_std(s.recover_fatal_window).unwrap_or(chrono::Duration::MAX);
    fh.recover_attempts.retain(|t| *t > window_start);
    let n = fh.recover_attempts.len() as u32;
    let what = f.reasons.first().cloned().unwrap_or_default();
    let leader_gone = o.shards.as_ref().is_some_and(|sh| {
        sh.fatal_exceptions
            .iter()
            .any(|x| x.cause.mentions("index_not_found"))
    });
    if leader_gone {
        // The leader index is gone (or was never there): resume would fail and leave the follower paused.
        // `on_leader_deleted` decides once the leader cluster's index list confirms it.
        return Decision::alert(cx.alert_once(
            fh,
            "recover_fatal_waiting",
            Rule::RecoverFatal,
            format!("{what}; not pausing and resuming: the leader index is not there"),
        ));
    }
    if !cx.connected() {
        return Decision::alert(cx.alert_once(
            fh,
            "recover_fatal_waiting",
            Rule::RecoverFatal,
            format!(
                "{what}; waiting for remote_cluster `{}` to be connected before pause + resume",
                o.remote_cluster
            ),
        ));
    }
    if n >= s.recover_fatal_max_attempts {
        return Decision::alert(cx.alert_once(
            fh,
            "recover_fatal_exhausted",
            Rule::RecoverFatal,
            format!(
                "{what}; giving up after {n} pause + resume attempts within {} (needs a person)",
                humantime::format_duration(s.recover_fatal_window)
            ),
        ));
    }
    // Attempts that "succeeded" but failed again soon after back off too; waiting out that back-off is not
    // worth a log line every poll.
    let backing_off = fh
        .recover_attempts
        .last()
        .is_some_and(|t| *t + backoff(s).chrono_delay(n) > now);
    if backing_off {
        return Decision::pass();
    }
    Decision::act(cx.plan(
        ActionKind::PauseResume,
        Rule::RecoverFatal,
        format!(
            "{what} (attempt {} of {})",
            n + 1,
            s.recover_fatal_max_attempts
        ),
    ))
}

/// `recover_not_started`: a follower whose initial copy finished but whose following never started (ES only logs
/// a failed `initiateFollowing` at debug level) is resumed with its configured parameters once its remote is
/// connected, with back-off and at most `recover_fatal_max_attempts` per `recover_fatal_window`. A follower
/// ccr-sentinel or a person (the `pause` command) paused is not `not_started`'s: [`end_our_pause`] decides first.
pub fn recover_not_started(cx: &RuleCtx, fh: &mut FollowerHistory) -> Decision {
    let s = cx.settings;
    if cx.state() != FollowerState::NotStarted || fh.paused_by_us.is_some() {
        return Decision::pass();
    }
    let what = format!(
        "follower_index `{}`: the initial copy finished but following never started",
        cx.obs().follower_index
    );
    let alert = cx.alert_once(fh, "not_started", Rule::RecoverNotStarted, what.clone());
    if !s.recover_not_started || !cx.connected() {
        return Decision::alert(alert);
    }
    let window_start = cx.now
        - chrono::Duration::from_std(s.recover_fatal_window).unwrap_or(chrono::Duration::MAX);
    fh.not_started_attempts.retain(|t| *t > window_start);
    let n = fh.not_started_attempts.len() as u32;
    if n >= s.recover_fatal_max_attempts {
        let exhausted = cx.alert_once(
            fh,
            "recover_not_started_exhausted",
            Rule::RecoverNotStarted,
            format!(
                "{what}; giving up after {n} resume attempts within {} (needs a person)",
                humantime::format_duration(s.recover_fatal_window)
            ),
        );
        return Decision::alert(alert.or(exhausted));
    }
    Decision {
        alert,
        ..Decision::act(cx.plan(
            ActionKind::Resume,
            Rule::RecoverNotStarted,
            format!(
                "{what} (resume attempt {} of {})",
                n + 1,
                s.recover_fatal_max_attempts
            ),
        ))
    }
}

/// `resume_unexpected_pause`: a configured follower paused by someone else is resumed after
/// `resume_unexpected_pause_grace`, once its remote is connected.
pub fn unexpected_pause(cx: &RuleCtx, fh: &mut FollowerHistory) -> Decision {
    let o = cx.obs();
    let s = cx.settings;
    if !(cx.state() == FollowerState::Paused && o.managed) {
        fh.unexpected_pause_since = None;
        return Decision::pass();
    }
    if !s.resume_unexpected_pause {
        return Decision::pass();
    }
    let t0 = *fh.unexpected_pause_since.get_or_insert(cx.now);
    if !(since(Some(t0), cx.now, s.resume_unexpected_pause_grace) && cx.connected()) {
        return Decision::pass();
    }
    Decision::act(cx.plan(
        ActionKind::Resume,
        Rule::ResumeUnexpectedPause,
        format!(
            "paused by someone else since at least {}; the configuration wants it active",
            fmt_time(t0)
        ),
    ))
}

/// `promote = true`: after `promote_stable_polls` consecutive caught-up evaluations the follower is unfollowed.
pub fn promote(cx: &RuleCtx, fh: &mut FollowerHistory) -> Decision {
    let o = cx.obs();
    let wanted = o.managed && cx.promote;
    if !wanted {
        return Decision::pass();
    }
    if caught_up(o).is_err() {
        fh.caught_up_polls = 0;
        return Decision::pass();
    }
    fh.caught_up_polls = fh.caught_up_polls.saturating_add(1);
    if fh.caught_up_polls < cx.settings.promote_stable_polls {
        return Decision::pass();
    }
    Decision::act(cx.plan(
        ActionKind::Unfollow,
        Rule::Promote,
        format!(
            "caught up (lag 0, equal document counts) for {} consecutive polls",
            fh.caught_up_polls
        ),
    ))
}
