//! The extension point every protocol is built on: [`Protocol`] decides,
//! from what the client [`Offer`]s, whether to switch and on what terms
//! ([`Accepted`]). WebSocket and h2c are implementations of it, exactly as a
//! third-party protocol would be.

use std::future::Future;
use std::pin::Pin;

use http::request::Parts;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue};

use crate::detect::Via;
use crate::rejection::Rejection;

/// A protocol the layer can switch to: its checks, its response headers, and
/// what it hands to the handler.
///
/// For a protocol with no handshake of its own,
/// [`UpgradeLayer::protocol`](crate::UpgradeLayer::protocol) needs no
/// implementation.
///
/// A protocol of your own, registered with
/// [`UpgradeLayer::register`](crate::UpgradeLayer::register): it requires a
/// header, refuses a bad value with its own status and reason, answers with a
/// header, and hands the agreed value to the handler.
///
/// ```
/// use http::request::Parts;
/// use http::{HeaderName, HeaderValue, StatusCode};
/// use tower::service_fn;
/// use tower_upgrade::rejection::{ProtocolRejection, Rejection};
/// use tower_upgrade::{Accepted, Offer, Protocol, UpgradeLayer, Upgraded};
///
/// /// What the handler reads back: the line length both sides agreed on.
/// #[derive(Clone, Copy, Debug)]
/// struct MaxLine(usize);
///
/// struct Linecount;
///
/// impl Protocol for Linecount {
///     fn accept(&self, request: &Parts, _offer: &Offer<'_>) -> Result<Accepted, Rejection> {
///         let max = request
///             .headers
///             .get("linecount-max-line")
///             .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
///             .filter(|n| (1..=65536).contains(n))
///             .ok_or_else(|| {
///                 ProtocolRejection::new(
///                     StatusCode::BAD_REQUEST,
///                     "Linecount-Max-Line must be a number from 1 to 65536",
///                 )
///                 .label("linecount_bad_max_line")
///             })?;
///         Ok(Accepted::new()
///             .with_header(HeaderName::from_static("linecount-max-line"), HeaderValue::from(max))
///             .with_extension(MaxLine(max)))
///     }
/// }
///
/// let layer = UpgradeLayer::new().register(
///     "linecount/1",
///     Linecount,
///     service_fn(|conn: Upgraded| async move {
///         let MaxLine(max) = *conn.extensions().get::<MaxLine>().expect("set by accept");
///         # let _ = max;
///         Ok::<_, std::io::Error>(())
///     }),
/// );
/// # let _ = layer;
/// ```
pub trait Protocol: Send + Sync + 'static {
    /// Checks the request that asked for this protocol and either accepts
    /// it, with the headers to add to the switch response and the values to
    /// hand to the handler, or rejects it with a response the client sees
    /// (a [`ProtocolRejection`](crate::rejection::ProtocolRejection) for your own status
    /// and reason).
    ///
    /// Runs after [`declines`](Self::declines) and before the body is read.
    fn accept(&self, request: &Parts, offer: &Offer<'_>) -> Result<Accepted, Rejection>;

    /// Why this protocol does not take the request, if it does not. A
    /// declined offer is not an error: the layer looks for another offered
    /// protocol and otherwise hands the request to the inner service, which
    /// answers it as if no switch had been asked for (RFC 9110 §7.8
    /// lets a server ignore `Upgrade`). Runs before anything is read, on
    /// every request that offers this protocol, so it should allocate
    /// nothing.
    fn declines(&self, _offer: &Offer<'_>) -> Option<&'static str> {
        None
    }

    /// Whether the handler needs the request body, which is then read in
    /// full (up to the layer's
    /// [`max_request_body`](crate::UpgradeLayer::max_request_body)) before
    /// the switch and handed over in [`Upgraded::body`](crate::Upgraded::body).
    /// Otherwise the body is read and dropped as it arrives.
    fn keeps_body(&self) -> bool {
        false
    }

    /// The metrics labels ([`ProtocolRejection::label`](crate::rejection::ProtocolRejection::label))
    /// of the refusals [`accept`](Self::accept) can return, so that with
    /// the `metrics` feature each `tower_upgrade_rejected_total` series of
    /// this protocol exists, at 0, from the moment the layer is built, not
    /// from the first refusal (alerts and `rate()` need the series to be
    /// there). None by default; the core's own causes are always
    /// registered.
    ///
    /// ```
    /// # use http::request::Parts;
    /// # use tower_upgrade::rejection::Rejection;
    /// # use tower_upgrade::{Accepted, Offer, Protocol};
    /// struct Linecount;
    ///
    /// impl Protocol for Linecount {
    ///     fn accept(&self, _: &Parts, _: &Offer<'_>) -> Result<Accepted, Rejection> {
    ///         Ok(Accepted::new())
    ///     }
    ///
    ///     fn rejection_labels(&self) -> &'static [&'static str] {
    ///         &["linecount_bad_max_line"]
    ///     }
    /// }
    /// ```
    fn rejection_labels(&self) -> &'static [&'static str] {
        &[]
    }

    /// The asynchronous step before the answer, for a protocol that must
    /// do IO before it can say yes (a gateway connects to its upstream and
    /// reads its answer; a token is checked against a store): it gets the
    /// request head and what [`accept`](Self::accept) agreed, and returns
    /// the final [`Accepted`] (whose headers go into the `101`/`200`, and
    /// whose extensions, such as an upstream connection, reach the
    /// handler) or a [`Rejection`] (a
    /// [`ProtocolRejection`](crate::rejection::ProtocolRejection) can
    /// carry a status, headers and a body of its own).
    ///
    /// Runs after [`accept`](Self::accept), after the body is read and
    /// after admission (the places among handshakes in progress and among
    /// live connections are held while it runs), before the switch
    /// response is written, and within the layer's
    /// [`handshake_timeout`](crate::UpgradeLayer::handshake_timeout): past
    /// it, the client gets
    /// [`BeforeSwitchTimeout`](crate::rejection::BeforeSwitchTimeout).
    ///
    /// By default the step is [`BeforeSwitch::ready`] with what `accept`
    /// returned: nothing is boxed, nothing is awaited.
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use std::sync::Arc;
    /// use http::request::Parts;
    /// use http::StatusCode;
    /// use tokio::sync::RwLock;
    /// use tower_upgrade::rejection::{ProtocolRejection, Rejection};
    /// use tower_upgrade::{Accepted, BeforeSwitch, Offer, Protocol};
    ///
    /// /// Who the token belongs to, for the handler.
    /// #[derive(Clone, Debug)]
    /// struct User(String);
    ///
    /// /// Tokens are checked against a store that may be remote.
    /// struct Feed {
    ///     tokens: Arc<RwLock<HashSet<String>>>,
    /// }
    ///
    /// impl Protocol for Feed {
    ///     fn accept(&self, request: &Parts, _: &Offer<'_>) -> Result<Accepted, Rejection> {
    ///         // The cheap checks stay synchronous.
    ///         if !request.headers.contains_key("feed-token") {
    ///             return Err(ProtocolRejection::new(StatusCode::UNAUTHORIZED, "no Feed-Token").into());
    ///         }
    ///         Ok(Accepted::new())
    ///     }
    ///
    ///     fn before_switch<'a>(&'a self, request: &'a Parts, accepted: Accepted) -> BeforeSwitch<'a> {
    ///         BeforeSwitch::pending(async move {
    ///             let token = request.headers["feed-token"].to_str().unwrap_or_default();
    ///             if !self.tokens.read().await.contains(token) {
    ///                 return Err(ProtocolRejection::new(StatusCode::FORBIDDEN, "unknown token")
    ///                     .label("feed_unknown_token")
    ///                     .into());
    ///             }
    ///             Ok(accepted.with_extension(User(token.to_owned())))
    ///         })
    ///     }
    /// }
    /// ```
    fn before_switch<'a>(&'a self, request: &'a Parts, accepted: Accepted) -> BeforeSwitch<'a> {
        let _ = request;
        BeforeSwitch::ready(Ok(accepted))
    }
}

