//! The task that waits for the switch to complete and runs the handler.

use bytes::Bytes;
use http::request::Parts;
use tokio::time::Instant;
use tower::ServiceExt;

use tower::BoxError;

use crate::config::Config;
use crate::detect::Via;
use crate::handler_failure::{CatchPanic, Outcome, UpgradeFailure};
use crate::lifecycle::{Admission, Handshake};
use crate::metrics;
use crate::protocol::Accepted;
use crate::registry::Registration;
use crate::upgraded::{Negotiated, Upgraded};

/// Everything the handler's task takes along.
pub(super) struct Handoff<'a> {
    pub(super) config: &'a Config,
    pub(super) registration: &'a Registration,
    pub(super) via: Via,
    pub(super) token: &'a str,
    pub(super) parts: Parts,
    pub(super) accepted: Accepted,
    pub(super) body: Bytes,
    pub(super) on_upgrade: hyper::upgrade::OnUpgrade,
    pub(super) admission: Admission,
    /// Given back once the switched IO is there (or the switch failed).
    pub(super) handshake: Handshake,
    pub(super) deadline: Instant,
}

/// Spawns, on the layer's task tracker, the task that awaits the upgraded
/// IO (until the handshake deadline) and hands it to the handler.
pub(super) fn spawn(handoff: Handoff<'_>) {
    let Handoff {
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
    } = handoff;
    let handler = registration.handler.clone();
    let shutdown = config.connections.signal();
    let idle_timeout = config.upgraded_idle_timeout;
    let negotiated = Negotiated::new(
        token.to_owned(),
        accepted.subprotocol,
        via == Via::Http2Connect,
    );
    let extensions = accepted.extensions;
    let span = tracing::info_span!(
        "upgraded",
        protocol = %negotiated.protocol(),
        path = %parts.uri.path(),
        client = ?parts.extensions.get::<crate::peer::ClientInfo>().and_then(|c| c.addr()),
        http2 = negotiated.is_http2(),
    );
    let live = registration.token();
    // Copied now, so the server's read buffer is freed before the switch.
    let head = crate::head::keep(parts, config.max_kept_head);
    if head.1 > 0 {
        tracing::debug!(
            dropped = head.1,
            "header fields past max_kept_head left out"
        );
    }
    // What the failure callback sees of the request, which the handler owns.
    let view = (
        negotiated.clone(),
        head.0.method.clone(),
        head.0.uri.clone(),
        head.0
            .extensions
            .get::<crate::peer::ClientInfo>()
            .and_then(|c| c.addr()),
    );
    let on_failure = config.on_failure.clone();
    let task = async move {
        let _admission = admission;
        let switched = tokio::time::timeout_at(deadline, on_upgrade).await;
        drop(handshake);
        let io = match switched {
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
        let mut upgraded = Upgraded::new(io, head, negotiated, extensions, body, shutdown);
        upgraded.set_idle_timeout(idle_timeout);
        tracing::debug!("connection upgraded");
        let _live = metrics::Live::start(live);
        let (error, panicked) = match CatchPanic::new(handler.oneshot(upgraded)).await {
            Outcome::Done => return tracing::debug!("handler finished"),
            Outcome::Failed(error) => (error, false),
            Outcome::Panicked(panic) => (BoxError::from(panic), true),
        };
        let failure = UpgradeFailure {
            protocol: view.0,
            method: view.1,
            uri: view.2,
            client: view.3,
            error,
            panicked,
        };
        match on_failure {
            Some(callback) => callback(failure),
            None => failure.log(),
        }
    };
    config
        .connections
        .tracker()
        .spawn(tracing::Instrument::instrument(task, span));
}
