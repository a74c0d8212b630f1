//! Issue 16: the contracts of the message layer (`Upgraded::into_websocket`)
//! that users reach through `send`, `try_send`, `Sink`, `split` and the
//! futures combinators (`forward`, `StreamExt::split`, `select!`,
//! `tokio::time::timeout`). Each test is one behaviour of the contract the
//! fix is written against; every wait is bounded, so a hang fails the test.
//!
//! Most run in-process over `tokio::io::duplex` (64 KiB each way, so a
//! peer that never reads blocks the server quickly) with tokio's paused
//! clock; the abnormal closure runs over real TCP on 127.0.0.1.
#![cfg(all(feature = "messages", feature = "tungstenite"))]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{Request, Response};
mod support;
use support::ws::server_frame;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::{oneshot, Notify};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message as Client;
use tokio_tungstenite::WebSocketStream;
use tower::{service_fn, Layer};
use tower_upgrade::testing::{self, TestBody, TestIo};
use tower_upgrade::websocket::{CloseCode, CloseFrame, Error, Message, WebSocket, WebSocketConfig};
use tower_upgrade::{UpgradeHandler, UpgradeLayer, Upgraded};

/// How long a test waits for anything before calling it a hang.
const BOUND: Duration = Duration::from_secs(10);

/// What a handler hands back to its test.
type Outcome<T> = oneshot::Receiver<Result<T, Error>>;

/// A handler that runs `handler` once on the connection's
/// [`WebSocket`] and sends its result to the test.
fn once<T, F, Fut>(handler: F) -> (impl UpgradeHandler, Outcome<T>)
where
    T: Send + 'static,
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let slot = Arc::new(Mutex::new(Some((handler, tx))));
    let service = service_fn(move |conn: Upgraded| {
        let taken = slot.lock().unwrap().take();
        async move {
            if let Some((handler, tx)) = taken {
                let _ = tx.send(handler(conn.into_websocket()).await);
            }
            Ok::<_, Infallible>(())
        }
    });
    (service, rx)
}

/// The handler's result, within [`BOUND`].
async fn outcome<T>(rx: Outcome<T>) -> Result<T, Error> {
    timeout(BOUND, rx)
        .await
        .expect("the handler did not end (hung, bounded by timeout)")
        .expect("the handler panicked")
}

fn upgrade_request(headers: &[(&str, &str)]) -> Request<String> {
    let mut request = support::websocket_request();
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(String::new()).unwrap()
}

/// Upgrades in-process (HTTP/1.1 over a duplex pipe) with `config` and
/// extra request `headers`; the client's raw IO, the response headers and
/// the handler's outcome.
async fn open_with<T, F, Fut>(
    config: WebSocketConfig,
    headers: &[(&str, &str)],
    handler: F,
) -> (TestIo, http::HeaderMap, Outcome<T>)
where
    T: Send + 'static,
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let (handler, rx) = once(handler);
    let app = UpgradeLayer::new()
        .websocket(config, handler)
        .layer(service_fn(|_: Request<TestBody>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let response = testing::send(app, upgrade_request(headers)).await.unwrap();
    assert_eq!(response.status(), 101);
    let headers = response.headers().clone();
    (response.into_io().expect("switched"), headers, rx)
}

async fn open<T, F, Fut>(config: WebSocketConfig, handler: F) -> (TestIo, Outcome<T>)
where
    T: Send + 'static,
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let (io, _, rx) = open_with(config, &[], handler).await;
    (io, rx)
}

/// tokio-tungstenite as the client, over the raw IO.
async fn client(io: TestIo) -> WebSocketStream<TestIo> {
    WebSocketStream::from_raw_socket(io, Role::Client, None).await
}

/// A masked client frame (key 0, so the payload is as it is).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
    out
}

