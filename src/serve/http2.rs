//! [`Http2Settings`]: how this crate's HTTP/2 servers (`serve`'s, and the
//! h2c connection's) keep a connection, with one set of defaults.

use std::time::Duration;

/// How an HTTP/2 connection served by this crate is kept: closed after
/// it has had no open stream for a while, and sent PINGs to find peers
/// that are gone. The same type, with the same defaults, for
/// [`Serve::http2`](crate::serve::Serve::http2) (feature `serve`: prior
/// knowledge and RFC 8441 WebSockets) and `H2c::http2` (feature `h2c`:
/// connections upgraded from HTTP/1.1).
///
/// ```
/// use std::time::Duration;
/// use tower_upgrade::serve::Http2Settings;
///
/// let settings = Http2Settings::new()
///     .idle_timeout(Duration::from_secs(120))
///     .keep_alive_interval(Duration::from_secs(20))
///     .keep_alive_timeout(Duration::from_secs(10));
/// assert_eq!(Http2Settings::default().idle(), Some(Http2Settings::DEFAULT_IDLE_TIMEOUT));
/// # let _ = settings;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Http2Settings {
    idle_timeout: Option<Duration>,
    keep_alive_interval: Option<Duration>,
    keep_alive_timeout: Duration,
}

impl Http2Settings {
    /// How long a connection may stay without an open stream by default,
    /// close to nginx's `keepalive_timeout` (75 s), before it is sent GOAWAY.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

    /// How often a connection is sent a PING by default.
    pub const DEFAULT_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);

    /// How long the PING's acknowledgement may take by default before the
    /// connection is closed (hyper's default).
    pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

    /// The defaults: 60 s idle, a PING every 30 s, 20 s for its answer.
    pub const fn new() -> Self {
        Self {
            idle_timeout: Some(Self::DEFAULT_IDLE_TIMEOUT),
            keep_alive_interval: Some(Self::DEFAULT_KEEP_ALIVE_INTERVAL),
            keep_alive_timeout: Self::DEFAULT_KEEP_ALIVE_TIMEOUT,
        }
    }

    /// How long a connection may go without an open stream before it is
    /// sent GOAWAY and closed (60 s by default, `None` for never); counted
    /// as `http2_idle` in `tower_upgrade_serve_timeouts_total`. A stream is
    /// open from its request to the end of its response, and a WebSocket
    /// over HTTP/2 (RFC 8441) for as long as its handler holds the
    /// [`Upgraded`](crate::Upgraded). On an h2c connection, stream 1 (the
    /// upgrade request) counts as open until its response is sent.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// How often a connection is sent a PING (RFC 9113 §6.7), to find
    /// peers that are gone: 30 s by default, `None` for never. Also keeps a
    /// busy connection alive through NATs and load balancers that drop
    /// silent flows.
    pub fn keep_alive_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.keep_alive_interval = interval.into();
        self
    }

    /// How long the acknowledgement of a keep-alive PING may take before
    /// the connection is closed (20 s by default); counted as
    /// `http2_keepalive`.
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.keep_alive_timeout = timeout;
        self
    }

    /// The idle timeout, `None` for never.
    pub fn idle(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The keep-alive PING interval, `None` for never.
    pub fn ping_interval(&self) -> Option<Duration> {
        self.keep_alive_interval
    }

    /// How long a PING's acknowledgement may take.
    pub fn ping_timeout(&self) -> Duration {
        self.keep_alive_timeout
    }
}

impl Default for Http2Settings {
    fn default() -> Self {
        Self::new()
    }
}
