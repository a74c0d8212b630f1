//! Knobs for the test scripts; not needed in your own server.
//!
//! The `echo` and `chat` examples read these from the environment so that
//! `scripts/interop.sh`, `scripts/autobahn*.sh` and the clients in
//! `tests/interop/` can start them in every configuration they check:
//!
//! - `ADDR`: where to listen (127.0.0.1:3000); `RUST_LOG` (`info`).
//! - `WS_BACKEND`, `WS_DEFLATE`, `WS_MAX_MESSAGE`, `WS_MAX_WRITE_BUFFER`,
//!   `WS_PING_MS`, `WS_PONG_TIMEOUT_MS`: the WebSocket backend and settings
//!   (`knobs.rs`).
//! - `TRUSTED_PROXIES`, `MAX_CONNECTIONS_PER_CLIENT`,
//!   `HANDSHAKES_PER_SECOND_PER_CLIENT`, `HANDSHAKE_BURST`,
//!   `MAX_HANDSHAKES_IN_PROGRESS`, `MAX_HANDSHAKES_IN_PROGRESS_PER_CLIENT`:
//!   the deployment limits (`client_limits.rs`).
//! - `HEADER_READ_TIMEOUT`, `HTTP2_IDLE_TIMEOUT`: the deadlines of `serve`
//!   (`timeouts.rs`; the `echo` and `h2c` examples).
//! - `WS_PUSH_ROUTES=1`: `/ticker` and `/split-echo` in the `echo` example,
//!   handlers that use the halves of `split` apart (`push.rs`).
//! - `WS_TOPIC_POLICY=drop|close|close:N|wait:MS`: `/topic` in the `echo`
//!   example, one topic every socket there subscribes to, with that
//!   slow-consumer policy (`topic.rs`).
//! - `GET /metrics`: the crate's counters in the Prometheus text format
//!   (`metrics.rs`).

// Each example uses only part of this module.
#![allow(dead_code)]

pub mod client_limits;
pub mod knobs;
pub mod metrics;
pub mod push;
pub mod timeouts;
pub mod topic;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
}

/// `ADDR`, where to listen (127.0.0.1:3000).
pub fn addr() -> String {
    std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into())
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
