//! The rows of benches/load_test.rs served by programs other than the
//! bench binary: the `echo` example as users copy it, and uWebSockets' echo
//! server. Each takes its port on the command line or in the environment,
//! so the bench picks a free port and waits until it accepts connections.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `examples/echo`, built with `cargo build --release --example echo`.
pub const ECHO_EXAMPLE: &str = "echo example";
/// `../shared/tools/uws_echo PORT` (or `UWS_ECHO`).
pub const UWEBSOCKETS: &str = "uWebSockets";

/// The rows this module serves.
pub fn is_row(server: &str) -> bool {
    matches!(server, ECHO_EXAMPLE | UWEBSOCKETS)
}

/// Gets the row's program ready before anything is measured: builds the
/// echo example, finds uws_echo. `Err` says why the row is skipped; a
/// missing uws_echo under `CI=true` panics instead, so CI cannot pass
/// without the row.
pub fn prepare(server: &str) -> Result<PathBuf, String> {
    match server {
        ECHO_EXAMPLE => Ok(build_echo_example()),
        UWEBSOCKETS => {
            let path = uws_echo_path();
            if path.exists() {
                return Ok(path);
            }
            let why = format!(
                "uws_echo not found at {}: set UWS_ECHO (see ../shared/tools/README.md)",
                path.display()
            );
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            Err(why)
        }
        other => panic!("{other} is not an external row"),
    }
}

fn uws_echo_path() -> PathBuf {
    std::env::var_os("UWS_ECHO")
        .map(PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tools/uws_echo").into())
}

/// `cargo build --release --example echo` into the target directory the
/// bench itself was built in; the path of the binary.
fn build_echo_example() -> PathBuf {
    // The bench runs as TARGET/release/deps/NAME-HASH.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building examples/echo (release) into {}", target.display());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--example", "echo"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building examples/echo failed");
    target.join("release/examples/echo")
}

/// Starts `program` (from `prepare`) serving `server` on a free port, with
/// `workers` runtime threads for the echo example (uWebSockets runs one
/// thread, as it does); returns once the port accepts connections.
pub fn spawn(server: &str, program: &PathBuf, workers: usize) -> (Child, u16) {
    let port = free_port();
    let mut command = Command::new(program);
    match server {
        // As users run it: its defaults, `info` logs (one line per
        // connection, to a discarded stderr), /metrics installed.
        ECHO_EXAMPLE => command
            .env("ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "info")
            .env("TOKIO_WORKER_THREADS", workers.to_string()),
        UWEBSOCKETS => command.arg(port.to_string()),
        other => panic!("{other} is not an external row"),
    };
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{server} exited before listening: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{server} is not listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

/// A port nothing listens on now (the kernel's pick for port 0, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}
