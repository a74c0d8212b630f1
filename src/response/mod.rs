//! What the layer's service answers with: [`ResponseFuture`], the future of
//! [`Upgrade`](crate::Upgrade), and [`ResponseBody`], its body: the inner
//! service's body, or the layer's own (a `101`, a rejection).
//!
//! You name them only when you write the service's type out in full:
//!
//! ```
//! use tower_upgrade::response::ResponseBody;
//!
//! // An axum `Router` takes any body with `Bytes` data and a boxable error.
//! fn is_http_body<B: http_body::Body<Data = bytes::Bytes>>() {}
//! is_http_body::<ResponseBody<axum::body::Body>>();
//! ```

mod body;
mod future;

pub use body::ResponseBody;
pub use future::ResponseFuture;
