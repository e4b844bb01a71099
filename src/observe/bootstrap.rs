//! The initial copy of a follower: its restore from `_ccr_<remote_cluster>` as `_recovery` reports it, summed over
//! the shards, with the rate and the ETA from successive polls (pure).
//!
//! Put follow starts a snapshot restore from the remote (`TransportPutFollowAction.createFollowerIndex`,
//! `CcrRepository`); only when every shard is restored does `initiateFollowing` start the shard tasks. Until then
//! `_ccr/info` says `paused` and `_ccr/stats` lists no shard for the follower (docs/es-contract.md §25).
//!
//! `_ccr/info` lists the follower from the moment the restore starts: the restored index metadata carries the
//! CCR custom metadata (`CcrRepository.getSnapshotIndexMetadata`), which is what `TransportFollowInfoAction`
//! lists, `paused` while no shard follow task exists. So a cluster on which every follower `_ccr/info` lists has
//! shard tasks in `_ccr/stats` has no initial copy running, and the poll does not read `_recovery` there
//! ([`recovery_needed`]).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::es::{CcrStatsResponse, FollowInfoResponse, RecoveryResponse};

/// The follower indices with at least one shard follow task in `GET /_ccr/stats`.
pub fn with_shard_tasks(stats: &CcrStatsResponse) -> HashSet<&str> {
    stats
        .follow_stats
        .indices
        .iter()
        .filter(|i| !i.shards.is_empty())
        .map(|i| i.index.as_str())
        .collect()
}

/// Whether the poll must read `GET /_recovery` on a follower cluster, given its `_ccr/stats` and `_ccr/info`
/// of the same poll (`None`: that read failed). Only a follower without shard tasks can be copying (restoring,
/// or restored and never started): the read is needed when some follower `_ccr/info` lists has no shard task
/// in `_ccr/stats`, and when either read failed, because then that cannot be told.
pub fn recovery_needed(
    stats: Option<&CcrStatsResponse>,
    info: Option<&FollowInfoResponse>,
) -> bool {
    let (Some(stats), Some(info)) = (stats, info) else {
        return true;
    };
    let tasks = with_shard_tasks(stats);
    info.follower_indices
        .iter()
        .any(|f| !tasks.contains(f.follower_index.as_str()))
}

/// The initial copy of one follower index, summed over its shards.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Bootstrap {
    /// The remote the restore copies from (`_ccr_<alias>`).
    pub remote_cluster: String,
    pub shards: u32,
    /// Shards whose restore reached stage `DONE`.
    pub shards_done: u32,
    /// Bytes to copy, and copied so far (reused bytes count as copied).
    pub bytes_total: u64,
    pub bytes_recovered: u64,
    pub files_total: u64,
    pub files_recovered: u64,
    /// Bytes copied per second between the two latest polls; `None` until two polls saw the copy.
    pub bytes_per_second: Option<f64>,
    /// Seconds left at that rate; `None` without a rate or while the rate is 0.
    pub eta_seconds: Option<f64>,
    /// When the latest poll read these numbers.
    pub at: DateTime<Utc>,
}

impl Bootstrap {
    /// Every shard is restored.
    pub fn done(&self) -> bool {
        self.shards > 0 && self.shards_done == self.shards
    }

    /// 0..1: bytes copied over bytes to copy. 0 while the file lists are not known yet (stage `INIT`, all sizes
    /// 0), 1 once every shard is done (`RecoveryState.Index.recoveredBytesPercent` says 100% then too).
    pub fn progress_ratio(&self) -> f64 {
        if self.done() {
            return 1.0;
        }
        if self.bytes_total == 0 {
            return 0.0;
        }
        (self.bytes_recovered as f64 / self.bytes_total as f64).clamp(0.0, 1.0)
    }

