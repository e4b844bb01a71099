//! Replication in time (pure): the lag in seconds interpolated from the per-shard history of sequence numbers,
//! the catch-up ETA, the RPO, the operations at risk, the graded status over a window and the retention-lease
//! margin.
//!
//! The rules are adapted from monitors of other replicated logs:
//! - **lag in seconds** (Kafka Lag Exporter's lookup table): each poll stores the leader shard's global checkpoint
//!   with the poll's time; the lag is the time between the newest sample and the moment the leader's checkpoint
//!   reached the follower's checkpoint + 1, interpolated linearly between the two samples that bracket it. A
//!   follower at or past the leader's checkpoint has a lag of 0 whatever the time since the leader's last write
//!   (postgres_exporter's idle fix: an idle leader never shows growing lag). When the operation is older than the
//!   oldest sample, the lag is the ring's span, flagged as a lower bound (klag), never extrapolated backwards.
//!   Interpolation assumes a steady write rate between two polls: a burst right before a poll reads as written
//!   earlier, so the estimate errs towards more lag.
//! - **grade** (Burrow's evaluation rules, on checkpoints): over the last [`GRADE_WINDOW`] samples, in order:
//!   `rewound` if a checkpoint went backwards (the leader index was restored or recreated), `ok` if any sample
//!   was caught up, `stopped` if no sample came for longer than the window spans, `stalled` if the follower's
//!   checkpoint did not move while behind, `falling_behind` if it moved but the gap never shrank and grew,
//!   otherwise `ok`. A window with fewer samples is incomplete: a freshly started daemon neither pages nor
//!   claims health it has not seen.
//! - **RPO**: the seconds of leader writes lost if the leader died now, at most the worst shard's lag plus the
//!   time since that shard's newest sample.

use serde::Serialize;

use crate::observe::{FollowerLagHistory, LagRing, LagSample, LagSource};

/// Samples a shard's grade is computed over (Burrow's default of 10 intervals).
pub const GRADE_WINDOW: usize = 10;

/// `index.soft_deletes.retention_lease.period` when the leader index does not set it (ES `IndexSettings`: 12h).
pub const DEFAULT_RETENTION_LEASE_PERIOD_MS: i64 = 12 * 3600 * 1000;

/// The lag in time of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeLag {
    pub seconds: f64,
    /// The operation the follower waits for is older than the history: the true lag is at least `seconds`.
    pub lower_bound: bool,
}

/// The graded status of a shard or a follower, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Ok,
    FallingBehind,
    Stalled,
    Stopped,
    Rewound,
}

impl Grade {
    /// Every grade, in the order of the `grade` label series.
    pub const ALL: [Grade; 5] = [
        Grade::Ok,
        Grade::FallingBehind,
        Grade::Stalled,
        Grade::Stopped,
        Grade::Rewound,
    ];

    /// The `grade` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Ok => "ok",
            Grade::FallingBehind => "falling_behind",
            Grade::Stalled => "stalled",
            Grade::Stopped => "stopped",
            Grade::Rewound => "rewound",
        }
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The oldest sample since the last time the leader's checkpoint went backwards: history before a rewind says
/// nothing about when the current operations were written. Found from the newest sample back, stopping at the
/// first sample whose predecessor is higher.
fn first_since_rewind(ring: &LagRing) -> Option<LagSample> {
    let mut back = ring.rev();
    let mut first = back.next()?;
    for p in back {
        if p.leader_checkpoint > first.leader_checkpoint {
            break;
        }
        first = p;
    }
    Some(first)
}

/// The oldest sample since the last rewind whose leader checkpoint reached `target`, with the sample before it
/// when that one is since the rewind too, found from the newest sample back: the leader's checkpoints do not
/// decrease since the rewind, so the walk stops at the bracket, usually a sample or two back, or at the rewind.
/// `None` when the newest sample has not reached `target`.
fn bracket(ring: &LagRing, target: i64) -> Option<(LagSample, Option<LagSample>)> {
    let mut back = ring.rev();
    let mut s = back.next()?;
    if s.leader_checkpoint < target {
        return None;
    }
    for p in back {
        if p.leader_checkpoint > s.leader_checkpoint {
            // `s` is the first sample after the rewind.
            return Some((s, None));
        }
        if p.leader_checkpoint < target {
            return Some((s, Some(p)));
        }
        s = p;
    }
    Some((s, None))
}

