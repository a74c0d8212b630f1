//! Target `extensions`: the `Sec-WebSocket-Extensions` parser (RFC 6455
//! §9.1) against a reference grammar, and permessage-deflate negotiation
//! (RFC 7692) with the rules of §7.1 as a property.
//!
//! Input: `@deflate [snct] [cnct] [smwb=N] [cmwb=N] [level=N] [threshold=N]`
//! lines configure the server; every other line is one header line.

use http::{HeaderMap, HeaderValue};
use tower_upgrade::__fuzz::{
    deflate_limits, negotiate, parse_offers, ExtensionOffer, MAX_HEADER_BYTES, MAX_OFFERS,
    MAX_PARAMS,
};
use tower_upgrade::websocket::DeflateConfig;

use super::input::{lines, reference_token, strip, words};

/// Parses and negotiates one input, checking both.
pub fn extensions(data: &[u8]) {
    let mut config = DeflateConfig::new();
    let mut headers = HeaderMap::new();
    let mut expected = Vec::new();
    for line in lines(data) {
        if let Some(rest) = strip(line, "@deflate") {
            config = deflate_config(rest);
            continue;
        }
        let Ok(value) = HeaderValue::from_bytes(line) else {
            continue;
        };
        let mut one = HeaderMap::new();
        one.insert("sec-websocket-extensions", value.clone());
        let parsed = parse_offers(&one);
        match reference_line(value.as_bytes()) {
            // Past the byte bound nothing is read (issue 9, defect 12).
            _ if value.len() > MAX_HEADER_BYTES => assert!(parsed.is_empty(), "line {value:?}"),
            // A line the grammar accepts is read exactly as the grammar reads
            // it, up to the bounds on offers and parameters.
            Some(reference) => assert_eq!(plain(&parsed), bounded(reference), "line {value:?}"),
            // Otherwise only the well-formed elements survive.
            None => {
                for offer in &parsed {
                    assert!(reference_token(offer.name().as_bytes()), "{offer:?}");
                    for (k, v) in offer.params() {
                        assert!(reference_token(k.as_bytes()), "{offer:?}");
                        assert!(v.as_ref().is_none_or(|v| reference_token(v.as_bytes())));
                    }
                }
                let elements = value.as_bytes().iter().filter(|&&b| b == b',').count() + 1;
                assert!(parsed.len() <= elements);
            }
        }
        expected.extend(parsed);
        headers.append("sec-websocket-extensions", value);
    }
    // Lines are read one after the other, in order, up to the bounds.
    let offers = parse_offers(&headers);
    let total: usize = headers
        .get_all("sec-websocket-extensions")
        .iter()
        .map(|v| v.len())
        .sum();
    expected.truncate(if total > MAX_HEADER_BYTES {
        0
    } else {
        MAX_OFFERS
    });
    assert_eq!(offers, expected);

    let agreed = negotiate(&config, &offers);
    match agreed {
        None => assert!(
            reference_negotiate(&config, &offers).is_none(),
            "declined an acceptable offer"
        ),
        Some(agreed) => {
            let answer = agreed.to_string();
            check_answer(&config, &offers, answer.as_bytes());
            let params = reference_params(&reparse(answer.as_bytes())[0]).expect("answer parses");
            assert_eq!(params.snct, agreed.server_no_context_takeover());
            assert_eq!(params.cnct, agreed.client_no_context_takeover());
            assert_eq!(params.smwb, agreed.server_max_window_bits());
            assert_eq!(params.cmwb.flatten(), agreed.client_max_window_bits());
        }
    }
}

