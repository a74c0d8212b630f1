//! The request sent upstream: the client's, rewritten for the next hop.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{
    CONNECTION, CONTENT_LENGTH, COOKIE, HOST, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, TE,
    TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, Version};

use crate::peer::ClientInfo;

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The upstream's request, and the `Sec-WebSocket-Accept` its answer must
/// carry.
pub(super) struct Outgoing {
    pub(super) request: Request<http_body_util::Empty<bytes::Bytes>>,
    /// `None` for a protocol of the user's own, which has no key.
    pub(super) expected_accept: Option<String>,
}

/// RFC 9110 §7.6.1: removes the connection-specific fields, those the
/// `Connection` field names and the ones the RFC lists (`Proxy-Connection`,
/// `Keep-Alive`, `TE`, `Transfer-Encoding`, `Upgrade`), and `Trailer`,
/// which describes this hop's framing: what a proxy does to a request or a
/// response before passing it on (the upgrades' own pair is put back by the
/// forwarding itself).
///
/// ```
/// use http::HeaderMap;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("connection", "keep-alive, x-hop".parse().unwrap());
/// headers.insert("x-hop", "1".parse().unwrap());
/// headers.insert("keep-alive", "timeout=5".parse().unwrap());
/// headers.insert("accept", "*/*".parse().unwrap());
/// tower_upgrade::forward::strip_hop_by_hop(&mut headers);
/// assert_eq!(headers.len(), 1);
/// assert!(headers.contains_key("accept"));
/// ```
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        CONNECTION,
        KEEP_ALIVE,
        PROXY_CONNECTION,
        TE,
        TRANSFER_ENCODING,
        UPGRADE,
        TRAILER,
    ] {
        headers.remove(name);
    }
}

/// A `Sec-WebSocket-Key` of 16 bytes (RFC 6455 §4.1 item 7) for a client
/// that sent none (an extended CONNECT, RFC 8441 §5). The key guards
/// against caches and confused servers, not attackers, so bytes from the
/// standard library's randomly seeded hasher do.
fn new_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    for half in bytes.chunks_mut(8) {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        half.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    STANDARD.encode(bytes)
}

/// The client's request, for the upstream at `authority`: an HTTP/1.1
/// `GET` with `Upgrade: websocket` (RFC 6455 §4.1), whether the client
/// came over HTTP/1.1 or with an extended CONNECT (RFC 8441 §5); for
/// another `token`, `Upgrade: token` with the client's method (`GET` for
/// an extended CONNECT).
pub(super) fn outgoing(
    client: &Parts,
    authority: &str,
    keep_host: bool,
    http2: bool,
    token: Option<&str>,
) -> Outgoing {
    let mut headers = client.headers.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(CONTENT_LENGTH);
    if http2 {
        join_cookies(&mut headers);
    }
    let client_host = match http2 {
        true => client.uri.authority().map(|a| a.as_str().to_owned()),
        false => client
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned),
    };
    let host = match (keep_host, &client_host) {
        (true, Some(host)) => host.as_str(),
        _ => authority,
    };
    if let Ok(host) = HeaderValue::from_str(host) {
        headers.insert(HOST, host);
    }
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    let expected_accept = match token {
        Some(token) => {
            if let Ok(token) = HeaderValue::from_str(token) {
                headers.insert(UPGRADE, token);
            }
            None
        }
        None => {
            headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
            let key = match headers.get(SEC_WEBSOCKET_KEY) {
                Some(key) if !http2 => key.as_bytes().to_vec(),
                _ => {
                    let key = new_key();
                    headers.insert(
                        SEC_WEBSOCKET_KEY,
                        HeaderValue::from_str(&key).expect("base64"),
                    );
                    key.into_bytes()
                }
            };
            headers
                .entry(SEC_WEBSOCKET_VERSION)
                .or_insert(HeaderValue::from_static("13"));
            Some(crate::websocket::accept_key(&key))
        }
    };
    forwarding(&mut headers, client, client_host.as_deref(), http2);

    let target = client
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()
        .unwrap_or_else(|_| Uri::from_static("/"));
    let mut request = Request::new(http_body_util::Empty::new());
    *request.method_mut() = match token {
        Some(_) if !http2 => client.method.clone(),
        _ => Method::GET,
    };
    *request.uri_mut() = target;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Outgoing {
        request,
        expected_accept,
    }
}

/// RFC 9113 §8.2.3: HTTP/2 may split `Cookie` into one field per pair;
/// towards HTTP/1.1 they are joined with "; " into one.
fn join_cookies(headers: &mut HeaderMap) {
    if headers.get_all(COOKIE).iter().nth(1).is_none() {
        return;
    }
    let joined: Vec<&[u8]> = headers
        .get_all(COOKIE)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    if let Ok(value) = HeaderValue::from_bytes(&joined.join(&b"; "[..])) {
        headers.insert(COOKIE, value);
    }
}

