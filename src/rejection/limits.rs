//! The causes of the per-client limits and of the limit on handshakes in
//! progress: each says when to come back (`Retry-After`, RFC 9110 §10.2.3).

macro_rules! retry_after_cause {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            retry_after_secs: u32,
        }

        impl $name {
            pub(crate) fn new(retry_after_secs: u32) -> Self {
                Self { retry_after_secs: retry_after_secs.max(1) }
            }

            #[doc = concat!("The `Retry-After` value sent, in seconds: ", $field, ".")]
            pub fn retry_after_secs(&self) -> u32 {
                self.retry_after_secs
            }
        }
    };
}

retry_after_cause!(
    /// The client already holds as many upgraded connections as
    /// [`max_connections_per_client`](crate::UpgradeLayer::max_connections_per_client)
    /// allows. RFC 6585 §4: `429 Too Many Requests` with `Retry-After`.
    ///
    /// ```
    /// use tower_upgrade::rejection::Rejection;
    ///
    /// fn over_client_limit(rejection: &Rejection) -> bool {
    ///     matches!(rejection, Rejection::TooManyConnectionsPerClient(_))
    /// }
    /// ```
    TooManyConnectionsPerClient,
    "the layer's `retry_after`"
);

retry_after_cause!(
    /// The client's upgrade attempts came faster than
    /// [`handshake_rate_per_client`](crate::UpgradeLayer::handshake_rate_per_client)
    /// allows. RFC 6585 §4: `429 Too Many Requests` with `Retry-After`.
    ///
    /// ```
    /// use tower_upgrade::rejection::Rejection;
    ///
    /// fn wait(rejection: &Rejection) -> Option<u32> {
    ///     match rejection {
    ///         Rejection::HandshakeRateLimited(r) => Some(r.retry_after_secs()),
    ///         _ => None,
    ///     }
    /// }
    /// ```
    HandshakeRateLimited,
    "when the client's next token is there, rounded up"
);

retry_after_cause!(
    /// As many upgrades as
    /// [`max_handshakes_in_progress`](crate::UpgradeLayer::max_handshakes_in_progress)
    /// allows are between detection and hand-off. `503 Service Unavailable`
    /// with `Retry-After`, before the request body is read.
    ///
    /// ```
    /// use tower_upgrade::rejection::Rejection;
    ///
    /// fn busy(rejection: &Rejection) -> bool {
    ///     matches!(rejection, Rejection::TooManyHandshakes(_))
    /// }
    /// ```
    TooManyHandshakes,
    "the layer's `retry_after`"
);

retry_after_cause!(
    /// The client already has as many upgrades in progress as
    /// [`max_handshakes_in_progress_per_client`](crate::UpgradeLayer::max_handshakes_in_progress_per_client)
    /// allows. `429 Too Many Requests` with `Retry-After`.
    ///
    /// ```
    /// use tower_upgrade::rejection::Rejection;
    ///
    /// fn busy_client(rejection: &Rejection) -> bool {
    ///     matches!(rejection, Rejection::TooManyHandshakesPerClient(_))
    /// }
    /// ```
    TooManyHandshakesPerClient,
    "the layer's `retry_after`"
);
