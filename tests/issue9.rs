//! Regression tests for the defects of issue 9, one test per defect, named
//! after it. Each failed before its fix.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tower::{service_fn, Layer};
use tower_upgrade::{testing, UpgradeLayer, Upgraded};

async fn done(_: Upgraded) -> Result<(), std::io::Error> {
    Ok(())
}

fn upgrade_request(token: &str) -> Request<String> {
    Request::get("/")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", token)
        .body(String::new())
        .unwrap()
}

fn inner<B>() -> impl tower::Service<
    Request<B>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(|_: Request<B>| async { Ok::<_, Infallible>(Response::new(Full::default())) })
}

/// Defect 1: `max_connections` set on a clone changed every sibling, because
/// the limit lived in the shared `Connections`.
#[tokio::test]
async fn defect_01_a_clone_setting_max_connections_leaves_the_original_alone() {
    let original = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .max_connections(1);
    let closed = original.clone().max_connections(0);

    let response = testing::send(original.layer(inner()), upgrade_request("p/1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101, "the original keeps its limit of 1");

    let response = testing::send(closed.layer(inner()), upgrade_request("p/1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "the clone has its own limit of 0");
}

/// Defect 7: the handshake timeout was applied to the body read and then
/// again to the wait for the switch, so the real bound was twice the one
/// set. Time is paused: it advances only when every task waits, so the
/// test is exact, not timed.
#[tokio::test(start_paused = true)]
async fn defect_07_one_handshake_timeout_bounds_body_and_switch_together() {
    let layer = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .handshake_timeout(Duration::from_secs(10));
    let connections = layer.connections();
    let app = layer.layer(inner::<Incoming>());
    // A pipe too small for the 101: the server cannot finish the switch
    // while the client does not read.
    let (mut client, server) = tokio::io::duplex(16);
    tokio::spawn(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server), TowerToHyperService::new(app))
            .with_upgrades(),
    );
    client
        .write_all(
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: p/1\r\ncontent-length: 1\r\n\r\n",
        )
        .await
        .unwrap();
    // The body takes 6 s of the 10.
    tokio::time::sleep(Duration::from_secs(6)).await;
    client.write_all(b"x").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(connections.active(), 1, "admitted, waiting for the switch");
    // 12 s after the request: past the one deadline, the switch is given up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        connections.active(),
        0,
        "the switch outlived the handshake timeout"
    );
    drop(client);
}

/// Defect 4: `serve` never resolved on a listener error, though its docs
/// said it did: every accept error led to a `continue`.
#[cfg(feature = "serve")]
#[tokio::test(start_paused = true)]
async fn defect_04_serve_resolves_when_the_listener_fails() {
    use std::future::IntoFuture;
    // Bound but not listening: accept fails with EINVAL, an error of the
    // listener rather than of one connection.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(socket.into()).unwrap();
    let served = tower_upgrade::serve(listener, inner::<tower_upgrade::RequestBody>());
    // Paused time: an accept loop that backs off and retries forever runs
    // out these 60 virtual seconds at once.
    let result = tokio::time::timeout(Duration::from_secs(60), served.into_future()).await;
    assert!(
        matches!(result, Ok(Err(_))),
        "serve should end with the listener's error, got {result:?}"
    );
}

/// Defect 5: a graceful shutdown waited for each layer's upgraded
/// connections in turn, each with the whole timeout, so two layers whose
/// handlers ignore the signal took twice the documented timeout.
#[cfg(feature = "serve")]
#[tokio::test(start_paused = true)]
async fn defect_05_graceful_shutdown_waits_for_every_layer_under_one_deadline() {
    use std::future::IntoFuture;
    use tokio::io::AsyncReadExt;

    async fn stubborn(_: Upgraded) -> Result<(), std::io::Error> {
        std::future::pending().await
    }
    let a = UpgradeLayer::new().protocol("a/1", service_fn(stubborn));
    let b = UpgradeLayer::new().protocol("b/1", service_fn(stubborn));
    let (a_live, b_live) = (a.connections(), b.connections());
    let app = b.layer(a.layer(inner::<tower_upgrade::RequestBody>()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tower_upgrade::serve(listener, app)
        .upgraded(a_live.clone())
        .upgraded(b_live.clone())
        .shutdown_timeout(Duration::from_secs(10))
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        });
    let done = tokio::spawn(served.into_future());

    let mut clients = Vec::new();
    for token in ["a/1", "b/1"] {
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: {token}\r\n\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(client.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"HTTP/1.1 101"));
        clients.push(client);
    }
    while a_live.active() + b_live.active() < 2 {
        tokio::task::yield_now().await;
    }

    stop.send(()).unwrap();
    // One 10 s deadline for both layers; 15 s is less than two in turn.
    let result = tokio::time::timeout(Duration::from_secs(15), done).await;
    assert!(
        matches!(result, Ok(Ok(Ok(())))),
        "shutdown took longer than one timeout: {result:?}"
    );
    drop(clients);
}

/// The layer's own response to `req`, before hyper sees it: what hyper
/// would strip with a warning is still there to be seen.
async fn respond_to(
    layer: &UpgradeLayer,
    req: Request<String>,
) -> Response<tower_upgrade::ResponseBody<Full<Bytes>>> {
    use tower::ServiceExt;
    layer.layer(inner::<String>()).oneshot(req).await.unwrap()
}