/// The de facto forwarding fields. `X-Forwarded-For` is believed only as
/// far as the layer's trusted proxies vouched for it: from a trusted peer
/// the list it sent is kept and the peer appended, as each proxy does;
/// from anyone else it is replaced by the client's address, so a client
/// cannot pass an address of its choosing through the gateway.
fn forwarding(headers: &mut HeaderMap, client: &Parts, host: Option<&str>, http2: bool) {
    let info = client.extensions.get::<ClientInfo>();
    let trusted_peer = info.is_some_and(|i| !i.proxies().is_empty());
    let peer = info.and_then(|i| i.peer()).map(|p| p.ip());
    let mut list: Vec<String> = Vec::new();
    if trusted_peer {
        list.extend(
            headers
                .get_all(&X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_owned),
        );
        list.extend(peer.map(|p| p.to_string()));
    } else {
        list.extend(info.and_then(|i| i.addr()).or(peer).map(|a| a.to_string()));
    }
    headers.remove(&X_FORWARDED_FOR);
    if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
        if !list.is_empty() {
            headers.insert(X_FORWARDED_FOR, value);
        }
    }
    let public_host = info.and_then(|i| i.forwarded_host()).or(host);
    headers.remove(&X_FORWARDED_HOST);
    if let Some(value) = public_host.and_then(|h| HeaderValue::from_str(h).ok()) {
        headers.insert(X_FORWARDED_HOST, value);
    }
    let proto = info
        .and_then(|i| i.forwarded_proto())
        .or_else(|| client.uri.scheme_str().filter(|_| http2))
        .unwrap_or("http");
    headers.remove(&X_FORWARDED_PROTO);
    if let Ok(value) = HeaderValue::from_str(proto) {
        headers.insert(X_FORWARDED_PROTO, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::{ClientSource, PeerAddr, TrustedProxies};

    fn parts(edit: impl FnOnce(http::request::Builder) -> http::request::Builder) -> Parts {
        let builder = Request::get("/chat?room=1")
            .header("host", "public.example")
            .header("connection", "keep-alive, Upgrade, x-secret")
            .header("upgrade", "websocket")
            .header("keep-alive", "timeout=5")
            .header("x-secret", "hop")
            .header("te", "trailers")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "chat")
            .header("x-forwarded-for", "6.6.6.6");
        let mut parts = edit(builder).body(()).unwrap().into_parts().0;
        let peer = PeerAddr("10.0.0.9:5000".parse().unwrap());
        parts.extensions.insert(peer);
        parts
    }

    fn resolve(parts: &mut Parts, trusted: &TrustedProxies) {
        let info = ClientInfo::resolve(&parts.headers, &parts.extensions, trusted);
        parts.extensions.insert(info);
    }

    /// RFC 9110 §7.6.1: the connection-specific fields do not cross; the
    /// upgrade pair is the gateway's own; the end-to-end ones do.
    #[test]
    fn hop_by_hop_fields_are_removed_and_the_upgrade_pair_kept() {
        let mut client = parts(|b| b);
        resolve(&mut client, &TrustedProxies::default());
        let out = outgoing(&client, "127.0.0.1:9001", false, false, None);
        let h = out.request.headers();
        for gone in ["keep-alive", "x-secret", "te"] {
            assert!(!h.contains_key(gone), "{gone}");
        }
        assert_eq!(h["connection"], "upgrade");
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["sec-websocket-protocol"], "chat");
        assert_eq!(h["host"], "127.0.0.1:9001");
        assert_eq!(out.request.uri(), "/chat?room=1");
        assert_eq!(
            out.expected_accept.as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        // An untrusted client's list is replaced by its address.
        assert_eq!(h["x-forwarded-for"], "10.0.0.9");
        assert_eq!(h["x-forwarded-host"], "public.example");
        assert_eq!(h["x-forwarded-proto"], "http");
        let kept = outgoing(&client, "127.0.0.1:9001", true, false, None);
        assert_eq!(kept.request.headers()["host"], "public.example");
    }

    #[test]
    fn behind_a_trusted_proxy_the_list_grows_by_the_peer() {
        let mut client = parts(|b| b);
        let trusted = TrustedProxies::parse(ClientSource::XForwarded, "10.0.0.0/8").unwrap();
        resolve(&mut client, &trusted);
        let out = outgoing(&client, "up:80", false, false, None);
        assert_eq!(
            out.request.headers()["x-forwarded-for"],
            "6.6.6.6, 10.0.0.9"
        );
    }

    /// RFC 8441 §5: an extended CONNECT has no key; the gateway makes one.
    #[test]
    fn an_extended_connect_gets_a_key_of_its_own() {
        let mut client = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("https://public.example/chat")
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        resolve(&mut client, &TrustedProxies::default());
        let a = outgoing(&client, "up:80", true, true, None);
        let b = outgoing(&client, "up:80", true, true, None);
        let key = a.request.headers()["sec-websocket-key"].as_bytes();
        assert_eq!(STANDARD.decode(key).unwrap().len(), 16);
        assert_ne!(key, b.request.headers()["sec-websocket-key"].as_bytes());
        assert_eq!(a.expected_accept, Some(crate::websocket::accept_key(key)));
        assert_eq!(a.request.method(), Method::GET);
        assert_eq!(a.request.uri(), "/chat");
        assert_eq!(a.request.headers()["host"], "public.example");
        assert_eq!(a.request.headers()["x-forwarded-proto"], "https");
    }

    #[test]
    fn a_token_of_its_own_keeps_the_method_and_gets_no_key() {
        let mut client = Request::post("/feed")
            .header("host", "public.example")
            .header("connection", "upgrade")
            .header("upgrade", "linecount/2")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        resolve(&mut client, &TrustedProxies::default());
        let out = outgoing(&client, "up:80", false, false, Some("linecount/2"));
        assert_eq!(out.request.method(), Method::POST);
        assert_eq!(out.request.headers()["upgrade"], "linecount/2");
        assert!(!out.request.headers().contains_key("sec-websocket-key"));
        assert_eq!(out.expected_accept, None);
    }

    #[test]
    fn http2_cookies_are_joined_for_http11() {
        let mut client = Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("http://public.example/chat")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        resolve(&mut client, &TrustedProxies::default());
        let out = outgoing(&client, "up:80", false, true, None);
        assert_eq!(out.request.headers().get_all("cookie").iter().count(), 1);
        assert_eq!(out.request.headers()["cookie"], "a=1; b=2");
    }
}
