//! Publish one message to many sockets: named topics on the crate's own
//! [`WebSocket`](crate::websocket::WebSocket), as uWebSockets' `subscribe`
//! and `publish`.
//!
//! A socket subscribes through its [`Sender`] (`ws.sender()`, or the half
//! of [`split`](crate::websocket::WebSocket::split)); [`Topics::publish`]
//! encodes the frame once and puts the same bytes in every subscriber's
//! send queue, without copying the payload. With permessage-deflate the
//! message is compressed once for every set of agreed parameters without
//! context takeover (the crate's default, [`DeflateConfig::new`](crate::websocket::DeflateConfig::new));
//! a subscriber that agreed to context takeover compresses it itself
//! (`tower_upgrade_topic_compressions_total{kind="per_connection"}`).
//!
//! A subscriber leaves its topics when its connection closes; a subscriber
//! whose send buffer is full meets the table's [`SlowConsumer`] policy
//! (drop the message, close it with 1013, or wait a bounded time). With a
//! [`Backplane`] (Redis: `RedisBackplane`, feature `redis`), messages reach
//! the subscribers of every instance of the service.
//!
//! ```no_run
//! use tower::service_fn;
//! use tower_upgrade::websocket::{Message, Topics, WebSocketConfig};
//! use tower_upgrade::{UpgradeLayer, Upgraded};
//!
//! let topics = Topics::new();
//! let layer = UpgradeLayer::new().websocket(
//!     WebSocketConfig::new(),
//!     service_fn(move |conn: Upgraded| {
//!         let topics = topics.clone();
//!         async move {
//!             let (tx, mut rx) = conn.into_websocket().split();
//!             topics.subscribe("lobby", &tx);
//!             while let Some(Ok(message)) = rx.recv().await {
//!                 if let Message::Text(_) = message {
//!                     // Everyone in the lobby, this client included.
//!                     let _ = topics.publish("lobby", message).await;
//!                 }
//!             }
//!             // Unsubscribed as the connection closes.
//!             Ok::<_, std::io::Error>(())
//!         }
//!     }),
//! );
//! # let _ = layer;
//! ```

mod backplane;
pub(crate) mod metrics;
mod policy;
#[cfg(feature = "redis")]
mod redis;
mod wait;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use indexmap::IndexMap;

pub use backplane::{Backplane, BackplaneInbox};
pub use policy::{Published, SlowConsumer};
#[cfg(feature = "redis")]
pub use redis::RedisBackplane;

use crate::websocket::messages::sender::{Drive, OnClose, Refused, Shared};
use crate::websocket::proto::Prepared;
use crate::websocket::{CloseCode, CloseFrame, Message, Sender};

/// A table of topics, each with the sockets subscribed to it. Cheap to
/// clone: the clones share the table.
///
/// ```
/// use tower_upgrade::websocket::{SlowConsumer, Topics};
///
/// let topics = Topics::builder()
///     .slow_consumer(SlowConsumer::Close { after: 10 })
///     .build();
/// assert_eq!(topics.subscribers("lobby"), 0);
/// ```
#[derive(Clone, Default)]
pub struct Topics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Topics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topics")
            .field("topics", &self.inner.read().len())
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Topics`] with a slow-consumer policy and a backplane.
///
/// ```
/// use std::time::Duration;
/// use tower_upgrade::websocket::{SlowConsumer, Topics};
///
/// let topics = Topics::builder()
///     .slow_consumer(SlowConsumer::Wait(Duration::from_millis(100)))
///     .build();
/// # let _ = topics;
/// ```
#[derive(Default)]
pub struct TopicsBuilder {
    policy: SlowConsumer,
    backplane: Option<Box<dyn Backplane>>,
}

impl std::fmt::Debug for TopicsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicsBuilder")
            .field("policy", &self.policy)
            .field("backplane", &self.backplane.is_some())
            .finish()
    }
}

impl TopicsBuilder {
    /// The policy for subscribers whose send buffer is full
    /// ([`SlowConsumer::Drop`] by default); a subscription may set its own
    /// ([`Topics::subscribe_with`]).
    pub fn slow_consumer(mut self, policy: SlowConsumer) -> Self {
        self.policy = policy;
        self
    }

    /// Carries published messages to and from the other instances of the
    /// service (see [`Backplane`]).
    pub fn backplane(mut self, backplane: impl Backplane) -> Self {
        self.backplane = Some(Box::new(backplane));
        self
    }

