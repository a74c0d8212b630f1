//! permessage-deflate (RFC 7692): the server's half of the negotiation, and
//! what it settled.
//!
//! The server takes the first offer it can honour (§5.1), declines the others
//! without failing the handshake (§5.1: a declined extension is simply not in
//! the response), and answers only with parameters §7.1 allows it to send.

use std::fmt;

use super::extensions::ExtensionOffer;
use crate::config_error::ConfigError;
use crate::Upgraded;

/// The extension's name in `Sec-WebSocket-Extensions` (RFC 7692 §7).
pub(crate) const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The window sizes (in bits) deflate can compress with. RFC 7692 §7.1.2
/// allows 8, but zlib cannot make a raw deflate stream with a 256-byte
/// window, so an offer that asks the server for 8 is declined (§7.1.2.1 lets
/// the server decline a window it does not support).
const COMPRESS_WINDOW_BITS: std::ops::RangeInclusive<u8> = 9..=15;
/// The window sizes RFC 7692 §7.1.2 allows in a parameter value.
const RFC_WINDOW_BITS: std::ops::RangeInclusive<u8> = 8..=15;

/// The server's permessage-deflate settings (RFC 7692), given to
/// [`WebSocketConfig::permessage_deflate`](super::WebSocketConfig::permessage_deflate).
///
/// The defaults accept what clients commonly offer (browsers send
/// `permessage-deflate; client_max_window_bits`) and keep no context between
/// messages in either direction (`server_no_context_takeover;
/// client_no_context_takeover` in the answer): each message is compressed
/// and inflated on its own with a state borrowed from a pool shared by the
/// registration, so an idle connection keeps no deflate state at all. Context
/// takeover compresses similar messages better and costs a few hundred KiB
/// per connection: see the figures below.
///
/// # Memory
///
/// Resident memory per idle connection of the crate's own
/// [`WebSocket`](super::WebSocket), measured by
/// `IDLE_CONNECTIONS=2000 cargo bench --bench idle_memory`: 2,000
/// connections offering what Chromium offers, each after one compressed
/// 1 KiB text message echoed (level 1, zlib-rs); the whole server process
/// is counted (HTTP connection, task, socket state).
///
/// | settings | per connection |
/// |---|---|
/// | no compression | 4.6 KiB |
/// | `DeflateConfig::new()`: no context takeover either way (the default) | 4.0 KiB |
/// | context takeover for the client's messages only (`client_no_context_takeover(false)`) | 23 KiB |
/// | context takeover for the server's messages only (`server_no_context_takeover(false)`) | 316 KiB |
/// | context takeover both ways | 335 KiB |
/// | context takeover both ways, 10-bit windows | 211 KiB |
///
/// With the server's context kept, each connection keeps its compressor:
/// about 310 KiB at 15-bit windows, most of it hash tables whose size does
/// not depend on the window; the client's context keeps a decompressor
/// (about 20 KiB). At 10,000 connections the default costs 3.8 KiB per
/// connection (`cargo bench --bench idle_memory`), less than
/// fastwebsockets without compression (7.8 KiB). The price of no context
/// takeover is a lower ratio on similar messages (JSON: 0.24 of the payload
/// on the wire instead of 0.21 in `cargo bench --bench deflate`).
///
/// ```
/// use tower_upgrade::websocket::{DeflateConfig, WebSocketConfig};
///
/// // Few connections sending similar messages: keep the context both
/// // ways for a better ratio, and leave short messages uncompressed.
/// let dense = DeflateConfig::new()
///     .server_no_context_takeover(false)
///     .client_no_context_takeover(false)
///     .compression_threshold(64);
/// let ws = WebSocketConfig::new().permessage_deflate(dense);
/// # let _ = ws;
/// ```
#[must_use]
#[derive(Clone, Debug)]
pub struct DeflateConfig {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: u8,
    pub(crate) client_max_window_bits: u8,
    pub(crate) level: u32,
    pub(crate) threshold: usize,
    /// States borrowed by the message layer's connections, per message.
    #[cfg(feature = "deflate")]
    pub(crate) codecs: std::sync::Arc<super::proto::pool::Pool>,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            threshold: 0,
            // Idle compressors and decompressors kept for reuse between
            // messages, per window size: about the messages compressed at the
            // same moment, not the number of connections.
            #[cfg(feature = "deflate")]
            codecs: Default::default(),
        }
    }
}

impl DeflateConfig {
    /// No context takeover either way (each message is compressed and
    /// inflated on its own, with states borrowed from a pool, so an idle
    /// connection keeps none), 15-bit windows, compression level 1, every
    /// message compressed.
    pub fn new() -> Self {
        Self::default()
    }

