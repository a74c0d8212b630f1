//! Target `detect_select`: detection (RFC 9110 §7.8, RFC 8441 §4) and the
//! choice of a registered protocol, over arbitrary header maps.
//!
//! Configuration lines: `@register TOKEN` (in order; tokens that are not
//! `name[/version]` are skipped), `@client` (client preference), and
//! `@decline TOKEN` (the registered protocol passes over that offer, as h2c
//! does for a body it will not read).

use http::header::{CONNECTION, UPGRADE};
use http::{Method, Request, Version};
use tower_upgrade::__fuzz::{detect, registry, ProtocolToken, Registration, Via};
use tower_upgrade::Preference;

use super::input::{reference_token, request, strip, words};

/// Runs detection and selection on one input and checks them against the
/// reference below.
pub fn detect_select(data: &[u8]) {
    let (config, req) = request(data);
    let mut tokens = Vec::new();
    let mut declined = Vec::new();
    let mut preference = Preference::Server;
    for line in config {
        if let Some(rest) = strip(line, "register") {
            tokens.extend(words(rest).filter(|t| ProtocolToken::parse(t).is_some()));
        } else if let Some(rest) = strip(line, "decline") {
            declined.extend(words(rest));
        } else if line == b"client" {
            preference = Preference::Client;
        }
    }
    let registry = registry(&tokens, preference);

    let via = detect(&req);
    assert_eq!(via, reference_detect(&req), "detection");
    let Some(via) = via else { return };

    let takes = |_: &Registration, raw: &str| !declined.iter().any(|d| d == &raw);
    let selected = registry.select(&req, via, takes);
    let expected = reference_select(&req, via, &tokens, &declined, preference);
    assert_eq!(
        selected,
        expected.as_ref().map(|(i, raw)| (*i, raw.as_str()))
    );

    if let Some((index, raw)) = selected {
        // The token answered in `Upgrade:` is the client's own spelling.
        assert!(http::HeaderValue::from_str(raw).is_ok());
        assert!(matches_token(&registry.entries[index], raw));
    }
    // The 426 answer lists every registration.
    let offered = registry.offered();
    assert_eq!(offered.as_bytes(), tokens.join(", ").as_bytes());
}

/// Whether `registration` takes the offer `raw`, by the reference rules.
fn matches_token(registration: &Registration, raw: &str) -> bool {
    ProtocolToken::parse(raw)
        .is_some_and(|t| reference_matches(&registration.token(), t.name, t.version))
}

/// The elements of every line of a list header, trimmed, empty ones
/// dropped; a line that is not visible ASCII (with SP and HTAB) counts as
/// absent (RFC 9110 §5.5: such a line is opaque to the layer).
fn reference_items(req: &Request<()>, name: http::HeaderName) -> Vec<&str> {
    let mut items = Vec::new();
    for value in req.headers().get_all(name) {
        let bytes = value.as_bytes();
        if !bytes
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            continue;
        }
        let line = std::str::from_utf8(bytes).expect("ASCII");
        for item in line.split(',') {
            let item = item.trim_matches([' ', '\t']);
            if !item.is_empty() {
                items.push(item);
            }
        }
    }
    items
}

fn reference_detect(req: &Request<()>) -> Option<Via> {
    match req.version() {
        Version::HTTP_11 => {
            let upgrade = req.headers().contains_key(UPGRADE);
            let connection = reference_items(req, CONNECTION)
                .iter()
                .any(|t| t.eq_ignore_ascii_case("upgrade"));
            (upgrade && connection).then_some(Via::Http1)
        }
        Version::HTTP_2 | Version::HTTP_3 => (req.method() == Method::CONNECT
            && req.extensions().get::<hyper::ext::Protocol>().is_some())
        .then_some(Via::Http2Connect),
        _ => None,
    }
}

/// `name[/version]` with both parts tokens.
fn reference_parse(raw: &str) -> Option<(&str, Option<&str>)> {
    let mut parts = raw.splitn(2, '/');
    let name = parts.next()?;
    let version = parts.next();
    let ok =
        reference_token(name.as_bytes()) && version.is_none_or(|v| reference_token(v.as_bytes()));
    ok.then_some((name, version))
}

/// Whether the registered `token` takes the offer `name[/version]`: names
/// case-insensitively; a registered version must be offered exactly (up to
/// case); no registered version takes any.
fn reference_matches(token: &str, name: &str, version: Option<&str>) -> bool {
    let (reg_name, reg_version) = reference_parse(token).expect("registered tokens parse");
    reg_name.eq_ignore_ascii_case(name)
        && match reg_version {
            None => true,
            Some(v) => version.is_some_and(|o| o.eq_ignore_ascii_case(v)),
        }
}

fn reference_select(
    req: &Request<()>,
    via: Via,
    tokens: &[&str],
    declined: &[&str],
    preference: Preference,
) -> Option<(usize, String)> {
    let offers: Vec<&str> = match via {
        Via::Http2Connect => req
            .extensions()
            .get::<hyper::ext::Protocol>()
            .map(|p| vec![p.as_str()])
            .unwrap_or_default(),
        Via::Http1 => reference_items(req, UPGRADE),
    };
    let offers: Vec<(&str, &str, Option<&str>)> = offers
        .into_iter()
        .filter_map(|raw| reference_parse(raw).map(|(n, v)| (raw, n, v)))
        .collect();
    let ok = |token: &str, (raw, name, version): (&str, &str, Option<&str>)| {
        reference_matches(token, name, version) && !declined.contains(&raw)
    };
    let server_order = via == Via::Http1 && preference == Preference::Server;
    if server_order {
        tokens.iter().enumerate().find_map(|(i, token)| {
            offers
                .iter()
                .find(|offer| ok(token, **offer))
                .map(|(raw, _, _)| (i, raw.to_string()))
        })
    } else {
        offers.iter().find_map(|offer| {
            let i = tokens.iter().position(|token| ok(token, *offer))?;
            Some((i, offer.0.to_string()))
        })
    }
}
