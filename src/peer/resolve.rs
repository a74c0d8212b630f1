//! The walk from the TCP peer to the client, through the trusted proxies.

use std::net::SocketAddr;

use http::{Extensions, HeaderMap};

use super::forwarded::{self, Element, Malformed, Node, MAX_HOPS};
use super::{ClientInfo, ClientSource, PeerAddr, TrustedProxies};

impl ClientInfo {
    /// Resolves the client of a request from its peer and the one header
    /// its trusted proxies set.
    pub(crate) fn resolve(
        headers: &HeaderMap,
        extensions: &Extensions,
        trusted: &TrustedProxies,
    ) -> Self {
        let peer = peer_addr(extensions);
        let mut info = ClientInfo {
            peer,
            addr: peer.map(|p| p.ip().to_canonical()),
            ..Self::default()
        };
        let Some(peer) = info.addr.filter(|&p| trusted.contains(p)) else {
            return info;
        };
        // Behind a trusted proxy the client is what the proxies wrote, and
        // nothing when they wrote nothing usable: never the proxy itself.
        info.proxies.push(peer);
        info.addr = None;
        match trusted.source() {
            // `TrustedProxies::new` refuses proxies without a header.
            ClientSource::Peer => info.addr = Some(peer),
            ClientSource::Forwarded => info.walk(trusted, forwarded::forwarded_rev(headers)),
            ClientSource::XForwarded => {
                info.walk(trusted, forwarded::x_forwarded_for_rev(headers));
                match forwarded::x_forwarded_host(headers) {
                    Ok(host) => info.host = host,
                    Err(why) => tracing::debug!(%peer, why, "ignoring X-Forwarded-Host"),
                }
                match forwarded::x_forwarded_proto(headers) {
                    Ok(proto) => info.proto = proto,
                    Err(why) => tracing::debug!(%peer, why, "ignoring X-Forwarded-Proto"),
                }
            }
            ClientSource::Header(name) => info.walk(trusted, forwarded::single(headers, name)),
        }
        info
    }

    /// Walks the hops from the peer towards the client, nearest first,
    /// through trusted proxies only; at most [`MAX_HOPS`] of them. It stops
    /// at the first hop that is not a trusted proxy (the client), is hidden,
    /// does not parse, or says nothing of the client (a `Forwarded` element
    /// without `for`): the client is then the last address a trusted proxy
    /// wrote. Host and proto come from the farthest element reached that has
    /// them (what the first proxy saw of the client's request).
    fn walk<I>(&mut self, trusted: &TrustedProxies, hops: I)
    where
        I: IntoIterator<Item = Result<Element, Malformed>>,
    {
        let peer = self.proxies[0];
        for hop in hops.into_iter().take(MAX_HOPS) {
            let hop = match hop {
                Ok(hop) => hop,
                Err(why) => {
                    tracing::debug!(%peer, why, "stopping at a forwarding entry that does not parse");
                    break;
                }
            };
            if hop.host.is_some() {
                self.host = hop.host;
            }
            if hop.proto.is_some() {
                self.proto = hop.proto;
            }
            match hop.node {
                Some(Node::Ip(ip)) => {
                    let ip = ip.to_canonical();
                    self.addr = Some(ip);
                    if !trusted.contains(ip) {
                        return;
                    }
                    self.proxies.push(ip);
                }
                Some(Node::Hidden) => {
                    self.addr = None;
                    return;
                }
                // RFC 7239 §5.2 `for` is optional; without it the proxy did
                // not say who its client was, and what lies beyond is not
                // its word.
                None => break,
            }
        }
        // Stopped on a trusted address (every hop trusted, or the next one
        // unusable): that address is the client, not a proxy of its own.
        if self.proxies.len() > 1 && self.addr == self.proxies.last().copied() {
            self.proxies.pop();
        }
    }
}

