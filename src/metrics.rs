//! Counters and timings of upgrades, through the [`metrics`] facade (feature
//! `metrics`); without the feature these calls compile to nothing.
//!
//! Every series the crate emits, with its labels and meaning, is listed in
//! one table in the crate docs (README, "Observability"): add a row there
//! with each new series.
//!
//! Every series whose labels are known in advance exists, at 0, from the
//! moment a layer is built ([`register`]): its protocols, the reasons of the
//! rejection table and those each protocol declares
//! ([`Protocol::rejection_labels`](crate::Protocol::rejection_labels)), the
//! fixed `kind` and `outcome` values. A series that appears only with its
//! first event defeats `rate()` and alerts on it (Prometheus' "avoid missing
//! metrics"). The request path only increments.
//!
//! `protocol` is the registered token (`websocket`, `linecount/1`), never
//! the client's spelling, so a client cannot grow the number of series; a
//! `426` from `require_upgrade`, which chose no protocol, is counted with
//! `protocol="none"`. `reason` is [`Rejection::metrics_label`](crate::rejection::Rejection::metrics_label): the table in
//! `rejection.rs` gives every cause's.

#[cfg(feature = "metrics")]
use std::sync::atomic::{AtomicBool, Ordering};

/// The `protocol` label of a rejection that chose no protocol: the `426`
/// of [`require_upgrade`](crate::UpgradeLayer::require_upgrade) to a request
/// that asked for none of those offered.
pub(crate) const NO_PROTOCOL: &str = "none";

#[cfg(feature = "metrics")]
mod enabled {
    use std::time::Instant;

    use crate::rejection::Rejection;

    pub(crate) fn attempt(protocol: &str) {
        metrics::counter!("tower_upgrade_attempts_total", "protocol" => protocol.to_owned())
            .increment(1);
    }

    pub(crate) fn accepted(protocol: &str) {
        metrics::counter!("tower_upgrade_accepted_total", "protocol" => protocol.to_owned())
            .increment(1);
    }

    pub(crate) fn rejected(protocol: &str, rejection: &Rejection) {
        metrics::counter!(
            "tower_upgrade_rejected_total",
            "protocol" => protocol.to_owned(),
            "reason" => rejection.metrics_label(),
        )
        .increment(1);
    }

    /// One live upgraded connection: counted in `tower_upgrade_active` until
    /// dropped, when its duration is recorded.
    pub(crate) struct Live {
        protocol: String,
        since: Instant,
    }

    impl Live {
        pub(crate) fn start(protocol: String) -> Self {
            metrics::gauge!("tower_upgrade_active", "protocol" => protocol.clone()).increment(1.0);
            Self {
                protocol,
                since: Instant::now(),
            }
        }
    }

