//! The failure hook (issue 9): a handler's error or panic reaches the
//! callback of `UpgradeLayer::on_failure` with the protocol, the request's
//! method and target, the client and the error.

use std::convert::Infallible;
use std::net::SocketAddr;

use http::{Request, Response};
use tokio::sync::mpsc;
use tower::{service_fn, Layer};
use tower_upgrade::{testing, HandlerPanicked, UpgradeFailure, UpgradeLayer, Upgraded};

/// What the callback saw, sent out of it.
#[derive(Debug)]
struct Seen {
    protocol: String,
    method: String,
    uri: String,
    client: Option<std::net::IpAddr>,
    error: String,
    panicked: bool,
    panic_message: Option<String>,
}

fn layer() -> (UpgradeLayer, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let layer = UpgradeLayer::new()
        .protocol(
            "fails/1",
            service_fn(|_: Upgraded| async {
                Err::<(), _>(std::io::Error::other("the peer spoke nonsense"))
            }),
        )
        .protocol(
            "panics/1",
            service_fn(|conn: Upgraded| async move {
                if conn.parts().uri.path() == "/boom" {
                    panic!("handler exploded on {}", conn.parts().uri);
                }
                Ok::<_, Infallible>(())
            }),
        )
        .on_failure(move |failure: UpgradeFailure| {
            let panic_message = failure
                .error()
                .downcast_ref::<HandlerPanicked>()
                .and_then(|p| p.message().map(str::to_owned));
            let _ = tx.send(Seen {
                protocol: failure.protocol().protocol().to_owned(),
                method: failure.method().to_string(),
                uri: failure.uri().to_string(),
                client: failure.client(),
                error: failure.error().to_string(),
                panicked: failure.is_panic(),
                panic_message,
            });
        });
    (layer, rx)
}

fn inner() -> impl tower::Service<
    Request<testing::TestBody>,
    Response = Response<String>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(|_: Request<testing::TestBody>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    })
}

fn upgrade(token: &str, path: &str) -> Request<String> {
    Request::get(path)
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", token)
        .body(String::new())
        .unwrap()
}

const PEER: &str = "192.0.2.7:40000";

#[tokio::test]
async fn a_handler_error_reaches_the_callback() {
    let (layer, mut seen) = layer();
    let peer: SocketAddr = PEER.parse().unwrap();
    let response = testing::send_from(peer, layer.layer(inner()), upgrade("fails/1", "/feed?x=1"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    let seen = seen.recv().await.expect("the callback ran");
    assert_eq!(seen.protocol, "fails/1");
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.uri, "/feed?x=1");
    assert_eq!(seen.client, Some(peer.ip()));
    assert_eq!(seen.error, "the peer spoke nonsense");
    assert!(!seen.panicked);
}

#[tokio::test]
async fn a_handler_panic_reaches_the_callback_and_the_server_goes_on() {
    let (layer, mut seen) = layer();
    let connections = layer.connections();
    let app = layer.layer(inner());
    let response = testing::send(app.clone(), upgrade("panics/1", "/boom"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    let seen = seen.recv().await.expect("the callback ran");
    assert_eq!(seen.protocol, "panics/1");
    assert_eq!(seen.uri, "/boom");
    assert!(seen.panicked);
    assert_eq!(
        seen.panic_message.as_deref(),
        Some("handler exploded on /boom")
    );
    assert_eq!(
        seen.error,
        "the handler panicked: handler exploded on /boom"
    );

    // The panic ended one connection: its slot is free, and the next
    // upgrade is served.
    assert!(
        connections
            .wait_closed(std::time::Duration::from_secs(60))
            .await
    );
    let response = testing::send(app, upgrade("panics/1", "/fine"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
}

#[tokio::test]
async fn without_a_callback_a_panic_is_contained() {
    // Default: `tracing::warn!`. The panic must not escape the task in a
    // way that leaves the connection counted.
    let layer = UpgradeLayer::new().protocol(
        "panics/1",
        service_fn(|_: Upgraded| async {
            panic!("no callback");
            #[allow(unreachable_code)]
            Ok::<(), Infallible>(())
        }),
    );
    let connections = layer.connections();
    let response = testing::send(layer.layer(inner()), upgrade("panics/1", "/"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    assert!(
        connections
            .wait_closed(std::time::Duration::from_secs(60))
            .await
    );
    assert_eq!(connections.active(), 0);
}
