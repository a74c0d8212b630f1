//! The backplane's three tasks, started by `attach`: one connection in
//! pub/sub mode that subscribes and reads, one that publishes, and one
//! that hands what was read to this instance's subscribers. They end when
//! the [`Topics`](crate::websocket::Topics) is dropped (its backplane
//! cancels `stop`), or when what feeds them is gone.

use std::collections::HashSet;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ::redis::aio::PubSubSink;
use ::redis::{AsyncConnectionConfig, Client, Msg, Value};
use futures_core::Stream;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::envelope::{self, InstanceId};
use super::link::{reply, Link, Lost, CONNECT_TIMEOUT, REPLY_TIMEOUT};
use super::queue;
use crate::websocket::topics::metrics::backplane as metrics;
use crate::websocket::topics::BackplaneInbox;
use crate::websocket::Message;

/// How often an idle connection checks that Redis still answers: a
/// connection cut without a FIN (a host gone, a partition) ends no read.
const PING_EVERY: Duration = Duration::from_secs(15);
/// Messages sent in one pipeline.
const BATCH: usize = 64;

/// What the tasks share with the [`RedisBackplane`](super::RedisBackplane).
pub(super) struct Shared {
    pub(super) id: InstanceId,
    pub(super) prefix: String,
    /// The topics with a subscriber on this instance: what the subscribe
    /// connection is to be subscribed to, now and after every reconnect.
    pub(super) wanted: Arc<Mutex<HashSet<Arc<str>>>>,
    pub(super) stop: CancellationToken,
}

/// Locks a set of topic names: every change under the lock is one insert
/// or remove, so a panic elsewhere leaves the set whole.
pub(super) fn lock(set: &Mutex<HashSet<Arc<str>>>) -> MutexGuard<'_, HashSet<Arc<str>>> {
    set.lock().unwrap_or_else(|e| e.into_inner())
}

/// Gives back the memory of a set that shrank to a fraction of its peak.
pub(super) fn shrink(set: &mut HashSet<Arc<str>>) {
    if set.capacity() > 4 * set.len().max(16) {
        set.shrink_to(set.len().max(16));
    }
}

/// A message published here, on its way to Redis.
pub(super) struct Outgoing {
    pub(super) topic: Box<str>,
    pub(super) message: Message,
}

/// A message of another instance, on its way to this one's subscribers.
struct Incoming {
    topic: Box<str>,
    message: Message,
}

/// The settings the tasks run with.
pub(super) struct Settings {
    pub(super) client: Client,
    pub(super) inbox: (usize, usize),
    pub(super) backoff: (Duration, Duration),
}

pub(super) fn spawn(
    handle: &Handle,
    settings: &Settings,
    shared: Arc<Shared>,
    inbox: BackplaneInbox,
    outbox: queue::Rx<Outgoing>,
    changed: mpsc::Receiver<()>,
) {
    let (incoming, incoming_rx) = queue::bounded(settings.inbox.0, settings.inbox.1);
    let (min, max) = settings.backoff;
    handle.spawn(subscriber(
        settings.client.clone(),
        shared.clone(),
        changed,
        incoming,
        Link::new("subscribe", min, max),
    ));
    handle.spawn(deliverer(incoming_rx, inbox, shared.stop.clone()));
    handle.spawn(publisher(
        settings.client.clone(),
        shared,
        outbox,
        Link::new("publish", min, max),
    ));
}

fn channel(prefix: &str, topic: &str) -> String {
    let mut name = String::with_capacity(prefix.len() + topic.len());
    name.push_str(prefix);
    name.push_str(topic);
    name
}

/// The pub/sub connection: subscribed to the channel of every topic with
/// a local subscriber, reading what the other instances publish.
async fn subscriber(
    client: Client,
    shared: Arc<Shared>,
    mut changed: mpsc::Receiver<()>,
    incoming: queue::Tx<Incoming>,
    mut link: Link,
) {
    let stop = shared.stop.clone();
    loop {
        let Some(pubsub) = link.connect(&stop, || client.get_async_pubsub()).await else {
            return;
        };
        // Dropping the stream (at the end of this turn) ends the crate's
        // task that reads the connection.
        let (mut sink, mut stream) = pubsub.split();
        let mut subscribed = HashSet::new();
        let mut dirty = true;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let lost = loop {
            if dirty {
                dirty = false;
                let done = tokio::select! {
                    biased;
                    _ = stop.cancelled() => return,
                    done = reconcile(&mut sink, &shared, &mut subscribed) => done,
                };
                if let Err(lost) = done {
                    break lost;
                }
            }
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                change = changed.recv() => match change {
                    Some(()) => dirty = true,
                    None => return,
                },
                message = poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)) => match message {
                    Some(message) => {
                        receive(&shared, &incoming, &message);
                        ping.reset();
                    }
                    None => break Lost::Closed,
                },
                _ = ping.tick() => {
                    let pong = tokio::select! {
                        biased;
                        _ = stop.cancelled() => return,
                        pong = reply(sink.ping::<Value>()) => pong,
                    };
                    if let Err(lost) = pong {
                        break lost;
                    }
                }
            }
        };
        link.lost(&lost);
    }
}

