//! The switch itself: accept, read the body, admit, answer, hand off.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{CONNECTION, UPGRADE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tower::ServiceExt;

use crate::client::ClientInfo;
use crate::detect::Via;
use crate::layer::Config;
use crate::metrics;
use crate::rejection::{
    self, BodyTooLarge, ConnectionNotUpgradable, InvalidBody, Rejection, RenderRejection,
    TooManyConnections,
};
use crate::upgraded::Upgraded;

pub(crate) async fn switch<B, R>(
    config: Arc<Config>,
    renderer: R,
    via: Via,
    index: usize,
    token: String,
    req: Request<B>,
) -> Response<Bytes>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<tower::BoxError>,
    R: RenderRejection,
{
    let registered = config.registry.entries[index].token();
    metrics::attempt(&registered);
    let mut req = req;
    let client = ClientInfo::resolve(req.headers(), req.extensions(), &config.trusted_proxies);
    let client_addr = client.addr();
    req.extensions_mut().insert(client);
    match prepare(&config, via, index, &token, req).await {
        Ok(response) => {
            metrics::accepted(&registered);
            response
        }
        Err(rejection) => {
            metrics::rejected(&registered, &rejection);
            trace_rejection(&token, client_addr, &rejection);
            rejection::respond(&renderer, rejection)
        }
    }
}

async fn prepare<B>(
    config: &Config,
    via: Via,
    index: usize,
    token: &str,
    req: Request<B>,
) -> Result<Response<Bytes>, Rejection>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<tower::BoxError>,
{
    let registration = &config.registry.entries[index];
    let (mut parts, body) = req.into_parts();
    let client_addr = parts
        .extensions
        .get::<ClientInfo>()
        .and_then(ClientInfo::addr);
    let accepted = registration.protocol.accept(&parts, via, token)?;
    let on_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or(ConnectionNotUpgradable)?;

    // RFC 9110 §7.8: the switch takes effect after the request is complete,
    // so the body is read to its end first (polling it is also what makes
    // hyper send `100 Continue` for `Expect: 100-continue`). The bytes are
    // dropped unless the protocol answers the request itself (h2c does, on
    // stream 1): otherwise the new protocol starts after the request.
    let read = read_body(
        body,
        config.max_request_body,
        registration.protocol.keeps_body(),
    );
    let body = match tokio::time::timeout(config.handshake_timeout, read).await {
        Ok(result) => result?,
        Err(_) => return Err(InvalidBody.into()),
    };

    let admission = config
        .connections
        .admit(&registration.slots)
        .ok_or_else(|| TooManyConnections::new(config.retry_after_secs))?;

    let mut response = Response::new(Bytes::new());
    match via {
        Via::Http1 => {
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(
                UPGRADE,
                HeaderValue::from_str(token).expect("the token came from a header value"),
            );
        }
        // RFC 8441 §5: a 2xx accepts an extended CONNECT; HTTP/2 forbids
        // Connection and Upgrade (RFC 9113 §8.2.2).
        Via::Http2Connect => *response.status_mut() = StatusCode::OK,
    }
    response.headers_mut().extend(accepted.headers);

    let handler = registration.handler.clone();
    let timeout = config.handshake_timeout;
    let shutdown = config.connections.signal();
    #[cfg(feature = "websocket")]
    let frame_limits = accepted.frame_limits;
    #[cfg(feature = "yawc")]
    let deflate = accepted.deflate;
    let negotiated = accepted.negotiated;
    let span = tracing::info_span!(
        "upgraded",
        protocol = %negotiated.protocol(),
        path = %parts.uri.path(),
        client = ?client_addr,
        http2 = negotiated.is_http2(),
    );
    let live = registration.token();
    let task = async move {
        let _admission = admission;
        let io = match tokio::time::timeout(timeout, on_upgrade).await {
            Ok(Ok(io)) => io,
            Ok(Err(error)) => {
                tracing::debug!(%error, "the connection closed before the switch completed");
                return;
            }
            Err(_) => {
                tracing::debug!("the switch did not complete in time");
                return;
            }
        };
        let mut upgraded = Upgraded::new(io, parts, negotiated, shutdown);
        #[cfg(feature = "websocket")]
        {
            upgraded.frame_limits = frame_limits;
            #[cfg(feature = "yawc")]
            {
                upgraded.deflate = deflate;
            }
        }
        upgraded.body = body;
        tracing::debug!("connection upgraded");
        let _live = metrics::Live::start(live);
        match handler.oneshot(upgraded).await {
            Ok(()) => tracing::debug!("handler finished"),
            Err(error) => tracing::warn!(error = %error, "upgrade handler failed"),
        }
    };
    config
        .connections
        .tracker()
        .spawn(tracing::Instrument::instrument(task, span));
    Ok(response)
}

/// Reads `body` to its end within `limit`, keeping the bytes only when the
/// protocol wants them (otherwise they are counted and dropped as they come).
async fn read_body<B>(body: B, limit: usize, keep: bool) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<tower::BoxError>,
{
    let mut body = std::pin::pin!(Limited::new(body, limit));
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| -> Rejection {
            if e.is::<http_body_util::LengthLimitError>() {
                BodyTooLarge.into()
            } else {
                InvalidBody.into()
            }
        })?;
        if let (true, Ok(mut data)) = (keep, frame.into_data()) {
            kept.put(&mut data);
        }
    }
    Ok(kept.freeze())
}

fn trace_rejection(token: &str, client: Option<std::net::IpAddr>, rejection: &Rejection) {
    tracing::debug!(
        protocol = token,
        client = ?client,
        status = rejection.status().as_u16(),
        reason = rejection.reason(),
        "upgrade rejected"
    );
}
