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
