//! A protocol's own refusal: the one variant through which every protocol,
//! the crate's own and yours, plugs its rejection type into the core.

use std::any::Any;
use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

/// A refusal of a protocol's own making: any status, a reason, the headers
/// to send with it, and optionally the protocol's own typed cause. What a
/// [`Protocol`](crate::Protocol) returns when its checks fail; it goes
/// through [`RenderRejection`](super::RenderRejection) and is counted in
/// the metrics like every other rejection, under its [`label`](Self::label).
///
/// ```
/// use http::{HeaderName, HeaderValue, StatusCode};
/// use tower_upgrade::rejection::{ProtocolRejection, Rejection};
///
/// let rejection: Rejection = ProtocolRejection::new(StatusCode::BAD_REQUEST, "Linecount-Max-Line must be a number")
///     .header(HeaderName::from_static("linecount-max-line"), HeaderValue::from_static("1024"))
///     .label("linecount_bad_max_line")
///     .into();
/// assert_eq!(rejection.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(rejection.reason(), "Linecount-Max-Line must be a number");
/// assert_eq!(rejection.metrics_label(), "linecount_bad_max_line");
/// assert_eq!(rejection.required_headers(http::Version::HTTP_11)["linecount-max-line"], "1024");
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct ProtocolRejection(Box<Inner>);

/// Boxed so that `Result<_, Rejection>` stays small.
#[derive(Clone, Debug)]
struct Inner {
    status: StatusCode,
    reason: Cow<'static, str>,
    headers: HeaderMap,
    label: &'static str,
    cause: Option<Arc<dyn Any + Send + Sync>>,
    body: Option<Bytes>,
}

impl ProtocolRejection {
    /// A refusal with `status` and `reason` (sent as the response body by
    /// [`PlainTextRejection`](super::PlainTextRejection)), counted under the
    /// metrics label `custom`.
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Inner {
            status,
            reason: reason.into(),
            headers: HeaderMap::new(),
            label: "custom",
            cause: None,
            body: None,
        }))
    }

    /// Adds a header the response must carry, whatever the renderer writes.
    /// Over HTTP/2 the connection-specific ones (`Connection`, `Upgrade`,
    /// ...) are left out, as RFC 9113 §8.2.2 forbids them.
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

    /// Keeps the protocol's own typed cause, for
    /// [`downcast_ref`](Self::downcast_ref): how a protocol's rejection
    /// type (such as `websocket::WebSocketRejection`) travels through the
    /// core. It is not an [`Error::source`]: its words are the reason's,
    /// and an error chain would print them twice.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_upgrade::rejection::ProtocolRejection;
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum LineRefusal { TooLong }
    ///
    /// let rejection = ProtocolRejection::new(StatusCode::BAD_REQUEST, "line too long")
    ///     .cause(LineRefusal::TooLong);
    /// assert_eq!(rejection.downcast_ref::<LineRefusal>(), Some(&LineRefusal::TooLong));
    /// ```
    pub fn cause<T: Any + Send + Sync>(mut self, cause: T) -> Self {
        self.0.cause = Some(Arc::new(cause));
        self
    }

    /// Sends `body` instead of the reason: what a gateway relays of an
    /// upstream's refusal, with its `Content-Type` among the
    /// [`header`](Self::header)s. [`PlainTextRejection`](super::PlainTextRejection)
    /// writes it as is, and adds no `Content-Type` of its own; a renderer
    /// of your own finds it in [`Rejection::body`](super::Rejection::body).
    /// The caller bounds its size.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::header::CONTENT_TYPE;
    /// use http::{HeaderValue, StatusCode};
    /// use tower_upgrade::rejection::{ProtocolRejection, Rejection};
    ///
    /// let rejection: Rejection = ProtocolRejection::new(StatusCode::FORBIDDEN, "the upstream refused")
    ///     .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
    ///     .body(Bytes::from_static(br#"{"error":"banned"}"#))
    ///     .into();
    /// assert_eq!(rejection.body().unwrap().as_ref(), br#"{"error":"banned"}"#);
    /// ```
    pub fn body(mut self, body: Bytes) -> Self {
        self.0.body = Some(body);
        self
    }

    /// The body given with [`body`](Self::body), if any.
    pub fn body_bytes(&self) -> Option<&Bytes> {
        self.0.body.as_ref()
    }

    /// The typed cause given with [`cause`](Self::cause), if it is a `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.0.cause.as_deref()?.downcast_ref()
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

    pub(super) fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }
}

/// Equal when the response and the count would be: status, reason, label
/// and headers (the typed cause says the same thing in another form).
impl PartialEq for ProtocolRejection {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.0, &other.0);
        a.status == b.status
            && a.reason == b.reason
            && a.label == b.label
            && a.headers == b.headers
            && a.body == b.body
    }
}

impl Eq for ProtocolRejection {}

impl fmt::Display for ProtocolRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.reason)
    }
}

impl Error for ProtocolRejection {}
