//! Policies: a pure function from the latest [`Report`] (observations + verdicts), the configuration, the
//! remembered [`History`] and the clock to the actions to take ([`evaluate`]), and a second one that folds an
//! action's result back into the history ([`record`]).
//!
//! The rules, one function each in `rules.rs`, in the order they are considered for one follower (the first
//! that decides ends the evaluation of that follower):
//! 1. **leader deleted** (`on_leader_deleted`): alert (default) or unfollow, once the leader index has been seen
//!    missing twice;
//! 2. **maintenance windows** (`[[policy.windows]]`): an active follower selected by an active window is paused;
//!    once no window selects it any more, a follower the window paused is resumed;
//! 3. **pause while the remote is down** (`pause_on_remote_outage`): after the remote has been disconnected for
//!    `remote_outage_after`, its active followers are paused; they are resumed once it has been connected again
//!    for `remote_recovered_after`;
//! 4. **end our own pauses**: a pause a rule made whose reason has passed is resumed;
//! 5. **recover from fatal errors** (`recover_fatal`): a follower whose shard task failed (state `failed`) is paused
//!    and resumed once its remote is connected, with exponential back-off and at most
//!    `recover_fatal_max_attempts` per `recover_fatal_window`. A `needs_refollow` follower (the leader no longer
//!    has the operations it needs) is never resumed: it is reported once instead;
//! 6. **keep desired followers active** (`resume_unexpected_pause`): a configured follower paused by someone else
//!    is resumed after `resume_unexpected_pause_grace`;
//! 7. **promote when caught up** (`promote = true` on a follower): after `promote_stable_polls` consecutive
//!    evaluations caught up (the one predicate of [`crate::observe::caught_up`]) with equal, comparable document
//!    counts, the follower is unfollowed.
//!
//! Safety rails: nothing is done from stale data (`unknown` state), a follower with a multi-step runbook in
//! progress is left to the runbook, every rule backs off after a failure, and at most `max_actions_per_minute`
//! actions are sent in any minute (the rest wait for a later evaluation). Rules never delete anything, and only
//! `promote` and `on_leader_deleted = "unfollow"` ever unfollow.

mod rules;
pub mod runner;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::act::backoff::Backoff;
use crate::act::history::{
    key, ActionRecord, FollowerHistory, History, PausedByUs, RemoteHistory, RetryState, Rule,
};
use crate::act::ActionResult;
use crate::config::key::KeyParts;
use crate::config::policy::wildcard_match;
use crate::config::{ClusterKey, Config, PolicySettings, Window};
use crate::evaluate::health::FollowerState;
use crate::evaluate::report::{FollowerReport, Report};
use crate::observe::caught_up::{CaughtUp, Docs, ShardLook};
use crate::observe::{FollowerObservation, Freshness, RemoteObservation};
use crate::policy::rules::{Decision, RuleCtx};

/// History of followers that no longer exist is dropped this long after their last action.
pub const FORGET_AFTER_DAYS: i64 = 7;

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// `POST /{follower_index}/_ccr/pause_follow`.
    Pause,
    /// `POST /{follower_index}/_ccr/resume_follow` with the configured follow parameters.
    Resume,
    /// Pause then resume: the documented fix for a shard follow task stopped by a fatal exception.
    PauseResume,
    /// `POST /_ccr/auto_follow/{name}/pause`.
    PauseAutoFollow,
    /// `POST /_ccr/auto_follow/{name}/resume`.
    ResumeAutoFollow,
    /// The unfollow runbook: pause (if active), close, unfollow, open.
    Unfollow,
}

impl ActionKind {
    /// The `action` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Pause => "pause",
            ActionKind::Resume => "resume",
            ActionKind::PauseResume => "pause_resume",
            ActionKind::PauseAutoFollow => "pause_auto_follow",
            ActionKind::ResumeAutoFollow => "resume_auto_follow",
            ActionKind::Unfollow => "unfollow",
        }
    }

    /// Order in which planned actions get the rate-limit budget: protective pauses first, unfollows last.
    fn priority(self) -> u8 {
        match self {
            ActionKind::Pause | ActionKind::PauseAutoFollow => 0,
            ActionKind::PauseResume => 1,
            ActionKind::Resume | ActionKind::ResumeAutoFollow => 2,
            ActionKind::Unfollow => 3,
        }
    }

    /// True for actions on auto-follow patterns (target is a pattern name, not a follower index).
    pub fn on_pattern(self) -> bool {
        matches!(
            self,
            ActionKind::PauseAutoFollow | ActionKind::ResumeAutoFollow
        )
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One action the policies want.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    /// The follower cluster (configuration name).
    pub cluster: String,
    /// The follower index, or the auto-follow pattern name for pattern actions.
    pub target: String,
    pub action: ActionKind,
    pub rule: Rule,
    /// Why, in words.
    pub reason: String,
}

/// Something worth a log line (once per episode) that is not an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub cluster: String,
    pub target: String,
    pub rule: Rule,
    pub message: String,
}

/// The result of one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Actions to send now, in order.
    pub actions: Vec<Planned>,
    /// Actions wanted but held back, with the reason (back-off, attempt cap, rate limit).
    pub deferred: Vec<(Planned, String)>,
    /// New alerts (each is reported once per episode).
    pub alerts: Vec<Alert>,
    /// The history with this evaluation's observations folded in (timers, counters, alert flags). Feed it to
    /// [`record`] for each executed action and keep it for the next evaluation.
    pub history: History,
}

/// How a planned action ended: the executor's [`ActionResult`] (work someone else already did counts as
/// [`ActionResult::Success`]), with the error of a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: ActionResult,
    pub error: Option<String>,
    /// Pause + resume whose pause worked and whose resume failed: the follower is paused by us and will be
    /// resumed (`result` is [`ActionResult::Failed`]).
    pub paused_only: bool,
}

impl Outcome {
    /// Sent and done.
    pub fn success() -> Self {
        Self::of(ActionResult::Success, None)
    }

    /// Not sent: `dry_run`.
    pub fn dry_run() -> Self {
        Self::of(ActionResult::DryRun, None)
    }

    /// Failed with `error`.
    pub fn failure(error: impl Into<String>) -> Self {
        Self::of(ActionResult::Failed, Some(error.into()))
    }

    /// Pause + resume: the pause worked, the resume failed with `error`.
    pub fn paused_only(error: impl Into<String>) -> Self {
        Self {
            paused_only: true,
            ..Self::failure(error)
        }
    }

    fn of(result: ActionResult, error: Option<String>) -> Self {
        Self {
            result,
            error,
            paused_only: false,
        }
    }

    /// The `result` of the action in the history and `/status` (`success`, `failure`, `dry_run`).
    pub fn as_str(&self) -> &'static str {
        crate::act::history::result_str(self.result)
    }
}

/// When the window is active at `now`, the end of the current occurrence (the latest end when occurrences
/// overlap). Cron starts are evaluated in UTC; a window starting at 22:00 for 8h is active until 06:00.
pub fn window_active(w: &Window, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = w.start.cron();
    let d = chrono::Duration::from_std(w.duration).ok()?;
    // The first start strictly after `now - d`: the window is active when that start is not in the future.
    let mut start = cron.find_next_occurrence(&(now - d), false).ok()?;
    if start > now {
        return None;
    }
    // Later starts inside (start, now] extend the end.
    while let Ok(next) = cron.find_next_occurrence(&start, false) {
        if next > now {
            break;
        }
        start = next;
    }
    Some(start + d)
}

