//! Requests per second over an h2c-upgraded connection against
//! prior-knowledge h2c, on the same server in the same run.
//!
//! `tower_upgrade::serve` serves the `h2c` example's router on 127.0.0.1;
//! the same HTTP/2 client (tests/support/h2.rs) opens connections either
//! way: one sends `Upgrade: h2c` and reads stream 1 first, the other starts
//! with the preface. Only the requests after that are timed. The two modes
//! alternate over several rounds and the median of each is reported, with
//! the ratio upgraded / prior knowledge (the goal is at least 0.95).
//!
//! ```sh
//! cargo bench --bench h2c --features h2c,serve
//! ROUNDS=15 CONNECTIONS=4 REQUESTS=3000 DEPTH=10 cargo bench --bench h2c --features h2c,serve
//! ```

#[path = "../tests/support/h2.rs"]
mod h2;

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpStream;
use tower_upgrade::h2c::H2c;
use tower_upgrade::UpgradeLayer;

const HELLO: &str = "hello from tower-upgrade\n";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Upgraded,
    PriorKnowledge,
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One connection: `requests` GETs, `depth` in flight at a time. Returns
/// the time the requests took, setup excluded.
async fn connection(
    addr: std::net::SocketAddr,
    mode: Mode,
    requests: usize,
    depth: usize,
) -> Duration {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut client = match mode {
        Mode::Upgraded => {
            let request = h2::upgrade_request("GET", "/", &[(3, 100)], b"");
            let mut client = h2::Client::upgrade(tcp, &request, &[(3, 100)]).await;
            assert_eq!(client.wait(1).await.data, HELLO.as_bytes());
            client.streams.remove(&1);
            client
        }
        Mode::PriorKnowledge => h2::Client::prior_knowledge(tcp, &[(3, 100)]).await,
    };
    let start = Instant::now();
    let mut done = 0;
    while done < requests {
        let batch = depth.min(requests - done);
        let mut ids = Vec::with_capacity(batch);
        for _ in 0..batch {
            ids.push(client.request("GET", "/", &[], b"").await);
        }
        for id in ids {
            let stream = client.wait(id).await;
            assert_eq!(stream.data.len(), HELLO.len());
            client.streams.remove(&id);
        }
        done += batch;
    }
    start.elapsed()
}

/// Requests per second of one round: `connections` connections at once.
async fn round(
    addr: std::net::SocketAddr,
    mode: Mode,
    connections: usize,
    requests: usize,
    depth: usize,
) -> f64 {
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(addr, mode, requests, depth)))
        .collect();
    let mut slowest = Duration::ZERO;
    for task in tasks {
        slowest = slowest.max(task.await.unwrap());
    }
    // The request phase of the slowest connection bounds the round.
    (connections * requests) as f64 / slowest.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let rounds = env("ROUNDS", 9);
    let connections = env("CONNECTIONS", 4);
    let requests = env("REQUESTS", 3000);
    let depth = env("DEPTH", 10);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let routes = Router::new()
            .route("/", get(|| async { HELLO }))
            .route("/echo", post(|body: Bytes| async move { body }));
        let app = routes.clone().layer(UpgradeLayer::new().h2c(H2c::new(routes)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(tower_upgrade::serve(listener, app).into_future());

        // Warm up both paths once.
        round(addr, Mode::Upgraded, connections, requests / 10, depth).await;
        round(addr, Mode::PriorKnowledge, connections, requests / 10, depth).await;

        let (mut upgraded, mut prior) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            // Alternate which goes first, so drift affects both alike.
            let order = if i % 2 == 0 {
                [Mode::Upgraded, Mode::PriorKnowledge]
            } else {
                [Mode::PriorKnowledge, Mode::Upgraded]
            };
            for mode in order {
                let rps = round(addr, mode, connections, requests, depth).await;
                match mode {
                    Mode::Upgraded => upgraded.push(rps),
                    Mode::PriorKnowledge => prior.push(rps),
                }
            }
        }
        let (u, p) = (median(upgraded.clone()), median(prior.clone()));
        // Each round's pair ran back to back, so its ratio is the least
        // disturbed by other work on the machine; the median of those is
        // the figure to read.
        let pairs: Vec<f64> = upgraded.iter().zip(&prior).map(|(u, p)| u / p).collect();
        println!(
            "h2c: {rounds} rounds x {connections} connections x {requests} GET / ({depth} in flight), 127.0.0.1"
        );
        println!("  upgraded (Upgrade: h2c)   {u:>10.0} req/s   rounds {}", fmt(&upgraded));
        println!("  prior knowledge           {p:>10.0} req/s   rounds {}", fmt(&prior));
        println!(
            "  ratio upgraded / prior knowledge: {:.3} (median of per-round ratios {}; goal >= 0.95)",
            median(pairs.clone()),
            pairs.iter().map(|r| format!("{r:.3}")).collect::<Vec<_>>().join(" ")
        );
    });
}

fn fmt(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(" ")
}

use std::future::IntoFuture;
