//! Why an upgrade was refused: one type per cause, gathered in [`Rejection`].
//!
//! Every rejection becomes an ordinary HTTP response carrying its status, the
//! reason as a `text/plain` body, and the headers the RFCs ask for. The
//! [`Rejection`] is also put in the response's extensions, so outer layers can
//! tell why (and log it), and [`RenderRejection`] lets you write the response
//! yourself.

use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER, UPGRADE,
};
use http::{HeaderMap, Response, StatusCode};
use std::fmt;

macro_rules! rejection {
    ($(#[$meta:meta])* $name:ident, $status:ident, $reason:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct $name;

        impl $name {
            /// The status code of the response.
            pub fn status(&self) -> StatusCode {
                StatusCode::$status
            }

            /// The reason, in words, sent as the response body.
            pub fn reason(&self) -> &'static str {
                $reason
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($reason)
            }
        }

        impl std::error::Error for $name {}

        impl From<$name> for Rejection {
            fn from(r: $name) -> Self {
                Rejection::$name(r)
            }
        }
    };
}

rejection!(
    /// The server cannot switch protocols on this connection: the request
    /// carries no upgrade handle, as when the service is called outside of a
    /// hyper server, or by a server that does not support upgrades.
    /// `501 Not Implemented`.
    ///
    /// hyper's HTTP/1 server gives a handle even when the connection is
    /// served without `with_upgrades()`; there the `101` is sent, the switch
    /// fails, and the connection closes (it never hangs). Serve with
    /// `serve_connection_with_upgrades` (hyper-util's auto builder, or
    /// `axum::serve`) or `with_upgrades()`.
    ConnectionNotUpgradable,
    NOT_IMPLEMENTED,
    "this connection cannot be upgraded: the server was not started with upgrade support"
);
rejection!(
    /// A WebSocket handshake must be a `GET` (RFC 6455 §4.1); HTTP/2
    /// extended CONNECT uses `CONNECT` (RFC 8441 §4). `405` with `Allow: GET`.
    MethodNotAllowed,
    METHOD_NOT_ALLOWED,
    "a WebSocket handshake must use the GET method"
);
rejection!(
    /// The request names no host (RFC 6455 §4.2.1 item 2). `400`.
    MissingHost,
    BAD_REQUEST,
    "the WebSocket handshake has no Host header"
);
rejection!(
    /// `Sec-WebSocket-Key` is missing, repeated, or does not decode to
    /// exactly 16 bytes of base64 (RFC 6455 §4.2.1 item 5). `400`.
    InvalidWebSocketKey,
    BAD_REQUEST,
    "Sec-WebSocket-Key must be present once and be 16 bytes encoded in base64"
);
rejection!(
    /// `Sec-WebSocket-Version` is missing or repeated (RFC 6455 §4.2.1
    /// item 6). `400`, with `Sec-WebSocket-Version: 13`.
    MissingWebSocketVersion,
    BAD_REQUEST,
    "Sec-WebSocket-Version must be present once"
);
rejection!(
    /// The client speaks a WebSocket version other than 13. RFC 6455 §4.4:
    /// `426 Upgrade Required` with `Sec-WebSocket-Version: 13`.
    UnsupportedWebSocketVersion,
    UPGRADE_REQUIRED,
    "unsupported WebSocket version: this server speaks version 13"
);
rejection!(
    /// The `Origin` is not allowed by the [`OriginPolicy`](crate::websocket::OriginPolicy):
    /// the defence against cross-site WebSocket hijacking (RFC 6455 §10.2). `403`.
    ForbiddenOrigin,
    FORBIDDEN,
    "the request's Origin is not allowed to open a WebSocket here"
);
rejection!(
    /// The server requires a subprotocol and the client offered none that the
    /// server supports (RFC 6455 §4.2.2). `400`.
    NoSupportedSubprotocol,
    BAD_REQUEST,
    "none of the offered WebSocket subprotocols is supported"
);
rejection!(
    /// The upgrade request's body is larger than the layer reads before
    /// switching (RFC 9110 §7.8: the whole request is read first). `413`.
    BodyTooLarge,
    PAYLOAD_TOO_LARGE,
    "the upgrade request's body is too large"
);
rejection!(
    /// The upgrade request's body could not be read to its end. `400`.
    InvalidBody,
    BAD_REQUEST,
    "the upgrade request's body could not be read"
);

/// The route requires an upgrade and the request asked for none of the
/// protocols offered here. RFC 9110 §15.5.22: `426 Upgrade Required`, with
/// `Upgrade` listing what the server offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeRequired {
    offered: HeaderValue,
}

impl UpgradeRequired {
    pub(crate) fn new(offered: HeaderValue) -> Self {
        Self { offered }
    }

    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        StatusCode::UPGRADE_REQUIRED
    }

    /// The reason, in words, sent as the response body.
    pub fn reason(&self) -> &'static str {
        "this resource requires a protocol upgrade; see the Upgrade header"
    }

    /// The `Upgrade` value sent back: the protocols offered, in preference order.
    pub fn offered(&self) -> &HeaderValue {
        &self.offered
    }
}

