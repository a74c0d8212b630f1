//! Which `Origin`s may open a WebSocket: the defence against cross-site
//! WebSocket hijacking (RFC 6455 §10.2, RFC 6454).

use std::sync::Arc;

use http::uri::Authority;
use http::Uri;

use crate::config_error::ConfigError;

/// Which `Origin`s may open a WebSocket.
///
/// Browsers send `Origin` with every WebSocket handshake and attach the
/// user's cookies, so a server that accepts any origin lets any web page act
/// as its logged-in users. The default, [`SameOrigin`](Self::SameOrigin),
/// allows requests without `Origin` (non-browser clients send none) and
/// requests whose `Origin` names the same host and port as the public
/// origin: `Host`, or behind a [trusted proxy](crate::peer::TrustedProxies) the
/// host and scheme the proxy forwarded (`X-Forwarded-Host` and
/// `X-Forwarded-Proto`, or `Forwarded: host=...;proto=...`).
///
/// ```
/// use tower_upgrade::websocket::OriginPolicy;
///
/// let default = OriginPolicy::default();
/// let listed = OriginPolicy::allow_list(["https://app.example.com", "https://*.example.com"])?;
/// let any = OriginPolicy::Any;
/// # let _ = (default, listed, any);
/// # Ok::<_, tower_upgrade::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum OriginPolicy {
    /// No `Origin`, or one whose host and port equal the public origin's
    /// (`Host`, or what a trusted proxy forwarded; with a forwarded scheme,
    /// the scheme must match too).
    #[default]
    SameOrigin,
    /// No `Origin`, or one in the list. Built by [`OriginPolicy::allow_list`].
    AllowList(AllowList),
    /// Every origin. Only for servers that do not rely on cookies or other
    /// ambient credentials.
    Any,
}

/// The origins of [`OriginPolicy::AllowList`], built by
/// [`OriginPolicy::allow_list`].
///
/// ```
/// use tower_upgrade::websocket::{AllowList, OriginPolicy};
///
/// let policy = OriginPolicy::allow_list(["https://*.example.com"])?;
/// let list: &AllowList = match &policy {
///     OriginPolicy::AllowList(list) => list,
///     _ => unreachable!(),
/// };
/// assert!(list.allows("https://app.example.com"));
/// assert!(!list.allows("https://example.com"));
/// # Ok::<_, tower_upgrade::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AllowList {
    patterns: Arc<[Pattern]>,
}

