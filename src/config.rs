//! [`Config`]: what an [`UpgradeLayer`](crate::UpgradeLayer) was told,
//! shared by the layer, every service it builds, and the switch. Its own
//! file so that none of them imports another for it.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use crate::handler_failure::OnFailure;
use crate::lifecycle::{Connections, HandshakeRate};
use crate::peer::TrustedProxies;
use crate::registry::Registry;

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) registry: Registry,
    pub(crate) offered: HeaderValue,
    pub(crate) require_upgrade: bool,
    pub(crate) max_request_body: usize,
    pub(crate) max_kept_head: usize,
    pub(crate) on_failure: Option<OnFailure>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) retry_after_secs: u32,
    /// This layer's limit on live connections, all protocols together; a
    /// clone may set another (the count itself, in `connections`, is shared).
    pub(crate) max_connections: usize,
    pub(crate) connections: Connections,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) upgraded_idle_timeout: Option<Duration>,
    /// Upgrades between detection and hand-off, all clients together.
    pub(crate) max_handshakes: usize,
    pub(crate) per_client: PerClientLimits,
    /// Whether this configuration's metrics series exist yet (at 0).
    pub(crate) metrics_registered: crate::metrics::Registered,
}

/// This layer's limits per client address; all off by default.
#[derive(Clone, Debug)]
pub(crate) struct PerClientLimits {
    pub(crate) max_connections: Option<usize>,
    pub(crate) max_handshakes: Option<usize>,
    pub(crate) rate: Option<Arc<HandshakeRate>>,
}
