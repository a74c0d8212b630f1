//! The fan-out server on this crate's topics (issue 18): each socket
//! subscribes its `Sender` to one topic and publishes what it receives;
//! `Topics` encodes each message once (and compresses it once per set of
//! agreed permessage-deflate parameters) for every subscriber's queue.

use axum::routing::{any, MethodRouter};
use tower::service_fn;
use tower_upgrade::websocket::{DeflateConfig, Error, Message, Topics, WebSocketConfig};
use tower_upgrade::{UpgradeLayer, Upgraded};

/// The one topic.
const TOPIC: &str = "all";

/// `/ws` on the default `Topics` (slow subscribers miss messages:
/// `SlowConsumer::Drop`) and the default `WebSocketConfig`, with
/// `DeflateConfig::new()` if `deflate`.
pub fn route(deflate: bool) -> MethodRouter {
    let topics = Topics::new();
    let mut config = WebSocketConfig::new();
    if deflate {
        config = config.permessage_deflate(DeflateConfig::new());
    }
    let handler = service_fn(move |conn: Upgraded| subscriber(conn, topics.clone()));
    any(|| async { "" }).layer(UpgradeLayer::new().websocket(config, handler))
}

async fn subscriber(conn: Upgraded, topics: Topics) -> Result<(), Error> {
    let (tx, mut rx) = conn.into_websocket().split();
    topics.subscribe(TOPIC, &tx);
    while let Some(message) = rx.recv().await {
        if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
            // Only a control message is refused, and none gets here.
            let _ = topics.publish(TOPIC, message).await;
        }
    }
    Ok(())
}
