//! What a protocol contributes to the switch: its checks and its headers.

use http::request::Parts;
use http::HeaderMap;

use crate::detect::Via;
use crate::rejection::Rejection;
use crate::upgraded::Negotiated;

/// The outcome of a protocol's checks: the headers of the switch response and
/// what was agreed.
pub(crate) struct Accepted {
    pub(crate) headers: HeaderMap,
    pub(crate) negotiated: Negotiated,
    #[cfg(feature = "websocket")]
    pub(crate) frame_limits: Option<crate::websocket::FrameLimits>,
}

impl Accepted {
    pub(crate) fn new(negotiated: Negotiated) -> Self {
        Self {
            headers: HeaderMap::new(),
            negotiated,
            #[cfg(feature = "websocket")]
            frame_limits: None,
        }
    }
}

/// A protocol the layer can switch to.
pub(crate) trait Protocol: Send + Sync + 'static {
    /// Checks the request that asked for `token` and either accepts it, with
    /// the headers to add to the switch response, or rejects it.
    fn accept(&self, parts: &Parts, via: Via, token: &str) -> Result<Accepted, Rejection>;
}

/// A protocol the user names: the handler gets the raw IO, no checks apply.
pub(crate) struct Custom;

impl Protocol for Custom {
    fn accept(&self, _: &Parts, via: Via, token: &str) -> Result<Accepted, Rejection> {
        Ok(Accepted::new(Negotiated::new(
            token.to_owned(),
            via == Via::Http2Connect,
        )))
    }
}
