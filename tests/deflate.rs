//! permessage-deflate (RFC 7692) end to end, in-process over
//! `tokio::io::duplex`: the handshake's answer to real offers, compressed
//! echo through the yawc backend against a yawc client, limits after
//! decompression, and the tungstenite path that never negotiates.

#![cfg(feature = "yawc")]

use std::convert::Infallible;

use futures_util::SinkExt;
use http::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody, TestIo};
use tower_upgrade::websocket::yawc::close::CloseCode;
use tower_upgrade::websocket::yawc::{self, Frame, OpCode, Options, Role};
use tower_upgrade::websocket::{DeflateConfig, WebSocketConfig};
use tower_upgrade::{UpgradeLayer, Upgraded};

mod common;
use common::{ws_echo, ws_echo_yawc};

type Inner = tower::util::BoxCloneSyncService<Request<TestBody>, Response<String>, Infallible>;

fn inner() -> Inner {
    tower::util::BoxCloneSyncService::new(service_fn(|_: Request<TestBody>| async {
        Ok(Response::new(String::from("not an upgrade")))
    }))
}

fn yawc_app(settings: WebSocketConfig) -> tower_upgrade::Upgrade<Inner> {
    UpgradeLayer::new()
        .websocket(settings, service_fn(ws_echo_yawc))
        .layer(inner())
}

/// Context takeover both ways (not the default): the answer echoes only what
/// the offer asked for, and each side keeps its window between messages.
fn takeover() -> DeflateConfig {
    DeflateConfig::new()
        .server_no_context_takeover(false)
        .client_no_context_takeover(false)
}

fn deflate_app() -> tower_upgrade::Upgrade<Inner> {
    yawc_app(WebSocketConfig::new().permessage_deflate(takeover()))
}

