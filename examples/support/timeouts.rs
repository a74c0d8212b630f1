//! The deadlines of `tower_upgrade::serve` from the environment, so that the
//! timeout checks (scripts/timeouts.sh) can make them short:
//! `HEADER_READ_TIMEOUT` and `HTTP2_IDLE_TIMEOUT`, in seconds (fractions
//! allowed). Unset, the crate's defaults stand (30 s and 60 s).
//! `PROXY_PROTOCOL=1` requires a PROXY protocol header on every connection
//! (behind HAProxy's `send-proxy-v2`, tests/interop/haproxy.sh).

use std::time::Duration;

use tower_upgrade::serve::{Http2Settings, Serve};

fn seconds(name: &str) -> Option<Duration> {
    let value = std::env::var(name).ok()?;
    match value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
    {
        Some(duration) => Some(duration),
        None => panic!("{name}={value:?} is not a number of seconds"),
    }
}

/// `serve` with the deadlines the environment sets.
pub fn from_env<S>(mut serve: Serve<S>) -> Serve<S> {
    if let Some(timeout) = seconds("HEADER_READ_TIMEOUT") {
        serve = serve.header_read_timeout(timeout);
    }
    if let Some(timeout) = seconds("HTTP2_IDLE_TIMEOUT") {
        serve = serve.http2(Http2Settings::new().idle_timeout(timeout));
    }
    if std::env::var("PROXY_PROTOCOL").is_ok_and(|v| v == "1") {
        serve = serve.proxy_protocol(true);
    }
    serve
}
