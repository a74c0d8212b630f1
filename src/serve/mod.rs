//! This crate's own HTTP servers, in one wing: [`serve`](crate::serve()),
//! an accept loop in the spirit of `axum::serve` (feature `serve`), and
//! what it shares with the h2c connection (feature `h2c`): one
//! [`Http2Settings`] with one set of defaults, the [`HttpService`] bound,
//! the [`RequestBody`] your service receives, and the HTTP/2 idle timer.
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{routing::get, Router};
//! use tower_upgrade::serve::Http2Settings;
//!
//! # #[cfg(feature = "serve")]
//! # async fn run() -> std::io::Result<()> {
//! let app: Router = Router::new().route("/", get(|| async { "hello" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!
//! // Defaults: 30 s for a request head, 60 s for an idle HTTP/2 connection.
//! // tower_upgrade::serve(listener, app).await
//!
//! // Customised.
//! tower_upgrade::serve(listener, app)
//!     .header_read_timeout(Duration::from_secs(10))
//!     .http2(Http2Settings::new().idle_timeout(Duration::from_secs(120)))
//!     .await
//! # }
//! ```

mod http2;
pub(crate) mod http2_idle;
mod http_service;
mod request_body;

#[cfg(feature = "serve")]
mod accept;
#[cfg(feature = "serve")]
mod conn_io;
#[cfg(feature = "serve")]
mod connection;
#[cfg(feature = "proxy-protocol")]
mod proxy_protocol;
#[cfg(feature = "serve")]
mod server;
#[cfg(feature = "serve")]
mod timeouts;

pub use http2::Http2Settings;
pub use http_service::HttpService;
pub(crate) use request_body::hyper_service;
pub use request_body::RequestBody;
#[cfg(feature = "serve")]
pub use server::{serve, Serve};
#[cfg(feature = "serve")]
pub use timeouts::{DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT};
