//! The rows of benches/load_test.rs and benches/fanout served by programs
//! other than the bench binary: the `echo` example as users copy it, and
//! uWebSockets' echo and fan-out servers. Each takes its port on the command line or in the environment,
//! so the bench picks a free port and waits until it accepts connections.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `examples/echo`, built with `cargo build --release --example echo`.
pub const ECHO_EXAMPLE: &str = "echo example";
/// `../shared/tools/uws_echo PORT` (or `UWS_ECHO`).
pub const UWEBSOCKETS: &str = "uWebSockets";
/// `../shared/tools/uws_fanout PORT` (or `UWS_FANOUT`): every socket
/// subscribes to one topic, every message is published to all of them.
pub const UWS_FANOUT: &str = "uws_fanout";

/// The rows this module serves.
pub fn is_row(server: &str) -> bool {
    matches!(server, ECHO_EXAMPLE | UWEBSOCKETS | UWS_FANOUT)
}

/// Gets the row's program ready before anything is measured: builds the
/// echo example, finds uws_echo or uws_fanout. `Err` says why the row is
/// skipped; a missing uWebSockets server under `CI=true` panics instead, so
/// CI cannot pass without the row.
pub fn prepare(server: &str) -> Result<PathBuf, String> {
    let (variable, path) = match server {
        ECHO_EXAMPLE => return Ok(build_echo_example()),
        UWEBSOCKETS => ("UWS_ECHO", tool_path("UWS_ECHO", "uws_echo")),
        UWS_FANOUT => ("UWS_FANOUT", tool_path("UWS_FANOUT", "uws_fanout")),
        other => panic!("{other} is not an external row"),
    };
    if path.exists() {
        return Ok(path);
    }
    let why = format!(
        "{} not found: set {variable} (see ../shared/tools/README.md)",
        path.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    Err(why)
}

/// `$variable`, or `../shared/tools/NAME` beside the repository.
fn tool_path(variable: &str, name: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tools")).join(name)
        })
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
        UWEBSOCKETS | UWS_FANOUT => command.arg(port.to_string()),
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
