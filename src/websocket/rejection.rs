//! Why a WebSocket handshake was refused (RFC 6455 §4.2.1): the protocol's
//! own rejection type. The core holds it in [`Rejection::Protocol`], where
//! it is rendered and counted like every other cause, and gives it back
//! with [`Rejection::downcast_ref`].
//!
//! The causes, and the `reason` label each is counted under in
//! `tower_upgrade_rejected_total{protocol="websocket"}` (feature
//! `metrics`; each series exists at 0 from the moment the layer is built):
//!
//! | cause | status | `reason` |
//! |---|---|---|
//! | [`MethodNotAllowed`](WebSocketRejection::MethodNotAllowed) | 405, with `Allow: GET` | `method_not_allowed` |
//! | [`MissingHost`](WebSocketRejection::MissingHost) | 400 | `missing_host` |
//! | [`InvalidKey`](WebSocketRejection::InvalidKey) | 400 | `invalid_websocket_key` |
//! | [`MissingVersion`](WebSocketRejection::MissingVersion) | 400, with `Sec-WebSocket-Version: 13` | `missing_websocket_version` |
//! | [`UnsupportedVersion`](WebSocketRejection::UnsupportedVersion) | 426, with `Sec-WebSocket-Version: 13` | `unsupported_websocket_version` |
//! | [`ForbiddenOrigin`](WebSocketRejection::ForbiddenOrigin) | 403 | `forbidden_origin` |
//! | [`NoSupportedSubprotocol`](WebSocketRejection::NoSupportedSubprotocol) | 400 | `no_supported_subprotocol` |
//! | [`SubprotocolsTooLarge`](WebSocketRejection::SubprotocolsTooLarge) | 431, naming the field | `header_too_large` |
//! | [`ExtensionsTooLarge`](WebSocketRejection::ExtensionsTooLarge) | 431, naming the field | `header_too_large` |
//!
//! ```
//! use tower_upgrade::rejection::Rejection;
//! use tower_upgrade::websocket::WebSocketRejection;
//!
//! fn is_cross_site(rejection: &Rejection) -> bool {
//!     rejection.downcast_ref::<WebSocketRejection>() == Some(&WebSocketRejection::ForbiddenOrigin)
//! }
//! ```

use std::fmt;

use http::header::{self, HeaderValue, CONNECTION, UPGRADE};
use http::StatusCode;

use crate::rejection::{ProtocolRejection, Rejection};

/// Why a WebSocket handshake was refused: one variant per cause, each with
/// its status, its reason in words and its metrics label.
///
/// ```
/// use tower_upgrade::websocket::WebSocketRejection;
///
/// let refused = WebSocketRejection::UnsupportedVersion;
/// assert_eq!(refused.status(), 426);
/// assert_eq!(refused.metrics_label(), "unsupported_websocket_version");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebSocketRejection {
    /// A WebSocket handshake must be a `GET` (RFC 6455 §4.1); HTTP/2
    /// extended CONNECT uses `CONNECT` (RFC 8441 §4). `405` with `Allow: GET`.
    MethodNotAllowed,
    /// The request names no host (RFC 6455 §4.2.1 item 2). `400`.
    MissingHost,
    /// `Sec-WebSocket-Key` is missing, repeated, or does not decode to
    /// exactly 16 bytes of base64 (RFC 6455 §4.2.1 item 5). `400`.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or repeated (RFC 6455 §4.2.1
    /// item 6). `400`, with `Sec-WebSocket-Version: 13`.
    MissingVersion,
    /// The client speaks a WebSocket version other than 13. RFC 6455 §4.4:
    /// `426 Upgrade Required` with `Sec-WebSocket-Version: 13` (and, over
    /// HTTP/1.1, `Upgrade: websocket`).
    UnsupportedVersion,
    /// The `Origin` is not allowed by the [`OriginPolicy`](crate::websocket::OriginPolicy):
    /// the defence against cross-site WebSocket hijacking (RFC 6455 §10.2). `403`.
    ForbiddenOrigin,
    /// The server requires a subprotocol and the client offered none that
    /// the server supports (RFC 6455 §4.2.2). `400`.
    NoSupportedSubprotocol,
    /// `Sec-WebSocket-Protocol`, all its lines together, is longer than
    /// [`UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES`](crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES)
    /// (4 KiB). RFC 6585 §5: `431`, naming the field, over HTTP/1.1 and
    /// HTTP/2 alike; the offers are not read in part.
    SubprotocolsTooLarge,
    /// `Sec-WebSocket-Extensions`, all its lines together, is longer than
    /// [`UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES`](crate::UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES)
    /// (4 KiB; browsers send under 100 bytes). RFC 6585 §5: `431`, naming
    /// the field; the offers are not read in part.
    ExtensionsTooLarge,
}

impl WebSocketRejection {
    /// Every cause, in declaration order.
    #[cfg(test)]
    pub(crate) const ALL: [Self; 9] = [
        Self::MethodNotAllowed,
        Self::MissingHost,
        Self::InvalidKey,
        Self::MissingVersion,
        Self::UnsupportedVersion,
        Self::ForbiddenOrigin,
        Self::NoSupportedSubprotocol,
        Self::SubprotocolsTooLarge,
        Self::ExtensionsTooLarge,
    ];

