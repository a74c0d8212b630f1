//! `/metrics` for the examples: the `metrics` facade's Prometheus exporter,
//! installed as the global recorder and rendered on request by a route of
//! the example's own router (no second listener).
//!
//! The crate's series are listed in the README ("Metrics").

use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::routing::{get, MethodRouter};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds (seconds) of the buckets of
/// `tower_upgrade_connection_duration_seconds`: WebSocket connections last
/// from a failed page load to a tab left open for a day.
const DURATION_BUCKETS: [f64; 14] = [
    0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0,
    86400.0,
];

/// How often histogram samples are folded into their buckets between
/// scrapes, so memory stays flat when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder as the global `metrics` recorder.
/// Call it once, inside the runtime, before the first upgrade.
pub(crate) fn install() -> PrometheusHandle {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("tower_upgrade_connection_duration_seconds".into()),
            &DURATION_BUCKETS,
        )
        .expect("buckets are not empty")
        .install_recorder()
        .expect("the only metrics recorder of this process");
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    handle
}

/// `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
pub(crate) fn route<S: Clone + Send + Sync + 'static>(handle: PrometheusHandle) -> MethodRouter<S> {
    get(move || {
        let handle = handle.clone();
        async move {
            handle.run_upkeep();
            (
                [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                handle.render(),
            )
        }
    })
}
