//! The fan-out load client (`fanout --client key=value…`), a process of its
//! own so that its CPU is not counted in the server's.
//!
//! It opens the subscribers first, from 127.0.0.2..=127.0.0.41 in turn so
//! that 10,000 connections do not run out of ephemeral ports, on
//! `threads` current-thread runtimes (one by default). Each thread reads
//! its sockets into one shared 256 KiB buffer and parses the frames where
//! they lie: a connection keeps only the bytes of a frame cut by the end of
//! a read. Then one publisher connects (it is a socket on `/ws` like the
//! others, so it gets every message too; it reads and drops them) and sends
//! `rate` messages a second, each stamped with its send time and sequence
//! number (`wire::Stamp`).
//!
//! Timeline, in sequence numbers: messages before `s0` warm up (every
//! subscriber gets the chance to be subscribed), `s0..s1` are the measured
//! window (`seconds` long), and the publisher goes on at the same rate
//! until every subscriber has seen `s1 - 1` or a later one (or `drain`
//! seconds pass), so the load is steady over the whole measurement:
//! - t0, when `s0` is sent: the server's and this process's CPU are read,
//!   and deliveries start being counted as "arrived";
//! - t1, when `s1` is sent: the window is over;
//! - t_end, when the last subscriber passed `s1 - 1`: CPU is read again.
//!
//! What it prints (one `result` line): deliveries of window messages to
//! subscribers (for the fraction of published × subscribers and the rate
//! over t0..t1), their latencies (arrival minus stamp, both on this
//! process's clock; the arrival time is taken once per read), and the
//! deliveries that arrived between t0 and t_end, which the CPU read over
//! the same interval is divided by. The publisher's own copies are not
//! counted.
//!
//! With `idle=1` it measures memory instead: the server's RSS with 20
//! subscribers, with `subscribers` more, and after one message published
//! to all of them.
//!
//! Bounded: connecting stops after `30 + subscribers / 200` seconds, the
//! drain after `drain` seconds; every socket targets 127.0.0.1.

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::histogram::Histogram;
use crate::procfs;
use crate::wire::{self, Agreed, Stamp};

/// Source addresses 127.0.0.2..=127.0.0.41.
const SOURCES: usize = 40;
/// Handshakes in flight per client thread.
const OPENING: usize = 64;
/// Each thread's read buffer.
const READ_BUFFER: usize = 256 * 1024;
/// Subscribers opened before the idle measurement's first reading.
const WARM: usize = 20;

/// What one client run does; passed as `key=value` arguments.
#[derive(Clone, Debug)]
pub struct Params {
    pub port: u16,
    pub server_pid: u32,
    pub subscribers: usize,
    pub rate: f64,
    pub size: usize,
    pub json: bool,
    pub deflate: bool,
    pub warmup: f64,
    pub seconds: f64,
    pub drain: f64,
    pub threads: usize,
    pub idle: bool,
}

impl Params {
    pub fn to_args(&self) -> Vec<String> {
        vec![
            format!("port={}", self.port),
            format!("server_pid={}", self.server_pid),
            format!("subscribers={}", self.subscribers),
            format!("rate={}", self.rate),
            format!("size={}", self.size),
            format!("json={}", u8::from(self.json)),
            format!("deflate={}", u8::from(self.deflate)),
            format!("warmup={}", self.warmup),
            format!("seconds={}", self.seconds),
            format!("drain={}", self.drain),
            format!("threads={}", self.threads),
            format!("idle={}", u8::from(self.idle)),
        ]
    }

