//! Frame headers (RFC 6455 §5.2): a decoder that is a pure function over
//! bytes, so it can be fuzzed and tested without IO, and the encoder for the
//! server's frames.

use std::fmt;

/// A frame's opcode (RFC 6455 §5.2, §11.8). Reserved opcodes never get this
/// far: the decoder fails them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// A continuation of a fragmented message.
    Continuation = 0x0,
    /// The first frame of a text message.
    Text = 0x1,
    /// The first frame of a binary message.
    Binary = 0x2,
    /// Close (RFC 6455 §5.5.1).
    Close = 0x8,
    /// Ping (RFC 6455 §5.5.2).
    Ping = 0x9,
    /// Pong (RFC 6455 §5.5.3).
    Pong = 0xA,
}

impl OpCode {
    /// Control frames have the high bit of the opcode set (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }

    fn from_u8(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1: the message is compressed (RFC 7692 §6), on its first frame.
    pub rsv1: bool,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key; a client's frames always have one (RFC 6455 §5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload's length in bytes.
    pub payload_len: u64,
}

/// What the decoder enforces beyond the fixed rules of RFC 6455 §5.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// RSV1 may be set on the first frame of a data message: permessage-deflate
    /// was agreed (RFC 7692 §6).
    pub allow_rsv1: bool,
    /// Frames must be masked: this end is the server (RFC 6455 §5.1).
    pub require_mask: bool,
    /// The largest payload accepted in one frame.
    pub max_payload: u64,
}

/// Why a frame header is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// RSV2 or RSV3 set, or RSV1 without an extension that defines it
    /// (RFC 6455 §5.2), or on a control or continuation frame (RFC 7692 §6.1).
    ReservedBits,
    /// An opcode RFC 6455 §5.2 reserves.
    ReservedOpcode(u8),
    /// A control frame longer than 125 bytes (RFC 6455 §5.5).
    ControlTooLong,
    /// A fragmented control frame (RFC 6455 §5.5).
    ControlFragmented,
    /// A client frame without a mask (RFC 6455 §5.1).
    Unmasked,
    /// A 64-bit length with its most significant bit set (RFC 6455 §5.2).
    LengthOverflow,
    /// A payload over [`Rules::max_payload`].
    TooLarge,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBits => f.write_str("reserved bits set"),
            Self::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            Self::ControlTooLong => f.write_str("control frame over 125 bytes"),
            Self::ControlFragmented => f.write_str("fragmented control frame"),
            Self::Unmasked => f.write_str("unmasked client frame"),
            Self::LengthOverflow => f.write_str("frame length over 2^63"),
            Self::TooLarge => f.write_str("frame over the size limit"),
        }
    }
}

/// The longest header: 2 bytes, 8 of length, 4 of mask.
pub const MAX_HEADER_LEN: usize = 14;

