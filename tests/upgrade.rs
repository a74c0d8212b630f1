//! Whole upgrades, in-process over `tokio::io::duplex`, with hyper on both
//! sides.

#![allow(clippy::type_complexity)] // tables of cases

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tower::{service_fn, Layer, ServiceBuilder, ServiceExt};
use tower_upgrade::rejection::Rejection;
use tower_upgrade::testing::{self, TestBody};
use tower_upgrade::websocket::{WebSocketConfig, WebSocketRejection};
use tower_upgrade::{UpgradeLayer, Upgraded};

mod support;
use support::ws::ws_echo;
use support::{done, empty_inner, respond_to, upgrade_request};

type Inner = tower::util::BoxCloneSyncService<Request<TestBody>, Response<String>, Infallible>;

/// An inner service that says what it saw.
fn inner() -> Inner {
    tower::util::BoxCloneSyncService::new(service_fn(|req: Request<TestBody>| async move {
        let upgrade = req
            .headers()
            .get("upgrade")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Ok(Response::new(format!(
            "inner saw upgrade={upgrade:?} body={}",
            String::from_utf8_lossy(&body)
        )))
    }))
}

/// Echoes raw bytes; first writes the protocol token it was given.
async fn raw_echo(mut conn: Upgraded) -> std::io::Result<()> {
    let token = format!("{}\n", conn.negotiated().protocol());
    conn.write_all(token.as_bytes()).await?;
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n]).await?;
    }
}