/// Operations the follower shard still has to read at `s`, never negative.
fn ops_lag(s: &LagSample) -> i64 {
    s.leader_checkpoint
        .saturating_sub(s.follower_checkpoint.max(-1))
        .max(0)
}

/// The lag in time of one shard as of its newest sample; `None` without samples.
pub fn time_lag(ring: &LagRing) -> Option<TimeLag> {
    let last = ring.last()?;
    if last.follower_checkpoint >= last.leader_checkpoint {
        return Some(TimeLag {
            seconds: 0.0,
            lower_bound: false,
        });
    }
    let target = last.follower_checkpoint.max(-1).saturating_add(1);
    let Some((s, prev)) = bracket(ring, target) else {
        // The newest sample is behind and has not reached the target (a hostile or inconsistent body): the
        // history since the rewind bounds the lag, kept total for safety.
        return first_since_rewind(ring).map(|f| TimeLag {
            seconds: ((last.at_ms - f.at_ms) as f64 / 1000.0).max(0.0),
            lower_bound: true,
        });
    };
    let reached_ms = match prev {
        None => {
            // Older than the history: the oldest sample bounds it, nothing is extrapolated.
            let span = (last.at_ms - s.at_ms) as f64 / 1000.0;
            return Some(TimeLag {
                seconds: span.max(0.0),
                lower_bound: true,
            });
        }
        Some(p) => {
            let ops = (s.leader_checkpoint - p.leader_checkpoint) as f64;
            let part = (target - p.leader_checkpoint) as f64 / ops;
            p.at_ms as f64 + part * (s.at_ms - p.at_ms) as f64
        }
    };
    let seconds = (last.at_ms as f64 - reached_ms) / 1000.0;
    Some(TimeLag {
        seconds: seconds.max(0.0),
        lower_bound: false,
    })
}

/// The last [`GRADE_WINDOW`] samples, copied into `buf` (no allocation per shard and report).
fn window<'b>(ring: &LagRing, buf: &'b mut [LagSample; GRADE_WINDOW]) -> &'b [LagSample] {
    let n = ring.len().min(GRADE_WINDOW);
    // From the newest sample back: only the window is decoded.
    for (slot, s) in buf[..n].iter_mut().rev().zip(ring.rev()) {
        *slot = s;
    }
    &buf[..n]
}

/// Seconds until a shard catches up at the rates seen over the window: only while the gap is closing.
pub fn catchup_eta(ring: &LagRing) -> Option<f64> {
    let mut buf = [LagSample::default(); GRADE_WINDOW];
    let w = window(ring, &mut buf);
    let (first, last) = (w.first()?, w.last()?);
    let gap = ops_lag(last);
    let dt = (last.at_ms - first.at_ms) as f64 / 1000.0;
    if gap == 0 || dt <= 0.0 {
        return None;
    }
    let follower_rate = (last.follower_checkpoint - first.follower_checkpoint) as f64 / dt;
    let leader_rate = (last.leader_checkpoint - first.leader_checkpoint) as f64 / dt;
    let closing = follower_rate - leader_rate;
    (closing > 0.0).then(|| gap as f64 / closing)
}

/// The grade of one shard at `now_ms`, and whether its window is complete.
pub fn grade(ring: &LagRing, now_ms: i64) -> (Grade, bool) {
    let mut buf = [LagSample::default(); GRADE_WINDOW];
    let w = window(ring, &mut buf);
    let complete = w.len() >= GRADE_WINDOW;
    let (Some(first), Some(last)) = (w.first(), w.last()) else {
        return (Grade::Ok, false);
    };
    let pairs = || w.windows(2).map(|p| (&p[0], &p[1]));
    if pairs().any(|(a, b)| {
        b.leader_checkpoint < a.leader_checkpoint || b.follower_checkpoint < a.follower_checkpoint
    }) {
        return (Grade::Rewound, complete);
    }
    if w.iter().any(|s| ops_lag(s) == 0) {
        return (Grade::Ok, complete);
    }
    if w.len() > 1 && now_ms - last.at_ms > last.at_ms - first.at_ms {
        return (Grade::Stopped, complete);
    }
    if w.iter()
        .all(|s| s.follower_checkpoint == first.follower_checkpoint)
    {
        return (Grade::Stalled, complete);
    }
    if pairs().all(|(a, b)| ops_lag(b) >= ops_lag(a)) && ops_lag(last) > ops_lag(first) {
        return (Grade::FallingBehind, complete);
    }
    (Grade::Ok, complete)
}

