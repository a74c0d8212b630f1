//! The deployment knobs shared by the examples, read from the environment
//! (see docs/deployment.md):
//!
//! | variable | layer setting |
//! |---|---|
//! | `TRUSTED_PROXIES` (comma-separated addresses or CIDRs) and `CLIENT_SOURCE` (`x-forwarded`, `forwarded` or a header name such as `x-real-ip`; required with `TRUSTED_PROXIES`) | `trusted_proxies` |
//! | `MAX_CONNECTIONS_PER_CLIENT` | `max_connections_per_client` |
//! | `HANDSHAKES_PER_SECOND_PER_CLIENT`, `HANDSHAKE_BURST` (default: the rate) | `handshake_rate_per_client` |
//! | `MAX_HANDSHAKES_IN_PROGRESS` | `max_handshakes_in_progress` |
//! | `MAX_HANDSHAKES_IN_PROGRESS_PER_CLIENT` | `max_handshakes_in_progress_per_client` |
//!
//! Unset variables leave the layer's defaults (per-client limits off, nobody
//! trusted). A value that does not parse stops the example with a message.

use tower_upgrade::peer::{ClientSource, TrustedProxies};
use tower_upgrade::UpgradeLayer;

fn number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={value:?} is not a whole number"),
    }
}

/// `layer` with the settings the environment asks for.
pub fn from_env<R>(mut layer: UpgradeLayer<R>) -> UpgradeLayer<R> {
    let list = std::env::var("TRUSTED_PROXIES").unwrap_or_default();
    // The header the proxies set is named, never guessed: a client can
    // send the others.
    let source: ClientSource = match std::env::var("CLIENT_SOURCE") {
        Ok(name) => name
            .parse()
            .unwrap_or_else(|e| panic!("CLIENT_SOURCE={name:?}: {e}")),
        Err(_) if list.trim().is_empty() => ClientSource::Peer,
        Err(_) => panic!(
            "TRUSTED_PROXIES is set: say which header the proxies set with \
             CLIENT_SOURCE=x-forwarded, forwarded or a header name (x-real-ip)"
        ),
    };
    let trusted = TrustedProxies::parse(source, &list)
        .unwrap_or_else(|e| panic!("TRUSTED_PROXIES={list:?}: {e}"));
    tracing::info!(?trusted, "the client address comes from");
    layer = layer.trusted_proxies(trusted);
    if let Some(max) = number("MAX_CONNECTIONS_PER_CLIENT") {
        layer = layer.max_connections_per_client(max as usize);
    }
    if let Some(rate) = number("HANDSHAKES_PER_SECOND_PER_CLIENT") {
        let burst = number("HANDSHAKE_BURST").unwrap_or(rate);
        layer = layer.handshake_rate_per_client(rate as u32, burst as u32);
    }
    if let Some(max) = number("MAX_HANDSHAKES_IN_PROGRESS") {
        layer = layer.max_handshakes_in_progress(max as usize);
    }
    if let Some(max) = number("MAX_HANDSHAKES_IN_PROGRESS_PER_CLIENT") {
        layer = layer.max_handshakes_in_progress_per_client(max as usize);
    }
    layer
}
