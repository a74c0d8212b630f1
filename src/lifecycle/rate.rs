//! The handshake rate per client: a token bucket per [`ClientKey`]
//! (governor's GCRA, keyed), with the buckets of idle clients evicted.

use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use super::per_client::ClientKey;

/// How many checks pass between two sweeps of the buckets of clients that
/// have been idle long enough for their bucket to be full again.
const SWEEP_EVERY: u32 = 1024;

/// `per_second` handshakes per client on average, `burst` at once.
#[derive(Debug)]
pub(crate) struct HandshakeRate {
    limiter: RateLimiter<ClientKey, HashMapStateStore<ClientKey>, TokioClock, NoOpMiddleware<Tick>>,
    checks: AtomicU32,
}

impl HandshakeRate {
    pub(crate) fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self {
            limiter: RateLimiter::new(quota, HashMapStateStore::default(), TokioClock),
            checks: AtomicU32::new(0),
        }
    }

    /// Takes a token from `key`'s bucket, or says how long until one is
    /// there.
    pub(crate) fn check(&self, key: ClientKey) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(TokioClock.now()))
    }

    /// Forgets the clients whose bucket is full again: their entry is
    /// indistinguishable from a new client's. The table then holds only the
    /// clients seen within the last `burst / per_second` seconds.
    pub(crate) fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// How many clients have a bucket now.
    #[cfg(test)]
    pub(crate) fn clients(&self) -> usize {
        self.limiter.len()
    }
}

/// governor's clock on tokio's time, so a paused test clock drives refills.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TokioClock;

impl Clock for TokioClock {
    type Instant = Tick;

    fn now(&self) -> Tick {
        Tick(tokio::time::Instant::now())
    }
}

/// An instant of [`TokioClock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tick(tokio::time::Instant);

impl Add<Nanos> for Tick {
    type Output = Tick;

    fn add(self, nanos: Nanos) -> Tick {
        Tick(self.0 + Duration::from(nanos))
    }
}

impl Reference for Tick {
    fn duration_since(&self, earlier: Self) -> Nanos {
        self.0.saturating_duration_since(earlier.0).into()
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        self.0
            .checked_sub(Duration::from(duration))
            .map_or(*self, Tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn key(i: u32) -> ClientKey {
        ClientKey::from_ip(IpAddr::from(Ipv4Addr::from(0x0a00_0000 + i)))
    }

    fn rate(per_second: u32, burst: u32) -> HandshakeRate {
        HandshakeRate::new(
            NonZeroU32::new(per_second).unwrap(),
            NonZeroU32::new(burst).unwrap(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_refill_per_client() {
        let rate = rate(2, 3);
        for _ in 0..3 {
            rate.check(key(1)).expect("within the burst");
        }
        let wait = rate.check(key(1)).expect_err("burst spent");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        rate.check(key(2))
            .expect("another client has its own bucket");
        tokio::time::advance(wait).await;
        rate.check(key(1)).expect("one token back after the wait");
        assert!(rate.check(key(1)).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_clients_are_forgotten() {
        let rate = rate(10, 5);
        for i in 0..100_000 {
            rate.check(key(i)).unwrap();
        }
        assert!(rate.clients() > 90_000);
        // 5 tokens at 10 per second: full again after 0.5 s.
        tokio::time::advance(Duration::from_millis(600)).await;
        rate.check(key(1)).unwrap();
        rate.sweep();
        assert_eq!(rate.clients(), 1, "only the client seen since is kept");
    }

    #[tokio::test(start_paused = true)]
    async fn sweeps_run_on_their_own() {
        let rate = rate(10, 1);
        for i in 0..SWEEP_EVERY - 1 {
            rate.check(key(i)).unwrap();
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        rate.check(key(0)).unwrap();
        assert!(
            rate.clients() <= 1,
            "the {SWEEP_EVERY}th check swept the idle buckets"
        );
    }
}
