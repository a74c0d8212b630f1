//! Live upgraded connections: [`Connections`] counts them against their
//! limits (the places, in `places.rs`, per client in `per_client.rs`, the
//! handshake rate in `rate.rs`) and shuts them down ([`ShutdownSignal`],
//! then the handler tasks themselves, `tasks.rs`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

mod per_client;
mod places;
mod rate;
mod shutdown;
mod tasks;

pub(crate) use per_client::{ClientKey, ClientPlace, PerClient};
use places::Place;
pub(crate) use places::{Admission, Full, Handshake, Slots};
pub(crate) use rate::HandshakeRate;
pub use shutdown::ShutdownSignal;
pub(crate) use tasks::Tasks;

use crate::metrics;

/// A handle on the upgraded connections of one [`UpgradeLayer`](crate::UpgradeLayer)
/// (and every service it built): how many are live, a graceful shutdown
/// ([`shutdown`](Self::shutdown), [`wait_closed`](Self::wait_closed)), and
/// the end of those that outlast it ([`abort`](Self::abort)).
///
/// ```
/// use std::time::Duration;
/// use tower_upgrade::UpgradeLayer;
///
/// # async fn run() {
/// let layer = UpgradeLayer::new();
/// let connections = layer.connections();
/// // ... serve ...
/// connections.shutdown();
/// if !connections.wait_closed(Duration::from_secs(10)).await {
///     connections.abort().await;
/// }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Connections {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The handler tasks (from the wait for the switch to the handler's end).
    tasks: Tasks,
    shutdown: CancellationToken,
    /// Set just before `shutdown` is cancelled (see `ShutdownSignal`).
    fired: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
    /// Each registered protocol's token and count, for `active_for`.
    protocols: Mutex<Vec<(Box<str>, Arc<AtomicUsize>)>>,
    /// Upgrades between detection and hand-off (body read, waiting for the
    /// switched IO).
    handshakes: Arc<AtomicUsize>,
    client_live: Arc<PerClient>,
    client_handshakes: Arc<PerClient>,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                tasks: Tasks::default(),
                shutdown: CancellationToken::new(),
                fired: Arc::new(AtomicBool::new(false)),
                active: Arc::new(AtomicUsize::new(0)),
                protocols: Mutex::new(Vec::new()),
                handshakes: Arc::new(AtomicUsize::new(0)),
                client_live: Arc::default(),
                client_handshakes: Arc::default(),
            }),
        }
    }
}

impl Connections {
    /// How many upgraded connections are live now, all protocols together.
    pub fn active(&self) -> usize {
        self.inner.active.load(Ordering::Acquire)
    }

