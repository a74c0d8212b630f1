//! The state machine of one connection: it reads frames, answers Pings and
//! Closes, writes the outgoing queue and keeps time.
//!
//! It has no task of its own: whichever handle is polled makes it progress
//! (see `driver.rs`). A poll from a sending handle also reads what has
//! arrived, so that Pongs and Closes are seen, and keeps the data messages
//! for the receiving handle in a small inbox. A connection costs its buffers
//! while a message passes and almost nothing while idle: the read buffer is
//! given back whenever a read finds nothing, and large write and reassembly
//! buffers once their message is done.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::close::{CloseCode, CloseFrame};
use super::error::Error;
use super::message::Message;
use super::sender::Shared;
use super::settings::Settings;
use super::timers::{Expired, Timers};
use super::utf8::Utf8Bytes;
use crate::lifecycle::ShutdownSignal;
use crate::websocket::proto::{CloseState, Protocol};
use crate::websocket::FrameLimits;

mod read;
mod write;

/// The most the read buffer grows by, past what has arrived, on the word
/// of a frame header.
const READ_AHEAD: usize = 64 * 1024;
/// How much is gathered from the queue into one write.
const BATCH: usize = 16 * 1024;
/// While a connection never has to wait, its timers and the shutdown signal
/// are looked at every this many polls (and always before it waits): each
/// look reads the clock, tens of nanoseconds that would otherwise be paid
/// on every message.
const CHECK_EVERY: u8 = 16;

/// How many Pings and Pongs a sending handle's poll keeps for a receiving
/// handle that is not polled; past it the oldest is dropped (the Ping was
/// answered already). A data message or a Close stops the reading ahead: a
/// peer that floods a socket whose receiver is not polled meets TCP
/// backpressure, not a growing inbox.
const INBOX_MAX: usize = 32;

/// What a read produced.
enum Read {
    Message(Message),
    /// A frame was consumed without a message for the handler.
    Nothing,
    /// The connection ended: the peer closed TCP, or answered our Close.
    End,
}

pub(crate) struct Conn<S> {
    io: S,
    limits: FrameLimits,
    pub(crate) shared: Arc<Shared>,
    /// Messages read by a sending handle's poll, for the receiving handle.
    inbox: VecDeque<Message>,
    /// The sequence number of the last message encoded into `out`/`big`.
    encoded: u64,
    /// The sequence number of the last message written and flushed.
    written: u64,
    rbuf: BytesMut,
    /// The protocol: frames, reassembly, compression, the closing
    /// handshake and the Pong owed (`websocket::proto`, no IO).
    proto: Protocol,
    /// Encoded bytes waiting to be written: headers and small payloads.
    out: BytesMut,
    /// A large payload written after `out`.
    big: Bytes,
    needs_flush: bool,
    /// A Ping of our own to send (keepalive).
    ping: bool,
    /// A Close to send before anything queued: a timer failed the
    /// connection (the protocol's own failures are in `proto`).
    close_now: Option<Box<CloseFrame>>,
    timers: Timers,
    /// The shutdown signal's flag, and its wait, polled once to hold the
    /// connection's own waker (see `driver.rs`), which its cancellation
    /// wakes; from then on the flag is read, not the wait polled.
    shutdown: Option<(Arc<AtomicBool>, Pin<Box<WaitForCancellationFutureOwned>>)>,
    shutdown_armed: bool,
    /// Shutdown was asked for: Close 1001 once what has arrived is read.
    going_away: bool,
    /// A receiving handle has asked for a message: on shutdown it hands
    /// over what has arrived before the Close 1001 goes.
    receiving: bool,
    /// The send (its sequence number) that saw the shutdown while a
    /// message waited for the receiving handle, and left the Close to it;
    /// cleared when the receiving handle takes a message. Found still set
    /// by a later send (nobody receives any more), the sending handle says
    /// goodbye itself.
    goodbye_deferred: Option<u64>,
    /// Returned once our Close is written.
    error: Option<Error>,
    done: bool,
    /// Polls since the timers were last looked at.
    polls: u8,
}

impl<S> std::fmt::Debug for Conn<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("state", &self.proto.state())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S> Conn<S> {
    /// Makes the next poll look at the timers and the shutdown signal:
    /// something woke the connection.
    pub(crate) fn look_at_timers(&mut self) {
        self.polls = CHECK_EVERY - 1;
    }
}

