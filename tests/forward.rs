//! Issue 19: the gateway (`forward`, feature `gateway`) against upstreams
//! on real TCP (127.0.0.1:0): our own WebSocket server, and hand-written
//! ones that refuse, stay silent or answer wrongly. Clients are in-process
//! (HTTP/1.1 through `testing`, HTTP/2 extended CONNECT through hyper).
#![cfg(feature = "gateway")]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tower::{service_fn, Layer};
use tower_upgrade::forward::{Forward, Upstream};
use tower_upgrade::websocket::{DeflateConfig, WebSocketConfig};
use tower_upgrade::{testing, UpgradeLayer, Upgraded};

mod support;

/// Our own WebSocket echo server, offering `chat` and permessage-deflate;
/// each request's headers as the upstream saw them go to the receiver.
async fn upstream() -> (SocketAddr, mpsc::UnboundedReceiver<HeaderMap>) {
    let (seen, heads) = mpsc::unbounded_channel();
    let layer = UpgradeLayer::new().websocket(
        WebSocketConfig::new()
            .subprotocols(["chat"])
            .permessage_deflate(DeflateConfig::new()),
        service_fn(move |conn: Upgraded| {
            let _ = seen.send(conn.parts().headers.clone());
            support::ws::echo(conn)
        }),
    );
    let app = layer.layer(support::empty_inner::<tower_upgrade::serve::RequestBody>());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tower_upgrade::serve(listener, app).into_future());
    (addr, heads)
}

use std::future::IntoFuture;

/// A server that reads one request head and writes `answer`, then holds
/// the connection open (`None`: never answers).
async fn raw_upstream(answer: Option<&'static str>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if let Some(answer) = answer {
                    let _ = tcp.write_all(answer.as_bytes()).await;
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    addr
}

fn gateway(
    forward: Forward,
) -> impl tower::Service<
    Request<testing::TestBody>,
    Response = Response<tower_upgrade::response::ResponseBody<String>>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
       + Send
       + 'static {
    UpgradeLayer::new()
        .forward_websocket(forward)
        .layer(service_fn(|_: Request<testing::TestBody>| async {
            Ok::<_, Infallible>(Response::new(String::from("inner")))
        }))
}

fn ws_request(path: &str) -> Request<String> {
    Request::get(path)
        .header("host", "public.example")
        .header("connection", "keep-alive, Upgrade")
        .header("keep-alive", "timeout=5")
        .header("upgrade", "websocket")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-protocol", "other, chat")
        .header("x-forwarded-for", "6.6.6.6")
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn an_upgrade_is_forwarded_and_frames_pass_both_ways() {
    let (addr, mut heads) = upstream().await;
    let app = gateway(Forward::new(Upstream::fixed(addr.to_string())));
    let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let response = testing::send_from(peer, app, ws_request("/chat?room=1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    let h = response.headers();
    assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(h["sec-websocket-protocol"], "chat");
    assert!(!h.contains_key("sec-websocket-extensions"), "none offered");

    let io = response.into_io().unwrap();
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Client, None).await;
    ws.send(Message::text("through the gateway")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("through the gateway")
    );
    ws.close(None).await.unwrap();

    let seen = heads.recv().await.unwrap();
    assert_eq!(seen["host"], addr.to_string());
    assert_eq!(
        seen["x-forwarded-for"], "192.0.2.7",
        "the client's own list is not believed"
    );
    assert_eq!(seen["x-forwarded-host"], "public.example");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert!(!seen.contains_key("keep-alive"), "RFC 9110 §7.6.1");
}

/// The gateway negotiates no extension of its own: what the upstream
/// agreed reaches the client.
#[tokio::test]
async fn the_upstreams_extensions_reach_the_client() {
    let (addr, _heads) = upstream().await;
    let app = gateway(Forward::new(Upstream::fixed(addr.to_string())));
    let mut request = ws_request("/");
    request.headers_mut().insert(
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits"
            .parse()
            .unwrap(),
    );
    let response = testing::send(app, request).await.unwrap();
    assert_eq!(response.status(), 101);
    let agreed = response.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap();
    assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
}

#[tokio::test]
async fn an_upstreams_refusal_is_relayed_with_its_body() {
    let addr = raw_upstream(Some(
        "HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\nconnection: close\r\nx-why: banned\r\ncontent-length: 17\r\n\r\n{\"error\":\"nope\"}\n",
    ))
    .await;
    let app = gateway(Forward::new(Upstream::fixed(addr.to_string())));
    let response = testing::send(app, ws_request("/")).await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["x-why"], "banned");
    assert_eq!(response.body().as_ref(), b"{\"error\":\"nope\"}\n");
}

#[tokio::test]
async fn an_unreachable_upstream_is_502() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let app = gateway(Forward::new(Upstream::fixed(addr.to_string())));
    let response = testing::send(app, ws_request("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        response.body().as_ref(),
        b"the upstream could not be reached"
    );
}

#[tokio::test]
async fn a_silent_upstream_is_504() {
    let addr = raw_upstream(None).await;
    let app = gateway(
        Forward::new(Upstream::fixed(addr.to_string())).answer_timeout(Duration::from_millis(200)),
    );
    let response = testing::send(app, ws_request("/")).await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}

#[tokio::test]
async fn a_wrong_accept_or_a_200_is_502() {
    for answer in [
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        "SSH-2.0-OpenSSH\r\n\r\n",
    ] {
        let addr = raw_upstream(Some(answer)).await;
        let app = gateway(Forward::new(Upstream::fixed(addr.to_string())));
        let response = testing::send(app, ws_request("/")).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{answer:?}");
        assert_eq!(
            response.body().as_ref(),
            b"the upstream's answer was not a valid switch"
        );
    }
}

/// RFC 8441 → HTTP/1.1: an extended CONNECT goes upstream as an
/// `Upgrade: websocket` with a key of the gateway's; the client gets 200
/// with the upstream's subprotocol, and frames pass unchanged.
#[tokio::test]
async fn an_extended_connect_is_forwarded_as_an_http11_upgrade() {
    let (addr, mut heads) = upstream().await;
    let mut sender = support::http2_client(
        UpgradeLayer::new().forward_websocket(Forward::new(Upstream::fixed(addr.to_string()))),
    )
    .await;
    let request = support::extended_connect("http://public.example/ws")
        .header("sec-websocket-protocol", "chat")
        .body(Empty::<Bytes>::new())
        .unwrap();
    sender.ready().await.unwrap();
    let mut response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    assert!(response.headers().get("sec-websocket-accept").is_none());

    let io = hyper::upgrade::on(&mut response).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(io), Role::Client, None).await;
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![1u8, 2, 3])
    );
    ws.close(None).await.unwrap();

    let seen = heads.recv().await.unwrap();
    assert_eq!(seen["upgrade"], "websocket");
    assert_eq!(seen["sec-websocket-key"].len(), 24);
}

