//! Close codes and reasons (RFC 6455 §5.5.1, §7.4).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::utf8::Utf8Bytes;

/// A close status code (RFC 6455 §7.4).
///
/// ```
/// use tower_upgrade::websocket::CloseCode;
///
/// assert_eq!(u16::from(CloseCode::AWAY), 1001);
/// assert!(CloseCode::from(4000).is_sendable());
/// assert!(!CloseCode::from(1005).is_sendable());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection is fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page left).
    pub const AWAY: Self = Self(1001);
    /// 1002: a protocol error.
    pub const PROTOCOL: Self = Self(1002);
    /// 1003: a kind of data the endpoint cannot accept.
    pub const UNSUPPORTED: Self = Self(1003);
    /// 1007: data inconsistent with the message type (text that is not UTF-8).
    pub const INVALID: Self = Self(1007);
    /// 1008: a message violating the endpoint's policy.
    pub const POLICY: Self = Self(1008);
    /// 1009: a message too big to process.
    pub const SIZE: Self = Self(1009);
    /// 1010: the client expected an extension the server did not agree to.
    pub const EXTENSION: Self = Self(1010);
    /// 1011: the server met an unexpected condition.
    pub const ERROR: Self = Self(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry).
    pub const AGAIN: Self = Self(1013);
    /// 1006: the connection ended without a Close frame (RFC 6455 §7.1.5).
    /// Reported by [`Error::AbnormalClosure`](super::Error::AbnormalClosure),
    /// never sent.
    pub const ABNORMAL: Self = Self(1006);

    /// Whether the code may appear in a Close frame (RFC 6455 §7.4.1,
    /// §7.4.2 and the IANA registry): 1000-1003, 1007-1014, 3000-4999.
    /// 1004, 1005, 1006 and 1015 are reserved for local use; a received
    /// Close with any other code fails the connection with 1002.
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The code and reason of a Close frame.
///
/// ```
/// use tower_upgrade::websocket::{CloseCode, CloseFrame};
///
/// let bye = CloseFrame::new(CloseCode::NORMAL, "done");
/// assert_eq!(bye.reason(), "done");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// Why the connection closes.
    pub code: CloseCode,
    /// Words for people; at most 123 bytes of UTF-8 (RFC 6455 §5.5).
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A Close frame with `code` and `reason`. A reason over 123 bytes is cut
    /// at a character boundary when sent.
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// The reason as text.
    pub fn reason(&self) -> &str {
        self.reason.as_str()
    }

    /// The frame's payload: the code, then the reason cut to fit the 125
    /// bytes of a control frame (RFC 6455 §5.5).
    pub(crate) fn encode(&self) -> Bytes {
        let reason = self.reason.as_str();
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let mut out = BytesMut::with_capacity(2 + end);
        out.put_u16(self.code.0);
        out.put_slice(&reason.as_bytes()[..end]);
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_on_a_character() {
        let frame = CloseFrame::new(CloseCode::NORMAL, "é".repeat(100));
        let payload = frame.encode();
        assert_eq!(payload.len(), 2 + 122);
        assert!(std::str::from_utf8(&payload[2..]).is_ok());
    }
}