/// What [`Protocol::before_switch`] returns: the outcome at once, or a
/// future the layer awaits (within its handshake timeout) before it
/// answers.
///
/// ```
/// use tower_upgrade::{Accepted, BeforeSwitch};
///
/// let now = BeforeSwitch::ready(Ok(Accepted::new()));
/// let later = BeforeSwitch::pending(async { Ok(Accepted::new()) });
/// # let _ = (now, later);
/// ```
#[must_use]
pub struct BeforeSwitch<'a>(pub(crate) Step<'a>);

pub(crate) type StepFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Accepted, Rejection>> + Send + 'a>>;

pub(crate) enum Step<'a> {
    Ready(Result<Accepted, Rejection>),
    Pending(StepFuture<'a>),
}

impl<'a> BeforeSwitch<'a> {
    /// The outcome, known now: nothing is boxed or awaited.
    pub fn ready(outcome: Result<Accepted, Rejection>) -> Self {
        Self(Step::Ready(outcome))
    }

    /// The outcome of `future`, which the layer awaits before it answers.
    pub fn pending(future: impl Future<Output = Result<Accepted, Rejection>> + Send + 'a) -> Self {
        Self(Step::Pending(Box::pin(future)))
    }
}

impl std::fmt::Debug for BeforeSwitch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Step::Ready(outcome) => f.debug_tuple("Ready").field(outcome).finish(),
            Step::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// What a protocol sees of a request that offers it.
