//! Observing the clusters: polls that read them into a [`Snapshot`], and the per-follower view
//! ([`FollowerObservation`]) that the verdicts in [`crate::evaluate::health`] are computed from.
//!
//! Request budget: the `poll` job sends three requests per follower cluster (`GET /_ccr/stats`,
//! `GET /_all/_ccr/info`, `GET /_remote/info`), the `doc_counts` job two `GET /_ccr/stats` per follower cluster
//! plus one `GET /_cat/indices` per cluster involved. Neither depends on the number of followers. Clusters are
//! polled concurrently; a slow cluster delays only its own results, bounded by its request timeout.
//!
//! Failures never erase data: each endpoint's last good answer stays in the snapshot, the error is recorded next
//! to it, and the cluster is reported `up = false` and `stale = true` until the endpoint answers again.

pub mod caught_up;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde::Serialize;

use crate::config::Config;
use crate::es::*;
use crate::es::{Clients, Endpoint, EsClient, EsError};
use crate::observe::caught_up::{CaughtUp, Docs, ShardLook};

/// A value read from a cluster and when it was read.
#[derive(Debug, Clone, Serialize)]
pub struct Observed<T> {
    pub at: DateTime<Utc>,
    pub data: T,
}

/// What the daemon knows about every cluster, as of the latest polls. Cheap to clone relative to a poll.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// By configuration name.
    pub clusters: BTreeMap<String, ClusterState>,
}

/// What the daemon knows about one cluster.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterState {
    /// When a request to this cluster was last attempted / last fully succeeded.
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// The latest error per endpoint; an entry is removed when that endpoint answers again.
    pub errors: BTreeMap<Endpoint, String>,
    pub ccr_stats: Option<Observed<CcrStatsResponse>>,
    pub follow_info: Option<Observed<FollowInfoResponse>>,
    pub remote_info: Option<Observed<RemoteInfoResponse>>,
    /// Document counts by index name (from `_cat/indices`), closed indices with `None`.
    pub indices: Option<Observed<BTreeMap<String, Option<i64>>>>,
    /// Doc-count parity by follower index, computed by the `doc_counts` job (follower clusters only).
    pub doc_parity: BTreeMap<String, DocParity>,
}

impl ClusterState {
    /// True when the cluster has been reached and its latest requests all succeeded.
    pub fn up(&self) -> bool {
        self.last_attempt.is_some() && self.errors.is_empty()
    }

    /// True when some data shown for this cluster is older than a failed attempt to refresh it.
    pub fn stale(&self) -> bool {
        let has = |e: Endpoint| self.errors.contains_key(&e);
        (has(Endpoint::CcrStats) && self.ccr_stats.is_some())
            || (has(Endpoint::FollowInfo) && self.follow_info.is_some())
            || (has(Endpoint::RemoteInfo) && self.remote_info.is_some())
            || (has(Endpoint::CatIndices) && self.indices.is_some())
    }

    fn record<T>(
        &mut self,
        endpoint: Endpoint,
        at: DateTime<Utc>,
        r: Result<T, EsError>,
    ) -> Option<Observed<T>> {
        self.last_attempt = Some(at);
        match r {
            Ok(data) => {
                self.errors.remove(&endpoint);
                Some(Observed { at, data })
            }
            Err(e) => {
                self.errors.insert(endpoint, e.to_string());
                None
            }
        }
    }

    fn finish(&mut self, at: DateTime<Utc>) {
        if self.errors.is_empty() {
            self.last_success = Some(at);
        }
    }
}