/// A follower in time: its worst shard, the catch-up ETA, the RPO and the grade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowerTime {
    /// The worst shard's lag in seconds.
    pub lag_seconds: f64,
    /// The worst shard's lag is a lower bound (older than the kept history).
    pub lag_lower_bound: bool,
    /// Where the leader's sequence numbers come from.
    pub lag_source: LagSource,
    /// Seconds until caught up, only while every lagging shard is closing its gap.
    pub catchup_eta_seconds: Option<f64>,
    /// Seconds of leader writes lost if the leader died now: the worst shard's lag plus the time since its
    /// newest sample.
    pub rpo_seconds: f64,
    /// Operations on the leader (up to its global checkpoint) that the follower has not got.
    pub ops_at_risk: i64,
    /// The worst shard's grade.
    pub grade: Grade,
    /// The share of shards with a full window; below 1 the grade has not seen enough to judge.
    pub completeness: f64,
    /// Seconds before the earliest of the follower's retention leases on the leader expires, when the leader's
    /// shard stats show them.
    pub retention_lease_margin_seconds: Option<f64>,
    /// The leader's `index.soft_deletes.retention_lease.period` used for the margin, in seconds.
    pub retention_lease_period_seconds: f64,
}

/// The follower's time view from its history at `now_ms`; `None` without any sample.
pub fn follower_time(h: &FollowerLagHistory, now_ms: i64) -> Option<FollowerTime> {
    let mut out: Option<FollowerTime> = None;
    let (mut closing, mut all_closing, mut complete) = (0.0f64, true, 0usize);
    for ring in h.shards.values() {
        let (Some(lag), Some(last)) = (time_lag(ring), ring.last()) else {
            continue;
        };
        let (g, full) = grade(ring, now_ms);
        complete += usize::from(full);
        let gap = ops_lag(&last);
        if gap > 0 {
            match catchup_eta(ring) {
                Some(eta) => closing = closing.max(eta),
                None => all_closing = false,
            }
        }
        let rpo = lag.seconds + ((now_ms - last.at_ms) as f64 / 1000.0).max(0.0);
        let o = out.get_or_insert(FollowerTime {
            lag_seconds: 0.0,
            lag_lower_bound: false,
            lag_source: h.source,
            catchup_eta_seconds: None,
            rpo_seconds: 0.0,
            ops_at_risk: 0,
            grade: Grade::Ok,
            completeness: 0.0,
            retention_lease_margin_seconds: None,
            retention_lease_period_seconds: DEFAULT_RETENTION_LEASE_PERIOD_MS as f64 / 1000.0,
        });
        if lag.seconds > o.lag_seconds || (lag.seconds == o.lag_seconds && lag.lower_bound) {
            o.lag_seconds = lag.seconds;
            o.lag_lower_bound = lag.lower_bound;
        }
        o.rpo_seconds = o.rpo_seconds.max(rpo);
        o.ops_at_risk = o.ops_at_risk.saturating_add(gap);
        o.grade = o.grade.max(g);
    }
    let shards = h.shards.len().max(1);
    out.map(|mut o| {
        o.completeness = complete as f64 / shards as f64;
        o.catchup_eta_seconds = (o.ops_at_risk > 0 && all_closing).then_some(closing);
        o
    })
}

