//! What the user's handler receives: the connection after the switch.

use std::any::Any;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::request::Parts;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use bytes::Bytes;
use http::Extensions;

use crate::lifecycle::ShutdownSignal;
use crate::peer::ClientInfo;
use crate::upgraded_idle::IdleTimer;

/// An upgraded connection, handed to the handler registered for its protocol.
///
/// It is the IO (`AsyncRead + AsyncWrite`; bytes the HTTP server had already
/// read past the request are returned first), the original request's
/// [`Parts`] (method, URI, headers, and the extensions earlier layers added,
/// such as an authenticated user), what was [`Negotiated`], the values the
/// protocol handed over in its [`Accepted`](crate::Accepted) (its own
/// [`extensions`](Self::extensions), apart from the request's), and a
/// [`ShutdownSignal`].
///
/// ```
/// use std::convert::Infallible;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use tower::service_fn;
/// use tower_upgrade::{UpgradeLayer, Upgraded};
///
/// let layer = UpgradeLayer::new().protocol(
///     "echo/1",
///     service_fn(|mut conn: Upgraded| async move {
///         println!("{} upgraded to {}", conn.parts().uri.path(), conn.negotiated().protocol());
///         let mut buf = [0u8; 1024];
///         loop {
///             let n = conn.read(&mut buf).await?;
///             if n == 0 {
///                 return Ok::<_, std::io::Error>(());
///             }
///             conn.write_all(&buf[..n]).await?;
///         }
///     }),
/// );
/// # let _ = layer;
/// ```
pub struct Upgraded {
    io: TokioIo<hyper::upgrade::Upgraded>,
    /// `None` once taken (`take_parts`, or the message layer, which never
    /// hands them back): boxed, so that a connection that let them go holds
    /// a pointer, not an empty request's worth of fields.
    parts: Option<Box<Parts>>,
    negotiated: Negotiated,
    extensions: Extensions,
    body: Bytes,
    shutdown: ShutdownSignal,
    dropped_headers: usize,
    idle: Option<IdleTimer>,
    /// What the server that carries the connection needs kept for as long
    /// as it lives (an HTTP/2 stream's place among the open streams, which
    /// keeps `serve`'s idle timer away), apart from the request parts,
    /// which a handler may drop.
    _held: Option<HeldByConnection>,
}

