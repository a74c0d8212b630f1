//! Handlers shared by the tests and benchmarks.

use futures_util::{SinkExt, StreamExt};
use tower_upgrade::Upgraded;

/// Echoes text and binary messages until the client closes.
pub async fn ws_echo(conn: Upgraded) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut ws = conn.into_tungstenite().await;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
