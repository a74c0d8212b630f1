//! Messages through tokio-tungstenite, the backend axum 0.8 uses.

use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig as TungsteniteConfig};
use tokio_tungstenite::WebSocketStream;

use super::FrameLimits;
use crate::Upgraded;

impl FrameLimits {
    /// These limits as a tungstenite configuration.
    pub fn to_tungstenite(self) -> TungsteniteConfig {
        TungsteniteConfig::default()
            .read_buffer_size(self.read_buffer_size)
            .write_buffer_size(self.write_buffer_size)
            .max_write_buffer_size(self.max_write_buffer_size.max(self.write_buffer_size + 1))
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_frame_size))
    }
}

impl Upgraded {
    /// A WebSocket message stream over this connection, with the
    /// [`FrameLimits`] of the [`WebSocketConfig`](super::WebSocketConfig) registration
    /// (the defaults for any other protocol). Its `Message` type is the one
    /// axum 0.8 uses. It never negotiates compression.
    ///
    /// ```
    /// use futures_util::{SinkExt, StreamExt};
    /// use tower::service_fn;
    /// use tower_upgrade::websocket::WebSocketConfig;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new().websocket(
    ///     WebSocketConfig::new(),
    ///     service_fn(|conn: Upgraded| async move {
    ///         let mut ws = conn.into_tungstenite().await;
    ///         while let Some(message) = ws.next().await {
    ///             let message = message?;
    ///             if message.is_text() || message.is_binary() {
    ///                 ws.send(message).await?;
    ///             }
    ///         }
    ///         Ok::<_, tokio_tungstenite::tungstenite::Error>(())
    ///     }),
    /// );
    /// # let _ = layer;
    /// ```
    pub async fn into_tungstenite(self) -> WebSocketStream<Upgraded> {
        // tungstenite has no permessage-deflate: a registration that turned
        // it on must use `into_websocket`. The handshake cannot be taken back, so
        // say why the connection will fail (RSV1 set: close code 1002).
        #[cfg(feature = "deflate")]
        if let Some(agreed) = self.permessage_deflate() {
            tracing::error!(
                extension = %agreed,
                "permessage-deflate was negotiated but the handler uses tungstenite, which cannot decompress; use Upgraded::into_websocket"
            );
        }
        let config = frame_limits(&self).to_tungstenite();
        WebSocketStream::from_raw_socket(self, Role::Server, Some(config)).await
    }
}

/// The frame limits of the registration that accepted `conn` (the defaults
/// for a connection of another protocol).
fn frame_limits(conn: &Upgraded) -> FrameLimits {
    conn.extensions()
        .get::<FrameLimits>()
        .copied()
        .unwrap_or_default()
}
