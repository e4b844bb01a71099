//! The per-follower view: the snapshot joined with the configuration, one [`FollowerObservation`] per follower
//! index, configured or found on the clusters.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::bootstrap::Bootstrap;
use super::seek::{MapSeek, Seek, SetSeek};
use super::snapshot::{ClusterState, DocParity, Snapshot};
use crate::config::{Config, FollowerSettings};
use crate::es::*;

/// Per-follower aggregate of the shard follow stats.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ShardSummary {
    pub shards: u32,
    /// Sum over shards of leader minus follower global checkpoint (`total_global_checkpoint_lag` when present).
    pub global_checkpoint_lag: i64,
    /// Max over shards of `time_since_last_read_millis`; `None` when no shard has read yet.
    pub max_time_since_last_read_millis: Option<i64>,
    pub fatal_exceptions: Vec<ShardFatal>,
    /// Number of pending read exceptions over all shards.
    pub read_exceptions: u64,
    /// Sums of the cumulative shard counters.
    pub operations_written: i64,
    pub failed_read_requests: i64,
    pub bytes_read: i64,
    /// The same per shard, ordered by shard id.
    pub per_shard: Vec<ShardDetail>,
}

/// One shard of a follower, for `/status` and the optional per-shard metrics.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ShardDetail {
    pub shard_id: i64,
    pub leader_global_checkpoint: i64,
    pub follower_global_checkpoint: i64,
    pub global_checkpoint_lag: i64,
    /// `None` while the shard has not read yet (`-1`).
    pub time_since_last_read_millis: Option<i64>,
    pub read_exceptions: u64,
    pub fatal_exception: bool,
}

/// A fatal exception of one shard follow task.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ShardFatal {
    pub shard_id: i64,
    pub cause: ErrorCause,
}

impl ShardSummary {
    /// Aggregates the stats of one follower index.
    pub fn from_stats(s: &FollowerIndexStats) -> Self {
        let mut out = ShardSummary {
            shards: s.shards.len() as u32,
            per_shard: Vec::with_capacity(s.shards.len()),
            ..Default::default()
        };
        let mut computed_lag = 0i64;
        for sh in &s.shards {
            computed_lag = computed_lag.saturating_add(sh.lag());
            if sh.time_since_last_read_millis >= 0 {
                out.max_time_since_last_read_millis = Some(
                    out.max_time_since_last_read_millis
                        .unwrap_or(0)
                        .max(sh.time_since_last_read_millis),
                );
            }
            if let Some(f) = &sh.fatal_exception {
                out.fatal_exceptions.push(ShardFatal {
                    shard_id: sh.shard_id,
                    cause: (**f).clone(),
                });
            }
            out.read_exceptions = out
                .read_exceptions
                .saturating_add(sh.read_exceptions.len() as u64);
            out.per_shard.push(ShardDetail {
                shard_id: sh.shard_id,
                leader_global_checkpoint: sh.leader_global_checkpoint,
                follower_global_checkpoint: sh.follower_global_checkpoint,
                global_checkpoint_lag: sh.lag(),
                time_since_last_read_millis: (sh.time_since_last_read_millis >= 0)
                    .then_some(sh.time_since_last_read_millis),
                read_exceptions: sh.read_exceptions.len() as u64,
                fatal_exception: sh.fatal_exception.is_some(),
            });
            out.operations_written = out.operations_written.saturating_add(sh.operations_written);
            out.failed_read_requests = out
                .failed_read_requests
                .saturating_add(sh.failed_read_requests);
            out.bytes_read = out.bytes_read.saturating_add(sh.bytes_read);
        }
        // The larger of the reported and the computed lag: a follower is never shown less behind than either
        // says (a hostile or inconsistent `total_global_checkpoint_lag` of 0 cannot hide a computed lag).
        out.global_checkpoint_lag = s
            .total_global_checkpoint_lag
            .map_or(computed_lag, |l| l.max(computed_lag))
            .max(0);
        out
    }
}

/// What the follower cluster's `_remote/info` says about the follower's remote alias.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RemoteObservation {
    /// `_remote/info` has not answered yet.
    Unknown,
    /// The alias is not configured on the follower cluster.
    NotConfigured,
    Seen {
        connected: bool,
        mode: String,
        nodes_connected: i64,
    },
}

