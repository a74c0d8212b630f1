//! The h2c upgrade in-process, over `tokio::io::duplex`: stream 1 with and
//! without a body, flow control, concurrent streams, `OPTIONS *`, bad
//! prefaces, offers that are not switched, and GOAWAY on shutdown.
#![cfg(all(feature = "h2c", feature = "test-util"))]

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use axum::Router;
use http::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tower_upgrade::h2c::H2c;
use tower_upgrade::{testing, Connections, UpgradeLayer};

use support::h2::{upgrade_request, Client, INITIAL_WINDOW_SIZE};

const HELLO: &str = "hello over any version\n";
const BIG: usize = 1 << 20;

/// `/wait` says it has started, then waits to be released.
#[derive(Clone, Default)]
struct Gate {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

fn routes(gate: Gate) -> Router {
    Router::new()
        .route("/", get(|| async { HELLO }))
        .route("/echo", post(|body: Bytes| async move { body }))
        .route("/big", get(|| async { vec![b'x'; BIG] }))
        .route(
            "/wait",
            get(|State(gate): State<Gate>| async move {
                gate.entered.notify_one();
                gate.release.notified().await;
                "released"
            }),
        )
        .fallback(|method: Method, uri: Uri| async move { format!("{method} {}", uri.path()) })
        .with_state(gate)
}

struct Server {
    app: Router,
    connections: Connections,
    gate: Gate,
}

fn server_with(layer: UpgradeLayer) -> Server {
    let gate = Gate::default();
    let routes = routes(gate.clone());
    let layer = layer.h2c(H2c::new(routes.clone()));
    let connections = layer.connections();
    Server {
        app: routes.layer(layer),
        connections,
        gate,
    }
}

fn server() -> Server {
    server_with(UpgradeLayer::new())
}

async fn upgrade(
    server: &Server,
    method: &str,
    target: &str,
    body: &[u8],
) -> Client<tokio::io::DuplexStream> {
    let io = testing::connect(server.app.clone());
    Client::upgrade(
        io,
        &upgrade_request(method, target, &[(3, 100)], body),
        &[(3, 100)],
    )
    .await
}

#[tokio::test]
async fn stream_1_answers_the_upgrade_request() {
    let server = server();
    let mut client = upgrade(&server, "GET", "/", b"").await;
    let stream = client.wait(1).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.data, HELLO.as_bytes());
    assert_eq!(server.connections.active(), 1);

    // The connection goes on as HTTP/2, and the one SETTINGS frame the
    // client sent (with HTTP2-Settings merged in) got exactly one ACK.
    let id = client.request("GET", "/", &[], b"").await;
    assert_eq!(id, 3);
    assert_eq!(client.wait(3).await.data, HELLO.as_bytes());
    assert_eq!(client.settings_acks, 1);
    assert_eq!(client.server_settings, 1);
}

#[tokio::test]
async fn stream_1_carries_the_request_body() {
    let server = server();
    // Three DATA frames: 16384 + 16384 + 7232.
    let body: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let mut client = upgrade(&server, "POST", "/echo", &body).await;
    let stream = client.wait(1).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.data, body);
}

#[tokio::test]
async fn a_body_of_one_full_window_switches() {
    let server = server();
    let body = vec![b'w'; 65_535];
    let mut client = upgrade(&server, "POST", "/echo", &body).await;
    assert_eq!(client.wait(1).await.data, body);
}

#[tokio::test]
async fn options_asterisk_as_the_upgrade_request() {
    // nghttp -u does this when it has a body to send: the upgrade rides on
    // `OPTIONS *`, and the real request follows on stream 3.
    let server = server();
    let mut client = upgrade(&server, "OPTIONS", "*", b"").await;
    let stream = client.wait(1).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.data, b"OPTIONS *");
    let id = client.request("POST", "/echo", &[], b"after options").await;
    assert_eq!(client.wait(id).await.data, b"after options");
}

