//! The fan-out servers the bench binary serves (`fanout --server NAME`),
//! each behind the same `axum::serve` on a multi-thread runtime of
//! `FANOUT_WORKERS` (default 2) workers. Every socket on `/ws` subscribes
//! to one topic; every text or binary message any socket sends is
//! published to all of them, the sender included.

use axum::routing::{any, get, MethodRouter};
use axum::Router;
use tokio::sync::broadcast;

use crate::procfs;

/// axum 0.8's `WebSocket` with a `tokio::sync::broadcast` channel and a
/// writer task per socket, as axum's chat example does it.
pub const AXUM_BROADCAST: &str = "axum+broadcast";
/// This crate's `WebSocket` the same way: the broadcast channel, a writer
/// task per socket calling `Sender::send`.
pub const TOWER_BROADCAST: &str = "tower-upgrade+broadcast";
/// This crate's topics (`Topics::subscribe` / `Topics::publish`).
pub const TOWER_TOPICS: &str = "tower-upgrade";
/// The same with permessage-deflate (`DeflateConfig::new()`: no context
/// takeover, so each publish is compressed once for every subscriber).
pub const TOWER_TOPICS_DEFLATE: &str = "tower-upgrade+deflate";

/// The broadcast channel's capacity: how far a subscriber's writer task
/// may fall behind before it misses messages (`RecvError::Lagged`, after
/// which it goes on with the oldest message kept). axum's chat example
/// uses 100; 1024 lets the 1,000 msg/s case absorb a second's stall.
const CAPACITY: usize = 1024;

pub fn serve(name: &str, metrics: bool) {
    procfs::raise_fd_limit(20_000);
    let workers = std::env::var("FANOUT_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ws = match name {
            AXUM_BROADCAST => {
                let (tx, _) = broadcast::channel(CAPACITY);
                any(move |ws: axum::extract::ws::WebSocketUpgrade| {
                    let tx = tx.clone();
                    async move { ws.on_upgrade(move |socket| axum_broadcast(socket, tx)) }
                })
            }
            TOWER_BROADCAST => tower_broadcast(),
            TOWER_TOPICS => crate::topics::route(false),
            TOWER_TOPICS_DEFLATE => crate::topics::route(true),
            other => panic!("unknown server {other}"),
        };
        let mut app = Router::new().route("/ws", ws);
        if metrics {
            app = app.route("/metrics", prometheus());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        axum::serve(listener, app).await.unwrap();
    });
}

/// Installs the Prometheus recorder; `GET /metrics` renders it.
fn prometheus() -> MethodRouter {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("the only metrics recorder of this process");
    get(move || {
        let handle = handle.clone();
        async move { handle.render() }
    })
}

async fn axum_broadcast(
    socket: axum::extract::ws::WebSocket,
    tx: broadcast::Sender<axum::extract::ws::Message>,
) {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt, StreamExt};
    use tokio::sync::broadcast::error::RecvError;
    let (mut sink, mut stream) = socket.split();
    let mut rx = tx.subscribe();
    let mut writer = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(message) => {
                    if sink.send(message).await.is_err() {
                        break;
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    });
    let mut reader = tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Text(_) | Message::Binary(_)) {
                let _ = tx.send(message);
            }
        }
    });
    tokio::select! {
        _ = &mut writer => reader.abort(),
        _ = &mut reader => writer.abort(),
    }
}

fn tower_broadcast() -> MethodRouter {
    use tower::service_fn;
    use tower_upgrade::websocket::{Message, WebSocketConfig};
    use tower_upgrade::{UpgradeLayer, Upgraded};

    let (tx, _) = broadcast::channel::<Message>(CAPACITY);
    let handler = service_fn(move |conn: Upgraded| {
        let tx = tx.clone();
        async move {
            use tokio::sync::broadcast::error::RecvError;
            let (sender, mut receiver) = conn.into_websocket().split();
            let mut rx = tx.subscribe();
            let writer = tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(message) => {
                            if sender.send(message).await.is_err() {
                                break;
                            }
                        }
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                }
            });
            while let Some(Ok(message)) = receiver.recv().await {
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    let _ = tx.send(message);
                }
            }
            writer.abort();
            Ok::<_, std::convert::Infallible>(())
        }
    });
    any(|| async { "" }).layer(UpgradeLayer::new().websocket(WebSocketConfig::new(), handler))
}
