//! A WebSocket echo server: `/ws` sends back every text and binary message.
//!
//! ```sh
//! cargo run --example echo --features tungstenite
//! websocat ws://127.0.0.1:3000/ws   # or any WebSocket client
//!
//! # permessage-deflate (RFC 7692), through the yawc backend:
//! WS_DEFLATE=1 cargo run --example echo --features tungstenite,yawc
//! ```
//!
//! Environment: `ADDR`, where to listen (127.0.0.1:3000); the knobs the
//! Autobahn and interop scripts turn (backend, compression, message size)
//! are in `knobs.rs`.
//!
//! The default Origin policy applies (same origin, or no Origin), and the
//! subprotocol `echo` is offered but not required. `GET /` is a small page,
//! so a browser on it can open `ws://<same host>/ws`.

mod knobs;

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{any, get};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tower::service_fn;
use tower_upgrade::Upgraded;

const PAGE: &str = "<!doctype html><meta charset=utf-8><title>echo</title>\n\
<p>echo server: open a WebSocket on /ws (same origin)</p>\n";

async fn echo(conn: Upgraded) -> Result<(), Error> {
    let shutdown = conn.shutdown_signal();
    let mut ws = conn.into_tungstenite().await;
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => ws.send(message).await?,
                // Pings are answered and a Close is replied to by the backend;
                // keep reading until the stream ends so the reply is flushed.
                Some(Ok(_)) => {}
                Some(Err(Error::ConnectionClosed | Error::AlreadyClosed)) | None => return Ok(()),
                // Over the message limit: say so with 1009 (RFC 6455 §7.4.1)
                // rather than dropping the connection; the rest of the
                // oversized frame is unread, so the connection ends here.
                Some(Err(Error::Capacity(e))) => {
                    let close = CloseFrame { code: CloseCode::Size, reason: e.to_string().into() };
                    let _ = ws.close(Some(close)).await;
                    return Ok(());
                }
                Some(Err(e)) => return Err(e),
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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();

    let (upgrades, backend) = knobs::upgrades(service_fn(echo));
    let upgrades = upgrades.require_upgrade(true);
    let connections = upgrades.connections();

    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route(
            "/ws",
            any(|| async { StatusCode::NOT_FOUND }).layer(upgrades),
        );

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%backend, "echo listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    connections.shutdown();
    connections.wait_closed(Duration::from_secs(5)).await;
    Ok(())
}
