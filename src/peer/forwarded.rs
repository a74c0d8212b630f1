//! Parsing of `Forwarded` (RFC 7239) and `X-Forwarded-For/-Host/-Proto`.
//!
//! Pure functions over header values: the trust walk (`resolve.rs`)
//! decides which of the hops to believe. It reads them nearest first, each
//! parsed on its own, and stops at the first it cannot trust or parse: what
//! the client wrote further left is never parsed, so it cannot spoil what
//! the proxies wrote.

use std::borrow::Cow;
use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName};
use http::uri::Authority;

/// The walk reads at most this many hops: no real deployment has that many
/// proxies, and the work per request stays bounded. (The strict parse,
/// [`forwarded`], refuses a header with more.)
pub const MAX_HOPS: usize = 32;

pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub(crate) static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// One hop's node (RFC 7239 §6): an address, `unknown`, or an obfuscated
/// identifier. Ports are dropped: nothing here uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// An IP address.
    Ip(IpAddr),
    /// `unknown` (§6.2) or an obfuscated identifier `_abc` (§6.3).
    Hidden,
}

/// One `forwarded-element`: what one proxy saw of the request it received.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// `for`: the client of that proxy.
    pub node: Option<Node>,
    /// `host`: the `Host` that proxy received.
    pub host: Option<String>,
    /// `proto`: the scheme that proxy was asked with.
    pub proto: Option<String>,
}

/// Why a header was not believed; logged at debug level.
pub(crate) type Malformed = &'static str;

/// The elements of every `Forwarded` line, in order (client side first), or
/// `Ok(None)` when there is no such header.
pub fn forwarded(headers: &HeaderMap) -> Result<Option<Vec<Element>>, Malformed> {
    let mut lines = headers.get_all(http::header::FORWARDED).iter().peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    let mut elements = Vec::new();
    for line in lines {
        let line = line
            .to_str()
            .map_err(|_| "Forwarded is not visible ASCII")?;
        let mut p = Parser { rest: line };
        loop {
            p.skip_ows();
            if p.rest.is_empty() {
                break;
            }
            if p.eat(',') {
                // RFC 9110 §5.6.1: empty list elements are allowed.
                continue;
            }
            elements.push(p.element()?);
            if elements.len() > MAX_HOPS {
                return Err("Forwarded has too many elements");
            }
            p.skip_ows();
            if !p.rest.is_empty() && !p.eat(',') {
                return Err("Forwarded: expected `,` between elements");
            }
        }
    }
    Ok(Some(elements))
}

/// The elements of every `Forwarded` line, nearest (rightmost) first, each
/// parsed only when the walk reaches it. What the client wrote cannot
/// spoil an element a proxy appended to its line: bytes outside visible
/// ASCII spoil only their own element, and the line is split from the right
/// (an unterminated quote on the left swallows nothing after it).
pub fn forwarded_rev(headers: &HeaderMap) -> impl Iterator<Item = Result<Element, Malformed>> + '_ {
    headers
        .get_all(http::header::FORWARDED)
        .iter()
        .rev()
        .flat_map(|line| elements_rev(line.as_bytes()))
        .map(|piece| {
            std::str::from_utf8(piece)
                .ok()
                .filter(|piece| {
                    piece
                        .bytes()
                        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
                })
                .ok_or("Forwarded: an element is not visible ASCII")
                .and_then(element)
        })
}

/// The non-empty elements of a `Forwarded` line, from the right: split at
/// the commas outside quoted strings (RFC 9110 §5.6.4; a `"` after an odd
/// number of `\` inside one is escaped), skipping empty list elements
/// (RFC 9110 §5.6.1). On a line that parses, the elements the forward
/// parser finds, in the other order; each step costs the piece it reads.
fn elements_rev(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut end = Some(line.len());
    std::iter::from_fn(move || loop {
        let stop = end?;
        let mut quoted = false;
        let mut start = 0;
        for i in (0..stop).rev() {
            match line[i] {
                b'"' => {
                    let backslashes = line[..i].iter().rev().take_while(|&&b| b == b'\\').count();
                    if !(quoted && backslashes % 2 == 1) {
                        quoted = !quoted;
                    }
                }
                b',' if !quoted => {
                    start = i + 1;
                    break;
                }
                _ => {}
            }
        }
        end = start.checked_sub(1);
        let piece = line[start..stop].trim_ascii();
        if !piece.is_empty() {
            return Some(piece);
        }
    })
}

/// One element, alone (it holds no comma outside a quoted string).
fn element(piece: &str) -> Result<Element, Malformed> {
    let mut p = Parser { rest: piece };
    let element = p.element()?;
    if p.rest.is_empty() {
        Ok(element)
    } else {
        Err("Forwarded: expected `;` between parameters")
    }
}

struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    fn skip_ows(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn token(&mut self) -> &'a str {
        let end = self
            .rest
            .find(|c: char| !is_tchar(c))
            .unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        token
    }

    /// `token / quoted-string` (RFC 9110 §5.6.2, §5.6.4).
    fn value(&mut self) -> Result<Cow<'a, str>, Malformed> {
        if !self.eat('"') {
            let token = self.token();
            return if token.is_empty() {
                Err("Forwarded: empty value")
            } else {
                Ok(Cow::Borrowed(token))
            };
        }
        let mut owned: Option<String> = None;
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    let value = match owned {
                        Some(s) => Cow::Owned(s),
                        None => Cow::Borrowed(&self.rest[..i]),
                    };
                    self.rest = &self.rest[i + 1..];
                    return Ok(value);
                }
                '\\' => {
                    let (_, escaped) = chars.next().ok_or("Forwarded: unterminated escape")?;
                    owned
                        .get_or_insert_with(|| self.rest[..i].to_owned())
                        .push(escaped);
                }
                c => {
                    if let Some(s) = owned.as_mut() {
                        s.push(c);
                    }
                }
            }
        }
        Err("Forwarded: unterminated quoted string")
    }

    /// `[ forwarded-pair ] *( ";" [ forwarded-pair ] )` (RFC 7239 §4).
    fn element(&mut self) -> Result<Element, Malformed> {
        let mut element = Element::default();
        let mut seen_for = false;
        loop {
            self.skip_ows();
            if self.rest.is_empty() || self.rest.starts_with(',') {
                return Ok(element);
            }
            if self.eat(';') {
                continue;
            }
            let name = self.token();
            if name.is_empty() {
                return Err("Forwarded: expected a parameter name");
            }
            self.skip_ows();
            if !self.eat('=') {
                return Err("Forwarded: expected `=` after a parameter name");
            }
            self.skip_ows();
            let value = self.value()?;
            // RFC 7239 §4: each parameter at most once per element.
            let duplicate = if name.eq_ignore_ascii_case("for") {
                // §6: IPv6 only in brackets (and so quoted).
                let bare_v6 = value.parse::<std::net::Ipv6Addr>().is_ok();
                let parsed = node(&value).filter(|_| !bare_v6);
                element.node = Some(parsed.ok_or("Forwarded: invalid `for` node")?);
                std::mem::replace(&mut seen_for, true)
            } else if name.eq_ignore_ascii_case("host") {
                element
                    .host
                    .replace(host(&value).ok_or("Forwarded: invalid `host`")?)
                    .is_some()
            } else if name.eq_ignore_ascii_case("proto") {
                element
                    .proto
                    .replace(proto(&value).ok_or("Forwarded: invalid `proto`")?)
                    .is_some()
            } else {
                // `by` and extensions (RFC 7239 §5.5): not needed here.
                false
            };
            if duplicate {
                return Err("Forwarded: a parameter repeated in one element");
            }
            self.skip_ows();
            if !self.rest.is_empty() && !self.rest.starts_with(',') && !self.eat(';') {
                return Err("Forwarded: expected `;` between parameters");
            }
        }
    }
}

/// RFC 9110 §5.6.2.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// `node = nodename [ ":" node-port ]` (RFC 7239 §6). IPv6 must be in
/// brackets there; X-Forwarded-For also carries it bare.
pub(crate) fn node(s: &str) -> Option<Node> {
    if let Some(bracketed) = s.strip_prefix('[') {
        let (ip, after) = bracketed.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)) {
            return None;
        }
        return ip
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| Node::Ip(ip.into()));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(Node::Ip(ip));
    }
    let name = match s.split_once(':') {
        Some((name, port)) if valid_port(port) => name,
        Some(_) => return None,
        None => s,
    };
    if name.eq_ignore_ascii_case("unknown") || obfuscated(name) {
        return Some(Node::Hidden);
    }
    name.parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|ip| Node::Ip(ip.into()))
}

/// `obfnode = "_" 1*( ALPHA / DIGIT / "." / "_" / "-")` (RFC 7239 §6.3).
fn obfuscated(s: &str) -> bool {
    s.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    })
}

/// A port number, or an obfuscated port (RFC 7239 §6.3).
fn valid_port(s: &str) -> bool {
    s.parse::<u16>().is_ok() || obfuscated(s)
}

/// A `Host` value (RFC 9110 §7.2): host and optional port, no userinfo.
fn host(s: &str) -> Option<String> {
    let authority = s.parse::<Authority>().ok()?;
    (!s.contains('@') && !authority.host().is_empty()).then(|| s.to_ascii_lowercase())
}

