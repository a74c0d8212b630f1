//! The reading side of a [`Conn`]: bytes from the IO into the protocol
//! core, its events to the handler, and the reading ahead a sending
//! handle does for the receiving one.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};

use super::{Conn, Read, INBOX_MAX, READ_AHEAD};
use crate::websocket::messages::buffers;
use crate::websocket::messages::error::Error;
use crate::websocket::messages::message::Message;
use crate::websocket::proto::frame::MAX_HEADER_LEN;
use crate::websocket::proto::Event;

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Reads what has arrived into the inbox, for the receiving handle
    /// (answering Pings, taking Pongs and Closes), until nothing more is
    /// there or a data message waits in the inbox. `Err` when the
    /// connection ended or failed (the receiving handle learns why).
    pub(super) fn read_ahead(&mut self, cx: &mut Context<'_>) -> Result<(), ()> {
        // A buffer the receiving side left is kept for it; one allocated
        // here is given back below if nothing came.
        let had_buffer = self.rbuf.capacity() > 0;
        while !self.done && !self.close_received() && self.inbox_has_room() {
            match self.poll_read(cx) {
                Poll::Ready(Ok(Read::Message(message))) => {
                    if self.inbox.len() >= INBOX_MAX {
                        let ping_or_pong =
                            |m: &Message| matches!(m, Message::Ping(_) | Message::Pong(_));
                        if let Some(i) = self.inbox.iter().position(ping_or_pong) {
                            self.inbox.remove(i);
                        }
                    }
                    self.inbox.push_back(message);
                }
                Poll::Ready(Ok(Read::Nothing)) => {}
                Poll::Ready(Ok(Read::End)) => {
                    self.on_end();
                    return Err(());
                }
                Poll::Ready(Err(error)) => {
                    self.fail(error);
                    return Err(());
                }
                Poll::Pending => break,
            }
        }
        if !had_buffer {
            self.release_read_buffer();
        }
        Ok(())
    }

    /// [`read_ahead`](Self::read_ahead) for a sending handle that waits
    /// for room or for its write: `Pending`, or `Closed` when the
    /// connection ended.
    pub(super) fn poll_read_ahead<T>(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        match self.read_ahead(cx) {
            Ok(()) => Poll::Pending,
            Err(()) => Poll::Ready(Err(Error::Closed)),
        }
    }

    pub(super) fn inbox_has_room(&self) -> bool {
        !self
            .inbox
            .iter()
            .any(|m| matches!(m, Message::Text(_) | Message::Binary(_) | Message::Close(_)))
    }

    pub(super) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Result<Read, Error>> {
        loop {
            match self.proto.receive(&mut self.rbuf) {
                Ok(Some(event)) => return Poll::Ready(Ok(self.on_event(event))),
                Ok(None) => {}
                Err(error) => return Poll::Ready(Err(Error::Protocol(error))),
            }
            // Room for the rest of the frame, but never more than what has
            // arrived (or READ_AHEAD) on the word of a header: a frame that
            // announces a megabyte and trickles holds what came, doubling.
            // Plus a read's worth, so that the read completing a frame is
            // short (tokio then skips the read that would find nothing)
            // and brings the next header along: one or two reads a frame,
            // not three (benches/results/2026-12-06-profile-tower-upgrade.txt).
            let want = self
                .proto
                .missing(&self.rbuf)
                .min(self.rbuf.len().max(READ_AHEAD))
                .saturating_add(self.limits.read_buffer_size.max(MAX_HEADER_LEN));
            // An empty buffer that is not shared any more is reused from
            // its start by `reserve`, without a new allocation.
            if self.rbuf.capacity() == 0 {
                buffers::borrow(&buffers::READ, &mut self.rbuf, want);
            }
            if self.rbuf.capacity() - self.rbuf.len() < want {
                self.rbuf.reserve(want);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(Read::End)),
                Poll::Ready(Ok(_)) => self.timers.read(),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Idle: keep no read buffer (a connection that waits costs almost
    /// nothing), but give it back to the thread for the next read;
    /// called where a poll is about to wait.
    pub(super) fn release_read_buffer(&mut self) {
        buffers::give_back(&buffers::READ, &mut self.rbuf);
    }

    pub(super) fn on_event(&mut self, event: Event) -> Read {
        match event {
            Event::Message(message) => {
                self.timers.data();
                Read::Message(message)
            }
            // The Pong is owed in `proto`, written before what is queued.
            Event::Ping(payload) => Read::Message(Message::Ping(payload)),
            Event::Pong(payload) => Read::Message(Message::Pong(payload)),
            Event::Close(frame) => match self.proto.take_close_reply() {
                // §5.5.1: answer with the same code, after what the handler
                // already queued; nothing is taken after it.
                Some(reply) => {
                    self.shared.push_close(reply);
                    Read::Message(Message::Close(frame))
                }
                // The answer to our Close: the handshake is over.
                None => Read::Nothing,
            },
        }
    }
}