/// How current the data of the follower's cluster is.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Freshness {
    Fresh,
    /// The latest poll failed; the data is from `as_of`.
    Stale {
        as_of: DateTime<Utc>,
        error: String,
    },
    /// The cluster has never answered.
    Unavailable {
        error: Option<String>,
    },
}

/// Everything known about one follower index, as input to the verdict.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FollowerObservation {
    pub follower_cluster: String,
    pub follower_index: String,
    pub remote_cluster: String,
    pub leader_index: String,
    /// The configured cluster the remote alias points at, when the config maps it.
    pub leader_cluster: Option<String>,
    /// In the configuration (`[[followers]]`); auto-followed and foreign followers are unmanaged.
    pub managed: bool,
    pub freshness: Freshness,
    /// From `_ccr/info`; `None` when the index is not a follower (or does not exist).
    pub status: Option<FollowerStatus>,
    /// Whether the follower index exists at all (from the follower cluster's `_cat/indices`), when known.
    pub follower_index_exists: Option<bool>,
    /// From `_ccr/stats`; `None` when the follower has no running shard tasks (paused, missing).
    pub shards: Option<ShardSummary>,
    pub remote: RemoteObservation,
    /// Whether the leader index exists on the leader cluster, when known.
    pub leader_index_exists: Option<bool>,
    pub docs: Option<DocParity>,
    /// The initial copy (the restore put follow started), while `_recovery` lists it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<Bootstrap>,
    /// This daemon has seen the follower following since it started watching it.
    pub following_seen: bool,
    /// This daemon has seen the follower's initial copy running.
    pub copy_seen: bool,
    /// What is wrong with the cross-cluster API key of the follower's remote, when it is an API-key remote
    /// and something is (set by the report, which judges keys at its time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_key: Option<super::keys::KeyProblem>,
}

impl FollowerObservation {
    /// The initial copy is running: the follower exists, has no shard tasks, and its restore is not done.
    pub fn bootstrapping(&self) -> bool {
        self.shards.is_none()
            && self.status != Some(FollowerStatus::Active)
            && self.bootstrap.as_ref().is_some_and(|b| !b.done())
    }

    /// The initial copy finished but following never started: paused, no shard tasks, a finished restore this
    /// daemon saw running, and never seen following since.
    pub fn follow_not_started(&self) -> bool {
        self.status == Some(FollowerStatus::Paused)
            && self.shards.is_none()
            && self.copy_seen
            && !self.following_seen
            && self.bootstrap.as_ref().is_some_and(Bootstrap::done)
    }
}

/// Builds the observation of every follower: configured ones (present or not) and every follower the clusters
/// report (auto-followed or foreign ones, unmanaged). Sorted by (follower_cluster, follower_index).
pub fn follower_observations(cfg: &Config, snap: &Snapshot) -> Vec<FollowerObservation> {
    // The configuration, `_ccr/info` and `_ccr/stats` as lists sorted by (cluster, index), each keeping the first
    // entry of an index listed twice: the followers are then one merge of the three, linear in the followers,
    // with no map built or probed per follower.
    let mut configured: Sorted<&FollowerSettings> = cfg
        .followers
        .iter()
        .map(|f| ((f.cluster.as_str(), f.follower_index.as_str()), f))
        .collect();
    let mut info: Sorted<&FollowerInfo> = Vec::new();
    let mut stats: Sorted<&FollowerIndexStats> = Vec::new();
    for cluster in cfg.follower_clusters() {
        let Some((cluster, cs)) = snap.clusters.get_key_value(&cluster) else {
            continue;
        };
        if let Some(i) = &cs.follow_info {
            info.extend(
                i.data
                    .follower_indices
                    .iter()
                    .map(|f| ((cluster.as_str(), f.follower_index.as_str()), f)),
            );
        }
        if let Some(s) = &cs.ccr_stats {
            stats.extend(
                s.data
                    .follow_stats
                    .indices
                    .iter()
                    .map(|i| ((cluster.as_str(), i.index.as_str()), i)),
            );
        }
    }
    for_merge(&mut configured);
    for_merge(&mut info);
    for_merge(&mut stats);
    let empty = ClusterState::default();
    let mut current: Option<(&str, ClusterView)> = None;
    let mut listings = Listings::new(snap);
    let (mut c, mut i, mut s) = (0, 0, 0);
    let mut out = Vec::with_capacity(configured.len().max(info.len()).max(stats.len()));
    while let Some(key) = [
        configured.get(c).map(|e| &e.0),
        info.get(i).map(|e| &e.0),
        stats.get(s).map(|e| &e.0),
    ]
    .into_iter()
    .flatten()
    .min()
    .copied()
    {
        let (cluster, index) = key;
        if !current.as_ref().is_some_and(|(name, _)| *name == cluster) {
            let cs = snap.clusters.get(cluster).unwrap_or(&empty);
            current = Some((cluster, ClusterView::new(cs)));
        }
        let Some((_, view)) = current.as_mut() else {
            continue;
        };
        let found = Found {
            configured: take(&configured, &mut c, key),
            info: take(&info, &mut i, key),
            stats: take(&stats, &mut s, key),
        };
        out.push(observe_follower(
            cfg,
            view,
            &mut listings,
            cluster,
            index,
            found,
        ));
    }
    out
}

