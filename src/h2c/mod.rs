//! h2c: the HTTP/1.1 to HTTP/2 upgrade of RFC 7540 §3.2.
//!
//! A client that speaks HTTP/2 over cleartext but does not know whether the
//! server does (`curl --http2 http://…`, `nghttp -u`, Java's `HttpClient`)
//! sends an ordinary HTTP/1.1 request with
//!
//! ```text
//! Connection: Upgrade, HTTP2-Settings
//! Upgrade: h2c
//! HTTP2-Settings: <base64url SETTINGS payload>
//! ```
//!
//! Register [`H2c`] with [`UpgradeLayer::h2c`](crate::UpgradeLayer::h2c) and
//! the layer answers `101 Switching Protocols`, then serves HTTP/2 on the
//! connection with hyper's HTTP/2 server and the service you gave: the
//! upgrade request itself, body included, is answered on stream 1, later
//! streams as usual, and the `HTTP2-Settings` values take effect as if the
//! client had sent them in its first SETTINGS frame.
//!
//! # When to turn it on
//!
//! Off unless registered, and it should stay off in most deployments.
//! RFC 9113 deprecates the upgrade, and it is an attack when a proxy sits in
//! front of the server: a proxy that forwards `Upgrade: h2c` hands the
//! client a raw HTTP/2 connection to the backend, on which it can send
//! requests the proxy never sees or filters ("h2c smuggling"). Register it
//! only when clients reach this server directly, or every proxy in front of
//! it removes `Upgrade: h2c` or terminates it itself. Prior-knowledge h2c
//! (the client starts with the HTTP/2 preface) does not have this problem
//! and needs no layer: `serve` (feature `serve`) speaks it on every connection.
//!
//! # Which requests switch
//!
//! A request switches only when (RFC 7540 §3.2 and §3.2.1):
//! - the `Upgrade` token is `h2c`, with no version (`h2` is never taken:
//!   it is HTTP/2 over TLS);
//! - there is exactly one `HTTP2-Settings` header, and `Connection` lists
//!   both `upgrade` and `HTTP2-Settings`;
//! - the value is base64url without padding, and decodes to whole 6-byte
//!   settings with values in their ranges (RFC 7540 §6.5.2);
//! - the body's length is declared up front (`Content-Length`, or no body)
//!   and fits the bound: the layer's
//!   [`max_request_body`](crate::UpgradeLayer::max_request_body), and at
//!   most 65,535 bytes, the flow-control window HTTP/2 gives stream 1
//!   before the client has acknowledged the server's settings.
//!
//! A request that fails any of these is **not switched and not refused**:
//! the layer passes it to the inner service, which answers it over
//! HTTP/1.1, as a server that does not offer h2c would. The upgrade is an
//! offer the server may ignore (RFC 9110 §7.8), and the client's request is
//! valid HTTP/1.1 whatever its upgrade headers say, so a `400` would turn a
//! request that can succeed into one that fails. The reason is logged at
//! `debug` level. Because the body bound is decided from the declared
//! length, a body is never partly read and then switched, nor partly read
//! and then refused (compare CVE-2022-41721).
//!
//! ```
//! use axum::{routing::{get, post}, Router};
//! use tower_upgrade::{h2c::H2c, UpgradeLayer};
//!
//! let routes: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .route("/echo", post(|body: String| async move { body }));
//!
//! // Defaults: h2c answers with the same routes.
//! let app: Router = routes.clone().layer(UpgradeLayer::new().h2c(H2c::new(routes.clone())));
//!
//! // Customised: a smaller body bound, and WebSocket next to h2c.
//! # #[cfg(feature = "websocket")]
//! let custom: Router = routes.clone().layer(
//!     UpgradeLayer::new()
//!         .h2c(H2c::new(routes))
//!         .websocket(
//!             tower_upgrade::websocket::WebSocketConfig::new(),
//!             tower::service_fn(|_: tower_upgrade::Upgraded| async { Ok::<_, std::io::Error>(()) }),
//!         )
//!         .max_request_body(16 * 1024),
//! );
//! # let _ = app;
//! ```

mod connection;
pub(crate) mod preface;
pub(crate) mod settings;
mod stream1;

use std::time::Duration;

use http::header::CONNECTION;
use http::request::Parts;
use tower::service_fn;

