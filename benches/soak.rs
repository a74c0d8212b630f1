//! Soak clients for a server that is already running (issue 10):
//! scripts/soak.sh starts the example, raises the file limit and runs this
//! with the address and the server's pid.
//!
//! ```sh
//! # 10,000 WebSocket connections to `echo`, each echoing once a second:
//! MODE=ws ADDR=127.0.0.1:3000 SERVER_PID=1234 CONNECTIONS=10000 DURATION=300 \
//!   cargo bench --bench soak --features h2c,serve
//! # 1,000 h2c-upgraded connections to `h2c`, 10 streams each a second:
//! MODE=h2c ADDR=... SERVER_PID=... CONNECTIONS=1000 STREAMS=10 DURATION=180 cargo bench ...
//! ```
//!
//! Clients bind to 127.0.0.2 .. 127.0.0.(1 + SOURCES) (default 50) so no
//! source port range runs out. `ws` and `h2c` print connections held,
//! messages lost, echo latency (p50, p99, max), the server's RSS at the
//! start of the steady phase (before any message or stream), the median of
//! the samples (one a second) in each half of the steady phase after the
//! warm-up (WARMUP seconds; default for `ws` a sixth of DURATION, 1 to 10 s,
//! for `h2c` a third, 1 to 60 s), at the
//! end and the highest, every sample (a line of them), and the server's CPU
//! time per message (from /proc/SERVER_PID). The last line is `soak: PASS`
//! or `soak: FAIL <why>`: all held, none lost, and RSS flat: the second
//! half's median at most RSS_FLAT_PCT (default 5) over the first half's,
//! the baseline. The first messages and streams grow buffers and allocator
//! arenas once (warm-up, not a leak), and under h2c's 10,000 streams a
//! second RSS follows the streams in flight by several MiB either way from
//! one second to the next: medians over halves see a trend through that.
//! Nothing is timed in `cargo test`; this is a benchmark.

#[path = "../tests/support/h2.rs"]
mod h2;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

const HELLO: &[u8] = b"hello from tower-upgrade\n";

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counters every connection adds to.
#[derive(Default)]
struct Totals {
    connected: AtomicU64,
    failed_connect: AtomicU64,
    held: AtomicU64,
    sent: AtomicU64,
    echoed: AtomicU64,
}

/// A connection from the `i`-th client, bound to one of the 127.0.0.x
/// source addresses.
async fn connect(addr: SocketAddr, i: usize, sources: usize) -> std::io::Result<TcpStream> {
    let source = Ipv4Addr::new(127, 0, 0, 2 + (i % sources) as u8);
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// What /proc says about the server.
struct Proc {
    pid: Option<u32>,
}

impl Proc {
    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// User + system CPU seconds so far.
    fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid?)).ok()?;
        // Fields after the command, which is in parentheses and may hold spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / clock_ticks())
    }
}

/// `getconf CLK_TCK`, 100 on every Linux this runs on.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// What every client of a run shares.
struct Run {
    addr: SocketAddr,
    sources: usize,
    streams: usize,
    seconds: u64,
    /// Bounds the handshakes in progress.
    gate: Semaphore,
    totals: Totals,
    /// Set when every client is connected: the steady phase begins.
    start: tokio::sync::watch::Receiver<Option<Instant>>,
}

impl Run {
    /// Waits for the steady phase; its start.
    async fn begin(&self) -> Option<Instant> {
        let mut start = self.start.clone();
        loop {
            if let Some(t) = *start.borrow() {
                return Some(t);
            }
            start.changed().await.ok()?;
        }
    }
}

/// One WebSocket client: connects, then once a second sends a message and
/// waits for its echo until the end. Returns the latencies in microseconds.
async fn ws_client(run: Arc<Run>, i: usize) -> Vec<u32> {
    let (addr, totals, seconds) = (run.addr, &run.totals, run.seconds);
    let permit = run.gate.acquire().await.unwrap();
    let stream = match connect(addr, i, run.sources).await {
        Ok(s) => s,
        Err(_) => {
            totals.failed_connect.fetch_add(1, Ordering::Relaxed);
            return Vec::new();
        }
    };
    let url = format!("ws://{addr}/ws");
    let Ok((mut ws, _)) = tokio_tungstenite::client_async(url, stream).await else {
        totals.failed_connect.fetch_add(1, Ordering::Relaxed);
        return Vec::new();
    };
    drop(permit);
    totals.connected.fetch_add(1, Ordering::Relaxed);
    // Wait for every connection, then spread the sends over the second.
    let Some(begin) = run.begin().await else {
        return Vec::new();
    };
    let end = begin + Duration::from_secs(seconds);
    let phase = Duration::from_micros((i as u64 * 7919) % 1_000_000);
    let mut tick = tokio::time::interval_at((begin + phase).into(), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut latencies = Vec::with_capacity(seconds as usize + 1);
    let mut seq = 0u64;
    let mut alive = true;
    'run: while Instant::now() < end {
        tick.tick().await;
        if Instant::now() >= end {
            break;
        }
        seq += 1;
        let text = format!("{i}:{seq}");
        let sent_at = Instant::now();
        if ws.send(Message::text(text.clone())).await.is_err() {
            alive = false;
            break;
        }
        totals.sent.fetch_add(1, Ordering::Relaxed);
        // The echo, answering the server's Pings meanwhile (tungstenite
        // queues the Pong and sends it with the next write or flush).
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                message = ws.next() => match message {
                    Some(Ok(Message::Text(t))) if t.as_str() == text => {
                        latencies.push(sent_at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                        totals.echoed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                        let _ = ws.flush().await;
                    }
                    // Another text (out of order) or anything else: lost.
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        alive = false;
                        break 'run;
                    }
                },
                _ = &mut deadline => break,
            }
        }
    }
    if alive {
        totals.held.fetch_add(1, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
    }
    latencies
}

