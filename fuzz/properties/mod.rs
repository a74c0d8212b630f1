//! The properties the `cargo fuzz` targets check, and the reference
//! implementations they compare against.
//!
//! Each function takes the fuzzer's bytes, drives one parser the way the
//! layer does, and panics when a property fails. These files are the fuzz
//! crate's library (`fuzz/Cargo.toml`, `[lib]`), which the targets in
//! `fuzz_targets/` call, and are included again by the library's
//! `tests/fuzz_seeds.rs`, so that `cargo test` replays the committed seeds
//! and every crash found so far through the same checks. So that they mean
//! the same in both places, they name the library's items only through
//! `tower_upgrade::...` (internal ones through its hidden `__fuzz` bridge,
//! `src/fuzz_bridge.rs`) and each other only through `super::`.
//!
//! Inputs that hold HTTP requests are text, one item a line, so seeds can be
//! read and written by hand (see `input.rs`).

mod detect;
mod differential;
mod extensions;
mod forwarded;
mod frame;
mod handshake;
mod input;
mod preface;
mod settings;

pub use detect::detect_select;
pub use differential::ws_differential;
// Read by tests/websocket_differential.rs, which counts what was compared.
#[allow(unused_imports)]
pub use differential::{compare, Settled};
pub use extensions::extensions;
pub use forwarded::forwarded;
pub use frame::ws_frame;
pub use handshake::handshake;
pub use preface::h2c_preface;
pub use settings::http2_settings;

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// Every target, by the name of its file in `fuzz/fuzz_targets/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("detect_select", detect_select),
    ("handshake", handshake),
    ("extensions", extensions),
    ("http2_settings", http2_settings),
    ("h2c_preface", h2c_preface),
    ("ws_frame", ws_frame),
    ("forwarded", forwarded),
    ("ws_differential", ws_differential),
];
