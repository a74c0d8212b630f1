//! Fan-out (issue 18): one publisher, many subscribers on one topic, each
//! server in its own process and the load client in another, side by side
//! in one run.
//!
//! ```sh
//! cargo bench --bench fanout
//! # shorter, or only some rows / cases:
//! FANOUT_SECONDS=4 FANOUT_IDLE=2000 cargo bench --bench fanout
//! FANOUT_ROUNDS=2 cargo bench --bench fanout   # each row twice, order rotated
//! FANOUT_SERVERS=uws_fanout,axum+broadcast FANOUT_CASES=1000x200x1024 cargo bench --bench fanout
//! ```
//!
//! Protocol: every socket on `/ws` subscribes to one topic; every message
//! any socket sends is published to all of them, the sender included.
//!
//! Servers (`servers.rs`, `topics.rs`):
//! - `uws_fanout`: uWebSockets' `publish`, `../shared/tools/uws_fanout
//!   PORT` (set `UWS_FANOUT` to use another path), one thread as uWS runs:
//!   the limit. Missing, the row is skipped (the run fails under `CI=true`);
//! - `axum+broadcast`: axum 0.8.9, `tokio::sync::broadcast` and a writer
//!   task per socket, the usual way (axum's chat example);
//! - `tower-upgrade+broadcast`: this crate's `WebSocket` the same way;
//! - `tower-upgrade`: this crate's `Topics`;
//! - `tower-upgrade+deflate`: the same with `DeflateConfig::new()`; only in
//!   the deflate case.
//!
//! The Rust servers run behind `axum::serve` on a multi-thread runtime of
//! `FANOUT_WORKERS` (default 2) workers, as benches/load_test.rs does.
//!
//! Load (`client.rs`, `fanout --client`): subscribers from source addresses
//! 127.0.0.2..=127.0.0.41, then one publisher sending stamped messages at a
//! fixed rate: `FANOUT_WARMUP` s (default 2) of warm-up, the measured
//! window of `FANOUT_SECONDS` (default 10), then on at the same rate until
//! every subscriber got the window's last message (at most `FANOUT_DRAIN`
//! s, default 10). The client runs `FANOUT_CLIENT_THREADS` (default 1)
//! current-thread runtimes for the subscribers, plus one for the publisher.
//!
//! Cases (`FANOUT_CASES`, comma-separated names): `1000x200x1024`,
//! `1000x1000x64`, `10000x50x1024` (subscribers x msg/s x bytes, binary)
//! and `deflate-1000x200x1024`: 1 KiB JSON-like text messages, the
//! subscribers offering what Chromium offers (`permessage-deflate;
//! client_max_window_bits`). uws_fanout has no compression and axum's
//! WebSocket no permessage-deflate, so that case compares
//! `tower-upgrade+deflate` with `tower-upgrade` and the broadcast rows,
//! which decline the offer. In that case the two `tower-upgrade` rows run
//! with a Prometheus recorder installed (for
//! `tower_upgrade_topic_compressions_total`, read from `/metrics` after
//! the run and divided by `tower_upgrade_topic_published_total`).
//!
//! Per server and case:
//! - delivered/s: deliveries of the window's messages to subscribers over
//!   the window's length, and the fraction of published x subscribers;
//! - server CPU µs per delivery: utime+stime of the server process
//!   (`/proc/PID/stat`) from the window's first publish until every
//!   subscriber got its last message, over the deliveries that arrived in
//!   that interval (the publisher's own copies not counted);
//! - p50 / p99 / max delivery latency: from the stamp in each window
//!   message to its arrival at a subscriber;
//! - wire B: frame bytes per delivery (header included: compression shows);
//! - the client's own CPU per delivery (client µs), to show it is not the
//!   bottleneck.
//!
//! Then memory per idle subscriber (`FANOUT_IDLE`, default 10,000; 0 skips
//! it, and so does a `FANOUT_CASES` without `idle`): the growth of the
//! server's RSS from 20 subscribers to `FANOUT_IDLE` more, once they are
//! subscribed, and again after one 1 KiB message published to all (as
//! benches/idle_memory.rs measures after one echo), over `FANOUT_IDLE`.
//!
//! The goals of issue 18 are reported, not asserted. The machine is
//! shared: read ratios within one run, not absolute numbers.
//!
//! Profiling one row: `target/release/deps/fanout-HASH --server NAME`
//! serves it and prints its port; `fanout-HASH --client port=… server_pid=…
//! subscribers=1000 rate=200 size=1024 json=0 deflate=0 warmup=2
//! seconds=30 drain=10 threads=1 idle=0` drives it while `perf record -g
//! -p PID` records.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod client;
#[path = "../support/external.rs"]
mod external;
mod histogram;
#[path = "../support/procfs.rs"]
mod procfs;
mod servers;
mod topics;
mod wire;