#[tokio::test]
async fn http2_settings_take_effect_and_flow_control_holds() {
    let server = server();
    let io = testing::connect(server.app.clone());
    // The stream window of 1000 bytes is only in HTTP2-Settings; the
    // client's own SETTINGS frame does not repeat it. The client gives the
    // window back only once it is used up, and fails if the server sends
    // past it.
    let request = upgrade_request("GET", "/big", &[(INITIAL_WINDOW_SIZE, 1000)], b"");
    let mut client = Client::upgrade(io, &request, &[]).await;
    client.assume_window(1000);
    client.auto_window = false;
    let stream = client.wait(1).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.data.len(), BIG);
}

#[tokio::test]
async fn large_responses_with_the_default_window() {
    let server = server();
    let mut client = upgrade(&server, "GET", "/big", b"").await;
    client.auto_window = false;
    assert_eq!(client.wait(1).await.data.len(), BIG);
    let a = client.request("GET", "/big", &[], b"").await;
    let b = client.request("GET", "/big", &[], b"").await;
    assert_eq!(client.wait(a).await.data.len(), BIG);
    assert_eq!(client.wait(b).await.data.len(), BIG);
}

#[tokio::test]
async fn concurrent_streams_after_the_switch() {
    let server = server();
    let mut client = upgrade(&server, "POST", "/echo", b"stream one").await;
    let mut sent = Vec::new();
    for i in 0..20u32 {
        let body = format!("stream {i} ").repeat(i as usize * 100 + 1);
        sent.push((
            client.request("POST", "/echo", &[], body.as_bytes()).await,
            body,
        ));
    }
    assert_eq!(client.wait(1).await.data, b"stream one");
    for (id, body) in sent {
        let stream = client.wait(id).await;
        assert_eq!(stream.status(), 200, "stream {id}");
        assert_eq!(stream.data, body.as_bytes(), "stream {id}");
    }
}

#[tokio::test]
async fn a_bad_preface_closes_only_that_connection() {
    let server = server();
    for (garbage, reason) in [
        (
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            &b"invalid connection preface"[..],
        ),
        (
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x01\0\0\0\0\0",
            b"the connection preface must end with a SETTINGS frame",
        ),
    ] {
        let mut io = testing::connect(server.app.clone());
        io.write_all(&upgrade_request("GET", "/", &[], b""))
            .await
            .unwrap();
        let (status, _, _) = support::h2::read_head(&mut io).await;
        assert_eq!(status, 101);
        io.write_all(garbage).await.unwrap();
        // The server's SETTINGS, then GOAWAY(PROTOCOL_ERROR) with the reason
        // (RFC 7540 §3.5), then it closes; it never answers stream 1.
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        // (The head was read in chunks, so `rest` may start mid-frame; the
        // GOAWAY is what the server sent last.)
        let mut goaway = vec![0, 0, 8 + reason.len() as u8, 7, 0, 0, 0, 0, 0];
        goaway.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        goaway.extend_from_slice(reason);
        assert!(rest.ends_with(&goaway), "{rest:?}");
        assert!(
            server
                .connections
                .wait_closed(Duration::from_secs(30))
                .await
        );
        assert_eq!(server.connections.active(), 0);
    }
    // A client that leaves in the middle of the preface.
    let mut io = testing::connect(server.app.clone());
    io.write_all(&upgrade_request("GET", "/", &[], b""))
        .await
        .unwrap();
    let _ = support::h2::read_head(&mut io).await;
    io.write_all(b"PRI * HTTP/2").await.unwrap();
    drop(io);
    assert!(
        server
            .connections
            .wait_closed(Duration::from_secs(30))
            .await
    );

    // Nothing else was disturbed.
    let mut client = upgrade(&server, "GET", "/", b"").await;
    assert_eq!(client.wait(1).await.data, HELLO.as_bytes());
}

/// Sends an upgrade offer through the HTTP/1.1 test client and returns
/// the status and body, which must come from the inner service.
async fn not_switched(server: &Server, request: Request<String>) -> (u16, Bytes) {
    let response = testing::send(server.app.clone(), request).await.unwrap();
    assert_ne!(response.status(), 101);
    assert!(response.headers().get("upgrade").is_none());
    (response.status().as_u16(), response.body().clone())
}

fn offer(headers: &[(&str, &str)]) -> Request<String> {
    let mut builder = Request::get("/").header("host", "localhost");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(String::new()).unwrap()
}

