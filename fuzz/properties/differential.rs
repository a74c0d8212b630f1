//! Target `ws_differential`: the protocol core (`websocket::proto`) against
//! an independent decoder, tungstenite 0.29's server role
//! (`WebSocket::from_raw_socket` over an in-memory stream), on the same
//! client byte stream. Both must yield the same messages, Pings and Pongs,
//! and end the same way: the same close code sent (a failure's code, mapped
//! from tungstenite's error to the code it sends), the peer's Close, or the
//! end of the bytes.
//!
//! The input describes frames, so that mutations keep making frames:
//! byte 0 holds flags (bit 0: permessage-deflate agreed; bit 1: small
//! limits, 128-byte frames and 256-byte messages, else 64 KiB both); then
//! each frame is its first byte as sent (FIN, RSV, opcode: anything,
//! reserved values included), a byte whose bit 7 says "masked" and whose
//! low 7 bits are the payload length (127: a 16-bit length follows, and the
//! payload is one byte repeated), then the payload. The property writes
//! the length in its minimal form and masks the payload; frames are always
//! whole (missing payload bytes are zeros).
//!
//! tungstenite 0.29 has no permessage-deflate. With bit 0 set, the stream
//! tungstenite reads has RSV1 cleared on the first frame of each message
//! (a compressed text made binary, so that its UTF-8 is not checked
//! compressed), and its messages are inflated here with flate2 directly
//! (the tail of RFC 7692 §7.2.2 put back, a fresh raw inflater per message:
//! the core is set up without context takeover), the size limit and UTF-8
//! checked after inflation.
//!
//! Where the two may differ and RFC 6455 leaves the choice open, or where
//! tungstenite departs from it, the property settles it (see `Settled`):
//! 1. Order of checks within one frame. tungstenite checks a frame's size
//!    on its header and everything else after reading the payload; the core
//!    checks RSV, opcode, control rules and mask first. A frame over the
//!    frame limit that also breaks another rule fails 1002 here and 1009
//!    there; RFC 6455 §7.1.7 lets the endpoint fail on either. The builder
//!    avoids the ambiguity: a frame over the limit is built without other
//!    faults (RSV cleared, masked, a data opcode).
//! 2. A Close with both an invalid code and a reason that is not UTF-8:
//!    the core reports the code (1002), tungstenite the reason (1007). Both
//!    are faults of §5.5.1/§7.4; settled as `CloseCodeBeforeReason`.
//! 3. Close code 1014 (Bad Gateway): registered by IANA (RFC 6455 §11.7,
//!    the registry §7.4.2 refers to), so the core accepts and echoes it;
//!    tungstenite 0.29 treats it as invalid and answers 1002. The core
//!    follows the registry; settled as `Code1014`.
//! 4. With permessage-deflate, the core inflates and checks UTF-8 per
//!    frame and fails in the frame that breaks the message, the reference
//!    only at its end: the core's events must be a prefix of the
//!    reference's (the extra ones are Pings/Pongs between the fragments of
//!    the failing message), with the same close code, or with another when
//!    the core's error is one only inflation finds (UTF-8, deflate data,
//!    size after inflation) and the reference failed later on a frame
//!    fault it saw first, or saw the bytes end or a Close arrive with the
//!    message unfinished. A compressed message
//!    whose compressed size passes the message limit (which tungstenite
//!    applies to what it reads) is not compared: `CompressedOverLimit`.

use std::io::{self, Cursor, Read, Write};

use bytes::BytesMut;
use tokio_tungstenite::tungstenite::{
    self,
    protocol::{Role, WebSocketConfig},
    Message as TMessage, WebSocket,
};
use tower_upgrade::__fuzz::{negotiate, parse_offers, Event, Protocol};
use tower_upgrade::websocket::{DeflateConfig, FrameLimits, Message, ProtocolError};

/// What both decoders must agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The peer's Close and its code.
    Close(Option<u16>),
}

/// How a stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The server fails the connection with this code.
    Failed(u16),
    /// The peer's Close was read: nothing more is.
    Closed,
    /// The bytes ran out.
    Eof,
}

/// A difference between the two that RFC 6455 allows (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Difference 2.
    CloseCodeBeforeReason,
    /// Difference 3.
    Code1014,
    /// Difference 4: the core failed earlier in a compressed message.
    EarlierInCompressedMessage,
    /// Difference 4: not compared.
    CompressedOverLimit,
}

