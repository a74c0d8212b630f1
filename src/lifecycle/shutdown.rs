//! [`ShutdownSignal`]: what a handler waits on to close cleanly.

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
}

impl ShutdownSignal {
    /// Resolves once shutdown has been asked for.
    pub async fn wait(&self) {
        self.token.cancelled().await
    }

    /// Whether shutdown has been asked for.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }
}