    /// The table. A backplane that runs tasks of its own (such as
    /// `RedisBackplane`, feature `redis`) starts them here: build inside a
    /// tokio runtime.
    pub fn build(self) -> Topics {
        let inner = Arc::new(Inner {
            table: RwLock::default(),
            policy: self.policy,
            backplane: self.backplane,
        });
        if let Some(backplane) = &inner.backplane {
            backplane.attach(BackplaneInbox {
                topics: Arc::downgrade(&inner),
            });
        }
        Topics { inner }
    }
}

/// A message [`Topics::publish`] cannot send to many: a Ping, Pong or
/// Close, which belong to one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishError(Message);

impl PublishError {
    /// The message, back.
    pub fn into_message(self) -> Message {
        self.0
    }
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("only Text and Binary messages can be published to a topic")
    }
}

impl std::error::Error for PublishError {}

#[derive(Default)]
pub(crate) struct Inner {
    table: RwLock<HashMap<Arc<str>, IndexMap<usize, Subscriber>>>,
    policy: SlowConsumer,
    backplane: Option<Box<dyn Backplane>>,
}

struct Subscriber {
    queue: Arc<Shared>,
    /// Its connection, written to from the publishing task when idle.
    driver: Weak<dyn Drive>,
    policy: SlowConsumer,
    /// Messages missed in a row ([`SlowConsumer::Close`]).
    missed: AtomicU32,
    /// Cancels the unsubscribe the queue runs when it closes.
    token: u64,
}

/// A subscriber's key in a topic: its queue's address, the same for every
/// handle of one connection.
fn key(sender: &Sender) -> usize {
    Arc::as_ptr(&sender.shared) as usize
}

impl Topics {
    /// An empty table, dropping messages for subscribers that are full
    /// ([`SlowConsumer::Drop`]), without backplane.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A table with a policy or a backplane.
    pub fn builder() -> TopicsBuilder {
        TopicsBuilder::default()
    }

    /// Subscribes the connection of `sender` to `topic`, under the table's
    /// slow-consumer policy. It stays subscribed until
    /// [`unsubscribe`](Self::unsubscribe) or until its connection closes.
    /// Subscribing again changes nothing. `false` when the connection is
    /// closed (nothing was subscribed).
    pub fn subscribe(&self, topic: &str, sender: &Sender) -> bool {
        self.subscribe_with(topic, sender, self.inner.policy)
    }

    /// [`subscribe`](Self::subscribe) with a policy of its own for this
    /// subscription (a second call updates it).
    pub fn subscribe_with(&self, topic: &str, sender: &Sender, policy: SlowConsumer) -> bool {
        let key = key(sender);
        let mut table = self.inner.write();
        if let Some(subscriber) = table.get_mut(topic).and_then(|t| t.get_mut(&key)) {
            subscriber.policy = policy;
            return true;
        }
        let name: Arc<str> = Arc::from(topic);
        let weak = Arc::downgrade(&self.inner);
        let on_close_name = name.clone();
        // Run by the queue as it closes, outside its lock.
        let Some(token) = sender.shared.on_close(OnClose::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.remove(&on_close_name, key);
            }
        })) else {
            return false;
        };
        let subscribers = table.entry(name).or_default();
        subscribers.insert(
            key,
            Subscriber {
                queue: sender.shared.clone(),
                driver: sender.driver(),
                policy,
                missed: AtomicU32::new(0),
                token,
            },
        );
        if subscribers.len() == 1 {
            if let Some(backplane) = &self.inner.backplane {
                backplane.subscribe(topic);
            }
        }
        true
    }

    /// Unsubscribes the connection of `sender` from `topic`; `false` when it
    /// was not subscribed.
    pub fn unsubscribe(&self, topic: &str, sender: &Sender) -> bool {
        match self.inner.remove(topic, key(sender)) {
            Some(subscriber) => {
                subscriber.queue.cancel_on_close(subscriber.token);
                true
            }
            None => false,
        }
    }

    /// How many connections of this instance are subscribed to `topic`.
    pub fn subscribers(&self, topic: &str) -> usize {
        self.inner.read().get(topic).map_or(0, IndexMap::len)
    }

    /// How many topics have a subscriber on this instance.
    pub fn len(&self) -> usize {
        self.inner.read().len()
    }

    /// Whether no topic has a subscriber on this instance.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes `message` to every subscriber of `topic`: on this
    /// instance, encoded once and queued on each subscriber's connection
    /// (written by its next poll), and through the backplane to the other
    /// instances. A full subscriber meets its [`SlowConsumer`] policy; only
    /// [`SlowConsumer::Wait`] makes this wait. The report counts this
    /// instance's subscribers.
    ///
    /// # Errors
    ///
    /// [`PublishError`] for a Ping, Pong or Close: nothing is published.
    pub async fn publish(
        &self,
        topic: &str,
        message: impl Into<Message>,
    ) -> Result<Published, PublishError> {
        let message = message.into();
        if let (Some(backplane), Message::Text(_) | Message::Binary(_)) =
            (&self.inner.backplane, &message)
        {
            backplane.publish(topic, &message);
        }
        self.inner.publish_local(topic, message).await
    }
}

