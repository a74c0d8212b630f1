//! What happens when a handler fails: [`UpgradeFailure`], handed to the
//! callback of [`UpgradeLayer::on_failure`](crate::UpgradeLayer::on_failure)
//! or logged with `tracing::warn!`.

use std::any::Any;
use std::future::Future;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Uri};
use pin_project_lite::pin_project;
use tower::BoxError;

use crate::upgraded::Negotiated;

/// The callback of [`UpgradeLayer::on_failure`](crate::UpgradeLayer::on_failure).
pub(crate) type OnFailure = Arc<dyn Fn(UpgradeFailure) + Send + Sync>;

/// A handler that returned an error or panicked, with what is known of its
/// connection: the protocol, the request's method and target, the client's
/// address, and the error (for a panic, a [`HandlerPanicked`]).
///
/// ```
/// use tower_upgrade::{UpgradeFailure, UpgradeLayer};
///
/// let layer = UpgradeLayer::new().on_failure(|failure: UpgradeFailure| {
///     eprintln!(
///         "{} {} ({}) from {:?}: {}",
///         failure.method(),
///         failure.uri(),
///         failure.protocol().protocol(),
///         failure.client(),
///         failure.error(),
///     );
/// });
/// # let _ = layer;
/// ```
#[derive(Debug)]
pub struct UpgradeFailure {
    pub(crate) protocol: Negotiated,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) client: Option<IpAddr>,
    pub(crate) error: BoxError,
    pub(crate) panicked: bool,
}

impl UpgradeFailure {
    /// What was negotiated for the connection: the protocol, and the
    /// subprotocol if any.
    pub fn protocol(&self) -> &Negotiated {
        &self.protocol
    }

    /// The method of the request that asked for the switch.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The target of the request that asked for the switch.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The client's address, when known (see
    /// [`ClientInfo`](crate::peer::ClientInfo)).
    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }

    /// The handler's error, or a [`HandlerPanicked`] when it panicked.
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.error
    }

    /// Whether the handler panicked rather than returning an error.
    pub fn is_panic(&self) -> bool {
        self.panicked
    }

    /// The error, owned.
    pub fn into_error(self) -> BoxError {
        self.error
    }

    /// What happens without a callback: a `tracing` warning.
    pub(crate) fn log(&self) {
        tracing::warn!(
            protocol = self.protocol.protocol(),
            method = %self.method,
            uri = %self.uri,
            client = ?self.client,
            panicked = self.panicked,
            error = %self.error,
            "upgrade handler failed"
        );
    }
}

/// The error of an [`UpgradeFailure`] whose handler panicked.
///
/// ```
/// use tower_upgrade::{HandlerPanicked, UpgradeLayer};
///
/// let layer = UpgradeLayer::new().on_failure(|failure| {
///     if let Some(panic) = failure.error().downcast_ref::<HandlerPanicked>() {
///         eprintln!("handler panicked: {:?}", panic.message());
///     }
/// });
/// # let _ = layer;
/// ```
#[derive(Debug)]
pub struct HandlerPanicked {
    message: Option<String>,
}

impl HandlerPanicked {
    fn new(payload: Box<dyn Any + Send>) -> Self {
        let message = match payload.downcast::<String>() {
            Ok(message) => Some(*message),
            Err(payload) => payload.downcast_ref::<&str>().map(|s| (*s).to_owned()),
        };
        Self { message }
    }

    /// The panic's message, when it was a string (as `panic!` makes it).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

impl std::fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.message {
            Some(message) => write!(f, "the handler panicked: {message}"),
            None => f.write_str("the handler panicked"),
        }
    }
}

impl std::error::Error for HandlerPanicked {}

pin_project! {
    /// Runs a handler's future and turns a panic in it into an error, so the
    /// failure reaches the callback like any other (the task would
    /// otherwise end with the panic, seen by nobody).
    pub(crate) struct CatchPanic<F> {
        #[pin]
        future: F,
    }
}

impl<F> CatchPanic<F> {
    pub(crate) fn new(future: F) -> Self {
        Self { future }
    }
}

/// The outcome of a handler: `Ok`, its error, or a panic.
pub(crate) enum Outcome {
    Done,
    Failed(BoxError),
    Panicked(HandlerPanicked),
}

impl<F> Future for CatchPanic<F>
where
    F: Future<Output = Result<(), BoxError>>,
{
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let future = self.project().future;
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Ok(()))) => Poll::Ready(Outcome::Done),
            Ok(Poll::Ready(Err(error))) => Poll::Ready(Outcome::Failed(error)),
            Err(payload) => Poll::Ready(Outcome::Panicked(HandlerPanicked::new(payload))),
        }
    }
}
