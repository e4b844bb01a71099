//! The report: the snapshot joined with the configuration and the verdicts, in the shape that `/status`,
//! `ccr-sentinel status` and `/metrics` render. Built once per finished job, never per scrape.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::config::Config;
use crate::es::AutoFollowStats;
use crate::evaluate::data_streams::{
    data_stream_reports, unfollowed_matches, DataStreamReport, UnfollowedMatch,
};
use crate::evaluate::health::{judge_in_time, verdict, FollowerState};
use crate::evaluate::lag::{
    follower_time, lease_margin_seconds, FollowerTime, DEFAULT_RETENTION_LEASE_PERIOD_MS,
};
use crate::observe::keys::{credentials, remote_keys};
use crate::observe::{
    follower_observations, CredentialStatus, FollowerObservation, Listed, RemoteKey, Snapshot,
};

/// Everything known, joined and judged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub generated_at: Option<DateTime<Utc>>,
    pub clusters: Vec<ClusterReport>,
    pub remotes: Vec<RemoteReport>,
    pub auto_follow: Vec<AutoFollowReport>,
    /// Sorted by (follower_cluster, follower_index). As of the latest job that changed an input of a follower:
    /// a report built after a `doc_counts` run whose listings changed none keeps the followers of the report
    /// before it ([`Report::after_doc_counts`]), time-derived fields included.
    pub followers: Followers,
    /// The cross-cluster API key of every API-key remote (`ccr_sentinel_remote_api_key_expiry_seconds`).
    pub remote_keys: Vec<RemoteKey>,
    /// The daemon's own credential on every follower cluster: the principal follower tasks it creates or resumes
    /// run as, and when it expires (`ccr_sentinel_credential_expiry_seconds`).
    pub credentials: Vec<CredentialStatus>,
    /// The followers grouped by the data stream their index backs, by follower cluster and stream.
    pub data_streams: Vec<DataStreamReport>,
    /// Leader backing indices an auto-follow pattern should have followed and did not.
    pub unfollowed_matches: Vec<UnfollowedMatch>,
    /// The pairs of clusters, which one takes the writes, and the switchovers between them.
    pub dr: crate::evaluate::dr::DrReport,
    /// `[metrics] per_shard`: render per-shard series.
    #[serde(skip)]
    pub per_shard_metrics: bool,
    /// `[metrics] detailed`: render the families outside the default set.
    #[serde(skip)]
    pub detailed_metrics: bool,
}

/// The followers of a report, shared with the report before it when the job in between changed none of their
/// inputs. Reads through `Deref` like the `Vec` it holds; a write copies it first when another report shares it.
#[derive(Debug, Clone, Default)]
pub struct Followers(Arc<Vec<FollowerReport>>);

impl Followers {
    /// Both are the same followers, shared rather than built twice.
    pub fn shared_with(&self, other: &Followers) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for Followers {
    type Target = Vec<FollowerReport>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Followers {
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl From<Vec<FollowerReport>> for Followers {
    fn from(v: Vec<FollowerReport>) -> Self {
        Self(Arc::new(v))
    }
}

impl FromIterator<FollowerReport> for Followers {
    fn from_iter<I: IntoIterator<Item = FollowerReport>>(iter: I) -> Self {
        Self(Arc::new(iter.into_iter().collect()))
    }
}

impl<'a> IntoIterator for &'a Followers {
    type Item = &'a FollowerReport;
    type IntoIter = std::slice::Iter<'a, FollowerReport>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a mut Followers {
    type Item = &'a mut FollowerReport;
    type IntoIter = std::slice::IterMut<'a, FollowerReport>;

    fn into_iter(self) -> Self::IntoIter {
        Arc::make_mut(&mut self.0).iter_mut()
    }
}

impl Serialize for Followers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_slice().serialize(s)
    }
}

/// One configured cluster.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    pub name: String,
    /// Reached, and every latest request succeeded.
    pub up: bool,
    /// Some data shown is older than a failed refresh.
    pub stale: bool,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// Latest error per endpoint.
    pub errors: std::collections::BTreeMap<String, String>,
    /// `insecure_skip_verify = true`: the cluster's TLS certificate is not verified.
    pub insecure_skip_verify: bool,
}

