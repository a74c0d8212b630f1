//! Per-client limits (live connections, handshake rate) and the limit on
//! handshakes in progress, in-process with addresses set by `testing`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tower::{service_fn, Layer};
use tower_upgrade::peer::{ClientSource, TrustedProxies};
use tower_upgrade::testing::{self, TestBody};
mod support;

use tower_upgrade::{Connections, UpgradeLayer, Upgraded};

const A: &str = "192.0.2.1:40000";
const B: &str = "192.0.2.2:40000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Holds each upgraded connection until the client closes it.
async fn hold(mut conn: Upgraded) -> Result<(), std::io::Error> {
    let mut sink = Vec::new();
    conn.read_to_end(&mut sink).await?;
    Ok(())
}

type App = tower_upgrade::Upgrade<
    tower::util::ServiceFn<
        fn(Request<TestBody>) -> std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>,
    >,
>;

fn app(layer: UpgradeLayer) -> (App, Connections) {
    let connections = layer.connections();
    let inner: fn(Request<TestBody>) -> _ =
        |_| std::future::ready(Ok(Response::new(Full::default())));
    (layer.layer(service_fn(inner)), connections)
}

fn hold_layer() -> UpgradeLayer {
    UpgradeLayer::new().protocol("hold/1", service_fn(hold))
}

fn upgrade() -> Request<String> {
    support::upgrade_request("hold/1")
}

/// An upgrade request that declares a body it never sends: its handshake
/// stays in progress, reading the body.
async fn stalled_upgrade(peer: &str, app: App) -> DuplexStream {
    let mut io = testing::connect_from(addr(peer), app);
    io.write_all(
        b"POST / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: hold/1\r\ncontent-length: 65536\r\n\r\n",
    )
    .await
    .unwrap();
    io
}

/// Reads a response head off a raw connection.
async fn status_of(io: &mut DuplexStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        if io.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Yields until `done` holds; the server's tasks run meanwhile. No clock.
async fn until(mut done: impl FnMut() -> bool) {
    while !done() {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_client_over_its_connection_limit_gets_429_while_others_connect() {
    let (app, connections) = app(hold_layer().max_connections_per_client(2));
    let a1 = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    let a2 = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(
        (a1.status(), a2.status()),
        (
            StatusCode::SWITCHING_PROTOCOLS,
            StatusCode::SWITCHING_PROTOCOLS
        )
    );

    let refused = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "5");
    assert!(std::str::from_utf8(refused.body())
        .unwrap()
        .contains("this client"));

    let b = testing::send_from(addr(B), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(
        b.status(),
        StatusCode::SWITCHING_PROTOCOLS,
        "B is another client"
    );

    // A closes one connection: its place comes back.
    drop(a1.into_io());
    until(|| connections.active() == 2).await;
    let again = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::SWITCHING_PROTOCOLS);
    drop((a2, b, again));
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_limit_is_per_forwarded_client() {
    let layer = hold_layer()
        .trusted_proxies(TrustedProxies::parse(ClientSource::XForwarded, "127.0.0.1").unwrap())
        .max_connections_per_client(1);
    let (app, _connections) = app(layer);
    let from = |client: &str| {
        let mut request = upgrade();
        request
            .headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        request
    };
    let proxy = addr("127.0.0.1:50000");
    let a = testing::send_from(proxy, app.clone(), from("198.51.100.1"))
        .await
        .unwrap();
    let b = testing::send_from(proxy, app.clone(), from("198.51.100.2"))
        .await
        .unwrap();
    let a_again = testing::send_from(proxy, app.clone(), from("198.51.100.1"))
        .await
        .unwrap();
    assert_eq!(a.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        b.status(),
        StatusCode::SWITCHING_PROTOCOLS,
        "the proxy is not the client"
    );
    assert_eq!(a_again.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(start_paused = true)]
async fn a_burst_over_the_handshake_rate_gets_429_then_recovers_after_the_refill() {
    // One upgrade per second, three at once.
    let (app, _connections) = app(hold_layer().handshake_rate_per_client(1, 3));
    let mut held = Vec::new();
    for _ in 0..3 {
        let response = testing::send_from(addr(A), app.clone(), upgrade())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        held.push(response);
    }
    let limited = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "1");
    let b = testing::send_from(addr(B), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(
        b.status(),
        StatusCode::SWITCHING_PROTOCOLS,
        "B has its own bucket"
    );

    tokio::time::advance(Duration::from_secs(1)).await;
    let refilled = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(
        refilled.status(),
        StatusCode::SWITCHING_PROTOCOLS,
        "one token back"
    );
    let limited = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "and only one"
    );
    drop((held, b, refilled));
}

#[tokio::test]
async fn handshakes_in_progress_are_bounded_globally_with_503() {
    let (app, connections) = app(hold_layer().max_handshakes_in_progress(2));
    let _s1 = stalled_upgrade(A, app.clone()).await;
    let _s2 = stalled_upgrade(B, app.clone()).await;
    until(|| connections.handshakes_in_progress() == 2).await;

    let refused = testing::send_from(addr("192.0.2.3:1"), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "5");
    assert!(std::str::from_utf8(refused.body())
        .unwrap()
        .contains("in progress"));

    drop(_s1);
    until(|| connections.handshakes_in_progress() == 1).await;
    let admitted = testing::send_from(addr("192.0.2.3:1"), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(admitted.status(), StatusCode::SWITCHING_PROTOCOLS);
    until(|| connections.handshakes_in_progress() == 1).await;
}

#[tokio::test]
async fn handshakes_in_progress_per_client_get_429() {
    let (app, connections) = app(hold_layer().max_handshakes_in_progress_per_client(1));
    let _stalled = stalled_upgrade(A, app.clone()).await;
    until(|| connections.handshakes_in_progress() == 1).await;

    let refused = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let b = testing::send_from(addr(B), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(b.status(), StatusCode::SWITCHING_PROTOCOLS);
}

#[tokio::test]
async fn a_full_server_refuses_before_reading_the_body() {
    let (app, connections) = app(hold_layer().max_connections(1));
    let live = testing::send_from(addr(A), app.clone(), upgrade())
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::SWITCHING_PROTOCOLS);

    // The body is never sent: the answer can only come before reading it.
    let mut stalled = stalled_upgrade(B, app.clone()).await;
    let head = status_of(&mut stalled).await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert_eq!(connections.handshakes_in_progress(), 0);
    drop(live);
}

#[tokio::test]
async fn a_closing_server_refuses_before_reading_the_body() {
    let (app, connections) = app(hold_layer());
    connections.shutdown();
    let mut stalled = stalled_upgrade(A, app.clone()).await;
    let head = status_of(&mut stalled).await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
}
