//! `Sec-WebSocket-Extensions` offers (RFC 6455 §9.1).
//!
//! ```text
//! Sec-WebSocket-Extensions = extension-list
//! extension-list = 1#extension
//! extension = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! A malformed element is dropped rather than failing the handshake: an
//! extension the server cannot read is an extension it does not accept.

use http::header::SEC_WEBSOCKET_EXTENSIONS;
use http::HeaderMap;

use crate::detect::is_token;

/// One extension the client offered, with its parameters in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    name: String,
    params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// The extension's name, as sent.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parameters, as `(name, value)`; a quoted value is unquoted.
    pub fn params(&self) -> &[(String, Option<String>)] {
        &self.params
    }

    /// The value of the parameter `name`: `Some(None)` when it is present
    /// without a value.
    #[cfg(test)]
    pub(crate) fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }
}

/// The most bytes of `Sec-WebSocket-Extensions`, all lines together, that
/// are read. Browsers send under 100. The handshake refuses a longer header
/// with `431` before it gets here (`WebSocketRejection::ExtensionsTooLarge`);
/// this parser, which the fuzzers also drive alone, reads none of one.
pub const MAX_HEADER_BYTES: usize = crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES;
/// The most offers read, in the client's order; later ones are declined.
pub const MAX_OFFERS: usize = 8;
/// The most parameters one offer may have; an offer with more is declined.
/// permessage-deflate defines four (RFC 7692 §7).
pub const MAX_PARAMS: usize = 8;

/// The well-formed offers in `Sec-WebSocket-Extensions`, across all lines,
/// in the client's order: at most [`MAX_OFFERS`] of them, none with more
/// than [`MAX_PARAMS`] parameters, and none at all when the header is longer
/// than [`MAX_HEADER_BYTES`]. What a client sends here therefore costs a
/// bounded amount of work and memory, and nothing is kept past the
/// handshake: the caller keeps only what it agreed to.
pub fn parse_offers(headers: &HeaderMap) -> Vec<ExtensionOffer> {
    let lines = headers.get_all(SEC_WEBSOCKET_EXTENSIONS);
    let mut total = 0usize;
    for line in &lines {
        total = total.saturating_add(line.len());
        if total > MAX_HEADER_BYTES {
            return Vec::new();
        }
    }
    lines
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_outside_quotes::<','>)
        .filter_map(parse_extension)
        .take(MAX_OFFERS)
        .collect()
}

fn parse_extension(element: &str) -> Option<ExtensionOffer> {
    let mut pieces = split_outside_quotes::<';'>(element);
    let name = pieces.next()?.trim();
    if element.trim_start().starts_with(';') {
        return None;
    }
    if !is_token(name) {
        return None;
    }
    let mut params = Vec::new();
    for piece in pieces {
        let piece = piece.trim();
        let (key, value) = match piece.split_once('=') {
            Some((key, value)) => (key.trim(), Some(parse_value(value.trim())?)),
            None => (piece, None),
        };
        if !is_token(key) || params.len() == MAX_PARAMS {
            return None;
        }
        params.push((key.to_owned(), value));
    }
    Some(ExtensionOffer {
        name: name.to_owned(),
        params,
    })
}

/// A `token` or a `quoted-string` whose unquoted content is a token
/// (RFC 6455 §9.1 asks that of quoted values).
fn parse_value(value: &str) -> Option<String> {
    let unquoted = match value.strip_prefix('"') {
        Some(rest) => {
            let inner = rest.strip_suffix('"')?;
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' { chars.next()? } else { c });
            }
            out
        }
        None => value.to_owned(),
    };
    is_token(&unquoted).then_some(unquoted)
}

/// Splits on `SEP` outside of double quotes; empty elements are skipped.
fn split_outside_quotes<const SEP: char>(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || loop {
        let s = rest?;
        let mut quoted = false;
        let mut escaped = false;
        let mut end = None;
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == SEP && !quoted => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let (item, next) = match end {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        rest = next;
        if !item.trim().is_empty() {
            return Some(item);
        }
    })
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // tables of cases
mod tests {
    use super::*;
    use http::HeaderValue;

    fn offers(lines: &[&str]) -> Vec<(String, Vec<(String, Option<String>)>)> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                "sec-websocket-extensions",
                HeaderValue::from_str(line).unwrap(),
            );
        }
        parse_offers(&headers)
            .into_iter()
            .map(|o| (o.name, o.params))
            .collect()
    }

    fn p(name: &str, value: Option<&str>) -> (String, Option<String>) {
        (name.to_owned(), value.map(str::to_owned))
    }

    #[test]
    fn chromium_offer() {
        assert_eq!(
            offers(&["permessage-deflate; client_max_window_bits"]),
            vec![(
                "permessage-deflate".into(),
                vec![p("client_max_window_bits", None)]
            )]
        );
    }

    #[test]
    fn several_offers_across_lines_with_quotes() {
        assert_eq!(
            offers(&[
                "permessage-deflate; server_max_window_bits=\"10\", permessage-deflate",
                "x-foo;a=1 ; b",
            ]),
            vec![
                (
                    "permessage-deflate".into(),
                    vec![p("server_max_window_bits", Some("10"))]
                ),
                ("permessage-deflate".into(), vec![]),
                ("x-foo".into(), vec![p("a", Some("1")), p("b", None)]),
            ]
        );
    }

    #[test]
    fn malformed_elements_are_dropped_not_fatal() {
        assert_eq!(
            offers(&[
                "; a, bad name, x=;, ok;q=\"a,b\"",
                "\"unterminated, x",
                ",,, fine",
                "",
            ]),
            vec![("fine".into(), vec![])]
        );
    }

    /// Issue 9, defect 12: 20 upgrades offering one extension with 190,000
    /// parameters grew the server by 298 MiB. Such an offer is declined
    /// now, and the work and memory a header can cost are bounded.
    #[test]
    fn offers_and_params_are_bounded() {
        let mut params = String::from("permessage-deflate");
        for _ in 0..MAX_PARAMS {
            params.push_str("; a");
        }
        assert_eq!(
            offers(&[&params]).len(),
            1,
            "{MAX_PARAMS} parameters are read"
        );
        params.push_str("; a");
        assert!(offers(&[&params]).is_empty(), "one more declines the offer");

        let huge = format!("permessage-deflate{}", ";a".repeat(190_000));
        assert!(offers(&[&huge]).is_empty());

        let many: Vec<String> = (0..MAX_OFFERS + 5).map(|i| format!("x-{i}")).collect();
        let got = offers(&[&many[..3].join(","), &many[3..].join(", ")]);
        let names: Vec<String> = got.into_iter().map(|(name, _)| name).collect();
        assert_eq!(
            names,
            many[..MAX_OFFERS],
            "the first {MAX_OFFERS}, in order"
        );

        // Past the byte bound nothing is read, however the bytes are split
        // across lines; at the bound, everything is.
        let line = format!(
            "permessage-deflate, {}",
            "x".repeat(MAX_HEADER_BYTES / 2 - 20)
        );
        assert_eq!(offers(&[&line, &line]).len(), 4);
        let longer = format!("{line}yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
        assert!(offers(&[&longer, &longer]).is_empty());
    }

    #[test]
    fn param_lookup() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "sec-websocket-extensions",
            HeaderValue::from_static("e; A=1; b"),
        );
        let offer = &parse_offers(&headers)[0];
        assert_eq!(offer.param("a"), Some(Some("1")));
        assert_eq!(offer.param("b"), Some(None));
        assert_eq!(offer.param("c"), None);
    }
}