use crate::detect::{has_token, list_items, Via};
use crate::protocol::{Accepted, Offer, Protocol};
use crate::rejection::Rejection;
use crate::serve::{Http2Settings, HttpService};
use crate::upgraded::Upgraded;
use crate::UpgradeLayer;
use connection::{serve_upgraded, HTTP2_SETTINGS};
use settings::ClientSettings;

/// The h2c upgrade, with the service that answers the HTTP/2 requests after
/// it (usually the same routes the layer sits in front of).
///
/// The service gets `Request<`[`RequestBody`](crate::serve::RequestBody)`>`; any
/// `tower::Service<Request<B>>` generic over the body, such as an axum
/// `Router`, takes it. The upgrade request arrives as an HTTP/2 request on
/// stream 1 with its method, path, headers (less the HTTP/1.1
/// connection-specific ones; Host becomes `:authority`) and body; the
/// extensions that layers in front of this one added to the HTTP/1.1
/// request are not carried over, except the [`PeerAddr`](crate::peer::PeerAddr),
/// which every request on the connection gets.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_upgrade::{h2c::H2c, UpgradeLayer};
///
/// let routes: Router = Router::new().route("/", get(|| async { "hello" }));
/// let layer = UpgradeLayer::new().h2c(H2c::new(routes));
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct H2c<S> {
    service: S,
    timeouts: Timeouts,
}

/// The deadlines of one h2c connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) preface: Duration,
    pub(crate) http2: Http2Settings,
}

/// How long after the `101` the client has to send the HTTP/2 connection
/// preface, by default.
pub const DEFAULT_PREFACE_TIMEOUT: Duration = Duration::from_secs(10);

impl<S> H2c<S> {
    /// h2c, answering HTTP/2 requests with `service`.
    pub fn new(service: S) -> Self {
        Self {
            service,
            timeouts: Timeouts {
                preface: DEFAULT_PREFACE_TIMEOUT,
                http2: Http2Settings::new(),
            },
        }
    }

    /// How long after the `101` the client has to send its connection
    /// preface and first SETTINGS (RFC 7540 §3.5) before the connection is
    /// closed; 10 s by default. A preface that is not HTTP/2's, or that does
    /// not end with a SETTINGS frame, is answered at once with
    /// `GOAWAY(PROTOCOL_ERROR)` carrying the reason, and the connection is
    /// closed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::Router;
    /// use tower_upgrade::h2c::H2c;
    ///
    /// let h2c = H2c::new(Router::<()>::new()).preface_timeout(Duration::from_secs(2));
    /// # let _ = h2c;
    /// ```
    pub fn preface_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.preface = timeout;
        self
    }

    /// How the upgraded connection is kept: its idle timeout and
    /// keep-alive PINGs, the same [`Http2Settings`] (and defaults) as
    /// `serve`'s HTTP/2 connections. Stream 1 (the upgrade request) is open
    /// until its response ends; a WebSocket over the connection (RFC 8441)
    /// keeps its stream open while its handler holds the [`Upgraded`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::Router;
    /// use tower_upgrade::h2c::H2c;
    /// use tower_upgrade::serve::Http2Settings;
    ///
    /// let h2c = H2c::new(Router::<()>::new()).http2(
    ///     Http2Settings::new()
    ///         .idle_timeout(Duration::from_secs(120))
    ///         .keep_alive_interval(Duration::from_secs(20))
    ///         .keep_alive_timeout(Duration::from_secs(10)),
    /// );
    /// # let _ = h2c;
    /// ```
    pub fn http2(mut self, settings: Http2Settings) -> Self {
        self.timeouts.http2 = settings;
        self
    }
}

/// The checks of RFC 7540 §3.2, apart from the service.
struct Check;

impl Protocol for Check {
    fn accept(&self, _: &Parts, _: &Offer<'_>) -> Result<Accepted, Rejection> {
        Ok(Accepted::new())
    }

