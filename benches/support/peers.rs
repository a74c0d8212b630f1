//! The peers the benchmarks compare this crate with, each as an axum route
//! handler so that every server runs behind the same `axum::serve`.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

/// axum 0.8's `WebSocketUpgrade`: echo with `recv`/`send`.
pub async fn axum_echo(mut ws: axum::extract::ws::WebSocket) {
    use axum::extract::ws::Message;
    while let Some(Ok(message)) = ws.recv().await {
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && ws.send(message).await.is_err()
        {
            return;
        }
    }
}

/// fastwebsockets 0.10's `upgrade` with its `FragmentCollector`, as in its
/// own echo example (without `tokio::task::unconstrained`, which no other
/// row gets either).
pub async fn fastwebsockets_upgrade(mut request: Request) -> Response {
    use fastwebsockets::{FragmentCollector, OpCode};
    match fastwebsockets::upgrade::upgrade(&mut request) {
        Ok((response, upgrade)) => {
            tokio::spawn(async move {
                let Ok(ws) = upgrade.await else { return };
                let mut ws = FragmentCollector::new(ws);
                while let Ok(frame) = ws.read_frame().await {
                    let echo = match frame.opcode {
                        OpCode::Close => break,
                        OpCode::Text | OpCode::Binary => ws.write_frame(frame).await,
                        _ => Ok(()),
                    };
                    if echo.is_err() {
                        break;
                    }
                }
            });
            response.into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

/// tokio-websockets 0.13: `ServerBuilder::new().serve(io)` on the
/// connection hyper upgraded, the crate's documented way to take over a
/// handshake done elsewhere, then the `next`/`send` echo of its
/// `echo_server` example. Differences from that example: the 101 is
/// answered here (as fastwebsockets' `upgrade` does: only the key is read),
/// and the builder keeps its default `Config` and `Limits` (the example
/// sets `frame_size(usize::MAX)` and `Limits::unlimited()`, which change
/// nothing for messages under the 4 MiB default frame size) and no
/// `tokio::task::unconstrained`, which no other row gets either. Released
/// 0.13 has no permessage-deflate (its main branch adds it), so there is no
/// deflate row for it.
pub async fn tokio_websockets_upgrade(request: Request) -> Response {
    use axum::http::{header, StatusCode};
    use futures_util::{SinkExt, StreamExt};
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return (StatusCode::BAD_REQUEST, "no Sec-WebSocket-Key").into_response();
    };
    let accept = tower_upgrade::websocket::accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let mut ws = tokio_websockets::ServerBuilder::new().serve(io);
        while let Some(Ok(message)) = ws.next().await {
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(axum::body::Body::empty())
        .unwrap()
}
