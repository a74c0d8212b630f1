//! [`serve`]: an accept loop in the spirit of `axum::serve`, that speaks
//! HTTP/1.1 with upgrades, prior-knowledge h2c and HTTP/2 extended CONNECT,
//! and shuts down gracefully, upgraded connections included; every
//! connection has deadlines, and can start with a PROXY protocol header.

mod conn_io;
mod connection;
mod proxy_protocol;
mod timeouts;

use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::BoxError;

use crate::lifecycle::Connections;
use crate::request_body::RequestBody;
use connection::Shared;
use timeouts::Timeouts;
pub use timeouts::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP2_IDLE_TIMEOUT, DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL,
    DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT,
};

/// How long a graceful shutdown waits for connections to finish by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

type Signal = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves `service` on every connection `listener` accepts.
///
/// Each connection speaks HTTP/1.1 or HTTP/2, told apart by its first bytes,
/// so HTTP/2 clients with prior knowledge (`curl --http2-prior-knowledge`,
/// `h2load`) are served without any upgrade. HTTP/1.1 connections can be
/// upgraded (the [`UpgradeLayer`](crate::UpgradeLayer) needs that), and HTTP/2
/// connections accept extended CONNECT (RFC 8441), so WebSocket over HTTP/2
/// works.
///
/// The future resolves with the error when the listener fails (after
/// shutting down what it served, as on a graceful shutdown), or with `Ok`
/// after a graceful shutdown. Errors about one connection are skipped; when
/// the process is out of file descriptors or memory, accepting pauses for a
/// second, and a shutdown signal still ends the pause.
///
/// Nothing a client does holds a connection open for long unless it is
/// being served:
/// - the first bytes and the whole first request head (or the HTTP/2
///   preface) must arrive within the
///   [`header_read_timeout`](Serve::header_read_timeout) of the accept (30 s),
///   and each later HTTP/1 request head within that time of its first byte
///   (an idle HTTP/1 keep-alive connection is closed after it too);
/// - an HTTP/2 connection is sent PINGs
///   ([`http2_keep_alive_interval`](Serve::http2_keep_alive_interval)) and
///   closed when one goes unanswered, and is sent GOAWAY after
///   [`http2_idle_timeout`](Serve::http2_idle_timeout) (60 s) without an
///   open stream. A WebSocket over HTTP/2 keeps its stream open.
///
/// Behind a load balancer that sends the PROXY protocol (HAProxy
/// `send-proxy-v2`, AWS NLB), [`proxy_protocol`](Serve::proxy_protocol)
/// reads the client's address from it.
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use tower_upgrade::{h2c::H2c, UpgradeLayer};
///
/// # async fn run() -> std::io::Result<()> {
/// let routes: Router = Router::new().route("/", get(|| async { "hello" }));
/// let layer = UpgradeLayer::new().h2c(H2c::new(routes.clone()));
/// let upgraded = layer.connections();
/// let app = routes.layer(layer);
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// tower_upgrade::serve(listener, app)
///     .upgraded(upgraded)
///     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap() })
///     .await
/// # }
/// ```
pub fn serve<S, B>(listener: TcpListener, service: S) -> Serve<S>
where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    Serve {
        listener,
        service,
        upgraded: Vec::new(),
        signal: None,
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        timeouts: Timeouts::default(),
        proxy_protocol: false,
    }
}

/// The server [`serve`] builds; `.await` it to run.
///
/// ```no_run
/// use std::time::Duration;
/// use axum::{routing::get, Router};
///
/// # async fn run() -> std::io::Result<()> {
/// let app: Router = Router::new().route("/", get(|| async { "hello" }));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// tower_upgrade::serve(listener, app)
///     .shutdown_timeout(Duration::from_secs(5))
///     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap() })
///     .await
/// # }
/// ```
#[must_use = "a server does nothing until awaited"]
pub struct Serve<S> {
    listener: TcpListener,
    service: S,
    upgraded: Vec<Connections>,
    signal: Option<Signal>,
    shutdown_timeout: Duration,
    timeouts: Timeouts,
    proxy_protocol: bool,
}

impl<S> std::fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("graceful", &self.signal.is_some())
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("timeouts", &self.timeouts)
            .field("proxy_protocol", &self.proxy_protocol)
            .finish_non_exhaustive()
    }
}