/// 100 binary messages of 100 kB, each starting with its index.
fn hundred_messages() -> Vec<Message> {
    (0..100u32)
        .map(|i| {
            let mut payload = vec![(i % 251) as u8; 100_000];
            payload[..4].copy_from_slice(&i.to_be_bytes());
            Message::binary(payload)
        })
        .collect()
}

/// Reads until the Close; asserts the 100 messages came, in order.
async fn expect_hundred(io: TestIo) {
    let mut ws = client(io).await;
    let mut received = Vec::new();
    loop {
        match timeout(BOUND, ws.next()).await {
            Err(_) => panic!("no Close after {} messages (hung)", received.len()),
            Ok(Some(Ok(Client::Binary(payload)))) => {
                received.push(u32::from_be_bytes(payload[..4].try_into().unwrap()));
            }
            Ok(Some(Ok(Client::Close(_)))) | Ok(None) => break,
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        received,
        (0..100).collect::<Vec<_>>(),
        "the peer received {} of 100 messages",
        received.len()
    );
}

/// Issue 16, item 1: `forward` into the socket lost every message the
/// send buffer had no room for (`start_send` after `poll_ready` dropped it
/// in silence): the peer received 41 of 100.
#[tokio::test(start_paused = true)]
async fn forward_delivers_every_message_in_order() {
    let (io, rx) = open(WebSocketConfig::new(), |mut ws| async move {
        futures_util::stream::iter(hundred_messages())
            .map(Ok)
            .forward(&mut ws)
            .await
    })
    .await;
    expect_hundred(io).await;
    outcome(rx).await.unwrap();
}

/// Issue 16, item 1: the same through `SinkExt::feed` ×100, then `close`.
#[tokio::test(start_paused = true)]
async fn feed_then_close_delivers_every_message_in_order() {
    let (io, rx) = open(WebSocketConfig::new(), |mut ws| async move {
        for message in hundred_messages() {
            ws.feed(message).await?;
        }
        SinkExt::close(&mut ws).await
    })
    .await;
    expect_hundred(io).await;
    outcome(rx).await.unwrap();
}

/// Issue 16, item 4: the send buffer was bounded in payload bytes only, so
/// empty messages were never refused (a million of them queued).
#[tokio::test(start_paused = true)]
async fn the_send_queue_bound_counts_empty_messages() {
    let (_io, rx) = open(WebSocketConfig::new(), |ws| async move {
        let sender = ws.sender();
        for queued in 0..1_000_000u32 {
            if let Err(refused) = sender.try_send(Message::binary(Vec::new())) {
                assert!(!refused.is_closed(), "refused as closed, not full");
                return Ok(Some(queued));
            }
        }
        drop(ws);
        Ok(None)
    })
    .await;
    // The client never reads.
    let refused_after = outcome(rx).await.unwrap();
    assert!(
        refused_after.is_some(),
        "try_send took 1,000,000 empty messages for a peer that never reads"
    );
}

/// Issue 16, item 5a: after `split`, a handler that only sends (a ticker)
/// wrote nothing, answered no Ping and sent no keepalive Ping: only the
/// `Receiver` drove the connection.
#[tokio::test(start_paused = true)]
async fn a_send_only_half_keeps_a_pinging_client_open() {
    let config = WebSocketConfig::new()
        .ping_interval(Some(Duration::from_secs(1)))
        .pong_timeout(Duration::from_secs(1));
    let (io, _rx) = open(config, |ws| async move {
        let (tx, rx) = ws.split();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        for n in 0u32.. {
            tick.tick().await;
            tx.send(Message::text(format!("tick {n}"))).await?;
        }
        drop(rx);
        Ok(())
    })
    .await;
    let mut ws = client(io).await;
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    let (mut pings, mut ticks) = (0, 0);
    loop {
        // Reading answers the server's Pings.
        match tokio::time::timeout_at(end, ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Client::Ping(_)))) => pings += 1,
            Ok(Some(Ok(Client::Text(_)))) => ticks += 1,
            Ok(other) => panic!("closed after {pings} pings and {ticks} ticks: {other:?}"),
        }
    }
    assert!(
        ticks >= 15,
        "{ticks} ticks in 10 s (one every 0.5 s expected)"
    );
    assert!(pings >= 5, "{pings} Pings in 10 ping intervals");
}

