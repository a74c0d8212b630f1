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
