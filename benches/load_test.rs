//! Echo throughput and server CPU per message, side by side: uWebSockets'
//! `load_test` client against this crate, its peers and uWebSockets itself,
//! each server in its own process, in one run.
//!
//! ```sh
//! cargo bench --bench load_test
//! # shorter (about 8 minutes), or only some rows / cases:
//! LOAD_SECONDS=9 LOAD_ROUNDS=1 cargo bench --bench load_test
//! LOAD_SERVERS=tower-upgrade,axum LOAD_CASES=100x20 cargo bench --bench load_test
//! ```
//!
//! The client is `../shared/tools/load_test` (beside the repository; set
//! `LOAD_TEST` to use another path). It opens N connections to `/ws`, keeps
//! one masked binary message of SIZE bytes in flight on each, and prints
//! `Msg/sec` (the messages echoed in the last 4 s, over 4) every 4 s. For
//! each case and round, every server runs for `LOAD_SECONDS` (default 13)
//! under `stdbuf -oL load_test N 127.0.0.1 PORT 0 0 SIZE`. The order of the
//! servers rotates each round so no server always runs first (or last)
//! while the machine warms up.
//!
//! Two figures per server, both over the same window, from the first
//! `Msg/sec` sample (connections are still opening before it, so that
//! sample is dropped) to the last:
//! - msg/s: the mean of the samples after the first;
//! - CPU µs/msg: the server process's utime+stime (`/proc/PID/stat` fields
//!   14 and 15, all its threads), read when the first and the last sample
//!   arrive, over the messages echoed between them (the samples after the
//!   first, times 4 s).
//!
//! Each is the mean over rounds, with ratios to axum, to fastwebsockets and
//! to uWebSockets (for CPU, below 1 means less CPU than that row), and
//! `echo example` over `tower-upgrade`. (This replaces
//! scripts/measure/ws_cpu_per_message.sh, which measured one row from the
//! client's start, connection setup included.)
//!
//! Servers. All but the last two run behind the same `axum::serve` and the
//! same tokio runtime (multi-thread, `LOAD_WORKERS` worker threads, default
//! 2), each taking over the connection hyper upgraded:
//! - `tower-upgrade`: this crate's own message type (`into_websocket`), the
//!   minimal handler (`recv`/`send` echo, default `WebSocketConfig`);
//! - `tower-upgrade+tungstenite`: this crate's layer with the tungstenite
//!   backend (`Upgraded::into_tungstenite`);
//! - `axum`: axum 0.8's `WebSocketUpgrade`, `recv`/`send` echo;
//! - `fastwebsockets`: fastwebsockets 0.10's `upgrade` with its
//!   `FragmentCollector`, as in its own echo example;
//! - `tokio-websockets`: tokio-websockets 0.13's `ServerBuilder::serve`
//!   after a 101 answered by the route, `next`/`send` echo as in its
//!   `echo_server` example (details on `peers::tokio_websockets_upgrade`);
//! - `ratchet`: ratchet 1.2's `server::handshake` and
//!   `WebSocket::from_upgraded`, `read`/`write` echo as in its examples,
//!   from benches/ratchet_peer (a package apart, built into
//!   `target/ratchet-peer/` on first use; its Cargo.toml says why);
//! - `echo example`: `examples/echo` as users copy it (`cargo build
//!   --release --example echo`, run with `ADDR=127.0.0.1:PORT`,
//!   `RUST_LOG=info`, `TOKIO_WORKER_THREADS=LOAD_WORKERS`): the same
//!   handler under `tower_upgrade::serve` with its deadlines, the `echo`
//!   subprotocol offered, the Prometheus recorder installed, a log line per
//!   connection. Its ratio to `tower-upgrade` is what the example costs;
//! - `uWebSockets`: uWebSockets' own echo server, `../shared/tools/uws_echo
//!   PORT` (set `UWS_ECHO` to use another path), one thread as uWS runs:
//!   the limit to measure against. Missing, the row is skipped with the
//!   reason printed, or the run fails under `CI=true`.
//!
//! load_test offers no `Sec-WebSocket-Extensions`, so no row here
//! negotiates permessage-deflate; ratchet's deflate row is only in
//! benches/idle_memory.rs, whose client offers it.
//!
//! Output: per case, each server's msg/s and CPU µs/msg with their ratios
//! and the per-round msg/s; the load average before and after (the machine
//! is shared: read ratios within one run, not absolute numbers).
//!
//! Profiling one row: `target/release/deps/load_test-HASH --server NAME`
//! serves that row alone and prints its port (rows of the bench binary
//! only); run `perf record -g -p PID` against it while `load_test` drives it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::routing::any;
use axum::Router;
use tower::service_fn;
use tower_upgrade::UpgradeLayer;

