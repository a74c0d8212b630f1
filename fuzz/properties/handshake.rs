//! Target `handshake`: the whole WebSocket `accept` (RFC 6455 §4.2,
//! RFC 8441 §5) over arbitrary headers and an arbitrary configuration.
//!
//! Configuration lines: `@subprotocols A B ...`, `@select last` or
//! `@select liar` (a selector that picks the last offer, or one never
//! offered), `@require` (a subprotocol is required), `@origin any` or
//! `@origin list ORIGIN ...`, and `@deflate [snct] [cnct] [smwb=N]
//! [cmwb=N] [level=N]`. The request must be detected as an upgrade to
//! `websocket`, as the layer would only then call `accept`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{HOST, ORIGIN};
use http::{HeaderMap, Method, Request, StatusCode};
use sha1::{Digest, Sha1};
use tower_upgrade::__fuzz::{
    connect_protocol, detect, offer, offered_protocols, parse_offers, Via,
};
use tower_upgrade::rejection::Rejection;
use tower_upgrade::websocket::WebSocketRejection;
use tower_upgrade::websocket::{OriginPolicy, PermessageDeflate, WebSocketConfig};
use tower_upgrade::Protocol;

use super::extensions::{check_answer, deflate_config};
use super::input::{reference_token, request, strip, words};

enum Choice {
    List(Vec<String>),
    Last,
    Liar,
}

/// Runs `accept` on one input and checks the answer.
pub fn handshake(data: &[u8]) {
    let (config, req) = request(data);
    let mut ws = WebSocketConfig::new();
    let mut choice = Choice::List(Vec::new());
    let mut require = false;
    let mut any_origin = false;
    let mut deflate = None;
    for line in config {
        if let Some(rest) = strip(line, "subprotocols") {
            let list: Vec<String> = words(rest).map(str::to_owned).collect();
            ws = ws.subprotocols(list.clone());
            choice = Choice::List(list);
        } else if line == b"select last" {
            ws = ws.select_subprotocol(|offered: &[&str]| offered.last().map(|s| s.to_string()));
            choice = Choice::Last;
        } else if line == b"select liar" {
            ws = ws.select_subprotocol(|_: &[&str]| Some("never-offered".to_owned()));
            choice = Choice::Liar;
        } else if line == b"require" {
            ws = ws.require_subprotocol(true);
            require = true;
        } else if line == b"origin any" {
            ws = ws.origin(OriginPolicy::Any);
            any_origin = true;
        } else if let Some(rest) = strip(line, "origin list") {
            if let Ok(policy) = OriginPolicy::allow_list(words(rest)) {
                ws = ws.origin(policy);
                any_origin = false;
            }
        } else if let Some(rest) = strip(line, "deflate") {
            let config = deflate_config(rest);
            ws = ws.permessage_deflate(config.clone());
            deflate = Some(config);
        }
    }
    let same_origin = matches!(tower_upgrade::__fuzz::origin(&ws), OriginPolicy::SameOrigin);

    let Some(via) = detect(&req) else { return };
    let token = match via {
        Via::Http1 => offered_protocols(req.headers())
            .map(|(raw, _)| raw)
            .find(|raw| raw.eq_ignore_ascii_case("websocket")),
        Via::Http2Connect => {
            connect_protocol(&req).filter(|raw| raw.eq_ignore_ascii_case("websocket"))
        }
    };
    let Some(token) = token.map(str::to_owned) else {
        return;
    };
    let (parts, ()) = req.into_parts();
    let offer = offer(&token, via, &parts.headers, Some(0), 0);
    let result = ws.accept(&parts, &offer);
    let req = Request::from_parts(parts, ());
    let headers = req.headers();

    // Every check before the origin is fully determined by the request.
    if let Err(expected) = reference_before_origin(&req, via) {
        let Err(rejection) = result else {
            panic!("accepted what the reference rejects with {expected}");
        };
        assert_eq!(rejection.status(), expected, "{rejection}");
        check_rejection_headers(&rejection);
        return;
    }
    let origins: Vec<&[u8]> = headers
        .get_all(ORIGIN)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let accepted = match result {
        Ok(accepted) => accepted,
        Err(rejection) => {
            check_rejection_headers(&rejection);
            match rejection.status() {
                StatusCode::FORBIDDEN => assert!(!origins.is_empty(), "403 without Origin"),
                StatusCode::BAD_REQUEST => assert!(require, "subprotocol refused without require"),
                status => panic!("unexpected rejection {status}: {rejection}"),
            }
            return;
        }
    };

    // RFC 6455 §10.2: an accepted Origin is one the policy allows.
    if let [origin] = origins[..] {
        assert!(any_origin || origin != b"null", "null origin accepted");
        if same_origin {
            let host = match via {
                Via::Http1 => headers[HOST].as_bytes(),
                Via::Http2Connect => req.uri().authority().unwrap().as_str().as_bytes(),
            };
            assert!(
                reference_same_origin(origin, host),
                "cross-origin accepted: {:?} for host {:?}",
                String::from_utf8_lossy(origin),
                String::from_utf8_lossy(host)
            );
        }
    } else {
        assert!(origins.is_empty(), "several Origin lines accepted");
    }

    // §4.2.2 item 5.4: Sec-WebSocket-Accept for the key (HTTP/1.1 only).
    let answer = accepted.headers();
    match via {
        Via::Http1 => {
            let mut sha1 = Sha1::new();
            sha1.update(headers["sec-websocket-key"].as_bytes());
            sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            let expected = STANDARD.encode(sha1.finalize());
            assert_eq!(answer["sec-websocket-accept"], expected.as_str());
        }
        Via::Http2Connect => assert!(!answer.contains_key("sec-websocket-accept")),
    }

    // §4.2.2 item 5.4: a subprotocol only from the client's offers.
    let offered: Vec<&str> = reference_list(headers, "sec-websocket-protocol")
        .into_iter()
        .filter(|p| reference_token(p.as_bytes()))
        .collect();
    let expected = match &choice {
        Choice::List(ours) => ours
            .iter()
            .find(|ours| offered.contains(&ours.as_str()))
            .cloned(),
        Choice::Last => offered.last().map(|s| s.to_string()),
        Choice::Liar => None,
    };
    let chosen = answer
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(chosen, expected, "subprotocol");
    assert_eq!(accepted.subprotocol(), chosen.as_deref());
    assert!(chosen.is_some() || !require, "required subprotocol missing");

    // RFC 7692: only what deflate agreed, re-parseable and within §7.1.
    let offers = parse_offers(headers);
    match (answer.get("sec-websocket-extensions"), &deflate) {
        (None, Some(config)) => {
            assert!(super::extensions::reference_negotiate(config, &offers).is_none())
        }
        (None, None) => {}
        (Some(value), Some(config)) => {
            check_answer(config, &offers, value.as_bytes());
            // The handler is given what the answer says.
            let agreed = accepted.extensions().get::<PermessageDeflate>();
            assert_eq!(
                agreed.map(|a| a.to_string()).as_deref(),
                value.to_str().ok()
            );
        }
        (Some(value), None) => panic!("extension {value:?} answered without deflate"),
    }
}

