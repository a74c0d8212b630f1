//! Issue 9, defect 12: what an upgraded connection keeps of the request
//! that asked for it. A 380 KB header was kept whole for the connection's
//! life (hyper's read buffer, held by every header value), and every
//! `Sec-WebSocket-Extensions` parameter was parsed and kept: 20 upgrades
//! with 190,000 parameters each grew the server by 298 MiB.

use std::convert::Infallible;

use http::{Request, Response};
use tokio::sync::mpsc;
use tower::{service_fn, Layer};
use tower_upgrade::{testing, UpgradeLayer, Upgraded};

/// What the handler saw of its request.
#[derive(Debug)]
struct Seen {
    names: Vec<String>,
    dropped: usize,
    path: String,
    after_take: usize,
}

fn app(
    layer: UpgradeLayer,
) -> (
    impl tower::Service<
            Request<testing::TestBody>,
            Response = Response<tower_upgrade::response::ResponseBody<String>>,
            Error = Infallible,
            Future = impl Send,
        > + Clone,
    mpsc::UnboundedReceiver<Seen>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let layer = layer.protocol(
        "p/1",
        service_fn(move |mut conn: Upgraded| {
            let tx = tx.clone();
            async move {
                let names = conn.parts().headers.keys().map(|k| k.to_string()).collect();
                let dropped = conn.dropped_headers();
                let parts = conn.take_parts();
                let after_take = conn.parts().headers.len();
                let _ = tx.send(Seen {
                    names,
                    dropped,
                    path: parts.uri.to_string(),
                    after_take,
                });
                Ok::<_, Infallible>(())
            }
        }),
    );
    let inner = service_fn(|_: Request<testing::TestBody>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    (layer.layer(inner), rx)
}

fn request(extra: &[(&str, String)]) -> Request<String> {
    let mut builder = Request::get("/room?name=lobby")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", "p/1")
        .header("cookie", "session=1");
    for (name, value) in extra {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(String::new()).unwrap()
}

#[tokio::test]
async fn a_huge_header_is_left_out_of_the_kept_head() {
    let (service, mut seen) = app(UpgradeLayer::new());
    let response = testing::send(
        service,
        request(&[
            ("x-pad", "x".repeat(250_000)),
            (
                "sec-websocket-extensions",
                format!("permessage-deflate{}", ";a".repeat(50_000)),
            ),
            ("x-after", "small".into()),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 101);
    let seen = seen.recv().await.expect("the handler ran");
    assert_eq!(seen.path, "/room?name=lobby");
    assert_eq!(seen.dropped, 2, "{seen:?}");
    assert_eq!(
        seen.names,
        ["host", "connection", "upgrade", "cookie", "x-after"],
        "fields that fit are kept in order, the two large ones are not"
    );
    assert_eq!(seen.after_take, 0, "take_parts leaves an empty head");
}

#[tokio::test]
async fn an_ordinary_head_is_kept_whole_and_the_bound_is_per_layer() {
    let (service, mut seen) = app(UpgradeLayer::new());
    let response = testing::send(service, request(&[("x-small", "1".into())]))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    let seen = seen.recv().await.unwrap();
    assert_eq!((seen.dropped, seen.names.len()), (0, 5), "{seen:?}");

    let (service, mut seen) = app(UpgradeLayer::new().max_kept_head(0));
    testing::send(service, request(&[])).await.unwrap();
    let seen = seen.recv().await.unwrap();
    assert_eq!((seen.dropped, seen.names.len()), (4, 0), "{seen:?}");
    assert_eq!(seen.path, "/room?name=lobby", "the target is always kept");
}