impl fmt::Display for UpgradeRequired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for UpgradeRequired {}

impl From<UpgradeRequired> for Rejection {
    fn from(r: UpgradeRequired) -> Self {
        Rejection::UpgradeRequired(r)
    }
}

/// The connection limit for the chosen protocol, or for the whole layer, is
/// reached. `503 Service Unavailable` with `Retry-After`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooManyConnections {
    retry_after_secs: u32,
}

impl TooManyConnections {
    pub(crate) fn new(retry_after_secs: u32) -> Self {
        Self { retry_after_secs }
    }

    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    /// The reason, in words, sent as the response body.
    pub fn reason(&self) -> &'static str {
        "too many upgraded connections; try again later"
    }

    /// The `Retry-After` value sent, in seconds.
    pub fn retry_after_secs(&self) -> u32 {
        self.retry_after_secs
    }
}

impl fmt::Display for TooManyConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for TooManyConnections {}

impl From<TooManyConnections> for Rejection {
    fn from(r: TooManyConnections) -> Self {
        Rejection::TooManyConnections(r)
    }
}

/// Why an upgrade was refused. Put in the extensions of every rejection
/// response.
///
/// ```
/// use tower_upgrade::Rejection;
///
/// fn log(rejection: &Rejection) {
///     eprintln!("{} {}", rejection.status(), rejection);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// See [`UpgradeRequired`].
    UpgradeRequired(UpgradeRequired),
    /// See [`ConnectionNotUpgradable`].
    ConnectionNotUpgradable(ConnectionNotUpgradable),
    /// See [`MethodNotAllowed`].
    MethodNotAllowed(MethodNotAllowed),
    /// See [`MissingHost`].
    MissingHost(MissingHost),
    /// See [`InvalidWebSocketKey`].
    InvalidWebSocketKey(InvalidWebSocketKey),
    /// See [`MissingWebSocketVersion`].
    MissingWebSocketVersion(MissingWebSocketVersion),
    /// See [`UnsupportedWebSocketVersion`].
    UnsupportedWebSocketVersion(UnsupportedWebSocketVersion),
    /// See [`ForbiddenOrigin`].
    ForbiddenOrigin(ForbiddenOrigin),
    /// See [`NoSupportedSubprotocol`].
    NoSupportedSubprotocol(NoSupportedSubprotocol),
    /// See [`BodyTooLarge`].
    BodyTooLarge(BodyTooLarge),
    /// See [`InvalidBody`].
    InvalidBody(InvalidBody),
    /// See [`TooManyConnections`].
    TooManyConnections(TooManyConnections),
}

macro_rules! each {
    ($self:ident, $r:ident => $e:expr) => {
        match $self {
            Rejection::UpgradeRequired($r) => $e,
            Rejection::ConnectionNotUpgradable($r) => $e,
            Rejection::MethodNotAllowed($r) => $e,
            Rejection::MissingHost($r) => $e,
            Rejection::InvalidWebSocketKey($r) => $e,
            Rejection::MissingWebSocketVersion($r) => $e,
            Rejection::UnsupportedWebSocketVersion($r) => $e,
            Rejection::ForbiddenOrigin($r) => $e,
            Rejection::NoSupportedSubprotocol($r) => $e,
            Rejection::BodyTooLarge($r) => $e,
            Rejection::InvalidBody($r) => $e,
            Rejection::TooManyConnections($r) => $e,
        }
    };
}

const SEC_WEBSOCKET_VERSION: HeaderName = HeaderName::from_static("sec-websocket-version");

impl Rejection {
    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        each!(self, r => r.status())
    }

    /// The reason, in words, sent as the response body.
    pub fn reason(&self) -> &'static str {
        each!(self, r => r.reason())
    }

    /// The headers the RFCs require on this response, which the layer adds to
    /// whatever a [`RenderRejection`] produced when they are missing.
    ///
    /// ```
    /// # use tower_upgrade::Rejection;
    /// fn needs_version_header(r: &Rejection) -> bool {
    ///     r.required_headers().contains_key("sec-websocket-version")
    /// }
    /// ```
    pub fn required_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        match self {
            // RFC 9110 §15.5.22: a 426 MUST carry Upgrade; Connection names it.
            Rejection::UpgradeRequired(r) => {
                headers.insert(UPGRADE, r.offered.clone());
                headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            }
            // RFC 9110 §15.5.6: a 405 MUST carry Allow.
            Rejection::MethodNotAllowed(_) => {
                headers.insert(ALLOW, HeaderValue::from_static("GET"));
            }
            // RFC 6455 §4.2.2 item 4 and §4.4.
            Rejection::MissingWebSocketVersion(_) | Rejection::UnsupportedWebSocketVersion(_) => {
                headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
                if matches!(self, Rejection::UnsupportedWebSocketVersion(_)) {
                    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
                }
            }
            // RFC 9110 §15.6.4: Retry-After tells the client when to come back.
            Rejection::TooManyConnections(r) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(r.retry_after_secs));
            }
            _ => {}
        }
        headers
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        each!(self, r => fmt::Display::fmt(r, f))
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        each!(self, r => Some(r))
    }
}