/// Issue 16, item 5b: a `Sender` whose `Receiver` is never polled queued
/// its messages, and nothing wrote them.
#[tokio::test(start_paused = true)]
async fn a_sender_writes_while_its_receiver_is_never_polled() {
    let (io, _rx) = open(WebSocketConfig::new(), |ws| async move {
        let (tx, rx) = ws.split();
        for n in 0..10 {
            tx.send(Message::text(format!("message {n}"))).await?;
        }
        // Hold the receiver, unpolled, while the client reads.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(rx);
        Ok(())
    })
    .await;
    let mut ws = client(io).await;
    for n in 0..10 {
        match timeout(BOUND, ws.next()).await {
            Ok(Some(Ok(message))) => assert_eq!(message, Client::text(format!("message {n}"))),
            other => panic!("message {n} did not arrive: {other:?}"),
        }
    }
}

/// A client that sends 60 KiB binary frames for ever and never reads; the
/// writer task ends when the server closes.
fn push_without_reading(io: TestIo) -> tokio::io::ReadHalf<TestIo> {
    let (reader, mut writer) = tokio::io::split(io);
    let message = frame(0x82, &[7; 0xF000]);
    tokio::spawn(async move { while writer.write_all(&message).await.is_ok() {} });
    reader
}

/// Issue 16, item 5c: an echo through the split halves whose peer stops
/// reading deadlocked: `tx.send` waited for room only the `Receiver` could
/// make, and the write timeout never ran.
#[tokio::test(start_paused = true)]
async fn split_echo_ends_with_write_timeout_when_the_peer_stops_reading() {
    let config = WebSocketConfig::new()
        .ping_interval(None)
        .write_timeout(Some(Duration::from_millis(500)));
    let (io, rx) = open(config, |ws| async move {
        let (tx, mut rx) = ws.split();
        while let Some(message) = rx.recv().await {
            tx.send(message?).await?;
        }
        Ok(())
    })
    .await;
    let _reader = push_without_reading(io);
    match outcome(rx).await {
        Err(Error::WriteTimeout) => {}
        other => panic!("expected Err(WriteTimeout), got {other:?}"),
    }
}

/// Echo of `n` messages, one at a time, by a client that waits for each.
async fn echo_exchange(io: TestIo, n: usize) {
    let mut ws = client(io).await;
    for i in 0..n {
        let message = Client::text(format!("message {i}"));
        timeout(BOUND, ws.send(message.clone()))
            .await
            .unwrap_or_else(|_| panic!("sending message {i} hung"))
            .unwrap();
        match timeout(BOUND, ws.next()).await {
            Ok(Some(Ok(echo))) => assert_eq!(echo, message),
            Err(_) => panic!("the echo of message {i} never came (hung, bounded by timeout)"),
            Ok(other) => panic!("message {i}: {other:?}"),
        }
    }
    ws.close(None).await.unwrap();
    // Until the server's Close reply and the end of the stream.
    while let Ok(Some(Ok(_))) = timeout(BOUND, ws.next()).await {}
}

/// Issue 16, item 6: `futures::StreamExt::split` with the sink half in
/// another task (axum's pattern): both halves must make progress.
#[tokio::test(start_paused = true)]
async fn echo_through_stream_split_with_the_sink_in_another_task() {
    let (io, rx) = open(WebSocketConfig::new(), |ws| async move {
        let (mut sink, mut stream) = StreamExt::split(ws);
        let (to_sink, mut queued) = tokio::sync::mpsc::channel::<Message>(16);
        let writer = tokio::spawn(async move {
            while let Some(message) = queued.recv().await {
                sink.send(message).await?;
            }
            Ok::<_, Error>(())
        });
        while let Some(message) = stream.next().await {
            if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
                if to_sink.send(message).await.is_err() {
                    break;
                }
            }
        }
        drop(to_sink);
        writer.await.expect("the sink task panicked")
    })
    .await;
    echo_exchange(io, 1000).await;
    outcome(rx).await.unwrap();
}

