//! A chat server: `GET /` serves a page that opens `/ws?room=NAME`; a text
//! sent by one member of a room reaches every member of that room, and
//! every page shows, live, how many are in its room and how many chat
//! connections the server holds.
//!
//! ```sh
//! cargo run --example chat
//! # then open http://127.0.0.1:3000/?room=rust in two tabs,
//! # http://127.0.0.1:3000/stats for the chart, /metrics for Prometheus
//! ```
//!
//! Environment: `ADDR`, where to listen (127.0.0.1:3000); the WebSocket
//! knobs of `../support/knobs.rs` (`WS_BACKEND=tungstenite` for the
//! tokio-tungstenite backend, `WS_DEFLATE=1`, `WS_MAX_MESSAGE`, 4 KiB by
//! default here, `WS_PING_MS`, `WS_PONG_TIMEOUT_MS`); the deployment knobs
//! of `../support/client_limits.rs` (`TRUSTED_PROXIES`,
//! `MAX_CONNECTIONS_PER_CLIENT`, `HANDSHAKES_PER_SECOND_PER_CLIENT`, ...).
//! SIGTERM or ctrl-c drains: every member gets Close 1001 (5 s at most).
//!
//! Messages from server to page are JSON: `{"type":"message","from","text"}`,
//! `{"type":"joined"|"left","who"}` and `{"type":"presence","room","total"}`.

#[path = "../support/client_limits.rs"]
mod client_limits;
mod member;
#[path = "../support/metrics.rs"]
mod metrics;
mod rooms;
mod stats;
#[path = "../support/knobs.rs"]
mod ws_knobs;

use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use tower::service_fn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::UpgradeLayer;

use crate::rooms::Rooms;
use crate::stats::Stats;

/// Longest message accepted from a member, unless `WS_MAX_MESSAGE` says.
const MAX_MESSAGE: usize = 4 * 1024;

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
    let knobs = ws_knobs::from_env(WebSocketConfig::new().max_message_size(MAX_MESSAGE));
    let rooms = Rooms::default();
    let settings = knobs.settings.clone();
    let upgrades = client_limits::from_env(
        match (knobs.backend.as_str(), knobs.deflate) {
            ("messages", _) => UpgradeLayer::new().websocket(
                settings,
                service_fn(move |conn| member::member(rooms.clone(), conn)),
            ),
            ("tungstenite", false) => UpgradeLayer::new().websocket(
                settings,
                service_fn(move |conn| member::tungstenite::member(rooms.clone(), conn)),
            ),
            _ => ws_knobs::unavailable(&knobs, " in the chat example"),
        }
        .require_upgrade(true),
    );
    let connections = upgrades.connections();
    let stats = Stats::start(prometheus.clone(), connections.clone());

    let app = Router::new()
        .route("/", get(|| async { Html(include_str!("index.html")) }))
        .route("/stats", get(|| async { Html(include_str!("stats.html")) }))
        .route(
            "/stats.json",
            get(move || async move { Json(stats.json()) }),
        )
        .route("/metrics", metrics::route(prometheus))
        .route_service("/ws", upgrades.into_service());

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(backend = %knobs.backend, "chat on http://{}/", listener.local_addr()?);
    let stopping = connections.clone();
    // `serve` rather than `axum::serve`: it has deadlines on every
    // connection (request heads, HTTP/2 preface and idle connections), and
    // it gives the layer the peer address (trusted proxies, per-client
    // limits).
    tower_upgrade::serve(listener, app)
        .with_graceful_shutdown(async move {
            stop_signal().await;
            stopping.shutdown();
        })
        .await?;
    connections.shutdown();
    let drained = connections.wait_closed(Duration::from_secs(5)).await;
    tracing::info!(drained, "chat stopped");
    Ok(())
}
