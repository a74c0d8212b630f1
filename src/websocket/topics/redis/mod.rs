//! A [`Backplane`] over Redis pub/sub (feature `redis`): the messages
//! published to a topic on one instance reach its subscribers on every
//! instance connected to the same Redis.
//!
//! Each topic is a channel, `prefix + topic`; each message an envelope
//! (`envelope.rs`) with the publishing instance's random id, so that an
//! instance skips its own messages as Redis sends them back. Two
//! connections: one in pub/sub mode (SUBSCRIBE, and reading), one for
//! PUBLISH (`connection.rs`). Between them and the [`Topics`] sit two
//! bounded queues (`queue.rs`): a publish never waits for Redis, and a
//! subscriber that is slow to take messages holds back a queue, not the
//! connection.
//!
//! NATS would plug in the same way, as another implementation of the
//! trait: a subject per topic (`prefix.<topic>`) for the channel, a NATS
//! subscription per subscribed topic, the instance id in a message header
//! rather than in the payload, and the same queues and back-off.
//!
//! [`Backplane`]: super::Backplane
//! [`Topics`]: super::Topics

mod backoff;
mod connection;
mod envelope;
mod link;
mod queue;

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::connection::{lock, shrink, Outgoing, Settings, Shared};
use self::envelope::InstanceId;
use super::metrics::backplane as metrics;
use super::{Backplane, BackplaneInbox};
use crate::websocket::Message;
use crate::ConfigError;

/// Carries the messages of a [`Topics`](super::Topics) to and from the
/// other instances of the service through Redis pub/sub (feature `redis`).
///
/// A message published on one instance reaches the subscribers of the
/// same topic on every instance (this one's are served by the `Topics`
/// itself, never through Redis). While Redis is away, local delivery goes
/// on; the backplane reconnects with an exponential back-off (100 ms to
/// 5 s by default, with jitter), logs a warning when a connection fails
/// (once, not at each attempt), and subscribes again to every topic that
/// has subscribers here. What other instances publish meanwhile is lost
/// to this one (Redis pub/sub keeps nothing). The outbox this instance
/// kept meanwhile is sent as soon as its own connection is back, which may
/// be before the other instances have subscribed again: those messages
/// reach only the instances already back (seen in the interop run: from 0
/// to about the outbox's 1,024 of them crossed).
///
/// Nothing grows while Redis is away: messages wait for Redis in an outbox
/// bounded in messages and bytes ([`max_outbox`](Self::max_outbox)), and
/// past it are dropped for the other instances and counted
/// (`tower_upgrade_backplane_dropped_total{kind="outbox_full"}`); messages
/// from Redis wait for this instance's subscribers in an inbox bounded the
/// same way ([`max_inbox`](Self::max_inbox)). Messages on the channels
/// that are not this crate's envelope are dropped, logged at debug level,
/// and counted (`kind="malformed"`).
///
/// It starts its tasks when the `Topics` is built
/// ([`TopicsBuilder::build`](super::TopicsBuilder::build)), which must
/// then run inside a tokio runtime (outside one, it logs an error and
/// messages stay on this instance); the tasks end when the `Topics` and
/// its clones are dropped. One connection to Redis subscribes, another
/// publishes.
///
/// NATS would plug in the same way (see [`Backplane`]): a subject per
/// topic, a NATS subscription per subscribed topic, the instance id in a
/// message header.
///
/// ```no_run
/// use std::time::Duration;
/// use tower_upgrade::websocket::{RedisBackplane, Topics};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), tower_upgrade::ConfigError> {
/// let backplane = RedisBackplane::new("redis://127.0.0.1:6379/")?
///     .channel_prefix("chat:")
///     .max_outbox(10_000, 16 << 20)
///     .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(10));
/// // Inside the runtime: the backplane's tasks start here.
/// let topics = Topics::builder().backplane(backplane).build();
/// # let _ = topics;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct RedisBackplane {
    settings: Settings,
    prefix: String,
    outbox: (usize, usize),
    id: InstanceId,
    wanted: Arc<Mutex<HashSet<Arc<str>>>>,
    stop: CancellationToken,
    attached: OnceLock<Attached>,
    /// Whether the outbox refused the last message: its first refusal in a
    /// row is logged.
    full: AtomicBool,
}