/// Issue 16, item 6: `WebSocket::split` with the `Receiver` and the
/// `Sender` in two tasks.
#[tokio::test(start_paused = true)]
async fn echo_through_split_halves_in_two_tasks() {
    let (io, rx) = open(WebSocketConfig::new(), |ws| async move {
        let (tx, mut rx) = ws.split();
        let (to_sender, mut queued) = tokio::sync::mpsc::channel::<Message>(16);
        let writer = tokio::spawn(async move {
            while let Some(message) = queued.recv().await {
                tx.send(message).await?;
            }
            Ok::<_, Error>(())
        });
        while let Some(message) = rx.recv().await {
            if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
                if to_sender.send(message).await.is_err() {
                    break;
                }
            }
        }
        drop(to_sender);
        writer.await.expect("the sender task panicked")
    })
    .await;
    echo_exchange(io, 1000).await;
    outcome(rx).await.unwrap();
}

/// Reads until the peer's Close; an error if anything else ends the read.
async fn until_close(ws: &mut WebSocket) -> Result<(), Error> {
    loop {
        match ws.recv().await {
            Some(Ok(Message::Close(_))) => return Ok(()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e),
            None => panic!("recv ended before the peer's Close"),
        }
    }
}

/// The client closes; the next frame the server sends must be its Close
/// reply.
async fn close_and_drain(io: TestIo) {
    let mut ws = client(io).await;
    ws.send(Client::Close(None)).await.unwrap();
    match timeout(BOUND, ws.next()).await {
        Ok(Some(Ok(Client::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => {}
        Ok(Some(Ok(other))) => panic!("before the Close reply: {other:?}"),
        Err(_) => panic!("no Close reply (hung)"),
    }
}

/// Issue 16, item 7: after the peer's Close, `send` returned `Ok` and the
/// message was dropped in silence.
#[tokio::test(start_paused = true)]
async fn send_after_the_peers_close_is_refused() {
    let (io, rx) = open(WebSocketConfig::new(), |mut ws| async move {
        until_close(&mut ws).await?;
        Ok(ws.send(Message::text("too late")).await)
    })
    .await;
    close_and_drain(io).await;
    match outcome(rx).await.unwrap() {
        Err(Error::Closed) => {}
        other => panic!("send after the peer's Close returned {other:?}, not Err(Closed)"),
    }
}

/// Issue 16, item 7: the same for `try_send`.
#[tokio::test(start_paused = true)]
async fn try_send_after_the_peers_close_is_refused() {
    let (io, rx) = open(WebSocketConfig::new(), |mut ws| async move {
        until_close(&mut ws).await?;
        Ok(ws.sender().try_send(Message::text("too late")))
    })
    .await;
    close_and_drain(io).await;
    match outcome(rx).await.unwrap() {
        Err(refused) if refused.is_closed() => {}
        other => panic!("try_send after the peer's Close returned {other:?}, not a closed error"),
    }
}

/// Issue 16, item 7: the same for the `Sink`.
#[tokio::test(start_paused = true)]
async fn the_sink_after_the_peers_close_is_refused() {
    let (io, rx) = open(WebSocketConfig::new(), |mut ws| async move {
        until_close(&mut ws).await?;
        Ok(SinkExt::send(&mut ws, Message::text("too late")).await)
    })
    .await;
    close_and_drain(io).await;
    match outcome(rx).await.unwrap() {
        Err(Error::Closed) => {}
        other => panic!("Sink::send after the peer's Close returned {other:?}, not Err(Closed)"),
    }
}

/// A compressed message as a client sends it (RFC 7692 §7.2.1): `data` in
/// one non-final stored deflate block (which any inflater reads), without
/// the empty block the receiver puts back.
fn compressed_frame(data: &[u8]) -> Vec<u8> {
    assert!(data.len() <= 0xFFFF);
    let len = data.len() as u16;
    let mut deflated = vec![0x00];
    deflated.extend_from_slice(&len.to_le_bytes());
    deflated.extend_from_slice(&(!len).to_le_bytes());
    deflated.extend_from_slice(data);
    // FIN, RSV1 (compressed), binary.
    frame(0xC2, &deflated)
}

/// Issue 16, item 9: with `max_message_size(usize::MAX)` the inflate bound
/// (`limit + 1`) overflowed: debug builds panicked, release builds refused
/// every compressed message as too big.
#[tokio::test(start_paused = true)]
async fn compressed_messages_are_received_with_no_message_size_limit() {
    let config = WebSocketConfig::new()
        .max_message_size(usize::MAX)
        .permessage_deflate(tower_upgrade::websocket::DeflateConfig::new());
    let (mut io, headers, rx) = open_with(
        config,
        &[("sec-websocket-extensions", "permessage-deflate")],
        |mut ws| async move { Ok(ws.recv().await) },
    )
    .await;
    let agreed = headers
        .get("sec-websocket-extensions")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        agreed
            .as_deref()
            .is_some_and(|v| v.contains("permessage-deflate")),
        "permessage-deflate was not agreed: {agreed:?}"
    );
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 7) as u8).collect();
    io.write_all(&compressed_frame(&data)).await.unwrap();
    match outcome(rx).await.unwrap() {
        Some(Ok(Message::Binary(received))) => assert_eq!(received, data),
        other => panic!("the compressed message was not received: {other:?}"),
    }
}

