//! Custom protocols on `/`, in the endpoint form (a route that only
//! switches: anything else gets `426` with `Upgrade: linecount/1, linecount/2`):
//!
//! - `linecount/1`, registered with `.protocol(..)`: no handshake of its
//!   own. After the switch the server answers each line with its length in
//!   bytes and closes on `quit`.
//! - `linecount/2`, the same session with a handshake of its own, written
//!   on the public [`Protocol`] trait as any third party would: the request
//!   must carry `Linecount-Max-Line: N` (1 to 65536); a missing or bad value
//!   gets `400` with the reason; the `101` answers with the agreed value, and
//!   the handler reads it from [`Upgraded::extensions`].
//!
//! ```sh
//! cargo run --example custom_protocol
//! printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: linecount/1\r\n\r\nhello\nquit\n' \
//!     | nc 127.0.0.1 3000
//! printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: linecount/2\r\nLinecount-Max-Line: 4\r\n\r\nabc\nabcdef\n' \
//!     | nc 127.0.0.1 3000
//! ```

use axum::Router;
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tower::service_fn;
use tower_upgrade::rejection::{ProtocolRejection, Rejection};
use tower_upgrade::{Accepted, Offer, Protocol, UpgradeLayer, Upgraded};

/// Longest line counted by `linecount/1`; a longer one ends the connection.
const MAX_LINE: usize = 64 * 1024;

/// The request and response header of `linecount/2`.
const MAX_LINE_HEADER: HeaderName = HeaderName::from_static("linecount-max-line");

/// The line length a `linecount/2` client and the server agreed on, handed
/// from [`MaxLineHandshake::accept`] to the handler.
#[derive(Clone, Copy, Debug)]
struct MaxLine(usize);

/// The handshake of `linecount/2`.
struct MaxLineHandshake;

impl Protocol for MaxLineHandshake {
    fn accept(&self, request: &Parts, _offer: &Offer<'_>) -> Result<Accepted, Rejection> {
        let mut values = request.headers.get_all(&MAX_LINE_HEADER).iter();
        let max = match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().and_then(|v| v.parse::<usize>().ok()),
            _ => None,
        }
        .filter(|n| (1..=MAX_LINE).contains(n))
        .ok_or_else(|| {
            ProtocolRejection::new(
                StatusCode::BAD_REQUEST,
                "Linecount-Max-Line must be sent once, a number from 1 to 65536",
            )
            .label("linecount_bad_max_line")
        })?;
        Ok(Accepted::new()
            .with_header(MAX_LINE_HEADER, HeaderValue::from(max))
            .with_extension(MaxLine(max)))
    }
}

/// Answers each line with its length; `quit` or end of input ends it.
async fn count_lines(conn: Upgraded, max_line: usize) -> std::io::Result<()> {
    tracing::info!(
        protocol = conn.negotiated().protocol(),
        max_line,
        "linecount session"
    );
    let mut conn = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut conn)
            .take(max_line as u64 + 2)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let content = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let Some(content) = content.filter(|c| c.len() <= max_line) else {
            // Longer than agreed, or cut short by the end of input.
            let reason: &[u8] = if n > max_line {
                b"error: line too long\n"
            } else {
                b""
            };
            conn.write_all(reason).await?;
            return conn.shutdown().await;
        };
        if content == b"quit" {
            return conn.shutdown().await;
        }
        conn.write_all(format!("{}\n", content.len()).as_bytes())
            .await?;
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();

    let upgrades = UpgradeLayer::new()
        .protocol(
            "linecount/1",
            service_fn(|conn| count_lines(conn, MAX_LINE)),
        )
        .register(
            "linecount/2",
            MaxLineHandshake,
            service_fn(|conn: Upgraded| {
                let MaxLine(max) = *conn.extensions().get().expect("set by the handshake");
                count_lines(conn, max)
            }),
        );
    let app = Router::new().route_service("/", upgrades.into_service());

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        "linecount/1 and /2 listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app).await
}