/// The single value of `name`, if it is there exactly once.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a [u8]> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => Some(v.as_bytes()),
        _ => None,
    }
}

/// The bounds of the negotiation fields, then RFC 6455 §4.2.1 items 1, 6,
/// 2 and 5, in the order the crate checks them.
fn reference_before_origin(req: &Request<()>, via: Via) -> Result<(), StatusCode> {
    let headers = req.headers();
    // RFC 6585 §5: a negotiation field over 4 KiB, all lines together.
    for name in ["sec-websocket-protocol", "sec-websocket-extensions"] {
        let total: usize = headers.get_all(name).iter().map(|v| v.len()).sum();
        if total > 4096 {
            return Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
    }
    if via == Via::Http1 && req.method() != Method::GET {
        return Err(StatusCode::METHOD_NOT_ALLOWED);
    }
    match single(headers, "sec-websocket-version") {
        None => return Err(StatusCode::BAD_REQUEST),
        Some(v) if v != b"13" => return Err(StatusCode::UPGRADE_REQUIRED),
        Some(_) => {}
    }
    let host_ok = match via {
        Via::Http1 => single(headers, "host").is_some_and(|h| {
            !h.is_empty() && h.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
        }),
        Via::Http2Connect => req
            .uri()
            .authority()
            .is_some_and(|a| !a.as_str().is_empty()),
    };
    if !host_ok {
        return Err(StatusCode::BAD_REQUEST);
    }
    if via == Via::Http1 {
        let key_ok = single(headers, "sec-websocket-key").is_some_and(|k| {
            k.len() == 24 && STANDARD.decode(k).is_ok_and(|bytes| bytes.len() == 16)
        });
        if !key_ok {
            return Err(StatusCode::BAD_REQUEST);
        }
    }
    Ok(())
}

/// The headers RFC 6455 and RFC 9110 require on each rejection.
fn check_rejection_headers(rejection: &Rejection) {
    let headers = rejection.required_headers(http::Version::HTTP_11);
    match rejection.status() {
        StatusCode::UPGRADE_REQUIRED => assert_eq!(headers["sec-websocket-version"], "13"),
        StatusCode::METHOD_NOT_ALLOWED => assert_eq!(headers["allow"], "GET"),
        _ => {}
    }
    if rejection.downcast_ref() == Some(&WebSocketRejection::MissingVersion) {
        assert_eq!(headers["sec-websocket-version"], "13");
    }
}

fn reference_list<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(|item| item.trim_matches([' ', '\t']))
        .filter(|item| !item.is_empty())
        .collect()
}

/// RFC 6454 §6.2 and §5: `scheme://host[:port][/]` names the same host and
/// port as `Host` (`host[:port]`), with the scheme's default port when none
/// is given. Written apart from the crate's `Origin`, which uses `http::Uri`.
fn reference_same_origin(origin: &[u8], host: &[u8]) -> bool {
    let (Ok(origin), Ok(host)) = (std::str::from_utf8(origin), std::str::from_utf8(host)) else {
        return false;
    };
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return false,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) {
        return false;
    }
    let split = |s: &str| -> Option<(String, Option<u16>)> {
        let (name, port) = match s.rfind(':') {
            Some(i) if !s[i..].contains(']') => (&s[..i], Some(&s[i + 1..])),
            _ => (s, None),
        };
        let port = match port {
            None | Some("") => None,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
            Some(_) => return None,
        };
        Some((name.to_ascii_lowercase(), port))
    };
    let (Some((origin_host, origin_port)), Some((host_name, host_port))) =
        (split(rest), split(host))
    else {
        return false;
    };
    !origin_host.is_empty()
        && origin_host == host_name
        && origin_port.unwrap_or(default) == host_port.unwrap_or(default)
}
