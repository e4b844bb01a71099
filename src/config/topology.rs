//! The DR topology: what switchovers changed relative to the declared configuration.
//!
//! A switchover (`ccr-sentinel switchover --from A --to B`) moves the write role of a pair of clusters from A to
//! B: it promotes B's followers of A, pauses B's auto-follow patterns from A and sets up the reverse direction
//! (A follows B). The configuration file still declares the original direction, so the result is recorded here,
//! in `[policy] state_dir/topology.json`, and every stage works on [`Config::with_topology`]: the declared
//! configuration with the topology applied. Reconcile then keeps the new direction instead of fighting it, and
//! the operator can make it permanent by putting [`PairState::permanent_toml`] (the switchover prints it,
//! `/status` `dr.pairs[].permanent_toml` holds it) into the configuration and removing the pair from the file.
//!
//! The file is plain serde data written atomically ([`Topology::save`]); unknown fields are ignored so an older
//! daemon reads a newer file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AutoFollowSettings, ClusterKey, Config, FollowerSettings};

/// The file name of the topology in the state directory.
pub const TOPOLOGY_FILE: &str = "topology.json";

/// What switchovers changed relative to the declared configuration; persisted as `[policy]
/// state_dir/topology.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// One entry per pair of clusters a switchover touched.
    #[serde(default)]
    pub pairs: Vec<PairState>,
}

/// The state of one pair of clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairState {
    /// The two cluster names, sorted.
    pub clusters: [String; 2],
    /// The cluster that takes the writes now.
    pub active: String,
    /// The last switchover or failover of the pair, finished or not.
    #[serde(default)]
    pub last: Option<SwitchoverMark>,
    /// Declared followers (`cluster/follower_index`) that a switchover promoted: regular indices now.
    #[serde(default)]
    pub promoted: Vec<ClusterKey>,
    /// Declared data streams (`cluster/stream`) a switchover promoted.
    #[serde(default)]
    pub promoted_data_streams: Vec<ClusterKey>,
    /// Declared auto-follow patterns (`cluster/name`) a switchover paused.
    #[serde(default)]
    pub paused_patterns: Vec<ClusterKey>,
    /// Followers of the reverse direction, as the configuration would declare them.
    #[serde(default)]
    pub followers: Vec<TopologyFollower>,
    /// Auto-follow patterns of the reverse direction, as the configuration would declare them.
    #[serde(default)]
    pub auto_follow: Vec<TopologyPattern>,
}

/// Whether the last change of the write role waited for the followers to catch up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwitchoverKind {
    /// Planned: writes stopped and every follower caught up before the promotion.
    Switchover,
    /// Forced (`failover --force`): promoted without the caught-up gate, data may have been lost.
    Failover,
}

impl SwitchoverKind {
    /// The JSON value and the metric label value.
    pub fn as_str(&self) -> &'static str {
        match self {
            SwitchoverKind::Switchover => "switchover",
            SwitchoverKind::Failover => "failover",
        }
    }
}

/// One switchover or failover of a pair: recorded when it starts, finished when it is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchoverMark {
    /// The cluster that took the writes before.
    pub from: String,
    /// The cluster that takes them after.
    pub to: String,
    /// Planned or forced.
    pub kind: SwitchoverKind,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished; `None` while it runs or after it was interrupted.
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Steps left to the operator (such as `DELETE /logs on a`), one sentence each; empty when none.
    #[serde(default)]
    pub operator_steps: Vec<String>,
}

/// A follower of the reverse direction: `follower_index` on `cluster` follows `leader_index` through `remote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyFollower {
    /// The cluster that holds the follower index.
    pub cluster: String,
    /// The remote cluster alias of the leader on `cluster`.
    pub remote: String,
    /// The index followed on the leader cluster.
    pub leader_index: String,
    /// The follower index on `cluster`.
    pub follower_index: String,
}

