//! The knobs the Autobahn and interop scripts turn, read from the
//! environment, apart from the plain echo in `main.rs`:
//!
//! - `WS_BACKEND`: `tungstenite` (the default) or `yawc` (needs the `yawc`
//!   feature).
//! - `WS_DEFLATE=1`: negotiate permessage-deflate; implies `WS_BACKEND=yawc`.
//! - `WS_MAX_MESSAGE`: the largest message in bytes (1 MiB by default; the
//!   Autobahn script raises it for the 16 MiB messages of section 9).

use tokio_tungstenite::tungstenite::Error;
use tower::service_fn;
use tower::util::ServiceFn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

/// The layer the environment asks for, with `echo` as the tungstenite
/// handler, and the backend's name.
pub(crate) fn upgrades<F, Fut>(echo: ServiceFn<F>) -> (UpgradeLayer, String)
where
    F: FnMut(Upgraded) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let deflate = std::env::var("WS_DEFLATE").is_ok_and(|v| v == "1");
    let backend = std::env::var("WS_BACKEND")
        .unwrap_or_else(|_| if deflate { "yawc" } else { "tungstenite" }.into());
    let mut settings = WebSocketConfig::new().subprotocols(["echo"]);
    if let Some(bytes) = std::env::var("WS_MAX_MESSAGE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        // tungstenite refuses to queue a message larger than its write buffer.
        settings = settings
            .max_message_size(bytes)
            .max_frame_size(bytes)
            .max_write_buffer_size(bytes.saturating_mul(2));
    }
    let upgrades = match (backend.as_str(), deflate) {
        ("tungstenite", false) => UpgradeLayer::new().websocket(settings, echo),
        #[cfg(feature = "yawc")]
        ("yawc", deflate) => {
            if deflate {
                settings =
                    settings.permessage_deflate(tower_upgrade::websocket::DeflateConfig::new());
            }
            UpgradeLayer::new().websocket(settings, service_fn(compressed::echo))
        }
        (backend, deflate) => {
            let missing = if cfg!(feature = "yawc") {
                ""
            } else {
                " (built without the yawc feature)"
            };
            tracing::error!(
                "WS_BACKEND={backend} with WS_DEFLATE={deflate} is not available{missing}"
            );
            std::process::exit(2);
        }
    };
    (upgrades, backend)
}

#[cfg(feature = "yawc")]
mod compressed {
    use futures_util::SinkExt;
    use tower_upgrade::websocket::close_after_error;
    use tower_upgrade::websocket::yawc::close::CloseCode;
    use tower_upgrade::websocket::yawc::{Frame, OpCode, WebSocketError};
    use tower_upgrade::Upgraded;

    /// The same echo through yawc, which compresses when the handshake
    /// agreed on permessage-deflate.
    pub(crate) async fn echo(conn: Upgraded) -> Result<(), WebSocketError> {
        let shutdown = conn.shutdown_signal();
        let mut ws = conn.into_yawc()?;
        loop {
            tokio::select! {
                frame = ws.next_frame() => match frame {
                    Ok(frame) if matches!(frame.opcode(), OpCode::Text | OpCode::Binary) => ws.send(frame).await?,
                    // yawc answers Pings and replies to a Close; keep reading
                    // until the stream ends so the reply is flushed.
                    Ok(_) => {}
                    Err(WebSocketError::ConnectionClosed) => return Ok(()),
                    // Over the limit (after decompression) or a protocol
                    // error: close with the code that says so.
                    Err(e) => {
                        close_after_error(&mut ws, &e).await;
                        return Err(e);
                    }
                },
                () = shutdown.wait(), if !shutdown.is_triggered() => {
                    ws.send(Frame::close(CloseCode::Away, "server shutting down")).await?;
                }
            }
        }
    }
}
