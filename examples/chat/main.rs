//! A chat server: `GET /` serves a page that opens `/ws?room=NAME`; a text
//! sent by one member of a room reaches every member of that room, and
//! every page shows, live, how many are in its room and how many chat
//! connections there are in all. Rooms are topics (`Topics`), so a message
//! is encoded once for the whole room.
//!
//! ```sh
//! cargo run --example chat
//! # then open http://127.0.0.1:3000/?room=rust in two tabs,
//! # http://127.0.0.1:3000/stats for the chart, /metrics for Prometheus
//!
//! # Many instances sharing their rooms through Redis pub/sub:
//! REDIS_URL=redis://127.0.0.1:6379 INSTANCE=a ADDR=127.0.0.1:3001 cargo run --example chat
//! REDIS_URL=redis://127.0.0.1:6379 INSTANCE=b ADDR=127.0.0.1:3002 cargo run --example chat
//! ```
//!
//! `INSTANCE` names the instance (a random name otherwise); the page shows
//! which one it is connected to. Each instance counts its own members and
//! publishes its counts to the room when they change (and every 5 s); the
//! page adds up the latest count of every instance, and forgets one it has
//! not heard from for 15 s (`presence.rs`). While Redis is away, each
//! instance's rooms go on locally.
//!
//! SIGTERM or ctrl-c drains: every member gets Close 1001 (5 s at most),
//! and its page reconnects, with back-off, to whichever instance the load
//! balancer picks. A page also reconnects after 1012 (service restart),
//! 1013 (too slow for its room) and a dropped connection.
//!
//! Messages from server to page are JSON:
//! `{"type":"welcome","instance","you"}` first, then
//! `{"type":"message","from","text"}`, `{"type":"joined"|"left","who"}` and
//! `{"type":"presence","instance","room"|"total"}`.
//!
//! The environment knobs the test scripts turn (`ADDR`, `WS_*` with
//! `WS_MAX_MESSAGE` 4 KiB by default here, trusted proxies and per-client
//! limits, `/metrics`) are in `../support/`; you do not need them in your
//! own server.

mod member;
mod presence;
mod rooms;
mod stats;
#[path = "../support/mod.rs"]
mod support;

use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use tower::service_fn;
use tower_upgrade::websocket::{RedisBackplane, SlowConsumer, Topics, WebSocketConfig};
use tower_upgrade::UpgradeLayer;

use crate::rooms::Rooms;
use crate::stats::Stats;

/// Longest message accepted from a member, unless `WS_MAX_MESSAGE` says.
const MAX_MESSAGE: usize = 4 * 1024;

/// A member whose send buffer is full is far behind its room: close it
/// with 1013 and let its page reconnect, rather than leave it a gap it
/// cannot see.
const SLOW_CONSUMER: SlowConsumer = SlowConsumer::Close { after: 0 };

#[tokio::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let prometheus = support::metrics::install();

    let instance = std::env::var("INSTANCE").unwrap_or_else(|_| random_name());
    let rooms = Rooms::new(topics()?, &instance);

    // In your own server: UpgradeLayer::new().websocket(settings, service_fn(member)).
    let knobs = support::knobs::from_env(WebSocketConfig::new().max_message_size(MAX_MESSAGE));
    if knobs.backend != "messages" {
        // Topics need the crate's own WebSocket.
        support::knobs::unavailable(&knobs, " in the chat example");
    }
    let upgrades = UpgradeLayer::new().websocket(
        knobs.settings.clone(),
        service_fn(move |conn| member::member(rooms.clone(), conn)),
    );
    let upgrades = support::client_limits::from_env(upgrades.require_upgrade(true));
    let connections = upgrades.connections();
    let stats = Stats::start(prometheus.clone(), connections.clone(), &instance);

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
    tracing::info!(backend = %knobs.backend, instance, "chat on http://{}/", listener.local_addr()?);
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

/// Six hex digits, for an instance started without `INSTANCE`.
fn random_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{:06x}", random & 0xff_ffff)
}

/// The rooms' table: this instance's alone, or shared with the other
/// instances through Redis pub/sub when `REDIS_URL` is set.
fn topics() -> std::io::Result<Topics> {
    let topics = Topics::builder().slow_consumer(SLOW_CONSUMER);
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let redis = RedisBackplane::new(&url).map_err(std::io::Error::other)?;
            Ok(topics.backplane(redis).build())
        }
        Err(_) => Ok(topics.build()),
    }
}
