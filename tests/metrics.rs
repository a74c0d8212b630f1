//! Counters and timings through the `metrics` facade.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use tokio::io::AsyncReadExt;
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody};
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

mod support;
use support::{done, respond_to};

/// Kind, name, and sorted labels.
type MetricKey = (MetricKind, String, Vec<(String, String)>);

#[tokio::test]
async fn attempts_accepted_rejected_active_and_durations() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let layer = UpgradeLayer::new()
        .websocket(
            WebSocketConfig::new(),
            service_fn(|_: Upgraded| async { Ok::<_, Infallible>(()) }),
        )
        .protocol(
            "line",
            service_fn(|_: Upgraded| async { Ok::<_, Infallible>(()) }),
        );
    let connections = layer.connections();
    let app = layer.layer(service_fn(|_: Request<TestBody>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let upgrade = |protocol: &str, origin: Option<&str>| {
        let mut builder = Request::get("/")
            .header("host", "example.com")
            .header("connection", "upgrade")
            .header("upgrade", protocol)
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13");
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        builder.body(String::new()).unwrap()
    };

    for request in [
        upgrade("websocket", None),
        upgrade("websocket", Some("https://evil.example")),
        upgrade("LINE/7", None),
    ] {
        if let Some(mut io) = testing::send(app.clone(), request).await.unwrap().into_io() {
            let _ = io.read_to_end(&mut Vec::new()).await;
        }
    }
    assert!(connections.wait_closed(Duration::from_secs(10)).await);

    let metrics: HashMap<MetricKey, DebugValue> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (kind, key) = key.into_parts();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            ((kind, key.name().to_owned(), labels), value)
        })
        .collect();
    let get = |kind, name: &str, labels: &[(&str, &str)]| {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        metrics.get(&(kind, name.to_owned(), labels))
    };
    let counter = |name, labels| get(MetricKind::Counter, name, labels);

    assert_eq!(
        counter("tower_upgrade_attempts_total", &[("protocol", "websocket")]),
        Some(&DebugValue::Counter(2))
    );
    assert_eq!(
        counter("tower_upgrade_accepted_total", &[("protocol", "websocket")]),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        counter(
            "tower_upgrade_rejected_total",
            &[("protocol", "websocket"), ("reason", "forbidden_origin")]
        ),
        Some(&DebugValue::Counter(1))
    );
    // The label is the registered token, not the client's spelling.
    assert_eq!(
        counter("tower_upgrade_accepted_total", &[("protocol", "line")]),
        Some(&DebugValue::Counter(1))
    );
    for protocol in ["websocket", "line"] {
        assert!(matches!(
            get(MetricKind::Gauge, "tower_upgrade_active", &[("protocol", protocol)]),
            Some(DebugValue::Gauge(g)) if g.into_inner() == 0.0
        ));
        assert!(matches!(
            get(MetricKind::Histogram, "tower_upgrade_connection_duration_seconds", &[("protocol", protocol)]),
            Some(DebugValue::Histogram(h)) if h.len() == 1
        ));
    }
}

/// Issue 9, defect 10: the 426 of `require_upgrade` was never counted, so the
/// `upgrade_required` reason could not appear.
#[cfg(feature = "metrics")]
#[test]
fn a_required_upgrade_is_counted() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .require_upgrade(true);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let status = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let request = Request::get("/").body(String::new()).unwrap();
            respond_to(&layer, request).await.status()
        })
    });
    assert_eq!(status, 426);
    let counted: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        // Every reason of `p/1` exists at 0 from the moment the layer is
        // built (issue 17); the one the 426 moved is the one counted.
        .filter(|(key, _, _, value)| {
            key.key().name() == "tower_upgrade_rejected_total" && *value != DebugValue::Counter(0)
        })
        .map(|(key, _, _, value)| {
            let mut labels: Vec<_> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (labels, value)
        })
        .collect();
    assert_eq!(
        counted,
        vec![(
            vec![
                "protocol=none".to_owned(),
                "reason=upgrade_required".to_owned()
            ],
            DebugValue::Counter(1)
        )]
    );
}
