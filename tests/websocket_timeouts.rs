//! `tower_upgrade_websocket_timeouts_total{kind}`: each timeout of the
//! message layer is counted once, with its kind. Its own test binary: the
//! metrics recorder is global to the process. Time is paused (tokio's test
//! clock): no wall-clock timing.
#![cfg(all(feature = "metrics", feature = "messages"))]

use std::time::Duration;

use http::{Request, Response};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::io::AsyncWriteExt;
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody, TestIo};
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{Connections, UpgradeLayer};

mod support;
use support::ws::{echo, server_frame};

/// An upgraded connection to echo with `settings`, as the client's IO, and
/// the layer's connections.
async fn connect(settings: WebSocketConfig) -> (TestIo, Connections) {
    let layer = UpgradeLayer::new().websocket(settings, service_fn(echo));
    let connections = layer.connections();
    let app = layer.layer(service_fn(|_: Request<TestBody>| async {
        Ok::<_, std::convert::Infallible>(Response::new(String::new()))
    }));
    let request = support::websocket_request().body(String::new()).unwrap();
    let io = testing::send(app, request)
        .await
        .unwrap()
        .into_io()
        .expect("switched");
    (io, connections)
}

/// The timeouts counted since the last call, by kind (the debugging
/// recorder's snapshot drains its counters).
fn new_timeouts(snapshotter: &Snapshotter) -> Vec<(String, u64)> {
    let mut counted: Vec<(String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| key.key().name() == "tower_upgrade_websocket_timeouts_total")
        .filter_map(|(key, _, _, value)| {
            let kind = key
                .key()
                .labels()
                .find(|l| l.key() == "kind")?
                .value()
                .to_owned();
            match value {
                DebugValue::Counter(0) => None,
                DebugValue::Counter(n) => Some((kind, n)),
                other => panic!("not a counter: {other:?}"),
            }
        })
        .collect();
    counted.sort();
    counted
}

fn kinds(counted: &[(&str, u64)]) -> Vec<(String, u64)> {
    counted.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[tokio::test(start_paused = true)]
async fn each_timeout_is_counted_with_its_kind() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    // A peer that answers nothing: Ping, no Pong, Close (pong); a failed
    // connection does not wait for the Close reply (RFC 6455 §7.1.7).
    let (mut io, _) = connect(
        WebSocketConfig::new()
            .ping_interval(Some(Duration::from_secs(30)))
            .pong_timeout(Duration::from_secs(10)),
    )
    .await;
    assert_eq!(server_frame(&mut io).await.unwrap().0, 0x89);
    assert_eq!(server_frame(&mut io).await.unwrap().0, 0x88);
    assert!(server_frame(&mut io).await.is_none(), "TCP closed");
    assert_eq!(new_timeouts(&snapshotter), kinds(&[("pong", 1)]));

    // No data either way: Close 1000 (idle).
    let (mut io, _) = connect(
        WebSocketConfig::new()
            .ping_interval(None)
            .idle_timeout(Some(Duration::from_secs(60))),
    )
    .await;
    assert_eq!(server_frame(&mut io).await.unwrap().0, 0x88);
    assert!(server_frame(&mut io).await.is_none(), "TCP closed");
    assert_eq!(new_timeouts(&snapshotter), kinds(&[("idle", 1)]));

    // Shutdown: Close 1001, which the peer never answers (close).
    let (mut io, connections) = connect(
        WebSocketConfig::new()
            .ping_interval(None)
            .close_timeout(Duration::from_secs(5)),
    )
    .await;
    connections.shutdown();
    assert_eq!(server_frame(&mut io).await.unwrap().0, 0x88);
    assert!(server_frame(&mut io).await.is_none(), "TCP closed");
    assert_eq!(new_timeouts(&snapshotter), kinds(&[("close", 1)]));

    // A peer that sends and never reads: the echoes fill the pipe (write).
    let (io, _) = connect(
        WebSocketConfig::new()
            .ping_interval(None)
            .write_timeout(Some(Duration::from_secs(5))),
    )
    .await;
    let (mut reader, mut writer) = tokio::io::split(io);
    let message = {
        // A masked binary frame of 60 KiB, key 0: the payload as it is.
        let mut frame = vec![0x82, 0x80 | 126, 0xF0, 0x00, 0, 0, 0, 0];
        frame.extend(std::iter::repeat_n(7u8, 0xF000));
        frame
    };
    let pushing = tokio::spawn(async move { while writer.write_all(&message).await.is_ok() {} });
    pushing.await.unwrap();
    assert_eq!(new_timeouts(&snapshotter), kinds(&[("write", 1)]));
    // What was written before the timeout can still be read; then EOF.
    while server_frame(&mut reader).await.is_some() {}
    assert_eq!(new_timeouts(&snapshotter), kinds(&[]));
}
