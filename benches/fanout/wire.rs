//! The bytes the fan-out client writes and reads: the handshake, the
//! publisher's stamped messages (binary, or 1 KiB JSON-like text for the
//! deflate case), masked client frames, and a parser for the server's
//! frames that reads them where they lie in the read buffer.

use std::fmt::Write as _;

/// What Chromium offers (and Firefox: the same offer).
pub const CHROMIUM_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The client's key; servers only hash it.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The fixed masking key of the client's frames (servers unmask whatever
/// key they get; one key keeps the publisher allocation-free).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The upgrade request for `/ws`, offering permessage-deflate if `deflate`.
pub fn request(port: u16, deflate: bool) -> String {
    let extensions = if deflate {
        format!("Sec-WebSocket-Extensions: {CHROMIUM_OFFER}\r\n")
    } else {
        String::new()
    };
    format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n{extensions}\r\n"
    )
}

/// What the 101 said about permessage-deflate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreed {
    /// No permessage-deflate: frames are never compressed.
    Plain,
    /// permessage-deflate with `server_no_context_takeover`: each message
    /// inflates on its own, so one decompressor per thread serves every
    /// connection.
    DeflateNoTakeover,
}

/// Checks a response head (up to its blank line) and reads what it agreed.
pub fn response(head: &[u8]) -> Result<Agreed, String> {
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    if !head.starts_with("http/1.1 101") {
        return Err(format!(
            "not switched: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    let extensions = head
        .lines()
        .filter_map(|l| l.strip_prefix("sec-websocket-extensions:"))
        .collect::<Vec<_>>()
        .join(",");
    if !extensions.contains("permessage-deflate") {
        return Ok(Agreed::Plain);
    }
    if !extensions.contains("server_no_context_takeover") {
        // Every server this bench runs compresses each message on its own;
        // one that keeps its context would need a decompressor per
        // connection here.
        return Err(format!(
            "the server kept its compression context ({extensions}): not supported"
        ));
    }
    Ok(Agreed::DeflateNoTakeover)
}

/// How a message carries its send time and sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// A binary message: the send time (ns since the client's epoch) and
    /// the sequence number, both u64 little-endian, in its first 16 bytes.
    Binary,
    /// A JSON-like text message: `{"ts":"<20 digits>","seq":"<20 digits>",`
    /// then made-up events up to the size.
    Json,
}

/// Where [`Stamp::Json`] puts its digits.
const JSON_TS: std::ops::Range<usize> = 7..27;
const JSON_SEQ: std::ops::Range<usize> = 36..56;

impl Stamp {
    /// Bytes of a message's start that [`Stamp::read`] needs.
    pub const HEAD: usize = JSON_SEQ.end;

    /// The smallest message that holds a stamp.
    pub fn min_size(self) -> usize {
        match self {
            Stamp::Binary => 16,
            Stamp::Json => Self::HEAD + 2,
        }
    }

    /// A message of `size` bytes to stamp: zeros after the stamp, or
    /// JSON-like events that compress about as real ones do.
    pub fn template(self, size: usize) -> Vec<u8> {
        assert!(
            size >= self.min_size(),
            "messages of {size} B cannot hold a stamp"
        );
        match self {
            Stamp::Binary => vec![0; size],
            Stamp::Json => json_template(size),
        }
    }

    /// Writes the send time `ns` and sequence number `seq` into `message`.
    pub fn write(self, message: &mut [u8], ns: u64, seq: u64) {
        match self {
            Stamp::Binary => {
                message[..8].copy_from_slice(&ns.to_le_bytes());
                message[8..16].copy_from_slice(&seq.to_le_bytes());
            }
            Stamp::Json => {
                write_digits(&mut message[JSON_TS], ns);
                write_digits(&mut message[JSON_SEQ], seq);
            }
        }
    }

    /// The send time and sequence number at the start of a message
    /// (`head` holds at least its first [`Stamp::HEAD`] bytes, or all of a
    /// shorter message). `None` if this is not a stamped message.
    pub fn read(self, head: &[u8]) -> Option<(u64, u64)> {
        match self {
            Stamp::Binary => Some((
                u64::from_le_bytes(head.get(..8)?.try_into().ok()?),
                u64::from_le_bytes(head.get(8..16)?.try_into().ok()?),
            )),
            Stamp::Json => Some((
                read_digits(head.get(JSON_TS)?)?,
                read_digits(head.get(JSON_SEQ)?)?,
            )),
        }
    }
}

fn write_digits(out: &mut [u8], mut value: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn read_digits(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &d| {
        d.is_ascii_digit()
            .then(|| value.wrapping_mul(10).wrapping_add(u64::from(d - b'0')))
    })
}

/// `{"ts":"…","seq":"…","events":[{…},…],"pad":"…"}` of exactly `size`
/// bytes: events with repeated keys and varied values (a fixed
/// pseudo-random sequence), as a feed of updates looks.
fn json_template(size: usize) -> Vec<u8> {
    const USERS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "frank"];
    const ACTIONS: [&str; 4] = ["update", "insert", "delete", "ack"];
    let mut json = format!("{{\"ts\":\"{:020}\",\"seq\":\"{:020}\",\"events\":[", 0, 0);
    assert_eq!(json.find("\",\"seq").unwrap(), JSON_TS.end);
    let mut random = 0x2545_f491_u32;
    let mut next = move || {
        random ^= random << 13;
        random ^= random >> 17;
        random ^= random << 5;
        random
    };
    // The closing `],"pad":""}` takes 12 bytes.
    loop {
        let mut event = String::new();
        let r = next();
        write!(
            event,
            "{{\"id\":{},\"user\":\"{}\",\"action\":\"{}\",\"price\":{}.{:02},\"qty\":{}}},",
            r % 100_000,
            USERS[(r >> 17) as usize % USERS.len()],
            ACTIONS[(r >> 21) as usize % ACTIONS.len()],
            next() % 1000,
            next() % 100,
            next() % 50,
        )
        .unwrap();
        if json.len() + event.len() + 12 > size {
            break;
        }
        json.push_str(&event);
    }
    if json.ends_with(',') {
        json.pop();
    }
    json.push_str("],\"pad\":\"");
    while json.len() + 2 < size {
        json.push('x');
    }
    json.push_str("\"}");
    let mut bytes = json.into_bytes();
    bytes.truncate(size);
    bytes
}

/// A masked client frame (FIN set) of `opcode` holding `payload`, written
/// into `out` (cleared first).
pub fn client_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.clear();
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
}

