//! The switch itself, one step a file: [`accept`] (the protocol's checks),
//! [`admit`] (rate and handshakes in progress, then connection limits, each
//! checked before the body and the places taken after), [`body`] (read the
//! request to its end),
//! [`respond`] (the `101`/`200`), [`hand_off`] (the task that awaits the
//! upgrade and runs the handler).
//!
//! One deadline, `handshake_timeout` from the moment the switch starts,
//! bounds the body read and the wait for the upgraded IO together.

mod accept;
mod admit;
mod body;
mod hand_off;
mod respond;

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tokio::time::Instant;

use crate::config::Config;
use crate::detect::Via;
use crate::lifecycle::ClientKey;
use crate::metrics;
use crate::peer::ClientInfo;
use crate::protocol::Step;
use crate::rejection::{self, Rejection, RenderRejection};

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
    let version = req.version();
    let client = ClientInfo::resolve(req.headers(), req.extensions(), &config.trusted_proxies);
    let client_addr = client.addr();
    let client_key = ClientKey::of(&client);
    req.extensions_mut().insert(client);
    match prepare(&config, via, index, &token, client_key, req).await {
        Ok(response) => {
            metrics::accepted(&registered);
            response
        }
        Err(rejection) => {
            metrics::rejected(&registered, &rejection);
            trace_rejection(&token, client_addr, &rejection);
            rejection::respond(&renderer, rejection, version)
        }
    }
}

async fn prepare<B>(
    config: &Config,
    via: Via,
    index: usize,
    token: &str,
    client: Option<ClientKey>,
    req: Request<B>,
) -> Result<Response<Bytes>, Rejection>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<tower::BoxError>,
{
    let deadline = Instant::now() + config.handshake_timeout;
    let registration = &config.registry.entries[index];
    let body_len = req.body().size_hint().exact();
    let (mut parts, body) = req.into_parts();
    let (accepted, on_upgrade) =
        accept::accept(config, registration, &mut parts, via, token, body_len)?;
    let handshake = admit::before_body(config, registration, client)?;
    let body = body::read(
        body,
        config.max_request_body,
        registration.protocol.keeps_body(),
        body_len,
        deadline,
    )
    .await?;
    let admission = admit::admit(config, registration, client)?;
    let mut accepted = before_switch(registration, &parts, accepted, deadline).await?;
    let response = respond::switching(via, token, std::mem::take(&mut accepted.headers));
    hand_off::spawn(hand_off::Handoff {
        config,
        registration,
        via,
        token,
        parts,
        accepted,
        body,
        on_upgrade,
        admission,
        handshake,
        deadline,
    });
    Ok(response)
}

/// The protocol's asynchronous step, if it has one, within the handshake
/// deadline; a protocol without one costs a match, no allocation.
async fn before_switch(
    registration: &crate::registry::Registration,
    parts: &http::request::Parts,
    accepted: crate::Accepted,
    deadline: Instant,
) -> Result<crate::Accepted, Rejection> {
    match registration.protocol.before_switch(parts, accepted).0 {
        Step::Ready(outcome) => outcome,
        Step::Pending(future) => match tokio::time::timeout_at(deadline, future).await {
            Ok(outcome) => outcome,
            Err(_) => Err(rejection::BeforeSwitchTimeout.into()),
        },
    }
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
