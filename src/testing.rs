//! Drive upgrades in-process, without a TCP port: for testing services that
//! use the layer.
//!
//! [`connect`] serves a service on one end of an in-memory pipe, the way a
//! hyper server with upgrades would, and returns the other end; [`send`]
//! does an HTTP/1.1 exchange on it and hands back the response and, after a
//! switch, the client side of the upgraded connection.
//!
//! ```
//! use http::Request;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tower::{service_fn, Layer};
//! use tower_upgrade::{testing, UpgradeLayer, Upgraded};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = UpgradeLayer::new()
//!     .protocol("shout/1", service_fn(|mut conn: Upgraded| async move {
//!         conn.write_all(b"HELLO").await
//!     }))
//!     .layer(service_fn(|_: Request<testing::TestBody>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//!     }));
//!
//! let request = Request::get("/")
//!     .header("connection", "upgrade")
//!     .header("upgrade", "shout/1")
//!     .body(String::new())
//!     .unwrap();
//! let response = testing::send(app, request).await.unwrap();
//! assert_eq!(response.status(), 101);
//! let mut io = response.into_io().unwrap();
//! let mut greeting = String::new();
//! io.read_to_string(&mut greeting).await.unwrap();
//! assert_eq!(greeting, "HELLO");
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tower::{BoxError, Service};

use crate::peer::PeerAddr;

/// The request body type services receive under [`connect`] and [`send`].
pub type TestBody = BoxBody<Bytes, BoxError>;

/// Serves `service` over HTTP/1.1 with upgrades on one end of an in-memory
/// pipe, in a spawned task, and returns the client's end. Write raw requests
/// to it to test what a hand-written client would see.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use tower::service_fn;
/// use tower_upgrade::testing;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = service_fn(|_: http::Request<testing::TestBody>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("hi")))
/// });
/// let mut io = testing::connect(app);
/// io.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
/// let mut response = String::new();
/// io.read_to_string(&mut response).await.unwrap();
/// assert!(response.starts_with("HTTP/1.1 200 OK"));
/// # }
/// ```
pub fn connect<S, B>(service: S) -> DuplexStream
where
    S: Service<Request<TestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_duplex(service, None)
}

/// Like [`connect`], as if the connection came from `peer`: every request
/// carries a [`PeerAddr`], as under `serve`. For testing trusted proxies and per-client
/// limits.
///
/// ```
/// use tower_upgrade::testing;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = tower::service_fn(|req: http::Request<testing::TestBody>| async move {
///     let peer = req.extensions().get::<tower_upgrade::peer::PeerAddr>().unwrap().0;
///     Ok::<_, std::convert::Infallible>(http::Response::new(peer.to_string()))
/// });
/// let _io = testing::connect_from("192.0.2.7:4000".parse().unwrap(), app);
/// # }
/// ```
pub fn connect_from<S, B>(peer: SocketAddr, service: S) -> DuplexStream
where
    S: Service<Request<TestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_duplex(service, Some(peer))
}

fn serve_duplex<S, B>(service: S, peer: Option<SocketAddr>) -> DuplexStream
where
    S: Service<Request<TestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (client, server) = tokio::io::duplex(64 * 1024);
    let service = WithPeer {
        inner: tower::ServiceExt::map_request(service, into_test_body),
        peer,
    };
    tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server), TowerToHyperService::new(service))
            .with_upgrades()
            .await;
    });
    client
}

/// Inserts the peer address into every request, like `serve` does.
#[derive(Clone)]
struct WithPeer<S> {
    inner: S,
    peer: Option<SocketAddr>,
}

impl<S, B> Service<Request<B>> for WithPeer<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(PeerAddr(peer));
        }
        self.inner.call(req)
    }
}

fn into_test_body(req: Request<hyper::body::Incoming>) -> Request<TestBody> {
    req.map(|body| body.map_err(BoxError::from).boxed())
}

/// Sends `request` to `service` over an in-memory HTTP/1.1 connection (see
/// [`connect`]) and returns the response, with the client's end of the
/// upgraded connection when the server switched protocols.
pub async fn send<S, B>(service: S, request: Request<String>) -> Result<TestResponse, BoxError>
where
    S: Service<Request<TestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    exchange(connect(service), request).await
}

/// Like [`send`], over a connection from `peer` (see [`connect_from`]).
///
/// ```
/// use http::Request;
/// use tower::{service_fn, Layer};
/// use tower_upgrade::peer::{ClientSource, TrustedProxies};
/// use tower_upgrade::{testing, UpgradeLayer, Upgraded};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let nginx = TrustedProxies::parse(ClientSource::XForwarded, "127.0.0.1").unwrap();
/// let app = UpgradeLayer::new()
///     .trusted_proxies(nginx)
///     .protocol("who/1", service_fn(|conn: Upgraded| async move {
///         let client = conn.client().and_then(|c| c.addr());
///         assert_eq!(client, Some("203.0.113.9".parse().unwrap()));
///         Ok::<_, std::io::Error>(())
///     }))
///     .layer(service_fn(|_: Request<testing::TestBody>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
///     }));
/// let request = Request::get("/")
///     .header("connection", "upgrade")
///     .header("upgrade", "who/1")
///     .header("x-forwarded-for", "203.0.113.9")
///     .body(String::new())
///     .unwrap();
/// let response = testing::send_from("127.0.0.1:5000".parse().unwrap(), app, request).await.unwrap();
/// assert_eq!(response.status(), 101);
/// # }
/// ```
pub async fn send_from<S, B>(
    peer: SocketAddr,
    service: S,
    request: Request<String>,
) -> Result<TestResponse, BoxError>
where
    S: Service<Request<TestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    exchange(connect_from(peer, service), request).await
}

async fn exchange(io: DuplexStream, request: Request<String>) -> Result<TestResponse, BoxError> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn.with_upgrades());
    let mut response = sender.send_request(request).await?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let io = hyper::upgrade::on(&mut response).await?;
        let (parts, _) = response.into_parts();
        return Ok(TestResponse {
            response: Response::from_parts(parts, Bytes::new()),
            io: Some(TestIo(TokioIo::new(io))),
        });
    }
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(TestResponse {
        response: Response::from_parts(parts, body),
        io: None,
    })
}

/// What [`send`] got back.
#[derive(Debug)]
pub struct TestResponse {
    response: Response<Bytes>,
    io: Option<TestIo>,
}

impl TestResponse {
    /// The response, with its whole body.
    pub fn response(&self) -> &Response<Bytes> {
        &self.response
    }

    /// The response's status.
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

    /// The response's headers.
    pub fn headers(&self) -> &http::HeaderMap {
        self.response.headers()
    }

    /// The response body.
    pub fn body(&self) -> &Bytes {
        self.response.body()
    }

    /// The client's end of the upgraded connection, after a `101`.
    pub fn into_io(self) -> Option<TestIo> {
        self.io
    }
}

/// The client's end of an upgraded in-memory connection.
#[derive(Debug)]
pub struct TestIo(TokioIo<hyper::upgrade::Upgraded>);

impl AsyncRead for TestIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TestIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
