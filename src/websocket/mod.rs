//! The WebSocket protocol: the server handshake of RFC 6455 §4.2 over
//! HTTP/1.1, and of RFC 8441 over HTTP/2.
//!
//! Register it with [`UpgradeLayer::websocket`](crate::UpgradeLayer::websocket).
//! The handler receives the raw byte stream; with the `messages` feature (on
//! by default), `Upgraded::into_websocket` turns it into the crate's own
//! `WebSocket`: messages, keepalive, bounded buffers, Close 1001 on
//! shutdown, and permessage-deflate (RFC 7692, feature `deflate`) when
//! `WebSocketConfig::permessage_deflate` is set. `Upgraded::into_tungstenite`
//! (feature `tungstenite`) is the compatibility backend.
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
#[cfg(feature = "deflate")]
pub(crate) mod deflate;
#[cfg(feature = "deflate")]
pub(crate) mod extensions;
mod handshake;
#[cfg(feature = "messages")]
pub(crate) mod messages;
mod origin;
#[cfg(feature = "messages")]
pub(crate) mod proto;
mod register;
mod rejection;
mod subprotocol;
#[cfg(feature = "messages")]
pub(crate) mod topics;
#[cfg(feature = "tungstenite")]
mod tungstenite;

pub use config::{FrameLimits, WebSocketConfig};
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub use deflate::{DeflateConfig, PermessageDeflate};
pub use handshake::accept_key;
pub use origin::{AllowList, OriginPolicy};
#[cfg(feature = "messages")]
#[cfg_attr(docsrs, doc(cfg(feature = "messages")))]
pub use proto::ProtocolError;
pub use rejection::WebSocketRejection;

#[cfg(feature = "messages")]
#[cfg_attr(docsrs, doc(cfg(feature = "messages")))]
pub use messages::{
    CloseCode, CloseFrame, Error, Message, Receiver, Sender, TrySendError, Utf8Bytes, WebSocket,
};
#[cfg(feature = "messages")]
#[cfg_attr(docsrs, doc(cfg(feature = "messages")))]
pub use topics::{
    Backplane, BackplaneInbox, PublishError, Published, SlowConsumer, Topics, TopicsBuilder,
};

#[cfg(feature = "tungstenite")]
#[cfg_attr(docsrs, doc(cfg(feature = "tungstenite")))]
pub use tokio_tungstenite;
