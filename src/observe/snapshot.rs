//! The snapshot: every cluster's last good answers and errors, updated from the polls' results, and the
//! doc-count parity computed when document counts are read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::caught_up::{CaughtUp, Docs, ShardLook};
use super::{DocCountResult, PollResult};
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
    /// The cross-cluster API keys of a leader cluster of an API-key remote (see [`super::keys`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<super::keys::KeysState>,
    /// The daemon's own credential on a follower cluster (see [`super::keys`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<super::keys::Credential>,
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
    /// Leader minus follower, when both counts are known; saturating, so hostile counts cannot wrap.
    pub fn difference(&self) -> Option<i64> {
        Some(self.leader_docs?.saturating_sub(self.follower_docs?))
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
            // Only the checkpoints were read: the endpoint's health is recorded, the poll's full stats stay.
            let _ = cs.record(Endpoint::CcrStats, r.at, after);
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
        before: &CcrCheckpointsResponse,
        after: &CcrCheckpointsResponse,
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
    before: &CcrCheckpointsResponse,
    after: &CcrCheckpointsResponse,
) -> Result<(), String> {
    let find = |s: &CcrCheckpointsResponse| {
        s.follow_stats
            .indices
            .iter()
            .find(|i| i.index == index)
            .map(ShardLook::from_checkpoints)
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
mod tests {
    use super::*;
    use crate::evaluate::health::FollowerState;
    use crate::evaluate::report::Report;
    use crate::testing::{find, fixture, fixture_config, polled_6_8, stats_with};

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
            let mut snap = polled_6_8();
            snap.apply_doc_counts(
                &cfg,
                DocCountResult {
                    at: Utc::now(),
                    stats_before: BTreeMap::from([("follower".to_string(), Ok((&before).into()))]),
                    stats_after: BTreeMap::from([("follower".to_string(), Ok((&after).into()))]),
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
}
