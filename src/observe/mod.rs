//! Observing the clusters: polls that read them into a [`Snapshot`], and the per-follower view
//! ([`FollowerObservation`]) that the verdicts in [`crate::evaluate::health`] are computed from.
//!
//! Request budget: the `poll` job sends three requests per follower cluster (`GET /_ccr/stats`,
//! `GET /_all/_ccr/info` without the follow parameters, `GET /_remote/info`) and a fourth, `GET /_recovery`, only
//! when one of them shows a follower without shard tasks (or one of the first two failed): only then can an
//! initial copy be running ([`bootstrap::recovery_needed`]). The `doc_counts` job sends one `GET /_cat/indices` per
//! cluster involved and no stats read of its own: the polls before and after it are its brackets
//! ([`Snapshot::apply_doc_counts`]). Neither depends on the number of followers. With the `poll`, every configured leader
//! cluster gets one `GET /<leader indices>/_stats/docs?level=shards` (narrowed by `filter_path`), its own view of the
//! sequence numbers, with the retention leases on the first poll, every [`LEASE_REFRESH`] after (a twentieth of
//! the leader's shortest retention-lease period when that is shorter) and whenever the index list changes;
//! the configured leader indices are named, or `_all` when an auto-follow
//! pattern reads from that leader or the list would make the request line too long. The same indices'
//! `index.soft_deletes.retention_lease.period` (one `GET /<leader indices>/_settings/...` per leader cluster)
//! is read with the first poll, every [`LEASE_PERIOD_REFRESH`] after and whenever the index list changes: the
//! setting is dynamic but rarely changed and measured in hours, so a change seen minutes late moves the
//! retention-lease margin by no more than that, far inside its alerts at half and four fifths of the period. Every 5 minutes, and when an
//! API-key remote connects or disconnects, the `poll` job also reads the keys and credentials ([`keys`]): one
//! request per leader of an API-key remote and one or two per follower cluster with credentials. Clusters are
//! polled concurrently; a slow cluster delays only its own results, bounded by its request timeout.
//!
//! Data streams: the `poll` also sends one `GET /_data_stream?expand_wildcards=all` (narrowed by `filter_path`)
//! to both ends of every auto-follow pattern and of every configured follower of a backing index (the only
//! followers that join a data stream), 7.9+ only (data streams do not exist before; the
//! version comes from one `GET /` per cluster, read once and kept). It tells which data stream each follower and
//! leader backing index belongs to, and the leader's list is the one the `unfollowed_match` check
//! ([`crate::evaluate::data_streams`]) compares the followers with. Reading it every poll keeps a rollover's new
//! backing index grouped with its stream from the poll that first shows its follower.
//!
//! Failures never erase data: each endpoint's last good answer stays in the snapshot, the error is recorded next
//! to it, and the cluster is reported `up = false` and `stale = true` until the endpoint answers again.

mod bootstrap;
pub mod caught_up;
mod follower;
pub mod keys;
mod lag_ring;
mod seek;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use crate::config::Config;
use crate::es::{
    ApiKeyQuery, CatIndex, CcrStatsResponse, Clients, DataStreamsResponse, EsClient, EsError,
    FollowInfoResponse, HeartbeatResponse, LeasePeriodsResponse, RecoveryResponse,
    RemoteInfoResponse, ShardStatsResponse,
};

pub use bootstrap::{recovery_needed, restores, Bootstrap};

pub use follower::{
    follower_observations, listed, FollowerObservation, Freshness, Listed, RemoteObservation,
    ShardDetail, ShardFatal, ShardSummary,
};
pub use keys::{CredentialStatus, KeyProblem, KeysResult, RemoteKey};
pub use snapshot::{
    ClusterState, CountsBefore, DocParity, FollowerLagHistory, LagRing, LagSample, LagSource,
    LeasePeriods, LeaseReadsDue, Observed, PollMark, Snapshot, LAG_RING_CAPACITY,
    LEASE_PERIOD_REFRESH, LEASE_REFRESH,
};

/// The daemon's clock: what "now" is for poll timestamps and reports. The system clock in production; tests
/// that step a simulator's clock give the daemon the same time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// One leader cluster's shard stats read of a `poll`.
#[derive(Debug)]
pub struct LeaderStatsResult {
    pub cluster: String,
    pub at: DateTime<Utc>,
    pub shard_stats: Result<ShardStatsResponse, EsError>,
    /// The shard stats were read with the retention leases (due on their cadence, [`LEASE_REFRESH`]); without,
    /// every copy's `retention_leases` is `None`.
    pub leases: bool,
    /// The retention-lease period of the same indices, when it was due ([`Snapshot::lease_periods_due`]).
    pub lease_periods: Option<Result<LeasePeriodsResponse, EsError>>,
    /// The index expression both reads named.
    pub indices: String,
}