impl<S> Serve<S> {
    /// Also shuts down these upgraded connections (from
    /// [`UpgradeLayer::connections`](crate::UpgradeLayer::connections)) on a
    /// graceful shutdown, and waits for them: each handler gets its
    /// [`ShutdownSignal`](crate::ShutdownSignal); an h2c connection sends
    /// GOAWAY and finishes the streams in flight. Call it once per layer.
    pub fn upgraded(mut self, connections: Connections) -> Self {
        self.upgraded.push(connections);
        self
    }

    /// Shuts down when `signal` resolves: stops accepting, lets requests in
    /// flight finish (HTTP/2 connections get GOAWAY), signals the
    /// [`upgraded`](Self::upgraded) connections, and resolves once all are
    /// gone or the [`shutdown_timeout`](Self::shutdown_timeout) has passed.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// How long a graceful shutdown waits for connections to finish (30 s
    /// by default); those left are then dropped.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The deadline for a connection's first request head, counted from the
    /// accept: its first bytes, a PROXY protocol header, and the whole
    /// HTTP/1 head or HTTP/2 preface must all arrive within it (30 s by
    /// default, [`DEFAULT_HEADER_READ_TIMEOUT`]). Each later HTTP/1 head
    /// has the same time from when the server starts waiting for it, so an
    /// idle HTTP/1 keep-alive connection is closed after it too. Past it,
    /// the connection is closed (counted as `header` or `preface` in
    /// `tower_upgrade_serve_timeouts_total`).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use axum::{routing::get, Router};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let app: Router = Router::new().route("/", get(|| async { "hello" }));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// tower_upgrade::serve(listener, app)
    ///     .header_read_timeout(Duration::from_secs(10))
    ///     .http2_idle_timeout(Duration::from_secs(120))
    ///     .http2_keep_alive_interval(Duration::from_secs(20))
    ///     .http2_keep_alive_timeout(Duration::from_secs(10))
    ///     .await
    /// # }
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.header = timeout;
        self
    }

    /// How long an HTTP/2 connection (prior knowledge, or TLS-less HTTP/2
    /// from a proxy) may go without an open stream before it is sent GOAWAY
    /// and closed: 60 s by default ([`DEFAULT_HTTP2_IDLE_TIMEOUT`]), `None`
    /// for never. A stream is open from its request to the end of its
    /// response, and a WebSocket over HTTP/2 (RFC 8441) for as long as its
    /// handler holds the [`Upgraded`](crate::Upgraded). Connections
    /// upgraded from HTTP/1.1 with h2c have their own setting,
    /// `H2c::idle_timeout` (feature `h2c`).
    pub fn http2_idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeouts.http2_idle = timeout.into();
        self
    }

    /// How often an HTTP/2 connection is sent a PING (RFC 9113 §6.7), to
    /// find peers that are gone: 30 s by default
    /// ([`DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL`]), `None` for never. Also keeps
    /// a busy connection alive through NATs and load balancers that drop
    /// silent flows.
    pub fn http2_keep_alive_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.timeouts.keep_alive_interval = interval.into();
        self
    }

    /// How long the acknowledgement of a keep-alive PING may take before
    /// the connection is closed: 20 s by default
    /// ([`DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT`]).
    pub fn http2_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.keep_alive_timeout = timeout;
        self
    }

    /// Requires a PROXY protocol header (version 1 or 2, as HAProxy's
    /// `send-proxy`/`send-proxy-v2` and AWS NLB send it) at the start of
    /// every connection, and takes the client address from it: that
    /// address becomes the [`PeerAddr`](crate::PeerAddr) that
    /// [`TrustedProxies`](crate::TrustedProxies) and
    /// [`ClientInfo`](crate::ClientInfo) start from. A `LOCAL` header
    /// (health checks) keeps the connection's own peer.
    ///
    /// Off by default. When on, a connection without a valid header
    /// (including a client that connects directly) is closed, with a debug
    /// log and `tower_upgrade_proxy_protocol_rejected_total`. The header is
    /// read within the [`header_read_timeout`](Self::header_read_timeout)
    /// and may be at most 4 KiB. Turn it on only behind a proxy that always
    /// sends it: anyone who can reach the port directly can claim any
    /// address.
    ///
    /// ```no_run
    /// use axum::{routing::get, Router};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let app: Router = Router::new().route("/", get(|| async { "hello" }));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// tower_upgrade::serve(listener, app).proxy_protocol(true).await
    /// # }
    /// ```
    pub fn proxy_protocol(mut self, required: bool) -> Self {
        self.proxy_protocol = required;
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}

