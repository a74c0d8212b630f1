//! What an idle WebSocket connection costs the server, in resident memory.
//!
//! For each server below, a child process serves WebSocket echo on
//! 127.0.0.1; this process opens `IDLE_CONNECTIONS` (default 10,000)
//! connections, sends one 1 KiB message on each and reads the echo (so
//! buffers are in use), then lets them idle and reads the child's `VmRSS`.
//! The figure is (RSS with the connections - RSS after 20 warm-up
//! connections) / connections, in KiB, with ratios to axum and to
//! fastwebsockets, and whether `tower-upgrade` keeps issue 16's goal of at
//! most 6 KiB.
//!
//! - `tower-upgrade`: this crate's own message type (`into_websocket`), defaults;
//! - `tower-upgrade+Chromium-deflate`: the same with `DeflateConfig::new()`,
//!   the client offering what Chromium offers;
//! - `tower-upgrade+Chromium-deflate-server-takeover`, `-client-takeover`,
//!   `-takeover`: the same with context takeover kept by the server's
//!   compressor, by the client's compressor (so the server's decompressor),
//!   or both; `-takeover-10bit`: both, with 10-bit windows both ways (the
//!   rows of the table in `DeflateConfig`'s docs);
//! - `tower-upgrade+tungstenite`: this crate's tungstenite backend with its
//!   default `FrameLimits`;
//! - `tower-upgrade+tungstenite-defaults`: the same, configured with
//!   tungstenite's own defaults;
//! - `axum`: axum 0.8's `WebSocketUpgrade` (tungstenite's defaults);
//! - `fastwebsockets`: fastwebsockets 0.10's `upgrade` with its
//!   `FragmentCollector`;
//! - `tokio-websockets`: tokio-websockets 0.13's `ServerBuilder::serve`
//!   after a 101 answered by the route (details on
//!   `peers::tokio_websockets_upgrade`); released 0.13 has no
//!   permessage-deflate, so it has no deflate row;
//! - `ratchet`: ratchet 1.2's `server::handshake` and
//!   `WebSocket::from_upgraded`, without extensions;
//! - `ratchet-deflate`: the same with its `DeflateExtProvider::default()`,
//!   the client offering what Chromium offers. As a server ratchet answers
//!   only what the offer holds (its `request_*_no_context_takeover` apply
//!   to its client), so here it agrees to context takeover both ways with
//!   15-bit windows: compare it with
//!   `tower-upgrade+Chromium-deflate-takeover`, not with the default row.
//!
//! Every server runs behind `axum::serve` on a 2-thread runtime and takes
//! over the connection hyper upgraded. The ratchet rows come from
//! benches/ratchet_peer, a package apart (its Cargo.toml says why), built
//! into `target/ratchet-peer/` on first use.
//!
//! The client is a few lines of raw WebSocket over `TcpStream` (one masked
//! text frame, the echo read as bytes), so it also works on rows that
//! negotiate permessage-deflate; `Chromium-deflate` rows offer what Chromium
//! offers, `permessage-deflate; client_max_window_bits`, and send their
//! message compressed.
//!
//! ```sh
//! cargo bench --bench idle_memory
//! IDLE_CONNECTIONS=2000 IDLE_SERVERS=axum,fastwebsockets cargo bench --bench idle_memory
//! ```
//!
//! The bench raises its open-file limit (and its children's) to what 10,000
//! sockets on each side need; the servers are killed before the client
//! sockets close, so the next row finds its ephemeral ports free.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::routing::any;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::service_fn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::UpgradeLayer;

#[path = "support/peers.rs"]
mod peers;
#[path = "../tests/support/ws.rs"]
mod ws;
use peers::{axum_echo, fastwebsockets_upgrade, tokio_websockets_upgrade};
use ws::ws_echo as echo;
#[path = "support/procfs.rs"]
mod procfs;
#[path = "support/ratchet.rs"]
mod ratchet;
use procfs::{raise_fd_limit, rss_kib};