/// What one stream compared (read by tests/websocket_differential.rs only).
#[allow(dead_code)]
#[derive(Clone, Debug, Default)]
pub struct Compared {
    /// Messages, Pings and Pongs both yielded.
    pub events: usize,
    /// 1 when the stream ended with a close code on both sides.
    pub close_codes: usize,
    /// A difference the RFC allows, when there was one.
    pub settled: Option<Settled>,
}

/// The fuzz target.
pub fn ws_differential(data: &[u8]) {
    compare(data);
}

/// Builds the stream `data` describes, runs both decoders and panics when
/// they disagree.
pub fn compare(data: &[u8]) -> Compared {
    let Some((&flags, mut rest)) = data.split_first() else {
        return Compared::default();
    };
    let deflate = flags & 1 != 0;
    let (max_frame, max_message) = if flags & 2 != 0 {
        (128, 256)
    } else {
        (64 << 10, 64 << 10)
    };
    let stream = build(&mut rest, max_frame, deflate);
    let (ours, our_end, our_error) = run_core(&stream.ours, max_frame, max_message, deflate);
    let (theirs, their_end) = run_tungstenite(&stream, max_frame, max_message, deflate);
    let mut compared = Compared {
        events: ours.len().min(theirs.len()),
        close_codes: usize::from(
            matches!(our_end, End::Failed(_) | End::Closed) && our_end == their_end,
        ),
        settled: None,
    };
    if (&ours, our_end) == (&theirs, their_end) {
        compared.events = ours.len();
        return compared;
    }
    // Difference 2.
    if let Some(ProtocolError::InvalidCloseCode(code)) = &our_error {
        if ours == theirs
            && their_end == End::Failed(1007)
            && stream.closes.iter().any(|(c, utf8)| c == code && !utf8)
        {
            compared.settled = Some(Settled::CloseCodeBeforeReason);
            return compared;
        }
    }
    // Difference 3.
    if ours.last() == Some(&Ev::Close(Some(1014)))
        && ours[..ours.len() - 1] == theirs[..]
        && their_end == End::Failed(1002)
    {
        compared.settled = Some(Settled::Code1014);
        return compared;
    }
    if deflate {
        // The core may also fail a compressed message on a frame the
        // reference never judges alone (UTF-8, deflate data, size after
        // inflation), before a later fault the reference then reports, or
        // before the bytes end or a Close arrives with the message
        // unfinished (which the reference never inflates).
        let inflating = matches!(
            our_error,
            Some(
                ProtocolError::InvalidUtf8
                    | ProtocolError::InvalidDeflate
                    | ProtocolError::TooBig { .. }
            )
        ) && stream.starts.iter().any(|&(compressed, _)| compressed);
        let same_code = matches!((our_end, their_end), (End::Failed(a), End::Failed(b)) if a == b);
        let extra = theirs.get(ours.len()..).unwrap_or_default();
        if matches!(our_end, End::Failed(_))
            && (same_code || inflating)
            && theirs.starts_with(&ours)
            && extra
                .iter()
                .all(|e| matches!(e, Ev::Ping(_) | Ev::Pong(_) | Ev::Close(_)))
        {
            compared.settled = Some(Settled::EarlierInCompressedMessage);
            return compared;
        }
        if their_end == End::Failed(1009) && stream.compressed_over_limit(max_message) {
            compared.settled = Some(Settled::CompressedOverLimit);
            return compared;
        }
    }
    panic!(
        "the core and tungstenite differ\n  core:        {ours:?} {our_end:?} ({our_error:?})\n  tungstenite: {theirs:?} {their_end:?}\n  wire: {:x?}",
        stream.ours
    );
}

/// The stream as the core reads it, as tungstenite reads it, and what the
/// reference needs to know about it.
struct Stream {
    ours: Vec<u8>,
    theirs: Vec<u8>,
    /// Per message started, in order: whether it is compressed, and text.
    starts: Vec<(bool, bool)>,
    /// Compressed payload bytes per compressed message, in order.
    compressed_sizes: Vec<usize>,
    /// Close frames: their code (if any) and whether the reason is UTF-8.
    closes: Vec<(u16, bool)>,
}

impl Stream {
    fn compressed_over_limit(&self, max_message: usize) -> bool {
        self.compressed_sizes.iter().any(|&n| n > max_message)
    }
}

