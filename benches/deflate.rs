//! permessage-deflate: echo throughput, bytes on the wire, and memory per
//! connection, with the `tungstenite` backend as the peer in the same run.
//!
//! Every connection goes through the layer's real handshake, in-process over
//! `tokio::io::duplex` (no socket, no network noise), on one thread: the
//! figures are the cost of client and server together, which is what the
//! ratios compare. Payloads are 4 KiB messages, JSON-like text (compresses)
//! and random bytes (does not).
//!
//! ```sh
//! cargo bench --bench deflate --features yawc
//! DEFLATE_BENCH_MESSAGES=5000 cargo bench --bench deflate --features yawc
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::Role as TungsteniteRole;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody, TestIo};
use tower_upgrade::websocket::yawc::{self, Frame, Options, Role};
use tower_upgrade::websocket::{DeflateConfig, WebSocketConfig};
use tower_upgrade::UpgradeLayer;

#[path = "../tests/common/mod.rs"]
mod common;

/// Counts live heap bytes, for the memory table.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MESSAGE: usize = 4096;
const MEMORY_CONNECTIONS: usize = 64;

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Tungstenite,
    Yawc,
    Deflate,
    DeflateNoContext,
    DeflateSmallWindows,
}

impl Server {
    const ALL: [Server; 5] = [
        Self::Tungstenite,
        Self::Yawc,
        Self::Deflate,
        Self::DeflateNoContext,
        Self::DeflateSmallWindows,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Tungstenite => "tungstenite (peer)",
            Self::Yawc => "yawc, no deflate",
            Self::Deflate => "yawc + deflate",
            Self::DeflateNoContext => "yawc + deflate, no context takeover",
            Self::DeflateSmallWindows => "yawc + deflate, 10-bit windows",
        }
    }

    fn app(self) -> App {
        let layer = match self {
            Self::Tungstenite => {
                UpgradeLayer::new().websocket(WebSocketConfig::new(), service_fn(common::ws_echo))
            }
            Self::Yawc => UpgradeLayer::new()
                .websocket(WebSocketConfig::new(), service_fn(common::ws_echo_yawc)),
            Self::Deflate => UpgradeLayer::new().websocket(
                WebSocketConfig::new().permessage_deflate(DeflateConfig::new()),
                service_fn(common::ws_echo_yawc),
            ),
            Self::DeflateNoContext => UpgradeLayer::new().websocket(
                WebSocketConfig::new().permessage_deflate(
                    DeflateConfig::new()
                        .server_no_context_takeover(true)
                        .client_no_context_takeover(true),
                ),
                service_fn(common::ws_echo_yawc),
            ),
            Self::DeflateSmallWindows => UpgradeLayer::new().websocket(
                WebSocketConfig::new().permessage_deflate(
                    DeflateConfig::new()
                        .server_max_window_bits(10)
                        .unwrap()
                        .client_max_window_bits(10)
                        .unwrap(),
                ),
                service_fn(common::ws_echo_yawc),
            ),
        };
        layer.layer(tower::util::BoxCloneSyncService::new(service_fn(
            |_: Request<TestBody>| async { Ok::<_, Infallible>(Response::new(String::new())) },
        )))
    }
}

type App = tower_upgrade::Upgrade<
    tower::util::BoxCloneSyncService<Request<TestBody>, Response<String>, Infallible>,
>;

