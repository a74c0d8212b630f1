//! Who is asking: the TCP peer, the proxies it is trusted to speak for, and
//! the client behind them.
//!
//! A server behind a reverse proxy sees the proxy as its TCP peer. The proxy
//! says who the client was in a forwarding header: `Forwarded` (RFC 7239),
//! `X-Forwarded-For` (with `X-Forwarded-Host`/`-Proto`), or one header of its
//! own such as `X-Real-IP`. Anyone can send those headers, and proxies pass
//! on the ones they do not set, so the deployer names the proxies and the
//! one header they set ([`TrustedProxies`], [`ClientSource`]); only that
//! header is read, and only from those peers. By default nobody is trusted
//! and no header is read.
//!
//! The walk starts at the peer and reads the header's hops from the nearest
//! one. It stops at the first hop it cannot trust or parse: the client is
//! the last address a trusted proxy wrote. What the client wrote itself (an
//! address of its choice, a malformed entry, thirty-three of them) lies
//! further left and is never reached.
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
//! use tower_upgrade::peer::{ClientSource, TrustedProxies};
//! use tower_upgrade::{UpgradeLayer, Upgraded};
//!
//! // nginx on the same host and the load balancers' subnet, which set
//! // X-Forwarded-For, -Host and -Proto.
//! let trusted = TrustedProxies::parse(ClientSource::XForwarded, "127.0.0.1, 10.0.0.0/8")?;
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
mod resolve;
mod trusted;

use std::net::{IpAddr, SocketAddr};

pub use trusted::{ClientSource, TrustedProxies};

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

    /// The client's address: the TCP peer when it is not a trusted proxy;
    /// behind one, the last address a trusted proxy wrote, walking the
    /// [`ClientSource`] header from the peer towards the client (the first
    /// hop that is not a trusted proxy, or where the walk had to stop).
    ///
    /// `None` when the peer is not known, when the client was hidden
    /// (`unknown` or an obfuscated identifier, RFC 7239 §6), or when the
    /// nearest trusted proxy wrote no address (no header, an entry that
    /// does not parse, a `Forwarded` element without `for`). Per-client
    /// limits then count the request under the peer.
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
    /// (`Forwarded: host=`, or `X-Forwarded-Host`, whichever is the
    /// [`ClientSource`]), lower-cased.
    pub fn forwarded_host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The scheme the client used (`https` behind a TLS terminator), as a
    /// trusted proxy reported it (`Forwarded: proto=`, or
    /// `X-Forwarded-Proto`, whichever is the [`ClientSource`]), lower-cased.
    pub fn forwarded_proto(&self) -> Option<&str> {
        self.proto.as_deref()
    }
}