    pub fn from_args(args: &[String]) -> Self {
        let get = |key: &str| -> &str {
            args.iter()
                .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("client argument {key}= missing"))
        };
        let num = |key: &str| -> f64 { get(key).parse().unwrap() };
        Self {
            port: get("port").parse().unwrap(),
            server_pid: get("server_pid").parse().unwrap(),
            subscribers: get("subscribers").parse().unwrap(),
            rate: num("rate"),
            size: get("size").parse().unwrap(),
            json: get("json") == "1",
            deflate: get("deflate") == "1",
            warmup: num("warmup"),
            seconds: num("seconds"),
            drain: num("drain"),
            threads: get("threads").parse().unwrap(),
            idle: get("idle") == "1",
        }
    }

    fn stamp(&self) -> Stamp {
        if self.json {
            Stamp::Json
        } else {
            Stamp::Binary
        }
    }

    /// The measured window in sequence numbers.
    fn window(&self) -> (u64, u64) {
        if self.idle {
            return (0, 1);
        }
        let s0 = (self.rate * self.warmup).ceil() as u64;
        (s0, s0 + ((self.rate * self.seconds).round() as u64).max(1))
    }

    fn connect_budget(&self) -> Duration {
        Duration::from_secs(30 + self.subscribers as u64 / 200)
    }
}

/// Counters every thread adds to.
struct Shared {
    epoch: Instant,
    stamp: Stamp,
    deflate: bool,
    port: u16,
    s0: u64,
    s1: u64,
    /// 0 warm-up, 1 measuring (t0..t_end), 2 over.
    phase: AtomicU8,
    /// Subscribers to open (the idle run raises it in two steps).
    target: AtomicUsize,
    /// Subscriber indices claimed by a thread.
    claimed: AtomicUsize,
    connected: AtomicUsize,
    failed: AtomicUsize,
    agreed_deflate: AtomicUsize,
    /// Subscribers that got a stamped message.
    live: AtomicUsize,
    /// Subscribers that saw `s1 - 1` or later, closed, or failed to open.
    finished: AtomicUsize,
    closed: AtomicUsize,
    stop: AtomicBool,
}

/// What one thread's subscribers counted.
#[derive(Default)]
struct Stats {
    /// Latencies of window messages, µs.
    latency: Histogram,
    /// Deliveries of window messages.
    window: u64,
    /// Deliveries that arrived while measuring (t0..t_end), any message.
    arrived: u64,
    /// Their frames' bytes on the wire.
    arrived_bytes: u64,
    /// Messages without a readable stamp (fragmented, or foreign).
    unstamped: u64,
}

/// What the subscribers of one thread share.
struct Local {
    shared: Arc<Shared>,
    buffer: RefCell<Vec<u8>>,
    stats: RefCell<Stats>,
    /// Each compressed message inflates on its own (no context takeover,
    /// checked at the handshake): one decompressor serves every connection.
    inflate: RefCell<flate2::Decompress>,
}

