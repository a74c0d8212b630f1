//! The text form of a request in the fuzz inputs.
//!
//! One item a line (`\n`, an optional `\r` before it is dropped):
//!
//! ```text
//! @register websocket        configuration for the target, from `@`
//! :version 1.1               0.9, 1.0, 1.1 (the default), 2 or 3
//! :method GET                GET by default
//! :protocol websocket        the RFC 8441 `:protocol` (HTTP/2 CONNECT)
//! :authority example.com     the URI's authority (HTTP/2's Host)
//! upgrade: websocket         a header line, appended (names repeat)
//! ```
//!
//! A line that does not make a valid header name or value is skipped, as an
//! HTTP server would have refused it before the layer saw it.

use http::{HeaderName, HeaderValue, Method, Request, Uri, Version};

/// The lines of `data`.
pub(super) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// `line` without `prefix` and the spaces after it.
pub(super) fn strip<'a>(line: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(prefix.as_bytes())?;
    Some(trim_start(rest))
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// The words of a configuration line, split on spaces.
pub(super) fn words(s: &[u8]) -> impl Iterator<Item = &str> {
    s.split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .filter_map(|w| std::str::from_utf8(w).ok())
}

/// The `@` lines, without the `@`, and the request the other lines make.
pub(super) fn request(data: &[u8]) -> (Vec<&[u8]>, Request<()>) {
    let mut config = Vec::new();
    let mut req = Request::new(());
    *req.version_mut() = Version::HTTP_11;
    let mut authority = None;
    for line in lines(data) {
        if let Some(rest) = line.strip_prefix(b"@") {
            config.push(rest);
        } else if let Some(v) = strip(line, ":version") {
            *req.version_mut() = match v {
                b"0.9" => Version::HTTP_09,
                b"1.0" => Version::HTTP_10,
                b"2" => Version::HTTP_2,
                b"3" => Version::HTTP_3,
                _ => Version::HTTP_11,
            };
        } else if let Some(m) = strip(line, ":method") {
            if let Ok(method) = Method::from_bytes(m) {
                *req.method_mut() = method;
            }
        } else if let Some(p) = strip(line, ":protocol") {
            if let Ok(p) = std::str::from_utf8(p) {
                req.extensions_mut().insert(hyper::ext::Protocol::from(p));
            }
        } else if let Some(a) = strip(line, ":authority") {
            authority = Some(a);
        } else if let Some((name, value)) = split_header(line) {
            req.headers_mut().append(name, value);
        }
    }
    if let Some(authority) = authority {
        let mut uri = b"https://".to_vec();
        uri.extend_from_slice(authority);
        uri.push(b'/');
        if let Ok(uri) = Uri::try_from(uri) {
            *req.uri_mut() = uri;
        }
    }
    (config, req)
}

fn split_header(line: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = HeaderName::from_bytes(&line[..colon]).ok()?;
    let value = trim_start(&line[colon + 1..]);
    Some((name, HeaderValue::from_bytes(value).ok()?))
}

/// Whether `s` is a `token` (RFC 9110 §5.6.2), written apart from the
/// crate's own check so the two can disagree.
pub(super) fn reference_token(s: &[u8]) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+-.^_`|~";
    !s.is_empty()
        && s.iter()
            .all(|b| b.is_ascii_alphanumeric() || SPECIALS.contains(b))
}
