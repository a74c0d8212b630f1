//! Places in the counts: one taken per live connection (globally and per
//! protocol) and per handshake in progress, each given back on drop, so a
//! count can never leak past the task that holds its place.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::ClientPlace;
use crate::metrics;

/// Which count refused a place: the server's (`503`) or the client's
/// (`429`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Full {
    Server,
    Client,
}

/// Held from detection to hand-off: a place among the handshakes in
/// progress.
pub(crate) struct Handshake {
    pub(super) _place: Place,
    pub(super) _client: Option<ClientPlace>,
    pub(super) _gauge: metrics::HandshakeInProgress,
}

/// The count and limit of one registered protocol.
#[derive(Debug)]
pub(crate) struct Slots {
    pub(super) active: Arc<AtomicUsize>,
    pub(super) max: usize,
}

impl Slots {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            active: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// The same count under another limit.
    pub(crate) fn with_max(&self, max: usize) -> Self {
        Self {
            active: self.active.clone(),
            max,
        }
    }

    #[cfg(test)]
    pub(super) fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }
}

/// One place taken in a count; given back on drop.
pub(super) struct Place(Arc<AtomicUsize>);

impl Place {
    pub(super) fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(Place(counter.clone()))
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Held by the task of one upgraded connection: its places in the counts.
pub(crate) struct Admission {
    pub(super) _places: [Place; 2],
    pub(super) _client: Option<ClientPlace>,
}
