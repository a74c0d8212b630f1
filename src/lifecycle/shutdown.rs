//! [`ShutdownSignal`]: what a handler waits on to close cleanly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

/// Resolves when the server asks upgraded connections to wind down
/// ([`Connections::shutdown`](crate::Connections::shutdown)). Handlers select on it to close cleanly
/// (a WebSocket sends close code 1001, "going away").
///
/// ```
/// use tower_upgrade::Upgraded;
///
/// async fn handle(conn: Upgraded) {
///     let shutdown = conn.shutdown_signal();
///     tokio::select! {
///         _ = shutdown.wait() => { /* say goodbye */ }
///         _ = std::future::pending::<()>() => {}
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct ShutdownSignal {
    pub(crate) token: CancellationToken,
    /// Set before `token` is cancelled: what a connection that registered
    /// with `token` once reads at each wake-up (one load, where the token's
    /// own check takes its lock).
    pub(crate) fired: Arc<AtomicBool>,
}

impl ShutdownSignal {
    /// Resolves once shutdown has been asked for.
    pub async fn wait(&self) {
        self.token.cancelled().await
    }

    /// Whether shutdown has been asked for.
    pub fn is_triggered(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }
}
