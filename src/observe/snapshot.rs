//! The snapshot: every cluster's last good answers and errors, updated from the polls' results, the
//! doc-count parity computed when document counts are read, and the per-shard history of sequence numbers that
//! the lag in time is interpolated from.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::bootstrap::{restores, with_shard_tasks, Bootstrap};
use super::caught_up::{CaughtUp, Docs, ShardLook};
pub use super::lag_ring::{LagRing, LagSample, LAG_RING_CAPACITY};
use super::seek::{MapSeek, Seek};
use super::{DataStreamsResult, DocCountResult, LeaderStatsResult, PollResult};
use crate::config::Config;
use crate::es::*;

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
    /// When the keys were last read, and the API-key remotes' connections then.
    #[serde(skip)]
    pub keys_mark: super::keys::KeysMark,
    /// How many `doc_counts` runs were applied: orders them against the polls ([`PollMark`]).
    #[serde(skip)]
    doc_count_runs: u64,
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
    /// The `doc_counts` runs whose counts wait for their second bracket, the stats of a poll that started
    /// after them, oldest first; at most [`PENDING_COUNTS`] (follower clusters only).
    #[serde(skip)]
    counts_pending: VecDeque<PendingCounts>,
    /// The data streams and their backing indices (7.9+ clusters the `poll` reads).
    pub data_streams: Option<Observed<DataStreamsResponse>>,
    /// `(major, minor)`, once the `poll` has needed it.
    #[serde(skip)]
    pub version: Option<(u32, u32)>,
    /// When the leader's own shard stats were last read successfully (leader clusters only).
    pub shard_stats_at: Option<DateTime<Utc>>,
    /// The leader's own shard stats, sequence numbers and retention leases, of the poll being applied (leader
    /// clusters only): [`Snapshot::record_lag`] folds them into the follower histories and drops them, as no
    /// later poll may use them.
    #[serde(skip)]
    shard_stats: Option<Observed<ShardStatsResponse>>,
    /// Whether `shard_stats` were read with the retention leases (on their cadence, [`LEASE_REFRESH`]).
    #[serde(skip)]
    shard_stats_leases: bool,
    /// The latest successful shard stats read with the retention leases: when, and the index expression it named
    /// (a changed list reads them again at the next poll). Leader clusters only.
    #[serde(skip)]
    leases_read: Option<Observed<String>>,
    /// The leader's `index.soft_deletes.retention_lease.period` by leader index (leader clusters only).
    pub lease_periods: Option<Observed<LeasePeriods>>,
    /// The sequence-number history of every follower shard, by follower index (follower clusters only).
    #[serde(skip)]
    pub lag: BTreeMap<String, FollowerLagHistory>,
    /// The CCR restores (initial copies) of the latest good `_recovery` read, by follower index.
    pub restores: BTreeMap<String, Bootstrap>,
    /// Followers this daemon has seen following (active in `_ccr/info` or with shard tasks), so a later pause
    /// is not mistaken for a follow that never started. Bounded by the followers `_ccr/info` lists.
    pub following_seen: BTreeSet<String>,
    /// Followers whose initial copy this daemon has seen running. Only those can be `not_started`: a paused
    /// follower with a finished restore that was never seen copying may have been paused by a person after it
    /// followed (before this daemon started), which `_recovery` cannot tell apart.
    pub copy_seen: BTreeSet<String>,
    /// The newest heartbeat time (epoch ms) by heartbeat follower index, with `heartbeat = true` remotes.
    pub heartbeats: Option<Observed<BTreeMap<String, i64>>>,
    /// The cross-cluster API keys of a leader cluster of an API-key remote (see [`super::keys`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<super::keys::KeysState>,
    /// The daemon's own credential on a follower cluster (see [`super::keys`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<super::keys::Credential>,
}

/// How often the leader's retention-lease period is read again (see [`crate::observe`]).
pub const LEASE_PERIOD_REFRESH: std::time::Duration = std::time::Duration::from_secs(300);

/// How often, at most, the leader's shard stats are read with the retention leases; the polls in between read
/// its sequence numbers alone. A follower renews its leases every 30 s (ES `CcrRetentionLeases`
/// `index.ccr.retention_lease.renew_interval`, not a registered setting), so a read every poll mostly sees the
/// timestamps of the read before, and a paused or disconnected follower, the one the margin is about, renews
/// nothing at all: its margin is exact from the first read after it stopped. A read `d` old can only make the
/// margin look smaller than the leader's, never larger (a lease's timestamp only moves forward: each renewal
/// stamps the leader's clock, a re-added lease is newer still, an expired one leaves the newer ones), and for a
/// follower that renews, by at most `d` plus one renewal interval. A leader whose shortest
/// `index.soft_deletes.retention_lease.period` is under 20 minutes is read every twentieth of it instead, so the
/// margin of a renewing follower never looks half spent ([`Snapshot::lease_periods_due`]).
pub const LEASE_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// The reads about retention leases due at a `poll`, by leader cluster ([`Snapshot::lease_periods_due`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseReadsDue {
    /// The leader clusters whose `index.soft_deletes.retention_lease.period` is read.
    pub periods: BTreeSet<String>,
    /// The leader clusters whose shard stats are read with the retention leases.
    pub leases: BTreeSet<String>,
}

/// One read of a leader cluster's retention-lease periods.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeasePeriods {
    /// The index expression read (a changed follower list reads again).
    pub indices: String,
    /// Milliseconds by leader index.
    pub by_index: BTreeMap<String, i64>,
}

/// Where the leader's sequence numbers of a follower's history come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LagSource {
    /// The leader cluster's own `_stats?level=shards` (its cluster is configured and answered).
    LeaderShardStats,
    /// The follower's `_ccr/stats` `leader_global_checkpoint`: what the follower last heard from the leader,
    /// stale exactly while the follower cannot read.
    #[default]
    FollowerCcrStats,
}

/// The rings of one follower index's shards, by shard id, in shard order.
///
/// A sorted `Vec`: a follower has a handful of shards, and a `BTreeMap` node has room for eleven whatever it
/// holds, more than doubling what 10,000 shard histories take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardRings(Vec<(i64, LagRing)>);

impl ShardRings {
    /// Sets the ring of `shard`, returning the one it replaces.
    pub fn insert(&mut self, shard: i64, ring: LagRing) -> Option<LagRing> {
        match self.0.binary_search_by_key(&shard, |(id, _)| *id) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, ring)),
            Err(i) => {
                self.0.insert(i, (shard, ring));
                None
            }
        }
    }

    /// The ring of `shard`.
    pub fn get(&self, shard: i64) -> Option<&LagRing> {
        let i = self.0.binary_search_by_key(&shard, |(id, _)| *id).ok()?;
        Some(&self.0[i].1)
    }

    /// The ring of `shard`, empty when it had none.
    pub fn ring_mut(&mut self, shard: i64) -> &mut LagRing {
        let i = match self.0.binary_search_by_key(&shard, |(id, _)| *id) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (shard, LagRing::default()));
                i
            }
        };
        &mut self.0[i].1
    }

    /// Makes room for exactly `shards` rings in a history without any yet.
    pub fn reserve_for(&mut self, shards: usize) {
        if self.0.is_empty() {
            self.0.reserve_exact(shards);
        }
    }

    /// The shard ids, ascending.
    pub fn keys(&self) -> impl Iterator<Item = i64> + '_ {
        self.0.iter().map(|(id, _)| *id)
    }

    /// The rings, by ascending shard id.
    pub fn values(&self) -> impl Iterator<Item = &LagRing> + '_ {
        self.0.iter().map(|(_, r)| r)
    }

    /// The number of shards.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True without shards.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The history of one follower index.
