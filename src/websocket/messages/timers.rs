//! Keepalive and timeouts of one connection on a single timer: the earliest
//! deadline is armed, and deadlines pushed back by activity are re-armed
//! only when they come due, so a busy connection does not touch the timer
//! wheel per message.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{sleep_until, Instant, Sleep};

use super::settings::Timeouts;

/// A deadline that came due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Time to send a Ping.
    Ping,
    /// No frame since the Ping was sent.
    Pong,
    /// No data message either way.
    Idle,
    /// The peer read nothing.
    Write,
    /// The peer did not answer our Close.
    Close,
}

#[derive(Debug)]
pub(crate) struct Timers {
    config: Timeouts,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    last_read: Instant,
    /// A frame arrived since `poll` last read the clock.
    read_since: bool,
    last_data: Instant,
    ping_at: Option<Instant>,
    pong_due: Option<Instant>,
    idle_at: Option<Instant>,
    write_due: Option<Instant>,
    close_due: Option<Instant>,
}

impl Timers {
    pub(crate) fn new(config: Timeouts) -> Self {
        let now = Instant::now();
        Self {
            config,
            sleep: Box::pin(sleep_until(now)),
            armed: None,
            last_read: now,
            read_since: false,
            last_data: now,
            ping_at: config.ping_interval.map(|every| now + every),
            pong_due: None,
            idle_at: config.idle_timeout.map(|idle| now + idle),
            write_due: None,
            close_due: None,
        }
    }

    /// A frame arrived: the peer is alive. The time is taken by the next
    /// `poll`, which runs before the connection waits: no clock read per
    /// frame.
    pub(crate) fn read(&mut self) {
        self.read_since = true;
        self.pong_due = None;
    }

    /// A data message went either way.
    pub(crate) fn data(&mut self) {
        if self.config.idle_timeout.is_some() {
            self.last_data = Instant::now();
        }
    }

    /// A write could not complete: the peer has `write_timeout` to read.
    pub(crate) fn write_blocked(&mut self) {
        if self.write_due.is_none() {
            self.write_due = self.config.write_timeout.map(|t| Instant::now() + t);
        }
    }

    /// Everything was written.
    pub(crate) fn write_done(&mut self) {
        self.write_due = None;
    }

    /// Our Close was sent: the peer has `close_timeout` to answer.
    pub(crate) fn close_sent(&mut self) {
        self.close_due = Some(Instant::now() + self.config.close_timeout);
        self.ping_at = None;
        self.pong_due = None;
        self.idle_at = None;
    }

    fn next(&self) -> Option<Instant> {
        [
            self.write_due,
            self.close_due,
            self.pong_due,
            self.ping_at,
            self.idle_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The first deadline that came due, or `Pending` with the timer armed
    /// for the earliest one. `cx` holds the connection's own waker, the
    /// same at every call.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Expired> {
        loop {
            let now = Instant::now();
            if std::mem::take(&mut self.read_since) {
                self.last_read = now;
            }
            if self.write_due.is_some_and(|at| at <= now) {
                return Poll::Ready(Expired::Write);
            }
            if self.close_due.is_some_and(|at| at <= now) {
                self.close_due = None;
                return Poll::Ready(Expired::Close);
            }
            if self.pong_due.is_some_and(|at| at <= now) {
                self.pong_due = None;
                return Poll::Ready(Expired::Pong);
            }
            if let (Some(at), Some(every)) = (self.ping_at, self.config.ping_interval) {
                if at <= now {
                    // Pings only when the peer has been quiet for an interval.
                    let quiet_until = self.last_read + every;
                    if quiet_until > now {
                        self.ping_at = Some(quiet_until);
                    } else {
                        self.ping_at = Some(now + every);
                        if self.pong_due.is_none() {
                            self.pong_due = Some(now + self.config.pong_timeout);
                        }
                        return Poll::Ready(Expired::Ping);
                    }
                }
            }
            if let (Some(at), Some(idle)) = (self.idle_at, self.config.idle_timeout) {
                if at <= now {
                    let until = self.last_data + idle;
                    if until > now {
                        self.idle_at = Some(until);
                    } else {
                        self.idle_at = None;
                        return Poll::Ready(Expired::Idle);
                    }
                }
            }
            let Some(next) = self.next() else {
                return Poll::Pending;
            };
            // Armed for `next` already: the timer holds the connection's
            // waker (always the same one, see `driver.rs`) from the poll
            // after the reset, and wakes it then; polling it again would
            // only register that waker again.
            if self.armed == Some(next) {
                return Poll::Pending;
            }
            self.sleep.as_mut().reset(next);
            self.armed = Some(next);
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}
