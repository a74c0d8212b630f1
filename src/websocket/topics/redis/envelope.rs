//! What a message looks like on a Redis channel: the publishing instance's
//! id (so that an instance skips its own messages coming back), the kind
//! (Text or Binary) and the payload. The topic is the channel's name.
//!
//! ```text
//! 0      2   3                 19   20
//! | "tu" | 1 | instance id (16) | k | payload ...
//! ```
//!
//! `k` is `t` (Text) or `b` (Binary). A message that does not start with
//! the magic and version 1 came from someone else on the channel, or from
//! a later version of this crate: it is dropped, not guessed at.

use std::fmt;

use bytes::Bytes;

use crate::websocket::{Message, Utf8Bytes};

/// An instance's id: 16 random bytes.
pub(super) type InstanceId = [u8; 16];

const MAGIC: &[u8; 2] = b"tu";
const VERSION: u8 = 1;
const TEXT: u8 = b't';
const BINARY: u8 = b'b';
/// Magic, version, id, kind.
pub(super) const HEADER: usize = MAGIC.len() + 1 + 16 + 1;

/// `message` from instance `id`, ready to PUBLISH; `None` for a Ping, Pong
/// or Close, which are never published.
pub(super) fn encode(id: &InstanceId, message: &Message) -> Option<Vec<u8>> {
    let (kind, payload): (u8, &[u8]) = match message {
        Message::Text(text) => (TEXT, text.as_str().as_bytes()),
        Message::Binary(bytes) => (BINARY, bytes),
        _ => return None,
    };
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(id);
    out.push(kind);
    out.extend_from_slice(payload);
    Some(out)
}

/// A parsed envelope, borrowing the payload from what Redis delivered.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Envelope<'a> {
    pub(super) instance: InstanceId,
    text: bool,
    payload: &'a [u8],
}

/// Why a message from Redis was dropped.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Malformed {
    /// Shorter than the header.
    Short(usize),
    /// Not this crate's envelope (or not version 1 of it).
    Foreign,
    /// A kind other than Text or Binary.
    Kind(u8),
    /// A Text payload that is not UTF-8.
    Utf8,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Short(len) => write!(f, "{len} bytes, shorter than the envelope's header"),
            Malformed::Foreign => f.write_str("not a tower-upgrade envelope (magic or version)"),
            Malformed::Kind(kind) => write!(f, "unknown message kind {kind:#04x}"),
            Malformed::Utf8 => f.write_str("a Text message that is not UTF-8"),
        }
    }
}

/// Reads the header of `bytes`; the payload is checked by
/// [`Envelope::into_message`], once the message is known not to be ours.
pub(super) fn decode(bytes: &[u8]) -> Result<Envelope<'_>, Malformed> {
    if bytes.len() < HEADER {
        return Err(Malformed::Short(bytes.len()));
    }
    let (header, payload) = bytes.split_at(HEADER);
    if &header[..2] != MAGIC || header[2] != VERSION {
        return Err(Malformed::Foreign);
    }
    let text = match header[HEADER - 1] {
        TEXT => true,
        BINARY => false,
        other => return Err(Malformed::Kind(other)),
    };
    let mut instance = InstanceId::default();
    instance.copy_from_slice(&header[3..19]);
    Ok(Envelope {
        instance,
        text,
        payload,
    })
}

impl Envelope<'_> {
    /// The message, its payload copied out of the Redis reply.
    pub(super) fn into_message(self) -> Result<Message, Malformed> {
        let payload = Bytes::copy_from_slice(self.payload);
        if self.text {
            Utf8Bytes::try_from(payload)
                .map(Message::Text)
                .map_err(|_| Malformed::Utf8)
        } else {
            Ok(Message::Binary(payload))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: InstanceId = *b"0123456789abcdef";

    #[test]
    fn text_and_binary_round_trip() {
        for message in [
            Message::text("héllo"),
            Message::text(""),
            Message::binary(vec![0u8, 255, 7]),
            Message::binary(Vec::new()),
        ] {
            let bytes = encode(&ID, &message).unwrap();
            let envelope = decode(&bytes).unwrap();
            assert_eq!(envelope.instance, ID);
            assert_eq!(envelope.into_message().unwrap(), message);
        }
        assert_eq!(
            &encode(&ID, &Message::text("hi")).unwrap()[..],
            b"tu\x010123456789abcdefthi"
        );
    }

    #[test]
    fn control_messages_are_not_encoded() {
        assert_eq!(encode(&ID, &Message::Ping(Bytes::new())), None);
        assert_eq!(encode(&ID, &Message::Close(None)), None);
    }

    #[test]
    fn what_is_not_an_envelope_is_refused() {
        let good = encode(&ID, &Message::text("hi")).unwrap();
        assert_eq!(decode(b"hello"), Err(Malformed::Short(5)));
        assert_eq!(
            decode(&good[..HEADER - 1]),
            Err(Malformed::Short(HEADER - 1))
        );
        let mut foreign = good.clone();
        foreign[0] = b'{';
        assert_eq!(decode(&foreign), Err(Malformed::Foreign));
        let mut later = good.clone();
        later[2] = 2;
        assert_eq!(decode(&later), Err(Malformed::Foreign));
        let mut kind = good.clone();
        kind[HEADER - 1] = b'p';
        assert_eq!(decode(&kind), Err(Malformed::Kind(b'p')));
        let mut invalid = good;
        invalid.extend_from_slice(&[0xC3]);
        let envelope = decode(&invalid).unwrap();
        assert_eq!(envelope.into_message(), Err(Malformed::Utf8));
        // Exactly a header: an empty message.
        let empty = encode(&ID, &Message::binary(Vec::new())).unwrap();
        assert_eq!(empty.len(), HEADER);
        assert!(decode(&empty).is_ok());
    }
}
