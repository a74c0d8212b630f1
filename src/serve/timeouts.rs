//! The deadlines `serve` puts on every connection, and their metric.

use std::time::Duration;

use super::Http2Settings;

/// The deadline for the first request head of a connection (its first bytes,
/// a PROXY protocol header, the HTTP/2 preface or the whole HTTP/1 head), and
/// for each later HTTP/1 head, by default: hyper's `header_read_timeout`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a graceful shutdown waits for connections to finish by default
/// ([`Serve::shutdown_timeout`](super::Serve::shutdown_timeout)); those still
/// open then are closed.
///
/// ```
/// use std::time::Duration;
/// use tower_upgrade::serve::DEFAULT_SHUTDOWN_TIMEOUT;
///
/// assert_eq!(DEFAULT_SHUTDOWN_TIMEOUT, Duration::from_secs(30));
/// ```
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) header: Duration,
    pub(crate) http2: Http2Settings,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header: DEFAULT_HEADER_READ_TIMEOUT,
            http2: Http2Settings::new(),
        }
    }
}

/// Which deadline ended a connection: the `kind` label of
/// `tower_upgrade_serve_timeouts_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeoutKind {
    /// No complete first request head (nor PROXY header) in time, or a later
    /// HTTP/1 head too slow.
    Header,
    /// Part of the HTTP/2 preface, and no more, in time.
    Preface,
    /// An HTTP/2 connection without an open stream for the idle timeout.
    Http2Idle,
    /// An HTTP/2 PING not acknowledged in time.
    Http2KeepAlive,
}

impl TimeoutKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Preface => "preface",
            Self::Http2Idle => "http2_idle",
            Self::Http2KeepAlive => "http2_keepalive",
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Header => "no complete request head before the header read timeout",
            Self::Preface => "no complete HTTP/2 preface before the header read timeout",
            Self::Http2Idle => "HTTP/2 connection idle past its idle timeout",
            Self::Http2KeepAlive => "HTTP/2 PING not acknowledged in time",
        }
    }

    pub(crate) fn record(self) {
        crate::metrics::serve_timeout(self.label());
    }
}
