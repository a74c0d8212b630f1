//! The crate's own WebSocket type through the real upgrade path: `axum::serve`
//! on 127.0.0.1, the layer on a route, and tokio-tungstenite as the client
//! (a third-party peer), not a duplex pipe.
#![cfg(all(feature = "messages", feature = "tungstenite"))]

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::any;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as Client;
use tower::service_fn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{Connections, UpgradeLayer};

mod support;
use support::ws::echo;

/// Serves echo at `/ws` with `settings`; the address and the layer's
/// connections.
async fn serve(settings: WebSocketConfig) -> (SocketAddr, Connections) {
    let upgrades = UpgradeLayer::new().websocket(settings, service_fn(echo));
    let connections = upgrades.connections();
    let app = Router::new().route(
        "/ws",
        any(|| async { StatusCode::NOT_FOUND }).layer(upgrades),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, connections)
}

#[tokio::test]
async fn echoes_text_binary_and_large_messages_over_tcp() {
    let (addr, _) = serve(WebSocketConfig::new()).await;
    let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let large: Vec<u8> = (0..900_000u32).map(|i| (i % 251) as u8).collect();
    let messages = [
        Client::text("hello"),
        Client::binary(vec![0, 1, 2, 255]),
        Client::text(""),
        Client::binary(large),
        Client::text("é✓".repeat(10_000)),
    ];
    for message in &messages {
        ws.send(message.clone()).await.unwrap();
    }
    for message in messages {
        assert_eq!(ws.next().await.unwrap().unwrap(), message);
    }
    // The socket answers a Ping by itself.
    ws.send(Client::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Client::Pong(b"are you there".to_vec().into())
    );
    // RFC 6455 §5.5.1: our Close is answered with the same code.
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .unwrap();
    match ws.next().await {
        Some(Ok(Client::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected the Close reply, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn a_message_over_the_limit_is_closed_with_1009() {
    let (addr, _) = serve(WebSocketConfig::new().max_message_size(1000)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws.send(Client::binary(vec![7; 500])).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Client::binary(vec![7; 500])
    );
    ws.send(Client::binary(vec![7; 1001])).await.unwrap();
    match ws.next().await {
        Some(Ok(Client::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected Close 1009, got {other:?}"),
    }
}

#[tokio::test]
async fn shutdown_closes_with_1001_after_the_echoes() {
    let (addr, connections) = serve(WebSocketConfig::new()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws.send(Client::text("before")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Client::text("before"));
    connections.shutdown();
    // No handler code: the socket says goodbye by itself.
    match ws.next().await {
        Some(Ok(Client::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected Close 1001, got {other:?}"),
    }
    // Our reply ends the handshake; the server closes TCP.
    assert!(ws.next().await.is_none());
    assert!(
        connections
            .wait_closed(std::time::Duration::from_secs(30))
            .await
    );
}
