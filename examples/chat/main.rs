//! A chat server: `GET /` serves a page that opens `/ws?room=NAME`; a text
//! sent by one member of a room reaches every member of that room.
//!
//! ```sh
//! cargo run --example chat --features tungstenite
//! # then open http://127.0.0.1:3000/?room=rust in two tabs
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{any, get};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error, Message};
use tower::service_fn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

/// Messages a slow member may fall behind before it misses some.
const ROOM_BACKLOG: usize = 64;
/// Longest message accepted from a member.
const MAX_MESSAGE: usize = 4 * 1024;

#[derive(Clone, Default)]
struct Rooms {
    rooms: Arc<Mutex<HashMap<String, broadcast::Sender<Arc<str>>>>>,
    next_guest: Arc<AtomicU64>,
}

impl Rooms {
    fn join(&self, name: &str) -> (broadcast::Sender<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        let mut rooms = self.rooms.lock().unwrap();
        let sender = rooms
            .entry(name.to_owned())
            .or_insert_with(|| broadcast::channel(ROOM_BACKLOG).0)
            .clone();
        let receiver = sender.subscribe();
        (sender, receiver)
    }

    /// Forgets a room once its last member has left.
    fn leave(&self, name: &str) {
        let mut rooms = self.rooms.lock().unwrap();
        if rooms
            .get(name)
            .is_some_and(|room| room.receiver_count() == 0)
        {
            rooms.remove(name);
        }
    }
}

#[derive(Deserialize)]
struct Params {
    room: Option<String>,
}

async fn member(rooms: Rooms, conn: Upgraded) -> Result<(), Error> {
    let room = Query::<Params>::try_from_uri(&conn.parts().uri)
        .ok()
        .and_then(|q| q.0.room)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "lobby".into());
    let guest = format!("guest-{}", rooms.next_guest.fetch_add(1, Ordering::Relaxed));
    let shutdown = conn.shutdown_signal();
    let (mut ws_tx, mut ws_rx) = conn.into_tungstenite().await.split();
    let (room_tx, mut room_rx) = rooms.join(&room);
    tracing::info!(%room, %guest, "joined");
    let _ = room_tx.send(format!("{guest} joined").into());

    let result = loop {
        tokio::select! {
            incoming = ws_rx.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let _ = room_tx.send(format!("{guest}: {}", text.as_str()).into());
                }
                Some(Ok(_)) => {}
                // Over MAX_MESSAGE: close with 1009 (RFC 6455 §7.4.1).
                Some(Err(Error::Capacity(e))) => {
                    let close = CloseFrame { code: CloseCode::Size, reason: e.to_string().into() };
                    let _ = ws_tx.send(Message::Close(Some(close))).await;
                    break Ok(());
                }
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            },
            broadcast = room_rx.recv() => match broadcast {
                Ok(text) => {
                    if let Err(e) = ws_tx.send(Message::text(&*text)).await {
                        break Err(e);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(%guest, missed, "member fell behind");
                }
                Err(broadcast::error::RecvError::Closed) => break Ok(()),
            },
            () = shutdown.wait() => {
                let _ = ws_tx.send(Message::Close(None)).await;
                break Ok(());
            }
        }
    };
    let _ = room_tx.send(format!("{guest} left").into());
    drop(room_rx);
    rooms.leave(&room);
    tracing::info!(%room, %guest, "left");
    result
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();

    let rooms = Rooms::default();
    let upgrades = UpgradeLayer::new()
        .websocket(
            WebSocketConfig::new().max_message_size(MAX_MESSAGE),
            service_fn(move |conn| member(rooms.clone(), conn)),
        )
        .require_upgrade(true);
    let connections = upgrades.connections();

    let app = Router::new()
        .route("/", get(|| async { Html(include_str!("index.html")) }))
        .route(
            "/ws",
            any(|| async { StatusCode::NOT_FOUND }).layer(upgrades),
        );

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("chat on http://{}/", listener.local_addr()?);
    // `serve` rather than `axum::serve`: it has deadlines on every
    // connection (request heads, HTTP/2 preface and idle connections).
    tower_upgrade::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    connections.shutdown();
    connections.wait_closed(Duration::from_secs(5)).await;
    Ok(())
}