/// True when the window selects this follower (empty selector lists match everything).
pub fn window_selects(w: &Window, cluster: &str, remote: &str, follower_index: &str) -> bool {
    let any =
        |list: &[String], v: &str| list.is_empty() || list.iter().any(|p| wildcard_match(p, v));
    any(&w.clusters, cluster) && any(&w.remotes, remote) && any(&w.followers, follower_index)
}

/// The policies' back-off: `backoff_initial` doubling per consecutive failure up to `backoff_max`.
pub fn backoff(s: &PolicySettings) -> Backoff {
    Backoff {
        initial: s.backoff_initial,
        max: s.backoff_max,
    }
}

/// `Ok` when a follower is caught up as far as one look can tell (see [`crate::observe::caught_up`]): the
/// shards from the latest poll, the remote connection, and the document counts of the last `doc_counts` run,
/// which were only compared when the leader was quiet while counting. Otherwise the reason, in words.
pub fn caught_up(o: &FollowerObservation) -> Result<(), String> {
    let mut shards: Vec<ShardLook> = Vec::new();
    if let Some(sh) = &o.shards {
        shards.extend(sh.per_shard.iter().map(|d| ShardLook {
            shard_id: d.shard_id,
            leader_global_checkpoint: d.leader_global_checkpoint,
            leader_max_seq_no: None,
            follower_global_checkpoint: d.follower_global_checkpoint,
            read_exceptions: d.read_exceptions,
            fatal_exception: None,
        }));
        for f in &sh.fatal_exceptions {
            let cause = Some(f.cause.summary());
            match shards.iter_mut().find(|s| s.shard_id == f.shard_id) {
                Some(s) => s.fatal_exception = cause,
                None => shards.push(ShardLook {
                    shard_id: f.shard_id,
                    fatal_exception: cause,
                    ..Default::default()
                }),
            }
        }
    }
    let docs = match &o.docs {
        None => Docs::Unknown,
        Some(d) if !d.comparable => Docs::NotComparable(
            d.not_compared_because
                .clone()
                .unwrap_or_else(|| "writes in flight".into()),
        ),
        Some(d) => match (d.leader_docs, d.follower_docs) {
            (Some(leader), Some(follower)) => Docs::Counted { leader, follower },
            _ => Docs::Unknown,
        },
    };
    crate::observe::caught_up::caught_up(&CaughtUp {
        status: o.status,
        remote_cluster: &o.remote_cluster,
        remote_connected: matches!(
            o.remote,
            RemoteObservation::Seen {
                connected: true,
                ..
            }
        ),
        shards: o.shards.as_ref().map(|_| shards.as_slice()),
        reported_lag: o.shards.as_ref().map(|sh| sh.global_checkpoint_lag),
        earlier: None,
        docs,
    })
    .map_err(|e| e.to_string())
}

#[cfg(test)]
fn remote_connected(o: &FollowerObservation) -> bool {
    matches!(
        o.remote,
        RemoteObservation::Seen {
            connected: true,
            ..
        }
    )
}

