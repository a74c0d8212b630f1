//! Turning a [`Rejection`] into the response sent to the client.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, Version};

use super::headers::strip_connection_specific;
use super::Rejection;

/// Turns a [`Rejection`] into the response sent to the client.
///
/// Whatever it returns, the layer adds the headers of
/// [`Rejection::required_headers`] that are missing, removes those illegal
/// in the request's HTTP version (over HTTP/2, `Connection`, `Upgrade` and
/// the other connection-specific fields: RFC 9113 §8.2.2), and puts the
/// rejection in the response's extensions. A closure
/// `Fn(&Rejection) -> Response<Bytes>` is a `RenderRejection`.
///
/// ```
/// use bytes::Bytes;
/// use http::Response;
/// use tower_upgrade::rejection::Rejection;
/// use tower_upgrade::UpgradeLayer;
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
/// use tower_upgrade::rejection::PlainTextRejection;
/// use tower_upgrade::UpgradeLayer;
///
/// let layer = UpgradeLayer::new().render_rejection(PlainTextRejection);
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainTextRejection;

impl RenderRejection for PlainTextRejection {
    fn render(&self, rejection: &Rejection) -> Response<Bytes> {
        if let Some(body) = rejection.body() {
            // Its own Content-Type, if any, is among the required headers.
            let mut response = Response::new(body.clone());
            *response.status_mut() = rejection.status();
            return response;
        }
        let mut response = Response::new(Bytes::copy_from_slice(rejection.reason().as_bytes()));
        *response.status_mut() = rejection.status();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

impl Rejection {
    /// The body a protocol's refusal carries in place of its reason
    /// ([`ProtocolRejection::body`](super::ProtocolRejection::body)), such
    /// as an upstream's answer relayed by a gateway.
    ///
    /// ```
    /// use tower_upgrade::rejection::{BodyTooLarge, Rejection};
    ///
    /// assert!(Rejection::from(BodyTooLarge::default()).body().is_none());
    /// ```
    pub fn body(&self) -> Option<&Bytes> {
        match self {
            Rejection::Protocol(r) => r.body_bytes(),
            _ => None,
        }
    }
}

/// Renders `rejection` with `renderer`, then makes it correct for a request
/// of `version`: the required headers, none that version forbids, and the
/// rejection in the extensions.
pub(crate) fn respond(
    renderer: &impl RenderRejection,
    rejection: Rejection,
    version: Version,
) -> Response<Bytes> {
    let mut response = renderer.render(&rejection);
    for (name, value) in rejection.required_headers(version) {
        if let Some(name) = name {
            response.headers_mut().entry(name).or_insert(value);
        }
    }
    if version >= Version::HTTP_2 {
        strip_connection_specific(response.headers_mut());
    }
    response.extensions_mut().insert(rejection);
    response
}
