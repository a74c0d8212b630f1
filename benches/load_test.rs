//! Echo throughput, side by side: uWebSockets' `load_test` client against
//! this crate and its peers, each server in its own process, in one run.
//!
//! ```sh
//! cargo bench --bench load_test
//! # shorter, or only some rows / cases:
//! LOAD_SECONDS=9 LOAD_ROUNDS=1 LOAD_CASES=100x20 cargo bench --bench load_test
//! ```
//!
//! The client is `../shared/tools/load_test` (beside the repository; set
//! `LOAD_TEST` to use another path). It opens N connections to `/ws`, keeps
//! one masked binary message of SIZE bytes in flight on each, and prints
//! `Msg/sec` every 4 s. For each case and round, every server runs for
//! `LOAD_SECONDS` (default 13) under `stdbuf -oL load_test N 127.0.0.1 PORT
//! 0 0 SIZE`; the first sample is dropped (connections are still opening)
//! and the rest averaged. The order of the servers rotates each round so no
//! server always runs first (or last) while the machine warms up.
//!
//! Servers, all behind the same `axum::serve` and the same tokio runtime
//! (multi-thread, `LOAD_WORKERS` worker threads, default 2), each taking
//! over the connection hyper upgraded:
//! - `axum`: axum 0.8's `WebSocketUpgrade`, `recv`/`send` echo;
//! - `fastwebsockets`: fastwebsockets 0.10's `upgrade` with its
//!   `FragmentCollector`, as in its own echo example;
//! - `tower-upgrade`: this crate's own message type (`into_websocket`);
//! - `tower-upgrade+tungstenite`: this crate's layer with the tungstenite
//!   backend (`Upgraded::into_tungstenite`);
//! - `tokio-websockets`: tokio-websockets 0.13's `ServerBuilder::serve`
//!   after a 101 answered by the route, `next`/`send` echo as in its
//!   `echo_server` example (details on `peers::tokio_websockets_upgrade`);
//! - `ratchet`: ratchet 1.2's `server::handshake` and
//!   `WebSocket::from_upgraded`, `read`/`write` echo as in its examples,
//!   from benches/ratchet_peer (a package apart, built into
//!   `target/ratchet-peer/` on first use; its Cargo.toml says why).
//!
//! load_test offers no `Sec-WebSocket-Extensions`, so no row here
//! negotiates permessage-deflate; ratchet's deflate row is only in
//! benches/idle_memory.rs, whose client offers it.
//!
//! Output: per case the mean Msg/sec of each server, per round, and the
//! ratios to axum and to fastwebsockets; the load average before and after
//! (the machine is shared: read ratios, not absolute numbers).

use std::process::{Child, Command, Stdio};

use axum::routing::any;
use axum::Router;
use tower::service_fn;
use tower_upgrade::UpgradeLayer;

#[path = "support/peers.rs"]
mod peers;
#[path = "../tests/support/ws.rs"]
mod ws;
use peers::{axum_echo, fastwebsockets_upgrade, tokio_websockets_upgrade};
#[path = "support/ratchet.rs"]
mod ratchet;

/// The rows, in the order of the first round.
const SERVERS: [&str; 6] = [
    "tower-upgrade",
    "tower-upgrade+tungstenite",
    "axum",
    "fastwebsockets",
    "tokio-websockets",
    "ratchet",
];