/// One remote connection of a follower cluster, from its `_remote/info`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteReport {
    pub follower_cluster: String,
    pub remote_cluster: String,
    /// The configured cluster the alias points at, when configured.
    pub leader_cluster: Option<String>,
    pub connected: bool,
    pub mode: String,
    pub nodes_connected: i64,
    /// `heartbeat = true`: seconds since the newest heartbeat the follower cluster holds for this remote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_delay_seconds: Option<f64>,
}

/// The auto-follow stats of one follower cluster.
#[derive(Debug, Clone, Serialize)]
pub struct AutoFollowReport {
    pub follower_cluster: String,
    pub stats: AutoFollowStats,
}

/// One follower, observed and judged.
#[derive(Debug, Clone, Serialize)]
pub struct FollowerReport {
    #[serde(flatten)]
    pub observation: FollowerObservation,
    pub state: FollowerState,
    pub reasons: Vec<String>,
    /// The follower in time (lag seconds, RPO, ETA, grade, lease margin), once polls have seen its shards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<FollowerTime>,
}

/// The follower's time view from its shard history, with the margin of its retention leases on the leader once
/// the leader's shard stats have shown them, counted against the leader index's own
/// `index.soft_deletes.retention_lease.period` once read (Elasticsearch's default until then). None while the
/// initial copy runs: a follower without shard tasks by design has no lag to grade or alert on, and the restore
/// renews its lease itself (ES `CcrRepository#restoreShard`).
fn time_of(snap: &Snapshot, o: &FollowerObservation, now: DateTime<Utc>) -> Option<FollowerTime> {
    if o.bootstrapping() {
        return None;
    }
    let now_ms = now.timestamp_millis();
    let h = snap
        .clusters
        .get(&o.follower_cluster)?
        .lag
        .get(&o.follower_index)?;
    let mut t = follower_time(h, now_ms)?;
    let period_ms = o
        .leader_cluster
        .as_deref()
        .and_then(|l| snap.lease_period_ms(l, &o.leader_index))
        .unwrap_or(DEFAULT_RETENTION_LEASE_PERIOD_MS);
    t.retention_lease_period_seconds = period_ms as f64 / 1000.0;
    t.retention_lease_margin_seconds =
        lease_margin_seconds(h.lease_timestamp_ms, period_ms, now_ms);
    Some(t)
}

/// Every follower of the snapshot, observed at `now`, with its remote key's problem and its verdict.
fn judged_followers(
    cfg: &Config,
    snap: &Snapshot,
    now: DateTime<Utc>,
    remote_keys: &[RemoteKey],
) -> Followers {
    follower_observations(cfg, snap)
        .into_iter()
        .map(|mut o| {
            o.remote_key = remote_keys
                .iter()
                .find(|k| {
                    k.follower_cluster == o.follower_cluster && k.remote_cluster == o.remote_cluster
                })
                .and_then(|k| k.problem.clone());
            let time = time_of(snap, &o, now);
            let v = judge_in_time(verdict(&o, &cfg.health), &o, time.as_ref(), &cfg.health);
            FollowerReport {
                observation: o,
                state: v.state,
                reasons: v.reasons,
                time,
            }
        })
        .collect()
}

/// Whether every follower in `followers` still has the [`Listed`] view it was judged with.
fn listings_unchanged(snap: &Snapshot, followers: &[FollowerReport]) -> bool {
    Listed::of_each(snap, followers.iter().map(|f| &f.observation))
        .zip(followers)
        .all(|(now, f)| {
            now == Listed {
                follower_index_exists: f.observation.follower_index_exists,
                leader_index_exists: f.observation.leader_index_exists,
            }
        })
}

