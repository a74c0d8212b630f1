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
//! SIGTERM or ctrl-c drains: every member gets Close 1001 (5 s at most).
//!
//! Messages from server to page are JSON: `{"type":"message","from","text"}`,
//! `{"type":"joined"|"left","who"}` and `{"type":"presence","room","total"}`.
//!
//! The environment knobs the test scripts turn (`ADDR`, `WS_*` with
//! `WS_MAX_MESSAGE` 4 KiB by default here, trusted proxies and per-client
//! limits, `/metrics`) are in `../support/`; `member::tungstenite` is the
//! `WS_BACKEND=tungstenite` backend. Neither is needed in your own server.

mod member;
mod rooms;
mod stats;
#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use tower::service_fn;
use tower_upgrade::websocket::WebSocketConfig;

use crate::rooms::Rooms;
use crate::stats::Stats;

/// Longest message accepted from a member, unless `WS_MAX_MESSAGE` says.
const MAX_MESSAGE: usize = 4 * 1024;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let prometheus = support::metrics::install();

    let rooms = Rooms::default();
    // In your own server: UpgradeLayer::new().websocket(settings, service_fn(member)).
    let knobs = support::knobs::from_env(WebSocketConfig::new().max_message_size(MAX_MESSAGE));
    let upgrades = support::knobs::layer(
        &knobs,
        service_fn({
            let rooms = rooms.clone();
            move |conn| member::member(rooms.clone(), conn)
        }),
        service_fn(move |conn| member::tungstenite::member(rooms.clone(), conn)),
        " in the chat example",
    );
    let upgrades = support::client_limits::from_env(upgrades.require_upgrade(true));
    let connections = upgrades.connections();
    let stats = Stats::start(prometheus.clone(), connections.clone());

    let app = Router::new()
        .route("/", get(|| async { Html(include_str!("index.html")) }))
        .route("/stats", get(|| async { Html(include_str!("stats.html")) }))
        .route(
            "/stats.json",
            get(move || async move { Json(stats.json()) }),
        )
        .route("/metrics", support::metrics::route(prometheus))
        .route_service("/ws", upgrades.into_service());

    let listener = tokio::net::TcpListener::bind(support::addr()).await?;
    tracing::info!(backend = %knobs.backend, "chat on http://{}/", listener.local_addr()?);
    let stopping = connections.clone();
    // `serve` rather than `axum::serve`: it has deadlines on every
    // connection (request heads, HTTP/2 preface and idle connections), and
    // it gives the layer the peer address (trusted proxies, per-client
    // limits).
    tower_upgrade::serve(listener, app)
        .with_graceful_shutdown(async move {
            support::stop_signal().await;
            stopping.shutdown();
        })
        .await?;
    connections.shutdown();
    let drained = connections.wait_closed(Duration::from_secs(5)).await;
    tracing::info!(drained, "chat stopped");
    Ok(())
}
