//! A protocol written outside the crate, from its public items only, as a
//! third party would: `token-auth/1` checks a header, refuses with its own
//! status, reason and header, declines what it cannot serve, keeps the
//! request body, answers with a header of its own, and hands what it
//! agreed to the handler.

use std::convert::Infallible;

use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{service_fn, Layer};
use tower_upgrade::rejection::{ProtocolRejection, Rejection};
use tower_upgrade::{testing, Accepted, Offer, Protocol, UpgradeLayer, Upgraded};

/// Who the token named: what `accept` hands to the handler.
#[derive(Clone, Debug, PartialEq)]
struct User(String);

struct TokenAuth;

impl Protocol for TokenAuth {
    fn declines(&self, offer: &Offer<'_>) -> Option<&'static str> {
        // This protocol is HTTP/1.1 only; an HTTP/2 CONNECT passes through.
        offer
            .is_http2()
            .then_some("token-auth runs over HTTP/1.1 only")
    }

    fn accept(&self, request: &Parts, offer: &Offer<'_>) -> Result<Accepted, Rejection> {
        assert_eq!(offer.token(), "token-auth/1");
        let user = request
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer user-"))
            .ok_or_else(|| {
                ProtocolRejection::new(StatusCode::UNAUTHORIZED, "a bearer token is required")
                    .header(
                        http::header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"upgrade\""),
                    )
                    .label("token_auth_missing")
            })?;
        Ok(Accepted::new()
            .with_header(
                HeaderName::from_static("x-token-user"),
                HeaderValue::from_str(user).expect("from a header value"),
            )
            .with_extension(User(user.to_owned())))
    }

    fn keeps_body(&self) -> bool {
        true
    }
}

/// Greets the user the handshake named, then sends back the request body.
async fn greet(mut conn: Upgraded) -> std::io::Result<()> {
    let User(name) = conn
        .extensions()
        .get::<User>()
        .cloned()
        .expect("set by accept");
    let body = conn.take_body();
    conn.write_all(format!("hello {name}; body {} bytes: ", body.len()).as_bytes())
        .await?;
    conn.write_all(&body).await?;
    conn.shutdown().await
}

fn app() -> impl tower::Service<
    Request<testing::TestBody>,
    Response = Response<tower_upgrade::response::ResponseBody<String>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    UpgradeLayer::new()
        .register("token-auth/1", TokenAuth, service_fn(greet))
        .layer(service_fn(|_: Request<testing::TestBody>| async {
            Ok::<_, Infallible>(Response::new(String::from("not upgraded")))
        }))
}

fn request(authorization: Option<&str>, body: &str) -> Request<String> {
    let mut builder = Request::post("/session")
        .header("host", "x")
        .header("connection", "upgrade")
        .header("upgrade", "token-auth/1");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    builder.body(body.to_owned()).unwrap()
}

#[tokio::test]
async fn accepted_with_its_header_and_the_value_reaches_the_handler() {
    let response = testing::send(app(), request(Some("Bearer user-ada"), "ping"))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["upgrade"], "token-auth/1");
    assert_eq!(response.headers()["x-token-user"], "ada");
    let mut io = response.into_io().expect("switched");
    let mut said = String::new();
    io.read_to_string(&mut said).await.unwrap();
    assert_eq!(said, "hello ada; body 4 bytes: ping");
}

#[tokio::test]
async fn refused_with_its_own_status_reason_and_header() {
    let response = testing::send(app(), request(None, "")).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"upgrade\""
    );
    assert!(
        std::str::from_utf8(response.body())
            .unwrap()
            .contains("a bearer token is required"),
        "{:?}",
        response.body()
    );
    assert!(response.headers().get("upgrade").is_none());
}

#[tokio::test]
async fn the_rejection_is_typed_and_labelled() {
    // In the response's extensions (what a `RenderRejection` and the
    // metrics see): the protocol's own status, reason and label.
    use tower::ServiceExt;
    let response = app()
        .oneshot(request(Some("Basic abc"), "").map(|body| {
            use http_body_util::BodyExt;
            http_body_util::Full::new(bytes::Bytes::from(body))
                .map_err(|e: Infallible| -> tower::BoxError { match e {} })
                .boxed()
        }))
        .await
        .unwrap();
    let rejection = response
        .extensions()
        .get::<Rejection>()
        .expect("a typed rejection");
    assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rejection.reason(), "a bearer token is required");
    assert_eq!(rejection.metrics_label(), "token_auth_missing");
}
