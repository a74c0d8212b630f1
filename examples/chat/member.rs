//! One chat member: joins the room named in `?room=`, forwards what it
//! says to the room, and leaves when its connection ends. Two backends:
//! the crate's own message type (default) and tokio-tungstenite
//! (`WS_BACKEND=tungstenite`).

use axum::extract::Query;
use serde::Deserialize;
use tower_upgrade::Upgraded;

use crate::rooms::{Outbox, Rooms};

/// Longest room name kept; longer names are cut (the name is a map key
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

/// The crate's own socket: its `Sender` is the member's outbox. The socket
/// answers Pings, closes a quiet peer, closes with 1009 past the message
/// limit and with 1001 when the server shuts down.
pub(crate) async fn member(
    rooms: Rooms,
    conn: Upgraded,
) -> Result<(), tower_upgrade::websocket::Error> {
    use tower_upgrade::websocket::Message;

    let room = room_of(&conn);
    let mut ws = conn.into_websocket();
    let guest = rooms.join(&room, Outbox::Socket(ws.sender()));
    // The room name comes from the client: `?` escapes it, so a name with
    // a line break cannot forge a log line.
    tracing::info!(room = ?room, guest, "joined");
    let result = loop {
        match ws.recv().await {
            Some(Ok(Message::Text(text))) => rooms.say(&room, guest, text.as_str()),
            Some(Ok(_)) => {}
            Some(Err(e)) => break Err(e),
            None => break Ok(()),
        }
    };
    rooms.leave(&room, guest);
    tracing::info!(room = ?room, guest, "left");
    result
}

pub(crate) mod tungstenite {
    use std::sync::Arc;

    use futures_util::{SinkExt, StreamExt};
    use tokio::sync::mpsc;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::{Error, Message};
    use tower_upgrade::Upgraded;

    use super::room_of;
    use crate::rooms::{Outbox, Rooms};

    /// Messages a slow member may fall behind before it misses some.
    const OUTBOX: usize = 64;

    /// The same member through tokio-tungstenite: a bounded channel is the
    /// outbox, drained by this task.
    pub(crate) async fn member(rooms: Rooms, conn: Upgraded) -> Result<(), Error> {
        let room = room_of(&conn);
        let shutdown = conn.shutdown_signal();
        let (mut ws_tx, mut ws_rx) = conn.into_tungstenite().await.split();
        let (outbox, mut inbox) = mpsc::channel::<Arc<str>>(OUTBOX);
        let guest = rooms.join(&room, Outbox::Channel(outbox));
        tracing::info!(room = ?room, guest, "joined");
        let result = loop {
            tokio::select! {
                incoming = ws_rx.next() => match incoming {
                    Some(Ok(Message::Text(text))) => rooms.say(&room, guest, text.as_str()),
                    Some(Ok(_)) => {}
                    // Over the message limit: close with 1009 (RFC 6455 §7.4.1).
                    Some(Err(Error::Capacity(e))) => {
                        let close = CloseFrame { code: CloseCode::Size, reason: e.to_string().into() };
                        let _ = ws_tx.send(Message::Close(Some(close))).await;
                        break Ok(());
                    }
                    Some(Err(e)) => break Err(e),
                    None => break Ok(()),
                },
                Some(text) = inbox.recv() => {
                    if let Err(e) = ws_tx.send(Message::text(&*text)).await {
                        break Err(e);
                    }
                }
                () = shutdown.wait() => {
                    let close = CloseFrame { code: CloseCode::Away, reason: "server shutting down".into() };
                    let _ = ws_tx.send(Message::Close(Some(close))).await;
                    break Ok(());
                }
            }
        };
        rooms.leave(&room, guest);
        tracing::info!(room = ?room, guest, "left");
        result
    }
}