    impl Drop for Live {
        fn drop(&mut self) {
            let protocol = std::mem::take(&mut self.protocol);
            metrics::gauge!("tower_upgrade_active", "protocol" => protocol.clone()).decrement(1.0);
            metrics::histogram!("tower_upgrade_connection_duration_seconds", "protocol" => protocol)
                .record(self.since.elapsed().as_secs_f64());
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod enabled {
    use crate::rejection::Rejection;

    pub(crate) fn attempt(_: &str) {}
    pub(crate) fn accepted(_: &str) {}
    pub(crate) fn rejected(_: &str, _: &Rejection) {}

    pub(crate) struct Live;

    impl Live {
        pub(crate) fn start(_: String) -> Self {
            Live
        }
    }
}

pub(crate) use enabled::{accepted, attempt, rejected, Live};

/// `tower_upgrade_websocket_timeouts_total{kind}`: a message-layer socket
/// ended by one of its timeouts, `kind` one of `pong`, `idle`, `write`,
/// `close` (a fixed set: no label a client can grow).
#[cfg(feature = "messages")]
pub(crate) fn websocket_timeout(kind: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_upgrade_websocket_timeouts_total", "kind" => kind).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// `tower_upgrade_serve_timeouts_total{kind}`: a connection of `serve` ended
/// by one of its deadlines, or an upgraded connection by its idle timeout
/// (x8a, issue 8).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn serve_timeout(kind: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_upgrade_serve_timeouts_total", "kind" => kind).increment(1);
}

/// `tower_upgrade_proxy_protocol_rejected_total`: a connection of `serve`
/// closed for a missing or invalid PROXY protocol header (x8a, issue 8).
#[cfg(feature = "proxy-protocol")]
pub(crate) fn proxy_protocol_rejected() {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_upgrade_proxy_protocol_rejected_total").increment(1);
}

/// `tower_upgrade_forward_total{outcome}`: what became of each upgrade the
/// gateway forwarded (feature `gateway`).
#[cfg(feature = "gateway")]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn forward(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_upgrade_forward_total", "outcome" => outcome).increment(1);
}

/// `tower_upgrade_forward_bytes_total{direction}`: the bytes a gateway
/// relay moved each way, counted when it ends.
#[cfg(feature = "gateway")]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn forward_bytes(to_upstream: u64, to_client: u64) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("tower_upgrade_forward_bytes_total", "direction" => "to_upstream")
            .increment(to_upstream);
        metrics::counter!("tower_upgrade_forward_bytes_total", "direction" => "to_client")
            .increment(to_client);
    }
}

/// The `outcome` values of `tower_upgrade_forward_total`.
#[cfg(all(feature = "metrics", feature = "gateway"))]
const FORWARD_OUTCOMES: [&str; 5] = [
    "forwarded",
    "refused",
    "unreachable",
    "timeout",
    "malformed",
];

/// One handshake in progress (detection to hand-off), counted in the gauge
/// `tower_upgrade_handshakes_in_progress` until dropped.
pub(crate) struct HandshakeInProgress(());

impl HandshakeInProgress {
    pub(crate) fn start() -> Self {
        #[cfg(feature = "metrics")]
        metrics::gauge!("tower_upgrade_handshakes_in_progress").increment(1.0);
        Self(())
    }
}

impl Drop for HandshakeInProgress {
    fn drop(&mut self) {
        #[cfg(feature = "metrics")]
        metrics::gauge!("tower_upgrade_handshakes_in_progress").decrement(1.0);
    }
}

/// `tower_upgrade_drain_total{outcome}`: at shutdown, the upgraded
/// connections that ended within the deadline (`closed`) and those still
/// open when it passed (`timed_out`).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn drained(closed: usize, timed_out: usize) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("tower_upgrade_drain_total", "outcome" => "closed")
            .increment(closed as u64);
        metrics::counter!("tower_upgrade_drain_total", "outcome" => "timed_out")
            .increment(timed_out as u64);
    }
}

/// The `kind` values of `tower_upgrade_websocket_timeouts_total`.
#[cfg(all(feature = "metrics", feature = "messages"))]
const WEBSOCKET_TIMEOUT_KINDS: [&str; 4] = ["pong", "idle", "write", "close"];

/// The `kind` values of `tower_upgrade_serve_timeouts_total` this build can
/// emit: `serve`'s deadlines, the HTTP/2 timers of `serve` and h2c, and the
/// idle timeout of raw upgraded connections, which the layer owns.
#[cfg(feature = "metrics")]
const SERVE_TIMEOUT_KINDS: &[&str] = &[
    #[cfg(feature = "serve")]
    "header",
    #[cfg(feature = "serve")]
    "preface",
    #[cfg(any(feature = "serve", feature = "h2c"))]
    "http2_idle",
    #[cfg(any(feature = "serve", feature = "h2c"))]
    "http2_keepalive",
    "upgraded_idle",
];

