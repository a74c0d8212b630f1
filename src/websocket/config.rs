use std::sync::Arc;

use super::origin::OriginPolicy;
use super::subprotocol::Subprotocols;

/// The WebSocket protocol's settings: subprotocols, origin policy, and the
/// limits the message backend applies.
///
/// ```
/// use tower_upgrade::websocket::WebSocketConfig;
///
/// let ws = WebSocketConfig::new().subprotocols(["echo"]).max_message_size(64 * 1024);
/// # let _ = ws;
/// ```
#[must_use]
#[derive(Clone, Debug, Default)]
pub struct WebSocketConfig {
    pub(crate) subprotocols: Subprotocols,
    pub(crate) require_subprotocol: bool,
    pub(crate) origin: OriginPolicy,
    pub(crate) limits: FrameLimits,
    /// Keepalive and timeouts of the message layer.
    #[cfg(feature = "messages")]
    pub(crate) timeouts: super::messages::Timeouts,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<super::DeflateConfig>,
}

impl WebSocketConfig {
    /// Same-origin policy, no subprotocols, [`FrameLimits::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The subprotocols the server speaks, most preferred first. The server
    /// picks the first of these that the client offered; when the client
    /// offered none of them, no `Sec-WebSocket-Protocol` is sent (unless
    /// [`require_subprotocol`](Self::require_subprotocol) is set).
    pub fn subprotocols<I, S>(mut self, subprotocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.subprotocols = Subprotocols::List(subprotocols.into_iter().map(Into::into).collect());
        self
    }

    /// Chooses the subprotocol with `select`, which sees the client's offers
    /// in the client's order. An answer the client did not offer is ignored:
    /// the server may only choose one of the client's (RFC 6455 §4.2.2).
    ///
    /// ```
    /// use tower_upgrade::websocket::WebSocketConfig;
    ///
    /// let ws = WebSocketConfig::new().select_subprotocol(|offered: &[&str]| {
    ///     offered.iter().find(|p| p.starts_with("v2.")).map(|p| p.to_string())
    /// });
    /// # let _ = ws;
    /// ```
    pub fn select_subprotocol<F>(mut self, select: F) -> Self
    where
        F: Fn(&[&str]) -> Option<String> + Send + Sync + 'static,
    {
        self.subprotocols = Subprotocols::Select(Arc::new(select));
        self
    }

    /// When `true`, a client that offers none of the server's subprotocols is
    /// refused with `400`.
    pub fn require_subprotocol(mut self, require: bool) -> Self {
        self.require_subprotocol = require;
        self
    }

    /// Which `Origin`s may open a WebSocket; [`OriginPolicy::SameOrigin`]
    /// by default.
    pub fn origin(mut self, policy: OriginPolicy) -> Self {
        self.origin = policy;
        self
    }

    /// The largest message the backend accepts, after reassembly (and after
    /// decompression where it applies). 1 MiB by default.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.limits.max_message_size = bytes;
        self
    }

    /// The largest single frame the backend accepts. 1 MiB by default.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.limits.max_frame_size = bytes;
        self
    }

    /// Negotiates permessage-deflate (RFC 7692) with `config`; off by
    /// default.
    ///
    /// Only a backend that implements the extension can speak to a client
    /// that agreed to it, so turn it on only for a registration whose handler
    /// uses `Upgraded::into_websocket` (feature `deflate`). A handler
    /// that calls `Upgraded::into_tungstenite`
    /// on such a connection would see compressed frames it cannot read; it
    /// logs an error and the first compressed message ends the connection
    /// with close code 1002.
    ///
    /// ```
    /// use tower::service_fn;
    /// use tower_upgrade::websocket::{DeflateConfig, WebSocketConfig};
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new().websocket(
    ///     WebSocketConfig::new().permessage_deflate(DeflateConfig::default()),
    ///     service_fn(|conn: Upgraded| async move {
    ///         let mut ws = conn.into_websocket();
    ///         while let Some(message) = ws.recv().await {
    ///             let _ = message?;
    ///         }
    ///         Ok::<_, tower_upgrade::websocket::Error>(())
    ///     }),
    /// );
    /// # let _ = layer;
    /// ```
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn permessage_deflate(mut self, config: super::DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// The backend's read buffer per connection. 4 KiB by default.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.limits.read_buffer_size = bytes;
        self
    }

    /// How much the backend buffers before writing to the socket. 4 KiB by
    /// default; `0` writes every message at once.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.limits.write_buffer_size = bytes;
        self
    }

    /// The most the backend buffers when the peer reads slower than the
    /// handler writes; past it, sends fail. 4 MiB by default.
    pub fn max_write_buffer_size(mut self, bytes: usize) -> Self {
        self.limits.max_write_buffer_size = bytes;
        self
    }
}

/// The limits a message backend applies to one WebSocket connection.
///
/// The defaults are chosen for many mostly idle connections on a small
/// machine. tungstenite's own defaults (128 KiB read and write buffers,
/// 64 MiB messages, which axum 0.8 uses) cost about 135 KiB of server memory
/// per idle connection that has carried a message, and let one client make
/// the server hold 64 MiB. With these defaults an idle connection costs about
/// 19 KiB, so 10,000 of them fit in about 185 MiB; measured with
/// `IDLE_CONNECTIONS=10000 cargo bench --bench idle_memory` (resident memory
/// of the server process). Messages are bounded to 1 MiB: raise the limits per
/// registration when a protocol needs larger messages.
///
/// Those 19 KiB hold for connections that carried small messages. The
/// tungstenite backend never shrinks its buffers (its configuration cannot
/// release them): after a message of S bytes an idle connection keeps about
/// 2 × S. Measured with the `echo` example, 50 connections each echoing one
/// 1,000,000-byte message then idle: 1,994 KiB of resident memory per
/// connection with tungstenite. The crate's own
/// [`WebSocket`](crate::websocket::WebSocket) gives its large buffers back
/// once a message is written.
///
/// ```
/// use tower_upgrade::websocket::FrameLimits;
///
/// let limits = FrameLimits::default();
/// assert_eq!(limits.max_message_size, 1 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameLimits {
    /// Largest message, after reassembly and decompression.
    pub max_message_size: usize,
    /// Largest frame.
    pub max_frame_size: usize,
    /// Read buffer per connection.
    pub read_buffer_size: usize,
    /// Bytes buffered before a write reaches the socket.
    pub write_buffer_size: usize,
    /// Most bytes buffered for a slow reader.
    pub max_write_buffer_size: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_message_size: 1 << 20,
            max_frame_size: 1 << 20,
            read_buffer_size: 4 * 1024,
            write_buffer_size: 4 * 1024,
            max_write_buffer_size: 4 << 20,
        }
    }
}
