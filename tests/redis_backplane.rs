//! Issue 18: `RedisBackplane` against a real `redis-server` (Debian's
//! package; `scripts/install-peers.sh` installs it). Each test starts its
//! own server on a free port of 127.0.0.1, with no persistence, in a
//! directory of its own, and kills it at the end. Without `redis-server`
//! the tests print a skip, or fail under `CI=true`.
//!
//! Two "instances" are two `Topics`, each with its own backplane, serving
//! in-process WebSocket clients (`tower_upgrade::testing`, tokio-tungstenite
//! as the client). Every wait is a poll under a hang guard: nothing
//! asserts how long anything takes.
#![cfg(all(feature = "redis", feature = "test-util", feature = "metrics"))]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{Request, Response};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use redis::aio::MultiplexedConnection;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message as ClientMessage;
use tokio_tungstenite::WebSocketStream;
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody, TestIo};
use tower_upgrade::websocket::{Message, RedisBackplane, Topics, WebSocketConfig};
use tower_upgrade::{UpgradeLayer, Upgraded};

mod support;

/// How long a test waits for anything before calling it a hang.
const BOUND: Duration = Duration::from_secs(60);
/// Between two looks at something that is expected to change.
const POLL: Duration = Duration::from_millis(20);

/// A `redis-server` of this test's own.
struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// The test's own connection, kept so that it is one known client in
    /// `CLIENT LIST`.
    probe: Mutex<Option<MultiplexedConnection>>,
}