use servers::{AXUM_BROADCAST, TOWER_BROADCAST, TOWER_TOPICS, TOWER_TOPICS_DEFLATE};

/// The rows, in the order of the first round.
const SERVERS: [&str; 5] = [
    external::UWS_FANOUT,
    AXUM_BROADCAST,
    TOWER_BROADCAST,
    TOWER_TOPICS,
    TOWER_TOPICS_DEFLATE,
];

struct Case {
    name: &'static str,
    subscribers: usize,
    rate: f64,
    size: usize,
    /// JSON-like text, subscribers offering permessage-deflate.
    deflate: bool,
}

const CASES: [Case; 4] = [
    Case {
        name: "1000x200x1024",
        subscribers: 1000,
        rate: 200.0,
        size: 1024,
        deflate: false,
    },
    Case {
        name: "1000x1000x64",
        subscribers: 1000,
        rate: 1000.0,
        size: 64,
        deflate: false,
    },
    Case {
        name: "10000x50x1024",
        subscribers: 10_000,
        rate: 50.0,
        size: 1024,
        deflate: false,
    },
    Case {
        name: "deflate-1000x200x1024",
        subscribers: 1000,
        rate: 200.0,
        size: 1024,
        deflate: true,
    },
];

impl Case {
    /// Whether `server` has a row in this case.
    fn runs(&self, server: &str) -> bool {
        match server {
            // No compression: nothing to compare in the deflate case.
            external::UWS_FANOUT => !self.deflate,
            // Without the offer it is `tower-upgrade`.
            TOWER_TOPICS_DEFLATE => self.deflate,
            _ => true,
        }
    }
}

/// The knobs of a run.
struct Run {
    seconds: f64,
    warmup: f64,
    drain: f64,
    rounds: usize,
    workers: usize,
    client_threads: usize,
}

