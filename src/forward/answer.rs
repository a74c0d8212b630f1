//! The exchange with the upstream before the client is answered: connect,
//! send the request, read the answer, and turn it into the client's.

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{
    CONNECTION, CONTENT_LENGTH, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS,
    SEC_WEBSOCKET_PROTOCOL, UPGRADE,
};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::request::{outgoing, strip_hop_by_hop};
use super::Forward;
use crate::metrics;
use crate::protocol::Accepted;
use crate::rejection::{ProtocolRejection, Rejection};

/// The `reason` labels of the gateway's own refusals, and of an upstream's
/// refusal relayed.
pub(super) const LABELS: [&str; 4] = [
    "upstream_unreachable",
    "upstream_timeout",
    "upstream_malformed",
    "upstream_refused",
];

/// The upstream's side of a switched connection, handed from the exchange
/// to the relay through the `Accepted`'s extensions (which must be
/// `Clone`: the first to take it has it).
#[derive(Clone)]
pub(super) struct UpstreamIo(Arc<Mutex<Option<TokioIo<hyper::upgrade::Upgraded>>>>);

impl UpstreamIo {
    pub(super) fn take(&self) -> Option<TokioIo<hyper::upgrade::Upgraded>> {
        self.0.lock().ok()?.take()
    }
}

enum Failure {
    Unreachable(io::Error),
    Timeout,
    Malformed(&'static str),
}

impl Failure {
    fn into_rejection(self, upstream: &str) -> Rejection {
        let (status, reason, label, outcome) = match self {
            Failure::Unreachable(error) => {
                tracing::debug!(upstream, %error, "upstream unreachable");
                (
                    StatusCode::BAD_GATEWAY,
                    "the upstream could not be reached",
                    LABELS[0],
                    "unreachable",
                )
            }
            // RFC 9110 §15.6.5: the upstream did not answer in time.
            Failure::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "the upstream did not answer in time",
                LABELS[1],
                "timeout",
            ),
            // RFC 9110 §15.6.3: an invalid answer from the upstream.
            Failure::Malformed(why) => {
                tracing::debug!(upstream, why, "upstream answer malformed");
                (
                    StatusCode::BAD_GATEWAY,
                    "the upstream's answer was not a valid switch",
                    LABELS[2],
                    "malformed",
                )
            }
        };
        metrics::forward(outcome);
        ProtocolRejection::new(status, reason).label(label).into()
    }
}

/// What the upstream answered to the request `client` made, as the
/// terms of the client's switch or its refusal.
pub(super) async fn exchange(
    forward: &Forward,
    token: Option<&str>,
    client: &Parts,
    accepted: Accepted,
) -> Result<Accepted, Rejection> {
    let upstream = forward.upstream.pick(client);
    let result = async {
        let tcp = match tokio::time::timeout(
            forward.connect_timeout,
            TcpStream::connect(upstream.as_str()),
        )
        .await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(error)) => return Err(Failure::Unreachable(error)),
            Err(_) => return Err(Failure::Unreachable(io::ErrorKind::TimedOut.into())),
        };
        let _ = tcp.set_nodelay(true);
        tokio::time::timeout(
            forward.answer_timeout,
            converse(forward, token, client, accepted, tcp, &upstream),
        )
        .await
        .unwrap_or(Err(Failure::Timeout))
    }
    .await;
    result.map_err(|failure| failure.into_rejection(&upstream))?
}