/// Issue 16, item 11: `WebSocket::send(m)` waited until everything queued
/// was written, including what `Sender` clones queued after `m`: against a
/// peer that reads `m` and then stops, it never resolved.
#[tokio::test(start_paused = true)]
async fn send_resolves_once_its_message_is_written() {
    const LEN: usize = 200_000;
    let (mut io, rx) = open(
        WebSocketConfig::new().ping_interval(None),
        |mut ws| async move {
            let others = ws.sender();
            let mut send = std::pin::pin!(ws.send(Message::binary(vec![1; LEN])));
            // Larger than the pipe: the first poll starts writing it and waits.
            assert!(futures_util::poll!(send.as_mut()).is_pending());
            // Queued after it, by another handle.
            for _ in 0..20 {
                let _ = others.try_send(Message::binary(vec![2; 100_000]));
            }
            Ok(timeout(Duration::from_secs(5), send).await)
        },
    )
    .await;
    // Read exactly the first message, then stop reading.
    let (first, payload) = timeout(BOUND, server_frame(&mut io))
        .await
        .expect("the first message never came")
        .expect("EOF");
    assert_eq!((first, payload.len()), (0x82, LEN));
    match outcome(rx).await.unwrap() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("send failed: {e:?}"),
        Err(_) => panic!(
            "send did not resolve within 5 s of its message being written: it waited for \
             the messages other handles queued after it (hung, bounded by timeout)"
        ),
    }
    drop(io);
}