/// Decodes the frame header at the start of `buf`.
///
/// `Ok(None)`: more bytes are needed. `Ok(Some((header, n)))`: the header
/// takes the first `n` bytes; the payload follows. Nothing is allocated and
/// nothing but `buf` is read.
pub fn decode(buf: &[u8], rules: Rules) -> Result<Option<(Header, usize)>, FrameError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let fin = b0 & 0x80 != 0;
    let rsv1 = b0 & 0x40 != 0;
    let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
    // RFC 6455 §5.2: reserved bits must be 0 unless an extension defines
    // them; RFC 7692 §6.1: RSV1 only on the first frame of a data message.
    if b0 & 0x30 != 0
        || (rsv1 && (!rules.allow_rsv1 || opcode.is_control() || opcode == OpCode::Continuation))
    {
        return Err(FrameError::ReservedBits);
    }
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    // RFC 6455 §5.5: control frames are at most 125 bytes and never
    // fragmented.
    if opcode.is_control() {
        if !fin {
            return Err(FrameError::ControlFragmented);
        }
        if len7 > 125 {
            return Err(FrameError::ControlTooLong);
        }
    }
    // RFC 6455 §5.1: a server closes on an unmasked client frame.
    if rules.require_mask && !masked {
        return Err(FrameError::Unmasked);
    }
    let (payload_len, mut at) = match len7 {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                if len >> 63 != 0 {
                    return Err(FrameError::LengthOverflow);
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if payload_len > rules.max_payload {
        return Err(FrameError::TooLarge);
    }
    let mask = if masked {
        let Some(key) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some(key.try_into().expect("4 bytes"))
    } else {
        None
    };
    Ok(Some((
        Header {
            fin,
            rsv1,
            opcode,
            mask,
            payload_len,
        },
        at,
    )))
}

/// Writes the header of a frame into `out` and returns its length. The
/// server's frames are not masked (RFC 6455 §5.1); a client (tests) passes a
/// key.
pub fn encode(
    fin: bool,
    rsv1: bool,
    opcode: OpCode,
    payload_len: usize,
    mask: Option<[u8; 4]>,
    out: &mut [u8; MAX_HEADER_LEN],
) -> usize {
    out[0] = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode as u8;
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    // RFC 6455 §5.2: the minimal number of bytes encodes the length.
    let mut at = match payload_len {
        0..=125 => {
            out[1] = mask_bit | payload_len as u8;
            2
        }
        126..=0xFFFF => {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
            4
        }
        _ => {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
            10
        }
    };
    if let Some(key) = mask {
        out[at..at + 4].copy_from_slice(&key);
        at += 4;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: Rules = Rules {
        allow_rsv1: false,
        require_mask: true,
        max_payload: 1 << 20,
    };

    fn header(bytes: &[u8]) -> Result<Option<(Header, usize)>, FrameError> {
        decode(bytes, SERVER)
    }

    #[test]
    fn round_trips_every_length_form() {
        for len in [0, 1, 125, 126, 0xFFFF, 0x10000, 1 << 20] {
            let mut out = [0; MAX_HEADER_LEN];
            let n = encode(
                true,
                false,
                OpCode::Binary,
                len,
                Some([1, 2, 3, 4]),
                &mut out,
            );
            let (h, used) = header(&out[..n]).unwrap().unwrap();
            assert_eq!(
                (h.payload_len, used, h.mask),
                (len as u64, n, Some([1, 2, 3, 4]))
            );
            // Every shorter prefix asks for more bytes.
            for cut in 0..n {
                assert_eq!(header(&out[..cut]), Ok(None), "len {len} cut {cut}");
            }
        }
    }

    #[test]
    fn rfc6455_section5_violations() {
        let cases: &[(&[u8], FrameError)] = &[
            (&[0x81 | 0x20, 0x80], FrameError::ReservedBits),
            (&[0x81 | 0x10, 0x80], FrameError::ReservedBits),
            (&[0x81 | 0x40, 0x80], FrameError::ReservedBits),
            (&[0x83, 0x80], FrameError::ReservedOpcode(3)),
            (&[0x8B, 0x80], FrameError::ReservedOpcode(0xB)),
            (&[0x09, 0x80], FrameError::ControlFragmented),
            (&[0x89, 0x80 | 126, 0, 126], FrameError::ControlTooLong),
            (&[0x81, 0x00], FrameError::Unmasked),
            (
                &[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
                FrameError::LengthOverflow,
            ),
            (&[0x82, 0xFF, 0, 0, 0, 0, 1, 0, 0, 0], FrameError::TooLarge),
        ];
        for (bytes, error) in cases {
            assert_eq!(header(bytes), Err(*error), "{bytes:x?}");
        }
    }

    #[test]
    fn rsv1_only_where_permessage_deflate_allows_it() {
        let deflate = Rules {
            allow_rsv1: true,
            ..SERVER
        };
        assert!(
            decode(&[0xC1, 0x80, 0, 0, 0, 0], deflate)
                .unwrap()
                .unwrap()
                .0
                .rsv1
        );
        // RFC 7692 §6.1: not on a continuation nor a control frame.
        assert_eq!(
            decode(&[0xC0, 0x80], deflate),
            Err(FrameError::ReservedBits)
        );
        assert_eq!(
            decode(&[0xC9, 0x80], deflate),
            Err(FrameError::ReservedBits)
        );
    }
}
