//! The DR view of the report (pure): each pair of clusters replication connects, which one takes the writes,
//! the last switchover, the anti-flap deadline and whether the other cluster replicates the active one.
//!
//! A pair is one the applied topology lists (a switchover touched it), or two clusters the configuration
//! connects one way: followers or auto-follow patterns on one cluster through a remote pointing at the other,
//! which is then the active one. Clusters that follow each other without a topology (Elastic's bi-directional
//! setup, where both write) have no single active cluster and are not listed. The heartbeat canary's followers
//! are no replication of data and are left out.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::topology::{
    pair_key, PairState, SwitchoverMark, TopologyFollower, TopologyPattern,
};
use crate::config::{ClusterKey, Config, HEARTBEAT_INDEX};
use crate::evaluate::report::FollowerReport;

/// The `dr` section of `/status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DrReport {
    /// Every pair, sorted by name.
    pub pairs: Vec<DrPairReport>,
    /// What of the topology file does not fit the configuration, or why it cannot be read.
    pub problems: Vec<String>,
    /// The topology file cannot be read: the declared configuration is in use and reconcile is suspended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology_error: Option<String>,
}

/// One pair of clusters.
#[derive(Debug, Clone, Serialize)]
pub struct DrPairReport {
    /// `a/b`, the names sorted: the `pair` label value.
    pub pair: String,
    /// The two cluster names, sorted.
    pub clusters: [String; 2],
    /// The cluster that takes the writes.
    pub active: String,
    /// The other one, which should replicate the active one.
    pub passive: String,
    /// `true` when a switchover changed the pair (the topology file lists it), `false` when it is as declared.
    pub switched: bool,
    /// The last switchover or failover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<SwitchoverMark>,
    /// A switchover or failover started and has not finished (running, or interrupted: re-run it).
    pub in_progress: bool,
    /// A new switchover of the pair is refused until then (`[dr] anti_flap_period` after the last one finished).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anti_flap_until: Option<DateTime<Utc>>,
    /// `anti_flap_until` is still ahead.
    pub anti_flap_active: bool,
    /// Declared followers a switchover promoted (regular indices now).
    pub promoted: Vec<ClusterKey>,
    /// Declared data streams a switchover promoted.
    pub promoted_data_streams: Vec<ClusterKey>,
    /// Declared auto-follow patterns a switchover paused.
    pub paused_patterns: Vec<ClusterKey>,
    /// The followers of the reverse direction the topology adds.
    pub reverse_followers: Vec<TopologyFollower>,
    /// The auto-follow patterns of the reverse direction the topology adds.
    pub reverse_auto_follow: Vec<TopologyPattern>,
    /// Follower indices on the passive cluster that follow the active one (any state), as last polled.
    pub replicating_followers: usize,
    /// The configuration change that makes a switched pair permanent (then remove it from the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permanent_toml: Option<String>,
}

/// Whether `follower_index` is one of the heartbeat canary's followers.
fn is_heartbeat(follower_index: &str) -> bool {
    follower_index.starts_with(HEARTBEAT_INDEX)
}

/// The directions the configuration replicates: `(leader cluster, follower cluster)`.
fn directions(cfg: &Config) -> BTreeSet<(&str, &str)> {
    let followers = cfg
        .followers
        .iter()
        .filter(|f| !is_heartbeat(&f.follower_index))
        .map(|f| (f.cluster.as_str(), f.remote.as_str()));
    let patterns = cfg
        .auto_follow
        .iter()
        .map(|a| (a.cluster.as_str(), a.remote.as_str()));
    let mut dirs = BTreeSet::new();
    // Most followers share their cluster and remote with the one before: resolved once per run of them.
    let mut previous = None;
    for (cluster, alias) in followers.chain(patterns) {
        if previous == Some((cluster, alias)) {
            continue;
        }
        previous = Some((cluster, alias));
        if let Some(leader) = cfg.leader_cluster(cluster, alias) {
            if leader != cluster {
                dirs.insert((leader, cluster));
            }
        }
    }
    dirs
}

