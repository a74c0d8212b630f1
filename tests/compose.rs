//! The layer composed with axum and tower-http, over real TCP on 127.0.0.1.
//!
//! Each composition must still switch and carry messages both ways.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{any, get};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tower::{service_fn, ServiceBuilder};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::UpgradeLayer;

mod support;
use support::ws::ws_echo as echo;

fn upgrades() -> UpgradeLayer {
    UpgradeLayer::new().websocket(WebSocketConfig::new(), service_fn(echo))
}

/// Serves `app` with `axum::serve` on a free port and returns its address.
async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Opens a WebSocket on `path` (asking for gzip, to give CompressionLayer
/// something to do) and checks an echo round trip.
async fn assert_echoes(addr: std::net::SocketAddr, path: &str) {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("accept-encoding", "gzip".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert!(response.headers().get("content-encoding").is_none());
    for text in ["one", "two"] {
        ws.send(Message::text(text)).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text));
    }
    ws.close(None).await.unwrap();
}

async fn get_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response[9..12].parse().unwrap()
}

#[tokio::test]
async fn router_layer() {
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .layer(upgrades());
    let addr = serve(app).await;
    assert_echoes(addr, "/").await;
    assert_eq!(get_status(addr, "/").await, 200);
}

#[tokio::test]
async fn route_layer_with_required_upgrade() {
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .route("/ws", any(|| async { StatusCode::NOT_FOUND }))
        .route_layer(upgrades().require_upgrade(true));
    let addr = serve(app).await;
    assert_echoes(addr, "/ws").await;
    assert_eq!(get_status(addr, "/ws").await, 426);
    // An unknown path is not a route, so route_layer does not apply.
    assert_eq!(get_status(addr, "/missing").await, 404);
}

#[tokio::test]
async fn method_router_layer() {
    let app = Router::new().route(
        "/ws",
        any(|| async { StatusCode::NOT_FOUND }).layer(upgrades().require_upgrade(true)),
    );
    let addr = serve(app).await;
    assert_echoes(addr, "/ws").await;
}

#[tokio::test]
async fn tower_http_layers_around_the_upgrade_layer() {
    let app = Router::new().route("/", get(|| async { "home" })).layer(
        ServiceBuilder::new()
            .layer(TraceLayer::new_for_http())
            .layer(CompressionLayer::new())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(30),
            ))
            .layer(CorsLayer::permissive())
            .layer(upgrades()),
    );
    let addr = serve(app).await;
    assert_echoes(addr, "/").await;
    assert_eq!(get_status(addr, "/").await, 200);
}

#[tokio::test]
async fn tower_http_layers_inside_the_upgrade_layer() {
    let app = Router::new().route("/", get(|| async { "home" })).layer(
        ServiceBuilder::new()
            .layer(upgrades())
            .layer(TraceLayer::new_for_http())
            .layer(CompressionLayer::new())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(30),
            ))
            .layer(CorsLayer::permissive()),
    );
    let addr = serve(app).await;
    assert_echoes(addr, "/").await;
}

#[tokio::test]
async fn the_upgraded_connection_outlives_the_request_timeout() {
    // TimeoutLayer bounds the response future, not the upgraded connection:
    // the handler runs in its own task after the 101.
    let app = Router::new().route("/", get(|| async { "home" })).layer(
        ServiceBuilder::new()
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(50),
            ))
            .layer(upgrades()),
    );
    let addr = serve(app).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws.send(Message::text("still here")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("still here")
    );
}
