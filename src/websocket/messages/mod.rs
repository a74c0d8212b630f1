//! The crate's own WebSocket message layer (RFC 6455 §5-§7, RFC 7692).
//!
//! A [`WebSocket`] reads and writes messages over an upgraded connection,
//! answers Pings, pings a quiet peer and closes it when no Pong comes back,
//! bounds what it buffers in both directions, compresses when
//! permessage-deflate was agreed, and sends Close 1001 by itself when the
//! server shuts down.
//!
//! # How it makes progress
//!
//! A socket has no task of its own. Reading (`recv`, or polling the
//! [`Receiver`] after [`split`](WebSocket::split)) also writes what the
//! [`Sender`] handles queued, answers Pings and runs the keepalive timers;
//! `send` and `flush` write. A handler that only sends through a `Sender`
//! must still keep a `recv` loop running, as a chat handler does anyway.

mod close;
#[cfg(feature = "deflate")]
pub(crate) mod compress;
mod conn;
mod error;
pub(crate) mod frame;
pub(crate) mod mask;
mod message;
mod sender;
mod settings;
mod timers;
mod upgrade;
mod utf8;

#[cfg(test)]
mod tests;

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};

pub use close::{CloseCode, CloseFrame};
#[cfg(feature = "deflate")]
pub(crate) use compress::Pool as DeflatePool;
use conn::Conn;
pub use error::{Error, TrySendError};
pub use message::Message;
pub use sender::Sender;
pub(crate) use settings::{Settings, Timeouts};
pub use utf8::Utf8Bytes;

use crate::lifecycle::ShutdownSignal;
use crate::Upgraded;

/// A WebSocket connection that sends and receives [`Message`]s.
///
/// Its API follows axum's `extract::ws::WebSocket`: [`recv`](Self::recv)
/// and [`send`](Self::send), [`Stream`] and [`Sink`], and
/// [`split`](Self::split) into a [`Sender`] and a [`Receiver`].
pub struct WebSocket<S = Upgraded> {
    conn: Conn<S>,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("conn", &self.conn)
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A server-side socket over `io`, after a handshake done elsewhere.
    pub(crate) fn from_io(io: S, settings: &Settings, shutdown: Option<ShutdownSignal>) -> Self {
        Self {
            conn: Conn::new(io, settings, shutdown),
        }
    }

    /// The next message; `None` once the connection is closed.
    ///
    /// A Ping is answered before it is returned; a Close is answered and is
    /// the last message. After an error (returned once, after the Close that
    /// names it was sent) the connection is over.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.conn.poll_next(cx)).await
    }

    /// Sends `message` and writes everything queued before it. Waits while
    /// the send buffer is full.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after a Close was sent; IO errors and timeouts.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let mut slot = Some(message.into());
        poll_fn(|cx| self.conn.poll_send(cx, &mut slot)).await
    }

    /// Sends a Close with `frame` (if none was sent), then reads until the
    /// peer answers or the close timeout passes, and closes the connection.
    /// Messages that arrive meanwhile are dropped.
    ///
    /// # Errors
    ///
    /// IO errors and timeouts.
    pub async fn close(mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        let mut frame = Some(frame);
        poll_fn(|cx| self.conn.poll_close(cx, &mut frame)).await
    }

    /// A handle that queues messages from other tasks.
    pub fn sender(&self) -> Sender {
        Sender {
            shared: self.conn.shared.clone(),
        }
    }

    /// Splits the socket into a [`Sender`] and the [`Receiver`] that owns the
    /// connection. Keep polling the receiver: it also writes what the
    /// senders queue.
    pub fn split(self) -> (Sender, Receiver<S>) {
        (self.sender(), Receiver { conn: self.conn })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().conn.poll_next(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().conn.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().conn.shared.push(message, None).or_else(|e| {
            if e.is_closed() {
                Err(Error::Closed)
            } else {
                // `poll_ready` saw room; the sender handles took it since.
                Ok(())
            }
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().conn.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut frame = Some(Some(CloseFrame::new(CloseCode::NORMAL, "")));
        self.get_mut().conn.poll_close(cx, &mut frame)
    }
}

/// The reading half of a [`WebSocket`] after [`split`](WebSocket::split).
/// It owns the connection: polling it also writes what the [`Sender`]s
/// queued, answers Pings and runs the timers.
pub struct Receiver<S = Upgraded> {
    conn: Conn<S>,
}

impl<S> std::fmt::Debug for Receiver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("conn", &self.conn)
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Receiver<S> {
    /// The next message; `None` once the connection is closed. See
    /// [`WebSocket::recv`].
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.conn.poll_next(cx)).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Receiver<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().conn.poll_next(cx)
    }
}
