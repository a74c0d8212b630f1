//! The causes every protocol can meet. Their status, reason and metrics
//! label are in the table in `rejection.rs`.

use http::header::{HeaderName, CONNECTION, UPGRADE};
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

/// The upgrade request's body did not arrive in full within the layer's
/// [`handshake_timeout`](crate::UpgradeLayer::handshake_timeout). RFC 9110
/// §15.5.9: `408 Request Timeout`; over HTTP/1.1 with `Connection: close`,
/// since the rest of the body was never read and the connection cannot
/// carry another request.
///
/// ```
/// use tower_upgrade::rejection::{Rejection, RequestTimeout};
///
/// fn timed_out(rejection: &Rejection) -> bool {
///     matches!(rejection, Rejection::RequestTimeout(RequestTimeout { .. }))
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestTimeout;

/// The protocol's asynchronous step
/// ([`Protocol::before_switch`](crate::Protocol::before_switch)) did not
/// finish within the layer's
/// [`handshake_timeout`](crate::UpgradeLayer::handshake_timeout): what it
/// waited on (an upstream, a store) answered too late. RFC 9110 §15.6.5:
/// `504 Gateway Timeout`.
///
/// ```
/// use tower_upgrade::rejection::{BeforeSwitchTimeout, Rejection};
///
/// assert_eq!(Rejection::from(BeforeSwitchTimeout::default()).status(), 504);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BeforeSwitchTimeout;

/// A header field that negotiates the switch (`Connection` or `Upgrade`,
/// all its lines together) is longer than
/// [`UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES`](crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES).
/// RFC 6585 §5: `431 Request Header Fields Too Large`, whose body names the
/// field. The field is refused rather than read in part: a switch is never
/// agreed on a part of what the client asked.
///
/// Only a request that asked for a protocol the layer offers is checked;
/// any other passes through as before. WebSocket bounds its own header
/// fields the same way (see
/// [`WebSocketRejection`](crate::websocket::WebSocketRejection)).
///
/// ```
/// use tower_upgrade::rejection::Rejection;
///
/// fn field_too_large(rejection: &Rejection) -> Option<&http::HeaderName> {
///     match rejection {
///         Rejection::HeaderTooLarge(r) => Some(r.field()), // `connection` or `upgrade`
///         _ => None,
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderTooLarge {
    field: HeaderName,
}

impl HeaderTooLarge {
    /// `field` is `Connection` or `Upgrade`: the reason names one of them.
    pub(crate) fn new(field: HeaderName) -> Self {
        debug_assert!(field == CONNECTION || field == UPGRADE, "{field}");
        Self { field }
    }

    /// The header field that is too large.
    pub fn field(&self) -> &HeaderName {
        &self.field
    }

    /// The bound it went over, in bytes (all its lines together).
    pub fn limit(&self) -> usize {
        crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES
    }

    /// The reason in the table: it names the field (RFC 6585 §5: the
    /// response SHOULD say which field was too large).
    pub(super) fn field_reason(&self) -> &'static str {
        if self.field == CONNECTION {
            "the Connection header field is too large (over 4096 bytes)"
        } else {
            "the Upgrade header field is too large (over 4096 bytes)"
        }
    }
}
