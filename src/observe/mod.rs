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
mod follower;
mod snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use crate::config::Config;
use crate::es::{
    CatIndex, CcrStatsResponse, Clients, EsClient, EsError, FollowInfoResponse, RemoteInfoResponse,
};

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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::evaluate::report::{FollowerReport, Report};

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

    pub(crate) fn find<'a>(r: &'a Report, index: &str) -> &'a FollowerReport {
        r.followers
            .iter()
            .find(|f| f.observation.follower_index == index)
            .unwrap_or_else(|| panic!("no follower {index} in {:?}", r.followers))
    }

    /// The 6.8 stats fixture with every shard of its first follower at the given checkpoints.
    pub(crate) fn stats_with(lgc: i64, lmax: i64, fgc: i64) -> CcrStatsResponse {
        let mut s: CcrStatsResponse = fixture("versions/ccr_stats_response_6.8.json");
        for sh in &mut s.follow_stats.indices[0].shards {
            sh.leader_global_checkpoint = lgc;
            sh.leader_max_seq_no = lmax;
            sh.follower_global_checkpoint = fgc;
        }
        s
    }
}