/// One follower cluster's state, with cursors through its per-index maps for its followers asked in order.
struct ClusterView<'a> {
    cs: &'a ClusterState,
    restores: MapSeek<'a, Bootstrap>,
    doc_parity: MapSeek<'a, DocParity>,
    following_seen: SetSeek<'a>,
    copy_seen: SetSeek<'a>,
}

impl<'a> ClusterView<'a> {
    fn new(cs: &'a ClusterState) -> Self {
        Self {
            cs,
            restores: Seek::new(&cs.restores),
            doc_parity: Seek::new(&cs.doc_parity),
            following_seen: Seek::new(&cs.following_seen),
            copy_seen: Seek::new(&cs.copy_seen),
        }
    }
}

/// A cluster's `_cat/indices` listing: when it was read, and a cursor through it.
type Listing<'a> = (DateTime<Utc>, MapSeek<'a, Option<i64>>);

/// [`listed`] for many followers, asked in the order of a report (by cluster, then index): the same answers,
/// from cursors through the listings instead of a search of each listing per follower.
struct Listings<'a> {
    snap: &'a Snapshot,
    /// The follower cluster asked about last, and its listing.
    follower: Option<(&'a ClusterState, Option<Listing<'a>>)>,
    /// Every leader cluster asked about, and its listing.
    leaders: Vec<(&'a str, Option<Listing<'a>>)>,
}

impl<'a> Listings<'a> {
    fn new(snap: &'a Snapshot) -> Self {
        Self {
            snap,
            follower: None,
            leaders: Vec::new(),
        }
    }

    fn listing(cs: &'a ClusterState) -> Option<Listing<'a>> {
        cs.indices.as_ref().map(|i| (i.at, Seek::new(&i.data)))
    }

    /// [`listed`] of `index` on the cluster whose state is `cs`.
    fn listed(
        &mut self,
        cs: &'a ClusterState,
        index: &str,
        leader_cluster: Option<&str>,
        leader_index: &str,
    ) -> Listed {
        if !self
            .follower
            .as_ref()
            .is_some_and(|(c, _)| std::ptr::eq(*c, cs))
        {
            self.follower = Some((cs, Self::listing(cs)));
        }
        let follower = self
            .follower
            .as_mut()
            .and_then(|(_, l)| l.as_mut())
            .map(|(at, seek)| (seek.get(index).is_some(), *at));
        let leader = leader_cluster.and_then(|l| {
            let at = match self.leaders.iter().position(|(name, _)| *name == l) {
                Some(at) => at,
                None => {
                    let (name, cs) = self.snap.clusters.get_key_value(l)?;
                    self.leaders.push((name, Self::listing(cs)));
                    self.leaders.len() - 1
                }
            };
            let (at, seek) = self.leaders[at].1.as_mut()?;
            Some((seek.get(leader_index).is_some(), *at))
        });
        listed_from(follower, leader)
    }
}

impl Listed {
    /// [`listed`] of each of `observations`, given sorted by (follower_cluster, follower_index) as a report's
    /// followers are (any order gives the same answers, only slower).
    pub fn of_each<'a>(
        snap: &'a Snapshot,
        observations: impl IntoIterator<Item = &'a FollowerObservation> + 'a,
    ) -> impl Iterator<Item = Listed> + 'a {
        let empty: &'static ClusterState = &EMPTY_CLUSTER;
        let mut listings = Listings::new(snap);
        observations.into_iter().map(move |o| {
            let cs = snap.clusters.get(&o.follower_cluster).unwrap_or(empty);
            listings.listed(
                cs,
                &o.follower_index,
                o.leader_cluster.as_deref(),
                &o.leader_index,
            )
        })
    }
}

