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
    #[cfg(feature = "yawc")]
    pub(crate) deflate: Option<crate::websocket::DeflateConfig>,
}

impl Accepted {
    pub(crate) fn new(negotiated: Negotiated) -> Self {
        Self {
            headers: HeaderMap::new(),
            negotiated,
            #[cfg(feature = "websocket")]
            frame_limits: None,
            #[cfg(feature = "yawc")]
            deflate: None,
        }
    }
}

/// What a protocol may look at when deciding, before anything is read,
/// whether it takes a request at all.
#[cfg_attr(not(feature = "h2c"), allow(dead_code))]
pub(crate) struct Offer<'a> {
    /// The token exactly as the client sent it.
    pub(crate) token: &'a str,
    pub(crate) via: Via,
    pub(crate) headers: &'a HeaderMap,
    /// The body's length when it is known up front (`Content-Length`, or no
    /// body at all).
    pub(crate) body_len: Option<u64>,
    /// The layer's bound on the body read before switching.
    pub(crate) max_request_body: usize,
}

/// A protocol the layer can switch to.
pub(crate) trait Protocol: Send + Sync + 'static {
    /// Checks the request that asked for `token` and either accepts it, with
    /// the headers to add to the switch response, or rejects it.
    fn accept(&self, parts: &Parts, via: Via, token: &str) -> Result<Accepted, Rejection>;

    /// Why this protocol does not take the request, if it does not. A
    /// declined offer is not an error: the layer looks for another offered
    /// protocol and otherwise hands the request to the inner service, which
    /// answers it as if no switch had been asked for (RFC 9110 §7.8
    /// lets a server ignore `Upgrade`). Runs before anything is read.
    fn declines(&self, _offer: &Offer<'_>) -> Option<&'static str> {
        None
    }

    /// Whether the handler needs the request body, which is then read in
    /// full before the switch and handed over in [`Upgraded`](crate::Upgraded).
    fn keeps_body(&self) -> bool {
        false
    }
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
