//! Target `ws_frame`: the message layer's frame decoder (RFC 6455 §5.2)
//! over arbitrary bytes, frame after frame, with unmasking (§5.3) and
//! permessage-deflate inflation (RFC 7692 §7.2.2) of compressed messages.
//!
//! The first byte chooses the rules: bit 0 RSV1 allowed (deflate agreed),
//! bit 1 masks required (a server), bits 2-3 the largest payload (125,
//! 65535, 1 MiB, 2^63 - 1), bit 4 `client_no_context_takeover`, bits 5-7
//! the client's window bits (9 + n, at most 15). The rest is the wire.
//!
//! Checked: the decoder agrees with a reference reading of §5.2 written
//! here (every refusal names a rule the header really breaks; a header is
//! taken only when it is whole, with the same fields); the header never
//! claims more bytes than given; control frames are final and at most 125
//! bytes; masks are present when required; RSV1 only where §6.1 allows it;
//! re-encoding gives back the same header (byte for byte when the input
//! used the minimal length form); unmasking matches the bytewise definition
//! and undoes itself; inflation never holds more than its limit.

use tower_upgrade::__fuzz::{
    decode, encode, mask, negotiate, parse_offers, Deflate, FrameError, Header, InflateError,
    OpCode, Rules, MAX_HEADER_LEN,
};
use tower_upgrade::websocket::DeflateConfig;

/// What one compressed message may inflate to here.
const INFLATE_LIMIT: usize = 64 << 10;

/// Decodes every frame of one input and checks each.
pub fn ws_frame(data: &[u8]) {
    let Some((&flags, wire)) = data.split_first() else {
        return;
    };
    let rules = Rules {
        allow_rsv1: flags & 1 != 0,
        require_mask: flags & 2 != 0,
        max_payload: [125, 0xFFFF, 1 << 20, u64::MAX >> 1][usize::from(flags >> 2 & 3)],
    };
    let mut deflate = rules.allow_rsv1.then(|| deflate(flags)).flatten();
    let mut message = Vec::new();
    let mut compressed = false;
    let mut at = 0;
    while at < wire.len() {
        let buf = &wire[at..];
        let Some((header, n)) = check_header(buf, rules) else {
            return;
        };
        let Some(end) = usize::try_from(header.payload_len)
            .ok()
            .and_then(|len| n.checked_add(len))
            .filter(|&end| end <= buf.len())
        else {
            return;
        };
        let mut payload = buf[n..end].to_vec();
        if let Some(key) = header.mask {
            check_unmask(&mut payload, key);
        }
        if let Some(deflate) = deflate.as_mut() {
            if !header.opcode.is_control() {
                if header.opcode != OpCode::Continuation {
                    compressed = header.rsv1;
                    message.clear();
                }
                if compressed && !inflate(deflate, &payload, header.fin, &mut message) {
                    compressed = false;
                }
            }
        }
        at += end;
    }
}

/// A decompressor as the handshake would agree it for these flags.
fn deflate(flags: u8) -> Option<Deflate> {
    let bits = (9 + (flags >> 5)).min(15);
    let mut offer = format!("permessage-deflate; client_max_window_bits={bits}");
    if flags & 0x10 != 0 {
        offer.push_str("; client_no_context_takeover");
    }
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "sec-websocket-extensions",
        offer.parse().expect("a valid header"),
    );
    let config = DeflateConfig::new();
    let agreed = negotiate(&config, &parse_offers(&headers))?;
    Some(Deflate::new(&agreed, &config))
}

/// Inflates one frame's payload and checks the bound; `false` when the
/// message failed (the connection would close).
fn inflate(deflate: &mut Deflate, payload: &[u8], fin: bool, message: &mut Vec<u8>) -> bool {
    let result = deflate.inflate(payload, fin, message, INFLATE_LIMIT);
    // RFC 6455 §10.4: what a peer can make the server hold is bounded.
    assert!(
        message.capacity() <= INFLATE_LIMIT + 1,
        "inflating held {} bytes",
        message.capacity()
    );
    match result {
        Ok(()) => {
            assert!(message.len() <= INFLATE_LIMIT);
            if fin {
                message.clear();
            }
            true
        }
        Err(InflateError::TooBig | InflateError::Corrupt) => {
            message.clear();
            false
        }
    }
}

/// Decodes the header at the start of `buf`, compares it with the
/// reference and checks its properties; the header and its length when
/// one was taken.
fn check_header(buf: &[u8], rules: Rules) -> Option<(Header, usize)> {
    let ours = decode(buf, rules);
    let reference = Reference::read(buf, rules);
    match ours {
        Err(error) => {
            assert!(
                reference.violations.contains(&error),
                "{error:?} but the reference finds {:?} in {buf:x?}",
                reference.violations
            );
            None
        }
        Ok(None) => {
            assert!(
                reference.violations.is_empty(),
                "more bytes asked, but {:?}",
                reference.violations
            );
            assert!(reference.header_len.is_none_or(|len| len > buf.len()));
            None
        }
        Ok(Some((header, n))) => {
            assert!(
                reference.violations.is_empty(),
                "{:?}",
                reference.violations
            );
            assert_eq!(Some(n), reference.header_len);
            assert!(n <= buf.len() && n <= MAX_HEADER_LEN);
            assert_eq!(Some(header), reference.header);
            check_rules(&header, rules);
            check_reencode(&header, &buf[..n], rules);
            Some((header, n))
        }
    }
}

