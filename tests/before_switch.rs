//! Issue 19: the asynchronous step of a protocol before the answer
//! (`Protocol::before_switch`): its values reach the handler, its refusal
//! carries a status, headers and a body, and it runs within the layer's
//! handshake timeout while holding a place among handshakes in progress.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, Semaphore};
use tower::{service_fn, Layer};
use tower_upgrade::rejection::{ProtocolRejection, Rejection};
use tower_upgrade::{testing, Accepted, BeforeSwitch, Offer, Protocol, UpgradeLayer, Upgraded};

/// Waits for a permit (an upstream that answers when the test says so),
/// then accepts or refuses by the request's path.
struct Gate(Arc<Semaphore>, Arc<Notify>);

#[derive(Clone, Debug)]
struct Ticket(&'static str);

impl Protocol for Gate {
    fn accept(&self, _: &Parts, _: &Offer<'_>) -> Result<Accepted, Rejection> {
        Ok(Accepted::new())
    }

    fn before_switch<'a>(&'a self, request: &'a Parts, accepted: Accepted) -> BeforeSwitch<'a> {
        BeforeSwitch::pending(async move {
            self.1.notify_one();
            let _permit = self.0.acquire().await.expect("open");
            if request.uri.path() == "/refuse" {
                return Err(ProtocolRejection::new(StatusCode::FORBIDDEN, "refused")
                    .header(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )
                    .body(Bytes::from_static(b"{\"no\":1}"))
                    .label("gate_refused")
                    .into());
            }
            Ok(accepted
                .with_header(
                    HeaderName::from_static("x-ticket"),
                    HeaderValue::from_static("7"),
                )
                .with_extension(Ticket("seven")))
        })
    }
}

type Reply = Response<tower_upgrade::response::ResponseBody<String>>;

fn app(
    gate: Arc<Semaphore>,
    entered: Arc<Notify>,
    timeout: Duration,
) -> impl tower::Service<
    Request<testing::TestBody>,
    Response = Reply,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
       + Send
       + 'static {
    UpgradeLayer::new()
        .handshake_timeout(timeout)
        .max_handshakes_in_progress(1)
        .register(
            "gate/1",
            Gate(gate, entered),
            service_fn(|mut conn: Upgraded| async move {
                let Ticket(t) = conn
                    .extensions()
                    .get::<Ticket>()
                    .cloned()
                    .expect("from before_switch");
                conn.write_all(t.as_bytes()).await?;
                conn.shutdown().await
            }),
        )
        .layer(service_fn(|_: Request<testing::TestBody>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }))
}

fn request(path: &str) -> Request<String> {
    Request::get(path)
        .header("connection", "upgrade")
        .header("upgrade", "gate/1")
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn the_steps_values_reach_the_handler_and_its_headers_the_client() {
    let gate = Arc::new(Semaphore::new(1));
    let response = testing::send(
        app(gate, Arc::default(), Duration::from_secs(30)),
        request("/"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-ticket"], "7");
    let mut io = response.into_io().unwrap();
    let mut got = String::new();
    io.read_to_string(&mut got).await.unwrap();
    assert_eq!(got, "seven");
}

#[tokio::test]
async fn a_refusal_carries_status_headers_and_body() {
    let gate = Arc::new(Semaphore::new(1));
    let response = testing::send(
        app(gate, Arc::default(), Duration::from_secs(30)),
        request("/refuse"),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.body().as_ref(), b"{\"no\":1}");
}

/// The step holds the place among handshakes in progress (1 here), and
/// past the handshake timeout the client gets 504. The clock is paused:
/// tokio moves it to the deadline once nothing else can run.
#[tokio::test(start_paused = true)]
async fn the_step_runs_within_the_timeout_and_holds_a_handshake_place() {
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(Notify::new());
    let app = app(gate, entered.clone(), Duration::from_secs(10));
    let first = tokio::spawn(testing::send(app.clone(), request("/")));
    entered.notified().await;
    let second = testing::send(app, request("/")).await.unwrap();
    assert_eq!(second.status(), 503, "the first holds the only place");
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 504);
    assert_eq!(
        first.body().as_ref(),
        b"the upgrade could not be prepared in time"
    );
}
