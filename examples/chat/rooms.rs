//! Who is in which room, and fan-out: every member has an outbox (the
//! crate's cloneable `Sender`, or a channel for the tungstenite backend);
//! a message to a room is offered to each member's outbox, and a member
//! whose outbox is full misses it rather than holding everyone up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::sync::mpsc;
use tower_upgrade::websocket::{Message, Sender};

/// Where messages for one member go.
pub(crate) enum Outbox {
    /// The member's own socket (the `messages` backend).
    Socket(Sender),
    /// A bounded channel its task drains (the `tungstenite` backend).
    Channel(mpsc::Sender<Arc<str>>),
}

impl Outbox {
    /// Queues `text` unless the outbox is full or closed.
    fn offer(&self, text: &Arc<str>) -> bool {
        match self {
            Outbox::Socket(sender) => sender.try_send(Message::text(text.to_string())).is_ok(),
            Outbox::Channel(sender) => sender.try_send(text.clone()).is_ok(),
        }
    }
}

#[derive(Clone, Default)]
pub(crate) struct Rooms {
    rooms: Arc<Mutex<HashMap<String, HashMap<u64, Outbox>>>>,
    next_guest: Arc<AtomicU64>,
}

impl Rooms {
    /// Adds a member to `room`, tells the room, and tells everyone the new
    /// counts. Returns the member's number.
    pub(crate) fn join(&self, room: &str, outbox: Outbox) -> u64 {
        let guest = self.next_guest.fetch_add(1, Ordering::Relaxed);
        let mut rooms = self.rooms.lock().unwrap();
        rooms
            .entry(room.to_owned())
            .or_default()
            .insert(guest, outbox);
        let joined = json!({ "type": "joined", "who": format!("guest-{guest}") });
        send_to_room(&rooms, room, &joined);
        send_presence(&rooms);
        guest
    }

    /// Removes a member, forgets the room once empty, and tells the others.
    pub(crate) fn leave(&self, room: &str, guest: u64) {
        let mut rooms = self.rooms.lock().unwrap();
        if let Some(members) = rooms.get_mut(room) {
            members.remove(&guest);
            if members.is_empty() {
                rooms.remove(room);
            }
        }
        let left = json!({ "type": "left", "who": format!("guest-{guest}") });
        send_to_room(&rooms, room, &left);
        send_presence(&rooms);
    }

    /// Sends what `guest` said to everyone in `room`, `guest` included.
    pub(crate) fn say(&self, room: &str, guest: u64, text: &str) {
        let said = json!({ "type": "message", "from": format!("guest-{guest}"), "text": text });
        send_to_room(&self.rooms.lock().unwrap(), room, &said);
    }
}

fn send_to_room(
    rooms: &HashMap<String, HashMap<u64, Outbox>>,
    room: &str,
    what: &serde_json::Value,
) {
    let Some(members) = rooms.get(room) else {
        return;
    };
    let text: Arc<str> = what.to_string().into();
    let missed = members
        .values()
        .filter(|outbox| !outbox.offer(&text))
        .count();
    if missed > 0 {
        tracing::warn!(room = ?room, missed, "members fell behind and missed a message");
    }
}

/// Tells every member how many are in its room and how many chat
/// connections the server holds in all.
fn send_presence(rooms: &HashMap<String, HashMap<u64, Outbox>>) {
    let total: usize = rooms.values().map(HashMap::len).sum();
    for members in rooms.values() {
        let text: Arc<str> = json!({ "type": "presence", "room": members.len(), "total": total })
            .to_string()
            .into();
        for outbox in members.values() {
            outbox.offer(&text);
        }
    }
}
