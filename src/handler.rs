//! [`UpgradeHandler`]: the bound every upgrade handler meets, written once.

use tower::{BoxError, Service};

use crate::upgraded::Upgraded;

/// What runs an upgraded connection: a `tower::Service<Upgraded>` that can
/// be cloned and sent to a task of its own (`Clone + Send + Sync +
/// 'static`), whose future is `Send`, and whose error converts into a
/// [`BoxError`] (it is logged; the connection is over either way).
///
/// Every such service is an `UpgradeHandler`, by a blanket impl; the trait
/// only names the bound that [`UpgradeLayer::protocol`](crate::UpgradeLayer::protocol),
/// [`register`](crate::UpgradeLayer::register) and `websocket` ask of their
/// handler. It is sealed: it cannot be implemented by hand, so the bound can
/// be relaxed later without breaking anyone.
///
/// ```
/// use tower::service_fn;
/// use tower_upgrade::{UpgradeHandler, UpgradeLayer, Upgraded};
///
/// // A function that builds a layer for any handler names the bound once.
/// fn with_feed(handler: impl UpgradeHandler) -> UpgradeLayer {
///     UpgradeLayer::new().protocol("feed/1", handler)
/// }
///
/// let layer = with_feed(service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }));
/// # let _ = layer;
/// ```
pub trait UpgradeHandler:
    Service<
        Upgraded,
        Response: Send + 'static,
        Error: Into<BoxError> + 'static,
        Future: Send + 'static,
    >
    + Clone
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
}

impl<H> UpgradeHandler for H where
    H: Service<
            Upgraded,
            Response: Send + 'static,
            Error: Into<BoxError> + 'static,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

mod sealed {
    /// Implemented by every service of upgraded connections, and by nothing
    /// else; outside the crate it cannot be named, so neither can
    /// `UpgradeHandler` be implemented by hand.
    pub trait Sealed {}

    impl<H: tower::Service<crate::upgraded::Upgraded>> Sealed for H {}
}
