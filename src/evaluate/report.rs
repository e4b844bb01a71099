//! The report: the snapshot joined with the configuration and the verdicts, in the shape that `/status`,
//! `ccr-sentinel status` and `/metrics` render. Built once per finished job, never per scrape.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::es::AutoFollowStats;
use crate::evaluate::health::{verdict, FollowerState};
use crate::observe::keys::{credentials, remote_keys};
use crate::observe::{
    follower_observations, CredentialStatus, FollowerObservation, RemoteKey, Snapshot,
};

/// Everything known, joined and judged.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub generated_at: Option<DateTime<Utc>>,
    pub clusters: Vec<ClusterReport>,
    pub remotes: Vec<RemoteReport>,
    pub auto_follow: Vec<AutoFollowReport>,
    pub followers: Vec<FollowerReport>,
    /// The cross-cluster API key of every API-key remote (`ccr_sentinel_remote_api_key_expiry_seconds`).
    pub remote_keys: Vec<RemoteKey>,
    /// The daemon's own credential on every follower cluster: the principal follower tasks it creates or resumes
    /// run as, and when it expires (`ccr_sentinel_credential_expiry_seconds`).
    pub credentials: Vec<CredentialStatus>,
    /// `[metrics] per_shard`: render per-shard series.
    #[serde(skip)]
    pub per_shard_metrics: bool,
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
}

impl Report {
    /// Joins the snapshot with the configuration and computes every verdict.
    pub fn build(cfg: &Config, snap: &Snapshot, now: DateTime<Utc>) -> Self {
        let clusters = cfg
            .clusters
            .iter()
            .map(|(name, settings)| {
                let cs = snap.clusters.get(name).cloned().unwrap_or_default();
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
                    remotes.push(RemoteReport {
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
        let followers = follower_observations(cfg, snap)
            .into_iter()
            .map(|mut o| {
                o.remote_key = remote_keys
                    .iter()
                    .find(|k| {
                        k.follower_cluster == o.follower_cluster
                            && k.remote_cluster == o.remote_cluster
                    })
                    .and_then(|k| k.problem.clone());
                let v = verdict(&o, &cfg.health);
                FollowerReport {
                    observation: o,
                    state: v.state,
                    reasons: v.reasons,
                }
            })
            .collect();
        Report {
            generated_at: Some(now),
            clusters,
            remotes,
            auto_follow,
            followers,
            remote_keys,
            credentials: credentials(cfg, snap, now),
            per_shard_metrics: cfg.metrics.per_shard,
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