/// A URI scheme (RFC 3986 §3.1), lower-cased.
fn proto(s: &str) -> Option<String> {
    let mut chars = s.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| s.to_ascii_lowercase())
}

/// The hops of every `X-Forwarded-For` line, client side first, or `Ok(None)`
/// when there is none.
pub fn x_forwarded_for(headers: &HeaderMap) -> Result<Option<Vec<Node>>, Malformed> {
    let mut lines = headers.get_all(&X_FORWARDED_FOR).iter().peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    let mut hops = Vec::new();
    for line in lines {
        let line = line
            .to_str()
            .map_err(|_| "X-Forwarded-For is not visible ASCII")?;
        for entry in line.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            hops.push(node(entry).ok_or("X-Forwarded-For: an entry is not an address")?);
            if hops.len() > MAX_HOPS {
                return Err("X-Forwarded-For has too many entries");
            }
        }
    }
    Ok(Some(hops))
}

/// The entries of every `X-Forwarded-For` line, nearest (rightmost)
/// first, each parsed only when the walk reaches it. Bytes outside ASCII
/// spoil only the entry they are in.
pub fn x_forwarded_for_rev(
    headers: &HeaderMap,
) -> impl Iterator<Item = Result<Element, Malformed>> + '_ {
    headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .rev()
        .flat_map(|line| line.as_bytes().rsplit(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            std::str::from_utf8(entry)
                .ok()
                .and_then(node)
                .map(|node| Element {
                    node: Some(node),
                    ..Element::default()
                })
                .ok_or("X-Forwarded-For: an entry is not an address")
        })
}

/// The client's address in a header of its own (`X-Real-IP`): the last
/// line, one address with an optional port, `unknown` or an obfuscated
/// identifier (hidden). `None` when there is no such header.
pub fn single(headers: &HeaderMap, name: &HeaderName) -> Option<Result<Element, Malformed>> {
    let line = headers.get_all(name).iter().next_back()?;
    let parsed = line
        .to_str()
        .ok()
        .and_then(|text| node(text.trim()))
        .map(|node| Element {
            node: Some(node),
            ..Element::default()
        })
        .ok_or("the client address header is not one address");
    Some(parsed)
}

/// The last value of `X-Forwarded-Host` (the one the nearest proxy set).
pub fn x_forwarded_host(headers: &HeaderMap) -> Result<Option<String>, Malformed> {
    last_entry(headers, &X_FORWARDED_HOST)
        .map(|v| host(v).ok_or("X-Forwarded-Host is not a host"))
        .transpose()
}

/// The last value of `X-Forwarded-Proto`.
pub fn x_forwarded_proto(headers: &HeaderMap) -> Result<Option<String>, Malformed> {
    last_entry(headers, &X_FORWARDED_PROTO)
        .map(|v| proto(v).ok_or("X-Forwarded-Proto is not a scheme"))
        .transpose()
}