impl FollowerReport {
    /// Why this follower should not take traffic or be promoted now, given the highest acceptable lag in time;
    /// empty when it may. Not healthy, no lag in time measured yet, a lag above `max_lag` or a lower bound (the
    /// true lag is unknown), or a complete window graded anything but `ok`, each say so. An incomplete window
    /// alone is no reason: the verdict and the lag already come from the polls that were seen.
    pub fn gate(&self, max_lag: Option<std::time::Duration>) -> Vec<String> {
        let mut why = Vec::new();
        if self.state != FollowerState::Healthy {
            why.push(format!("state {}", self.state));
            why.extend(self.reasons.iter().cloned());
        }
        match &self.time {
            None => {
                why.push("no lag in time measured yet (no poll has seen its shards)".to_string())
            }
            Some(t) => {
                if let Some(max) = max_lag {
                    let max_s = max.as_secs_f64();
                    if t.lag_lower_bound && t.lag_seconds > 0.0 {
                        why.push(format!(
                            "lag is at least {:.1}s (older than the kept history), the limit is {max_s}s",
                            t.lag_seconds
                        ));
                    } else if t.lag_seconds > max_s {
                        why.push(format!("lag {:.1}s is above {max_s}s", t.lag_seconds));
                    }
                }
                if t.completeness >= 1.0 && t.grade != crate::evaluate::lag::Grade::Ok {
                    why.push(format!("graded {} over the window", t.grade));
                }
            }
        }
        why
    }
}

impl Report {
    /// The follower `follower_index` on `cluster`.
    pub fn follower(&self, cluster: &str, follower_index: &str) -> Option<&FollowerReport> {
        self.followers
            .binary_search_by(|f| {
                (
                    f.observation.follower_cluster.as_str(),
                    f.observation.follower_index.as_str(),
                )
                    .cmp(&(cluster, follower_index))
            })
            .ok()
            .map(|i| &self.followers[i])
    }

    /// Joins the snapshot with the configuration and computes every verdict.
    pub fn build(cfg: &Config, snap: &Snapshot, now: DateTime<Utc>) -> Self {
        Self::assemble(cfg, snap, now, None)
    }

    /// The report after a `doc_counts` run, `before` being the report of the same configuration and of `snap`
    /// as it was just before the run was applied. A run changes only the clusters' `_cat/indices` listings, their
    /// `cat_indices` errors and their timestamps; document parity waits for the next poll
    /// (`Snapshot::apply_doc_counts`). So when every follower of `before` still has the same [`Listed`] view,
    /// its followers are still exact and are shared, not joined and judged again: their time-derived fields
    /// (`rpo_seconds`, lag in time, lease margins, the remote key's problem) stay as of the latest job that
    /// built them (a poll or a key read), which a poll rebuilds at its end. The clusters, keys, credentials and
    /// everything derived from the followers are built at `now` as [`Report::build`] would. Otherwise this is
    /// [`Report::build`].
    pub fn after_doc_counts(
        cfg: &Config,
        snap: &Snapshot,
        now: DateTime<Utc>,
        before: &Report,
    ) -> Self {
        let keep = listings_unchanged(snap, &before.followers);
        Self::assemble(cfg, snap, now, keep.then(|| before.followers.clone()))
    }

