//! Data streams (pure): the followers grouped by the data stream their follower index backs, and the leader
//! backing indices an auto-follow pattern should have followed but did not (`unfollowed_match`).
//!
//! The auto-follower can miss an index: around master fail-overs (elastic/elasticsearch#86654), or when a follower
//! was deleted (the pattern remembers the leader index as followed and never follows it again). ES offers no API
//! that says which indices a pattern has seen (`AutoFollowMetadata.followedLeaderIndexUUIDs` is internal), and
//! leader indices that already existed when the pattern was created are deliberately never followed. So a leader
//! backing index counts as missed only when it matches the pattern (`AutoFollowPattern.match`: its own name, or its
//! data stream's name, each net of the exclusion patterns), has no follower on the pattern's cluster, and is newer
//! in its stream than a backing index the pattern's cluster does follow: the pattern provably existed before it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::policy::wildcard_match;
use crate::config::{AutoFollowSettings, Config};
use crate::es::DataStreamsResponse;
use crate::evaluate::health::FollowerState;
use crate::evaluate::report::FollowerReport;
use crate::observe::Snapshot;

/// The prefix of a backing index name (`DataStream.BACKING_INDEX_PREFIX`).
const BACKING_INDEX_PREFIX: &str = ".ds-";

/// One data stream on a follower cluster, with its followed backing indices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataStreamReport {
    pub follower_cluster: String,
    pub data_stream: String,
    /// The stream's backing indices on the follower cluster, oldest generation first.
    pub backing_indices: Vec<String>,
    /// How many backing indices are followers, by state (states with none are left out).
    pub followers: BTreeMap<FollowerState, usize>,
    /// The worst state among the followers, and the follower index in it.
    pub worst_state: Option<FollowerState>,
    pub worst_follower_index: Option<String>,
    /// The highest lag in seconds among the followers, once measured.
    pub max_lag_seconds: Option<f64>,
    /// Leader minus follower documents summed over the followers whose counts are known.
    pub docs_difference: Option<i64>,
    /// Leader backing indices of this stream an auto-follow pattern missed.
    pub unfollowed_matches: usize,
}

/// A leader backing index that matches an auto-follow pattern, is newer than one the pattern followed, and has no
/// follower on the pattern's cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnfollowedMatch {
    /// The cluster holding the pattern (where the follower belongs).
    pub follower_cluster: String,
    pub pattern: String,
    pub remote_cluster: String,
    pub leader_cluster: String,
    pub leader_index: String,
    /// The leader data stream the index backs.
    pub leader_data_stream: String,
    /// The follower index the pattern would have created (`AutoFollower.getFollowerIndexName`).
    pub follower_index: String,
    /// The local data stream the follower joins.
    pub data_stream: String,
}

/// `AutoFollowPattern.match` (x-pack `AutoFollowMetadata`): the index by its own name, else by its data stream's
/// name; an exclusion pattern matching the name tested rules that name out. `*` is the only wildcard
/// (`Regex.simpleMatch`). System indices never match: [`pattern_misses`] skips system data streams.
pub fn pattern_matches(
    patterns: &[String],
    exclusions: &[String],
    index: &str,
    data_stream: Option<&str>,
) -> bool {
    let hit = |name: &str| {
        !exclusions.iter().any(|p| wildcard_match(p, name))
            && patterns.iter().any(|p| wildcard_match(p, name))
    };
    hit(index) || data_stream.is_some_and(hit)
}

/// The follower index and local stream an auto-follow pattern gives a leader backing index
/// (`AutoFollower.getFollowerIndexName`): without a `follow_index_pattern` the leader's names; from 8.4 the pattern
/// renames the stream part and the index keeps the `.ds-` scheme; before 8.4 the pattern renames the whole index
/// name (a follow that Elasticsearch then refuses for a backing index, elastic/elasticsearch#81751).
pub fn follower_names(
    follow_index_pattern: Option<&str>,
    leader_index: &str,
    leader_data_stream: &str,
    renames_streams: bool,
) -> (String, String) {
    const REPLACE: &str = "{{leader_index}}";
    let Some(pattern) = follow_index_pattern else {
        return (leader_index.to_string(), leader_data_stream.to_string());
    };
    let prefix = format!("{BACKING_INDEX_PREFIX}{leader_data_stream}");
    match leader_index.strip_prefix(&prefix) {
        Some(suffix) if renames_streams => {
            let renamed = pattern.replace(REPLACE, leader_data_stream);
            (format!("{BACKING_INDEX_PREFIX}{renamed}{suffix}"), renamed)
        }
        _ => (
            pattern.replace(REPLACE, leader_index),
            leader_data_stream.to_string(),
        ),
    }
}

