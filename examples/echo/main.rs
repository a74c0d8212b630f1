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
//! Environment: `ADDR`, where to listen (127.0.0.1:3000); the knobs the
//! Autobahn and interop scripts turn (backend, compression, message size,
//! keepalive) are in `../support/knobs.rs`; the deployment ones
//! (`TRUSTED_PROXIES`, `MAX_CONNECTIONS_PER_CLIENT`,
//! `HANDSHAKES_PER_SECOND_PER_CLIENT`, `HANDSHAKE_BURST`, ...) in
//! `../support/client_limits.rs`. `GET /metrics` is the crate's counters in
//! the Prometheus text format. SIGTERM or ctrl-c drains: every client gets Close
//! 1001, and the process exits once they are closed (10 s at most).
//!
//! The default Origin policy applies (same origin, or no Origin), and the
//! subprotocol `echo` is offered but not required. `GET /` is a small page,
//! so a browser on it can open `ws://<same host>/ws`.

#[path = "../support/client_limits.rs"]
mod client_limits;
mod knobs;
#[path = "../support/metrics.rs"]
mod metrics;
#[path = "../support/timeouts.rs"]
mod timeouts;
#[path = "../support/knobs.rs"]
mod ws_knobs;

use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tower::service_fn;
use tower_upgrade::websocket::{Error, Message};
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

/// Resolves on ctrl-c or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();

    let prometheus = metrics::install();
    let (upgrades, backend) = knobs::upgrades(service_fn(echo));
    let upgrades = client_limits::from_env(upgrades.require_upgrade(true));
    let connections = upgrades.connections();

    let app = Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/metrics", metrics::route(prometheus))
        .route_service("/ws", upgrades.into_service());

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(%backend, "echo listening on http://{}", listener.local_addr()?);
    let stopping = connections.clone();
    // `serve` rather than `axum::serve`: it has deadlines on every
    // connection (request heads, HTTP/2 preface and idle connections), and
    // it gives the layer the peer address (trusted proxies, per-client
    // limits) as `ConnectInfo` did.
    timeouts::from_env(tower_upgrade::serve(listener, app))
        .with_graceful_shutdown(async move {
            stop_signal().await;
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