/// RFC 6455 §5.1, §5.2, §5.5 and RFC 7692 §6.1 on a taken header.
fn check_rules(header: &Header, rules: Rules) {
    if header.opcode.is_control() {
        assert!(header.fin && header.payload_len <= 125);
        assert!(!header.rsv1);
    }
    if rules.require_mask {
        assert!(header.mask.is_some());
    }
    if header.rsv1 {
        assert!(rules.allow_rsv1 && header.opcode != OpCode::Continuation);
    }
    assert!(header.payload_len <= rules.max_payload && header.payload_len >> 63 == 0);
}

/// The encoder's header for the same frame decodes to the same header,
/// and is the same bytes when the input used the minimal length form.
fn check_reencode(header: &Header, wire: &[u8], rules: Rules) {
    let mut out = [0; MAX_HEADER_LEN];
    let len = usize::try_from(header.payload_len).expect("64-bit usize");
    let n = encode(
        header.fin,
        header.rsv1,
        header.opcode,
        len,
        header.mask,
        &mut out,
    );
    assert_eq!(decode(&out[..n], rules), Ok(Some((*header, n))));
    assert!(n <= wire.len());
    let minimal = match wire[1] & 0x7F {
        126 => header.payload_len >= 126,
        127 => header.payload_len > 0xFFFF,
        _ => true,
    };
    if minimal {
        assert_eq!(&out[..n], wire);
    }
}

/// RFC 6455 §5.3: each byte XORed with the key byte at its index mod 4.
fn check_unmask(payload: &mut [u8], key: [u8; 4]) {
    let original = payload.to_vec();
    mask(payload, key);
    for (i, (&got, &was)) in payload.iter().zip(&original).enumerate() {
        assert_eq!(got, was ^ key[i % 4], "byte {i}");
    }
    let mut again = payload.to_vec();
    mask(&mut again, key);
    assert_eq!(again, original);
}

/// A reading of RFC 6455 §5.2 written apart from the decoder: every rule
/// the bytes at hand break, and the header when it is whole.
struct Reference {
    violations: Vec<FrameError>,
    header_len: Option<usize>,
    header: Option<Header>,
}

impl Reference {
    fn read(buf: &[u8], rules: Rules) -> Self {
        let mut r = Reference {
            violations: Vec::new(),
            header_len: None,
            header: None,
        };
        if buf.len() < 2 {
            return r;
        }
        let bit = |byte: u8, n: u8| byte >> n & 1 == 1;
        let (fin, rsv1, rsv2, rsv3) = (
            bit(buf[0], 7),
            bit(buf[0], 6),
            bit(buf[0], 5),
            bit(buf[0], 4),
        );
        let code = buf[0] & 0x0F;
        let opcode = match code {
            0 => OpCode::Continuation,
            1 => OpCode::Text,
            2 => OpCode::Binary,
            8 => OpCode::Close,
            9 => OpCode::Ping,
            10 => OpCode::Pong,
            _ => {
                r.violations.push(FrameError::ReservedOpcode(code));
                return r;
            }
        };
        let control = code >= 8;
        if rsv2 || rsv3 || (rsv1 && (!rules.allow_rsv1 || control || code == 0)) {
            r.violations.push(FrameError::ReservedBits);
        }
        let masked = bit(buf[1], 7);
        let len7 = buf[1] & 0x7F;
        if control && !fin {
            r.violations.push(FrameError::ControlFragmented);
        }
        if control && len7 > 125 {
            r.violations.push(FrameError::ControlTooLong);
        }
        if rules.require_mask && !masked {
            r.violations.push(FrameError::Unmasked);
        }
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + ext + if masked { 4 } else { 0 };
        r.header_len = Some(header_len);
        let Some(ext_bytes) = buf.get(2..2 + ext) else {
            return r;
        };
        let len = if ext == 0 {
            u64::from(len7)
        } else {
            ext_bytes
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
        };
        if len >= 1 << 63 {
            r.violations.push(FrameError::LengthOverflow);
        } else if len > rules.max_payload {
            r.violations.push(FrameError::TooLarge);
        }
        if !r.violations.is_empty() || buf.len() < header_len {
            return r;
        }
        r.header = Some(Header {
            fin,
            rsv1,
            opcode,
            mask: masked.then(|| [buf[2 + ext], buf[3 + ext], buf[4 + ext], buf[5 + ext]]),
            payload_len: len,
        });
        r
    }
}