/// `tower_upgrade_topic_*_total` (`websocket::Topics`): counters without
/// labels. Listed here, with every other series, so that the registration
/// at 0 needs nothing from the protocols' modules; those record through
/// these names.
#[cfg(feature = "messages")]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const TOPIC_COUNTERS: [&str; 4] = [
    "tower_upgrade_topic_published_total",
    "tower_upgrade_topic_deliveries_total",
    "tower_upgrade_topic_dropped_total",
    "tower_upgrade_topic_slow_consumers_closed_total",
];

/// The `kind` values of `tower_upgrade_topic_compressions_total`.
#[cfg(all(feature = "metrics", feature = "messages"))]
const TOPIC_COMPRESSION_KINDS: [&str; 2] = ["shared", "per_connection"];

/// `tower_upgrade_backplane_*` (`websocket::RedisBackplane`): counters
/// without labels: messages sent to Redis, messages from other instances
/// handed to this one's subscribers, and connection attempts after a lost
/// or failed connection.
#[cfg(feature = "redis")]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const BACKPLANE_COUNTERS: [&str; 3] = [
    "tower_upgrade_backplane_published_total",
    "tower_upgrade_backplane_received_total",
    "tower_upgrade_backplane_reconnects_total",
];

/// The `kind` values of `tower_upgrade_backplane_dropped_total`.
#[cfg(all(feature = "metrics", feature = "redis"))]
const BACKPLANE_DROP_KINDS: [&str; 4] = ["outbox_full", "send_failed", "inbox_full", "malformed"];

/// The `kind` values of `tower_upgrade_backplane_connected`: the two
/// connections to Redis.
#[cfg(all(feature = "metrics", feature = "redis"))]
const BACKPLANE_CONNECTIONS: [&str; 2] = ["subscribe", "publish"];

/// The `outcome` values of `tower_upgrade_drain_total`.
#[cfg(feature = "metrics")]
const DRAIN_OUTCOMES: [&str; 2] = ["closed", "timed_out"];

/// Whether this configuration's series are registered. A clone of the
/// configuration (a builder method changed it) starts unregistered: it may
/// offer other protocols.
#[derive(Debug, Default)]
pub(crate) struct Registered(#[cfg(feature = "metrics")] AtomicBool);

impl Clone for Registered {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// What a configuration offers, as far as its series go: each registered
/// protocol's token with the rejection labels it declares, and whether a
/// request that asks for none of them is refused (`require_upgrade`). The
/// layer describes itself with this, so this module needs nothing above it.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct Offered<'a> {
    pub(crate) protocols: Vec<(String, &'a [&'static str])>,
    pub(crate) require_upgrade: bool,
}

/// Registers, at 0, every series of `offered` whose labels are known now,
/// in the recorder installed at this moment; once per configuration
/// (`registered`), however many services are built from it. Counters and
/// histograms start empty and gauges are created without being set, so a
/// series another layer already moved keeps its value.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn register<'a>(registered: &Registered, offered: impl FnOnce() -> Offered<'a>) {
    #[cfg(feature = "metrics")]
    if !registered.0.swap(true, Ordering::AcqRel) {
        for_each_series(&offered(), |series| series.register());
    }
    #[cfg(not(feature = "metrics"))]
    let Registered() = registered;
}

/// One series known in advance: its name and labels.
#[cfg(feature = "metrics")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Series<'a> {
    Counter(&'static str, &'a [(&'static str, &'a str)]),
    Gauge(&'static str, &'a [(&'static str, &'a str)]),
    Histogram(&'static str, &'a [(&'static str, &'a str)]),
}