#[tokio::test]
async fn upstreams_in_turn() {
    let (a, mut heads_a) = upstream().await;
    let (b, mut heads_b) = upstream().await;
    let app = gateway(Forward::new(
        Upstream::round_robin([a.to_string(), b.to_string()]).unwrap(),
    ));
    for _ in 0..2 {
        let response = testing::send(app.clone(), ws_request("/")).await.unwrap();
        assert_eq!(response.status(), 101);
        drop(response);
    }
    assert!(heads_a.recv().await.is_some());
    assert!(heads_b.recv().await.is_some());
}

/// At shutdown the gateway closes for the client at a frame boundary: the
/// upstream's answer, Close 1001, reaches the client unchanged.
#[tokio::test]
async fn at_shutdown_the_client_gets_the_upstreams_close_1001() {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    let (addr, _heads) = upstream().await;
    let layer =
        UpgradeLayer::new().forward_websocket(Forward::new(Upstream::fixed(addr.to_string())));
    let connections = layer.connections();
    let app = layer.layer(service_fn(|_: Request<testing::TestBody>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let response = testing::send(app, ws_request("/")).await.unwrap();
    assert_eq!(response.status(), 101);
    let mut ws =
        WebSocketStream::from_raw_socket(response.into_io().unwrap(), Role::Client, None).await;
    ws.send(Message::text("before")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("before"));
    connections.shutdown();
    let close = loop {
        match ws.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("no Close: {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Away));
}

/// A protocol of the user's own: `Upgrade: token` upstream, the bytes
/// relayed unchanged.
#[tokio::test]
async fn a_custom_token_is_forwarded() {
    let layer = UpgradeLayer::new().protocol(
        "linecount/2",
        service_fn(|mut conn: Upgraded| async move {
            let method = conn.parts().method.clone();
            conn.write_all(method.as_str().as_bytes()).await?;
            let mut buf = [0u8; 64];
            let n = conn.read(&mut buf).await?;
            conn.write_all(&buf[..n]).await?;
            conn.shutdown().await
        }),
    );
    let app = layer.layer(support::empty_inner::<tower_upgrade::serve::RequestBody>());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tower_upgrade::serve(listener, app).into_future());

    let gateway = UpgradeLayer::new()
        .forward_protocol(
            "linecount/2",
            Forward::new(Upstream::fixed(addr.to_string())),
        )
        .layer(service_fn(|_: Request<testing::TestBody>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let request = Request::post("/")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", "linecount/2")
        .body(String::new())
        .unwrap();
    let response = testing::send(gateway, request).await.unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["upgrade"], "linecount/2");
    let mut io = response.into_io().unwrap();
    let mut method = [0u8; 4];
    io.read_exact(&mut method).await.unwrap();
    assert_eq!(&method, b"POST");
    io.write_all(b"hello\n").await.unwrap();
    let mut rest = String::new();
    io.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "hello\n");
}
