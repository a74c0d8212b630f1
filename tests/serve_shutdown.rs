//! Issue 17: `serve`'s `shutdown_timeout` ends what is still open at the
//! deadline (it used to leave it running): a WebSocket handler that ignores
//! the shutdown signal, an HTTP/2 stream and an HTTP/1.1 request in flight.
//! Over real TCP on 127.0.0.1; the timeouts here only guard against a hang.
#![cfg(all(feature = "serve", feature = "messages"))]

mod support;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tower::service_fn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

use support::h2::Client;

/// How long a step may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

/// Fires its channel when dropped: shows that the task holding it ended.
struct DropGuard(#[allow(dead_code)] oneshot::Sender<()>);

fn drop_guard() -> (DropGuard, oneshot::Receiver<()>) {
    let (tx, rx) = oneshot::channel();
    (DropGuard(tx), rx)
}

/// Resolves once the guard behind `dropped` is gone.
async fn fired(dropped: oneshot::Receiver<()>) {
    let fired = tokio::time::timeout(HANG, dropped).await;
    assert!(
        matches!(fired, Ok(Err(_))),
        "the handler was never ended: {fired:?}"
    );
}

struct Running {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Asks for the shutdown and waits for the server's future.
    async fn shut_down(self) {
        self.stop.send(()).unwrap();
        let result = tokio::time::timeout(HANG, self.done).await;
        assert!(
            matches!(result, Ok(Ok(Ok(())))),
            "the server's future did not resolve: {result:?}"
        );
    }
}

/// `serve` with `upgraded` and a 1 s shutdown timeout.
async fn start(app: Router, upgraded: Option<tower_upgrade::Connections>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let mut served = tower_upgrade::serve(listener, app).shutdown_timeout(Duration::from_secs(1));
    if let Some(connections) = upgraded {
        served = served.upgraded(connections);
    }
    let served = served.with_graceful_shutdown(async {
        let _ = stopped.await;
    });
    let done = tokio::spawn(served.into_future());
    Running { addr, stop, done }
}

/// A route that never answers, holding `guard`, after telling `entered`.
fn stuck_route(guard: DropGuard, entered: Arc<Notify>) -> Router {
    let guard = Arc::new(std::sync::Mutex::new(Some(guard)));
    Router::new().route(
        "/stuck",
        get(move || {
            let guard = guard.lock().unwrap().take();
            let entered = entered.clone();
            async move {
                let _guard = guard;
                entered.notify_one();
                std::future::pending::<&'static str>().await
            }
        }),
    )
}

/// Reads to the end of `io`; what came before it.
async fn read_to_end(io: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    let ended = tokio::time::timeout(HANG, async {
        let mut buf = [0; 1024];
        loop {
            match io.read(&mut buf).await {
                // EOF, or a reset: the server closed the socket.
                Ok(0) | Err(_) => return,
                Ok(n) => read.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server never closed the connection");
    read
}

#[tokio::test]
async fn a_websocket_handler_that_ignores_shutdown_is_ended_at_the_deadline() {
    let (guard, dropped) = drop_guard();
    let guard = Arc::new(std::sync::Mutex::new(Some(guard)));
    let upgraded = Arc::new(Notify::new());
    let entered = upgraded.clone();
    // Reads, and goes on after the end of the messages as if nothing had
    // happened: the message layer sends its Close 1001 when shutdown comes
    // (polled by `recv`), but the handler never returns.
    async fn stubborn(
        conn: Upgraded,
        guard: Option<DropGuard>,
        entered: Arc<Notify>,
    ) -> Result<(), std::io::Error> {
        let _guard = guard;
        let mut ws = conn.into_websocket();
        entered.notify_one();
        loop {
            if ws.recv().await.is_none() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let handler = service_fn(move |conn: Upgraded| {
        stubborn(conn, guard.lock().unwrap().take(), entered.clone())
    });
    let layer = UpgradeLayer::new().websocket(WebSocketConfig::new(), handler);
    let connections = layer.connections();
    let app = Router::new()
        .route("/ws", get(|| async { "not upgraded" }))
        .layer(layer);
    let server = start(app, Some(connections.clone())).await;

    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let (status, head, rest) = support::h2::read_head(&mut client).await;
    assert_eq!(status, 101, "{head}");
    upgraded.notified().await;
    assert_eq!(connections.active(), 1);

    server.shut_down().await;
    fired(dropped).await;
    assert_eq!(connections.active(), 0);
    // The client never answered the Close: only the deadline closed it.
    let mut rest = rest.to_vec();
    rest.extend(read_to_end(&mut client).await);
    let mut frames = &rest[..];
    let (head, payload) = support::ws::server_frame(&mut frames)
        .await
        .expect("a frame before the end");
    assert_eq!(head, 0x88, "a Close frame");
    assert_eq!(&payload[..2], 1001u16.to_be_bytes(), "going away");
    assert!(frames.is_empty(), "nothing after the Close: {frames:?}");
}

#[tokio::test]
async fn an_http2_stream_past_the_deadline_gets_goaway_then_the_connection_closes() {
    let (guard, dropped) = drop_guard();
    let entered = Arc::new(Notify::new());
    let server = start(stuck_route(guard, entered.clone()), None).await;

    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut h2 = Client::prior_knowledge(tcp, &[]).await;
    let stream = h2.request("GET", "/stuck", &[], b"").await;
    entered.notified().await;

    let stop = tokio::spawn(server.shut_down());
    let goaway = tokio::time::timeout(HANG, h2.run_until(|c| c.goaway.is_some())).await;
    assert_eq!(goaway.ok(), Some(true), "no GOAWAY before the end");
    let closed = tokio::time::timeout(HANG, h2.wait_closed()).await;
    assert!(closed.is_ok(), "the connection was never closed");
    let (last, code) = h2.goaway.unwrap();
    assert_eq!(code, 0, "a graceful GOAWAY (NO_ERROR)");
    assert!(
        last >= stream,
        "the GOAWAY lets the stream in flight finish"
    );
    assert!(!h2.streams[&stream].done, "the stream got no answer");
    stop.await.unwrap();
    fired(dropped).await;
}

#[tokio::test]
async fn an_http1_request_past_the_deadline_is_closed_unanswered() {
    let (guard, dropped) = drop_guard();
    let entered = Arc::new(Notify::new());
    let server = start(stuck_route(guard, entered.clone()), None).await;

    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client
        .write_all(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    entered.notified().await;

    server.shut_down().await;
    fired(dropped).await;
    assert_eq!(read_to_end(&mut client).await, b"", "no response");
}
