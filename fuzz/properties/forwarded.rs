//! Target `forwarded`: the forwarding headers (`Forwarded`, RFC 7239;
//! `X-Forwarded-For/-Host/-Proto`; a single address header) and the trust
//! walk that picks the client's address from them.
//!
//! Configuration lines: `@peer ADDR:PORT` (the TCP peer; none: not known),
//! `@trust LIST` (the trusted proxies) and `@source NAME` (what
//! `ClientSource` parses; without it, `forwarded` when the request has a
//! `Forwarded` header, else `x-forwarded`). The other lines are the
//! request's headers (see `input.rs`).
//!
//! Checked: the client address is the peer or an address written in the
//! headers, found by a tokenizer written here; every listed proxy is
//! trusted, the peer first, and headers count only behind a trusted peer;
//! only the source's headers count (the answer is the same with every other
//! forwarding header removed); the result equals a reference walk written
//! here, index by index over the hops, which stops at the first hop that is
//! untrusted, hidden, unparsable or without `for`, and never reads more than
//! `MAX_HOPS`; the lazy readers the walk uses (nearest first) agree with the
//! strict parsers on every line those accept; host and proto are lower-case
//! and come only through a trusted peer; and every `Forwarded` header the
//! parser accepts, written back out canonically, parses to the same
//! elements.

use std::net::{IpAddr, SocketAddr};

use http::{Extensions, HeaderMap, HeaderName};
use tower_upgrade::__fuzz::{
    forwarded as parse_forwarded, forwarded_rev, resolve, single, x_forwarded_for,
    x_forwarded_for_rev, x_forwarded_host, x_forwarded_proto, Element, Node, MAX_HOPS,
};
use tower_upgrade::peer::{ClientInfo, ClientSource, PeerAddr, TrustedProxies};

use super::input::{request, strip};

/// The forwarding headers: all but the source's are ignored.
const FORWARDING: [&str; 6] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "cf-connecting-ip",
];

/// Resolves one request's client and checks the answer.
pub fn forwarded(data: &[u8]) {
    let (config, req) = request(data);
    let mut peer = None;
    let mut list = String::new();
    let mut source = None;
    for line in config {
        let text = |prefix| strip(line, prefix).and_then(|s| std::str::from_utf8(s).ok());
        if let Some(addr) = text("peer") {
            peer = addr.trim().parse::<SocketAddr>().ok();
        } else if let Some(trust) = text("trust") {
            list = trust.to_owned();
        } else if let Some(name) = text("source") {
            source = name.parse::<ClientSource>().ok();
        }
    }
    let headers = req.headers();
    let source = source.unwrap_or(if headers.contains_key(http::header::FORWARDED) {
        ClientSource::Forwarded
    } else {
        ClientSource::XForwarded
    });
    let trusted = TrustedProxies::parse(source, &list).unwrap_or_default();
    let mut extensions = Extensions::new();
    if let Some(peer) = peer {
        extensions.insert(PeerAddr(peer));
    }
    let info = resolve(headers, &extensions, &trusted);
    assert_eq!(info.peer(), peer);

    check_round_trip(headers);
    check_lazy_readers(headers);
    check_properties(&info, headers, &trusted);
    check_only_the_source_counts(&info, headers, &extensions, &trusted);
    let expected = reference_resolve(headers, peer, &trusted);
    assert_eq!(
        (
            info.addr(),
            info.proxies(),
            info.forwarded_host(),
            info.forwarded_proto()
        ),
        (
            expected.addr,
            expected.proxies.as_slice(),
            expected.host.as_deref(),
            expected.proto.as_deref()
        ),
    );
}

fn check_properties(info: &ClientInfo, headers: &HeaderMap, trusted: &TrustedProxies) {
    let peer = info.peer().map(|p| p.ip().to_canonical());
    let behind_proxy = peer.is_some_and(|p| trusted.contains(p));
    // Headers are believed only when a trusted proxy sent them.
    if !behind_proxy {
        assert_eq!(info.addr(), peer);
        assert!(info.proxies().is_empty());
        assert_eq!(
            (info.forwarded_host(), info.forwarded_proto()),
            (None, None)
        );
        return;
    }
    assert_eq!(info.proxies().first().copied(), peer);
    assert!(info.proxies().len() <= MAX_HOPS + 1);
    for proxy in info.proxies() {
        assert!(trusted.contains(*proxy), "untrusted proxy {proxy}");
        assert_eq!(*proxy, proxy.to_canonical());
    }
    if let Some(addr) = info.addr() {
        assert_eq!(addr, addr.to_canonical());
        let written = addresses_in(headers);
        assert!(
            written.contains(&addr),
            "{addr} is not in the headers {written:?}"
        );
    }
    for value in [info.forwarded_host(), info.forwarded_proto()]
        .into_iter()
        .flatten()
    {
        assert_eq!(value, value.to_ascii_lowercase());
    }
}

/// The same answer with every forwarding header but the source's removed.
fn check_only_the_source_counts(
    info: &ClientInfo,
    headers: &HeaderMap,
    extensions: &Extensions,
    trusted: &TrustedProxies,
) {
    let read: &[&str] = match trusted.source() {
        ClientSource::Forwarded => &["forwarded"],
        ClientSource::XForwarded => &["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"],
        ClientSource::Header(name) => &[name.as_str()],
        _ => &[],
    };
    let mut kept = headers.clone();
    for name in FORWARDING {
        if !read.contains(&name) {
            kept.remove(name);
        }
    }
    assert_eq!(&resolve(&kept, extensions, trusted), info);
}