/// A [`DeflateConfig`] from the words of a `@deflate` line; values the
/// builder refuses are left at their defaults.
pub(super) fn deflate_config(rest: &[u8]) -> DeflateConfig {
    // Context takeover unless the line says otherwise (the defaults keep
    // none), so that `snct` and `cnct` switch something.
    let mut config = DeflateConfig::new()
        .server_no_context_takeover(false)
        .client_no_context_takeover(false);
    for word in words(rest) {
        let number = |prefix: &str| {
            word.strip_prefix(prefix)
                .and_then(|n| n.parse::<u32>().ok())
        };
        config = match word {
            "snct" => config.server_no_context_takeover(true),
            "cnct" => config.client_no_context_takeover(true),
            _ => {
                if let Some(n) = number("smwb=") {
                    let bits = u8::try_from(n).unwrap_or(u8::MAX);
                    config
                        .clone()
                        .server_max_window_bits(bits)
                        .unwrap_or(config)
                } else if let Some(n) = number("cmwb=") {
                    let bits = u8::try_from(n).unwrap_or(u8::MAX);
                    config
                        .clone()
                        .client_max_window_bits(bits)
                        .unwrap_or(config)
                } else if let Some(n) = number("level=") {
                    config.clone().compression_level(n).unwrap_or(config)
                } else if let Some(n) = number("threshold=") {
                    config.compression_threshold(n as usize)
                } else {
                    config
                }
            }
        };
    }
    config
}

type Element = (String, Vec<(String, Option<String>)>);
type Plain = Vec<Element>;

/// What the parser keeps of a grammatical line: offers with at most
/// `MAX_PARAMS` parameters, the first `MAX_OFFERS` of them.
fn bounded(reference: Plain) -> Plain {
    reference
        .into_iter()
        .filter(|(_, params)| params.len() <= MAX_PARAMS)
        .take(MAX_OFFERS)
        .collect()
}

fn plain(offers: &[ExtensionOffer]) -> Plain {
    offers
        .iter()
        .map(|o| (o.name().to_owned(), o.params().to_vec()))
        .collect()
}

/// RFC 6455 §9.1 with RFC 9110 §5.6 (lists, OWS, quoted-string):
///
/// ```text
/// line      = OWS [ extension ] *( OWS "," OWS [ extension ] ) OWS
/// extension = token *( OWS ";" OWS param )
/// param     = token [ OWS "=" OWS ( token / quoted-string ) ]
/// ```
///
/// A quoted value must unquote to a token (§9.1). `None` when the line does
/// not match.
fn reference_line(line: &[u8]) -> Option<Plain> {
    let mut p = Parser { s: line, i: 0 };
    let mut out = Vec::new();
    loop {
        p.ows();
        if p.peek().is_some_and(is_tchar) {
            out.push(p.extension()?);
            p.ows();
        }
        match p.peek() {
            None => return Some(out),
            Some(b',') => p.i += 1,
            Some(_) => return None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    reference_token(&[b])
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8(self.s[start..self.i].to_vec()).unwrap())
    }

    fn quoted(&mut self) -> Option<String> {
        self.i += 1; // DQUOTE
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    let out = String::from_utf8(out).ok()?;
                    return reference_token(out.as_bytes()).then_some(out);
                }
                b'\\' => {
                    let escaped = *self.s.get(self.i + 1)?;
                    if !(escaped == b'\t' || (b' '..=b'~').contains(&escaped) || escaped >= 0x80) {
                        return None;
                    }
                    out.push(escaped);
                    self.i += 2;
                }
                b => {
                    if !(b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80) {
                        return None;
                    }
                    out.push(b);
                    self.i += 1;
                }
            }
        }
    }

    fn extension(&mut self) -> Option<Element> {
        let name = self.token()?;
        let mut params = Vec::new();
        loop {
            let save = self.i;
            self.ows();
            if self.peek() != Some(b';') {
                self.i = save;
                return Some((name, params));
            }
            self.i += 1;
            self.ows();
            let key = self.token()?;
            let save = self.i;
            self.ows();
            let value = if self.peek() == Some(b'=') {
                self.i += 1;
                self.ows();
                Some(match self.peek()? {
                    b'"' => self.quoted()?,
                    _ => self.token()?,
                })
            } else {
                self.i = save;
                None
            };
            params.push((key, value));
        }
    }
}

/// The permessage-deflate parameters of one offer or answer.
#[derive(Debug, Default)]
pub(super) struct Params {
    snct: bool,
    cnct: bool,
    smwb: Option<u8>,
    /// `Some(None)`: present without a value.
    cmwb: Option<Option<u8>>,
}

/// RFC 7692 §7.1.2: "8" to "15", decimal, no leading zero.
fn reference_bits(value: &str) -> Option<u8> {
    const BITS: [&str; 8] = ["8", "9", "10", "11", "12", "13", "14", "15"];
    BITS.iter().position(|b| *b == value).map(|i| i as u8 + 8)
}