/// Turns a [`Rejection`] into the response sent to the client.
///
/// Whatever it returns, the layer adds the headers of
/// [`Rejection::required_headers`] that are missing and puts the rejection in
/// the response's extensions. A closure `Fn(&Rejection) -> Response<Bytes>`
/// is a `RenderRejection`.
///
/// ```
/// use bytes::Bytes;
/// use http::Response;
/// use tower_upgrade::{Rejection, UpgradeLayer};
///
/// let layer = UpgradeLayer::new().render_rejection(|r: &Rejection| {
///     Response::builder()
///         .status(r.status())
///         .header("content-type", "application/json")
///         .body(Bytes::from(format!(r#"{{"error":"{}"}}"#, r.reason())))
///         .unwrap()
/// });
/// # let _ = layer;
/// ```
pub trait RenderRejection: Clone + Send + Sync + 'static {
    /// Builds the response for `rejection`.
    fn render(&self, rejection: &Rejection) -> Response<Bytes>;
}

impl<F> RenderRejection for F
where
    F: Fn(&Rejection) -> Response<Bytes> + Clone + Send + Sync + 'static,
{
    fn render(&self, rejection: &Rejection) -> Response<Bytes> {
        self(rejection)
    }
}

/// The default [`RenderRejection`]: the status, and the reason as a
/// `text/plain` body.
///
/// ```
/// use tower_upgrade::{PlainTextRejection, UpgradeLayer};
///
/// let layer = UpgradeLayer::new().render_rejection(PlainTextRejection);
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainTextRejection;

impl RenderRejection for PlainTextRejection {
    fn render(&self, rejection: &Rejection) -> Response<Bytes> {
        let mut response = Response::new(Bytes::from_static(rejection.reason().as_bytes()));
        *response.status_mut() = rejection.status();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// Renders `rejection` with `renderer`, then makes it correct: the required
/// headers, and the rejection in the extensions.
pub(crate) fn respond(renderer: &impl RenderRejection, rejection: Rejection) -> Response<Bytes> {
    let mut response = renderer.render(&rejection);
    for (name, value) in rejection.required_headers() {
        if let Some(name) = name {
            response.headers_mut().entry(name).or_insert(value);
        }
    }
    response.extensions_mut().insert(rejection);
    response
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // tables of cases
mod tests {
    use super::*;

    #[test]
    fn every_rejection_has_status_reason_and_required_headers() {
        let table: Vec<(Rejection, u16, Option<(&str, &str)>)> = vec![
            (
                UpgradeRequired::new(HeaderValue::from_static("websocket")).into(),
                426,
                Some(("upgrade", "websocket")),
            ),
            (ConnectionNotUpgradable.into(), 501, None),
            (MethodNotAllowed.into(), 405, Some(("allow", "GET"))),
            (MissingHost.into(), 400, None),
            (InvalidWebSocketKey.into(), 400, None),
            (
                MissingWebSocketVersion.into(),
                400,
                Some(("sec-websocket-version", "13")),
            ),
            (
                UnsupportedWebSocketVersion.into(),
                426,
                Some(("sec-websocket-version", "13")),
            ),
            (ForbiddenOrigin.into(), 403, None),
            (NoSupportedSubprotocol.into(), 400, None),
            (BodyTooLarge.into(), 413, None),
            (InvalidBody.into(), 400, None),
            (
                TooManyConnections::new(5).into(),
                503,
                Some(("retry-after", "5")),
            ),
        ];
        for (rejection, status, header) in table {
            let response = respond(&PlainTextRejection, rejection.clone());
            assert_eq!(response.status(), status, "{rejection:?}");
            assert_eq!(response.body().as_ref(), rejection.reason().as_bytes());
            assert_eq!(rejection.to_string(), rejection.reason());
            if let Some((name, value)) = header {
                assert_eq!(response.headers()[name], value, "{rejection:?}");
            }
            assert_eq!(response.extensions().get::<Rejection>(), Some(&rejection));
        }
    }

    #[test]
    fn custom_renderer_keeps_required_headers() {
        let renderer = |r: &Rejection| {
            let mut res = Response::new(Bytes::from_static(b"{}"));
            *res.status_mut() = r.status();
            res
        };
        let response = respond(&renderer, UnsupportedWebSocketVersion.into());
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert_eq!(response.body().as_ref(), b"{}");
    }
}