impl<S> Drop for Conn<S> {
    fn drop(&mut self) {
        self.shared.close(true);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub(crate) fn new(io: S, settings: &Settings, shutdown: Option<ShutdownSignal>) -> Self {
        let limits = settings.limits;
        Self {
            io,
            limits,
            shared: Shared::new(limits.max_write_buffer_size.max(1)),
            inbox: VecDeque::new(),
            encoded: 0,
            written: 0,
            rbuf: BytesMut::new(),
            proto: protocol(settings),
            out: BytesMut::new(),
            big: Bytes::new(),
            needs_flush: false,
            ping: false,
            close_now: None,
            timers: Timers::new(settings.timeouts),
            shutdown: shutdown.map(|s| (s.fired, Box::pin(s.token.cancelled_owned()))),
            shutdown_armed: false,
            going_away: false,
            receiving: false,
            goodbye_deferred: None,
            error: None,
            done: false,
            polls: 0,
        }
    }

    /// Our Close is encoded: nothing more is sent.
    fn close_sent(&self) -> bool {
        matches!(
            self.proto.state(),
            CloseState::CloseSent | CloseState::Closed
        )
    }

    /// The peer's Close arrived: nothing more is read.
    fn close_received(&self) -> bool {
        matches!(
            self.proto.state(),
            CloseState::CloseReceived | CloseState::Closed
        )
    }

    /// The next message for the handler; `None` once the connection is
    /// closed.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        self.receiving = true;
        loop {
            if self.timers_due() {
                if let Err(error) = self.poll_timers_and_shutdown(cx) {
                    return Poll::Ready(Some(Err(error)));
                }
            }
            let polled = self.poll_next_now(cx);
            if polled.is_ready() {
                return polled;
            }
            // About to wait: arm the timers; go on if one came due.
            match self.poll_timers_and_shutdown(cx) {
                Err(error) => return Poll::Ready(Some(Err(error))),
                Ok(true) => {}
                Ok(false) => return Poll::Pending,
            }
        }
    }