/// Leader versus follower document counts of one follower index.
///
/// Counts are only *compared* (`comparable`) when the follower has provably caught up: the `doc_counts` job reads
/// `GET /_ccr/stats` before and after counting, and a follower is comparable only when, in both reads, every shard
/// has `follower_global_checkpoint >= leader_global_checkpoint`, the leader has no operation above its global
/// checkpoint (`leader_max_seq_no == leader_global_checkpoint`), and the leader checkpoints did not move between
/// the two reads, no shard has a pending read exception, and the follower cluster's remote connection is up (the
/// leader checkpoints in follower stats are only refreshed by successful reads, so after an outage they can be
/// stale). Any difference then is real drift, not operations in flight. While writes keep flowing the
/// counts are still exported, but a difference does not make the follower `docs_mismatch`. (Counting "the leader
/// at the follower's checkpoint" would need a `_seq_no` range query per index, i.e. one request per follower.)
/// The gate is [`crate::observe::caught_up`], the same predicate promote uses, without the counts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DocParity {
    pub at: DateTime<Utc>,
    pub leader_docs: Option<i64>,
    pub follower_docs: Option<i64>,
    pub comparable: bool,
    /// Why the counts were not compared, when they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_compared_because: Option<String>,
}

impl DocParity {
    /// Leader minus follower, when both counts are known.
    pub fn difference(&self) -> Option<i64> {
        Some(self.leader_docs? - self.follower_docs?)
    }
}

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
                    cause: f.clone(),
                });
            }
            out.read_exceptions += sh.read_exceptions.len() as u64;
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
        out.global_checkpoint_lag = s
            .total_global_checkpoint_lag
            .map(|l| l.max(0))
            .unwrap_or(computed_lag);
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
}

/// Builds the observation of every follower: configured ones (present or not) and every follower the clusters
/// report (auto-followed or foreign ones, unmanaged). Sorted by (follower_cluster, follower_index).
pub fn follower_observations(cfg: &Config, snap: &Snapshot) -> Vec<FollowerObservation> {
    let mut keys: BTreeSet<(String, String)> = cfg
        .followers
        .iter()
        .map(|f| (f.cluster.clone(), f.follower_index.clone()))
        .collect();
    for cluster in cfg.follower_clusters() {
        let Some(cs) = snap.clusters.get(&cluster) else {
            continue;
        };
        if let Some(info) = &cs.follow_info {
            keys.extend(
                info.data
                    .follower_indices
                    .iter()
                    .map(|f| (cluster.clone(), f.follower_index.clone())),
            );
        }
        if let Some(stats) = &cs.ccr_stats {
            keys.extend(
                stats
                    .data
                    .follow_stats
                    .indices
                    .iter()
                    .map(|i| (cluster.clone(), i.index.clone())),
            );
        }
    }
    let empty = ClusterState::default();
    keys.into_iter()
        .map(|(cluster, index)| {
            let cs = snap.clusters.get(&cluster).unwrap_or(&empty);
            observe_follower(cfg, snap, cs, &cluster, &index)
        })
        .collect()
}

