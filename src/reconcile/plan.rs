//! Reconcile planning: desired configuration + observed cluster state -> what to do, item by item. Pure: no
//! I/O, no clock; [`crate::reconcile`] observes, calls [`plan`], and runs the actions.
//!
//! Rules:
//! - a remote is written only when missing or different (`seeds` / `mode` / `proxy_address` / `server_name` /
//!   `skip_unavailable`), and never when `manage = false` (or a sniff remote without seeds);
//! - a follower is created only when its name is free and its remote is connected; a name taken by a regular
//!   index, or by a follower of another leader, is a conflict, reported, never fixed (nothing is deleted);
//!   except that a regular index under the name of a follower with `promote = true` is that follower promoted
//!   (the end state of a migration), in sync;
//! - follow-parameter differences are drift: fixed by pause + resume only with `apply_parameter_changes`;
//! - auto-follow patterns are created or overwritten when different, then paused or resumed to match `active`,
//!   except that a pattern a maintenance window holds paused stays paused;
//! - a paused follower is left alone (pausing is the policy's and the operator's business).
//!
//! Everything in sync plans no action, which is what makes a second run send nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::act::Action;
use crate::config::{
    flat_index_settings, parse_byte_size, parse_es_time, AutoFollowSettings, ClusterKey, Config,
    FollowParameters, FollowerSettings, RemoteMode, RemoteSettings,
};
use crate::es::{AutoFollowPattern, DataStreamsResponse, FailureReason};
use crate::es::{FollowerInfo, FollowerStatus, RemoteInfo, RemoteInfoResponse};
use crate::evaluate::data_streams::pattern_misses;

/// What reconcile read from one local (follower) cluster. `None` fields could not be read.
#[derive(Debug, Clone, Default)]
pub struct ClusterObservation {
    /// `(major, minor)` from `GET /`.
    pub version: Option<(u32, u32)>,
    /// `GET /_remote/info`.
    pub remotes: Option<RemoteInfoResponse>,
    /// `GET /_all/_ccr/info`, by follower index.
    pub followers: Option<BTreeMap<String, FollowerInfo>>,
    /// `GET /_cat/indices`: index name -> open.
    pub indices: Option<BTreeMap<String, bool>>,
    /// `GET /_ccr/auto_follow`, by pattern name.
    pub patterns: Option<BTreeMap<String, AutoFollowPattern>>,
    /// Why something could not be read (the first error), for messages.
    pub error: Option<String>,
}

/// Everything reconcile read.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Local clusters by configuration name.
    pub clusters: BTreeMap<String, ClusterObservation>,
    /// Index lists (name -> open) of leader clusters the daemon can read, by configuration name.
    pub leader_indices: BTreeMap<String, BTreeMap<String, bool>>,
    /// `GET /_data_stream` of the clusters holding auto-follow patterns and of their leaders (7.9+ clusters that
    /// answered), by configuration name: the backing indices a pattern missed are followed.
    pub data_streams: BTreeMap<String, DataStreamsResponse>,
    /// Followers (cluster, follower_index) that reconcile itself paused to change parameters and has not resumed
    /// yet (the resume failed): they are resumed, although reconcile otherwise leaves paused followers alone.
    pub paused_by_reconcile: BTreeSet<ClusterKey>,
    /// Auto-follow patterns (cluster, name) a policy maintenance window holds paused: reconcile keeps them paused
    /// (the policy resumes them when the window ends), even with `active = true`.
    pub held_paused_patterns: BTreeSet<ClusterKey>,
}

/// The kind of a planned item: the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Remote,
    Follower,
    AutoFollow,
}

impl ItemKind {
    /// The label value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemKind::Remote => "remote",
            ItemKind::Follower => "follower",
            ItemKind::AutoFollow => "auto_follow",
        }
    }
}

/// One desired thing: a remote alias, a follower index or an auto-follow pattern on a cluster. Serialised as
/// `{"cluster", "kind", "name"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    pub kind: ItemKind,
    /// The cluster and the alias, follower index or pattern name.
    pub id: ClusterKey,
}

impl ItemKey {
    /// The item `name` of `kind` on `cluster`.
    pub fn new(cluster: &str, kind: ItemKind, name: &str) -> Self {
        Self {
            kind,
            id: ClusterKey::new(cluster, name),
        }
    }
}

impl Serialize for ItemKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ItemKey", 3)?;
        st.serialize_field("cluster", &self.id.cluster)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("name", &self.id.name)?;
        st.end()
    }
}

/// What to do about one item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Matches the configuration.
    InSync {
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Run these actions, in order, stopping at the first failure.
    Act { actions: Vec<Action>, why: String },
    /// Cannot be brought to the desired state now.
    Blocked {
        reason: FailureReason,
        message: String,
    },
}

/// One item of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedItem {
    #[serde(flatten)]
    pub key: ItemKey,
    #[serde(flatten)]
    pub decision: Decision,
}

/// Planning switches from `[reconcile]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub apply_parameter_changes: bool,
}

/// How a follower cluster reaches a remote alias, as far as planning is concerned.
#[derive(Debug, Clone, PartialEq)]
enum RemoteState {
    /// `_remote/info` could not be read.
    Unknown(String),
    /// The alias is not configured on the cluster.
    Missing,
    /// Configured but not connected.
    Disconnected,
    Connected,
    /// This plan sets it; it is not usable before it reports connected.
    Pending,
}

/// Plans every configured remote, follower and auto-follow pattern. Sorted by remote, follower, pattern.
pub fn plan(cfg: &Config, obs: &Observation, opts: PlanOptions) -> Vec<PlannedItem> {
    let mut items = Vec::new();
    let mut pending: BTreeSet<ClusterKey> = BTreeSet::new();
    for r in &cfg.remotes {
        let o = obs.clusters.get(&r.cluster);
        let decision = plan_remote(r, o);
        if matches!(decision, Decision::Act { .. }) {
            pending.insert(ClusterKey::new(&r.cluster, &r.alias));
        }
        items.push(PlannedItem {
            key: ItemKey::new(&r.cluster, ItemKind::Remote, &r.alias),
            decision,
        });
    }
    let remote_state = |cluster: &str, alias: &str| -> RemoteState {
        if pending.contains(&ClusterKey::new(cluster, alias)) {
            return RemoteState::Pending;
        }
        let Some(o) = obs.clusters.get(cluster) else {
            return RemoteState::Unknown(format!("cluster `{cluster}` was not read"));
        };
        match &o.remotes {
            None => RemoteState::Unknown(unreadable(o, "_remote/info")),
            Some(r) => match r.get(alias) {
                None => RemoteState::Missing,
                Some(i) if i.connected => RemoteState::Connected,
                Some(_) => RemoteState::Disconnected,
            },
        }
    };
    for f in &cfg.followers {
        let o = obs.clusters.get(&f.cluster);
        let ours = obs
            .paused_by_reconcile
            .contains(&ClusterKey::new(&f.cluster, &f.follower_index));
        let leader_indices = cfg
            .leader_cluster(&f.cluster, &f.remote)
            .and_then(|l| obs.leader_indices.get(l));
        let decision = plan_follower(
            f,
            o,
            remote_state(&f.cluster, &f.remote),
            leader_indices,
            opts,
            ours,
        );
        items.push(PlannedItem {
            key: ItemKey::new(&f.cluster, ItemKind::Follower, &f.follower_index),
            decision,
        });
    }
    for a in &cfg.auto_follow {
        let o = obs.clusters.get(&a.cluster);
        let held = obs
            .held_paused_patterns
            .contains(&ClusterKey::new(&a.cluster, &a.name));
        let decision = plan_auto_follow(a, o, remote_state(&a.cluster, &a.remote), held);
        items.push(PlannedItem {
            key: ItemKey::new(&a.cluster, ItemKind::AutoFollow, &a.name),
            decision,
        });
    }
    for a in &cfg.auto_follow {
        if remote_state(&a.cluster, &a.remote) == RemoteState::Connected {
            items.extend(plan_unfollowed(cfg, a, obs));
        }
    }
    items
}

