//! Admission: the handshake rate and the places among handshakes in
//! progress (taken before the body is read), and the places among live
//! connections (checked before the body, taken after it, before the `101`).

use std::time::Duration;

use http::header::RETRY_AFTER;
use http::{HeaderValue, StatusCode};

use crate::client::ClientKey;
use crate::layer::Config;
use crate::lifecycle::{Admission, Full, Handshake};
use crate::registry::Registration;
use crate::rejection::{CustomRejection, Rejection, TooManyConnections};

/// Everything checked before the body is read: the client's handshake rate,
/// room among the live connections (and not shutting down), then a place
/// among the handshakes in progress, held until hand-off.
pub(super) fn before_body(
    config: &Config,
    registration: &Registration,
    client: Option<ClientKey>,
) -> Result<Handshake, Rejection> {
    if let (Some(rate), Some(key)) = (&config.per_client.rate, client) {
        rate.check(key).map_err(rate_limited)?;
    }
    config
        .connections
        .has_room(
            config.max_connections,
            &registration.slots,
            per_client(client, config.per_client.max_connections),
        )
        .map_err(|full| too_many_connections(config, full))?;
    config
        .connections
        .begin_handshake(
            config.max_handshakes,
            per_client(client, config.per_client.max_handshakes),
        )
        .map_err(|full| too_many_handshakes(config, full))
}

/// A place among the live connections of the layer, of the protocol and of
/// the client: `503` with `Retry-After` when the server's are full, `429`
/// when the client's are.
pub(super) fn admit(
    config: &Config,
    registration: &Registration,
    client: Option<ClientKey>,
) -> Result<Admission, Rejection> {
    config
        .connections
        .admit(
            config.max_connections,
            &registration.slots,
            per_client(client, config.per_client.max_connections),
        )
        .map_err(|full| too_many_connections(config, full))
}

fn per_client(client: Option<ClientKey>, max: Option<usize>) -> Option<(ClientKey, usize)> {
    Some((client?, max?))
}

fn retry_after(secs: u64) -> HeaderValue {
    HeaderValue::from(secs.max(1))
}

// RFC 6585 §4: 429 for one client sending too many requests, with
// Retry-After (RFC 9110 §10.2.3) saying how long to wait.
fn too_many_connections(config: &Config, full: Full) -> Rejection {
    match full {
        Full::Server => TooManyConnections::new(config.retry_after_secs).into(),
        Full::Client => CustomRejection::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many upgraded connections from this client; try again later",
        )
        .header(RETRY_AFTER, retry_after(config.retry_after_secs.into()))
        .label("too_many_connections_per_client")
        .into(),
    }
}

fn rate_limited(wait: Duration) -> Rejection {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    CustomRejection::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many upgrade attempts from this client; try again later",
    )
    .header(RETRY_AFTER, retry_after(secs))
    .label("handshake_rate_limited")
    .into()
}

fn too_many_handshakes(config: &Config, full: Full) -> Rejection {
    let status = match full {
        Full::Server => StatusCode::SERVICE_UNAVAILABLE,
        Full::Client => StatusCode::TOO_MANY_REQUESTS,
    };
    CustomRejection::new(status, "too many upgrades in progress; try again later")
        .header(RETRY_AFTER, retry_after(config.retry_after_secs.into()))
        .label("too_many_handshakes")
        .into()
}