/// An auto-follow pattern of the reverse direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyPattern {
    /// The cluster that holds the pattern.
    pub cluster: String,
    /// The pattern name.
    pub name: String,
    /// The remote cluster alias of the leader on `cluster`.
    pub remote: String,
    /// Leader index patterns to follow.
    pub leader_index_patterns: Vec<String>,
    /// Leader index patterns never to follow.
    #[serde(default)]
    pub leader_index_exclusion_patterns: Vec<String>,
    /// The follower index name template (`{{leader_index}}` expands); `None` keeps the leader name.
    #[serde(default)]
    pub follow_index_pattern: Option<String>,
}

/// Reading or writing the topology file failed.
pub type TopologyError = crate::sync::StateFileError;

impl Topology {
    /// The topology file in `state_dir`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(TOPOLOGY_FILE)
    }

    /// Loads `state_dir/topology.json`; an absent file is the declared topology (no pair changed).
    pub fn load(state_dir: &Path) -> Result<Self, TopologyError> {
        crate::sync::load_json(Self::path(state_dir), "topology")
    }

    /// Reads the file's content.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Writes `state_dir/topology.json` atomically (temporary file + rename), creating the directory.
    pub fn save(&self, state_dir: &Path) -> Result<(), TopologyError> {
        crate::sync::save_json(Self::path(state_dir), self)
    }

    /// `true` when no pair differs from the declared configuration.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The state of the pair `a`, `b` (in either order), if a switchover touched it.
    pub fn pair(&self, a: &str, b: &str) -> Option<&PairState> {
        let key = pair_key(a, b);
        self.pairs.iter().find(|p| p.clusters == key)
    }

    /// The state of the pair `a`, `b`, created (with `a` active) when absent.
    pub fn pair_mut(&mut self, a: &str, b: &str) -> &mut PairState {
        let key = pair_key(a, b);
        let i = match self.pairs.iter().position(|p| p.clusters == key) {
            Some(i) => i,
            None => {
                self.pairs.push(PairState::new(a, b));
                self.pairs.len() - 1
            }
        };
        &mut self.pairs[i]
    }

    /// What does not fit `cfg`, one sentence each: a pair of unknown clusters, an active cluster outside its
    /// pair, a pair listed twice, an entry naming an unknown cluster or remote. [`Config::with_topology`] leaves
    /// such entries out; the daemon reports these problems in `/status` and the log.
    pub fn problems(&self, cfg: &Config) -> Vec<String> {
        let mut p = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for pair in &self.pairs {
            let name = pair.name();
            if !seen.insert(pair.clusters.clone()) {
                p.push(format!("pair {name} is listed twice"));
            }
            if pair.clusters[0] > pair.clusters[1] {
                p.push(format!("pair {name}: the cluster names must be sorted"));
            }
            for c in &pair.clusters {
                if !cfg.clusters.contains_key(c) {
                    p.push(format!("pair {name}: `{c}` is not a configured cluster"));
                }
            }
            if !pair.clusters.contains(&pair.active) {
                p.push(format!(
                    "pair {name}: the active cluster `{}` is not one of the pair",
                    pair.active
                ));
            }
            for f in &pair.followers {
                if cfg.remote(&f.cluster, &f.remote).is_none() {
                    p.push(format!(
                        "pair {name}: follower {}/{} uses remote `{}`, which no [[remotes]] entry defines on `{}`",
                        f.cluster, f.follower_index, f.remote, f.cluster
                    ));
                }
            }
            for a in &pair.auto_follow {
                if cfg.remote(&a.cluster, &a.remote).is_none() {
                    p.push(format!(
                        "pair {name}: auto-follow pattern {}/{} uses remote `{}`, which no [[remotes]] entry defines on `{}`",
                        a.cluster, a.name, a.remote, a.cluster
                    ));
                }
            }
        }
        p
    }
}

