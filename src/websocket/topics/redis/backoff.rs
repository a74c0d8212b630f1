//! Reconnection delays: exponential, with jitter so that the instances a
//! Redis restart disconnected together do not all come back at once.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

/// 64 random bits without a dependency: std's `RandomState` is seeded from
/// the operating system's generator (once per thread, then stepped), and
/// the clock and process id separate instances further. Not for secrets:
/// for instance ids and jitter.
pub(super) fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// The delays between connection attempts: from `min`, doubling up to
/// `max`, each drawn between half the step and the step.
#[derive(Debug)]
pub(super) struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
    state: u64,
}

impl Backoff {
    pub(super) fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            step: min,
            // xorshift must not start at 0.
            state: random_u64() | 1,
        }
    }

    /// The delay before the next attempt.
    pub(super) fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = step.saturating_mul(2).min(self.max);
        // xorshift64: jitter needs spread, not quality.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let fraction = (self.state >> 11) as f64 / (1u64 << 53) as f64;
        step / 2 + step.mul_f64(fraction / 2.0)
    }

    /// Connected: the next spell of failures starts from `min` again.
    pub(super) fn reset(&mut self) {
        self.step = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_and_resets() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(5));
        let mut backoff = Backoff::new(min, max);
        let mut step = min;
        for _ in 0..20 {
            let delay = backoff.next_delay();
            assert!(delay >= step / 2 && delay <= step, "{delay:?} for {step:?}");
            step = (step * 2).min(max);
        }
        assert_eq!(backoff.step, max);
        backoff.reset();
        assert!(backoff.next_delay() <= min);
        assert_ne!(random_u64(), random_u64());
    }
}
