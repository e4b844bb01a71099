//! The pure half of the switchover (`ccr-sentinel switchover --from A --to B`, `failover`): what it moves
//! ([`scope`]), whether it may start ([`refusals`]), which steps are still missing ([`remaining`]) and the
//! topology it leaves ([`reversed_pair`]).
//!
//! The switchover follows Elastic's disaster-recovery runbooks: the uni-directional one for plain followers
//! (failover = pause, close, unfollow, open on B; failback = A follows B again once A's stale copy is gone) and
//! the bi-directional one for data streams (each side follows the other's streams as
//! `<stream>-replicated_from_<cluster>`, with the exclusion pattern `*-replicated_from_*` so nothing loops). See
//! `docs/operations.md`, "Disaster recovery".

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::plan::{plan_steps, IndexView};
use crate::config::{
    ClusterKey, Config, PairState, SwitchoverMark, TopologyFollower, TopologyPattern,
};

/// One step of a switchover, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "step", content = "name", rename_all = "snake_case")]
pub enum SwitchStep {
    /// Pause an auto-follow pattern on the new write cluster, so no new follower appears mid-switch.
    PausePattern(String),
    /// Wait until writes to the old write cluster stopped and every follower caught up (`failover --force`
    /// skips it).
    Gate,
    /// The unfollow runbook on a plain follower (pause, close, unfollow, open).
    PromoteFollower(String),
    /// Record the new topology (`state_dir/topology.json`), before the reverse direction is set up.
    WriteTopology,
    /// The reconciler, once, over the configuration with the topology applied, on the pair's clusters.
    Reconcile,
    /// The data-stream promotion (unfollow the older backing indices, `_promote`, rollover, unfollow the old
    /// write index). After the reverse pattern exists, so the new write index is one it follows: an auto-follow
    /// pattern never follows a leader index that existed when it was created (`TransportPutAutoFollowPatternAction`
    /// records those as followed; the put auto-follow pattern API docs say so).
    PromoteDataStream(String),
    /// Roll over a stream of the new write cluster that is not replicated, so its write index is created after
    /// the reverse pattern that follows it.
    RolloverDataStream(String),
    /// Mark the switchover finished in the topology and run the reconciler a last time.
    Finish,
}

impl SwitchStep {
    /// The step's name as printed and recorded.
    pub fn as_str(&self) -> &'static str {
        match self {
            SwitchStep::PausePattern(_) => "pause_pattern",
            SwitchStep::Gate => "gate",
            SwitchStep::PromoteFollower(_) => "promote_follower",
            SwitchStep::WriteTopology => "write_topology",
            SwitchStep::Reconcile => "reconcile",
            SwitchStep::PromoteDataStream(_) => "promote_data_stream",
            SwitchStep::RolloverDataStream(_) => "rollover_data_stream",
            SwitchStep::Finish => "finish",
        }
    }

    /// What the step is about (a pattern, an index, a stream), empty for the pair-wide steps.
    pub fn target(&self) -> &str {
        match self {
            SwitchStep::PausePattern(n)
            | SwitchStep::PromoteFollower(n)
            | SwitchStep::PromoteDataStream(n)
            | SwitchStep::RolloverDataStream(n) => n,
            _ => "",
        }
    }
}

impl std::fmt::Display for SwitchStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.target() {
            "" => f.write_str(self.as_str()),
            t => write!(f, "{} {t}", self.as_str()),
        }
    }
}

/// What a switchover moves, fixed when it starts (kept in its progress record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Followers (`follower_index` on the new write cluster) of the old write cluster.
    #[serde(default)]
    pub followers: Vec<String>,
    /// Auto-follow patterns on the new write cluster from the old one.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Replicated data streams on the new write cluster whose backing indices follow the old one.
    #[serde(default)]
    pub data_streams: Vec<String>,
    /// Data streams of the new write cluster that only need a rollover (never replicated: the failback of a
    /// bi-directional pair).
    #[serde(default)]
    pub rollovers: Vec<String>,
}

impl Scope {
    /// Nothing to move.
    pub fn is_empty(&self) -> bool {
        self.followers.is_empty()
            && self.patterns.is_empty()
            && self.data_streams.is_empty()
            && self.rollovers.is_empty()
    }
}

/// The pattern is a reverse (mirror) pattern: it follows into `…<suffix><cluster>` names nobody writes into,
/// so a switchover leaves it running (the bi-directional steady state).
pub fn is_mirror_pattern(follow_index_pattern: Option<&str>, suffix: &str) -> bool {
    follow_index_pattern.is_some_and(|p| p.contains(suffix))
}

