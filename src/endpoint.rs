//! The endpoint form: the layer as a service of its own, for a route that
//! only switches protocols ([`UpgradeLayer::into_service`](crate::UpgradeLayer::into_service)).
//!
//! ```
//! use axum::Router;
//! use tower::service_fn;
//! use tower_upgrade::endpoint::UpgradeEndpoint;
//! use tower_upgrade::{UpgradeLayer, Upgraded};
//!
//! let feed: UpgradeEndpoint = UpgradeLayer::new()
//!     .protocol("feed/1", service_fn(|_: Upgraded| async { Ok::<_, std::io::Error>(()) }))
//!     .into_service();
//! let app: Router = Router::new().route_service("/feed", feed);
//! # let _ = app;
//! ```

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tower::Service;

use crate::rejection::PlainTextRejection;
use crate::service::Upgrade;

/// A route that only switches protocols: the layer in front of
/// [`NotAnUpgrade`], built by
/// [`UpgradeLayer::into_service`](crate::UpgradeLayer::into_service).
pub type UpgradeEndpoint<R = PlainTextRejection> = Upgrade<NotAnUpgrade, R>;

/// The inner service of an [`UpgradeEndpoint`]. The layer in front of it
/// answers every request (the switch, or `426 Upgrade Required` listing the
/// registered protocols), so it is never called there; called on its own,
/// it answers `426` too.
///
/// ```
/// use tower::{Service, ServiceExt};
/// use tower_upgrade::endpoint::NotAnUpgrade;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let response = NotAnUpgrade.oneshot(http::Request::new(())).await.unwrap();
/// assert_eq!(response.status(), 426);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NotAnUpgrade;

impl<B> Service<Request<B>> for NotAnUpgrade {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        let mut response = Response::new(String::from("this resource only accepts upgrades\n"));
        *response.status_mut() = StatusCode::UPGRADE_REQUIRED;
        ready(Ok(response))
    }
}