#[derive(Debug, Clone, Default)]
pub struct FollowerLagHistory {
    /// The source of the newest samples.
    pub source: LagSource,
    /// By shard id.
    pub shards: ShardRings,
    /// The oldest renewal (`timestamp`, leader epoch millis) among the follower's CCR retention leases on the
    /// leader's shards, as last seen. Kept when the leases vanish from the leader's stats: Elasticsearch drops
    /// an expired lease, and that is exactly when the margin matters.
    pub lease_timestamp_ms: Option<i64>,
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
            || (has(Endpoint::IndexStats) && self.shard_stats_at.is_some())
            || (has(Endpoint::IndexSettings) && self.lease_periods.is_some())
            || (has(Endpoint::Recovery) && !self.restores.is_empty())
            || (has(Endpoint::DataStreams) && self.data_streams.is_some())
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

    /// Remembers the followers seen following; forgets the ones `_ccr/info` no longer lists (unfollowed).
    fn note_following(&mut self) {
        if let Some(info) = &self.follow_info {
            let listed: BTreeSet<&str> = info
                .data
                .follower_indices
                .iter()
                .map(|f| f.follower_index.as_str())
                .collect();
            self.following_seen.retain(|i| listed.contains(i.as_str()));
            self.copy_seen.retain(|i| listed.contains(i.as_str()));
            for f in &info.data.follower_indices {
                if f.status == FollowerStatus::Active {
                    note(&mut self.following_seen, &f.follower_index);
                }
            }
        }
        for (index, b) in &self.restores {
            if !b.done() {
                note(&mut self.copy_seen, index);
            }
        }
        if let Some(stats) = &self.ccr_stats {
            for i in &stats.data.follow_stats.indices {
                if !i.shards.is_empty() {
                    note(&mut self.following_seen, &i.index);
                }
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
/// Counts are only *compared* (`comparable`) when the follower has provably caught up: the `GET /_ccr/stats` of
/// the latest poll before the count and of the first poll that started after it bracket the count, and a follower
/// is comparable only when, in the read after, every shard has `follower_global_checkpoint >=
/// leader_global_checkpoint`, the leader has no operation above its global checkpoint (`leader_max_seq_no ==
/// leader_global_checkpoint`), no shard has a pending read exception and the follower cluster's remote
/// connection is up (the leader checkpoints in follower stats are only refreshed by successful reads, so after an
/// outage they can be stale), and every shard's leader and follower checkpoints are the same in both reads. Any difference then is real drift, not operations in flight. While writes keep flowing the
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
    /// Leader minus follower, when both counts are known; saturating, so hostile counts cannot wrap.
    pub fn difference(&self) -> Option<i64> {
        Some(self.leader_docs?.saturating_sub(self.follower_docs?))
    }
}

/// One shard task's sequence numbers in one `GET /_ccr/stats` read: what must not move around a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checkpoints {
    shard_id: i64,
    leader_global_checkpoint: i64,
    leader_max_seq_no: i64,
    follower_global_checkpoint: i64,
}

impl Checkpoints {
    fn of(stats: &FollowerIndexStats) -> Vec<Checkpoints> {
        stats.shards.iter().map(Self::of_shard).collect()
    }

    fn of_shard(sh: &ShardFollowStats) -> Checkpoints {
        Checkpoints {
            shard_id: sh.shard_id,
            leader_global_checkpoint: sh.leader_global_checkpoint,
            leader_max_seq_no: sh.leader_max_seq_no,
            follower_global_checkpoint: sh.follower_global_checkpoint,
        }
    }

    fn look(&self) -> ShardLook {
        ShardLook {
            shard_id: self.shard_id,
            leader_global_checkpoint: self.leader_global_checkpoint,
            leader_max_seq_no: Some(self.leader_max_seq_no),
            follower_global_checkpoint: self.follower_global_checkpoint,
            ..Default::default()
        }
    }
}

/// The first bracket of a `doc_counts` run ([`Snapshot::counts_before`]): by follower cluster, the shard
/// checkpoints of every follower index in the latest good `GET /_ccr/stats`.
#[derive(Debug, Clone, Default)]
pub struct CountsBefore(BTreeMap<String, CheckpointsByIndex>);

/// The shard checkpoints of one follower cluster's follower indices, sorted by index, each index once.
type CheckpointsByIndex = Vec<(SharedName, Vec<Checkpoints>)>;

/// The `doc_counts` runs applied when a poll started ([`Snapshot::poll_mark`]): all of them finished before
/// any read of that poll was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollMark(u64);

/// How many `doc_counts` runs of one follower cluster wait for a poll at most. A poll settles the newest run
/// applied before it started; runs applied since (a `doc_counts` on the poll's schedule answers first) wait for
/// the next poll. Older ones are dropped.
const PENDING_COUNTS: usize = 4;

/// A `doc_counts` run of one follower cluster waiting for its second bracket.
#[derive(Debug, Clone)]
struct PendingCounts {
    /// The run's number (`Snapshot::doc_count_runs` once it was applied).
    run: u64,
    at: DateTime<Utc>,
    /// This run's counts of every follower index known when it was applied, by follower index name.
    counts: Vec<(SharedName, Counted)>,
    /// The first bracket; `None` when no poll had read the cluster's stats before the run.
    before: Option<CheckpointsByIndex>,
}

/// One follower index's counts in one `doc_counts` run (`None`: not listed in this run's `_cat/indices`).
#[derive(Debug, Clone)]
struct Counted {
    remote: SharedName,
    /// The alias maps to a configured leader cluster.
    leader_known: bool,
    leader_docs: Option<i64>,
    follower_docs: Option<i64>,
}

impl Snapshot {
    /// Records one cluster's poll. Failed endpoints keep their previous data and record the error.
    pub fn apply_poll(&mut self, r: PollResult) {
        let cs = self.clusters.entry(r.cluster).or_default();
        match r.recovery {
            // Not read: every follower has shard tasks, so none is copying.
            None => {
                cs.errors.remove(&Endpoint::Recovery);
                cs.restores.clear();
            }
            Some(read) => {
                if let Some(o) = cs.record(Endpoint::Recovery, r.at, read) {
                    let mut now = restores(&o.data, o.at, &cs.restores);
                    // A follower with shard tasks is past its copy (`_recovery` keeps listing a finished
                    // restore until the shards move): shown the same whether or not the read was needed.
                    if let Ok(stats) = &r.ccr_stats {
                        let tasks = with_shard_tasks(stats);
                        now.retain(|index, _| !tasks.contains(index.as_str()));
                    }
                    cs.restores = now;
                }
            }
        }
        if let Some(o) = cs.record(Endpoint::CcrStats, r.at, r.ccr_stats) {
            cs.ccr_stats = Some(o);
        }
        if let Some(o) = cs.record(Endpoint::FollowInfo, r.at, r.follow_info) {
            cs.follow_info = Some(o);
        }
        if let Some(o) = cs.record(Endpoint::RemoteInfo, r.at, r.remote_info) {
            cs.remote_info = Some(o);
        }
        if let Some(h) = r.heartbeats {
            if let Some(o) = cs.record(Endpoint::Search, r.at, h.map(|h| h.by_index())) {
                cs.heartbeats = Some(o);
            }
        }
        cs.note_following();
        cs.finish(r.at);
    }

    /// Records one leader cluster's shard stats read.
    pub fn apply_leader_stats(&mut self, r: LeaderStatsResult) {
        let cs = self.clusters.entry(r.cluster).or_default();
        // Only the primary of each shard and only CCR's leases were decoded ([`ShardStatsResponse`]).
        if let Some(o) = cs.record(Endpoint::IndexStats, r.at, r.shard_stats) {
            cs.shard_stats_at = Some(o.at);
            cs.shard_stats_leases = r.leases;
            if r.leases {
                cs.leases_read = Some(Observed {
                    at: o.at,
                    data: r.indices.clone(),
                });
            }
            cs.shard_stats = Some(o);
        }
        if let Some(periods) = r.lease_periods {
            let indices = r.indices;
            let read = periods.map(|p| LeasePeriods {
                indices,
                by_index: p.by_index(),
            });
            if let Some(o) = cs.record(Endpoint::IndexSettings, r.at, read) {
                cs.lease_periods = Some(o);
            }
        }
        cs.finish(r.at);
    }

    /// Records one cluster's data streams read.
    pub fn apply_data_streams(&mut self, r: DataStreamsResult) {
        let cs = self.clusters.entry(r.cluster).or_default();
        cs.version = Some(r.version);
        if let Some(o) = cs.record(Endpoint::DataStreams, r.at, r.data_streams) {
            cs.data_streams = Some(o);
        }
        cs.finish(r.at);
    }

    /// The reads about retention leases due at the next poll of the leader clusters of `targets` (cluster ->
    /// index expression, [`super::Observer::leader_targets`]). The retention-lease periods: never read
    /// successfully, read for another index list, or read [`LEASE_PERIOD_REFRESH`] ago or more. The leases, with
    /// the shard stats: the same, every [`LEASE_REFRESH`], or every twentieth of the cluster's shortest period read
    /// when that is shorter. A failed read keeps the older values and is tried again at the next poll.
    pub fn lease_periods_due(
        &self,
        targets: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> LeaseReadsDue {
        let every =
            |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let mut due = LeaseReadsDue::default();
        for (cluster, expr) in targets {
            let cs = self.clusters.get(cluster.as_str());
            let stale = |endpoint: Endpoint, read: Option<(DateTime<Utc>, &str)>, every| {
                let failed = cs.is_some_and(|cs| cs.errors.contains_key(&endpoint));
                read.map_or(true, |(at, indices)| {
                    failed || indices != expr || now - at >= every
                })
            };
            let periods = cs.and_then(|cs| cs.lease_periods.as_ref());
            let read = periods.map(|o| (o.at, o.data.indices.as_str()));
            if stale(Endpoint::IndexSettings, read, every(LEASE_PERIOD_REFRESH)) {
                due.periods.insert(cluster.clone());
            }
            // A twentieth of the shortest period, in milliseconds (`i64` milliseconds fit any `Duration`).
            let shortest = periods.and_then(|p| p.data.by_index.values().min().copied());
            let cadence = shortest.map_or(every(LEASE_REFRESH), |ms| {
                every(LEASE_REFRESH).min(chrono::Duration::milliseconds(ms / 20))
            });
            let read = cs
                .and_then(|cs| cs.leases_read.as_ref())
                .map(|o| (o.at, o.data.as_str()));
            if stale(Endpoint::IndexStats, read, cadence) {
                due.leases.insert(cluster.clone());
            }
        }
        due
    }

    /// The retention-lease period of `leader_index` on `leader_cluster` in milliseconds, when it was read.
    pub fn lease_period_ms(&self, leader_cluster: &str, leader_index: &str) -> Option<i64> {
        self.clusters
            .get(leader_cluster)?
            .lease_periods
            .as_ref()?
            .data
            .by_index
            .get(leader_index)
            .copied()
    }

    /// Appends this poll's sample to the history of every follower shard of the follower clusters polled at
    /// `at`, and drops the history of followers no longer reported. The leader's own shard stats are used when
    /// they were read in the same poll; otherwise the follower's view of the leader. A follower without shard
    /// tasks (paused) keeps its last follower checkpoint while the leader's own view moves on, so its lag in
    /// time keeps growing.
    pub fn record_lag(&mut self, cfg: &Config, at: DateTime<Utc>) {
        let at_ms = at.timestamp_millis();
        let polled: Vec<String> = self
            .clusters
            .iter()
            .filter(|(_, cs)| cs.ccr_stats.as_ref().is_some_and(|s| s.at == at))
            .map(|(c, _)| c.clone())
            .collect();
        for cluster in polled {
            // The history is taken out while the rest of the snapshot (the leaders' stats) is read, and is
            // updated in place: no key is copied for a follower that already has one.
            let Some(mut lag) = self
                .clusters
                .get_mut(&cluster)
                .map(|cs| std::mem::take(&mut cs.lag))
            else {
                continue;
            };
            if let Some(cs) = self.clusters.get(&cluster) {
                self.record_cluster_lag(cfg, &cluster, cs, &mut lag, at, at_ms);
            }
            if let Some(cs) = self.clusters.get_mut(&cluster) {
                cs.lag = lag;
            }
        }
        for cs in self.clusters.values_mut() {
            if cs.lag.is_empty() {
                continue;
            }
            let (Some(stats), info) = (&cs.ccr_stats, &cs.follow_info) else {
                continue;
            };
            let known: std::collections::BTreeSet<&str> = stats
                .data
                .follow_stats
                .indices
                .iter()
                .map(|i| i.index.as_str())
                .chain(info.iter().flat_map(|i| {
                    i.data
                        .follower_indices
                        .iter()
                        .map(|f| f.follower_index.as_str())
                }))
                .collect();
            let restoring: BTreeSet<&str> = cs
                .restores
                .iter()
                .filter(|(_, b)| !b.done())
                .map(|(i, _)| i.as_str())
                .collect();
            // A follower copying again (recreated under the same name) starts a new history: the old one says
            // nothing about the new copy, and mixing them reads as a rewind.
            cs.lag.retain(|index, _| {
                known.contains(index.as_str()) && !restoring.contains(index.as_str())
            });
        }
        // Only the poll that read them uses the leaders' shard stats, and their leases are folded in now.
        for cs in self.clusters.values_mut() {
            cs.shard_stats = None;
        }
    }

    /// [`Snapshot::record_lag`] for one follower cluster `cs` polled at `at`, into its history `lag`.
    fn record_cluster_lag(
        &self,
        cfg: &Config,
        cluster: &str,
        cs: &ClusterState,
        lag: &mut BTreeMap<String, FollowerLagHistory>,
        at: DateTime<Utc>,
        at_ms: i64,
    ) {
        let Some(stats) = cs.ccr_stats.as_ref().filter(|s| s.at == at) else {
            return;
        };
        // The leader's stats of this poll, and whether they hold the retention leases.
        let leader_stats = |remote: &str| -> Option<(&ShardStatsResponse, bool)> {
            let l = self.clusters.get(cfg.leader_cluster(cluster, remote)?)?;
            l.shard_stats
                .as_ref()
                .filter(|s| s.at == at)
                .map(|s| (&s.data, l.shard_stats_leases))
        };
        // The primaries of one leader index, by ascending shard id: borrowed, nothing is collected per follower.
        let leader_view = |remote: &str, leader_index: &str| {
            leader_stats(remote).map_or(&[][..], |(l, _)| l.shards_of(leader_index))
        };
        for i in &stats.data.follow_stats.indices {
            if i.shards.is_empty() {
                continue;
            }
            // Shards of one follower index share their history and their leader index: both are looked up
            // once per follower, not once per shard.
            let Some(h) = history_mut(lag, &i.index) else {
                continue;
            };
            // Room for exactly this follower's shards: grown one by one, the rings would take room for 8 of 5.
            h.shards.reserve_for(i.shards.len());
            let mut view: Option<((&str, &str), LeaderView)> = None;
            for sh in &i.shards {
                let key = (sh.remote_cluster.as_str(), sh.leader_index.as_str());
                if view.as_ref().map_or(true, |(k, _)| *k != key) {
                    view = Some((key, leader_view(key.0, key.1)));
                }
                let v = view.as_ref().map_or(&[][..], |(_, v)| *v);
                let (source, leader) = match leader_checkpoint(v, sh.shard_id) {
                    Some(l) => (LagSource::LeaderShardStats, l),
                    None => (LagSource::FollowerCcrStats, sh.leader_global_checkpoint),
                };
                let follower = Some(sh.follower_global_checkpoint);
                push_sample(h, source, (sh.shard_id, at_ms), leader, follower);
            }
        }
        let Some(info) = &cs.follow_info else {
            return;
        };
        // Followers without shard tasks: only the leader's own view says anything new.
        let with_tasks: BTreeSet<&str> = stats
            .data
            .follow_stats
            .indices
            .iter()
            .map(|i| i.index.as_str())
            .collect();
        for f in &info.data.follower_indices {
            if with_tasks.contains(f.follower_index.as_str()) || copying(cs, &f.follower_index) {
                continue;
            }
            let Some(h) = lag.get_mut(&f.follower_index) else {
                continue;
            };
            let view = leader_view(&f.remote_cluster, &f.leader_index);
            let shards: Vec<i64> = h.shards.keys().collect();
            for shard in shards {
                if let Some(l) = leader_checkpoint(view, shard) {
                    let source = LagSource::LeaderShardStats;
                    push_sample(h, source, (shard, at_ms), l, None);
                }
            }
        }
        // The leases, on the polls that read them ([`LEASE_REFRESH`]); in between each history keeps the last.
        for f in &info.data.follower_indices {
            let Some((ls, true)) = leader_stats(&f.remote_cluster) else {
                continue;
            };
            let Some(h) = lag.get_mut(&f.follower_index) else {
                continue;
            };
            let oldest = ls
                .primaries(&f.leader_index)
                .filter_map(|(_, c)| c.retention_leases.as_ref())
                .flat_map(|r| r.leases.iter())
                .filter(|l| {
                    l.is_ccr_lease_of(&f.follower_index, &f.remote_cluster, &f.leader_index)
                })
                .map(|l| l.timestamp)
                .min();
            if let Some(ts) = oldest {
                h.lease_timestamp_ms = Some(ts);
            }
        }
    }

    /// The first bracket of a `doc_counts` run about to send its reads: the shard checkpoints of every follower
    /// cluster's latest good `GET /_ccr/stats`. Every read it holds had finished before the run's reads start.
    pub fn counts_before(&self) -> CountsBefore {
        CountsBefore(
            self.clusters
                .iter()
                .filter_map(|(name, cs)| {
                    let stats = &cs.ccr_stats.as_ref()?.data.follow_stats.indices;
                    // Of an index listed twice, the last entry counts (as a map built from the list keeps).
                    let mut by_index: CheckpointsByIndex = stats
                        .iter()
                        .rev()
                        .map(|i| (i.index.clone(), Checkpoints::of(i)))
                        .collect();
                    by_index.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
                    by_index.dedup_by(|later, first| later.0.as_str() == first.0.as_str());
                    Some((name.clone(), by_index))
                })
                .collect(),
        )
    }

    /// Taken when a poll starts, before its reads are sent, and given to [`Snapshot::apply_polled`] with its
    /// answers.
    pub fn poll_mark(&self) -> PollMark {
        PollMark(self.doc_count_runs)
    }

    /// [`Snapshot::apply_poll`] of a poll that took `mark` when it started; when its `_ccr/stats` read
    /// succeeded, it is the second bracket of the `doc_counts` run waiting on that cluster, if that run was
    /// applied before the poll started ([`Snapshot::apply_doc_counts`]).
    pub fn apply_polled(&mut self, r: PollResult, mark: PollMark) {
        let stats_read = r.ccr_stats.is_ok().then(|| r.cluster.clone());
        self.apply_poll(r);
        if let Some(cluster) = stats_read {
            self.settle_doc_counts(&cluster, mark);
        }
    }

    /// Records a `doc_counts` run: its document counts, and, for every follower cluster, the run as waiting for
    /// its second bracket. `before` is [`Snapshot::counts_before`], taken before the run's reads were sent.
    ///
    /// Counts are compared only when they cannot have been taken mid-replication: the follower must have caught
    /// up with a quiet leader (see [`crate::observe::caught_up`]) in the `_ccr/stats` of a poll that started
    /// after the counts were read, and those checkpoints (the leader's and the follower's of every shard) must
    /// equal the ones of the latest poll before them. Checkpoints only grow, so equal checkpoints mean nothing
    /// was written on either side in between, the counts included. Until that poll
    /// ([`Snapshot::apply_polled`]) the previous verdict stays.
    pub fn apply_doc_counts(&mut self, cfg: &Config, before: CountsBefore, r: DocCountResult) {
        let mut listed = BTreeSet::new();
        for (cluster, res) in r.indices {
            let cs = self.clusters.entry(cluster.clone()).or_default();
            let res = res.map(|rows| rows.into_iter().map(|i| (i.index, i.docs_count)).collect());
            if let Some(o) = cs.record(Endpoint::CatIndices, r.at, res) {
                cs.indices = Some(o);
                listed.insert(cluster);
            }
            cs.finish(r.at);
        }
        self.doc_count_runs += 1;
        let mut before = before.0;
        for cluster in cfg.follower_clusters() {
            let pending = PendingCounts {
                run: self.doc_count_runs,
                at: r.at,
                counts: self.counted(cfg, &cluster, &listed),
                before: before.remove(&cluster),
            };
            let waiting = &mut self.clusters.entry(cluster).or_default().counts_pending;
            waiting.push_back(pending);
            while waiting.len() > PENDING_COUNTS {
                waiting.pop_front();
            }
        }
    }

    /// Settles the newest `doc_counts` run of follower cluster `cluster` that was applied before the poll that
    /// took `mark` when it started, that poll having just read the cluster's `_ccr/stats` successfully: that
    /// read is the run's second bracket. Older runs are dropped; newer ones wait for the next poll.
    fn settle_doc_counts(&mut self, cluster: &str, mark: PollMark) {
        let Some(cs) = self.clusters.get(cluster) else {
            return;
        };
        let Some(pending) = cs.counts_pending.iter().rev().find(|p| p.run <= mark.0) else {
            return;
        };
        let run = pending.run;
        let parity = self.parity(cluster, pending);
        if let Some(cs) = self.clusters.get_mut(cluster) {
            cs.doc_parity = parity;
            cs.counts_pending.retain(|p| p.run > run);
        }
    }

    /// The counts of every follower of `cluster` known now (from `_ccr/info`, `_ccr/stats` and the
    /// configuration) in the listings of the clusters in `listed`.
    fn counted(
        &self,
        cfg: &Config,
        cluster: &str,
        listed: &BTreeSet<String>,
    ) -> Vec<(SharedName, Counted)> {
        let Some(cs) = self.clusters.get(cluster) else {
            return Vec::new();
        };
        // Every follower known from info or stats (paused ones have no stats) or configured, with where its
        // remote and leader index come from: `_ccr/info` first (of an index listed twice, the last entry), then
        // the stats' first shard (the first entry), then the configuration (the first entry). Names are copied
        // once, below, or shared with the stats' when they are the same.
        struct Known<'a> {
            index: &'a str,
            /// 0: `_ccr/info`, 1: `_ccr/stats`, 2: the configuration.
            source: u8,
            remote: &'a str,
            leader_index: &'a str,
            /// The stats' names, from an entry of the stats.
            shared: Option<(&'a SharedName, &'a SharedName)>,
        }
        let mut known: Vec<Known> = Vec::new();
        if let Some(info) = &cs.follow_info {
            known.extend(info.data.follower_indices.iter().rev().map(|f| Known {
                index: &f.follower_index,
                source: 0,
                remote: &f.remote_cluster,
                leader_index: &f.leader_index,
                shared: None,
            }));
        }
        if let Some(stats) = &cs.ccr_stats {
            known.extend(stats.data.follow_stats.indices.iter().filter_map(|i| {
                let s = i.shards.first()?;
                Some(Known {
                    index: &i.index,
                    source: 1,
                    remote: &s.remote_cluster,
                    leader_index: &s.leader_index,
                    shared: Some((&i.index, &s.remote_cluster)),
                })
            }));
        }
        known.extend(
            cfg.followers
                .iter()
                .filter(|f| f.cluster == cluster)
                .map(|f| Known {
                    index: &f.follower_index,
                    source: 2,
                    remote: &f.remote,
                    leader_index: &f.leader_index,
                    shared: None,
                }),
        );
        // Stable: entries of one index and source keep their order above.
        known.sort_by(|a, b| (a.index, a.source).cmp(&(b.index, b.source)));
        let listing = |c: &str| {
            listed
                .contains(c)
                .then(|| self.clusters.get(c)?.indices.as_ref())
                .flatten()
                .map(|i| Seek::new(&i.data))
        };
        let mut follower_listing = listing(cluster);
        let mut leader_listings: Vec<(&str, Option<MapSeek<Option<i64>>>)> = Vec::new();
        let mut out = Vec::new();
        let mut rest = known.as_slice();
        while let Some(first) = rest.first() {
            let same = rest.iter().take_while(|k| k.index == first.index).count();
            let (group, later) = rest.split_at(same);
            rest = later;
            let (index, remote, leader_index) = (first.index, first.remote, first.leader_index);
            let shared = group.iter().find_map(|k| k.shared);
            let leader_cluster = cfg.leader_cluster(cluster, remote);
            let leader_docs = leader_cluster.and_then(|l| {
                let at = match leader_listings.iter().position(|(name, _)| *name == l) {
                    Some(at) => at,
                    None => {
                        leader_listings.push((l, listing(l)));
                        leader_listings.len() - 1
                    }
                };
                leader_listings[at]
                    .1
                    .as_mut()?
                    .get(leader_index)
                    .copied()
                    .flatten()
            });
            let counted = Counted {
                leader_known: leader_cluster.is_some(),
                leader_docs,
                follower_docs: follower_listing
                    .as_mut()
                    .and_then(|l| l.get(index).copied().flatten()),
                remote: match shared {
                    Some((_, r)) if r.as_str() == remote => r.clone(),
                    _ => remote.into(),
                },
            };
            let name = match shared {
                Some((i, _)) => i.clone(),
                None => index.into(),
            };
            out.push((name, counted));
        }
        out
    }

    /// The parity of every follower counted in `pending`, its second bracket being `cluster`'s latest stats.
    fn parity(&self, cluster: &str, pending: &PendingCounts) -> BTreeMap<String, DocParity> {
        let Some(cs) = self.clusters.get(cluster) else {
            return BTreeMap::new();
        };
        let Some(after) = cs.ccr_stats.as_ref().map(|s| &s.data) else {
            return BTreeMap::new();
        };
        let remote_connected = |alias: &str| {
            cs.remote_info
                .as_ref()
                .and_then(|r| r.data.get(alias))
                .is_some_and(|r| r.connected)
        };
        // Looked up once per follower, in the counts' order (by index): sorted here (of an index listed twice,
        // the first entry), so the run stays linear in the followers.
        let mut after_by_index: Vec<(&str, &FollowerIndexStats)> = after
            .follow_stats
            .indices
            .iter()
            .map(|i| (i.index.as_str(), i))
            .collect();
        after_by_index.sort_by_key(|(index, _)| *index);
        after_by_index.dedup_by(|later, first| later.0 == first.0);
        let mut status: Vec<(&str, FollowerStatus)> = cs
            .follow_info
            .iter()
            .flat_map(|info| &info.data.follower_indices)
            .map(|f| (f.follower_index.as_str(), f.status))
            .collect();
        status.sort_by_key(|(index, _)| *index);
        status.dedup_by(|later, first| later.0 == first.0);
        let mut after_by_index = Seek::new(after_by_index.as_slice());
        let mut status = Seek::new(status.as_slice());
        let mut before = pending.before.as_deref().map(Seek::new);
        pending
            .counts
            .iter()
            .map(|(index, c)| {
                let remote = c.remote.as_str();
                let not_compared_because = if !c.leader_known {
                    Some(format!("no [[remotes]] entry maps alias `{remote}` on `{cluster}` to a configured cluster"))
                } else if c.leader_docs.is_none() || c.follower_docs.is_none() {
                    Some("a document count is unavailable".to_string())
                } else {
                    let stats = Brackets {
                        before: before
                            .as_mut()
                            .and_then(|b| b.find(index))
                            .map(|(_, b)| b.as_slice()),
                        after: after_by_index.find(index).map(|(_, a)| *a),
                    };
                    let status = status.find(index).map(|(_, s)| *s);
                    caught_up(stats, status, remote, remote_connected(remote)).err()
                };
                let p = DocParity {
                    at: pending.at,
                    leader_docs: c.leader_docs,
                    follower_docs: c.follower_docs,
                    comparable: not_compared_because.is_none(),
                    not_compared_because,
                };
                (index.to_string(), p)
            })
            .collect()
    }
}

/// Whether the shards of `after` have the checkpoints `before`, in shard order.
fn same_checkpoints(after: &FollowerIndexStats, before: &[Checkpoints]) -> bool {
    let now = after.shards.iter().map(Checkpoints::of_shard);
    // Both lists come in shard order from Elasticsearch: compared as they are, without a sorted copy.
    let in_order = before.windows(2).all(|w| w[0].shard_id <= w[1].shard_id)
        && after
            .shards
            .windows(2)
            .all(|w| w[0].shard_id <= w[1].shard_id);
    if in_order {
        return before.len() == after.shards.len() && now.eq(before.iter().copied());
    }
    let sorted = |mut v: Vec<Checkpoints>| {
        v.sort_by_key(|c| c.shard_id);
        v
    };
    sorted(now.collect()) == sorted(before.to_vec())
}

/// The primaries of one leader index in the leader's own shard stats, by ascending shard id.
type LeaderView<'a> = &'a [(i64, ShardCopyStats)];

/// The leader's global checkpoint of shard `shard` in `view` (`None`: not there, or without `seq_no`).
fn leader_checkpoint(view: LeaderView, shard: i64) -> Option<i64> {
    let i = view.binary_search_by_key(&shard, |(id, _)| *id).ok()?;
    view[i].1.seq_no.map(|n| n.global_checkpoint)
}

/// The history of `index` in `lag`, a new one when it had none (the name is copied only then). Always `Some`.
fn history_mut<'a>(
    lag: &'a mut BTreeMap<String, FollowerLagHistory>,
    index: &str,
) -> Option<&'a mut FollowerLagHistory> {
    if lag.contains_key(index) {
        lag.get_mut(index)
    } else {
        Some(lag.entry(index.to_string()).or_default())
    }
}

