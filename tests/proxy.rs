//! Behind a reverse proxy: the client address and the public origin come from
//! forwarding headers only when the peer is a trusted proxy.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use http::{Request, Response, StatusCode};
use tokio::sync::mpsc;
use tower::{service_fn, Layer};
use tower_upgrade::peer::{ClientInfo, ClientSource, TrustedProxies};
use tower_upgrade::testing::{self, TestBody};
use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeLayer, Upgraded};

const NGINX: &str = "127.0.0.1:41000";
const BROWSER: &str = "203.0.113.9:52000";

type App = tower_upgrade::Upgrade<
    tower::util::ServiceFn<
        fn(Request<TestBody>) -> std::future::Ready<Result<Response<String>, Infallible>>,
    >,
>;

/// A WebSocket endpoint that reports each handler's `ClientInfo`.
fn app(trusted: &str) -> (App, mpsc::UnboundedReceiver<Option<ClientInfo>>) {
    let (seen, rx) = mpsc::unbounded_channel();
    let inner: fn(Request<TestBody>) -> _ =
        |_| std::future::ready(Ok(Response::new(String::from("not an upgrade"))));
    let layer = UpgradeLayer::new()
        .trusted_proxies(TrustedProxies::parse(ClientSource::XForwarded, trusted).unwrap())
        .websocket(
            WebSocketConfig::new(),
            service_fn(move |conn: Upgraded| {
                let _ = seen.send(conn.client().cloned());
                async { Ok::<_, Infallible>(()) }
            }),
        );
    (layer.layer(service_fn(inner)), rx)
}

/// What nginx sends with `proxy_set_header Host $proxy_host` and the
/// X-Forwarded-* trio, for a page served at https://app.example.
fn proxied_handshake() -> Request<String> {
    Request::get("/ws")
        .header("host", "upstream:8080")
        .header("origin", "https://app.example")
        .header("x-forwarded-host", "app.example")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "198.51.100.20")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(String::new())
        .unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn trusted_proxy_gives_public_origin_and_client_address() {
    let (app, mut seen) = app("127.0.0.1");
    let response = testing::send_from(addr(NGINX), app, proxied_handshake())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let client = seen.recv().await.unwrap().expect("a ClientInfo");
    assert_eq!(client.addr(), Some(ip("198.51.100.20")));
    assert_eq!(client.peer(), Some(addr(NGINX)));
    assert_eq!(client.proxies(), [ip("127.0.0.1")]);
    assert_eq!(client.forwarded_host(), Some("app.example"));
    assert_eq!(client.forwarded_proto(), Some("https"));
}

#[tokio::test]
async fn untrusted_proxy_is_refused_by_the_origin_check() {
    // The proxy is not trusted: the public origin is Host (upstream:8080),
    // which is not the page's origin.
    let (app, _seen) = app("10.0.0.0/8");
    let response = testing::send_from(addr(NGINX), app, proxied_handshake())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn forged_forwarding_headers_from_a_client_are_ignored() {
    // A browser (not a proxy) sends X-Forwarded-Host matching its Origin.
    let (app, _seen) = app("127.0.0.1");
    let response = testing::send_from(addr(BROWSER), app, proxied_handshake())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn direct_clients_are_their_own_address() {
    let (app, mut seen) = app("127.0.0.1");
    let request = Request::get("/ws")
        .header("host", "app.example")
        .header("origin", "http://app.example")
        .header("x-forwarded-for", "6.6.6.6")
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(String::new())
        .unwrap();
    let response = testing::send_from(addr(BROWSER), app, request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let client = seen.recv().await.unwrap().unwrap();
    assert_eq!(client.addr(), Some(ip("203.0.113.9")));
    assert!(client.proxies().is_empty());
}

#[tokio::test]
async fn a_forwarded_https_scheme_must_match_the_origin() {
    // The page was served over https, but the Origin says http: not the
    // same origin (RFC 6454: scheme, host and port).
    let (app, _seen) = app("127.0.0.1");
    let mut request = proxied_handshake();
    request
        .headers_mut()
        .insert("origin", "http://app.example".parse().unwrap());
    let response = testing::send_from(addr(NGINX), app, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[cfg(feature = "serve")]
#[tokio::test]
async fn serve_gives_the_peer_address() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (seen, mut rx) = mpsc::unbounded_channel();
    let layer = UpgradeLayer::new().protocol(
        "who/1",
        service_fn(move |conn: Upgraded| {
            let _ = seen.send(conn.client().cloned());
            async { Ok::<_, Infallible>(()) }
        }),
    );
    let app = layer.layer(service_fn(
        |_: Request<tower_upgrade::serve::RequestBody>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = tower_upgrade::serve(listener, app);
    let local = server.local_addr().unwrap();
    tokio::spawn(std::future::IntoFuture::into_future(server));
    let mut stream = tokio::net::TcpStream::connect(local).await.unwrap();
    let mine = stream.local_addr().unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: who/1\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    let client = rx.recv().await.unwrap().unwrap();
    assert_eq!(client.peer(), Some(mine));
    assert_eq!(client.addr(), Some(mine.ip()));
}