impl LeaderStatsResult {
    /// The errors of this read, for counting.
    pub fn errors(&self) -> impl Iterator<Item = &EsError> {
        [
            self.shard_stats.as_ref().err(),
            self.lease_periods.as_ref().and_then(|r| r.as_ref().err()),
        ]
        .into_iter()
        .flatten()
    }
}

/// One cluster's `GET /_data_stream` read of a `poll` (7.9+ clusters only).
#[derive(Debug)]
pub struct DataStreamsResult {
    pub cluster: String,
    pub at: DateTime<Utc>,
    /// `(major, minor)` of the cluster, from `GET /`.
    pub version: (u32, u32),
    pub data_streams: Result<DataStreamsResponse, EsError>,
}

/// The first version with data streams (`GET /_data_stream`, ES `DataStreamsPlugin`, 7.9.0).
const DATA_STREAMS_SINCE: (u32, u32) = (7, 9);

/// Longest leader index list sent in a request path; beyond it `_all` is read (Elasticsearch's
/// `http.max_initial_line_length` is 4kb by default).
const MAX_INDEX_LIST_LEN: usize = 3000;

/// The answers of one `poll` of one follower cluster.
#[derive(Debug)]
pub struct PollResult {
    pub cluster: String,
    pub at: DateTime<Utc>,
    pub ccr_stats: Result<CcrStatsResponse, EsError>,
    pub follow_info: Result<FollowInfoResponse, EsError>,
    pub remote_info: Result<RemoteInfoResponse, EsError>,
    /// `GET /_recovery`: the initial copies of new followers. `None` when it was not read: every follower
    /// `_ccr/info` lists has shard tasks in `_ccr/stats`, so none is copying ([`recovery_needed`]).
    pub recovery: Option<Result<RecoveryResponse, EsError>>,
    /// `GET /ccr-sentinel-heartbeat-*/_search`, when the cluster has a `heartbeat = true` remote.
    pub heartbeats: Option<Result<HeartbeatResponse, EsError>>,
}

impl PollResult {
    /// The errors of this poll, for counting.
    pub fn errors(&self) -> impl Iterator<Item = &EsError> {
        [
            self.ccr_stats.as_ref().err(),
            self.follow_info.as_ref().err(),
            self.remote_info.as_ref().err(),
            self.recovery.as_ref().and_then(|r| r.as_ref().err()),
            self.heartbeats.as_ref().and_then(|h| h.as_ref().err()),
        ]
        .into_iter()
        .flatten()
    }
}

/// Everything one `poll` read, at one time.
#[derive(Debug)]
pub struct PollCycle {
    pub at: DateTime<Utc>,
    pub followers: Vec<PollResult>,
    pub leaders: Vec<LeaderStatsResult>,
    pub data_streams: Vec<DataStreamsResult>,
}

/// The answers of one `doc_counts` run.
#[derive(Debug)]
pub struct DocCountResult {
    pub at: DateTime<Utc>,
    /// `GET /_cat/indices`, by cluster.
    pub indices: BTreeMap<String, Result<Vec<CatIndex>, EsError>>,
}

impl DocCountResult {
    /// The errors of this run, with the cluster they came from, for counting.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &EsError)> {
        self.indices
            .iter()
            .filter_map(|(c, r)| r.as_ref().err().map(|e| (c.as_str(), e)))
    }
}

/// Reads the clusters through the process's one [`Clients`] registry.
#[derive(Clone)]
pub struct Observer {
    cfg: Arc<Config>,
    clients: Clients,
    /// Shared by every clone, so a clock set once reaches the jobs that hold clones.
    clock: Arc<std::sync::RwLock<Clock>>,
    /// `(major, minor)` of each cluster from one `GET /`, read the first time it is needed. A reload builds a new
    /// observer, which reads them again (a cluster name may then point elsewhere).
    versions: Arc<std::sync::RwLock<BTreeMap<String, (u32, u32)>>>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("cfg", &self.cfg)
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

impl Observer {
    /// An observer of `cfg`'s clusters through `clients` (contacts none of them).
    pub fn new(cfg: Arc<Config>, clients: Clients) -> Self {
        Self {
            cfg,
            clients,
            clock: Arc::new(std::sync::RwLock::new(system_clock())),
            versions: Arc::default(),
        }
    }

    /// Reads time from `clock` from now on, in this observer and every clone of it.
    pub fn set_clock(&self, clock: Clock) {
        *crate::sync::write(&self.clock) = clock;
    }

    /// The same observer sharing `other`'s clock (a reloaded configuration keeps the daemon's clock).
    pub fn sharing_clock(mut self, other: &Observer) -> Self {
        self.clock = other.clock.clone();
        self
    }

