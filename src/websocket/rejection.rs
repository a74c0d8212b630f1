//! Why a WebSocket handshake was refused (RFC 6455 §4.2.1): one type per
//! cause, each a variant of [`Rejection`](crate::Rejection).
//!
//! ```
//! use tower_upgrade::websocket::ForbiddenOrigin;
//! use tower_upgrade::Rejection;
//!
//! fn is_cross_site(rejection: &Rejection) -> bool {
//!     matches!(rejection, Rejection::ForbiddenOrigin(ForbiddenOrigin { .. }))
//! }
//! ```

use crate::rejection::simple_rejection;

simple_rejection!(
    /// A WebSocket handshake must be a `GET` (RFC 6455 §4.1); HTTP/2
    /// extended CONNECT uses `CONNECT` (RFC 8441 §4). `405` with `Allow: GET`.
    MethodNotAllowed,
    METHOD_NOT_ALLOWED,
    "a WebSocket handshake must use the GET method"
);
simple_rejection!(
    /// The request names no host (RFC 6455 §4.2.1 item 2). `400`.
    MissingHost,
    BAD_REQUEST,
    "the WebSocket handshake has no Host header"
);
simple_rejection!(
    /// `Sec-WebSocket-Key` is missing, repeated, or does not decode to
    /// exactly 16 bytes of base64 (RFC 6455 §4.2.1 item 5). `400`.
    InvalidWebSocketKey,
    BAD_REQUEST,
    "Sec-WebSocket-Key must be present once and be 16 bytes encoded in base64"
);
simple_rejection!(
    /// `Sec-WebSocket-Version` is missing or repeated (RFC 6455 §4.2.1
    /// item 6). `400`, with `Sec-WebSocket-Version: 13`.
    MissingWebSocketVersion,
    BAD_REQUEST,
    "Sec-WebSocket-Version must be present once"
);
simple_rejection!(
    /// The client speaks a WebSocket version other than 13. RFC 6455 §4.4:
    /// `426 Upgrade Required` with `Sec-WebSocket-Version: 13`.
    UnsupportedWebSocketVersion,
    UPGRADE_REQUIRED,
    "unsupported WebSocket version: this server speaks version 13"
);
simple_rejection!(
    /// The `Origin` is not allowed by the [`OriginPolicy`](crate::websocket::OriginPolicy):
    /// the defence against cross-site WebSocket hijacking (RFC 6455 §10.2). `403`.
    ForbiddenOrigin,
    FORBIDDEN,
    "the request's Origin is not allowed to open a WebSocket here"
);
simple_rejection!(
    /// The server requires a subprotocol and the client offered none that the
    /// server supports (RFC 6455 §4.2.2). `400`.
    NoSupportedSubprotocol,
    BAD_REQUEST,
    "none of the offered WebSocket subprotocols is supported"
);
