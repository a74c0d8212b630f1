//! What the accept loop does after `accept` fails: retry at once, pause, or
//! stop. The sorting follows Linux `accept(2)` (sections "ERRORS" and "Error
//! handling"); BSD and macOS return a subset of the same codes.
//!
//! The codes are matched as numbers (`raw_os_error` against `libc`), not
//! through `io::ErrorKind`: std files EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET,
//! EMFILE, ENFILE, ENOBUFS, EBADF and ENOTSOCK all under the unstable
//! `Uncategorized` kind, which cannot be matched. `ErrorKind` is the fallback
//! for an error without a code (and on targets without `libc`).

use std::io;
use std::time::Duration;

use tokio::time::Instant;

/// What to do after a failed `accept`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptAction {
    /// The error was about one incoming connection, which is gone: accept
    /// the next at once.
    Retry,
    /// The process or system is out of something that closing connections
    /// gives back (descriptors, memory): pause accepting a little, keep
    /// serving the connections already open.
    BackOff,
    /// The listening socket itself is unusable: stop the server.
    Stop,
}

/// accept(2), "Error handling": Linux passes the new socket's pending network
/// errors up through `accept`, and "for reliable operation the application
/// should ... treat them like EAGAIN by retrying"; for TCP/IP: ENETDOWN,
/// EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP and
/// ENETUNREACH. Besides them, the errors of "ERRORS" that concern one
/// connection: ECONNABORTED, EPERM ("Firewall rules forbid connection"),
/// EINTR, EAGAIN/EWOULDBLOCK; and ECONNRESET and ETIMEDOUT ("network errors
/// for the new socket ... may be returned").
///
/// EOPNOTSUPP is listed there too as "the referenced socket is not of type
/// SOCK_STREAM", which a `tokio::net::TcpListener` always is; so for it the
/// code can only be a pending error of the new connection, and is retried.
#[cfg(unix)]
const PER_CONNECTION: &[libc::c_int] = &[
    libc::ECONNABORTED,
    libc::ECONNRESET,
    libc::ETIMEDOUT,
    libc::EPERM,
    libc::EINTR,
    libc::EAGAIN,
    libc::EWOULDBLOCK,
    libc::ENETDOWN,
    libc::EPROTO,
    libc::ENOPROTOOPT,
    libc::EHOSTDOWN,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    libc::ENONET,
    libc::EHOSTUNREACH,
    libc::EOPNOTSUPP,
    libc::ENETUNREACH,
];

/// accept(2), "ERRORS": EMFILE (the process's descriptor limit), ENFILE (the
/// system's), ENOBUFS and ENOMEM ("not enough free memory", often the socket
/// buffer limits).
#[cfg(unix)]
const EXHAUSTED: &[libc::c_int] = &[libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];

/// accept(2), "ERRORS": EBADF (not an open descriptor), EINVAL (the socket
/// is not listening), ENOTSOCK (not a socket), EFAULT (a bad address
/// buffer): no later `accept` on this listener can succeed.
#[cfg(unix)]
const BROKEN_LISTENER: &[libc::c_int] = &[libc::EBADF, libc::EINVAL, libc::ENOTSOCK, libc::EFAULT];

impl AcceptAction {
    /// Sorts an error of `TcpListener::accept`.
    ///
    /// A code in none of the lists pauses rather than stops: the man page
    /// warns that "various Linux kernels can return other errors" about the
    /// new socket (ENOSR, ESOCKTNOSUPPORT, EPROTONOSUPPORT), and stopping a
    /// server over one connection is worse than a pause; the pause keeps an
    /// error that repeats from spinning the loop.
    pub(crate) fn of(error: &io::Error) -> Self {
        #[cfg(unix)]
        if let Some(code) = error.raw_os_error() {
            return if PER_CONNECTION.contains(&code) {
                Self::Retry
            } else if EXHAUSTED.contains(&code) {
                Self::BackOff
            } else if BROKEN_LISTENER.contains(&code) {
                Self::Stop
            } else {
                Self::BackOff
            };
        }
        Self::of_kind(error.kind())
    }

    /// The same sorting, as far as `ErrorKind` tells the codes apart.
    fn of_kind(kind: io::ErrorKind) -> Self {
        use io::ErrorKind::*;
        match kind {
            ConnectionAborted | ConnectionReset | ConnectionRefused | TimedOut
            | PermissionDenied | Interrupted | WouldBlock | NetworkDown | HostUnreachable
            | NetworkUnreachable | Unsupported => Self::Retry,
            InvalidInput => Self::Stop,
            _ => Self::BackOff,
        }
    }
}

