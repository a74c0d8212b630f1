//! Target `forwarded`: the forwarding headers (`Forwarded`, RFC 7239;
//! `X-Forwarded-For/-Host/-Proto`) and the trust walk that picks the
//! client's address from them.
//!
//! Configuration lines: `@peer ADDR:PORT` (the TCP peer; none: not known)
//! and `@trust LIST` (what `TrustedProxies` parses). The other lines are
//! the request's headers (see `input.rs`).
//!
//! Checked: the client address is the peer or an address written in the
//! headers, found by a tokenizer written here; every listed proxy is
//! trusted, the peer first, and headers count only behind a trusted peer;
//! the result equals a reference walk written here over the parsed hops,
//! where the walk stops at the first untrusted or hidden hop; host and
//! proto are lower-case and come only through a trusted peer; and every
//! `Forwarded` header the parser accepts, written back out canonically,
//! parses to the same elements.

use std::net::{IpAddr, SocketAddr};

use http::{Extensions, HeaderMap};
use tower_upgrade::__fuzz::{
    forwarded as parse_forwarded, resolve, x_forwarded_for, x_forwarded_host, x_forwarded_proto,
    Element, Node,
};
use tower_upgrade::peer::{ClientInfo, PeerAddr, TrustedProxies};

use super::input::{request, strip};

/// Resolves one request's client and checks the answer.
pub fn forwarded(data: &[u8]) {
    let (config, req) = request(data);
    let mut peer = None;
    let mut trusted = TrustedProxies::default();
    for line in config {
        let text = |prefix| strip(line, prefix).and_then(|s| std::str::from_utf8(s).ok());
        if let Some(addr) = text("peer") {
            peer = addr.trim().parse::<SocketAddr>().ok();
        } else if let Some(list) = text("trust") {
            trusted = list.parse().unwrap_or_default();
        }
    }
    let headers = req.headers();
    let mut extensions = Extensions::new();
    if let Some(peer) = peer {
        extensions.insert(PeerAddr(peer));
    }
    let info = resolve(headers, &extensions, &trusted);
    assert_eq!(info.peer(), peer);

    check_round_trip(headers);
    check_properties(&info, headers, &trusted);
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
    for proxy in info.proxies() {
        assert!(trusted.contains(*proxy), "untrusted proxy {proxy}");
        assert_eq!(*proxy, proxy.to_canonical());
    }
    if let Some(addr) = info.addr() {
        assert_eq!(addr, addr.to_canonical());
        let written = addresses_in(headers);
        assert!(
            Some(addr) == peer || written.contains(&addr),
            "{addr} is neither the peer nor in the headers {written:?}"
        );
    }
    for value in [info.forwarded_host(), info.forwarded_proto()]
        .into_iter()
        .flatten()
    {
        assert_eq!(value, value.to_ascii_lowercase());
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
/// nearest hop, over the hops the parsers return.
struct Resolved {
    addr: Option<IpAddr>,
    proxies: Vec<IpAddr>,
    host: Option<String>,
    proto: Option<String>,
}

type Hop = (Option<Node>, Option<String>, Option<String>);

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
    // `Forwarded` wins whenever it parses (RFC 7239 §7.4 lets a server pick
    // which to read; the crate prefers the standard one).
    if let Ok(Some(elements)) = parse_forwarded(headers) {
        let hops: Vec<Hop> = elements
            .into_iter()
            .map(|e| (e.node, e.host, e.proto))
            .collect();
        walk(&mut r, &hops, trusted);
        return r;
    }
    if let Ok(Some(nodes)) = x_forwarded_for(headers) {
        let hops: Vec<Hop> = nodes.into_iter().map(|n| (Some(n), None, None)).collect();
        walk(&mut r, &hops, trusted);
    }
    if r.host.is_none() {
        r.host = x_forwarded_host(headers).ok().flatten();
    }
    if r.proto.is_none() {
        r.proto = x_forwarded_proto(headers).ok().flatten();
    }
    r
}

fn walk(r: &mut Resolved, hops: &[Hop], trusted: &TrustedProxies) {
    let mut i = hops.len();
    let mut stopped = false;
    while i > 0 && !stopped {
        i -= 1;
        let (node, host, proto) = &hops[i];
        r.host = host.clone().or(r.host.take());
        r.proto = proto.clone().or(r.proto.take());
        match node {
            None => {}
            Some(Node::Hidden) => {
                r.addr = None;
                stopped = true;
            }
            Some(Node::Ip(ip)) => {
                let ip = ip.to_canonical();
                r.addr = Some(ip);
                if trusted.contains(ip) {
                    r.proxies.push(ip);
                } else {
                    stopped = true;
                }
            }
        }
    }
    // Every hop trusted: the leftmost is the client, not a proxy of its own.
    if !stopped && r.proxies.len() > 1 && r.addr == r.proxies.last().copied() {
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