/// The sorted names of a pair.
pub fn pair_key(a: &str, b: &str) -> [String; 2] {
    if a <= b {
        [a.to_string(), b.to_string()]
    } else {
        [b.to_string(), a.to_string()]
    }
}

impl PairState {
    /// The pair `a`, `b` as declared: `a` active, nothing changed.
    pub fn new(a: &str, b: &str) -> Self {
        Self {
            clusters: pair_key(a, b),
            active: a.to_string(),
            last: None,
            promoted: Vec::new(),
            promoted_data_streams: Vec::new(),
            paused_patterns: Vec::new(),
            followers: Vec::new(),
            auto_follow: Vec::new(),
        }
    }

    /// The pair's label: `a/b`, sorted.
    pub fn name(&self) -> String {
        format!("{}/{}", self.clusters[0], self.clusters[1])
    }

    /// The cluster of the pair that does not take the writes.
    pub fn passive(&self) -> &str {
        if self.clusters[0] == self.active {
            &self.clusters[1]
        } else {
            &self.clusters[0]
        }
    }

    /// The configuration change that makes this pair's state permanent, as TOML with comments: the promoted
    /// followers to remove, the patterns to set `active = false` on, and the reverse direction's entries. After
    /// it is in the configuration, the pair can be removed from the topology file.
    pub fn permanent_toml(&self) -> String {
        use std::fmt::Write;
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""));
        let list = |v: &[String]| {
            let items: Vec<String> = v.iter().map(|s| q(s)).collect();
            format!("[{}]", items.join(", "))
        };
        let mut out = format!(
            "# DR pair {}: {} takes the writes. Put this into the configuration, then remove the pair from \
             state_dir/topology.json.\n",
            self.name(),
            self.active
        );
        for k in &self.promoted {
            let _ = writeln!(
                out,
                "# remove the [[followers]] entry cluster = {} follower_index = {} (a regular index now)",
                q(&k.cluster),
                q(&k.name)
            );
        }
        for k in &self.paused_patterns {
            let _ = writeln!(
                out,
                "# in the [[auto_follow]] entry cluster = {} name = {} set active = false",
                q(&k.cluster),
                q(&k.name)
            );
        }
        for f in &self.followers {
            let _ = write!(
                out,
                "\n[[followers]]\ncluster = {}\nremote = {}\nleader_index = {}\nfollower_index = {}\n",
                q(&f.cluster),
                q(&f.remote),
                q(&f.leader_index),
                q(&f.follower_index)
            );
        }
        for a in &self.auto_follow {
            let _ = write!(
                out,
                "\n[[auto_follow]]\ncluster = {}\nname = {}\nremote = {}\nleader_index_patterns = {}\n",
                q(&a.cluster),
                q(&a.name),
                q(&a.remote),
                list(&a.leader_index_patterns)
            );
            if !a.leader_index_exclusion_patterns.is_empty() {
                let _ = writeln!(
                    out,
                    "leader_index_exclusion_patterns = {}",
                    list(&a.leader_index_exclusion_patterns)
                );
            }
            if let Some(p) = &a.follow_index_pattern {
                let _ = writeln!(out, "follow_index_pattern = {}", q(p));
            }
        }
        out
    }

    /// A switchover or failover started and has not finished (running, or interrupted).
    pub fn in_progress(&self) -> bool {
        self.last.as_ref().is_some_and(|m| m.finished_at.is_none())
    }

    /// Until when a new switchover of this pair is refused (`finished_at + anti_flap_period`); `None` when no
    /// switchover finished.
    pub fn anti_flap_until(&self, anti_flap_period: Duration) -> Option<DateTime<Utc>> {
        let finished = self.last.as_ref()?.finished_at?;
        let period = chrono::Duration::from_std(anti_flap_period).unwrap_or(chrono::Duration::MAX);
        Some(
            finished
                .checked_add_signed(period)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }
}

