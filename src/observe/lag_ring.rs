//! The bounded sequence-number history of one follower shard, stored compactly.
//!
//! A daemon keeps one ring per follower shard (10,000 at 2,000 followers of 5 shards), so a ring stores its
//! newest sample whole and every older one as the difference to the sample after it, each difference a zigzag
//! LEB128 varint: polls come at a steady interval (the change of the time step is a byte) and checkpoints move
//! little between polls (a byte or two each), so a sample usually takes 3 to 5 bytes instead of 24. Differences
//! are taken with wrapping arithmetic, so every `i64` history is kept exactly, however far apart its samples.
//! The readers walk the ring from its newest sample back ([`LagRing::rev`]), which a LEB128 stream allows: a
//! value's last byte is the only one without the continuation bit.

use serde::Serialize;

/// How many polls of history a follower shard keeps: the lag in time is interpolated within this span, and is a
/// lower bound beyond it (60 polls, as Kafka Lag Exporter's lookup table).
pub const LAG_RING_CAPACITY: usize = 60;

/// One poll's sequence numbers of one follower shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LagSample {
    /// When the poll started, epoch millis of the daemon's clock.
    pub at_ms: i64,
    /// The leader shard's global checkpoint: the highest operation a follower can have read.
    pub leader_checkpoint: i64,
    /// The follower shard's global checkpoint.
    pub follower_checkpoint: i64,
}

/// A bounded ring of [`LagSample`]s, oldest first, at most [`LAG_RING_CAPACITY`] of them.
///
/// `deltas` holds one entry per sample but the newest, oldest first: for sample `i` (from the second kept one
/// on) the change of the time step (`dt(i) - dt(i - 1)`, `dt(i)` being `at(i) - at(i - 1)`), then the leader's
/// and the follower's checkpoint minus those of sample `i - 1`. Walking back from `last` with `last_dt` undoes
/// them one by one; dropping the oldest sample drops the first entry and changes nothing else.
#[derive(Debug, Clone, Default)]
pub struct LagRing {
    /// The newest sample (meaningless while `len` is 0).
    last: LagSample,
    /// `last.at_ms` minus the time of the sample before it (0 with fewer than two samples).
    last_dt: i64,
    len: u8,
    deltas: Vec<u8>,
}

impl PartialEq for LagRing {
    fn eq(&self, other: &Self) -> bool {
        self.rev().eq(other.rev())
    }
}

impl Eq for LagRing {}

/// Room a growing ring takes beyond what its next entry needs: a few entries, so a ring whose entries change
/// size by a byte or two as it turns over is not reallocated every poll, without the doubling `Vec` does.
const SLACK: usize = 16;

impl LagRing {
    /// A ring holding `samples` (the newest [`LAG_RING_CAPACITY`] of them).
    pub fn from_samples(samples: impl IntoIterator<Item = LagSample>) -> Self {
        let mut r = Self::default();
        for s in samples {
            r.push(s);
        }
        r
    }

    /// Appends a sample, dropping the oldest when full. A sample no newer than the last one replaces it (two
    /// reads in the same millisecond say the same thing; time never goes backwards in the ring).
    pub fn push(&mut self, s: LagSample) {
        if let Some(last) = self.last() {
            if s.at_ms <= last.at_ms {
                self.replace_last(LagSample {
                    at_ms: last.at_ms,
                    ..s
                });
                return;
            }
        }
        if self.len() == LAG_RING_CAPACITY {
            self.pop_front();
        }
        if self.len == 0 {
            (self.last, self.last_dt, self.len) = (s, 0, 1);
            return;
        }
        let dt = s.at_ms.wrapping_sub(self.last.at_ms);
        self.append(
            dt.wrapping_sub(self.last_dt),
            s.leader_checkpoint
                .wrapping_sub(self.last.leader_checkpoint),
            s.follower_checkpoint
                .wrapping_sub(self.last.follower_checkpoint),
        );
        (self.last, self.last_dt) = (s, dt);
        self.len += 1;
    }

    /// The number of samples.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The newest sample.
    pub fn last(&self) -> Option<LagSample> {
        (self.len > 0).then_some(self.last)
    }

