//! Admission: the handshake rate and the places among handshakes in
//! progress (taken before the body is read), and the places among live
//! connections (checked before the body, taken after it, before the `101`).

use std::time::Duration;

use crate::config::Config;
use crate::lifecycle::ClientKey;
use crate::lifecycle::{Admission, Full, Handshake};
use crate::registry::Registration;
use crate::rejection::{
    HandshakeRateLimited, Rejection, TooManyConnections, TooManyConnectionsPerClient,
    TooManyHandshakes, TooManyHandshakesPerClient,
};

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

// RFC 6585 §4: 429 for one client sending too many requests; 503 for the
// server as a whole. Both with Retry-After (RFC 9110 §10.2.3).
fn too_many_connections(config: &Config, full: Full) -> Rejection {
    match full {
        Full::Server => TooManyConnections::new(config.retry_after_secs).into(),
        Full::Client => TooManyConnectionsPerClient::new(config.retry_after_secs).into(),
    }
}

fn rate_limited(wait: Duration) -> Rejection {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HandshakeRateLimited::new(secs.try_into().unwrap_or(u32::MAX)).into()
}

fn too_many_handshakes(config: &Config, full: Full) -> Rejection {
    match full {
        Full::Server => TooManyHandshakes::new(config.retry_after_secs).into(),
        Full::Client => TooManyHandshakesPerClient::new(config.retry_after_secs).into(),
    }
}