/// What the `_cat/indices` listings say about a follower: the only inputs of its observation that a
/// `doc_counts` run changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    /// Whether the follower index is in its cluster's listing, when the cluster has been listed.
    pub follower_index_exists: Option<bool>,
    /// Whether the leader index is in the leader cluster's listing, when that can be told.
    pub leader_index_exists: Option<bool>,
}

/// [`Listed`] for follower index `index` on the cluster whose state is `cs`, following `leader_index` on
/// `leader_cluster`.
pub fn listed(
    snap: &Snapshot,
    cs: &ClusterState,
    index: &str,
    leader_cluster: Option<&str>,
    leader_index: &str,
) -> Listed {
    // A leader index absent from the leader's listing counts as deleted only when the follower already existed
    // when that listing was read (it is in its own cluster's listing, read no later). A follower created since,
    // e.g. by an auto-follow pattern for a new leader index, would otherwise look leader-less until the next
    // listing, and `on_leader_deleted = "unfollow"` could act on that.
    let follower = cs
        .indices
        .as_ref()
        .map(|i| (i.data.contains_key(index), i.at));
    let leader = leader_cluster
        .and_then(|l| snap.clusters.get(l))
        .and_then(|l| l.indices.as_ref())
        .map(|l| (l.data.contains_key(leader_index), l.at));
    listed_from(follower, leader)
}

/// [`Listed`] from whether the follower cluster's and the leader cluster's listings (when read) list the
/// follower and the leader index, and when each was read.
fn listed_from(
    follower: Option<(bool, DateTime<Utc>)>,
    leader: Option<(bool, DateTime<Utc>)>,
) -> Listed {
    let follower_listed_at = follower.filter(|(listed, _)| *listed).map(|(_, at)| at);
    let leader_index_exists = leader.and_then(|(listed, at)| {
        if listed {
            Some(true)
        } else if follower_listed_at.is_some_and(|f| f <= at) {
            Some(false)
        } else {
            None
        }
    });
    Listed {
        follower_index_exists: follower.map(|(listed, _)| listed),
        leader_index_exists,
    }
}

/// The state of a cluster never polled.
static EMPTY_CLUSTER: std::sync::LazyLock<ClusterState> =
    std::sync::LazyLock::new(ClusterState::default);

/// Entries by (cluster, follower index).
type Sorted<'a, T> = Vec<((&'a str, &'a str), T)>;

/// Sorts by key, keeping the first of equal keys (the sort is stable).
fn for_merge<T>(v: &mut Sorted<'_, T>) {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.dedup_by(|later, first| later.0 == first.0);
}

/// The entry at `at` when it is `key`'s, moving past it.
fn take<T: Copy>(v: &Sorted<'_, T>, at: &mut usize, key: (&str, &str)) -> Option<T> {
    let (k, t) = v.get(*at)?;
    (*k == key).then(|| {
        *at += 1;
        *t
    })
}

/// What the configuration, `_ccr/info` and `_ccr/stats` say about one follower index.
struct Found<'a> {
    configured: Option<&'a FollowerSettings>,
    info: Option<&'a FollowerInfo>,
    stats: Option<&'a FollowerIndexStats>,
}