/// A value a server puts in the request's extensions to be held by the
/// upgraded connection for its whole life, whatever the handler does with
/// the request parts: `serve` puts the HTTP/2 stream's guard here, so a
/// WebSocket over HTTP/2 (RFC 8441) counts as an open stream until it ends.
#[derive(Clone)]
pub(crate) struct HeldByConnection(#[allow(dead_code)] Arc<dyn Any + Send + Sync>);

impl HeldByConnection {
    #[cfg_attr(not(any(feature = "h2c", feature = "serve")), allow(dead_code))]
    pub(crate) fn new(value: impl Any + Send + Sync) -> Self {
        Self(Arc::new(value))
    }
}

impl Upgraded {
    pub(crate) fn new(
        io: hyper::upgrade::Upgraded,
        (parts, dropped_headers): (Parts, usize),
        negotiated: Negotiated,
        extensions: Extensions,
        body: Bytes,
        shutdown: ShutdownSignal,
    ) -> Self {
        let mut parts = parts;
        let held = parts.extensions.remove::<HeldByConnection>();
        Self {
            io: TokioIo::new(io),
            parts: Some(Box::new(parts)),
            negotiated,
            extensions,
            body,
            shutdown,
            dropped_headers,
            idle: None,
            _held: held,
        }
    }

    /// Ends the IO when no byte has been read or written for `timeout`
    /// (`None`: never, the default unless the layer set
    /// [`UpgradeLayer::upgraded_idle_timeout`](crate::UpgradeLayer::upgraded_idle_timeout)):
    /// the pending read or write, and every one after, fails with
    /// [`io::ErrorKind::TimedOut`]. The time counts from this call. A
    /// write the peer does not take (its window is full) is no byte moved.
    ///
    /// For a protocol of your own that has no keepalive of its own; the
    /// WebSocket message layer has its own idle timeout and Pings.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::io::AsyncReadExt;
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new().protocol(
    ///     "feed/1",
    ///     service_fn(|mut conn: Upgraded| async move {
    ///         conn.set_idle_timeout(Duration::from_secs(300));
    ///         let mut buf = [0u8; 512];
    ///         loop {
    ///             match conn.read(&mut buf).await {
    ///                 Ok(0) => return Ok(()),
    ///                 Ok(_) => {}
    ///                 // Silent for 5 minutes.
    ///                 Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Ok(()),
    ///                 Err(e) => return Err(e),
    ///             }
    ///         }
    ///     }),
    /// );
    /// # let _ = layer;
    /// ```
    pub fn set_idle_timeout(&mut self, timeout: impl Into<Option<std::time::Duration>>) {
        self.idle = timeout.into().map(IdleTimer::new);
    }

    /// The request that asked for the switch, without its body.
    ///
    /// What is kept, for as long as this value lives: the method, target,
    /// version and extensions (what earlier layers added, such as an
    /// authenticated user), and the header fields that fit the layer's
    /// [`max_kept_head`](crate::UpgradeLayer::max_kept_head) (16 KiB by
    /// default), in order, copied out of the server's read buffer. A field
    /// that does not fit is left out and counted in
    /// [`dropped_headers`](Self::dropped_headers); the protocol's
    /// [`accept`](crate::Protocol::accept) saw every field. A handler that
    /// needs nothing of the request any more frees it with
    /// [`take_parts`](Self::take_parts).
    pub fn parts(&self) -> &Parts {
        static EMPTY: std::sync::OnceLock<Parts> = std::sync::OnceLock::new();
        self.parts
            .as_deref()
            .unwrap_or_else(|| EMPTY.get_or_init(crate::head::empty))
    }

    /// Who asked for the upgrade: the peer, the trusted proxies in between,
    /// and the client behind them (see [`ClientInfo`]).
    ///
    /// ```
    /// use tower_upgrade::Upgraded;
    ///
    /// async fn handle(conn: Upgraded) {
    ///     if let Some(addr) = conn.client().and_then(|c| c.addr()) {
    ///         println!("client {addr}");
    ///     }
    /// }
    /// ```
    pub fn client(&self) -> Option<&ClientInfo> {
        self.parts().extensions.get()
    }

    /// Mutable access to the request parts, e.g. to take an extension out.
    pub fn parts_mut(&mut self) -> &mut Parts {
        self.parts
            .get_or_insert_with(|| Box::new(crate::head::empty()))
    }

    /// Takes the request parts out, leaving an empty request (`GET /`, no
    /// headers, no extensions) in their place: read what the handler needs,
    /// then drop the rest for the life of the connection.
    ///
    /// ```
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new().protocol(
    ///     "feed/1",
    ///     service_fn(|mut conn: Upgraded| async move {
    ///         let parts = conn.take_parts();
    ///         let room = parts.uri.query().unwrap_or("lobby").to_owned();
    ///         drop(parts); // the headers are freed now, not when `conn` ends
    ///         # let _ = room;
    ///         Ok::<_, std::io::Error>(())
    ///     }),
    /// );
    /// # let _ = layer;
    /// ```
    pub fn take_parts(&mut self) -> Parts {
        self.parts
            .take()
            .map_or_else(crate::head::empty, |parts| *parts)
    }

    /// How many header fields of the request were left out of
    /// [`parts`](Self::parts) because they did not fit the layer's
    /// [`max_kept_head`](crate::UpgradeLayer::max_kept_head); 0 for an
    /// ordinary request.
    pub fn dropped_headers(&self) -> usize {
        self.dropped_headers
    }

    /// What was agreed during the handshake.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// What the protocol handed to the handler when it accepted the switch
    /// ([`Accepted::with_extension`](crate::Accepted::with_extension)): for
    /// WebSocket, the registration's frame limits and the agreed
    /// permessage-deflate parameters. These are not the request's extensions,
    /// which are in [`parts`](Self::parts).
    ///
    /// ```
    /// use tower_upgrade::Upgraded;
    ///
    /// #[derive(Clone)]
    /// struct MaxLine(usize);
    ///
    /// fn max_line(conn: &Upgraded) -> usize {
    ///     conn.extensions().get::<MaxLine>().map_or(1024, |m| m.0)
    /// }
    /// ```
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Mutable access to the protocol's [`extensions`](Self::extensions).
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The request body, for a protocol that keeps it
    /// ([`Protocol::keeps_body`](crate::Protocol::keeps_body)); empty
    /// otherwise.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Takes the request body out, leaving it empty.
    pub fn take_body(&mut self) -> Bytes {
        std::mem::take(&mut self.body)
    }

    /// Resolves when the server asks upgraded connections to wind down.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.shutdown.clone()
    }
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded")
            .field("uri", &self.parts().uri)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        let Some(idle) = &mut this.idle else {
            return polled;
        };
        match polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => idle.active(),
            Poll::Pending => return idle.poll_expired(cx).map(Err),
            _ => {}
        }
        polled
    }
}

impl Upgraded {
    /// A write moved bytes (the connection is active) or is stuck (the idle
    /// timer runs).
    fn watch_write(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        let Some(idle) = &mut self.idle else {
            return polled;
        };
        match polled {
            Poll::Ready(Ok(n)) if n > 0 => idle.active(),
            Poll::Pending => return idle.poll_expired(cx).map(Err),
            _ => {}
        }
        polled
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch_write(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_flush(cx);
        match (&mut this.idle, polled) {
            (Some(idle), Poll::Pending) => idle.poll_expired(cx).map(Err),
            (_, polled) => polled,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// What the handshake settled: the protocol, and the subprotocol if the
/// protocol chose one (WebSocket's `Sec-WebSocket-Protocol`). Anything else a
/// protocol agreed on is in [`Upgraded::extensions`].
///
/// ```
/// use tower_upgrade::Upgraded;
///
/// fn describe(conn: &Upgraded) -> String {
///     let n = conn.negotiated();
///     format!("{} (version {:?}, subprotocol {:?})", n.name(), n.version(), n.subprotocol())
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    protocol: String,
    subprotocol: Option<String>,
    http2: bool,
}

impl Negotiated {
    pub(crate) fn new(protocol: String, subprotocol: Option<String>, http2: bool) -> Self {
        Self {
            protocol,
            subprotocol,
            http2,
        }
    }

    /// The protocol exactly as the client asked for it, e.g. `linecount/1`
    /// or `WebSocket`.
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// The protocol name, without the version.
    pub fn name(&self) -> &str {
        self.protocol.split('/').next().unwrap_or_default()
    }

    /// The version the client asked for (`1` in `linecount/1`), if any.
    pub fn version(&self) -> Option<&str> {
        self.protocol.split_once('/').map(|(_, v)| v)
    }

    /// The subprotocol the protocol chose, if any: for WebSocket, the
    /// `Sec-WebSocket-Protocol` the server answered with.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Whether the switch was an HTTP/2 extended CONNECT (RFC 8441) rather
    /// than an HTTP/1.1 `Upgrade`.
    pub fn is_http2(&self) -> bool {
        self.http2
    }
}
