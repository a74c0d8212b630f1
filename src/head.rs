//! The request head an [`Upgraded`](crate::Upgraded) keeps for the life of
//! the connection: a bounded copy, not the server's read buffer.
//!
//! hyper hands out header values and the target as slices of the buffer it
//! read the head into, so keeping any one of them keeps the whole buffer
//! (up to ~400 KB with hyper's defaults) for as long as the connection
//! lives. The head is copied instead, field by field, up to a bound.

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Uri};

/// The default bound on the request head an [`Upgraded`](crate::Upgraded)
/// keeps: 16 KiB, counted as HTTP/2 counts a header list (name, value and 32
/// bytes a field, RFC 9113 §6.5.2), plus the target.
pub(crate) const DEFAULT_MAX_KEPT_HEAD: usize = 16 * 1024;

/// RFC 9113 §6.5.2 (SETTINGS_MAX_HEADER_LIST_SIZE): a field costs its name,
/// its value and 32 bytes.
fn field_size(name: &str, value: &HeaderValue) -> usize {
    name.len() + value.len() + 32
}

/// A copy of `parts` that shares no memory with the server's read buffer
/// and holds at most `max` bytes of head: the method, version, extensions
/// and target are always kept; header fields are kept in order while they
/// fit, and a field that does not fit is left out (a later, smaller one may
/// still be kept). Returns the copy and how many fields were left out.
///
/// Extensions are kept as they are, and one that holds a piece of the
/// request keeps the whole buffer; axum's `OriginalUri` (which its Router
/// adds) is copied too, with the `axum` feature.
pub(crate) fn keep(parts: Parts, max: usize) -> (Parts, usize) {
    let Parts {
        method,
        uri,
        version,
        headers,
        extensions,
        ..
    } = parts;
    let uri = detach_uri(uri);
    let mut budget = max.saturating_sub(uri.to_string().len());
    let mut kept = HeaderMap::new();
    let mut dropped = 0;
    for (name, value) in &headers {
        let size = field_size(name.as_str(), value);
        if size > budget {
            dropped += 1;
            continue;
        }
        budget -= size;
        // `from_bytes` copies; the name is either static or already owned.
        let mut copy = HeaderValue::from_bytes(value.as_bytes()).expect("was a header value");
        copy.set_sensitive(value.is_sensitive());
        kept.append(name.clone(), copy);
    }
    #[cfg(feature = "axum")]
    let extensions = {
        let mut extensions = extensions;
        // axum's Router adds a clone of the target, a slice of the same
        // buffer; it would keep all of it.
        if let Some(axum::extract::OriginalUri(original)) = extensions.remove() {
            extensions.insert(axum::extract::OriginalUri(detach_uri(original)));
        }
        extensions
    };
    let (mut kept_parts, ()) = http::Request::new(()).into_parts();
    kept_parts.method = method;
    kept_parts.uri = uri;
    kept_parts.version = version;
    kept_parts.headers = kept;
    kept_parts.extensions = extensions;
    (kept_parts, dropped)
}

/// The same target in memory of its own.
fn detach_uri(uri: Uri) -> Uri {
    let text = uri.to_string();
    Uri::from_maybe_shared(Bytes::from(text)).unwrap_or(uri)
}

/// An empty head, left behind by [`Upgraded::take_parts`](crate::Upgraded::take_parts).
pub(crate) fn empty() -> Parts {
    http::Request::new(()).into_parts().0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, String)]) -> Parts {
        let mut builder = http::Request::get("/chat?room=1");
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn fields_that_fit_are_kept_in_order() {
        let (kept, dropped) = keep(
            parts(&[
                ("host", "example.com".into()),
                ("x-pad", "x".repeat(380_000)),
                ("cookie", "a=1".into()),
                ("cookie", "b=2".into()),
            ]),
            DEFAULT_MAX_KEPT_HEAD,
        );
        assert_eq!(dropped, 1);
        assert_eq!(kept.uri, "/chat?room=1");
        assert_eq!(kept.headers["host"], "example.com");
        assert!(kept.headers.get("x-pad").is_none());
        let cookies: Vec<_> = kept.headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn the_bound_counts_name_value_and_32() {
        let value = "v".repeat(100);
        let target = "/chat?room=1".len();
        let one = "x-a".len() + 100 + 32;
        let (kept, dropped) = keep(
            parts(&[("x-a", value.clone()), ("x-b", value.clone())]),
            target + 2 * one,
        );
        assert_eq!((kept.headers.len(), dropped), (2, 0));
        let (kept, dropped) = keep(
            parts(&[("x-a", value.clone()), ("x-b", value)]),
            target + 2 * one - 1,
        );
        assert_eq!((kept.headers.len(), dropped), (1, 1));
    }

    #[test]
    fn sensitive_values_stay_sensitive() {
        let mut p = parts(&[("authorization", "secret".into())]);
        p.headers
            .get_mut("authorization")
            .unwrap()
            .set_sensitive(true);
        let (kept, _) = keep(p, DEFAULT_MAX_KEPT_HEAD);
        assert!(kept.headers["authorization"].is_sensitive());
    }
}