/// Appends one poll's sample `(shard, at_ms)` to the follower history `h`. Without a follower checkpoint (no
/// shard task), the last one is kept; a shard never seen with one gets no sample.
fn push_sample(
    h: &mut FollowerLagHistory,
    source: LagSource,
    (shard, at_ms): (i64, i64),
    leader_checkpoint: i64,
    follower: Option<i64>,
) {
    h.source = source;
    let ring = h.shards.ring_mut(shard);
    let Some(follower_checkpoint) = follower.or_else(|| ring.last().map(|s| s.follower_checkpoint))
    else {
        return;
    };
    ring.push(LagSample {
        at_ms,
        leader_checkpoint,
        follower_checkpoint,
    });
}

/// Adds `index` to `seen`, copying the name only when it is new (every poll notes every follower again).
fn note(seen: &mut BTreeSet<String>, index: &str) {
    if !seen.contains(index) {
        seen.insert(index.to_string());
    }
}

/// True while `index`'s initial copy runs: it has no shard tasks, and no lag to measure, by design.
fn copying(cs: &ClusterState, index: &str) -> bool {
    cs.restores.get(index).is_some_and(|b| !b.done())
}

/// One follower index's entries in the two `_ccr/stats` reads around a count: the latest poll before it and a
/// poll after it (`None`: not listed, no shard tasks).
#[derive(Debug, Clone, Copy)]
struct Brackets<'a> {
    before: Option<&'a [Checkpoints]>,
    after: Option<&'a FollowerIndexStats>,
}

