//! How a peer broke RFC 6455 or RFC 7692, and the close code that says so.

use std::fmt;

use super::frame::FrameError;
use crate::websocket::messages::CloseCode;

/// One way the peer broke RFC 6455 (or RFC 7692 when permessage-deflate was
/// agreed). The connection fails with [`close_code`](Self::close_code)
/// (RFC 6455 §7.1.7).
///
/// ```
/// use tower_upgrade::websocket::{CloseCode, ProtocolError};
///
/// fn log(error: &ProtocolError) {
///     eprintln!("closing with {}: {error}", error.close_code());
/// }
/// # let _ = log;
/// # let _ = CloseCode::PROTOCOL;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV2 or RSV3 set, or RSV1 without permessage-deflate, or RSV1 on a
    /// control or continuation frame (RFC 6455 §5.2, RFC 7692 §6.1).
    ReservedBits,
    /// An opcode RFC 6455 §5.2 reserves (3-7, 0xB-0xF).
    ReservedOpcode(u8),
    /// A control frame with more than 125 bytes of payload (RFC 6455 §5.5).
    ControlFrameTooLong,
    /// A control frame without FIN (RFC 6455 §5.5).
    FragmentedControlFrame,
    /// A frame from the client without a mask (RFC 6455 §5.1).
    UnmaskedFrame,
    /// A 64-bit payload length with its most significant bit set (RFC 6455
    /// §5.2).
    LengthOverflow,
    /// A continuation frame with no message to continue (RFC 6455 §5.4).
    UnexpectedContinuation,
    /// A new Text or Binary frame while a fragmented message is unfinished
    /// (RFC 6455 §5.4).
    ExpectedContinuation,
    /// A text message that is not UTF-8 (RFC 6455 §8.1).
    InvalidUtf8,
    /// A Close whose reason is not UTF-8 (RFC 6455 §5.5.1).
    InvalidCloseReason,
    /// A Close with a one-byte payload: a code needs two (RFC 6455 §5.5.1).
    TruncatedClose,
    /// A Close with a code no endpoint may send (RFC 6455 §7.4).
    InvalidCloseCode(u16),
    /// A compressed message that is not a deflate stream (RFC 7692 §7.2.2).
    InvalidDeflate,
    /// A frame, or a message after reassembly and decompression, over its
    /// limit.
    TooBig {
        /// The limit in bytes.
        limit: usize,
    },
}

impl ProtocolError {
    /// The code of the Close the server sends for this error: 1007 for text
    /// (or a close reason) that is not UTF-8, 1009 for a frame or message
    /// over its limit, 1002 for the rest.
    pub fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCloseReason => CloseCode::INVALID,
            Self::TooBig { .. } => CloseCode::SIZE,
            _ => CloseCode::PROTOCOL,
        }
    }

    /// The error for a refused frame header; `max_frame_size` names the
    /// limit of [`FrameError::TooLarge`].
    pub(crate) fn from_frame(error: FrameError, max_frame_size: usize) -> Self {
        match error {
            FrameError::ReservedBits => Self::ReservedBits,
            FrameError::ReservedOpcode(op) => Self::ReservedOpcode(op),
            FrameError::ControlTooLong => Self::ControlFrameTooLong,
            FrameError::ControlFragmented => Self::FragmentedControlFrame,
            FrameError::Unmasked => Self::UnmaskedFrame,
            FrameError::LengthOverflow => Self::LengthOverflow,
            FrameError::TooLarge => Self::TooBig {
                limit: max_frame_size,
            },
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBits => f.write_str("reserved bits set"),
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::ControlFrameTooLong => f.write_str("control frame over 125 bytes"),
            Self::FragmentedControlFrame => f.write_str("fragmented control frame"),
            Self::UnmaskedFrame => f.write_str("unmasked client frame"),
            Self::LengthOverflow => f.write_str("frame length over 2^63"),
            Self::UnexpectedContinuation => f.write_str("continuation frame without a message"),
            Self::ExpectedContinuation => f.write_str("new message before the previous one ended"),
            Self::InvalidUtf8 => f.write_str("text is not UTF-8"),
            Self::InvalidCloseReason => f.write_str("close reason is not UTF-8"),
            Self::TruncatedClose => f.write_str("close payload of one byte"),
            Self::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            Self::InvalidDeflate => f.write_str("invalid deflate data"),
            Self::TooBig { limit } => write!(f, "frame or message over the {limit}-byte limit"),
        }
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_follow_rfc6455_section_7_4_1() {
        assert_eq!(ProtocolError::InvalidUtf8.close_code(), CloseCode::INVALID);
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code(),
            CloseCode::INVALID
        );
        assert_eq!(
            ProtocolError::TooBig { limit: 1 }.close_code(),
            CloseCode::SIZE
        );
        for error in [
            ProtocolError::ReservedBits,
            ProtocolError::InvalidCloseCode(1005),
            ProtocolError::TruncatedClose,
            ProtocolError::InvalidDeflate,
            ProtocolError::UnexpectedContinuation,
        ] {
            assert_eq!(error.close_code(), CloseCode::PROTOCOL, "{error}");
        }
    }
}
