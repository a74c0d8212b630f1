//! Choosing a subprotocol (RFC 6455 §1.9, §4.2.2 item 5.4).

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

use crate::detect::{is_token, list_items};

type Select = Arc<dyn Fn(&[&str]) -> Option<String> + Send + Sync>;

#[derive(Clone, Default)]
pub(crate) enum Subprotocols {
    #[default]
    None,
    List(Vec<String>),
    Select(Select),
}

impl fmt::Debug for Subprotocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::List(list) => f.debug_tuple("List").field(list).finish(),
            Self::Select(_) => f.write_str("Select(..)"),
        }
    }
}

impl Subprotocols {
    /// The subprotocol to answer with: always one the client offered, with
    /// the client's spelling.
    pub(crate) fn choose(&self, headers: &HeaderMap) -> Option<String> {
        let offered = || list_items(headers, "sec-websocket-protocol").filter(|p| is_token(p));
        match self {
            Self::None => None,
            // Subprotocol names are compared exactly (RFC 6455 §4.1: the
            // values are case-sensitive tokens).
            Self::List(ours) => ours
                .iter()
                .find_map(|ours| offered().find(|theirs| theirs == ours))
                .map(str::to_owned),
            Self::Select(select) => {
                let offered: Vec<&str> = offered().collect();
                select(&offered).filter(|choice| offered.contains(&choice.as_str()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append(
                "sec-websocket-protocol",
                HeaderValue::from_str(line).unwrap(),
            );
        }
        h
    }

    #[test]
    fn list_uses_server_preference_among_offers() {
        let ours = Subprotocols::List(vec!["v2".into(), "v1".into()]);
        assert_eq!(ours.choose(&headers(&["v1, v2"])), Some("v2".into()));
        assert_eq!(ours.choose(&headers(&["v1", "x"])), Some("v1".into()));
        assert_eq!(ours.choose(&headers(&["V2"])), None);
        assert_eq!(ours.choose(&headers(&["x"])), None);
        assert_eq!(ours.choose(&headers(&[])), None);
        assert_eq!(Subprotocols::None.choose(&headers(&["v1"])), None);
    }

    #[test]
    fn select_may_only_pick_an_offer() {
        let liar = Subprotocols::Select(Arc::new(|_: &[&str]| Some("never-offered".into())));
        assert_eq!(liar.choose(&headers(&["a"])), None);
        let last = Subprotocols::Select(Arc::new(|o: &[&str]| o.last().map(|s| s.to_string())));
        assert_eq!(last.choose(&headers(&["a, b", "c"])), Some("c".into()));
    }
}