/// The HTTP/1.1 exchange on `tcp`: `Ok(Err(_))` is the upstream's refusal,
/// relayed.
async fn converse(
    forward: &Forward,
    token: Option<&str>,
    client: &Parts,
    mut accepted: Accepted,
    tcp: TcpStream,
    upstream: &str,
) -> Result<Result<Accepted, Rejection>, Failure> {
    let http2 = client.method == Method::CONNECT;
    let out = outgoing(client, upstream, forward.keep_host, http2, token);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|_| Failure::Malformed("handshake"))?;
    // Driven here rather than spawned: a timeout drops it with the rest.
    let mut conn = std::pin::pin!(conn.with_upgrades());
    // The connection may end (a refusal with `Connection: close`) or hand
    // itself over (a 101) before the response is read from the channel.
    let mut conn_done = false;
    let mut send = std::pin::pin!(sender.send_request(out.request));
    let mut response = loop {
        tokio::select! {
            response = &mut send => {
                break response.map_err(|_| Failure::Malformed("no valid response head"))?;
            }
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        if response.status().is_success() || response.status().is_informational() {
            // A 2xx would accept an extended CONNECT (RFC 8441 §5) that the
            // upstream did not switch: never relayed.
            return Err(Failure::Malformed("neither 101 nor an error"));
        }
        return refusal(forward, response, conn, conn_done).await.map(Err);
    }
    // RFC 9110 §15.2.2: a 101 names the protocol switched to; RFC 6455
    // §4.1, the client's checks of the server's answer (items 2 to 4):
    // the upgrade pair, and the accept of the key the upstream was sent
    // (the gateway's own over HTTP/2).
    let headers = response.headers();
    let wanted = token.unwrap_or("websocket").as_bytes();
    let upgrade = headers
        .get(UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(wanted));
    let connection = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !upgrade || !connection {
        return Err(Failure::Malformed(
            "no Upgrade naming the protocol asked for",
        ));
    }
    match &out.expected_accept {
        Some(expected) => {
            if headers.get(SEC_WEBSOCKET_ACCEPT).map(|v| v.as_bytes()) != Some(expected.as_bytes())
            {
                return Err(Failure::Malformed("wrong Sec-WebSocket-Accept"));
            }
            // What the upstream agreed is what the client gets: the
            // gateway negotiates no subprotocol or extension of its own.
            if !http2 {
                accepted
                    .headers
                    .insert(SEC_WEBSOCKET_ACCEPT, headers[SEC_WEBSOCKET_ACCEPT].clone());
            }
            for name in [SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_EXTENSIONS] {
                for value in headers.get_all(&name) {
                    accepted.headers.append(name.clone(), value.clone());
                }
            }
            accepted.subprotocol = headers
                .get(SEC_WEBSOCKET_PROTOCOL)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        None => {
            // A protocol of the user's own: every end-to-end field of the
            // upstream's 101 (RFC 9110 §7.6.1).
            let mut relayed = headers.clone();
            strip_hop_by_hop(&mut relayed);
            relayed.remove(CONTENT_LENGTH);
            for (name, value) in &relayed {
                accepted.headers.append(name.clone(), value.clone());
            }
        }
    }
    let mut upgrade = hyper::upgrade::on(&mut response);
    let io = loop {
        tokio::select! {
            io = &mut upgrade => break io,
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    };
    let io = io.map_err(|_| Failure::Malformed("the switch did not complete"))?;
    metrics::forward("forwarded");
    accepted
        .extensions
        .insert(UpstreamIo(Arc::new(Mutex::new(Some(TokioIo::new(io))))));
    Ok(Ok(accepted))
}

/// The upstream's refusal, as the client's: its status, its end-to-end
/// headers, and its body up to the bound.
async fn refusal<C>(
    forward: &Forward,
    response: Response<Incoming>,
    conn: std::pin::Pin<&mut C>,
    conn_done: bool,
) -> Result<Rejection, Failure>
where
    C: std::future::Future,
{
    let (head, body) = response.into_parts();
    let mut body = std::pin::pin!(Limited::new(body, forward.max_refusal_body).collect());
    let mut conn = conn;
    let mut conn_done = conn_done;
    let body = loop {
        tokio::select! {
            body = &mut body => break body,
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    };
    let body: Bytes = body
        .map_err(|_| Failure::Malformed("refusal body too large or cut"))?
        .to_bytes();
    let mut headers = head.headers;
    strip_hop_by_hop(&mut headers);
    headers.remove(CONTENT_LENGTH);
    let mut rejection = ProtocolRejection::new(head.status, "the upstream refused the upgrade")
        .label(LABELS[3])
        .body(body);
    for (name, value) in &headers {
        rejection = rejection.header(name.clone(), value.clone());
    }
    metrics::forward("refused");
    Ok(rejection.into())
}