/// The first pause after a failed accept that calls for one.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest pause: descriptors freed by a closing connection are used
/// within this (axum and hyper 0.14 pause this long every time).
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
/// While accepts keep failing, one warning per this much time; the rest go
/// to debug.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The pauses of a run of failed accepts: growing from 10 ms to 1 s, back to
/// the start after the next successful accept; and the warnings about them,
/// one per minute at most.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// Failures since the last successful accept.
    failures: u32,
    next: Option<Duration>,
    last_warning: Option<Instant>,
}

impl Backoff {
    /// Logs `error` and returns how long to pause before the next accept.
    pub(crate) fn pause(&mut self, error: &io::Error) -> Duration {
        let pause = self.next.unwrap_or(FIRST_PAUSE);
        self.next = Some((pause * 2).min(LONGEST_PAUSE));
        self.failures += 1;
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|last| now.duration_since(last) >= WARN_EVERY)
        {
            self.last_warning = Some(now);
            tracing::warn!(
                %error,
                failures = self.failures,
                ?pause,
                "accept failed; pausing accepts (connections already open are still served)"
            );
        } else {
            tracing::debug!(%error, failures = self.failures, ?pause, "accept failed again");
        }
        pause
    }

    /// After a successful accept: the next failure starts from the shortest
    /// pause.
    pub(crate) fn reset(&mut self) {
        if self.failures > 0 {
            tracing::info!(
                failures = self.failures,
                "accepting again after failed accepts"
            );
        }
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn accept_errors_are_sorted_as_the_man_page_sorts_them() {
        let cases = [
            // "Error handling": pending network errors of the new socket.
            (libc::ENETDOWN, AcceptAction::Retry),
            (libc::EPROTO, AcceptAction::Retry),
            (libc::ENOPROTOOPT, AcceptAction::Retry),
            (libc::EHOSTDOWN, AcceptAction::Retry),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            (libc::ENONET, AcceptAction::Retry),
            (libc::EHOSTUNREACH, AcceptAction::Retry),
            (libc::EOPNOTSUPP, AcceptAction::Retry),
            (libc::ENETUNREACH, AcceptAction::Retry),
            // "ERRORS", about one connection.
            (libc::ECONNABORTED, AcceptAction::Retry),
            (libc::ECONNRESET, AcceptAction::Retry),
            (libc::ETIMEDOUT, AcceptAction::Retry),
            (libc::EPERM, AcceptAction::Retry),
            (libc::EINTR, AcceptAction::Retry),
            (libc::EAGAIN, AcceptAction::Retry),
            (libc::EWOULDBLOCK, AcceptAction::Retry),
            // Out of resources.
            (libc::EMFILE, AcceptAction::BackOff),
            (libc::ENFILE, AcceptAction::BackOff),
            (libc::ENOBUFS, AcceptAction::BackOff),
            (libc::ENOMEM, AcceptAction::BackOff),
            // The listener is broken.
            (libc::EBADF, AcceptAction::Stop),
            (libc::EINVAL, AcceptAction::Stop),
            (libc::ENOTSOCK, AcceptAction::Stop),
            (libc::EFAULT, AcceptAction::Stop),
            // Not in the man page's lists: pause, neither spin nor stop.
            (libc::EPROTONOSUPPORT, AcceptAction::BackOff),
            (libc::EIO, AcceptAction::BackOff),
        ];
        for (code, expected) in cases {
            let error = io::Error::from_raw_os_error(code);
            assert_eq!(AcceptAction::of(&error), expected, "{code}: {error}");
        }
    }

    #[test]
    fn errors_without_a_code_are_sorted_by_kind() {
        let cases = [
            (io::ErrorKind::ConnectionAborted, AcceptAction::Retry),
            (io::ErrorKind::ConnectionReset, AcceptAction::Retry),
            (io::ErrorKind::Interrupted, AcceptAction::Retry),
            (io::ErrorKind::WouldBlock, AcceptAction::Retry),
            (io::ErrorKind::NetworkUnreachable, AcceptAction::Retry),
            (io::ErrorKind::OutOfMemory, AcceptAction::BackOff),
            (io::ErrorKind::Other, AcceptAction::BackOff),
            (io::ErrorKind::InvalidInput, AcceptAction::Stop),
        ];
        for (kind, expected) in cases {
            assert_eq!(
                AcceptAction::of(&io::Error::from(kind)),
                expected,
                "{kind:?}"
            );
        }
    }

    #[tokio::test]
    async fn pauses_grow_to_a_second_and_start_again_after_an_accept() {
        let error = io::Error::from(io::ErrorKind::OutOfMemory);
        let mut backoff = Backoff::default();
        let pauses: Vec<_> = (0..9).map(|_| backoff.pause(&error)).collect();
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            pauses,
            [
                ms(10),
                ms(20),
                ms(40),
                ms(80),
                ms(160),
                ms(320),
                ms(640),
                ms(1000),
                ms(1000)
            ]
        );
        backoff.reset();
        assert_eq!(backoff.pause(&error), ms(10));
    }
}
