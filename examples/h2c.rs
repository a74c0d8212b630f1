//! One router over HTTP/1.1, the h2c upgrade and prior-knowledge h2c.
//!
//! `GET /` answers the same fixed text over every protocol version, and
//! `POST /echo` echoes the request body. `OPTIONS *`, which nghttp2 sends as
//! the upgrade request when it has a body to post (`nghttp -u -d FILE`), is
//! answered on stream 1 with the methods the server allows.
//!
//! ```sh
//! cargo run --example h2c --features h2c,serve
//! curl http://127.0.0.1:3000/                              # HTTP/1.1
//! curl --http2 -w '%{http_version}\n' http://127.0.0.1:3000/  # Upgrade: h2c
//! curl --http2-prior-knowledge http://127.0.0.1:3000/      # h2c, no upgrade
//! curl --http2 -d 'hello' http://127.0.0.1:3000/echo
//! nghttp -uv http://127.0.0.1:3000/
//! ```
//!
//! Ctrl-C shuts down gracefully: HTTP/2 connections, upgraded or not, get
//! GOAWAY and finish their streams.
//!
//! `PROXY_PROTOCOL=1` requires a PROXY protocol header (v1 or v2) on every
//! connection, as HAProxy sends with `send-proxy-v2`, and logs the client
//! address it gives (`RUST_LOG=info,h2c=debug`). `HEADER_READ_TIMEOUT` and `HTTP2_IDLE_TIMEOUT`
//! (seconds) shorten the connection deadlines.

#[path = "support/timeouts.rs"]
mod timeouts;

use axum::body::Bytes;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use tower_upgrade::h2c::H2c;
use tower_upgrade::peer::PeerAddr;
use tower_upgrade::UpgradeLayer;

/// The body of `GET /`, byte for byte the same over every protocol.
const HELLO: &str = "hello from tower-upgrade\n";

/// RFC 9110 §9.3.7: `OPTIONS *` asks about the server, not a resource.
async fn fallback(method: Method, uri: Uri) -> impl IntoResponse {
    if method == Method::OPTIONS && uri.path() == "*" {
        return (
            StatusCode::NO_CONTENT,
            [(header::ALLOW, "GET, POST, OPTIONS")],
        )
            .into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

/// `GET /`, logging who asked (`RUST_LOG=h2c=debug`): behind HAProxy with
/// `PROXY_PROTOCOL=1`, the client's address rather than HAProxy's.
async fn hello(Extension(PeerAddr(peer)): Extension<PeerAddr>) -> &'static str {
    tracing::debug!(%peer, "GET /");
    HELLO
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();

    let routes = Router::new()
        .route("/", get(hello))
        .route("/echo", post(|body: Bytes| async move { body }))
        .fallback(fallback);
    // h2c answers with the same routes; see the h2c module docs for when the
    // upgrade is safe to turn on (not behind a proxy that forwards Upgrade).
    let layer = UpgradeLayer::new().h2c(H2c::new(routes.clone()));
    let upgraded = layer.connections();
    let app = routes.layer(layer);

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("h2c example listening on http://{}", listener.local_addr()?);
    let proxy_protocol = std::env::var("PROXY_PROTOCOL").is_ok_and(|v| v == "1");
    if proxy_protocol {
        tracing::info!("a PROXY protocol header is required on every connection");
    }
    timeouts::from_env(tower_upgrade::serve(listener, app))
        .proxy_protocol(proxy_protocol)
        .upgraded(upgraded)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
