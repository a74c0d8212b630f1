//! The closing handshake (RFC 6455 §5.5.1, §7.1, §7.4): what a received
//! Close says, which codes may be sent, the echo, and the state.

use bytes::Bytes;

use super::ProtocolError;
use crate::websocket::messages::{CloseCode, CloseFrame, Utf8Bytes};

/// Where the closing handshake is (RFC 6455 §7.1.2-§7.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseState {
    /// No Close either way: messages flow both ways.
    Open,
    /// Our Close is encoded: nothing more is sent; what arrives is read
    /// until the peer's Close (data is dropped, §1.4).
    CloseSent,
    /// The peer's Close arrived: nothing more is read; what was queued
    /// may still be sent, then our Close (the echo).
    CloseReceived,
    /// Both Closes passed: the server closes TCP (§7.1.1).
    Closed,
}

/// Reads a received Close payload: `None` for an empty one (no status,
/// §7.1.5: 1005 is reported, never sent).
pub(crate) fn parse(payload: Bytes) -> Result<Option<CloseFrame>, ProtocolError> {
    match payload.len() {
        0 => Ok(None),
        // §5.5.1: a body starts with a two-byte code.
        1 => Err(ProtocolError::TruncatedClose),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !CloseCode::from(code).is_sendable() {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason = Utf8Bytes::try_from(payload.slice(2..))
                .map_err(|_| ProtocolError::InvalidCloseReason)?;
            Ok(Some(CloseFrame::new(CloseCode::from(code), reason)))
        }
    }
}

/// §5.5.1: the answer to a peer's Close carries its code (an empty Close
/// answers an empty one).
pub(crate) fn echo(received: Option<&CloseFrame>) -> Option<CloseFrame> {
    received.map(|frame| CloseFrame::new(frame.code, ""))
}

/// §7.4: 1005, 1006 and 1015 are reported, never sent, and only registered
/// ranges may appear on the wire. `Err(code)` for a code that may not.
pub(crate) fn check_sendable(frame: Option<&CloseFrame>) -> Result<(), u16> {
    match frame {
        Some(frame) if !frame.code.is_sendable() => Err(frame.code.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_close_payloads() {
        for valid in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            let payload = Bytes::copy_from_slice(&u16::to_be_bytes(valid));
            assert_eq!(
                parse(payload).unwrap().unwrap().code,
                CloseCode::from(valid)
            );
        }
        for invalid in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let payload = Bytes::copy_from_slice(&u16::to_be_bytes(invalid));
            let error = parse(payload).unwrap_err();
            assert_eq!(error, ProtocolError::InvalidCloseCode(invalid));
            assert_eq!(error.close_code(), CloseCode::PROTOCOL);
        }
        let truncated = parse(Bytes::from_static(&[3])).unwrap_err();
        assert_eq!(truncated.close_code(), CloseCode::PROTOCOL);
        let bad_reason = parse(Bytes::from_static(&[3, 232, 0xFF])).unwrap_err();
        assert_eq!(bad_reason.close_code(), CloseCode::INVALID);
        assert_eq!(parse(Bytes::new()), Ok(None));
    }

    #[test]
    fn reserved_codes_are_never_sent() {
        for code in [1005, 1006, 1015, 999, 1004, 1016, 5000] {
            let frame = CloseFrame::new(CloseCode::from(code), "");
            assert_eq!(check_sendable(Some(&frame)), Err(code));
        }
        assert_eq!(check_sendable(None), Ok(()));
        let away = CloseFrame::new(CloseCode::AWAY, "bye");
        assert_eq!(check_sendable(Some(&away)), Ok(()));
        assert_eq!(
            echo(Some(&away)),
            Some(CloseFrame::new(CloseCode::AWAY, ""))
        );
        assert_eq!(echo(None), None);
    }
}
