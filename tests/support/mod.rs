//! Helpers shared by the integration tests (`mod support;`); the benchmarks
//! include `h2.rs` and `ws.rs` by path.
//!
//! - `h2`: a hand-written HTTP/2 client that can take over a connection
//!   after `101 Switching Protocols`.
//! - `ws`: the WebSocket echo handlers.
//! - here: small layers and requests for in-process upgrade tests.

// Every test binary compiles this whole module but uses only part of it.
#![allow(dead_code)]

pub mod h2;
pub mod ws;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::{service_fn, Layer};
use tower_upgrade::{UpgradeLayer, Upgraded};

/// A handler that accepts the connection and returns at once.
pub async fn done(_: Upgraded) -> Result<(), std::io::Error> {
    Ok(())
}

/// An HTTP/1.1 upgrade request for the protocol `token`, without a body.
pub fn upgrade_request(token: &str) -> Request<String> {
    Request::get("/")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", token)
        .body(String::new())
        .unwrap()
}

/// An HTTP/1.1 WebSocket handshake request (RFC 6455 §4.1, the key of its
/// example), to add headers to and build.
pub fn websocket_request() -> http::request::Builder {
    Request::get("/")
        .header("host", "example.com")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
}

/// An inner service that answers every request with an empty 200.
pub fn empty_inner<B>() -> impl tower::Service<
    Request<B>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(|_: Request<B>| async { Ok::<_, Infallible>(Response::new(Full::default())) })
}

/// The layer's own response to `req`, before hyper sees it: what hyper
/// would strip with a warning is still there to be seen.
pub async fn respond_to(
    layer: &UpgradeLayer,
    req: Request<String>,
) -> Response<tower_upgrade::response::ResponseBody<Full<Bytes>>> {
    use tower::ServiceExt;
    layer
        .layer(empty_inner::<String>())
        .oneshot(req)
        .await
        .unwrap()
}

/// The whole body of `response`, as UTF-8.
pub async fn body_text<B: http_body::Body>(response: Response<B>) -> String
where
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt;
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Serves `layer`, in front of an inner service that answers `inner`, over
/// HTTP/2 with extended CONNECT (RFC 8441 §3) on an in-memory stream, and
/// returns a hyper client connected to it.
pub async fn http2_client(
    layer: UpgradeLayer,
) -> hyper::client::conn::http2::SendRequest<http_body_util::Empty<Bytes>> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let app = layer.layer(service_fn(|_: Request<hyper::body::Incoming>| async {
        Ok::<_, Infallible>(Response::new(String::from("inner")))
    }));
    let (client, server) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .enable_connect_protocol()
            .serve_connection(
                TokioIo::new(server),
                hyper_util::service::TowerToHyperService::new(app),
            )
            .await
    });
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(client))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

/// An RFC 8441 extended CONNECT for a WebSocket at `uri` (`:protocol`
/// websocket, version 13) over HTTP/2, to add headers to and build.
pub fn extended_connect(uri: impl AsRef<str>) -> http::request::Builder {
    Request::builder()
        .method(http::Method::CONNECT)
        .version(http::Version::HTTP_2)
        .uri(uri.as_ref())
        .header("sec-websocket-version", "13")
        .extension(hyper::ext::Protocol::from_static("websocket"))
}