    /// [`Report::build`], with `followers` instead of building them when given.
    fn assemble(
        cfg: &Config,
        snap: &Snapshot,
        now: DateTime<Utc>,
        followers: Option<Followers>,
    ) -> Self {
        let never_polled = crate::observe::ClusterState::default();
        let clusters = cfg
            .clusters
            .iter()
            .map(|(name, settings)| {
                let cs = snap.clusters.get(name).unwrap_or(&never_polled);
                ClusterReport {
                    insecure_skip_verify: settings.insecure_skip_verify,
                    name: name.clone(),
                    up: cs.up(),
                    stale: cs.stale(),
                    last_attempt: cs.last_attempt,
                    last_success: cs.last_success,
                    errors: cs
                        .errors
                        .iter()
                        .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                        .collect(),
                }
            })
            .collect();
        let mut remotes = Vec::new();
        let mut auto_follow = Vec::new();
        for cluster in cfg.follower_clusters() {
            let Some(cs) = snap.clusters.get(&cluster) else {
                continue;
            };
            if let Some(ri) = &cs.remote_info {
                for (alias, r) in &ri.data {
                    let heartbeat = cfg
                        .remotes
                        .iter()
                        .any(|c| c.heartbeat && c.cluster == cluster && c.alias == *alias);
                    let heartbeat_delay_seconds = cs
                        .heartbeats
                        .as_ref()
                        .filter(|_| heartbeat)
                        .and_then(|h| h.data.get(&crate::config::heartbeat_follower_index(alias)))
                        .map(|ts| ((now.timestamp_millis() - ts) as f64 / 1000.0).max(0.0));
                    remotes.push(RemoteReport {
                        heartbeat_delay_seconds,
                        follower_cluster: cluster.clone(),
                        remote_cluster: alias.clone(),
                        leader_cluster: cfg.leader_cluster(&cluster, alias).map(str::to_string),
                        connected: r.connected,
                        mode: r.mode().to_string(),
                        nodes_connected: r.nodes_connected(),
                    });
                }
            }
            if let Some(afs) = cs
                .ccr_stats
                .as_ref()
                .and_then(|s| s.data.auto_follow_stats.clone())
            {
                auto_follow.push(AutoFollowReport {
                    follower_cluster: cluster.clone(),
                    stats: afs,
                });
            }
        }
        let remote_keys = remote_keys(cfg, snap, now);
        let followers = followers.unwrap_or_else(|| judged_followers(cfg, snap, now, &remote_keys));
        let renames_streams = |cluster: &str| {
            snap.clusters
                .get(cluster)
                .and_then(|c| c.version)
                .is_some_and(|v| v >= (8, 4))
        };
        let unfollowed = unfollowed_matches(cfg, snap, &renames_streams);
        Report {
            dr: crate::evaluate::dr::dr_report(cfg, &followers, now),
            data_streams: data_stream_reports(snap, &followers, &unfollowed),
            unfollowed_matches: unfollowed,
            generated_at: Some(now),
            clusters,
            remotes,
            auto_follow,
            followers,
            remote_keys,
            credentials: credentials(cfg, snap, now),
            per_shard_metrics: cfg.metrics.per_shard,
            detailed_metrics: cfg.metrics.detailed,
        }
    }

    /// One line for `STATUS=` and logs, e.g. `3 followers: 2 healthy, 1 lagging; clusters up 2/2`.
    pub fn summary(&self) -> String {
        let mut counts: std::collections::BTreeMap<FollowerState, usize> = Default::default();
        for f in &self.followers {
            *counts.entry(f.state).or_default() += 1;
        }
        let states: Vec<String> = FollowerState::ALL
            .iter()
            .filter_map(|s| counts.get(s).map(|n| format!("{n} {s}")))
            .collect();
        let up = self.clusters.iter().filter(|c| c.up).count();
        format!(
            "{} follower{}{}{}; clusters up {up}/{}",
            self.followers.len(),
            if self.followers.len() == 1 { "" } else { "s" },
            if states.is_empty() { "" } else { ": " },
            states.join(", "),
            self.clusters.len()
        )
    }

    /// The daemon's credential on `cluster`, when it has been read.
    pub fn credential(&self, cluster: &str) -> Option<&CredentialStatus> {
        self.credentials.iter().find(|c| c.cluster == cluster)
    }

