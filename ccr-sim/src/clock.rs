//! The simulator's clock: real time by default, or stepped by hand for deterministic tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A shared clock. Cloning shares the same time.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    start: Instant,
    /// Wall-clock epoch millis at start, so timestamps look real.
    epoch_base_ms: u64,
    deterministic: bool,
    stepped_ms: AtomicU64,
}

impl Clock {
    pub(crate) fn new(deterministic: bool) -> Self {
        let epoch_base_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            inner: Arc::new(Inner {
                start: Instant::now(),
                epoch_base_ms,
                deterministic,
                stepped_ms: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn is_deterministic(&self) -> bool {
        self.inner.deterministic
    }

    /// Milliseconds since the simulator started.
    pub(crate) fn now_ms(&self) -> u64 {
        if self.inner.deterministic {
            self.inner.stepped_ms.load(Ordering::SeqCst)
        } else {
            self.inner.start.elapsed().as_millis() as u64
        }
    }

    /// Milliseconds since the Unix epoch, for timestamps in responses.
    pub(crate) fn epoch_ms(&self) -> u64 {
        self.inner.epoch_base_ms + self.now_ms()
    }

    /// Moves a deterministic clock forward; returns the new time.
    pub(crate) fn step(&self, ms: u64) -> u64 {
        self.inner.stepped_ms.fetch_add(ms, Ordering::SeqCst) + ms
    }
}
