//! Serving HTTP/2 on the upgraded connection with hyper's server.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, Request, Response};
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tower::BoxError;

use super::preface::Preface;
use super::settings::ClientSettings;
use super::stream1::request_frames;
use crate::request_body::{hyper_service, RequestBody};
use crate::upgraded::Upgraded;

pub(crate) const HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Runs one h2c connection to its end: stream 1 answers the upgrade
/// request, later streams are served as usual, and a shutdown signal sends
/// GOAWAY and lets the streams in flight finish.
pub(crate) async fn serve_upgraded<S, B>(
    mut upgraded: Upgraded,
    service: S,
    preface_timeout: Duration,
) -> Result<(), BoxError>
where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // The layer checked the value before switching (H2c::declines).
    let settings = upgraded
        .parts()
        .headers
        .get(HTTP2_SETTINGS)
        .and_then(|value| ClientSettings::decode(value).ok())
        .unwrap_or_default();
    let body = upgraded.take_body();
    let stream1 = request_frames(upgraded.parts(), &body);
    let shutdown = upgraded.shutdown_signal();
    let io = TokioIo::new(Preface::new(upgraded, settings, stream1, preface_timeout));

    let mut builder = http2::Builder::new(TokioExecutor::new());
    // RFC 8441: WebSocket over this connection works as it does over TLS.
    builder.timer(TokioTimer::new()).enable_connect_protocol();
    let connection = builder.serve_connection(io, hyper_service(service));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.wait() => {
            // GOAWAY; the streams already open run to their end.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    // A client that breaks the protocol (a bad preface, say) has had its
    // GOAWAY; that is the client's failure, not the server's.
    if let Err(error) = result {
        tracing::debug!(%error, "h2c connection ended with an error");
    }
    Ok(())
}
