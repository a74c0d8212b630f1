//! One connection's state: up, or in a spell of failures that is logged
//! once, counted at each attempt, and paced by the back-off.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use ::redis::RedisError;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use crate::websocket::topics::metrics::backplane as metrics;

/// How long a connection attempt may take.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long Redis may take to answer a command.
pub(super) const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a connection was given up.
pub(super) enum Lost {
    Redis(RedisError),
    Timeout,
    Closed,
}

impl From<RedisError> for Lost {
    fn from(err: RedisError) -> Self {
        Lost::Redis(err)
    }
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lost::Redis(err) => err.fmt(f),
            Lost::Timeout => write!(f, "no answer within {REPLY_TIMEOUT:?}"),
            Lost::Closed => f.write_str("the connection closed"),
        }
    }
}

/// A Redis command's reply within [`REPLY_TIMEOUT`].
pub(super) async fn reply<T>(
    command: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, Lost> {
    timeout(REPLY_TIMEOUT, command)
        .await
        .map_err(|_| Lost::Timeout)?
        .map_err(Lost::Redis)
}

/// One of the two connections' state: connected or in a spell of
/// failures, logged once per spell and counted per attempt.
pub(super) struct Link {
    kind: &'static str,
    backoff: Backoff,
    max: Duration,
    /// Lost or never made: the next attempt waits its back-off.
    failing: bool,
    attempts: u32,
    up_since: Option<Instant>,
}

impl Link {
    pub(super) fn new(kind: &'static str, min: Duration, max: Duration) -> Self {
        Self {
            kind,
            backoff: Backoff::new(min, max),
            max,
            failing: false,
            attempts: 0,
            up_since: None,
        }
    }

    /// Connects with `attempt`, again and again with back-off until it
    /// works; `None` once `stop` is cancelled.
    pub(super) async fn connect<C, F, Fut>(
        &mut self,
        stop: &CancellationToken,
        mut attempt: F,
    ) -> Option<C>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<C, RedisError>>,
    {
        loop {
            if self.failing {
                let delay = self.backoff.next_delay();
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
                self.attempts += 1;
                metrics::reconnect();
            }
            let result = tokio::select! {
                biased;
                _ = stop.cancelled() => return None,
                result = timeout(CONNECT_TIMEOUT, attempt()) => result,
            };
            let err = match result {
                Ok(Ok(connection)) => {
                    if self.failing {
                        tracing::info!(
                            connection = self.kind,
                            attempts = self.attempts,
                            "Redis backplane: connected again",
                        );
                    }
                    self.failing = false;
                    self.attempts = 0;
                    self.up_since = Some(Instant::now());
                    metrics::connected(self.kind, true);
                    return Some(connection);
                }
                Ok(Err(err)) => Lost::Redis(err),
                Err(_) => Lost::Timeout,
            };
            if self.failing {
                tracing::debug!(
                    connection = self.kind,
                    attempts = self.attempts,
                    "Redis backplane: cannot connect: {err}",
                );
            } else {
                tracing::warn!(
                    connection = self.kind,
                    "Redis backplane: cannot connect: {err}; retrying with back-off, \
                     messages stay on this instance meanwhile",
                );
                self.failing = true;
            }
        }
    }

    /// The connection failed: the next [`connect`](Self::connect) backs off.
    pub(super) fn lost(&mut self, err: &Lost) {
        if let Some(since) = self.up_since.take() {
            metrics::connected(self.kind, false);
            // A connection that lived is a new spell; one that flaps
            // (connects, then fails at once) keeps backing off.
            if since.elapsed() >= self.max {
                self.backoff.reset();
            }
        }
        tracing::warn!(
            connection = self.kind,
            "Redis backplane: connection lost: {err}; reconnecting with back-off, \
             messages stay on this instance meanwhile",
        );
        self.failing = true;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if self.up_since.is_some() {
            metrics::connected(self.kind, false);
        }
    }
}