/// §7: each parameter known, at most once, with a valid value; `None`
/// otherwise (the offer is declined, or the answer is invalid).
pub(super) fn reference_params(offer: &ExtensionOffer) -> Option<Params> {
    let mut p = Params::default();
    let mut seen = Vec::new();
    for (name, value) in offer.params() {
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return None;
        }
        match (name.as_str(), value.as_deref()) {
            ("server_no_context_takeover", None) => p.snct = true,
            ("client_no_context_takeover", None) => p.cnct = true,
            ("server_max_window_bits", Some(v)) => p.smwb = Some(reference_bits(v)?),
            ("client_max_window_bits", None) => p.cmwb = Some(None),
            ("client_max_window_bits", Some(v)) => p.cmwb = Some(Some(reference_bits(v)?)),
            _ => return None,
        }
        seen.push(name);
    }
    Some(p)
}

/// The first permessage-deflate offer this server can accept: valid, and
/// not asking it to compress with an 8-bit window (zlib has none).
pub(super) fn reference_negotiate<'a>(
    _config: &DeflateConfig,
    offers: &'a [ExtensionOffer],
) -> Option<(&'a ExtensionOffer, Params)> {
    offers
        .iter()
        .filter(|o| o.name().eq_ignore_ascii_case("permessage-deflate"))
        .find_map(|o| {
            reference_params(o)
                .filter(|p| p.smwb != Some(8))
                .map(|p| (o, p))
        })
}

fn reparse(answer: &[u8]) -> Vec<ExtensionOffer> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "sec-websocket-extensions",
        HeaderValue::from_bytes(answer).expect("the answer is a header value"),
    );
    parse_offers(&headers)
}

/// The answer re-parses to one valid permessage-deflate element that
/// satisfies RFC 7692 §7.1 for the offer it accepts, and the server's
/// settings.
pub(super) fn check_answer(config: &DeflateConfig, offers: &[ExtensionOffer], answer: &[u8]) {
    let limits = deflate_limits(config);
    let reparsed = reparse(answer);
    let show = String::from_utf8_lossy(answer);
    assert_eq!(reparsed.len(), 1, "{show}");
    assert_eq!(reparsed[0].name(), "permessage-deflate", "{show}");
    let a = reference_params(&reparsed[0]).unwrap_or_else(|| panic!("invalid answer {show}"));
    let (_, o) = reference_negotiate(config, offers)
        .unwrap_or_else(|| panic!("{show} answers no acceptable offer"));

    // §7.1.1.1: a server that accepts server_no_context_takeover says so.
    assert!(a.snct || !o.snct, "{show}: snct dropped");
    assert!(a.snct || !limits.server_no_context_takeover, "{show}");
    assert!(a.cnct || !limits.client_no_context_takeover, "{show}");
    // §7.1.2.1: server_max_window_bits answered, at most what was offered.
    if let Some(offered) = o.smwb {
        assert!(a.smwb.is_some_and(|bits| bits <= offered), "{show}: smwb");
    }
    if limits.server_max_window_bits < 15 {
        assert!(
            a.smwb
                .is_some_and(|bits| bits <= limits.server_max_window_bits),
            "{show}"
        );
    }
    assert!(
        a.smwb.is_none_or(|bits| bits >= 9),
        "{show}: zlib has no 8-bit window"
    );
    // §7.1.2.2: client_max_window_bits only to a client that offered it, at
    // most the value it offered.
    match o.cmwb {
        None => assert!(a.cmwb.is_none(), "{show}: cmwb not offered"),
        Some(offered) => {
            assert_ne!(a.cmwb, Some(None), "{show}: cmwb without a value");
            if let Some(Some(bits)) = a.cmwb {
                assert!(offered.is_none_or(|o| bits <= o), "{show}");
                assert!(bits <= limits.client_max_window_bits, "{show}");
            }
            if limits.client_max_window_bits < 15 {
                assert!(
                    a.cmwb.is_some(),
                    "{show}: the server's client limit is lost"
                );
            }
        }
    }
}