    /// [`poll_next`](Self::poll_next) without the timers.
    fn poll_next_now(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if let Some(message) = self.inbox.pop_front() {
                self.goodbye_deferred = None;
                return Poll::Ready(Some(Ok(message)));
            }
            if self.done {
                return Poll::Ready(self.error.take().map(Err));
            }
            match self.poll_write(cx, u64::MAX) {
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(self.end(e.into())))),
                Poll::Ready(Ok(())) => {
                    // §7.1.7: the Close naming the failure is written;
                    // the handler learns why.
                    if self.close_sent() {
                        if let Some(error) = self.error.take() {
                            return Poll::Ready(Some(Err(error)));
                        }
                    }
                    // §7.1.1: the server closes TCP once both Closes passed.
                    // A TLS stream sends close_notify here, and may have to
                    // wait for room (the close timer bounds the wait).
                    if self.close_sent() && self.close_received() {
                        if Pin::new(&mut self.io).poll_shutdown(cx).is_pending() {
                            return Poll::Pending;
                        }
                        self.done = true;
                        continue;
                    }
                }
                // Stop reading while a control reply or our Close cannot be
                // written: a peer that pings and never reads gets TCP
                // backpressure, not a growing queue (§5.5.3).
                Poll::Pending if self.proto.owes_control() || self.error.is_some() => {
                    return Poll::Pending
                }
                Poll::Pending => {}
            }
            if self.close_received() {
                return Poll::Pending;
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(Read::Message(message))) => {
                    self.goodbye_deferred = None;
                    return Poll::Ready(Some(Ok(message)));
                }
                Poll::Ready(Ok(Read::Nothing)) => {}
                Poll::Ready(Ok(Read::End)) => self.on_end(),
                Poll::Ready(Err(error)) => self.fail(error),
                Poll::Pending => {
                    // Shutdown: what had arrived was handed over (and its
                    // answers queued); now say goodbye.
                    if self.going_away && !self.close_sent() && self.close_now.is_none() {
                        self.going_away = false;
                        self.shared.push_close(Message::Close(Some(CloseFrame::new(
                            CloseCode::AWAY,
                            "server shutting down",
                        ))));
                        continue;
                    }
                    self.release_read_buffer();
                    return Poll::Pending;
                }
            }
        }
    }

    /// The socket's own `send`: queues `slot`'s message (or encodes it at
    /// once when nothing waits before it) and writes until it is on the
    /// wire; `seq` keeps its number between polls.
    pub(crate) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        slot: &mut Option<Message>,
        seq: &mut u64,
    ) -> Poll<Result<(), Error>> {
        self.with_timers(cx, |conn, cx| conn.poll_send_now(cx, slot, seq))
    }

    /// Runs `poll`, with the timers looked at every [`CHECK_EVERY`] calls
    /// and whenever `poll` would wait (so that they are armed), and `poll`
    /// run again when one came due.
    fn with_timers(
        &mut self,
        cx: &mut Context<'_>,
        mut poll: impl FnMut(&mut Self, &mut Context<'_>) -> Poll<Result<(), Error>>,
    ) -> Poll<Result<(), Error>> {
        if self.timers_due() {
            self.poll_timers_and_shutdown(cx)?;
        }
        loop {
            if let Poll::Ready(result) = poll(self, cx) {
                return Poll::Ready(result);
            }
            if !self.poll_timers_and_shutdown(cx)? {
                return Poll::Pending;
            }
        }
    }

    /// Counts a poll; `true` every [`CHECK_EVERY`] of them.
    fn timers_due(&mut self) -> bool {
        self.polls = self.polls.wrapping_add(1);
        self.polls % CHECK_EVERY == 0
    }

    fn poll_send_now(
        &mut self,
        cx: &mut Context<'_>,
        slot: &mut Option<Message>,
        seq: &mut u64,
    ) -> Poll<Result<(), Error>> {
        while let Some(message) = slot.take() {
            if self.done || self.close_sent() || self.error.is_some() {
                *slot = Some(message);
                return self.poll_closed(cx);
            }
            // Straight to the write buffer when nothing waits before it:
            // no queue round trip.
            let direct = self.big.is_empty() && self.out.len() < BATCH;
            match self.shared.push_own(message, cx.waker(), direct) {
                Ok((n, Some(message))) => {
                    *seq = n;
                    self.encoded = n;
                    self.encode(message);
                }
                Ok((n, None)) => *seq = n,
                Err(e) if e.is_closed() => {
                    *slot = Some(e.into_message());
                    return self.poll_closed(cx);
                }
                Err(e) => {
                    *slot = Some(e.into_message());
                    // Full: writing makes room.
                    match self.poll_write(cx, u64::MAX) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(self.end(e.into()))),
                        Poll::Pending => return self.poll_read_ahead(cx),
                    }
                }
            }
        }
        self.poll_written_now(cx, *seq)
    }

    /// The connection takes no more messages (a Close is queued or sent,
    /// or it failed): finish writing what it owes, our Close above all,
    /// then say [`Error::Closed`]. A handler whose `send` fails during a
    /// shutdown and returns at once still leaves its Close 1001 on the
    /// wire.
    pub(crate) fn poll_closed<T>(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        if !self.done && self.poll_write(cx, u64::MAX).is_pending() {
            return self.poll_read_ahead(cx);
        }
        Poll::Ready(Err(Error::Closed))
    }

    /// Drives the connection until the message numbered `seq` is written
    /// and flushed (`u64::MAX`: until everything queued is): what a
    /// [`Sender`](super::Sender) waits for.
    pub(crate) fn poll_written(
        &mut self,
        cx: &mut Context<'_>,
        seq: u64,
    ) -> Poll<Result<(), Error>> {
        // What arrived first: a task that only sends polls at its own pace,
        // and a Pong that came in time must count before the timers look
        // at its deadline. An end or a failure shows in the state below.
        let _ = self.read_ahead(cx);
        self.with_timers(cx, |conn, cx| conn.poll_written_now(cx, seq))
    }

    fn poll_written_now(&mut self, cx: &mut Context<'_>, seq: u64) -> Poll<Result<(), Error>> {
        // Shutdown, seen by a sending handle: say goodbye, unless a message
        // that arrived waits for a receiving handle that is still taking
        // them. It hands it over (the echo goes before the Close) and says
        // goodbye itself once nothing more has arrived (`poll_next_now`).
        if self.going_away && !self.close_sent() && self.close_now.is_none() {
            let waiting = self.receiving && self.read_ahead(cx).is_ok() && !self.inbox_has_room();
            if waiting && self.goodbye_deferred.is_none_or(|by| by == seq) {
                self.goodbye_deferred = Some(seq);
            } else {
                self.going_away = false;
                self.shared.push_close(Message::Close(Some(CloseFrame::new(
                    CloseCode::AWAY,
                    "server shutting down",
                ))));
            }
        }
        let wrote = if self.written >= seq {
            Poll::Ready(Ok(()))
        } else if self.done {
            return Poll::Ready(Err(Error::Closed));
        } else {
            self.poll_write(cx, seq)
        };
        match wrote {
            Poll::Ready(Err(e)) => Poll::Ready(Err(self.end(e.into()))),
            Poll::Ready(Ok(())) if self.written >= seq || seq == u64::MAX => Poll::Ready(Ok(())),
            // Everything queued is written, and not this message: it was
            // dropped when the connection failed.
            Poll::Ready(Ok(())) => Poll::Ready(Err(Error::Closed)),
            // While the write waits, take what arrives.
            Poll::Pending => self.poll_read_ahead(cx),
        }
    }

    /// Whether the send buffer takes another message; writes while it
    /// does not.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if self.done || self.close_sent() {
                return Poll::Ready(Err(Error::Closed));
            }
            if let Poll::Ready(ready) = self.shared.poll_room(cx.waker()) {
                return Poll::Ready(ready);
            }
            ready!(self.poll_written(cx, u64::MAX))?;
        }
    }

    /// Sends our Close (once) and waits for the handshake to end.
    pub(crate) fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        frame: &mut Option<Option<CloseFrame>>,
    ) -> Poll<Result<(), Error>> {
        if let Some(frame) = frame.take() {
            if let Some(code) = frame.as_ref().map(|f| f.code).filter(|c| !c.is_sendable()) {
                return Poll::Ready(Err(Error::InvalidCloseCode(code.into())));
            }
            if !self.close_sent() && !self.done {
                self.shared.push_close(Message::Close(frame));
            }
        }
        loop {
            match ready!(self.poll_next(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(e)),
                Some(Ok(_)) => {}
            }
        }
    }

    /// The TCP connection ended. RFC 6455 §7.1.5: without a Close frame,
    /// the connection closed abnormally (1006), which the handler is told.
    fn on_end(&mut self) {
        if !self.close_received() && !self.close_sent() {
            self.error = Some(Error::AbnormalClosure);
        }
        self.done = true;
        self.shared.close(true);
    }

    /// Ends the connection at once (no Close can be written) with `error`.
    fn end(&mut self, error: Error) -> Error {
        self.done = true;
        self.error = None;
        self.shared.close(true);
        error
    }

    /// RFC 6455 §7.1.7: fail the connection: send a Close with the code
    /// that names the cause before anything still queued, then close.
    fn fail(&mut self, error: Error) {
        match error.close_code() {
            // The protocol's own failures: `proto` owes their Close.
            Some(_) if matches!(error, Error::Protocol(_)) && self.proto.owes_control() => {
                self.shared.close(true);
                self.error = Some(error);
            }
            Some(code) if !self.close_sent() => {
                self.close_now = Some(Box::new(CloseFrame::new(
                    code,
                    Utf8Bytes::from(error.to_string()),
                )));
                self.shared.close(true);
                self.error = Some(error);
            }
            // Our Close is already out (or none fits): stop here.
            _ => {
                self.done = true;
                self.error = Some(error);
                self.shared.close(true);
            }
        }
    }

    /// Polls the shutdown signal and the timers (arming them for the next
    /// deadline); `Ok(true)` when one fired and the connection has something
    /// new to do.
    fn poll_timers_and_shutdown(&mut self, cx: &mut Context<'_>) -> Result<bool, Error> {
        self.polls = 0;
        let mut fired = false;
        if let Some((flag, wait)) = &mut self.shutdown {
            let now = flag.load(Ordering::Acquire)
                || (!self.shutdown_armed && wait.as_mut().poll(cx).is_ready());
            self.shutdown_armed = true;
            if now {
                self.shutdown = None;
                self.going_away = true;
                fired = true;
            }
        }
        while let Poll::Ready(expired) = self.timers.poll(cx) {
            fired = true;
            match expired {
                Expired::Ping => self.ping = true,
                Expired::Pong if !self.close_sent() => {
                    crate::metrics::websocket_timeout("pong");
                    self.fail(Error::PongTimeout);
                }
                Expired::Idle if !self.close_sent() => {
                    crate::metrics::websocket_timeout("idle");
                    self.fail(Error::IdleTimeout);
                }
                Expired::Write => {
                    crate::metrics::websocket_timeout("write");
                    return Err(self.end(Error::WriteTimeout));
                }
                // The peer did not answer our Close: close TCP.
                Expired::Close => {
                    crate::metrics::websocket_timeout("close");
                    self.done = true;
                    self.shared.close(true);
                }
                Expired::Pong | Expired::Idle => {}
            }
        }
        Ok(fired)
    }
}

/// The protocol of a connection with `settings`.
fn protocol(settings: &Settings) -> Protocol {
    let proto = Protocol::new(&settings.limits);
    #[cfg(feature = "deflate")]
    if let Some((agreed, config)) = &settings.deflate {
        return proto.with_deflate(agreed, config);
    }
    proto
}
