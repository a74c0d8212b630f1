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