/// (connections, payload bytes)
const CASES: [(usize, usize); 3] = [(100, 20), (10, 1024), (200, 16 * 1024)];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--server") {
        return serve(&args[i + 1]);
    }
    let seconds = env_or("LOAD_SECONDS", 13u64);
    let rounds = env_or("LOAD_ROUNDS", 2usize);
    let wanted_cases = std::env::var("LOAD_CASES").ok();
    let wanted_servers = std::env::var("LOAD_SERVERS").ok();
    let client = load_test_path();
    let servers: Vec<&str> = SERVERS
        .into_iter()
        .filter(|s| {
            wanted_servers
                .as_ref()
                .is_none_or(|w| w.split(',').any(|w| w == *s))
        })
        .collect();
    if servers.iter().any(|s| ratchet::is_row(s)) {
        // Built before anything is measured, not between two rows.
        ratchet::binary();
    }

    println!("load_test: {client}");
    println!("load average before: {}", loadavg());
    for (connections, size) in CASES {
        let name = format!("{connections}x{size}");
        if wanted_cases
            .as_ref()
            .is_some_and(|w| !w.split(',').any(|w| w == name))
        {
            continue;
        }
        // samples[server][round]
        let mut samples = vec![Vec::new(); servers.len()];
        for round in 0..rounds {
            for k in 0..servers.len() {
                let s = (k + round) % servers.len();
                let rate = run_one(&client, servers[s], connections, size, seconds);
                eprintln!(
                    "  {name} round {round} {:<28} {rate:>10.0} msg/s",
                    servers[s]
                );
                samples[s].push(rate);
            }
        }
        let mean: Vec<f64> = samples
            .iter()
            .map(|r| r.iter().sum::<f64>() / r.len() as f64)
            .collect();
        let of = |peer: &str| servers.iter().position(|s| *s == peer).map(|i| mean[i]);
        let (axum, fast) = (of("axum"), of("fastwebsockets"));
        println!("\ncase {connections} connections x {size} B ({rounds} rounds of {seconds} s)");
        println!(
            "{:<28} {:>12} {:>8} {:>8}   per round",
            "server", "msg/s", "/axum", "/fastws"
        );
        for (i, server) in servers.iter().enumerate() {
            let ratio =
                |peer: Option<f64>| peer.map_or("-".into(), |p| format!("{:.2}x", mean[i] / p));
            let rounds: Vec<String> = samples[i].iter().map(|r| format!("{r:.0}")).collect();
            println!(
                "{server:<28} {:>12.0} {:>8} {:>8}   {}",
                mean[i],
                ratio(axum),
                ratio(fast),
                rounds.join(" ")
            );
        }
    }
    println!("\nload average after: {}", loadavg());
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn load_test_path() -> String {
    let path = std::env::var("LOAD_TEST").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tools/load_test").into()
    });
    assert!(
        std::path::Path::new(&path).exists(),
        "load_test not found at {path}: set LOAD_TEST"
    );
    path
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Runs one server under load_test for `seconds`; the mean Msg/sec after
/// the first sample.
fn run_one(client: &str, server: &str, connections: usize, size: usize, seconds: u64) -> f64 {
    let mut child = spawn_server(server);
    let port = read_port(&mut child);
    let output = Command::new("timeout")
        .arg(seconds.to_string())
        .args(["stdbuf", "-oL", client])
        .args([
            &connections.to_string(),
            "127.0.0.1",
            &port.to_string(),
            "0",
            "0",
        ])
        .arg(size.to_string())
        .stderr(Stdio::null())
        .output()
        .expect("run load_test (needs coreutils' timeout and stdbuf)");
    let _ = child.kill();
    let _ = child.wait();
    let rates: Vec<f64> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("Msg/sec:"))
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let kept = rates.get(1..).unwrap_or_default();
    assert!(
        !kept.is_empty(),
        "{server}: load_test printed {} samples in {seconds} s; raise LOAD_SECONDS",
        rates.len()
    );
    kept.iter().sum::<f64>() / kept.len() as f64
}

fn spawn_server(server: &str) -> Child {
    if ratchet::is_row(server) {
        return ratchet::spawn(server, env_or("LOAD_WORKERS", 2));
    }
    Command::new(std::env::current_exe().unwrap())
        .args(["--server", server])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server")
}

fn read_port(child: &mut Child) -> u16 {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().parse().expect("the server prints its port")
}

fn serve(server: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env_or("LOAD_WORKERS", 2))
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ws =
            match server {
                "axum" => any(|ws: axum::extract::ws::WebSocketUpgrade| async move {
                    ws.on_upgrade(axum_echo)
                }),
                "fastwebsockets" => any(fastwebsockets_upgrade),
                "tokio-websockets" => any(tokio_websockets_upgrade),
                "tower-upgrade" => any(|| async { "" }).layer(UpgradeLayer::new().websocket(
                    tower_upgrade::websocket::WebSocketConfig::new(),
                    service_fn(ws::echo),
                )),
                "tower-upgrade+tungstenite" => {
                    any(|| async { "" }).layer(UpgradeLayer::new().websocket(
                        tower_upgrade::websocket::WebSocketConfig::new(),
                        service_fn(ws::ws_echo),
                    ))
                }
                other => panic!("unknown server {other}"),
            };
        let app = Router::new().route("/ws", ws);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        axum::serve(listener, app).await.unwrap();
    });
}
