//! The topics' series (README, "Observability"), registered at 0 with the
//! layer's (see `crate::metrics::for_each_series`).

/// `tower_upgrade_topic_*_total`: counters without labels.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const COUNTERS: [&str; 4] = [
    "tower_upgrade_topic_published_total",
    "tower_upgrade_topic_deliveries_total",
    "tower_upgrade_topic_dropped_total",
    "tower_upgrade_topic_slow_consumers_closed_total",
];

/// The `kind` values of `tower_upgrade_topic_compressions_total`.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) const COMPRESSION_KINDS: [&str; 2] = ["shared", "per_connection"];

/// One publish: delivered to, dropped for and closed subscribers.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn published(delivered: usize, dropped: usize, closed: usize) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(COUNTERS[0]).increment(1);
        metrics::counter!(COUNTERS[1]).increment(delivered as u64);
        if dropped > 0 {
            metrics::counter!(COUNTERS[2]).increment(dropped as u64);
        }
        if closed > 0 {
            metrics::counter!(COUNTERS[3]).increment(closed as u64);
        }
    }
}

/// A prepared message compressed: once for every connection with the same
/// parameters (`shared`), or by one connection with context takeover
/// (`per_connection`).
#[cfg(feature = "deflate")]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn compressed(kind: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("tower_upgrade_topic_compressions_total", "kind" => kind).increment(1);
}