///
/// ```
/// use tower_upgrade::Offer;
///
/// fn describe(offer: &Offer<'_>) -> String {
///     format!("{} over HTTP/{}", offer.token(), if offer.is_http2() { 2 } else { 1 })
/// }
/// ```
#[derive(Debug)]
pub struct Offer<'a> {
    pub(crate) token: &'a str,
    pub(crate) via: Via,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body_len: Option<u64>,
    pub(crate) max_request_body: usize,
}

impl<'a> Offer<'a> {
    /// The protocol token exactly as the client sent it (`linecount/1`,
    /// `WebSocket`).
    pub fn token(&self) -> &'a str {
        self.token
    }

    /// Whether the request is an HTTP/2 extended CONNECT (RFC 8441) rather
    /// than an HTTP/1.1 `Upgrade`.
    pub fn is_http2(&self) -> bool {
        self.via == Via::Http2Connect
    }

    /// The request's headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The body's length when it is known up front (`Content-Length`, or no
    /// body at all).
    pub fn body_len(&self) -> Option<u64> {
        self.body_len
    }

    /// The layer's bound on the body read before switching.
    pub fn max_request_body(&self) -> usize {
        self.max_request_body
    }
}

/// The terms of a switch a [`Protocol`] accepted: headers for the response,
/// the subprotocol chosen (if the protocol has such a thing), and values for
/// the handler, which finds them in
/// [`Upgraded::extensions`](crate::Upgraded::extensions).
///
/// ```
/// use http::{HeaderName, HeaderValue};
/// use tower_upgrade::Accepted;
///
/// #[derive(Clone)]
/// struct SessionId(u64);
///
/// let accepted = Accepted::new()
///     .with_header(HeaderName::from_static("x-session"), HeaderValue::from(7))
///     .with_subprotocol("v2")
///     .with_extension(SessionId(7));
/// assert_eq!(accepted.headers()["x-session"], "7");
/// assert_eq!(accepted.subprotocol(), Some("v2"));
/// assert!(accepted.extensions().get::<SessionId>().is_some());
/// ```
#[must_use]
#[derive(Debug, Default)]
pub struct Accepted {
    pub(crate) headers: HeaderMap,
    pub(crate) subprotocol: Option<String>,
    pub(crate) extensions: Extensions,
}

impl Accepted {
    /// Accepts with no headers of its own and nothing for the handler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name: value` to the switch response (after `Connection` and
    /// `Upgrade`, which the layer writes).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Records the subprotocol chosen, which the handler reads in
    /// [`Negotiated::subprotocol`](crate::Negotiated::subprotocol). Sending
    /// it to the client (WebSocket's `Sec-WebSocket-Protocol`) is the
    /// protocol's business.
    pub fn with_subprotocol(mut self, subprotocol: impl Into<String>) -> Self {
        self.subprotocol = Some(subprotocol.into());
        self
    }

    /// Hands `value` to the handler, in
    /// [`Upgraded::extensions`](crate::Upgraded::extensions).
    pub fn with_extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// The headers added to the switch response.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Mutable access to the headers added to the switch response.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The subprotocol chosen, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The values handed to the handler.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Mutable access to the values handed to the handler.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}

/// A protocol the user names: the handler gets the raw IO, no checks apply.
pub(crate) struct Custom;

impl Protocol for Custom {
    fn accept(&self, _: &Parts, _: &Offer<'_>) -> Result<Accepted, Rejection> {
        Ok(Accepted::new())
    }
}