pub fn main(args: &[String]) {
    let params = Params::from_args(args);
    procfs::raise_fd_limit(params.subscribers as u64 + 1024);
    let (s0, s1) = params.window();
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        stamp: params.stamp(),
        deflate: params.deflate,
        port: params.port,
        s0,
        s1,
        phase: AtomicU8::new(0),
        target: AtomicUsize::new(if params.idle {
            WARM
        } else {
            params.subscribers
        }),
        claimed: AtomicUsize::new(0),
        connected: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        agreed_deflate: AtomicUsize::new(0),
        live: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let threads: Vec<_> = (0..params.threads.max(1))
        .map(|_| {
            let shared = shared.clone();
            std::thread::spawn(move || subscriber_thread(shared))
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let line = if params.idle {
        runtime.block_on(idle(&params, &shared))
    } else {
        let timeline = runtime.block_on(load(&params, &shared));
        shared.stop.store(true, Relaxed);
        let mut stats = Stats::default();
        for thread in threads {
            let theirs = thread.join().unwrap();
            stats.latency.add(&theirs.latency);
            stats.window += theirs.window;
            stats.arrived += theirs.arrived;
            stats.arrived_bytes += theirs.arrived_bytes;
            stats.unstamped += theirs.unstamped;
        }
        result_line(&params, &shared, &timeline, &stats)
    };
    println!("{line}");
    // The bench kills the server first, so that the TIME_WAIT sockets are
    // on its side and not on the source ports the next run needs; then it
    // closes stdin.
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    std::process::exit(0);
}

/// When things happened, and the CPU counters then.
struct Timeline {
    t0: Instant,
    t1: Instant,
    end: Instant,
    server_ticks: u64,
    client_ticks: u64,
    published: u64,
    live_at_t0: usize,
    drained: bool,
}

fn result_line(params: &Params, shared: &Shared, t: &Timeline, stats: &Stats) -> String {
    let (s0, s1) = (shared.s0, shared.s1);
    format!(
        "result connected={} failed={} agreed_deflate={} live_at_t0={} closed={} \
         published_window={} window_secs={:.6} measured_secs={:.6} published_total={} \
         delivered_window={} arrived={} arrived_bytes={} unstamped={} server_ticks={} client_ticks={} \
         p50_us={:.0} p99_us={:.0} max_us={} drained={}",
        shared.connected.load(Relaxed),
        shared.failed.load(Relaxed),
        shared.agreed_deflate.load(Relaxed),
        t.live_at_t0,
        shared.closed.load(Relaxed),
        s1 - s0,
        (t.t1 - t.t0).as_secs_f64(),
        (t.end - t.t0).as_secs_f64(),
        t.published,
        stats.window,
        stats.arrived,
        stats.arrived_bytes,
        stats.unstamped,
        t.server_ticks,
        t.client_ticks,
        stats.latency.quantile(0.5),
        stats.latency.quantile(0.99),
        stats.latency.max(),
        u8::from(t.drained),
    ) + &format!(" subscribers={}", params.subscribers)
}

/// Waits (bounded) until every subscriber asked for is open or failed.
async fn wait_connected(params: &Params, shared: &Shared, count: usize) {
    let deadline = Instant::now() + params.connect_budget();
    while shared.connected.load(Relaxed) + shared.failed.load(Relaxed) < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} subscribers open after {:?} ({} failed)",
            shared.connected.load(Relaxed),
            params.connect_budget(),
            shared.failed.load(Relaxed),
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The load run: subscribers, then the publisher at `rate` through warm-up,
/// window and drain.
async fn load(params: &Params, shared: &Arc<Shared>) -> Timeline {
    let started = Instant::now();
    wait_connected(params, shared, params.subscribers).await;
    eprintln!(
        "    {} subscribers open in {:.1} s ({} failed, {} agreed deflate)",
        shared.connected.load(Relaxed),
        started.elapsed().as_secs_f64(),
        shared.failed.load(Relaxed),
        shared.agreed_deflate.load(Relaxed),
    );
    let writer = Publisher::open(shared).await;
    let period = Duration::from_secs_f64(1.0 / params.rate);
    let stamp = shared.stamp;
    let mut message = stamp.template(params.size);
    let opcode = if params.json {
        wire::TEXT
    } else {
        wire::BINARY
    };
    let mut frame = Vec::with_capacity(params.size + 14);
    let (s0, s1) = (shared.s0, shared.s1);
    let now = Instant::now();
    let mut t = Timeline {
        t0: now,
        t1: now,
        end: now,
        server_ticks: 0,
        client_ticks: 0,
        published: 0,
        live_at_t0: 0,
        drained: true,
    };
    let mut next = Instant::now();
    let mut cpu_at_t0 = (0, 0);
    for seq in 0.. {
        if seq == s0 {
            t.t0 = Instant::now();
            cpu_at_t0 = (
                procfs::cpu_ticks(params.server_pid),
                procfs::cpu_ticks(std::process::id()),
            );
            t.live_at_t0 = shared.live.load(Relaxed);
            shared.phase.store(1, Relaxed);
        }
        if seq == s1 {
            t.t1 = Instant::now();
        }
        if seq >= s1 {
            let all = shared.finished.load(Relaxed) >= params.subscribers;
            let late = t.t1.elapsed().as_secs_f64() > params.drain;
            if all || late {
                shared.phase.store(2, Relaxed);
                t.end = Instant::now();
                t.server_ticks = procfs::cpu_ticks(params.server_pid) - cpu_at_t0.0;
                t.client_ticks = procfs::cpu_ticks(std::process::id()) - cpu_at_t0.1;
                t.drained = all;
                t.published = seq;
                break;
            }
        }
        let ns = shared.epoch.elapsed().as_nanos() as u64;
        stamp.write(&mut message, ns, seq);
        wire::client_frame(&mut frame, opcode, &message);
        writer.send(&frame).await;
        next += period;
        tokio::time::sleep_until(next.into()).await;
    }
    t
}

/// The idle-memory run: the server's RSS with `WARM` subscribers, then
/// with `subscribers` more after one message published to all of them.
async fn idle(params: &Params, shared: &Arc<Shared>) -> String {
    wait_connected(params, shared, WARM).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = procfs::rss_kib(params.server_pid);
    let total = WARM + params.subscribers;
    shared.target.store(total, Relaxed);
    wait_connected(params, shared, total).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open = procfs::rss_kib(params.server_pid);
    let writer = Publisher::open(shared).await;
    let mut message = shared.stamp.template(params.size);
    let opcode = if params.json {
        wire::TEXT
    } else {
        wire::BINARY
    };
    let mut frame = Vec::new();
    shared
        .stamp
        .write(&mut message, shared.epoch.elapsed().as_nanos() as u64, 0);
    wire::client_frame(&mut frame, opcode, &message);
    writer.send(&frame).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.finished.load(Relaxed) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = procfs::rss_kib(params.server_pid);
    // What follows is the bench stopping the server.
    shared.phase.store(2, Relaxed);
    format!(
        "idle connected={} failed={} received={} rss_before_kib={before} rss_open_kib={open} \
         rss_after_kib={after} subscribers={}",
        shared.connected.load(Relaxed),
        shared.failed.load(Relaxed),
        shared.finished.load(Relaxed),
        params.subscribers,
    )
}

/// The publisher's connection: the write half, shared with its reader,
/// which answers Pings through it.
struct Publisher {
    write: Arc<tokio::sync::Mutex<tokio::net::tcp::OwnedWriteHalf>>,
}

impl Publisher {
    async fn open(shared: &Shared) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", shared.port))
            .await
            .expect("the publisher connects");
        stream.set_nodelay(true).unwrap();
        let (stream, leftover, _) = handshake(stream, shared.port, false)
            .await
            .expect("the publisher's handshake");
        let (read, write) = stream.into_split();
        let write = Arc::new(tokio::sync::Mutex::new(write));
        tokio::spawn(Self::drain(read, leftover, write.clone()));
        Self { write }
    }

    async fn send(&self, frame: &[u8]) {
        self.write
            .lock()
            .await
            .write_all(frame)
            .await
            .expect("the publisher writes");
    }

    /// Reads and drops what the server sends the publisher (every message
    /// too), answering Pings.
    async fn drain(
        mut read: tokio::net::tcp::OwnedReadHalf,
        mut held: Vec<u8>,
        write: Arc<tokio::sync::Mutex<tokio::net::tcp::OwnedWriteHalf>>,
    ) {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut pong = Vec::new();
        loop {
            let start = held.len();
            buffer[..start].copy_from_slice(&held);
            let n = match read.read(&mut buffer[start..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let data = &buffer[..start + n];
            let mut used = 0;
            while let Ok(Some((frame, len))) = wire::parse_frame(&data[used..]) {
                if frame.opcode == wire::PING {
                    wire::client_frame(&mut pong, wire::PONG, frame.payload);
                    let _ = write.lock().await.write_all(&pong).await;
                }
                used += len;
            }
            held.clear();
            held.extend_from_slice(&data[used..]);
        }
    }
}

/// A client thread: opens the subscribers it claims and reads them until
/// the run stops; returns what they counted.
fn subscriber_thread(shared: Arc<Shared>) -> Stats {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = Rc::new(Local {
        shared: shared.clone(),
        buffer: RefCell::new(vec![0; READ_BUFFER]),
        stats: RefCell::new(Stats::default()),
        inflate: RefCell::new(flate2::Decompress::new(false)),
    });
    let tasks = tokio::task::LocalSet::new();
    tasks.block_on(&runtime, opener(local.clone()));
    // Dropping the tasks closes their sockets; the server is gone by then.
    drop(tasks);
    Rc::try_unwrap(local)
        .ok()
        .expect("the subscriber tasks are gone")
        .stats
        .into_inner()
}

/// Claims subscriber indices up to the target and opens them, a bounded
/// number of handshakes at a time, until the run stops.
async fn opener(local: Rc<Local>) {
    let shared = &local.shared;
    let opening = Arc::new(tokio::sync::Semaphore::new(OPENING));
    while !shared.stop.load(Relaxed) {
        let claimed = shared.claimed.load(Relaxed);
        if claimed >= shared.target.load(Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        if shared
            .claimed
            .compare_exchange(claimed, claimed + 1, Relaxed, Relaxed)
            .is_err()
        {
            continue;
        }
        let permit = opening.clone().acquire_owned().await.unwrap();
        tokio::task::spawn_local(subscriber(claimed, local.clone(), permit));
    }
}

/// Subscriber `i`: opens from its source address, then reads until the
/// server closes.
async fn subscriber(i: usize, local: Rc<Local>, permit: tokio::sync::OwnedSemaphorePermit) {
    let shared = &local.shared;
    let opened = async {
        let source = Ipv4Addr::new(127, 0, 0, 2 + (i % SOURCES) as u8);
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
        let stream = socket
            .connect(SocketAddr::from(([127, 0, 0, 1], shared.port)))
            .await?;
        stream.set_nodelay(true)?;
        handshake(stream, shared.port, shared.deflate).await
    }
    .await;
    drop(permit);
    let (stream, held, agreed) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            if shared.failed.fetch_add(1, Relaxed) == 0 {
                eprintln!("    subscriber {i} failed to open: {e}");
            }
            shared.finished.fetch_add(1, Relaxed);
            return;
        }
    };
    if agreed == Agreed::DeflateNoTakeover {
        shared.agreed_deflate.fetch_add(1, Relaxed);
    }
    shared.connected.fetch_add(1, Relaxed);
    let mut conn = Conn {
        held,
        agreed,
        live: false,
        finished: false,
        fragmented: false,
        closing: false,
    };
    if let Err(e) = conn.read(stream, &local).await {
        if shared.closed.load(Relaxed) == 0 && shared.phase.load(Relaxed) < 2 {
            eprintln!("    subscriber {i}: {e}");
        }
    }
    shared.closed.fetch_add(1, Relaxed);
    if !conn.finished {
        shared.finished.fetch_add(1, Relaxed);
    }
}

/// Sends the upgrade request and reads the 101: the stream, the bytes read
/// past the head, and what was agreed.
async fn handshake(
    mut stream: TcpStream,
    port: u16,
    deflate: bool,
) -> std::io::Result<(TcpStream, Vec<u8>, Agreed)> {
    stream
        .write_all(wire::request(port, deflate).as_bytes())
        .await?;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let agreed = wire::response(&head[..end + 4]).map_err(std::io::Error::other)?;
            let rest = head[end + 4..].to_vec();
            return Ok((stream, rest, agreed));
        }
        if head.len() > 16 * 1024 {
            return Err(std::io::Error::other("a response head over 16 KiB"));
        }
    }
}

