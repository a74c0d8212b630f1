//! Regression tests for the defects of issue 9, one test per defect, named
//! after it. Each failed before its fix.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tower::{service_fn, Layer};
use tower_upgrade::{testing, UpgradeLayer, Upgraded};

async fn done(_: Upgraded) -> Result<(), std::io::Error> {
    Ok(())
}

fn upgrade_request(token: &str) -> Request<String> {
    Request::get("/")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", token)
        .body(String::new())
        .unwrap()
}

fn inner<B>() -> impl tower::Service<
    Request<B>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(|_: Request<B>| async { Ok::<_, Infallible>(Response::new(Full::default())) })
}

/// Defect 1: `max_connections` set on a clone changed every sibling, because
/// the limit lived in the shared `Connections`.
#[tokio::test]
async fn defect_01_a_clone_setting_max_connections_leaves_the_original_alone() {
    let original = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .max_connections(1);
    let closed = original.clone().max_connections(0);

    let response = testing::send(original.layer(inner()), upgrade_request("p/1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101, "the original keeps its limit of 1");

    let response = testing::send(closed.layer(inner()), upgrade_request("p/1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "the clone has its own limit of 0");
}

/// Defect 7: the handshake timeout was applied to the body read and then
/// again to the wait for the switch, so the real bound was twice the one
/// set. Time is paused: it advances only when every task waits, so the
/// test is exact, not timed.
#[tokio::test(start_paused = true)]
async fn defect_07_one_handshake_timeout_bounds_body_and_switch_together() {
    let layer = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .handshake_timeout(Duration::from_secs(10));
    let connections = layer.connections();
    let app = layer.layer(inner::<Incoming>());
    // A pipe too small for the 101: the server cannot finish the switch
    // while the client does not read.
    let (mut client, server) = tokio::io::duplex(16);
    tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server), TowerToHyperService::new(app))
            .with_upgrades(),
    );
    client
        .write_all(
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: p/1\r\ncontent-length: 1\r\n\r\n",
        )
        .await
        .unwrap();
    // The body takes 6 s of the 10.
    tokio::time::sleep(Duration::from_secs(6)).await;
    client.write_all(b"x").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(connections.active(), 1, "admitted, waiting for the switch");
    // 12 s after the request: past the one deadline, the switch is given up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        connections.active(),
        0,
        "the switch outlived the handshake timeout"
    );
    drop(client);
}

/// Defect 4: `serve` never resolved on a listener error, though its docs
/// said it did: every accept error led to a `continue`.
#[cfg(feature = "serve")]
#[tokio::test(start_paused = true)]
async fn defect_04_serve_resolves_when_the_listener_fails() {
    use std::future::IntoFuture;
    // Bound but not listening: accept fails with EINVAL, an error of the
    // listener rather than of one connection.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(socket.into()).unwrap();
    let served = tower_upgrade::serve(listener, inner::<tower_upgrade::RequestBody>());
    // Paused time: an accept loop that backs off and retries forever runs
    // out these 60 virtual seconds at once.
    let result = tokio::time::timeout(Duration::from_secs(60), served.into_future()).await;
    assert!(
        matches!(result, Ok(Err(_))),
        "serve should end with the listener's error, got {result:?}"
    );
}

/// Defect 5: a graceful shutdown waited for each layer's upgraded
/// connections in turn, each with the whole timeout, so two layers whose
/// handlers ignore the signal took twice the documented timeout.
#[cfg(feature = "serve")]
#[tokio::test(start_paused = true)]
async fn defect_05_graceful_shutdown_waits_for_every_layer_under_one_deadline() {
    use std::future::IntoFuture;
    use tokio::io::AsyncReadExt;

    async fn stubborn(_: Upgraded) -> Result<(), std::io::Error> {
        std::future::pending().await
    }
    let a = UpgradeLayer::new().protocol("a/1", service_fn(stubborn));
    let b = UpgradeLayer::new().protocol("b/1", service_fn(stubborn));
    let (a_live, b_live) = (a.connections(), b.connections());
    let app = b.layer(a.layer(inner::<tower_upgrade::RequestBody>()));
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