impl RedisServer {
    /// Started and accepting connections; `None` (after a skip notice)
    /// when `redis-server` is not installed, outside CI.
    fn start() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
        if !found {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "redis-server is not installed (scripts/install-peers.sh installs it)"
            );
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("tower-upgrade-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            port,
            dir,
            child: None,
            probe: Mutex::default(),
        };
        server.restart();
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts it (again, on the same port) and waits until it accepts.
    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        *self.probe.lock().unwrap() = None;
        let deadline = std::time::Instant::now() + BOUND;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "redis-server hung");
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILL: gone at once, without closing anything politely.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A command to the server, from a connection of the test's own.
    async fn query(&self, command: &redis::Cmd) -> redis::Value {
        let probe = self.probe.lock().unwrap().clone();
        let mut connection = match probe {
            Some(connection) => connection,
            None => {
                let client = redis::Client::open(self.url()).unwrap();
                let connection = client.get_multiplexed_async_connection().await.unwrap();
                *self.probe.lock().unwrap() = Some(connection.clone());
                connection
            }
        };
        command.query_async(&mut connection).await.unwrap()
    }

    /// How many connections are subscribed to `channel`.
    async fn subscribers(&self, channel: &str) -> i64 {
        let value = self
            .query(redis::cmd("PUBSUB").arg("NUMSUB").arg(channel))
            .await;
        let (_, count): (String, i64) = redis::from_redis_value(value).unwrap();
        count
    }

    /// The channels with at least one subscriber, matching `pattern`.
    async fn channels(&self, pattern: &str) -> Vec<String> {
        let value = self
            .query(redis::cmd("PUBSUB").arg("CHANNELS").arg(pattern))
            .await;
        redis::from_redis_value(value).unwrap()
    }

    /// Polls `subscribers(channel)` until it is `count`.
    async fn until_subscribers(&self, channel: &str, count: i64) {
        timeout(BOUND, async {
            while self.subscribers(channel).await != count {
                tokio::time::sleep(POLL).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{channel} never had {count} subscribers"));
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `test` on a current-thread runtime with a recorder of its own, so
/// that every task (the backplane's, redis-rs's) counts into it and tests
/// running side by side do not mix their counts.
fn run<F: std::future::Future<Output = ()>>(test: impl FnOnce(Counts) -> F) {
    let recorder = DebuggingRecorder::new();
    let counts = Counts {
        snapshotter: recorder.snapshotter(),
        seen: RefCell::default(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test(counts)));
}

/// A series: its name and labels.
type Series = (String, Vec<(String, String)>);

/// The series' values so far. A snapshot of the debugging recorder takes
/// counters and gauges back to 0, so each one is added to what was seen.
struct Counts {
    snapshotter: Snapshotter,
    seen: RefCell<BTreeMap<Series, f64>>,
}

impl Counts {
    /// A counter's (or a gauge's) value, summed over the series of `name`
    /// that have `label`.
    fn value(&self, name: &str, label: Option<(&str, &str)>) -> u64 {
        let mut seen = self.seen.borrow_mut();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            let delta = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(_) => 0.0,
            };
            *seen.entry((key.name().to_owned(), labels)).or_default() += delta;
        }
        seen.iter()
            .filter(|((n, labels), _)| {
                n == name
                    && label.is_none_or(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, value)| *value as u64)
            .sum()
    }

    fn dropped(&self, kind: &str) -> u64 {
        self.value(
            "tower_upgrade_backplane_dropped_total",
            Some(("kind", kind)),
        )
    }

    /// Polls until `done` holds.
    async fn until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        timeout(BOUND, async {
            while !done(self) {
                tokio::time::sleep(POLL).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("never came: {what}"));
    }
}

/// One instance of the service: a `Topics` with a Redis backplane, and an
/// app whose WebSocket clients are subscribed to `room` and publish there
/// what they send.
#[derive(Clone)]
struct Instance {
    topics: Topics,
}

type Client = WebSocketStream<TestIo>;

impl Instance {
    fn new(server: &RedisServer, backplane: impl FnOnce(RedisBackplane) -> RedisBackplane) -> Self {
        let backplane = backplane(RedisBackplane::new(&server.url()).unwrap());
        Self {
            topics: Topics::builder().backplane(backplane).build(),
        }
    }

    /// A WebSocket client of this instance, subscribed to `room` once it
    /// is connected.
    async fn client(&self) -> Client {
        let topics = self.topics.clone();
        let handler = service_fn(move |conn: Upgraded| {
            let topics = topics.clone();
            async move {
                let (tx, mut rx) = conn.into_websocket().split();
                topics.subscribe("room", &tx);
                while let Some(Ok(message)) = rx.recv().await {
                    if let Message::Text(_) = message {
                        let _ = topics.publish("room", message).await;
                    }
                }
                Ok::<_, Infallible>(())
            }
        });
        let app = UpgradeLayer::new()
            .websocket(WebSocketConfig::new(), handler)
            .layer(service_fn(|_: Request<TestBody>| async {
                Ok::<_, Infallible>(Response::new(String::new()))
            }));
        let before = self.topics.subscribers("room");
        let request = support::websocket_request().body(String::new()).unwrap();
        let response = testing::send(app, request).await.unwrap();
        assert_eq!(response.status(), 101);
        let client =
            WebSocketStream::from_raw_socket(response.into_io().unwrap(), Role::Client, None).await;
        timeout(BOUND, async {
            while self.topics.subscribers("room") == before {
                tokio::time::sleep(POLL).await;
            }
        })
        .await
        .expect("the handler subscribed");
        client
    }
}

/// The next text message a client receives.
async fn next_text(client: &mut Client) -> String {
    loop {
        let message = timeout(BOUND, client.next())
            .await
            .expect("a message came (hung, bounded by timeout)")
            .expect("the connection is open")
            .unwrap();
        if let ClientMessage::Text(text) = message {
            return text.to_string();
        }
    }
}

/// Issue 18, case 1: a message published on one instance reaches the
/// subscribers of the other, and its own subscriber once; a message on the
/// channel that is not an envelope is dropped and counted.
#[test]
fn a_message_reaches_every_instance_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    run(|counts| async move {
        let (one, two) = (Instance::new(&server, |b| b), Instance::new(&server, |b| b));
        let mut a = one.client().await;
        let mut b = two.client().await;
        server.until_subscribers("tower-upgrade:room", 2).await;

        a.send(ClientMessage::text("hello from a")).await.unwrap();
        assert_eq!(next_text(&mut b).await, "hello from a");
        assert_eq!(next_text(&mut a).await, "hello from a");
        // Redis sends `hello` back to instance one before `marker`, which
        // b's instance publishes after it received `hello`: were it not
        // skipped, `a` would see it again before `marker`.
        b.send(ClientMessage::text("marker")).await.unwrap();
        assert_eq!(next_text(&mut a).await, "marker");
        assert_eq!(next_text(&mut b).await, "marker");

        // Someone else on the channel: dropped by both, counted.
        server
            .query(redis::cmd("PUBLISH").arg("tower-upgrade:room").arg("{}"))
            .await;
        b.send(ClientMessage::text("after the noise"))
            .await
            .unwrap();
        assert_eq!(next_text(&mut a).await, "after the noise");
        assert_eq!(next_text(&mut b).await, "after the noise");
        counts
            .until("each instance dropped the noise", |c| {
                c.dropped("malformed") == 2
            })
            .await;
        // Counted when Redis answers the PUBLISH, perhaps after the
        // subscribers got the message.
        counts
            .until("three messages published", |c| {
                c.value("tower_upgrade_backplane_published_total", None) == 3
            })
            .await;
        assert_eq!(
            counts.value("tower_upgrade_backplane_received_total", None),
            3,
            "each message crossed once, to the instance that did not publish it"
        );
        let subscribe = Some(("kind", "subscribe"));
        assert_eq!(
            counts.value("tower_upgrade_backplane_connected", subscribe),
            2
        );
        assert_eq!(counts.dropped("outbox_full"), 0);
        assert_eq!(counts.dropped("send_failed"), 0);
    });
}

/// Issue 18, case 2: Redis killed while an instance publishes. Local
/// delivery goes on, no publish waits, the outbox stays within its bound
/// (the rest is dropped and counted); once Redis is back on the same port,
/// both instances reconnect and subscribe again, and messages cross again.
#[test]
fn redis_going_away_keeps_local_delivery_and_comes_back() {
    const OUTBOX: usize = 100;
    const BATCH: usize = 64;
    const SENT: usize = 2000;
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let fast = |b: RedisBackplane| {
        b.max_outbox(OUTBOX, 1 << 20)
            .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
    };
    run(|counts| async move {
        let (one, two) = (Instance::new(&server, fast), Instance::new(&server, fast));
        let mut a = one.client().await;
        let mut b = two.client().await;
        server.until_subscribers("tower-upgrade:room", 2).await;
        one.topics.publish("room", "before").await.unwrap();
        assert_eq!(next_text(&mut a).await, "before");
        assert_eq!(next_text(&mut b).await, "before");

        server.kill();
        let payload = "x".repeat(1000);
        for i in 0..SENT {
            let report = timeout(BOUND, one.topics.publish("room", format!("{i} {payload}")))
                .await
                .expect("publish does not wait for Redis")
                .unwrap();
            assert_eq!(report.delivered(), 1, "the local subscriber took it");
            assert!(next_text(&mut a).await.starts_with(&format!("{i} ")));
        }
        // Every message is accounted for: queued (at most the bound), in
        // the one batch that was being sent as Redis went, or dropped at
        // the outbox.
        let full = counts.dropped("outbox_full") as usize;
        assert!(
            full >= SENT - OUTBOX - BATCH,
            "{full} dropped at the outbox of {SENT}: it held more than {OUTBOX}"
        );
        assert!(counts.dropped("send_failed") as usize <= BATCH);
        counts
            .until("the subscribe connections saw Redis go, and retried", |c| {
                c.value(
                    "tower_upgrade_backplane_connected",
                    Some(("kind", "subscribe")),
                ) == 0
                    && c.value("tower_upgrade_backplane_reconnects_total", None) > 0
            })
            .await;

        server.restart();
        // Subscribed again, both of them, with no new local subscriber.
        server.until_subscribers("tower-upgrade:room", 2).await;
        let crossed = async {
            for probe in 0.. {
                one.topics
                    .publish("room", format!("probe {probe}"))
                    .await
                    .unwrap();
                // The outbox's queued messages come first, then the
                // probes: read until one is there, publishing more.
                if let Ok(text) = timeout(Duration::from_millis(200), next_text(&mut b)).await {
                    if text.starts_with("probe") {
                        return;
                    }
                }
            }
        };
        timeout(BOUND, crossed)
            .await
            .expect("messages cross again once Redis is back");
        counts
            .until("the four connections are up", |c| {
                c.value("tower_upgrade_backplane_connected", None) == 4
            })
            .await;
    });
}

/// Issue 18, case 3: the channel is unsubscribed when the last local
/// subscriber leaves; dropping the `Topics` ends the backplane's tasks and
/// closes its connections.
#[test]
fn the_last_subscriber_leaving_unsubscribes_and_drop_ends_the_tasks() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    run(|counts| async move {
        let tasks = || {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
        };
        let clients = || async {
            let list = server.query(redis::cmd("CLIENT").arg("LIST")).await;
            let list: String = redis::from_redis_value(list).unwrap();
            // Less the test's own.
            list.lines().count() - 1
        };
        // After the probe connection (and its task) exists.
        assert_eq!(clients().await, 0);
        let baseline = tasks();

        let one = Instance::new(&server, |b| b.channel_prefix("test:"));
        let mut first = one.client().await;
        let mut second = one.client().await;
        server.until_subscribers("test:room", 1).await;
        assert_eq!(server.channels("test:*").await, ["test:room"]);

        first.close(None).await.unwrap();
        while let Ok(Some(Ok(_))) = timeout(BOUND, first.next()).await {}
        timeout(BOUND, async {
            while one.topics.subscribers("room") != 1 {
                tokio::time::sleep(POLL).await;
            }
        })
        .await
        .expect("the first client left the topic");
        // One local subscriber left: still subscribed, so this comes (and
        // is dropped: not an envelope).
        server
            .query(redis::cmd("PUBLISH").arg("test:room").arg("noise"))
            .await;
        counts
            .until("still subscribed with one subscriber", |c| {
                c.dropped("malformed") == 1
            })
            .await;

        second.close(None).await.unwrap();
        while let Ok(Some(Ok(_))) = timeout(BOUND, second.next()).await {}
        timeout(BOUND, async {
            while !server.channels("test:*").await.is_empty() {
                tokio::time::sleep(POLL).await;
            }
        })
        .await
        .expect("unsubscribed after the last subscriber left");
        assert!(one.topics.is_empty());

        // The backplane's two connections close once the Topics is gone,
        // and every task (its own, redis-rs's, the sockets') ends.
        assert_eq!(clients().await, 2);
        drop(one);
        timeout(BOUND, async {
            while clients().await > 0 || tasks() > baseline {
                tokio::time::sleep(POLL).await;
            }
        })
        .await
        .expect("the backplane's tasks ended and closed their connections");
        assert_eq!(counts.value("tower_upgrade_backplane_connected", None), 0);
    });
}
