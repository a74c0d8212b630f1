//! A custom protocol, `linecount/1`, on `/`: after the switch, the server
//! answers each line with its length in bytes and closes on `quit`.
//!
//! ```sh
//! cargo run --example custom_protocol
//! printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: linecount/1\r\n\r\nhello\nquit\n' \
//!     | nc 127.0.0.1 3000
//! ```

use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tower::service_fn;
use tower_upgrade::{UpgradeLayer, Upgraded};

/// Longest line counted; a longer one ends the connection.
const MAX_LINE: u64 = 64 * 1024;

async fn linecount(conn: Upgraded) -> std::io::Result<()> {
    tracing::info!(protocol = conn.negotiated().protocol(), "linecount session");
    let mut conn = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut conn)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let Some(content) = line.strip_suffix(b"\n") else {
            let reason: &[u8] = if n as u64 > MAX_LINE {
                b"error: line too long\n"
            } else {
                b""
            };
            conn.write_all(reason).await?;
            return conn.shutdown().await;
        };
        let content = content.strip_suffix(b"\r").unwrap_or(content);
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

    let app = Router::new().route(
        "/",
        get(|| async { "this resource speaks linecount/1: send Upgrade: linecount/1\n" })
            .layer(UpgradeLayer::new().protocol("linecount/1", service_fn(linecount))),
    );

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!("linecount/1 listening on http://{}", listener.local_addr()?);
    // `serve` has deadlines on every connection, which `axum::serve` lacks.
    tower_upgrade::serve(listener, app).await
}
