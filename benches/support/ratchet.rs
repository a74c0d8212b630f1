//! The ratchet rows are served by benches/ratchet_peer, a package of its own
//! (its Cargo.toml says why); this builds it once per run and starts it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The rows benches/ratchet_peer serves.
pub fn is_row(server: &str) -> bool {
    matches!(server, "ratchet" | "ratchet-deflate")
}

/// benches/ratchet_peer's binary, built (release, into
/// `target/ratchet-peer/`) the first time a run needs it: a few minutes
/// when cold, a second after.
pub fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // The bench runs as target/release/deps/NAME-HASH.
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap().join("ratchet-peer");
        let manifest = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/ratchet_peer/Cargo.toml"
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!("building benches/ratchet_peer into {}", target.display());
        let status = Command::new(cargo)
            .args(["build", "--release", "--quiet", "--manifest-path", manifest])
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("run cargo");
        assert!(status.success(), "building benches/ratchet_peer failed");
        target.join("release/ratchet-peer")
    })
}

/// Starts the server of `row` on a runtime of `workers` threads; like the
/// other servers it prints its port on the first line of stdout.
pub fn spawn(row: &str, workers: usize) -> Child {
    Command::new(binary())
        .args([row, &workers.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start benches/ratchet_peer")
}
