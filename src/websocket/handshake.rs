//! The server side of the opening handshake: RFC 6455 §4.2 over HTTP/1.1 and
//! RFC 8441 §5 over HTTP/2.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{
    HOST, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION,
};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use sha1::{Digest, Sha1};

use super::config::WebSocketConfig;
use super::rejection::WebSocketRejection;
use crate::detect::Via;
use crate::protocol::{Accepted, Offer, Protocol};
use crate::rejection::Rejection;

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455
/// §4.2.2 item 5.4): base64 of the SHA-1 of the key and a fixed GUID.
///
/// ```
/// use tower_upgrade::websocket::accept_key;
///
/// // The example of RFC 6455 §1.3.
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID);
    STANDARD.encode(sha1.finalize())
}

/// The single value of `name`, or `Err(())` when it is missing or repeated.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a HeaderValue, ()> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        _ => Err(()),
    }
}

/// Whether `name`, all its lines together, is over the bound of a
/// negotiation field ([`UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES`](crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES)).
fn too_large(headers: &HeaderMap, name: &HeaderName) -> bool {
    let mut total = 0usize;
    headers.get_all(name).iter().any(|line| {
        total = total.saturating_add(line.len());
        total > crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES
    })
}

/// RFC 6455 §4.2.1 item 5: the key is base64 of 16 random bytes.
fn valid_key(key: &HeaderValue) -> bool {
    let mut decoded = [0u8; 18];
    key.len() == 24 && matches!(STANDARD.decode_slice(key.as_bytes(), &mut decoded), Ok(16))
}