    /// The samples, newest first: each one costs three varints to decode, so a reader that needs only the
    /// newest few stops early.
    pub fn rev(&self) -> Rev<'_> {
        Rev {
            next: self.last,
            dt: self.last_dt,
            end: self.deltas.len(),
            left: self.len(),
            deltas: &self.deltas,
        }
    }

    /// The samples, oldest first (decoded at once, into an array on the stack).
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = LagSample> + ExactSizeIterator + Clone + '_ {
        let mut all = [LagSample::default(); LAG_RING_CAPACITY];
        let n = self.len();
        for (slot, s) in all[..n].iter_mut().rev().zip(self.rev()) {
            *slot = s;
        }
        all.into_iter().take(n)
    }

    /// The `i`th sample, oldest first.
    pub fn get(&self, i: usize) -> Option<LagSample> {
        let back = self.len().checked_sub(i + 1)?;
        self.rev().nth(back)
    }

    /// Appends the entry of a new newest sample.
    fn append(&mut self, ddt: i64, dl: i64, df: i64) {
        // At most 10 bytes each.
        if self.deltas.capacity() - self.deltas.len() < 30 {
            self.deltas.reserve_exact(30 + SLACK);
        }
        for v in [ddt, dl, df] {
            write_varint(&mut self.deltas, zigzag(v));
        }
    }

    /// Replaces the newest sample by `s`, taken at the same time.
    fn replace_last(&mut self, s: LagSample) {
        if self.len == 1 {
            self.last = s;
            return;
        }
        // The sample before the newest, and where the newest one's entry starts.
        let mut back = self.rev();
        back.next();
        let start = back.end;
        let Some(prev) = back.next() else {
            self.last = s;
            return;
        };
        // The time step is unchanged, and so is the entry's first value.
        let (ddt, _) = read_varint(&self.deltas, start);
        self.deltas.truncate(start);
        self.append(
            unzigzag(ddt),
            s.leader_checkpoint.wrapping_sub(prev.leader_checkpoint),
            s.follower_checkpoint.wrapping_sub(prev.follower_checkpoint),
        );
        self.last = s;
    }

    /// Drops the oldest sample.
    fn pop_front(&mut self) {
        if self.len <= 1 {
            self.len = 0;
            self.deltas.clear();
            return;
        }
        let mut at = 0;
        for _ in 0..3 {
            at = read_varint(&self.deltas, at).1;
        }
        self.deltas.drain(..at);
        self.len -= 1;
    }
}

/// The samples of a [`LagRing`], newest first.
#[derive(Debug, Clone)]
pub struct Rev<'a> {
    /// The sample `next()` returns.
    next: LagSample,
    /// `next.at_ms` minus the time of the sample before it.
    dt: i64,
    /// The end of the entry of `next` in `deltas`.
    end: usize,
    left: usize,
    deltas: &'a [u8],
}

