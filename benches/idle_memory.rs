//! What an idle WebSocket connection costs the server, in resident memory.
//!
//! For each server below, a child process serves WebSocket echo on
//! 127.0.0.1; this process opens `IDLE_CONNECTIONS` (default 2000)
//! connections, sends one 1 KiB message on each and reads the echo (so
//! buffers are in use), then lets them idle and reads the child's `VmRSS`.
//!
//! - `tower-upgrade` with its default `FrameLimits`;
//! - `tower-upgrade` configured with tungstenite's own defaults;
//! - axum 0.8's `WebSocketUpgrade` (tungstenite's defaults), the peer.
//!
//! ```sh
//! cargo bench --bench idle_memory
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tower::service_fn;
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::UpgradeLayer;

#[path = "../tests/common/mod.rs"]
mod common;
use common::ws_echo as echo;

const SERVERS: [&str; 3] = [
    "tower-upgrade",
    "tower-upgrade+tungstenite-defaults",
    "axum",
];

fn main() {
    if let Ok(mode) = std::env::var("IDLE_BENCH_SERVER") {
        return serve(&mode);
    }
    let connections: usize = std::env::var("IDLE_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut results = Vec::new();
    for mode in SERVERS {
        let per_connection = runtime.block_on(measure(mode, connections));
        results.push((mode, per_connection));
    }
    let peer = results.last().unwrap().1;
    println!("\nidle WebSocket connections: {connections}, each after one 1 KiB echo");
    println!(
        "{:<38} {:>14} {:>12}",
        "server", "KiB/connection", "vs axum"
    );
    for (mode, kib) in &results {
        println!("{mode:<38} {kib:>14.1} {:>11.2}x", kib / peer);
    }
    let ours = results[0].1;
    println!(
        "\n10k idle connections with tower-upgrade's defaults: about {:.0} MiB",
        ours * 10_000.0 / 1024.0
    );
}

async fn measure(mode: &str, connections: usize) -> f64 {
    let mut child = spawn_server(mode);
    let port = read_port(&mut child);
    let url = format!("ws://127.0.0.1:{port}/");

    // Warm up: the runtime, the first task, the allocator's arenas.
    let mut warm = Vec::new();
    for _ in 0..20 {
        warm.push(open(&url).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(child.id());

    let mut open_sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        open_sockets.push(open(&url).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(child.id());

    drop(open_sockets);
    drop(warm);
    let _ = child.kill();
    let _ = child.wait();
    (after - before) as f64 / connections as f64
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(url: &str) -> Client {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let payload = "x".repeat(1024);
    ws.send(Message::text(payload.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(payload));
    ws
}

fn spawn_server(mode: &str) -> Child {
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

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

async fn axum_echo(mut ws: axum::extract::ws::WebSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if matches!(
            message,
            axum::extract::ws::Message::Text(_) | axum::extract::ws::Message::Binary(_)
        ) && ws.send(message).await.is_err()
        {
            return;
        }
    }
}

fn serve(mode: &str) {
    use axum::routing::get;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let app =
            match mode {
                "axum" => axum::Router::new().route(
                    "/",
                    get(|ws: axum::extract::ws::WebSocketUpgrade| async move {
                        ws.on_upgrade(axum_echo)
                    }),
                ),
                "tower-upgrade" => axum::Router::new()
                    .route("/", get(|| async { "" }))
                    .layer(UpgradeLayer::new().websocket(WebSocketConfig::new(), service_fn(echo))),
                "tower-upgrade+tungstenite-defaults" => {
                    // tungstenite 0.29's defaults: 128 KiB buffers, 64 MiB messages, 16 MiB frames.
                    let settings = WebSocketConfig::new()
                        .read_buffer_size(128 * 1024)
                        .write_buffer_size(128 * 1024)
                        .max_write_buffer_size(usize::MAX)
                        .max_message_size(64 << 20)
                        .max_frame_size(16 << 20);
                    axum::Router::new()
                        .route("/", get(|| async { "" }))
                        .layer(UpgradeLayer::new().websocket(settings, service_fn(echo)))
                }
                other => panic!("unknown server {other}"),
            };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        axum::serve(listener, app).await.unwrap();
    });
}
