//! The response future of [`Upgrade`](crate::Upgrade).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::Response;
use pin_project_lite::pin_project;

use super::body::ResponseBody;

pub(crate) type Switching = Pin<Box<dyn Future<Output = Response<Bytes>> + Send>>;

pin_project! {
    /// Response future of [`Upgrade`](crate::Upgrade).
    ///
    /// Not boxed for ordinary requests: it holds the inner service's future
    /// in place. Only an upgrade (which spawns a task anyway) is boxed.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Ready { response: Option<Response<Bytes>> },
        Switching { future: Switching },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn ready(response: Response<Bytes>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }

    pub(crate) fn switching(future: Switching) -> Self {
        Self {
            kind: Kind::Switching { future },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match self.project().kind.project() {
            KindProj::Inner { future } => {
                return Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(ResponseBody::inner)))
            }
            KindProj::Ready { response } => response
                .take()
                .expect("ResponseFuture polled after completion"),
            KindProj::Switching { future } => ready!(future.as_mut().poll(cx)),
        };
        Poll::Ready(Ok(response.map(ResponseBody::own)))
    }
}
