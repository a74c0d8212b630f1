//! What the user's handler receives: the connection after the switch.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::request::Parts;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::extensions::ExtensionOffer;
use crate::lifecycle::ShutdownSignal;

/// An upgraded connection, handed to the handler registered for its protocol.
///
/// It is the IO (`AsyncRead + AsyncWrite`; bytes the HTTP server had already
/// read past the request are returned first), the original request's
/// [`Parts`] (method, URI, headers, and the extensions earlier layers added,
/// such as an authenticated user), what was [`Negotiated`], and a
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
    parts: Parts,
    negotiated: Negotiated,
    shutdown: ShutdownSignal,
    #[cfg(feature = "websocket")]
    pub(crate) frame_limits: Option<crate::websocket::FrameLimits>,
    /// The request body, for protocols that keep it (`Protocol::keeps_body`).
    #[cfg_attr(not(feature = "h2c"), allow(dead_code))]
    pub(crate) body: bytes::Bytes,
    /// The registration's deflate settings, when permessage-deflate was agreed.
    #[cfg(feature = "yawc")]
    pub(crate) deflate: Option<crate::websocket::DeflateConfig>,
}

impl Upgraded {
    pub(crate) fn new(
        io: hyper::upgrade::Upgraded,
        parts: Parts,
        negotiated: Negotiated,
        shutdown: ShutdownSignal,
    ) -> Self {
        Self {
            io: TokioIo::new(io),
            parts,
            negotiated,
            shutdown,
            #[cfg(feature = "websocket")]
            frame_limits: None,
            body: bytes::Bytes::new(),
            #[cfg(feature = "yawc")]
            deflate: None,
        }
    }

    /// The request that asked for the switch, without its body.
    pub fn parts(&self) -> &Parts {
        &self.parts
    }

    /// Mutable access to the request parts, e.g. to take an extension out.
    pub fn parts_mut(&mut self) -> &mut Parts {
        &mut self.parts
    }

    /// What was agreed during the handshake.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// Resolves when the server asks upgraded connections to wind down.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.shutdown.clone()
    }
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded")
            .field("uri", &self.parts.uri)
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
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// What the handshake settled: the protocol, and for WebSocket the
/// subprotocol and extensions.
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
    extension_offers: Vec<ExtensionOffer>,
    #[cfg(feature = "yawc")]
    permessage_deflate: Option<crate::websocket::PermessageDeflate>,
    http2: bool,
}

impl Negotiated {
    pub(crate) fn new(protocol: String, http2: bool) -> Self {
        Self {
            protocol,
            subprotocol: None,
            extension_offers: Vec::new(),
            #[cfg(feature = "yawc")]
            permessage_deflate: None,
            http2,
        }
    }

    #[cfg(feature = "websocket")]
    pub(crate) fn with_subprotocol(mut self, subprotocol: Option<String>) -> Self {
        self.subprotocol = subprotocol;
        self
    }

    #[cfg(feature = "websocket")]
    pub(crate) fn with_extension_offers(mut self, offers: Vec<ExtensionOffer>) -> Self {
        self.extension_offers = offers;
        self
    }

    #[cfg(feature = "yawc")]
    pub(crate) fn with_permessage_deflate(
        mut self,
        agreed: Option<crate::websocket::PermessageDeflate>,
    ) -> Self {
        self.permessage_deflate = agreed;
        self
    }

    /// The permessage-deflate parameters agreed in the handshake (RFC 7692),
    /// if the registration turned it on with
    /// [`WebSocket::permessage_deflate`](crate::websocket::WebSocket::permessage_deflate)
    /// and the client offered something acceptable.
    #[cfg(feature = "yawc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "yawc")))]
    pub fn permessage_deflate(&self) -> Option<&crate::websocket::PermessageDeflate> {
        self.permessage_deflate.as_ref()
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

    /// The WebSocket subprotocol the server chose, if any
    /// (`Sec-WebSocket-Protocol`).
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The WebSocket extensions the client offered
    /// (`Sec-WebSocket-Extensions`). None of them is accepted unless a
    /// backend that implements it is configured (see `permessage_deflate`,
    /// with the `yawc` feature).
    pub fn extension_offers(&self) -> &[ExtensionOffer] {
        &self.extension_offers
    }

    /// Whether the switch was an HTTP/2 extended CONNECT (RFC 8441) rather
    /// than an HTTP/1.1 `Upgrade`.
    pub fn is_http2(&self) -> bool {
        self.http2
    }
}
