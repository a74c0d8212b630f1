//! Serving HTTP/2 on the upgraded connection with hyper's server.

use std::time::Duration;

use http::{HeaderName, Request};
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tower::BoxError;

use super::preface::Preface;
use super::settings::ClientSettings;
use super::stream1::request_frames;
use super::Timeouts;
use crate::peer::PeerAddr;
use crate::serve::http2_idle::Streams;
use crate::serve::{hyper_service, HttpService, RequestBody};
use crate::upgraded::Upgraded;

/// How long a connection sent GOAWAY for idleness may take to close: a live
/// client acknowledges the GOAWAY's PING (RFC 9113 §6.8) within a round trip.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(5);

pub(crate) const HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Runs one h2c connection to its end: stream 1 answers the upgrade
/// request, later streams are served as usual, and a shutdown signal sends
/// GOAWAY and lets the streams in flight finish.
pub(crate) async fn serve_upgraded<S: HttpService>(
    mut upgraded: Upgraded,
    service: S,
    timeouts: Timeouts,
) -> Result<(), BoxError> {
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
    // The TCP peer (from `serve`, or a test), for every request on the
    // connection as for the one that upgraded it.
    let peer = upgraded.parts().extensions.get::<PeerAddr>().copied();
    let service = tower::ServiceExt::map_request(service, move |mut req: Request<RequestBody>| {
        if let Some(peer) = peer {
            req.extensions_mut().insert(peer);
        }
        req
    });
    let io = TokioIo::new(Preface::new(upgraded, settings, stream1, timeouts.preface));

    let mut builder = http2::Builder::new(TokioExecutor::new());
    // RFC 8441: WebSocket over this connection works as it does over TLS.
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(timeouts.http2.ping_interval())
        .keep_alive_timeout(timeouts.http2.ping_timeout())
        .enable_connect_protocol();
    let streams = Streams::new();
    let connection = builder.serve_connection(io, hyper_service(streams.track(service)));
    tokio::pin!(connection);
    let idle = async {
        match timeouts.http2.idle() {
            Some(timeout) => streams.idle(timeout).await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = idle => {
            crate::metrics::serve_timeout("http2_idle");
            tracing::debug!("sending GOAWAY to an idle h2c connection");
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = tokio::time::timeout(IDLE_CLOSE_GRACE, connection.as_mut()) => {
                    result.unwrap_or(Ok(()))
                }
                () = shutdown.wait() => Ok(()),
            }
        }
        () = shutdown.wait() => {
            // GOAWAY; the streams already open run to their end.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    // A client that breaks the protocol (a bad preface, say) has had its
    // GOAWAY; that is the client's failure, not the server's.
    if let Err(error) = result {
        if error.is_timeout() {
            crate::metrics::serve_timeout("http2_keepalive");
        }
        tracing::debug!(%error, "h2c connection ended with an error");
    }
    Ok(())
}