/// The readers the walk uses, nearest first, against the strict parsers:
/// on a line those accept, the same hops in the other order.
fn check_lazy_readers(headers: &HeaderMap) {
    for line in headers.get_all(http::header::FORWARDED) {
        let mut one = HeaderMap::new();
        one.insert(http::header::FORWARDED, line.clone());
        if let Ok(Some(mut elements)) = parse_forwarded(&one) {
            elements.reverse();
            let lazy: Vec<_> = forwarded_rev(&one).collect();
            assert_eq!(lazy, elements.into_iter().map(Ok).collect::<Vec<_>>());
        }
    }
    let xff = HeaderName::from_static("x-forwarded-for");
    for line in headers.get_all(&xff) {
        let mut one = HeaderMap::new();
        one.insert(xff.clone(), line.clone());
        if let Ok(Some(mut nodes)) = x_forwarded_for(&one) {
            nodes.reverse();
            let lazy: Vec<_> = x_forwarded_for_rev(&one)
                .map(|hop| hop.map(|e| e.node))
                .collect();
            assert_eq!(
                lazy,
                nodes.into_iter().map(|n| Ok(Some(n))).collect::<Vec<_>>()
            );
        }
    }
}

/// Every IP address written in the headers: the text between separators,
/// with escapes dropped, read as an address or as an address and port.
fn addresses_in(headers: &HeaderMap) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for value in headers.values() {
        let text: String = String::from_utf8_lossy(value.as_bytes())
            .chars()
            .filter(|&c| c != '\\')
            .collect();
        for word in text.split([',', ';', '=', '"', '[', ']', ' ', '\t']) {
            let ip = word.parse::<IpAddr>().ok().or_else(|| {
                let (ip, _port) = word.rsplit_once(':')?;
                ip.parse::<IpAddr>().ok()
            });
            found.extend(ip.map(|ip| ip.to_canonical()));
        }
    }
    found
}

/// The resolution, written apart from the crate's: index by index from the
/// nearest hop.
struct Resolved {
    addr: Option<IpAddr>,
    proxies: Vec<IpAddr>,
    host: Option<String>,
    proto: Option<String>,
}

fn reference_resolve(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted: &TrustedProxies,
) -> Resolved {
    let peer = peer.map(|p| p.ip().to_canonical());
    let mut r = Resolved {
        addr: peer,
        proxies: Vec::new(),
        host: None,
        proto: None,
    };
    let Some(peer) = peer.filter(|&p| trusted.contains(p)) else {
        return r;
    };
    r.proxies.push(peer);
    r.addr = None;
    let hops: Vec<Result<Element, &str>> = match trusted.source() {
        ClientSource::Forwarded => forwarded_rev(headers).collect(),
        ClientSource::XForwarded => x_forwarded_for_rev(headers).collect(),
        ClientSource::Header(name) => single(headers, name).into_iter().collect(),
        _ => unreachable!("no proxy is trusted without a header"),
    };
    walk(&mut r, &hops, trusted);
    if *trusted.source() == ClientSource::XForwarded {
        r.host = x_forwarded_host(headers).ok().flatten();
        r.proto = x_forwarded_proto(headers).ok().flatten();
    }
    r
}

fn walk(r: &mut Resolved, hops: &[Result<Element, &str>], trusted: &TrustedProxies) {
    let mut i = 0;
    let mut client_found = false;
    while i < hops.len().min(MAX_HOPS) {
        let Ok(hop) = &hops[i] else { break };
        i += 1;
        r.host = hop.host.clone().or(r.host.take());
        r.proto = hop.proto.clone().or(r.proto.take());
        match hop.node {
            None => break,
            Some(Node::Hidden) => {
                r.addr = None;
                client_found = true;
                break;
            }
            Some(Node::Ip(ip)) => {
                let ip = ip.to_canonical();
                r.addr = Some(ip);
                if !trusted.contains(ip) {
                    client_found = true;
                    break;
                }
                r.proxies.push(ip);
            }
        }
    }
    // Stopped on a trusted address: it is the client, not a proxy of its own.
    if !client_found && r.proxies.len() > 1 && r.addr == r.proxies.last().copied() {
        r.proxies.pop();
    }
}

/// A `Forwarded` the parser accepts, written back out canonically (every
/// value quoted, escapes where needed), parses to the same elements.
fn check_round_trip(headers: &HeaderMap) {
    let Ok(Some(elements)) = parse_forwarded(headers) else {
        return;
    };
    let text = elements
        .iter()
        .map(write_element)
        .collect::<Vec<_>>()
        .join(", ");
    let mut again = HeaderMap::new();
    if !text.is_empty() {
        again.insert(
            http::header::FORWARDED,
            text.parse().expect("visible ASCII"),
        );
        let reparsed = parse_forwarded(&again);
        assert_eq!(reparsed, Ok(Some(elements)), "{text}");
    }
}

fn write_element(e: &Element) -> String {
    let quote = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            if matches!(c, '"' | '\\') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    };
    let mut pairs = Vec::new();
    match e.node {
        Some(Node::Ip(IpAddr::V4(ip))) => pairs.push(format!("for={ip}")),
        Some(Node::Ip(IpAddr::V6(ip))) => pairs.push(format!("for=\"[{ip}]\"")),
        Some(Node::Hidden) => pairs.push("for=unknown".to_owned()),
        None => {}
    }
    if let Some(host) = &e.host {
        pairs.push(format!("host={}", quote(host)));
    }
    if let Some(proto) = &e.proto {
        pairs.push(format!("proto={proto}"));
    }
    if pairs.is_empty() {
        // `by` is read past: an element that says nothing the crate keeps.
        pairs.push("by=_hidden".to_owned());
    }
    pairs.join(";")
}
