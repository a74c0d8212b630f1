//! The idle timeout of an upgraded connection's raw IO: no byte read or
//! written for the timeout ends the IO with `TimedOut`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// The timer of [`Upgraded::set_idle_timeout`](crate::Upgraded::set_idle_timeout).
///
/// Each byte moved only records the time; the timer is moved forward when
/// it fires early, so a busy connection does not touch the timer wheel on
/// every read.
#[derive(Debug)]
pub(crate) struct IdleTimer {
    timeout: Duration,
    last: Instant,
    sleep: Pin<Box<Sleep>>,
    fired: bool,
}

impl IdleTimer {
    pub(crate) fn new(timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            timeout,
            last: now,
            sleep: Box::pin(tokio::time::sleep_until(now + timeout)),
            fired: false,
        }
    }

    /// Bytes moved.
    pub(crate) fn active(&mut self) {
        self.last = Instant::now();
    }

    /// The IO is waiting: `Ready` with the error once the connection has
    /// been idle for the timeout.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if !self.fired && self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = self.last + self.timeout;
            if !self.fired && deadline > Instant::now() {
                self.sleep.as_mut().reset(deadline);
                continue;
            }
            if !self.fired {
                self.fired = true;
                crate::metrics::serve_timeout("upgraded_idle");
                tracing::debug!(timeout = ?self.timeout, "upgraded connection idle past its timeout");
            }
            return Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "no byte either way for the idle timeout",
            ));
        }
    }
}
