//! The per-client and in-progress limits in the metrics: each refusal
//! counted under its reason, and the gauge of handshakes in progress.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody};
mod support;

use tower_upgrade::{UpgradeLayer, Upgraded};

/// Kind, name, and sorted labels.
type MetricKey = (MetricKind, String, Vec<(String, String)>);

fn metrics(snapshotter: &Snapshotter) -> HashMap<MetricKey, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (kind, key) = key.into_parts();
            let (name, labels) = key.into_parts();
            let mut labels: Vec<_> = labels
                .into_iter()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            ((kind, name.as_str().to_owned(), labels), value)
        })
        .collect()
}

fn rejected(reason: &str) -> MetricKey {
    (
        MetricKind::Counter,
        "tower_upgrade_rejected_total".into(),
        vec![
            ("protocol".into(), "hold/1".into()),
            ("reason".into(), reason.into()),
        ],
    )
}

fn in_progress() -> MetricKey {
    (
        MetricKind::Gauge,
        "tower_upgrade_handshakes_in_progress".into(),
        vec![],
    )
}

async fn hold(mut conn: Upgraded) -> Result<(), std::io::Error> {
    conn.read_to_end(&mut Vec::new()).await?;
    Ok(())
}

fn upgrade() -> Request<String> {
    support::upgrade_request("hold/1")
}

#[tokio::test]
async fn each_limit_is_counted_under_its_reason() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let layer = UpgradeLayer::new()
        .protocol("hold/1", service_fn(hold))
        .max_connections_per_client(1)
        .handshake_rate_per_client(1, 2)
        .max_handshakes_in_progress(1);
    let connections = layer.connections();
    let app = layer.layer(service_fn(|_: Request<TestBody>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let a = "192.0.2.1:1".parse().unwrap();
    let b = "192.0.2.2:1".parse().unwrap();
    let c = "192.0.2.3:1".parse().unwrap();

    let live = testing::send_from(a, app.clone(), upgrade()).await.unwrap();
    assert_eq!(live.status(), StatusCode::SWITCHING_PROTOCOLS);
    let over = testing::send_from(a, app.clone(), upgrade()).await.unwrap();
    assert_eq!(
        over.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "A's second live connection"
    );
    let limited = testing::send_from(a, app.clone(), upgrade()).await.unwrap();
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "A's third attempt, burst 2"
    );

    // B's upgrade stays in progress: its body never comes.
    let mut stalled = testing::connect_from(b, app.clone());
    stalled
        .write_all(b"POST / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: hold/1\r\ncontent-length: 10\r\n\r\n")
        .await
        .unwrap();
    while connections.handshakes_in_progress() == 0 {
        tokio::task::yield_now().await;
    }
    let busy = testing::send_from(c, app.clone(), upgrade()).await.unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);

    let seen = metrics(&snapshotter);
    assert_eq!(
        seen.get(&rejected("too_many_connections_per_client")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        seen.get(&rejected("handshake_rate_limited")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        seen.get(&rejected("too_many_handshakes")),
        Some(&DebugValue::Counter(1))
    );
    assert!(
        matches!(seen.get(&in_progress()), Some(DebugValue::Gauge(g)) if g.into_inner() == 1.0),
        "{:?}",
        seen.get(&in_progress())
    );

    drop(stalled);
    while connections.handshakes_in_progress() != 0 {
        tokio::task::yield_now().await;
    }
    // A snapshot resets what it read (metrics-util's debugging recorder):
    // this one holds the change since, one handshake gone.
    let seen = metrics(&snapshotter);
    assert!(
        matches!(seen.get(&in_progress()), Some(DebugValue::Gauge(g)) if g.into_inner() == -1.0),
        "{:?}",
        seen.get(&in_progress())
    );
    drop(live);
}