/// One server in one round of one case.
#[derive(Clone, Debug, Default)]
struct Sample {
    delivered_per_s: f64,
    fraction: f64,
    cpu_us: f64,
    client_cpu_us: f64,
    /// Frame bytes on the wire per delivery.
    wire_bytes: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    compressions_per_publish: Option<f64>,
    notes: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--server") {
        let metrics = args.iter().any(|a| a == "--metrics");
        return servers::serve(&args[i + 1], metrics);
    }
    if let Some(i) = args.iter().position(|a| a == "--client") {
        return client::main(&args[i + 1..]);
    }
    wire::self_check();
    histogram::self_check();
    let run = Run {
        seconds: env_or("FANOUT_SECONDS", 10.0),
        warmup: env_or("FANOUT_WARMUP", 2.0),
        drain: env_or("FANOUT_DRAIN", 10.0),
        rounds: env_or("FANOUT_ROUNDS", 1usize).max(1),
        workers: env_or("FANOUT_WORKERS", 2usize),
        client_threads: env_or("FANOUT_CLIENT_THREADS", 1usize),
    };
    let idle_subscribers = env_or("FANOUT_IDLE", 10_000usize);
    let wanted_cases = std::env::var("FANOUT_CASES").ok();
    let wanted_servers = std::env::var("FANOUT_SERVERS").ok();
    procfs::raise_fd_limit(20_000);

    let mut servers: Vec<Server> = Vec::new();
    for name in SERVERS {
        if !listed(&wanted_servers, name) {
            continue;
        }
        let program = if external::is_row(name) {
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

    println!(
        "FANOUT_SECONDS={} FANOUT_WARMUP={} FANOUT_DRAIN={} FANOUT_ROUNDS={} FANOUT_WORKERS={} \
         FANOUT_CLIENT_THREADS={} FANOUT_IDLE={idle_subscribers}",
        run.seconds, run.warmup, run.drain, run.rounds, run.workers, run.client_threads
    );
    println!("load average before: {}", procfs::loadavg());
    let mut verdicts = Goals::default();
    for case in &CASES {
        if !listed(&wanted_cases, case.name) {
            continue;
        }
        let rows: Vec<&Server> = servers.iter().filter(|s| case.runs(s.name)).collect();
        if rows.is_empty() {
            continue;
        }
        // samples[row][round]
        let mut samples = vec![Vec::new(); rows.len()];
        for round in 0..run.rounds {
            for k in 0..rows.len() {
                let r = (k + round) % rows.len();
                eprintln!("  {} round {round} {}", case.name, rows[r].name);
                let sample = run_one(&run, case, rows[r]);
                eprintln!(
                    "  {} round {round} {:<24} {:>9.0}/s {:>6.3} {:>6.2} µs {:>8.1} ms p99",
                    case.name,
                    rows[r].name,
                    sample.delivered_per_s,
                    sample.fraction,
                    sample.cpu_us,
                    sample.p99_ms
                );
                samples[r].push(sample);
            }
        }
        let means: Vec<Sample> = samples.iter().map(|s| mean(s)).collect();
        print_case(&run, case, &rows, &means, &samples);
        verdicts.case(case, &rows, &means);
    }
    if idle_subscribers > 0 && listed(&wanted_cases, "idle") {
        println!(
            "\nidle subscribers: {idle_subscribers} (server RSS over 20 subscribers), \
             subscribed, then after one 1 KiB message published to all"
        );
        println!(
            "{:<24} {:>16} {:>16}",
            "server", "KiB/subscriber", "after a message"
        );
        for server in &servers {
            let (open, after) = idle_memory(&run, server, idle_subscribers);
            println!("{:<24} {open:>16.2} {after:>16.2}", server.name);
            if server.name == TOWER_TOPICS {
                verdicts.idle_kib = Some((open, after));
            }
        }
    }
    verdicts.print();
    println!("\nload average after: {}", procfs::loadavg());
}

/// A row, and the program that serves it when it is not this binary.
struct Server {
    name: &'static str,
    program: Option<PathBuf>,
}

fn listed(wanted: &Option<String>, name: &str) -> bool {
    wanted
        .as_ref()
        .is_none_or(|w| w.split(',').any(|w| w == name))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mean(samples: &[Sample]) -> Sample {
    let n = samples.len() as f64;
    let avg = |f: fn(&Sample) -> f64| samples.iter().map(f).sum::<f64>() / n;
    let compressions: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.compressions_per_publish)
        .collect();
    Sample {
        delivered_per_s: avg(|s| s.delivered_per_s),
        fraction: avg(|s| s.fraction),
        cpu_us: avg(|s| s.cpu_us),
        client_cpu_us: avg(|s| s.client_cpu_us),
        wire_bytes: avg(|s| s.wire_bytes),
        p50_ms: avg(|s| s.p50_ms),
        p99_ms: avg(|s| s.p99_ms),
        max_ms: avg(|s| s.max_ms),
        compressions_per_publish: (!compressions.is_empty())
            .then(|| compressions.iter().sum::<f64>() / compressions.len() as f64),
        notes: samples.iter().fold(Vec::new(), |mut notes, s| {
            for note in &s.notes {
                if !notes.contains(note) {
                    notes.push(note.clone());
                }
            }
            notes
        }),
    }
}

fn print_case(run: &Run, case: &Case, rows: &[&Server], means: &[Sample], samples: &[Vec<Sample>]) {
    let kind = if case.deflate {
        "JSON-like text, subscribers offer permessage-deflate"
    } else {
        "binary"
    };
    println!(
        "\ncase {}: {} subscribers x {} msg/s x {} B, {kind} ({} round(s) of {} s)",
        case.name, case.subscribers, case.rate, case.size, run.rounds, run.seconds
    );
    if case.deflate {
        println!(
            "(uws_fanout has no compression and axum's WebSocket no permessage-deflate: \
             the broadcast rows and `tower-upgrade` decline the offer)"
        );
    }
    let of = |name: &str| rows.iter().position(|s| s.name == name);
    let ratio = |figure: fn(&Sample) -> f64, i: usize, peer: Option<usize>| {
        peer.map_or("-".to_string(), |p| {
            format!("{:.2}x", figure(&means[i]) / figure(&means[p]))
        })
    };
    let (uws, axum) = (of(external::UWS_FANOUT), of(AXUM_BROADCAST));
    println!(
        "{:<24} {:>11} {:>8} {:>7} {:>10} {:>7} {:>7} {:>8} {:>8} {:>7} {:>8} {:>10}  notes",
        "server",
        "delivered/s",
        "fraction",
        "wire B",
        "CPU µs/dl",
        "/uws",
        "/axum",
        "p50 ms",
        "p99 ms",
        "/axum",
        "max ms",
        "client µs"
    );
    for (i, server) in rows.iter().enumerate() {
        let m = &means[i];
        let mut notes = m.notes.clone();
        if let Some(c) = m.compressions_per_publish {
            notes.insert(0, format!("{c:.2} compressions/publish"));
        }
        if run.rounds > 1 {
            let per_round: Vec<String> = samples[i]
                .iter()
                .map(|s| format!("{:.2}", s.cpu_us))
                .collect();
            notes.push(format!("CPU per round {}", per_round.join(" ")));
        }
        println!(
            "{:<24} {:>11.0} {:>8.4} {:>7.0} {:>10.2} {:>7} {:>7} {:>8.1} {:>8.1} {:>7} {:>8.1} {:>10.2}  {}",
            server.name,
            m.delivered_per_s,
            m.fraction,
            m.wire_bytes,
            m.cpu_us,
            ratio(|s| s.cpu_us, i, uws),
            ratio(|s| s.cpu_us, i, axum),
            m.p50_ms,
            m.p99_ms,
            ratio(|s| s.p99_ms, i, axum),
            m.max_ms,
            m.client_cpu_us,
            notes.join("; ")
        );
    }
}

/// Issue 18's goals, collected over the cases run.
#[derive(Default)]
struct Goals {
    lines: Vec<String>,
    /// Subscribed, and after one message.
    idle_kib: Option<(f64, f64)>,
}

impl Goals {
    fn case(&mut self, case: &Case, rows: &[&Server], means: &[Sample]) {
        let of = |name: &str| rows.iter().position(|s| s.name == name).map(|i| &means[i]);
        let verdict = |met: bool| if met { "met" } else { "NOT met" };
        let ours = if case.deflate {
            TOWER_TOPICS_DEFLATE
        } else {
            TOWER_TOPICS
        };
        let Some(mine) = of(ours) else {
            self.lines.push(format!("{}: no {ours} row", case.name));
            return;
        };
        if let Some(uws) = of(external::UWS_FANOUT) {
            self.lines.push(format!(
                "{}: CPU per delivery <= uws_fanout's: {} ({:.2} vs {:.2} µs)",
                case.name,
                verdict(mine.cpu_us <= uws.cpu_us),
                mine.cpu_us,
                uws.cpu_us
            ));
        }
        if let Some(axum) = of(AXUM_BROADCAST) {
            self.lines.push(format!(
                "{}: p99 <= axum+broadcast's: {} ({:.1} vs {:.1} ms)",
                case.name,
                verdict(mine.p99_ms <= axum.p99_ms),
                mine.p99_ms,
                axum.p99_ms
            ));
        }
        if case.deflate {
            if let Some(plain) = of(TOWER_TOPICS) {
                self.lines.push(format!(
                    "{}: CPU per delivery with deflate <= 1.5x without: {} ({:.2} vs {:.2} µs, {:.2}x)",
                    case.name,
                    verdict(mine.cpu_us <= 1.5 * plain.cpu_us),
                    mine.cpu_us,
                    plain.cpu_us,
                    mine.cpu_us / plain.cpu_us
                ));
            }
        }
    }

    fn print(&self) {
        println!("\ngoals (tower-upgrade, issue 18; reported, not asserted):");
        for line in &self.lines {
            println!("  {line}");
        }
        if let Some((open, after)) = self.idle_kib {
            let verdict = |kib: f64| if kib <= 8.0 { "met" } else { "NOT met" };
            println!(
                "  memory per idle subscriber <= 8 KiB: {} subscribed ({open:.2} KiB), \
                 {} after one message to all ({after:.2} KiB)",
                verdict(open),
                verdict(after)
            );
        }
    }
}

/// Starts the row's server: the child and its port.
fn spawn_server(run: &Run, server: &Server, metrics: bool) -> (Child, u16) {
    if let Some(program) = &server.program {
        return external::spawn(server.name, program, run.workers);
    }
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--server", server.name]);
    if metrics {
        command.arg("--metrics");
    }
    let mut child = command
        .env("FANOUT_WORKERS", run.workers.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the server prints its port");
    (child, port)
}

/// Runs the client against `server` with `params` (port and pid filled
/// in here); returns the client's result line, with the server still up
/// (and the function to stop both).
fn drive(
    run: &Run,
    server: &Server,
    metrics: bool,
    mut params: client::Params,
    budget: Duration,
) -> (String, Option<String>) {
    let (mut child, port) = spawn_server(run, server, metrics);
    params.port = port;
    params.server_pid = child.id();
    let mut load = Command::new(std::env::current_exe().unwrap())
        .arg("--client")
        .args(params.to_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the client");
    let stdout = load.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("result ") || l.starts_with("idle "));
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(budget);
    let scraped = metrics.then(|| scrape(port)).flatten();
    // The server first: its sockets take the TIME_WAIT, not the client's
    // source ports.
    let _ = child.kill();
    let _ = child.wait();
    drop(load.stdin.take());
    let _ = load.kill();
    let _ = load.wait();
    match line {
        Ok(Some(line)) => (line, scraped),
        Ok(None) => panic!("{}: the client exited without a result", server.name),
        Err(_) => panic!("{}: no result within {budget:?}", server.name),
    }
}

fn field(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .parse()
        .unwrap()
}

fn run_one(run: &Run, case: &Case, server: &Server) -> Sample {
    let params = client::Params {
        port: 0,
        server_pid: 0,
        subscribers: case.subscribers,
        rate: case.rate,
        size: case.size,
        json: case.deflate,
        deflate: case.deflate,
        warmup: run.warmup,
        seconds: run.seconds,
        drain: run.drain,
        threads: run.client_threads,
        idle: false,
    };
    let budget = Duration::from_secs_f64(
        30.0 + case.subscribers as f64 / 200.0 + run.warmup + run.seconds + run.drain + 30.0,
    );
    let metrics = case.deflate && matches!(server.name, TOWER_TOPICS | TOWER_TOPICS_DEFLATE);
    let (line, scraped) = drive(run, server, metrics, params, budget);
    let f = |key| field(&line, key);
    let tps = procfs::ticks_per_second();
    let subscribers = f("subscribers");
    let arrived = f("arrived").max(1.0);
    let mut notes = Vec::new();
    for (key, what) in [
        ("failed", "failed to open"),
        ("closed", "closed by the server"),
        ("unstamped", "messages without a stamp"),
    ] {
        if f(key) > 0.0 {
            notes.push(format!("{} {what}", f(key)));
        }
    }
    if f("live_at_t0") < subscribers {
        notes.push(format!(
            "{} of {subscribers} had a message by t0",
            f("live_at_t0")
        ));
    }
    if f("drained") == 0.0 {
        notes.push(format!("not drained in {} s", run.drain));
    }
    if case.deflate && f("agreed_deflate") > 0.0 {
        notes.push(format!("{} agreed deflate", f("agreed_deflate")));
    }
    let compressions_per_publish = match (metrics, scraped.as_deref()) {
        (false, _) => None,
        (true, scraped) => {
            let sum = |name| scraped.and_then(|m| series_sum(m, name));
            let compressed = sum("tower_upgrade_topic_compressions_total");
            let published = sum("tower_upgrade_topic_published_total");
            if let Some(dropped) = sum("tower_upgrade_topic_dropped_total").filter(|&d| d > 0.0) {
                notes.push(format!("{dropped} dropped (SlowConsumer::Drop)"));
            }
            match (compressed, published) {
                (Some(compressed), Some(published)) if published > 0.0 => {
                    Some(compressed / published)
                }
                _ => {
                    notes.push("no tower_upgrade_topic_compressions_total".into());
                    None
                }
            }
        }
    };
    Sample {
        delivered_per_s: f("delivered_window") / f("window_secs"),
        fraction: f("delivered_window") / (f("published_window") * subscribers),
        cpu_us: f("server_ticks") / tps * 1e6 / arrived,
        client_cpu_us: f("client_ticks") / tps * 1e6 / arrived,
        wire_bytes: f("arrived_bytes") / arrived,
        p50_ms: f("p50_us") / 1000.0,
        p99_ms: f("p99_us") / 1000.0,
        max_ms: f("max_us") / 1000.0,
        compressions_per_publish,
        notes,
    }
}

/// RSS per idle subscriber (KiB) with `subscribers` more than 20: once
/// subscribed, and after one message to all.
fn idle_memory(run: &Run, server: &Server, subscribers: usize) -> (f64, f64) {
    let deflate = server.name == TOWER_TOPICS_DEFLATE;
    let params = client::Params {
        port: 0,
        server_pid: 0,
        subscribers,
        rate: 1.0,
        size: 1024,
        json: deflate,
        deflate,
        warmup: 0.0,
        seconds: 0.0,
        drain: 0.0,
        threads: run.client_threads,
        idle: true,
    };
    let budget = Duration::from_secs_f64(30.0 + subscribers as f64 / 200.0 + 60.0);
    let (line, _) = drive(run, server, false, params, budget);
    let f = |key| field(&line, key);
    if f("failed") > 0.0 || f("received") < f("connected") {
        eprintln!("  idle {}: {line}", server.name);
    }
    let per = |key| (f(key) - f("rss_before_kib")) / subscribers as f64;
    (per("rss_open_kib"), per("rss_after_kib"))
}

/// `GET /metrics` from the server, the body.
fn scrape(port: u16) -> Option<String> {
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        tcp,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    tcp.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The sum of the series `name` over its labels, in a Prometheus text
/// exposition.
fn series_sum(metrics: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}
