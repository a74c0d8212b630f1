//! The request's limits: an upgrade whose body does not arrive in time gets
//! `408` with `Connection: close` (RFC 9110 §15.5.9), not `400`; a
//! negotiation header field over its bound gets `431` naming the field
//! (RFC 6585 §5), never a switch agreed on part of it. In-process, over
//! HTTP/1.1 and HTTP/2.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody};
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::UpgradeLayer;

mod support;
use support::done;

const MAX: usize = UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES;

fn layer() -> UpgradeLayer {
    UpgradeLayer::new()
        .websocket(
            WebSocketConfig::new().subprotocols(["chat"]),
            service_fn(done),
        )
        .protocol("p/1", service_fn(done))
}

type Inner = tower::util::BoxCloneSyncService<Request<TestBody>, Response<String>, Infallible>;

fn app() -> tower_upgrade::Upgrade<Inner> {
    layer().layer(Inner::new(service_fn(|_: Request<TestBody>| async {
        Ok::<_, Infallible>(Response::new(String::from("inner")))
    })))
}

/// The response head, then everything up to the server's end of the
/// connection.
async fn head_and_rest(io: &mut (impl tokio::io::AsyncRead + Unpin)) -> (String, String) {
    let mut all = Vec::new();
    io.read_to_end(&mut all).await.unwrap();
    let text = String::from_utf8(all).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").expect("a response head");
    (head.to_ascii_lowercase(), rest.to_owned())
}

/// RFC 9110 §15.5.9: two bytes of a declared ten, then nothing. Time is
/// paused, so tokio moves the clock to the handshake timeout once every
/// task waits: the test does not depend on how fast it runs. The server
/// answers 408 with `Connection: close`, then closes: `read_to_end`
/// returning is the proof.
#[tokio::test(start_paused = true)]
async fn a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes() {
    let app = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .handshake_timeout(Duration::from_secs(10))
        .layer(service_fn(|_: Request<TestBody>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let mut client = testing::connect(app);
    client
        .write_all(
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: p/1\r\n\
              content-length: 10\r\n\r\nab",
        )
        .await
        .unwrap();
    let (head, body) = head_and_rest(&mut client).await;
    assert!(head.starts_with("http/1.1 408 "), "{head}");
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert_eq!(body, "the upgrade request's body did not arrive in time");
}

/// Over HTTP/1.1, each negotiation field over the bound, at 64 KiB and just
/// past the bound, in one line or split across two: 431 naming the field,
/// and no switch.
#[tokio::test]
async fn over_long_negotiation_fields_get_431_over_http1() {
    let fields: [(&str, &str, &str); 4] = [
        ("connection", "upgrade", "Connection"),
        ("upgrade", "websocket", "Upgrade"),
        ("sec-websocket-protocol", "chat", "Sec-WebSocket-Protocol"),
        (
            "sec-websocket-extensions",
            "permessage-deflate",
            "Sec-WebSocket-Extensions",
        ),
    ];
    for (name, useful, words) in fields {
        for (size, lines) in [(64 * 1024, 1), (MAX + 1, 1), (MAX + 2, 2)] {
            let filler = size - useful.len() - 2 * lines;
            let line = |part: usize| {
                let mut value = format!("{useful}, {}", "x".repeat(filler / lines));
                if part == 0 {
                    value.push_str(&"x".repeat(filler % lines));
                }
                value
            };
            let mut request = Request::get("/ws")
                .header("host", "example.com")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
                .header("sec-websocket-version", "13");
            for (other, value) in [("connection", "upgrade"), ("upgrade", "websocket")] {
                if other != name {
                    request = request.header(other, value);
                }
            }
            for part in 0..lines {
                request = request.header(name, line(part));
            }
            let request = request.body(String::new()).unwrap();
            let total: usize = request
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.len())
                .sum();
            assert!(total > MAX, "{name}: {total}");

            let response = testing::send(app(), request).await.unwrap();
            assert_eq!(response.status(), 431, "{name} {size}");
            let body = std::str::from_utf8(response.body()).unwrap();
            assert!(body.contains(words), "{name}: {body}");
            assert!(response.into_io().is_none(), "{name}: switched");
        }
    }
}

/// At the bound the fields are read as ever: the switch happens.
#[tokio::test]
async fn negotiation_fields_at_the_bound_still_switch() {
    let pad = |useful: &str| format!("{useful},{}", "x".repeat(MAX - useful.len() - 1));
    let request = Request::get("/ws")
        .header("host", "example.com")
        .header("connection", pad("upgrade"))
        .header("upgrade", pad("websocket"))
        .header("sec-websocket-protocol", pad("chat"))
        .header("sec-websocket-extensions", pad("permessage-deflate"))
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(String::new())
        .unwrap();
    let response = testing::send(app(), request).await.unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
}

/// A request that asks for no protocol offered here is not the layer's to
/// judge: it reaches the inner service whatever its fields' length.
#[tokio::test]
async fn an_upgrade_to_nothing_offered_passes_through_whatever_its_length() {
    let request = Request::get("/")
        .header("connection", format!("upgrade, {}", "x".repeat(64 * 1024)))
        .header("upgrade", "other/1")
        .body(String::new())
        .unwrap();
    let response = testing::send(app(), request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"inner");
}

/// Over HTTP/2 extended CONNECT (RFC 8441 §4) there is no `Connection` or
/// `Upgrade`; the WebSocket fields are bounded as over HTTP/1.1. Just past
/// the bound, well under hyper's own limit on a header list.
#[tokio::test]
async fn over_long_websocket_fields_get_431_over_http2() {
    let mut sender = support::http2_client(layer()).await;

    for (name, useful, words, expected) in [
        ("sec-websocket-protocol", "chat", "", 200),
        ("sec-websocket-extensions", "permessage-deflate", "", 200),
        (
            "sec-websocket-protocol",
            "chat",
            "Sec-WebSocket-Protocol",
            431,
        ),
        (
            "sec-websocket-extensions",
            "permessage-deflate",
            "Sec-WebSocket-Extensions",
            431,
        ),
    ] {
        let size = if expected == 200 { MAX } else { MAX + 1 };
        let value = format!("{useful},{}", "x".repeat(size - useful.len() - 1));
        let request = support::extended_connect("http://example.com/ws")
            .header(name, value)
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), expected, "{name} of {size} bytes");
        if expected == 431 {
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert!(body.contains(words), "{name}: {body}");
        }
    }
}
