//! The causes every protocol can meet. Their status, reason and metrics
//! label are in the table in `rejection.rs`.

use http::HeaderValue;

/// The server cannot switch protocols on this connection: the request
/// carries no upgrade handle, as when the service is called outside of a
/// hyper server, or by a server that does not support upgrades.
/// `501 Not Implemented`.
///
/// hyper's HTTP/1 server gives a handle even when the connection is
/// served without `with_upgrades()`; there the `101` is sent, the switch
/// fails, and the connection closes (it never hangs). Serve with
/// `serve_connection_with_upgrades` (hyper-util's auto builder, or
/// `axum::serve`) or `with_upgrades()`.
///
/// ```
/// use tower_upgrade::rejection::{ConnectionNotUpgradable, Rejection};
///
/// fn served_without_upgrades(rejection: &Rejection) -> bool {
///     matches!(rejection, Rejection::ConnectionNotUpgradable(ConnectionNotUpgradable { .. }))
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionNotUpgradable;

/// The upgrade request's body is larger than the layer reads before
/// switching (RFC 9110 §7.8: the whole request is read first). `413`.
///
/// ```
/// use tower_upgrade::rejection::{BodyTooLarge, Rejection};
///
/// fn status_of_too_large(rejection: &Rejection) -> Option<http::StatusCode> {
///     match rejection {
///         Rejection::BodyTooLarge(r) => Some(r.status()), // 413
///         _ => None,
///     }
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BodyTooLarge;

/// The upgrade request's body could not be read to its end. `400`.
///
/// ```
/// use tower_upgrade::rejection::{InvalidBody, Rejection};
///
/// fn label(rejection: &Rejection) -> Option<&'static str> {
///     match rejection {
///         Rejection::InvalidBody(r) => Some(r.metrics_label()), // "invalid_body"
///         _ => None,
///     }
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidBody;

/// The route requires an upgrade and the request asked for none of the
/// protocols offered here. RFC 9110 §15.5.22: `426 Upgrade Required`, with
/// `Upgrade` listing what the server offers (over HTTP/1.1; HTTP/2 has no
/// `Upgrade` header, RFC 9113 §8.2.2, so there it is a plain `426`).
///
/// ```
/// use tower_upgrade::rejection::{Rejection, UpgradeRequired};
///
/// fn offered(rejection: &Rejection) -> Option<&str> {
///     match rejection {
///         Rejection::UpgradeRequired(r) => r.offered().to_str().ok(),
///         _ => None,
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRequired {
    offered: HeaderValue,
}

impl UpgradeRequired {
    pub(crate) fn new(offered: HeaderValue) -> Self {
        Self { offered }
    }

    /// The `Upgrade` value sent back: the protocols offered, in preference order.
    pub fn offered(&self) -> &HeaderValue {
        &self.offered
    }
}

/// The connection limit for the chosen protocol, or for the whole layer, is
/// reached. `503 Service Unavailable` with `Retry-After`.
///
/// ```
/// use tower_upgrade::rejection::{Rejection, TooManyConnections};
///
/// fn retry_after(rejection: &Rejection) -> Option<u32> {
///     match rejection {
///         Rejection::TooManyConnections(r) => Some(r.retry_after_secs()),
///         _ => None,
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyConnections {
    retry_after_secs: u32,
}

impl TooManyConnections {
    pub(crate) fn new(retry_after_secs: u32) -> Self {
        Self { retry_after_secs }
    }

    /// The `Retry-After` value sent, in seconds.
    pub fn retry_after_secs(&self) -> u32 {
        self.retry_after_secs
    }
}
