//! Faults (issue 10): a WebSocket handler that panics on every 10th
//! connection disturbs no other connection, and the live count returns to
//! zero; clients that vanish mid-message without a Close are let go.
//! Real TCP on 127.0.0.1, tokio-tungstenite as the client.
#![cfg(all(feature = "messages", feature = "serve"))]

use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as Client;
use tower::service_fn;
use tower_upgrade::websocket::{Message, WebSocketConfig};
use tower_upgrade::{Connections, UpgradeLayer, Upgraded};

/// An echo server whose handler panics on every 10th connection: the
/// client numbers itself in its first message (`N:...`), so which ones
/// panic does not depend on the order the server saw them in.
async fn server() -> (std::net::SocketAddr, Connections, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let layer = UpgradeLayer::new().websocket(
        WebSocketConfig::new(),
        service_fn(move |conn: Upgraded| {
            seen.fetch_add(1, Ordering::SeqCst);
            async move {
                let mut ws = conn.into_websocket();
                // Once the client's first message is in: the panic hits a
                // connection that is live, with others busy around it.
                let first = ws.recv().await;
                if let Some(Ok(Message::Text(text))) = &first {
                    let n: usize = text.split(':').next().unwrap().parse().unwrap();
                    if n % 10 == 0 {
                        panic!("handler panics on connection {n}");
                    }
                }
                if let Some(Ok(message)) = first {
                    ws.send(message).await?;
                }
                while let Some(message) = ws.recv().await {
                    if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
                        ws.send(message).await?;
                    }
                }
                Ok::<_, tower_upgrade::websocket::Error>(())
            }
        }),
    );
    let connections = layer.connections();
    let app = axum::Router::new()
        .route("/ws", axum::routing::any(|| async { "not an upgrade" }))
        .layer(layer);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tower_upgrade::serve(listener, app).into_future());
    (addr, connections, count)
}

/// Waits (as long as it takes) until no upgraded connection is live.
async fn until_none_live(connections: &Connections) {
    while connections.active() != 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_disturbs_no_other_connection() {
    let (addr, connections, handled) = server().await;
    let url = format!("ws://{addr}/ws");
    // 40 clients connect, each says its number, then all talk at once.
    let mut clients = Vec::new();
    for i in 1..=40 {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        ws.send(Client::text(format!("{i}:0"))).await.unwrap();
        clients.push((i, ws));
    }
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(i, mut ws)| {
            tokio::spawn(async move {
                if i % 10 == 0 {
                    // Its handler panicked: the connection ends, without a
                    // Close frame, and nothing else.
                    while let Some(Ok(message)) = ws.next().await {
                        assert!(!message.is_text(), "{i}: got {message:?}");
                    }
                    return 0;
                }
                let mut echoed = 0;
                for round in 0..=20 {
                    if round > 0 {
                        ws.send(Client::text(format!("{i}:{round}"))).await.unwrap();
                    }
                    match ws.next().await {
                        Some(Ok(Client::Text(t))) => {
                            assert_eq!(t.as_str(), format!("{i}:{round}"));
                            echoed += 1;
                        }
                        other => panic!("client {i} round {round}: {other:?}"),
                    }
                }
                ws.close(None).await.unwrap();
                echoed
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 36 * 21, "every message of the 36 others echoed");
    assert_eq!(handled.load(Ordering::SeqCst), 40);
    until_none_live(&connections).await;
    // And the server takes new connections as before.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Client::text("41:after")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Client::text("41:after"),
        "a connection after the panics"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish_mid_message_are_let_go() {
    let (addr, connections, _) = server().await;
    let url = format!("ws://{addr}/ws");
    let mut raw = Vec::new();
    for i in (1..=30).filter(|i| i % 10 != 0) {
        // A first message, so each handler is past its first `recv` (no
        // 10th here: those panic, not what this tests).
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        ws.send(Client::text(format!("{i}"))).await.unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed, Client::text(format!("{i}")));
        raw.push(ws.into_inner());
    }
    assert!(connections.active() > 0);
    for (i, stream) in raw.into_iter().enumerate() {
        let mut tcp: TcpStream = match stream {
            tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp,
            _ => unreachable!("plain TCP"),
        };
        // Half a frame header, or a header that promises 1000 bytes and
        // half of them, then the client is gone: no Close, just FIN or RST.
        let bytes: &[u8] = match i % 3 {
            0 => &[0x81],
            1 => &[0x82, 0xFE, 0x03, 0xE8, 1, 2, 3, 4, 0, 0, 0],
            _ => &[],
        };
        tcp.write_all(bytes).await.unwrap();
        if i % 2 == 0 {
            // RST instead of FIN.
            tcp.set_zero_linger().unwrap();
        }
        drop(tcp);
    }
    until_none_live(&connections).await;
}
