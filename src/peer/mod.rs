//! Who is asking: the TCP peer, the proxies it is trusted to speak for, and
//! the client behind them.
//!
//! A server behind a reverse proxy sees the proxy as its TCP peer. The proxy
//! says who the client was in `Forwarded` (RFC 7239) or `X-Forwarded-For`,
//! and which host and scheme the client used in `Forwarded`'s `host`/`proto`
//! or `X-Forwarded-Host`/`X-Forwarded-Proto`. Anyone can send those headers,
//! so they are believed only from [`TrustedProxies`]: by default nobody is
//! trusted and they are ignored.
//!
//! The layer resolves a [`ClientInfo`] for each upgrade request and puts it
//! in the request's extensions, where the protocol's checks (the WebSocket
//! same-origin check compares `Origin` with the *public* origin) and the
//! handler ([`Upgraded::client`](crate::Upgraded::client)) find it.
//!
//! The peer address comes from a [`PeerAddr`] extension (inserted by
//! [`serve`](crate::serve()), settable in tests) or, with the `axum` feature,
//! axum's `ConnectInfo<SocketAddr>`.
//!
//! ```
//! use tower::service_fn;
//! use tower_upgrade::peer::TrustedProxies;
//! use tower_upgrade::{UpgradeLayer, Upgraded};
//!
//! // nginx on the same host, and the load balancers' subnet.
//! let trusted: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse()?;
//! let layer = UpgradeLayer::new()
//!     .trusted_proxies(trusted)
//!     .protocol("feed/1", service_fn(|conn: Upgraded| async move {
//!         let client = conn.client().and_then(|c| c.addr());
//!         println!("upgraded for {client:?}");
//!         Ok::<_, std::io::Error>(())
//!     }));
//! # let _ = layer;
//! # Ok::<_, tower_upgrade::ConfigError>(())
//! ```

pub(crate) mod forwarded;

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use http::{Extensions, HeaderMap};
use ipnet::IpNet;

use crate::config_error::ConfigError;
use forwarded::Node;

/// The addresses (or CIDR ranges) of the proxies whose forwarding headers
/// are believed. Empty by default: no forwarding header is believed.
///
/// Parsed from a comma-separated list (`"127.0.0.1, 10.0.0.0/8, ::1"`), or
/// built from an iterator with [`TrustedProxies::new`]. IPv4 peers seen as
/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, on dual-stack sockets)
/// match their IPv4 entries.
///
/// ```
/// use tower_upgrade::peer::TrustedProxies;
///
/// let list: TrustedProxies = "10.0.0.0/8, 192.0.2.7".parse()?;
/// assert!(list.contains("10.1.2.3".parse().unwrap()));
/// assert!(list.contains("::ffff:192.0.2.7".parse().unwrap()));
/// assert!(!list.contains("192.0.2.8".parse().unwrap()));
/// assert!(TrustedProxies::new(["10.0.0.0/33"]).is_err());
/// # Ok::<_, tower_upgrade::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
}

impl TrustedProxies {
    /// Trusts the listed addresses (`192.0.2.7`, `::1`) and ranges
    /// (`10.0.0.0/8`, `fd00::/8`).
    pub fn new<I, S>(entries: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = entries
            .into_iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        ConfigError::new(format!(
                            "{entry:?} is not an IP address or CIDR range (10.0.0.0/8)"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { nets: nets.into() })
    }

    /// Whether `addr` is one of the trusted proxies.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.nets.iter().any(|net| net.contains(&addr))
    }

    /// Whether no proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = ConfigError;

    /// A comma-separated list; an empty string trusts nobody.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        Self::new(s.split(',').map(str::trim).filter(|e| !e.is_empty()))
    }
}

/// The address of the TCP peer of the connection a request came on.
///
/// `tower_upgrade::serve` (feature `serve`) inserts it in every request's
/// extensions; a server of your own can do the same (axum's
/// `ConnectInfo<SocketAddr>` is read too, with the `axum` feature).
/// `testing::send_from` (feature `test-util`) sets it in tests.
///
/// ```
/// use tower_upgrade::peer::PeerAddr;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(PeerAddr("192.0.2.7:50000".parse().unwrap()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Who asked for an upgrade: the TCP peer, the trusted proxies the request
/// came through, the client behind them, and the host and scheme the client
/// used when a trusted proxy said so.
///
/// Found in the upgrade request's extensions, and on the handler's side with
/// [`Upgraded::client`](crate::Upgraded::client).
///
/// ```
/// use tower_upgrade::Upgraded;
///
/// fn who(conn: &Upgraded) -> String {
///     match conn.client() {
///         Some(client) => format!("{:?} via {:?}", client.addr(), client.proxies()),
///         None => "unknown".into(),
///     }
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    peer: Option<SocketAddr>,
    addr: Option<IpAddr>,
    proxies: Vec<IpAddr>,
    host: Option<String>,
    proto: Option<String>,
}

