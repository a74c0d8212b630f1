#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[doc(hidden)]
#[path = "fuzz_bridge.rs"]
pub mod __fuzz;
mod config;
mod config_error;
mod detect;
pub mod endpoint;
#[cfg(feature = "gateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
pub mod forward;
#[cfg(feature = "h2c")]
#[cfg_attr(docsrs, doc(cfg(feature = "h2c")))]
pub mod h2c;
mod handler;
mod handler_failure;
mod head;
mod layer;
mod lifecycle;
mod metrics;
pub mod peer;
mod protocol;
mod registry;
pub mod rejection;
pub mod response;
#[cfg(any(feature = "h2c", feature = "serve"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "h2c", feature = "serve"))))]
pub mod serve;
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

// The names the README's first example writes; everything else is in the
// public modules above, each named for what it holds.
pub use config_error::ConfigError;
pub use handler::UpgradeHandler;
pub use handler_failure::{HandlerPanicked, UpgradeFailure};
pub use layer::UpgradeLayer;
pub use lifecycle::{Connections, ShutdownSignal};
pub use protocol::{Accepted, BeforeSwitch, Offer, Protocol};
pub use registry::Preference;
#[cfg(feature = "serve")]
#[cfg_attr(docsrs, doc(cfg(feature = "serve")))]
pub use serve::serve;
pub use service::Upgrade;
pub use upgraded::{Negotiated, Upgraded};
