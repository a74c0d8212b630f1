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

/// Echoes text and binary messages through yawc (compressed when the
/// handshake agreed on permessage-deflate) until the client closes.
#[cfg(feature = "yawc")]
#[allow(dead_code)] // not every test binary that includes this module uses it
pub async fn ws_echo_yawc(
    conn: Upgraded,
) -> Result<(), tower_upgrade::websocket::yawc::WebSocketError> {
    use tower_upgrade::websocket::yawc::{OpCode, WebSocketError};
    let mut ws = conn.into_yawc()?;
    loop {
        match ws.next_frame().await {
            Ok(frame) if matches!(frame.opcode(), OpCode::Text | OpCode::Binary) => {
                ws.send(frame).await?
            }
            // Keep reading after a Close so that yawc's reply is flushed.
            Ok(_) => {}
            Err(WebSocketError::ConnectionClosed) => return Ok(()),
            Err(e) => {
                tower_upgrade::websocket::close_after_error(&mut ws, &e).await;
                return Err(e);
            }
        }
    }
}
