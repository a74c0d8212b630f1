//! One accepted connection, from its first byte to its end: the PROXY
//! protocol header if one is required, the head deadline, the HTTP/2 idle
//! timeout and the graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::conn_io::{ConnIo, Phase};
use super::http2_idle::Streams;
#[cfg(feature = "proxy-protocol")]
use super::proxy_protocol;
use super::timeouts::{TimeoutKind, Timeouts};
use super::{hyper_service, HttpService, RequestBody};
use crate::peer::PeerAddr;

/// How long a connection sent GOAWAY for idleness may take to close: a
/// graceful GOAWAY waits for the acknowledgement of a PING (RFC 9113 §6.8)
/// before the last GOAWAY; a live client sends it within a round trip, one
/// that does not is closed after this.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What every connection of one `serve` shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) builder: auto::Builder<TokioExecutor>,
    pub(crate) timeouts: Timeouts,
    /// Whether every connection starts with a PROXY protocol header.
    #[cfg(feature = "proxy-protocol")]
    pub(crate) proxy_protocol: bool,
}

/// Serves one connection to its end, or until the server drops it at its
/// shutdown deadline. `shutdown` is cancelled when the server shuts down.
pub(crate) async fn run<S: HttpService>(
    #[cfg_attr(not(feature = "proxy-protocol"), allow(unused_mut))] mut stream: TcpStream,
    #[cfg_attr(not(feature = "proxy-protocol"), allow(unused_mut))] mut peer: SocketAddr,
    service: S,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    // One deadline from the accept: the PROXY header, the first bytes and
    // the first request head all fit in it.
    let deadline = Instant::now() + shared.timeouts.header;
    #[cfg_attr(not(feature = "proxy-protocol"), allow(unused_mut))]
    let mut prefix = Bytes::new();
    #[cfg(feature = "proxy-protocol")]
    if shared.proxy_protocol {
        let read = tokio::select! {
            read = tokio::time::timeout_at(deadline, proxy_protocol::read(&mut stream)) => read,
            () = shutdown.cancelled() => return,
        };
        match read {
            Ok(Ok(header)) => {
                if let Some(source) = header.source {
                    peer = source;
                }
                prefix = header.rest;
            }
            Ok(Err(error)) => {
                crate::metrics::proxy_protocol_rejected();
                tracing::debug!(%peer, %error, "closing a connection without a valid PROXY protocol header");
                return;
            }
            Err(_) => {
                crate::metrics::proxy_protocol_rejected();
                TimeoutKind::Header.record();
                tracing::debug!(%peer, "closing a connection whose PROXY protocol header did not come in time");
                return;
            }
        }
    }

    let phase = Arc::new(Phase::default());
    let streams = Streams::new();
    let seen = phase.clone();
    // The peer address, for trusted proxies and per-client limits.
    let service = tower::ServiceExt::map_request(service, move |mut req: Request<RequestBody>| {
        seen.request();
        req.extensions_mut().insert(PeerAddr(peer));
        req
    });
    let io = ConnIo::new(stream, prefix, phase.clone(), deadline);
    let connection = shared
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), hyper_service(streams.track(service)));
    tokio::pin!(connection);

    let idle = async {
        match shared.timeouts.http2.idle() {
            Some(timeout) => {
                phase.http2().await;
                streams.idle(timeout).await;
            }
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = idle => {
            TimeoutKind::Http2Idle.record();
            tracing::debug!(%peer, "sending GOAWAY to an idle HTTP/2 connection");
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = tokio::time::timeout(IDLE_CLOSE_GRACE, connection.as_mut()) => {
                    result.unwrap_or(Ok(()))
                }
                () = shutdown.cancelled() => Ok(()),
            }
        }
        () = shutdown.cancelled() => {
            // GOAWAY for HTTP/2, `Connection: close` on the next HTTP/1
            // response; requests in flight finish. At the server's
            // deadline this task is dropped, and the connection with it.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        if let Some(kind) = timeout_kind(&*error, phase.is_http2()) {
            kind.record();
        }
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// Which of hyper's own timers ended the connection, if one did: the HTTP/1
/// header read timeout, or the HTTP/2 keep-alive. (The head deadline of
/// `ConnIo` counts itself.)
fn timeout_kind(error: &(dyn std::error::Error + 'static), http2: bool) -> Option<TimeoutKind> {
    let hyper = error.downcast_ref::<hyper::Error>()?;
    match (hyper.is_timeout(), http2) {
        (false, _) => None,
        (true, false) => Some(TimeoutKind::Header),
        (true, true) => Some(TimeoutKind::Http2KeepAlive),
    }
}