#[tokio::test]
async fn offers_that_break_rfc_7540_are_answered_over_http1() {
    let server = server();
    let conn = ("connection", "Upgrade, HTTP2-Settings");
    let up = ("upgrade", "h2c");
    let good = ("http2-settings", "AAMAAABkAAQAAP__");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("h2 is never taken", vec![conn, ("upgrade", "h2"), good]),
        ("a version on h2c", vec![conn, ("upgrade", "h2c/1"), good]),
        ("no HTTP2-Settings", vec![conn, up]),
        ("two HTTP2-Settings", vec![conn, up, good, good]),
        (
            "Connection without HTTP2-Settings",
            vec![("connection", "upgrade"), up, good],
        ),
        (
            "padding",
            vec![conn, up, ("http2-settings", "AAMAAABkAAQAAP__=")],
        ),
        (
            "base64, not base64url",
            vec![conn, up, ("http2-settings", "AAMAAABkAAQAAP//")],
        ),
        (
            "not whole settings",
            vec![conn, up, ("http2-settings", "AAMAAABkAAQ")],
        ),
        (
            "ENABLE_PUSH 2",
            vec![conn, up, ("http2-settings", "AAIAAAAC")],
        ),
        (
            "MAX_FRAME_SIZE too small",
            vec![conn, up, ("http2-settings", "AAUAAAAB")],
        ),
        (
            "INITIAL_WINDOW_SIZE too large",
            vec![conn, up, ("http2-settings", "AASAAAAA")],
        ),
    ];
    for (why, headers) in cases {
        let (status, body) = not_switched(&server, offer(&headers)).await;
        assert_eq!((status, &body[..]), (200, HELLO.as_bytes()), "{why}");
    }
    assert_eq!(server.connections.active(), 0);
}