    /// How many upgraded connections of the registered protocol `token` are
    /// live now (`0` for a protocol that is not registered).
    ///
    /// ```
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new()
    ///     .protocol("feed/1", service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }));
    /// assert_eq!(layer.connections().active_for("feed/1"), 0);
    /// ```
    pub fn active_for(&self, token: &str) -> usize {
        let protocols = self
            .inner
            .protocols
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        protocols
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(token))
            .map_or(0, |(_, active)| active.load(Ordering::Acquire))
    }

    /// How many upgrades are between detection and hand-off now: reading
    /// their request body or waiting for the switched connection. They count
    /// against [`max_handshakes_in_progress`](crate::UpgradeLayer::max_handshakes_in_progress).
    ///
    /// ```
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// assert_eq!(UpgradeLayer::new().connections().handshakes_in_progress(), 0);
    /// ```
    pub fn handshakes_in_progress(&self) -> usize {
        self.inner.handshakes.load(Ordering::Acquire)
    }

    /// Signals every live handler through its [`ShutdownSignal`], and refuses
    /// new upgrades with `503` from now on.
    pub fn shutdown(&self) {
        self.inner.fired.store(true, Ordering::Release);
        self.inner.shutdown.cancel();
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.fired.load(Ordering::Acquire)
    }

    /// Waits until every upgraded connection is gone, or `deadline` passes.
    /// Returns `true` when all are gone. Those still open at the deadline
    /// keep running: [`abort`](Self::abort) ends them.
    ///
    /// Counts the outcome in `tower_upgrade_drain_total{outcome}` (feature
    /// `metrics`): the connections that ended within the deadline as
    /// `closed`, those still open at it as `timed_out`.
    pub async fn wait_closed(&self, deadline: Duration) -> bool {
        let tasks = &self.inner.tasks;
        let open = tasks.len();
        let done = tokio::time::timeout(deadline, tasks.wait()).await.is_ok();
        let left = if done { 0 } else { tasks.len() };
        crate::metrics::drained(open.saturating_sub(left), left);
        done
    }

    /// Ends every upgraded connection still open, without waiting for its
    /// handler: what [`serve`](crate::serve()) does at its
    /// `shutdown_timeout` to the layers given to `upgraded`, and what a
    /// server of your own can do when [`wait_closed`](Self::wait_closed)
    /// returns `false`.
    ///
    /// In order: [`shutdown`](Self::shutdown) is called, if it was not
    /// already (new upgrades are refused with `503`); each handler's task is
    /// stopped where it awaits and its future dropped, with the
    /// [`Upgraded`](crate::Upgraded) connection and whatever else it owns,
    /// which closes the socket without a word more (no WebSocket Close
    /// frame, no GOAWAY); an upgrade whose switch is still under way is
    /// ended before its handler starts, and one answered later is dropped
    /// at once. Resolves once every handler task is gone, with how many were
    /// running.
    ///
    /// Not reached: tasks a handler spawned itself, and a handler that
    /// blocks its thread instead of awaiting (it ends when it next awaits).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// # async fn run() {
    /// let layer = UpgradeLayer::new();
    /// let connections = layer.connections();
    /// // ... serve with a server of your own ...
    /// connections.shutdown();
    /// if !connections.wait_closed(Duration::from_secs(10)).await {
    ///     let ended = connections.abort().await;
    ///     eprintln!("ended {ended} upgraded connections at the deadline");
    /// }
    /// # }
    /// ```
    pub async fn abort(&self) -> usize {
        self.shutdown();
        self.inner.tasks.abort().await
    }

    /// Makes the count of a newly registered protocol visible to `active_for`.
    pub(crate) fn track(&self, token: String, slots: &Slots) {
        let mut protocols = self
            .inner
            .protocols
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        protocols.push((token.into(), slots.active.clone()));
    }

    pub(crate) fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            token: self.inner.shutdown.clone(),
            fired: self.inner.fired.clone(),
        }
    }

    /// Where the handler tasks are spawned (`Tasks::spawn`).
    pub(crate) fn tracker(&self) -> &Tasks {
        &self.inner.tasks
    }

    /// Whether [`admit`](Self::admit) would succeed now, without taking
    /// anything: checked before the request body is read, so a full or
    /// closing server does not read bodies only to refuse them.
    pub(crate) fn has_room(
        &self,
        max: usize,
        protocol: &Slots,
        client: Option<(ClientKey, usize)>,
    ) -> Result<(), Full> {
        if self.is_shutting_down()
            || self.active() >= max
            || protocol.active.load(Ordering::Acquire) >= protocol.max
        {
            return Err(Full::Server);
        }
        match client {
            Some((key, max)) if !self.inner.client_live.has_room(key, max) => Err(Full::Client),
            _ => Ok(()),
        }
    }

    /// Takes a place in the global count (of which the layer allows `max`),
    /// in `protocol`'s and in the client's (of which it allows the given
    /// number), or says which is full; the server is full while shutting
    /// down. The limits are the calling layer's configuration; only the
    /// counts are shared with the layer's clones.
    pub(crate) fn admit(
        &self,
        max: usize,
        protocol: &Slots,
        client: Option<(ClientKey, usize)>,
    ) -> Result<Admission, Full> {
        if self.is_shutting_down() {
            return Err(Full::Server);
        }
        let global = Place::take(&self.inner.active, max).ok_or(Full::Server)?;
        let own = Place::take(&protocol.active, protocol.max).ok_or(Full::Server)?;
        let client = match client {
            Some((key, max)) => Some(self.inner.client_live.take(key, max).ok_or(Full::Client)?),
            None => None,
        };
        Ok(Admission {
            _places: [global, own],
            _client: client,
        })
    }

    /// Takes a place among the handshakes in progress (of which the layer
    /// allows `max`, and the client the given number).
    pub(crate) fn begin_handshake(
        &self,
        max: usize,
        client: Option<(ClientKey, usize)>,
    ) -> Result<Handshake, Full> {
        let place = Place::take(&self.inner.handshakes, max).ok_or(Full::Server)?;
        let client = match client {
            Some((key, max)) => Some(
                self.inner
                    .client_handshakes
                    .take(key, max)
                    .ok_or(Full::Client)?,
            ),
            None => None,
        };
        Ok(Handshake {
            _place: place,
            _client: client,
            _gauge: metrics::HandshakeInProgress::start(),
        })
    }

    /// How many clients hold a live connection, and a handshake in progress.
    #[cfg(test)]
    pub(crate) fn clients_tracked(&self) -> (usize, usize) {
        (
            self.inner.client_live.clients(),
            self.inner.client_handshakes.clients(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_counts_and_limits() {
        let connections = Connections::default();
        let ws = Slots::new(1);
        let other = Slots::new(usize::MAX);
        let a = connections.admit(2, &ws, None).expect("first websocket");
        assert!(
            connections.admit(2, &ws, None).is_err(),
            "websocket limit is 1"
        );
        assert_eq!(
            connections.active(),
            1,
            "a refused admission gives its place back"
        );
        let b = connections
            .admit(2, &other, None)
            .expect("second connection");
        assert_eq!(
            connections.has_room(2, &other, None),
            Err(Full::Server),
            "global limit is 2"
        );
        assert!(
            connections.admit(2, &other, None).is_err(),
            "global limit is 2"
        );
        assert_eq!(
            (connections.active(), ws.active(), other.active()),
            (2, 1, 1)
        );
        drop(a);
        drop(b);
        assert_eq!(
            (connections.active(), ws.active(), other.active()),
            (0, 0, 0)
        );
        connections.shutdown();
        assert!(
            connections.admit(2, &other, None).is_err(),
            "no admission after shutdown"
        );
        assert_eq!(connections.has_room(2, &other, None), Err(Full::Server));
    }

    #[test]
    fn per_client_places_and_handshakes() {
        let connections = Connections::default();
        let any = Slots::new(usize::MAX);
        let a = ClientKey::from_ip("192.0.2.1".parse().unwrap());
        let b = ClientKey::from_ip("192.0.2.2".parse().unwrap());
        let a1 = connections.admit(10, &any, Some((a, 1))).unwrap();
        assert_eq!(
            connections.has_room(10, &any, Some((a, 1))),
            Err(Full::Client)
        );
        assert!(matches!(
            connections.admit(10, &any, Some((a, 1))),
            Err(Full::Client)
        ));
        assert_eq!(connections.active(), 1, "the refused place was given back");
        let b1 = connections.admit(10, &any, Some((b, 1))).unwrap();

        let h1 = connections.begin_handshake(2, Some((a, 1))).unwrap();
        assert!(matches!(
            connections.begin_handshake(2, Some((a, 1))),
            Err(Full::Client)
        ));
        let h2 = connections.begin_handshake(2, Some((b, 1))).unwrap();
        assert!(matches!(
            connections.begin_handshake(2, None),
            Err(Full::Server)
        ));
        assert_eq!(connections.handshakes_in_progress(), 2);
        assert_eq!(connections.clients_tracked(), (2, 2));
        drop((a1, b1, h1, h2));
        assert_eq!(connections.handshakes_in_progress(), 0);
        assert_eq!(connections.clients_tracked(), (0, 0));
    }
}