    /// The metrics labels of [`ALL`](Self::ALL), each once: the `reason`
    /// series WebSocket registers at 0 (`Protocol::rejection_labels`).
    pub(crate) const METRICS_LABELS: [&'static str; 8] = [
        "method_not_allowed",
        "missing_host",
        "invalid_websocket_key",
        "missing_websocket_version",
        "unsupported_websocket_version",
        "forbidden_origin",
        "no_supported_subprotocol",
        "header_too_large",
    ];

    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        self.row().0
    }

    /// The `reason` label of `tower_upgrade_rejected_total` (feature
    /// `metrics`).
    pub fn metrics_label(&self) -> &'static str {
        self.row().1
    }

    /// The reason, in words, sent as the response body.
    pub fn reason(&self) -> &'static str {
        self.row().2
    }

    /// Each cause's status, metrics label and reason, written once.
    fn row(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "a WebSocket handshake must use the GET method",
            ),
            Self::MissingHost => (
                S::BAD_REQUEST,
                "missing_host",
                "the WebSocket handshake has no Host header",
            ),
            Self::InvalidKey => (
                S::BAD_REQUEST,
                "invalid_websocket_key",
                "Sec-WebSocket-Key must be present once and be 16 bytes encoded in base64",
            ),
            Self::MissingVersion => (
                S::BAD_REQUEST,
                "missing_websocket_version",
                "Sec-WebSocket-Version must be present once",
            ),
            Self::UnsupportedVersion => (
                S::UPGRADE_REQUIRED,
                "unsupported_websocket_version",
                "unsupported WebSocket version: this server speaks version 13",
            ),
            Self::ForbiddenOrigin => (
                S::FORBIDDEN,
                "forbidden_origin",
                "the request's Origin is not allowed to open a WebSocket here",
            ),
            Self::NoSupportedSubprotocol => (
                S::BAD_REQUEST,
                "no_supported_subprotocol",
                "none of the offered WebSocket subprotocols is supported",
            ),
            // The label of the core's `HeaderTooLarge`: one series for
            // every negotiation field over its bound, the field in the body.
            Self::SubprotocolsTooLarge => (
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header_too_large",
                "the Sec-WebSocket-Protocol header field is too large (over 4096 bytes)",
            ),
            Self::ExtensionsTooLarge => (
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header_too_large",
                "the Sec-WebSocket-Extensions header field is too large (over 4096 bytes)",
            ),
        }
    }
}

impl fmt::Display for WebSocketRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for WebSocketRejection {}

impl From<WebSocketRejection> for Rejection {
    fn from(cause: WebSocketRejection) -> Self {
        let mut rejection =
            ProtocolRejection::new(cause.status(), cause.reason()).label(cause.metrics_label());
        match cause {
            // RFC 9110 §15.5.6: a 405 MUST carry Allow.
            WebSocketRejection::MethodNotAllowed => {
                rejection = rejection.header(header::ALLOW, HeaderValue::from_static("GET"));
            }
            // RFC 6455 §4.2.2 item 4 and §4.4. The 426 also names the
            // protocol to upgrade to; the core leaves `Upgrade` and
            // `Connection` out over HTTP/2 (RFC 9113 §8.2.2).
            WebSocketRejection::MissingVersion | WebSocketRejection::UnsupportedVersion => {
                rejection = rejection.header(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                );
                if cause == WebSocketRejection::UnsupportedVersion {
                    rejection = rejection
                        .header(UPGRADE, HeaderValue::from_static("websocket"))
                        .header(CONNECTION, HeaderValue::from_static("upgrade"));
                }
            }
            _ => {}
        }
        rejection.cause(cause).into()
    }
}

#[cfg(test)]
mod tests {
    use super::WebSocketRejection as W;
    use crate::rejection::tests::assert_renders;
    use crate::rejection::Rejection;

    /// Fails to compile when a cause is added: add it to `ALL` too.
    #[allow(dead_code)]
    fn all_is_every_cause(cause: W) {
        match cause {
            W::MethodNotAllowed
            | W::MissingHost
            | W::InvalidKey
            | W::MissingVersion
            | W::UnsupportedVersion
            | W::ForbiddenOrigin
            | W::NoSupportedSubprotocol
            | W::SubprotocolsTooLarge
            | W::ExtensionsTooLarge => {}
        }
    }

    #[test]
    fn every_cause_renders_with_its_status_label_and_required_headers() {
        let cases = [
            (
                W::MethodNotAllowed,
                405,
                "method_not_allowed",
                Some(("allow", "GET")),
            ),
            (W::MissingHost, 400, "missing_host", None),
            (W::InvalidKey, 400, "invalid_websocket_key", None),
            (
                W::MissingVersion,
                400,
                "missing_websocket_version",
                Some(("sec-websocket-version", "13")),
            ),
            (
                W::UnsupportedVersion,
                426,
                "unsupported_websocket_version",
                Some(("sec-websocket-version", "13")),
            ),
            (W::ForbiddenOrigin, 403, "forbidden_origin", None),
            (
                W::NoSupportedSubprotocol,
                400,
                "no_supported_subprotocol",
                None,
            ),
            (W::SubprotocolsTooLarge, 431, "header_too_large", None),
            (W::ExtensionsTooLarge, 431, "header_too_large", None),
        ];
        assert_eq!(cases.len(), W::ALL.len(), "a cause without its case");
        for (cause, status, label, header) in cases {
            let rejection = Rejection::from(cause);
            assert_eq!(rejection.downcast_ref::<W>(), Some(&cause));
            assert_renders(rejection, status, label, header);
        }
        let mut labels: Vec<&str> = W::ALL.iter().map(W::metrics_label).collect();
        labels.dedup();
        assert_eq!(labels, W::METRICS_LABELS, "METRICS_LABELS lags ALL");
        // RFC 6455 §4.4: over HTTP/1.1 the 426 names the protocol.
        let headers =
            Rejection::from(W::UnsupportedVersion).required_headers(http::Version::HTTP_11);
        assert_eq!(headers["upgrade"], "websocket");
    }
}
