//! The writing side of a [`Conn`]: the Close and Pong owed, our Ping,
//! then the queue, encoded by the protocol core and written (header and
//! large payload in one vectored write), each message counted as written
//! once flushed.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Conn, BATCH};
use crate::websocket::messages::buffers;
use crate::websocket::messages::message::Message;
use crate::websocket::messages::sender::Outgoing;
use crate::websocket::proto::frame::MAX_HEADER_LEN;
use crate::websocket::proto::Prepared;

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Writes what is pending and queued; `Ready(Ok)` once all of it is
    /// flushed, or once the message numbered `until` is.
    pub(super) fn poll_write(&mut self, cx: &mut Context<'_>, until: u64) -> Poll<io::Result<()>> {
        loop {
            if self.out.is_empty() && self.big.is_empty() {
                // What was encoded is written: flushed, it counts as sent.
                if self.needs_flush {
                    if Pin::new(&mut self.io).poll_flush(cx)?.is_pending() {
                        self.timers.write_blocked();
                        return Poll::Pending;
                    }
                    self.needs_flush = false;
                }
                self.written = self.encoded;
                if self.written >= until || !self.refill(cx) {
                    break;
                }
            }
            let io = Pin::new(&mut self.io);
            let written = if self.big.is_empty() {
                io.poll_write(cx, &self.out)
            } else if self.out.is_empty() {
                io.poll_write(cx, &self.big)
            } else if io.is_write_vectored() {
                io.poll_write_vectored(cx, &[IoSlice::new(&self.out), IoSlice::new(&self.big)])
            } else {
                io.poll_write(cx, &self.out)
            };
            let n = match written {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.timers.write_blocked();
                    return Poll::Pending;
                }
            };
            let from_out = n.min(self.out.len());
            self.out.advance(from_out);
            self.big.advance(n - from_out);
            self.needs_flush = true;
            self.timers.write_done();
        }
        self.timers.write_done();
        // Written: the buffer goes back to the thread (an idle connection
        // holds none).
        buffers::give_back(&buffers::WRITE, &mut self.out);
        // A written large payload still holds its allocation (often the
        // whole read buffer it was received in): let it go.
        self.big = Bytes::new();
        Poll::Ready(Ok(()))
    }

    /// Sends a topic's message from the publishing task, past the queue
    /// (as uWebSockets writes from its publish loop): only when nothing is
    /// queued, owed or being written, so that no task waits for this write
    /// and the message keeps its place. `None`: not taken (the caller
    /// queues it); `Some(true)`: written and flushed; `Some(false)`: taken,
    /// the rest left to the connection's tasks (the socket is full, or the
    /// write failed: they find out), which the caller wakes.
    pub(crate) fn send_now(&mut self, prepared: &Prepared, cx: &mut Context<'_>) -> Option<bool> {
        if self.done
            || !self.out.is_empty()
            || !self.big.is_empty()
            || self.needs_flush
            || self.close_sent()
            || self.close_now.is_some()
            || self.proto.owes_control()
        {
            return None;
        }
        let seq = self.shared.next_seq_if_empty()?;
        self.borrow_out();
        let payload = self
            .proto
            .send_prepared(prepared, &mut self.out, true)
            .ok()?;
        self.encoded = seq;
        self.timers.data();
        if !payload.is_empty() {
            self.big = payload;
        }
        Some(matches!(self.poll_write(cx, u64::MAX), Poll::Ready(Ok(()))))
    }

    /// Moves frames into `out`/`big`; `false` when there is nothing to send.
    pub(super) fn refill(&mut self, cx: &mut Context<'_>) -> bool {
        if self.close_sent() {
            return false;
        }
        if let Some(frame) = self.close_now.take() {
            self.encode(Message::Close(Some(*frame)));
            return true;
        }
        // The Close that fails the connection, or the Pong owed.
        if self.proto.owes_control() {
            self.borrow_out();
        }
        if self.proto.transmit_control(&mut self.out) && self.close_sent() {
            self.on_close_sent();
            return true;
        }
        if std::mem::take(&mut self.ping) {
            self.encode(Message::Ping(Bytes::new()));
        }
        while self.out.len() < BATCH && self.big.is_empty() && !self.close_sent() {
            let Some((seq, outgoing, more)) = self.shared.pop(cx.waker()) else {
                break;
            };
            self.encoded = seq;
            match outgoing {
                Outgoing::Message(message) => self.encode(message),
                Outgoing::Prepared(prepared) => {
                    self.borrow_out();
                    // The last one queued goes out of the shared frame
                    // itself when nothing was encoded before it: no copy.
                    if let Ok(payload) = self.proto.send_prepared(&prepared, &mut self.out, !more) {
                        self.timers.data();
                        if !payload.is_empty() {
                            self.big = payload;
                        }
                    }
                }
            }
        }
        !self.out.is_empty() || !self.big.is_empty()
    }

    /// Encodes one message into `out` (and `big`, which must be empty).
    pub(super) fn encode(&mut self, message: Message) {
        let data = matches!(message, Message::Text(_) | Message::Binary(_));
        let closing = matches!(message, Message::Close(_));
        self.borrow_out();
        // Refused only after our Close or for a forbidden close code, which
        // the handles check before they queue.
        if let Ok(payload) = self.proto.send(message, &mut self.out) {
            if data {
                self.timers.data();
            }
            if !payload.is_empty() {
                self.big = payload;
            }
            if closing {
                self.on_close_sent();
            }
        }
    }

    pub(super) fn on_close_sent(&mut self) {
        self.shared.close(true);
        self.timers.close_sent();
    }

    /// Borrows the thread's write buffer when this connection holds none.
    fn borrow_out(&mut self) {
        if self.out.capacity() == 0 {
            buffers::borrow(&buffers::WRITE, &mut self.out, MAX_HEADER_LEN);
        }
    }
}