fn ws_request() -> http::request::Builder {
    Request::get("/ws")
        .header("host", "example.com")
        .header("connection", "keep-alive, Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
}

fn ws_app(
    settings: WebSocketConfig,
) -> tower_upgrade::Upgrade<Inner, tower_upgrade::rejection::PlainTextRejection> {
    UpgradeLayer::new()
        .websocket(settings, service_fn(ws_echo))
        .layer(inner())
}

#[tokio::test]
async fn websocket_echo_in_process() {
    let app = ws_app(WebSocketConfig::new().subprotocols(["echo"]));
    let request = ws_request()
        .header("sec-websocket-protocol", "other, echo")
        .body(String::new())
        .unwrap();
    let response = testing::send(app, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers();
    assert_eq!(headers["connection"], "upgrade");
    assert_eq!(headers["upgrade"], "websocket");
    assert_eq!(
        headers["sec-websocket-accept"],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(headers["sec-websocket-protocol"], "echo");
    assert!(headers.get("content-length").is_none());
    assert!(headers.get("sec-websocket-extensions").is_none());

    let io = response.into_io().unwrap();
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Client, None).await;
    ws.send(Message::text("héllo")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("héllo"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn the_switch_response_has_no_body_and_no_content_length() {
    let app = ws_app(WebSocketConfig::new());
    let mut io = testing::connect(app);
    io.write_all(
        b"GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut io).await;
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("content-length"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
}

/// Reads one response head, byte by byte so nothing after it is consumed.
async fn read_head(io: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(io.read_u8().await.expect("a response head"));
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn rejections_reach_the_client_with_status_reason_and_headers() {
    let app = ws_app(
        WebSocketConfig::new()
            .subprotocols(["echo"])
            .require_subprotocol(true),
    );
    let cases: Vec<(&str, Request<String>, u16, Option<(&str, &str)>)> = vec![
        (
            "version 8",
            ws_request()
                .header("sec-websocket-protocol", "echo")
                .version(Version::HTTP_11)
                .body(String::new())
                .map(|r| with_header(r, "sec-websocket-version", "8"))
                .unwrap(),
            426,
            Some(("sec-websocket-version", "13")),
        ),
        (
            "cross-site origin",
            ws_request()
                .header("sec-websocket-protocol", "echo")
                .header("origin", "https://evil.example")
                .body(String::new())
                .unwrap(),
            403,
            None,
        ),
        (
            "no shared subprotocol",
            ws_request()
                .header("sec-websocket-protocol", "chat")
                .body(String::new())
                .unwrap(),
            400,
            None,
        ),
        (
            "POST",
            ws_request()
                .method("POST")
                .header("sec-websocket-protocol", "echo")
                .body(String::new())
                .unwrap(),
            405,
            Some(("allow", "GET")),
        ),
        (
            "bad key",
            ws_request()
                .header("sec-websocket-protocol", "echo")
                .body(String::new())
                .map(|r| with_header(r, "sec-websocket-key", "short"))
                .unwrap(),
            400,
            None,
        ),
    ];
    for (name, request, status, header) in cases {
        let response = testing::send(app.clone(), request).await.unwrap();
        assert_eq!(response.status(), status, "{name}");
        assert!(
            !response.body().is_empty(),
            "{name}: the reason is in the body"
        );
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; charset=utf-8"
        );
        if let Some((h, v)) = header {
            assert_eq!(response.headers()[h], v, "{name}");
        }
    }
}

fn with_header(
    mut req: Request<String>,
    name: &'static str,
    value: &'static str,
) -> Request<String> {
    req.headers_mut()
        .insert(name, http::HeaderValue::from_static(value));
    req
}

#[tokio::test]
async fn the_typed_rejection_is_in_the_response_extensions() {
    let app = ws_app(WebSocketConfig::new());
    let request = ws_request()
        .header("origin", "null")
        .body(TestBody::default())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let rejection = response.extensions().get::<Rejection>().unwrap();
    assert!(matches!(rejection, Rejection::Protocol(_)));
    assert_eq!(
        rejection.downcast_ref::<WebSocketRejection>(),
        Some(&WebSocketRejection::ForbiddenOrigin)
    );
}

#[tokio::test]
async fn a_connection_without_upgrade_support_gets_501_not_a_hang() {
    // Called directly, not through hyper: there is no upgrade handle.
    let app = ws_app(WebSocketConfig::new());
    let request = ws_request().body(TestBody::default()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("cannot be upgraded"));
}

#[tokio::test]
async fn ordinary_requests_pass_through_untouched() {
    let app = ws_app(WebSocketConfig::new());
    let cases = [
        (
            "plain GET",
            Request::get("/")
                .header("host", "x")
                .body("b".to_owned())
                .unwrap(),
            "upgrade=None body=b",
        ),
        (
            "Upgrade without the Connection token",
            Request::get("/")
                .header("host", "x")
                .header("upgrade", "websocket")
                .body(String::new())
                .unwrap(),
            "upgrade=Some(\"websocket\") body=",
        ),
        (
            "a protocol that is not offered",
            Request::get("/")
                .header("host", "x")
                .header("connection", "upgrade")
                .header("upgrade", "foo/1")
                .body("data".to_owned())
                .unwrap(),
            "upgrade=Some(\"foo/1\") body=data",
        ),
    ];
    for (name, request, expected) in cases {
        let response = testing::send(app.clone(), request).await.unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.body(), &format!("inner saw {expected}"), "{name}");
    }

    // HTTP/1.0 has no upgrades (RFC 9110 §7.8).
    let mut io = testing::connect(app);
    io.write_all(
        b"GET /ws HTTP/1.0\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut response = String::new();
    io.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.0 200 OK"), "{response}");
    assert!(
        response.ends_with("inner saw upgrade=Some(\"websocket\") body="),
        "{response}"
    );
}

#[tokio::test]
async fn require_upgrade_answers_426_listing_protocols() {
    let app = UpgradeLayer::new()
        .websocket(WebSocketConfig::new(), service_fn(ws_echo))
        .protocol("linecount/1", service_fn(raw_echo))
        .require_upgrade(true)
        .layer(inner());
    let request = Request::get("/")
        .header("host", "x")
        .body(String::new())
        .unwrap();
    let response = testing::send(app, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(response.headers()["upgrade"], "websocket, linecount/1");
    assert_eq!(response.headers()["connection"], "upgrade");
}

fn raw_app() -> tower_upgrade::Upgrade<Inner, tower_upgrade::rejection::PlainTextRejection> {
    UpgradeLayer::new()
        .protocol("linecount/1", service_fn(raw_echo))
        .protocol("any", service_fn(raw_echo))
        .max_request_body(16)
        .layer(inner())
}

#[tokio::test]
async fn custom_protocol_sees_the_exact_token_and_versions_are_matched() {
    let cases = [
        ("LineCount/1", Some("LineCount/1")),
        ("linecount/2", None),
        ("linecount", None),
        ("any/7", Some("any/7")),
        ("ANY", Some("ANY")),
        ("linecount/2, any/3", Some("any/3")),
    ];
    for (offer, expected) in cases {
        let request = Request::get("/")
            .header("host", "x")
            .header("connection", "upgrade")
            .header("upgrade", offer)
            .body(String::new())
            .unwrap();
        let response = testing::send(raw_app(), request).await.unwrap();
        match expected {
            Some(token) => {
                assert_eq!(response.status(), 101, "{offer}");
                assert_eq!(response.headers()["upgrade"], token);
                let mut io = BufReader::new(response.into_io().unwrap());
                let mut line = String::new();
                io.read_line(&mut line).await.unwrap();
                assert_eq!(line, format!("{token}\n"));
            }
            None => assert_eq!(response.status(), 200, "{offer}: passes through"),
        }
    }
}

#[tokio::test]
async fn expect_100_continue_body_is_read_before_the_switch_and_not_passed_on() {
    let mut io = testing::connect(raw_app());
    io.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: linecount/1\r\n\
          Expect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut io).await;
    assert!(head.starts_with("HTTP/1.1 100 Continue"), "{head}");
    io.write_all(b"hello").await.unwrap();
    let head = read_head(&mut io).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut io = BufReader::new(io);
    let mut line = String::new();
    io.read_line(&mut line).await.unwrap();
    assert_eq!(line, "linecount/1\n");
    io.write_all(b"after\n").await.unwrap();
    line.clear();
    io.read_line(&mut line).await.unwrap();
    assert_eq!(line, "after\n", "the body never reaches the new protocol");
}

#[tokio::test]
async fn pipelined_bytes_after_the_body_reach_the_handler() {
    let mut io = testing::connect(raw_app());
    // Body `hello` then, in the same write, the first bytes of the new protocol.
    io.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: linecount/1\r\n\
          Content-Length: 5\r\n\r\nhellofirst\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut io).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut io = BufReader::new(io);
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        io.read_line(&mut line).await.unwrap();
        lines.push(line);
    }
    assert_eq!(lines, ["linecount/1\n", "first\n"]);
}

#[tokio::test]
async fn a_body_over_the_bound_gets_413_and_no_switch() {
    let request = Request::post("/")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", "linecount/1")
        .body("x".repeat(17))
        .unwrap();
    let response = testing::send(raw_app(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(response.into_io().is_none());
}

#[tokio::test]
async fn a_failing_or_panicking_handler_disturbs_nothing_else() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = UpgradeLayer::new()
        .protocol(
            "fail",
            service_fn(|_: Upgraded| async {
                Err::<(), _>(std::io::Error::other("handler failed"))
            }),
        )
        .protocol(
            "panic",
            service_fn(|_: Upgraded| async {
                panic!("handler panicked");
                #[allow(unreachable_code)]
                Ok::<(), Infallible>(())
            }),
        )
        .protocol(
            "ok",
            service_fn(move |conn: Upgraded| {
                counted.fetch_add(1, Ordering::SeqCst);
                raw_echo(conn)
            }),
        );
    let connections = app.connections();
    let app = app.layer(inner());
    for protocol in ["fail", "panic", "ok"] {
        let request = Request::get("/")
            .header("host", "x")
            .header("connection", "upgrade")
            .header("upgrade", protocol)
            .body(String::new())
            .unwrap();
        let response = testing::send(app.clone(), request).await.unwrap();
        assert_eq!(response.status(), 101, "{protocol}");
        let mut io = response.into_io().unwrap();
        let mut first = String::new();
        let _ = (&mut io).take(3).read_to_string(&mut first).await;
        if protocol == "ok" {
            assert_eq!(first, "ok\n");
        } else {
            assert_eq!(first, "", "{protocol}: the connection is closed");
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let plain = Request::get("/")
        .header("host", "x")
        .body(String::new())
        .unwrap();
    assert_eq!(testing::send(app, plain).await.unwrap().status(), 200);
    connections.shutdown();
    assert!(connections.wait_closed(Duration::from_secs(10)).await);
}

#[derive(Clone, Debug, PartialEq)]
struct User(&'static str);

#[tokio::test]
async fn extensions_set_by_earlier_layers_reach_the_handler() {
    let app = ServiceBuilder::new()
        .map_request(|mut req: Request<TestBody>| {
            req.extensions_mut().insert(User("ada"));
            req
        })
        .layer(UpgradeLayer::new().protocol(
            "whoami",
            service_fn(|mut conn: Upgraded| async move {
                let user = conn.parts().extensions.get::<User>().cloned();
                let path = conn.parts().uri.path().to_owned();
                conn.write_all(format!("{user:?} {path}").as_bytes())
                    .await?;
                conn.shutdown().await
            }),
        ))
        .service(inner());
    let request = Request::get("/me?x=1")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", "whoami")
        .body(String::new())
        .unwrap();
    let response = testing::send(app, request).await.unwrap();
    let mut said = String::new();
    response
        .into_io()
        .unwrap()
        .read_to_string(&mut said)
        .await
        .unwrap();
    assert_eq!(said, "Some(User(\"ada\")) /me");
}

#[tokio::test]
async fn connection_limits_answer_503_with_retry_after() {
    let layer = UpgradeLayer::new()
        .protocol("held", service_fn(raw_echo))
        .protocol("other", service_fn(raw_echo))
        .max_connections(1)
        .max_connections_for("other", 5)
        .retry_after(Duration::from_secs(7));
    let connections = layer.connections();
    let app = layer.layer(inner());
    let request = || {
        Request::get("/")
            .header("host", "x")
            .header("connection", "upgrade")
            .header("upgrade", "held")
            .body(String::new())
            .unwrap()
    };
    let first = testing::send(app.clone(), request()).await.unwrap();
    assert_eq!(first.status(), 101);
    let mut first_io = BufReader::new(first.into_io().unwrap());
    let mut line = String::new();
    first_io.read_line(&mut line).await.unwrap();
    assert_eq!(connections.active(), 1);
    assert_eq!(connections.active_for("held"), 1);
    assert_eq!(connections.active_for("other"), 0);

    let second = testing::send(app.clone(), request()).await.unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "7");

    drop(first_io);
    assert!(connections.wait_closed(Duration::from_secs(10)).await);
    assert_eq!(connections.active(), 0);
    assert_eq!(testing::send(app, request()).await.unwrap().status(), 101);
}

#[tokio::test]
async fn shutdown_signals_handlers_and_waits_for_them() {
    let layer = UpgradeLayer::new().protocol(
        "wait",
        service_fn(|mut conn: Upgraded| async move {
            conn.write_all(b"ready\n").await?;
            conn.shutdown_signal().wait().await;
            conn.write_all(b"bye\n").await?;
            conn.shutdown().await
        }),
    );
    let connections = layer.connections();
    let app = layer.layer(inner());
    let request = Request::get("/")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", "wait")
        .body(String::new())
        .unwrap();
    let mut io = testing::send(app.clone(), request)
        .await
        .unwrap()
        .into_io()
        .unwrap();
    let mut ready = [0u8; 6];
    io.read_exact(&mut ready).await.unwrap();
    assert_eq!(connections.active(), 1);
    connections.shutdown();
    let mut rest = String::new();
    io.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "bye\n");
    assert!(connections.wait_closed(Duration::from_secs(10)).await);

    // After shutdown, new upgrades are refused.
    let again = Request::get("/")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", "wait")
        .body(String::new())
        .unwrap();
    assert_eq!(testing::send(app, again).await.unwrap().status(), 503);
}

#[tokio::test]
async fn render_rejection_hook_is_used_and_required_headers_kept() {
    let app = UpgradeLayer::new()
        .websocket(WebSocketConfig::new(), service_fn(ws_echo))
        .render_rejection(|r: &Rejection| {
            Response::builder()
                .status(r.status())
                .header("content-type", "application/json")
                .body(Bytes::from(format!("{{\"error\":\"{}\"}}", r.reason())))
                .unwrap()
        })
        .layer(inner());
    let request = with_header(
        ws_request().body(String::new()).unwrap(),
        "sec-websocket-version",
        "7",
    );
    let response = testing::send(app, request).await.unwrap();
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert!(response.body().starts_with(b"{\"error\":"));
}

#[test]
fn services_futures_and_handlers_are_send() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Send + Sync>(_: &T) {}
    let app = ws_app(WebSocketConfig::new());
    sync(&app);
    let future = app.clone().oneshot(Request::new(TestBody::default()));
    send(&future);
    let layer = UpgradeLayer::new();
    sync(&layer);
    fn handler_future_is_send(conn: Upgraded) {
        send(&ws_echo(conn));
    }
    let _ = handler_future_is_send;
}

/// Issue 9, defect 1: `max_connections` set on a clone changed every sibling, because
/// the limit lived in the shared `Connections`.
#[tokio::test]
async fn a_clone_setting_max_connections_leaves_the_original_alone() {
    let original = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .max_connections(1);
    let closed = original.clone().max_connections(0);

    let response = testing::send(original.layer(empty_inner()), upgrade_request("p/1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101, "the original keeps its limit of 1");

    let response = testing::send(closed.layer(empty_inner()), upgrade_request("p/1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "the clone has its own limit of 0");
}

/// Issue 9, defect 7: the handshake timeout was applied to the body read and then
/// again to the wait for the switch, so the real bound was twice the one
/// set. Time is paused: it advances only when every task waits, so the
/// test is exact, not timed.
#[tokio::test(start_paused = true)]
async fn one_handshake_timeout_bounds_body_and_switch_together() {
    let layer = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .handshake_timeout(Duration::from_secs(10));
    let connections = layer.connections();
    let app = layer.layer(empty_inner::<Incoming>());
    // A pipe too small for the 101: the server cannot finish the switch
    // while the client does not read.
    let (mut client, server) = tokio::io::duplex(16);
    tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server), TowerToHyperService::new(app))
            .with_upgrades(),
    );
    client
        .write_all(
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: p/1\r\ncontent-length: 1\r\n\r\n",
        )
        .await
        .unwrap();
    // The body takes 6 s of the 10.
    tokio::time::sleep(Duration::from_secs(6)).await;
    client.write_all(b"x").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(connections.active(), 1, "admitted, waiting for the switch");
    // 12 s after the request: past the one deadline, the switch is given up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        connections.active(),
        0,
        "the switch outlived the handshake timeout"
    );
    drop(client);
}

/// Issue 9, defect 11: `retry_after` rounded a part of a second down, so 500 ms was
/// sent as `Retry-After: 0`, inviting the client straight back.
#[tokio::test]
async fn retry_after_rounds_up() {
    for (after, sent) in [(500, "1"), (1000, "1"), (1001, "2"), (0, "0")] {
        let layer = UpgradeLayer::new()
            .protocol("p/1", service_fn(done))
            .max_connections(0)
            .retry_after(Duration::from_millis(after));
        let response = testing::send(layer.layer(empty_inner()), upgrade_request("p/1"))
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], sent, "{after} ms");
    }
}

/// Issue 9, defect 2: `Error::source()` of a rejection returned the cause inside,
/// whose text is the rejection's own, so an error chain printed it twice.
#[tokio::test]
async fn an_error_chain_says_a_rejection_once() {
    // Outside a hyper server there is no upgrade handle: a 501.
    let layer = UpgradeLayer::new().protocol("p/1", service_fn(done));
    let response = respond_to(&layer, upgrade_request("p/1")).await;
    let rejection = response
        .extensions()
        .get::<tower_upgrade::rejection::Rejection>()
        .expect("the rejection rides in the extensions")
        .clone();
    let error: tower::BoxError = rejection.into();
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain = format!("{chain}: {cause}");
        source = cause.source();
    }
    assert_eq!(
        chain,
        "this connection cannot be upgraded: the server was not started with upgrade support"
    );
}

/// Issue 9, defect 6: a second `websocket()` on one layer panics, as its `# Panics`
/// section says, with a message that names the cause.
#[cfg(feature = "websocket")]
#[test]
#[should_panic(expected = "\"websocket\" is registered twice")]
fn websocket_registered_twice_panics_with_a_clear_message() {
    use tower_upgrade::websocket::WebSocketConfig;
    let _ = UpgradeLayer::new()
        .websocket(WebSocketConfig::new(), service_fn(done))
        .websocket(WebSocketConfig::new(), service_fn(done));
}

/// Issue 9, defect 9: `OriginPolicy::AllowList` held a type no user could name.
#[cfg(feature = "websocket")]
#[test]
fn the_origin_allow_list_can_be_named_and_asked() {
    use tower_upgrade::websocket::{AllowList, OriginPolicy};
    let policy = OriginPolicy::allow_list(["https://app.example.com"]).unwrap();
    let OriginPolicy::AllowList(list) = &policy else {
        panic!("allow_list built {policy:?}");
    };
    let list: &AllowList = list;
    assert!(list.allows("https://app.example.com"));
    assert!(list.allows("https://APP.example.com:443"));
    assert!(!list.allows("http://app.example.com"));
    assert!(!list.allows("null"));
}
