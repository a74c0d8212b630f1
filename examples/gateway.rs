//! A gateway: every request is forwarded to `UPSTREAM` (`host:port`, or a
//! comma-separated list taken in turn); WebSocket upgrades go through
//! `UpgradeLayer::forward_websocket`, over HTTP/1.1 and as RFC 8441
//! extended CONNECTs over HTTP/2, and every other request through hyper's
//! client. `GET /metrics` is the gateway's own.
//!
//! ```sh
//! ADDR=127.0.0.1:3001 cargo run --example chat &
//! UPSTREAM=127.0.0.1:3001 cargo run --example gateway --features gateway
//! # http://127.0.0.1:3000/ is the chat page, through the gateway.
//! ```
//!
//! Knobs: `ADDR` (127.0.0.1:3000), `UPSTREAM` (127.0.0.1:3001),
//! `UPSTREAM_CONNECT_TIMEOUT_MS` (5000), `UPSTREAM_ANSWER_TIMEOUT_MS`
//! (5000), `RELAY_IDLE_TIMEOUT_MS` (300000), `KEEP_HOST=1`, trusted proxies
//! and per-client limits as in the other examples (`../support/`),
//! `DRAIN_SECS` (10). At SIGTERM the gateway stops accepting and closes each
//! relay for its client: a Close 1001 to the upstream at a frame boundary,
//! whose answer (its last echoes, then its Close 1001) reaches the client;
//! relays still open after `DRAIN_SECS` are cut.

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::header::HOST;
use http::{HeaderValue, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::Layer;
use tower_upgrade::forward::{strip_hop_by_hop, Forward, Upstream};
use tower_upgrade::peer::ClientInfo;
use tower_upgrade::UpgradeLayer;

fn millis(name: &str, default: u64) -> Duration {
    let ms = std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
        .unwrap_or(default);
    Duration::from_millis(ms)
}

/// Plain requests: the upstreams in turn, through a pooled client.
#[derive(Clone)]
struct Plain {
    client: Client<HttpConnector, Body>,
    upstreams: Arc<[String]>,
    next: Arc<AtomicUsize>,
}

async fn forward_plain(State(plain): State<Plain>, mut request: Request) -> Response {
    let upstream =
        &plain.upstreams[plain.next.fetch_add(1, Ordering::Relaxed) % plain.upstreams.len()];
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("http://{upstream}{target}").parse::<Uri>() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let client = request.extensions().get::<ClientInfo>().cloned();
    let host = request.headers().get(HOST).cloned();
    *request.uri_mut() = uri;
    *request.version_mut() = http::Version::HTTP_11;
    let headers = request.headers_mut();
    strip_hop_by_hop(headers);
    headers.remove(HOST);
    if let Some(addr) = client.as_ref().and_then(|c| c.addr()) {
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_str(&addr.to_string()).unwrap(),
        );
    }
    if let Some(host) = host {
        headers.insert("x-forwarded-host", host);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    match plain.client.request(request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Err(error) => {
            tracing::debug!(%error, upstream, "upstream unreachable");
            (StatusCode::BAD_GATEWAY, "the upstream could not be reached").into_response()
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    support::init_tracing();
    let prometheus = support::metrics::install();
    let upstreams: Vec<String> = std::env::var("UPSTREAM")
        .unwrap_or_else(|_| "127.0.0.1:3001".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();

    let forward =
        Forward::new(Upstream::round_robin(upstreams.clone()).expect("UPSTREAM is empty"))
            .connect_timeout(millis("UPSTREAM_CONNECT_TIMEOUT_MS", 5_000))
            .answer_timeout(millis("UPSTREAM_ANSWER_TIMEOUT_MS", 5_000))
            .idle_timeout(millis("RELAY_IDLE_TIMEOUT_MS", 300_000))
            .keep_host(std::env::var("KEEP_HOST").is_ok_and(|v| v == "1"));
    let upgrades = support::client_limits::from_env(UpgradeLayer::new().forward_websocket(forward));
    let connections = upgrades.connections();

    let plain = Plain {
        client: Client::builder(TokioExecutor::new()).build_http(),
        upstreams: upstreams.into(),
        next: Arc::default(),
    };
    let app = Router::new()
        .route("/metrics", support::metrics::route(prometheus))
        .fallback(forward_plain)
        .with_state(plain);
    let app = upgrades.layer(app);

    let listener = tokio::net::TcpListener::bind(support::addr()).await?;
    tracing::info!("gateway listening on http://{}", listener.local_addr()?);
    let drain = Duration::from_secs(
        std::env::var("DRAIN_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
    );
    support::timeouts::from_env(tower_upgrade::serve(listener, app))
        .upgraded(connections.clone())
        .shutdown_timeout(drain)
        .with_graceful_shutdown(support::stop_signal())
        .await?;
    tracing::info!("gateway stopped");
    Ok(())
}
