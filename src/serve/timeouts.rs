//! The deadlines `serve` puts on every connection, and their metric.

use std::time::Duration;

/// The deadline for the first request head of a connection (its first bytes,
/// a PROXY protocol header, the HTTP/2 preface or the whole HTTP/1 head), and
/// for each later HTTP/1 head, by default: hyper's `header_read_timeout`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an HTTP/2 connection may stay without an open stream by default,
/// close to nginx's `keepalive_timeout` (75 s), before it is sent GOAWAY.
pub const DEFAULT_HTTP2_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often an HTTP/2 connection is sent a PING by default.
pub const DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// How long the PING's acknowledgement may take by default before the
/// connection is closed (hyper's default).
pub const DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) header: Duration,
    pub(crate) http2_idle: Option<Duration>,
    pub(crate) keep_alive_interval: Option<Duration>,
    pub(crate) keep_alive_timeout: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header: DEFAULT_HEADER_READ_TIMEOUT,
            http2_idle: Some(DEFAULT_HTTP2_IDLE_TIMEOUT),
            keep_alive_interval: Some(DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL),
            keep_alive_timeout: DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT,
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
