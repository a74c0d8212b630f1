//! The knobs the Autobahn and interop scripts turn, read from the
//! environment, apart from the plain echo in `main.rs`:
//!
//! - `WS_BACKEND`: `messages` (the crate's own message layer, the default),
//!   or `tungstenite` (the compatibility backend, without compression).
//! - `WS_DEFLATE=1`: negotiate permessage-deflate (the `messages` backend).
//! - `WS_MAX_MESSAGE`: the largest message in bytes (1 MiB by default; the
//!   Autobahn script raises it for the 16 MiB messages of section 9).
//! - `WS_PING_MS`, `WS_PONG_TIMEOUT_MS`: keepalive of the `messages`
//!   backend (30 s and 20 s by default; `WS_PING_MS=0` sends no Pings).

use std::time::Duration;

use tower::service_fn;
use tower::util::ServiceFn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The layer the environment asks for, with `echo` as the handler of the
/// default backend, and the backend's name.
pub(crate) fn upgrades<F, Fut>(echo: ServiceFn<F>) -> (UpgradeLayer, String)
where
    F: FnMut(Upgraded) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), tower_upgrade::websocket::Error>> + Send + 'static,
{
    let deflate = std::env::var("WS_DEFLATE").is_ok_and(|v| v == "1");
    let backend = std::env::var("WS_BACKEND").unwrap_or_else(|_| "messages".into());
    let mut settings = WebSocketConfig::new().subprotocols(["echo"]);
    if let Some(bytes) = env_number("WS_MAX_MESSAGE") {
        let bytes = bytes as usize;
        // tungstenite refuses to queue a message larger than its write buffer.
        settings = settings
            .max_message_size(bytes)
            .max_frame_size(bytes)
            .max_write_buffer_size(bytes.saturating_mul(2));
    }
    if let Some(ms) = env_number("WS_PING_MS") {
        settings = settings.ping_interval((ms > 0).then(|| Duration::from_millis(ms)));
    }
    if let Some(ms) = env_number("WS_PONG_TIMEOUT_MS") {
        settings = settings.pong_timeout(Duration::from_millis(ms));
    }
    if deflate && backend != "tungstenite" {
        settings = settings.permessage_deflate(tower_upgrade::websocket::DeflateConfig::new());
    }
    let upgrades = match (backend.as_str(), deflate) {
        ("messages", _) => UpgradeLayer::new().websocket(settings, echo),
        ("tungstenite", false) => {
            UpgradeLayer::new().websocket(settings, service_fn(tungstenite::echo))
        }
        (backend, deflate) => {
            tracing::error!("WS_BACKEND={backend} with WS_DEFLATE={deflate} is not available");
            std::process::exit(2);
        }
    };
    (upgrades, backend)
}

mod tungstenite {
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
}
