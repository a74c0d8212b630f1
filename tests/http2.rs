//! WebSocket over HTTP/2 extended CONNECT (RFC 8441), with hyper's HTTP/2
//! client and server over `tokio::io::duplex`.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tower::service_fn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

mod support;
use support::{body_text, done, respond_to};

async fn echo(conn: Upgraded) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    assert!(conn.negotiated().is_http2());
    support::ws::ws_echo(conn).await
}

/// The layer with an echo handler, over HTTP/2 with extended CONNECT.
async fn http2_client(
    settings: WebSocketConfig,
) -> hyper::client::conn::http2::SendRequest<Empty<Bytes>> {
    support::http2_client(UpgradeLayer::new().websocket(settings, service_fn(echo))).await
}

fn connect(origin: Option<&'static str>) -> Request<Empty<Bytes>> {
    let mut builder =
        support::extended_connect("http://example.com/ws").header("sec-websocket-protocol", "chat");
    if let Some(origin) = origin {
        builder = builder.header("origin", origin);
    }
    builder.body(Empty::new()).unwrap()
}

#[tokio::test]
async fn websocket_over_extended_connect() {
    let mut client = http2_client(WebSocketConfig::new().subprotocols(["chat"])).await;
    client.ready().await.unwrap();
    let mut response = client
        .send_request(connect(Some("http://example.com")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("sec-websocket-accept").is_none());
    assert!(response.headers().get("upgrade").is_none());
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");

    let io = hyper::upgrade::on(&mut response).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Client, None).await;
    ws.send(Message::text("over h2")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("over h2"));
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn the_same_origin_rule_applies_over_http2() {
    let mut client = http2_client(WebSocketConfig::new()).await;
    client.ready().await.unwrap();
    let response = client
        .send_request(connect(Some("http://evil.example")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("Origin"));
}

#[tokio::test]
async fn ordinary_http2_requests_pass_through() {
    let mut client = http2_client(WebSocketConfig::new()).await;
    client.ready().await.unwrap();
    let request = Request::get("http://example.com/")
        .version(Version::HTTP_2)
        .body(Empty::new())
        .unwrap();
    let response = client.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "inner");
}

/// Issue 9, defect 3: over HTTP/2, the 426 of `require_upgrade` carried `Upgrade`
/// and `Connection`, which RFC 9113 §8.2.2 forbids (hyper strips them with
/// a warning). Now it is a plain 426 with its reason; over HTTP/1.1 it
/// keeps both.
#[tokio::test]
async fn a_required_upgrade_over_http2_is_a_plain_426() {
    let layer = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .require_upgrade(true);
    let plain = |version| {
        Request::get("http://x/")
            .version(version)
            .body(String::new())
            .unwrap()
    };

    let response = respond_to(&layer, plain(http::Version::HTTP_2)).await;
    assert_eq!(response.status(), 426);
    assert!(!response.headers().contains_key("upgrade"));
    assert!(!response.headers().contains_key("connection"));
    assert_eq!(
        body_text(response).await,
        "this resource requires a protocol upgrade; see the Upgrade header"
    );

    let response = respond_to(&layer, plain(http::Version::HTTP_11)).await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["upgrade"], "p/1");
    assert_eq!(response.headers()["connection"], "upgrade");
}

/// Issue 9, defect 3 (the version mismatch): a WebSocket version other than 13 over
/// HTTP/2 extended CONNECT got `Upgrade: websocket` and `Connection`. Now
/// only `Sec-WebSocket-Version: 13` (RFC 6455 §4.4, RFC 8441 §5).
#[cfg(feature = "websocket")]
#[tokio::test]
async fn a_websocket_version_mismatch_over_http2_names_no_upgrade() {
    use tower_upgrade::websocket::WebSocketConfig;
    let layer = UpgradeLayer::new().websocket(WebSocketConfig::new(), service_fn(done));
    let mut req = Request::connect("https://x/chat")
        .version(http::Version::HTTP_2)
        .header("sec-websocket-version", "8")
        .body(String::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));

    let response = respond_to(&layer, req).await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert!(!response.headers().contains_key("upgrade"));
    assert!(!response.headers().contains_key("connection"));
}

/// Issue 16, item 2: a WebSocket over HTTP/2 whose handler uses
/// `into_websocket` (which frees the request head and its extensions) was
/// cut by `serve`'s HTTP/2 idle timeout while messages still flowed: the
/// stream no longer counted as open, the connection was sent GOAWAY after
/// the idle timeout and the tunnel cut 5 s later. Real time (hyper's
/// HTTP/2 over TCP): a 1 s idle timeout, a message every 0.3 s for 3.5 s,
/// then a new request on the same connection.
#[cfg(all(feature = "serve", feature = "messages"))]
#[tokio::test]
async fn a_websocket_over_http2_outlives_the_idle_timeout_while_in_use() {
    use std::future::IntoFuture;
    use std::time::Duration;
    use tokio::time::timeout;
    use tower_upgrade::serve::Http2Settings;

    let idle = Duration::from_secs(1);
    let upgrades =
        UpgradeLayer::new().websocket(WebSocketConfig::new(), service_fn(support::ws::echo));
    let app = axum::Router::new().route_service("/ws", upgrades.into_service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tower_upgrade::serve(listener, app)
            .http2(Http2Settings::new().idle_timeout(idle))
            .into_future(),
    );

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut client, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    // Extended CONNECT needs the server's SETTINGS (RFC 8441 §3).
    let mut response = loop {
        client.ready().await.unwrap();
        let request = support::extended_connect(format!("http://{addr}/ws"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        match client.send_request(request).await {
            Ok(response) => break response,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(response.status(), StatusCode::OK);
    let io = hyper::upgrade::on(&mut response).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Client, None).await;

    let start = tokio::time::Instant::now();
    let mut sent = 0;
    while start.elapsed() < idle * 3 + idle / 2 {
        let message = Message::text(format!("message {sent} at {:?}", start.elapsed()));
        let echoed = timeout(Duration::from_secs(2), async {
            ws.send(message.clone()).await?;
            ws.next().await.transpose()
        })
        .await;
        match echoed {
            Ok(Ok(Some(echo))) => assert_eq!(echo, message),
            other => panic!(
                "message {sent} ({:?} in, idle timeout {idle:?}) was not echoed: {other:?}",
                start.elapsed()
            ),
        }
        sent += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The connection was never idle: it takes a new stream (after a GOAWAY
    // it would not, and the tunnel is cut IDLE_CLOSE_GRACE later).
    client.ready().await.unwrap();
    let request = Request::get(format!("http://{addr}/"))
        .version(Version::HTTP_2)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let after = timeout(Duration::from_secs(2), client.send_request(request)).await;
    assert!(
        matches!(after, Ok(Ok(_))),
        "after {sent} echoes over {:?}, a new request on the connection failed (it was sent \
         GOAWAY as idle): {after:?}",
        start.elapsed()
    );
    ws.close(None).await.unwrap();
}