impl AllowList {
    /// Whether `origin` (a serialized `Origin` header value,
    /// `scheme://host[:port]`) is in the list. `null` and anything that is
    /// not an origin are not.
    pub fn allows(&self, origin: &str) -> bool {
        Origin::parse(origin).is_some_and(|o| self.patterns.iter().any(|p| p.matches(&o)))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    scheme: String,
    /// The host, or for `*.example.com` the suffix `.example.com`.
    host: String,
    wildcard: bool,
    port: u16,
}

impl OriginPolicy {
    /// Allows the listed origins (`scheme://host[:port]`). A host of the form
    /// `*.example.com` allows every subdomain of `example.com`, at any depth,
    /// but not `example.com` itself: list it too if it should be allowed.
    pub fn allow_list<I, S>(origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = origins
            .into_iter()
            .map(|o| {
                let o = o.as_ref();
                let (host, wildcard) = match o.split_once("://*.") {
                    Some((scheme, rest)) => (format!("{scheme}://{rest}"), true),
                    None => (o.to_owned(), false),
                };
                let origin = Origin::parse(&host).ok_or_else(|| {
                    ConfigError::new(format!("{o:?} is not an origin (scheme://host[:port])"))
                })?;
                Ok(Pattern {
                    host: if wildcard {
                        format!(".{}", origin.host)
                    } else {
                        origin.host
                    },
                    scheme: origin.scheme,
                    wildcard,
                    port: origin.port,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(Self::AllowList(AllowList {
            patterns: patterns.into(),
        }))
    }

    /// Whether a request with this `Origin` (if any) may open a WebSocket on
    /// a server whose public origin is `host` (`Host`, `:authority` in
    /// HTTP/2, or the host a trusted proxy forwarded) and `scheme` (known
    /// only when a trusted proxy forwarded it).
    pub(crate) fn allows(
        &self,
        origin: Option<&[u8]>,
        host: Option<&str>,
        scheme: Option<&str>,
    ) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        if matches!(self, Self::Any) {
            return true;
        }
        // `null` (opaque origins: sandboxed frames, file: pages) is never
        // the same origin as anything.
        let Some(origin) = std::str::from_utf8(origin).ok().and_then(Origin::parse) else {
            return false;
        };
        match self {
            Self::Any => true,
            Self::SameOrigin => host.is_some_and(|host| origin.same_as(host, scheme)),
            Self::AllowList(list) => list.patterns.iter().any(|p| p.matches(&origin)),
        }
    }
}

impl Pattern {
    fn matches(&self, origin: &Origin) -> bool {
        self.scheme == origin.scheme
            && self.port == origin.port
            && if self.wildcard {
                origin.host.ends_with(&self.host)
            } else {
                self.host == origin.host
            }
    }
}

/// A serialized tuple origin: `scheme://host[:port]` (RFC 6454 §6.2),
/// lower-cased, with the scheme's default port filled in.
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(s: &str) -> Option<Self> {
        // `http::Uri` drops a `#fragment` without a word; a serialized
        // origin has none (RFC 6454 §6.2), so it is refused here.
        if s.contains('#') {
            return None;
        }
        let uri: Uri = s.parse().ok()?;
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return None;
        }
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let (host, port) = host_and_port(uri.authority()?)?;
        // Only the schemes a WebSocket page can have, with or without a
        // port (an explicit port once let `htnulltp://host:port` pass).
        let default = default_port(&scheme)?;
        let port = port.unwrap_or(default);
        Some(Self {
            host: host.to_ascii_lowercase(),
            scheme,
            port,
        })
    }

    /// Same host, and same port; a `Host` without a port matches an origin
    /// on its scheme's default port. Without a known `scheme` either default
    /// is accepted (the server cannot tell whether TLS was terminated in
    /// front of it); with one (forwarded by a trusted proxy), the origin's
    /// scheme must be it (RFC 6454 §5: scheme, host and port all compare).
    fn same_as(&self, host: &str, scheme: Option<&str>) -> bool {
        let Ok(authority) = host.parse::<Authority>() else {
            return false;
        };
        let scheme = scheme.map(web_scheme);
        if scheme.is_some_and(|s| s != web_scheme(&self.scheme)) {
            return false;
        }
        let Some((host, port)) = host_and_port(&authority) else {
            return false;
        };
        host.eq_ignore_ascii_case(&self.host)
            && match port {
                Some(port) => port == self.port,
                None => default_port(scheme.unwrap_or(&self.scheme)) == Some(self.port),
            }
    }
}

/// `ws`/`wss` name the same origins as `http`/`https` (RFC 6455 §3).
fn web_scheme(scheme: &str) -> &str {
    match scheme {
        "ws" => "http",
        "wss" => "https",
        other => other,
    }
}

/// The host and port of `host[:port]` (RFC 3986 §3.2), `None` for anything
/// else. `Authority` takes more: user info, and trailing bytes it then
/// reports as no port at all (`[::1];8080`, `[::1]:8080.`), which would
/// compare equal to the default port. An empty port is the default
/// (RFC 3986 §6.2.3).
fn host_and_port(authority: &Authority) -> Option<(&str, Option<u16>)> {
    let host = authority.host();
    match authority.as_str().strip_prefix(host)? {
        "" | ":" => Some((host, None)),
        rest => {
            let port = rest.strip_prefix(':')?;
            let valid = port.bytes().all(|b| b.is_ascii_digit());
            valid.then(|| Some((host, Some(port.parse().ok()?))))?
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_table() {
        let policy = OriginPolicy::SameOrigin;
        let cases: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, Some("example.com"), true),
            (None, None, true),
            (Some("http://example.com"), Some("example.com"), true),
            (Some("https://example.com"), Some("example.com"), true),
            (Some("https://EXAMPLE.com"), Some("example.COM"), true),
            (Some("http://localhost:3000"), Some("localhost:3000"), true),
            (Some("http://127.0.0.1:3000"), Some("127.0.0.1:3000"), true),
            (Some("http://[::1]:3000"), Some("[::1]:3000"), true),
            (Some("https://example.com:443"), Some("example.com"), true),
            (Some("https://example.com"), Some("example.com:443"), true),
            (Some("http://example.com:8080"), Some("example.com"), false),
            (Some("http://localhost:3001"), Some("localhost:3000"), false),
            (Some("http://evil.example"), Some("example.com"), false),
            (Some("http://example.com.evil"), Some("example.com"), false),
            (Some("http://sub.example.com"), Some("example.com"), false),
            (Some("null"), Some("example.com"), false),
            (Some(""), Some("example.com"), false),
            (Some("example.com"), Some("example.com"), false),
            (Some("http://example.com"), None, false),
            (Some("ftp://example.com"), Some("example.com"), false),
            (Some("http://user@example.com"), Some("example.com"), false),
            // Found by the `handshake` fuzz target: trailing bytes after an
            // IPv6 host or a port made both sides "no port", so the default.
            (Some("http://[::1];8080"), Some("[::1]:8080."), false),
            (Some("http://[::1]:8080"), Some("[::1]:8080."), false),
            (Some("http://[::1];8080"), Some("[::1]"), false),
            (Some("http://[::1]:8080"), Some("[::1]:8080"), true),
            (Some("http://example.com:"), Some("example.com"), true),
            (Some("http://example.com:99999"), Some("example.com"), false),
            (Some("http://example.com"), Some("user@example.com"), false),
            (Some("htnulltp://[::1]:8080"), Some("[::1]:8080"), false),
            (Some("ftp://example.com:80"), Some("example.com"), false),
            // Found by the `handshake` fuzz target in CI: `http::Uri` drops
            // a fragment, leaving the host alone.
            (Some("http://example.com#x"), Some("example.com"), false),
            (Some("http://example.com/#"), Some("example.com"), false),
            (Some("http://example.com?x"), Some("example.com"), false),
        ];
        for (origin, host, expected) in cases {
            assert_eq!(
                policy.allows(origin.map(str::as_bytes), *host, None),
                *expected,
                "Origin {origin:?}, Host {host:?}"
            );
        }
    }

    #[test]
    fn same_origin_with_a_forwarded_scheme() {
        let policy = OriginPolicy::SameOrigin;
        let cases: &[(&str, &str, &str, bool)] = &[
            ("https://app.example", "app.example", "https", true),
            ("https://app.example", "app.example", "wss", true),
            ("https://app.example:443", "app.example", "https", true),
            ("http://app.example", "app.example", "https", false),
            ("https://app.example", "app.example", "http", false),
            ("http://app.example:80", "app.example", "http", true),
            (
                "https://app.example:8443",
                "app.example:8443",
                "https",
                true,
            ),
            ("https://app.example", "app.example:8443", "https", false),
            ("https://other.example", "app.example", "https", false),
        ];
        for (origin, host, scheme, expected) in cases {
            assert_eq!(
                policy.allows(Some(origin.as_bytes()), Some(host), Some(scheme)),
                *expected,
                "Origin {origin}, host {host}, scheme {scheme}"
            );
        }
    }

    #[test]
    fn allow_list_table() {
        let policy = OriginPolicy::allow_list([
            "https://app.example.com",
            "https://*.example.org",
            "http://localhost:8080",
        ])
        .unwrap();
        let cases: &[(Option<&str>, bool)] = &[
            (None, true),
            (Some("https://app.example.com"), true),
            (Some("https://APP.example.com:443"), true),
            (Some("http://app.example.com"), false),
            (Some("https://app.example.com:8443"), false),
            (Some("https://a.example.org"), true),
            (Some("https://a.b.example.org"), true),
            (Some("https://example.org"), false),
            (Some("https://badexample.org"), false),
            (Some("http://localhost:8080"), true),
            (Some("http://localhost"), false),
            (Some("null"), false),
        ];
        for (origin, expected) in cases {
            assert_eq!(
                policy.allows(origin.map(str::as_bytes), Some("app.example.com"), None),
                *expected,
                "Origin {origin:?}"
            );
        }
    }

    #[test]
    fn any_allows_everything_and_invalid_config_is_an_error() {
        assert!(OriginPolicy::Any.allows(Some(b"null"), None, None));
        assert!(OriginPolicy::allow_list(["not an origin"]).is_err());
        assert!(OriginPolicy::allow_list(["https://a.com/path"]).is_err());
        assert!(OriginPolicy::allow_list(["gopher://a.com"]).is_err());
    }
}