#[tokio::test]
async fn a_body_over_the_bound_is_answered_over_http1_in_full() {
    let server = server();
    let headers = [
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAAQAAP__"),
    ];
    // Past the 65,535-byte window stream 1 can carry.
    let body = "b".repeat(65_536);
    let mut request = Request::post("/echo").header("host", "localhost");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let (status, echoed) = not_switched(&server, request.body(body.clone()).unwrap()).await;
    assert_eq!((status, echoed.len()), (200, body.len()));

    // Past the layer's own bound.
    let small = server_with(UpgradeLayer::new().max_request_body(10));
    let mut request = Request::post("/echo").header("host", "localhost");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let (status, echoed) = not_switched(&small, request.body("eleven byte".into()).unwrap()).await;
    assert_eq!((status, &echoed[..]), (200, &b"eleven byte"[..]));

    // A chunked body has no length to check up front: never switched,
    // never partly read.
    let mut io = testing::connect(server.app.clone());
    io.write_all(
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    let (status, head, rest) = support::h2::read_head(&mut io).await;
    assert_eq!(status, 200, "{head}");
    let mut body = rest.to_vec();
    while body.len() < 5 {
        let mut chunk = [0u8; 64];
        let n = io.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        body.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(&body[..5], b"hello");
    assert_eq!(server.connections.active(), 0);
}

#[tokio::test]
async fn shutdown_sends_goaway_and_streams_in_flight_finish() {
    let server = server();
    let mut client = upgrade(&server, "GET", "/", b"").await;
    client.wait(1).await;
    let waiting = client.request("GET", "/wait", &[], b"").await;
    server.gate.entered.notified().await;
    server.connections.shutdown();
    assert!(client.run_until(|c| c.goaway.is_some()).await, "no GOAWAY");
    let (last_stream, code) = client.goaway.unwrap();
    assert_eq!(code, 0, "NO_ERROR");
    assert!(last_stream >= waiting || last_stream == u32::MAX >> 1);
    server.gate.release.notify_one();
    let stream = client.wait(waiting).await;
    assert_eq!((stream.status(), &stream.data[..]), (200, &b"released"[..]));
    client.wait_closed().await;
    assert!(
        server
            .connections
            .wait_closed(Duration::from_secs(30))
            .await
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_silent_after_the_switch_is_closed() {
    // Virtual time: the clock jumps ahead while every task waits, so the
    // 10-second preface timeout passes at once and deterministically.
    let server = server();
    let mut io = testing::connect(server.app.clone());
    io.write_all(&upgrade_request("GET", "/", &[], b""))
        .await
        .unwrap();
    let (status, _, _) = support::h2::read_head(&mut io).await;
    assert_eq!(status, 101);
    assert_eq!(server.connections.active(), 1);
    assert!(
        server
            .connections
            .wait_closed(Duration::from_secs(3600))
            .await
    );
    assert_eq!(server.connections.active(), 0);
    let mut rest = Vec::new();
    io.read_to_end(&mut rest).await.unwrap();
}

#[tokio::test]
async fn expect_100_continue_is_met_before_the_switch() {
    let server = server();
    let mut io = testing::connect(server.app.clone());
    let body = b"sent once the server asked for it";
    let mut request = upgrade_request("POST", "/echo", &[(3, 100)], b"");
    // The head without its blank line, then Expect (RFC 9110 §10.1.1).
    request.truncate(request.len() - 2);
    request.extend_from_slice(b"expect: 100-continue\r\n\r\n");
    let request = String::from_utf8(request).unwrap().replace(
        "Content-Length: 0",
        &format!("Content-Length: {}", body.len()),
    );
    io.write_all(request.as_bytes()).await.unwrap();
    let (status, head, rest) = support::h2::read_head(&mut io).await;
    assert_eq!(status, 100, "{head}");
    assert!(rest.is_empty());
    io.write_all(body).await.unwrap();
    let mut client = Client::upgrade(io, b"", &[(3, 100)]).await;
    assert_eq!(client.wait(1).await.data, body);
}

#[tokio::test]
async fn stream_1_is_half_closed_on_the_client_side() {
    // RFC 7540 §3.2: the upgrade request is complete, so stream 1 starts
    // half-closed (remote) on the server; DATA from the client on it is a
    // STREAM_CLOSED error (§5.1), never more request body.
    let server = server();
    let mut client = upgrade(&server, "GET", "/", b"").await;
    assert_eq!(client.wait(1).await.status(), 200);
    let mut late = bytes::BytesMut::new();
    support::h2::frame(
        &mut late,
        support::h2::DATA,
        support::h2::END_STREAM,
        1,
        b"late",
    );
    client.write_raw(&late).await;
    let id = client.request("GET", "/", &[], b"").await;
    client
        .run_until(|c| c.goaway.is_some() || c.streams.get(&id).is_some_and(|s| s.done))
        .await;
    const STREAM_CLOSED: u32 = 0x5;
    let refused = client
        .goaway
        .map(|(_, code)| code)
        .or(client.streams[&1].reset);
    assert_eq!(refused, Some(STREAM_CLOSED));
}

/// Issue 9, defect 13: every token of `Connection` names a field to leave
/// out of stream 1, and the list was walked again for each header (180,000
/// tokens × 94 headers cost 200 ms of CPU). Past 32 tokens the upgrade is
/// declined and the request answered over HTTP/1.1.
#[tokio::test]
async fn a_connection_list_past_32_tokens_is_answered_over_http1() {
    let server = server();
    let list = |n: usize| {
        let extra: Vec<String> = (2..n).map(|i| format!("x-hop-{i}")).collect();
        format!("Upgrade, HTTP2-Settings, {}", extra.join(", "))
    };
    let at_bound = list(32);
    let past_bound = list(33);
    let settings = ("http2-settings", "AAMAAABkAAQAAP__");

    let response = testing::send(
        server.app.clone(),
        offer(&[("connection", &at_bound), ("upgrade", "h2c"), settings]),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 101, "32 tokens switch");

    let (status, body) = not_switched(
        &server,
        offer(&[("connection", &past_bound), ("upgrade", "h2c"), settings]),
    )
    .await;
    assert_eq!((status, &body[..]), (200, HELLO.as_bytes()));

    // A huge list costs one pass, and no switch.
    let huge = format!("Upgrade,HTTP2-Settings{}", ",a".repeat(180_000));
    let (status, _) = not_switched(
        &server,
        offer(&[("connection", &huge), ("upgrade", "h2c"), settings]),
    )
    .await;
    assert_eq!(status, 200);
}
