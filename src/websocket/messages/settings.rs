//! Keepalive and timeouts of a [`WebSocket`](super::WebSocket), set on the
//! registration's settings.

use std::time::Duration;

use crate::websocket::FrameLimits;

/// Timers of one connection. The defaults: a Ping every 30 s (under the
/// 60 s idle timeout of nginx, AWS ALB and most load balancers), 20 s for
/// its Pong, no idle timeout, 30 s for a peer that stops reading, 5 s for
/// the peer's Close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) pong_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) close_timeout: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(20),
            idle_timeout: None,
            write_timeout: Some(Duration::from_secs(30)),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// What a socket needs from its registration, carried to the handler.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) limits: FrameLimits,
    pub(crate) timeouts: Timeouts,
    /// The agreed parameters and the registration's pool.
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<(
        crate::websocket::PermessageDeflate,
        crate::websocket::DeflateConfig,
    )>,
}

/// Keepalive and timeouts of [`Upgraded::into_websocket`](crate::Upgraded::into_websocket).
impl crate::websocket::WebSocketConfig {
    /// How long the peer may be quiet before the server sends a Ping; `None`
    /// sends none. 30 s by default: below the 60 s idle timeout of nginx,
    /// AWS ALB and most load balancers, so they keep the connection.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_upgrade::websocket::WebSocketConfig;
    ///
    /// let config = WebSocketConfig::new()
    ///     .ping_interval(Some(Duration::from_secs(20)))
    ///     .pong_timeout(Duration::from_secs(10))
    ///     .idle_timeout(Some(Duration::from_secs(300)));
    /// # let _ = config;
    /// ```
    pub fn ping_interval(mut self, every: Option<Duration>) -> Self {
        self.timeouts.ping_interval = every;
        self
    }

    /// How long the peer has to send anything (a Pong, usually) after a
    /// Ping; past it the server closes with 1008 and `recv` ends with
    /// [`Error::PongTimeout`](crate::websocket::Error::PongTimeout). 20 s by
    /// default.
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.pong_timeout = timeout;
        self
    }

    /// Closes (1000) a connection on which no data message went either way
    /// for `timeout`; `recv` ends with
    /// [`Error::IdleTimeout`](crate::websocket::Error::IdleTimeout). Off by
    /// default: Pings and Pongs do not count as use.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeouts.idle_timeout = timeout;
        self
    }

    /// How long a write may wait on a peer that reads nothing before the
    /// connection is dropped; `None` waits for ever. 30 s by default.
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeouts.write_timeout = timeout;
        self
    }

    /// How long the server waits for the peer's Close after sending its own
    /// (RFC 6455 §7.1.1) before closing TCP. 5 s by default.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.close_timeout = timeout;
        self
    }
}
