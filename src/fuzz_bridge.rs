//! Not public API: the internal items the fuzz properties in
//! `fuzz/properties/` drive, with no semver guarantee, hidden from the docs.
//!
//! The properties and reference implementations live in the fuzz crate;
//! `tests/fuzz_seeds.rs` includes the same files to replay the committed
//! seeds and regressions. Both need parsers that are private to this crate,
//! so this module re-exports them (each under the features it needs), and
//! wraps the few that are fields or crate-private functions of public types.

use std::sync::Arc;

pub use crate::detect::{connect_protocol, detect, offered_protocols, ProtocolToken, Via};
#[cfg(feature = "h2c")]
pub use crate::h2c::{preface::Preface, settings::ClientSettings};
pub use crate::peer::forwarded::{
    forwarded, forwarded_rev, single, x_forwarded_for, x_forwarded_for_rev, x_forwarded_host,
    x_forwarded_proto, Element, Node, MAX_HOPS,
};
use crate::peer::{ClientInfo, TrustedProxies};
pub use crate::registry::{Registration, Registry};
#[cfg(feature = "deflate")]
pub use crate::websocket::deflate::negotiate;
#[cfg(feature = "deflate")]
pub use crate::websocket::extensions::{
    parse_offers, ExtensionOffer, MAX_HEADER_BYTES, MAX_OFFERS, MAX_PARAMS,
};
#[cfg(feature = "deflate")]
pub use crate::websocket::proto::compress::{Deflate, InflateError};
#[cfg(feature = "messages")]
pub use crate::websocket::proto::frame::{
    decode, encode, FrameError, Header, OpCode, Rules, MAX_HEADER_LEN,
};
#[cfg(feature = "messages")]
pub use crate::websocket::proto::mask::apply as mask;
#[cfg(feature = "messages")]
pub use crate::websocket::proto::{
    CloseState, Decoder, Encoder, Event, InvalidCloseCode, Protocol, SendError, COPY_MAX,
};
use crate::{Offer, Preference};

/// A registry of `tokens` (those that parse as `name[/version]`), each a
/// custom protocol with a handler that does nothing and no connection limit.
pub fn registry(tokens: &[&str], preference: Preference) -> Registry {
    let handler = crate::registry::boxed_handler(tower::service_fn(|_: crate::Upgraded| async {
        Ok::<_, std::convert::Infallible>(())
    }));
    let slots = Arc::new(crate::lifecycle::Slots::new(usize::MAX));
    let entries = tokens
        .iter()
        .filter_map(|t| ProtocolToken::parse(t))
        .map(|token| Registration {
            name: token.name.into(),
            version: token.version.map(Into::into),
            protocol: Arc::new(crate::protocol::Custom),
            handler: handler.clone(),
            slots: slots.clone(),
        })
        .collect();
    Registry {
        entries,
        preference,
    }
}

/// [`ClientInfo`] of a request, as the layer resolves it.
pub fn resolve(
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
    trusted: &TrustedProxies,
) -> ClientInfo {
    ClientInfo::resolve(headers, extensions, trusted)
}

/// The offer the layer hands to [`Protocol::accept`](crate::Protocol::accept).
pub fn offer<'a>(
    token: &'a str,
    via: Via,
    headers: &'a http::HeaderMap,
    body_len: Option<u64>,
    max_request_body: usize,
) -> Offer<'a> {
    Offer {
        token,
        via,
        headers,
        body_len,
        max_request_body,
    }
}

/// The origin policy a [`WebSocketConfig`](crate::websocket::WebSocketConfig) holds.
#[cfg(feature = "websocket")]
pub fn origin(config: &crate::websocket::WebSocketConfig) -> &crate::websocket::OriginPolicy {
    &config.origin
}

/// The negotiation limits a [`DeflateConfig`](crate::websocket::DeflateConfig) holds.
#[cfg(feature = "deflate")]
#[derive(Debug)]
pub struct DeflateLimits {
    /// `server_no_context_takeover` is asked of every client.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` is asked of every client.
    pub client_no_context_takeover: bool,
    /// The largest server window, in bits.
    pub server_max_window_bits: u8,
    /// The largest client window, in bits.
    pub client_max_window_bits: u8,
}

/// The limits of `config`.
#[cfg(feature = "deflate")]
pub fn deflate_limits(config: &crate::websocket::DeflateConfig) -> DeflateLimits {
    DeflateLimits {
        server_no_context_takeover: config.server_no_context_takeover,
        client_no_context_takeover: config.client_no_context_takeover,
        server_max_window_bits: config.server_max_window_bits,
        client_max_window_bits: config.client_max_window_bits,
    }
}
