//! The core driven directly, with no sockets: the loop a driver runs, and
//! the defects of the message layer it fixes.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::*;
use crate::websocket::messages::CloseCode;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client's frame: masked, with `first` as its first byte (FIN, RSV,
/// opcode).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut header = [0; frame::MAX_HEADER_LEN];
    let opcode = match first & 0x0F {
        0 => frame::OpCode::Continuation,
        1 => frame::OpCode::Text,
        2 => frame::OpCode::Binary,
        8 => frame::OpCode::Close,
        9 => frame::OpCode::Ping,
        _ => frame::OpCode::Pong,
    };
    let n = frame::encode(true, false, opcode, payload.len(), Some(KEY), &mut header);
    header[0] = first;
    let mut out = header[..n].to_vec();
    let mut body = payload.to_vec();
    mask::apply(&mut body, KEY);
    out.extend_from_slice(&body);
    out
}

fn limits(max_message: usize, max_frame: usize) -> FrameLimits {
    FrameLimits {
        max_message_size: max_message,
        max_frame_size: max_frame,
        ..FrameLimits::default()
    }
}

/// Feeds `wire` one byte at a time, as a slow peer would, and collects
/// the events until the first error.
fn run(proto: &mut Protocol, wire: &[u8]) -> (Vec<Event>, Option<ProtocolError>) {
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for &byte in wire {
        buf.put_u8(byte);
        loop {
            match proto.receive(&mut buf) {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

/// The loop of `mod.rs`'s docs, over an in-memory peer that sends a
/// fragmented text with a Ping between its fragments, then a Close.
#[test]
fn the_driver_loop() {
    let mut peer = Vec::new();
    peer.extend(frame(0x01, b"hel"));
    peer.extend(frame(0x89, b"are you there"));
    peer.extend(frame(0x80, b"lo"));
    peer.extend(frame(0x88, &[0x03, 0xE8, b'b', b'y', b'e']));
    let mut peer = &peer[..];
    let mut proto = Protocol::new(&FrameLimits::default());
    let mut rbuf = BytesMut::new();
    let mut wire = BytesMut::new();
    let mut got = Vec::new();
    let mut queue = vec![Message::text("first")];
    loop {
        match proto.receive(&mut rbuf) {
            Ok(Some(Event::Message(message))) => got.push(message),
            Ok(Some(Event::Ping(_) | Event::Pong(_))) => {}
            Ok(Some(Event::Close(frame))) => {
                assert_eq!(frame.unwrap().code, CloseCode::NORMAL);
                queue.extend(proto.take_close_reply());
            }
            Ok(None) if proto.state() == CloseState::Open => {
                // Read what the frame still needs, at most 3 bytes here.
                let n = proto.missing(&rbuf).min(3).min(peer.len());
                assert!(n > 0, "the peer sent everything");
                rbuf.put_slice(&peer[..n]);
                peer.advance(n);
            }
            Ok(None) => {}
            Err(e) => panic!("{e}"),
        }
        // The write path: what is owed first, then the queue.
        proto.transmit_control(&mut wire);
        for message in queue.drain(..) {
            let big = proto.send(message, &mut wire).unwrap();
            wire.put_slice(&big);
        }
        if proto.state() == CloseState::Closed {
            break;
        }
    }
    assert_eq!(got, [Message::text("hello")]);
    // The handler's message (queued before anything arrived), a Pong for
    // the Ping, the echo of the Close.
    let mut expected = Vec::new();
    expected.extend([0x81, 5]);
    expected.extend(b"first");
    expected.extend([0x8A, 13]);
    expected.extend(b"are you there");
    expected.extend([0x88, 2, 0x03, 0xE8]);
    assert_eq!(&wire[..], &expected[..]);
    assert_eq!(
        proto.send(Message::text("late"), &mut wire),
        Err(SendError::Closed)
    );
}

/// Regression: the driver reserved a whole frame's length as soon as the
/// header arrived (`rbuf.reserve(frame_len - rbuf.len())` in
/// `Conn::poll_read`), so N connections each sending one header of a
/// `max_frame_size` frame and trickling its payload pinned N ×
/// `max_frame_size`. The core reserves nothing, and tells the driver how
/// much is missing, so that it reads (and grows) by what arrives.
#[test]
fn a_header_does_not_reserve_its_payload() {
    let mut proto = Protocol::new(&limits(16 << 20, 16 << 20));
    let wire = frame(0x82, &vec![7; 8 << 20]);
    let mut buf = BytesMut::with_capacity(64);
    buf.put_slice(&wire[..64]);
    let before = buf.capacity();
    assert_eq!(proto.receive(&mut buf), Ok(None));
    assert_eq!(buf.capacity(), before, "the decoder reserved");
    assert_eq!(proto.missing(&buf), wire.len() - 64);
    // Nothing is consumed until the frame is whole.
    assert_eq!(buf.len(), 64);
}

/// Regression: `Message::len` of a text went through `Deref<Target =
/// str>`, which validated the whole text again: O(n) per call. On text
/// that is not UTF-8 (which only this test can make) it answered 0.
#[test]
fn message_len_of_text_does_not_validate() {
    let text = crate::websocket::messages::Utf8Bytes::unchecked_for_tests(Bytes::from_static(&[
        0xFF, 0xFE, 0xFD,
    ]));
    assert_eq!(Message::Text(text).len(), 3);
    assert_eq!(Message::text("hé").len(), 3);
}

/// Regression: `max_message_size(usize::MAX)` overflowed in the size
/// checks (`held + len`).
#[test]
fn an_unbounded_message_limit_does_not_overflow() {
    let mut proto = Protocol::new(&limits(usize::MAX, usize::MAX));
    let mut wire = frame(0x02, b"abc");
    wire.extend(frame(0x80, b"def"));
    let (events, error) = run(&mut proto, &wire);
    assert_eq!(error, None);
    assert_eq!(events, [Event::Message(Message::binary(&b"abcdef"[..]))]);
    // A 2^63 - 1 byte header is waited for, not refused nor overflowed.
    let mut huge = BytesMut::from(
        &[
            0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
        ][..],
    );
    let mut proto = Protocol::new(&limits(usize::MAX, usize::MAX));
    assert_eq!(proto.receive(&mut huge), Ok(None));
    assert!(proto.missing(&huge) > 1 << 40);
}

#[test]
fn utf8_fails_in_the_fragment_that_breaks_it() {
    let mut wire = frame(0x01, "ok €".as_bytes().split_at(4).0);
    // The € split across fragments is fine...
    wire.extend(frame(0x00, &"€".as_bytes()[1..]));
    let good = wire.len();
    // ...0xF5 can start no character: this fragment fails, not the last.
    wire.extend(frame(0x00, &[b'x', 0xF5]));
    let mut proto = Protocol::new(&FrameLimits::default());
    let mut buf = BytesMut::from(&wire[..good]);
    assert_eq!(proto.receive(&mut buf), Ok(None));
    buf.put_slice(&wire[good..]);
    assert_eq!(proto.receive(&mut buf), Err(ProtocolError::InvalidUtf8));
    let mut out = BytesMut::new();
    assert!(proto.transmit_control(&mut out));
    assert_eq!(&out[..4], &[0x88, out[1], 0x03, 0xEF], "1007");
}

#[test]
fn frame_rules() {
    let cases: &[(Vec<u8>, ProtocolError)] = &[
        (vec![0xA1, 0x80, 0, 0, 0, 0], ProtocolError::ReservedBits),
        (vec![0xC1, 0x80, 0, 0, 0, 0], ProtocolError::ReservedBits),
        (
            vec![0x83, 0x80, 0, 0, 0, 0],
            ProtocolError::ReservedOpcode(3),
        ),
        (
            vec![0x09, 0x80, 0, 0, 0, 0],
            ProtocolError::FragmentedControlFrame,
        ),
        (vec![0x89, 0xFE, 0, 126], ProtocolError::ControlFrameTooLong),
        (vec![0x81, 0x00], ProtocolError::UnmaskedFrame),
        (frame(0x80, b"x"), ProtocolError::UnexpectedContinuation),
        (
            [frame(0x01, b"x"), frame(0x81, b"y")].concat(),
            ProtocolError::ExpectedContinuation,
        ),
        (frame(0x88, &[3]), ProtocolError::TruncatedClose),
        (
            frame(0x88, &[0x03, 0xED]),
            ProtocolError::InvalidCloseCode(1005),
        ),
        (
            frame(0x88, &[0x03, 0xE8, 0xC0]),
            ProtocolError::InvalidCloseReason,
        ),
        (frame(0x82, &[0; 11]), ProtocolError::TooBig { limit: 10 }),
        (
            [frame(0x02, &[0; 8]), frame(0x80, &[0; 8])].concat(),
            ProtocolError::TooBig { limit: 12 },
        ),
    ];
    for (wire, error) in cases {
        let mut proto = Protocol::new(&limits(12, 10));
        assert_eq!(run(&mut proto, wire).1.as_ref(), Some(error), "{wire:x?}");
        // Nothing more is read after a failure.
        assert_eq!(
            proto.receive(&mut BytesMut::from(&frame(0x81, b"x")[..])),
            Ok(None)
        );
    }
}

#[test]
fn only_the_latest_ping_is_answered() {
    let mut proto = Protocol::new(&FrameLimits::default());
    let wire = [frame(0x89, b"1"), frame(0x89, b"2"), frame(0x8A, b"p")].concat();
    let (events, _) = run(&mut proto, &wire);
    assert_eq!(
        events,
        [
            Event::Ping(Bytes::from_static(b"1")),
            Event::Ping(Bytes::from_static(b"2")),
            Event::Pong(Bytes::from_static(b"p"))
        ]
    );
    let mut out = BytesMut::new();
    assert!(proto.transmit_control(&mut out));
    assert_eq!(&out[..], &[0x8A, 1, b'2']);
    assert!(!proto.transmit_control(&mut out));
}

#[test]
fn closing_handshake() {
    // We close first: data after it is dropped, the peer's Close ends it.
    let mut proto = Protocol::new(&FrameLimits::default());
    let mut out = BytesMut::new();
    let refused = Message::Close(Some(CloseFrame::new(CloseCode::ABNORMAL, "")));
    assert_eq!(
        proto.send(refused, &mut out),
        Err(SendError::InvalidCloseCode(1006))
    );
    assert!(out.is_empty());
    proto.send(Message::Close(None), &mut out).unwrap();
    assert_eq!(proto.state(), CloseState::CloseSent);
    let wire = [frame(0x81, b"late"), frame(0x89, b""), frame(0x88, b"")].concat();
    let (events, _) = run(&mut proto, &wire);
    assert_eq!(events, [Event::Ping(Bytes::new()), Event::Close(None)]);
    assert_eq!(proto.state(), CloseState::Closed);
    assert!(!proto.transmit_control(&mut out), "no Pong after our Close");
    // The peer closes first: its code comes back, once.
    let mut proto = Protocol::new(&FrameLimits::default());
    let (events, _) = run(&mut proto, &frame(0x88, &[0x0F, 0xA0, b'x']));
    assert_eq!(events.len(), 1);
    assert_eq!(proto.state(), CloseState::CloseReceived);
    let reply = proto.take_close_reply().unwrap();
    assert_eq!(proto.take_close_reply(), None);
    assert_eq!(
        proto
            .send(Message::text("queued before"), &mut out)
            .map(|b| b.len()),
        Ok(0)
    );
    out.clear();
    proto.send(reply, &mut out).unwrap();
    assert_eq!(&out[..], &[0x88, 2, 0x0F, 0xA0]);
    assert_eq!(proto.state(), CloseState::Closed);
}

#[test]
fn large_payloads_are_handed_back_uncopied() {
    let mut encoder = Encoder::new();
    let mut out = BytesMut::new();
    let big = Bytes::from(vec![1; COPY_MAX + 1]);
    let rest = encoder
        .encode(Message::Binary(big.clone()), &mut out)
        .unwrap();
    assert_eq!(&out[..], &[0x82, 126, 0x10, 0x01]);
    assert_eq!(rest.as_ptr(), big.as_ptr());
    out.clear();
    let rest = encoder.encode(Message::text("small"), &mut out).unwrap();
    assert!(rest.is_empty());
    assert_eq!(&out[..], b"\x81\x05small");
}

#[cfg(feature = "deflate")]
#[test]
fn compressed_messages_round_trip_and_are_bounded_after_inflation() {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "sec-websocket-extensions",
        "permessage-deflate".parse().unwrap(),
    );
    let offers = crate::websocket::extensions::parse_offers(&headers);
    let config = crate::websocket::DeflateConfig::new();
    let agreed = crate::websocket::deflate::negotiate(&config, &offers).unwrap();
    let text = "hello hello hello hello hello ".repeat(20);
    // Our own encoder's output (unmasked), masked as a client would.
    let mut out = BytesMut::new();
    let mut encoder = Encoder::new().with_deflate(compress::Deflate::new(&agreed, &config));
    encoder
        .encode(Message::text(text.clone()), &mut out)
        .unwrap();
    assert_eq!(out[0], 0xC1, "RSV1 on a compressed message");
    let payload = out[2..].to_vec();
    let wire = frame(0xC1, &payload);
    let mut proto = Protocol::new(&limits(1 << 20, 1 << 20)).with_deflate(&agreed, &config);
    let (events, error) = run(&mut proto, &wire);
    assert_eq!(error, None);
    assert_eq!(events, [Event::Message(Message::text(text.clone()))]);
    // The same message over a smaller limit: 1009 after inflation.
    let mut proto = Protocol::new(&limits(100, 1 << 20)).with_deflate(&agreed, &config);
    let (_, error) = run(&mut proto, &wire);
    assert_eq!(error, Some(ProtocolError::TooBig { limit: 100 }));
}