/// Upgrades with `offer` in `Sec-WebSocket-Extensions` (none when empty);
/// returns the extension the server answered with and the client's IO.
async fn handshake(app: tower_upgrade::Upgrade<Inner>, offer: &str) -> (Option<String>, TestIo) {
    let mut request = Request::get("/ws")
        .header("host", "example.com")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13");
    if !offer.is_empty() {
        request = request.header("sec-websocket-extensions", offer);
    }
    let response = testing::send(app, request.body(String::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 101, "offer {offer:?}");
    let agreed = response
        .headers()
        .get("sec-websocket-extensions")
        .map(|v| v.to_str().unwrap().to_owned());
    (agreed, response.into_io().unwrap())
}

/// A yawc client that honours what the server agreed to.
fn client(io: TestIo, agreed: Option<&str>) -> yawc::WebSocket<TestIo> {
    let options = Options::default()
        .with_utf8()
        .with_max_payload_read(8 << 20)
        .with_max_read_buffer(8 << 20)
        .with_balanced_compression()
        // yawc 0.5 loops compressing an empty message after an earlier one.
        .with_compression_threshold(1);
    yawc::WebSocket::from_stream_with_extensions(io, Role::Client, agreed, options).unwrap()
}

/// JSON-like text that compresses well and varies from message to message.
fn json(i: usize, len: usize) -> String {
    let mut s = String::from("[");
    let mut n = 0;
    while s.len() < len {
        s.push_str(&format!(
            r#"{{"id":{},"user":"user-{}","status":"online","score":{}}},"#,
            i * 1000 + n,
            n % 17,
            (n * 7919) % 1000
        ));
        n += 1;
    }
    s.push(']');
    s
}

async fn echo_round_trip(ws: &mut yawc::WebSocket<TestIo>, messages: &[String]) {
    for message in messages {
        ws.send(Frame::text(message.clone())).await.unwrap();
        let frame = ws.next_frame().await.unwrap();
        assert_eq!(frame.opcode(), OpCode::Text);
        assert_eq!(frame.as_str(), message.as_str());
    }
}

#[tokio::test]
async fn chromium_offer_is_accepted_and_messages_are_compressed_both_ways() {
    // What Chromium sends: the answer carries no parameter the client did
    // not need (RFC 7692 §7.1.2.2: client_max_window_bits is optional).
    let (agreed, io) = handshake(deflate_app(), "permessage-deflate; client_max_window_bits").await;
    assert_eq!(agreed.as_deref(), Some("permessage-deflate"));
    let mut ws = client(io, agreed.as_deref());
    let messages: Vec<String> = (0..20).map(|i| json(i, 200 + i * 300)).collect();
    echo_round_trip(&mut ws, &messages).await;
    ws.send(Frame::binary(vec![7u8; 100_000])).await.unwrap();
    let frame = ws.next_frame().await.unwrap();
    assert_eq!(
        (frame.opcode(), frame.payload().len()),
        (OpCode::Binary, 100_000)
    );
    assert!(frame.payload().iter().all(|&b| b == 7));
}

#[tokio::test]
async fn the_server_sets_rsv1_on_what_it_sends() {
    let (agreed, mut io) = handshake(deflate_app(), "permessage-deflate").await;
    assert_eq!(agreed.as_deref(), Some("permessage-deflate"));
    // An uncompressed, masked text frame (RFC 7692 §6: RSV1 clear means
    // the message is not compressed, which a client may always send).
    let payload = b"hello hello hello hello hello hello";
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    io.write_all(&frame).await.unwrap();
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await.unwrap();
    // FIN, RSV1 (compressed), text; unmasked, and shorter than the input.
    assert_eq!(head[0], 0xC1);
    assert!(usize::from(head[1]) < payload.len(), "{head:?}");
}

#[tokio::test]
async fn server_settings_without_context_takeover_and_small_windows() {
    let config = DeflateConfig::new()
        .server_no_context_takeover(true)
        .client_no_context_takeover(true)
        .server_max_window_bits(10)
        .unwrap()
        .client_max_window_bits(9)
        .unwrap()
        .compression_level(6)
        .unwrap();
    let app = yawc_app(WebSocketConfig::new().permessage_deflate(config));
    let (agreed, io) = handshake(app.clone(), "permessage-deflate; client_max_window_bits").await;
    assert_eq!(
        agreed.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9")
    );
    let mut ws = client(io, agreed.as_deref());
    // Larger than both windows, so the window sizes matter on both sides.
    let messages: Vec<String> = (0..10).map(|i| json(i, 20_000)).collect();
    echo_round_trip(&mut ws, &messages).await;

    // Two connections at once share the registration's pool of deflate state.
    let (agreed2, io2) = handshake(app, "permessage-deflate").await;
    let mut ws2 = client(io2, agreed2.as_deref());
    echo_round_trip(&mut ws2, &messages[..3]).await;
    echo_round_trip(&mut ws, &messages[..3]).await;
}

#[tokio::test]
async fn unacceptable_offers_are_declined_without_failing_the_handshake() {
    for offer in [
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; unknown_parameter",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "x-webkit-deflate-frame",
    ] {
        let (agreed, io) = handshake(deflate_app(), offer).await;
        assert_eq!(agreed, None, "offer {offer:?}");
        let mut ws = client(io, None);
        echo_round_trip(&mut ws, &[json(0, 1000)]).await;
    }
    // The first acceptable offer wins.
    let (agreed, _) = handshake(
        deflate_app(),
        "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=11, permessage-deflate",
    )
    .await;
    assert_eq!(
        agreed.as_deref(),
        Some("permessage-deflate; server_max_window_bits=11")
    );
}

#[tokio::test]
async fn a_message_over_the_limit_after_decompression_closes_with_1009() {
    let app = yawc_app(
        WebSocketConfig::new()
            .max_message_size(64 * 1024)
            .permessage_deflate(DeflateConfig::new()),
    );
    let (agreed, io) = handshake(app, "permessage-deflate").await;
    let mut ws = client(io, agreed.as_deref());
    // Within the limit: echoed.
    echo_round_trip(&mut ws, &["a".repeat(64 * 1024)]).await;
    // 16 MiB of zeros deflate to about 16 KiB on the wire: a bomb the server
    // must stop inflating at the limit.
    ws.send(Frame::binary(vec![0u8; 16 << 20])).await.unwrap();
    let frame = ws.next_frame().await.unwrap();
    assert_eq!(frame.opcode(), OpCode::Close);
    assert_eq!(frame.close_code(), Some(CloseCode::Size));
}

#[tokio::test]
async fn the_handler_sees_the_agreed_parameters() {
    let app = UpgradeLayer::new()
        .websocket(
            WebSocketConfig::new().permessage_deflate(takeover()),
            service_fn(|conn: Upgraded| async move {
                let agreed = conn.permessage_deflate().copied();
                let mut ws = conn.into_yawc()?;
                let text = match agreed {
                    Some(agreed) => format!(
                        "{agreed} | server {} bits, client {} bits",
                        agreed.server_window_bits(),
                        agreed.client_window_bits()
                    ),
                    None => "none".to_owned(),
                };
                ws.send(Frame::text(text)).await
            }),
        )
        .layer(inner());
    let (agreed, io) = handshake(app, "permessage-deflate; client_max_window_bits=12").await;
    let mut ws = client(io, agreed.as_deref());
    let frame = ws.next_frame().await.unwrap();
    assert_eq!(
        frame.as_str(),
        "permessage-deflate; client_max_window_bits=12 | server 15 bits, client 12 bits"
    );
}

#[tokio::test]
async fn deflate_is_off_by_default_and_never_offered_on_the_tungstenite_path() {
    let offer = "permessage-deflate; client_max_window_bits";
    // The yawc backend without the setting: no compression.
    let (agreed, io) = handshake(yawc_app(WebSocketConfig::new()), offer).await;
    assert_eq!(agreed, None);
    echo_round_trip(&mut client(io, None), &[json(1, 500)]).await;

    // tungstenite: the default registration never answers the offer.
    let app = UpgradeLayer::new()
        .websocket(WebSocketConfig::new(), service_fn(ws_echo))
        .layer(inner());
    let (agreed, io) = handshake(app, offer).await;
    assert_eq!(agreed, None);
    echo_round_trip(&mut client(io, None), &[json(2, 500)]).await;
}

/// A masked client frame.
fn client_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [9u8, 8, 7, 6];
    let mut frame = vec![first_byte, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one server frame; returns its first byte and payload.
async fn server_frame(io: &mut TestIo) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await.unwrap();
    assert!(head[1] < 126, "short frames only: {head:?}");
    let mut payload = vec![0u8; usize::from(head[1])];
    io.read_exact(&mut payload).await.unwrap();
    (head[0], payload)
}

#[tokio::test]
async fn errors_found_after_reassembly_still_close_with_their_code() {
    // Text that is not UTF-8, in two fragments: yawc finds it only once the
    // message is whole (RFC 6455 §8.1: close code 1007).
    let (_, mut io) = handshake(deflate_app(), "").await;
    io.write_all(&client_frame(0x01, b"ab\xF0\x9F"))
        .await
        .unwrap();
    io.write_all(&client_frame(0x80, b"\xFF")).await.unwrap();
    let (first, payload) = server_frame(&mut io).await;
    assert_eq!(first, 0x88, "a Close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1007);

    // Fragments over the limit once reassembled: 1009.
    let app = yawc_app(WebSocketConfig::new().max_message_size(100));
    let (_, mut io) = handshake(app, "").await;
    io.write_all(&client_frame(0x02, &[1; 60])).await.unwrap();
    io.write_all(&client_frame(0x80, &[2; 60])).await.unwrap();
    let (first, payload) = server_frame(&mut io).await;
    assert_eq!(first, 0x88, "a Close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1009);
    // Exactly one Close, then the end of the stream.
    let mut rest = Vec::new();
    io.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"");
}

#[tokio::test]
async fn empty_messages_after_compressed_ones() {
    // yawc 0.5 never finishes compressing an empty message once its context
    // holds an earlier one; the server sends empty messages uncompressed.
    let (agreed, io) = handshake(deflate_app(), "permessage-deflate").await;
    let mut ws = client(io, agreed.as_deref());
    let messages = [
        String::new(),
        "x".repeat(100),
        String::new(),
        json(1, 500),
        String::new(),
    ];
    echo_round_trip(&mut ws, &messages).await;
}