fn since(t: Option<DateTime<Utc>>, now: DateTime<Utc>, d: Duration) -> bool {
    match (t, chrono::Duration::from_std(d)) {
        (Some(t), Ok(d)) => now - t >= d,
        _ => false,
    }
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A multi-step runbook (unfollow) in progress on a follower, and the rule that started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgress {
    pub cluster: String,
    pub follower_index: String,
    pub rule: Rule,
}

/// Evaluates every policy. Followers with a runbook in progress are left to it: one started by a policy
/// (`promote`, `on_leader_deleted`) that was interrupted is planned again so it rolls forward (with the same back-off
/// and rate limit as any action); one started by a person (`manual`) is left for them to re-run.
pub fn evaluate(
    cfg: &Config,
    report: &Report,
    history: History,
    runbooks: &[InProgress],
    now: DateTime<Utc>,
) -> Evaluation {
    // Borrowed keys: the per-follower lookups below build no key.
    let busy: BTreeSet<(&str, &str)> = runbooks
        .iter()
        .map(|r| (r.cluster.as_str(), r.follower_index.as_str()))
        .collect();
    let s = &cfg.policy;
    let mut h = history;
    let mut wanted: Vec<Planned> = Vec::new();
    let mut alerts = Vec::new();

    // Remote connectivity timers.
    for r in &report.remotes {
        let e = h
            .remotes
            .entry(key(&r.follower_cluster, &r.remote_cluster))
            .or_default();
        if r.connected {
            e.disconnected_since = None;
            e.connected_since.get_or_insert(now);
        } else {
            e.connected_since = None;
            e.disconnected_since.get_or_insert(now);
        }
    }

    let active_windows: Vec<(&Window, DateTime<Utc>)> = s
        .windows
        .iter()
        .filter_map(|w| window_active(w, now).map(|end| (w, end)))
        .collect();

    // `promote = true` of each configured follower, looked up once (the first entry of a follower, as
    // `Config::follower`), so the rules stay linear in the followers.
    let mut promote: BTreeMap<(&str, &str), bool> = BTreeMap::new();
    // Without any `promote = true`, every follower's answer is `false`: nothing to index.
    if cfg.followers.iter().any(|c| c.promote) {
        for c in &cfg.followers {
            promote
                .entry((c.cluster.as_str(), c.follower_index.as_str()))
                .or_insert(c.promote);
        }
    }
    // The followers' histories as a list in the map's order, walked beside the report's followers: each
    // follower finds its entry without a search of the map (see `Entries`), and the map is built once again
    // at the end, from the list already in order.
    let mut entries = Entries::new(std::mem::take(&mut h.followers));
    let remotes = &h.remotes;
    for f in &report.followers {
        let (w, a) = follower_rules(
            cfg,
            f,
            &active_windows,
            (&busy, &promote),
            now,
            remotes,
            &mut entries,
        );
        wanted.extend(w);
        alerts.extend(a);
    }

    // Forget followers that are gone (deleted, unfollowed and unconfigured) once nothing about them matters any
    // more, so the history does not grow with every rolled-over auto-followed index.
    let horizon = now - chrono::Duration::days(FORGET_AFTER_DAYS);
    h.followers = entries.into_map(|k, f, reported| {
        reported
            || busy.contains(&(k.cluster.as_str(), k.name.as_str()))
            || f.paused_by_us.is_some()
            || f.last_actions.back().is_some_and(|a| a.at > horizon)
    });
    for r in runbooks {
        if matches!(r.rule, Rule::Promote | Rule::OnLeaderDeleted) {
            wanted.push(Planned {
                cluster: r.cluster.clone(),
                target: r.follower_index.clone(),
                action: ActionKind::Unfollow,
                rule: r.rule,
                reason: "finish the interrupted unfollow runbook".into(),
            });
        }
    }

    // Auto-follow patterns selected by active windows are paused; those we paused are resumed afterwards.
    for p in &cfg.auto_follow {
        let k = key(&p.cluster, &p.name);
        let window = active_windows.iter().find(|(w, _)| {
            !w.auto_follow.is_empty()
                && w.auto_follow.iter().any(|x| wildcard_match(x, &p.name))
                && (w.clusters.is_empty()
                    || w.clusters.iter().any(|c| wildcard_match(c, &p.cluster)))
                && (w.remotes.is_empty() || w.remotes.iter().any(|r| wildcard_match(r, &p.remote)))
        });
        match (window, h.paused_patterns.get(&k)) {
            (Some((w, end)), None) => wanted.push(Planned {
                cluster: p.cluster.clone(),
                target: p.name.clone(),
                action: ActionKind::PauseAutoFollow,
                rule: Rule::Window,
                reason: format!("maintenance window `{}` until {}", w.name, fmt_time(*end)),
            }),
            (None, Some(by)) if by.rule == Rule::Window => wanted.push(Planned {
                cluster: p.cluster.clone(),
                target: p.name.clone(),
                action: ActionKind::ResumeAutoFollow,
                rule: Rule::Window,
                reason: format!("{} ended", by.why),
            }),
            _ => {}
        }
    }

    // The credential, then back-off, then the global rate limit.
    let mut deferred = Vec::new();
    let mut ready = Vec::new();
    for p in wanted {
        if let Some(why) = credential_refusal(report, s, &p) {
            deferred.push((p, why));
            continue;
        }
        let until = if p.action.on_pattern() {
            None
        } else {
            h.follower(&p.cluster, &p.target)
                .and_then(|f| f.backoff.get(&p.rule))
                .filter(|b| b.until > now)
                .map(|b| b.until)
        };
        match until {
            Some(t) => deferred.push((
                p,
                format!("backing off after a failure until {}", fmt_time(t)),
            )),
            None => ready.push(p),
        }
    }
    // Protective actions first; among equals, targets that waited longest (never acted on first), so a rate
    // limit does not starve the same followers every time.
    ready.sort_by_key(|p| {
        let last = h
            .follower(&p.cluster, &p.target)
            .and_then(|f| f.last_actions.back())
            .map(|a| a.at);
        (p.action.priority(), last)
    });
    let minute_ago = now - chrono::Duration::seconds(60);
    while h.sent.front().is_some_and(|t| *t <= minute_ago) {
        h.sent.pop_front();
    }
    let budget = (s.max_actions_per_minute as usize).saturating_sub(h.sent.len());
    let mut actions = Vec::new();
    for p in ready {
        if actions.len() < budget {
            actions.push(p);
        } else {
            deferred.push((
                p,
                format!(
                    "rate limit: at most {} actions per minute",
                    s.max_actions_per_minute
                ),
            ));
        }
    }
    Evaluation {
        actions,
        deferred,
        alerts,
        history: h,
    }
}

/// Why `p` must not be sent now, when it would start follower tasks (a resume, of a follower or an auto-follow
/// pattern) as a credential that expires within `credential_expiry_margin`: tasks run as the credential that
/// last created or resumed them (elastic/elasticsearch#30239), so they would all stop when it expires.
fn credential_refusal(report: &Report, s: &PolicySettings, p: &Planned) -> Option<String> {
    if !matches!(
        p.action,
        ActionKind::Resume | ActionKind::PauseResume | ActionKind::ResumeAutoFollow
    ) {
        return None;
    }
    let c = report.credential(&p.cluster)?;
    let expires = c.expires_at?;
    // The time left as the report judged it, on the daemon's clock (which tests step with a simulator's).
    let left = c.expiry_seconds?;
    let margin = i64::try_from(s.credential_expiry_margin.as_secs()).unwrap_or(i64::MAX);
    (left < margin).then(|| {
        format!(
            "ccr-sentinel's credential on `{}` ({}) expires at {}, within credential_expiry_margin ({}): the \
             follower tasks a resume starts would run as it and stop when it expires; renew the credential",
            p.cluster,
            c.principal.as_deref().unwrap_or("an API key"),
            fmt_time(expires),
            humantime::format_duration(s.credential_expiry_margin)
        )
    })
}

/// `(cluster, name)` of a follower, borrowed.
type Parts<'a> = (&'a str, &'a str);

/// The followers' histories during one evaluation: the map's entries as a list in its order, each with whether
/// the report has its follower, and the entries of followers seen for the first time. The report's followers
/// are sorted by (cluster, index), which is the map's order within a cluster, so each follower's entry is
/// usually the one after the previous follower's: found with one comparison instead of a search of the map.
struct Entries {
    old: Vec<(ClusterKey, FollowerHistory, bool)>,
    /// Where the next follower's entry is looked for first.
    next: usize,
    /// Entries created for followers without one, in the report's order.
    new: Vec<(ClusterKey, FollowerHistory)>,
}

impl Entries {
    fn new(map: BTreeMap<ClusterKey, FollowerHistory>) -> Self {
        Self {
            old: map.into_iter().map(|(k, f)| (k, f, false)).collect(),
            next: 0,
            new: Vec::new(),
        }
    }

    /// Notes the report's follower `parts` as reported; its entry, created when absent if `create`.
    fn reported(&mut self, parts: Parts<'_>, create: bool) -> Option<&mut FollowerHistory> {
        let is = |k: &ClusterKey| (k.cluster.as_str(), k.name.as_str()) == parts;
        let at = match self.old.get(self.next) {
            Some((k, _, _)) if is(k) => Some(self.next),
            _ => {
                let want = ClusterKey::parts_of(&parts);
                self.old
                    .binary_search_by(|(k, _, _)| (k as &dyn KeyParts).cmp(want))
                    .ok()
            }
        };
        if let Some(at) = at {
            self.next = at + 1;
            let (_, f, reported) = &mut self.old[at];
            *reported = true;
            return Some(f);
        }
        // A follower listed twice is listed next to itself (the report is sorted).
        let known = self.new.last().is_some_and(|(k, _)| is(k));
        if !known && !create {
            return None;
        }
        if !known {
            self.new
                .push((key(parts.0, parts.1), FollowerHistory::default()));
        }
        self.new.last_mut().map(|(_, f)| f)
    }

    /// The history's followers: those `keep` keeps, given whether the report has them.
    fn into_map(
        self,
        keep: impl Fn(&ClusterKey, &FollowerHistory, bool) -> bool,
    ) -> BTreeMap<ClusterKey, FollowerHistory> {
        let new = self.new.into_iter().map(|(k, f)| (k, f, true));
        self.old
            .into_iter()
            .chain(new)
            .filter(|(k, f, reported)| keep(k, f, *reported))
            .map(|(k, f, _)| (k, f))
            .collect()
    }
}

/// Runs the per-follower rules (see the module doc) in order. A follower with a runbook in progress, or whose
/// data is not current, is left alone.
fn follower_rules(
    cfg: &Config,
    f: &FollowerReport,
    active_windows: &[(&Window, DateTime<Utc>)],
    (busy, promote): (&BTreeSet<Parts<'_>>, &BTreeMap<Parts<'_>, bool>),
    now: DateTime<Utc>,
    remotes: &BTreeMap<ClusterKey, RemoteHistory>,
    entries: &mut Entries,
) -> (Vec<Planned>, Vec<Alert>) {
    let o = &f.observation;
    let k = (o.follower_cluster.as_str(), o.follower_index.as_str());
    // Never act on data that is not current; a follower left alone gets no entry.
    let left_alone =
        busy.contains(&k) || o.freshness != Freshness::Fresh || f.state == FollowerState::Unknown;
    let Some(fh) = entries.reported(k, !left_alone) else {
        return Default::default();
    };
    if left_alone {
        return Default::default();
    }
    let remote = remotes
        .get(ClusterKey::parts_of(&(
            o.follower_cluster.as_str(),
            o.remote_cluster.as_str(),
        )))
        .cloned()
        .unwrap_or_default();
    let cx = RuleCtx {
        promote: promote.get(&k).copied().unwrap_or(false),
        settings: &cfg.policy,
        report: f,
        active_windows,
        remote: &remote,
        now,
    };
    rules::end_episodes(&cx, fh);
    let mut wanted = Vec::new();
    let mut alerts = Vec::new();
    let mut rules: [&mut dyn FnMut(&mut FollowerHistory) -> Decision; 9] = [
        &mut |_| rules::initial_copy(&cx),
        &mut |fh| rules::leader_deleted(&cx, fh),
        &mut |_| rules::maintenance_window(&cx),
        &mut |_| rules::remote_outage(&cx),
        &mut |fh| rules::end_our_pause(&cx, fh),
        &mut |fh| rules::recover_fatal(&cx, fh),
        &mut |fh| rules::recover_not_started(&cx, fh),
        &mut |fh| rules::unexpected_pause(&cx, fh),
        &mut |fh| rules::promote(&cx, fh),
    ];
    for rule in rules.iter_mut() {
        let d = rule(fh);
        wanted.extend(d.action);
        alerts.extend(d.alert);
        if d.last {
            break;
        }
    }
    (wanted, alerts)
}

/// Folds the result of an executed (or dry-run) action into the history.
pub fn record(
    h: &mut History,
    s: &PolicySettings,
    p: &Planned,
    outcome: &Outcome,
    now: DateTime<Utc>,
) {
    h.sent.push_back(now);
    if p.action.on_pattern() {
        let k = key(&p.cluster, &p.target);
        match (p.action, outcome.result) {
            (ActionKind::PauseAutoFollow, ActionResult::Success) => {
                h.paused_patterns.insert(
                    k,
                    PausedByUs {
                        rule: p.rule,
                        at: now,
                        why: p.reason.clone(),
                    },
                );
            }
            (ActionKind::ResumeAutoFollow, ActionResult::Success) => {
                h.paused_patterns.remove(&k);
            }
            _ => {}
        }
        return;
    }
    let fh = h.follower_mut(&p.cluster, &p.target);
    fh.push_action(ActionRecord {
        at: now,
        action: p.action.as_str().into(),
        rule: p.rule,
        reason: p.reason.clone(),
        result: outcome.result,
        error: outcome.error.clone(),
    });
    if p.rule == Rule::RecoverFatal && outcome.result != ActionResult::DryRun {
        fh.recover_attempts.push(now);
    }
    if p.rule == Rule::RecoverNotStarted && outcome.result != ActionResult::DryRun {
        fh.not_started_attempts.push(now);
    }
    match outcome.result {
        ActionResult::Success | ActionResult::AlreadyDone => {
            fh.backoff.remove(&p.rule);
            match p.action {
                ActionKind::Pause => {
                    fh.paused_by_us = Some(PausedByUs {
                        rule: p.rule,
                        at: now,
                        why: window_words(&p.reason),
                    })
                }
                ActionKind::Resume | ActionKind::PauseResume => {
                    fh.paused_by_us = None;
                    fh.unexpected_pause_since = None;
                }
                ActionKind::Unfollow => {
                    fh.paused_by_us = None;
                    fh.caught_up_polls = 0;
                }
                _ => {}
            }
        }
        ActionResult::DryRun => {}
        ActionResult::Failed => {
            if outcome.paused_only {
                fh.paused_by_us = Some(PausedByUs {
                    rule: p.rule,
                    at: now,
                    why: "pause + resume (the resume failed)".into(),
                });
            }
            let failures = fh.backoff.get(&p.rule).map_or(0, |b| b.failures) + 1;
            let until = now + backoff(s).chrono_delay(failures);
            fh.backoff.insert(p.rule, RetryState { failures, until });
        }
    }
}

/// "maintenance window `x` until T" -> "maintenance window `x`", for "... ended" messages.
fn window_words(reason: &str) -> String {
    reason.split(" until ").next().unwrap_or(reason).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HealthThresholds;
    use crate::es::ErrorCause;
    use crate::es::FollowerStatus;
    use crate::evaluate::report::RemoteReport;
    use crate::observe::ShardFatal;
    use crate::testing;
    use chrono::TimeZone;

    /// `logs-copy`, and `orders-copy` with `promote = true`, an auto-follow pattern, then `policy`.
    fn cfg(policy: &str) -> Config {
        testing::config(&format!(
            r#"{}{}promote = true
[[auto_follow]]
cluster = "follower"
name = "metrics"
remote = "leader"
leader_index_patterns = ["metrics-*"]
{policy}
"#,
            testing::follower("logs", "logs-copy"),
            testing::follower("orders", "orders-copy"),
        ))
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, h, m, s).unwrap()
    }

    fn judged(o: FollowerObservation) -> FollowerReport {
        let v = crate::evaluate::health::verdict(&o, &HealthThresholds::default());
        FollowerReport {
            observation: o,
            state: v.state,
            reasons: v.reasons,
            time: None,
        }
    }

    fn fatal(reason: &str) -> impl Fn(&mut FollowerObservation) + '_ {
        move |o| {
            o.shards.as_mut().unwrap().fatal_exceptions = vec![ShardFatal {
                shard_id: 0,
                cause: ErrorCause {
                    kind: Some("illegal_state_exception".into()),
                    reason: Some(reason.into()),
                    ..Default::default()
                },
            }]
        }
    }
    fn paused(o: &mut FollowerObservation) {
        o.status = Some(FollowerStatus::Paused);
        o.shards = None;
    }
    fn disconnected(o: &mut FollowerObservation) {
        o.remote = RemoteObservation::Seen {
            connected: false,
            mode: "sniff".into(),
            nodes_connected: 0,
        };
    }
    fn lagging(o: &mut FollowerObservation) {
        o.shards.as_mut().unwrap().global_checkpoint_lag = 7;
    }
    fn leader_gone(o: &mut FollowerObservation) {
        o.leader_index_exists = Some(false);
    }
    fn stale(o: &mut FollowerObservation) {
        o.freshness = Freshness::Stale {
            as_of: at(0, 0, 0),
            error: "timeout".into(),
        };
    }

    /// `logs-copy` with the given changes; `orders-copy` (promote = true) stays lagging so it never promotes
    /// unless a test says otherwise.
    fn report(changes: &[&dyn Fn(&mut FollowerObservation)]) -> Report {
        let mut logs = testing::observation("logs-copy");
        for c in changes {
            c(&mut logs);
        }
        let connected = remote_connected(&logs);
        let mut orders = testing::observation("orders-copy");
        lagging(&mut orders);
        if !connected {
            disconnected(&mut orders);
        }
        Report {
            remotes: vec![RemoteReport {
                follower_cluster: "follower".into(),
                remote_cluster: "leader".into(),
                leader_cluster: Some("leader".into()),
                connected,
                mode: "sniff".into(),
                nodes_connected: i64::from(connected),
                heartbeat_delay_seconds: None,
            }],
            followers: vec![judged(logs), judged(orders)].into(),
            ..Default::default()
        }
    }

    /// One evaluation whose actions all succeed; returns the actions as `action rule target` strings.
    fn step(
        cfg: &Config,
        r: &Report,
        h: &mut History,
        now: DateTime<Utc>,
    ) -> (Vec<String>, Evaluation) {
        let ev = evaluate(cfg, r, h.clone(), &[], now);
        *h = ev.history.clone();
        for p in &ev.actions {
            record(h, &cfg.policy, p, &Outcome::success(), now);
        }
        let mut names: Vec<String> = ev
            .actions
            .iter()
            .map(|p| format!("{} {} {}", p.action, p.rule, p.target))
            .collect();
        names.sort();
        (names, ev)
    }

    const FATAL: &str = "simulated fatal failure of the shard follow task";
    const LEASE: &str = "Operations are no longer available for replicating. Maybe increase the retention setting [index.soft_deletes.retention_lease.period]?";

    /// (name, `[policy]` text, changes to `logs-copy`, wanted actions)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<&'a dyn Fn(&mut FollowerObservation)>,
        Vec<&'a str>,
    );

    #[test]
    fn table_single_evaluation() {
        let fatal_f = fatal(FATAL);
        let lease_f = fatal(LEASE);
        let cases: Vec<Case> = vec![
            ("healthy: nothing", "", vec![], vec![]),
            (
                "fatal + connected: pause and resume",
                "",
                vec![&fatal_f],
                vec!["pause_resume recover_fatal logs-copy"],
            ),
            (
                "fatal, rule off",
                "[policy]\nrecover_fatal = false",
                vec![&fatal_f],
                vec![],
            ),
            (
                "fatal while the remote is down: wait",
                "",
                vec![&fatal_f, &disconnected],
                vec![],
            ),
            (
                "retention lease lost: never resumed",
                "",
                vec![&lease_f],
                vec![],
            ),
            (
                "paused by someone, rule off by default",
                "",
                vec![&paused],
                vec![],
            ),
            ("stale data: nothing", "", vec![&fatal_f, &stale], vec![]),
            (
                "leader deleted, alert by default",
                "",
                vec![&leader_gone],
                vec![],
            ),
            ("lagging: nothing", "", vec![&lagging], vec![]),
            (
                "dry run plans the same actions",
                "[policy]\ndry_run = true",
                vec![&fatal_f],
                vec!["pause_resume recover_fatal logs-copy"],
            ),
        ];
        for (name, policy, changes, want) in cases {
            let c = cfg(policy);
            let mut h = History::default();
            let (got, _) = step(&c, &report(&changes), &mut h, at(12, 0, 0));
            assert_eq!(got, want, "{name}");
        }
    }

    /// Changes to `logs-copy`.
    type Changes<'a> = Vec<&'a dyn Fn(&mut FollowerObservation)>;

    fn copy(done: bool) -> crate::observe::Bootstrap {
        crate::observe::Bootstrap {
            remote_cluster: "leader".into(),
            shards: 2,
            shards_done: if done { 2 } else { 1 },
            bytes_total: 2000,
            bytes_recovered: if done { 2000 } else { 1500 },
            at: at(12, 0, 0),
            ..Default::default()
        }
    }
    fn copying(o: &mut FollowerObservation) {
        paused(o);
        o.following_seen = false;
        o.bootstrap = Some(copy(false));
    }
    fn never_started(o: &mut FollowerObservation) {
        paused(o);
        o.following_seen = false;
        o.bootstrap = Some(copy(true));
    }

    #[test]
    fn no_rule_pauses_resumes_or_unfollows_a_bootstrapping_follower() {
        // Every rule that acts on a follower, switched on, with the condition it reacts to, over an hour of
        // evaluations: the copy is left alone.
        let cases: Vec<(&str, &str, Changes)> = vec![
            ("defaults", "", vec![&copying]),
            (
                "resume_unexpected_pause",
                "[policy]\nresume_unexpected_pause = true\nresume_unexpected_pause_grace = \"1s\"",
                vec![&copying],
            ),
            (
                "pause_on_remote_outage",
                "[policy]\npause_on_remote_outage = true\nremote_outage_after = \"1s\"",
                vec![&copying, &disconnected],
            ),
            (
                "on_leader_deleted = unfollow",
                "[policy]\non_leader_deleted = \"unfollow\"",
                vec![&copying, &leader_gone],
            ),
            (
                "recover_fatal and recover_not_started",
                "[policy]\nrecover_fatal = true\nrecover_not_started = true",
                vec![&copying],
            ),
        ];
        for (name, policy, changes) in cases {
            let c = cfg(policy);
            let r = report(&changes);
            assert_eq!(
                r.followers[0].state == FollowerState::Bootstrapping,
                changes.len() == 1,
                "{name}"
            );
            let mut h = History::default();
            for minute in 0..60 {
                let (got, _) = step(&c, &r, &mut h, at(12, minute, 0));
                assert!(
                    !got.iter().any(|a| a.ends_with(" logs-copy")),
                    "{name} at minute {minute}: {got:?}"
                );
            }
        }
    }

    #[test]
    fn not_started_is_resumed_with_back_off_and_the_attempt_cap() {
        let c = cfg("[policy]\nbackoff_initial = \"30s\"\nbackoff_max = \"5m\"\nrecover_fatal_max_attempts = 3\nrecover_fatal_window = \"1h\"");
        let r = report(&[&never_started]);
        assert_eq!(r.followers[0].state, FollowerState::NotStarted);
        let mut h = History::default();
        // (time, actions wanted): the resume "succeeds" but following still does not start.
        let timeline = [
            (at(12, 0, 0), 1),
            (at(12, 1, 0), 1),
            (at(12, 2, 0), 1),
            (at(12, 3, 0), 0), // cap reached within the hour
            (at(12, 30, 0), 0),
            (at(13, 0, 1), 1), // the first attempt left the window
        ];
        let mut alerts = Vec::new();
        for (now, n) in timeline {
            let (got, ev) = step(&c, &r, &mut h, now);
            assert_eq!(got.len(), n, "at {now}: {got:?}");
            if n == 1 {
                assert_eq!(got, ["resume recover_not_started logs-copy"]);
            }
            alerts.extend(ev.alerts);
        }
        assert_eq!(
            alerts.len(),
            2,
            "not_started and the give-up, once each: {alerts:?}"
        );
        assert!(alerts[0].message.contains("never started"), "{alerts:?}");
        assert!(alerts[1].message.contains("giving up"), "{alerts:?}");

        // A failed resume backs off with the shared back-off.
        let mut h = History::default();
        let ev = evaluate(&c, &r, h.clone(), &[], at(12, 0, 0));
        h = ev.history.clone();
        let failed = Outcome {
            result: ActionResult::Failed,
            ..Outcome::success()
        };
        record(&mut h, &c.policy, &ev.actions[0], &failed, at(12, 0, 0));
        let ev = evaluate(&c, &r, h.clone(), &[], at(12, 0, 20));
        assert!(ev.actions.is_empty() && ev.deferred.len() == 1, "{ev:?}");
    }

    #[test]
    fn not_started_only_alerts_when_off_disconnected_or_paused_by_a_person() {
        let mut manual = History::default();
        manual.follower_mut("follower", "logs-copy").paused_by_us = Some(PausedByUs {
            rule: Rule::Manual,
            at: at(11, 0, 0),
            why: String::new(),
        });
        let cases: Vec<(&str, &str, Changes, History, usize)> = vec![
            (
                "rule off",
                "[policy]\nrecover_not_started = false",
                vec![&never_started],
                History::default(),
                1,
            ),
            (
                "remote down",
                "",
                vec![&never_started, &disconnected],
                History::default(),
                1,
            ),
            (
                "paused with `ccr-sentinel pause`",
                "",
                vec![&never_started],
                manual,
                0,
            ),
        ];
        for (name, policy, changes, mut h, alerts) in cases {
            let c = cfg(policy);
            let (got, ev) = step(&c, &report(&changes), &mut h, at(12, 0, 0));
            assert!(
                !got.iter().any(|a| a.ends_with(" logs-copy")),
                "{name}: {got:?}"
            );
            let mine = ev.alerts.iter().filter(|a| a.target == "logs-copy").count();
            assert_eq!(mine, alerts, "{name}: {:?}", ev.alerts);
        }
    }

    #[test]
    fn no_resume_with_a_credential_expiring_within_the_margin() {
        let fatal_f = fatal(FATAL);
        let now = at(12, 0, 0);
        let key = |expires_in: Option<chrono::Duration>| crate::observe::CredentialStatus {
            cluster: "follower".into(),
            principal: Some("API key `k1` of user `svc`".into()),
            api_key_id: Some("k1".into()),
            expires_at: expires_in.map(|d| now + d),
            expiry_seconds: expires_in.map(|d| d.num_seconds()),
            as_of: Some(now),
            error: None,
        };
        let day = chrono::Duration::days(1);
        // (name, `[policy]`, the credential, follower changes, wanted, a deferral naming the margin)
        type Row<'a> = (
            &'a str,
            &'a str,
            Option<crate::observe::CredentialStatus>,
            Vec<&'a dyn Fn(&mut FollowerObservation)>,
            Vec<&'a str>,
            bool,
        );
        let rows: Vec<Row> = vec![
            (
                "a user: resumed",
                "",
                None,
                vec![&fatal_f],
                vec!["pause_resume recover_fatal logs-copy"],
                false,
            ),
            (
                "a key without expiry: resumed",
                "",
                Some(key(None)),
                vec![&fatal_f],
                vec!["pause_resume recover_fatal logs-copy"],
                false,
            ),
            (
                "a key expiring in 30d, default margin 7d: resumed",
                "",
                Some(key(Some(day * 30))),
                vec![&fatal_f],
                vec!["pause_resume recover_fatal logs-copy"],
                false,
            ),
            (
                "a key expiring in 3d: refused",
                "",
                Some(key(Some(day * 3))),
                vec![&fatal_f],
                vec![],
                true,
            ),
            (
                "an expired key: refused",
                "",
                Some(key(Some(-day))),
                vec![&fatal_f],
                vec![],
                true,
            ),
            (
                "3d inside a 2d margin: resumed",
                "[policy]\ncredential_expiry_margin = \"2d\"",
                Some(key(Some(day * 3))),
                vec![&fatal_f],
                vec!["pause_resume recover_fatal logs-copy"],
                false,
            ),
            (
                "10d inside a 14d margin: refused",
                "[policy]\ncredential_expiry_margin = \"14d\"",
                Some(key(Some(day * 10))),
                vec![&fatal_f],
                vec![],
                true,
            ),
            (
                "a pause is never refused",
                "[policy]\npause_on_remote_outage = true\nremote_outage_after = \"1s\"",
                Some(key(Some(day))),
                vec![&disconnected],
                vec![
                    "pause pause_on_remote_outage logs-copy",
                    "pause pause_on_remote_outage orders-copy",
                ],
                false,
            ),
        ];
        for (name, policy, cred, changes, want, refused) in rows {
            let c = cfg(policy);
            let mut r = report(&changes);
            r.credentials = cred.into_iter().collect();
            let mut h = History::default();
            if policy.contains("remote_outage_after") {
                // The outage rule needs its timer started by an earlier look.
                let _ = step(&c, &r, &mut h, now - chrono::Duration::seconds(5));
            }
            let (got, ev) = step(&c, &r, &mut h, now);
            assert_eq!(got, want, "{name}");
            let why: Vec<&String> = ev.deferred.iter().map(|(_, w)| w).collect();
            assert_eq!(
                why.iter()
                    .any(|w| w.contains("credential_expiry_margin") && w.contains("API key `k1`")),
                refused,
                "{name}: {why:?}"
            );
        }
    }

    #[test]
    fn recover_fatal_backs_off_and_stops_after_the_attempt_cap() {
        let c = cfg("[policy]\nbackoff_initial = \"30s\"\nbackoff_max = \"5m\"\nrecover_fatal_max_attempts = 3\nrecover_fatal_window = \"1h\"");
        let f = fatal(FATAL);
        let r = report(&[&f]);
        let mut h = History::default();
        // (time, actions wanted): the fatal exception keeps coming back after every pause + resume.
        let timeline = [
            (at(12, 0, 0), 1),  // attempt 1
            (at(12, 0, 15), 0), // back-off 30s
            (at(12, 0, 31), 1), // attempt 2
            (at(12, 1, 0), 0),  // back-off 60s after attempt 2
            (at(12, 1, 32), 1), // attempt 3
            (at(12, 10, 0), 0), // cap reached within the hour
            (at(12, 50, 0), 0),
            (at(13, 0, 1), 1), // attempt 1 left the window
        ];
        let mut alerts = 0;
        for (now, n) in timeline {
            let (got, ev) = step(&c, &r, &mut h, now);
            assert_eq!(got.len(), n, "at {now}: {got:?}");
            alerts += ev.alerts.len();
        }
        assert_eq!(alerts, 1, "the give-up alert is logged once");
    }

    #[test]
    fn needs_refollow_is_reported_once_and_never_resumed() {
        let c = cfg("");
        let f = fatal(LEASE);
        let r = report(&[&f]);
        assert_eq!(r.followers[0].state, FollowerState::NeedsRefollow);
        let mut h = History::default();
        let mut alerts = Vec::new();
        for i in 0..5 {
            let (got, ev) = step(&c, &r, &mut h, at(12, i, 0));
            assert!(got.is_empty(), "{got:?}");
            alerts.extend(ev.alerts);
        }
        assert_eq!(alerts.len(), 1);
        assert!(
            alerts[0].message.contains("recreate the follower"),
            "{alerts:?}"
        );
        // A new episode after recovery alerts again.
        step(&c, &report(&[]), &mut h, at(12, 10, 0));
        let (_, ev) = step(&c, &r, &mut h, at(12, 11, 0));
        assert_eq!(ev.alerts.len(), 1);
    }

    #[test]
    fn unexpected_pause_is_resumed_after_the_grace_period_but_our_own_is_not() {
        let c =
            cfg("[policy]\nresume_unexpected_pause = true\nresume_unexpected_pause_grace = \"5m\"");
        let r = report(&[&paused]);
        let mut h = History::default();
        assert!(step(&c, &r, &mut h, at(12, 0, 0)).0.is_empty());
        assert!(step(&c, &r, &mut h, at(12, 4, 59)).0.is_empty());
        assert_eq!(
            step(&c, &r, &mut h, at(12, 5, 0)).0,
            vec!["resume resume_unexpected_pause logs-copy"]
        );
        // A pause by the `pause` command is remembered as ours and left alone.
        let mut h = History::default();
        h.follower_mut("follower", "logs-copy").paused_by_us = Some(PausedByUs {
            rule: Rule::Manual,
            at: at(11, 0, 0),
            why: String::new(),
        });
        assert!(step(&c, &r, &mut h, at(12, 0, 0)).0.is_empty());
        assert!(step(&c, &r, &mut h, at(13, 0, 0)).0.is_empty());
        // An unmanaged follower is not ours to keep active.
        let mut r2 = r.clone();
        r2.followers[0].observation.managed = false;
        let mut h = History::default();
        step(&c, &r2, &mut h, at(12, 0, 0));
        assert!(step(&c, &r2, &mut h, at(13, 0, 0)).0.is_empty());
    }

    #[test]
    fn window_across_midnight_pauses_then_resumes_followers_and_patterns() {
        let c = cfg(
            "[policy]\n[[policy.windows]]\nname = \"nightly\"\nstart = \"0 22 * * *\"\nduration = \"8h\"\nfollowers = [\"logs-*\"]\nauto_follow = [\"metrics\"]",
        );
        let w = &c.policy.windows[0];
        let day = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap();
        for (now, active) in [
            (day(10, 21, 59), false),
            (day(10, 22, 0), true),
            (day(10, 23, 30), true),
            (day(11, 0, 0), true),
            (day(11, 5, 59), true),
            (day(11, 6, 0), false),
            (day(11, 12, 0), false),
        ] {
            assert_eq!(window_active(w, now).is_some(), active, "at {now}");
        }
        assert_eq!(window_active(w, day(11, 1, 0)), Some(day(11, 6, 0)));

        let mut h = History::default();
        let (got, _) = step(&c, &report(&[]), &mut h, day(10, 22, 0));
        assert_eq!(
            got,
            vec!["pause window logs-copy", "pause_auto_follow window metrics"]
        );
        // Paused now; nothing more during the window (orders-copy is not selected).
        assert!(step(&c, &report(&[&paused]), &mut h, day(11, 2, 0))
            .0
            .is_empty());
        let (got, _) = step(&c, &report(&[&paused]), &mut h, day(11, 6, 0));
        assert_eq!(
            got,
            vec![
                "resume window logs-copy",
                "resume_auto_follow window metrics"
            ]
        );
        assert!(step(&c, &report(&[]), &mut h, day(11, 6, 1)).0.is_empty());
        // A follower paused by someone else before the window stays paused after it.
        let mut h = History::default();
        step(&c, &report(&[&paused]), &mut h, day(10, 22, 0));
        let (got, _) = step(&c, &report(&[&paused]), &mut h, day(11, 6, 0));
        assert_eq!(got, vec!["resume_auto_follow window metrics"]);
    }

    #[test]
    fn remote_outage_pauses_after_the_threshold_and_resumes_after_recovery() {
        let c = cfg("[policy]\npause_on_remote_outage = true\nremote_outage_after = \"5m\"\nremote_recovered_after = \"2m\"");
        let mut h = History::default();
        let down = report(&[&disconnected]);
        assert!(step(&c, &down, &mut h, at(12, 0, 0)).0.is_empty());
        assert!(step(&c, &down, &mut h, at(12, 4, 59)).0.is_empty());
        let (got, _) = step(&c, &down, &mut h, at(12, 5, 0));
        assert_eq!(
            got,
            vec![
                "pause pause_on_remote_outage logs-copy",
                "pause pause_on_remote_outage orders-copy"
            ]
        );
        let up_paused = {
            let mut r = report(&[&paused]);
            paused(&mut r.followers[1].observation);
            r.followers[1] = judged(r.followers[1].observation.clone());
            r
        };
        assert!(step(&c, &up_paused, &mut h, at(12, 10, 0)).0.is_empty());
        assert!(step(&c, &up_paused, &mut h, at(12, 11, 59)).0.is_empty());
        // Had the outage outlasted the retention leases, nothing would be resumed: resuming cannot catch up.
        let expired = {
            let mut r = up_paused.clone();
            for f in &mut r.followers {
                f.state = crate::evaluate::health::FollowerState::NeedsRefollow;
            }
            r
        };
        let (got, _) = step(&c, &expired, &mut h.clone(), at(12, 12, 0));
        assert!(got.iter().all(|a| !a.starts_with("resume")), "{got:?}");
        let (got, _) = step(&c, &up_paused, &mut h, at(12, 12, 0));
        assert_eq!(
            got,
            vec![
                "resume pause_on_remote_outage logs-copy",
                "resume pause_on_remote_outage orders-copy"
            ]
        );
    }

    #[test]
    fn global_rate_limit_defers_the_rest() {
        let c = cfg("[policy]\nmax_actions_per_minute = 3");
        let f = fatal(FATAL);
        let mut r = report(&[]);
        r.followers = (0..5)
            .map(|i| {
                let mut o = testing::observation(&format!("f{i}"));
                o.managed = false;
                f(&mut o);
                judged(o)
            })
            .collect();
        let mut h = History::default();
        let (got, ev) = step(&c, &r, &mut h, at(12, 0, 0));
        assert_eq!(got.len(), 3);
        assert_eq!(ev.deferred.len(), 2);
        assert!(ev.deferred[0].1.contains("rate limit"));
        // Within the same minute the budget is spent.
        let (got, _) = step(&c, &r, &mut h, at(12, 0, 30));
        assert!(got.is_empty(), "{got:?}");
        // A minute later the two that waited go first, then one of those already tried.
        let (got, _) = step(&c, &r, &mut h, at(12, 1, 1));
        assert_eq!(
            got,
            vec![
                "pause_resume recover_fatal f0",
                "pause_resume recover_fatal f3",
                "pause_resume recover_fatal f4"
            ]
        );
    }

    #[test]
    fn failures_back_off_exponentially_per_rule() {
        let c = cfg("[policy]\nresume_unexpected_pause = true\nresume_unexpected_pause_grace = \"1s\"\nbackoff_initial = \"10s\"\nbackoff_max = \"40s\"");
        let r = report(&[&paused]);
        let mut h = History::default();
        evaluate(&c, &r, h.clone(), &[], at(12, 0, 0));
        let mut t = at(12, 0, 0);
        h = evaluate(&c, &r, h.clone(), &[], t).history;
        let mut delays = Vec::new();
        for _ in 0..5 {
            // Find the next time the resume is wanted, then fail it.
            let mut waited = 0;
            loop {
                t += chrono::Duration::seconds(1);
                let ev = evaluate(&c, &r, h.clone(), &[], t);
                h = ev.history.clone();
                if let Some(p) = ev.actions.first() {
                    record(&mut h, &c.policy, p, &Outcome::failure("boom"), t);
                    break;
                }
                waited += 1;
            }
            delays.push(waited);
        }
        // The first try comes after the grace period; then 10s, 20s, 40s, 40s (capped).
        assert_eq!(&delays[1..], &[9, 19, 39, 39]);
        let last = h
            .follower("follower", "logs-copy")
            .unwrap()
            .last_actions
            .back()
            .unwrap()
            .clone();
        assert_eq!(last.result, ActionResult::Failed);
        assert_eq!(crate::act::history::result_str(last.result), "failure");
        assert_eq!(last.error.as_deref(), Some("boom"));
    }

    #[test]
    fn promote_waits_for_stable_caught_up_polls() {
        let c = cfg("[policy]\npromote_stable_polls = 3");
        let mut h = History::default();
        let caught_up = {
            let mut r = report(&[]);
            r.followers[1] = judged(testing::observation("orders-copy"));
            r
        };
        assert!(step(&c, &caught_up, &mut h, at(12, 0, 0)).0.is_empty());
        assert!(step(&c, &caught_up, &mut h, at(12, 0, 15)).0.is_empty());
        // A lagging look resets the count.
        assert!(step(&c, &report(&[]), &mut h, at(12, 0, 30)).0.is_empty());
        assert!(step(&c, &caught_up, &mut h, at(12, 0, 45)).0.is_empty());
        assert!(step(&c, &caught_up, &mut h, at(12, 1, 0)).0.is_empty());
        let (got, _) = step(&c, &caught_up, &mut h, at(12, 1, 15));
        assert_eq!(got, vec!["unfollow promote orders-copy"]);
        // Followers without `promote = true` are never unfollowed by it.
        assert!(!got.iter().any(|g| g.contains("logs-copy")));
    }

    #[test]
    fn caught_up_reasons() {
        let mut o = testing::observation("x");
        assert!(caught_up(&o).is_ok());
        o.docs.as_mut().unwrap().follower_docs = Some(9);
        assert!(caught_up(&o).unwrap_err().contains("difference 1"));
        let mut o = testing::observation("x");
        lagging(&mut o);
        assert!(caught_up(&o).unwrap_err().contains("7 operations behind"));
        let mut o = testing::observation("x");
        paused(&mut o);
        assert!(caught_up(&o).unwrap_err().contains("paused"));
        let mut o = testing::observation("x");
        o.docs.as_mut().unwrap().comparable = false;
        assert!(caught_up(&o).unwrap_err().contains("not comparable"));
    }

    #[test]
    fn leader_deleted_unfollows_only_when_configured_and_seen_twice() {
        let r = report(&[&leader_gone]);
        let c = cfg("");
        let mut h = History::default();
        let (got, ev) = step(&c, &r, &mut h, at(12, 0, 0));
        assert!(got.is_empty());
        assert_eq!(ev.alerts.len(), 1);
        let (_, ev) = step(&c, &r, &mut h, at(12, 1, 0));
        assert!(ev.alerts.is_empty());
        let c = cfg("[policy]\non_leader_deleted = \"unfollow\"");
        let mut h = History::default();
        assert!(step(&c, &r, &mut h, at(12, 0, 0)).0.is_empty());
        assert_eq!(
            step(&c, &r, &mut h, at(12, 0, 15)).0,
            vec!["unfollow on_leader_deleted logs-copy"]
        );
    }

    #[test]
    fn followers_with_a_runbook_in_progress_are_left_alone() {
        let c = cfg("");
        let f = fatal(FATAL);
        let r = report(&[&f]);
        let mut rb = vec![InProgress {
            cluster: "follower".into(),
            follower_index: "logs-copy".into(),
            rule: Rule::Manual,
        }];
        assert!(evaluate(&c, &r, History::default(), &rb, at(12, 0, 0))
            .actions
            .is_empty());
        // One a policy started (and that was interrupted) is rolled forward instead.
        rb[0].rule = Rule::Promote;
        let ev = evaluate(&c, &r, History::default(), &rb, at(12, 0, 0));
        assert_eq!(ev.actions.len(), 1, "{:?}", ev.actions);
        assert_eq!(ev.actions[0].action, ActionKind::Unfollow);
        assert_eq!(ev.actions[0].rule, Rule::Promote);
    }

    #[test]
    fn history_of_vanished_followers_is_forgotten_after_a_week() {
        let c = cfg("");
        let mut h = History::default();
        let record_at = |h: &mut History, index: &str, t| {
            h.follower_mut("follower", index).push_action(ActionRecord {
                at: t,
                action: "pause_resume".into(),
                rule: Rule::RecoverFatal,
                reason: String::new(),
                result: ActionResult::Success,
                error: None,
            })
        };
        record_at(&mut h, "gone-recently", at(12, 0, 0));
        record_at(
            &mut h,
            "gone-long-ago",
            at(12, 0, 0) - chrono::Duration::days(8),
        );
        record_at(
            &mut h,
            "logs-copy",
            at(12, 0, 0) - chrono::Duration::days(30),
        );
        let ev = evaluate(&c, &report(&[]), h.clone(), &[], at(12, 0, 0));
        let keys: Vec<String> = ev.history.followers.keys().map(|k| k.to_string()).collect();
        assert_eq!(
            keys,
            [
                "follower/gone-recently",
                "follower/logs-copy",
                "follower/orders-copy"
            ]
        );
    }

    #[test]
    fn a_recovery_whose_resume_failed_is_finished_later_and_a_gone_leader_is_not_recovered() {
        let c = cfg("[policy]\nbackoff_initial = \"30s\"\non_leader_deleted = \"unfollow\"");
        let f = fatal(FATAL);
        let mut h = History::default();
        let ev = evaluate(&c, &report(&[&f]), h.clone(), &[], at(12, 0, 0));
        h = ev.history;
        record(
            &mut h,
            &c.policy,
            &ev.actions[0],
            &Outcome::paused_only("503"),
            at(12, 0, 0),
        );
        // Now paused by us; the resume is retried after the back-off.
        let r = report(&[&paused]);
        assert!(step(&c, &r, &mut h, at(12, 0, 10)).0.is_empty());
        assert_eq!(
            step(&c, &r, &mut h, at(12, 0, 31)).0,
            vec!["resume recover_fatal logs-copy"]
        );
        // A fatal index_not_found (the leader was deleted) is not "recovered" (resume could only fail)...
        let gone = fatal("no such index [logs]");
        let mut h = History::default();
        let nf = |o: &mut FollowerObservation| {
            gone(o);
            o.shards.as_mut().unwrap().fatal_exceptions[0].cause.kind =
                Some("index_not_found_exception".into());
        };
        let (got, ev) = step(&c, &report(&[&nf]), &mut h, at(12, 0, 0));
        assert!(got.is_empty(), "{got:?}");
        assert_eq!(ev.alerts.len(), 1);
        // ... and once the leader is confirmed missing, on_leader_deleted acts even on a follower we paused.
        h.follower_mut("follower", "logs-copy").paused_by_us = Some(PausedByUs {
            rule: Rule::RecoverFatal,
            at: at(12, 0, 0),
            why: String::new(),
        });
        let r = report(&[&paused, &leader_gone]);
        step(&c, &r, &mut h, at(12, 0, 15));
        assert_eq!(
            step(&c, &r, &mut h, at(12, 0, 30)).0,
            vec!["unfollow on_leader_deleted logs-copy"]
        );
    }

    #[test]
    fn backoff_delay_doubles_and_caps() {
        let s = cfg("[policy]\nbackoff_initial = \"1s\"\nbackoff_max = \"5s\"").policy;
        let d: Vec<u64> = (1..=5).map(|n| backoff(&s).delay(n).as_secs()).collect();
        assert_eq!(d, vec![1, 2, 4, 5, 5]);
        assert_eq!(backoff(&s).delay(200).as_secs(), 5);
    }

    #[test]
    fn each_reported_follower_keeps_its_own_history_whatever_the_order_of_the_keys() {
        // Clusters `a` and `a-b` sort one way by (cluster, index), as the report does, and the other way as
        // `cluster/index` text, as the history does.
        let observed = |cluster: &str, index: &str, change: &dyn Fn(&mut FollowerObservation)| {
            let mut o = testing::observation(index);
            o.follower_cluster = cluster.into();
            change(&mut o);
            judged(o)
        };
        let as_is = |_: &mut FollowerObservation| {};
        let r = Report {
            followers: vec![
                observed("a", "x", &as_is),
                observed("a", "y", &stale),
                observed("a", "z", &stale),
                observed("a-b", "x", &as_is),
                observed("a-b", "x", &as_is),
            ]
            .into(),
            ..Default::default()
        };
        let mut h = History::default();
        for (cluster, index) in [("a", "y"), ("a-b", "x"), ("gone", "old")] {
            h.follower_mut(cluster, index)
                .alerted
                .insert(format!("{cluster}/{index}"));
        }
        let ev = evaluate(&cfg(""), &r, h, &[], at(12, 0, 0));
        let kept: Vec<(String, Vec<&String>)> = ev
            .history
            .followers
            .iter()
            .map(|(k, f)| (k.to_string(), f.alerted.iter().collect()))
            .collect();
        let own = |k: &str| {
            kept.iter()
                .find(|(key, _)| key == k)
                .map(|(_, a)| a.clone())
        };
        // `a/x` is new; `a/y` and `a/z` are stale, so left alone: the one with an entry keeps it, the other
        // gets none; the follower listed twice has one entry; `gone/old` is forgotten.
        assert_eq!(
            kept.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["a-b/x", "a/x", "a/y"]
        );
        assert_eq!(own("a/x"), Some(vec![]));
        assert_eq!(own("a/y").unwrap(), [&"a/y".to_string()]);
        assert_eq!(own("a-b/x").unwrap(), [&"a-b/x".to_string()]);
    }
}
