//! Why an upgrade was refused: one type per cause, gathered in [`Rejection`].
//!
//! Every rejection becomes an ordinary HTTP response carrying its status, the
//! reason as a `text/plain` body, and the headers the RFCs ask for. The
//! [`Rejection`] is also put in the response's extensions, so outer layers can
//! tell why (and log it), and [`RenderRejection`] lets you write the response
//! yourself.

use bytes::Bytes;
use std::borrow::Cow;
use std::fmt;

use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, RETRY_AFTER, UPGRADE};
use http::{HeaderMap, Response, StatusCode};

/// A rejection with a fixed status and reason: the type, its `Display` and
/// `Error`, and its place in [`Rejection`].
macro_rules! simple_rejection {
    ($(#[$meta:meta])* $name:ident, $status:ident, $reason:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct $name;

        impl $name {
            /// The status code of the response.
            pub fn status(&self) -> ::http::StatusCode {
                ::http::StatusCode::$status
            }

            /// The reason, in words, sent as the response body.
            pub fn reason(&self) -> &'static str {
                $reason
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($reason)
            }
        }

        impl ::std::error::Error for $name {}

        impl From<$name> for $crate::rejection::Rejection {
            fn from(r: $name) -> Self {
                $crate::rejection::Rejection::$name(r)
            }
        }
    };
}
#[cfg(feature = "websocket")]
pub(crate) use simple_rejection;

simple_rejection!(
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
simple_rejection!(
    /// The upgrade request's body is larger than the layer reads before
    /// switching (RFC 9110 §7.8: the whole request is read first). `413`.
    BodyTooLarge,
    PAYLOAD_TOO_LARGE,
    "the upgrade request's body is too large"
);
simple_rejection!(
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

/// A refusal of a protocol's own making: any status, a reason, and the
/// headers to send with it. What a [`Protocol`](crate::Protocol) returns
/// when its checks fail; it goes through [`RenderRejection`] and is counted
/// in the metrics like every other rejection, under its
/// [`label`](Self::label).
///
/// ```
/// use http::{HeaderName, HeaderValue, StatusCode};
/// use tower_upgrade::{CustomRejection, Rejection};
///
/// let rejection: Rejection = CustomRejection::new(StatusCode::BAD_REQUEST, "Linecount-Max-Line must be a number")
///     .header(HeaderName::from_static("linecount-max-line"), HeaderValue::from_static("1024"))
///     .label("linecount_bad_max_line")
///     .into();
/// assert_eq!(rejection.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(rejection.reason(), "Linecount-Max-Line must be a number");
/// assert_eq!(rejection.required_headers()["linecount-max-line"], "1024");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct CustomRejection(Box<Custom>);

/// Boxed so that `Result<_, Rejection>` stays small.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Custom {
    status: StatusCode,
    reason: Cow<'static, str>,
    headers: HeaderMap,
    label: &'static str,
}

impl CustomRejection {
    /// A refusal with `status` and `reason` (sent as the response body by
    /// [`PlainTextRejection`]), counted under the metrics label `custom`.
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Custom {
            status,
            reason: reason.into(),
            headers: HeaderMap::new(),
            label: "custom",
        }))
    }

    /// Adds a header the response must carry, whatever the renderer writes.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.append(name, value);
        self
    }

    /// The `reason` label of `tower_upgrade_rejected_total` (feature
    /// `metrics`). A `&'static str`, so a client cannot grow the number of
    /// series.
    pub fn label(mut self, label: &'static str) -> Self {
        self.0.label = label;
        self
    }

    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The reason, in words, sent as the response body.
    pub fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The metrics label.
    pub fn metrics_label(&self) -> &'static str {
        self.0.label
    }
}

impl fmt::Display for CustomRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.reason)
    }
}

impl std::error::Error for CustomRejection {}

