//! The gateway: forward WebSocket upgrades to an upstream service (feature
//! `gateway`).
//!
//! [`UpgradeLayer::forward_websocket`](crate::UpgradeLayer::forward_websocket)
//! registers WebSocket with a [`Forward`]: for each upgrade (over HTTP/1.1,
//! or an HTTP/2 extended CONNECT, RFC 8441) the gateway picks an
//! [`Upstream`], connects (within [`Forward::connect_timeout`], 5 s by
//! default), sends the request over HTTP/1.1 with the hop-by-hop fields
//! removed (RFC 9110 §7.6.1) and `X-Forwarded-For`, `-Host` and `-Proto`
//! added, and waits for the answer (within [`Forward::answer_timeout`]).
//! Only then does it answer the client:
//!
//! - the upstream's `101`: the client gets `101` (or `200` to an extended
//!   CONNECT) with the upstream's `Sec-WebSocket-Accept` (checked against
//!   the key), `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions`, so
//!   client and upstream agree on the subprotocol and on compression
//!   (the gateway negotiates nothing of its own), and the bytes are
//!   spliced both ways, unchanged, until either side closes or nothing
//!   moves for [`Forward::idle_timeout`];
//! - the upstream's refusal: its status, headers (the hop-by-hop ones
//!   removed) and body (up to [`Forward::max_refusal_body`], 64 KiB);
//! - no upstream: `502` (`upstream_unreachable`); no answer in time: `504`
//!   (`upstream_timeout`); an answer that is not a valid switch: `502`
//!   (`upstream_malformed`). Each reason is counted in
//!   `tower_upgrade_rejected_total` with the `metrics` feature.
//!
//! [`UpgradeLayer::forward_protocol`](crate::UpgradeLayer::forward_protocol)
//! does the same for a protocol of your own (`Upgrade: linecount/2`):
//! the upstream's `101` with its end-to-end fields, then the bytes.
//!
//! An extended CONNECT from an HTTP/2 client is forwarded as an HTTP/1.1
//! `Upgrade: websocket`: the gateway makes the `Sec-WebSocket-Key` and
//! checks the upstream's `Sec-WebSocket-Accept`; the frames pass unchanged.
//!
//! The relay is byte-transparent, but it follows where the client's frames
//! begin and end (RFC 6455 §5.2, headers only). At shutdown
//! ([`Connections::shutdown`](crate::Connections::shutdown)) it forwards
//! what the client had sent, to the end of a frame, then sends the
//! upstream a Close 1001 ("going away") in the client's name and drops
//! what the client sends after it (RFC 6455 §5.5.1). The upstream answers
//! as it would to a client that leaves: its last messages and its Close
//! (1001 back, from a server that echoes the code) reach the client
//! unchanged, and both sides end. Connections still open at the drain
//! deadline are cut, both sides at once.
//!
//! ```
//! use std::time::Duration;
//! use tower_upgrade::forward::{Forward, Upstream};
//! use tower_upgrade::UpgradeLayer;
//!
//! // Defaults: one upstream, its authority as Host, 5 s to connect.
//! let plain = UpgradeLayer::new().forward_websocket(Forward::new(Upstream::fixed("127.0.0.1:9001")));
//!
//! // Customised: two upstreams in turn, the client's Host kept, tighter
//! // deadlines.
//! let custom = UpgradeLayer::new().forward_websocket(
//!     Forward::new(Upstream::round_robin(["10.0.0.1:80", "10.0.0.2:80"]).unwrap())
//!         .keep_host(true)
//!         .connect_timeout(Duration::from_secs(1))
//!         .answer_timeout(Duration::from_secs(3))
//!         .idle_timeout(Duration::from_secs(120)),
//! );
//! # let _ = (plain, custom);
//! ```

mod answer;
mod frames;
mod relay;
mod request;
mod upstream;

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;

use crate::protocol::{Accepted, BeforeSwitch, Offer, Protocol};
use crate::rejection::Rejection;
use crate::UpgradeLayer;

pub use request::strip_hop_by_hop;
pub use upstream::Upstream;

/// How WebSocket upgrades are forwarded: to which [`Upstream`], with which
/// deadlines and bounds. Cheap to clone.
///
/// ```
/// use tower_upgrade::forward::{Forward, Upstream};
///
/// let forward = Forward::new(Upstream::fixed("127.0.0.1:9001"))
///     .max_refusal_body(16 * 1024)
///     .buffer_size(16 * 1024);
/// # let _ = forward;
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Forward {
    pub(crate) upstream: Upstream,
    pub(crate) connect_timeout: Duration,
    pub(crate) answer_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) keep_host: bool,
    pub(crate) max_refusal_body: usize,
    pub(crate) buffer_size: usize,
}

impl Forward {
    /// The time to connect to the upstream, by default.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The time for the upstream to answer the handshake, by default.
    pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
    /// The time a relayed connection may stay silent both ways, by default.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

