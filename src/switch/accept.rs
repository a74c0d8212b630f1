//! The chosen protocol's checks, and the upgrade handle the switch needs.

use http::request::Parts;

use crate::config::Config;
use crate::detect::Via;
use crate::protocol::{Accepted, Offer};
use crate::registry::Registration;
use crate::rejection::{ConnectionNotUpgradable, Rejection};

/// Asks the protocol whether it takes the request, then takes hyper's
/// upgrade handle out of the request: without one, no switch can happen.
pub(super) fn accept(
    config: &Config,
    registration: &Registration,
    parts: &mut Parts,
    via: Via,
    token: &str,
    body_len: Option<u64>,
) -> Result<(Accepted, hyper::upgrade::OnUpgrade), Rejection> {
    let offer = Offer {
        token,
        via,
        headers: &parts.headers,
        body_len,
        max_request_body: config.max_request_body,
    };
    let accepted = registration.protocol.accept(parts, &offer)?;
    let on_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or(ConnectionNotUpgradable)?;
    Ok((accepted, on_upgrade))
}