fn peer_addr(extensions: &Extensions) -> Option<SocketAddr> {
    if let Some(PeerAddr(addr)) = extensions.get() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use http::request::Parts;

    use super::*;

    fn request(peer: Option<&str>, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::get("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            parts.extensions.insert(PeerAddr(peer.parse().unwrap()));
        }
        parts
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn resolve(
        source: ClientSource,
        trusted: &str,
        peer: &str,
        headers: &[(&str, &str)],
    ) -> ClientInfo {
        let parts = request(Some(peer), headers);
        let trusted = TrustedProxies::parse(source, trusted).unwrap();
        ClientInfo::resolve(&parts.headers, &parts.extensions, &trusted)
    }

    const FORGED: [(&str, &str); 5] = [
        ("forwarded", "for=1.2.3.4;host=evil;proto=https"),
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-host", "evil"),
        ("x-forwarded-proto", "https"),
        ("x-real-ip", "1.2.3.4"),
    ];

    #[test]
    fn untrusted_or_unknown_peer_ignores_headers() {
        for source in [ClientSource::Forwarded, ClientSource::XForwarded] {
            let info = resolve(source.clone(), "", "192.0.2.9:4000", &FORGED);
            assert_eq!(info.addr(), ip("192.0.2.9"));
            assert_eq!(info.peer(), Some("192.0.2.9:4000".parse().unwrap()));
            assert!(info.proxies().is_empty());
            assert_eq!(
                (info.forwarded_host(), info.forwarded_proto()),
                (None, None)
            );

            let info = resolve(source.clone(), "10.0.0.0/8", "192.0.2.9:4000", &FORGED);
            assert_eq!(info.addr(), ip("192.0.2.9"));
            assert_eq!(info.forwarded_host(), None);

            let parts = request(None, &FORGED);
            let all = TrustedProxies::parse(source, "0.0.0.0/0").unwrap();
            let info = ClientInfo::resolve(&parts.headers, &parts.extensions, &all);
            assert_eq!(info, ClientInfo::default());
        }
        // The default reads nothing, whoever the peer is.
        let parts = request(Some("127.0.0.1:80"), &FORGED);
        let info = ClientInfo::resolve(
            &parts.headers,
            &parts.extensions,
            &TrustedProxies::default(),
        );
        assert_eq!(info.addr(), ip("127.0.0.1"));
        assert_eq!(info.forwarded_host(), None);
    }

    /// The attack of issue 17: behind nginx, which sets X-Forwarded-* and
    /// passes the client's own `Forwarded` through, the client chose its
    /// address; and a client sending any `Forwarded` lost its
    /// X-Forwarded-Host.
    #[test]
    fn only_the_named_header_is_read() {
        let headers = [
            ("forwarded", "for=198.51.100.7;host=evil.example"),
            ("x-forwarded-for", "203.0.113.5"),
            ("x-forwarded-host", "app.example"),
            ("x-forwarded-proto", "https"),
        ];
        let info = resolve(
            ClientSource::XForwarded,
            "127.0.0.1",
            "127.0.0.1:80",
            &headers,
        );
        assert_eq!(info.addr(), ip("203.0.113.5"));
        assert_eq!(info.forwarded_host(), Some("app.example"));
        assert_eq!(info.forwarded_proto(), Some("https"));

        let info = resolve(
            ClientSource::Forwarded,
            "127.0.0.1",
            "127.0.0.1:80",
            &headers,
        );
        assert_eq!(info.addr(), ip("198.51.100.7"));
        assert_eq!(info.forwarded_host(), Some("evil.example"));
        assert_eq!(
            info.forwarded_proto(),
            None,
            "X-Forwarded-Proto is not read"
        );

        let real_ip = ClientSource::Header(http::HeaderName::from_static("x-real-ip"));
        let info = resolve(
            real_ip.clone(),
            "127.0.0.1",
            "127.0.0.1:80",
            &[("x-real-ip", "192.0.2.1"), ("x-forwarded-for", "1.2.3.4")],
        );
        assert_eq!(info.addr(), ip("192.0.2.1"));
        assert_eq!(info.proxies(), ips(&["127.0.0.1"]));
        assert_eq!(
            (info.forwarded_host(), info.forwarded_proto()),
            (None, None)
        );
        for bad in ["192.0.2.1, 192.0.2.2", "nope", ""] {
            let info = resolve(
                real_ip.clone(),
                "127.0.0.1",
                "127.0.0.1:80",
                &[("x-real-ip", bad)],
            );
            assert_eq!(info.addr(), None, "{bad:?}");
        }
    }

    #[test]
    fn walk_stops_at_the_first_untrusted_hop() {
        // The client forged the first entry; the walk never reaches it.
        let info = resolve(
            ClientSource::Forwarded,
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[(
                "forwarded",
                "for=6.6.6.6, for=203.0.113.5;host=app.example;proto=https, for=10.0.0.2",
            )],
        );
        assert_eq!(info.addr(), ip("203.0.113.5"));
        assert_eq!(info.proxies(), ips(&["10.0.0.1", "10.0.0.2"]));
        assert_eq!(info.forwarded_host(), Some("app.example"));
        assert_eq!(info.forwarded_proto(), Some("https"));

        let info = resolve(
            ClientSource::XForwarded,
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[
                ("x-forwarded-for", "6.6.6.6, 203.0.113.5"),
                ("x-forwarded-for", "10.0.0.2"),
                ("x-forwarded-host", "app.example"),
                ("x-forwarded-proto", "https"),
            ],
        );
        assert_eq!(info.addr(), ip("203.0.113.5"));
        assert_eq!(info.proxies(), ips(&["10.0.0.1", "10.0.0.2"]));
        assert_eq!(info.forwarded_host(), Some("app.example"));
        assert_eq!(info.forwarded_proto(), Some("https"));
    }

    /// What the client wrote left of its own address is never parsed: a
    /// malformed entry, or more entries than the walk reads, does not make
    /// the client look like the proxy.
    #[test]
    fn what_the_client_wrote_is_never_reached() {
        let many = vec!["198.51.100.1"; 40].join(", ");
        for client_part in ["not-an-address", "[::1", many.as_str(), "caf\u{e9}"] {
            let xff = format!("{client_part}, 203.0.113.5");
            let info = resolve(
                ClientSource::XForwarded,
                "127.0.0.1",
                "127.0.0.1:80",
                &[("x-forwarded-for", &xff)],
            );
            assert_eq!(info.addr(), ip("203.0.113.5"), "{xff}");
            assert_eq!(info.proxies(), ips(&["127.0.0.1"]));
        }
        for client_part in [
            "for=not-an-address",
            "for=\"unterminated",
            "garbage;;==",
            "for=[::1]",
        ] {
            let line = format!("{client_part}, for=203.0.113.5");
            let info = resolve(
                ClientSource::Forwarded,
                "127.0.0.1",
                "127.0.0.1:80",
                &[("forwarded", &line)],
            );
            assert_eq!(info.addr(), ip("203.0.113.5"), "{line}");
        }
        // The client's own line, then the proxy's.
        let info = resolve(
            ClientSource::Forwarded,
            "127.0.0.1",
            "127.0.0.1:80",
            &[("forwarded", "for=\"bad"), ("forwarded", "for=203.0.113.5")],
        );
        assert_eq!(info.addr(), ip("203.0.113.5"));
    }

    #[test]
    fn the_walk_stops_where_it_cannot_go_on() {
        // The nearest entry does not parse, or is missing: the proxy said
        // nothing usable; the client is unknown, not the proxy.
        for headers in [
            &[("x-forwarded-for", "not-an-address")][..],
            &[("x-forwarded-for", "203.0.113.5, nope")][..],
            &[][..],
        ] {
            let info = resolve(
                ClientSource::XForwarded,
                "127.0.0.1",
                "127.0.0.1:80",
                headers,
            );
            assert_eq!(info.addr(), None, "{headers:?}");
            assert_eq!(info.proxies(), ips(&["127.0.0.1"]));
        }
        // Past a trusted hop, an entry that does not parse ends the walk:
        // the last address a trusted proxy wrote is the client.
        let info = resolve(
            ClientSource::XForwarded,
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[("x-forwarded-for", "nope, 10.0.0.7")],
        );
        assert_eq!(info.addr(), ip("10.0.0.7"));
        assert_eq!(info.proxies(), ips(&["10.0.0.1"]));
        // A `Forwarded` element without `for` from a trusted proxy ends the
        // walk: the element the client wrote before it is not believed.
        let info = resolve(
            ClientSource::Forwarded,
            "127.0.0.1",
            "127.0.0.1:80",
            &[("forwarded", "for=198.51.100.9, proto=https")],
        );
        assert_eq!(info.addr(), None);
        assert_eq!(info.forwarded_proto(), Some("https"));
        // At most MAX_HOPS hops are read.
        let trusted_hops = vec!["10.0.0.9"; MAX_HOPS + 5].join(", ");
        let info = resolve(
            ClientSource::XForwarded,
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[("x-forwarded-for", &format!("203.0.113.5, {trusted_hops}"))],
        );
        assert_eq!(info.addr(), ip("10.0.0.9"));
        assert_eq!(info.proxies().len(), MAX_HOPS);
    }

    #[test]
    fn all_trusted_and_hidden_hops() {
        let info = resolve(
            ClientSource::Forwarded,
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[("forwarded", "for=10.9.9.9, for=10.0.0.2")],
        );
        assert_eq!(info.addr(), ip("10.9.9.9"));
        assert_eq!(info.proxies(), ips(&["10.0.0.1", "10.0.0.2"]));

        let info = resolve(
            ClientSource::Forwarded,
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[("forwarded", "for=\"_hidden\", for=10.0.0.2")],
        );
        assert_eq!(info.addr(), None);
        assert_eq!(info.proxies(), ips(&["10.0.0.1", "10.0.0.2"]));
    }

    #[test]
    fn mapped_ipv4_peers_and_hops_are_canonical() {
        let info = resolve(
            ClientSource::XForwarded,
            "127.0.0.1",
            "[::ffff:127.0.0.1]:80",
            &[("x-forwarded-for", "::ffff:192.0.2.1")],
        );
        assert_eq!(info.addr(), ip("192.0.2.1"));
        assert_eq!(info.proxies(), ips(&["127.0.0.1"]));
    }
}