/// Subscribes the connection to the topics wanted and not yet subscribed,
/// and unsubscribes it from those no longer wanted. One channel per
/// command: the crate pairs each reply with one request, and a SUBSCRIBE
/// of several channels has a reply for each.
async fn reconcile(
    sink: &mut PubSubSink,
    shared: &Shared,
    subscribed: &mut HashSet<Arc<str>>,
) -> Result<(), Lost> {
    let (add, remove): (Vec<Arc<str>>, Vec<Arc<str>>) = {
        let wanted = lock(&shared.wanted);
        (
            wanted.difference(subscribed).cloned().collect(),
            subscribed.difference(&wanted).cloned().collect(),
        )
    };
    for topic in remove {
        reply(sink.unsubscribe(channel(&shared.prefix, &topic))).await?;
        subscribed.remove(&topic);
    }
    shrink(subscribed);
    for topic in add {
        reply(sink.subscribe(channel(&shared.prefix, &topic))).await?;
        subscribed.insert(topic);
    }
    Ok(())
}

/// A message from Redis: to the inbox queue, unless it is this instance's
/// own or does not parse.
fn receive(shared: &Shared, incoming: &queue::Tx<Incoming>, message: &Msg) {
    let name = message.get_channel_name();
    let Some(topic) = name.strip_prefix(shared.prefix.as_str()) else {
        malformed(name, &"a channel outside the prefix");
        return;
    };
    let decoded = envelope::decode(message.get_payload_bytes()).and_then(|envelope| {
        if envelope.instance == shared.id {
            // Ours, back from Redis: delivered here when it was published.
            Ok(None)
        } else {
            envelope.into_message().map(Some)
        }
    });
    match decoded {
        Ok(None) => {}
        Ok(Some(message)) => {
            let len = match &message {
                Message::Text(text) => text.len(),
                Message::Binary(bytes) => bytes.len(),
                _ => 0,
            };
            let incoming_message = Incoming {
                topic: topic.into(),
                message,
            };
            if !incoming.try_push(incoming_message, len) {
                metrics::dropped("inbox_full", 1);
            }
        }
        Err(why) => malformed(name, &why),
    }
}

fn malformed(channel: &str, why: &dyn fmt::Display) {
    tracing::debug!(channel, "Redis backplane: dropped a message: {why}");
    metrics::dropped("malformed", 1);
}

/// Hands the other instances' messages to this instance's subscribers,
/// apart from the reader so that a subscriber's [`Wait`] policy holds
/// back this queue (bounded), not the connection.
///
/// [`Wait`]: crate::websocket::SlowConsumer::Wait
async fn deliverer(
    mut incoming: queue::Rx<Incoming>,
    inbox: BackplaneInbox,
    stop: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            next = incoming.recv() => next,
        };
        let Some(Incoming { topic, message }) = next else {
            return;
        };
        let delivered = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            delivered = inbox.deliver(&topic, message) => delivered,
        };
        match delivered {
            // The Topics is gone.
            None => return,
            Some(_) => metrics::received(),
        }
    }
}

/// The publishing connection: sends the outbox, a pipeline of PUBLISH at
/// a time.
async fn publisher(
    client: Client,
    shared: Arc<Shared>,
    mut outbox: queue::Rx<Outgoing>,
    mut link: Link,
) {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(REPLY_TIMEOUT));
    let stop = shared.stop.clone();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let connect = || client.get_multiplexed_async_connection_with_config(&config);
        let Some(mut connection) = link.connect(&stop, connect).await else {
            return;
        };
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        let lost = loop {
            batch.clear();
            tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                () = outbox.recv_many(&mut batch, BATCH) => {}
                // Idle: find out now, not at the next message, that Redis
                // went.
                _ = ping.tick() => {
                    let command = ::redis::cmd("PING");
                    let pong = tokio::select! {
                        biased;
                        _ = stop.cancelled() => return,
                        pong = command.query_async::<Value>(&mut connection) => pong,
                    };
                    match pong {
                        Ok(_) => continue,
                        Err(err) => break Lost::Redis(err),
                    }
                }
            }
            if batch.is_empty() {
                return;
            }
            ping.reset();
            let mut pipe = ::redis::pipe();
            for Outgoing { topic, message } in &batch {
                if let Some(payload) = envelope::encode(&shared.id, message) {
                    pipe.cmd("PUBLISH")
                        .arg(channel(&shared.prefix, topic))
                        .arg(payload)
                        .ignore();
                }
            }
            let sent = tokio::select! {
                biased;
                _ = stop.cancelled() => return,
                sent = pipe.query_async::<()>(&mut connection) => sent,
            };
            match sent {
                Ok(()) => metrics::published(batch.len()),
                Err(err) => {
                    // Perhaps sent, perhaps not: not sent twice.
                    metrics::dropped("send_failed", batch.len());
                    break Lost::Redis(err);
                }
            }
        };
        link.lost(&lost);
    }
}
