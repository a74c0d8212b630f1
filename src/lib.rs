#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[doc(hidden)]
#[path = "fuzz_bridge.rs"]
pub mod __fuzz;
mod body;
mod client;
mod detect;
mod endpoint;
mod error;
mod failure;
mod future;
#[cfg(feature = "h2c")]
#[cfg_attr(docsrs, doc(cfg(feature = "h2c")))]
pub mod h2c;
mod handler;
mod head;
#[cfg(any(feature = "h2c", feature = "serve"))]
mod http2_idle;
mod layer;
mod lifecycle;
mod metrics;
mod protocol;
mod registry;
mod rejection;
#[cfg(any(feature = "h2c", feature = "serve"))]
mod request_body;
#[cfg(feature = "serve")]
mod serve;
mod service;
mod switch;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;
mod upgraded;
mod upgraded_idle;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod websocket;

// The WebSocket rejections also at the root, where they were before they
// moved to `websocket`.
pub use body::ResponseBody;
pub use client::{ClientInfo, PeerAddr, TrustedProxies};
pub use endpoint::{NotAnUpgrade, UpgradeEndpoint};
pub use error::ConfigError;
pub use failure::{HandlerPanicked, UpgradeFailure};
pub use future::ResponseFuture;
pub use handler::UpgradeHandler;
pub use head::DEFAULT_MAX_KEPT_HEAD;
pub use layer::{
    UpgradeLayer, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HANDSHAKES_IN_PROGRESS,
    DEFAULT_MAX_REQUEST_BODY,
};
pub use lifecycle::{Connections, ShutdownSignal};
pub use protocol::{Accepted, Offer, Protocol};
pub use registry::Preference;
pub use rejection::{
    BodyTooLarge, ConnectionNotUpgradable, CustomRejection, HandshakeRateLimited, InvalidBody,
    PlainTextRejection, Rejection, RenderRejection, TooManyConnections,
    TooManyConnectionsPerClient, TooManyHandshakes, TooManyHandshakesPerClient, UpgradeRequired,
};
#[cfg(any(feature = "h2c", feature = "serve"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "h2c", feature = "serve"))))]
pub use request_body::RequestBody;
#[cfg(feature = "serve")]
#[cfg_attr(docsrs, doc(cfg(feature = "serve")))]
pub use serve::{
    serve, Serve, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP2_IDLE_TIMEOUT,
    DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL, DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT,
};
pub use service::Upgrade;
pub use upgraded::{Negotiated, Upgraded};
#[cfg(feature = "websocket")]
#[doc(no_inline)]
pub use websocket::{
    ForbiddenOrigin, InvalidWebSocketKey, MethodNotAllowed, MissingHost, MissingWebSocketVersion,
    NoSupportedSubprotocol, UnsupportedWebSocketVersion,
};
