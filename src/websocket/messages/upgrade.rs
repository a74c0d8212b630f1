//! `Upgraded::into_websocket`: the message layer over an upgraded
//! connection, with the registration's settings.

use super::{Settings, WebSocket};
use crate::Upgraded;

impl Upgraded {
    /// This connection as a [`WebSocket`] of the crate's own message layer,
    /// with the limits, keepalive and timeouts of the
    /// [`WebSocketConfig`](crate::websocket::WebSocketConfig) registration
    /// (the defaults for another protocol), and permessage-deflate when the
    /// handshake agreed on it. When the layer's
    /// [`Connections::shutdown`](crate::Connections::shutdown) fires, the
    /// socket sends Close 1001 by itself and `recv` returns `None`.
    ///
    /// ```
    /// use tower::service_fn;
    /// use tower_upgrade::websocket::{Message, WebSocketConfig};
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new().websocket(
    ///     WebSocketConfig::new(),
    ///     service_fn(|conn: Upgraded| async move {
    ///         let mut ws = conn.into_websocket();
    ///         while let Some(message) = ws.recv().await {
    ///             if let m @ (Message::Text(_) | Message::Binary(_)) = message? {
    ///                 ws.send(m).await?;
    ///             }
    ///         }
    ///         Ok::<_, tower_upgrade::websocket::Error>(())
    ///     }),
    /// );
    /// # let _ = layer;
    /// ```
    pub fn into_websocket(self) -> WebSocket {
        let mut io = self;
        // One typed value from the handshake (`websocket/handshake.rs`):
        // limits, timeouts and compression together. A connection of
        // another protocol has none, and gets the defaults.
        let settings = io.extensions_mut().remove::<Settings>().unwrap_or_default();
        let shutdown = io.shutdown_signal();
        // The socket never hands the request back: free its head now. Its
        // header values share hyper's whole read buffer, which would
        // otherwise stay for the life of the connection.
        drop(io.take_parts());
        *io.extensions_mut() = http::Extensions::new();
        io.take_body();
        WebSocket::from_io(io, &settings, Some(shutdown))
    }
}
