//! The connection as hyper reads it: the bytes already read past a PROXY
//! protocol header first, and a deadline on the first request head.
//!
//! hyper's HTTP/1 `header_read_timeout` starts only once hyper-util has told
//! HTTP/1 from HTTP/2 by the first bytes, and that detection waits forever:
//! a client that sends nothing, or the first 16 bytes of the HTTP/2 preface,
//! would hold the connection as long as it liked. So the deadline runs from
//! the accept: it ends when the first request reaches the service (HTTP/1;
//! hyper's own timer guards the later heads), or when the whole HTTP/2
//! preface has arrived (the connection's idle timeout takes over).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

use super::timeouts::TimeoutKind;

/// RFC 9113 §3.4: the client connection preface.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const HEAD: u8 = 0;
const HTTP1: u8 = 1;
const HTTP2: u8 = 2;

/// What the connection is known to speak, shared by its IO, its service and
/// the task that drives it.
#[derive(Debug, Default)]
pub(crate) struct Phase {
    phase: AtomicU8,
    http2: Notify,
}

impl Phase {
    /// The first request reached the service: an HTTP/1 connection, unless
    /// the preface already said HTTP/2.
    pub(crate) fn request(&self) {
        let _ = self
            .phase
            .compare_exchange(HEAD, HTTP1, Ordering::AcqRel, Ordering::Acquire);
    }

    fn head_done(&self) -> bool {
        self.phase.load(Ordering::Acquire) != HEAD
    }

    pub(crate) fn is_http2(&self) -> bool {
        self.phase.load(Ordering::Acquire) == HTTP2
    }

    fn preface(&self) {
        self.phase.store(HTTP2, Ordering::Release);
        self.http2.notify_waiters();
    }

    /// Resolves once the connection is known to be HTTP/2.
    pub(crate) async fn http2(&self) {
        loop {
            let notified = self.http2.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_http2() {
                return;
            }
            notified.await;
        }
    }
}

pin_project_lite::pin_project! {
    /// The accepted stream, with the head deadline.
    #[derive(Debug)]
    pub(crate) struct ConnIo {
        #[pin]
        stream: TcpStream,
        prefix: Bytes,
        phase: Arc<Phase>,
        deadline: Option<Pin<Box<Sleep>>>,
        // How many bytes read so far, up to the preface's length, and
        // whether all of them matched the preface.
        seen: usize,
        preface_so_far: bool,
    }
}

impl ConnIo {
    pub(crate) fn new(
        stream: TcpStream,
        prefix: Bytes,
        phase: Arc<Phase>,
        deadline: Instant,
    ) -> Self {
        Self {
            stream,
            prefix,
            phase,
            deadline: Some(Box::pin(tokio::time::sleep_until(deadline))),
            seen: 0,
            preface_so_far: true,
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = if this.prefix.is_empty() {
            this.stream.poll_read(cx, buf)
        } else {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            Poll::Ready(Ok(()))
        };
        if this.deadline.is_some() && this.phase.head_done() {
            *this.deadline = None;
        }
        let Some(deadline) = this.deadline.as_mut() else {
            return polled;
        };
        match polled {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if *this.preface_so_far && *this.seen < PREFACE.len() {
                    let n = read.len().min(PREFACE.len() - *this.seen);
                    *this.preface_so_far = read[..n] == PREFACE[*this.seen..*this.seen + n];
                    *this.seen += n;
                    if *this.preface_so_far && *this.seen == PREFACE.len() {
                        this.phase.preface();
                        *this.deadline = None;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let kind = if *this.seen > 0 && *this.preface_so_far {
                    TimeoutKind::Preface
                } else {
                    TimeoutKind::Header
                };
                kind.record();
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, kind.message())))
            }
        }
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().stream.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().stream.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
