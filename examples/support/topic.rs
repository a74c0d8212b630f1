//! `/topic` for the slow-consumer check of issue 18
//! (`tests/interop/slow_consumer.py`), behind `WS_TOPIC_POLICY`; not needed
//! in your own server. Every socket on `/topic` is subscribed to one topic,
//! and what any of them sends is published to it, its sender included.
//! `WS_TOPIC_POLICY` is the table's `SlowConsumer`: `drop`, `close`,
//! `close:N` (after N missed in a row) or `wait:MS`.

use std::time::Duration;

use axum::Router;
use tower::service_fn;
use tower_upgrade::websocket::{Error, Message, SlowConsumer, Topics, WebSocketConfig};
use tower_upgrade::{UpgradeLayer, Upgraded};

const TOPIC: &str = "all";

async fn member(topics: Topics, conn: Upgraded) -> Result<(), Error> {
    let (tx, mut rx) = conn.into_websocket().split();
    topics.subscribe(TOPIC, &tx);
    while let Some(message) = rx.recv().await {
        if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
            let Ok(report) = topics.publish(TOPIC, message).await else {
                continue;
            };
            if report.dropped() > 0 || report.closed() > 0 {
                tracing::warn!(
                    dropped = report.dropped(),
                    closed = report.closed(),
                    "topic: subscribers too slow"
                );
            }
        }
    }
    Ok(())
}

fn policy(value: &str) -> Option<SlowConsumer> {
    let (name, number) = match value.split_once(':') {
        Some((name, n)) => (name, Some(n.parse::<u64>().ok()?)),
        None => (value, None),
    };
    match (name, number) {
        ("drop", None) => Some(SlowConsumer::Drop),
        ("close", after) => Some(SlowConsumer::Close {
            after: u32::try_from(after.unwrap_or(0)).ok()?,
        }),
        ("wait", Some(ms)) => Some(SlowConsumer::Wait(Duration::from_millis(ms))),
        _ => None,
    }
}

/// `app` with `/topic` when `WS_TOPIC_POLICY` is set; exits with status 2
/// on a policy it cannot read.
pub fn route(app: Router, settings: &WebSocketConfig) -> Router {
    let Ok(value) = std::env::var("WS_TOPIC_POLICY") else {
        return app;
    };
    let Some(policy) = policy(&value) else {
        tracing::error!(value, "WS_TOPIC_POLICY: drop, close, close:N or wait:MS");
        std::process::exit(2);
    };
    tracing::info!(?policy, "/topic");
    let topics = Topics::builder().slow_consumer(policy).build();
    let layer = UpgradeLayer::new().websocket(
        settings.clone(),
        service_fn(move |conn| member(topics.clone(), conn)),
    );
    app.route_service("/topic", layer.into_service())
}
