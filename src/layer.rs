//! [`UpgradeLayer`]: the configuration, and the builder of [`Upgrade`] services.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use tower::Layer;

use crate::config::{Config, PerClientLimits};
use crate::config_error::ConfigError;
use crate::detect::ProtocolToken;
use crate::handler::UpgradeHandler;
use crate::lifecycle::HandshakeRate;
use crate::lifecycle::{Connections, Slots};
use crate::peer::TrustedProxies;
use crate::protocol::{Custom, Protocol};
use crate::registry::{boxed_handler, Preference, Registration, Registry};
use crate::rejection::{PlainTextRejection, RenderRejection};
use crate::service::Upgrade;

/// Accepts protocol upgrades in front of an HTTP service.
///
/// Requests that ask to switch to a registered protocol are answered with
/// `101 Switching Protocols` (or `200` to an HTTP/2 extended CONNECT), and
/// the connection is handed to that protocol's handler, a
/// `tower::Service<Upgraded>` (see [`UpgradeHandler`](crate::UpgradeHandler)
/// for the whole bound), in a task of its own. Every other request
/// reaches the inner service untouched.
///
/// ```
/// use axum::{routing::get, Router};
/// use tower::service_fn;
/// use tower_upgrade::{websocket::WebSocketConfig, UpgradeLayer, Upgraded};
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(
///         UpgradeLayer::new()
///             .websocket(
///                 WebSocketConfig::new().subprotocols(["chat"]),
///                 service_fn(|conn: Upgraded| async move {
///                     // conn is the raw WebSocket byte stream; see
///                     // `Upgraded::into_tungstenite` for messages.
///                     Ok::<_, std::io::Error>(())
///                 }),
///             )
///             .protocol(
///                 "linecount/1",
///                 service_fn(|conn: Upgraded| async move { Ok::<_, std::io::Error>(()) }),
///             ),
///     );
/// ```
#[must_use]
#[derive(Clone)]
pub struct UpgradeLayer<R = PlainTextRejection> {
    pub(crate) config: Arc<Config>,
    pub(crate) renderer: R,
}

impl Default for UpgradeLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> std::fmt::Debug for UpgradeLayer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpgradeLayer")
            .field("offered", &self.config.offered)
            .field("preference", &self.config.registry.preference)
            .field("require_upgrade", &self.config.require_upgrade)
            .field("max_request_body", &self.config.max_request_body)
            .field("handshake_timeout", &self.config.handshake_timeout)
            .field("max_handshakes_in_progress", &self.config.max_handshakes)
            .field("per_client", &self.config.per_client)
            .finish_non_exhaustive()
    }
}

impl UpgradeLayer {
    /// The default bound on an upgrade request's body, read before switching.
    pub const DEFAULT_MAX_REQUEST_BODY: usize = 64 * 1024;
    /// The default time allowed from the request to the switched connection.
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default bound on upgrades between detection and hand-off (see
    /// [`max_handshakes_in_progress`](Self::max_handshakes_in_progress)).
    pub const DEFAULT_MAX_HANDSHAKES_IN_PROGRESS: usize = 1024;
    /// The default of [`max_kept_head`](Self::max_kept_head): 16 KiB of
    /// header fields kept for the life of the connection.
    pub const DEFAULT_MAX_KEPT_HEAD: usize = crate::head::DEFAULT_MAX_KEPT_HEAD;
    /// The most bytes of `Connection`, and of `Upgrade`, each field's lines
    /// together, in a request that asks for a protocol the layer offers:
    /// 4 KiB, where clients send under 30. Past it the request gets `431
    /// Request Header Fields Too Large` naming the field
    /// ([`HeaderTooLarge`](crate::rejection::HeaderTooLarge), RFC 6585 §5),
    /// rather than a switch agreed on part of it. WebSocket bounds
    /// `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` the same
    /// way (see [`WebSocketRejection`](crate::websocket::WebSocketRejection)).
    /// Requests that are not upgrades to a protocol offered here are not
    /// checked.
    ///
    /// ```
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// assert_eq!(UpgradeLayer::MAX_NEGOTIATION_HEADER_BYTES, 4096);
    /// ```
    pub const MAX_NEGOTIATION_HEADER_BYTES: usize = 4096;

    /// A layer that offers no protocol yet: every request passes through.
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                registry: Registry::default(),
                offered: HeaderValue::from_static(""),
                require_upgrade: false,
                max_request_body: Self::DEFAULT_MAX_REQUEST_BODY,
                max_kept_head: Self::DEFAULT_MAX_KEPT_HEAD,
                on_failure: None,
                handshake_timeout: Self::DEFAULT_HANDSHAKE_TIMEOUT,
                retry_after_secs: 5,
                max_connections: usize::MAX,
                connections: Connections::default(),
                trusted_proxies: TrustedProxies::default(),
                upgraded_idle_timeout: None,
                max_handshakes: Self::DEFAULT_MAX_HANDSHAKES_IN_PROGRESS,
                per_client: PerClientLimits {
                    max_connections: None,
                    max_handshakes: None,
                    rate: None,
                },
                metrics_registered: Default::default(),
            }),
            renderer: PlainTextRejection,
        }
    }
}