    /// Forwards to `upstream` with the defaults: 5 s to connect, 5 s for
    /// the answer (the layer's
    /// [`handshake_timeout`](crate::UpgradeLayer::handshake_timeout), 10 s
    /// by default, bounds both together as well: past it the client gets
    /// [`BeforeSwitchTimeout`](crate::rejection::BeforeSwitchTimeout), a
    /// `504` too), 5 minutes of silence before a relay ends,
    /// the upstream's authority as `Host`, refusal bodies up to 64 KiB,
    /// 8 KiB buffers each way.
    pub fn new(upstream: Upstream) -> Self {
        Self {
            upstream,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            answer_timeout: Self::DEFAULT_ANSWER_TIMEOUT,
            idle_timeout: Some(Self::DEFAULT_IDLE_TIMEOUT),
            keep_host: false,
            max_refusal_body: 64 * 1024,
            buffer_size: 8 * 1024,
        }
    }

    /// The time to open the TCP connection to the upstream; past it the
    /// client gets `502` (`upstream_unreachable`).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The time from the request sent to the upstream's answer read (its
    /// head, and the body of a refusal); past it the client gets `504`
    /// (`upstream_timeout`).
    pub fn answer_timeout(mut self, timeout: Duration) -> Self {
        self.answer_timeout = timeout;
        self
    }

    /// Ends a relayed connection when no byte has moved either way for
    /// `timeout` (`None`: never).
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// Sends the client's `Host` (or `:authority`) to the upstream instead
    /// of the upstream's own authority.
    pub fn keep_host(mut self, keep: bool) -> Self {
        self.keep_host = keep;
        self
    }

    /// The largest body of an upstream's refusal relayed to the client; a
    /// longer one is a `502` (`upstream_malformed`).
    pub fn max_refusal_body(mut self, max: usize) -> Self {
        self.max_refusal_body = max;
        self
    }

    /// The size of each of the two relay buffers (one each way).
    pub fn buffer_size(mut self, size: usize) -> Self {
        self.buffer_size = size.max(1);
        self
    }
}

/// The protocol the layer runs: the handshake is the upstream's. `token`
/// is `None` for WebSocket.
struct Forwarding {
    forward: Arc<Forward>,
    token: Option<Box<str>>,
}

impl Protocol for Forwarding {
    fn accept(&self, _: &Parts, _: &Offer<'_>) -> Result<Accepted, Rejection> {
        // Every check of the handshake is the upstream's: the gateway
        // relays its answer, whatever it is.
        Ok(Accepted::new())
    }

    fn before_switch<'a>(&'a self, request: &'a Parts, accepted: Accepted) -> BeforeSwitch<'a> {
        BeforeSwitch::pending(answer::exchange(
            &self.forward,
            self.token.as_deref(),
            request,
            accepted,
        ))
    }

    fn rejection_labels(&self) -> &'static [&'static str] {
        &answer::LABELS
    }
}

impl<R> UpgradeLayer<R> {
    /// Forwards WebSocket upgrades (HTTP/1.1, and HTTP/2 extended CONNECT)
    /// as `forward` says: see [the module](crate::forward).
    ///
    /// # Panics
    ///
    /// When WebSocket is already registered on this layer.
    ///
    /// ```
    /// use tower_upgrade::forward::{Forward, Upstream};
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// let layer = UpgradeLayer::new().forward_websocket(Forward::new(Upstream::fixed("127.0.0.1:9001")));
    /// # let _ = layer;
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
    pub fn forward_websocket(self, forward: Forward) -> Self {
        let idle = forward.idle_timeout;
        let buffer = forward.buffer_size;
        let forwarding = Forwarding {
            forward: Arc::new(forward),
            token: None,
        };
        self.register(
            "websocket",
            forwarding,
            tower::service_fn(move |conn| relay::relay(conn, idle, buffer, true)),
        )
    }

    /// Forwards upgrades to `token` (a protocol of your own, `name[/version]`)
    /// as `forward` says: the request goes upstream with `Upgrade: token`
    /// and the client's method (`GET` for an HTTP/2 extended CONNECT), the
    /// end-to-end fields of the upstream's `101` reach the client, and the
    /// bytes are relayed unchanged, at shutdown too (there are no frames to
    /// close between: a relay still open at the drain deadline is cut).
    /// The request body is not forwarded.
    ///
    /// # Panics
    ///
    /// When `token` is invalid or already registered on this layer.
    ///
    /// ```
    /// use tower_upgrade::forward::{Forward, Upstream};
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// let layer = UpgradeLayer::new()
    ///     .forward_protocol("linecount/2", Forward::new(Upstream::fixed("127.0.0.1:9002")));
    /// # let _ = layer;
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
    pub fn forward_protocol(self, token: &str, forward: Forward) -> Self {
        let idle = forward.idle_timeout;
        let buffer = forward.buffer_size;
        let forwarding = Forwarding {
            forward: Arc::new(forward),
            token: Some(token.into()),
        };
        self.register(
            token,
            forwarding,
            tower::service_fn(move |conn| relay::relay(conn, idle, buffer, false)),
        )
    }
}
