//! `WS_BACKEND=tungstenite`: the echo through tokio-tungstenite, the
//! compatibility backend the Autobahn and interop scripts also run (see
//! `../support/knobs.rs`). Not needed in your own server: `main.rs`'s
//! `echo` is the one to copy.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tower_upgrade::Upgraded;

/// The same echo through tokio-tungstenite, the compatibility backend.
pub(crate) async fn echo(conn: Upgraded) -> Result<(), Error> {
    let shutdown = conn.shutdown_signal();
    let mut ws = conn.into_tungstenite().await;
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => ws.send(message).await?,
                // Pings are answered and a Close is replied to by the
                // backend; keep reading until the stream ends so the
                // reply is flushed.
                Some(Ok(_)) => {}
                Some(Err(Error::ConnectionClosed | Error::AlreadyClosed)) | None => return Ok(()),
                // RFC 6455 §7.4.1: say why before dropping the
                // connection; tungstenite drops it silently otherwise.
                Some(Err(e)) => {
                    let code = match &e {
                        Error::Capacity(_) => CloseCode::Size,
                        Error::Utf8(_) => CloseCode::Invalid,
                        Error::Protocol(ProtocolError::InvalidCloseSequence) => return Err(e),
                        Error::Protocol(_) => CloseCode::Protocol,
                        _ => return Err(e),
                    };
                    let close = CloseFrame { code, reason: e.to_string().into() };
                    let _ = ws.close(Some(close)).await;
                    // Flush the Close; the peer's answer ends the stream.
                    while let Some(Ok(_)) = ws.next().await {}
                    return Ok(());
                }
            },
            () = shutdown.wait(), if !shutdown.is_triggered() => {
                ws.send(Message::Close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "server shutting down".into(),
                })))
                .await?;
            }
        }
    }
}
