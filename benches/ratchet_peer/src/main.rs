//! `ratchet-peer ROW [WORKERS]`: serves WebSocket echo on `/ws` at
//! 127.0.0.1 on a free port and prints the port, for the rows `ratchet` and
//! `ratchet-deflate` of benches/load_test.rs and benches/idle_memory.rs.
//!
//! Like every other row: `axum::serve` and a multi-thread tokio runtime
//! with WORKERS (default 2) worker threads; hyper does the HTTP/1.1
//! upgrade. ratchet takes it over the way it documents for other HTTP
//! servers: `server::handshake` checks the request and negotiates the
//! extension, and `WebSocket::from_upgraded` runs on hyper's upgraded IO.
//! The echo loop is the one of ratchet's `server`/`autobahn-server`
//! examples (`read` into a `BytesMut`, `write` it back, `clear`); its
//! `write` flushes by itself. The examples read the HTTP request with
//! ratchet's own `accept_with` on a bare `TcpStream` instead, and the
//! autobahn one wraps it in `BufReader<BufWriter<_>>`.
//!
//! One difference from the other rows: TCP_NODELAY is set on accepted
//! sockets. ratchet writes a frame's header and its payload with two
//! `write_all` calls, and with Nagle's algorithm on, the payload waits for
//! the ACK of the header, which the client delays (~40 ms): 222 msg/s in
//! all at 10 connections x 1 KiB. The other rows write a frame in one
//! write and never wait on Nagle, so for them the option changes nothing;
//! ratchet keeps the cost of its second write (a syscall and a segment).

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::serve::ListenerExt;
use bytes::BytesMut;
use ratchet_rs::deflate::DeflateExtProvider;
use ratchet_rs::{
    Extension, ExtensionProvider, Message, NoExtProvider, PayloadType, Role, SubprotocolRegistry,
    WebSocket, WebSocketConfig,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let row = args.next().unwrap_or_default();
    let workers = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    let deflate = match row.as_str() {
        "ratchet" => false,
        "ratchet-deflate" => true,
        other => panic!("unknown row {other:?}: ratchet or ratchet-deflate"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ws = if deflate {
            // ratchet's defaults, as its autobahn example uses them. As a
            // server it answers only what the client offers (its
            // `request_*_no_context_takeover` are for its client side), so
            // Chromium's offer gets context takeover both ways, 15-bit
            // windows; flate2 on C zlib, `Compression::fast()`.
            any(|request: Request| async { upgrade(request, DeflateExtProvider::default()) })
        } else {
            any(|request: Request| async { upgrade(request, NoExtProvider) })
        };
        let app = axum::Router::new().route("/ws", ws);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        let listener = listener.tap_io(|tcp| {
            tcp.set_nodelay(true).expect("TCP_NODELAY");
        });
        axum::serve(listener, app).await.unwrap();
    });
}

fn upgrade<P>(mut request: Request, extension: P) -> Response
where
    P: ExtensionProvider,
    P::Extension: Send + 'static,
{
    let on_upgrade = hyper::upgrade::on(&mut request);
    let parts = match ratchet_core::server::handshake(
        request,
        extension,
        &SubprotocolRegistry::default(),
    ) {
        Ok(parts) => parts,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let extension = parts.extension;
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let ws = WebSocket::from_upgraded(
            WebSocketConfig::default(),
            hyper_util::rt::TokioIo::new(upgraded),
            extension,
            BytesMut::new(),
            Role::Server,
        );
        let _ = echo(ws).await;
    });
    parts.response.map(|()| Body::empty())
}

async fn echo<S, E>(mut ws: WebSocket<S, E>) -> Result<(), ratchet_rs::Error>
where
    S: ratchet_rs::WebSocketStream,
    E: Extension,
{
    let mut buf = BytesMut::new();
    loop {
        match ws.read(&mut buf).await? {
            Message::Text => {
                ws.write(&mut buf, PayloadType::Text).await?;
                buf.clear();
            }
            Message::Binary => {
                ws.write(&mut buf, PayloadType::Binary).await?;
                buf.clear();
            }
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return Ok(()),
        }
    }
}
