//! The open streams of an HTTP/2 connection, for its idle timeout: a
//! connection with no open stream for the timeout is sent GOAWAY, as nginx
//! does after `keepalive_timeout` (RFC 9113 §9.1: "Servers are encouraged to
//! maintain open connections for as long as possible but are permitted to
//! terminate idle connections if necessary").
//!
//! A stream counts as open from its request to the end of its response body,
//! and for as long as the request's extensions live: an extended CONNECT
//! (RFC 8441) keeps them in its [`Upgraded`](crate::Upgraded), so a
//! WebSocket over HTTP/2 keeps its connection busy.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::upgraded::HeldByConnection;
use tokio::sync::Notify;

/// The count of open streams of one connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Streams(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    open: AtomicUsize,
    /// Woken when the count goes from or to zero.
    changed: Notify,
}

impl Streams {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Counts one more open stream until the guard (and its clones) drop.
    fn open(&self) -> StreamGuard {
        if self.0.open.fetch_add(1, Ordering::AcqRel) == 0 {
            self.0.changed.notify_waiters();
        }
        StreamGuard(self.0.clone())
    }

    /// Resolves once no stream has been open for `timeout` in a row.
    pub(crate) async fn idle(&self, timeout: Duration) {
        loop {
            let changed = self.0.changed.notified();
            tokio::pin!(changed);
            // Registered before the count is read, so no change is missed.
            changed.as_mut().enable();
            if self.0.open.load(Ordering::Acquire) == 0 {
                tokio::select! {
                    () = tokio::time::sleep(timeout) => return,
                    () = changed => {}
                }
            } else {
                changed.await;
            }
        }
    }

    /// Wraps `service` so that each request counts as an open stream.
    pub(crate) fn track<S>(&self, service: S) -> Track<S> {
        Track {
            inner: service,
            streams: self.clone(),
        }
    }
}

/// One open stream (a clone is one more).
#[derive(Debug)]
struct StreamGuard(Arc<Inner>);

impl Clone for StreamGuard {
    fn clone(&self) -> Self {
        Streams(self.0.clone()).open()
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.changed.notify_waiters();
        }
    }
}

/// A service whose requests count as open streams until their response
/// body ends.
#[derive(Clone, Debug)]
pub(crate) struct Track<S> {
    inner: S,
    streams: Streams,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for Track<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<TrackedBody<ResBody>>;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let guard = self.streams.open();
        // Held by the upgraded connection, if the request switches
        // protocols (RFC 8441), for as long as it lives.
        req.extensions_mut()
            .insert(HeldByConnection::new(guard.clone()));
        TrackFuture {
            inner: self.inner.call(req),
            guard: Some(guard),
        }
    }
}

pin_project! {
    /// The response future of [`Track`].
    #[derive(Debug)]
    pub(crate) struct TrackFuture<F> {
        #[pin]
        inner: F,
        guard: Option<StreamGuard>,
    }
}

impl<F, B, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<TrackedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|inner| TrackedBody {
            inner,
            _guard: guard,
        })))
    }
}

pin_project! {
    /// A response body that keeps its stream counted as open until it is
    /// dropped.
    #[derive(Debug)]
    pub(crate) struct TrackedBody<B> {
        #[pin]
        inner: B,
        _guard: Option<StreamGuard>,
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_only_counts_time_without_an_open_stream() {
        let streams = Streams::new();
        let guard = streams.open();
        let copy = guard.clone();
        drop(guard);
        let idle = streams.idle(Duration::from_secs(60));
        tokio::pin!(idle);
        // A stream is still open (the clone): an hour passes without idling.
        tokio::select! {
            () = &mut idle => panic!("idle with a stream open"),
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
        drop(copy);
        let started = tokio::time::Instant::now();
        idle.await;
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }
}
