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
//! A socket has no task of its own. Whichever handle is polled makes the
//! connection progress: [`recv`](WebSocket::recv) or a [`Receiver`], and
//! [`send`](WebSocket::send) or a [`Sender`] alike write what is queued,
//! answer Pings, run the keepalive and write timers and send Close 1001 on
//! shutdown. After [`split`](WebSocket::split), a task that only sends and
//! a task that only receives each work alone. A message queued with
//! [`Sender::try_send`] is written by the next poll of any handle.

mod buffers;
mod close;
mod conn;
mod driver;
mod error;
mod message;
pub(crate) mod sender;
mod settings;
mod timers;
mod upgrade;
mod utf8;

#[cfg(test)]
pub(crate) mod tests;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};

pub use close::{CloseCode, CloseFrame};
use conn::Conn;
use driver::Driver;
pub use error::{Error, TrySendError};
use message::check_sendable;
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
///
/// As a [`Sink`], `poll_ready` says there is room only when the next
/// message will be taken: after it, `start_send` never drops the message.
/// `poll_flush` writes until every message sent through the `Sink` is on
/// the wire; `poll_close` sends Close 1000 and waits for the peer's.
pub struct WebSocket<S = Upgraded> {
    driver: Arc<Driver<S>>,
    /// The sequence number of the last message the `Sink` took.
    last: u64,
}

impl<S> std::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("driver", &self.driver)
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> WebSocket<S> {
    /// A server-side socket over `io`, after a handshake done elsewhere.
    pub(crate) fn from_io(io: S, settings: &Settings, shutdown: Option<ShutdownSignal>) -> Self {
        Self {
            driver: Driver::new(Conn::new(io, settings, shutdown)),
            last: 0,
        }
    }

    /// The next message; `None` once the connection is closed.
    ///
    /// A Ping is answered before it is returned; a Close is answered and is
    /// the last message. After an error (returned once, after the Close that
    /// names it was sent) the connection is over. A connection that ends
    /// without a Close frame returns [`Error::AbnormalClosure`] once.
    ///
    /// Cancel-safe: a `recv` dropped before it completes (in `select!`, or
    /// under `tokio::time::timeout`) loses no message.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.driver.enter(cx, |conn, cx| conn.poll_next(cx))).await
    }

    /// Sends `message` and writes until it is on the wire (with what was
    /// queued before it). Waits while the send buffer is full.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after a Close was sent or received;
    /// [`Error::InvalidCloseCode`] for a Close whose code may not be sent
    /// (nothing is sent); IO errors and timeouts.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        check_sendable(&message)?;
        let (mut slot, mut seq) = (Some(message), 0);
        poll_fn(|cx| {
            self.driver
                .enter(cx, |conn, cx| conn.poll_send(cx, &mut slot, &mut seq))
        })
        .await
    }

    /// Sends a Close with `frame` (if none was sent), then reads until the
    /// peer answers or the close timeout passes, and closes the connection.
    /// Messages that arrive meanwhile are dropped.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCloseCode`] for a code that may not be sent; IO
    /// errors and timeouts.
    pub async fn close(self, frame: Option<CloseFrame>) -> Result<(), Error> {
        let mut frame = Some(frame);
        poll_fn(|cx| {
            self.driver
                .enter(cx, |conn, cx| conn.poll_close(cx, &mut frame))
        })
        .await
    }

    /// A handle that sends messages from other tasks. It does not keep the
    /// connection alive: once the socket (or its [`Receiver`]) is dropped,
    /// it returns [`Error::Closed`].
    pub fn sender(&self) -> Sender {
        let driver: Arc<dyn sender::Drive> = self.driver.clone();
        Sender::new(self.driver.shared.clone(), Arc::downgrade(&driver))
    }

    /// Splits the socket into a [`Sender`] and a [`Receiver`], each of
    /// which makes the connection progress on its own. The connection lives
    /// while the `Receiver` does (it need not be polled).
    pub fn split(self) -> (Sender, Receiver<S>) {
        (
            self.sender(),
            Receiver {
                driver: self.driver,
            },
        )
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.driver.enter(cx, |conn, cx| conn.poll_next(cx))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.driver.enter(cx, |conn, cx| conn.poll_ready(cx))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        check_sendable(&message)?;
        let this = self.get_mut();
        // `poll_ready` saw room: the message is taken, even past the bound.
        this.last = this
            .driver
            .shared
            .push(message, None, true)
            .map_err(|_| Error::Closed)?;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let last = self.last;
        self.driver
            .enter(cx, |conn, cx| conn.poll_written(cx, last))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut frame = Some(Some(CloseFrame::new(CloseCode::NORMAL, "")));
        self.driver
            .enter(cx, |conn, cx| conn.poll_close(cx, &mut frame))
    }
}

/// The receiving half of a [`WebSocket`] after [`split`](WebSocket::split).
/// The connection lives while it does; polling it makes the connection
/// progress as a [`Sender`] does, and returns the messages.
pub struct Receiver<S = Upgraded> {
    driver: Arc<Driver<S>>,
}

impl<S> std::fmt::Debug for Receiver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("driver", &self.driver)
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Receiver<S> {
    /// The next message; `None` once the connection is closed. See
    /// [`WebSocket::recv`].
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.driver.enter(cx, |conn, cx| conn.poll_next(cx))).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for Receiver<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.driver.enter(cx, |conn, cx| conn.poll_next(cx))
    }
}