/// A follow of every leader backing index the pattern `a` missed (`unfollowed_match`, see
/// [`crate::evaluate::data_streams`]), as the auto-follower would have sent it (`AutoFollower.followLeaderIndex`:
/// the pattern's settings and parameters, `data_stream_name` from 8.4). Nothing is planned for a name already
/// taken on the cluster (a regular index, a configured follower) or, before 8.4, for a renamed backing index
/// (Elasticsearch refuses it).
fn plan_unfollowed(cfg: &Config, a: &AutoFollowSettings, obs: &Observation) -> Vec<PlannedItem> {
    let Some(o) = obs.clusters.get(&a.cluster) else {
        return Vec::new();
    };
    let (Some(followers), Some(indices)) = (&o.followers, &o.indices) else {
        return Vec::new();
    };
    let Some(leader_cluster) = cfg.leader_cluster(&a.cluster, &a.remote) else {
        return Vec::new();
    };
    let Some(leader) = obs.data_streams.get(leader_cluster) else {
        return Vec::new();
    };
    let followed = |leader_index: &str| {
        followers
            .values()
            .any(|f| f.remote_cluster == a.remote && f.leader_index == leader_index)
    };
    let renames = version_at_least(Some(o), 8, 4) == Some(true);
    pattern_misses(
        a,
        leader_cluster,
        leader,
        obs.data_streams.get(&a.cluster),
        &followed,
        renames,
    )
    .into_iter()
    .filter(|m| !indices.contains_key(&m.follower_index))
    .filter(|m| renames || m.follower_index == m.leader_index)
    .filter(|m| {
        !cfg.followers
            .iter()
            .any(|f| f.cluster == a.cluster && f.follower_index == m.follower_index)
    })
    .map(|m| PlannedItem {
        key: ItemKey::new(&a.cluster, ItemKind::Follower, &m.follower_index),
        decision: Decision::Act {
            why: format!(
                "unfollowed_match: leader backing index `{}` of data stream `{}` matches auto-follow pattern `{}` \
                 and is newer than a backing index it followed, but `{}` has no follower of it",
                m.leader_index, m.leader_data_stream, a.name, a.cluster
            ),
            actions: vec![Action::Follow {
                cluster: a.cluster.clone(),
                follower_index: m.follower_index,
                remote_cluster: a.remote.clone(),
                leader_index: m.leader_index,
                settings: a.settings.clone(),
                parameters: a.parameters.clone(),
                data_stream_name: renames.then_some(m.data_stream),
            }],
        },
    })
    .collect()
}

fn unreadable(o: &ClusterObservation, what: &str) -> String {
    match &o.error {
        Some(e) => format!("cannot read {what}: {e}"),
        None => format!("cannot read {what}"),
    }
}

fn version_at_least(o: Option<&ClusterObservation>, major: u32, minor: u32) -> Option<bool> {
    o.and_then(|o| o.version)
        .map(|(a, b)| (a, b) >= (major, minor))
}

/// The remote's settings as `PUT /_cluster/settings` persistent keys, given what is there now.
pub fn remote_settings_body(
    r: &RemoteSettings,
    observed: Option<&RemoteInfo>,
) -> Map<String, Value> {
    let p = |k: &str| format!("cluster.remote.{}.{k}", r.alias);
    let mut m = Map::new();
    match r.mode {
        RemoteMode::Sniff => {
            m.insert(p("seeds"), Value::from(r.seeds.clone()));
            if observed.is_some_and(|o| o.mode() == "proxy") {
                m.insert(p("mode"), "sniff".into());
                m.insert(p("proxy_address"), Value::Null);
                m.insert(p("server_name"), Value::Null);
                m.insert(p("proxy_socket_connections"), Value::Null);
            }
            // Otherwise `mode` stays unset on a sniff remote: it is the default, and 6.x/7.0-7.6 reject the key.
        }
        RemoteMode::Proxy => {
            m.insert(p("mode"), "proxy".into());
            m.insert(
                p("proxy_address"),
                r.proxy_address
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            );
            m.insert(
                p("server_name"),
                r.server_name
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            );
            if observed.is_some_and(|o| o.mode() == "sniff") {
                m.insert(p("seeds"), Value::Null);
                m.insert(p("node_connections"), Value::Null);
            }
        }
    }
    if let Some(s) = r.skip_unavailable {
        m.insert(p("skip_unavailable"), s.into());
    }
    m
}

/// Differences between a configured remote and `_remote/info`, as sentences; empty when in sync.
pub fn remote_differences(r: &RemoteSettings, o: &RemoteInfo) -> Vec<String> {
    let mut d = Vec::new();
    match r.mode {
        RemoteMode::Sniff => {
            if o.mode() != "sniff" {
                d.push(format!("mode is `{}`, configured `sniff`", o.mode()));
            }
            let want: BTreeSet<&str> = r.seeds.iter().map(|s| s.trim()).collect();
            let have: BTreeSet<&str> = o.seeds.iter().map(|s| s.trim()).collect();
            if want != have {
                d.push(format!("seeds are {:?}, configured {:?}", o.seeds, r.seeds));
            }
        }
        RemoteMode::Proxy => {
            if o.mode() != "proxy" {
                d.push(format!("mode is `{}`, configured `proxy`", o.mode()));
            }
            if o.proxy_address.as_deref().map(str::trim)
                != r.proxy_address.as_deref().map(str::trim)
            {
                d.push(format!(
                    "proxy_address is {:?}, configured {:?}",
                    o.proxy_address.as_deref().unwrap_or(""),
                    r.proxy_address.as_deref().unwrap_or("")
                ));
            }
            let observed_sni = o.server_name.as_deref().filter(|s| !s.is_empty());
            if observed_sni != r.server_name.as_deref() {
                d.push(format!(
                    "server_name is {:?}, configured {:?}",
                    observed_sni.unwrap_or(""),
                    r.server_name.as_deref().unwrap_or("")
                ));
            }
        }
    }
    if let Some(want) = r.skip_unavailable {
        if o.skip_unavailable != Some(want) {
            d.push(format!(
                "skip_unavailable is {}, configured {want}",
                o.skip_unavailable
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| "unset".into())
            ));
        }
    }
    d
}

