//! The one definition of "caught up": the follower has replicated everything the leader has, and that can be
//! trusted. Doc-count parity uses it to decide whether a count difference is real drift, the `promote` policy
//! to count caught-up evaluations, and the `promote` command to decide whether to cut over.
//!
//! A follower is caught up when it is an active follower, its remote is connected (the leader checkpoints a
//! follower reports are only refreshed by successful reads, so after an outage they can be stale), every shard
//! task runs without a fatal or pending read exception, every shard's follower global checkpoint has reached
//! the leader's, the leader has no operation above its global checkpoint, the leader checkpoints did not move
//! since an earlier look (when there is one), and, when document counts are part of the question, they were
//! compared and are equal.

use crate::es::{FollowerIndexStats, FollowerStatus};

/// One shard follow task, as read from `GET /_ccr/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardLook {
    pub shard_id: i64,
    pub leader_global_checkpoint: i64,
    /// `None` when the source does not carry it.
    pub leader_max_seq_no: Option<i64>,
    pub follower_global_checkpoint: i64,
    /// Pending read exceptions.
    pub read_exceptions: u64,
    /// The fatal exception, summarized.
    pub fatal_exception: Option<String>,
}

impl ShardLook {
    /// The shard follow tasks of one follower index in `GET /_ccr/stats`.
    pub fn from_stats(stats: &FollowerIndexStats) -> Vec<ShardLook> {
        stats
            .shards
            .iter()
            .map(|sh| ShardLook {
                shard_id: sh.shard_id,
                leader_global_checkpoint: sh.leader_global_checkpoint,
                leader_max_seq_no: Some(sh.leader_max_seq_no),
                follower_global_checkpoint: sh.follower_global_checkpoint,
                read_exceptions: sh.read_exceptions.len() as u64,
                fatal_exception: sh.fatal_exception.as_ref().map(|f| f.summary()),
            })
            .collect()
    }
}

/// What is known about the leader and follower document counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Docs {
    /// The question is about replication only (the gate before counts are compared).
    Ignored,
    /// At least one count is unavailable.
    Unknown,
    /// Counted, but not comparable, with the reason.
    NotComparable(String),
    Counted {
        leader: i64,
        follower: i64,
    },
}

/// The facts the predicate looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaughtUp<'a> {
    /// `_ccr/info` status; `None`: not a follower (or unknown).
    pub status: Option<FollowerStatus>,
    pub remote_cluster: &'a str,
    /// Whether the follower cluster's connection to `remote_cluster` is up (unknown counts as not).
    pub remote_connected: bool,
    /// The shard follow tasks; `None` (or empty) when there are no follow stats.
    pub shards: Option<&'a [ShardLook]>,
    /// The lag Elasticsearch reports for the whole follower, when it reports one.
    pub reported_lag: Option<i64>,
    /// The same shards at an earlier look, when the leader must be shown quiet between the two looks.
    pub earlier: Option<&'a [ShardLook]>,
    pub docs: Docs,
}

/// Why a follower is not (shown to be) caught up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCaughtUp {
    #[error("the follower is paused, so it cannot be shown to be caught up")]
    Paused,
    #[error("the index is not an active follower")]
    NotFollower,
    #[error("remote_cluster `{0}` is not connected: the follower's view of the leader is stale")]
    RemoteDisconnected(String),
    #[error("no follow stats for the follower (no running shard tasks)")]
    NoFollowStats,
    #[error("shard {shard} has a fatal exception: {cause}")]
    Fatal { shard: i64, cause: String },
    #[error(
        "shard {0} has pending read exceptions (the follower's view of the leader may be stale)"
    )]
    ReadExceptions(i64),
    #[error("{0} operations behind the leader (operations are still in flight)")]
    Behind(i64),
    #[error("the leader has operations above its global checkpoint (writes in flight)")]
    LeaderAboveCheckpoint,
    #[error("the leader is still receiving writes (it received writes between two looks: its global checkpoint moved)")]
    LeaderMoved,
    #[error("a document count is unavailable")]
    DocsUnknown,
    #[error("document counts not comparable: {0}")]
    DocsNotComparable(String),
    #[error("leader has {leader} documents, follower {follower} (difference {})", leader.saturating_sub(*follower))]
    DocsDiffer { leader: i64, follower: i64 },
}