impl<R> UpgradeLayer<R> {
    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Offers the protocol `token` (`name` or `name/version`) with the
    /// handshake of `protocol`, your own implementation of [`Protocol`]:
    /// the layer switches when `protocol` accepts, and `handler` gets the
    /// connection. See [`Protocol`] for a complete example.
    ///
    /// Tokens match as in [`protocol`](Self::protocol).
    ///
    /// # Panics
    ///
    /// When `token` is not a valid `name[/version]` or is registered twice;
    /// [`try_register`](Self::try_register) returns the error instead.
    pub fn register<P, H>(self, token: &str, protocol: P, handler: H) -> Self
    where
        P: Protocol,
        H: UpgradeHandler,
    {
        self.try_register(token, protocol, handler)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`register`](Self::register), but returns an error for an
    /// invalid or repeated token.
    ///
    /// ```
    /// use http::request::Parts;
    /// use tower::service_fn;
    /// use tower_upgrade::rejection::Rejection;
    /// use tower_upgrade::{Accepted, Offer, Protocol, UpgradeLayer, Upgraded};
    ///
    /// struct Anything;
    ///
    /// impl Protocol for Anything {
    ///     fn accept(&self, _: &Parts, _: &Offer<'_>) -> Result<Accepted, Rejection> {
    ///         Ok(Accepted::new())
    ///     }
    /// }
    ///
    /// let handler = service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) });
    /// assert!(UpgradeLayer::new().try_register("a b", Anything, handler).is_err());
    /// ```
    pub fn try_register<P, H>(
        self,
        token: &str,
        protocol: P,
        handler: H,
    ) -> Result<Self, ConfigError>
    where
        P: Protocol,
        H: UpgradeHandler,
    {
        self.register_arc(token, Arc::new(protocol), handler)
    }

    fn register_arc<H>(
        mut self,
        token: &str,
        protocol: Arc<dyn Protocol>,
        handler: H,
    ) -> Result<Self, ConfigError>
    where
        H: UpgradeHandler,
    {
        let parsed = ProtocolToken::parse(token).ok_or_else(|| {
            ConfigError::new(format!(
                "{token:?} is not a protocol token (name[/version])"
            ))
        })?;
        let config = self.config_mut();
        if config.registry.entries.iter().any(|r| {
            r.name.eq_ignore_ascii_case(parsed.name) && r.version.as_deref() == parsed.version
        }) {
            return Err(ConfigError::new(format!("{token:?} is registered twice")));
        }
        let registration = Registration {
            name: parsed.name.into(),
            version: parsed.version.map(Into::into),
            protocol,
            handler: boxed_handler(handler),
            slots: Arc::new(Slots::new(usize::MAX)),
        };
        config
            .connections
            .track(registration.token(), &registration.slots);
        config.registry.entries.push(registration);
        config.offered = config.registry.offered();
        Ok(self)
    }

