//! The topics' series (README, "Observability"). Their names are listed
//! in `crate::metrics` with every other series, which registers them at 0
//! with the layer's.

#[cfg(feature = "metrics")]
use crate::metrics::TOPIC_COUNTERS as COUNTERS;

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

/// `tower_upgrade_backplane_*`: the Redis backplane's series (feature
/// `redis`).
#[cfg(feature = "redis")]
pub(crate) mod backplane {
    #[cfg(feature = "metrics")]
    use crate::metrics::BACKPLANE_COUNTERS as COUNTERS;

    /// Why a message did not cross: `kind` is one of the `kind` values of
    /// `tower_upgrade_backplane_dropped_total`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn dropped(kind: &'static str, messages: usize) {
        #[cfg(feature = "metrics")]
        metrics::counter!("tower_upgrade_backplane_dropped_total", "kind" => kind)
            .increment(messages as u64);
    }

    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn published(messages: usize) {
        #[cfg(feature = "metrics")]
        metrics::counter!(COUNTERS[0]).increment(messages as u64);
    }

    pub(crate) fn received() {
        #[cfg(feature = "metrics")]
        metrics::counter!(COUNTERS[1]).increment(1);
    }

    pub(crate) fn reconnect() {
        #[cfg(feature = "metrics")]
        metrics::counter!(COUNTERS[2]).increment(1);
    }

    /// One of the two connections (`subscribe`, `publish`) came up (`true`) or went down.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn connected(kind: &'static str, up: bool) {
        #[cfg(feature = "metrics")]
        {
            let gauge = metrics::gauge!("tower_upgrade_backplane_connected", "kind" => kind);
            if up {
                gauge.increment(1.0);
            } else {
                gauge.decrement(1.0);
            }
        }
    }
}