/// `Ok` when a follower had caught up with a quiet leader and nothing moved between the two reads around the
/// count (see [`Snapshot::apply_doc_counts`]), otherwise why the counts are not compared. `status` is its
/// status in `_ccr/info`.
fn caught_up(
    stats: Brackets,
    status: Option<FollowerStatus>,
    remote: &str,
    remote_connected: bool,
) -> Result<(), String> {
    // Both reads must show running shard tasks; the status in `_ccr/info` says why they do not.
    let (shards, earlier) = match (stats.before, stats.after) {
        (Some(b), Some(a)) => (
            Some(ShardLook::from_stats(a)),
            Some(b.iter().map(Checkpoints::look).collect::<Vec<_>>()),
        ),
        _ => (None, None),
    };
    let status = status.or(shards.is_some().then_some(FollowerStatus::Active));
    crate::observe::caught_up::caught_up(&CaughtUp {
        status,
        remote_cluster: remote,
        remote_connected,
        shards: shards.as_deref(),
        reported_lag: None,
        earlier: earlier.as_deref(),
        docs: Docs::Ignored,
    })
    .map_err(|e| e.to_string())?;
    // The leader did not move and the follower is caught up now; a follower that was still catching up in
    // the read before may have been counted halfway.
    if let (Some(b), Some(a)) = (stats.before, stats.after) {
        if !same_checkpoints(a, b) {
            return Err("the follower was still replicating around the count (its checkpoints moved between \
                        the polls before and after it)"
                .to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_compare_in_shard_order_however_each_read_lists_the_shards() {
        let stats = |shards: &[(i64, i64)]| -> FollowerIndexStats {
            let shards: Vec<String> = shards
                .iter()
                .map(|(id, cp)| {
                    format!(
                        r#"{{"remote_cluster":"leader","leader_index":"l","follower_index":"f","shard_id":{id},"leader_global_checkpoint":{cp},"leader_max_seq_no":{cp},"follower_global_checkpoint":{cp},"follower_max_seq_no":{cp},"last_requested_seq_no":{cp},"outstanding_read_requests":0,"outstanding_write_requests":0,"write_buffer_operation_count":0,"follower_mapping_version":1,"follower_settings_version":1,"total_read_time_millis":0,"total_read_remote_exec_time_millis":0,"successful_read_requests":0,"failed_read_requests":0,"operations_read":0,"bytes_read":0,"total_write_time_millis":0,"write_buffer_size_in_bytes":0,"successful_write_requests":0,"failed_write_requests":0,"operations_written":0,"read_exceptions":[],"time_since_last_read_millis":0}}"#
                    )
                })
                .collect();
            serde_json::from_str(&format!(
                r#"{{"index":"f","shards":[{}]}}"#,
                shards.join(",")
            ))
            .unwrap()
        };
        // (case, the read after, the read before, the same checkpoints)
        type Shards<'a> = &'a [(i64, i64)];
        let cases: &[(&str, Shards, Shards, bool)] = &[
            ("same, in order", &[(0, 5), (1, 7)], &[(0, 5), (1, 7)], true),
            (
                "same, after out of order",
                &[(1, 7), (0, 5)],
                &[(0, 5), (1, 7)],
                true,
            ),
            (
                "same, before out of order",
                &[(0, 5), (1, 7)],
                &[(1, 7), (0, 5)],
                true,
            ),
            ("moved", &[(0, 5), (1, 8)], &[(0, 5), (1, 7)], false),
            (
                "moved, out of order",
                &[(1, 8), (0, 5)],
                &[(0, 5), (1, 7)],
                false,
            ),
            (
                "a shard more",
                &[(0, 5), (1, 7), (2, 1)],
                &[(0, 5), (1, 7)],
                false,
            ),
            ("a shard less", &[(0, 5)], &[(0, 5), (1, 7)], false),
        ];
        for (case, after, before, same) in cases {
            let before = Checkpoints::of(&stats(before));
            assert_eq!(same_checkpoints(&stats(after), &before), *same, "{case}");
        }
    }
    use crate::evaluate::health::FollowerState;
    use crate::evaluate::report::Report;
    use crate::testing::{
        count_then_poll, find, fixture, fixture_config, poll_with_stats, polled_6_8, stats_with,
    };

    #[test]
    fn a_failed_poll_keeps_the_last_good_data_and_marks_it_stale() {
        let cfg = fixture_config();
        let mut snap = polled_6_8();
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
            recovery: Some(Ok(Default::default())),
            heartbeats: None,
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
        let sh = orders.observation.shards.as_ref().unwrap();
        assert_eq!(sh.global_checkpoint_lag, 9);
        let c = r.clusters.iter().find(|c| c.name == "follower").unwrap();
        assert!(!c.up && c.stale);
        assert_eq!(c.errors.len(), 2);
    }

    #[test]
    fn lease_periods_are_read_first_then_when_stale_failed_or_for_other_indices() {
        let t0 = Utc::now();
        let targets = BTreeMap::from([("leader".to_string(), "logs".to_string())]);
        let mut snap = Snapshot::default();
        let due = |snap: &Snapshot, t: &BTreeMap<String, String>, at| {
            snap.lease_periods_due(t, at).periods
        };
        assert_eq!(due(&snap, &targets, t0).len(), 1, "never read");
        let read = |at, periods: Result<LeasePeriodsResponse, EsError>| LeaderStatsResult {
            cluster: "leader".into(),
            at,
            shard_stats: Ok(Default::default()),
            leases: true,
            lease_periods: Some(periods),
            indices: "logs".into(),
        };
        let one_hour: LeasePeriodsResponse = serde_json::from_str(
            r#"{"logs":{"settings":{"index.soft_deletes.retention_lease.period":"1h"},"defaults":{}}}"#,
        )
        .unwrap();
        snap.apply_leader_stats(read(t0, Ok(one_hour)));
        assert_eq!(snap.lease_period_ms("leader", "logs"), Some(3_600_000));
        assert_eq!(snap.lease_period_ms("leader", "other"), None);
        let minute = chrono::Duration::seconds(60);
        assert!(due(&snap, &targets, t0 + minute).is_empty(), "fresh");
        let refresh = chrono::Duration::from_std(LEASE_PERIOD_REFRESH).unwrap();
        assert_eq!(due(&snap, &targets, t0 + refresh).len(), 1, "stale");
        let more = BTreeMap::from([("leader".to_string(), "logs,orders".to_string())]);
        assert_eq!(
            due(&snap, &more, t0 + minute).len(),
            1,
            "another index list"
        );
        // A failed read keeps the values, marks the cluster down and is tried again at the next poll.
        let failed = EsError::Decode {
            cluster: "leader".into(),
            endpoint: Endpoint::IndexSettings,
            message: "bad".into(),
        };
        snap.apply_leader_stats(read(t0 + minute, Err(failed)));
        assert_eq!(snap.lease_period_ms("leader", "logs"), Some(3_600_000));
        let cs = &snap.clusters["leader"];
        assert!(!cs.up() && cs.stale());
        assert_eq!(due(&snap, &targets, t0 + minute).len(), 1, "failed");
        assert!(due(&snap, &BTreeMap::new(), t0).is_empty());
    }

    #[test]
    fn leases_are_read_first_then_on_their_cadence_when_failed_or_for_other_indices() {
        let t0 = Utc::now();
        let targets = BTreeMap::from([("leader".to_string(), "logs".to_string())]);
        let mut snap = Snapshot::default();
        let due = |snap: &Snapshot, t: &BTreeMap<String, String>, at: DateTime<Utc>| {
            snap.lease_periods_due(t, at).leases.contains("leader")
        };
        assert!(due(&snap, &targets, t0), "never read");
        let read = |at,
                    leases,
                    stats: Result<ShardStatsResponse, EsError>,
                    period: Option<&str>| {
            LeaderStatsResult {
                cluster: "leader".into(),
                at,
                shard_stats: stats,
                leases,
                lease_periods: period.map(|p| {
                    Ok(serde_json::from_str(&format!(
                        r#"{{"logs":{{"settings":{{"index.soft_deletes.retention_lease.period":"{p}"}}}}}}"#
                    ))
                    .unwrap())
                }),
                indices: "logs".into(),
            }
        };
        let s = chrono::Duration::seconds;
        let refresh = chrono::Duration::from_std(LEASE_REFRESH).unwrap();
        snap.apply_leader_stats(read(t0, true, Ok(Default::default()), Some("12h")));
        assert!(!due(&snap, &targets, t0 + refresh - s(1)), "fresh");
        assert!(due(&snap, &targets, t0 + refresh), "a cadence old");
        // A read without the leases does not renew them.
        snap.apply_leader_stats(read(t0 + s(30), false, Ok(Default::default()), None));
        assert!(due(&snap, &targets, t0 + refresh));
        let more = BTreeMap::from([("leader".to_string(), "logs,orders".to_string())]);
        assert!(due(&snap, &more, t0 + s(1)), "another index list");
        // A failed read (with or without the leases) is tried again with them at the next poll.
        let failed = EsError::Decode {
            cluster: "leader".into(),
            endpoint: Endpoint::IndexStats,
            message: "bad".into(),
        };
        snap.apply_leader_stats(read(t0 + s(35), false, Err(failed), None));
        assert!(due(&snap, &targets, t0 + s(40)), "failed");
        snap.apply_leader_stats(read(t0 + s(40), true, Ok(Default::default()), None));
        assert!(!due(&snap, &targets, t0 + s(41)));
        // A short retention-lease period is read every twentieth of it: 10 minutes, every 30 s.
        snap.apply_leader_stats(read(t0 + s(45), true, Ok(Default::default()), Some("10m")));
        assert!(!due(&snap, &targets, t0 + s(74)));
        assert!(due(&snap, &targets, t0 + s(75)));
        assert!(!snap
            .lease_periods_due(&BTreeMap::new(), t0)
            .leases
            .contains("leader"));
    }

    #[test]
    fn the_lease_timestamp_is_kept_between_the_reads_of_the_leases() {
        let cfg = crate::testing::fixture_config();
        let mut snap = polled_6_8();
        let at = snap.clusters["follower"].ccr_stats.as_ref().unwrap().at;
        // The fixtures' `orders-copy` follows `orders`, with its CCR lease on shard 0.
        let body = crate::testing::LEADER_SHARDS_TWO_COPIES.replace("logs", "orders");
        let leader = |leases: bool, at| {
            let stats = match leases {
                true => serde_json::from_str::<ShardStatsResponse>(&body).unwrap(),
                false => serde_json::from_str::<ShardSeqNos>(&body).unwrap().0,
            };
            LeaderStatsResult {
                cluster: "leader".into(),
                at,
                shard_stats: Ok(stats),
                leases,
                lease_periods: None,
                indices: "logs".into(),
            }
        };
        let lease = |snap: &Snapshot| {
            snap.clusters["follower"]
                .lag
                .get("orders-copy")
                .and_then(|h| h.lease_timestamp_ms)
        };
        snap.apply_leader_stats(leader(false, at));
        snap.record_lag(&cfg, at);
        assert_eq!(lease(&snap), None, "not read yet");
        let h = &snap.clusters["follower"].lag["orders-copy"];
        let ring = h.shards.get(0).unwrap();
        assert_eq!(
            ring.last().unwrap().leader_checkpoint,
            9,
            "the leader's own"
        );
        snap.apply_leader_stats(leader(true, at));
        snap.record_lag(&cfg, at);
        assert_eq!(lease(&snap), Some(1_700_000_000_000));
        // The lease-less stats leave it as read.
        snap.apply_leader_stats(leader(false, at));
        snap.record_lag(&cfg, at);
        assert_eq!(lease(&snap), Some(1_700_000_000_000));
    }

    #[test]
    fn shard_rings_are_kept_in_shard_order() {
        let sample = LagSample {
            at_ms: 1,
            leader_checkpoint: 2,
            follower_checkpoint: 1,
        };
        let one = LagRing::from_samples([sample]);
        let mut rings = ShardRings::default();
        assert!(rings.is_empty());
        assert!(rings.insert(3, LagRing::default()).is_none());
        rings.ring_mut(1).push(sample);
        assert!(rings.insert(2, LagRing::default()).is_none());
        assert_eq!(rings.keys().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(rings.get(1), Some(&one));
        assert_eq!(rings.values().filter(|r| r.is_empty()).count(), 2);
        assert_eq!(rings.insert(1, LagRing::default()), Some(one));
        assert_eq!((rings.len(), rings.get(4)), (3, None));
    }

    #[test]
    fn leader_stats_keep_the_primary_and_the_ccr_leases() {
        let body = crate::testing::LEADER_SHARDS_TWO_COPIES;
        let mut snap = Snapshot::default();
        snap.apply_leader_stats(LeaderStatsResult {
            cluster: "leader".into(),
            at: Utc::now(),
            shard_stats: Ok(serde_json::from_str(body).unwrap()),
            leases: true,
            lease_periods: None,
            indices: "logs".into(),
        });
        let stats = &snap.clusters["leader"].shard_stats.as_ref().unwrap().data;
        let copies = &stats.indices["logs"].shards;
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].0, 0);
        assert_eq!(copies[0].1.seq_no.unwrap().global_checkpoint, 9);
        let leases = &copies[0].1.retention_leases.as_ref().unwrap().leases;
        assert_eq!(leases.len(), 1);
        assert!(leases[0].is_ccr_lease_of("logs-copy", "leader", "logs"));
        // Folded into the histories by the poll's `record_lag`, then dropped; the read time stays.
        let at = snap.clusters["leader"].shard_stats_at;
        snap.record_lag(&crate::testing::fixture_config(), Utc::now());
        assert!(snap.clusters["leader"].shard_stats.is_none());
        assert_eq!(snap.clusters["leader"].shard_stats_at, at);
        assert!(at.is_some());
    }

    fn counts(
        leader_docs: &str,
        follower_docs: &str,
    ) -> BTreeMap<String, Result<Vec<CatIndex>, EsError>> {
        let rows = |i: &str, n: &str| {
            serde_json::from_str::<Vec<CatIndex>>(&format!(
                r#"[{{"index":"{i}","status":"open","docs.count":"{n}"}}]"#
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
        let cfg = fixture_config();
        let with_read_exception = || {
            let mut s = stats_with(50, 50, 50);
            s.follow_stats.indices[0].shards[0].read_exceptions = vec![ReadException::default()];
            s
        };
        // (name, stats of the poll before the count, of the poll after it, comparable, why not)
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
                "the follower caught up around the count: it may have been counted halfway",
                stats_with(50, 50, 40),
                stats_with(50, 50, 50),
                false,
                Some("still replicating around the count"),
            ),
            (
                "stale after an outage",
                stats_with(50, 50, 50),
                with_read_exception(),
                false,
                Some("pending read exceptions"),
            ),
        ];
        for (name, before, after, comparable, why) in cases {
            let mut snap = Snapshot::default();
            snap.apply_poll(poll_with_stats(before));
            count_then_poll(&cfg, &mut snap, counts("100", "97"), poll_with_stats(after));
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
            let orders = find(&r, "orders-copy");
            assert_eq!(
                orders.state == FollowerState::DocsMismatch,
                comparable,
                "{name}: {:?}",
                orders.reasons
            );
        }
    }

    /// The polls around a `doc_counts` run bracket it only in the order the daemon runs them: the poll before it
    /// finished before it started, the poll after it started once it was applied and read the stats.
    #[test]
    fn a_count_is_compared_with_the_first_poll_that_started_after_it() {
        let cfg = fixture_config();
        let quiet = || poll_with_stats(stats_with(50, 50, 50));
        let run = |snap: &mut Snapshot, indices| {
            let before = snap.counts_before();
            snap.apply_doc_counts(
                &cfg,
                before,
                DocCountResult {
                    at: Utc::now(),
                    indices,
                },
            );
        };
        let parity = |snap: &Snapshot| {
            snap.clusters["follower"]
                .doc_parity
                .get("orders-copy")
                .cloned()
        };

        // A poll that started while the count ran does not settle it; the next one does.
        let mut snap = Snapshot::default();
        snap.apply_poll(quiet());
        let early = snap.poll_mark();
        run(&mut snap, counts("100", "97"));
        snap.apply_polled(quiet(), early);
        assert_eq!(
            parity(&snap),
            None,
            "a poll that started before the count was applied"
        );
        let failed = PollResult {
            ccr_stats: Err(EsError::Decode {
                cluster: "follower".into(),
                endpoint: Endpoint::CcrStats,
                message: "bad".into(),
            }),
            ..quiet()
        };
        let mark = snap.poll_mark();
        snap.apply_polled(failed, mark);
        assert_eq!(parity(&snap), None, "a poll whose stats read failed");
        snap.apply_polled(quiet(), snap.poll_mark());
        let p = parity(&snap).expect("settled");
        assert!(p.comparable, "{p:?}");
        assert_eq!(p.difference(), Some(3));
        // Settled once: the next poll keeps the verdict, and a new run keeps it until its own poll after.
        snap.apply_polled(poll_with_stats(stats_with(60, 60, 60)), snap.poll_mark());
        assert_eq!(parity(&snap), Some(p.clone()));
        run(&mut snap, counts("110", "110"));
        assert_eq!(
            parity(&snap),
            Some(p),
            "the previous verdict stays until the poll after"
        );
        snap.apply_polled(quiet(), snap.poll_mark());
        let p = parity(&snap).unwrap();
        assert!(!p.comparable, "the checkpoints went back: {p:?}");

        // doc_counts on the poll's schedule: a run applied while a poll is out waits for the next poll, and
        // the poll settles the run before it.
        let mut snap = Snapshot::default();
        snap.apply_poll(quiet());
        run(&mut snap, counts("100", "97"));
        let mark = snap.poll_mark();
        run(&mut snap, counts("100", "96"));
        snap.apply_polled(quiet(), mark);
        assert_eq!(parity(&snap).unwrap().follower_docs, Some(97));
        let mark = snap.poll_mark();
        run(&mut snap, counts("100", "95"));
        snap.apply_polled(quiet(), mark);
        assert_eq!(parity(&snap).unwrap().follower_docs, Some(96));
        assert!(parity(&snap).unwrap().comparable);

        // No poll had read the stats before the count: nothing brackets it.
        let mut snap = Snapshot::default();
        run(&mut snap, counts("100", "97"));
        snap.apply_polled(quiet(), snap.poll_mark());
        let p = parity(&snap).unwrap();
        assert!(!p.comparable, "{p:?}");
        assert!(p.not_compared_because.unwrap().contains("no follow stats"));

        // A listing this run could not read is not this run's count, even with an older one kept.
        let mut snap = Snapshot::default();
        snap.apply_poll(quiet());
        count_then_poll(&cfg, &mut snap, counts("100", "100"), quiet());
        assert!(parity(&snap).unwrap().comparable);
        let mut partial = counts("100", "97");
        partial.insert(
            "leader".to_string(),
            Err(EsError::Decode {
                cluster: "leader".into(),
                endpoint: Endpoint::CatIndices,
                message: "bad".into(),
            }),
        );
        count_then_poll(&cfg, &mut snap, partial, quiet());
        let p = parity(&snap).unwrap();
        assert_eq!((p.leader_docs, p.follower_docs), (None, Some(97)));
        assert_eq!(
            p.not_compared_because.as_deref(),
            Some("a document count is unavailable")
        );
        assert_eq!(
            snap.clusters["leader"].indices.as_ref().unwrap().data["orders"],
            Some(100),
            "the last good listing is kept"
        );
    }
}
