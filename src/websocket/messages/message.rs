//! The messages a [`WebSocket`](super::WebSocket) carries.

use bytes::Bytes;

use super::close::CloseFrame;
use super::utf8::Utf8Bytes;

/// A WebSocket message, as in axum's `extract::ws::Message`.
///
/// Pings are answered by the socket itself; receiving one tells the
/// handler that the peer pinged. A received `Close` is answered too, and is
/// the last message [`recv`](super::WebSocket::recv) returns.
///
/// ```
/// use tower_upgrade::websocket::Message;
///
/// let hello = Message::text("hello");
/// assert_eq!(hello.as_text(), Some("hello"));
/// let data = Message::binary(vec![1, 2, 3]);
/// assert_eq!(data.len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// UTF-8 text.
    Text(Utf8Bytes),
    /// Bytes.
    Binary(Bytes),
    /// A Ping; at most 125 bytes (RFC 6455 §5.5).
    Ping(Bytes),
    /// A Pong; at most 125 bytes.
    Pong(Bytes),
    /// A Close, with its code and reason if it had them.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(bytes: impl Into<Bytes>) -> Self {
        Self::Binary(bytes.into())
    }

    /// The text of a `Text` message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// The payload's length in bytes (a Close: its code and reason).
    pub fn len(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b.len(),
            Self::Close(frame) => frame.as_ref().map_or(0, |f| 2 + f.reason.len()),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text.into())
    }
}

impl From<&'static str> for Message {
    fn from(text: &'static str) -> Self {
        Self::Text(text.into())
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Binary(bytes.into())
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Self {
        Self::Binary(bytes)
    }
}

/// RFC 6455 §7.4: a Close whose code may not be sent (1005, 1006, 1015,
/// unassigned) is refused before it is queued, and nothing is sent.
pub(crate) fn check_sendable(message: &Message) -> Result<(), super::Error> {
    match message {
        Message::Close(Some(frame)) if !frame.code.is_sendable() => {
            Err(super::Error::InvalidCloseCode(frame.code.into()))
        }
        _ => Ok(()),
    }
}