impl Iterator for Rev<'_> {
    type Item = LagSample;

    fn next(&mut self) -> Option<LagSample> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let s = self.next;
        if self.left > 0 {
            // This sample's entry: the change of its time step, then its two checkpoint differences.
            let (df, at) = read_varint_back(self.deltas, self.end);
            let (dl, at) = read_varint_back(self.deltas, at);
            let (ddt, at) = read_varint_back(self.deltas, at);
            self.next = LagSample {
                at_ms: s.at_ms.wrapping_sub(self.dt),
                leader_checkpoint: s.leader_checkpoint.wrapping_sub(unzigzag(dl)),
                follower_checkpoint: s.follower_checkpoint.wrapping_sub(unzigzag(df)),
            };
            self.dt = self.dt.wrapping_sub(unzigzag(ddt));
            self.end = at;
        }
        Some(s)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Rev<'_> {}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn write_varint(out: &mut Vec<u8>, mut u: u64) {
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// The varint starting at `at`, and where the next one starts. The ring only reads what it wrote; a short
/// buffer ends the value.
fn read_varint(buf: &[u8], mut at: usize) -> (u64, usize) {
    let (mut u, mut shift) = (0u64, 0u32);
    while let Some(&b) = buf.get(at) {
        at += 1;
        if shift < 64 {
            u |= u64::from(b & 0x7f) << shift;
        }
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    (u, at)
}

/// The varint ending just before `end`, and where it starts.
fn read_varint_back(buf: &[u8], end: usize) -> (u64, usize) {
    let mut start = end.saturating_sub(1);
    while start > 0 && buf[start - 1] & 0x80 != 0 {
        start -= 1;
    }
    (read_varint(buf, start).0, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// The ring as it was specified: whole samples in a bounded deque.
    #[derive(Default)]
    struct Plain(VecDeque<LagSample>);

    impl Plain {
        fn push(&mut self, s: LagSample) {
            if let Some(last) = self.0.back().copied() {
                if s.at_ms <= last.at_ms {
                    self.0.pop_back();
                    self.0.push_back(LagSample {
                        at_ms: last.at_ms,
                        ..s
                    });
                    return;
                }
            }
            if self.0.len() == LAG_RING_CAPACITY {
                self.0.pop_front();
            }
            self.0.push_back(s);
        }
    }

    fn check(ring: &LagRing, plain: &Plain) {
        let want: Vec<LagSample> = plain.0.iter().copied().collect();
        assert_eq!(ring.iter().collect::<Vec<_>>(), want);
        assert_eq!(ring.iter().len(), want.len());
        let back: Vec<LagSample> = ring.rev().collect();
        assert_eq!(back, want.iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(ring.len(), want.len());
        assert_eq!(ring.last(), want.last().copied());
        for (i, s) in want.iter().enumerate() {
            assert_eq!(ring.get(i), Some(*s));
        }
        assert_eq!(ring.get(want.len()), None);
    }

    /// One step of a history: a time step in ms (negative or zero: an older or equal time, which replaces the
    /// newest sample) and the two checkpoint changes.
    fn step() -> impl Strategy<Value = (i64, i64, i64)> {
        let dt = prop_oneof![
            8 => 4_990i64..5_010,
            2 => -10_000i64..=0,
            1 => any::<i64>(),
            1 => 0i64..100_000_000_000,
        ];
        let move_by = prop_oneof![
            6 => 0i64..5_000,
            2 => -1_000_000i64..0,
            1 => any::<i64>(),
            1 => Just(i64::MIN),
        ];
        (dt, move_by.clone(), move_by)
    }

    proptest! {
        #[test]
        fn the_compact_ring_returns_exactly_what_whole_samples_would(
            start in (any::<i64>(), any::<i64>(), any::<i64>()),
            steps in proptest::collection::vec(step(), 0..200),
        ) {
            let (mut ring, mut plain) = (LagRing::default(), Plain::default());
            let mut s = LagSample { at_ms: start.0, leader_checkpoint: start.1, follower_checkpoint: start.2 };
            ring.push(s);
            plain.push(s);
            check(&ring, &plain);
            for (dt, dl, df) in steps {
                s = LagSample {
                    at_ms: s.at_ms.saturating_add(dt),
                    leader_checkpoint: s.leader_checkpoint.wrapping_add(dl),
                    follower_checkpoint: s.follower_checkpoint.wrapping_add(df),
                };
                ring.push(s);
                plain.push(s);
                check(&ring, &plain);
            }
            prop_assert_eq!(ring.clone(), LagRing::from_samples(plain.0.iter().copied()));
        }
    }

    #[test]
    fn a_steady_poll_with_writes_takes_a_few_bytes_a_sample() {
        let mut ring = LagRing::default();
        for i in 0..(LAG_RING_CAPACITY as i64 * 3) {
            ring.push(LagSample {
                at_ms: 1_700_000_000_000 + i * 5_000 + (i % 3),
                leader_checkpoint: 1_000_000 + i * 4_000,
                follower_checkpoint: 999_000 + i * 4_000 + (i % 7) * 10,
            });
        }
        assert_eq!(ring.len(), LAG_RING_CAPACITY);
        // 1 byte for the time step's change, 2 for each checkpoint difference.
        assert!(
            ring.deltas.len() <= 5 * (LAG_RING_CAPACITY - 1),
            "{}",
            ring.deltas.len()
        );
        assert!(ring.deltas.capacity() <= ring.deltas.len() + 30 + SLACK);
        assert!(std::mem::size_of::<LagRing>() <= 64);
    }
}