/// The declared (or topology) followers and patterns a switchover `from` → `to` moves, before the data
/// streams are looked at: followers on `to` whose remote leads to `from`, active patterns on `to` from `from`
/// (mirror patterns stay). `followers`/`patterns` restrict the scope to those names (`--follower`,
/// `--pattern`); a name that is not in the configuration is an error.
pub fn scope(
    eff: &Config,
    from: &str,
    to: &str,
    followers: &[String],
    patterns: &[String],
) -> Result<Scope, Vec<String>> {
    let suffix = &eff.dr.replicated_suffix;
    let leads_from = |alias: &str| eff.leader_cluster(to, alias) == Some(from);
    let all_followers: Vec<&str> = eff
        .followers
        .iter()
        .filter(|f| f.cluster == to && leads_from(&f.remote))
        .map(|f| f.follower_index.as_str())
        .collect();
    let all_patterns: Vec<&str> = eff
        .auto_follow
        .iter()
        .filter(|a| a.cluster == to && leads_from(&a.remote))
        .filter(|a| a.active != Some(false))
        .filter(|a| !is_mirror_pattern(a.follow_index_pattern.as_deref(), suffix))
        .map(|a| a.name.as_str())
        .collect();
    let mut problems = Vec::new();
    let selected = !followers.is_empty() || !patterns.is_empty();
    for f in followers {
        if !all_followers.contains(&f.as_str()) {
            problems.push(format!(
                "--follower `{f}`: no follower_index `{f}` on `{to}` follows `{from}` in the configuration"
            ));
        }
    }
    for p in patterns {
        let declared = eff
            .auto_follow
            .iter()
            .any(|a| a.cluster == to && a.name == *p && leads_from(&a.remote));
        if !declared {
            problems.push(format!(
                "--pattern `{p}`: no auto-follow pattern `{p}` on `{to}` follows `{from}` in the configuration"
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let pick = |all: Vec<&str>, wanted: &[String]| -> Vec<String> {
        all.into_iter()
            .filter(|n| !selected || wanted.iter().any(|w| w == n))
            .map(str::to_string)
            .collect()
    };
    Ok(Scope {
        followers: pick(all_followers, followers),
        patterns: pick(all_patterns, patterns),
        data_streams: Vec::new(),
        rollovers: Vec::new(),
    })
}

/// What the switchover needs to know before it may start (gathered by the runner).
#[derive(Debug, Clone)]
pub struct Preconditions<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub now: DateTime<Utc>,
    /// The pair's state in the topology, if a switchover touched it.
    pub pair: Option<&'a PairState>,
    pub anti_flap_period: Duration,
    /// `--ignore-anti-flap` (or `failover --force`).
    pub ignore_anti_flap: bool,
    /// A progress record of this very switchover exists: it is resumed, not started.
    pub resuming: bool,
    /// The alias of the declared remote on `from` whose leader is `to` (the reverse direction needs it).
    pub reverse_remote: Option<&'a str>,
    /// The `[[remotes]]` entry to add when `reverse_remote` is missing.
    pub remote_hint: String,
    /// Data streams in scope without a matching data-stream index template on `to`, with the reason.
    pub missing_templates: Vec<String>,
    /// `(major, minor)` of `from`, when it answered.
    pub from_version: Option<(u32, u32)>,
    /// The reverse direction renames data streams (`{{leader_index}}-replicated_from_<cluster>`).
    pub renames_data_streams: bool,
    /// Another switchover of one of these clusters has a progress record.
    pub other_in_progress: Vec<String>,
    pub scope: &'a Scope,
}

/// A switchover moves the write role (it is no re-run of one that already finished).
pub fn moves_role(pair: Option<&PairState>, from: &str, to: &str) -> bool {
    match pair {
        None => true,
        Some(p) => {
            p.active != to
                || p.last
                    .as_ref()
                    .is_some_and(|m| m.finished_at.is_none() && m.from == from && m.to == to)
        }
    }
}

/// Every reason the switchover may not start (empty: it may). Nothing is changed before these are all clear.
pub fn refusals(p: &Preconditions<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for o in &p.other_in_progress {
        out.push(o.clone());
    }
    let moving = moves_role(p.pair, p.from, p.to);
    if moving && !p.resuming && !p.ignore_anti_flap {
        if let Some(pair) = p.pair {
            if let (Some(until), Some(last)) =
                (pair.anti_flap_until(p.anti_flap_period), pair.last.as_ref())
            {
                if until > p.now {
                    out.push(format!(
                        "anti-flap: a {} {} -> {} of this pair finished at {}, less than [dr] anti_flap_period \
                         ({}) ago; the next switchover is allowed from {} (or pass --ignore-anti-flap)",
                        last.kind.as_str(),
                        last.from,
                        last.to,
                        last.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        humantime::format_duration(p.anti_flap_period),
                        until.to_rfc3339()
                    ));
                }
            }
        }
    }
    if p.reverse_remote.is_none() {
        out.push(format!(
            "no remote on `{}` leads to `{}`: the reverse direction needs one; add to the configuration:\n{}",
            p.from, p.to, p.remote_hint
        ));
    }
    out.extend(p.missing_templates.iter().cloned());
    if p.renames_data_streams {
        if let Some((major, minor)) = p.from_version {
            if (major, minor) < (8, 4) {
                out.push(format!(
                    "`{}` runs Elasticsearch {major}.{minor}: following data streams under another name \
                     (`{{{{leader_index}}}}-replicated_from_{}`) needs 8.4 or later",
                    p.from, p.to
                ));
            }
        }
    }
    if moving && p.scope.is_empty() {
        out.push(format!(
            "nothing to switch: `{}` has no follower, auto-follow pattern or replicated data stream of `{}`",
            p.to, p.from
        ));
    }
    out
}

/// One data stream in scope, as seen on the new write cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamView {
    pub exists: bool,
    /// Backing indices that are still followers.
    pub backing_followers: usize,
}

/// What the runner saw on the pair before a step.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PairView {
    /// Patterns in scope on the new write cluster: `Some(active)`, `None` when the pattern is gone.
    pub patterns: BTreeMap<String, Option<bool>>,
    /// Followers in scope, each as the unfollow runbook sees it.
    pub followers: BTreeMap<String, IndexView>,
    pub data_streams: BTreeMap<String, StreamView>,
    /// The topology file already holds the pair state this switchover writes.
    pub topology_written: bool,
}

/// How far the switchover got, from its progress record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Steps already done (in order).
    pub done: Vec<SwitchStep>,
    /// The caught-up gate is skipped (`failover --force`).
    pub force: bool,
}