fn take(rest: &mut &[u8]) -> u8 {
    let Some((&byte, tail)) = rest.split_first() else {
        return 0;
    };
    *rest = tail;
    byte
}

fn build(rest: &mut &[u8], max_frame: usize, deflate: bool) -> Stream {
    let mut s = Stream {
        ours: Vec::new(),
        theirs: Vec::new(),
        starts: Vec::new(),
        compressed_sizes: Vec::new(),
        closes: Vec::new(),
    };
    let mut index = 0u8;
    while !rest.is_empty() {
        let mut b0 = take(rest);
        let b1 = take(rest);
        let mut masked = b1 & 0x80 != 0;
        let len7 = usize::from(b1 & 0x7F);
        let payload: Vec<u8> = if len7 == 127 {
            let len = usize::from(u16::from_be_bytes([take(rest), take(rest)]));
            vec![take(rest); len]
        } else {
            (0..len7).map(|_| take(rest)).collect()
        };
        if payload.len() > max_frame {
            // Difference 1: an oversize frame has no other fault.
            b0 &= 0x8F;
            if !matches!(b0 & 0x0F, 0..=2) {
                b0 = (b0 & 0xF0) | 2;
            }
            masked = true;
        }
        let opcode = b0 & 0x0F;
        let mut theirs_b0 = b0;
        if matches!(opcode, 1 | 2) {
            let compressed = deflate && b0 & 0x40 != 0;
            s.starts.push((compressed, opcode == 1));
            if compressed {
                s.compressed_sizes.push(0);
                // RSV1 (only: RSV2/RSV3 stay for tungstenite to refuse)
                // cleared, text made binary.
                theirs_b0 = (b0 & !0x40 & 0xF0) | 2;
            }
        }
        if deflate && matches!(opcode, 0..=2) {
            if let (Some((true, _)), Some(n)) = (s.starts.last(), s.compressed_sizes.last_mut()) {
                *n += payload.len();
            }
        }
        if opcode == 8 && payload.len() >= 2 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            s.closes
                .push((code, std::str::from_utf8(&payload[2..]).is_ok()));
        }
        let key = [b0, b1, 0x5A, index];
        index = index.wrapping_add(1);
        for (out, first) in [(&mut s.ours, b0), (&mut s.theirs, theirs_b0)] {
            out.push(first);
            let mask_bit = if masked { 0x80 } else { 0 };
            match payload.len() {
                n @ 0..=125 => out.push(mask_bit | n as u8),
                n => {
                    out.push(mask_bit | 126);
                    out.extend_from_slice(&(n as u16).to_be_bytes());
                }
            }
            if masked {
                out.extend_from_slice(&key);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            } else {
                out.extend_from_slice(&payload);
            }
        }
    }
    s
}

fn run_core(
    wire: &[u8],
    max_frame: usize,
    max_message: usize,
    deflate: bool,
) -> (Vec<Ev>, End, Option<ProtocolError>) {
    let mut limits = FrameLimits::default();
    limits.max_frame_size = max_frame;
    limits.max_message_size = max_message;
    let mut proto = Protocol::new(&limits);
    if deflate {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "sec-websocket-extensions",
            http::HeaderValue::from_static("permessage-deflate"),
        );
        let config = DeflateConfig::new();
        let agreed = negotiate(&config, &parse_offers(&headers)).expect("agreed");
        proto = proto.with_deflate(&agreed, &config);
    }
    let mut buf = BytesMut::from(wire);
    let mut events = Vec::new();
    loop {
        match proto.receive(&mut buf) {
            Ok(Some(Event::Message(Message::Text(t)))) => {
                events.push(Ev::Text(t.into_bytes().to_vec()))
            }
            Ok(Some(Event::Message(Message::Binary(b)))) => events.push(Ev::Binary(b.to_vec())),
            Ok(Some(Event::Message(other))) => panic!("a data event carried {other:?}"),
            Ok(Some(Event::Ping(p))) => events.push(Ev::Ping(p.to_vec())),
            Ok(Some(Event::Pong(p))) => events.push(Ev::Pong(p.to_vec())),
            Ok(Some(Event::Close(frame))) => {
                events.push(Ev::Close(frame.map(|f| u16::from(f.code))));
                return (events, End::Closed, None);
            }
            Ok(None) => {
                assert!(buf.is_empty(), "whole frames left unread");
                return (events, End::Eof, None);
            }
            Err(e) => return (events, End::Failed(u16::from(e.close_code())), Some(e)),
        }
    }
}