impl From<CustomRejection> for Rejection {
    fn from(r: CustomRejection) -> Self {
        Rejection::Custom(r)
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
    /// See [`MethodNotAllowed`](crate::websocket::MethodNotAllowed).
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    MethodNotAllowed(crate::websocket::MethodNotAllowed),
    /// See [`MissingHost`](crate::websocket::MissingHost).
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    MissingHost(crate::websocket::MissingHost),
    /// See [`InvalidWebSocketKey`](crate::websocket::InvalidWebSocketKey).
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    InvalidWebSocketKey(crate::websocket::InvalidWebSocketKey),
    /// See [`MissingWebSocketVersion`](crate::websocket::MissingWebSocketVersion).
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    MissingWebSocketVersion(crate::websocket::MissingWebSocketVersion),
    /// See [`UnsupportedWebSocketVersion`](crate::websocket::UnsupportedWebSocketVersion).
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    UnsupportedWebSocketVersion(crate::websocket::UnsupportedWebSocketVersion),
    /// See [`ForbiddenOrigin`](crate::websocket::ForbiddenOrigin).
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    ForbiddenOrigin(crate::websocket::ForbiddenOrigin),
    /// See [`NoSupportedSubprotocol`](crate::websocket::NoSupportedSubprotocol).
    #[cfg(feature = "websocket")]
    #[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
    NoSupportedSubprotocol(crate::websocket::NoSupportedSubprotocol),
    /// See [`BodyTooLarge`].
    BodyTooLarge(BodyTooLarge),
    /// See [`InvalidBody`].
    InvalidBody(InvalidBody),
    /// See [`TooManyConnections`].
    TooManyConnections(TooManyConnections),
    /// See [`CustomRejection`]: a protocol's own refusal.
    Custom(CustomRejection),
}

macro_rules! each {
    ($self:ident, $r:ident => $e:expr) => {
        match $self {
            Rejection::UpgradeRequired($r) => $e,
            Rejection::ConnectionNotUpgradable($r) => $e,
            #[cfg(feature = "websocket")]
            Rejection::MethodNotAllowed($r) => $e,
            #[cfg(feature = "websocket")]
            Rejection::MissingHost($r) => $e,
            #[cfg(feature = "websocket")]
            Rejection::InvalidWebSocketKey($r) => $e,
            #[cfg(feature = "websocket")]
            Rejection::MissingWebSocketVersion($r) => $e,
            #[cfg(feature = "websocket")]
            Rejection::UnsupportedWebSocketVersion($r) => $e,
            #[cfg(feature = "websocket")]
            Rejection::ForbiddenOrigin($r) => $e,
            #[cfg(feature = "websocket")]
            Rejection::NoSupportedSubprotocol($r) => $e,
            Rejection::BodyTooLarge($r) => $e,
            Rejection::InvalidBody($r) => $e,
            Rejection::TooManyConnections($r) => $e,
            Rejection::Custom($r) => $e,
        }
    };
}

impl Rejection {
    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        each!(self, r => r.status())
    }

    /// The reason, in words, sent as the response body.
    pub fn reason(&self) -> &str {
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
            #[cfg(feature = "websocket")]
            Rejection::MethodNotAllowed(_) => {
                headers.insert(http::header::ALLOW, HeaderValue::from_static("GET"));
            }
            // RFC 6455 §4.2.2 item 4 and §4.4.
            #[cfg(feature = "websocket")]
            Rejection::MissingWebSocketVersion(_) | Rejection::UnsupportedWebSocketVersion(_) => {
                headers.insert(
                    http::header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
                if matches!(self, Rejection::UnsupportedWebSocketVersion(_)) {
                    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
                }
            }
            // RFC 9110 §15.6.4: Retry-After tells the client when to come back.
            Rejection::TooManyConnections(r) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(r.retry_after_secs));
            }
            Rejection::Custom(r) => headers.clone_from(&r.0.headers),
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
        let mut response = Response::new(Bytes::copy_from_slice(rejection.reason().as_bytes()));
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
        #[allow(unused_mut)] // without the websocket feature
        let mut table: Vec<(Rejection, u16, Option<(&str, &str)>)> = vec![
            (
                UpgradeRequired::new(HeaderValue::from_static("websocket")).into(),
                426,
                Some(("upgrade", "websocket")),
            ),
            (ConnectionNotUpgradable.into(), 501, None),
            (BodyTooLarge.into(), 413, None),
            (InvalidBody.into(), 400, None),
            (
                TooManyConnections::new(5).into(),
                503,
                Some(("retry-after", "5")),
            ),
            (
                CustomRejection::new(StatusCode::IM_A_TEAPOT, "short and stout")
                    .header(
                        HeaderName::from_static("x-spout"),
                        HeaderValue::from_static("1"),
                    )
                    .into(),
                418,
                Some(("x-spout", "1")),
            ),
        ];
        #[cfg(feature = "websocket")]
        {
            use crate::websocket::*;
            table.extend([
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
            ]);
        }
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
        let response = respond(&renderer, TooManyConnections::new(3).into());
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "3");
        assert_eq!(response.body().as_ref(), b"{}");
    }
}