impl Config {
    /// The configuration with `[policy] state_dir/topology.json` applied ([`Config::with_topology`]); the
    /// configuration itself without a state directory or a file. A file that cannot be read leaves the declared
    /// configuration with [`Config::topology_error`] set.
    pub fn with_topology_file(&self) -> Config {
        let Some(dir) = &self.policy.state_dir else {
            return self.clone();
        };
        match Topology::load(dir) {
            Ok(t) => self.with_topology(&t),
            Err(e) => self.with_broken_topology(e.to_string()),
        }
    }

    /// The declared configuration, marked as running without its topology because `error`.
    pub fn with_broken_topology(&self, error: String) -> Config {
        let mut cfg = self.clone();
        cfg.topology = Topology::default();
        cfg.topology_problems = vec![error.clone()];
        cfg.topology_error = Some(error);
        cfg
    }

    /// The configuration with the topology applied (pure): promoted followers become `promote = true` (reconcile
    /// reports a promoted one as `promoted`, never as a conflict), paused patterns `active = false`, the reverse
    /// followers and patterns added. A reverse follower or pattern with the key of a declared one supersedes it
    /// (the switchover changed what that name follows); one naming a remote the configuration does not define is
    /// left out ([`Topology::problems`] reports it).
    pub fn with_topology(&self, t: &Topology) -> Config {
        let mut cfg = self.clone();
        cfg.topology = t.clone();
        cfg.topology_problems = t.problems(self);
        for pair in &t.pairs {
            for f in &pair.followers {
                if cfg.remote(&f.cluster, &f.remote).is_none() {
                    continue;
                }
                let reverse = FollowerSettings {
                    cluster: f.cluster.clone(),
                    remote: f.remote.clone(),
                    leader_index: f.leader_index.clone(),
                    follower_index: f.follower_index.clone(),
                    ..FollowerSettings::default()
                };
                match cfg
                    .followers
                    .iter_mut()
                    .find(|d| d.cluster == f.cluster && d.follower_index == f.follower_index)
                {
                    // Declared the same way already (the operator made it permanent): keep its parameters.
                    Some(d) if d.remote == f.remote && d.leader_index == f.leader_index => {
                        d.promote = false;
                    }
                    Some(d) => *d = reverse,
                    None => cfg.followers.push(reverse),
                }
            }
            for a in &pair.auto_follow {
                if cfg.remote(&a.cluster, &a.remote).is_none() {
                    continue;
                }
                let reverse = AutoFollowSettings {
                    cluster: a.cluster.clone(),
                    name: a.name.clone(),
                    remote: a.remote.clone(),
                    leader_index_patterns: a.leader_index_patterns.clone(),
                    leader_index_exclusion_patterns: a.leader_index_exclusion_patterns.clone(),
                    follow_index_pattern: a.follow_index_pattern.clone(),
                    settings: Default::default(),
                    parameters: Default::default(),
                    active: None,
                };
                match cfg
                    .auto_follow
                    .iter_mut()
                    .find(|d| d.cluster == a.cluster && d.name == a.name)
                {
                    Some(d)
                        if d.remote == a.remote
                            && d.leader_index_patterns == a.leader_index_patterns
                            && d.leader_index_exclusion_patterns
                                == a.leader_index_exclusion_patterns
                            && d.follow_index_pattern == a.follow_index_pattern => {}
                    Some(d) => *d = reverse,
                    None => cfg.auto_follow.push(reverse),
                }
            }
        }
        // Promotions and pauses last, so they win over a reverse entry of another pair with the same key.
        for pair in &t.pairs {
            for k in &pair.promoted {
                if let Some(f) = cfg
                    .followers
                    .iter_mut()
                    .find(|f| f.cluster == k.cluster && f.follower_index == k.name)
                {
                    f.promote = true;
                }
            }
            for k in &pair.paused_patterns {
                if let Some(a) = cfg
                    .auto_follow
                    .iter_mut()
                    .find(|a| a.cluster == k.cluster && a.name == k.name)
                {
                    a.active = Some(false);
                }
            }
        }
        cfg
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::config::from_toml_str;
    use crate::es::{AutoFollowPattern, FollowerInfo, RemoteInfo};
    use crate::reconcile::plan::{
        plan, ClusterObservation, Decision, ItemKind, Observation, PlanOptions,
    };

    /// [`crate::testing::DR_PAIR`] with the pattern `logs-ds` on `b` from `a`.
    const PATTERN: &str = r#"
[[auto_follow]]
cluster = "b"
name = "logs-ds"
remote = "a"
leader_index_patterns = ["logs-*"]
leader_index_exclusion_patterns = ["*-replicated_from_*"]
follow_index_pattern = "{{leader_index}}-replicated_from_a"
"#;

    fn pair() -> String {
        format!("{}{PATTERN}", crate::testing::DR_PAIR)
    }

    fn cfg(extra: &str) -> Config {
        from_toml_str(&format!("{}{extra}", pair())).unwrap()
    }

    /// The state a finished switchover from `a` to `b` leaves.
    fn switched() -> Topology {
        let mut t = Topology::default();
        let p = t.pair_mut("b", "a");
        p.active = "b".into();
        p.last = Some(SwitchoverMark {
            from: "a".into(),
            to: "b".into(),
            kind: SwitchoverKind::Switchover,
            started_at: crate::testing::epoch(),
            finished_at: Some(crate::testing::epoch() + chrono::Duration::minutes(3)),
            operator_steps: vec![],
        });
        p.promoted = vec![ClusterKey::new("b", "logs")];
        p.promoted_data_streams = vec![ClusterKey::new("b", "logs-app-default")];
        p.paused_patterns = vec![ClusterKey::new("b", "logs-ds")];
        p.followers = vec![TopologyFollower {
            cluster: "a".into(),
            remote: "b".into(),
            leader_index: "logs".into(),
            follower_index: "logs".into(),
        }];
        p.auto_follow = vec![TopologyPattern {
            cluster: "a".into(),
            name: "logs-ds-from-b".into(),
            remote: "b".into(),
            leader_index_patterns: vec!["logs-app-default".into()],
            leader_index_exclusion_patterns: vec!["*-replicated_from_*".into()],
            follow_index_pattern: Some("{{leader_index}}-replicated_from_b".into()),
        }];
        t
    }

    fn follower<'a>(c: &'a Config, cluster: &str, index: &str) -> Option<&'a FollowerSettings> {
        c.follower(cluster, index)
    }

    fn pattern<'a>(c: &'a Config, cluster: &str, name: &str) -> Option<&'a AutoFollowSettings> {
        c.auto_follow
            .iter()
            .find(|a| a.cluster == cluster && a.name == name)
    }

    #[test]
    fn with_topology_applies_promotions_pauses_and_the_reverse_direction() {
        let declared = cfg("");
        let empty = declared.with_topology(&Topology::default());
        assert_eq!(empty.followers, declared.followers, "no topology: declared");
        assert_eq!(empty.auto_follow.len(), 1);
        assert_eq!(empty.auto_follow[0].active, None);

        let eff = declared.with_topology(&switched());
        let b_logs = follower(&eff, "b", "logs").unwrap();
        assert!(b_logs.promote, "promoted follower: promote = true");
        assert_eq!(
            pattern(&eff, "b", "logs-ds").unwrap().active,
            Some(false),
            "paused pattern: active = false"
        );
        let a_logs = follower(&eff, "a", "logs").unwrap();
        assert_eq!(
            (
                a_logs.remote.as_str(),
                a_logs.leader_index.as_str(),
                a_logs.promote
            ),
            ("b", "logs", false),
            "reverse follower"
        );
        let rev = pattern(&eff, "a", "logs-ds-from-b").unwrap();
        assert_eq!(rev.remote, "b");
        assert_eq!(
            rev.follow_index_pattern.as_deref(),
            Some("{{leader_index}}-replicated_from_b")
        );
        assert_eq!(rev.leader_index_exclusion_patterns, ["*-replicated_from_*"]);
        assert_eq!(eff.followers.len(), 2);
        assert_eq!(eff.auto_follow.len(), 2);
        assert!(switched().problems(&declared).is_empty());
    }

    #[test]
    fn a_declared_entry_the_topology_supersedes_is_replaced_not_duplicated() {
        // The operator declared `a/logs` following something else, and the pattern under another template.
        let declared = cfg(r#"
[[followers]]
cluster = "a"
remote = "b"
leader_index = "old-logs"
follower_index = "logs"
[[auto_follow]]
cluster = "a"
name = "logs-ds-from-b"
remote = "b"
leader_index_patterns = ["other-*"]
"#);
        let eff = declared.with_topology(&switched());
        let a_logs: Vec<_> = eff
            .followers
            .iter()
            .filter(|f| f.cluster == "a" && f.follower_index == "logs")
            .collect();
        assert_eq!(a_logs.len(), 1, "one follower per name");
        assert_eq!(a_logs[0].leader_index, "logs", "the topology wins");
        let pats: Vec<_> = eff
            .auto_follow
            .iter()
            .filter(|a| a.cluster == "a" && a.name == "logs-ds-from-b")
            .collect();
        assert_eq!(pats.len(), 1);
        assert_eq!(pats[0].leader_index_patterns, ["logs-app-default"]);

        // Declared exactly as the topology has it (made permanent): kept with its own parameters.
        let permanent = cfg(r#"
[[followers]]
cluster = "a"
remote = "b"
leader_index = "logs"
follower_index = "logs"
[followers.parameters]
max_read_request_operation_count = 10
"#);
        let eff = permanent.with_topology(&switched());
        let f = follower(&eff, "a", "logs").unwrap();
        assert_eq!(
            f.parameters,
            permanent.follower("a", "logs").unwrap().parameters
        );
        assert_eq!(eff.followers.len(), 2);
    }

    #[test]
    fn entries_naming_unknown_remotes_are_left_out_and_reported() {
        let declared = from_toml_str(&pair().replace(
            "[[remotes]]\ncluster = \"a\"\nalias = \"b\"\nleader = \"b\"\nseeds = [\"127.0.0.1:9301\"]\n",
            "",
        ))
        .unwrap();
        let mut t = switched();
        t.pairs.push(PairState::new("a", "ghost"));
        t.pairs[0].active = "c".into();
        let eff = declared.with_topology(&t);
        assert!(follower(&eff, "a", "logs").is_none());
        assert!(pattern(&eff, "a", "logs-ds-from-b").is_none());
        assert!(follower(&eff, "b", "logs").unwrap().promote);
        let all = t.problems(&declared).join("\n");
        for needle in [
            "pair a/ghost: `ghost` is not a configured cluster",
            "pair a/b: the active cluster `c` is not one of the pair",
            "follower a/logs uses remote `b`",
            "auto-follow pattern a/logs-ds-from-b uses remote `b`",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    fn remote_info() -> RemoteInfo {
        RemoteInfo {
            connected: true,
            mode: Some("sniff".into()),
            num_nodes_connected: Some(1),
            ..Default::default()
        }
    }

    /// `a` and `b` after the promotion on `b`: `b/logs` is a regular index, `b`'s pattern from `a` still
    /// active, `a` holds its stale `logs` when `stale`.
    fn observed(stale: bool, pattern_active: bool) -> Observation {
        let cluster = |alias: &str, seeds: &str, indices: &[&str], patterns| ClusterObservation {
            version: Some((8, 15)),
            remotes: Some(BTreeMap::from([(
                alias.to_string(),
                RemoteInfo {
                    seeds: vec![seeds.to_string()],
                    ..remote_info()
                },
            )])),
            followers: Some(BTreeMap::<String, FollowerInfo>::new()),
            indices: Some(indices.iter().map(|i| (i.to_string(), true)).collect()),
            patterns: Some(patterns),
            error: None,
        };
        let b_patterns = BTreeMap::from([(
            "logs-ds".to_string(),
            AutoFollowPattern {
                active: Some(pattern_active),
                remote_cluster: "a".into(),
                leader_index_patterns: vec!["logs-*".into()],
                leader_index_exclusion_patterns: vec!["*-replicated_from_*".into()],
                follow_index_pattern: Some("{{leader_index}}-replicated_from_a".into()),
                ..Default::default()
            },
        )]);
        let a_indices: &[&str] = if stale { &["logs"] } else { &[] };
        Observation {
            clusters: BTreeMap::from([
                (
                    "a".to_string(),
                    cluster("b", "127.0.0.1:9301", a_indices, BTreeMap::new()),
                ),
                (
                    "b".to_string(),
                    cluster("a", "127.0.0.1:9300", &["logs"], b_patterns),
                ),
            ]),
            leader_indices: BTreeMap::from([
                (
                    "a".to_string(),
                    BTreeMap::from([("logs".to_string(), true)]),
                ),
                (
                    "b".to_string(),
                    BTreeMap::from([("logs".to_string(), true)]),
                ),
            ]),
            data_streams: BTreeMap::new(),
            paused_by_reconcile: BTreeSet::new(),
            held_paused_patterns: BTreeSet::new(),
        }
    }

    fn decision(c: &Config, o: &Observation, kind: ItemKind, cluster: &str, name: &str) -> String {
        let items = plan(c, o, PlanOptions::default());
        let item = items
            .iter()
            .find(|i| i.key.kind == kind && i.key.id.cluster == cluster && i.key.id.name == name)
            .unwrap_or_else(|| panic!("no {kind:?} {cluster}/{name} in {items:#?}"));
        match &item.decision {
            Decision::InSync { note } => format!("in_sync:{}", note.as_deref().unwrap_or("")),
            Decision::Act { actions, .. } => actions
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join("+"),
            Decision::Blocked { reason, .. } => format!("blocked:{reason}"),
        }
    }

    /// What reconcile plans over the declared and the effective configuration after a switchover.
    #[test]
    fn reconcile_over_the_effective_configuration_keeps_the_new_direction() {
        let declared = cfg("");
        let eff = declared.with_topology(&switched());
        let table: Vec<(&str, &Config, Observation, ItemKind, &str, &str, &str)> = vec![
            (
                "declared: the promoted index is a name conflict",
                &declared,
                observed(false, true),
                ItemKind::Follower,
                "b",
                "logs",
                "blocked:name_conflict",
            ),
            (
                "effective: the promoted index is in sync (promoted)",
                &eff,
                observed(false, true),
                ItemKind::Follower,
                "b",
                "logs",
                "in_sync:promoted",
            ),
            (
                "effective: an active paused pattern is paused again",
                &eff,
                observed(false, true),
                ItemKind::AutoFollow,
                "b",
                "logs-ds",
                "pause_auto_follow",
            ),
            (
                "effective: the paused pattern stays paused",
                &eff,
                observed(false, false),
                ItemKind::AutoFollow,
                "b",
                "logs-ds",
                "in_sync:",
            ),
            (
                "effective: the reverse follower is created",
                &eff,
                observed(false, false),
                ItemKind::Follower,
                "a",
                "logs",
                "follow",
            ),
            (
                "effective: the stale copy on a blocks the reverse follower (operator step)",
                &eff,
                observed(true, false),
                ItemKind::Follower,
                "a",
                "logs",
                "blocked:name_conflict",
            ),
            (
                "effective: the reverse pattern is created",
                &eff,
                observed(false, false),
                ItemKind::AutoFollow,
                "a",
                "logs-ds-from-b",
                "put_auto_follow",
            ),
        ];
        for (what, c, o, kind, cluster, name, want) in table {
            let got = decision(c, &o, kind, cluster, name);
            assert!(got.starts_with(want), "{what}: got {got}, want {want}");
        }
    }

    #[test]
    fn round_trips_through_the_state_dir_and_reports_a_broken_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Topology::load(dir.path()).unwrap(), Topology::default());
        let t = switched();
        t.save(dir.path()).unwrap();
        assert_eq!(Topology::load(dir.path()).unwrap(), t);
        let text = std::fs::read_to_string(Topology::path(dir.path())).unwrap();
        assert!(text.contains("\"kind\": \"switchover\""), "{text}");
        assert!(text.contains("\"b/logs\""), "keys as cluster/name: {text}");
        // Fields a newer version adds are ignored; absent lists are empty.
        let minimal = r#"{"pairs": [{"clusters": ["a", "b"], "active": "b", "future": 1}]}"#;
        let m = Topology::from_json(minimal.as_bytes()).unwrap();
        assert_eq!(m.pairs[0].passive(), "a");
        assert!(m.pairs[0].promoted.is_empty());
        std::fs::write(Topology::path(dir.path()), "{not json").unwrap();
        let err = Topology::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is not a ccr-sentinel topology file"), "{err}");
    }

    #[test]
    fn the_permanent_toml_declares_what_the_topology_adds() {
        let t = switched();
        let toml = t.pairs[0].permanent_toml();
        assert!(
            toml.contains(
                "# remove the [[followers]] entry cluster = \"b\" follower_index = \"logs\""
            ),
            "{toml}"
        );
        assert!(
            toml.contains("name = \"logs-ds\" set active = false"),
            "{toml}"
        );
        // The entries it adds make the same effective configuration without the file.
        let permanent = cfg(&toml);
        let eff = cfg("").with_topology(&t);
        let (p, e) = (
            follower(&permanent, "a", "logs").unwrap(),
            follower(&eff, "a", "logs").unwrap(),
        );
        assert_eq!((&p.remote, &p.leader_index), (&e.remote, &e.leader_index));
        let p = pattern(&permanent, "a", "logs-ds-from-b").unwrap();
        let e = pattern(&eff, "a", "logs-ds-from-b").unwrap();
        assert_eq!(
            (
                &p.remote,
                &p.leader_index_patterns,
                &p.leader_index_exclusion_patterns,
                &p.follow_index_pattern
            ),
            (
                &e.remote,
                &e.leader_index_patterns,
                &e.leader_index_exclusion_patterns,
                &e.follow_index_pattern
            )
        );
        // And applying the topology on top of it changes nothing more.
        assert_eq!(
            permanent.with_topology(&t).followers.len(),
            eff.followers.len()
        );
    }

    #[test]
    fn pair_state_helpers() {
        let mut t = switched();
        assert_eq!(t.pair("a", "b"), t.pair("b", "a"));
        let p = t.pair("a", "b").unwrap();
        assert_eq!((p.name().as_str(), p.passive()), ("a/b", "a"));
        assert!(!p.in_progress());
        let finished = crate::testing::epoch() + chrono::Duration::minutes(3);
        assert_eq!(
            p.anti_flap_until(Duration::from_secs(3600)),
            Some(finished + chrono::Duration::hours(1))
        );
        assert_eq!(
            PairState::new("x", "y").anti_flap_until(Duration::ZERO),
            None
        );
        t.pair_mut("a", "b").last.as_mut().unwrap().finished_at = None;
        assert!(t.pair("a", "b").unwrap().in_progress());
        t.pair_mut("c", "a");
        assert_eq!(t.pairs.len(), 2);
        assert_eq!(t.pairs[1].clusters, ["a".to_string(), "c".to_string()]);
        assert_eq!(t.pairs[1].active, "c");
    }
}
