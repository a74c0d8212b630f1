//! Issue 8: the deadlines of `tower_upgrade::serve` (first bytes, request
//! head, HTTP/2 preface, HTTP/2 idle), the PROXY protocol, and the idle
//! timeout of a raw upgraded connection, over real TCP on 127.0.0.1.
//!
//! The deadlines are set short; each check waits for the server to close
//! (no assertion on how fast), with a generous bound only so that a
//! regression fails instead of hanging.
#![cfg(all(feature = "serve", feature = "h2c"))]

mod support;

use std::future::IntoFuture;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tower::service_fn;
use tower_upgrade::h2c::H2c;
use tower_upgrade::peer::PeerAddr;
use tower_upgrade::serve::{Http2Settings, Serve};
use tower_upgrade::{UpgradeLayer, Upgraded};

use support::h2::Client;

const SHORT: Duration = Duration::from_millis(300);
/// Only so that a server that never closes fails the test rather than hangs.
const BOUND: Duration = Duration::from_secs(20);

async fn routes() -> Router {
    Router::new().route(
        "/",
        get(|Extension(PeerAddr(peer)): Extension<PeerAddr>| async move { format!("peer {peer}\n") }),
    )
}

async fn start(configure: impl FnOnce(Serve<Router>) -> Serve<Router>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = routes().await;
    let app = routes
        .clone()
        .layer(UpgradeLayer::new().h2c(H2c::new(routes)));
    let serve = configure(tower_upgrade::serve(listener, app));
    tokio::spawn(serve.into_future());
    addr
}

/// Reads until the server closes; what it sent before.
async fn read_until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    got
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let addr = start(|s| s.header_read_timeout(SHORT)).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_until_closed(&mut tcp).await, b"");
}

#[tokio::test]
async fn part_of_the_http2_preface_is_closed() {
    let addr = start(|s| s.header_read_timeout(SHORT)).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..16])
        .await
        .unwrap();
    assert_eq!(read_until_closed(&mut tcp).await, b"");
}

#[tokio::test]
async fn half_a_request_head_a_byte_at_a_time_is_closed() {
    let addr = start(|s| s.header_read_timeout(SHORT)).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n";
    let (mut read, mut write) = tcp.split();
    let trickle = async {
        for byte in head.iter() {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The rest never comes.
        std::future::pending::<()>().await;
    };
    let closed = async {
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let ended = tokio::time::timeout(BOUND, async {
        tokio::select! {
            () = trickle => {}
            () = closed => {}
        }
    })
    .await;
    assert!(ended.is_ok(), "the server kept the connection open");
}

#[tokio::test]
async fn a_complete_head_is_served_and_later_heads_have_their_own_deadline() {
    let addr = start(|s| s.header_read_timeout(SHORT)).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Served, then the idle keep-alive connection is closed by hyper's
    // header read timeout.
    let got = String::from_utf8(read_until_closed(&mut tcp).await).unwrap();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.contains("peer 127.0.0.1:"), "{got}");
}

#[tokio::test]
async fn an_http2_connection_without_streams_is_sent_goaway() {
    let addr = start(|s| s.http2(Http2Settings::new().idle_timeout(SHORT))).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut client = Client::prior_knowledge(tcp, &[]).await;
    let id = client.request("GET", "/", &[], b"").await;
    assert!(client.wait(id).await.data.starts_with(b"peer 127.0.0.1:"));
    // Served, then idle: GOAWAY and close.
    let closed = tokio::time::timeout(BOUND, client.wait_closed()).await;
    assert!(closed.is_ok(), "the idle HTTP/2 connection stayed open");
    assert!(client.goaway.is_some(), "closed without GOAWAY");
}

#[tokio::test]
async fn the_http2_idle_timeout_waits_for_open_streams() {
    // The response body of `/slow` takes longer than the idle timeout; the
    // connection stays until it has been sent.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app: Router = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(SHORT * 3).await;
            "slow\n"
        }),
    );
    tokio::spawn(
        tower_upgrade::serve(listener, app)
            .http2(Http2Settings::new().idle_timeout(SHORT))
            .into_future(),
    );
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut client = Client::prior_knowledge(tcp, &[]).await;
    let id = client.request("GET", "/slow", &[], b"").await;
    assert_eq!(client.wait(id).await.data, b"slow\n");
}

#[tokio::test]
async fn proxy_protocol_gives_the_peer_address() {
    let addr = start(|s| s.proxy_protocol(true)).await;

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"PROXY TCP4 192.0.2.7 127.0.0.1 51234 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let got = String::from_utf8(read_until_closed(&mut tcp).await).unwrap();
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.ends_with("peer 192.0.2.7:51234\n"), "{got}");

    // HTTP/2 with prior knowledge after a v2 header.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let header = [
        &b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"[..],
        &[198, 51, 100, 9, 127, 0, 0, 1, 0x1f, 0x90, 0, 80],
    ]
    .concat();
    tcp.write_all(&header).await.unwrap();
    let mut client = Client::prior_knowledge(tcp, &[]).await;
    let id = client.request("GET", "/", &[], b"").await;
    assert_eq!(client.wait(id).await.data, b"peer 198.51.100.9:8080\n");
}

#[tokio::test]
async fn proxy_protocol_closes_a_connection_without_the_header() {
    let addr = start(|s| s.proxy_protocol(true).header_read_timeout(SHORT)).await;

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_until_closed(&mut tcp).await,
        b"",
        "answered without a PROXY header"
    );

    // Nothing at all: closed at the deadline.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_until_closed(&mut tcp).await, b"");
}

#[tokio::test]
async fn a_silent_upgraded_connection_times_out_for_its_handler() {
    let (seen, mut errors) = mpsc::unbounded_channel::<io::ErrorKind>();
    let layer = UpgradeLayer::new()
        .protocol(
            "raw/1",
            service_fn(move |mut conn: Upgraded| {
                let seen = seen.clone();
                async move {
                    let mut buf = [0u8; 64];
                    // Bytes keep the connection alive; silence ends it.
                    loop {
                        match conn.read(&mut buf).await {
                            Ok(0) => return Ok::<_, io::Error>(()),
                            Ok(n) => conn.write_all(&buf[..n]).await?,
                            Err(error) => {
                                let _ = seen.send(error.kind());
                                return Ok(());
                            }
                        }
                    }
                }
            }),
        )
        .upgraded_idle_timeout(SHORT);
    let app = Router::new()
        .route("/", get(|| async { "plain" }))
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tower_upgrade::serve(listener, app).into_future());

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: raw/1\r\n\r\n")
        .await
        .unwrap();
    let (status, _, _) = support::h2::read_head(&mut tcp).await;
    assert_eq!(status, 101);
    for _ in 0..3 {
        tcp.write_all(b"ping").await.unwrap();
        let mut echo = [0u8; 4];
        tcp.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"ping");
    }
    let kind = tokio::time::timeout(BOUND, errors.recv()).await.unwrap();
    assert_eq!(kind, Some(io::ErrorKind::TimedOut));
    assert_eq!(read_until_closed(&mut tcp).await, b"");
}