impl ClientInfo {
    /// The TCP peer, when the server told (see [`PeerAddr`]).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The client's address: the first hop, walking from the peer towards
    /// the client, that is not a trusted proxy. `None` when that hop is
    /// hidden (`unknown` or an obfuscated identifier, RFC 7239 §6) or the
    /// peer is not known.
    pub fn addr(&self) -> Option<IpAddr> {
        self.addr
    }

    /// The trusted proxies the request came through, nearest first (the
    /// peer, then the hops the peer vouched for). Empty when the request came
    /// straight from the client.
    pub fn proxies(&self) -> &[IpAddr] {
        &self.proxies
    }

    /// The `Host` the client sent, as a trusted proxy reported it
    /// (`Forwarded: host=`, or `X-Forwarded-Host`), lower-cased.
    pub fn forwarded_host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The scheme the client used (`https` behind a TLS terminator), as a
    /// trusted proxy reported it (`Forwarded: proto=`, or
    /// `X-Forwarded-Proto`), lower-cased.
    pub fn forwarded_proto(&self) -> Option<&str> {
        self.proto.as_deref()
    }

    /// Resolves the client of a request from its peer and headers.
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
        let Some(peer) = info.addr else {
            return info;
        };
        if !trusted.contains(peer) {
            return info;
        }
        info.proxies.push(peer);
        match forwarded::forwarded(headers) {
            Ok(Some(elements)) => {
                info.walk(
                    trusted,
                    elements.into_iter().map(|e| (e.node, e.host, e.proto)),
                );
                return info;
            }
            Ok(None) => {}
            Err(why) => tracing::debug!(%peer, why, "ignoring a malformed Forwarded header"),
        }
        match forwarded::x_forwarded_for(headers) {
            Ok(Some(hops)) => info.walk(trusted, hops.into_iter().map(|n| (Some(n), None, None))),
            Ok(None) => {}
            Err(why) => tracing::debug!(%peer, why, "ignoring a malformed X-Forwarded-For"),
        }
        match forwarded::x_forwarded_host(headers) {
            Ok(host) => info.host = info.host.take().or(host),
            Err(why) => tracing::debug!(%peer, why, "ignoring a malformed X-Forwarded-Host"),
        }
        match forwarded::x_forwarded_proto(headers) {
            Ok(proto) => info.proto = info.proto.take().or(proto),
            Err(why) => tracing::debug!(%peer, why, "ignoring a malformed X-Forwarded-Proto"),
        }
        info
    }

    /// Walks the hops from the peer towards the client (right to left),
    /// through trusted proxies only; the first other hop is the client.
    /// Host and proto come from the element of the hop where the walk stops
    /// (what the client itself sent), else from the nearest element that
    /// has them.
    fn walk<I>(&mut self, trusted: &TrustedProxies, hops: I)
    where
        I: DoubleEndedIterator<Item = (Option<Node>, Option<String>, Option<String>)>,
    {
        for (node, host, proto) in hops.rev() {
            if host.is_some() {
                self.host = host;
            }
            if proto.is_some() {
                self.proto = proto;
            }
            match node {
                Some(Node::Ip(ip)) if trusted.contains(ip) => {
                    self.addr = Some(ip.to_canonical());
                    self.proxies.push(ip.to_canonical());
                }
                Some(Node::Ip(ip)) => {
                    self.addr = Some(ip.to_canonical());
                    return;
                }
                Some(Node::Hidden) => {
                    self.addr = None;
                    return;
                }
                // An element without `for` says nothing about the hop.
                None => {}
            }
        }
        // Every hop was trusted: the leftmost one is the client itself.
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
    use super::*;

    use http::request::Parts;

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

    fn resolve(trusted: &str, peer: &str, headers: &[(&str, &str)]) -> ClientInfo {
        let parts = request(Some(peer), headers);
        ClientInfo::resolve(&parts.headers, &parts.extensions, &trusted.parse().unwrap())
    }

    #[test]
    fn untrusted_or_unknown_peer_ignores_headers() {
        let forged = [
            ("forwarded", "for=1.2.3.4;host=evil;proto=https"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-host", "evil"),
        ];
        let info = resolve("", "192.0.2.9:4000", &forged);
        assert_eq!(info.addr(), Some("192.0.2.9".parse().unwrap()));
        assert_eq!(info.peer(), Some("192.0.2.9:4000".parse().unwrap()));
        assert!(info.proxies().is_empty());
        assert_eq!(
            (info.forwarded_host(), info.forwarded_proto()),
            (None, None)
        );

        let info = resolve("10.0.0.0/8", "192.0.2.9:4000", &forged);
        assert_eq!(info.addr(), Some("192.0.2.9".parse().unwrap()));
        assert_eq!(info.forwarded_host(), None);

        let parts = request(None, &forged);
        let info = ClientInfo::resolve(
            &parts.headers,
            &parts.extensions,
            &"0.0.0.0/0".parse().unwrap(),
        );
        assert_eq!(info, ClientInfo::default());
    }

    #[test]
    fn walk_stops_at_the_first_untrusted_hop() {
        // The client forged the first entry; the walk never reaches it.
        let info = resolve(
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[(
                "forwarded",
                "for=6.6.6.6, for=203.0.113.5;host=app.example;proto=https, for=10.0.0.2",
            )],
        );
        assert_eq!(info.addr(), Some("203.0.113.5".parse().unwrap()));
        assert_eq!(info.proxies(), ips(&["10.0.0.1", "10.0.0.2"]));
        assert_eq!(info.forwarded_host(), Some("app.example"));
        assert_eq!(info.forwarded_proto(), Some("https"));

        let info = resolve(
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[
                ("x-forwarded-for", "6.6.6.6, 203.0.113.5"),
                ("x-forwarded-for", "10.0.0.2"),
                ("x-forwarded-host", "app.example"),
                ("x-forwarded-proto", "https"),
            ],
        );
        assert_eq!(info.addr(), Some("203.0.113.5".parse().unwrap()));
        assert_eq!(info.proxies(), ips(&["10.0.0.1", "10.0.0.2"]));
        assert_eq!(info.forwarded_host(), Some("app.example"));
        assert_eq!(info.forwarded_proto(), Some("https"));
    }

    #[test]
    fn all_trusted_and_hidden_hops() {
        let info = resolve(
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[("forwarded", "for=10.9.9.9, for=10.0.0.2")],
        );
        assert_eq!(info.addr(), Some("10.9.9.9".parse().unwrap()));
        assert_eq!(info.proxies(), ips(&["10.0.0.1", "10.0.0.2"]));

        let info = resolve(
            "10.0.0.0/8",
            "10.0.0.1:80",
            &[("forwarded", "for=\"_hidden\", for=10.0.0.2")],
        );
        assert_eq!(info.addr(), None);
        assert_eq!(info.proxies(), ips(&["10.0.0.1", "10.0.0.2"]));

        // The element without `for` still gives the proto.
        let info = resolve("127.0.0.1", "127.0.0.1:80", &[("forwarded", "proto=https")]);
        assert_eq!(info.addr(), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(info.forwarded_proto(), Some("https"));
    }

    #[test]
    fn forwarded_wins_and_malformed_is_ignored() {
        let info = resolve(
            "127.0.0.1",
            "127.0.0.1:80",
            &[
                ("forwarded", "for=192.0.2.1"),
                ("x-forwarded-for", "192.0.2.2"),
            ],
        );
        assert_eq!(info.addr(), Some("192.0.2.1".parse().unwrap()));

        // A malformed Forwarded is as if absent: X-Forwarded-For is used.
        let info = resolve(
            "127.0.0.1",
            "127.0.0.1:80",
            &[("forwarded", "for=[::1]"), ("x-forwarded-for", "192.0.2.2")],
        );
        assert_eq!(info.addr(), Some("192.0.2.2".parse().unwrap()));

        // Malformed X-Forwarded-*: the peer is the client, no host or proto.
        let info = resolve(
            "127.0.0.1",
            "127.0.0.1:80",
            &[
                ("x-forwarded-for", "not an ip"),
                ("x-forwarded-host", "a b"),
                ("x-forwarded-proto", "1"),
            ],
        );
        assert_eq!(info.addr(), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(info.proxies(), ips(&["127.0.0.1"]));
        assert_eq!(
            (info.forwarded_host(), info.forwarded_proto()),
            (None, None)
        );
    }

    #[test]
    fn mapped_ipv4_peers_and_hops_are_canonical() {
        let info = resolve(
            "127.0.0.1",
            "[::ffff:127.0.0.1]:80",
            &[("x-forwarded-for", "::ffff:192.0.2.1")],
        );
        assert_eq!(info.addr(), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(info.proxies(), ips(&["127.0.0.1"]));
    }

    #[test]
    fn trusted_proxies_parse() {
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        let list: TrustedProxies = " 10.0.0.5/8 ,::1,fd00::/8".parse().unwrap();
        assert!(list.contains("10.255.0.1".parse().unwrap()));
        assert!(list.contains("::1".parse().unwrap()));
        assert!(list.contains("fd12::1".parse().unwrap()));
        assert!(!list.contains("11.0.0.1".parse().unwrap()));
        assert!("10.0.0.0/8, nginx".parse::<TrustedProxies>().is_err());
    }
}