#[cfg(feature = "metrics")]
impl Series<'_> {
    fn register(self) {
        fn labels(labels: &[(&'static str, &str)]) -> Vec<metrics::Label> {
            labels
                .iter()
                .map(|(key, value)| metrics::Label::new(*key, value.to_string()))
                .collect()
        }
        match self {
            Series::Counter(name, l) => {
                let _ = metrics::counter!(name, labels(l));
            }
            Series::Gauge(name, l) => {
                let _ = metrics::gauge!(name, labels(l));
            }
            Series::Histogram(name, l) => {
                let _ = metrics::histogram!(name, labels(l));
            }
        }
    }
}

/// Calls `f` with every series of `offered` known in advance: the one list
/// [`register`] and the tests read.
#[cfg(feature = "metrics")]
pub(crate) fn for_each_series(offered: &Offered<'_>, mut f: impl FnMut(Series<'_>)) {
    let mut reasons: Vec<&'static str> = Vec::new();
    for (token, labels) in &offered.protocols {
        let token = token.as_str();
        let protocol: &[(&str, &str)] = &[("protocol", token)];
        f(Series::Counter("tower_upgrade_attempts_total", protocol));
        f(Series::Counter("tower_upgrade_accepted_total", protocol));
        f(Series::Gauge("tower_upgrade_active", protocol));
        f(Series::Histogram(
            "tower_upgrade_connection_duration_seconds",
            protocol,
        ));
        // `upgrade_required` is the 426 of a request that chose no protocol.
        reasons.clear();
        reasons.extend(
            crate::rejection::METRICS_LABELS
                .iter()
                .filter(|&&label| label != "upgrade_required"),
        );
        for label in *labels {
            if !reasons.contains(label) {
                reasons.push(label);
            }
        }
        for reason in &reasons {
            f(Series::Counter(
                "tower_upgrade_rejected_total",
                &[("protocol", token), ("reason", reason)],
            ));
        }
    }
    if offered.require_upgrade {
        f(Series::Counter(
            "tower_upgrade_rejected_total",
            &[("protocol", NO_PROTOCOL), ("reason", "upgrade_required")],
        ));
    }
    f(Series::Gauge("tower_upgrade_handshakes_in_progress", &[]));
    #[cfg(feature = "messages")]
    for kind in WEBSOCKET_TIMEOUT_KINDS {
        f(Series::Counter(
            "tower_upgrade_websocket_timeouts_total",
            &[("kind", kind)],
        ));
    }
    for kind in SERVE_TIMEOUT_KINDS {
        f(Series::Counter(
            "tower_upgrade_serve_timeouts_total",
            &[("kind", kind)],
        ));
    }
    #[cfg(feature = "proxy-protocol")]
    f(Series::Counter(
        "tower_upgrade_proxy_protocol_rejected_total",
        &[],
    ));
    for outcome in DRAIN_OUTCOMES {
        f(Series::Counter(
            "tower_upgrade_drain_total",
            &[("outcome", outcome)],
        ));
    }
    #[cfg(feature = "gateway")]
    {
        for outcome in FORWARD_OUTCOMES {
            f(Series::Counter(
                "tower_upgrade_forward_total",
                &[("outcome", outcome)],
            ));
        }
        for direction in ["to_upstream", "to_client"] {
            f(Series::Counter(
                "tower_upgrade_forward_bytes_total",
                &[("direction", direction)],
            ));
        }
    }
    // Topics (`websocket::Topics`): a fixed set, whether or not a table
    // exists yet.
    #[cfg(feature = "messages")]
    {
        for name in TOPIC_COUNTERS {
            f(Series::Counter(name, &[]));
        }
        for kind in TOPIC_COMPRESSION_KINDS {
            f(Series::Counter(
                "tower_upgrade_topic_compressions_total",
                &[("kind", kind)],
            ));
        }
    }
    // The Redis backplane (`websocket::RedisBackplane`), whether or not
    // one is running.
    #[cfg(feature = "redis")]
    {
        for name in BACKPLANE_COUNTERS {
            f(Series::Counter(name, &[]));
        }
        for kind in BACKPLANE_DROP_KINDS {
            f(Series::Counter(
                "tower_upgrade_backplane_dropped_total",
                &[("kind", kind)],
            ));
        }
        for kind in BACKPLANE_CONNECTIONS {
            f(Series::Gauge(
                "tower_upgrade_backplane_connected",
                &[("kind", kind)],
            ));
        }
    }
}
