//! Issue 17: accept errors no longer stop `serve` unless the listener itself
//! is broken. A connection reset before its accept, and a process out of
//! file descriptors (EMFILE, in a child process with a low RLIMIT_NOFILE),
//! leave the server serving. Over real TCP on 127.0.0.1; the timeouts here
//! only guard against a hang.
#![cfg(feature = "serve")]

use std::future::IntoFuture;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a step may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(30);

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

fn app() -> Router {
    Router::new().route("/", get(|| async { "hello" }))
}

/// Sends a request on `conn` and reads the response ("hello", 5 bytes of
/// body) to its end; returns the status.
async fn get_hello(conn: &mut TcpStream) -> u16 {
    conn.write_all(REQUEST).await.unwrap();
    read_hello(conn).await
}

async fn read_hello(conn: &mut TcpStream) -> u16 {
    let mut read = Vec::new();
    let mut buf = [0; 512];
    while !read.ends_with(b"hello") {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response: {read:?}");
        read.extend_from_slice(&buf[..n]);
    }
    std::str::from_utf8(&read[9..12]).unwrap().parse().unwrap()
}

/// A client that connects and resets (SO_LINGER 0) while its connection
/// waits in the backlog. (Linux hands such a connection to `accept` and
/// reports the reset on the first read; BSD and macOS fail the `accept`
/// with ECONNABORTED.) The next client is served.
#[tokio::test]
async fn a_connection_reset_before_its_accept_leaves_the_server_serving() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    let reset = TcpStream::connect(addr).await.unwrap();
    socket2::SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset);

    let served = tokio::spawn(tower_upgrade::serve(listener, app()).into_future());
    let mut next = TcpStream::connect(addr).await.unwrap();
    let status = tokio::time::timeout(HANG, get_hello(&mut next)).await;
    assert_eq!(status.ok(), Some(200));
    assert!(!served.is_finished(), "the server is still running");
    served.abort();
}

/// Set in the child process that runs the server with a low descriptor limit.
#[cfg(target_os = "linux")]
const CHILD: &str = "TOWER_UPGRADE_TEST_EMFILE_CHILD";

/// The server runs in a child process (this test, run again) whose
/// RLIMIT_NOFILE leaves room for a few connections only; the limit of the
/// test process is never touched. Clients connect until an accept fails
/// with EMFILE (the child's warning says so); the connections already open
/// are still served; once one of them closes, the connection that waited is
/// accepted and served.
#[cfg(target_os = "linux")]
#[test]
fn the_server_survives_running_out_of_file_descriptors() {
    if std::env::var_os(CHILD).is_some() {
        emfile_child();
    } else {
        emfile_parent();
    }
}

/// Runs `serve` under a descriptor limit three above the highest open
/// descriptor, prints `READY <addr>`, and shuts down when stdin closes.
#[cfg(target_os = "linux")]
fn emfile_child() {
    use std::io::{Read, Write};

    tracing_subscriber::fmt()
        .with_env_filter("tower_upgrade=info")
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // SAFETY: getrlimit/setrlimit and fcntl(F_GETFD) on plain integers
        // and a struct we own; only this (child) process is affected.
        unsafe {
            let mut limit: libc::rlimit = std::mem::zeroed();
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
            let probe = limit.rlim_cur.min(65_536) as libc::c_int;
            let highest = (0..probe)
                .filter(|&fd| libc::fcntl(fd, libc::F_GETFD) != -1)
                .max()
                .unwrap();
            limit.rlim_cur = (highest + 1 + 3) as libc::rlim_t;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        });
        let mut out = std::io::stdout().lock();
        writeln!(out, "READY {addr}").unwrap();
        out.flush().unwrap();
        drop(out);
        tower_upgrade::serve(listener, app())
            .with_graceful_shutdown(async {
                let _ = stdin_closed.await;
            })
            .await
            .unwrap();
    });
}

#[cfg(target_os = "linux")]
fn emfile_parent() {
    use std::process::Stdio;
    use tokio::io::AsyncBufReadExt;
    use tokio::sync::mpsc;

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "the_server_survives_running_out_of_file_descriptors",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(HANG, async {
            while let Some(line) = stdout.next_line().await.unwrap() {
                // After libtest's "test ... " on the same line.
                if let Some((_, addr)) = line.split_once("READY ") {
                    return addr.parse::<std::net::SocketAddr>().unwrap();
                }
            }
            panic!("the child ended before it was ready");
        })
        .await
        .expect("the child never got ready");
        // The child's log, line by line; kept whole for the failure messages.
        let (lines, mut log) = mpsc::unbounded_channel();
        let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                let _ = lines.send(line);
            }
        });
        let mut seen = Vec::new();
        let emfile = |line: &str| line.contains("accept failed") && line.contains("os error 24");

        // Connect until an accept fails: each connection is either served
        // or, once the descriptors are used up, waits in the backlog.
        let mut open = Vec::new();
        let waiting = tokio::time::timeout(HANG, async {
            loop {
                let mut conn = TcpStream::connect(addr).await.unwrap();
                conn.write_all(REQUEST).await.unwrap();
                tokio::select! {
                    status = read_hello(&mut conn) => {
                        assert_eq!(status, 200);
                        open.push(conn);
                    }
                    line = wait_for(&mut log, &mut seen, emfile) => {
                        assert!(line.contains("WARN"), "{line}");
                        return conn;
                    }
                }
            }
        })
        .await;
        let mut waiting = waiting.unwrap_or_else(|_| panic!("no EMFILE; child log: {seen:#?}"));
        assert!(
            open.len() >= 2,
            "connections were served first: {}",
            open.len()
        );

        // Out of descriptors, the server still serves what it has open.
        let status = tokio::time::timeout(HANG, get_hello(&mut open[0])).await;
        assert_eq!(status.ok(), Some(200), "child log: {seen:#?}");

        // One connection closes; the one that waited is accepted and served.
        drop(open.remove(0));
        let status = tokio::time::timeout(HANG, read_hello(&mut waiting)).await;
        assert_eq!(status.ok(), Some(200), "child log: {seen:#?}");
        let mut fresh = TcpStream::connect(addr).await.unwrap();
        drop(open.remove(0));
        let status = tokio::time::timeout(HANG, get_hello(&mut fresh)).await;
        assert_eq!(status.ok(), Some(200), "child log: {seen:#?}");

        drop(child.stdin.take());
        let exit = tokio::time::timeout(HANG, child.wait()).await;
        assert!(
            matches!(exit, Ok(Ok(status)) if status.success()),
            "the child's server did not end cleanly: {exit:?}; log: {seen:#?}"
        );
    });
}

/// Reads the child's log until a line `matches`, keeping every line in
/// `seen`; returns that line.
#[cfg(target_os = "linux")]
async fn wait_for(
    log: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: &mut Vec<String>,
    matches: impl Fn(&str) -> bool,
) -> String {
    loop {
        let Some(line) = log.recv().await else {
            panic!("the child's log ended: {seen:#?}");
        };
        seen.push(line.clone());
        if matches(&line) {
            return line;
        }
    }
}