impl<S, B> IntoFuture for Serve<S>
where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let Serve {
                listener,
                service,
                upgraded,
                signal,
                shutdown_timeout,
                timeouts,
                proxy_protocol,
            } = self;
            let mut signal = signal.unwrap_or_else(|| Box::pin(std::future::pending()));
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.header);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(timeouts.keep_alive_interval)
                .keep_alive_timeout(timeouts.keep_alive_timeout)
                .enable_connect_protocol();
            let shared = Arc::new(Shared {
                builder,
                timeouts,
                proxy_protocol,
            });
            // Each connection holds a receiver: the sender tells them to
            // shut down, then waits for them all to drop theirs.
            let (graceful, _) = watch::channel(());

            let mut failure = None;
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => match AcceptError::of(&error) {
                            AcceptError::Connection => continue,
                            // Out of file descriptors or memory: wait for some
                            // connections to close rather than spin, unless
                            // shutdown is asked for meanwhile.
                            AcceptError::Resource => {
                                tracing::error!(%error, "accept failed; retrying in 1 s");
                                tokio::select! {
                                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                                    () = &mut signal => break,
                                }
                            }
                            AcceptError::Fatal => {
                                tracing::error!(%error, "the listener failed; shutting down");
                                failure = Some(error);
                                break;
                            }
                        },
                    },
                    () = &mut signal => break,
                };
                // Small HTTP/2 frames go out at once rather than waiting on Nagle.
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection::run(
                    stream,
                    peer,
                    service.clone(),
                    shared.clone(),
                    graceful.subscribe(),
                ));
            }

            drop(listener);
            for connections in &upgraded {
                connections.shutdown();
            }
            let http = async {
                graceful.send_replace(());
                if tokio::time::timeout(shutdown_timeout, graceful.closed())
                    .await
                    .is_err()
                {
                    tracing::warn!("HTTP connections still open after the shutdown timeout");
                }
            };
            // One deadline for every layer: waiting for each in turn would
            // take up to N times the timeout.
            let deadline = tokio::time::Instant::now() + shutdown_timeout;
            let upgrades = async {
                for connections in &upgraded {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    if !connections.wait_closed(left).await {
                        tracing::warn!(
                            "upgraded connections still open after the shutdown timeout"
                        );
                    }
                }
            };
            tokio::join!(http, upgrades);
            match failure {
                Some(error) => Err(error),
                None => Ok(()),
            }
        })
    }
}

/// What an `accept` error says about the listener.
#[derive(Debug, PartialEq, Eq)]
enum AcceptError {
    /// About one incoming connection only.
    Connection,
    /// The process or system is out of a resource that closing connections
    /// gives back.
    Resource,
    /// The listener itself is broken.
    Fatal,
}

impl AcceptError {
    fn of(error: &io::Error) -> Self {
        // POSIX errno values; ENOMEM comes as `OutOfMemory`.
        const ENFILE: i32 = 23;
        const EMFILE: i32 = 24;
        const ENOBUFS: i32 = if cfg!(target_os = "linux") { 105 } else { 55 };
        match error.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock => Self::Connection,
            io::ErrorKind::OutOfMemory => Self::Resource,
            _ if matches!(error.raw_os_error(), Some(EMFILE | ENFILE | ENOBUFS)) => Self::Resource,
            _ => Self::Fatal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_are_sorted_by_what_they_say_about_the_listener() {
        let cases = [
            (
                io::Error::from(io::ErrorKind::ConnectionAborted),
                AcceptError::Connection,
            ),
            (io::Error::from_raw_os_error(24), AcceptError::Resource),
            (io::Error::from_raw_os_error(23), AcceptError::Resource),
            (
                io::Error::from(io::ErrorKind::OutOfMemory),
                AcceptError::Resource,
            ),
            (io::Error::from_raw_os_error(22), AcceptError::Fatal),
            (
                io::Error::from(io::ErrorKind::InvalidInput),
                AcceptError::Fatal,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(AcceptError::of(&error), expected, "{error}");
        }
    }
}
