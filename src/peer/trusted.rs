//! Which proxies are believed, and which header they say the client in.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use http::HeaderName;
use ipnet::IpNet;

use crate::config_error::ConfigError;

/// The header the trusted proxies say the client in: the only one read.
///
/// A proxy passes on the forwarding headers it does not set itself, as the
/// client wrote them (nginx, HAProxy, AWS ALB and Envoy all pass an
/// unknown `Forwarded` through), so reading any other header would let the
/// client choose its own address. Name the one your proxies set
/// (docs/deployment.md says which, per proxy); every other forwarding
/// header is ignored, as axum-client-ip's `ClientIpSource` does.
///
/// Parsed from `peer`, `forwarded`, `x-forwarded` (or `x-forwarded-for`),
/// or any other header name, which becomes [`ClientSource::Header`].
///
/// ```
/// use tower_upgrade::peer::ClientSource;
///
/// assert_eq!("x-forwarded".parse(), Ok(ClientSource::XForwarded));
/// assert_eq!(
///     "X-Real-IP".parse(),
///     Ok(ClientSource::Header(http::HeaderName::from_static("x-real-ip")))
/// );
/// assert!("not a header".parse::<ClientSource>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientSource {
    /// No header: the client is the TCP peer (or, behind a proxy speaking
    /// PROXY protocol to [`serve`](crate::serve()), the address the PROXY
    /// header gave, which is the peer the layer sees). The default.
    #[default]
    Peer,
    /// `Forwarded` (RFC 7239): `for`, `host` and `proto`, walked from the
    /// nearest element.
    Forwarded,
    /// `X-Forwarded-For`, walked from the nearest entry, with the nearest
    /// `X-Forwarded-Host` and `X-Forwarded-Proto`.
    XForwarded,
    /// One header holding the client's address alone, which the proxy sets
    /// and overwrites: `X-Real-IP` (nginx), `CF-Connecting-IP`,
    /// `True-Client-IP`, `Fly-Client-IP`. No host or scheme is read.
    Header(HeaderName),
}

impl FromStr for ClientSource {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let s = s.trim();
        Ok(match s.to_ascii_lowercase().as_str() {
            "peer" => Self::Peer,
            "forwarded" => Self::Forwarded,
            "x-forwarded" | "x-forwarded-for" => Self::XForwarded,
            other => Self::Header(HeaderName::from_str(other).map_err(|_| {
                ConfigError::new(format!(
                    "{s:?} is not a client source: peer, forwarded, x-forwarded or a header name"
                ))
            })?),
        })
    }
}

/// The proxies whose word about the client is believed: their addresses
/// (or CIDR ranges) and the [`ClientSource`] header they set. Nobody by
/// default: no forwarding header is read.
///
/// Built with [`TrustedProxies::new`] from an iterator, or
/// [`TrustedProxies::parse`] from a comma-separated list. IPv4 peers seen
/// as IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, on dual-stack
/// sockets) match their IPv4 entries.
///
/// ```
/// use tower_upgrade::peer::{ClientSource, TrustedProxies};
///
/// // nginx on this host and the load balancers' subnet, which set
/// // X-Forwarded-For, -Host and -Proto.
/// let list = TrustedProxies::parse(ClientSource::XForwarded, "10.0.0.0/8, 127.0.0.1")?;
/// assert!(list.contains("10.1.2.3".parse().unwrap()));
/// assert!(list.contains("::ffff:127.0.0.1".parse().unwrap()));
/// assert!(!list.contains("192.0.2.8".parse().unwrap()));
/// assert_eq!(list.source(), &ClientSource::XForwarded);
///
/// assert!(TrustedProxies::new(ClientSource::Forwarded, ["10.0.0.0/33"]).is_err());
/// // `Peer` reads no header: a proxy list would change nothing.
/// assert!(TrustedProxies::new(ClientSource::Peer, ["10.0.0.1"]).is_err());
/// # Ok::<_, tower_upgrade::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
    source: ClientSource,
}

impl TrustedProxies {
    /// Trusts the listed addresses (`192.0.2.7`, `::1`) and ranges
    /// (`10.0.0.0/8`, `fd00::/8`) to say who the client was in `source`.
    pub fn new<I, S>(source: ClientSource, entries: I) -> Result<Self, ConfigError>
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
        if source == ClientSource::Peer && !nets.is_empty() {
            return Err(ConfigError::new(
                "ClientSource::Peer reads no header, so trusting proxies changes nothing: \
                 name the header they set (ClientSource::XForwarded, ...)",
            ));
        }
        Ok(Self {
            nets: nets.into(),
            source,
        })
    }

    /// [`new`](Self::new) from a comma-separated list; an empty list
    /// trusts nobody.
    pub fn parse(source: ClientSource, list: &str) -> Result<Self, ConfigError> {
        Self::new(
            source,
            list.split(',').map(str::trim).filter(|e| !e.is_empty()),
        )
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

    /// The header the trusted proxies say the client in.
    pub fn source(&self) -> &ClientSource {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_parse() {
        let none = TrustedProxies::parse(ClientSource::XForwarded, "").unwrap();
        assert!(none.is_empty());
        let list =
            TrustedProxies::parse(ClientSource::Forwarded, " 10.0.0.5/8 ,::1,fd00::/8").unwrap();
        assert!(list.contains("10.255.0.1".parse().unwrap()));
        assert!(list.contains("::1".parse().unwrap()));
        assert!(list.contains("fd12::1".parse().unwrap()));
        assert!(!list.contains("11.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse(ClientSource::Forwarded, "10.0.0.0/8, nginx").is_err());
        assert!(TrustedProxies::parse(ClientSource::Peer, "").is_ok());
        assert!(TrustedProxies::parse(ClientSource::Peer, "::1").is_err());
    }

    #[test]
    fn client_source_parse() {
        for (text, source) in [
            ("peer", ClientSource::Peer),
            (" Forwarded ", ClientSource::Forwarded),
            ("X-Forwarded", ClientSource::XForwarded),
            ("x-forwarded-for", ClientSource::XForwarded),
            (
                "cf-connecting-ip",
                ClientSource::Header(HeaderName::from_static("cf-connecting-ip")),
            ),
        ] {
            assert_eq!(text.parse::<ClientSource>().unwrap(), source, "{text}");
        }
        assert!("".parse::<ClientSource>().is_err());
        assert!("a b".parse::<ClientSource>().is_err());
    }
}