fn plan_remote(r: &RemoteSettings, o: Option<&ClusterObservation>) -> Decision {
    let Some(o) = o else {
        return Decision::Blocked {
            reason: FailureReason::Unavailable,
            message: format!("cluster `{}` was not read", r.cluster),
        };
    };
    let Some(remotes) = &o.remotes else {
        return Decision::Blocked {
            reason: FailureReason::Unavailable,
            message: unreadable(o, "_remote/info"),
        };
    };
    let observed = remotes.get(&r.alias);
    let managed = r.manage && !(r.mode == RemoteMode::Sniff && r.seeds.is_empty());
    if !managed {
        return match observed {
            None => Decision::Blocked {
                reason: FailureReason::RemoteUnknown,
                message: format!(
                    "remote `{}` is not configured on `{}`, and this remote is not managed (manage = false or no seeds): set it up on the cluster",
                    r.alias, r.cluster
                ),
            },
            Some(i) if !i.connected => Decision::Blocked {
                reason: FailureReason::RemoteNotConnected,
                message: format!("remote `{}` on `{}` is not connected", r.alias, r.cluster),
            },
            Some(_) => Decision::InSync {
                note: Some("not managed".into()),
            },
        };
    }
    if r.mode == RemoteMode::Proxy && version_at_least(Some(o), 7, 7) == Some(false) {
        return Decision::Blocked {
            reason: FailureReason::Unsupported,
            message: format!(
                "`mode = \"proxy\"` needs Elasticsearch 7.7 or later on `{}`",
                r.cluster
            ),
        };
    }
    let why = match observed {
        None => format!("remote `{}` is not configured on `{}`", r.alias, r.cluster),
        Some(i) => {
            let d = remote_differences(r, i);
            if d.is_empty() {
                return if i.connected {
                    Decision::InSync { note: None }
                } else {
                    Decision::Blocked {
                        reason: FailureReason::RemoteNotConnected,
                        message: format!(
                            "remote `{}` on `{}` is configured as wanted but not connected (check the seeds are the leader's transport addresses)",
                            r.alias, r.cluster
                        ),
                    }
                };
            }
            format!(
                "remote `{}` on `{}` differs: {}",
                r.alias,
                r.cluster,
                d.join("; ")
            )
        }
    };
    Decision::Act {
        actions: vec![Action::PutRemote {
            cluster: r.cluster.clone(),
            alias: r.alias.clone(),
            settings: remote_settings_body(r, observed),
        }],
        why,
    }
}

/// The reason a follow or pattern cannot be set up through a remote now, if any.
fn remote_blocker(state: &RemoteState, cluster: &str, alias: &str) -> Option<Decision> {
    let (reason, message) = match state {
        RemoteState::Connected => return None,
        RemoteState::Unknown(e) => (FailureReason::Unavailable, e.clone()),
        RemoteState::Missing => (
            FailureReason::RemoteUnknown,
            format!("remote `{alias}` is not configured on `{cluster}`"),
        ),
        RemoteState::Disconnected => (
            FailureReason::RemoteNotConnected,
            format!("remote `{alias}` on `{cluster}` is not connected"),
        ),
        RemoteState::Pending => (
            FailureReason::RemoteNotConnected,
            format!("waiting for remote `{alias}` on `{cluster}`, which this run sets, to connect"),
        ),
    };
    Some(Decision::Blocked { reason, message })
}