    /// When `true` (the default), the server resets its compressor after
    /// every message and says so with `server_no_context_takeover` (RFC 7692
    /// §7.1.1.1), even to a client that did not ask. Saves the compressor's
    /// memory between messages; `false` keeps it per connection, for a better
    /// ratio on similar messages.
    pub fn server_no_context_takeover(mut self, enabled: bool) -> Self {
        self.server_no_context_takeover = enabled;
        self
    }

    /// When `true` (the default), the server asks every client to reset its
    /// compressor after each message with `client_no_context_takeover` (RFC
    /// 7692 §7.1.1.2; a client must accept it). Saves the decompressor's
    /// memory between messages; `false` keeps it per connection.
    pub fn client_no_context_takeover(mut self, enabled: bool) -> Self {
        self.client_no_context_takeover = enabled;
        self
    }

    /// The largest LZ77 window the server compresses with, 9 to 15 bits (15
    /// by default). Below 15 it is sent as `server_max_window_bits`
    /// (RFC 7692 §7.1.2.1). A client that asks for a smaller window gets it.
    ///
    /// ```
    /// use tower_upgrade::websocket::DeflateConfig;
    ///
    /// assert!(DeflateConfig::new().server_max_window_bits(10).is_ok());
    /// assert!(DeflateConfig::new().server_max_window_bits(8).is_err());
    /// ```
    pub fn server_max_window_bits(mut self, bits: u8) -> Result<Self, ConfigError> {
        if !COMPRESS_WINDOW_BITS.contains(&bits) {
            return Err(ConfigError::new(format!(
                "server_max_window_bits must be 9 to 15 (zlib cannot compress with an 8-bit window), not {bits}"
            )));
        }
        self.server_max_window_bits = bits;
        Ok(self)
    }

    /// The largest LZ77 window the server asks clients to compress with, 8 to
    /// 15 bits (15 by default). Sent as `client_max_window_bits` only to a
    /// client that offered the parameter (RFC 7692 §7.1.2.2); others use up to
    /// 15 bits.
    pub fn client_max_window_bits(mut self, bits: u8) -> Result<Self, ConfigError> {
        if !RFC_WINDOW_BITS.contains(&bits) {
            return Err(ConfigError::new(format!(
                "client_max_window_bits must be 8 to 15, not {bits}"
            )));
        }
        self.client_max_window_bits = bits;
        Ok(self)
    }

    /// The deflate level, 0 (store) to 9 (smallest). 1 by default: the
    /// fastest, which for JSON-like text costs a few percent of ratio against
    /// level 6 at a fraction of the CPU.
    pub fn compression_level(mut self, level: u32) -> Result<Self, ConfigError> {
        if level > 9 {
            return Err(ConfigError::new(format!(
                "the compression level must be 0 to 9, not {level}"
            )));
        }
        self.level = level;
        Ok(self)
    }

    /// Messages shorter than `bytes` are sent uncompressed (RFC 7692 §6.1
    /// lets each message choose). 0 by default: every message is compressed,
    /// except empty ones.
    pub fn compression_threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }
}

/// The permessage-deflate parameters the handshake agreed on (RFC 7692 §7),
/// as sent in the response's `Sec-WebSocket-Extensions`.
///
/// Its [`Display`](fmt::Display) is that header value.
///
/// ```
/// use tower_upgrade::Upgraded;
///
/// fn describe(conn: &Upgraded) -> String {
///     match conn.permessage_deflate() {
///         Some(deflate) => format!(
///             "compressed ({deflate}); server window {} bits",
///             deflate.server_window_bits()
///         ),
///         None => "not compressed".to_owned(),
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermessageDeflate {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: Option<u8>,
}

impl PermessageDeflate {
    /// The server resets its compressor after every message.
    pub fn server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }

    /// The client resets its compressor after every message.
    pub fn client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }

    /// `server_max_window_bits` as sent in the response, if it was.
    pub fn server_max_window_bits(&self) -> Option<u8> {
        self.server_max_window_bits
    }

    /// `client_max_window_bits` as sent in the response, if it was.
    pub fn client_max_window_bits(&self) -> Option<u8> {
        self.client_max_window_bits
    }

    /// The window the server compresses with: 15 unless limited.
    pub fn server_window_bits(&self) -> u8 {
        self.server_max_window_bits.unwrap_or(15)
    }

    /// The largest window the client may compress with: 15 unless limited.
    pub fn client_window_bits(&self) -> u8 {
        self.client_max_window_bits.unwrap_or(15)
    }
}

