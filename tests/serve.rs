//! `tower_upgrade::serve` over real TCP on 127.0.0.1: HTTP/1.1, h2c prior
//! knowledge, the h2c upgrade, WebSocket over HTTP/2 extended CONNECT, and a
//! graceful shutdown that reaches upgraded connections.
#![cfg(all(feature = "h2c", feature = "serve", feature = "websocket"))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tower::{service_fn, Layer};
use tower_upgrade::h2c::H2c;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

use support::empty_inner;
use support::h2::{upgrade_request, Client};

const HELLO: &str = "same bytes everywhere\n";

#[derive(Clone, Default)]
struct Gate {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

struct Running {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    gate: Gate,
    /// Resolves when the raw-protocol handler saw the shutdown signal.
    signalled: Arc<Notify>,
}

async fn start() -> Running {
    let gate = Gate::default();
    let routes = Router::new()
        .route("/", get(|| async { HELLO }))
        .route(
            "/wait",
            get(|State(gate): State<Gate>| async move {
                gate.entered.notify_one();
                gate.release.notified().await;
                "released"
            }),
        )
        .with_state(gate.clone());
    let signalled = Arc::new(Notify::new());
    let seen = signalled.clone();
    let layer = UpgradeLayer::new()
        .h2c(H2c::new(routes.clone()))
        .websocket(
            WebSocketConfig::new(),
            service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }),
        )
        .protocol(
            "raw/1",
            service_fn(move |conn: Upgraded| {
                let seen = seen.clone();
                async move {
                    conn.shutdown_signal().wait().await;
                    seen.notify_one();
                    Ok::<_, std::io::Error>(())
                }
            }),
        );
    let upgraded = layer.connections();
    let app = routes.layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    let done = tokio::spawn(
        tower_upgrade::serve(listener, app)
            .upgraded(upgraded)
            .shutdown_timeout(Duration::from_secs(30))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
    );
    Running {
        addr,
        stop,
        done,
        gate,
        signalled,
    }
}

use std::future::IntoFuture;

#[tokio::test]
async fn every_protocol_version_on_one_port() {
    let server = start().await;

    // HTTP/1.1.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with(HELLO), "{response}");

    // h2c with prior knowledge: streams start at 1, no upgrade.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut client = Client::prior_knowledge(tcp, &[]).await;
    let id = client.request("GET", "/", &[], b"").await;
    assert_eq!(id, 1);
    assert_eq!(client.wait(id).await.data, HELLO.as_bytes());
    drop(client);

    // The h2c upgrade.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut client = Client::upgrade(tcp, &upgrade_request("GET", "/", &[], b""), &[]).await;
    assert_eq!(client.wait(1).await.data, HELLO.as_bytes());
    drop(client);

    // WebSocket over HTTP/2: extended CONNECT is on (RFC 8441 §3).
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut client = Client::prior_knowledge(tcp, &[]).await;
    assert!(client.run_until(|c| c.server_settings > 0).await);
    let id = client
        .request(
            "CONNECT",
            "/",
            &[(":protocol", "websocket"), ("sec-websocket-version", "13")],
            b"",
        )
        .await;
    client
        .run_until(|c| c.streams.get(&id).is_some_and(|s| !s.headers.is_empty()))
        .await;
    assert_eq!(client.streams[&id].status(), 200);
    // A client that reads on gets its GOAWAY and sees the connection end.
    server.stop.send(()).unwrap();
    client.wait_closed().await;
    assert!(client.goaway.is_some());
    server.done.await.unwrap().unwrap();
}

#[tokio::test]
async fn graceful_shutdown_reaches_upgraded_connections() {
    let server = start().await;

    // An h2c connection with a stream in flight.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut h2c = Client::upgrade(tcp, &upgrade_request("GET", "/", &[], b""), &[]).await;
    h2c.wait(1).await;
    let waiting = h2c.request("GET", "/wait", &[], b"").await;
    server.gate.entered.notified().await;

    // A raw upgraded connection that waits for the shutdown signal.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw/1\r\n\r\n")
        .await
        .unwrap();
    let (status, _, _) = support::h2::read_head(&mut raw).await;
    assert_eq!(status, 101);

    server.stop.send(()).unwrap();
    server.signalled.notified().await;
    assert!(h2c.run_until(|c| c.goaway.is_some()).await, "no GOAWAY");
    server.gate.release.notify_one();
    let stream = h2c.wait(waiting).await;
    assert_eq!(&stream.data[..], b"released");
    h2c.wait_closed().await;
    server.done.await.unwrap().unwrap();
}

/// Issue 9, defect 4: `serve` never resolved on a listener error, though its docs
/// said it did: every accept error led to a `continue`.
#[cfg(feature = "serve")]
#[tokio::test(start_paused = true)]
async fn serve_resolves_when_the_listener_fails() {
    use std::future::IntoFuture;
    // Bound but not listening: accept fails with EINVAL, an error of the
    // listener rather than of one connection.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(socket.into()).unwrap();
    let served = tower_upgrade::serve(listener, empty_inner::<tower_upgrade::serve::RequestBody>());
    // Paused time: an accept loop that backs off and retries forever runs
    // out these 60 virtual seconds at once.
    let result = tokio::time::timeout(Duration::from_secs(60), served.into_future()).await;
    assert!(
        matches!(result, Ok(Err(_))),
        "serve should end with the listener's error, got {result:?}"
    );
}

/// Issue 9, defect 5: a graceful shutdown waited for each layer's upgraded
/// connections in turn, each with the whole timeout, so two layers whose
/// handlers ignore the signal took twice the documented timeout.
#[cfg(feature = "serve")]
#[tokio::test(start_paused = true)]
async fn graceful_shutdown_waits_for_every_layer_under_one_deadline() {
    use std::future::IntoFuture;
    use tokio::io::AsyncReadExt;

    async fn stubborn(_: Upgraded) -> Result<(), std::io::Error> {
        std::future::pending().await
    }
    let a = UpgradeLayer::new().protocol("a/1", service_fn(stubborn));
    let b = UpgradeLayer::new().protocol("b/1", service_fn(stubborn));
    let (a_live, b_live) = (a.connections(), b.connections());
    let app = b.layer(a.layer(empty_inner::<tower_upgrade::serve::RequestBody>()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tower_upgrade::serve(listener, app)
        .upgraded(a_live.clone())
        .upgraded(b_live.clone())
        .shutdown_timeout(Duration::from_secs(10))
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let done = tokio::spawn(served.into_future());

    let mut clients = Vec::new();
    for token in ["a/1", "b/1"] {
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: {token}\r\n\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(client.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"HTTP/1.1 101"));
        clients.push(client);
    }
    while a_live.active() + b_live.active() < 2 {
        tokio::task::yield_now().await;
    }

    stop.send(()).unwrap();
    // One 10 s deadline for both layers; 15 s is less than two in turn.
    let result = tokio::time::timeout(Duration::from_secs(15), done).await;
    assert!(
        matches!(result, Ok(Ok(Ok(())))),
        "shutdown took longer than one timeout: {result:?}"
    );
    drop(clients);
}
