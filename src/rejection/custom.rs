//! A protocol's own refusal.

use std::borrow::Cow;
use std::fmt;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

/// A refusal of a protocol's own making: any status, a reason, and the
/// headers to send with it. What a [`Protocol`](crate::Protocol) returns
/// when its checks fail; it goes through [`RenderRejection`](crate::RenderRejection)
/// and is counted in the metrics like every other rejection, under its
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
/// assert_eq!(rejection.metrics_label(), "linecount_bad_max_line");
/// assert_eq!(rejection.required_headers(http::Version::HTTP_11)["linecount-max-line"], "1024");
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
    /// [`PlainTextRejection`](crate::PlainTextRejection)), counted under the
    /// metrics label `custom`.
    pub fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Custom {
            status,
            reason: reason.into(),
            headers: HeaderMap::new(),
            label: "custom",
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

impl fmt::Display for CustomRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.reason)
    }
}

impl std::error::Error for CustomRejection {}