/// Issue 16, item 13a: a Close with a code RFC 6455 §7.4 forbids on the
/// wire was sent as it was.
#[tokio::test(start_paused = true)]
async fn a_close_with_a_reserved_code_is_refused_and_not_sent() {
    let (mut io, rx) = open(
        WebSocketConfig::new().ping_interval(None),
        |mut ws| async move {
            let sender = ws.sender();
            let mut results = Vec::new();
            for code in [1006u16, 1005, 1015, 999, 5000] {
                let close = || Message::Close(Some(CloseFrame::new(CloseCode::from(code), "")));
                results.push((code, "send", ws.send(close()).await));
                results.push((code, "Sink::send", SinkExt::send(&mut ws, close()).await));
                let try_sent = sender.try_send(close()).map_err(|_| Error::Closed);
                results.push((code, "try_send", try_sent));
            }
            let after = ws.send(Message::text("still open")).await;
            Ok((results, after))
        },
    )
    .await;
    let first = timeout(BOUND, server_frame(&mut io))
        .await
        .expect("nothing was sent");
    let (results, after) = outcome(rx).await.unwrap();
    for (code, how, result) in results {
        match (how, result) {
            ("try_send", Err(_)) => {}
            (_, Err(Error::InvalidCloseCode(refused))) if refused == code => {}
            (how, other) => {
                panic!("{how}(Close {code}) returned {other:?}, not Err(InvalidCloseCode({code}))")
            }
        }
    }
    after.expect("the connection is still open");
    assert_eq!(
        first,
        Some((0x81, b"still open".to_vec())),
        "the first frame sent is not the text after the refused Closes"
    );
}

/// An IO whose `poll_shutdown` is `Pending` once (waking its task) before
/// it shuts the pipe down, as a TLS stream sending its close_notify can be.
struct SlowShutdown {
    io: DuplexStream,
    waited: bool,
    shut_down: Arc<AtomicBool>,
}

impl AsyncRead for SlowShutdown {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for SlowShutdown {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.waited {
            self.waited = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = Pin::new(&mut self.io).poll_shutdown(cx);
        if let Poll::Ready(Ok(())) = polled {
            self.shut_down.store(true, Ordering::SeqCst);
        }
        polled
    }
}

/// Issue 16, item 13b: after the close handshake the server polled
/// `poll_shutdown` once and ignored `Pending`: an IO that needs a second
/// poll was never shut down.
#[tokio::test(start_paused = true)]
async fn the_close_handshake_waits_for_a_pending_shutdown() {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;

    let (handler, rx) = once(|mut ws| async move {
        while let Some(message) = ws.recv().await {
            message?;
        }
        Ok(())
    });
    let app = UpgradeLayer::new()
        .websocket(WebSocketConfig::new().ping_interval(None), handler)
        .layer(service_fn(|_: Request<hyper::body::Incoming>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let shut_down = Arc::new(AtomicBool::new(false));
    let server_io = SlowShutdown {
        io: server_io,
        waited: false,
        shut_down: shut_down.clone(),
    };
    tokio::spawn(async move {
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_io), TowerToHyperService::new(app))
            .with_upgrades()
            .await
    });
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
        .await
        .unwrap();
    tokio::spawn(conn.with_upgrades());
    let mut response = sender.send_request(upgrade_request(&[])).await.unwrap();
    assert_eq!(response.status(), 101);
    let io = TokioIo::new(hyper::upgrade::on(&mut response).await.unwrap());
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Client, None).await;
    ws.send(Client::Close(None)).await.unwrap();
    while let Ok(Some(Ok(_))) = timeout(BOUND, ws.next()).await {}
    outcome(rx).await.unwrap();
    assert!(
        shut_down.load(Ordering::SeqCst),
        "the handler ended with the IO not shut down: poll_shutdown returned Pending once \
         and was not polled again"
    );
}