/// The senders of an attached backplane.
struct Attached {
    outbox: queue::Tx<Outgoing>,
    /// A wake-up for the subscribe connection: `wanted` changed.
    changed: mpsc::Sender<()>,
}

const DEFAULT_MESSAGES: usize = 1024;
const DEFAULT_BYTES: usize = 8 << 20;

impl RedisBackplane {
    /// A backplane for the Redis at `url` (`redis://[user:password@]host[:port][/db]`,
    /// or `redis+unix:///path`). Nothing connects until the
    /// [`Topics`](super::Topics) is built.
    ///
    /// Defaults: channels named `tower-upgrade:<topic>`, an outbox and an
    /// inbox of 1024 messages and 8 MiB each, a back-off from 100 ms to
    /// 5 s.
    ///
    /// ```
    /// use tower_upgrade::websocket::RedisBackplane;
    ///
    /// assert!(RedisBackplane::new("redis://127.0.0.1/").is_ok());
    /// assert!(RedisBackplane::new("http://127.0.0.1/").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when `url` is not a Redis URL.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let client = ::redis::Client::open(url)
            .map_err(|err| ConfigError::new(format!("invalid Redis URL: {err}")))?;
        let mut id = InstanceId::default();
        id[..8].copy_from_slice(&backoff::random_u64().to_le_bytes());
        id[8..].copy_from_slice(&backoff::random_u64().to_le_bytes());
        Ok(Self {
            settings: Settings {
                client,
                inbox: (DEFAULT_MESSAGES, DEFAULT_BYTES),
                backoff: (Duration::from_millis(100), Duration::from_secs(5)),
            },
            prefix: "tower-upgrade:".to_owned(),
            outbox: (DEFAULT_MESSAGES, DEFAULT_BYTES),
            id,
            wanted: Arc::default(),
            stop: CancellationToken::new(),
            attached: OnceLock::new(),
            full: AtomicBool::new(false),
        })
    }

    /// The start of every channel's name (`tower-upgrade:` by default): a
    /// topic `lobby` is the channel `tower-upgrade:lobby`. Services that
    /// share a Redis and not their topics set prefixes of their own.
    ///
    /// ```
    /// use tower_upgrade::websocket::RedisBackplane;
    ///
    /// let backplane = RedisBackplane::new("redis://127.0.0.1/")?.channel_prefix("chat:v2:");
    /// # let _ = backplane;
    /// # Ok::<_, tower_upgrade::ConfigError>(())
    /// ```
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bounds the messages published here that wait for Redis (sent in
    /// order once it answers): at most `messages` (at least 1) and
    /// `bytes` of payload. Past either, a message is dropped for the other
    /// instances (`tower_upgrade_backplane_dropped_total{kind="outbox_full"}`);
    /// this instance's subscribers get it all the same. Default: 1024
    /// messages, 8 MiB.
    ///
    /// ```
    /// use tower_upgrade::websocket::RedisBackplane;
    ///
    /// // A feed where only recent prices matter: keep little.
    /// let backplane = RedisBackplane::new("redis://127.0.0.1/")?.max_outbox(64, 1 << 20);
    /// # let _ = backplane;
    /// # Ok::<_, tower_upgrade::ConfigError>(())
    /// ```
    pub fn max_outbox(mut self, messages: usize, bytes: usize) -> Self {
        self.outbox = (messages, bytes);
        self
    }

    /// Bounds the messages from other instances that wait for this
    /// instance's subscribers (a subscriber under
    /// [`SlowConsumer::Wait`](super::SlowConsumer::Wait) holds them
    /// back): at most `messages` (at least 1) and `bytes` of payload. Past
    /// either, a message is dropped
    /// (`tower_upgrade_backplane_dropped_total{kind="inbox_full"}`).
    /// Default: 1024 messages, 8 MiB.
    ///
    /// ```
    /// use tower_upgrade::websocket::RedisBackplane;
    ///
    /// let backplane = RedisBackplane::new("redis://127.0.0.1/")?.max_inbox(4096, 32 << 20);
    /// # let _ = backplane;
    /// # Ok::<_, tower_upgrade::ConfigError>(())
    /// ```
    pub fn max_inbox(mut self, messages: usize, bytes: usize) -> Self {
        self.settings.inbox = (messages, bytes);
        self
    }

    /// The delays between attempts to reconnect to Redis: from `min`,
    /// doubling up to `max`, each drawn between half the step and the step
    /// so that instances do not come back all at once. `min` is at least
    /// 1 ms, and `max` at least `min`. Default: 100 ms to 5 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_upgrade::websocket::RedisBackplane;
    ///
    /// let backplane = RedisBackplane::new("redis://127.0.0.1/")?
    ///     .reconnect_backoff(Duration::from_millis(250), Duration::from_secs(30));
    /// # let _ = backplane;
    /// # Ok::<_, tower_upgrade::ConfigError>(())
    /// ```
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        self.settings.backoff = (min, max.max(min));
        self
    }

    /// Wakes the subscribe connection: the topics wanted changed.
    fn changed(&self) {
        if let Some(attached) = self.attached.get() {
            // Full: a wake-up is already pending, and it reads the set.
            let _ = attached.changed.try_send(());
        }
    }
}

