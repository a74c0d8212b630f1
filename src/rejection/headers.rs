//! The headers the RFCs require on a rejection, for the request's HTTP
//! version.

use http::header::{self, HeaderValue, CONNECTION, RETRY_AFTER, UPGRADE};
use http::{HeaderMap, Version};

use super::Rejection;

impl Rejection {
    /// The headers the RFCs require on this response to a request of
    /// `version`, which the layer adds to whatever a [`RenderRejection`](super::RenderRejection)
    /// produced when they are missing. Over HTTP/2 and later, no
    /// connection-specific header is among them (RFC 9113 §8.2.2).
    ///
    /// ```
    /// # use http::Version;
    /// # use tower_upgrade::rejection::Rejection;
    /// fn needs_version_header(r: &Rejection, version: Version) -> bool {
    ///     r.required_headers(version).contains_key("sec-websocket-version")
    /// }
    /// ```
    pub fn required_headers(&self, version: Version) -> HeaderMap {
        let mut headers = HeaderMap::new();
        // RFC 9113 §8.2.2: HTTP/2 has no Connection or Upgrade; a response
        // carrying them is malformed (hyper drops them with a warning).
        let http1 = version < Version::HTTP_2;
        match self {
            // RFC 9110 §15.5.22: a 426 MUST carry Upgrade; Connection names it.
            Rejection::UpgradeRequired(r) if http1 => {
                headers.insert(UPGRADE, r.offered().clone());
                headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            }
            // RFC 9110 §15.5.9: after a 408 the connection is not usable
            // (the rest of the body was never read, so where the next
            // request starts is lost); RFC 9112 §9.6: "close" says the
            // server closes it after this response.
            Rejection::RequestTimeout(_) if http1 => {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            // RFC 9110 §15.6.4: Retry-After tells the client when to come back.
            Rejection::TooManyConnections(r) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(r.retry_after_secs()));
            }
            // RFC 6585 §4: a 429 MAY say how long to wait; these always do.
            Rejection::TooManyConnectionsPerClient(r) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(r.retry_after_secs()));
            }
            Rejection::HandshakeRateLimited(r) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(r.retry_after_secs()));
            }
            Rejection::TooManyHandshakes(r) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(r.retry_after_secs()));
            }
            Rejection::TooManyHandshakesPerClient(r) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(r.retry_after_secs()));
            }
            Rejection::Protocol(r) => headers.clone_from(r.headers()),
            _ => {}
        }
        if !http1 {
            strip_connection_specific(&mut headers);
        }
        headers
    }
}

/// Removes the header fields RFC 9113 §8.2.2 forbids in HTTP/2: those
/// `Connection` names, the connection-specific ones listed there, and `TE`
/// with anything but `trailers`.
pub(super) fn strip_connection_specific(headers: &mut HeaderMap) {
    let named: Vec<header::HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| header::HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        CONNECTION,
        UPGRADE,
        header::TRANSFER_ENCODING,
        header::HeaderName::from_static("keep-alive"),
        header::HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    if headers.get_all(header::TE).iter().any(|v| v != "trailers") {
        headers.remove(header::TE);
    }
}