/// The data stream of every backing index in `streams`.
fn stream_of(streams: &DataStreamsResponse) -> BTreeMap<&str, &str> {
    streams
        .data_streams
        .iter()
        .flat_map(|s| {
            s.indices
                .iter()
                .map(move |i| (i.index_name.as_str(), s.name.as_str()))
        })
        .collect()
}

fn streams_of<'a>(snap: &'a Snapshot, cluster: &str) -> Option<&'a DataStreamsResponse> {
    Some(&snap.clusters.get(cluster)?.data_streams.as_ref()?.data)
}

/// The data stream each follower's index backs on its cluster, when known.
pub fn follower_streams<'a>(snap: &'a Snapshot, cluster: &str) -> BTreeMap<&'a str, &'a str> {
    streams_of(snap, cluster).map(stream_of).unwrap_or_default()
}

/// The missed backing indices of one pattern, from its leader's data streams, its own cluster's data streams and
/// `followed` (a leader index has a follower of the pattern's remote on the pattern's cluster); `renames_streams`
/// is the pattern's cluster being 8.4+.
pub fn pattern_misses(
    a: &AutoFollowSettings,
    leader_cluster: &str,
    leader: &DataStreamsResponse,
    local: Option<&DataStreamsResponse>,
    followed: &dyn Fn(&str) -> bool,
    renames_streams: bool,
) -> Vec<UnfollowedMatch> {
    let local_indices: std::collections::BTreeSet<&str> = local
        .map(|l| stream_of(l).into_keys().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    // A system stream's backing indices are system indices: never matched.
    for s in leader.data_streams.iter().filter(|s| !s.system) {
        let matching: Vec<&str> = s
            .indices
            .iter()
            .map(|i| i.index_name.as_str())
            .filter(|i| {
                pattern_matches(
                    &a.leader_index_patterns,
                    &a.leader_index_exclusion_patterns,
                    i,
                    Some(&s.name),
                )
            })
            .collect();
        // Oldest generation first: everything after the first followed one was created after the pattern.
        let Some(first) = matching.iter().position(|i| followed(i)) else {
            continue;
        };
        for leader_index in &matching[first + 1..] {
            if followed(leader_index) {
                continue;
            }
            let (follower_index, data_stream) = follower_names(
                a.follow_index_pattern.as_deref(),
                leader_index,
                &s.name,
                renames_streams,
            );
            // A local backing index of that name that is no follower (unfollowed, promoted) is not a miss.
            if local_indices.contains(follower_index.as_str()) {
                continue;
            }
            out.push(UnfollowedMatch {
                follower_cluster: a.cluster.clone(),
                pattern: a.name.clone(),
                remote_cluster: a.remote.clone(),
                leader_cluster: leader_cluster.to_string(),
                leader_index: leader_index.to_string(),
                leader_data_stream: s.name.clone(),
                follower_index,
                data_stream,
            });
        }
    }
    out
}

/// Every configured auto-follow pattern's missed backing indices, from the latest data streams reads of its
/// leader and its own cluster and the followers that cluster's `_ccr/info` lists. `renames_streams(cluster)` is
/// the cluster being 8.4+ (where `follow_index_pattern` renames only the stream part).
pub fn unfollowed_matches(
    cfg: &Config,
    snap: &Snapshot,
    renames_streams: &dyn Fn(&str) -> bool,
) -> Vec<UnfollowedMatch> {
    let mut out = Vec::new();
    for a in &cfg.auto_follow {
        let Some(leader_cluster) = cfg.leader_cluster(&a.cluster, &a.remote) else {
            continue;
        };
        let Some(leader) = streams_of(snap, leader_cluster) else {
            continue;
        };
        let Some(info) = snap
            .clusters
            .get(&a.cluster)
            .and_then(|c| c.follow_info.as_ref())
        else {
            continue;
        };
        let followed = |leader_index: &str| {
            info.data
                .follower_indices
                .iter()
                .any(|f| f.remote_cluster == a.remote && f.leader_index == leader_index)
        };
        out.extend(pattern_misses(
            a,
            leader_cluster,
            leader,
            streams_of(snap, &a.cluster),
            &followed,
            renames_streams(&a.cluster),
        ));
    }
    out.sort_by(|x, y| {
        (&x.follower_cluster, &x.follower_index).cmp(&(&y.follower_cluster, &y.follower_index))
    });
    out.dedup_by(|x, y| {
        x.follower_cluster == y.follower_cluster && x.follower_index == y.follower_index
    });
    out
}

/// The followers grouped by the data stream their index backs, one entry per (follower cluster, stream) that has
/// at least one follower or missed backing index. Followers of plain indices are in no group.
pub fn data_stream_reports(
    snap: &Snapshot,
    followers: &[FollowerReport],
    missed: &[UnfollowedMatch],
) -> Vec<DataStreamReport> {
    fn entry<'g>(
        groups: &'g mut BTreeMap<(String, String), DataStreamReport>,
        snap: &Snapshot,
        cluster: &str,
        stream: &str,
    ) -> &'g mut DataStreamReport {
        groups
            .entry((cluster.to_string(), stream.to_string()))
            .or_insert_with(|| DataStreamReport {
                follower_cluster: cluster.to_string(),
                data_stream: stream.to_string(),
                backing_indices: streams_of(snap, cluster)
                    .and_then(|s| s.data_streams.iter().find(|d| d.name == stream))
                    .map(|d| d.indices.iter().map(|i| i.index_name.clone()).collect())
                    .unwrap_or_default(),
                followers: BTreeMap::new(),
                worst_state: None,
                worst_follower_index: None,
                max_lag_seconds: None,
                docs_difference: None,
                unfollowed_matches: 0,
            })
    }
    let mut groups: BTreeMap<(String, String), DataStreamReport> = BTreeMap::new();
    let mut by_cluster: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for f in followers {
        let o = &f.observation;
        let streams = by_cluster
            .entry(o.follower_cluster.as_str())
            .or_insert_with(|| follower_streams(snap, &o.follower_cluster));
        let Some(stream) = streams.get(o.follower_index.as_str()) else {
            continue;
        };
        let g = entry(&mut groups, snap, &o.follower_cluster, stream);
        *g.followers.entry(f.state).or_default() += 1;
        if g.worst_state
            .map_or(true, |w| f.state.severity() > w.severity())
        {
            g.worst_state = Some(f.state);
            g.worst_follower_index = Some(o.follower_index.clone());
        }
        if let Some(t) = &f.time {
            g.max_lag_seconds = Some(
                g.max_lag_seconds
                    .map_or(t.lag_seconds, |m| m.max(t.lag_seconds)),
            );
        }
        if let Some(d) = o.docs.as_ref().and_then(|d| d.difference()) {
            g.docs_difference = Some(g.docs_difference.unwrap_or(0).saturating_add(d));
        }
    }
    for m in missed {
        entry(&mut groups, snap, &m.follower_cluster, &m.data_stream).unfollowed_matches += 1;
    }
    groups.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es::{DataStreamBackingIndex, DataStreamInfo};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn pattern_matches_as_auto_follow_pattern_match() {
        // (patterns, exclusions, index, stream, expected)
        type Row<'a> = (&'a [&'a str], &'a [&'a str], &'a str, Option<&'a str>, bool);
        let rows: &[Row] = &[
            (&["logs-*"], &[], "logs-a", None, true),
            (&["logs-*"], &[], "metrics-a", None, false),
            // A backing index matches by its stream's name.
            (
                &["logs-*"],
                &[],
                ".ds-logs-a-2026.12.02-000001",
                Some("logs-a"),
                true,
            ),
            (
                &["logs-a"],
                &[],
                ".ds-logs-a-2026.12.02-000001",
                Some("logs-a"),
                true,
            ),
            (
                &["logs-b"],
                &[],
                ".ds-logs-a-2026.12.02-000001",
                Some("logs-a"),
                false,
            ),
            // Exclusions apply to the stream name too.
            (
                &["logs-*"],
                &["logs-a"],
                ".ds-logs-a-2026.12.02-000001",
                Some("logs-a"),
                false,
            ),
            (
                &["logs-*"],
                &["*-replicated_from_*"],
                ".ds-logs-a-replicated_from_b-2026.12.02-000001",
                Some("logs-a-replicated_from_b"),
                false,
            ),
            // And to the index's own name, which then still matches by the stream (as ES: `matches ||` stream).
            (
                &["*"],
                &[".ds-*"],
                ".ds-logs-a-2026.12.02-000001",
                Some("logs-a"),
                true,
            ),
            (
                &["*"],
                &[".ds-*", "logs-*"],
                ".ds-logs-a-2026.12.02-000001",
                Some("logs-a"),
                false,
            ),
            (&[], &[], "logs-a", Some("logs-a"), false),
        ];
        for (p, e, i, ds, want) in rows {
            assert_eq!(
                pattern_matches(&s(p), &s(e), i, *ds),
                *want,
                "{p:?} {e:?} {i} {ds:?}"
            );
        }
    }

    #[test]
    fn follower_names_as_get_follower_index_name() {
        let leader = ".ds-logs-a-2026.12.02-000003";
        let rows = [
            (None, true, (leader, "logs-a")),
            (None, false, (leader, "logs-a")),
            (
                Some("{{leader_index}}-replicated_from_b"),
                true,
                (
                    ".ds-logs-a-replicated_from_b-2026.12.02-000003",
                    "logs-a-replicated_from_b",
                ),
            ),
            (
                Some("{{leader_index}}-copy"),
                false,
                (".ds-logs-a-2026.12.02-000003-copy", "logs-a"),
            ),
        ];
        for (pattern, renames, (index, stream)) in rows {
            assert_eq!(
                follower_names(pattern, leader, "logs-a", renames),
                (index.to_string(), stream.to_string()),
                "{pattern:?} {renames}"
            );
        }
    }

    fn streams(v: &[(&str, &[&str])]) -> DataStreamsResponse {
        DataStreamsResponse {
            data_streams: v
                .iter()
                .map(|(n, is)| DataStreamInfo {
                    name: n.to_string(),
                    system: false,
                    indices: is
                        .iter()
                        .map(|i| DataStreamBackingIndex {
                            index_name: i.to_string(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn pattern(patterns: &[&str], exclusions: &[&str]) -> AutoFollowSettings {
        AutoFollowSettings {
            cluster: "follower".into(),
            name: "logs".into(),
            remote: "leader".into(),
            leader_index_patterns: s(patterns),
            leader_index_exclusion_patterns: s(exclusions),
            follow_index_pattern: None,
            settings: Default::default(),
            parameters: Default::default(),
            active: None,
        }
    }

    #[test]
    fn only_indices_newer_than_a_followed_one_are_misses() {
        let g = |n: u32| format!(".ds-logs-a-2026.12.02-00000{n}");
        let leader = streams(&[
            ("logs-a", &[&g(1), &g(2), &g(3), &g(4)]),
            ("other", &[".ds-other-2026.12.02-000001"]),
        ]);
        let a = pattern(&["logs-*"], &[]);
        // (followed generations, local backing indices that are no followers, missed generations)
        let rows: &[(&[u32], &[u32], &[u32])] = &[
            // All followed: nothing missed.
            (&[1, 2, 3, 4], &[], &[]),
            // Pattern created after generation 2 (1 and 2 existed): not misses.
            (&[3, 4], &[], &[]),
            // Generation 3 lost its follower: a miss.
            (&[1, 2, 4], &[], &[3]),
            (&[2], &[], &[3, 4]),
            // Nothing followed: the pattern may postdate them all.
            (&[], &[], &[]),
            // A local backing index under the name (unfollowed or promoted) is no miss.
            (&[1, 2, 4], &[3], &[]),
        ];
        for (followed, local, missed) in rows {
            let followed_names: Vec<String> = followed.iter().map(|n| g(*n)).collect();
            let local_names: Vec<String> = local.iter().map(|n| g(*n)).collect();
            let local_refs: Vec<&str> = local_names.iter().map(String::as_str).collect();
            let local = streams(&[("logs-a", &local_refs)]);
            let is_followed = |i: &str| followed_names.iter().any(|f| f == i);
            let got: Vec<String> =
                pattern_misses(&a, "leader", &leader, Some(&local), &is_followed, true)
                    .into_iter()
                    .map(|m| {
                        assert_eq!(m.data_stream, "logs-a");
                        assert_eq!(m.follower_index, m.leader_index);
                        m.leader_index
                    })
                    .collect();
            let want: Vec<String> = missed.iter().map(|n| g(*n)).collect();
            assert_eq!(got, want, "followed {followed:?}");
        }
        // An excluded stream is never a miss.
        let excluded = pattern(&["logs-*"], &["logs-a"]);
        let is_followed = |i: &str| i == g(1);
        assert!(pattern_misses(&excluded, "leader", &leader, None, &is_followed, true).is_empty());
        // A system stream neither (its backing indices are system indices); the same stream otherwise misses 3.
        assert_eq!(
            pattern_misses(&a, "leader", &leader, None, &is_followed, true).len(),
            3
        );
        let mut system = leader.clone();
        system.data_streams[0].system = true;
        assert!(pattern_misses(&a, "leader", &system, None, &is_followed, true).is_empty());
    }
}
