//! How long to wait before trying a failed action again: the one back-off policy of reconcile and the
//! policies.

use std::time::Duration;

/// Exponential back-off: `initial * 2^(failures-1)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// The wait after the `failures`-th consecutive failure (1-based; 0 is treated as 1). Never overflows: a
    /// doubling past what a [`Duration`] holds is the cap.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        self.initial
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// [`Backoff::delay`] as a [`chrono::Duration`] to add to a time stamp (the largest one when out of range).
    pub fn chrono_delay(&self, failures: u32) -> chrono::Duration {
        chrono::Duration::from_std(self.delay(failures)).unwrap_or(chrono::Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        let d: Vec<u64> = (1..=5).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(d, vec![1, 2, 4, 5, 5]);
        assert_eq!(b.delay(200).as_secs(), 5);
        assert_eq!(b.delay(0).as_secs(), 1);
    }

    #[test]
    fn a_huge_initial_wait_does_not_overflow() {
        let b = Backoff {
            initial: Duration::from_secs(u64::MAX / 2),
            max: Duration::from_secs(600),
        };
        assert_eq!(b.delay(31), Duration::from_secs(600));
        let b = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
        };
        assert_eq!(b.delay(3), Duration::MAX);
        assert_eq!(b.chrono_delay(3), chrono::Duration::MAX);
    }
}