    /// "restoring from `leader`: 10.0 MiB of 2.0 GiB (0.5%), 3 of 40 files, 1 of 2 shards done, 40.0 MiB/s, about 51s left".
    pub fn describe(&self) -> String {
        let mut s = format!(
            "initial copy from remote_cluster `{}`: {} of {} ({:.1}%), {} of {} files, {} of {} shards done",
            self.remote_cluster,
            bytes(self.bytes_recovered),
            bytes(self.bytes_total),
            self.progress_ratio() * 100.0,
            self.files_recovered,
            self.files_total,
            self.shards_done,
            self.shards
        );
        if let Some(r) = self.bytes_per_second {
            s.push_str(&format!(", {}/s", bytes(r as u64)));
        }
        if let Some(eta) = self.eta_seconds {
            s.push_str(&format!(
                ", about {} left",
                humantime::format_duration(std::time::Duration::from_secs(eta.ceil() as u64))
            ));
        }
        s
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The CCR restores in one `_recovery` answer, by index, with the rate against `previous` (the restores of the
/// poll before). Indices without a CCR snapshot recovery are left out, so the map is bounded by the followers.
pub fn restores(
    r: &RecoveryResponse,
    at: DateTime<Utc>,
    previous: &BTreeMap<String, Bootstrap>,
) -> BTreeMap<String, Bootstrap> {
    let mut out = BTreeMap::new();
    for (index, rec) in r {
        let mut b: Option<Bootstrap> = None;
        for sh in &rec.shards {
            let Some(remote) = sh.ccr_restore_from() else {
                continue;
            };
            let b = b.get_or_insert_with(|| Bootstrap {
                remote_cluster: remote.to_string(),
                at,
                ..Default::default()
            });
            b.shards += 1;
            if sh.done() {
                b.shards_done += 1;
            }
            let size = &sh.index.size;
            let files = &sh.index.files;
            b.bytes_total = b.bytes_total.saturating_add(size.total);
            b.bytes_recovered = b.bytes_recovered.saturating_add(
                size.recovered
                    .saturating_add(size.reused)
                    .min(size.total.max(size.recovered)),
            );
            b.files_total = b.files_total.saturating_add(files.total);
            b.files_recovered = b
                .files_recovered
                .saturating_add(files.recovered.saturating_add(files.reused));
        }
        let Some(mut b) = b else { continue };
        if let Some(p) = previous.get(index) {
            let secs = (at - p.at).num_milliseconds() as f64 / 1000.0;
            if secs > 0.0 && b.bytes_recovered >= p.bytes_recovered && !b.done() {
                let rate = (b.bytes_recovered - p.bytes_recovered) as f64 / secs;
                b.bytes_per_second = Some(rate);
                let left = b.bytes_total.saturating_sub(b.bytes_recovered) as f64;
                b.eta_seconds = (rate > 0.0 && b.bytes_total > 0).then(|| left / rate);
            }
        }
        out.insert(index.clone(), b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es::{RecoveryCounts, RecoverySource, ShardRecovery};

    fn shard(id: i64, repo: &str, stage: &str, total: u64, recovered: u64) -> ShardRecovery {
        ShardRecovery {
            id,
            kind: "SNAPSHOT".into(),
            stage: stage.into(),
            source: RecoverySource {
                repository: Some(repo.into()),
            },
            index: crate::es::RecoveryIndex {
                size: RecoveryCounts::new(total, 0, recovered),
                files: RecoveryCounts::new(10, 0, recovered * 10 / total.max(1)),
            },
        }
    }

    fn response(shards: Vec<(&str, ShardRecovery)>) -> RecoveryResponse {
        let mut r = RecoveryResponse::new();
        for (i, s) in shards {
            r.entry(i.to_string()).or_default().shards.push(s);
        }
        r
    }

    #[test]
    fn progress_rate_and_eta_from_two_polls() {
        let t0 = Utc::now();
        let r0 = response(vec![
            ("f", shard(0, "_ccr_leader", "INDEX", 1000, 100)),
            ("f", shard(1, "_ccr_leader", "INIT", 1000, 0)),
            ("other", shard(0, "my_backups", "INDEX", 50, 1)),
        ]);
        let first = restores(&r0, t0, &BTreeMap::new());
        assert_eq!(first.keys().collect::<Vec<_>>(), ["f"], "only CCR restores");
        let f = &first["f"];
        assert_eq!((f.shards, f.shards_done), (2, 0));
        assert_eq!((f.bytes_total, f.bytes_recovered), (2000, 100));
        assert!((f.progress_ratio() - 0.05).abs() < 1e-9);
        assert_eq!(f.bytes_per_second, None, "one poll has no rate");
        assert!(!f.done());

        let t1 = t0 + chrono::Duration::seconds(10);
        let r1 = response(vec![
            ("f", shard(0, "_ccr_leader", "DONE", 1000, 1000)),
            ("f", shard(1, "_ccr_leader", "INDEX", 1000, 100)),
        ]);
        let second = restores(&r1, t1, &first);
        let f = &second["f"];
        assert_eq!(f.bytes_recovered, 1100);
        assert_eq!(f.bytes_per_second, Some(100.0));
        assert_eq!(f.eta_seconds, Some(9.0));
        assert!(
            f.describe().contains("1 of 2 shards done"),
            "{}",
            f.describe()
        );

        let r2 = response(vec![
            ("f", shard(0, "_ccr_leader", "DONE", 1000, 1000)),
            ("f", shard(1, "_ccr_leader", "DONE", 1000, 1000)),
        ]);
        let done = restores(&r2, t1 + chrono::Duration::seconds(5), &second);
        assert!(done["f"].done());
        assert_eq!(done["f"].progress_ratio(), 1.0);
        assert_eq!(done["f"].eta_seconds, None);
    }

    #[test]
    fn recovery_is_read_only_when_a_follower_has_no_shard_tasks_or_that_cannot_be_told() {
        let stats = |indices: &[(&str, usize)]| -> CcrStatsResponse {
            let mut s = CcrStatsResponse::default();
            for (index, shards) in indices {
                s.follow_stats.indices.push(crate::es::FollowerIndexStats {
                    index: (*index).into(),
                    shards: vec![Default::default(); *shards],
                    ..Default::default()
                });
            }
            s
        };
        let info = |listed: &[(&str, &str)]| -> FollowInfoResponse {
            let rows: Vec<String> = listed
                .iter()
                .map(|(i, status)| {
                    format!(
                        r#"{{"follower_index":"{i}","remote_cluster":"leader","leader_index":"l","status":"{status}"}}"#
                    )
                })
                .collect();
            serde_json::from_str(&format!(r#"{{"follower_indices":[{}]}}"#, rows.join(",")))
                .unwrap()
        };
        let all_following = stats(&[("a", 2), ("b", 1)]);
        let cases: Vec<(
            &str,
            Option<CcrStatsResponse>,
            Option<FollowInfoResponse>,
            bool,
        )> = vec![
            (
                "every follower has shard tasks",
                Some(all_following.clone()),
                Some(info(&[("a", "active"), ("b", "active")])),
                false,
            ),
            (
                "no follower at all",
                Some(stats(&[])),
                Some(info(&[])),
                false,
            ),
            (
                "stats list a follower info does not list yet (auto-followed a moment ago)",
                Some(all_following.clone()),
                Some(info(&[("a", "active")])),
                false,
            ),
            (
                "a paused follower (or one restoring: paused, no tasks)",
                Some(all_following.clone()),
                Some(info(&[("a", "active"), ("b", "active"), ("c", "paused")])),
                true,
            ),
            (
                "active in info, but no task in the stats yet",
                Some(stats(&[("a", 2), ("b", 0)])),
                Some(info(&[("a", "active"), ("b", "active")])),
                true,
            ),
            ("stats failed", None, Some(info(&[("a", "active")])), true),
            ("info failed", Some(all_following), None, true),
        ];
        for (name, s, i, want) in cases {
            assert_eq!(recovery_needed(s.as_ref(), i.as_ref()), want, "{name}");
        }
    }

    #[test]
    fn other_recoveries_and_sizes_not_known_yet() {
        let mut peer = shard(0, "_ccr_leader", "INDEX", 10, 1);
        peer.kind = "PEER".into();
        let r = response(vec![
            ("replica", peer),
            ("new", shard(0, "_ccr_leader", "INIT", 0, 0)),
        ]);
        let out = restores(&r, Utc::now(), &BTreeMap::new());
        assert!(!out.contains_key("replica"));
        assert_eq!(out["new"].progress_ratio(), 0.0);
    }
}