/// One subscriber's state between reads.
struct Conn {
    /// The start of a frame cut by the end of the last read.
    held: Vec<u8>,
    agreed: Agreed,
    live: bool,
    finished: bool,
    /// Inside a fragmented message (its stamp is not read).
    fragmented: bool,
    closing: bool,
}

impl Conn {
    async fn read(&mut self, mut stream: TcpStream, local: &Local) -> std::io::Result<()> {
        let mut replies = Vec::new();
        while !self.closing {
            stream.readable().await?;
            {
                let mut buffer = local.buffer.borrow_mut();
                let start = self.held.len();
                assert!(
                    start < READ_BUFFER / 2,
                    "a frame over {} B",
                    READ_BUFFER / 2
                );
                buffer[..start].copy_from_slice(&self.held);
                let n = match stream.try_read(&mut buffer[start..]) {
                    Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                };
                let data = &buffer[..start + n];
                let used = self
                    .frames(data, local, &mut replies)
                    .map_err(std::io::Error::other)?;
                self.held.clear();
                self.held.extend_from_slice(&data[used..]);
            }
            if !replies.is_empty() {
                stream.write_all(&replies).await?;
                replies.clear();
            }
        }
        Ok(())
    }

    /// Handles the whole frames at the start of `data`; the bytes used.
    fn frames(
        &mut self,
        data: &[u8],
        local: &Local,
        replies: &mut Vec<u8>,
    ) -> Result<usize, &'static str> {
        let shared = &local.shared;
        // One clock reading and one phase per read: these frames arrived
        // together.
        let now = shared.epoch.elapsed().as_nanos() as u64;
        let measuring = shared.phase.load(Relaxed) == 1;
        let mut stats = local.stats.borrow_mut();
        let mut used = 0;
        let mut reply = Vec::new();
        while let Some((frame, len)) = wire::parse_frame(&data[used..])? {
            used += len;
            match frame.opcode {
                wire::TEXT | wire::BINARY | 0 => {
                    if !frame.fin {
                        self.fragmented = true;
                        continue;
                    }
                    if measuring {
                        stats.arrived += 1;
                        stats.arrived_bytes += len as u64;
                    }
                    if std::mem::take(&mut self.fragmented) {
                        stats.unstamped += 1;
                        continue;
                    }
                    let mut inflated = [0u8; 64];
                    let head = if frame.compressed {
                        if self.agreed != Agreed::DeflateNoTakeover {
                            return Err("a compressed frame without permessage-deflate");
                        }
                        inflate_head(
                            &mut local.inflate.borrow_mut(),
                            frame.payload,
                            &mut inflated,
                        )?
                    } else {
                        frame.payload
                    };
                    let Some((sent, seq)) = shared.stamp.read(head) else {
                        stats.unstamped += 1;
                        continue;
                    };
                    if !self.live {
                        self.live = true;
                        shared.live.fetch_add(1, Relaxed);
                    }
                    if (shared.s0..shared.s1).contains(&seq) {
                        stats.window += 1;
                        stats.latency.record(now.saturating_sub(sent) / 1000);
                    }
                    if !self.finished && seq + 1 >= shared.s1 {
                        self.finished = true;
                        shared.finished.fetch_add(1, Relaxed);
                    }
                }
                wire::PING => {
                    wire::client_frame(&mut reply, wire::PONG, frame.payload);
                    replies.extend_from_slice(&reply);
                }
                wire::CLOSE => {
                    self.closing = true;
                    break;
                }
                _ => {}
            }
        }
        Ok(used)
    }
}

/// The first bytes of a message compressed on its own (RFC 7692 §7.2.2,
/// no context takeover): enough for its stamp, without inflating the rest.
fn inflate_head<'a>(
    inflate: &mut flate2::Decompress,
    payload: &[u8],
    out: &'a mut [u8; 64],
) -> Result<&'a [u8], &'static str> {
    inflate.reset(false);
    // The message's deflate blocks are complete without the `00 00 FF FF`
    // the sender removed: the bytes come out without it.
    inflate
        .decompress(payload, out, flate2::FlushDecompress::Sync)
        .map_err(|_| "a compressed message that does not inflate")?;
    Ok(&out[..inflate.total_out() as usize])
}