/// An in-memory socket: reads the stream, swallows what is written.
struct Memory(Cursor<Vec<u8>>);

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn run_tungstenite(
    stream: &Stream,
    max_frame: usize,
    max_message: usize,
    deflate: bool,
) -> (Vec<Ev>, End) {
    let config = WebSocketConfig::default()
        .max_frame_size(Some(max_frame))
        .max_message_size(Some(max_message));
    let mut ws = WebSocket::from_raw_socket(
        Memory(Cursor::new(stream.theirs.clone())),
        Role::Server,
        Some(config),
    );
    let mut events = Vec::new();
    let mut started = stream.starts.iter();
    loop {
        let message = match ws.read() {
            Ok(message) => message,
            Err(e) => return (events, error_end(&e)),
        };
        match message {
            TMessage::Text(t) => {
                started.next();
                events.push(Ev::Text(t.as_bytes().to_vec()));
            }
            TMessage::Binary(b) => match started.next() {
                Some(&(true, text)) if deflate => match inflate(&b, max_message, text) {
                    Ok(ev) => events.push(ev),
                    Err(code) => return (events, End::Failed(code)),
                },
                _ => events.push(Ev::Binary(b.to_vec())),
            },
            TMessage::Ping(p) => events.push(Ev::Ping(p.to_vec())),
            TMessage::Pong(p) => events.push(Ev::Pong(p.to_vec())),
            TMessage::Close(frame) => {
                return match frame {
                    // tungstenite answers an invalid code with 1002 and
                    // says so in the frame it returns.
                    Some(f) if f.code == 1002.into() && f.reason == "Protocol violation" => {
                        (events, End::Failed(1002))
                    }
                    frame => {
                        events.push(Ev::Close(frame.map(|f| u16::from(f.code))));
                        (events, End::Closed)
                    }
                };
            }
            TMessage::Frame(_) => unreachable!("read never returns raw frames"),
        }
    }
}

/// The close code tungstenite sends for `error`, or how the stream ended.
fn error_end(error: &tungstenite::Error) -> End {
    use tungstenite::error::ProtocolError as P;
    use tungstenite::Error as E;
    match error {
        E::Protocol(P::ResetWithoutClosingHandshake) => End::Eof,
        E::ConnectionClosed | E::AlreadyClosed => End::Closed,
        E::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => End::Eof,
        E::Protocol(_) => End::Failed(1002),
        E::Utf8(_) => End::Failed(1007),
        E::Capacity(_) => End::Failed(1009),
        other => panic!("tungstenite failed outside the protocol: {other}"),
    }
}

/// RFC 7692 §7.2.2 with flate2 directly: the tail put back, a raw inflater
/// of 15 bits, output bounded by the message limit; then UTF-8 for a text.
fn inflate(compressed: &[u8], max_message: usize, text: bool) -> Result<Ev, u16> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut input = compressed.to_vec();
    input.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
    let mut state = Decompress::new(false);
    let mut out = Vec::with_capacity(max_message.saturating_add(1).min(1 << 20));
    let mut at = 0;
    loop {
        if out.len() == out.capacity() {
            out.reserve(4096);
        }
        let before = (state.total_in(), state.total_out());
        let status = state
            .decompress_vec(&input[at..], &mut out, FlushDecompress::Sync)
            .map_err(|_| 1002u16)?;
        at += (state.total_in() - before.0) as usize;
        let made = (state.total_out() - before.1) as usize;
        if out.len() > max_message {
            return Err(1009);
        }
        match status {
            // A final block ends the message's stream: payload after it is
            // not deflate data. The tail is put back only after payload
            // that did not end the stream (RFC 7692 §7.2.3 lets a sender end
            // a message with BFINAL); a final block that ends inside the
            // tail leaves tail bytes that are not deflate data either. The
            // core reads it so, and so does this reference.
            Status::StreamEnd if at < input.len() && at != compressed.len() => return Err(1002),
            Status::StreamEnd => break,
            _ if at == input.len() && out.len() < out.capacity() => break,
            _ if made == 0 && at < input.len() && out.len() < out.capacity() => return Err(1002),
            _ => {}
        }
    }
    if text {
        std::str::from_utf8(&out).map_err(|_| 1007u16)?;
        Ok(Ev::Text(out))
    } else {
        Ok(Ev::Binary(out))
    }
}
