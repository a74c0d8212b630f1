//! The messages a [`WebSocket`](super::WebSocket) carries.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

use super::close::CloseFrame;

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

/// UTF-8 text in shared [`Bytes`]: a received text message is handed over
/// without a copy, and sending it back costs none either.
///
/// ```
/// use tower_upgrade::websocket::Utf8Bytes;
///
/// let text = Utf8Bytes::from("hé");
/// assert_eq!(text.as_str(), "hé");
/// assert_eq!(text.len(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Every constructor checks or starts from UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The text's bytes, shared.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// A checked conversion; used for payloads already validated, where it
    /// cannot fail.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Self(bytes)
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Self(bytes))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
