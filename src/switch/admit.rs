//! Connection limits, checked before the `101` is sent.

use crate::layer::Config;
use crate::lifecycle::Admission;
use crate::registry::Registration;
use crate::rejection::{Rejection, TooManyConnections};

/// A place among the live connections of the layer and of the protocol, or
/// `503` with `Retry-After` when either is full.
pub(super) fn admit(config: &Config, registration: &Registration) -> Result<Admission, Rejection> {
    config
        .connections
        .admit(config.max_connections, &registration.slots)
        .ok_or_else(|| TooManyConnections::new(config.retry_after_secs).into())
}