impl fmt::Display for PermessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PERMESSAGE_DEFLATE)?;
        if self.server_no_context_takeover {
            f.write_str("; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            f.write_str("; client_no_context_takeover")?;
        }
        if let Some(bits) = self.server_max_window_bits {
            write!(f, "; server_max_window_bits={bits}")?;
        }
        if let Some(bits) = self.client_max_window_bits {
            write!(f, "; client_max_window_bits={bits}")?;
        }
        Ok(())
    }
}

impl Upgraded {
    /// The permessage-deflate parameters agreed in the handshake (RFC 7692),
    /// if the registration turned it on with
    /// [`WebSocketConfig::permessage_deflate`](super::WebSocketConfig::permessage_deflate)
    /// and the client offered something acceptable. The same value is in
    /// [`extensions`](Upgraded::extensions).
    pub fn permessage_deflate(&self) -> Option<&PermessageDeflate> {
        self.extensions().get()
    }
}

/// RFC 7692 §5.1: the first permessage-deflate offer the server can accept,
/// in the client's order; `None` when it declines them all.
pub fn negotiate(config: &DeflateConfig, offers: &[ExtensionOffer]) -> Option<PermessageDeflate> {
    offers
        .iter()
        .filter(|offer| offer.name().eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| accept(config, offer))
}

/// The parameters of one offer, each seen at most once (§7: a duplicate
/// parameter declines the offer).
#[derive(Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value (§7.1.2.2).
    client_max_window_bits: Option<Option<u8>>,
}

fn parse(offer: &ExtensionOffer) -> Option<Offer> {
    let mut parsed = Offer::default();
    let mut seen = [false; 4];
    for (name, value) in offer.params() {
        let (slot, value) = (name.to_ascii_lowercase(), value.as_deref());
        let index = match slot.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            // §7: an unknown parameter declines the offer.
            _ => return None,
        };
        if std::mem::replace(&mut seen[index], true) {
            return None;
        }
        match (index, value) {
            // §7.1.1: the context takeover parameters have no value.
            (0, None) => parsed.server_no_context_takeover = true,
            (1, None) => parsed.client_no_context_takeover = true,
            // §7.1.2.1: server_max_window_bits needs a value.
            (2, Some(value)) => parsed.server_max_window_bits = Some(window_bits(value)?),
            // §7.1.2.2: client_max_window_bits may come without one.
            (3, None) => parsed.client_max_window_bits = Some(None),
            (3, Some(value)) => parsed.client_max_window_bits = Some(Some(window_bits(value)?)),
            _ => return None,
        }
    }
    Some(parsed)
}

/// §7.1.2: a decimal integer from 8 to 15 without leading zeroes.
fn window_bits(value: &str) -> Option<u8> {
    let valid =
        !value.is_empty() && !value.starts_with('0') && value.bytes().all(|b| b.is_ascii_digit());
    valid
        .then(|| value.parse().ok())
        .flatten()
        .filter(|bits| RFC_WINDOW_BITS.contains(bits))
}

