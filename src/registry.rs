//! The protocols a layer offers, and the choice among what a client asks for.

use std::sync::Arc;

use http::{HeaderValue, Request};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceExt};

use crate::detect::{connect_protocol, offered_protocols, ProtocolToken, Via};
use crate::handler::UpgradeHandler;
use crate::lifecycle::Slots;
use crate::protocol::Protocol;
use crate::upgraded::Upgraded;

/// Whose order of preference picks the protocol when a client offers several
/// that the server supports.
///
/// ```
/// use tower_upgrade::{Preference, UpgradeLayer};
///
/// let layer = UpgradeLayer::new().preference(Preference::Client);
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preference {
    /// The first registered protocol that the client offered (the default).
    #[default]
    Server,
    /// The first protocol in the client's `Upgrade` list that is registered.
    Client,
}

pub(crate) type Handler = BoxCloneSyncService<Upgraded, (), BoxError>;

pub(crate) fn boxed_handler<H>(handler: H) -> Handler
where
    H: UpgradeHandler,
{
    BoxCloneSyncService::new(handler.map_response(drop).map_err(Into::into))
}

/// One registered protocol: its token, how it accepts, its handler and
/// its connection slots.
#[derive(Clone)]
pub struct Registration {
    pub(crate) name: Box<str>,
    pub(crate) version: Option<Box<str>>,
    pub(crate) protocol: Arc<dyn Protocol>,
    pub(crate) handler: Handler,
    pub(crate) slots: Arc<Slots>,
}

impl Registration {
    /// Names compare case-insensitively. A registration with a version takes
    /// only that version; one without takes any (RFC 9110 §7.8).
    fn matches(&self, offered: &ProtocolToken<'_>) -> bool {
        self.name.eq_ignore_ascii_case(offered.name)
            && match &self.version {
                Some(version) => offered
                    .version
                    .is_some_and(|v| v.eq_ignore_ascii_case(version)),
                None => true,
            }
    }

    /// The registered token, `name[/version]`.
    pub fn token(&self) -> String {
        match &self.version {
            Some(version) => format!("{}/{}", self.name, version),
            None => self.name.to_string(),
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Registration").field(&self.token()).finish()
    }
}

/// The protocols of a layer, in registration order, and whose preference
/// picks among them.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// The registrations, in order.
    pub entries: Vec<Registration>,
    pub(crate) preference: Preference,
}

impl Registry {
    /// Picks a registration for `req` and returns it with the exact token the
    /// client sent. `takes` may pass over a registration for one offer (a
    /// protocol that declines it); the choice then goes on to the next.
    /// Allocates nothing.
    pub fn select<'r, B>(
        &self,
        req: &'r Request<B>,
        via: Via,
        mut takes: impl FnMut(&Registration, &str) -> bool,
    ) -> Option<(usize, &'r str)> {
        match via {
            Via::Http2Connect => {
                let raw = connect_protocol(req)?;
                let token = ProtocolToken::parse(raw)?;
                let index = self
                    .entries
                    .iter()
                    .position(|r| r.matches(&token) && takes(r, raw))?;
                Some((index, raw))
            }
            Via::Http1 => match self.preference {
                Preference::Server => self.entries.iter().enumerate().find_map(|(index, reg)| {
                    offered_protocols(req.headers())
                        .find(|(raw, token)| reg.matches(token) && takes(reg, raw))
                        .map(|(raw, _)| (index, raw))
                }),
                Preference::Client => offered_protocols(req.headers()).find_map(|(raw, token)| {
                    let index = self
                        .entries
                        .iter()
                        .position(|r| r.matches(&token) && takes(r, raw))?;
                    Some((index, raw))
                }),
            },
        }
    }

    /// The `Upgrade` value of a 426: every registered protocol, in order.
    pub fn offered(&self) -> HeaderValue {
        let list = self
            .entries
            .iter()
            .map(Registration::token)
            .collect::<Vec<_>>()
            .join(", ");
        HeaderValue::from_str(&list).expect("registered tokens are valid header values")
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // tables of cases
mod tests {
    use super::*;
    use crate::protocol::Custom;
    use http::Version;

    fn registry(tokens: &[&str], preference: Preference) -> Registry {
        let handler = boxed_handler(tower::service_fn(|_: Upgraded| async {
            Ok::<_, std::convert::Infallible>(())
        }));
        let entries = tokens
            .iter()
            .map(|t| {
                let token = ProtocolToken::parse(t).unwrap();
                Registration {
                    name: token.name.into(),
                    version: token.version.map(Into::into),
                    protocol: Arc::new(Custom),
                    handler: handler.clone(),
                    slots: Arc::new(Slots::new(usize::MAX)),
                }
            })
            .collect();
        Registry {
            entries,
            preference,
        }
    }

    fn select(reg: &Registry, upgrade: &[&str]) -> Option<(usize, String)> {
        let mut builder = Request::builder().version(Version::HTTP_11);
        for line in upgrade {
            builder = builder.header("upgrade", *line);
        }
        let req = builder.body(()).unwrap();
        reg.select(&req, Via::Http1, |_, _| true)
            .map(|(i, raw)| (i, raw.to_owned()))
    }

    #[test]
    fn negotiation_table() {
        use Preference::*;
        let some = |i, s: &str| Some((i, s.to_owned()));
        let cases: &[(&[&str], Preference, &[&str], Option<(usize, String)>)] = &[
            (&["websocket"], Server, &["websocket"], some(0, "websocket")),
            (&["websocket"], Server, &["WebSocket"], some(0, "WebSocket")),
            (
                &["websocket"],
                Server,
                &["foo, websocket"],
                some(0, "websocket"),
            ),
            (
                &["websocket"],
                Server,
                &["foo", "websocket"],
                some(0, "websocket"),
            ),
            (&["websocket"], Server, &["foo"], None),
            (&["websocket"], Server, &[""], None),
            // Server preference: registration order wins.
            (&["a", "b"], Server, &["b, a"], some(0, "a")),
            (&["a", "b"], Client, &["b, a"], some(1, "b")),
            (&["a", "b"], Client, &["c, a"], some(0, "a")),
            // Versions: a versioned registration takes only its version.
            (&["proto/2"], Server, &["proto/1"], None),
            (&["proto/2"], Server, &["proto"], None),
            (
                &["proto/2"],
                Server,
                &["proto/1, proto/2"],
                some(0, "proto/2"),
            ),
            (&["proto"], Server, &["proto/7"], some(0, "proto/7")),
            (&["proto"], Server, &["PROTO"], some(0, "PROTO")),
            // Whitespace and empty items.
            (&["x"], Server, &[" ,  , x ,"], some(0, "x")),
            (&["x"], Server, &["\tx\t"], some(0, "x")),
            // Malformed items are skipped, not fatal.
            (&["x"], Server, &["a b, /1, x"], some(0, "x")),
        ];
        for (tokens, preference, upgrade, expected) in cases {
            let reg = registry(tokens, *preference);
            assert_eq!(
                &select(&reg, upgrade),
                expected,
                "{tokens:?} {preference:?} {upgrade:?}"
            );
        }
    }

    #[test]
    fn offered_lists_registrations_in_order() {
        let reg = registry(&["websocket", "linecount/1"], Preference::Server);
        assert_eq!(reg.offered(), "websocket, linecount/1");
    }
}