/// The rows: server name, and whether the client offers permessage-deflate.
const SERVERS: [(&str, bool); 13] = [
    ("tower-upgrade", false),
    ("tower-upgrade+Chromium-deflate", true),
    ("tower-upgrade+Chromium-deflate-server-takeover", true),
    ("tower-upgrade+Chromium-deflate-client-takeover", true),
    ("tower-upgrade+Chromium-deflate-takeover", true),
    ("tower-upgrade+Chromium-deflate-takeover-10bit", true),
    ("tower-upgrade+tungstenite", false),
    ("tower-upgrade+tungstenite-defaults", false),
    ("axum", false),
    ("fastwebsockets", false),
    ("tokio-websockets", false),
    ("ratchet", false),
    ("ratchet-deflate", true),
];

/// What Chromium sends (and Firefox: the same offer).
const CHROMIUM_OFFER: &str = "permessage-deflate; client_max_window_bits";

fn main() {
    if let Ok(mode) = std::env::var("IDLE_BENCH_SERVER") {
        return serve(&mode);
    }
    let connections: usize = std::env::var("IDLE_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let wanted = std::env::var("IDLE_SERVERS").ok();
    raise_fd_limit(connections as u64 * 2 + 1024);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut results = Vec::new();
    let selected = |mode: &str| {
        wanted
            .as_ref()
            .is_none_or(|w| w.split(',').any(|w| w == mode))
    };
    if SERVERS
        .iter()
        .any(|(mode, _)| selected(mode) && ratchet::is_row(mode))
    {
        // Built before anything is measured.
        ratchet::binary();
    }
    for (mode, deflate) in SERVERS {
        if !selected(mode) {
            continue;
        }
        let per_connection = runtime.block_on(measure(mode, deflate, connections));
        eprintln!("  {mode}: {per_connection:.1} KiB/connection");
        results.push((mode, per_connection));
    }
    let of = |peer: &str| results.iter().find(|(m, _)| *m == peer).map(|r| r.1);
    let (axum, fast) = (of("axum"), of("fastwebsockets"));
    println!("\nidle WebSocket connections: {connections}, each after one 1 KiB echo");
    println!(
        "{:<48} {:>14} {:>9} {:>9}",
        "server", "KiB/connection", "/axum", "/fastws"
    );
    for (mode, kib) in &results {
        let ratio = |peer: Option<f64>| peer.map_or("-".into(), |p| format!("{:.2}x", kib / p));
        println!(
            "{mode:<48} {kib:>14.1} {:>9} {:>9}",
            ratio(axum),
            ratio(fast)
        );
    }
    if let Some(ours) = of("tower-upgrade") {
        let verdict = if ours <= GOAL_KIB { "met" } else { "NOT met" };
        println!("goal: tower-upgrade <= {GOAL_KIB} KiB/connection: {verdict} ({ours:.2})");
    }
}

/// Issue 16's bound on the default row's memory per idle connection.
const GOAL_KIB: f64 = 6.0;

async fn measure(mode: &str, deflate: bool, connections: usize) -> f64 {
    let mut child = spawn_server(mode);
    let port = read_port(&mut child);

    // Warm up: the runtime, the first task, the allocator's arenas.
    let mut warm = Vec::new();
    for _ in 0..20 {
        warm.push(open(port, deflate).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(child.id());

    let mut open_sockets = Vec::with_capacity(connections);
    while open_sockets.len() < connections {
        let batch = (connections - open_sockets.len()).min(64);
        let opened = futures_util::future::join_all((0..batch).map(|_| open(port, deflate))).await;
        open_sockets.extend(opened);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(child.id());

    // The server goes first so that the TIME_WAIT sockets are on its side,
    // not on the client ports the next row needs.
    let _ = child.kill();
    let _ = child.wait();
    drop(open_sockets);
    drop(warm);
    (after.saturating_sub(before)) as f64 / connections as f64
}

/// Opens a WebSocket on `/ws`, sends one masked 1 KiB text message and
/// reads the echo frame (compressed or not; only its length is parsed).
async fn open(port: u16, deflate: bool) -> TcpStream {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect (out of ports or file descriptors?)");
    let extensions = if deflate {
        format!("Sec-WebSocket-Extensions: {CHROMIUM_OFFER}\r\n")
    } else {
        String::new()
    };
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n{extensions}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(tcp.read(&mut byte).await.unwrap(), 1, "response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "not switched: {head}");
    if deflate {
        assert!(
            head.contains("permessage-deflate"),
            "deflate not agreed: {head}"
        );
    }

    // With deflate the message is compressed (RSV1), as a browser sends it,
    // so that the server's decompressor is used too.
    let text = vec![b'x'; 1024];
    let (first, payload) = if deflate {
        (0xC1, deflate_message(&text))
    } else {
        (0x81, text)
    };
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    let mut frame = vec![first, 0x80 | 126];
    frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&frame).await.unwrap();

    let mut header = [0u8; 2];
    tcp.read_exact(&mut header).await.unwrap();
    assert_eq!(header[0] & 0x0f, 0x1, "echo is a text frame");
    let len = match header[1] & 0x7f {
        126 => u64::from(tcp.read_u16().await.unwrap()),
        127 => tcp.read_u64().await.unwrap(),
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    tcp.read_exact(&mut payload).await.unwrap();
    tcp
}

/// One message compressed as RFC 7692 §7.2.1 says: raw deflate, flushed,
/// without the final empty block's `00 00 FF FF`.
fn deflate_message(text: &[u8]) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::fast(), false);
    let mut out = Vec::with_capacity(text.len() + 64);
    compress
        .compress_vec(text, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(
        out.ends_with(&[0, 0, 0xFF, 0xFF]),
        "a flushed deflate stream"
    );
    out.truncate(out.len() - 4);
    out
}

fn spawn_server(mode: &str) -> Child {
    if ratchet::is_row(mode) {
        return ratchet::spawn(mode, 2);
    }
    Command::new(std::env::current_exe().unwrap())
        .env("IDLE_BENCH_SERVER", mode)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server")
}

fn read_port(child: &mut Child) -> u16 {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().parse().expect("the server prints its port")
}

fn serve(mode: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ws =
            match mode {
                "axum" => any(|ws: axum::extract::ws::WebSocketUpgrade| async move {
                    ws.on_upgrade(axum_echo)
                }),
                "fastwebsockets" => any(fastwebsockets_upgrade),
                "tokio-websockets" => any(tokio_websockets_upgrade),
                "tower-upgrade" => any(|| async { "" }).layer(UpgradeLayer::new().websocket(
                    WebSocketConfig::new(),
                    service_fn(ws::echo),
                )),
                deflate if deflate.starts_with("tower-upgrade+Chromium-deflate") => {
                    any(|| async { "" }).layer(UpgradeLayer::new().websocket(
                        WebSocketConfig::new().permessage_deflate(deflate_config(deflate)),
                        service_fn(ws::echo),
                    ))
                }
                "tower-upgrade+tungstenite" => any(|| async { "" })
                    .layer(UpgradeLayer::new().websocket(WebSocketConfig::new(), service_fn(echo))),
                "tower-upgrade+tungstenite-defaults" => {
                    // tungstenite 0.29's defaults: 128 KiB buffers, 64 MiB messages, 16 MiB frames.
                    let settings = WebSocketConfig::new()
                        .read_buffer_size(128 * 1024)
                        .write_buffer_size(128 * 1024)
                        .max_write_buffer_size(usize::MAX)
                        .max_message_size(64 << 20)
                        .max_frame_size(16 << 20);
                    any(|| async { "" })
                        .layer(UpgradeLayer::new().websocket(settings, service_fn(echo)))
                }
                other => panic!("unknown server {other}"),
            };
        let app = axum::Router::new().route("/ws", ws);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        axum::serve(listener, app).await.unwrap();
    });
}

/// The permessage-deflate settings of a `tower-upgrade+Chromium-deflate*` row.
fn deflate_config(row: &str) -> tower_upgrade::websocket::DeflateConfig {
    let config = tower_upgrade::websocket::DeflateConfig::new();
    let (server, client) = match row.trim_start_matches("tower-upgrade+Chromium-deflate") {
        "" => return config,
        "-server-takeover" => (true, false),
        "-client-takeover" => (false, true),
        "-takeover" | "-takeover-10bit" => (true, true),
        other => panic!("unknown deflate row {other}"),
    };
    let config = config
        .server_no_context_takeover(!server)
        .client_no_context_takeover(!client);
    if row.ends_with("-10bit") {
        return config
            .server_max_window_bits(10)
            .and_then(|c| c.client_max_window_bits(10))
            .unwrap();
    }
    config
}
