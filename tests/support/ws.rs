//! The WebSocket echo handlers shared by the tests and the benchmarks
//! (`benches/` includes this file by path): one per backend, each sends
//! back every text and binary message until the client closes.

// A benchmark that includes this file may use only one of them.
#![allow(dead_code)]

/// Echo through tokio-tungstenite (`Upgraded::into_tungstenite`).
pub async fn ws_echo(
    conn: tower_upgrade::Upgraded,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    use futures_util::{SinkExt, StreamExt};
    let mut ws = conn.into_tungstenite().await;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// Echo through the crate's own message layer (`Upgraded::into_websocket`)
/// with `recv`/`send`, as the `echo` example does.
#[cfg(feature = "messages")]
pub async fn echo(conn: tower_upgrade::Upgraded) -> Result<(), tower_upgrade::websocket::Error> {
    use tower_upgrade::websocket::Message;
    let mut ws = conn.into_websocket();
    while let Some(message) = ws.recv().await {
        if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// The first byte of the next server frame (FIN, RSV, opcode) and its
/// payload, read off the raw connection; `None` at EOF.
pub async fn server_frame(io: &mut (impl tokio::io::AsyncRead + Unpin)) -> Option<(u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut head = [0; 2];
    io.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7F {
        126 => io.read_u16().await.ok()? as usize,
        127 => io.read_u64().await.ok()? as usize,
        n => n as usize,
    };
    let mut payload = vec![0; len];
    io.read_exact(&mut payload).await.ok()?;
    Some((head[0], payload))
}