    /// Now, by the observer's clock.
    pub fn now(&self) -> DateTime<Utc> {
        let clock = crate::sync::read(&self.clock).clone();
        clock()
    }

    /// The leader clusters whose shard stats the `poll` reads, each with the index expression it reads.
    pub fn leader_targets(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, Option<BTreeSet<&str>>> = BTreeMap::new();
        for f in &self.cfg.followers {
            if let Some(l) = self.cfg.leader_cluster(&f.cluster, &f.remote) {
                if let Some(set) = out
                    .entry(l.to_string())
                    .or_insert_with(|| Some(BTreeSet::new()))
                {
                    set.insert(f.leader_index.as_str());
                }
            }
        }
        for a in &self.cfg.auto_follow {
            if let Some(l) = self.cfg.leader_cluster(&a.cluster, &a.remote) {
                out.insert(l.to_string(), None);
            }
        }
        out.into_iter()
            .filter(|(l, _)| self.clients.get(l).is_some())
            .map(|(l, set)| {
                let list = set.map(|s| s.into_iter().collect::<Vec<_>>().join(","));
                let expr = match list {
                    Some(list) if !list.is_empty() && list.len() <= MAX_INDEX_LIST_LEN => list,
                    _ => "_all".to_string(),
                };
                (l, expr)
            })
            .collect()
    }

    /// A whole `poll` at one time: [`Observer::poll`]'s reads, one shard stats read per leader cluster and the
    /// data streams of every follower and leader cluster, all concurrently, plus the retention-lease reads `due`
    /// ([`Snapshot::lease_periods_due`]): the period of the leader clusters in `due.periods`, the leases with the
    /// shard stats of those in `due.leases`. The results carry the same `at`, which [`Snapshot::record_lag`]
    /// takes.
    pub async fn poll_cycle(&self, due: &LeaseReadsDue) -> PollCycle {
        let at = self.now();
        let (followers, leaders, data_streams) = tokio::join!(
            self.poll_at(at),
            self.poll_leaders_at(at, due),
            self.poll_data_streams_at(at)
        );
        PollCycle {
            at,
            followers,
            leaders,
            data_streams,
        }
    }

    /// The clusters whose data streams the `poll` reads: both ends of every auto-follow pattern (backing indices
    /// are followed by patterns, which match stream names too: `AutoFollowPattern.match`) and of every configured
    /// follower of a backing index (`.ds-`). Elsewhere no follower joins a stream, so a read would change nothing
    /// the daemon reports and costs a request per cluster per poll.
    pub fn data_stream_targets(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        let ends = self
            .cfg
            .auto_follow
            .iter()
            .map(|a| (&a.cluster, &a.remote))
            .chain(
                self.cfg
                    .followers
                    .iter()
                    .filter(|f| f.leader_index.starts_with(".ds-"))
                    .map(|f| (&f.cluster, &f.remote)),
            );
        for (cluster, remote) in ends {
            out.insert(cluster.clone());
            if let Some(leader) = self.cfg.leader_cluster(cluster, remote) {
                out.insert(leader.to_string());
            }
        }
        out.retain(|c| self.clients.get(c).is_some());
        out
    }

    async fn poll_data_streams_at(&self, at: DateTime<Utc>) -> Vec<DataStreamsResult> {
        let reads = self
            .data_stream_targets()
            .into_iter()
            .map(|name| async move {
                let client = self.clients.get(&name)?.clone();
                let known = crate::sync::read(&self.versions).get(&name).copied();
                let version = match known {
                    Some(v) => v,
                    // Unreadable now: the cluster's other reads report the failure; try again next poll.
                    None => {
                        let v = client.root_info().await.ok()?.major_minor()?;
                        crate::sync::write(&self.versions).insert(name.clone(), v);
                        v
                    }
                };
                if version < DATA_STREAMS_SINCE {
                    return None;
                }
                Some(DataStreamsResult {
                    data_streams: client.data_streams().await,
                    version,
                    cluster: name,
                    at,
                })
            });
        join_all(reads).await.into_iter().flatten().collect()
    }

    async fn poll_leaders_at(
        &self,
        at: DateTime<Utc>,
        due: &LeaseReadsDue,
    ) -> Vec<LeaderStatsResult> {
        let reads = self
            .leader_targets()
            .into_iter()
            .filter_map(|(name, expr)| {
                let client = self.clients.get(&name)?.clone();
                let periods_due = due.periods.contains(&name);
                let leases = due.leases.contains(&name);
                Some(async move {
                    let periods = async {
                        match periods_due {
                            true => Some(client.lease_periods(&expr).await),
                            false => None,
                        }
                    };
                    let (shard_stats, lease_periods) =
                        tokio::join!(client.shard_stats(&expr, leases), periods);
                    LeaderStatsResult {
                        shard_stats,
                        leases,
                        lease_periods,
                        indices: expr,
                        cluster: name,
                        at,
                    }
                })
            });
        join_all(reads).await
    }

