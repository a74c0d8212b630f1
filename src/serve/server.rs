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
use tokio_util::sync::CancellationToken;

use super::accept::{AcceptAction, Backoff};
use super::connection::Shared;
use super::timeouts::{Timeouts, DEFAULT_SHUTDOWN_TIMEOUT};
use super::{Http2Settings, HttpService};
use crate::lifecycle::{Connections, Tasks};

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
/// The future resolves with `Ok` after a graceful shutdown, or with the
/// error when the listener itself fails (`EBADF`, `EINVAL`, `ENOTSOCK`,
/// `EFAULT`), after shutting down what it served as on a graceful
/// shutdown. Other accept errors do not stop it. Those about one incoming
/// connection (reset or aborted before it was accepted, a network error
/// pending on it, refused by a firewall rule; accept(2)) are skipped, and
/// the next connection is accepted at once. When the process or system is
/// out of file descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`,
/// `ENOMEM`), or on an error accept(2) does not list, accepting pauses,
/// from 10 ms growing to 1 s while it keeps failing, back to 10 ms after
/// the next accept; the connections already open are served meanwhile,
/// and a shutdown signal ends the pause. A warning is logged when the
/// failures start, and at most once a minute while they last.
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
    /// graceful shutdown, waits for them, and ends those left at the
    /// [`shutdown_timeout`](Self::shutdown_timeout): each handler gets its
    /// [`ShutdownSignal`](crate::ShutdownSignal) (a WebSocket of the message
    /// layer sends Close 1001 by itself; an h2c connection sends GOAWAY and
    /// finishes the streams in flight), and at the deadline
    /// [`Connections::abort`] drops the handlers still running. Call it once
    /// per layer; the handlers of a layer not given here keep running after
    /// the server's future resolves.
    ///
    /// ```no_run
    /// use axum::{routing::get, Router};
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let layer = UpgradeLayer::new()
    ///     .protocol("feed/1", service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }));
    /// let upgraded = layer.connections();
    /// let app: Router = Router::new().route("/", get(|| async { "hello" })).layer(layer);
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// tower_upgrade::serve(listener, app)
    ///     .upgraded(upgraded)
    ///     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap() })
    ///     .await
    /// # }
    /// ```
    pub fn upgraded(mut self, connections: Connections) -> Self {
        self.upgraded.push(connections);
        self
    }

    /// Shuts down when `signal` resolves. In order:
    ///
    /// 1. the listener is closed: no connection is accepted from then on;
    /// 2. the [`upgraded`](Self::upgraded) connections get their
    ///    [`ShutdownSignal`](crate::ShutdownSignal), and those layers refuse
    ///    new upgrades with `503`;
    /// 3. every HTTP connection is asked to finish: an idle HTTP/1.1
    ///    connection is closed, one with a request in flight sends its
    ///    response with `Connection: close` and then closes; an HTTP/2
    ///    connection is sent GOAWAY (RFC 9113 §6.8), starts no new stream
    ///    and closes once its open streams are done;
    /// 4. the server waits for all of them, HTTP and upgraded, up to the
    ///    [`shutdown_timeout`](Self::shutdown_timeout) (30 s);
    /// 5. at that deadline, every connection still open is ended: its task
    ///    is dropped where it awaits and its socket closed, with no frame
    ///    more (an HTTP/2 stream in flight gets no response, a WebSocket no
    ///    Close frame beyond the one it may already have had); the
    ///    upgraded ones through [`Connections::abort`];
    /// 6. the future resolves, with `Ok(())` (or the listener's error, when
    ///    that was what stopped the server).
    ///
    /// What a handler spawned itself is not tracked, and is not ended.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use axum::{routing::get, Router};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let app: Router = Router::new().route("/", get(|| async { "hello" }));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// tower_upgrade::serve(listener, app)
    ///     .with_graceful_shutdown(async { tokio::signal::ctrl_c().await.unwrap() })
    ///     .await
    /// # }
    /// ```
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.signal = Some(Box::pin(signal));
        self
    }

    /// How long a graceful shutdown waits for connections to finish (30 s by
    /// default, [`DEFAULT_SHUTDOWN_TIMEOUT`](super::DEFAULT_SHUTDOWN_TIMEOUT)).
    /// Those still open then, HTTP and [`upgraded`](Self::upgraded) alike,
    /// are ended: their tasks dropped and their sockets closed (step 5 of
    /// [`with_graceful_shutdown`](Self::with_graceful_shutdown)); then the
    /// server's future resolves.
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
            // Asks every connection to finish (graceful), and tracks them
            // so that those left at the deadline can be ended.
            let graceful = CancellationToken::new();
            let tasks = Tasks::default();
            let mut backoff = Backoff::default();

            let mut failure = None;
            loop {
                let (stream, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => match AcceptAction::of(&error) {
                            AcceptAction::Retry => {
                                tracing::debug!(%error, "an incoming connection failed before its accept");
                                continue;
                            }
                            // Out of descriptors or memory: give the
                            // connections open a moment to give some back
                            // rather than spin; a shutdown ends the pause.
                            AcceptAction::BackOff => {
                                let pause = backoff.pause(&error);
                                tokio::select! {
                                    () = tokio::time::sleep(pause) => continue,
                                    () = &mut signal => break,
                                }
                            }
                            AcceptAction::Stop => {
                                tracing::error!(%error, "the listener failed; shutting down");
                                failure = Some(error);
                                break;
                            }
                        },
                    },
                    () = &mut signal => break,
                };
                backoff.reset();
                // Small HTTP/2 frames go out at once rather than waiting on Nagle.
                let _ = stream.set_nodelay(true);
                tasks.spawn(super::connection::run(
                    stream,
                    peer,
                    service.clone(),
                    shared.clone(),
                    graceful.clone(),
                ));
            }

            drop(listener);
            for connections in &upgraded {
                connections.shutdown();
            }
            graceful.cancel();
            // One deadline for every layer and the HTTP connections: waiting
            // for each in turn would take up to N times the timeout.
            let deadline = tokio::time::Instant::now() + shutdown_timeout;
            let http = tokio::time::timeout_at(deadline, tasks.wait());
            let upgrades = async {
                for connections in &upgraded {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    connections.wait_closed(left).await;
                }
            };
            let _ = tokio::join!(http, upgrades);
            // At the deadline, or once all are gone (then this ends only a
            // switch that was under way): end what is left.
            let http = tasks.abort().await;
            let mut upgrades = 0;
            for connections in &upgraded {
                upgrades += connections.abort().await;
            }
            if http + upgrades > 0 {
                tracing::warn!(
                    http,
                    upgraded = upgrades,
                    "closed the connections still open at the shutdown timeout"
                );
            }
            match failure {
                Some(error) => Err(error),
                None => Ok(()),
            }
        })
    }
}
