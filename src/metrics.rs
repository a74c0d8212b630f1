//! Counters and timings of upgrades, through the [`metrics`] facade (feature
//! `metrics`); without the feature these calls compile to nothing.
//!
//! Every series the crate emits, with its labels and meaning, is listed in
//! one table in the crate docs (README, "Observability"): add a row there
//! with each new series.
//!
//! `protocol` is the registered token (`websocket`, `linecount/1`), never
//! the client's spelling, so a client cannot grow the number of series; a
//! `426` from `require_upgrade`, which chose no protocol, is counted with
//! `protocol="none"`. `reason` is [`Rejection::metrics_label`](crate::rejection::Rejection::metrics_label): the table in
//! `rejection.rs` gives every cause's.

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