    /// The validated configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    /// The client of a configured cluster.
    pub fn client(&self, cluster: &str) -> Option<&EsClient> {
        self.clients.get(cluster)
    }

    /// One `poll`: the reads of every follower cluster, clusters concurrently, requests of a cluster
    /// concurrently, except `GET /_recovery`, which waits for the stats and the info that tell whether it is
    /// needed ([`recovery_needed`]).
    pub async fn poll(&self) -> Vec<PollResult> {
        self.poll_at(self.now()).await
    }

    async fn poll_at(&self, at: DateTime<Utc>) -> Vec<PollResult> {
        let polls = self.cfg.follower_clusters().into_iter().filter_map(|name| {
            let client = self.clients.get(&name)?.clone();
            let heartbeat = self
                .cfg
                .remotes
                .iter()
                .any(|r| r.heartbeat && r.cluster == name);
            Some(async move {
                let pattern = format!("{}-*", crate::config::HEARTBEAT_INDEX);
                let heartbeats = async {
                    match heartbeat {
                        true => Some(client.heartbeats(&pattern).await),
                        false => None,
                    }
                };
                let replication = async {
                    let (ccr_stats, follow_info) =
                        tokio::join!(client.ccr_stats(), client.follow_statuses_all());
                    let recovery =
                        match recovery_needed(ccr_stats.as_ref().ok(), follow_info.as_ref().ok()) {
                            true => Some(client.recovery().await),
                            false => None,
                        };
                    (ccr_stats, follow_info, recovery)
                };
                let ((ccr_stats, follow_info, recovery), remote_info, heartbeats) =
                    tokio::join!(replication, client.remote_info(), heartbeats);
                PollResult {
                    cluster: name,
                    at,
                    ccr_stats,
                    follow_info,
                    remote_info,
                    recovery,
                    heartbeats,
                }
            })
        });
        join_all(polls).await
    }

    /// One key read (see [`keys`]): the keys of `leaders` (`GET /_security/api_key?owner=true`, the keys the
    /// daemon's leader credential made) and the daemon's credential on every follower cluster configured with
    /// one, concurrently.
    /// `connectivity` is recorded with the answers, so the next poll can tell a change.
    pub async fn keys(
        &self,
        leaders: Vec<String>,
        connectivity: BTreeMap<crate::config::ClusterKey, bool>,
    ) -> KeysResult {
        let at = self.now();
        let owned = ApiKeyQuery {
            owner: true,
            ..Default::default()
        };
        let leader_reads = join_all(leaders.into_iter().filter_map(|name| {
            let client = self.clients.get(&name)?.clone();
            let q = owned.clone();
            Some(async move { (name, client.get_api_keys(&q).await) })
        }));
        // Only a cluster with credentials has a principal to read (without, security is off).
        let with_credentials = self.cfg.follower_clusters().into_iter().filter(|name| {
            self.cfg
                .clusters
                .get(name)
                .is_some_and(|c| !matches!(c.auth, crate::config::Auth::None))
        });
        let credential_reads = join_all(with_credentials.filter_map(|name| {
            let client = self.clients.get(&name)?.clone();
            Some(async move {
                let authenticate = client.authenticate().await;
                let own_key = match authenticate.as_ref().ok().and_then(|a| a.api_key.clone()) {
                    Some(k) => Some(
                        client
                            .get_api_keys(&ApiKeyQuery {
                                id: Some(k.id),
                                ..Default::default()
                            })
                            .await,
                    ),
                    None => None,
                };
                (
                    name,
                    keys::CredentialRead {
                        authenticate,
                        own_key,
                    },
                )
            })
        }));
        let (leaders, credentials) = tokio::join!(leader_reads, credential_reads);
        KeysResult {
            at,
            leaders: leaders.into_iter().collect(),
            credentials: credentials.into_iter().collect(),
            connectivity,
        }
    }

    /// One `doc_counts` run: the document counts of every involved cluster. Whether they can be compared is
    /// decided with the polls before and after it ([`Snapshot::apply_doc_counts`]).
    pub async fn doc_counts(&self) -> DocCountResult {
        let at = self.now();
        let followers = self.cfg.follower_clusters();
        let mut involved: BTreeSet<String> = followers.iter().cloned().collect();
        involved.extend(
            self.cfg
                .remotes
                .iter()
                .filter(|r| followers.contains(&r.cluster))
                .map(|r| r.leader.clone()),
        );
        let indices: BTreeMap<_, _> = join_all(involved.iter().filter_map(|name| {
            let client = self.clients.get(name)?.clone();
            Some(async move { (name.clone(), client.cat_indices().await) })
        }))
        .await
        .into_iter()
        .collect();
        DocCountResult { at, indices }
    }
}
