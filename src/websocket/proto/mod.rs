//! The WebSocket protocol core (work in progress).

#[cfg(feature = "deflate")]
pub(crate) mod compress;
mod error;
pub(crate) mod frame;
pub(crate) mod mask;

pub use error::ProtocolError;
