//! Rooms are topics: a member's socket subscribes to its room's topic (and
//! to [`EVERYONE`]), and what is said in a room is published to the topic
//! once, encoded once and shared by every member's send queue. With a
//! backplane (`REDIS_URL`), a publish also reaches the members of that room
//! on the other instances.
//!
//! A member too slow for its room meets the table's `SlowConsumer` policy
//! (`main.rs`: closed with 1013 by default, and its page reconnects).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tower_upgrade::websocket::{Message, Sender, Topics};

use crate::presence::Presence;

/// The topic every member is subscribed to: how many are connected.
pub(crate) const EVERYONE: &str = "everyone";

/// The topic of a room.
pub(crate) fn topic(room: &str) -> String {
    format!("room:{room}")
}

#[derive(Clone)]
pub(crate) struct Rooms {
    topics: Topics,
    presence: Presence,
    /// This instance's name, in member names and presence counts.
    instance: Arc<str>,
    next_guest: Arc<AtomicU64>,
}

impl Rooms {
    pub(crate) fn new(topics: Topics, instance: &str) -> Self {
        let instance: Arc<str> = instance.into();
        Rooms {
            presence: Presence::start(topics.clone(), instance.clone()),
            topics,
            instance,
            next_guest: Arc::default(),
        }
    }

    /// Greets the member of `sender`, subscribes it to `room` and tells the
    /// room. Returns the member's name, unique across instances.
    pub(crate) async fn join(&self, room: &str, sender: &Sender) -> String {
        let n = self.next_guest.fetch_add(1, Ordering::Relaxed);
        let who = format!("guest-{n}@{}", self.instance);
        let welcome = json!({ "type": "welcome", "instance": &*self.instance, "you": &who });
        // The first message on a fresh socket: its queue has room.
        let _ = sender.try_send(Message::text(welcome.to_string()));
        self.topics.subscribe(&topic(room), sender);
        self.topics.subscribe(EVERYONE, sender);
        publish(
            &self.topics,
            &topic(room),
            &json!({ "type": "joined", "who": &who }),
        )
        .await;
        self.presence.joined(room);
        who
    }

    /// Tells the room that `who` left (its socket left the topics as it
    /// closed).
    pub(crate) async fn leave(&self, room: &str, who: &str) {
        self.presence.left(room);
        publish(
            &self.topics,
            &topic(room),
            &json!({ "type": "left", "who": who }),
        )
        .await;
    }

    /// Sends what `who` said to everyone in `room`, `who` included.
    pub(crate) async fn say(&self, room: &str, who: &str, text: &str) {
        let said = json!({ "type": "message", "from": who, "text": text });
        publish(&self.topics, &topic(room), &said).await;
    }
}

/// Publishes `what` to `topic`, and logs the members that could not take
/// it.
pub(crate) async fn publish(topics: &Topics, topic: &str, what: &Value) {
    let Ok(report) = topics.publish(topic, Message::text(what.to_string())).await else {
        return; // only Ping, Pong and Close are refused
    };
    if report.dropped() > 0 || report.closed() > 0 {
        tracing::warn!(
            topic = ?topic,
            dropped = report.dropped(),
            closed = report.closed(),
            "members too slow for their room",
        );
    }
}
