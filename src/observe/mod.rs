//! Observing the clusters: polls that read them into a [`Snapshot`], and the per-follower view
//! ([`FollowerObservation`]) that the verdicts in [`crate::evaluate::health`] are computed from.
//!
//! Request budget: the `poll` job sends four requests per follower cluster (`GET /_ccr/stats`,
//! `GET /_all/_ccr/info`, `GET /_remote/info`, `GET /_recovery` for the initial copies), the `doc_counts` job two `GET /_ccr/stats` per follower cluster
//! (narrowed by `filter_path` to checkpoints, [`crate::es::CcrCheckpointsResponse`]) plus one `GET /_cat/indices`
//! per cluster involved. Neither depends on the number of followers. Clusters are
//! polled concurrently; a slow cluster delays only its own results, bounded by its request timeout.
//!
//! Failures never erase data: each endpoint's last good answer stays in the snapshot, the error is recorded next
//! to it, and the cluster is reported `up = false` and `stale = true` until the endpoint answers again.

mod bootstrap;
pub mod caught_up;
mod follower;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use crate::config::Config;
use crate::es::{
    CatIndex, CcrCheckpointsResponse, CcrStatsResponse, Clients, EsClient, EsError,
    FollowInfoResponse, HeartbeatResponse, RecoveryResponse, RemoteInfoResponse,
};

pub use bootstrap::{restores, Bootstrap};

pub use follower::{
    follower_observations, FollowerObservation, Freshness, RemoteObservation, ShardDetail,
    ShardFatal, ShardSummary,
};
pub use snapshot::{ClusterState, DocParity, Observed, Snapshot};

/// The answers of one `poll` of one follower cluster.
#[derive(Debug)]
pub struct PollResult {
    pub cluster: String,
    pub at: DateTime<Utc>,
    pub ccr_stats: Result<CcrStatsResponse, EsError>,
    pub follow_info: Result<FollowInfoResponse, EsError>,
    pub remote_info: Result<RemoteInfoResponse, EsError>,
    /// `GET /_recovery`: the initial copies of new followers.
    pub recovery: Result<RecoveryResponse, EsError>,
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
            self.recovery.as_ref().err(),
            self.heartbeats.as_ref().and_then(|h| h.as_ref().err()),
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
    pub stats_before: BTreeMap<String, Result<CcrCheckpointsResponse, EsError>>,
    pub stats_after: BTreeMap<String, Result<CcrCheckpointsResponse, EsError>>,
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

    /// One `poll`: the four reads of every follower cluster, clusters concurrently, requests of a cluster
    /// concurrently.
    pub async fn poll(&self) -> Vec<PollResult> {
        let polls = self.cfg.follower_clusters().into_iter().filter_map(|name| {
            let client = self.clients.get(&name)?.clone();
            let heartbeat = self
                .cfg
                .remotes
                .iter()
                .any(|r| r.heartbeat && r.cluster == name);
            Some(async move {
                let at = Utc::now();
                let pattern = format!("{}-*", crate::config::HEARTBEAT_INDEX);
                let heartbeats = async {
                    match heartbeat {
                        true => Some(client.heartbeats(&pattern).await),
                        false => None,
                    }
                };
                let (ccr_stats, follow_info, remote_info, recovery, heartbeats) = tokio::join!(
                    client.ccr_stats(),
                    client.follow_info_all(),
                    client.remote_info(),
                    client.recovery(),
                    heartbeats
                );
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
                Some(async move { (name.clone(), client.ccr_checkpoints().await) })
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