#[path = "support/peers.rs"]
mod peers;
#[path = "../tests/support/ws.rs"]
mod ws;
use peers::{axum_echo, fastwebsockets_upgrade, tokio_websockets_upgrade};
#[path = "support/external.rs"]
mod external;
#[path = "support/procfs.rs"]
mod procfs;
#[path = "support/ratchet.rs"]
mod ratchet;
use procfs::{cpu_ticks, loadavg, ticks_per_second};

/// The rows, in the order of the first round.
const SERVERS: [&str; 8] = [
    "tower-upgrade",
    external::ECHO_EXAMPLE,
    "tower-upgrade+tungstenite",
    "axum",
    "fastwebsockets",
    "tokio-websockets",
    "ratchet",
    external::UWEBSOCKETS,
];

/// (connections, payload bytes)
const CASES: [(usize, usize); 3] = [(100, 20), (10, 1024), (200, 16 * 1024)];

/// load_test's sample period: each `Msg/sec` is the messages of 4 s over 4.
const SAMPLE_SECONDS: f64 = 4.0;

/// One server in one round.
#[derive(Clone, Copy)]
struct Sample {
    rate: f64,
    cpu_us_per_message: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--server") {
        return serve(&args[i + 1]);
    }
    let seconds = env_or("LOAD_SECONDS", 13u64);
    let rounds = env_or("LOAD_ROUNDS", 2usize);
    let workers = env_or("LOAD_WORKERS", 2usize);
    let wanted_cases = std::env::var("LOAD_CASES").ok();
    let wanted_servers = std::env::var("LOAD_SERVERS").ok();
    let client = load_test_path();
    // Programs are built or found before anything is measured, not
    // between two rows.
    let mut servers: Vec<Server> = Vec::new();
    for name in SERVERS {
        if wanted_servers
            .as_ref()
            .is_some_and(|w| !w.split(',').any(|w| w == name))
        {
            continue;
        }
        let program = if ratchet::is_row(name) {
            Some(ratchet::binary().clone())
        } else if external::is_row(name) {
            match external::prepare(name) {
                Ok(path) => Some(path),
                Err(why) => {
                    println!("skipping {name}: {why}");
                    continue;
                }
            }
        } else {
            None
        };
        servers.push(Server { name, program });
    }

    println!("load_test: {client}");
    println!("LOAD_SECONDS={seconds} LOAD_ROUNDS={rounds} LOAD_WORKERS={workers}");
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
                let sample = run_one(&client, &servers[s], workers, connections, size, seconds);
                eprintln!(
                    "  {name} round {round} {:<28} {:>10.0} msg/s {:>8.2} µs/msg",
                    servers[s].name, sample.rate, sample.cpu_us_per_message
                );
                samples[s].push(sample);
            }
        }
        println!("\ncase {connections} connections x {size} B ({rounds} rounds of {seconds} s)");
        print_case(&servers, &samples);
    }
    println!("\nload average after: {}", loadavg());
}