fn observe_follower<'a>(
    cfg: &Config,
    view: &mut ClusterView<'a>,
    listings: &mut Listings<'a>,
    cluster: &str,
    index: &str,
    found: Found<'_>,
) -> FollowerObservation {
    let cs = view.cs;
    let Found {
        configured,
        info,
        stats,
    } = found;
    let first_shard = stats.and_then(|s| s.shards.first());
    // Observed values win over configured ones: labels then say what the cluster really does.
    fn first_known(candidates: [Option<&str>; 3]) -> String {
        candidates
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_default()
    }
    let remote_cluster = first_known([
        info.map(|i| i.remote_cluster.as_str()),
        first_shard.map(|s| s.remote_cluster.as_str()),
        configured.map(|c| c.remote.as_str()),
    ]);
    let leader_index = first_known([
        info.map(|i| i.leader_index.as_str()),
        first_shard.map(|s| s.leader_index.as_str()),
        configured.map(|c| c.leader_index.as_str()),
    ]);
    let leader_cluster = cfg
        .leader_cluster(cluster, &remote_cluster)
        .map(str::to_string);

    let poll_error = cs
        .errors
        .get(&Endpoint::CcrStats)
        .or_else(|| cs.errors.get(&Endpoint::FollowInfo))
        .cloned();
    let freshness = match (&poll_error, &cs.follow_info, &cs.ccr_stats) {
        (None, Some(_), Some(_)) => Freshness::Fresh,
        (Some(e), Some(i), Some(s)) => Freshness::Stale {
            as_of: i.at.min(s.at),
            error: e.clone(),
        },
        (error, _, _) => Freshness::Unavailable {
            error: error.clone(),
        },
    };

    let remote = match &cs.remote_info {
        None => RemoteObservation::Unknown,
        Some(r) => match r.data.get(&remote_cluster) {
            None => RemoteObservation::NotConfigured,
            Some(ri) => RemoteObservation::Seen {
                connected: ri.connected,
                mode: ri.mode().to_string(),
                nodes_connected: ri.nodes_connected(),
            },
        },
    };
    let Listed {
        follower_index_exists,
        leader_index_exists,
    } = listings.listed(cs, index, leader_cluster.as_deref(), &leader_index);
    let bootstrap = view
        .restores
        .get(index)
        .filter(|b| b.remote_cluster == remote_cluster)
        .cloned();

    FollowerObservation {
        follower_cluster: cluster.to_string(),
        follower_index: index.to_string(),
        remote_cluster,
        leader_index,
        leader_cluster,
        managed: configured.is_some(),
        freshness,
        // Shard tasks in the stats mean the follower is active even when `_ccr/info` (read a moment apart)
        // does not list it yet, e.g. a follower an auto-follow pattern just created.
        status: info
            .map(|i| i.status)
            .or(stats.map(|_| FollowerStatus::Active)),
        follower_index_exists,
        shards: stats.map(ShardSummary::from_stats),
        remote,
        leader_index_exists,
        docs: view.doc_parity.get(index).cloned(),
        bootstrap,
        following_seen: view.following_seen.contains(index),
        copy_seen: view.copy_seen.contains(index),
        remote_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::health::FollowerState;
    use crate::evaluate::report::Report;
    use crate::testing::{
        count_then_poll, find, fixture, fixture_config, poll, poll_with_stats, polled_6_8,
        stats_with,
    };
    use std::collections::BTreeMap;

    #[test]
    fn es_6_8_bodies() {
        let cfg = fixture_config();
        let snap = polled_6_8();
        let r = Report::build(&cfg, &snap, Utc::now());
        let orders = find(&r, "orders-copy");
        assert_eq!(orders.state, FollowerState::Healthy, "{:?}", orders.reasons);
        let sh = orders.observation.shards.as_ref().unwrap();
        assert_eq!((sh.shards, sh.global_checkpoint_lag), (2, 9));
        assert!(orders.observation.managed);
        let paused = find(&r, "paused-copy");
        assert_eq!(paused.state, FollowerState::Paused);
        assert!(!paused.observation.managed, "not in the config");
        assert_eq!(find(&r, "gone-copy").state, FollowerState::Missing);
        assert_eq!(r.remotes[0].mode, "sniff");
        assert_eq!(r.auto_follow[0].stats.recent_auto_follow_errors.len(), 1);
    }

    #[test]
    fn es_7_10_fatal_read_exceptions_and_minus_one() {
        let cfg = fixture_config();
        let mut snap = Snapshot::default();
        let mut p = poll(
            "versions/ccr_stats_response_7.10.json",
            "versions/follow_info_response_6.8.json",
            "versions/remote_info_response_7.10.json",
        );
        p.follow_info = Ok(serde_json::from_str(
            r#"{"follower_indices":[
                {"follower_index":"orders-copy","remote_cluster":"leader","leader_index":"orders","status":"active"},
                {"follower_index":"fresh-copy","remote_cluster":"leader","leader_index":"fresh","status":"active"}]}"#,
        )
        .unwrap());
        snap.apply_poll(p);
        let r = Report::build(&cfg, &snap, Utc::now());
        let orders = find(&r, "orders-copy");
        assert_eq!(orders.state, FollowerState::Failed, "{:?}", orders.reasons);
        let sh = orders.observation.shards.as_ref().unwrap();
        assert_eq!(sh.global_checkpoint_lag, 20 + 40);
        assert_eq!(sh.read_exceptions, 1);
        assert_eq!(sh.fatal_exceptions.len(), 1);
        assert!(orders
            .reasons
            .iter()
            .any(|x| x.contains("remote_cluster `leader` is not connected")));
        let fresh = find(&r, "fresh-copy");
        let sh = fresh.observation.shards.as_ref().unwrap();
        assert_eq!(
            (sh.global_checkpoint_lag, sh.max_time_since_last_read_millis),
            (0, None)
        );
        assert_eq!(fresh.state, FollowerState::RemoteDisconnected);
    }

    #[test]
    fn es_7_17_proxy_and_9x_unknown_fields() {
        let cfg = fixture_config();
        let mut snap = Snapshot::default();
        snap.apply_poll(poll(
            "versions/ccr_stats_response_9.x.json",
            "ccr_follow_info_response_active_8x.json",
            "versions/remote_info_response_7.17.json",
        ));
        let r = Report::build(&cfg, &snap, Utc::now());
        assert_eq!(r.remotes[0].mode, "proxy");
        assert_eq!(r.remotes[0].nodes_connected, 18);
        let orders = find(&r, "orders-copy");
        let sh = orders.observation.shards.as_ref().unwrap();
        assert_eq!(sh.global_checkpoint_lag, 100);
        assert_eq!(
            r.auto_follow[0].stats.number_of_successful_follow_indices,
            5
        );
    }

    /// A report after a poll (6.8 fixtures, `orders-copy` caught up with a quiet leader), a doc-count run in
    /// which the leader lists the fixture's indices and the follower cluster lists `follower_listing`, and the
    /// same poll again.
    fn report_after_listings(cfg: &Config, follower_listing: Vec<CatIndex>) -> Report {
        let mut snap = Snapshot::default();
        snap.apply_poll(poll_with_stats(stats_with(99, 99, 99)));
        let indices = BTreeMap::from([
            (
                "leader".to_string(),
                Ok(fixture("versions/cat_indices_response_closed.json")),
            ),
            ("follower".to_string(), Ok(follower_listing)),
        ]);
        count_then_poll(
            cfg,
            &mut snap,
            indices,
            poll_with_stats(stats_with(99, 99, 99)),
        );
        Report::build(cfg, &snap, Utc::now())
    }

    #[test]
    fn a_follower_newer_than_the_leader_listing_is_not_leader_missing() {
        // `paused-copy` is followed (poll) but was not yet in its cluster's listing when the leader's was read:
        // it may have been created since, with a leader index created since, so nothing is concluded.
        let r = report_after_listings(
            &fixture_config(),
            fixture("versions/cat_indices_response_closed.json"),
        );
        let paused = find(&r, "paused-copy");
        assert_eq!(paused.observation.leader_index_exists, None);
        assert_eq!(paused.state, FollowerState::Paused, "{:?}", paused.reasons);
    }

    #[test]
    fn leader_missing_is_seen_from_the_leader_index_list() {
        let mut follower_listing: Vec<CatIndex> =
            fixture("versions/cat_indices_response_closed.json");
        follower_listing.push(
            serde_json::from_value(
                serde_json::json!({"index": "paused-copy", "status": "open", "docs.count": "5"}),
            )
            .unwrap(),
        );
        let r = report_after_listings(&fixture_config(), follower_listing);
        let orders = find(&r, "orders-copy");
        assert_eq!(
            orders.state,
            FollowerState::DocsMismatch,
            "{:?}",
            orders.reasons
        );
        assert!(orders.reasons[0].contains("leader has 1200 documents, follower 1180"));
        let paused = find(&r, "paused-copy");
        assert_eq!(paused.observation.leader_index_exists, Some(false));
        assert_eq!(paused.state, FollowerState::LeaderMissing);
        let gone = find(&r, "gone-copy");
        assert_eq!(gone.state, FollowerState::Missing);
        assert!(
            gone.reasons[0].contains("does not exist"),
            "{:?}",
            gone.reasons
        );
    }
}