fn last_entry<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let line = headers.get_all(name).iter().next_back()?;
    // Not visible ASCII: treated like an empty entry, i.e. malformed.
    let line = line.to_str().unwrap_or("");
    Some(line.rsplit(',').next().unwrap_or("").trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: &str, lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(line).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> Option<Node> {
        Some(Node::Ip(s.parse().unwrap()))
    }

    fn fwd(lines: &[&str]) -> Result<Option<Vec<Element>>, Malformed> {
        forwarded(&headers("forwarded", lines))
    }

    #[test]
    fn rfc7239_examples() {
        // §4 and §7.1-§7.5, plus the §6 node forms.
        let cases: &[(&[&str], &[Option<Node>])] = &[
            (&[r#"for="_gazonk""#], &[Some(Node::Hidden)]),
            (
                &[r#"For="[2001:db8:cafe::17]:4711""#],
                &[ip("2001:db8:cafe::17")],
            ),
            (
                &["for=192.0.2.60;proto=http;by=203.0.113.43"],
                &[ip("192.0.2.60")],
            ),
            (
                &["for=192.0.2.43, for=198.51.100.17"],
                &[ip("192.0.2.43"), ip("198.51.100.17")],
            ),
            (
                &["for=192.0.2.43", "for=198.51.100.17"],
                &[ip("192.0.2.43"), ip("198.51.100.17")],
            ),
            (
                &["for=192.0.2.43,for=\"[2001:db8:cafe::17]\",for=unknown"],
                &[
                    ip("192.0.2.43"),
                    ip("2001:db8:cafe::17"),
                    Some(Node::Hidden),
                ],
            ),
            (
                &[r#"for=unknown, for="_hidden:_port""#],
                &[Some(Node::Hidden), Some(Node::Hidden)],
            ),
            (&[r#"for="192.0.2.43:47011""#], &[ip("192.0.2.43")]),
            (&["by=203.0.113.43"], &[None]),
        ];
        for (lines, nodes) in cases {
            let elements = fwd(lines).unwrap().unwrap();
            let got: Vec<_> = elements.iter().map(|e| e.node).collect();
            assert_eq!(&got, nodes, "{lines:?}");
        }
    }

    #[test]
    fn host_and_proto_are_read_and_normalised() {
        let elements = fwd(&[
            r#"for=192.0.2.60;Host="Example.com:8443";PROTO=HTTPS, for=10.0.0.1;host=internal"#,
        ])
        .unwrap()
        .unwrap();
        assert_eq!(elements[0].host.as_deref(), Some("example.com:8443"));
        assert_eq!(elements[0].proto.as_deref(), Some("https"));
        assert_eq!(elements[1].host.as_deref(), Some("internal"));
        assert_eq!(elements[1].proto, None);
    }

    #[test]
    fn quoted_strings_unescape() {
        let elements = fwd(&[r#"for="\_x";host="a\.example""#]).unwrap().unwrap();
        assert_eq!(elements[0].node, Some(Node::Hidden));
        assert_eq!(elements[0].host.as_deref(), Some("a.example"));
    }

    #[test]
    fn absent_is_none() {
        assert_eq!(fwd(&[]), Ok(None));
        assert_eq!(x_forwarded_for(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn malformed_forwarded() {
        let cases: &[&str] = &[
            "for=[2001:db8::1]",           // `[` is not a token char: must be quoted
            "for=\"2001:db8::1\"",         // IPv6 must be bracketed (§6)
            "for=192.0.2.1;for=192.0.2.2", // a parameter twice
            "for=",
            "for",
            "=x",
            "for=\"unterminated",
            "for=\"x\\",
            "for=not-an-address",
            "for=_",
            "for=\"_ob!\"",
            "for=\"[::1]:notaport\"",
            "for=1.2.3.4 for=5.6.7.8",
            "host=\"user@evil\"",
            "host=\"\"",
            "proto=1http",
            "proto=\"\"",
        ];
        for line in cases {
            assert!(fwd(&[line]).is_err(), "{line:?} should be malformed");
        }
        let many = vec!["for=1.2.3.4"; MAX_HOPS + 1].join(",");
        assert!(fwd(&[&many]).is_err(), "too many hops");
        let mut bytes = HeaderMap::new();
        bytes.insert(
            http::header::FORWARDED,
            HeaderValue::from_bytes(b"for=\xff").unwrap(),
        );
        assert!(forwarded(&bytes).is_err(), "not ASCII");
    }

    #[test]
    fn lenient_where_harmless() {
        // Empty list elements, empty pairs and whitespace around separators.
        let elements = fwd(&[" , for=192.0.2.1 ; proto=http ;, ,for = 10.0.0.1 "])
            .unwrap()
            .unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(elements[0].proto.as_deref(), Some("http"));
        // Unknown parameters (extensions, §5.5) are skipped.
        assert_eq!(
            fwd(&["for=10.0.0.1;secret=\"x,y\""])
                .unwrap()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn x_forwarded_trio() {
        let map = headers(
            "x-forwarded-for",
            &["203.0.113.7, 10.0.0.1", "[2001:db8::1]:80,10.0.0.2:8080"],
        );
        assert_eq!(
            x_forwarded_for(&map).unwrap().unwrap(),
            vec![
                ip("203.0.113.7").unwrap(),
                ip("10.0.0.1").unwrap(),
                ip("2001:db8::1").unwrap(),
                ip("10.0.0.2").unwrap()
            ]
        );
        let map = headers("x-forwarded-for", &["2001:db8::1, unknown"]);
        assert_eq!(
            x_forwarded_for(&map).unwrap().unwrap(),
            vec![ip("2001:db8::1").unwrap(), Node::Hidden]
        );
        assert!(x_forwarded_for(&headers("x-forwarded-for", &["evil.example"])).is_err());
        assert!(x_forwarded_for(&headers("x-forwarded-for", &["1.2.3.4:99999"])).is_err());

        let map = headers("x-forwarded-host", &["first.example, App.Example:8443"]);
        assert_eq!(x_forwarded_host(&map), Ok(Some("app.example:8443".into())));
        assert!(x_forwarded_host(&headers("x-forwarded-host", &["a b"])).is_err());
        let map = headers("x-forwarded-proto", &["HTTPS"]);
        assert_eq!(x_forwarded_proto(&map), Ok(Some("https".into())));
        assert!(x_forwarded_proto(&headers("x-forwarded-proto", &["h;ttp"])).is_err());
        assert_eq!(x_forwarded_proto(&HeaderMap::new()), Ok(None));
    }
}