/// One case's table: the means over rounds and their ratios.
fn print_case(servers: &[Server], samples: &[Vec<Sample>]) {
    let mean = |i: usize, figure: fn(&Sample) -> f64| {
        samples[i].iter().map(figure).sum::<f64>() / samples[i].len() as f64
    };
    let rate: Vec<f64> = (0..servers.len()).map(|i| mean(i, |s| s.rate)).collect();
    let cpu: Vec<f64> = (0..servers.len())
        .map(|i| mean(i, |s| s.cpu_us_per_message))
        .collect();
    let of = |peer: &str| servers.iter().position(|s| s.name == peer);
    let peers = [of("axum"), of("fastwebsockets"), of(external::UWEBSOCKETS)];
    let ratios = |figure: &[f64], i: usize| {
        peers
            .iter()
            .map(|p| p.map_or("-".into(), |p| format!("{:.2}x", figure[i] / figure[p])))
            .map(|r: String| format!("{r:>8}"))
            .collect::<String>()
    };
    println!(
        "{:<28} {:>10}{:>8}{:>8}{:>8} {:>11}{:>8}{:>8}{:>8}   msg/s per round",
        "server", "msg/s", "/axum", "/fastws", "/uws", "CPU µs/msg", "/axum", "/fastws", "/uws"
    );
    for (i, server) in servers.iter().enumerate() {
        let rounds: Vec<String> = samples[i]
            .iter()
            .map(|s| format!("{:.0}", s.rate))
            .collect();
        println!(
            "{:<28} {:>10.0}{} {:>11.2}{}   {}",
            server.name,
            rate[i],
            ratios(&rate, i),
            cpu[i],
            ratios(&cpu, i),
            rounds.join(" ")
        );
    }
    if let (Some(example), Some(minimal)) = (of(external::ECHO_EXAMPLE), of("tower-upgrade")) {
        println!(
            "echo example / tower-upgrade: {:.3}x msg/s, {:.3}x CPU µs/msg",
            rate[example] / rate[minimal],
            cpu[example] / cpu[minimal]
        );
    }
}

/// A row, and the program that serves it when it is not this binary.
struct Server {
    name: &'static str,
    program: Option<PathBuf>,
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

/// Runs one server under load_test for `seconds`: the mean Msg/sec after
/// the first sample, and the server's CPU per message between the first
/// and the last sample.
fn run_one(
    client: &str,
    server: &Server,
    workers: usize,
    connections: usize,
    size: usize,
    seconds: u64,
) -> Sample {
    let (mut child, port) = spawn_server(server, workers);
    let pid = child.id();
    let mut load = Command::new("stdbuf")
        .args(["-oL", client])
        .args([
            &connections.to_string(),
            "127.0.0.1",
            &port.to_string(),
            "0",
            "0",
        ])
        .arg(size.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run load_test (needs coreutils' stdbuf)");
    let stdout = load.stdout.take().unwrap();
    // Each sample with the server's CPU at the moment it arrives.
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("Msg/sec:")?.trim().parse::<f64>().ok())
            .map(|rate| (rate, cpu_ticks(pid)))
            .collect::<Vec<_>>()
    });
    std::thread::sleep(Duration::from_secs(seconds));
    let _ = load.kill();
    let _ = load.wait();
    let samples = reader.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        samples.len() >= 2,
        "{}: load_test printed {} samples in {seconds} s; raise LOAD_SECONDS",
        server.name,
        samples.len()
    );
    let kept = &samples[1..];
    let rate = kept.iter().map(|s| s.0).sum::<f64>() / kept.len() as f64;
    let messages = kept.iter().map(|s| s.0).sum::<f64>() * SAMPLE_SECONDS;
    let ticks = samples[samples.len() - 1].1 - samples[0].1;
    Sample {
        rate,
        cpu_us_per_message: ticks as f64 / ticks_per_second() * 1e6 / messages,
    }
}

fn spawn_server(server: &Server, workers: usize) -> (Child, u16) {
    if let Some(program) = &server.program {
        if ratchet::is_row(server.name) {
            let mut child = ratchet::spawn(server.name, workers);
            let port = read_port(&mut child);
            return (child, port);
        }
        return external::spawn(server.name, program, workers);
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--server", server.name])
        .env("LOAD_WORKERS", workers.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let port = read_port(&mut child);
    (child, port)
}

fn read_port(child: &mut Child) -> u16 {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
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