/// A follow parameter value in a comparable form.
#[derive(Debug, PartialEq)]
enum Norm {
    Count(u64),
    Bytes(u64),
    Time(std::time::Duration),
    Raw(String),
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn normalize(key: &str, v: &Value) -> Norm {
    let text = value_text(v);
    let parsed = if key.ends_with("_size") {
        parse_byte_size(&text).map(Norm::Bytes)
    } else if key == "max_retry_delay" || key == "read_poll_timeout" {
        parse_es_time(&text).map(Norm::Time)
    } else {
        text.trim().parse::<u64>().ok().map(Norm::Count)
    };
    parsed.unwrap_or(Norm::Raw(text))
}

/// Configured follow parameters that differ from `observed` (a `parameters` object of `_ccr/info`, or the
/// parameters of an auto-follow pattern), as sentences. Only configured parameters are compared; one missing
/// from `observed` differs.
pub fn parameter_differences(
    configured: &FollowParameters,
    observed: &Map<String, Value>,
) -> Vec<String> {
    configured
        .to_json()
        .iter()
        .filter_map(|(k, want)| match observed.get(k) {
            Some(have) if normalize(k, have) == normalize(k, want) => None,
            Some(have) => Some(format!(
                "{k} is {}, configured {}",
                value_text(have),
                value_text(want)
            )),
            None => Some(format!("{k} is unset, configured {}", value_text(want))),
        })
        .collect()
}

fn plan_follower(
    f: &FollowerSettings,
    o: Option<&ClusterObservation>,
    remote: RemoteState,
    leader_indices: Option<&BTreeMap<String, bool>>,
    opts: PlanOptions,
    paused_by_reconcile: bool,
) -> Decision {
    let Some(o) = o else {
        return Decision::Blocked {
            reason: FailureReason::Unavailable,
            message: format!("cluster `{}` was not read", f.cluster),
        };
    };
    let (Some(followers), Some(indices)) = (&o.followers, &o.indices) else {
        return Decision::Blocked {
            reason: FailureReason::Unavailable,
            message: unreadable(o, "the follower and index lists"),
        };
    };
    if let Some(info) = followers.get(&f.follower_index) {
        if info.remote_cluster != f.remote || info.leader_index != f.leader_index {
            return Decision::Blocked {
                reason: FailureReason::NameConflict,
                message: format!(
                    "`{}` on `{}` already follows `{}:{}`, not the configured `{}:{}`; reconcile never unfollows or deletes it",
                    f.follower_index, f.cluster, info.remote_cluster, info.leader_index, f.remote, f.leader_index
                ),
            };
        }
        if info.status != FollowerStatus::Active && paused_by_reconcile {
            return Decision::Act {
                actions: vec![Action::ResumeFollow {
                    cluster: f.cluster.clone(),
                    follower_index: f.follower_index.clone(),
                    parameters: f.parameters.clone(),
                }],
                why: "reconcile paused it to change its parameters and the resume has not succeeded yet".into(),
            };
        }
        if info.status != FollowerStatus::Active {
            return Decision::InSync {
                note: Some("paused; reconcile does not resume followers".into()),
            };
        }
        let diffs = info
            .parameters
            .as_ref()
            .map(|p| parameter_differences(&f.parameters, p))
            .unwrap_or_default();
        if diffs.is_empty() {
            return Decision::InSync { note: None };
        }
        let what = format!("follow parameters differ: {}", diffs.join("; "));
        if !opts.apply_parameter_changes {
            return Decision::Blocked {
                reason: FailureReason::ParameterDrift,
                message: format!(
                    "{what} (set `reconcile.apply_parameter_changes = true` to fix by pause + resume)"
                ),
            };
        }
        return Decision::Act {
            actions: vec![
                Action::PauseFollow {
                    cluster: f.cluster.clone(),
                    follower_index: f.follower_index.clone(),
                },
                Action::ResumeFollow {
                    cluster: f.cluster.clone(),
                    follower_index: f.follower_index.clone(),
                    parameters: f.parameters.clone(),
                },
            ],
            why: what,
        };
    }
    if indices.contains_key(&f.follower_index) && f.promote {
        // With `promote = true` the follower is meant to become a regular index (a migration): once promoted,
        // that is the desired end state, not a conflict.
        return Decision::InSync {
            note: Some(format!(
                "promoted: `{}` is a regular index now (`promote = true`); remove it from [[followers]] when the migration is done",
                f.follower_index
            )),
        };
    }
    if indices.contains_key(&f.follower_index) {
        return Decision::Blocked {
            reason: FailureReason::NameConflict,
            message: format!(
                "index `{}` exists on `{}` and is not a follower; reconcile never deletes or overwrites an index: rename the follower in the configuration or remove the index yourself",
                f.follower_index, f.cluster
            ),
        };
    }
    if let Some(d) = remote_blocker(&remote, &f.cluster, &f.remote) {
        return d;
    }
    match leader_indices.map(|l| l.get(&f.leader_index)) {
        Some(None) => {
            return Decision::Blocked {
                reason: FailureReason::LeaderMissing,
                message: format!(
                    "leader index `{}` does not exist on remote `{}`",
                    f.leader_index, f.remote
                ),
            }
        }
        Some(Some(false)) => {
            return Decision::Blocked {
                reason: FailureReason::WrongState,
                message: format!(
                    "leader index `{}` on remote `{}` is closed; open it to follow it",
                    f.leader_index, f.remote
                ),
            }
        }
        _ => {}
    }
    if !f.settings.is_empty() && version_at_least(Some(o), 7, 9) == Some(false) {
        return Decision::Blocked {
            reason: FailureReason::Unsupported,
            message: format!(
                "follower `settings` need Elasticsearch 7.9 or later on `{}`",
                f.cluster
            ),
        };
    }
    Decision::Act {
        actions: vec![Action::Follow {
            cluster: f.cluster.clone(),
            follower_index: f.follower_index.clone(),
            remote_cluster: f.remote.clone(),
            leader_index: f.leader_index.clone(),
            settings: f.settings.clone(),
            parameters: f.parameters.clone(),
            data_stream_name: None,
        }],
        why: format!(
            "follower index `{}` does not exist on `{}`",
            f.follower_index, f.cluster
        ),
    }
}

/// The body of `PUT /_ccr/auto_follow/{name}` for a configured pattern.
pub fn auto_follow_body(a: &AutoFollowSettings) -> Value {
    let mut m = a.parameters.to_json();
    m.insert("remote_cluster".into(), a.remote.clone().into());
    m.insert(
        "leader_index_patterns".into(),
        a.leader_index_patterns.clone().into(),
    );
    if !a.leader_index_exclusion_patterns.is_empty() {
        m.insert(
            "leader_index_exclusion_patterns".into(),
            a.leader_index_exclusion_patterns.clone().into(),
        );
    }
    if let Some(p) = &a.follow_index_pattern {
        m.insert("follow_index_pattern".into(), p.clone().into());
    }
    if !a.settings.is_empty() {
        let s: Map<String, Value> = a
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.insert("settings".into(), Value::Object(s));
    }
    Value::Object(m)
}

/// Differences between a configured pattern and the cluster's, as sentences (`active` aside).
pub fn auto_follow_differences(a: &AutoFollowSettings, p: &AutoFollowPattern) -> Vec<String> {
    let mut d = Vec::new();
    if p.remote_cluster != a.remote {
        d.push(format!(
            "remote_cluster is `{}`, configured `{}`",
            p.remote_cluster, a.remote
        ));
    }
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    if set(&p.leader_index_patterns) != set(&a.leader_index_patterns) {
        d.push(format!(
            "leader_index_patterns are {:?}, configured {:?}",
            p.leader_index_patterns, a.leader_index_patterns
        ));
    }
    if set(&p.leader_index_exclusion_patterns) != set(&a.leader_index_exclusion_patterns) {
        d.push(format!(
            "leader_index_exclusion_patterns are {:?}, configured {:?}",
            p.leader_index_exclusion_patterns, a.leader_index_exclusion_patterns
        ));
    }
    if p.follow_index_pattern != a.follow_index_pattern {
        d.push(format!(
            "follow_index_pattern is {:?}, configured {:?}",
            p.follow_index_pattern.as_deref().unwrap_or(""),
            a.follow_index_pattern.as_deref().unwrap_or("")
        ));
    }
    let observed_settings = match &p.settings {
        Some(Value::Object(m)) => flat_index_settings(Some(m)),
        _ => BTreeMap::new(),
    };
    if observed_settings != a.settings {
        d.push(format!(
            "settings are {observed_settings:?}, configured {:?}",
            a.settings
        ));
    }
    d.extend(parameter_differences(&a.parameters, &p.other));
    let configured = a.parameters.to_json();
    for k in FOLLOW_PARAMETER_NAMES {
        if p.other.contains_key(*k) && !configured.contains_key(*k) {
            d.push(format!("{k} is set on the cluster but not configured"));
        }
    }
    d
}

/// The ten follow parameter names.
pub const FOLLOW_PARAMETER_NAMES: &[&str] = &[
    "max_read_request_operation_count",
    "max_outstanding_read_requests",
    "max_read_request_size",
    "max_write_request_operation_count",
    "max_write_request_size",
    "max_outstanding_write_requests",
    "max_write_buffer_count",
    "max_write_buffer_size",
    "max_retry_delay",
    "read_poll_timeout",
];

fn activation(a: &AutoFollowSettings, want: bool) -> Action {
    if want {
        Action::ResumeAutoFollow {
            cluster: a.cluster.clone(),
            name: a.name.clone(),
        }
    } else {
        Action::PauseAutoFollow {
            cluster: a.cluster.clone(),
            name: a.name.clone(),
        }
    }
}

fn plan_auto_follow(
    a: &AutoFollowSettings,
    o: Option<&ClusterObservation>,
    remote: RemoteState,
    held: bool,
) -> Decision {
    // A pattern a maintenance window holds paused stays paused whatever `active` says.
    let want_active = if held { Some(false) } else { a.active };
    let Some(o) = o else {
        return Decision::Blocked {
            reason: FailureReason::Unavailable,
            message: format!("cluster `{}` was not read", a.cluster),
        };
    };
    let Some(patterns) = &o.patterns else {
        return Decision::Blocked {
            reason: FailureReason::Unavailable,
            message: unreadable(o, "_ccr/auto_follow"),
        };
    };
    let unsupported = |message: String| Decision::Blocked {
        reason: FailureReason::Unsupported,
        message,
    };
    if a.active.is_some() && version_at_least(Some(o), 7, 5) == Some(false) {
        return unsupported(format!(
            "`active` needs Elasticsearch 7.5 or later on `{}` (patterns cannot be paused before)",
            a.cluster
        ));
    }
    if !a.leader_index_exclusion_patterns.is_empty()
        && version_at_least(Some(o), 7, 14) == Some(false)
    {
        return unsupported(format!(
            "`leader_index_exclusion_patterns` need Elasticsearch 7.14 or later on `{}`",
            a.cluster
        ));
    }
    let observed = patterns.get(&a.name);
    let why = match observed {
        None => format!(
            "auto-follow pattern `{}` does not exist on `{}`",
            a.name, a.cluster
        ),
        Some(p) => {
            let d = auto_follow_differences(a, p);
            if d.is_empty() {
                return match (want_active, p.active) {
                    (Some(false), Some(false)) if held => Decision::InSync {
                        note: Some(
                            "paused by a maintenance window; the policy resumes it when the window ends"
                                .into(),
                        ),
                    },
                    (Some(want), Some(have)) if want != have => Decision::Act {
                        actions: vec![activation(a, want)],
                        why: format!(
                            "auto-follow pattern `{}` is {}, configured {}",
                            a.name,
                            if have { "active" } else { "paused" },
                            if want { "active" } else { "paused" }
                        ),
                    },
                    _ => Decision::InSync { note: None },
                };
            }
            format!(
                "auto-follow pattern `{}` on `{}` differs: {}",
                a.name,
                a.cluster,
                d.join("; ")
            )
        }
    };
    if let Some(d) = remote_blocker(&remote, &a.cluster, &a.remote) {
        return d;
    }
    let mut actions = vec![Action::PutAutoFollow {
        cluster: a.cluster.clone(),
        name: a.name.clone(),
        body: auto_follow_body(a),
    }];
    // A put leaves a new pattern active; keep an existing pattern's pause, or apply the configured state.
    let after_put = want_active.or(observed.and_then(|p| p.active));
    if after_put == Some(false) {
        actions.push(activation(a, false));
    }
    Decision::Act { actions, why }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    /// The standard pair with the remote's seeds, then `extra`.
    fn cfg(extra: &str) -> Config {
        testing::config(&format!("seeds = [\"127.0.0.1:9300\"]\n{extra}"))
    }

    /// `logs-copy`, the follower these tests plan for.
    fn follower() -> String {
        testing::follower("logs", "logs-copy")
    }

    fn remote(connected: bool, seeds: &[&str]) -> RemoteInfo {
        RemoteInfo {
            connected,
            mode: Some("sniff".into()),
            seeds: seeds.iter().map(|s| s.to_string()).collect(),
            num_nodes_connected: Some(u64::from(connected) as i64),
            ..Default::default()
        }
    }

    fn info(index: &str, remote: &str, leader: &str, status: FollowerStatus) -> FollowerInfo {
        FollowerInfo {
            follower_index: index.into(),
            remote_cluster: remote.into(),
            leader_index: leader.into(),
            status,
            parameters: (status == FollowerStatus::Active).then(|| {
                serde_json::from_value(serde_json::json!({
                    "max_read_request_operation_count": 5120, "max_write_request_operation_count": 5120,
                    "max_outstanding_read_requests": 12, "max_outstanding_write_requests": 9,
                    "max_read_request_size": "32mb", "max_write_request_size": "9223372036854775807b",
                    "max_write_buffer_count": 2147483647, "max_write_buffer_size": "512mb",
                    "max_retry_delay": "500ms", "read_poll_timeout": "1m"}))
                .unwrap()
            }),
        }
    }

    /// A follower cluster (7.17) with these remotes, followers and regular indices, and a leader with `logs`.
    fn obs(
        remotes: Vec<(&str, RemoteInfo)>,
        followers: Vec<FollowerInfo>,
        regular: &[&str],
    ) -> Observation {
        let mut indices: BTreeMap<String, bool> =
            regular.iter().map(|i| (i.to_string(), true)).collect();
        indices.extend(followers.iter().map(|f| (f.follower_index.clone(), true)));
        Observation {
            clusters: BTreeMap::from([(
                "follower".to_string(),
                ClusterObservation {
                    version: Some((7, 17)),
                    remotes: Some(
                        remotes
                            .into_iter()
                            .map(|(a, r)| (a.to_string(), r))
                            .collect(),
                    ),
                    followers: Some(
                        followers
                            .into_iter()
                            .map(|f| (f.follower_index.clone(), f))
                            .collect(),
                    ),
                    indices: Some(indices),
                    patterns: Some(BTreeMap::new()),
                    error: None,
                },
            )]),
            leader_indices: BTreeMap::from([(
                "leader".to_string(),
                BTreeMap::from([("logs".to_string(), true)]),
            )]),
            data_streams: BTreeMap::new(),
            paused_by_reconcile: BTreeSet::new(),
            held_paused_patterns: BTreeSet::new(),
        }
    }

    fn decision<'a>(items: &'a [PlannedItem], kind: ItemKind, name: &str) -> &'a Decision {
        &items
            .iter()
            .find(|i| i.key.kind == kind && i.key.id.name == name)
            .unwrap_or_else(|| panic!("no {kind:?} {name} in {items:#?}"))
            .decision
    }

    fn label(d: &Decision) -> String {
        match d {
            Decision::InSync { .. } => "in_sync".into(),
            Decision::Act { actions, .. } => actions
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join("+"),
            Decision::Blocked { reason, .. } => format!("blocked:{reason}"),
        }
    }

    #[test]
    fn follower_decisions() {
        let seeds = ["127.0.0.1:9300"];
        let active = FollowerStatus::Active;
        let table: Vec<(&str, Observation, &str)> = vec![
            (
                "fresh clusters: the remote first, the follower waits for it",
                obs(vec![], vec![], &[]),
                "blocked:remote_not_connected",
            ),
            (
                "remote connected, follower missing",
                obs(vec![("leader", remote(true, &seeds))], vec![], &[]),
                "follow",
            ),
            (
                "follower in place",
                obs(
                    vec![("leader", remote(true, &seeds))],
                    vec![info("logs-copy", "leader", "logs", active)],
                    &[],
                ),
                "in_sync",
            ),
            (
                "paused follower is left alone",
                obs(
                    vec![("leader", remote(true, &seeds))],
                    vec![info("logs-copy", "leader", "logs", FollowerStatus::Paused)],
                    &[],
                ),
                "in_sync",
            ),
            (
                "name taken by a regular index",
                obs(
                    vec![("leader", remote(true, &seeds))],
                    vec![],
                    &["logs-copy"],
                ),
                "blocked:name_conflict",
            ),
            (
                "name taken by a follower of another leader",
                obs(
                    vec![("leader", remote(true, &seeds))],
                    vec![info("logs-copy", "leader", "other", active)],
                    &[],
                ),
                "blocked:name_conflict",
            ),
            (
                "remote configured but disconnected",
                obs(vec![("leader", remote(false, &seeds))], vec![], &[]),
                "blocked:remote_not_connected",
            ),
        ];
        let c = cfg(&follower());
        for (what, o, want) in table {
            let items = plan(&c, &o, PlanOptions::default());
            assert_eq!(
                label(decision(&items, ItemKind::Follower, "logs-copy")),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn a_promoted_follower_is_in_sync_only_with_promote_true() {
        let seeds = ["127.0.0.1:9300"];
        let regular = obs(
            vec![("leader", remote(true, &seeds))],
            vec![],
            &["logs-copy"],
        );
        let following = obs(
            vec![("leader", remote(true, &seeds))],
            vec![info("logs-copy", "leader", "logs", FollowerStatus::Active)],
            &[],
        );
        let promoting = cfg(&(follower() + "promote = true\n"));
        let plain = cfg(&follower());
        let table: Vec<(&str, &Config, &Observation, &str)> = vec![
            (
                "promote = true, now a regular index: promoted",
                &promoting,
                &regular,
                "in_sync",
            ),
            (
                "promote = true, still following",
                &promoting,
                &following,
                "in_sync",
            ),
            (
                "promote = false, a regular index: conflict",
                &plain,
                &regular,
                "blocked:name_conflict",
            ),
        ];
        for (what, c, o, want) in table {
            let items = plan(c, o, PlanOptions::default());
            let d = decision(&items, ItemKind::Follower, "logs-copy");
            assert_eq!(label(d), want, "{what}");
        }
        let items = plan(&promoting, &regular, PlanOptions::default());
        match decision(&items, ItemKind::Follower, "logs-copy") {
            Decision::InSync { note: Some(n) } => assert!(n.starts_with("promoted"), "{n}"),
            d => panic!("promoted follower: {d:?}"),
        }
    }

    #[test]
    fn leader_missing_unknown_remote_and_unreadable_cluster() {
        let mut closed = obs(
            vec![("leader", remote(true, &["127.0.0.1:9300"]))],
            vec![],
            &[],
        );
        closed.leader_indices.insert(
            "leader".into(),
            BTreeMap::from([("logs".to_string(), false)]),
        );
        let items = plan(&cfg(&follower()), &closed, PlanOptions::default());
        assert_eq!(
            label(decision(&items, ItemKind::Follower, "logs-copy")),
            "blocked:wrong_state"
        );

        let c = cfg(&follower().replace("\"logs\"", "\"gone\""));
        let o = obs(
            vec![("leader", remote(true, &["127.0.0.1:9300"]))],
            vec![],
            &[],
        );
        let items = plan(&c, &o, PlanOptions::default());
        assert_eq!(
            label(decision(&items, ItemKind::Follower, "logs-copy")),
            "blocked:leader_missing"
        );

        let unmanaged = cfg(&follower()).remotes[0].clone();
        let mut c = cfg(&follower());
        c.remotes[0] = RemoteSettings {
            manage: false,
            ..unmanaged
        };
        let items = plan(&c, &obs(vec![], vec![], &[]), PlanOptions::default());
        assert_eq!(
            label(decision(&items, ItemKind::Remote, "leader")),
            "blocked:remote_unknown"
        );
        assert_eq!(
            label(decision(&items, ItemKind::Follower, "logs-copy")),
            "blocked:remote_unknown"
        );

        let mut o = obs(vec![], vec![], &[]);
        o.clusters.get_mut("follower").unwrap().followers = None;
        o.clusters.get_mut("follower").unwrap().remotes = None;
        let items = plan(&cfg(&follower()), &o, PlanOptions::default());
        assert_eq!(
            label(decision(&items, ItemKind::Remote, "leader")),
            "blocked:unavailable"
        );
        assert_eq!(
            label(decision(&items, ItemKind::Follower, "logs-copy")),
            "blocked:unavailable"
        );
    }

    #[test]
    fn remote_decisions() {
        let r = |extra: &str| cfg(extra).remotes[0].clone();
        let put = |d: &Decision| match d {
            Decision::Act { actions, .. } => match &actions[0] {
                Action::PutRemote { settings, .. } => Value::Object(settings.clone()),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        let o = |remotes: Vec<(&str, RemoteInfo)>| obs(remotes, vec![], &[]);
        let c = cfg("");
        // Missing: set the seeds.
        let items = plan(&c, &o(vec![]), PlanOptions::default());
        assert_eq!(
            put(decision(&items, ItemKind::Remote, "leader")),
            serde_json::json!({"cluster.remote.leader.seeds": ["127.0.0.1:9300"]})
        );
        // Same seeds in another order: in sync.
        let mut c2 = c.clone();
        c2.remotes[0].seeds = vec!["b:9300".into(), "a:9300".into()];
        let items = plan(
            &c2,
            &o(vec![("leader", remote(true, &["a:9300", "b:9300"]))]),
            PlanOptions::default(),
        );
        assert_eq!(
            label(decision(&items, ItemKind::Remote, "leader")),
            "in_sync"
        );
        // Different seeds: put.
        let items = plan(
            &c,
            &o(vec![("leader", remote(true, &["10.0.0.9:9300"]))]),
            PlanOptions::default(),
        );
        assert_eq!(
            label(decision(&items, ItemKind::Remote, "leader")),
            "put_remote"
        );
        // skip_unavailable differs.
        let mut c3 = c.clone();
        c3.remotes[0].skip_unavailable = Some(true);
        let mut seen = remote(true, &["127.0.0.1:9300"]);
        seen.skip_unavailable = Some(false);
        let items = plan(
            &c3,
            &o(vec![("leader", seen.clone())]),
            PlanOptions::default(),
        );
        assert_eq!(
            put(decision(&items, ItemKind::Remote, "leader"))
                ["cluster.remote.leader.skip_unavailable"],
            true
        );
        // Proxy configured over an observed sniff remote: switch mode and clear the sniff keys.
        let proxy = RemoteSettings {
            mode: RemoteMode::Proxy,
            seeds: vec![],
            proxy_address: Some("leader:9443".into()),
            ..r("")
        };
        let body = remote_settings_body(&proxy, Some(&seen));
        assert_eq!(
            Value::Object(body),
            serde_json::json!({"cluster.remote.leader.mode": "proxy",
                "cluster.remote.leader.proxy_address": "leader:9443",
                "cluster.remote.leader.server_name": null,
                "cluster.remote.leader.seeds": null, "cluster.remote.leader.node_connections": null})
        );
        // Proxy on 7.6: unsupported.
        let mut c4 = c.clone();
        c4.remotes[0] = proxy;
        let mut old = o(vec![]);
        old.clusters.get_mut("follower").unwrap().version = Some((7, 6));
        let items = plan(&c4, &old, PlanOptions::default());
        assert_eq!(
            label(decision(&items, ItemKind::Remote, "leader")),
            "blocked:unsupported"
        );
        // In sync but disconnected: reported.
        let items = plan(
            &c,
            &o(vec![("leader", remote(false, &["127.0.0.1:9300"]))]),
            PlanOptions::default(),
        );
        assert_eq!(
            label(decision(&items, ItemKind::Remote, "leader")),
            "blocked:remote_not_connected"
        );
    }

    #[test]
    fn parameter_drift_is_reported_or_fixed_by_pause_and_resume() {
        let c = cfg(&format!(
            "{}parameters = {{ max_read_request_operation_count = 1000, read_poll_timeout = \"60s\", max_read_request_size = \"32mb\" }}",
            follower()
        ));
        let o = obs(
            vec![("leader", remote(true, &["127.0.0.1:9300"]))],
            vec![info("logs-copy", "leader", "logs", FollowerStatus::Active)],
            &[],
        );
        let items = plan(&c, &o, PlanOptions::default());
        let d = decision(&items, ItemKind::Follower, "logs-copy");
        assert_eq!(label(d), "blocked:parameter_drift");
        match d {
            Decision::Blocked { message, .. } => {
                assert!(
                    message.contains("max_read_request_operation_count is 5120, configured 1000"),
                    "{message}"
                );
                // "1m" equals "60s", "32mb" equals "32mb": not drift.
                assert!(
                    !message.contains("read_poll_timeout")
                        && !message.contains("max_read_request_size"),
                    "{message}"
                );
            }
            _ => unreachable!(),
        }
        let items = plan(
            &c,
            &o,
            PlanOptions {
                apply_parameter_changes: true,
            },
        );
        assert_eq!(
            label(decision(&items, ItemKind::Follower, "logs-copy")),
            "pause_follow+resume_follow"
        );
        // Paused by reconcile, resume failed: the next plan resumes it (a paused follower is otherwise left).
        let apply = PlanOptions {
            apply_parameter_changes: true,
        };
        let mut o = obs(
            vec![("leader", remote(true, &["127.0.0.1:9300"]))],
            vec![info("logs-copy", "leader", "logs", FollowerStatus::Paused)],
            &[],
        );
        let items = plan(&c, &o, apply);
        assert_eq!(
            label(decision(&items, ItemKind::Follower, "logs-copy")),
            "in_sync"
        );
        o.paused_by_reconcile
            .insert(ClusterKey::new("follower", "logs-copy"));
        let items = plan(&c, &o, apply);
        assert_eq!(
            label(decision(&items, ItemKind::Follower, "logs-copy")),
            "resume_follow"
        );
    }

    #[test]
    fn parameter_values_compare_by_meaning() {
        let p = FollowParameters {
            max_write_buffer_size: Some("0.5gb".into()),
            max_retry_delay: Some("500ms".into()),
            max_outstanding_read_requests: Some(12),
            ..Default::default()
        };
        let observed: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "max_write_buffer_size": "512mb", "max_retry_delay": "500ms", "max_outstanding_read_requests": "12"}))
        .unwrap();
        assert!(parameter_differences(&p, &observed).is_empty());
        let observed: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"max_write_buffer_size": "1gb"})).unwrap();
        assert_eq!(parameter_differences(&p, &observed).len(), 3);
    }

    const PATTERN: &str = r#"
