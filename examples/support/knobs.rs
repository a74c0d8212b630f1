//! The WebSocket knobs the interop and Autobahn scripts turn, read from the
//! environment; shared by the `echo` and `chat` examples.
//!
//! - `WS_BACKEND`: `messages` (the crate's own message layer, the default),
//!   or `tungstenite` (the compatibility backend, without compression).
//! - `WS_DEFLATE=1`: negotiate permessage-deflate (the `messages`
//!   backend).
//! - `WS_MAX_MESSAGE`: the largest message in bytes (the example's own
//!   default otherwise; the Autobahn script raises it for the 16 MiB
//!   messages of section 9).
//! - `WS_PING_MS`, `WS_PONG_TIMEOUT_MS`: keepalive of the `messages`
//!   backend (30 s and 20 s by default; `WS_PING_MS=0` sends no Pings).
//! - `WS_WRITE_TIMEOUT_MS`: how long a write may wait on a client that
//!   reads nothing (30 s by default; `0`: for ever).
//! - `WS_MAX_WRITE_BUFFER`: the most bytes queued for a slow reader (after
//!   `WS_MAX_MESSAGE`, which sets it to twice the message size).

use std::time::Duration;

use tower_upgrade::websocket::WebSocketConfig;
use tower_upgrade::{UpgradeHandler, UpgradeLayer};

/// What the environment asks for.
pub(crate) struct Knobs {
    /// `WS_BACKEND`.
    pub(crate) backend: String,
    /// `WS_DEFLATE=1`.
    pub(crate) deflate: bool,
    /// `settings` with the knobs applied.
    pub(crate) settings: WebSocketConfig,
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Applies the knobs to `settings`, the example's defaults.
pub(crate) fn from_env(mut settings: WebSocketConfig) -> Knobs {
    let deflate = std::env::var("WS_DEFLATE").is_ok_and(|v| v == "1");
    let backend = std::env::var("WS_BACKEND").unwrap_or_else(|_| "messages".into());
    if let Some(bytes) = env_number("WS_MAX_MESSAGE") {
        let bytes = bytes as usize;
        // tungstenite refuses to queue a message larger than its write buffer.
        settings = settings
            .max_message_size(bytes)
            .max_frame_size(bytes)
            .max_write_buffer_size(bytes.saturating_mul(2));
    }
    if let Some(bytes) = env_number("WS_MAX_WRITE_BUFFER") {
        settings = settings.max_write_buffer_size(bytes as usize);
    }
    if let Some(ms) = env_number("WS_PING_MS") {
        settings = settings.ping_interval((ms > 0).then(|| Duration::from_millis(ms)));
    }
    if let Some(ms) = env_number("WS_PONG_TIMEOUT_MS") {
        settings = settings.pong_timeout(Duration::from_millis(ms));
    }
    if let Some(ms) = env_number("WS_WRITE_TIMEOUT_MS") {
        settings = settings.write_timeout((ms > 0).then(|| Duration::from_millis(ms)));
    }
    if deflate && backend != "tungstenite" {
        settings = settings.permessage_deflate(tower_upgrade::websocket::DeflateConfig::new());
    }
    Knobs {
        backend,
        deflate,
        settings,
    }
}

/// Exits with status 2: the backend and compression asked for are not
/// available in this example or build.
pub(crate) fn unavailable(knobs: &Knobs, why: &str) -> ! {
    tracing::error!(
        "WS_BACKEND={} with WS_DEFLATE={} is not available{why}",
        knobs.backend,
        knobs.deflate
    );
    std::process::exit(2);
}

/// The WebSocket layer the knobs ask for: `messages` (the crate's own
/// message layer, the default) with `messages`, or `tungstenite` without
/// compression with `tungstenite`; any other choice exits (`unavailable`,
/// `why` says where).
pub(crate) fn layer(
    knobs: &Knobs,
    messages: impl UpgradeHandler,
    tungstenite: impl UpgradeHandler,
    why: &str,
) -> UpgradeLayer {
    let settings = knobs.settings.clone();
    match (knobs.backend.as_str(), knobs.deflate) {
        ("messages", _) => UpgradeLayer::new().websocket(settings, messages),
        ("tungstenite", false) => UpgradeLayer::new().websocket(settings, tungstenite),
        _ => unavailable(knobs, why),
    }
}
