//! A WebSocket echo server: `/ws` sends back every text and binary message.
//!
//! ```sh
//! cargo run --example echo
//! websocat ws://127.0.0.1:3000/ws   # or any WebSocket client
//!
//! # permessage-deflate (RFC 7692):
//! WS_DEFLATE=1 cargo run --example echo
//! ```
//!
//! The default Origin policy applies (same origin, or no Origin), and the
//! subprotocol `echo` is offered but not required. `GET /` is a small page,
//! so a browser on it can open `ws://<same host>/ws`. SIGTERM or ctrl-c
//! drains: every client gets Close 1001, and the process exits once they
//! are closed (10 s at most).
//!
//! The environment knobs the test scripts turn (`ADDR`, `WS_*`, trusted
//! proxies and per-client limits, `HEADER_READ_TIMEOUT`, `/metrics`) are in
//! `../support/`; `tungstenite.rs` is the `WS_BACKEND=tungstenite` backend.
//! Neither is needed in your own server.

#[path = "../support/mod.rs"]
mod support;
mod tungstenite;

use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tower::service_fn;
use tower_upgrade::websocket::{Error, Message, WebSocketConfig};
use tower_upgrade::Upgraded;

const PAGE: &str = "<!doctype html><meta charset=utf-8><title>echo</title>\n\
<p>echo server: open a WebSocket on /ws (same origin)</p>\n";

/// Sends back every text and binary message. The socket answers Pings,
/// pings a quiet peer, closes with the right code on a protocol error
/// (1002/1007/1009), and with 1001 when the server shuts down: `recv`
/// then returns `None`.
async fn echo(conn: Upgraded) -> Result<(), Error> {
    // Behind a trusted proxy, the client's address from X-Forwarded-For.
    let client = conn.client().and_then(|c| c.addr());
    tracing::info!(?client, "echo: connected");
    let mut ws = conn.into_websocket();
    while let Some(message) = ws.recv().await {
        if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
            ws.send(message).await?;
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let prometheus = support::metrics::install();

    // In your own server: UpgradeLayer::new().websocket(settings, service_fn(echo)).
    let knobs = support::knobs::from_env(WebSocketConfig::new().subprotocols(["echo"]));
    let upgrades =
        support::knobs::layer(&knobs, service_fn(echo), service_fn(tungstenite::echo), "");
    let upgrades = support::client_limits::from_env(upgrades.require_upgrade(true));
    let connections = upgrades.connections();

    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/metrics", support::metrics::route(prometheus))
        .route_service("/ws", upgrades.into_service());
    let app = support::push::routes(app, &knobs.settings);
    let app = support::topic::route(app, &knobs.settings);

    let listener = tokio::net::TcpListener::bind(support::addr()).await?;
    tracing::info!(backend = %knobs.backend, "echo listening on http://{}", listener.local_addr()?);
    let stopping = connections.clone();
    // `serve` rather than `axum::serve`: it has deadlines on every
    // connection (request heads, HTTP/2 preface and idle connections), and
    // it gives the layer the peer address (trusted proxies, per-client
    // limits) as `ConnectInfo` did.
    support::timeouts::from_env(tower_upgrade::serve(listener, app))
        .with_graceful_shutdown(async move {
            support::stop_signal().await;
            // Every socket sends Close 1001 by itself and finishes its close
            // handshake; the HTTP side stops accepting meanwhile.
            stopping.shutdown();
        })
        .await?;
    connections.shutdown();
    let drained = connections.wait_closed(Duration::from_secs(10)).await;
    tracing::info!(drained, "echo stopped");
    Ok(())
}