[[auto_follow]]
cluster = "follower"
name = "logs"
remote = "leader"
leader_index_patterns = ["logs-*"]
follow_index_pattern = "{{leader_index}}-copy"
"#;

    fn with_pattern(mut o: Observation, p: Option<AutoFollowPattern>) -> Observation {
        let c = o.clusters.get_mut("follower").unwrap();
        c.patterns = Some(p.into_iter().map(|p| ("logs".to_string(), p)).collect());
        o
    }

    /// `o` with the pattern `logs` on `follower` held paused by a maintenance window.
    fn held(mut o: Observation) -> Observation {
        o.held_paused_patterns
            .insert(ClusterKey::new("follower", "logs"));
        o
    }

    fn pattern(active: Option<bool>, patterns: &[&str]) -> AutoFollowPattern {
        AutoFollowPattern {
            active,
            remote_cluster: "leader".into(),
            leader_index_patterns: patterns.iter().map(|s| s.to_string()).collect(),
            follow_index_pattern: Some("{{leader_index}}-copy".into()),
            ..Default::default()
        }
    }

    #[test]
    fn backing_indices_a_pattern_missed_are_followed_as_the_pattern_would() {
        use crate::es::{DataStreamBackingIndex, DataStreamInfo};
        let g = |n: u32| format!(".ds-logs-a-2026.12.02-00000{n}");
        let renamed = |n: u32| format!(".ds-logs-a-copy-2026.12.02-00000{n}");
        let plain = cfg(&PATTERN.replace("follow_index_pattern = \"{{leader_index}}-copy\"\n", ""));
        let copy = cfg(PATTERN);
        let leader = DataStreamsResponse {
            data_streams: vec![DataStreamInfo {
                name: "logs-a".into(),
                system: false,
                indices: (1..=3)
                    .map(|n| DataStreamBackingIndex { index_name: g(n) })
                    .collect(),
            }],
        };
        // (case, config, follower version, follower names of generations 1 and 3, regular index, connected,
        //  expected follows as (follower_index, data_stream_name))
        type Row<'a> = (
            &'a str,
            &'a Config,
            (u32, u32),
            fn(u32) -> String,
            Option<String>,
            bool,
            Vec<(String, Option<&'a str>)>,
        );
        let same: fn(u32) -> String = |n| format!(".ds-logs-a-2026.12.02-00000{n}");
        let copied: fn(u32) -> String = |n| format!(".ds-logs-a-copy-2026.12.02-00000{n}");
        let rows: Vec<Row> = vec![
            (
                "before 8.4",
                &plain,
                (7, 17),
                same,
                None,
                true,
                vec![(g(2), None)],
            ),
            (
                "8.4+ names the stream",
                &plain,
                (8, 15),
                same,
                None,
                true,
                vec![(g(2), Some("logs-a"))],
            ),
            (
                "renamed stream",
                &copy,
                (8, 15),
                copied,
                None,
                true,
                vec![(renamed(2), Some("logs-a-copy"))],
            ),
            (
                "renamed before 8.4: ES refuses",
                &copy,
                (7, 17),
                same,
                None,
                true,
                vec![],
            ),
            (
                "name taken",
                &plain,
                (8, 15),
                same,
                Some(g(2)),
                true,
                vec![],
            ),
            (
                "remote disconnected",
                &plain,
                (8, 15),
                same,
                None,
                false,
                vec![],
            ),
        ];
        for (case, c, version, name, regular, connected, want) in rows {
            let regular: Vec<&str> = regular.iter().map(String::as_str).collect();
            let mut o = obs(
                vec![("leader", remote(connected, &["127.0.0.1:9300"]))],
                [1, 3]
                    .into_iter()
                    .map(|n| info(&name(n), "leader", &g(n), FollowerStatus::Active))
                    .collect(),
                &regular,
            );
            o.clusters.get_mut("follower").unwrap().version = Some(version);
            o.data_streams.insert("leader".into(), leader.clone());
            let got: Vec<(String, Option<String>)> = plan(c, &o, PlanOptions::default())
                .into_iter()
                .filter_map(|i| match i.decision {
                    Decision::Act { actions, why } if why.starts_with("unfollowed_match") => {
                        Some(actions)
                    }
                    _ => None,
                })
                .flatten()
                .filter_map(|a| match a {
                    Action::Follow {
                        follower_index,
                        leader_index,
                        data_stream_name,
                        ..
                    } => {
                        assert_eq!(leader_index, g(2), "{case}");
                        Some((follower_index, data_stream_name))
                    }
                    _ => None,
                })
                .collect();
            let want: Vec<(String, Option<String>)> = want
                .into_iter()
                .map(|(i, d)| (i, d.map(str::to_string)))
                .collect();
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn auto_follow_decisions() {
        let connected = || {
            obs(
                vec![("leader", remote(true, &["127.0.0.1:9300"]))],
                vec![],
                &[],
            )
        };
        let c = cfg(PATTERN);
        let paused_cfg = cfg(&format!("{PATTERN}active = false"));
        let active_cfg = cfg(&format!("{PATTERN}active = true"));
        let table: Vec<(&str, &Config, Observation, &str)> = vec![
            (
                "missing",
                &c,
                with_pattern(connected(), None),
                "put_auto_follow",
            ),
            (
                "missing, wanted paused",
                &paused_cfg,
                with_pattern(connected(), None),
                "put_auto_follow+pause_auto_follow",
            ),
            (
                "same",
                &c,
                with_pattern(connected(), Some(pattern(Some(true), &["logs-*"]))),
                "in_sync",
            ),
            (
                "same but paused, active unset: left alone",
                &c,
                with_pattern(connected(), Some(pattern(Some(false), &["logs-*"]))),
                "in_sync",
            ),
            (
                "paused, wanted active",
                &active_cfg,
                with_pattern(connected(), Some(pattern(Some(false), &["logs-*"]))),
                "resume_auto_follow",
            ),
            (
                "paused by a maintenance window, wanted active: left paused",
                &active_cfg,
                held(with_pattern(
                    connected(),
                    Some(pattern(Some(false), &["logs-*"])),
                )),
                "in_sync",
            ),
            (
                "held by a window but resumed by someone, wanted active: paused again",
                &active_cfg,
                held(with_pattern(
                    connected(),
                    Some(pattern(Some(true), &["logs-*"])),
                )),
                "pause_auto_follow",
            ),
            (
                "held by a window, different: overwritten and kept paused",
                &active_cfg,
                held(with_pattern(
                    connected(),
                    Some(pattern(Some(false), &["other-*"])),
                )),
                "put_auto_follow+pause_auto_follow",
            ),
            (
                "active, wanted paused",
                &paused_cfg,
                with_pattern(connected(), Some(pattern(Some(true), &["logs-*"]))),
                "pause_auto_follow",
            ),
            (
                "different patterns: overwrite",
                &c,
                with_pattern(connected(), Some(pattern(Some(true), &["metrics-*"]))),
                "put_auto_follow",
            ),
            (
                "different and paused: overwrite, keep paused",
                &c,
                with_pattern(connected(), Some(pattern(Some(false), &["metrics-*"]))),
                "put_auto_follow+pause_auto_follow",
            ),
            (
                "remote missing",
                &c,
                with_pattern(obs(vec![], vec![], &[]), None),
                "blocked:remote_not_connected",
            ),
        ];
        for (what, c, o, want) in table {
            let items = plan(c, &o, PlanOptions::default());
            assert_eq!(
                label(decision(&items, ItemKind::AutoFollow, "logs")),
                want,
                "{what}"
            );
        }
        // 6.8 has no `active`: asking for it is unsupported, not a retry loop.
        let mut old = with_pattern(connected(), Some(pattern(None, &["logs-*"])));
        old.clusters.get_mut("follower").unwrap().version = Some((6, 8));
        let items = plan(&paused_cfg, &old, PlanOptions::default());
        assert_eq!(
            label(decision(&items, ItemKind::AutoFollow, "logs")),
            "blocked:unsupported"
        );
    }

    #[test]
    fn a_second_plan_after_everything_was_done_has_no_action() {
        let c = cfg(&(follower() + PATTERN));
        let o = with_pattern(
            obs(
                vec![("leader", remote(true, &["127.0.0.1:9300"]))],
                vec![info("logs-copy", "leader", "logs", FollowerStatus::Active)],
                &[],
            ),
            Some(pattern(Some(true), &["logs-*"])),
        );
        let items = plan(&c, &o, PlanOptions::default());
        assert_eq!(items.len(), 3);
        assert!(
            items
                .iter()
                .all(|i| matches!(i.decision, Decision::InSync { .. })),
            "{items:#?}"
        );
    }
}