fn accept(config: &DeflateConfig, offer: &ExtensionOffer) -> Option<PermessageDeflate> {
    let offer = parse(offer)?;

    // §7.1.2.1: the server may compress with at most what the client asked
    // for; one it cannot compress with declines the offer. Without the
    // parameter the server may still limit its own window.
    let server_bits = match offer.server_max_window_bits {
        Some(asked) if !COMPRESS_WINDOW_BITS.contains(&asked) => return None,
        Some(asked) => Some(asked.min(config.server_max_window_bits)),
        None => (config.server_max_window_bits < 15).then_some(config.server_max_window_bits),
    };

    // §7.1.2.2: client_max_window_bits goes in the response only when the
    // client offered it, and never above the value it offered.
    let client_bits = match offer.client_max_window_bits {
        None => None,
        Some(None) => (config.client_max_window_bits < 15).then_some(config.client_max_window_bits),
        Some(Some(offered)) => {
            let bits = offered.min(config.client_max_window_bits);
            (bits < 15 || offered < 15).then_some(bits)
        }
    };

    Some(PermessageDeflate {
        // §7.1.1.1: asked for, or the server's own choice.
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover,
        // §7.1.1.2: the client's hint, or the server's request.
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn offers(header: &str) -> Vec<ExtensionOffer> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "sec-websocket-extensions",
            HeaderValue::from_str(header).unwrap(),
        );
        super::super::extensions::parse_offers(&headers)
    }

    fn answer(config: &DeflateConfig, header: &str) -> Option<String> {
        negotiate(config, &offers(header)).map(|agreed| agreed.to_string())
    }

    /// Context takeover both ways: the answer echoes only what the offer
    /// asked for.
    fn takeover() -> DeflateConfig {
        DeflateConfig::new()
            .server_no_context_takeover(false)
            .client_no_context_takeover(false)
    }

    #[test]
    fn defaults_keep_no_context_between_messages() {
        // What Chromium and Firefox send: the answer makes both sides start
        // every message afresh, so an idle connection keeps no deflate state.
        assert_eq!(
            answer(
                &DeflateConfig::new(),
                "permessage-deflate; client_max_window_bits"
            )
            .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        );
    }

    #[test]
    fn rfc7692_offers_table() {
        let default = takeover();
        let cases: &[(&str, Option<&str>)] = &[
            ("permessage-deflate", Some("permessage-deflate")),
            // What Chromium and Firefox send.
            ("permessage-deflate; client_max_window_bits", Some("permessage-deflate")),
            ("permessage-deflate; client_max_window_bits=10", Some("permessage-deflate; client_max_window_bits=10")),
            ("permessage-deflate; client_max_window_bits=8", Some("permessage-deflate; client_max_window_bits=8")),
            ("permessage-deflate; client_max_window_bits=\"12\"", Some("permessage-deflate; client_max_window_bits=12")),
            ("permessage-deflate; server_max_window_bits=10", Some("permessage-deflate; server_max_window_bits=10")),
            ("permessage-deflate; server_max_window_bits=15", Some("permessage-deflate; server_max_window_bits=15")),
            ("permessage-deflate; server_no_context_takeover", Some("permessage-deflate; server_no_context_takeover")),
            ("permessage-deflate; client_no_context_takeover", Some("permessage-deflate; client_no_context_takeover")),
            (
                "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9"),
            ),
            ("PerMessage-Deflate; Server_No_Context_Takeover", Some("permessage-deflate; server_no_context_takeover")),
            // Declined: zlib cannot compress with an 8-bit window.
            ("permessage-deflate; server_max_window_bits=8", None),
            // Declined: invalid values.
            ("permessage-deflate; server_max_window_bits", None),
            ("permessage-deflate; server_max_window_bits=16", None),
            ("permessage-deflate; server_max_window_bits=7", None),
            ("permessage-deflate; server_max_window_bits=010", None),
            ("permessage-deflate; server_max_window_bits=+9", None),
            ("permessage-deflate; client_max_window_bits=16", None),
            ("permessage-deflate; client_max_window_bits=abc", None),
            ("permessage-deflate; server_no_context_takeover=1", None),
            ("permessage-deflate; client_no_context_takeover=true", None),
            // Declined: duplicate and unknown parameters.
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
            ("permessage-deflate; client_max_window_bits; client_max_window_bits=10", None),
            ("permessage-deflate; x_extra", None),
            // Not permessage-deflate at all.
            ("x-webkit-deflate-frame", None),
            ("", None),
        ];
        for (offer, expected) in cases {
            assert_eq!(
                answer(&default, offer).as_deref(),
                *expected,
                "offer {offer:?}"
            );
        }
    }

    #[test]
    fn first_acceptable_offer_wins() {
        let config = takeover();
        // The first is declined (8 bits), the second accepted, the third ignored.
        let header = "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=12, permessage-deflate";
        assert_eq!(
            answer(&config, header).as_deref(),
            Some("permessage-deflate; server_max_window_bits=12")
        );
        let header =
            "x-foo, permessage-deflate; bogus, permessage-deflate; client_no_context_takeover";
        assert_eq!(
            answer(&config, header).as_deref(),
            Some("permessage-deflate; client_no_context_takeover")
        );
    }

    #[test]
    fn server_settings_shape_the_answer() {
        let config = DeflateConfig::new()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(11)
            .unwrap()
            .client_max_window_bits(10)
            .unwrap();
        // The server limits its own window and imposes no context takeover;
        // client_max_window_bits only goes to a client that offered it.
        assert_eq!(
            answer(&config, "permessage-deflate").as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11")
        );
        assert_eq!(
            answer(&config, "permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10")
        );
        // Never above what the client asked for.
        assert_eq!(
            answer(&config, "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9").as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9")
        );
    }

    #[test]
    fn config_rejects_out_of_range_values() {
        assert!(DeflateConfig::new().server_max_window_bits(16).is_err());
        assert!(DeflateConfig::new().client_max_window_bits(7).is_err());
        assert!(DeflateConfig::new().client_max_window_bits(8).is_ok());
        assert!(DeflateConfig::new().compression_level(10).is_err());
    }
}
