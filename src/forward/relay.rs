//! The relay: bytes both ways between the client and the upstream,
//! unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::answer::UpstreamIo;
use crate::metrics;
use crate::Upgraded;

/// Splices `conn` and the upstream the exchange connected, with buffers
/// of `buffer` bytes each way, until either side ends or, with `idle`,
/// nothing moves for that long. Shutdown does not stop it (the relay
/// cannot say goodbye at a frame boundary it does not see); the drain
/// deadline does, closing both sides.
pub(super) async fn relay(
    mut conn: Upgraded,
    idle: Option<Duration>,
    buffer: usize,
) -> Result<(), io::Error> {
    let upstream = conn
        .extensions()
        .get::<UpstreamIo>()
        .and_then(UpstreamIo::take)
        .ok_or_else(|| io::Error::other("no upstream connection to relay to"))?;
    drop(conn.take_parts());
    // The client's side sees every byte of both ways, so its idle timer
    // is the relay's.
    conn.set_idle_timeout(idle);
    let mut upstream = Counting::new(upstream);
    match tokio::io::copy_bidirectional_with_sizes(&mut conn, &mut upstream, buffer, buffer).await {
        Ok(_) => {}
        // A peer that resets or goes silent ends the relay; not the
        // handler's failure.
        Err(error) => tracing::debug!(%error, "relay ended"),
    }
    Ok(())
}

/// The upstream's IO, counting the bytes each way; the counts go to the
/// metrics when the relay ends.
struct Counting<T> {
    io: T,
    to_upstream: u64,
    to_client: u64,
}

impl<T> Counting<T> {
    fn new(io: T) -> Self {
        Self {
            io,
            to_upstream: 0,
            to_client: 0,
        }
    }
}

impl<T> Drop for Counting<T> {
    fn drop(&mut self) {
        metrics::forward_bytes(self.to_upstream, self.to_client);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counting<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        self.to_client += (buf.filled().len() - before) as u64;
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counting<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.to_upstream += n as u64;
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