/// Seconds before a lease last renewed at `timestamp_ms` expires at `now_ms` (ES `ReplicationTracker`: a lease
/// expires once `timestamp + period` has passed); negative once expired; `None` without a lease seen.
pub fn lease_margin_seconds(timestamp_ms: Option<i64>, period_ms: i64, now_ms: i64) -> Option<f64> {
    timestamp_ms.map(|ts| ts.saturating_add(period_ms).saturating_sub(now_ms) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample `(seconds, leader checkpoint, follower checkpoint)`.
    type Sample = (i64, i64, i64);

    /// Samples `(seconds, leader checkpoint, follower checkpoint)`.
    fn ring(samples: &[Sample]) -> LagRing {
        LagRing::from_samples(samples.iter().map(|&(t, l, f)| LagSample {
            at_ms: t * 1000,
            leader_checkpoint: l,
            follower_checkpoint: f,
        }))
    }

    #[test]
    fn time_lag_table() {
        let cases: &[(&str, Vec<Sample>, f64, bool)] = &[
            ("caught up", vec![(0, 10, 10), (10, 20, 20)], 0.0, false),
            (
                "idle leader: no growing lag however long since its last write",
                vec![(0, 50, 50), (600, 50, 50), (3600, 50, 50)],
                0.0,
                false,
            ),
            (
                "no operation yet on either side",
                vec![(0, -1, -1), (10, -1, -1)],
                0.0,
                false,
            ),
            (
                // 10 ops/s: op 61, the first the follower lacks, was written at t=6.1; the newest sample is at t=10.
                "interpolated between the bracketing samples",
                vec![(0, 0, 0), (10, 100, 60)],
                3.9,
                false,
            ),
            (
                "steady writes, the follower 24.9 s behind",
                vec![
                    (0, 0, 0),
                    (10, 100, 0),
                    (20, 200, 0),
                    (30, 300, 50),
                    (40, 400, 150),
                ],
                24.9,
                false,
            ),
            (
                "older than the ring: a lower bound, never extrapolated backwards",
                vec![(100, 500, 10), (110, 600, 10), (120, 700, 10)],
                20.0,
                true,
            ),
            (
                "one sample behind: a lower bound of 0",
                vec![(0, 10, 5)],
                0.0,
                true,
            ),
            (
                "after a rewind the older history is ignored",
                vec![(0, 1000, 900), (10, 5, 0), (20, 15, 4)],
                10.0,
                true,
            ),
            (
                "follower past a stale leader view is caught up",
                vec![(0, 10, 12)],
                0.0,
                false,
            ),
        ];
        for (name, samples, seconds, lower_bound) in cases {
            let l = time_lag(&ring(samples)).unwrap();
            assert!(
                (l.seconds - seconds).abs() < 1e-9 && l.lower_bound == *lower_bound,
                "{name}: {l:?}"
            );
        }
        assert_eq!(time_lag(&LagRing::default()), None);
    }

    #[test]
    fn the_ring_is_bounded_and_time_only_moves_forward() {
        let mut r = LagRing::default();
        for i in 0..(crate::observe::LAG_RING_CAPACITY as i64 * 3) {
            r.push(LagSample {
                at_ms: i * 1000,
                leader_checkpoint: i,
                follower_checkpoint: i,
            });
        }
        assert_eq!(r.len(), crate::observe::LAG_RING_CAPACITY);
        assert_eq!(r.get(0).unwrap().at_ms, 120_000);
        let before = r.clone();
        r.push(LagSample {
            at_ms: 0,
            leader_checkpoint: 1,
            follower_checkpoint: 0,
        });
        assert_eq!(r.len(), crate::observe::LAG_RING_CAPACITY);
        assert_eq!(
            r.last().unwrap().at_ms,
            179_000,
            "an older time is not appended"
        );
        let replaced: Vec<LagSample> = r.iter().collect();
        let mut expected: Vec<LagSample> = before.iter().collect();
        expected[crate::observe::LAG_RING_CAPACITY - 1] = LagSample {
            at_ms: 179_000,
            leader_checkpoint: 1,
            follower_checkpoint: 0,
        };
        assert_eq!(replaced, expected, "the newest sample is replaced in place");
    }

    #[test]
    fn the_ring_keeps_samples_exact_whatever_their_distance() {
        let day_ms = 24 * 3600 * 1000;
        let samples = [
            (0, -1, -1),
            (5_000, 10, 3),
            (40 * day_ms, 3_000_000_000, 5),
            (41 * day_ms, 3_000_000_010, 3_000_000_000),
            (42 * day_ms, i64::MAX, i64::MIN),
            (43 * day_ms, 7, 7),
        ];
        let sample =
            |&(at_ms, leader_checkpoint, follower_checkpoint): &(i64, i64, i64)| LagSample {
                at_ms,
                leader_checkpoint,
                follower_checkpoint,
            };
        let mut r = LagRing::default();
        for (n, s) in samples.iter().enumerate() {
            r.push(sample(s));
            let kept: Vec<LagSample> = r.iter().collect();
            let want: Vec<LagSample> = samples[..=n].iter().map(sample).collect();
            assert_eq!(kept, want, "after {} samples", n + 1);
            assert_eq!(r.last(), Some(sample(s)));
        }
        assert_eq!(r, LagRing::from_samples(samples.iter().map(sample)));
    }

    #[test]
    fn grade_table() {
        let steady = |f: &dyn Fn(i64) -> (i64, i64)| -> Vec<(i64, i64, i64)> {
            (0..10)
                .map(|i| {
                    let (l, fo) = f(i);
                    (i * 10, l, fo)
                })
                .collect()
        };
        let now = 95;
        let cases: Vec<(&str, Vec<Sample>, i64, Grade, bool)> = vec![
            (
                "caught up",
                steady(&|i| (i * 10, i * 10)),
                now,
                Grade::Ok,
                true,
            ),
            (
                "behind but closing the gap",
                steady(&|i| (100 + i * 10, i * 20)),
                now,
                Grade::Ok,
                true,
            ),
            (
                "falling behind: moving, gap never shrinks and grows",
                steady(&|i| (10 + i * 20, i * 10)),
                now,
                Grade::FallingBehind,
                true,
            ),
            (
                "behind by a constant gap is not falling behind",
                steady(&|i| (10 + i * 10, i * 10)),
                now,
                Grade::Ok,
                true,
            ),
            (
                "stalled: the follower checkpoint does not move while behind",
                steady(&|i| (50 + i, 40)),
                now,
                Grade::Stalled,
                true,
            ),
            (
                "one caught-up sample in the window is ok (Burrow rule 1)",
                steady(&|i| (30 + i, (30 + i).min(33))),
                now,
                Grade::Ok,
                true,
            ),
            (
                "stopped: no sample for longer than the window spans",
                steady(&|i| (50 + i * 10, 40 + i)),
                90 + 91,
                Grade::Stopped,
                true,
            ),
            (
                "rewound: the leader checkpoint went backwards",
                steady(&|i| if i < 5 { (100, 100) } else { (3, 3) }),
                now,
                Grade::Rewound,
                true,
            ),
            (
                "incomplete window after a restart",
                vec![(0, 50, 40), (10, 60, 40)],
                15,
                Grade::Stalled,
                false,
            ),
        ];
        for (name, samples, now_s, want, complete) in cases {
            assert_eq!(
                grade(&ring(&samples), now_s * 1000),
                (want, complete),
                "{name}"
            );
        }
        assert_eq!(grade(&LagRing::default(), 0), (Grade::Ok, false));
    }

    /// The readers as they read whole samples by index, oldest first: the bracket and the window found by index
    /// from the newest sample back.
    mod by_index {
        use super::*;

        pub fn time_lag(w: &[LagSample]) -> Option<TimeLag> {
            let last = *w.last()?;
            if last.follower_checkpoint >= last.leader_checkpoint {
                return Some(TimeLag {
                    seconds: 0.0,
                    lower_bound: false,
                });
            }
            let target = last.follower_checkpoint.max(-1).saturating_add(1);
            let start = (1..w.len())
                .rev()
                .find(|&i| w[i].leader_checkpoint < w[i - 1].leader_checkpoint)
                .unwrap_or(0);
            let lower = |f: &LagSample| TimeLag {
                seconds: ((last.at_ms - f.at_ms) as f64 / 1000.0).max(0.0),
                lower_bound: true,
            };
            if last.leader_checkpoint < target {
                return Some(lower(&w[start]));
            }
            let mut i = w.len() - 1;
            while i > 0 {
                let (s, p) = (w[i], w[i - 1]);
                if p.leader_checkpoint > s.leader_checkpoint {
                    return Some(lower(&s));
                }
                if p.leader_checkpoint < target {
                    let part = (target - p.leader_checkpoint) as f64
                        / (s.leader_checkpoint - p.leader_checkpoint) as f64;
                    let reached = p.at_ms as f64 + part * (s.at_ms - p.at_ms) as f64;
                    return Some(TimeLag {
                        seconds: ((last.at_ms as f64 - reached) / 1000.0).max(0.0),
                        lower_bound: false,
                    });
                }
                i -= 1;
            }
            Some(lower(&w[0]))
        }
    }

    proptest::proptest! {
        /// Histories with writes, stalls, rewinds and repeated poll times: the compact ring's answers are the
        /// ones read from whole samples by index.
        #[test]
        fn the_ring_answers_as_whole_samples_read_by_index(
            steps in proptest::collection::vec(
                (0i64..8_000, -50i64..400, -50i64..400, 0u8..20),
                1..150,
            ),
        ) {
            let mut whole: Vec<LagSample> = Vec::new();
            let mut r = LagRing::default();
            let (mut at, mut l, mut f) = (1_700_000_000_000i64, 1_000i64, 900i64);
            for (dt, dl, df, kind) in steps {
                at += dt;
                (l, f) = match kind {
                    0 => (l / 3, f / 4),
                    1 => (l + 3_000_000_000, f),
                    _ => ((l + dl).max(-1), (f + df).max(-1)),
                };
                let s = LagSample { at_ms: at, leader_checkpoint: l, follower_checkpoint: f };
                match whole.last().copied() {
                    Some(last) if at <= last.at_ms => {
                        *whole.last_mut().unwrap() = LagSample { at_ms: last.at_ms, ..s };
                    }
                    _ => whole.push(s),
                }
                if whole.len() > crate::observe::LAG_RING_CAPACITY {
                    whole.remove(0);
                }
                r.push(s);
                let lag = |t: Option<TimeLag>| t.map(|t| (t.seconds.to_bits(), t.lower_bound));
                proptest::prop_assert_eq!(lag(time_lag(&r)), lag(by_index::time_lag(&whole)));
                let newest = &whole[whole.len().saturating_sub(GRADE_WINDOW)..];
                let mut buf = [LagSample::default(); GRADE_WINDOW];
                proptest::prop_assert_eq!(window(&r, &mut buf), newest);
                let first = first_since_rewind(&r);
                let start = (1..whole.len())
                    .rev()
                    .find(|&i| whole[i].leader_checkpoint < whole[i - 1].leader_checkpoint)
                    .unwrap_or(0);
                proptest::prop_assert_eq!(first, whole.get(start).copied());
            }
        }
    }

    #[test]
    fn eta_only_while_closing() {
        // The leader writes 10/s, the follower reads 15/s: the gap of 50 closes in 10 s.
        let closing = ring(&[(0, 100, 0), (10, 200, 150)]);
        assert_eq!(catchup_eta(&closing), Some(10.0));
        let falling = ring(&[(0, 100, 0), (10, 300, 100)]);
        assert_eq!(catchup_eta(&falling), None);
        let caught_up = ring(&[(0, 100, 100), (10, 200, 200)]);
        assert_eq!(catchup_eta(&caught_up), None);
    }

    #[test]
    fn follower_time_is_the_worst_shard_and_counts_completeness() {
        let mut h = FollowerLagHistory::default();
        h.shards.insert(0, ring(&[(0, 0, 0), (10, 100, 60)]));
        h.shards.insert(1, ring(&[(0, 5, 5), (10, 5, 5)]));
        let full: Vec<(i64, i64, i64)> = (0..10).map(|i| (i, 5, 5)).collect();
        h.shards.insert(2, ring(&full));
        let t = follower_time(&h, 12_000).unwrap();
        assert!((t.lag_seconds - 3.9).abs() < 1e-9, "{t:?}");
        assert!(!t.lag_lower_bound);
        assert!(
            (t.rpo_seconds - 5.9).abs() < 1e-9,
            "3.9 s of lag + 2 s since the poll: {t:?}"
        );
        assert_eq!(t.ops_at_risk, 40);
        assert!((t.completeness - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(t.catchup_eta_seconds, None, "shard 0 is not closing");
        assert_eq!(follower_time(&FollowerLagHistory::default(), 0), None);
    }

    #[test]
    fn lease_margin_counts_down_and_goes_negative() {
        let m = lease_margin_seconds(Some(1_000), DEFAULT_RETENTION_LEASE_PERIOD_MS, 3_601_000);
        assert_eq!(m, Some(11.0 * 3600.0));
        assert_eq!(lease_margin_seconds(Some(1_000), 1_000, 3_000), Some(-1.0));
        assert_eq!(lease_margin_seconds(None, 1, 1), None);
        assert_eq!(
            lease_margin_seconds(Some(i64::MAX), i64::MAX, i64::MIN).map(|m| m > 0.0),
            Some(true)
        );
    }
}
