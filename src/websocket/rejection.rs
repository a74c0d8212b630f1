//! Why a WebSocket handshake was refused (RFC 6455 §4.2.1): one type per
//! cause, each a variant of [`Rejection`](crate::Rejection). Their status,
//! reason and metrics label are in the table in `src/rejection.rs`.
//!
//! ```
//! use tower_upgrade::websocket::ForbiddenOrigin;
//! use tower_upgrade::Rejection;
//!
//! fn is_cross_site(rejection: &Rejection) -> bool {
//!     matches!(rejection, Rejection::ForbiddenOrigin(ForbiddenOrigin { .. }))
//! }
//! ```

/// A WebSocket handshake must be a `GET` (RFC 6455 §4.1); HTTP/2
/// extended CONNECT uses `CONNECT` (RFC 8441 §4). `405` with `Allow: GET`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MethodNotAllowed;

/// The request names no host (RFC 6455 §4.2.1 item 2). `400`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingHost;

/// `Sec-WebSocket-Key` is missing, repeated, or does not decode to
/// exactly 16 bytes of base64 (RFC 6455 §4.2.1 item 5). `400`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidWebSocketKey;

/// `Sec-WebSocket-Version` is missing or repeated (RFC 6455 §4.2.1
/// item 6). `400`, with `Sec-WebSocket-Version: 13`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingWebSocketVersion;

/// The client speaks a WebSocket version other than 13. RFC 6455 §4.4:
/// `426 Upgrade Required` with `Sec-WebSocket-Version: 13` (and, over
/// HTTP/1.1, `Upgrade: websocket`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnsupportedWebSocketVersion;

/// The `Origin` is not allowed by the [`OriginPolicy`](crate::websocket::OriginPolicy):
/// the defence against cross-site WebSocket hijacking (RFC 6455 §10.2). `403`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForbiddenOrigin;

/// The server requires a subprotocol and the client offered none that the
/// server supports (RFC 6455 §4.2.2). `400`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NoSupportedSubprotocol;