/// Serves `handler` at `/ws` over real TCP on 127.0.0.1 with `axum::serve`.
async fn serve_tcp(handler: impl UpgradeHandler) -> std::net::SocketAddr {
    let upgrades = UpgradeLayer::new().websocket(WebSocketConfig::new(), handler);
    let app = axum::Router::new().route_service("/ws", upgrades.into_service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Everything `recv` returns until `None` (at most 5 items).
async fn everything_received(mut ws: WebSocket) -> Result<Vec<Result<Message, Error>>, Error> {
    let mut seen = Vec::new();
    while let Some(item) = ws.recv().await {
        seen.push(item);
        if seen.len() == 5 {
            break;
        }
    }
    Ok(seen)
}

/// Issue 16, item 13c: a TCP connection that dropped without a Close
/// ended `recv` with `None`, as a clean close does: the handler could not
/// tell (RFC 6455 §7.1.5: 1006).
#[tokio::test]
async fn a_dropped_tcp_connection_is_an_abnormal_closure() {
    let (handler, rx) = once(everything_received);
    let addr = serve_tcp(handler).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws.send(Client::text("hello")).await.unwrap();
    // No Close: TCP ends (FIN).
    drop(ws);
    let seen = outcome(rx).await.unwrap();
    let errors: Vec<_> = seen.iter().filter(|item| item.is_err()).collect();
    assert!(
        matches!(errors.as_slice(), [Err(Error::AbnormalClosure)])
            && matches!(seen.last(), Some(Err(Error::AbnormalClosure))),
        "recv returned {seen:?} then None; expected the message, one \
         Err(AbnormalClosure), then None"
    );
}

/// Issue 16, item 13c (the other side): a clean close handshake is no
/// error. (Passes today; it keeps the fix from reporting 1006 too often.)
#[tokio::test]
async fn a_clean_close_is_no_error() {
    let (handler, rx) = once(everything_received);
    let addr = serve_tcp(handler).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    ws.close(None).await.unwrap();
    while let Ok(Some(Ok(_))) = timeout(BOUND, ws.next()).await {}
    let seen = outcome(rx).await.unwrap();
    assert!(
        seen.iter()
            .all(|item| matches!(item, Ok(Message::Close(_)))),
        "a clean close gave {seen:?}"
    );
}

/// Issue 16, combinators: a `recv` cancelled by `tokio::time::timeout`
/// while a fragmented message is half read loses nothing: the next `recv`
/// returns the whole message.
#[tokio::test(start_paused = true)]
async fn a_recv_cancelled_by_timeout_loses_no_message() {
    let timed_out = Arc::new(Notify::new());
    let told = timed_out.clone();
    let (mut io, rx) = open(
        WebSocketConfig::new().ping_interval(None),
        |mut ws| async move {
            let first = timeout(Duration::from_secs(1), ws.recv()).await;
            assert!(first.is_err(), "nothing complete had arrived: {first:?}");
            told.notify_one();
            Ok(timeout(BOUND, ws.recv()).await.ok().flatten())
        },
    )
    .await;
    // A first fragment, and half of the second frame.
    let mut wire = frame(0x01, b"hello ");
    let second = frame(0x80, b"world");
    wire.extend_from_slice(&second[..8]);
    io.write_all(&wire).await.unwrap();
    timeout(BOUND, timed_out.notified()).await.unwrap();
    io.write_all(&second[8..]).await.unwrap();
    match outcome(rx).await.unwrap() {
        Some(Ok(message)) => assert_eq!(message, Message::text("hello world")),
        other => panic!("after a timed-out recv, the next one returned {other:?}"),
    }
}

/// Issue 16, combinators: `select!` over the `Receiver` and a ticker, the
/// loop handlers write for a push channel that also echoes.
#[tokio::test(start_paused = true)]
async fn select_over_recv_and_a_ticker_echoes_and_ticks() {
    let (io, _rx) = open(WebSocketConfig::new(), |ws| async move {
        let (tx, mut rx) = ws.split();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Ok(Message::Text(text))) => tx.send(Message::Text(text)).await?,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                },
                _ = tick.tick() => tx.send(Message::text("tick")).await?,
            }
        }
    })
    .await;
    let mut ws = client(io).await;
    let (mut echoes, mut ticks) = (0, 0);
    for i in 0..5 {
        ws.send(Client::text(format!("echo {i}"))).await.unwrap();
        let end = tokio::time::Instant::now() + Duration::from_millis(1500);
        while let Ok(next) = tokio::time::timeout_at(end, ws.next()).await {
            match next {
                Some(Ok(Client::Text(t))) if t.as_str() == "tick" => ticks += 1,
                Some(Ok(Client::Text(_))) => echoes += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(echoes, 5, "echoes");
    assert!(ticks >= 5, "{ticks} ticks in 7.5 s");
}

/// A client that writes `n` binary frames of 16 KiB with a Ping after
/// every tenth, reading nothing for the first second, then reads until it
/// has every echo and every Pong.
async fn pause_then_read(io: TestIo, n: usize) {
    let (mut reader, mut writer) = tokio::io::split(io);
    let pings = n / 10;
    tokio::spawn(async move {
        for i in 0..n {
            let mut payload = vec![7; 16 * 1024];
            payload[..4].copy_from_slice(&(i as u32).to_be_bytes());
            writer.write_all(&frame(0x82, &payload)).await.unwrap();
            if i % 10 == 9 {
                writer
                    .write_all(&frame(0x89, b"are you there"))
                    .await
                    .unwrap();
            }
        }
        // Keep the write half open.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(writer);
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (mut echoes, mut pongs) = (0, 0);
    while echoes < n || pongs < pings {
        match timeout(BOUND, server_frame(&mut reader)).await {
            Ok(Some((0x82, payload))) => {
                assert_eq!(payload[..4], (echoes as u32).to_be_bytes());
                echoes += 1;
            }
            Ok(Some((0x8A, _))) => pongs += 1,
            Ok(other) => panic!("after {echoes} echoes and {pongs} pongs: {other:?}"),
            Err(_) => panic!(
                "{echoes} of {n} echoes and {pongs} of {pings} pongs, then nothing \
                 (hung, bounded by timeout)"
            ),
        }
    }
}

/// Issue 16, item 6: the same `StreamExt::split` echo against a peer that
/// pauses reading while it pings: each half registers its own waker with
/// the IO and the queue, and neither may be lost.
#[tokio::test(start_paused = true)]
async fn stream_split_echo_survives_a_peer_that_pauses_reading_and_pings() {
    let (io, _rx) = open(
        WebSocketConfig::new().ping_interval(None),
        |ws| async move {
            let (mut sink, mut stream) = StreamExt::split(ws);
            let (to_sink, mut queued) = tokio::sync::mpsc::channel::<Message>(16);
            let writer = tokio::spawn(async move {
                while let Some(message) = queued.recv().await {
                    sink.send(message).await?;
                }
                Ok::<_, Error>(())
            });
            while let Some(message) = stream.next().await {
                if let message @ Message::Binary(_) = message? {
                    if to_sink.send(message).await.is_err() {
                        break;
                    }
                }
            }
            drop(to_sink);
            writer.await.expect("the sink task panicked")
        },
    )
    .await;
    pause_then_read(io, 200).await;
}

/// Issue 16, item 6: the same with `WebSocket::split`'s `Receiver` and
/// `Sender` in two tasks.
#[tokio::test(start_paused = true)]
async fn split_halves_echo_survives_a_peer_that_pauses_reading_and_pings() {
    let (io, _rx) = open(
        WebSocketConfig::new().ping_interval(None),
        |ws| async move {
            let (tx, mut rx) = ws.split();
            let (to_sender, mut queued) = tokio::sync::mpsc::channel::<Message>(16);
            let writer = tokio::spawn(async move {
                while let Some(message) = queued.recv().await {
                    tx.send(message).await?;
                }
                Ok::<_, Error>(())
            });
            while let Some(message) = rx.recv().await {
                if let message @ Message::Binary(_) = message? {
                    if to_sender.send(message).await.is_err() {
                        break;
                    }
                }
            }
            drop(to_sender);
            writer.await.expect("the sender task panicked")
        },
    )
    .await;
    pause_then_read(io, 200).await;
}