/// The DR view of `cfg` (the effective configuration, with the topology it carries) over the judged
/// `followers`, at `now`.
pub fn dr_report(cfg: &Config, followers: &[FollowerReport], now: DateTime<Utc>) -> DrReport {
    let mut pairs: Vec<(PairState, bool)> = cfg
        .topology
        .pairs
        .iter()
        .filter(|p| p.clusters.contains(&p.active))
        .map(|p| (p.clone(), true))
        .collect();
    let dirs = directions(cfg);
    for &(leader, follower) in &dirs {
        let key = pair_key(leader, follower);
        if pairs.iter().any(|(p, _)| p.clusters == key) {
            continue;
        }
        if dirs.contains(&(follower, leader)) {
            // Both follow each other and no switchover says which one writes.
            continue;
        }
        pairs.push((PairState::new(leader, follower), false));
    }
    pairs.sort_by(|a, b| a.0.clusters.cmp(&b.0.clusters));
    let pairs = pairs
        .into_iter()
        .map(|(p, switched)| {
            let passive = p.passive().to_string();
            let replicating_followers = followers
                .iter()
                .map(|f| &f.observation)
                .filter(|o| {
                    o.follower_cluster == passive
                        && o.leader_cluster.as_deref() == Some(p.active.as_str())
                        && o.status.is_some()
                        && !is_heartbeat(&o.follower_index)
                })
                .count();
            let anti_flap_until = p.anti_flap_until(cfg.dr.anti_flap_period);
            let permanent_toml = switched.then(|| p.permanent_toml());
            DrPairReport {
                pair: p.name(),
                anti_flap_active: anti_flap_until.is_some_and(|t| t > now),
                anti_flap_until,
                in_progress: p.in_progress(),
                clusters: p.clusters,
                active: p.active,
                passive,
                switched,
                last: p.last,
                promoted: p.promoted,
                promoted_data_streams: p.promoted_data_streams,
                paused_patterns: p.paused_patterns,
                reverse_followers: p.followers,
                reverse_auto_follow: p.auto_follow,
                replicating_followers,
                permanent_toml,
            }
        })
        .collect();
    DrReport {
        pairs,
        problems: cfg.topology_problems.clone(),
        topology_error: cfg.topology_error.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::topology::{SwitchoverKind, Topology};
    use crate::evaluate::health::FollowerState;
    use crate::testing::{config, epoch, follower, observation};

    fn judged(o: crate::observe::FollowerObservation) -> FollowerReport {
        FollowerReport {
            observation: o,
            state: FollowerState::Healthy,
            reasons: vec![],
            time: None,
        }
    }

    /// `logs-copy` follows `leader`; a heartbeat follower and a missing follower are not counted.
    fn followers() -> Vec<FollowerReport> {
        let mut missing = observation("gone-copy");
        missing.status = None;
        vec![
            judged(observation("logs-copy")),
            judged(observation("ccr-sentinel-heartbeat-leader")),
            judged(missing),
        ]
    }

    #[test]
    fn declared_pairs_and_switched_pairs() {
        let now = epoch();
        let declared = config(&follower("logs", "logs-copy"));
        let r = dr_report(&declared, &followers(), now);
        assert_eq!(r.pairs.len(), 1, "{r:?}");
        let p = &r.pairs[0];
        assert_eq!(
            (p.pair.as_str(), p.active.as_str(), p.passive.as_str()),
            ("follower/leader", "leader", "follower")
        );
        assert!(!p.switched && !p.in_progress && p.last.is_none());
        assert_eq!(
            p.replicating_followers, 1,
            "heartbeat and missing followers do not count"
        );

        // A switchover to `follower`, finished ten minutes ago: the old leader now should follow it.
        let mut t = Topology::default();
        let s = t.pair_mut("leader", "follower");
        s.active = "follower".into();
        s.last = Some(SwitchoverMark {
            from: "leader".into(),
            to: "follower".into(),
            kind: SwitchoverKind::Switchover,
            started_at: now - chrono::Duration::minutes(12),
            finished_at: Some(now - chrono::Duration::minutes(10)),
            operator_steps: vec![],
        });
        s.promoted = vec![ClusterKey::new("follower", "logs-copy")];
        let r = dr_report(&declared.with_topology(&t), &followers(), now);
        let p = &r.pairs[0];
        assert_eq!(
            (p.active.as_str(), p.passive.as_str()),
            ("follower", "leader")
        );
        assert!(p.switched && !p.in_progress);
        assert_eq!(p.anti_flap_until, Some(now + chrono::Duration::minutes(50)));
        assert!(p.anti_flap_active);
        assert_eq!(
            p.replicating_followers, 0,
            "nothing on leader follows follower yet"
        );
        assert_eq!(p.promoted, [ClusterKey::new("follower", "logs-copy")]);

        // Interrupted: in progress, and the anti-flap counts from a finished one only.
        let mut t2 = t.clone();
        t2.pairs[0].last.as_mut().unwrap().finished_at = None;
        let r = dr_report(&declared.with_topology(&t2), &followers(), now);
        assert!(r.pairs[0].in_progress);
        assert_eq!(r.pairs[0].anti_flap_until, None);

        let broken = declared
            .with_broken_topology("topology.json is not a ccr-sentinel topology file".into());
        let r = dr_report(&broken, &followers(), now);
        assert_eq!(r.problems.len(), 1);
        assert!(r.topology_error.is_some());
        assert_eq!(r.pairs[0].active, "leader", "the declared direction");
    }

    #[test]
    fn clusters_following_each_other_without_a_topology_have_no_active_one() {
        let both = config(&format!(
            "{}[[remotes]]\ncluster = \"leader\"\nalias = \"follower\"\nleader = \"follower\"\n[[followers]]\ncluster = \"leader\"\nremote = \"follower\"\nleader_index = \"other\"\nfollower_index = \"other\"\n",
            follower("logs", "logs-copy")
        ));
        assert!(dr_report(&both, &[], epoch()).pairs.is_empty());
        // Only the heartbeat canary the other way: still one way.
        let heartbeat = config(&format!(
            "heartbeat = true\n{}",
            follower("logs", "logs-copy")
        ));
        assert!(heartbeat
            .followers
            .iter()
            .any(|f| f.follower_index.starts_with(HEARTBEAT_INDEX)));
        assert_eq!(dr_report(&heartbeat, &[], epoch()).pairs.len(), 1);
    }
}
