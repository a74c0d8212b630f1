//! [`Upgrade`]: the middleware service.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body::Body;
use tower::Service;

use crate::config::Config;
use crate::detect::detect;
use crate::metrics;
use crate::protocol::Offer;
use crate::rejection::{self, PlainTextRejection, RenderRejection, UpgradeRequired};
use crate::response::{ResponseBody, ResponseFuture};
use crate::switch::switch;

/// Middleware that accepts protocol upgrades; built by
/// [`UpgradeLayer`](crate::UpgradeLayer).
///
/// ```
/// use tower::{service_fn, Layer};
/// use tower_upgrade::UpgradeLayer;
///
/// let inner = service_fn(|_: http::Request<String>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("hi")))
/// });
/// let service = UpgradeLayer::new().layer(inner);
/// let inner = service.get_ref();
/// # let _ = inner;
/// ```
#[derive(Clone)]
pub struct Upgrade<S, R = PlainTextRejection> {
    pub(crate) inner: S,
    pub(crate) config: Arc<Config>,
    pub(crate) renderer: R,
}

impl<S, R> Upgrade<S, R> {
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes the middleware, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: std::fmt::Debug, R> std::fmt::Debug for Upgrade<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgrade")
            .field("inner", &self.inner)
            .field("offered", &self.config.offered)
            .finish_non_exhaustive()
    }
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Upgrade<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: RenderRejection,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<tower::BoxError>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let selected = detect(&req).and_then(|via| {
            let body_len = req.body().size_hint().exact();
            let (index, token) =
                self.config
                    .registry
                    .select(&req, via, |registration, token| {
                        let offer = Offer {
                            token,
                            via,
                            headers: req.headers(),
                            body_len,
                            max_request_body: self.config.max_request_body,
                        };
                        match registration.protocol.declines(&offer) {
                            None => true,
                            Some(reason) => {
                                tracing::debug!(protocol = token, reason, "upgrade declined");
                                false
                            }
                        }
                    })?;
            Some((via, index, token.to_owned()))
        });
        match selected {
            Some((via, index, token)) => ResponseFuture::switching(Box::pin(switch(
                self.config.clone(),
                self.renderer.clone(),
                via,
                index,
                token,
                req,
            ))),
            None if self.config.require_upgrade => {
                ResponseFuture::ready(self.reject_required(req.version()))
            }
            None => ResponseFuture::inner(self.inner.call(req)),
        }
    }
}

impl<S, R: RenderRejection> Upgrade<S, R> {
    fn reject_required(&self, version: Version) -> Response<Bytes> {
        let rejection = UpgradeRequired::new(self.config.offered.clone()).into();
        metrics::rejected(metrics::NO_PROTOCOL, &rejection);
        rejection::respond(&self.renderer, rejection, version)
    }
}