    fn declines(&self, offer: &Offer<'_>) -> Option<&'static str> {
        if offer.via != Via::Http1 {
            return Some("h2c is an HTTP/1.1 upgrade");
        }
        // The registration has no version, so it would match `h2c/1` too.
        if !offer.token.eq_ignore_ascii_case("h2c") {
            return Some("the h2c token takes no version");
        }
        let mut values = offer.headers.get_all(HTTP2_SETTINGS).iter();
        let value = match (values.next(), values.next()) {
            (Some(value), None) => value,
            (None, _) => return Some("HTTP2-Settings is missing"),
            (Some(_), Some(_)) => return Some("HTTP2-Settings appears more than once"),
        };
        // RFC 7540 §3.2.1: HTTP2-Settings is connection-specific, so the
        // client must name it in Connection.
        if !has_token(offer.headers, CONNECTION, "http2-settings") {
            return Some("Connection does not list HTTP2-Settings");
        }
        // Every token names a field stream 1 leaves out; a long list is
        // work a client makes the server do, and no client needs it.
        if list_items(offer.headers, CONNECTION)
            .nth(stream1::MAX_CONNECTION_TOKENS)
            .is_some()
        {
            return Some("Connection lists more tokens than h2c takes");
        }
        if let Err(fault) = ClientSettings::decode(value) {
            return Some(fault);
        }
        let bound = offer.max_request_body.min(stream1::INITIAL_WINDOW);
        match offer.body_len {
            None => Some("the request body's length is not declared up front"),
            Some(len) if len > bound as u64 => {
                Some("the request body is larger than h2c carries into stream 1")
            }
            Some(_) => None,
        }
    }

    fn keeps_body(&self) -> bool {
        true
    }
}

impl<R> UpgradeLayer<R> {
    /// Offers the h2c upgrade (RFC 7540 §3.2). Read the [module
    /// docs](crate::h2c) for when it is safe to turn on.
    ///
    /// # Panics
    ///
    /// When h2c is already registered.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower_upgrade::{h2c::H2c, UpgradeLayer};
    ///
    /// let routes: Router = Router::new().route("/", get(|| async { "hello" }));
    /// let app: Router = routes.clone().layer(UpgradeLayer::new().h2c(H2c::new(routes)));
    /// # let _ = app;
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "h2c")))]
    pub fn h2c<S: HttpService + Sync>(self, h2c: H2c<S>) -> Self {
        let H2c { service, timeouts } = h2c;
        let handler = service_fn(move |upgraded: Upgraded| {
            serve_upgraded(upgraded, service.clone(), timeouts)
        });
        self.register("h2c", Check, handler)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn offer_headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn declines(
        token: &str,
        pairs: &[(&str, &str)],
        body_len: Option<u64>,
    ) -> Option<&'static str> {
        let headers = offer_headers(pairs);
        Check.declines(&Offer {
            token,
            via: Via::Http1,
            headers: &headers,
            body_len,
            max_request_body: 64 * 1024,
        })
    }

    #[test]
    fn decline_table() {
        let good = [
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
            ("http2-settings", "AAMAAABkAAQAAP__"),
        ];
        assert_eq!(declines("h2c", &good, Some(0)), None);
        assert_eq!(declines("H2C", &good, Some(65_535)), None);
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<u64>, &'a str);
        let cases: &[Case<'_>] = &[
            ("h2c/1", &good, Some(0), "no version"),
            ("h2c", &good, None, "not declared"),
            ("h2c", &good, Some(65_536), "larger"),
            ("h2c", &good[..2], Some(0), "missing"),
            (
                "h2c",
                &[
                    good[0],
                    good[1],
                    good[2],
                    ("http2-settings", "AAMAAABkAAQAAP__"),
                ],
                Some(0),
                "more than once",
            ),
            (
                "h2c",
                &[("connection", "Upgrade"), good[1], good[2]],
                Some(0),
                "Connection",
            ),
            (
                "h2c",
                &[good[0], good[1], ("http2-settings", "AAMAAABkAAQAAP__=")],
                Some(0),
                "base64url",
            ),
            (
                "h2c",
                &[good[0], good[1], ("http2-settings", "AAMAAABk_w")],
                Some(0),
                "6-byte",
            ),
        ];
        let long = format!("Upgrade, HTTP2-Settings{}", ", a".repeat(31));
        let too_long = [(("connection"), long.as_str()), good[1], good[2]];
        assert_eq!(
            declines("h2c", &too_long, Some(0)),
            Some("Connection lists more tokens than h2c takes")
        );
        assert_eq!(
            declines("h2c", &[(good[0]), good[1], good[2]], Some(0)),
            None
        );
        for (token, pairs, body_len, fault) in cases {
            let reason =
                declines(token, pairs, *body_len).unwrap_or_else(|| panic!("{pairs:?} taken"));
            assert!(reason.contains(fault), "{pairs:?}: {reason}");
        }
    }
}
