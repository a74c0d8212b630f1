//! The WebSocket protocol: the server handshake of RFC 6455 §4.2 over
//! HTTP/1.1, and of RFC 8441 over HTTP/2.
//!
//! Register it with [`UpgradeLayer::websocket`](crate::UpgradeLayer::websocket).
//! The handler receives the raw byte stream; with the `tungstenite` feature,
//! `Upgraded::into_tungstenite` turns it
//! into a message stream. With the `yawc` feature,
//! `WebSocketConfig::permessage_deflate` negotiates compression (RFC 7692) and
//! `Upgraded::into_yawc` gives a message stream that compresses.
//!
//! ```
//! use tower::service_fn;
//! use tower_upgrade::websocket::{OriginPolicy, WebSocketConfig};
//! use tower_upgrade::{UpgradeLayer, Upgraded};
//!
//! // Defaults: same-origin policy, no subprotocol, bounded frames.
//! let plain = UpgradeLayer::new().websocket(
//!     WebSocketConfig::new(),
//!     service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }),
//! );
//!
//! // Customised: a subprotocol is required, two origins are allowed.
//! let custom = UpgradeLayer::new().websocket(
//!     WebSocketConfig::new()
//!         .subprotocols(["v2.chat", "v1.chat"])
//!         .require_subprotocol(true)
//!         .origin(OriginPolicy::allow_list(["https://app.example.com", "https://*.example.org"]).unwrap())
//!         .max_message_size(1 << 20),
//!     service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }),
//! );
//! # let _ = (plain, custom);
//! ```

mod config;
#[cfg(any(feature = "yawc", feature = "deflate"))]
pub(crate) mod deflate;
#[cfg(any(feature = "yawc", feature = "deflate"))]
pub(crate) mod extensions;
mod handshake;
mod origin;
mod register;
mod rejection;
#[cfg(feature = "messages")]
pub(crate) mod socket;
mod subprotocol;
#[cfg(feature = "tungstenite")]
mod tungstenite;
#[cfg(feature = "yawc")]
mod yawc_backend;

pub use config::{FrameLimits, WebSocketConfig};
#[cfg(any(feature = "yawc", feature = "deflate"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "yawc", feature = "deflate"))))]
pub use deflate::{DeflateConfig, PermessageDeflate};
pub use handshake::accept_key;
pub use origin::OriginPolicy;
pub use rejection::{
    ForbiddenOrigin, InvalidWebSocketKey, MethodNotAllowed, MissingHost, MissingWebSocketVersion,
    NoSupportedSubprotocol, UnsupportedWebSocketVersion,
};
#[cfg(feature = "yawc")]
#[cfg_attr(docsrs, doc(cfg(feature = "yawc")))]
pub use yawc_backend::close_after_error;

#[cfg(feature = "messages")]
#[cfg_attr(docsrs, doc(cfg(feature = "messages")))]
pub use socket::{
    CloseCode, CloseFrame, Error, Message, Receiver, Sender, TrySendError, Utf8Bytes, WebSocket,
};

#[cfg(feature = "tungstenite")]
#[cfg_attr(docsrs, doc(cfg(feature = "tungstenite")))]
pub use tokio_tungstenite;

/// The frame limits of the registration that accepted `conn` (the defaults
/// for a connection of another protocol).
#[cfg(any(feature = "tungstenite", feature = "yawc", feature = "messages"))]
pub(crate) fn frame_limits(conn: &crate::Upgraded) -> FrameLimits {
    conn.extensions()
        .get::<FrameLimits>()
        .copied()
        .unwrap_or_default()
}

#[cfg(feature = "yawc")]
#[cfg_attr(docsrs, doc(cfg(feature = "yawc")))]
pub use yawc;
