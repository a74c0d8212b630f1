//! Shutdown outcomes in the metrics: `tower_upgrade_drain_total{outcome}`
//! counts the upgraded connections that ended within the drain deadline and
//! those still open at it.
#![cfg(all(feature = "metrics", feature = "test-util"))]

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokio::io::AsyncReadExt;
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody};
use tower_upgrade::{UpgradeLayer, Upgraded};

mod support;
use support::upgrade_request as upgrade;

/// Ends when the server shuts down.
async fn polite(conn: Upgraded) -> Result<(), Infallible> {
    conn.shutdown_signal().wait().await;
    Ok(())
}

/// Ignores the shutdown and holds the connection until the peer closes it.
async fn stubborn(mut conn: Upgraded) -> Result<(), std::io::Error> {
    conn.read_to_end(&mut Vec::new()).await?;
    Ok(())
}

fn drained(snapshot: &[(String, String, u64)], outcome: &str) -> Option<u64> {
    snapshot
        .iter()
        .find(|(name, o, _)| name == "tower_upgrade_drain_total" && o == outcome)
        .map(|(_, _, n)| *n)
}

#[tokio::test(start_paused = true)]
async fn connections_closed_in_time_and_cut_at_the_deadline_are_counted_apart() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let layer = UpgradeLayer::new()
        .protocol("polite/1", service_fn(polite))
        .protocol("stubborn/1", service_fn(stubborn));
    let connections = layer.connections();
    let app = layer.layer(service_fn(|_: Request<TestBody>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));

    let mut live = Vec::new();
    for token in ["polite/1", "polite/1", "stubborn/1"] {
        let response = testing::send(app.clone(), upgrade(token)).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        live.push(response);
    }
    while connections.active() < 3 {
        tokio::task::yield_now().await;
    }

    connections.shutdown();
    // The paused clock jumps to the deadline once only the stubborn
    // connection is left.
    let all_closed = connections.wait_closed(Duration::from_secs(5)).await;
    assert!(!all_closed, "the stubborn connection outlives the deadline");

    let snapshot: Vec<(String, String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let (_, key) = key.into_parts();
            let (name, labels) = key.into_parts();
            let outcome = labels
                .into_iter()
                .find(|l| l.key() == "outcome")?
                .value()
                .to_owned();
            match value {
                DebugValue::Counter(n) => Some((name.as_str().to_owned(), outcome, n)),
                _ => None,
            }
        })
        .collect();
    assert_eq!(drained(&snapshot, "closed"), Some(2), "{snapshot:?}");
    assert_eq!(drained(&snapshot, "timed_out"), Some(1), "{snapshot:?}");
}
