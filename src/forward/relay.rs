//! The relay: bytes both ways between the client and the upstream,
//! unchanged.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::answer::UpstreamIo;
use super::frames::{close_going_away, Boundaries};
use crate::metrics;
use crate::Upgraded;

/// Splices `conn` and the upstream the exchange connected, with buffers
/// of `buffer` bytes each way, until both sides have ended or, with
/// `idle`, nothing moved for that long. The bytes pass unchanged, with one
/// exception, at shutdown: the gateway forwards what the client had sent,
/// up to the end of a frame, then closes for it with a Close 1001 to the
/// upstream (the client's further frames are dropped, RFC 6455 §5.5.1), so
/// the upstream's last messages and its Close (1001 back) reach the
/// client as they would from the upstream itself.
pub(super) async fn relay(
    mut conn: Upgraded,
    idle: Option<Duration>,
    buffer: usize,
    websocket: bool,
) -> Result<(), io::Error> {
    let upstream = conn
        .extensions()
        .get::<UpstreamIo>()
        .and_then(UpstreamIo::take)
        .ok_or_else(|| io::Error::other("no upstream connection to relay to"))?;
    drop(conn.take_parts());
    // Only WebSocket has frames to close between; other protocols relay
    // until the drain deadline cuts them.
    let shutdown = websocket.then(|| conn.shutdown_signal());
    // The client's side sees every byte of both ways, so its idle timer
    // is the relay's.
    conn.set_idle_timeout(idle);
    let (mut client_read, mut client_write) = tokio::io::split(conn);
    let (mut upstream_read, mut upstream_write) = tokio::io::split(Counting::new(upstream));
    let down = async {
        let mut reader = tokio::io::BufReader::with_capacity(buffer, &mut upstream_read);
        tokio::io::copy_buf(&mut reader, &mut client_write).await?;
        client_write.shutdown().await
    };
    let up = async {
        match &shutdown {
            Some(shutdown) => {
                up_until_shutdown(&mut client_read, &mut upstream_write, shutdown, buffer).await?
            }
            None => {
                let mut reader = tokio::io::BufReader::with_capacity(buffer, &mut client_read);
                tokio::io::copy_buf(&mut reader, &mut upstream_write).await?;
            }
        }
        upstream_write.shutdown().await
    };
    if let Err(error) = tokio::try_join!(down, up) {
        // A peer that resets or goes silent ends the relay; not the
        // handler's failure.
        tracing::debug!(%error, "relay ended");
    }
    Ok(())
}

/// The client's bytes to the upstream, until the client ends; at
/// shutdown, up to a frame boundary, then the gateway's Close.
async fn up_until_shutdown<R, W>(
    client: &mut R,
    upstream: &mut W,
    shutdown: &crate::ShutdownSignal,
    buffer: usize,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut frames = Boundaries::default();
    let mut buf = vec![0u8; buffer];
    let mut closing = false;
    let mut reads = 0;
    // One wait for the whole relay: a new one per read would register and
    // unregister a waiter with the shutdown token for every message.
    let mut shutting_down = std::pin::pin!(shutdown.wait());
    loop {
        let n = if closing {
            // What had arrived when shutdown began is forwarded first, as
            // a server reads it before its own Close.
            match std::future::poll_fn(|cx| {
                let mut read = ReadBuf::new(&mut buf);
                match Pin::new(&mut *client).poll_read(cx, &mut read) {
                    Poll::Pending => Poll::Ready(None),
                    Poll::Ready(r) => Poll::Ready(Some(r.map(|()| read.filled().len()))),
                }
            })
            .await
            {
                Some(read) => read?,
                None if frames.at_boundary() => break,
                None => client.read(&mut buf).await?,
            }
        } else {
            tokio::select! {
                read = client.read(&mut buf) => read?,
                () = &mut shutting_down => {
                    closing = true;
                    continue;
                }
            }
        };
        if n == 0 {
            return Ok(());
        }
        let bytes = &buf[..n];
        if closing {
            // A client that never pauses gets its Close at the end of a
            // frame all the same.
            reads += 1;
            if reads > MAX_READS_WHILE_CLOSING {
                if let Some(end) = frames.next_boundary(bytes) {
                    upstream.write_all(&bytes[..end]).await?;
                    break;
                }
                upstream.write_all(bytes).await?;
                continue;
            }
        }
        frames.skip(bytes);
        upstream.write_all(bytes).await?;
    }
    upstream.write_all(&close_going_away(mask_key())).await?;
    upstream.flush().await?;
    tracing::debug!("shutdown: Close 1001 sent upstream for the client");
    // RFC 6455 §5.5.1: nothing after a Close; the client's Close answer
    // and anything before it are dropped until it ends.
    loop {
        if client.read(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

/// How many reads are forwarded after shutdown began, while the client
/// keeps sending, before the Close goes at the next frame boundary.
const MAX_READS_WHILE_CLOSING: usize = 64;

/// A masking key for the gateway's own frame (RFC 6455 §5.3): from the
/// standard library's randomly seeded hasher.
fn mask_key() -> [u8; 4] {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    let bytes = hasher.finish().to_le_bytes();
    [bytes[0], bytes[1], bytes[2], bytes[3]]
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
