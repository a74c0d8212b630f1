//! [`RequestBody`]: the body of requests that this crate's own HTTP servers
//! (the h2c connection, [`serve`](crate::serve())) hand to your service.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::service::TowerToHyperService;
use tower::util::MapRequest;
use tower::{BoxError, ServiceExt};

/// The body of a request received by this crate's HTTP servers: the h2c
/// connection of `h2c::H2c` and `serve`.
///
/// It streams the bytes as they arrive, and implements [`http_body::Body`]
/// with `Bytes` data, so an axum `Router` or any `tower::Service<Request<B>>`
/// generic over the body takes it as is.
///
/// ```
/// use http_body::Body;
/// use tower_upgrade::serve::RequestBody;
///
/// fn is_body<B: Body<Data = bytes::Bytes>>() {}
/// is_body::<RequestBody>();
/// ```
#[derive(Debug)]
pub struct RequestBody(Incoming);

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.0).poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

type IntoRequestBody = fn(Request<Incoming>) -> Request<RequestBody>;

/// A user's `tower::Service<Request<RequestBody>>` as the hyper service the
/// connection drivers want; no boxing, the request is only re-wrapped.
pub(crate) type HyperService<S> = TowerToHyperService<MapRequest<S, IntoRequestBody>>;

pub(crate) fn hyper_service<S>(service: S) -> HyperService<S>
where
    S: tower::Service<Request<RequestBody>>,
{
    let wrap: IntoRequestBody = |req| req.map(RequestBody);
    TowerToHyperService::new(service.map_request(wrap))
}
