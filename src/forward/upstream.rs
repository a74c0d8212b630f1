//! Which upstream takes a request.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::request::Parts;

use crate::ConfigError;

/// Where forwarded requests go: one `host:port`, several in turn, or the
/// choice of a function of the request.
///
/// ```
/// use tower_upgrade::forward::Upstream;
///
/// let one = Upstream::fixed("127.0.0.1:9001");
/// let two = Upstream::round_robin(["127.0.0.1:9001", "127.0.0.1:9002"]).unwrap();
/// let by_path = Upstream::choose(|request| {
///     if request.uri.path().starts_with("/chat") { "chat.internal:80" } else { "echo.internal:80" }.to_owned()
/// });
/// assert!(Upstream::round_robin(Vec::<String>::new()).is_err());
/// # let _ = (one, two, by_path);
/// ```
#[derive(Clone)]
pub struct Upstream(Choice);

type Chooser = dyn Fn(&Parts) -> String + Send + Sync;

#[derive(Clone)]
enum Choice {
    Fixed(Arc<str>),
    RoundRobin(Arc<[Box<str>]>, Arc<AtomicUsize>),
    Function(Arc<Chooser>),
}

impl Upstream {
    /// Always `addr` (`host:port`).
    pub fn fixed(addr: impl Into<String>) -> Self {
        Self(Choice::Fixed(addr.into().into()))
    }

    /// Each of `addrs` (`host:port`) in turn; an error when the list is
    /// empty.
    pub fn round_robin<I, S>(addrs: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let addrs: Arc<[Box<str>]> = addrs.into_iter().map(|a| a.into().into()).collect();
        if addrs.is_empty() {
            return Err(ConfigError::new("no upstream to forward to"));
        }
        Ok(Self(Choice::RoundRobin(addrs, Arc::default())))
    }

    /// The `host:port` `choose` returns for each request.
    pub fn choose(choose: impl Fn(&Parts) -> String + Send + Sync + 'static) -> Self {
        Self(Choice::Function(Arc::new(choose)))
    }

    pub(crate) fn pick(&self, request: &Parts) -> String {
        match &self.0 {
            Choice::Fixed(addr) => addr.to_string(),
            Choice::RoundRobin(addrs, next) => {
                let i = next.fetch_add(1, Ordering::Relaxed) % addrs.len();
                addrs[i].to_string()
            }
            Choice::Function(choose) => choose(request),
        }
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Choice::Fixed(addr) => f.debug_tuple("Fixed").field(addr).finish(),
            Choice::RoundRobin(addrs, _) => f.debug_tuple("RoundRobin").field(addrs).finish(),
            Choice::Function(_) => f.write_str("Function"),
        }
    }
}