impl fmt::Debug for RedisBackplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the client: its URL may hold a password.
        f.debug_struct("RedisBackplane")
            .field("channel_prefix", &self.prefix)
            .field("max_outbox", &self.outbox)
            .field("max_inbox", &self.settings.inbox)
            .field("reconnect_backoff", &self.settings.backoff)
            .field("attached", &self.attached.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Backplane for RedisBackplane {
    fn attach(&self, inbox: BackplaneInbox) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                "Redis backplane: the Topics was built outside a tokio runtime; \
                 messages stay on this instance"
            );
            return;
        };
        let (outbox, outbox_rx) = queue::bounded(self.outbox.0, self.outbox.1);
        let (changed, changed_rx) = mpsc::channel(1);
        if self.attached.set(Attached { outbox, changed }).is_err() {
            tracing::warn!("Redis backplane: attached twice; the second is ignored");
            return;
        }
        let shared = Arc::new(Shared {
            id: self.id,
            prefix: self.prefix.clone(),
            wanted: self.wanted.clone(),
            stop: self.stop.clone(),
        });
        connection::spawn(
            &handle,
            &self.settings,
            shared,
            inbox,
            outbox_rx,
            changed_rx,
        );
    }

    fn subscribe(&self, topic: &str) {
        lock(&self.wanted).insert(Arc::from(topic));
        self.changed();
    }

    fn unsubscribe(&self, topic: &str) {
        {
            let mut wanted = lock(&self.wanted);
            wanted.remove(topic);
            shrink(&mut wanted);
        }
        self.changed();
    }

    fn publish(&self, topic: &str, message: &Message) {
        let len = match message {
            Message::Text(text) => text.len(),
            Message::Binary(bytes) => bytes.len(),
            _ => return,
        };
        let Some(attached) = self.attached.get() else {
            return;
        };
        let outgoing = Outgoing {
            topic: topic.into(),
            message: message.clone(),
        };
        if attached.outbox.try_push(outgoing, len) {
            self.full.store(false, Ordering::Relaxed);
        } else {
            metrics::dropped("outbox_full", 1);
            if !self.full.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "Redis backplane: outbox full (Redis away or slow); messages are \
                     dropped for the other instances until it drains"
                );
            }
        }
    }
}

impl Drop for RedisBackplane {
    fn drop(&mut self) {
        // Its `Topics` is gone: the tasks end, and their connections close.
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests;