async fn body_text<B: http_body::Body>(response: Response<B>) -> String
where
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt;
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Defect 3: over HTTP/2, the 426 of `require_upgrade` carried `Upgrade`
/// and `Connection`, which RFC 9113 §8.2.2 forbids (hyper strips them with
/// a warning). Now it is a plain 426 with its reason; over HTTP/1.1 it
/// keeps both.
#[tokio::test]
async fn defect_03_a_required_upgrade_over_http2_is_a_plain_426() {
    let layer = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .require_upgrade(true);
    let plain = |version| {
        Request::get("http://x/")
            .version(version)
            .body(String::new())
            .unwrap()
    };

    let response = respond_to(&layer, plain(http::Version::HTTP_2)).await;
    assert_eq!(response.status(), 426);
    assert!(!response.headers().contains_key("upgrade"));
    assert!(!response.headers().contains_key("connection"));
    assert_eq!(
        body_text(response).await,
        "this resource requires a protocol upgrade; see the Upgrade header"
    );

    let response = respond_to(&layer, plain(http::Version::HTTP_11)).await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["upgrade"], "p/1");
    assert_eq!(response.headers()["connection"], "upgrade");
}

/// Defect 3, the version mismatch: a WebSocket version other than 13 over
/// HTTP/2 extended CONNECT got `Upgrade: websocket` and `Connection`. Now
/// only `Sec-WebSocket-Version: 13` (RFC 6455 §4.4, RFC 8441 §5).
#[cfg(feature = "websocket")]
#[tokio::test]
async fn defect_03_a_websocket_version_mismatch_over_http2_names_no_upgrade() {
    use tower_upgrade::websocket::WebSocketConfig;
    let layer = UpgradeLayer::new().websocket(WebSocketConfig::new(), service_fn(done));
    let mut req = Request::connect("https://x/chat")
        .version(http::Version::HTTP_2)
        .header("sec-websocket-version", "8")
        .body(String::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));

    let response = respond_to(&layer, req).await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    assert!(!response.headers().contains_key("upgrade"));
    assert!(!response.headers().contains_key("connection"));
}

/// Defect 6: a second `websocket()` on one layer panics, as its `# Panics`
/// section says, with a message that names the cause.
#[cfg(feature = "websocket")]
#[test]
#[should_panic(expected = "\"websocket\" is registered twice")]
fn defect_06_websocket_registered_twice_panics_with_a_clear_message() {
    use tower_upgrade::websocket::WebSocketConfig;
    let _ = UpgradeLayer::new()
        .websocket(WebSocketConfig::new(), service_fn(done))
        .websocket(WebSocketConfig::new(), service_fn(done));
}

/// Defect 9: `OriginPolicy::AllowList` held a type no user could name.
#[cfg(feature = "websocket")]
#[test]
fn defect_09_the_allow_list_can_be_named_and_asked() {
    use tower_upgrade::websocket::{AllowList, OriginPolicy};
    let policy = OriginPolicy::allow_list(["https://app.example.com"]).unwrap();
    let OriginPolicy::AllowList(list) = &policy else {
        panic!("allow_list built {policy:?}");
    };
    let list: &AllowList = list;
    assert!(list.allows("https://app.example.com"));
    assert!(list.allows("https://APP.example.com:443"));
    assert!(!list.allows("http://app.example.com"));
    assert!(!list.allows("null"));
}

/// Defect 10: the 426 of `require_upgrade` was never counted, so the
/// `upgrade_required` reason could not appear.
#[cfg(feature = "metrics")]
#[test]
fn defect_10_a_required_upgrade_is_counted() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = UpgradeLayer::new()
        .protocol("p/1", service_fn(done))
        .require_upgrade(true);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let status = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let request = Request::get("/").body(String::new()).unwrap();
            respond_to(&layer, request).await.status()
        })
    });
    assert_eq!(status, 426);
    let counted: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "tower_upgrade_rejected_total")
        .map(|(key, _, _, value)| {
            let mut labels: Vec<_> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            (labels, value)
        })
        .collect();
    assert_eq!(
        counted,
        vec![(
            vec![
                "protocol=none".to_owned(),
                "reason=upgrade_required".to_owned()
            ],
            DebugValue::Counter(1)
        )]
    );
}

/// Defect 11: `retry_after` rounded a part of a second down, so 500 ms was
/// sent as `Retry-After: 0`, inviting the client straight back.
#[tokio::test]
async fn defect_11_retry_after_rounds_up() {
    for (after, sent) in [(500, "1"), (1000, "1"), (1001, "2"), (0, "0")] {
        let layer = UpgradeLayer::new()
            .protocol("p/1", service_fn(done))
            .max_connections(0)
            .retry_after(Duration::from_millis(after));
        let response = testing::send(layer.layer(inner()), upgrade_request("p/1"))
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], sent, "{after} ms");
    }
}

/// Defect 2: `Error::source()` of a rejection returned the cause inside,
/// whose text is the rejection's own, so an error chain printed it twice.
#[tokio::test]
async fn defect_02_an_error_chain_says_a_rejection_once() {
    // Outside a hyper server there is no upgrade handle: a 501.
    let layer = UpgradeLayer::new().protocol("p/1", service_fn(done));
    let response = respond_to(&layer, upgrade_request("p/1")).await;
    let rejection = response
        .extensions()
        .get::<tower_upgrade::Rejection>()
        .expect("the rejection rides in the extensions")
        .clone();
    let error: tower::BoxError = rejection.into();
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain = format!("{chain}: {cause}");
        source = cause.source();
    }
    assert_eq!(
        chain,
        "this connection cannot be upgraded: the server was not started with upgrade support"
    );
}
