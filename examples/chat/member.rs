//! One chat member: joins the room named in `?room=`, says to the room
//! what it sends, and leaves when its connection ends.

use axum::extract::Query;
use serde::Deserialize;
use tower_upgrade::websocket::{Error, Message};
use tower_upgrade::Upgraded;

use crate::rooms::Rooms;

/// Longest room name kept; longer names are cut (the name is a topic name
/// and goes into every log line of the member).
const MAX_ROOM_NAME: usize = 64;

#[derive(Deserialize)]
struct Params {
    room: Option<String>,
}

fn room_of(conn: &Upgraded) -> String {
    let mut room = Query::<Params>::try_from_uri(&conn.parts().uri)
        .ok()
        .and_then(|q| q.0.room)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "lobby".into());
    if room.len() > MAX_ROOM_NAME {
        let mut end = MAX_ROOM_NAME;
        while !room.is_char_boundary(end) {
            end -= 1;
        }
        room.truncate(end);
    }
    room
}

/// The socket answers Pings, closes a quiet peer, closes with 1009 past
/// the message limit and with 1001 when the server shuts down; its
/// subscriptions end with it.
pub(crate) async fn member(rooms: Rooms, conn: Upgraded) -> Result<(), Error> {
    let room = room_of(&conn);
    let mut ws = conn.into_websocket();
    let who = rooms.join(&room, &ws.sender()).await;
    // The room name comes from the client: `?` escapes it, so a name with
    // a line break cannot forge a log line.
    tracing::info!(room = ?room, who = %who, "joined");
    let result = loop {
        match ws.recv().await {
            Some(Ok(Message::Text(text))) => rooms.say(&room, &who, text.as_str()).await,
            Some(Ok(_)) => {}
            Some(Err(e)) => break Err(e),
            None => break Ok(()),
        }
    };
    rooms.leave(&room, &who).await;
    tracing::info!(room = ?room, who = %who, "left");
    result
}