    /// Offers the protocol `token` (`name` or `name/version`): the handler
    /// gets the raw connection after the switch, and sees the exact token the
    /// client sent in [`Negotiated::protocol`](crate::Negotiated::protocol).
    ///
    /// A token with a version takes only that version; one without takes any
    /// version. Names compare case-insensitively.
    ///
    /// # Panics
    ///
    /// When `token` is not a valid `name[/version]` or is registered twice;
    /// [`try_protocol`](Self::try_protocol) returns the error instead.
    ///
    /// ```
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new().protocol(
    ///     "linecount/1",
    ///     service_fn(|conn: Upgraded| async move { Ok::<_, std::io::Error>(()) }),
    /// );
    /// # let _ = layer;
    /// ```
    pub fn protocol<H>(self, token: &str, handler: H) -> Self
    where
        H: UpgradeHandler,
    {
        self.try_protocol(token, handler)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`protocol`](Self::protocol), but returns an error for an
    /// invalid or repeated token.
    ///
    /// ```
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let handler = service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) });
    /// assert!(UpgradeLayer::new().try_protocol("not a token", handler).is_err());
    /// ```
    pub fn try_protocol<H>(self, token: &str, handler: H) -> Result<Self, ConfigError>
    where
        H: UpgradeHandler,
    {
        self.try_register(token, Custom, handler)
    }

    /// Whose preference picks among several offered protocols; the server's
    /// (registration order) by default.
    pub fn preference(mut self, preference: Preference) -> Self {
        self.config_mut().registry.preference = preference;
        self
    }

    /// When `true`, a request that does not ask for one of the registered
    /// protocols gets `426 Upgrade Required` with `Upgrade` listing them,
    /// instead of reaching the inner service. Use it per route with axum's
    /// `route_layer`.
    ///
    /// ```
    /// use axum::{routing::get, Router};
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let app: Router = Router::new()
    ///     .route("/feed", get(|| async { "unreachable without an upgrade" }))
    ///     .route_layer(
    ///         UpgradeLayer::new()
    ///             .protocol("feed/1", service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }))
    ///             .require_upgrade(true),
    ///     );
    /// ```
    pub fn require_upgrade(mut self, require: bool) -> Self {
        self.config_mut().require_upgrade = require;
        self
    }

    /// The largest request body read before switching (64 KiB by default).
    /// RFC 9110 §7.8 has the server read the whole request before it switches;
    /// a larger body gets `413` and no switch. The body is not passed to the
    /// new protocol, except to h2c, which answers the request itself on
    /// stream 1: there a body over the bound (or of undeclared length) is not
    /// read at all, and the request reaches the inner service over HTTP/1.1
    /// instead (see the `h2c` module, feature `h2c`).
    pub fn max_request_body(mut self, bytes: usize) -> Self {
        self.config_mut().max_request_body = bytes;
        self
    }

    /// The most of the request head that [`Upgraded::parts`](crate::Upgraded::parts) keeps for the
    /// life of the connection (16 KiB by default, [`DEFAULT_MAX_KEPT_HEAD`](Self::DEFAULT_MAX_KEPT_HEAD)),
    /// counted as HTTP/2 counts a header list: each field's name and value
    /// plus 32 bytes (RFC 9113 §6.5.2), and the target. Method, target,
    /// version and extensions are always kept; header fields are kept in
    /// order while they fit. The protocol's checks see the whole head
    /// either way. 0 keeps no header fields.
    ///
    /// The HTTP server bounds the head it reads (hyper: about 400 KB), and
    /// every upgraded connection would otherwise hold that much.
    ///
    /// ```
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// // Handlers read the path and a cookie; keep 4 KiB of headers.
    /// let layer = UpgradeLayer::new().max_kept_head(4 * 1024);
    /// # let _ = layer;
    /// ```
    pub fn max_kept_head(mut self, bytes: usize) -> Self {
        self.config_mut().max_kept_head = bytes;
        self
    }

    /// Calls `callback` when a handler returns an error or panics, with
    /// the protocol, the request's method and target, the client and the
    /// error (a [`HandlerPanicked`](crate::HandlerPanicked) for a panic);
    /// like axum's `on_failed_upgrade`. Without it, the failure is logged
    /// with `tracing::warn!`. A panic is caught either way: it ends that
    /// connection only.
    ///
    /// ```
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// let layer = UpgradeLayer::new().on_failure(|failure| {
    ///     eprintln!("{} on {}: {}", failure.protocol().protocol(), failure.uri(), failure.error());
    /// });
    /// # let _ = layer;
    /// ```
    pub fn on_failure<F>(mut self, callback: F) -> Self
    where
        F: Fn(crate::UpgradeFailure) + Send + Sync + 'static,
    {
        self.config_mut().on_failure = Some(std::sync::Arc::new(callback));
        self
    }

    /// The layer as a service of its own, for a route that only switches
    /// protocols (axum's `route_service`): an upgrade to a registered
    /// protocol switches, anything else gets `426 Upgrade Required` with
    /// `Upgrade` listing the registered protocols (RFC 9110 §15.5.22; over
    /// HTTP/2, the plain 426). The same as
    /// `self.require_upgrade(true).layer(NotAnUpgrade)`, without a dummy
    /// handler.
    ///
    /// ```
    /// use axum::Router;
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let upgrades = UpgradeLayer::new()
    ///     .protocol("feed/1", service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }));
    /// let app: Router = Router::new().route_service("/feed", upgrades.into_service());
    /// # let _ = app;
    /// ```
    pub fn into_service(self) -> crate::endpoint::UpgradeEndpoint<R>
    where
        R: Clone,
    {
        tower::Layer::layer(&self.require_upgrade(true), crate::endpoint::NotAnUpgrade)
    }

    /// How long reading the request body and completing the switch may take
    /// (10 s by default).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config_mut().handshake_timeout = timeout;
        self
    }

    /// Ends an upgraded connection's IO when no byte has moved either way
    /// for `timeout`: the handler's pending read or write fails with
    /// `io::ErrorKind::TimedOut` (counted as `upgraded_idle` in
    /// `tower_upgrade_serve_timeouts_total`). Off by default. A handler can
    /// change it for its own connection with
    /// [`Upgraded::set_idle_timeout`](crate::Upgraded::set_idle_timeout), so
    /// one protocol of the layer can have its own.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new()
    ///     .protocol("feed/1", service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }))
    ///     .upgraded_idle_timeout(Duration::from_secs(300));
    /// # let _ = layer;
    /// ```
    pub fn upgraded_idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config_mut().upgraded_idle_timeout = timeout.into();
        self
    }

    /// The most upgraded connections live at once, all protocols together.
    /// Past it, upgrades get `503` with `Retry-After`. Unlimited by default.
    ///
    /// The limit belongs to this layer: setting it on a clone leaves the
    /// original's alone. The count it is compared with is shared by the
    /// clones (see [`connections`](Self::connections)).
    ///
    /// ```
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// let public = UpgradeLayer::new().max_connections(10_000);
    /// let admin = public.clone().max_connections(10); // `public` keeps 10,000
    /// # let _ = (public, admin);
    /// ```
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config_mut().max_connections = max;
        self
    }

    /// The most upgraded connections live at once for the registered
    /// protocol `token`.
    ///
    /// # Panics
    ///
    /// When `token` is not registered.
    ///
    /// ```
    /// use tower::service_fn;
    /// use tower_upgrade::{UpgradeLayer, Upgraded};
    ///
    /// let layer = UpgradeLayer::new()
    ///     .protocol("feed/1", service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }))
    ///     .max_connections_for("feed/1", 100);
    /// # let _ = layer;
    /// ```
    pub fn max_connections_for(mut self, token: &str, max: usize) -> Self {
        let config = self.config_mut();
        let registration = config
            .registry
            .entries
            .iter_mut()
            .find(|r| r.token().eq_ignore_ascii_case(token))
            .unwrap_or_else(|| panic!("{token:?} is not a registered protocol"));
        registration.slots = Arc::new(registration.slots.with_max(max));
        self
    }

    /// The most upgraded connections live at once from one client address
    /// (see [`ClientInfo::addr`](crate::peer::ClientInfo::addr): behind a trusted
    /// proxy, the client's; an IPv6 client counts by its /64). Past it, the
    /// client's upgrades get `429 Too Many Requests` with `Retry-After`
    /// while other clients still connect. Off by default.
    ///
    /// Without a known peer address (no [`PeerAddr`](crate::peer::PeerAddr) or
    /// axum `ConnectInfo`), no per-client limit applies.
    ///
    /// ```
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// let layer = UpgradeLayer::new().max_connections_per_client(20);
    /// # let _ = layer;
    /// ```
    pub fn max_connections_per_client(mut self, max: usize) -> Self {
        self.config_mut().per_client.max_connections = Some(max);
        self
    }

    /// At most `per_second` upgrade attempts per second from one client
    /// address on average, and `burst` at once: a token bucket per client
    /// (GCRA). Past it, `429 Too Many Requests` with `Retry-After` saying
    /// when the next token is there. `per_second == 0` turns it off (the
    /// default); a `burst` of 0 counts as 1.
    ///
    /// Only the buckets of clients seen within the last
    /// `burst / per_second` seconds are kept: the others are full again,
    /// like a new client's, and are dropped every 1,024 attempts, so memory
    /// follows the recent clients, not all the addresses ever seen.
    ///
    /// ```
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// // 5 upgrades per second per client, up to 20 in a burst.
    /// let layer = UpgradeLayer::new().handshake_rate_per_client(5, 20);
    /// # let _ = layer;
    /// ```
    pub fn handshake_rate_per_client(mut self, per_second: u32, burst: u32) -> Self {
        self.config_mut().per_client.rate = std::num::NonZeroU32::new(per_second).map(|rate| {
            let burst = std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN);
            Arc::new(HandshakeRate::new(rate, burst))
        });
        self
    }

    /// The most upgrades between detection and hand-off at once: reading
    /// their request body (up to [`max_request_body`](Self::max_request_body),
    /// up to the [`handshake_timeout`](Self::handshake_timeout)) or waiting
    /// for the switched connection. Past it, `503` with `Retry-After`,
    /// before the body is read. 1,024 by default
    /// ([`DEFAULT_MAX_HANDSHAKES_IN_PROGRESS`](Self::DEFAULT_MAX_HANDSHAKES_IN_PROGRESS)): the memory they can hold is
    /// at most this many bodies (h2c keeps its body; other protocols drop it
    /// as it is read).
    ///
    /// ```
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// let layer = UpgradeLayer::new()
    ///     .max_handshakes_in_progress(256)
    ///     .max_handshakes_in_progress_per_client(8);
    /// # let _ = layer;
    /// ```
    pub fn max_handshakes_in_progress(mut self, max: usize) -> Self {
        self.config_mut().max_handshakes = max;
        self
    }

    /// The most upgrades in progress at once from one client address (see
    /// [`max_handshakes_in_progress`](Self::max_handshakes_in_progress));
    /// past it, `429` with `Retry-After`. Off by default.
    pub fn max_handshakes_in_progress_per_client(mut self, max: usize) -> Self {
        self.config_mut().per_client.max_handshakes = Some(max);
        self
    }

    /// The `Retry-After` sent with `503` when a connection limit is reached
    /// (5 s by default). `Retry-After` counts whole seconds (RFC 9110
    /// §10.2.3), so a part of a second rounds up: 500 ms is sent as `1`,
    /// never as `0`, which would invite the client straight back.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// let layer = UpgradeLayer::new().retry_after(Duration::from_millis(1500)); // sent as `2`
    /// # let _ = layer;
    /// ```
    pub fn retry_after(mut self, after: Duration) -> Self {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        self.config_mut().retry_after_secs = secs.try_into().unwrap_or(u32::MAX);
        self
    }

    /// The proxies whose word about the client is believed, and the one
    /// forwarding header they set ([`ClientSource`](crate::peer::ClientSource):
    /// `Forwarded`, `X-Forwarded-*` or a header such as `X-Real-IP`; every
    /// other forwarding header is ignored). They decide the client address
    /// ([`Upgraded::client`](crate::Upgraded::client)), the per-client
    /// limits, and the public origin that the WebSocket same-origin check
    /// compares `Origin` with. Nobody by default, so no forwarding header
    /// is read. See [`TrustedProxies`] and `docs/deployment.md`.
    ///
    /// ```
    /// use tower_upgrade::peer::{ClientSource, TrustedProxies};
    /// use tower_upgrade::UpgradeLayer;
    ///
    /// // nginx on the same machine, setting X-Forwarded-For, -Host, -Proto.
    /// let nginx = TrustedProxies::parse(ClientSource::XForwarded, "127.0.0.1, ::1")?;
    /// let layer = UpgradeLayer::new().trusted_proxies(nginx);
    /// # let _ = layer;
    /// # Ok::<_, tower_upgrade::ConfigError>(())
    /// ```
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.config_mut().trusted_proxies = proxies;
        self
    }

    /// Renders rejections with `renderer` instead of [`PlainTextRejection`].
    pub fn render_rejection<R2: RenderRejection>(self, renderer: R2) -> UpgradeLayer<R2> {
        UpgradeLayer {
            config: self.config,
            renderer,
        }
    }

    /// The live upgraded connections of this layer and every service built
    /// from it or its clones: counts and graceful shutdown.
    pub fn connections(&self) -> Connections {
        self.config.connections.clone()
    }
}

impl<S, R: Clone> Layer<S> for UpgradeLayer<R> {
    type Service = Upgrade<S, R>;

    /// With the `metrics` feature, the first service built from a
    /// configuration registers its series at 0 in the recorder installed
    /// then (see the crate docs, "Observability"): install the recorder
    /// first.
    fn layer(&self, inner: S) -> Self::Service {
        let config = &self.config;
        crate::metrics::register(&config.metrics_registered, || crate::metrics::Offered {
            protocols: config
                .registry
                .entries
                .iter()
                .map(|entry| (entry.token(), entry.protocol.rejection_labels()))
                .collect(),
            require_upgrade: config.require_upgrade,
        });
        Upgrade {
            inner,
            config: self.config.clone(),
            renderer: self.renderer.clone(),
        }
    }
}
