//! How many members each room has, told to the pages once per change.
//!
//! Each instance counts only its own members and publishes its counts,
//! tagged with its name: `{"type":"presence","instance","room"}` on the
//! room's topic and `{"type":"presence","instance","total"}` on
//! [`EVERYONE`]. A page keeps the latest count of each instance and shows
//! the sum. With a backplane the counts of every instance reach every page;
//! alone, there is one instance to sum.
//!
//! The counts go out as one publish per room that changed (one frame,
//! shared by every member's queue), not one message per member per event,
//! and the changes of a short moment go out together. A page that opens
//! later, or another instance's page, learns the counts that did not
//! change from the refresh every [`REFRESH`]; a page forgets an instance
//! it has not heard from for three refreshes (one that stopped, lost its
//! backplane, or has no member left: an instance without members has
//! nothing to refresh).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;
use tower_upgrade::websocket::Topics;

use crate::rooms::{publish, topic, EVERYONE};

/// Every count is published again this often.
pub(crate) const REFRESH: Duration = Duration::from_secs(5);
/// Changes this close together go out in one publish per room.
const COALESCE: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub(crate) struct Presence {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    counts: Mutex<Counts>,
    changed: Notify,
}

#[derive(Default)]
struct Counts {
    /// Members of this instance, by room (rooms with members only).
    rooms: HashMap<String, usize>,
    /// Rooms whose count changed since it was last published.
    changed: HashSet<String>,
}

impl Presence {
    /// Starts the task that publishes this instance's counts.
    pub(crate) fn start(topics: Topics, instance: Arc<str>) -> Self {
        let presence = Presence {
            shared: Arc::default(),
        };
        tokio::spawn(presence.clone().run(topics, instance));
        presence
    }

    pub(crate) fn joined(&self, room: &str) {
        self.change(room, |n| *n += 1);
    }

    pub(crate) fn left(&self, room: &str) {
        self.change(room, |n| *n -= 1);
    }

    fn change(&self, room: &str, f: impl FnOnce(&mut usize)) {
        let mut counts = self.shared.counts.lock().unwrap();
        let n = counts.rooms.entry(room.to_owned()).or_default();
        f(n);
        if *n == 0 {
            counts.rooms.remove(room);
        }
        counts.changed.insert(room.to_owned());
        self.shared.changed.notify_one();
    }

    /// The rooms to publish (those that changed, or all of them) with their
    /// counts, and the instance's total; `None` when there is nothing to
    /// say (no change, and no member to refresh).
    fn take(&self, all: bool) -> Option<(Vec<(String, usize)>, usize)> {
        let mut counts = self.shared.counts.lock().unwrap();
        let mut rooms: HashSet<String> = std::mem::take(&mut counts.changed);
        if all {
            rooms.extend(counts.rooms.keys().cloned());
        }
        if rooms.is_empty() {
            return None;
        }
        let rooms = rooms
            .into_iter()
            .map(|room| {
                let n = counts.rooms.get(&room).copied().unwrap_or(0);
                (room, n)
            })
            .collect();
        Some((rooms, counts.rooms.values().sum()))
    }

    async fn run(self, topics: Topics, instance: Arc<str>) {
        let mut refresh = tokio::time::interval(REFRESH);
        loop {
            let all = tokio::select! {
                () = self.shared.changed.notified() => false,
                _ = refresh.tick() => true,
            };
            let Some((rooms, total)) = self.take(all) else {
                continue;
            };
            for (room, n) in rooms {
                let counts = json!({ "type": "presence", "instance": &*instance, "room": n });
                publish(&topics, &topic(&room), &counts).await;
            }
            let total = json!({ "type": "presence", "instance": &*instance, "total": total });
            publish(&topics, EVERYONE, &total).await;
            tokio::time::sleep(COALESCE).await;
        }
    }
}