    /// True when every cluster is up and every follower healthy.
    pub fn all_healthy(&self) -> bool {
        self.clusters.iter().all(|c| c.up)
            && self
                .followers
                .iter()
                .all(|f| f.state == FollowerState::Healthy)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::es::{CatIndex, Endpoint, EsError};
    use crate::observe::DocCountResult;
    use crate::testing;

    type Listing = BTreeMap<String, Result<Vec<CatIndex>, EsError>>;

    fn listing(leader: Option<&[&str]>, follower: &[&str]) -> Listing {
        let rows = |names: &[&str]| {
            Ok(names
                .iter()
                .map(|n| CatIndex {
                    index: n.to_string(),
                    status: Some("open".into()),
                    docs_count: Some(10),
                })
                .collect())
        };
        let leader = match leader {
            Some(names) => rows(names),
            None => Err(EsError::Status {
                cluster: "leader".into(),
                endpoint: Endpoint::CatIndices,
                status: 503,
                error: None,
            }),
        };
        BTreeMap::from([
            ("leader".to_string(), leader),
            ("follower".to_string(), rows(follower)),
        ])
    }

    /// The fixture config's followers `orders-copy` and `gone-copy` and the fixtures' `paused-copy`, polled with
    /// their lag recorded (so the followers with shard tasks have time-derived fields), after a doc_counts run of
    /// `first` when given.
    fn polled(cfg: &Config, first: Option<Listing>, at: DateTime<Utc>) -> Snapshot {
        let mut snap = Snapshot::default();
        if let Some(indices) = first {
            let before = snap.counts_before();
            snap.apply_doc_counts(cfg, before, DocCountResult { at, indices });
        }
        let mut poll = testing::poll(
            "versions/ccr_stats_response_6.8.json",
            "versions/follow_info_response_6.8.json",
            "versions/remote_info_response_6.8.json",
        );
        poll.at = at;
        let mark = snap.poll_mark();
        snap.apply_polled(poll, mark);
        snap.record_lag(cfg, at);
        snap
    }

    #[test]
    fn a_doc_counts_run_that_changes_no_listing_view_keeps_the_followers_a_full_build_would_make() {
        let cfg = testing::fixture_config();
        let t0 = testing::epoch();
        let t1 = t0 + chrono::Duration::seconds(5);
        let all_leaders: &[&str] = &["orders", "paused"];
        let all_followers: &[&str] = &["orders-copy", "paused-copy"];
        let listed = || Some(listing(Some(all_leaders), all_followers));
        // (case, listing before, the run's listing, whether the followers are shared)
        let cases: Vec<(&str, Option<Listing>, Listing, bool)> = vec![
            (
                "the same indices, other counts",
                listed(),
                listing(Some(all_leaders), all_followers),
                true,
            ),
            (
                "the leader's _cat/indices fails",
                listed(),
                listing(None, all_followers),
                true,
            ),
            (
                "a follower index disappears",
                listed(),
                listing(Some(all_leaders), &["paused-copy"]),
                false,
            ),
            (
                "a leader index appears",
                listed(),
                listing(Some(&["orders", "paused", "gone"]), all_followers),
                false,
            ),
            (
                "a leader index disappears",
                listed(),
                listing(Some(&["paused"]), all_followers),
                false,
            ),
            (
                "the first listing",
                None,
                listing(Some(all_leaders), all_followers),
                false,
            ),
        ];
        for (case, first, run, shared) in cases {
            let mut snap = polled(&cfg, first, t0);
            let before = Report::build(&cfg, &snap, t0);
            assert_eq!(before.followers.len(), 3, "{case}");
            assert!(
                testing::find(&before, "orders-copy").time.is_some(),
                "{case}: the follower with shard tasks has its time view"
            );
            let counts_before = snap.counts_before();
            snap.apply_doc_counts(
                &cfg,
                counts_before,
                DocCountResult {
                    at: t1,
                    indices: run,
                },
            );
            // Shared followers are as of the job that built them (t0), rebuilt ones and the rest of the report as
            // of the run (t1).
            let after = Report::after_doc_counts(&cfg, &snap, t1, &before);
            let full = Report::build(&cfg, &snap, if shared { t0 } else { t1 });
            assert_eq!(
                after.followers.shared_with(&before.followers),
                shared,
                "{case}"
            );
            assert_eq!(
                serde_json::to_value(&after.followers).unwrap(),
                serde_json::to_value(&full.followers).unwrap(),
                "{case}"
            );
            let full_now = Report::build(&cfg, &snap, t1);
            let without_followers = |r: &Report| {
                let mut v = serde_json::to_value(r).unwrap();
                v.as_object_mut().unwrap().remove("followers");
                v
            };
            assert_eq!(
                without_followers(&after),
                without_followers(&full_now),
                "{case}"
            );
        }
    }
}