impl Protocol for WebSocketConfig {
    fn rejection_labels(&self) -> &'static [&'static str] {
        &WebSocketRejection::METRICS_LABELS
    }

    fn accept(&self, parts: &Parts, offer: &Offer<'_>) -> Result<Accepted, Rejection> {
        let headers = &parts.headers;
        let via = offer.via;

        // RFC 6585 §5: a negotiation field over its bound gets 431 naming
        // it, before anything is read of it: a switch is never agreed on a
        // part of the client's offers.
        if too_large(headers, &SEC_WEBSOCKET_PROTOCOL) {
            return Err(WebSocketRejection::SubprotocolsTooLarge.into());
        }
        if too_large(headers, &SEC_WEBSOCKET_EXTENSIONS) {
            return Err(WebSocketRejection::ExtensionsTooLarge.into());
        }

        // RFC 6455 §4.2.1 item 1: a GET of HTTP/1.1 or later; RFC 8441 §4:
        // a CONNECT over HTTP/2, which detection already established.
        if via == Via::Http1 && parts.method != Method::GET {
            return Err(WebSocketRejection::MethodNotAllowed.into());
        }
        debug_assert!(via == Via::Http2Connect || parts.version >= Version::HTTP_11);

        // Item 6, and §4.4: a version we do not speak gets 426 with ours.
        match single(headers, &SEC_WEBSOCKET_VERSION) {
            Err(()) => return Err(WebSocketRejection::MissingVersion.into()),
            Ok(version) if version != "13" => {
                return Err(WebSocketRejection::UnsupportedVersion.into())
            }
            Ok(_) => {}
        }

        // Item 2: Host (in HTTP/2, the :authority pseudo-header).
        let host = match via {
            Via::Http1 => single(headers, &HOST).ok().and_then(|h| h.to_str().ok()),
            Via::Http2Connect => parts.uri.authority().map(|a| a.as_str()),
        };
        let host = host
            .filter(|h| !h.is_empty())
            .ok_or(WebSocketRejection::MissingHost)?;

        // Item 5. RFC 8441 §5: HTTP/2 has no key and no accept.
        let accept = match via {
            Via::Http1 => {
                let key = single(headers, &SEC_WEBSOCKET_KEY)
                    .ok()
                    .filter(|k| valid_key(k))
                    .ok_or(WebSocketRejection::InvalidKey)?;
                Some(accept_key(key.as_bytes()))
            }
            Via::Http2Connect => None,
        };

        // Item 7 and §10.2.
        let origin = match headers.get_all(ORIGIN).iter().count() {
            0 => None,
            1 => headers.get(ORIGIN).map(HeaderValue::as_bytes),
            _ => return Err(WebSocketRejection::ForbiddenOrigin.into()),
        };
        // Behind a trusted proxy, the public origin is what it forwarded.
        let client = parts.extensions.get::<crate::peer::ClientInfo>();
        let public_host = client.and_then(|c| c.forwarded_host()).unwrap_or(host);
        let public_scheme = client.and_then(|c| c.forwarded_proto());
        if !self.origin.allows(origin, Some(public_host), public_scheme) {
            return Err(WebSocketRejection::ForbiddenOrigin.into());
        }

        // Item 8 and §4.2.2 item 5.4.
        let subprotocol = self.subprotocols.choose(headers);
        if subprotocol.is_none() && self.require_subprotocol {
            return Err(WebSocketRejection::NoSupportedSubprotocol.into());
        }

        let mut accepted = Accepted::new().with_extension(self.limits);
        // What the message layer needs, as one typed value: limits,
        // timeouts and the agreed compression arrive together or not at all.
        #[cfg(feature = "messages")]
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut settings = crate::websocket::messages::Settings {
            limits: self.limits,
            timeouts: self.timeouts,
            #[cfg(feature = "deflate")]
            deflate: None,
        };
        if let Some(accept) = accept {
            accepted.headers.insert(
                SEC_WEBSOCKET_ACCEPT,
                HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
            );
        }
        if let Some(subprotocol) = subprotocol {
            accepted.headers.insert(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(&subprotocol).expect("chosen among header values"),
            );
            accepted.subprotocol = Some(subprotocol);
        }
        // RFC 6455 §9.1 and RFC 7692 §5: only an extension the backend
        // implements is accepted; bad offers are declined, never fatal. The
        // offers are read only when an extension is configured.
        #[cfg(feature = "deflate")]
        if let Some(config) = &self.deflate {
            let offers = super::extensions::parse_offers(headers);
            if let Some(agreed) = super::deflate::negotiate(config, &offers) {
                accepted.headers.insert(
                    SEC_WEBSOCKET_EXTENSIONS,
                    HeaderValue::from_str(&agreed.to_string()).expect("tokens and digits"),
                );
                accepted.extensions.insert(agreed);
                #[cfg(feature = "messages")]
                {
                    settings.deflate = Some((agreed, config.clone()));
                }
            }
        }
        #[cfg(feature = "messages")]
        accepted.extensions.insert(settings);
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websocket::OriginPolicy;
    use http::{Request, StatusCode};

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

    fn parts(edit: impl FnOnce(&mut http::request::Builder)) -> Parts {
        let mut builder = Request::builder()
            .uri("/chat")
            .header("host", "server.example.com")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-key", KEY)
            .header("sec-websocket-version", "13");
        edit(&mut builder);
        builder.body(()).unwrap().into_parts().0
    }

    fn accept(ws: &WebSocketConfig, parts: &Parts, via: Via) -> Result<Accepted, Rejection> {
        let offer = Offer {
            token: "websocket",
            via,
            headers: &parts.headers,
            body_len: Some(0),
            max_request_body: 0,
        };
        ws.accept(parts, &offer)
    }

    fn status(ws: &WebSocketConfig, parts: &Parts) -> Result<(), StatusCode> {
        accept(ws, parts, Via::Http1)
            .map(drop)
            .map_err(|r| r.status())
    }

    fn set(b: &mut http::request::Builder, name: &str, value: &str) {
        let headers = b.headers_mut().unwrap();
        headers.remove(name);
        if !value.is_empty() {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
    }

    #[test]
    fn rfc_sample_key() {
        assert_eq!(accept_key(KEY.as_bytes()), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let accepted = accept(&WebSocketConfig::new(), &parts(|_| {}), Via::Http1)
            .ok()
            .unwrap();
        assert_eq!(
            accepted.headers["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(!accepted.headers.contains_key("sec-websocket-protocol"));
        assert!(!accepted.headers.contains_key("sec-websocket-extensions"));
    }

    #[test]
    fn handshake_checks_table() {
        let ws = WebSocketConfig::new();
        type Edit = fn(&mut http::request::Builder);
        let cases: &[(&str, Edit, Result<(), u16>)] = &[
            ("valid", |_| {}, Ok(())),
            ("POST", |b| *b = std::mem::take(b).method("POST"), Err(405)),
            ("no host", |b| set(b, "host", ""), Err(400)),
            ("no key", |b| set(b, "sec-websocket-key", ""), Err(400)),
            (
                "all-zero key",
                |b| set(b, "sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA=="),
                Ok(()),
            ),
            (
                "15-byte key",
                |b| set(b, "sec-websocket-key", "AAAAAAAAAAAAAAAAAAAA"),
                Err(400),
            ),
            (
                "17-byte key",
                |b| set(b, "sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAAA="),
                Err(400),
            ),
            (
                "not base64",
                |b| set(b, "sec-websocket-key", "!!!!!!!!!!!!!!!!!!!!!!=="),
                Err(400),
            ),
            (
                "two keys",
                |b| {
                    b.headers_mut()
                        .unwrap()
                        .append("sec-websocket-key", HeaderValue::from_static(KEY));
                },
                Err(400),
            ),
            (
                "no version",
                |b| set(b, "sec-websocket-version", ""),
                Err(400),
            ),
            (
                "version 8",
                |b| set(b, "sec-websocket-version", "8"),
                Err(426),
            ),
            (
                "version 14",
                |b| set(b, "sec-websocket-version", "14"),
                Err(426),
            ),
            (
                "two versions",
                |b| {
                    b.headers_mut()
                        .unwrap()
                        .append("sec-websocket-version", HeaderValue::from_static("13"));
                },
                Err(400),
            ),
            (
                "same origin",
                |b| set(b, "origin", "https://server.example.com"),
                Ok(()),
            ),
            (
                "cross origin",
                |b| set(b, "origin", "https://evil.example"),
                Err(403),
            ),
            ("null origin", |b| set(b, "origin", "null"), Err(403)),
            (
                "two origins",
                |b| {
                    set(b, "origin", "https://server.example.com");
                    b.headers_mut().unwrap().append(
                        "origin",
                        HeaderValue::from_static("https://server.example.com"),
                    );
                },
                Err(403),
            ),
            (
                "bad extensions",
                |b| set(b, "sec-websocket-extensions", ";;=,\"x"),
                Ok(()),
            ),
        ];
        for (name, edit, expected) in cases {
            let p = parts(*edit);
            assert_eq!(status(&ws, &p).map_err(|s| s.as_u16()), *expected, "{name}");
        }
    }

    #[test]
    fn subprotocol_choice_and_requirement() {
        let ws = WebSocketConfig::new().subprotocols(["echo"]);
        let offered = parts(|b| set(b, "sec-websocket-protocol", "other, echo"));
        let accepted = accept(&ws, &offered, Via::Http1).ok().unwrap();
        assert_eq!(accepted.headers["sec-websocket-protocol"], "echo");
        assert_eq!(accepted.subprotocol(), Some("echo"));

        let other = parts(|b| set(b, "sec-websocket-protocol", "other"));
        let accepted = accept(&ws, &other, Via::Http1).ok().unwrap();
        assert!(!accepted.headers.contains_key("sec-websocket-protocol"));
        let strict = ws.clone().require_subprotocol(true);
        assert_eq!(status(&strict, &other), Err(StatusCode::BAD_REQUEST));
        assert_eq!(
            status(&strict, &parts(|_| {})),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    /// RFC 6585 §5 (issue 17): a negotiation field over its bound is a
    /// 431 naming it, over HTTP/1.1 and HTTP/2 alike, even split across
    /// lines and even when deflate is off; at the bound it is read.
    #[test]
    fn negotiation_fields_over_their_bound_are_431() {
        let max = crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES;
        let ws = WebSocketConfig::new().subprotocols(["chat"]);
        for (name, cause) in [
            (
                "sec-websocket-protocol",
                WebSocketRejection::SubprotocolsTooLarge,
            ),
            (
                "sec-websocket-extensions",
                WebSocketRejection::ExtensionsTooLarge,
            ),
        ] {
            let at_bound = format!("chat,{}", "x".repeat(max - 5));
            let p = parts(|b| set(b, name, &at_bound));
            assert!(accept(&ws, &p, Via::Http1).is_ok(), "{name} at the bound");

            let half = format!("chat,{}", "x".repeat(max / 2));
            let p = parts(|b| {
                set(b, name, &half);
                let line = HeaderValue::from_str(&half).unwrap();
                b.headers_mut().unwrap().append(name, line);
            });
            for via in [Via::Http1, Via::Http2Connect] {
                let refused = accept(&ws, &p, via).expect_err("over the bound");
                assert_eq!(refused.status(), 431, "{name} {via:?}");
                assert_eq!(refused.downcast_ref::<WebSocketRejection>(), Some(&cause));
                assert_eq!(refused.metrics_label(), "header_too_large");
                let field = if name.ends_with("protocol") {
                    "Sec-WebSocket-Protocol"
                } else {
                    "Sec-WebSocket-Extensions"
                };
                assert!(refused.reason().contains(field), "{}", refused.reason());
                assert!(refused.reason().contains(&max.to_string()));
            }
        }
    }

    #[test]
    fn http2_extended_connect_has_no_key() {
        let parts = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://server.example.com/chat")
            .header("sec-websocket-version", "13")
            .header("origin", "https://server.example.com")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let accepted = accept(&WebSocketConfig::new(), &parts, Via::Http2Connect)
            .ok()
            .unwrap();
        assert!(accepted.headers.get("sec-websocket-accept").is_none());
        let strict = WebSocketConfig::new()
            .origin(OriginPolicy::allow_list(["https://other.example"]).unwrap());
        assert_eq!(
            accept(&strict, &parts, Via::Http2Connect)
                .err()
                .map(|r| r.status()),
            Some(StatusCode::FORBIDDEN)
        );
    }
}
