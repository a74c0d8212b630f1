//! Issue 8: the deadlines of `serve` and the PROXY protocol check are
//! counted: `tower_upgrade_serve_timeouts_total{kind}` and
//! `tower_upgrade_proxy_protocol_rejected_total` (one process, one recorder).
#![cfg(all(feature = "serve", feature = "metrics"))]

use std::future::IntoFuture;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Waits for the server to close `tcp` (bounded only so a regression fails).
async fn closed(mut tcp: TcpStream) {
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(n) = tcp.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
}

#[tokio::test]
async fn timeouts_and_proxy_protocol_rejections_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let app: Router = Router::new().route("/", get(|| async { "hello" }));
    let start = |proxy_protocol: bool| {
        let app = app.clone();
        async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(
                tower_upgrade::serve(listener, app)
                    .header_read_timeout(Duration::from_millis(200))
                    .proxy_protocol(proxy_protocol)
                    .into_future(),
            );
            addr
        }
    };
    let plain = start(false).await;
    let proxied = start(true).await;

    // Nothing sent: `header`.
    closed(TcpStream::connect(plain).await.unwrap()).await;
    // 16 bytes of the HTTP/2 preface: `preface`.
    let mut tcp = TcpStream::connect(plain).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    closed(tcp).await;
    // No PROXY header where one is required: rejected.
    let mut tcp = TcpStream::connect(proxied).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    closed(tcp).await;

    // One snapshot: taking one resets the counters.
    let snapshot = snapshotter.snapshot().into_vec();
    let counter = |name: &str, kind: Option<&str>| {
        snapshot.iter().find_map(|(key, _, _, value)| {
            let key = key.key();
            let label = key
                .labels()
                .find(|l| l.key() == "kind")
                .map(|l| l.value().to_owned());
            (key.name() == name && label.as_deref() == kind).then_some(value)
        })
    };
    assert_eq!(
        counter("tower_upgrade_serve_timeouts_total", Some("header")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        counter("tower_upgrade_serve_timeouts_total", Some("preface")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        counter("tower_upgrade_proxy_protocol_rejected_total", None),
        Some(&DebugValue::Counter(1))
    );
}