/// The client's IO, counting the bytes each way.
struct Counted {
    io: TestIo,
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        self.received
            .fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        poll
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            self.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The WebSocket handshake through the layer; Chromium's offer.
async fn handshake(app: App) -> (Option<String>, TestIo) {
    let request = Request::get("/ws")
        .header("host", "bench")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header(
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits",
        )
        .body(String::new())
        .unwrap();
    let response = testing::send(app, request).await.unwrap();
    assert_eq!(response.status(), 101);
    let agreed = response
        .headers()
        .get("sec-websocket-extensions")
        .map(|v| v.to_str().unwrap().to_owned());
    (agreed, response.into_io().unwrap())
}

/// JSON-like text, different in every message.
fn json(seed: usize) -> String {
    let mut s = String::from("[");
    let mut n = 0;
    while s.len() < MESSAGE - 80 {
        let id = seed * 100 + n;
        s.push_str(&format!(
            r#"{{"id":{id},"user":"user-{}","online":{},"score":{},"tags":["a","b"]}},"#,
            (id * 31) % 1000,
            id % 3 == 0,
            (id * 7919) % 100_000
        ));
        n += 1;
    }
    s.push_str(r#"{"end":true}]"#);
    s
}

/// xorshift: random-looking bytes without a dependency.
fn random(seed: usize) -> Vec<u8> {
    let mut x = seed as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
    (0..MESSAGE)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Payload {
    Json,
    Random,
}

struct Run {
    per_second: f64,
    sent: u64,
    received: u64,
    payload: u64,
}

/// Echoes `count` messages one at a time and times it.
async fn throughput(server: Server, payload: Payload, count: usize) -> Run {
    let (agreed, io) = handshake(server.app()).await;
    assert_eq!(
        agreed.is_some(),
        !matches!(server, Server::Tungstenite | Server::Yawc)
    );
    let (sent, received) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let io = Counted {
        io,
        sent: sent.clone(),
        received: received.clone(),
    };
    let messages: Vec<_> = (0..64)
        .map(|i| match payload {
            Payload::Json => json(i).into_bytes(),
            Payload::Random => random(i),
        })
        .collect();
    let total: u64 = (0..count).map(|i| messages[i % 64].len() as u64).sum();
    let start = Instant::now();
    if server == Server::Tungstenite {
        let mut ws = WebSocketStream::from_raw_socket(io, TungsteniteRole::Client, None).await;
        for i in 0..count {
            let m = &messages[i % 64];
            let message = match payload {
                Payload::Json => Message::text(String::from_utf8(m.clone()).unwrap()),
                Payload::Random => Message::binary(m.clone()),
            };
            ws.send(message).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap().len(), m.len());
        }
    } else {
        let options = Options::default()
            .with_low_latency_compression()
            .with_compression_threshold(1);
        let mut ws = yawc::WebSocket::from_stream_with_extensions(
            io,
            Role::Client,
            agreed.as_deref(),
            options,
        )
        .unwrap();
        for i in 0..count {
            let m = &messages[i % 64];
            let frame = match payload {
                Payload::Json => Frame::text(m.clone()),
                Payload::Random => Frame::binary(m.clone()),
            };
            ws.send(frame).await.unwrap();
            assert_eq!(ws.next_frame().await.unwrap().payload().len(), m.len());
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    Run {
        per_second: count as f64 / elapsed,
        sent: sent.load(Ordering::Relaxed),
        received: received.load(Ordering::Relaxed),
        payload: total,
    }
}

/// A masked client frame (RFC 6455 §5.2), `rsv1` for a compressed one.
fn client_frame(opcode: u8, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | if rsv1 { 0x40 } else { 0 } | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one unmasked server frame of up to 64 KiB.
async fn read_frame(io: &mut TestIo) {
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await.unwrap();
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            io.read_exact(&mut ext).await.unwrap();
            usize::from(u16::from_be_bytes(ext))
        }
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    io.read_exact(&mut payload).await.unwrap();
}

/// The first message of a fresh deflate context, compressed with the window
/// `kind` agrees to (a server-role compressor uses the server's window; the
/// rows here use the same size both ways).
async fn compressed_payload(kind: Server, text: &str) -> Vec<u8> {
    let (agreed, io) = handshake(kind.app()).await;
    let (mut client, server) = tokio::io::duplex(1 << 20);
    let mut ws = yawc::WebSocket::from_stream_with_extensions(
        server,
        Role::Server,
        agreed.as_deref(),
        Options::default().with_low_latency_compression(),
    )
    .unwrap();
    drop(io);
    ws.send(Frame::text(text.to_owned())).await.unwrap();
    // A server frame: unmasked, so the payload follows the length.
    let mut head = [0u8; 4];
    client.read_exact(&mut head[..2]).await.unwrap();
    assert_eq!(head[0], 0xC1, "FIN, RSV1, text");
    let len = match head[1] {
        126 => {
            client.read_exact(&mut head[2..]).await.unwrap();
            usize::from(u16::from_be_bytes([head[2], head[3]]))
        }
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    client.read_exact(&mut payload).await.unwrap();
    payload
}

/// Live heap per connection after one message each way, server side (the
/// client end is a bare pipe).
async fn memory(server: Server, plain: &str) -> f64 {
    let compressed = match server {
        Server::Tungstenite | Server::Yawc => Vec::new(),
        _ => compressed_payload(server, plain).await,
    };
    let plain = plain.as_bytes();
    let mut held = Vec::with_capacity(MEMORY_CONNECTIONS);
    let app = server.app();
    // Warm up: the registration's shared state (the pool) is not per connection.
    for _ in 0..2 {
        let (_, mut io) = handshake(app.clone()).await;
        io.write_all(&client_frame(0x1, false, plain))
            .await
            .unwrap();
        read_frame(&mut io).await;
    }
    tokio::task::yield_now().await;
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..MEMORY_CONNECTIONS {
        let (agreed, mut io) = handshake(app.clone()).await;
        let frame = match agreed {
            Some(_) => client_frame(0x1, true, &compressed),
            None => client_frame(0x1, false, plain),
        };
        io.write_all(&frame).await.unwrap();
        read_frame(&mut io).await;
        held.push(io);
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let after = LIVE.load(Ordering::Relaxed);
    drop(held);
    (after - before) as f64 / MEMORY_CONNECTIONS as f64 / 1024.0
}

fn main() {
    let count: usize = std::env::var("DEFLATE_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let rounds = 3;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    println!(
        "\necho of {count} messages of 4 KiB, one at a time, client and server on one thread;"
    );
    println!("best of {rounds} alternating rounds; wire = bytes client->server + server->client");
    println!(
        "{:<8} {:<36} {:>10} {:>10} {:>12} {:>12}",
        "payload", "server backend", "msg/s", "vs peer", "wire bytes", "wire/payload"
    );
    for (payload, label) in [(Payload::Json, "json"), (Payload::Random, "random")] {
        let mut best: Vec<Option<Run>> = Server::ALL.iter().map(|_| None).collect();
        for _ in 0..rounds {
            for (i, server) in Server::ALL.into_iter().enumerate() {
                let run = runtime.block_on(throughput(server, payload, count));
                if best[i]
                    .as_ref()
                    .is_none_or(|b| run.per_second > b.per_second)
                {
                    best[i] = Some(run);
                }
            }
        }
        let peer = best[0].as_ref().unwrap().per_second;
        for (server, run) in Server::ALL.iter().zip(&best) {
            let run = run.as_ref().unwrap();
            let wire = run.sent + run.received;
            println!(
                "{label:<8} {:<36} {:>10.0} {:>9.2}x {:>12} {:>12.3}",
                server.name(),
                run.per_second,
                run.per_second / peer,
                wire,
                wire as f64 / (2 * run.payload) as f64
            );
        }
    }

    let text = json(0);
    println!(
        "\nheap per connection, after one 4 KiB JSON message each way ({MEMORY_CONNECTIONS} connections;"
    );
    println!("includes the HTTP connection and the in-memory pipe, the same for every row)");
    println!(
        "{:<36} {:>14} {:>10}",
        "server backend", "KiB/connection", "vs peer"
    );
    let results: Vec<f64> = Server::ALL
        .iter()
        .map(|&server| runtime.block_on(memory(server, &text)))
        .collect();
    for (server, kib) in Server::ALL.iter().zip(&results) {
        println!(
            "{:<36} {kib:>14.1} {:>9.2}x",
            server.name(),
            kib / results[0]
        );
    }
}