/// `Ok` when the follower is caught up (see the module doc), otherwise the first reason it is not.
pub fn caught_up(c: &CaughtUp) -> Result<(), NotCaughtUp> {
    match c.status {
        Some(FollowerStatus::Active) => {}
        Some(FollowerStatus::Paused) => return Err(NotCaughtUp::Paused),
        _ => return Err(NotCaughtUp::NotFollower),
    }
    if !c.remote_connected {
        return Err(NotCaughtUp::RemoteDisconnected(
            c.remote_cluster.to_string(),
        ));
    }
    let shards = match c.shards {
        Some(s) if !s.is_empty() || c.reported_lag.is_some() => s,
        _ => return Err(NotCaughtUp::NoFollowStats),
    };
    if let Some(sh) = shards.iter().find(|s| s.fatal_exception.is_some()) {
        return Err(NotCaughtUp::Fatal {
            shard: sh.shard_id,
            cause: sh.fatal_exception.clone().unwrap_or_default(),
        });
    }
    if let Some(sh) = shards.iter().find(|s| s.read_exceptions > 0) {
        return Err(NotCaughtUp::ReadExceptions(sh.shard_id));
    }
    let computed: i64 = shards
        .iter()
        .map(|s| {
            s.leader_global_checkpoint
                .saturating_sub(s.follower_global_checkpoint)
                .max(0)
        })
        .fold(0, i64::saturating_add);
    let lag = computed.max(c.reported_lag.unwrap_or(0));
    if lag > 0 {
        return Err(NotCaughtUp::Behind(lag));
    }
    if shards.iter().any(|s| {
        s.leader_max_seq_no
            .is_some_and(|m| m > s.leader_global_checkpoint)
    }) {
        return Err(NotCaughtUp::LeaderAboveCheckpoint);
    }
    if let Some(earlier) = c.earlier {
        let moved = shards.iter().any(|s| {
            earlier
                .iter()
                .find(|e| e.shard_id == s.shard_id)
                .map_or(true, |e| {
                    e.leader_global_checkpoint != s.leader_global_checkpoint
                })
        });
        if moved {
            return Err(NotCaughtUp::LeaderMoved);
        }
    }
    match &c.docs {
        Docs::Ignored => Ok(()),
        Docs::Unknown => Err(NotCaughtUp::DocsUnknown),
        Docs::NotComparable(why) => Err(NotCaughtUp::DocsNotComparable(why.clone())),
        Docs::Counted { leader, follower } if leader == follower => Ok(()),
        Docs::Counted { leader, follower } => Err(NotCaughtUp::DocsDiffer {
            leader: *leader,
            follower: *follower,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(leader: i64, follower: i64) -> ShardLook {
        ShardLook {
            shard_id: 0,
            leader_global_checkpoint: leader,
            leader_max_seq_no: Some(leader),
            follower_global_checkpoint: follower,
            ..Default::default()
        }
    }

    #[test]
    fn every_reason() {
        let quiet = [shard(9, 9)];
        let base = CaughtUp {
            status: Some(FollowerStatus::Active),
            remote_cluster: "leader",
            remote_connected: true,
            shards: Some(&quiet),
            reported_lag: None,
            earlier: Some(&quiet),
            docs: Docs::Counted {
                leader: 10,
                follower: 10,
            },
        };
        let behind = [shard(12, 9)];
        let above = [ShardLook {
            leader_max_seq_no: Some(11),
            ..shard(9, 9)
        }];
        let moved = [shard(8, 8)];
        let other_shard = [ShardLook {
            shard_id: 1,
            ..shard(9, 9)
        }];
        let fatal = [ShardLook {
            fatal_exception: Some("boom".into()),
            ..shard(9, 9)
        }];
        let reading = [ShardLook {
            read_exceptions: 2,
            ..shard(9, 9)
        }];
        let ahead = [shard(9, 11)];
        let cases: Vec<(&str, CaughtUp, Result<(), NotCaughtUp>, &str)> = vec![
            ("caught up", base.clone(), Ok(()), ""),
            (
                "ignoring the counts",
                CaughtUp {
                    docs: Docs::Ignored,
                    ..base.clone()
                },
                Ok(()),
                "",
            ),
            (
                "follower ahead of a stale leader checkpoint",
                CaughtUp {
                    shards: Some(&ahead),
                    earlier: Some(&ahead),
                    ..base.clone()
                },
                Ok(()),
                "",
            ),
            (
                "no earlier look",
                CaughtUp {
                    earlier: None,
                    ..base.clone()
                },
                Ok(()),
                "",
            ),
            (
                "paused",
                CaughtUp {
                    status: Some(FollowerStatus::Paused),
                    ..base.clone()
                },
                Err(NotCaughtUp::Paused),
                "paused",
            ),
            (
                "not a follower",
                CaughtUp {
                    status: None,
                    ..base.clone()
                },
                Err(NotCaughtUp::NotFollower),
                "not an active follower",
            ),
            (
                "status not understood",
                CaughtUp {
                    status: Some(FollowerStatus::Unknown),
                    ..base.clone()
                },
                Err(NotCaughtUp::NotFollower),
                "not an active follower",
            ),
            (
                "remote down",
                CaughtUp {
                    remote_connected: false,
                    ..base.clone()
                },
                Err(NotCaughtUp::RemoteDisconnected("leader".into())),
                "remote_cluster `leader` is not connected",
            ),
            (
                "no stats",
                CaughtUp {
                    shards: None,
                    ..base.clone()
                },
                Err(NotCaughtUp::NoFollowStats),
                "no follow stats",
            ),
            (
                "empty stats",
                CaughtUp {
                    shards: Some(&[]),
                    ..base.clone()
                },
                Err(NotCaughtUp::NoFollowStats),
                "no running shard tasks",
            ),
            (
                "fatal",
                CaughtUp {
                    shards: Some(&fatal),
                    ..base.clone()
                },
                Err(NotCaughtUp::Fatal {
                    shard: 0,
                    cause: "boom".into(),
                }),
                "shard 0 has a fatal exception: boom",
            ),
            (
                "read exceptions",
                CaughtUp {
                    shards: Some(&reading),
                    ..base.clone()
                },
                Err(NotCaughtUp::ReadExceptions(0)),
                "pending read exceptions",
            ),
            (
                "behind",
                CaughtUp {
                    shards: Some(&behind),
                    ..base.clone()
                },
                Err(NotCaughtUp::Behind(3)),
                "3 operations behind the leader",
            ),
            (
                "behind by the reported lag",
                CaughtUp {
                    shards: Some(&[]),
                    reported_lag: Some(7),
                    ..base.clone()
                },
                Err(NotCaughtUp::Behind(7)),
                "7 operations behind",
            ),
            (
                "operations above the leader checkpoint",
                CaughtUp {
                    shards: Some(&above),
                    earlier: Some(&above),
                    ..base.clone()
                },
                Err(NotCaughtUp::LeaderAboveCheckpoint),
                "above its global checkpoint",
            ),
            (
                "leader moved",
                CaughtUp {
                    earlier: Some(&moved),
                    ..base.clone()
                },
                Err(NotCaughtUp::LeaderMoved),
                "received writes",
            ),
            (
                "shard missing from the earlier look",
                CaughtUp {
                    earlier: Some(&other_shard),
                    ..base.clone()
                },
                Err(NotCaughtUp::LeaderMoved),
                "still receiving writes",
            ),
            (
                "counts unknown",
                CaughtUp {
                    docs: Docs::Unknown,
                    ..base.clone()
                },
                Err(NotCaughtUp::DocsUnknown),
                "a document count is unavailable",
            ),
            (
                "counts not comparable",
                CaughtUp {
                    docs: Docs::NotComparable("writes in flight".into()),
                    ..base.clone()
                },
                Err(NotCaughtUp::DocsNotComparable("writes in flight".into())),
                "document counts not comparable: writes in flight",
            ),
            (
                "counts differ",
                CaughtUp {
                    docs: Docs::Counted {
                        leader: 10,
                        follower: 8,
                    },
                    ..base.clone()
                },
                Err(NotCaughtUp::DocsDiffer {
                    leader: 10,
                    follower: 8,
                }),
                "leader has 10 documents, follower 8 (difference 2)",
            ),
        ];
        for (name, input, want, words) in cases {
            let got = caught_up(&input);
            assert_eq!(got, want, "{name}");
            if let Err(e) = got {
                assert!(e.to_string().contains(words), "{name}: {e}");
            }
        }
    }
}