/// Opcodes the client acts on.
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// One server frame, borrowed from the read buffer.
pub struct Frame<'a> {
    pub fin: bool,
    /// RSV1: the first frame of a compressed message.
    pub compressed: bool,
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// The complete frame at the start of `data` and its length on the wire;
/// `Ok(None)` if more bytes are needed.
pub fn parse_frame(data: &[u8]) -> Result<Option<(Frame<'_>, usize)>, &'static str> {
    let [first, second, ..] = *data else {
        return Ok(None);
    };
    if second & 0x80 != 0 {
        return Err("a masked server frame");
    }
    let (len, header) = match second & 0x7f {
        126 => match data.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match data.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().unwrap()), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    let Ok(len) = usize::try_from(len) else {
        return Err("a frame longer than memory");
    };
    let Some(payload) = data.get(header..header + len) else {
        return Ok(None);
    };
    Ok(Some((
        Frame {
            fin: first & 0x80 != 0,
            compressed: first & 0x40 != 0,
            opcode: first & 0x0f,
            payload,
        },
        header + len,
    )))
}

/// Checks the stamps and the parser before anything is measured (a bench
/// with `harness = false` runs no `#[test]`).
pub fn self_check() {
    for stamp in [Stamp::Binary, Stamp::Json] {
        for size in [stamp.min_size(), 64, 1024] {
            let mut message = stamp.template(size);
            assert_eq!(message.len(), size);
            stamp.write(&mut message, 1_234_567_890_123, 42);
            assert_eq!(stamp.read(&message), Some((1_234_567_890_123, 42)));
        }
    }
    let json = Stamp::Json.template(1024);
    assert!(json.starts_with(b"{\"ts\":\"") && json.ends_with(b"\"}"));
    assert!(std::str::from_utf8(&json).is_ok());

    let mut data = vec![0x82, 3, 1, 2, 3, 0x81, 126, 0, 200];
    data.extend(std::iter::repeat_n(b'a', 200));
    let (frame, used) = parse_frame(&data).unwrap().unwrap();
    assert_eq!(
        (frame.opcode, frame.payload, used),
        (BINARY, &[1, 2, 3][..], 5)
    );
    let (frame, used) = parse_frame(&data[5..]).unwrap().unwrap();
    assert_eq!((frame.opcode, frame.payload.len(), used), (TEXT, 200, 204));
    assert!(parse_frame(&data[5..100]).unwrap().is_none());
    assert!(parse_frame(&[0x82, 0x81]).is_err());
}
