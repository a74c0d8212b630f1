//! Two more WebSocket routes for the interop checks of issue 16, behind
//! `WS_PUSH_ROUTES=1`; not needed in your own server. Both use the halves
//! of `split` apart, the way a push channel does:
//!
//! - `/ticker`: sends `tick N` every 500 ms through the `Sender` and never
//!   polls the `Receiver` (the socket still answers Pings, pings the client
//!   and closes on the write timeout).
//! - `/split-echo`: `while let Some(m) = rx.recv().await { tx.send(m?).await? }`.

use std::time::Duration;

use axum::Router;
use tower::service_fn;
use tower_upgrade::websocket::{Error, Message, WebSocketConfig};
use tower_upgrade::{UpgradeLayer, Upgraded};

async fn ticker(conn: Upgraded) -> Result<(), Error> {
    let (tx, rx) = conn.into_websocket().split();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    for n in 0u64.. {
        tick.tick().await;
        tx.send(Message::text(format!("tick {n}"))).await?;
    }
    drop(rx);
    Ok(())
}

async fn split_echo(conn: Upgraded) -> Result<(), Error> {
    let (tx, mut rx) = conn.into_websocket().split();
    while let Some(message) = rx.recv().await {
        tx.send(message?).await?;
    }
    Ok(())
}

/// `app` with `/ticker` and `/split-echo` when `WS_PUSH_ROUTES=1`.
pub fn routes(app: Router, settings: &WebSocketConfig) -> Router {
    if !std::env::var("WS_PUSH_ROUTES").is_ok_and(|v| v == "1") {
        return app;
    }
    let ticker = UpgradeLayer::new().websocket(settings.clone(), service_fn(ticker));
    let split_echo = UpgradeLayer::new().websocket(settings.clone(), service_fn(split_echo));
    app.route_service("/ticker", ticker.into_service())
        .route_service("/split-echo", split_echo.into_service())
}
