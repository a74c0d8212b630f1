//! [`HttpService`]: the bound every HTTP service served by this crate's own
//! servers meets, written once.

use bytes::Bytes;
use http::{Request, Response};
use tower::{BoxError, Service};

use super::RequestBody;

/// What this crate's HTTP servers ([`serve`](crate::serve()), the h2c
/// connection) run: a `tower::Service<Request<RequestBody>>` that can be
/// cloned into each connection's task (`Clone + Send + 'static`), whose
/// future is `Send`, whose error converts into a [`BoxError`], and whose
/// response body has `Bytes` data. An axum `Router` is one.
///
/// Every such service is an `HttpService`, by a blanket impl; like
/// [`UpgradeHandler`](crate::UpgradeHandler), the trait only names the
/// bound, and is sealed so that it can be relaxed later without breaking
/// anyone.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower_upgrade::serve::HttpService;
///
/// fn is_servable(_: &impl HttpService) {}
/// is_servable(&Router::<()>::new().route("/", get(|| async { "hello" })));
/// ```
pub trait HttpService:
    Service<
        Request<RequestBody>,
        Response = Response<<Self as sealed::Sealed>::Body>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    >
    + Clone
    + Send
    + 'static
    + sealed::Sealed
{
}

impl<S, B> HttpService for S
where
    S: Service<
            Request<RequestBody>,
            Response = Response<B>,
            Error: Into<BoxError>,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
    B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
{
}

pub(crate) mod sealed {
    use super::*;

    /// Implemented by every service of `Request<RequestBody>` whose
    /// response body suits hyper, and by nothing else; its `Body` names
    /// that body, so that the bound needs no second type parameter.
    pub trait Sealed {
        /// The response body.
        type Body: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static;
    }

    impl<S, B> Sealed for S
    where
        S: Service<Request<RequestBody>, Response = Response<B>>,
        B: http_body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
    {
        type Body = B;
    }
}