fn observe_follower(
    cfg: &Config,
    snap: &Snapshot,
    cs: &ClusterState,
    cluster: &str,
    index: &str,
) -> FollowerObservation {
    let configured = cfg.follower(cluster, index);
    let info = cs.follow_info.as_ref().and_then(|i| {
        i.data
            .follower_indices
            .iter()
            .find(|f| f.follower_index == index)
    });
    let stats = cs.ccr_stats.as_ref().and_then(|s| {
        s.data
            .follow_stats
            .indices
            .iter()
            .find(|i| i.index == index)
    });
    let first_shard = stats.and_then(|s| s.shards.first());
    // Observed values win over configured ones: labels then say what the cluster really does.
    fn first_known(candidates: [Option<&String>; 3]) -> String {
        candidates
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_default()
    }
    let remote_cluster = first_known([
        info.map(|i| &i.remote_cluster),
        first_shard.map(|s| &s.remote_cluster),
        configured.map(|c| &c.remote),
    ]);
    let leader_index = first_known([
        info.map(|i| &i.leader_index),
        first_shard.map(|s| &s.leader_index),
        configured.map(|c| &c.leader_index),
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
    // A leader index absent from the leader's listing counts as deleted only when the follower already existed
    // when that listing was read (it is in its own cluster's listing, read no later). A follower created since,
    // e.g. by an auto-follow pattern for a new leader index, would otherwise look leader-less until the next
    // listing, and `on_leader_deleted = "unfollow"` could act on that.
    let follower_listed_at = cs
        .indices
        .as_ref()
        .filter(|i| i.data.contains_key(index))
        .map(|i| i.at);
    let leader_index_exists = leader_cluster
        .as_ref()
        .and_then(|l| snap.clusters.get(l))
        .and_then(|l| l.indices.as_ref())
        .and_then(|l| {
            if l.data.contains_key(&leader_index) {
                Some(true)
            } else if follower_listed_at.is_some_and(|f| f <= l.at) {
                Some(false)
            } else {
                None
            }
        });
    let follower_index_exists = cs.indices.as_ref().map(|i| i.data.contains_key(index));

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
        docs: cs.doc_parity.get(index).cloned(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------------------------------------------

/// The answers of one `poll` of one follower cluster.
#[derive(Debug)]
pub struct PollResult {
    pub cluster: String,
    pub at: DateTime<Utc>,
    pub ccr_stats: Result<CcrStatsResponse, EsError>,
    pub follow_info: Result<FollowInfoResponse, EsError>,
    pub remote_info: Result<RemoteInfoResponse, EsError>,
}

impl PollResult {
    /// The errors of this poll, for counting.
    pub fn errors(&self) -> impl Iterator<Item = &EsError> {
        [
            self.ccr_stats.as_ref().err(),
            self.follow_info.as_ref().err(),
            self.remote_info.as_ref().err(),
        ]
        .into_iter()
        .flatten()
    }
}

/// The answers of one `doc_counts` run.
#[derive(Debug)]
pub struct DocCountResult {
    pub at: DateTime<Utc>,
    /// `GET /_ccr/stats` before and after counting, by follower cluster.
    pub stats_before: BTreeMap<String, Result<CcrStatsResponse, EsError>>,
    pub stats_after: BTreeMap<String, Result<CcrStatsResponse, EsError>>,
    /// `GET /_cat/indices`, by cluster.
    pub indices: BTreeMap<String, Result<Vec<CatIndex>, EsError>>,
}

impl DocCountResult {
    /// The errors of this run, with the cluster they came from, for counting.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &EsError)> {
        self.stats_before
            .iter()
            .chain(self.stats_after.iter())
            .filter_map(|(c, r)| r.as_ref().err().map(|e| (c.as_str(), e)))
            .chain(
                self.indices
                    .iter()
                    .filter_map(|(c, r)| r.as_ref().err().map(|e| (c.as_str(), e))),
            )
    }
}

/// Reads the clusters through the process's one [`Clients`] registry.
#[derive(Debug, Clone)]
pub struct Observer {
    cfg: Arc<Config>,
    clients: Clients,
}

impl Observer {
    /// An observer of `cfg`'s clusters through `clients` (contacts none of them).
    pub fn new(cfg: Arc<Config>, clients: Clients) -> Self {
        Self { cfg, clients }
    }

    /// The validated configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// The client of a configured cluster.
    pub fn client(&self, cluster: &str) -> Option<&EsClient> {
        self.clients.get(cluster)
    }

    /// One `poll`: the three reads of every follower cluster, clusters concurrently, requests of a cluster
    /// concurrently.
    pub async fn poll(&self) -> Vec<PollResult> {
        let polls = self.cfg.follower_clusters().into_iter().filter_map(|name| {
            let client = self.clients.get(&name)?.clone();
            Some(async move {
                let at = Utc::now();
                let (ccr_stats, follow_info, remote_info) = tokio::join!(
                    client.ccr_stats(),
                    client.follow_info_all(),
                    client.remote_info()
                );
                PollResult {
                    cluster: name,
                    at,
                    ccr_stats,
                    follow_info,
                    remote_info,
                }
            })
        });
        join_all(polls).await
    }

    /// One `doc_counts` run: stats before, document counts of every involved cluster, stats after.
    pub async fn doc_counts(&self) -> DocCountResult {
        let at = Utc::now();
        let followers = self.cfg.follower_clusters();
        let mut involved: BTreeSet<String> = followers.iter().cloned().collect();
        involved.extend(
            self.cfg
                .remotes
                .iter()
                .filter(|r| followers.contains(&r.cluster))
                .map(|r| r.leader.clone()),
        );
        let stats = || {
            join_all(followers.iter().filter_map(|name| {
                let client = self.clients.get(name)?.clone();
                Some(async move { (name.clone(), client.ccr_stats().await) })
            }))
        };
        let stats_before: BTreeMap<_, _> = stats().await.into_iter().collect();
        let indices: BTreeMap<_, _> = join_all(involved.iter().filter_map(|name| {
            let client = self.clients.get(name)?.clone();
            Some(async move { (name.clone(), client.cat_indices().await) })
        }))
        .await
        .into_iter()
        .collect();
        let stats_after: BTreeMap<_, _> = stats().await.into_iter().collect();
        DocCountResult {
            at,
            stats_before,
            stats_after,
            indices,
        }
    }
}

impl Snapshot {
    /// Records one cluster's poll. Failed endpoints keep their previous data and record the error.
    pub fn apply_poll(&mut self, r: PollResult) {
        let cs = self.clusters.entry(r.cluster).or_default();
        if let Some(o) = cs.record(Endpoint::CcrStats, r.at, r.ccr_stats) {
            // The `doc_counts` job also reads the stats; keep whichever read started last.
            if cs.ccr_stats.as_ref().map_or(true, |old| old.at <= o.at) {
                cs.ccr_stats = Some(o);
            }
        }
        if let Some(o) = cs.record(Endpoint::FollowInfo, r.at, r.follow_info) {
            cs.follow_info = Some(o);
        }
        if let Some(o) = cs.record(Endpoint::RemoteInfo, r.at, r.remote_info) {
            cs.remote_info = Some(o);
        }
        cs.finish(r.at);
    }

    /// Records a `doc_counts` run and recomputes the doc-count parity of every follower of the follower clusters.
    pub fn apply_doc_counts(&mut self, cfg: &Config, r: DocCountResult) {
        for (cluster, res) in r.indices {
            let cs = self.clusters.entry(cluster).or_default();
            let res = res.map(|rows| rows.into_iter().map(|i| (i.index, i.docs_count)).collect());
            if let Some(o) = cs.record(Endpoint::CatIndices, r.at, res) {
                cs.indices = Some(o);
            }
            cs.finish(r.at);
        }
        for (cluster, after) in r.stats_after {
            let before = r.stats_before.get(&cluster).and_then(|b| b.as_ref().ok());
            let parity = match (&after, before) {
                (Ok(after), Some(before)) => Some(self.parity(cfg, &cluster, before, after, r.at)),
                _ => None,
            };
            let cs = self.clusters.entry(cluster.clone()).or_default();
            if let Some(o) = cs.record(Endpoint::CcrStats, r.at, after) {
                // A `poll` that started later may have finished first; keep the newer stats.
                if cs.ccr_stats.as_ref().map_or(true, |old| old.at <= o.at) {
                    cs.ccr_stats = Some(o);
                }
            }
            if let Some(p) = parity {
                cs.doc_parity = p;
            }
            cs.finish(r.at);
        }
    }

    fn parity(
        &self,
        cfg: &Config,
        cluster: &str,
        before: &CcrStatsResponse,
        after: &CcrStatsResponse,
        at: DateTime<Utc>,
    ) -> BTreeMap<String, DocParity> {
        let Some(cs) = self.clusters.get(cluster) else {
            return BTreeMap::new();
        };
        let count = |c: &str, index: &str| -> Option<i64> {
            self.clusters
                .get(c)?
                .indices
                .as_ref()?
                .data
                .get(index)
                .copied()
                .flatten()
        };
        let remote_connected = |alias: &str| {
            cs.remote_info
                .as_ref()
                .and_then(|r| r.data.get(alias))
                .is_some_and(|r| r.connected)
        };
        // Every follower known from info or stats (paused ones have no stats).
        let mut followers: BTreeMap<String, (String, String)> = BTreeMap::new();
        if let Some(info) = &cs.follow_info {
            for f in &info.data.follower_indices {
                followers.insert(
                    f.follower_index.clone(),
                    (f.remote_cluster.clone(), f.leader_index.clone()),
                );
            }
        }
        for i in &after.follow_stats.indices {
            if let Some(s) = i.shards.first() {
                followers
                    .entry(i.index.clone())
                    .or_insert_with(|| (s.remote_cluster.clone(), s.leader_index.clone()));
            }
        }
        for f in cfg.followers.iter().filter(|f| f.cluster == cluster) {
            followers
                .entry(f.follower_index.clone())
                .or_insert_with(|| (f.remote.clone(), f.leader_index.clone()));
        }
        followers
            .into_iter()
            .map(|(index, (remote, leader_index))| {
                let leader_cluster = cfg.leader_cluster(cluster, &remote);
                let leader_docs = leader_cluster.and_then(|l| count(l, &leader_index));
                let follower_docs = count(cluster, &index);
                let not_compared_because = if leader_cluster.is_none() {
                    Some(format!("no [[remotes]] entry maps alias `{remote}` on `{cluster}` to a configured cluster"))
                } else if leader_docs.is_none() || follower_docs.is_none() {
                    Some("a document count is unavailable".to_string())
                } else {
                    caught_up(cs, &index, &remote, remote_connected(&remote), before, after).err()
                };
                let p = DocParity {
                    at,
                    leader_docs,
                    follower_docs,
                    comparable: not_compared_because.is_none(),
                    not_compared_because,
                };
                (index, p)
            })
            .collect()
    }
}

/// `Ok` when `index` had caught up with a quiet leader in both stats reads (see [`DocParity`]), otherwise why
/// the counts are not compared.
fn caught_up(
    cs: &ClusterState,
    index: &str,
    remote: &str,
    remote_connected: bool,
    before: &CcrStatsResponse,
    after: &CcrStatsResponse,
) -> Result<(), String> {
    let find = |s: &CcrStatsResponse| {
        s.follow_stats
            .indices
            .iter()
            .find(|i| i.index == index)
            .map(ShardLook::from_stats)
    };
    // Both reads must show running shard tasks; the status in `_ccr/info` says why they do not.
    let (shards, earlier) = match (find(before), find(after)) {
        (Some(b), Some(a)) => (Some(a), Some(b)),
        _ => (None, None),
    };
    let status = cs
        .follow_info
        .as_ref()
        .and_then(|i| {
            i.data
                .follower_indices
                .iter()
                .find(|f| f.follower_index == index)
        })
        .map(|f| f.status)
        .or(shards.is_some().then_some(FollowerStatus::Active));
    crate::observe::caught_up::caught_up(&CaughtUp {
        status,
        remote_cluster: remote,
        remote_connected,
        shards: shards.as_deref(),
        reported_lag: None,
        earlier: earlier.as_deref(),
        docs: Docs::Ignored,
    })
    .map_err(|e| e.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::evaluate::health::FollowerState;
    use crate::evaluate::report::Report;

    pub(crate) fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!("{}/tests/fixtures/es/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub(crate) fn cfg() -> Config {
        crate::config::from_toml_str(
            r#"
[clusters.leader]
url = "http://127.0.0.1:1"
[clusters.follower]
url = "http://127.0.0.1:2"
[[remotes]]
cluster = "follower"
alias = "leader"
leader = "leader"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "orders"
follower_index = "orders-copy"
[[followers]]
cluster = "follower"
remote = "leader"
leader_index = "gone"
follower_index = "gone-copy"
"#,
        )
        .unwrap()
    }

    pub(crate) fn poll(stats: &str, info: &str, remote: &str) -> PollResult {
        PollResult {
            cluster: "follower".into(),
            at: Utc::now(),
            ccr_stats: Ok(fixture(stats)),
            follow_info: Ok(fixture(info)),
            remote_info: Ok(fixture(remote)),
        }
    }

    fn find<'a>(r: &'a Report, index: &str) -> &'a crate::evaluate::report::FollowerReport {
        r.followers
            .iter()
            .find(|f| f.observation.follower_index == index)
            .unwrap_or_else(|| panic!("no follower {index} in {:?}", r.followers))
    }

    #[test]
    fn es_6_8_bodies() {
        let cfg = cfg();
        let mut snap = Snapshot::default();
        snap.apply_poll(poll(
            "versions/ccr_stats_response_6.8.json",
            "versions/follow_info_response_6.8.json",
            "versions/remote_info_response_6.8.json",
        ));
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
        let cfg = cfg();
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
        let cfg = cfg();
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
        assert_eq!(
            orders
                .observation
                .shards
                .as_ref()
                .unwrap()
                .global_checkpoint_lag,
            100
        );
        assert_eq!(
            r.auto_follow[0].stats.number_of_successful_follow_indices,
            5
        );
    }

    #[test]
    fn a_failed_poll_keeps_the_last_good_data_and_marks_it_stale() {
        let cfg = cfg();
        let mut snap = Snapshot::default();
        snap.apply_poll(poll(
            "versions/ccr_stats_response_6.8.json",
            "versions/follow_info_response_6.8.json",
            "versions/remote_info_response_6.8.json",
        ));
        let decode = |endpoint| EsError::Decode {
            cluster: "follower".into(),
            endpoint,
            message: "expected value at line 1 column 1".into(),
        };
        snap.apply_poll(PollResult {
            cluster: "follower".into(),
            at: Utc::now(),
            ccr_stats: Err(decode(Endpoint::CcrStats)),
            follow_info: Ok(fixture("versions/follow_info_response_6.8.json")),
            remote_info: Err(decode(Endpoint::RemoteInfo)),
        });
        let cs = &snap.clusters["follower"];
        assert!(!cs.up() && cs.stale());
        assert!(cs.ccr_stats.is_some(), "last good stats kept");
        let r = Report::build(&cfg, &snap, Utc::now());
        let orders = find(&r, "orders-copy");
        assert_eq!(orders.state, FollowerState::Unknown);
        assert!(
            orders.reasons[0].contains("last known state: healthy"),
            "{:?}",
            orders.reasons
        );
        assert_eq!(
            orders
                .observation
                .shards
                .as_ref()
                .unwrap()
                .global_checkpoint_lag,
            9
        );
        let c = r.clusters.iter().find(|c| c.name == "follower").unwrap();
        assert!(!c.up && c.stale);
        assert_eq!(c.errors.len(), 2);
    }

    fn stats_with(lgc: i64, lmax: i64, fgc: i64) -> CcrStatsResponse {
        let mut s: CcrStatsResponse = fixture("versions/ccr_stats_response_6.8.json");
        for sh in &mut s.follow_stats.indices[0].shards {
            sh.leader_global_checkpoint = lgc;
            sh.leader_max_seq_no = lmax;
            sh.follower_global_checkpoint = fgc;
        }
        s
    }

    fn counts(
        leader_docs: &str,
        follower_docs: &str,
    ) -> BTreeMap<String, Result<Vec<CatIndex>, EsError>> {
        let rows = |i: &str, n: &str| {
            serde_json::from_str::<Vec<CatIndex>>(&format!(
                r#"[{{"index":"{i}","docs.count":"{n}"}}]"#
            ))
            .unwrap()
        };
        BTreeMap::from([
            ("leader".to_string(), Ok(rows("orders", leader_docs))),
            (
                "follower".to_string(),
                Ok(rows("orders-copy", follower_docs)),
            ),
        ])
    }

    #[test]
    fn doc_counts_are_compared_only_once_the_follower_caught_up_with_a_quiet_leader() {
        let cfg = cfg();
        let cases = [
            (
                "caught up, quiet",
                stats_with(50, 50, 50),
                stats_with(50, 50, 50),
                true,
                None,
            ),
            (
                "behind",
                stats_with(50, 50, 40),
                stats_with(50, 50, 45),
                false,
                Some("in flight"),
            ),
            (
                "leader moved",
                stats_with(50, 50, 50),
                stats_with(60, 60, 60),
                false,
                Some("received writes"),
            ),
            (
                "ops above checkpoint",
                stats_with(50, 55, 50),
                stats_with(50, 55, 50),
                false,
                Some("above its global checkpoint"),
            ),
            (
                "stale after an outage",
                stats_with(50, 50, 50),
                {
                    let mut s = stats_with(50, 50, 50);
                    s.follow_stats.indices[0].shards[0].read_exceptions =
                        vec![ReadException::default()];
                    s
                },
                false,
                Some("pending read exceptions"),
            ),
        ];
        for (name, before, after, comparable, why) in cases {
            let mut snap = Snapshot::default();
            snap.apply_poll(poll(
                "versions/ccr_stats_response_6.8.json",
                "versions/follow_info_response_6.8.json",
                "versions/remote_info_response_6.8.json",
            ));
            snap.apply_doc_counts(
                &cfg,
                DocCountResult {
                    at: Utc::now(),
                    stats_before: BTreeMap::from([("follower".to_string(), Ok(before))]),
                    stats_after: BTreeMap::from([("follower".to_string(), Ok(after))]),
                    indices: counts("100", "97"),
                },
            );
            let p = &snap.clusters["follower"].doc_parity["orders-copy"];
            assert_eq!(p.comparable, comparable, "{name}: {p:?}");
            assert_eq!(p.difference(), Some(3), "{name}");
            if let Some(why) = why {
                assert!(
                    p.not_compared_because
                        .as_deref()
                        .unwrap_or("")
                        .contains(why),
                    "{name}: {p:?}"
                );
            }
            let r = Report::build(&cfg, &snap, Utc::now());
            let expected = if comparable {
                FollowerState::DocsMismatch
            } else {
                FollowerState::Healthy
            };
            let orders = find(&r, "orders-copy");
            assert_eq!(orders.state, expected, "{name}: {:?}", orders.reasons);
        }
    }

    /// A report after one poll (6.8 fixtures) and one doc-count run in which the leader lists the fixture's
    /// indices and the follower cluster lists `follower_listing`.
    fn report_after_listings(cfg: &Config, follower_listing: Vec<CatIndex>) -> Report {
        let mut snap = Snapshot::default();
        snap.apply_poll(poll(
            "versions/ccr_stats_response_6.8.json",
            "versions/follow_info_response_6.8.json",
            "versions/remote_info_response_6.8.json",
        ));
        let s = stats_with(99, 99, 99);
        snap.apply_doc_counts(
            cfg,
            DocCountResult {
                at: Utc::now(),
                stats_before: BTreeMap::from([("follower".to_string(), Ok(s.clone()))]),
                stats_after: BTreeMap::from([("follower".to_string(), Ok(s))]),
                indices: BTreeMap::from([
                    (
                        "leader".to_string(),
                        Ok(fixture("versions/cat_indices_response_closed.json")),
                    ),
                    ("follower".to_string(), Ok(follower_listing)),
                ]),
            },
        );
        Report::build(cfg, &snap, Utc::now())
    }

    #[test]
    fn a_follower_newer_than_the_leader_listing_is_not_leader_missing() {
        // `paused-copy` is followed (poll) but was not yet in its cluster's listing when the leader's was read:
        // it may have been created since, with a leader index created since, so nothing is concluded.
        let r = report_after_listings(&cfg(), fixture("versions/cat_indices_response_closed.json"));
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
        let r = report_after_listings(&cfg(), follower_listing);
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