impl Progress {
    fn did(&self, s: &SwitchStep) -> bool {
        self.done.contains(s)
    }
}

/// The steps still missing, in order (never empty: [`SwitchStep::Finish`] ends every run). Level-triggered:
/// a pattern someone paused or a follower someone promoted meanwhile is not touched again; a stream whose
/// promotion was recorded is re-run only while a backing index is still a follower. `Err` names every reason
/// it cannot go on (a follower that does not exist, a status the unfollow runbook does not understand).
pub fn remaining(
    scope: &Scope,
    v: &PairView,
    p: &Progress,
) -> Result<Vec<SwitchStep>, Vec<String>> {
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    for name in &scope.patterns {
        if let Some(Some(true)) | None = v.patterns.get(name) {
            steps.push(SwitchStep::PausePattern(name.clone()));
        }
    }
    let mut promote = Vec::new();
    for f in &scope.followers {
        match v.followers.get(f).map(plan_steps) {
            Some(Ok(s)) if s.is_empty() => {}
            Some(Ok(_)) => promote.push(SwitchStep::PromoteFollower(f.clone())),
            Some(Err(e)) => problems.push(format!("follower_index `{f}`: {e}")),
            None => problems.push(format!("follower_index `{f}` was not looked at")),
        }
    }
    let mut streams = Vec::new();
    for s in &scope.data_streams {
        match v.data_streams.get(s) {
            Some(sv) if !sv.exists => problems.push(format!("data stream `{s}` does not exist")),
            Some(sv) => {
                let step = SwitchStep::PromoteDataStream(s.clone());
                if sv.backing_followers > 0 || !p.did(&step) {
                    streams.push(step);
                }
            }
            None => problems.push(format!("data stream `{s}` was not looked at")),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let moving = !promote.is_empty() || !streams.is_empty();
    if moving && !p.force && !p.did(&SwitchStep::Gate) {
        steps.push(SwitchStep::Gate);
    }
    steps.extend(promote);
    if !v.topology_written {
        steps.push(SwitchStep::WriteTopology);
    }
    let rollovers: Vec<SwitchStep> = scope
        .rollovers
        .iter()
        .map(|s| SwitchStep::RolloverDataStream(s.clone()))
        .filter(|s| !p.did(s))
        .collect();
    if (!streams.is_empty() || !rollovers.is_empty()) && !p.did(&SwitchStep::Reconcile) {
        // The reverse patterns first: the rollovers below then create write indices they follow.
        steps.push(SwitchStep::Reconcile);
    }
    steps.extend(streams);
    steps.extend(rollovers);
    steps.push(SwitchStep::Finish);
    Ok(steps)
}

/// Which way a switchover goes: from the cluster that wrote, to the one that writes after, and the remote on
/// `from` that leads to `to` (the reverse direction's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Direction<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub reverse_remote: &'a str,
}

/// What the switchover leaves in the topology for the pair (pure): `before` (the pair's state, if any) with
/// the scope moved from `from` to `to`. Plain followers: a declared follower promoted is listed in
/// `promoted`; the reverse follower (on `from`, under the name `from` had, of `to`'s promoted index) is added,
/// unless the configuration declares exactly that follower (a failback: it is taken out of `promoted`, so
/// reconcile follows again). A reverse follower that is promoted itself is dropped (it is back to the regular
/// index it was). Patterns: those in scope are `paused_patterns`; every declared pattern of the pair gets its
/// mirror on `from` from `to` (`<name><suffix><to>`, `{{leader_index}}<suffix><to>`, excluding
/// `*<suffix>*`). `mark` is the switchover's mark (finished or not).
pub fn reversed_pair(
    decl: &Config,
    eff: &Config,
    before: Option<&PairState>,
    d: Direction<'_>,
    scope: &Scope,
    mark: SwitchoverMark,
) -> PairState {
    let Direction {
        from,
        to,
        reverse_remote,
    } = d;
    let mut p = before
        .cloned()
        .unwrap_or_else(|| crate::config::PairState::new(from, to));
    p.active = to.to_string();
    p.last = Some(mark);
    let push = |v: &mut Vec<ClusterKey>, k: ClusterKey| {
        if !v.contains(&k) {
            v.push(k);
        }
    };
    for name in &scope.followers {
        let Some(f) = eff.follower(to, name) else {
            continue;
        };
        let declared = decl
            .follower(to, name)
            .is_some_and(|d| d.remote == f.remote && d.leader_index == f.leader_index);
        if declared {
            push(&mut p.promoted, ClusterKey::new(to, name));
        }
        p.followers
            .retain(|t| !(t.cluster == to && t.follower_index == *name));
        let back_declared = decl.follower(from, &f.leader_index).is_some_and(|d| {
            decl.leader_cluster(from, &d.remote) == Some(to) && d.leader_index == *name
        });
        if back_declared {
            p.promoted
                .retain(|k| !(k.cluster == from && k.name == f.leader_index));
        } else {
            let reverse = TopologyFollower {
                cluster: from.to_string(),
                remote: reverse_remote.to_string(),
                leader_index: name.clone(),
                follower_index: f.leader_index.clone(),
            };
            if !p.followers.contains(&reverse) {
                p.followers.push(reverse);
            }
        }
    }
    for name in &scope.patterns {
        push(&mut p.paused_patterns, ClusterKey::new(to, name));
    }
    for s in &scope.data_streams {
        push(&mut p.promoted_data_streams, ClusterKey::new(to, s));
    }
    for m in mirror_patterns(decl, from, to, reverse_remote) {
        if !p
            .auto_follow
            .iter()
            .any(|a| a.cluster == m.cluster && a.name == m.name)
        {
            p.auto_follow.push(m);
        }
    }
    p
}

/// The reverse (mirror) patterns on `from` following `to`, one per declared non-mirror pattern of the pair
/// (Elastic's bi-directional disaster-recovery tutorial): they follow `to`'s streams as
/// `<stream><suffix><to>` and exclude `*<suffix>*`, so the other side's copies are never followed back.
pub fn mirror_patterns(
    decl: &Config,
    from: &str,
    to: &str,
    reverse_remote: &str,
) -> Vec<TopologyPattern> {
    let suffix = &decl.dr.replicated_suffix;
    let exclusion = decl.dr.replicated_exclusion_pattern();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for a in &decl.auto_follow {
        let other = if a.cluster == to {
            from
        } else if a.cluster == from {
            to
        } else {
            continue;
        };
        if decl.leader_cluster(&a.cluster, &a.remote) != Some(other)
            || is_mirror_pattern(a.follow_index_pattern.as_deref(), suffix)
        {
            continue;
        }
        // The names the pattern's streams have on `to`: its follower names when it lives on `to`, its leader
        // names when it lives on `from`.
        let rename = a
            .follow_index_pattern
            .as_deref()
            .filter(|f| *f != "{{leader_index}}" && a.cluster == to);
        let leader_index_patterns: Vec<String> = a
            .leader_index_patterns
            .iter()
            .map(|l| match rename {
                Some(f) => f.replace("{{leader_index}}", l),
                None => l.clone(),
            })
            .collect();
        let mut exclusions = a.leader_index_exclusion_patterns.clone();
        if !exclusions.contains(&exclusion) {
            exclusions.push(exclusion.clone());
        }
        let name = format!("{}{suffix}{}", a.name, to.to_lowercase());
        if seen.insert(name.clone()) {
            out.push(TopologyPattern {
                cluster: from.to_string(),
                name,
                remote: reverse_remote.to_string(),
                leader_index_patterns,
                leader_index_exclusion_patterns: exclusions,
                follow_index_pattern: Some(decl.dr.follow_index_pattern(to)),
            });
        }
    }
    out
}

/// The pair states are the same but for the switchover's mark times (a re-run of the same switchover writes
/// nothing new).
pub fn same_topology(a: &PairState, b: &PairState) -> bool {
    let strip = |p: &PairState| {
        let mut p = p.clone();
        if let Some(m) = &mut p.last {
            m.started_at = DateTime::<Utc>::MIN_UTC;
            m.finished_at = None;
            m.operator_steps.clear();
        }
        p
    };
    strip(a) == strip(b)
}

/// The `[[remotes]]` entry an operator adds so that `from` can follow `to`.
pub fn remote_hint(from: &str, to: &str) -> String {
    format!(
        "[[remotes]]\ncluster = \"{from}\"\nalias = \"{to}\"\nleader = \"{to}\"\nseeds = [\"<transport address of {to}>:9300\"]"
    )
}

/// The operator step for a reverse follower blocked by the stale copy the old write cluster still has under
/// that name: the exact request when the copy holds no document the new leader lacks, else why not.
pub fn stale_copy_step(
    cluster: &str,
    index: &str,
    stale_docs: Option<i64>,
    leader_cluster: &str,
    leader_docs: Option<i64>,
) -> Result<String, String> {
    match (stale_docs, leader_docs) {
        (Some(s), Some(l)) if s <= l => Ok(format!(
            "DELETE /{index} on `{cluster}` (its stale copy holds {s} documents, `{leader_cluster}`'s `{index}` holds {l}: \
             nothing is lost); then re-run the switchover (or let the daemon's reconcile) follow `{leader_cluster}:{index}`"
        )),
        (Some(s), Some(l)) => Err(format!(
            "`{index}` on `{cluster}` holds {s} documents, more than the {l} of `{leader_cluster}`'s `{index}`: deleting it \
             would lose documents written to `{cluster}` after the switch; copy them to `{leader_cluster}` (reindex) first, \
             then DELETE /{index} on `{cluster}`"
        )),
        _ => Err(format!(
            "`{index}` on `{cluster}` blocks the reverse follower, but the document counts of both sides are unknown \
             (a cluster did not answer): compare them before you DELETE /{index} on `{cluster}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::act::runbook::FollowerView;
    use crate::config::SwitchoverKind;
    use crate::es::FollowerStatus;

    fn follower(status: FollowerStatus) -> IndexView {
        IndexView {
            exists: true,
            open: true,
            follower: Some(FollowerView {
                status,
                remote_cluster: "a".into(),
                leader_index: "logs".into(),
            }),
        }
    }

    fn regular() -> IndexView {
        IndexView {
            exists: true,
            open: true,
            follower: None,
        }
    }

    fn scope_all() -> Scope {
        Scope {
            followers: vec!["logs".into()],
            patterns: vec!["ds".into()],
            data_streams: vec!["logs-app".into()],
            rollovers: vec![],
        }
    }

    /// Nothing done yet: the pattern active, the follower active, the stream's backing indices followers.
    fn start() -> PairView {
        PairView {
            patterns: BTreeMap::from([("ds".into(), Some(true))]),
            followers: BTreeMap::from([("logs".into(), follower(FollowerStatus::Active))]),
            data_streams: BTreeMap::from([(
                "logs-app".into(),
                StreamView {
                    exists: true,
                    backing_followers: 2,
                },
            )]),
            topology_written: false,
        }
    }

    #[test]
    fn remaining_steps_from_every_starting_point() {
        use SwitchStep::*;
        let pp = || PausePattern("ds".into());
        let pf = || PromoteFollower("logs".into());
        let pd = || PromoteDataStream("logs-app".into());
        let done = |d: Vec<SwitchStep>| Progress {
            done: d,
            force: false,
        };
        let with = |f: &dyn Fn(&mut PairView)| {
            let mut v = start();
            f(&mut v);
            v
        };
        let paused = |v: &mut PairView| {
            v.patterns.insert("ds".into(), Some(false));
        };
        let promoted = |v: &mut PairView| {
            v.followers.insert("logs".into(), regular());
        };
        let stream_done = |v: &mut PairView| {
            v.data_streams
                .get_mut("logs-app")
                .unwrap()
                .backing_followers = 0;
        };
        type Case = (&'static str, PairView, Progress, Vec<SwitchStep>);
        let cases: Vec<Case> = vec![
            (
                "nothing done",
                start(),
                done(vec![]),
                vec![pp(), Gate, pf(), WriteTopology, Reconcile, pd(), Finish],
            ),
            (
                "someone paused the pattern meanwhile",
                with(&paused),
                done(vec![]),
                vec![Gate, pf(), WriteTopology, Reconcile, pd(), Finish],
            ),
            (
                "the pattern was deleted meanwhile: nothing to pause",
                with(&|v| {
                    v.patterns.insert("ds".into(), None);
                }),
                done(vec![]),
                vec![Gate, pf(), WriteTopology, Reconcile, pd(), Finish],
            ),
            (
                "pattern paused, gate passed",
                with(&paused),
                done(vec![pp(), Gate]),
                vec![pf(), WriteTopology, Reconcile, pd(), Finish],
            ),
            (
                "interrupted in the middle of the unfollow runbook (paused, closed)",
                with(&|v| {
                    paused(v);
                    v.followers.insert(
                        "logs".into(),
                        IndexView {
                            open: false,
                            ..follower(FollowerStatus::Paused)
                        },
                    );
                }),
                done(vec![pp(), Gate]),
                vec![pf(), WriteTopology, Reconcile, pd(), Finish],
            ),
            (
                "someone promoted the follower meanwhile",
                with(&|v| {
                    paused(v);
                    promoted(v);
                }),
                done(vec![pp(), Gate]),
                vec![WriteTopology, Reconcile, pd(), Finish],
            ),
            (
                "topology written",
                with(&|v| {
                    paused(v);
                    promoted(v);
                    v.topology_written = true;
                }),
                done(vec![pp(), Gate, pf(), WriteTopology]),
                vec![Reconcile, pd(), Finish],
            ),
            (
                "reverse set up, the stream half promoted (a backing index still a follower)",
                with(&|v| {
                    paused(v);
                    promoted(v);
                    v.topology_written = true;
                    v.data_streams.get_mut("logs-app").unwrap().backing_followers = 1;
                }),
                done(vec![pp(), Gate, pf(), WriteTopology, Reconcile]),
                vec![pd(), Finish],
            ),
            (
                "stream promotion recorded and no backing follower left",
                with(&|v| {
                    paused(v);
                    promoted(v);
                    stream_done(v);
                    v.topology_written = true;
                }),
                done(vec![pp(), Gate, pf(), WriteTopology, Reconcile, pd()]),
                vec![Finish],
            ),
            (
                "backing indices unfollowed by hand, promotion not recorded: the runbook still runs (_promote)",
                with(&|v| {
                    paused(v);
                    promoted(v);
                    stream_done(v);
                    v.topology_written = true;
                }),
                done(vec![pp(), Gate, pf(), WriteTopology, Reconcile]),
                vec![pd(), Finish],
            ),
            (
                "everything promoted by someone else before the gate: no gate needed",
                with(&|v| {
                    paused(v);
                    promoted(v);
                    stream_done(v);
                }),
                done(vec![pd()]),
                vec![WriteTopology, Finish],
            ),
            (
                "forced: no gate",
                start(),
                Progress {
                    done: vec![],
                    force: true,
                },
                vec![pp(), pf(), WriteTopology, Reconcile, pd(), Finish],
            ),
        ];
        for (name, view, progress, want) in cases {
            assert_eq!(
                remaining(&scope_all(), &view, &progress),
                Ok(want),
                "{name}"
            );
        }
    }

    #[test]
    fn remaining_refuses_what_it_cannot_finish() {
        let mut v = start();
        v.followers.insert(
            "logs".into(),
            IndexView {
                exists: false,
                open: false,
                follower: None,
            },
        );
        v.data_streams
            .insert("logs-app".into(), StreamView::default());
        let err = remaining(&scope_all(), &v, &Progress::default()).unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
        assert!(err[0].contains("`logs`") && err[0].contains("does not exist"));
        assert!(err[1].contains("data stream `logs-app` does not exist"));
    }

    #[test]
    fn a_failback_of_bidirectional_streams_only_rolls_over() {
        use SwitchStep::*;
        let scope = Scope {
            rollovers: vec!["logs-app".into()],
            ..Default::default()
        };
        let v = PairView::default();
        assert_eq!(
            remaining(&scope, &v, &Progress::default()),
            Ok(vec![
                WriteTopology,
                Reconcile,
                RolloverDataStream("logs-app".into()),
                Finish
            ])
        );
        let p = Progress {
            done: vec![
                WriteTopology,
                Reconcile,
                RolloverDataStream("logs-app".into()),
            ],
            force: false,
        };
        let v = PairView {
            topology_written: true,
            ..Default::default()
        };
        assert_eq!(remaining(&scope, &v, &p), Ok(vec![Finish]));
    }

    const PATTERN: &str = r#"
[[auto_follow]]
cluster = "b"
name = "ds"
remote = "a"
leader_index_patterns = ["logs-*"]
"#;

    fn cfg() -> Config {
        crate::config::from_toml_str(&format!("{}{PATTERN}", crate::testing::DR_PAIR)).unwrap()
    }

    fn dir<'a>(from: &'a str, to: &'a str, reverse_remote: &'a str) -> Direction<'a> {
        Direction {
            from,
            to,
            reverse_remote,
        }
    }

    fn mark(from: &str, to: &str) -> SwitchoverMark {
        SwitchoverMark {
            from: from.into(),
            to: to.into(),
            kind: SwitchoverKind::Switchover,
            started_at: DateTime::<Utc>::MIN_UTC,
            finished_at: None,
            operator_steps: vec![],
        }
    }

    #[test]
    fn scope_is_what_b_declares_from_a() {
        let c = cfg();
        let s = scope(&c, "a", "b", &[], &[]).unwrap();
        assert_eq!(s.followers, vec!["logs".to_string()]);
        assert_eq!(s.patterns, vec!["ds".to_string()]);
        assert!(scope(&c, "b", "a", &[], &[]).unwrap().is_empty());
        let only = scope(&c, "a", "b", &[], &["ds".into()]).unwrap();
        assert!(only.followers.is_empty() && only.patterns == vec!["ds".to_string()]);
        let err = scope(&c, "a", "b", &["nope".into()], &[]).unwrap_err();
        assert!(err[0].contains("--follower `nope`"), "{err:?}");
    }

    #[test]
    fn switchover_then_failback_returns_to_the_declared_topology() {
        let decl = cfg();
        let s1 = scope(&decl, "a", "b", &[], &[]).unwrap();
        let p1 = reversed_pair(&decl, &decl, None, dir("a", "b", "b"), &s1, mark("a", "b"));
        assert_eq!(p1.active, "b");
        assert_eq!(p1.promoted, vec![ClusterKey::new("b", "logs")]);
        assert_eq!(p1.paused_patterns, vec![ClusterKey::new("b", "ds")]);
        assert_eq!(
            p1.followers,
            vec![TopologyFollower {
                cluster: "a".into(),
                remote: "b".into(),
                leader_index: "logs".into(),
                follower_index: "logs".into(),
            }]
        );
        assert_eq!(
            p1.auto_follow,
            vec![TopologyPattern {
                cluster: "a".into(),
                name: "ds-replicated_from_b".into(),
                remote: "b".into(),
                leader_index_patterns: vec!["logs-*".into()],
                leader_index_exclusion_patterns: vec!["*-replicated_from_*".into()],
                follow_index_pattern: Some("{{leader_index}}-replicated_from_b".into()),
            }]
        );
        // A re-run computes the same state.
        let again = reversed_pair(
            &decl,
            &decl,
            Some(&p1),
            dir("a", "b", "b"),
            &s1,
            mark("a", "b"),
        );
        assert!(same_topology(&again, &p1));

        // Failback: A's reverse follower is promoted and dropped, B's declared follower follows again, B gets the
        // mirror pattern from A; the declared pattern stays paused, the mirror on A stays.
        let t = crate::config::Topology {
            pairs: vec![p1.clone()],
        };
        let eff = decl.with_topology(&t);
        let s2 = scope(&eff, "b", "a", &[], &[]).unwrap();
        assert_eq!(s2.followers, vec!["logs".to_string()]);
        assert!(s2.patterns.is_empty(), "the mirror pattern is not paused");
        let p2 = reversed_pair(
            &decl,
            &eff,
            Some(&p1),
            dir("b", "a", "a"),
            &s2,
            mark("b", "a"),
        );
        assert_eq!(p2.active, "a");
        assert!(p2.promoted.is_empty(), "{:?}", p2.promoted);
        assert!(p2.followers.is_empty(), "{:?}", p2.followers);
        assert_eq!(p2.paused_patterns, vec![ClusterKey::new("b", "ds")]);
        let names: Vec<(&str, &str)> = p2
            .auto_follow
            .iter()
            .map(|a| (a.cluster.as_str(), a.name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![("a", "ds-replicated_from_b"), ("b", "ds-replicated_from_a")]
        );
        assert!(!same_topology(&p1, &p2));
    }

    #[test]
    fn refusals_name_every_problem() {
        let s = Scope {
            followers: vec!["logs".into()],
            ..Default::default()
        };
        let now = DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let finished = now - chrono::Duration::minutes(10);
        let pair = PairState {
            last: Some(SwitchoverMark {
                finished_at: Some(finished),
                ..mark("b", "a")
            }),
            ..PairState::new("a", "b")
        };
        let base = Preconditions {
            from: "a",
            to: "b",
            now,
            pair: Some(&pair),
            anti_flap_period: Duration::from_secs(3600),
            ignore_anti_flap: false,
            resuming: false,
            reverse_remote: None,
            remote_hint: remote_hint("a", "b"),
            missing_templates: vec!["data stream `logs-app`: no template".into()],
            from_version: Some((8, 3)),
            renames_data_streams: true,
            other_in_progress: vec![],
            scope: &s,
        };
        let r = refusals(&base);
        assert_eq!(r.len(), 4, "{r:#?}");
        assert!(r[0].contains("anti-flap") && r[0].contains("2026-01-01T12:50:00+00:00"));
        assert!(r[1].contains("[[remotes]]\ncluster = \"a\""));
        assert!(r[2].contains("no template"));
        assert!(r[3].contains("needs 8.4"));
        let ok = Preconditions {
            ignore_anti_flap: true,
            reverse_remote: Some("b"),
            missing_templates: vec![],
            from_version: Some((8, 15)),
            ..base.clone()
        };
        assert!(refusals(&ok).is_empty());
        let later = Preconditions {
            now: now + chrono::Duration::hours(1),
            ignore_anti_flap: false,
            ..ok.clone()
        };
        assert!(refusals(&later).is_empty(), "the period is over");
        let resumed = Preconditions {
            resuming: true,
            ignore_anti_flap: false,
            ..ok.clone()
        };
        assert!(
            refusals(&resumed).is_empty(),
            "a resumed run is not a new switchover"
        );
        let empty = Scope::default();
        let nothing = Preconditions {
            scope: &empty,
            ..ok.clone()
        };
        assert!(refusals(&nothing)[0].contains("nothing to switch"));
        let pair_done = PairState {
            active: "b".into(),
            ..pair.clone()
        };
        let rerun = Preconditions {
            pair: Some(&pair_done),
            ignore_anti_flap: false,
            scope: &empty,
            ..ok
        };
        assert!(
            refusals(&rerun).is_empty(),
            "re-running a finished switchover is no new switch"
        );
    }

    #[test]
    fn the_stale_copy_is_only_deleted_when_nothing_is_lost() {
        let ok = stale_copy_step("a", "logs", Some(10), "b", Some(12)).unwrap();
        assert!(ok.starts_with("DELETE /logs on `a`"), "{ok}");
        let more = stale_copy_step("a", "logs", Some(13), "b", Some(12)).unwrap_err();
        assert!(more.contains("more than the 12"), "{more}");
        assert!(stale_copy_step("a", "logs", None, "b", Some(1)).is_err());
    }
}