/// One h2c client: upgrades with `GET /`, then once a second opens
/// `streams` streams at once and waits for every response.
async fn h2c_client(run: Arc<Run>, i: usize) -> Vec<u32> {
    let (totals, seconds, streams) = (&run.totals, run.seconds, run.streams);
    let permit = run.gate.acquire().await.unwrap();
    let Ok(tcp) = connect(run.addr, i, run.sources).await else {
        totals.failed_connect.fetch_add(1, Ordering::Relaxed);
        return Vec::new();
    };
    let request = h2::upgrade_request("GET", "/", &[(3, 100)], b"");
    let mut client = h2::Client::upgrade(tcp, &request, &[(3, 100)]).await;
    if client.wait(1).await.data != HELLO {
        totals.failed_connect.fetch_add(1, Ordering::Relaxed);
        return Vec::new();
    }
    client.streams.remove(&1);
    drop(permit);
    totals.connected.fetch_add(1, Ordering::Relaxed);
    let Some(begin) = run.begin().await else {
        return Vec::new();
    };
    let end = begin + Duration::from_secs(seconds);
    let phase = Duration::from_micros((i as u64 * 7919) % 1_000_000);
    let mut tick = tokio::time::interval_at((begin + phase).into(), Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut latencies = Vec::new();
    while Instant::now() < end {
        tick.tick().await;
        if Instant::now() >= end {
            break;
        }
        let sent_at = Instant::now();
        let mut ids = Vec::with_capacity(streams);
        for _ in 0..streams {
            ids.push(client.request("GET", "/", &[], b"").await);
            totals.sent.fetch_add(1, Ordering::Relaxed);
        }
        for id in ids {
            let stream = client.wait(id).await;
            if stream.status() == 200 && stream.data == HELLO {
                latencies.push(sent_at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                totals.echoed.fetch_add(1, Ordering::Relaxed);
            }
            client.streams.remove(&id);
        }
    }
    totals.held.fetch_add(1, Ordering::Relaxed);
    latencies
}

fn soak(mode: &str) -> bool {
    let addr: SocketAddr = env("ADDR", "127.0.0.1:3000".to_string())
        .parse()
        .expect("ADDR");
    let ws = mode == "ws";
    let connections: usize = env("CONNECTIONS", if ws { 10_000 } else { 1_000 });
    let seconds: u64 = env("DURATION", if ws { 300 } else { 180 });
    let streams: usize = env("STREAMS", 10);
    let sources: usize = env("SOURCES", 50);
    let flat_pct: f64 = env("RSS_FLAT_PCT", 5.0);
    // Measured (1,000 h2c connections, 10 streams each a second, 2 shared
    // cores): the RSS climbs for 60-90 s, 34 -> 67 MiB, then holds (one
    // run flat at 67.9 MiB from 90 to 180 s; another stepped 67.9 -> 69.6
    // MiB at 105 s, under a latency spike, then held); 10,000 WebSockets
    // are flat after a few seconds.
    let default_warmup = if ws {
        (seconds / 6).clamp(1, 10)
    } else {
        (seconds / 3).clamp(1, 60)
    };
    let warmup: u64 = env("WARMUP", default_warmup).min(seconds.saturating_sub(2));
    // The steady phase after warm-up, in halves: [warmup, half), [half, end).
    let half = (warmup + seconds) / 2;
    let server = Proc {
        pid: std::env::var("SERVER_PID")
            .ok()
            .and_then(|p| p.parse().ok()),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env("CLIENT_THREADS", 2))
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (go, start) = tokio::sync::watch::channel(None);
        let run = Arc::new(Run {
            addr,
            sources,
            streams,
            seconds,
            gate: Semaphore::new(env("CONNECT_AT_ONCE", 200)),
            totals: Totals::default(),
            start,
        });
        let totals = &run.totals;
        let rss_before = server.rss_kib();
        let connect_began = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|i| {
                if ws {
                    tokio::spawn(ws_client(run.clone(), i))
                } else {
                    tokio::spawn(h2c_client(run.clone(), i))
                }
            })
            .collect();
        // Every client connected or failed.
        loop {
            let done = totals.connected.load(Ordering::Relaxed)
                + totals.failed_connect.load(Ordering::Relaxed);
            if done as usize >= connections || connect_began.elapsed() > Duration::from_secs(600) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let connected = totals.connected.load(Ordering::Relaxed);
        println!(
            "# {mode}: {connected} of {connections} connected in {:.1} s ({} failed); server RSS {} before, load {}",
            connect_began.elapsed().as_secs_f64(),
            totals.failed_connect.load(Ordering::Relaxed),
            mib(rss_before),
            loadavg()
        );
        let begin = Instant::now();
        go.send(Some(begin)).unwrap();
        let rss_start = server.rss_kib();
        let cpu_start = server.cpu_secs();
        let mut rss_warm = None;
        let mut samples: Vec<(u64, u64)> = Vec::new();
        let mut rss_max = rss_start;
        let end = begin + Duration::from_secs(seconds);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let elapsed = begin.elapsed().as_secs();
            let rss = server.rss_kib();
            rss_max = rss_max.max(rss);
            if rss_warm.is_none() && elapsed >= warmup {
                rss_warm = rss;
                println!(
                    "# t={elapsed}s warm-up over: sent {} echoed {} rss {} (the baseline; {} before the first {unit})",
                    totals.sent.load(Ordering::Relaxed),
                    totals.echoed.load(Ordering::Relaxed),
                    mib(rss),
                    mib(rss_start),
                    unit = if ws { "message" } else { "stream" },
                );
            }
            if let Some(kib) = rss {
                samples.push((elapsed, kib));
            }
            if elapsed % 30 == 0 {
                println!(
                    "# t={elapsed}s sent {} echoed {} rss {} load {}",
                    totals.sent.load(Ordering::Relaxed),
                    totals.echoed.load(Ordering::Relaxed),
                    mib(rss),
                    loadavg()
                );
            }
        }
        // The last round's answers.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_end = server.rss_kib();
        let cpu_end = server.cpu_secs();
        let median = |range: std::ops::Range<u64>| {
            let mut kib: Vec<u64> = samples
                .iter()
                .filter(|(t, _)| range.contains(t))
                .map(|&(_, k)| k)
                .collect();
            kib.sort_unstable();
            kib.get(kib.len() / 2).copied()
        };
        let rss_first = median(warmup..half);
        let rss_second = median(half..u64::MAX);
        let series: Vec<String> = samples
            .iter()
            .filter(|(t, _)| t % 5 == 0)
            .map(|&(t, k)| format!("{t}:{:.1}", k as f64 / 1024.0))
            .collect();
        println!("# RSS MiB every 5 s (t:MiB): {}", series.join(" "));
        let mut latencies = Vec::new();
        for task in tasks {
            if let Ok(l) = task.await {
                latencies.extend(l);
            }
        }
        latencies.sort_unstable();
        let sent = totals.sent.load(Ordering::Relaxed);
        let echoed = totals.echoed.load(Ordering::Relaxed);
        let held = totals.held.load(Ordering::Relaxed);
        let lost = sent - echoed;
        let cpu = cpu_end.zip(cpu_start).map(|(e, s)| e - s);
        let unit = if ws { "message" } else { "request" };
        println!("| mode | connections held | {unit}s sent | lost | p50 ms | p99 ms | max ms | RSS start | RSS median {warmup}-{half} s (baseline) | RSS median {half}-{seconds} s | RSS end | RSS max | server CPU s | CPU µs/{unit} | load avg |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        println!(
            "| {mode} | {held} / {connections} | {sent} | {lost} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} |",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
            mib(rss_start),
            mib(rss_first),
            mib(rss_second),
            mib(rss_end),
            mib(rss_max),
            cpu.map_or("?".into(), |c| format!("{c:.1}")),
            cpu.map_or("?".into(), |c| format!("{:.1}", c * 1e6 / echoed.max(1) as f64)),
            loadavg()
        );
        let mut why = Vec::new();
        if held as usize != connections {
            why.push(format!("{} connections not held", connections - held as usize));
        }
        if lost != 0 {
            why.push(format!("{lost} lost"));
        }
        // Flat after the warm-up: no growth from one half to the next.
        match (rss_first, rss_second) {
            (Some(first), Some(second)) => {
                if second as f64 > first as f64 * (1.0 + flat_pct / 100.0) {
                    why.push(format!(
                        "RSS grew over {flat_pct}% after the {warmup} s warm-up (median {} in {warmup}-{half} s, {} in {half}-{seconds} s)",
                        mib(Some(first)),
                        mib(Some(second))
                    ));
                }
            }
            _ => why.push("no RSS samples (SERVER_PID?)".into()),
        }
        if why.is_empty() {
            println!("soak: PASS");
            true
        } else {
            println!("soak: FAIL {}", why.join("; "));
            false
        }
    })
}

fn main() {
    let mode = env("MODE", String::new());
    let ok = match mode.as_str() {
        "ws" | "h2c" => soak(&mode),
        _ => {
            // `cargo bench` with no MODE (as `cargo bench` over every bench
            // runs it): nothing to soak without a server; say how.
            println!("soak: set MODE=ws|h2c, ADDR and SERVER_PID (see scripts/soak.sh)");
            true
        }
    };
    std::process::exit(if ok { 0 } else { 1 });
}
