//! Why an upgrade was refused: one type per cause, gathered in [`Rejection`].
//!
//! Every rejection becomes an ordinary HTTP response carrying its status, the
//! reason as a `text/plain` body, and the headers the RFCs ask for. The
//! [`Rejection`] is also put in the response's extensions, so outer layers can
//! tell why (and log it), and [`RenderRejection`] lets you write the response
//! yourself.
//!
//! Each cause's status, reason and metrics label are written once, in the
//! table below, which generates the [`Rejection`] enum and everything that
//! matches on it. A protocol brings its own causes through one variant,
//! [`Rejection::Protocol`], holding a [`ProtocolRejection`]: the WebSocket
//! handshake's `websocket::WebSocketRejection` travels that way, and so
//! does your own protocol's refusal.
//!
//! The causes, and the `reason` label each is counted under in
//! `tower_upgrade_rejected_total` (feature `metrics`; every one of these
//! series exists at 0 from the moment the layer is built, for each
//! protocol it offers, `upgrade_required` under `protocol="none"`):
//!
//! | cause | status | `reason` |
//! |---|---|---|
//! | [`UpgradeRequired`] | 426, with `Upgrade` | `upgrade_required` |
//! | [`ConnectionNotUpgradable`] | 501 | `connection_not_upgradable` |
//! | [`BodyTooLarge`] | 413 | `body_too_large` |
//! | [`InvalidBody`] | 400 | `invalid_body` |
//! | [`RequestTimeout`] | 408, with `Connection: close` | `request_timeout` |
//! | [`BeforeSwitchTimeout`] | 504 | `before_switch_timeout` |
//! | [`HeaderTooLarge`] | 431, naming the field | `header_too_large` |
//! | [`TooManyConnections`] | 503, with `Retry-After` | `too_many_connections` |
//! | [`TooManyConnectionsPerClient`] | 429, with `Retry-After` | `too_many_connections_per_client` |
//! | [`HandshakeRateLimited`] | 429, with `Retry-After` | `handshake_rate_limited` |
//! | [`TooManyHandshakes`] | 503, with `Retry-After` | `too_many_handshakes` |
//! | [`TooManyHandshakesPerClient`] | 429, with `Retry-After` | `too_many_handshakes_per_client` |
//! | [`ProtocolRejection`] | the protocol's | its [`label`](ProtocolRejection::label), `custom` unless set |
//!
//! The bounds behind `413`, `408` and `431` are the layer's:
//! [`max_request_body`](crate::UpgradeLayer::max_request_body),
//! [`handshake_timeout`](crate::UpgradeLayer::handshake_timeout), and
//! [`MAX_NEGOTIATION_HEADER_BYTES`](crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES)
//! (4 KiB for each of `Connection` and `Upgrade`, and for WebSocket's
//! `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions`).
//!
//! ```
//! use bytes::Bytes;
//! use http::Response;
//! use tower_upgrade::rejection::{BodyTooLarge, Rejection};
//! use tower_upgrade::UpgradeLayer;
//!
//! // Answer refusals as JSON; the headers the RFCs require are still added.
//! let layer = UpgradeLayer::new().render_rejection(|r: &Rejection| {
//!     Response::builder()
//!         .status(r.status())
//!         .header("content-type", "application/json")
//!         .body(Bytes::from(format!(r#"{{"error":"{}"}}"#, r.metrics_label())))
//!         .unwrap()
//! });
//! # let _ = layer;
//! assert_eq!(Rejection::from(BodyTooLarge::default()).status(), 413);
//! ```

mod causes;
mod headers;
mod limits;
mod protocol;
mod render;
mod table;

pub use causes::{
    BeforeSwitchTimeout, BodyTooLarge, ConnectionNotUpgradable, HeaderTooLarge, InvalidBody,
    RequestTimeout, TooManyConnections, UpgradeRequired,
};
pub use limits::{
    HandshakeRateLimited, TooManyConnectionsPerClient, TooManyHandshakes,
    TooManyHandshakesPerClient,
};
pub use protocol::ProtocolRejection;
pub(crate) use render::respond;
pub use render::{PlainTextRejection, RenderRejection};

// To add a cause: define its type (a unit struct, or a struct with the
// values it reports) next to its kin, and add one row here. The row gives
// the variant (named as the type), its status, its metrics label (the
// `reason` of `tower_upgrade_rejected_total`) and its reason in words. If
// the RFCs require a header on it, add an arm to `headers::required`.
table::rejections! {
    // A protocol's own refusal (WebSocket's, h2c's, yours): status, reason,
    // label and headers are its own.
    protocol Protocol(ProtocolRejection);

    UpgradeRequired => UPGRADE_REQUIRED, "upgrade_required",
        "this resource requires a protocol upgrade; see the Upgrade header";
    ConnectionNotUpgradable => NOT_IMPLEMENTED, "connection_not_upgradable",
        "this connection cannot be upgraded: the server was not started with upgrade support";
    BodyTooLarge => PAYLOAD_TOO_LARGE, "body_too_large",
        "the upgrade request's body is too large";
    InvalidBody => BAD_REQUEST, "invalid_body",
        "the upgrade request's body could not be read";
    RequestTimeout => REQUEST_TIMEOUT, "request_timeout",
        "the upgrade request's body did not arrive in time";
    BeforeSwitchTimeout => GATEWAY_TIMEOUT, "before_switch_timeout",
        "the upgrade could not be prepared in time";
    HeaderTooLarge => REQUEST_HEADER_FIELDS_TOO_LARGE, "header_too_large", (field_reason);
    TooManyConnections => SERVICE_UNAVAILABLE, "too_many_connections",
        "too many upgraded connections; try again later";
    TooManyConnectionsPerClient => TOO_MANY_REQUESTS, "too_many_connections_per_client",
        "too many upgraded connections from this client; try again later";
    HandshakeRateLimited => TOO_MANY_REQUESTS, "handshake_rate_limited",
        "too many upgrade attempts from this client; try again later";
    TooManyHandshakes => SERVICE_UNAVAILABLE, "too_many_handshakes",
        "too many upgrades in progress; try again later";
    TooManyHandshakesPerClient => TOO_MANY_REQUESTS, "too_many_handshakes_per_client",
        "too many upgrades in progress from this client; try again later";
}

#[cfg(test)]
pub(crate) mod tests;