impl Inner {
    fn read(&self) -> RwLockReadGuard<'_, HashMap<Arc<str>, IndexMap<usize, Subscriber>>> {
        // Every change under the lock is one insert or remove: a panic
        // elsewhere leaves the table whole.
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<Arc<str>, IndexMap<usize, Subscriber>>> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes subscriber `key` out of `topic`, and the topic out of the table
    /// when it was the last (the backplane is told).
    fn remove(&self, topic: &str, key: usize) -> Option<Subscriber> {
        let mut table = self.write();
        let subscribers = table.get_mut(topic)?;
        let removed = subscribers.swap_remove(&key)?;
        if subscribers.is_empty() {
            table.remove(topic);
            let keep = table.len().max(16);
            table.shrink_to(keep);
            if let Some(backplane) = &self.backplane {
                backplane.unsubscribe(topic);
            }
        } else if subscribers.capacity() > 4 * subscribers.len().max(4) {
            subscribers.shrink_to_fit();
        }
        Some(removed)
    }

    /// Delivers `message` to this instance's subscribers of `topic`.
    pub(crate) async fn publish_local(
        &self,
        topic: &str,
        message: Message,
    ) -> Result<Published, PublishError> {
        let prepared = Arc::new(match message {
            Message::Text(text) => Prepared::new(true, text.into_bytes()),
            Message::Binary(bytes) => Prepared::new(false, bytes),
            other => return Err(PublishError(other)),
        });
        let mut report = Published::default();
        let mut waits = Vec::new();
        if let Some(subscribers) = self.read().get(topic) {
            for subscriber in subscribers.values() {
                // An idle connection is written to from here, as
                // uWebSockets does: no queue, no task woken. One being
                // driven, or behind, gets it through its queue.
                if subscriber
                    .driver
                    .upgrade()
                    .is_some_and(|d| d.send_now(&prepared))
                {
                    subscriber.missed.store(0, Ordering::Relaxed);
                    report.delivered += 1;
                    continue;
                }
                match subscriber.queue.push_prepared(prepared.clone(), None) {
                    Ok(_) => {
                        subscriber.missed.store(0, Ordering::Relaxed);
                        report.delivered += 1;
                    }
                    // Closing: its queue takes it out of the table.
                    Err(Refused::Closed) => {}
                    Err(Refused::Full) => match subscriber.policy {
                        SlowConsumer::Drop => report.dropped += 1,
                        SlowConsumer::Close { after } => {
                            let missed = subscriber.missed.fetch_add(1, Ordering::Relaxed);
                            if missed >= after {
                                close_slow(&subscriber.queue);
                                report.closed += 1;
                            } else {
                                report.dropped += 1;
                            }
                        }
                        SlowConsumer::Wait(deadline) => {
                            waits.push((subscriber.queue.clone(), deadline));
                        }
                    },
                }
            }
        }
        if !waits.is_empty() {
            let (delivered, closed) = wait::room(&prepared, waits).await;
            report.delivered += delivered;
            report.closed += closed;
        }
        metrics::published(report.delivered, report.dropped, report.closed);
        Ok(report)
    }
}

/// Ends a subscriber too slow for its topic: Close 1013 (RFC 6455 §7.4.1,
/// try again later), sent before what its queue still held, which is
/// dropped (stale by now, and its memory goes at once): a message counted
/// `delivered` to it earlier may so never reach its client, which learns
/// from the 1013 that it missed some.
fn close_slow(queue: &Shared) {
    queue.push_slow_close(Message::Close(Some(CloseFrame::new(
        CloseCode::AGAIN,
        "too slow for this topic",
    ))));
}

#[cfg(test)]
mod tests;
