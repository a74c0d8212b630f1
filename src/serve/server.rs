//! [`serve`]: an accept loop in the spirit of `axum::serve`, that speaks
//! HTTP/1.1 with upgrades, prior-knowledge h2c and HTTP/2 extended CONNECT,
//! and shuts down gracefully, upgraded connections included; every
//! connection has deadlines, and can start with a PROXY protocol header.

use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::connection::Shared;
use super::timeouts::{Timeouts, DEFAULT_SHUTDOWN_TIMEOUT};
use super::{Http2Settings, HttpService};
use crate::lifecycle::Connections;

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
///   ([`Http2Settings::keep_alive_interval`]) and closed when one goes
///   unanswered, and is sent GOAWAY after
///   [`Http2Settings::idle_timeout`] (60 s) without an open stream
///   (see [`Serve::http2`]). A WebSocket over HTTP/2 keeps its stream open.
///
/// Behind a load balancer that sends the PROXY protocol (HAProxy
/// `send-proxy-v2`, AWS NLB), `Serve::proxy_protocol` (feature
/// `proxy-protocol`) reads the client's address from it.
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
pub fn serve<S: HttpService>(listener: TcpListener, service: S) -> Serve<S> {
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
    /// default, [`DEFAULT_HEADER_READ_TIMEOUT`](super::DEFAULT_HEADER_READ_TIMEOUT)). Each later HTTP/1 head
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
    ///     .await
    /// # }
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.header = timeout;
        self
    }

    /// How HTTP/2 connections (prior knowledge, TLS-less HTTP/2 from a
    /// proxy, WebSockets over HTTP/2) are kept: the idle timeout and the
    /// keep-alive PINGs of [`Http2Settings`], whose defaults apply
    /// otherwise. Connections upgraded from HTTP/1.1 with h2c take the same
    /// type in `H2c::http2` (feature `h2c`).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use axum::{routing::get, Router};
    /// use tower_upgrade::serve::Http2Settings;
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let app: Router = Router::new().route("/", get(|| async { "hello" }));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// tower_upgrade::serve(listener, app)
    ///     .http2(Http2Settings::new().idle_timeout(None).keep_alive_interval(Duration::from_secs(20)))
    ///     .await
    /// # }
    /// ```
    pub fn http2(mut self, settings: Http2Settings) -> Self {
        self.timeouts.http2 = settings;
        self
    }

    /// Requires a PROXY protocol header (version 1 or 2, as HAProxy's
    /// `send-proxy`/`send-proxy-v2` and AWS NLB send it) at the start of
    /// every connection, and takes the client address from it: that
    /// address becomes the [`PeerAddr`](crate::peer::PeerAddr) that
    /// [`TrustedProxies`](crate::peer::TrustedProxies) and
    /// [`ClientInfo`](crate::peer::ClientInfo) start from. A `LOCAL` header
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
    #[cfg(feature = "proxy-protocol")]
    #[cfg_attr(docsrs, doc(cfg(feature = "proxy-protocol")))]
    pub fn proxy_protocol(mut self, required: bool) -> Self {
        self.proxy_protocol = required;
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }
}

impl<S: HttpService> IntoFuture for Serve<S> {
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
                #[cfg_attr(not(feature = "proxy-protocol"), allow(unused_variables))]
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
                .keep_alive_interval(timeouts.http2.ping_interval())
                .keep_alive_timeout(timeouts.http2.ping_timeout())
                .enable_connect_protocol();
            let shared = Arc::new(Shared {
                builder,
                timeouts,
                #[cfg(feature = "proxy-protocol")]
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
                tokio::spawn(super::connection::run(
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
