//! `UpgradeLayer::websocket`: WebSocket registers itself the way any
//! protocol does, through the public [`Protocol`](crate::Protocol) trait.

use super::WebSocketConfig;
use crate::{UpgradeHandler, UpgradeLayer};

impl<R> UpgradeLayer<R> {
    /// Offers WebSocket (RFC 6455, and RFC 8441 over HTTP/2) with `config`;
    /// `handler` gets each connection after the handshake.
    ///
    /// # Panics
    ///
    /// When WebSocket is already registered on this layer.
    ///
    /// ```
    /// use tower::service_fn;
    /// use tower_upgrade::websocket::WebSocketConfig;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new().websocket(
    ///     WebSocketConfig::new().subprotocols(["echo"]),
    ///     service_fn(|conn: Upgraded| async move { Ok::<_, std::io::Error>(()) }),
    /// );
    /// # let _ = layer;
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    pub fn websocket<H>(self, config: WebSocketConfig, handler: H) -> Self
    where
        H: UpgradeHandler,
    {
        self.register("websocket", config, handler)
    }
}
