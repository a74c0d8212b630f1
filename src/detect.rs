//! Detection: is this request asking to switch protocols?
//!
//! This runs on every request that passes through the layer, so nothing here
//! allocates: header values are walked as `&str` slices in place.

use http::header::{CONNECTION, UPGRADE};
use http::{HeaderMap, HeaderName, Method, Request, Version};

/// How the client asks to switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// HTTP/1.1 `Connection: upgrade` + `Upgrade: ...` (RFC 9110 §7.8).
    Http1,
    /// HTTP/2 extended CONNECT with `:protocol` (RFC 8441 §4).
    Http2Connect,
}

/// Returns how `req` asks to switch protocols, or `None` for an ordinary request.
///
/// RFC 9110 §7.8: `Upgrade` is only meaningful with the `upgrade` connection
/// option, and HTTP/1.0 has no upgrade at all. Reads two headers at most.
pub fn detect<B>(req: &Request<B>) -> Option<Via> {
    match req.version() {
        Version::HTTP_11 => {
            if req.headers().contains_key(UPGRADE)
                && has_token(req.headers(), CONNECTION, "upgrade")
            {
                Some(Via::Http1)
            } else {
                None
            }
        }
        Version::HTTP_2 | Version::HTTP_3 => {
            if req.method() == Method::CONNECT
                && req.extensions().get::<hyper::ext::Protocol>().is_some()
            {
                Some(Via::Http2Connect)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// The `:protocol` pseudo-header of an extended CONNECT, if any.
pub fn connect_protocol<B>(req: &Request<B>) -> Option<&str> {
    req.extensions()
        .get::<hyper::ext::Protocol>()
        .map(|p| p.as_str())
}

/// Iterates the elements of a comma-separated list header across every line
/// of it (RFC 9110 §5.3 and §5.6.1), trimmed, skipping empty elements.
/// Lines that are not visible ASCII are skipped as a whole.
pub(crate) fn list_items<'a>(
    headers: &'a HeaderMap,
    name: impl http::header::AsHeaderName,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(|item| item.trim_matches(|c| c == ' ' || c == '\t'))
        .filter(|item| !item.is_empty())
}

/// Whether the list header `name` holds `token`, compared case-insensitively.
pub(crate) fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    list_items(headers, name).any(|item| item.eq_ignore_ascii_case(token))
}

/// One element of an `Upgrade` header: `name[/version]` (RFC 9110 §7.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolToken<'a> {
    /// The protocol's name.
    pub name: &'a str,
    /// The version after the `/`, if any.
    pub version: Option<&'a str>,
}

impl<'a> ProtocolToken<'a> {
    /// Splits `name[/version]`; `None` when either part is empty.
    pub fn parse(token: &'a str) -> Option<Self> {
        let (name, version) = match token.split_once('/') {
            Some((name, version)) => (name, Some(version)),
            None => (token, None),
        };
        let valid = |s: &str| !s.is_empty() && s.bytes().all(is_tchar);
        if !valid(name) || !version.is_none_or(valid) {
            return None;
        }
        Some(Self { name, version })
    }
}

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Whether `s` is a non-empty `token` (RFC 9110 §5.6.2).
#[cfg_attr(not(feature = "websocket"), allow(dead_code))]
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// The protocols a client offers in `Upgrade`, in the client's order.
pub fn offered_protocols(headers: &HeaderMap) -> impl Iterator<Item = (&str, ProtocolToken<'_>)> {
    list_items(headers, UPGRADE).filter_map(|raw| ProtocolToken::parse(raw).map(|t| (raw, t)))
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // tables of cases
mod tests {
    use super::*;
    use http::HeaderValue;

    fn req(version: Version, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::builder().version(version).uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn detection_table() {
        let cases: &[(Version, &[(&str, &str)], bool)] = &[
            (
                Version::HTTP_11,
                &[("connection", "upgrade"), ("upgrade", "websocket")],
                true,
            ),
            (
                Version::HTTP_11,
                &[("connection", "Upgrade"), ("upgrade", "websocket")],
                true,
            ),
            (
                Version::HTTP_11,
                &[("connection", "UPGRADE"), ("upgrade", "x")],
                true,
            ),
            (
                Version::HTTP_11,
                &[("connection", "keep-alive, Upgrade"), ("upgrade", "x")],
                true,
            ),
            (
                Version::HTTP_11,
                &[("connection", " keep-alive ,\tupgrade "), ("upgrade", "x")],
                true,
            ),
            (
                Version::HTTP_11,
                &[
                    ("connection", "keep-alive"),
                    ("connection", "upgrade"),
                    ("upgrade", "x"),
                ],
                true,
            ),
            (
                Version::HTTP_11,
                &[("connection", ",,upgrade,,"), ("upgrade", "x")],
                true,
            ),
            // Substring is not a token.
            (
                Version::HTTP_11,
                &[("connection", "upgraded"), ("upgrade", "x")],
                false,
            ),
            (
                Version::HTTP_11,
                &[("connection", "no-upgrade"), ("upgrade", "x")],
                false,
            ),
            (
                Version::HTTP_11,
                &[("connection", "keep-alive"), ("upgrade", "websocket")],
                false,
            ),
            (Version::HTTP_11, &[("upgrade", "websocket")], false),
            (Version::HTTP_11, &[("connection", "upgrade")], false),
            (
                Version::HTTP_10,
                &[("connection", "upgrade"), ("upgrade", "websocket")],
                false,
            ),
            (
                Version::HTTP_09,
                &[("connection", "upgrade"), ("upgrade", "websocket")],
                false,
            ),
            (
                Version::HTTP_2,
                &[("connection", "upgrade"), ("upgrade", "websocket")],
                false,
            ),
        ];
        for (version, headers, expected) in cases {
            assert_eq!(
                detect(&req(*version, headers)).is_some(),
                *expected,
                "{version:?} {headers:?}"
            );
        }
    }

    #[test]
    fn non_ascii_connection_line_is_ignored_not_fatal() {
        let mut r = req(Version::HTTP_11, &[("upgrade", "x")]);
        r.headers_mut()
            .append(CONNECTION, HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert!(detect(&r).is_none());
        r.headers_mut()
            .append(CONNECTION, HeaderValue::from_static("upgrade"));
        assert_eq!(detect(&r), Some(Via::Http1));
    }

    #[test]
    fn http2_connect_needs_protocol() {
        let mut r = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://example.com/chat")
            .body(())
            .unwrap();
        assert_eq!(detect(&r), None);
        r.extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        assert_eq!(detect(&r), Some(Via::Http2Connect));
        assert_eq!(connect_protocol(&r), Some("websocket"));
    }

    #[test]
    fn protocol_token_table() {
        let t = |name, version| Some(ProtocolToken { name, version });
        let cases = [
            ("websocket", t("websocket", None)),
            ("HTTP/2.0", t("HTTP", Some("2.0"))),
            ("linecount/1", t("linecount", Some("1"))),
            ("proto/", None),
            ("/1", None),
            ("", None),
            ("a b", None),
            ("a/b/c", None),
            ("caf\u{e9}", None),
        ];
        for (input, expected) in cases {
            assert_eq!(ProtocolToken::parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn offered_protocols_across_lines() {
        let r = req(
            Version::HTTP_11,
            &[
                ("upgrade", "h2c, websocket"),
                ("upgrade", " , Foo/2 ,bad token"),
                ("upgrade", "x/1"),
            ],
        );
        let raw: Vec<&str> = offered_protocols(r.headers()).map(|(raw, _)| raw).collect();
        assert_eq!(raw, ["h2c", "websocket", "Foo/2", "x/1"]);
    }
}
