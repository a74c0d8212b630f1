//! The WebSocket protocol core, server role, without IO: bytes in, events
//! out; messages in, bytes out (the shape of quinn-proto, h11/wsproto and
//! tokio-websockets' `proto/`). No IO, no timers, no tasks, no async: the
//! driver (`messages/`) reads into a buffer, hands it to [`Protocol::receive`],
//! and writes what [`Protocol::send`] and [`Protocol::transmit_control`]
//! produce.
//!
//! - [`Decoder`]: frame headers (RFC 6455 §5.2) and their rules (RSV bits,
//!   opcodes, control frames, masks, sizes), unmasking a word at a time
//!   (§5.3), reassembly (§5.4), UTF-8 checked per fragment (§8.1),
//!   inflation (RFC 7692 §7.2.2) bounded by the message limit.
//! - [`Encoder`]: the server's frames, compressed when agreed, a small
//!   payload copied next to its header, a large one handed back uncopied.
//! - [`Protocol`]: both, plus the rules that span directions: the closing
//!   handshake (§5.5.1, §7.1, §7.4) and the Ping/Pong policy (§5.5.2-3).
//!
//! A driver's loop (a sketch: the module is crate-private, so the loop that
//! compiles and runs is the unit test `tests::the_driver_loop`):
//!
//! ```text
//! let mut proto = Protocol::new(&FrameLimits::default());
//! let mut rbuf = BytesMut::new();
//! loop {
//!     match proto.receive(&mut rbuf) {
//!         Ok(Some(Event::Message(m))) => handler_gets(m),
//!         Ok(Some(Event::Ping(_) | Event::Pong(_))) => {}
//!         Ok(Some(Event::Close(_))) => queue(proto.take_close_reply()),
//!         Ok(None) => read_into(&mut rbuf, proto.missing(&rbuf).min(READ_BUFFER)),
//!         Err(e) => break handler_gets_error(e), // after writing transmit_control's Close
//!     }
//!     let mut out = BytesMut::new();
//!     proto.transmit_control(&mut out); // the failure's Close, or the latest Pong
//!     let big = proto.send(next_queued_message, &mut out)?; // header (+ small payload), big payload
//!     write_vectored(&[&out, &big]);
//! }
//! ```

mod close;
#[cfg(feature = "deflate")]
pub(crate) mod compress;
mod decode;
mod encode;
mod error;
pub(crate) mod frame;
pub(crate) mod mask;
#[cfg(feature = "deflate")]
pub(crate) mod pool;
mod prepared;
mod utf8;

use bytes::{Bytes, BytesMut};

pub use close::CloseState;
pub use decode::{Decoder, Event};
pub use encode::{Encoder, InvalidCloseCode, COPY_MAX};
pub use error::ProtocolError;
pub(crate) use prepared::Prepared;

use crate::websocket::messages::{CloseFrame, Message, Utf8Bytes};
use crate::websocket::FrameLimits;

/// Why [`Protocol::send`] refused a message; nothing was encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Our Close is sent (or the connection failed): nothing more may be
    /// sent (RFC 6455 §5.5.1).
    Closed,
    /// A Close with a code RFC 6455 §7.4 keeps off the wire.
    InvalidCloseCode(u16),
}

/// One server connection's protocol state: a [`Decoder`], an [`Encoder`],
/// the closing handshake and the Pong owed.
#[derive(Debug)]
pub struct Protocol {
    decoder: Decoder,
    encoder: Encoder,
    state: CloseState,
    /// The payload of the latest Ping not yet answered (§5.5.3: an endpoint
    /// may answer only the latest).
    pong: Option<Bytes>,
    /// The Close that fails the connection (§7.1.7), sent before anything
    /// (boxed, like `reply`: rare, and an idle connection keeps this struct).
    fail: Option<Box<CloseFrame>>,
    /// The echo of the peer's Close, for the driver to queue after what the
    /// handler already queued.
    reply: Option<Box<Option<CloseFrame>>>,
    /// The peer broke the protocol: nothing more is read (§7.1.7).
    failed: bool,
}

impl Protocol {
    /// A server's protocol with `limits`, without compression.
    pub fn new(limits: &FrameLimits) -> Self {
        Self {
            decoder: Decoder::new(limits),
            encoder: Encoder::new(),
            state: CloseState::Open,
            pong: None,
            fail: None,
            reply: None,
            failed: false,
        }
    }

    /// permessage-deflate with what the handshake agreed and the config's
    /// level, threshold and pool.
    #[cfg(feature = "deflate")]
    pub fn with_deflate(
        mut self,
        agreed: &crate::websocket::PermessageDeflate,
        config: &crate::websocket::DeflateConfig,
    ) -> Self {
        self.decoder = self
            .decoder
            .with_deflate(compress::Deflate::new(agreed, config));
        self.encoder =
            std::mem::take(&mut self.encoder).with_deflate(compress::Deflate::new(agreed, config));
        self
    }

    /// Where the closing handshake is.
    pub fn state(&self) -> CloseState {
        self.state
    }

    /// The next event from the bytes in `buf` (see [`Decoder::decode`]).
    /// `Ok(None)`: more bytes are needed, or nothing more is read (the
    /// peer's Close arrived, or the connection failed).
    ///
    /// A Ping owes a Pong ([`transmit_control`](Self::transmit_control));
    /// a Close moves the state and owes its echo
    /// ([`take_close_reply`](Self::take_close_reply)); data that arrives
    /// after our Close is dropped.
    ///
    /// # Errors
    ///
    /// The peer broke the protocol: a Close with the error's code is owed
    /// (unless ours was sent), and nothing more is read.
    pub fn receive(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        if self.failed || matches!(self.state, CloseState::CloseReceived | CloseState::Closed) {
            return Ok(None);
        }
        loop {
            let event = match self.decoder.decode(buf) {
                Ok(Some(event)) => event,
                Ok(None) => return Ok(None),
                Err(error) => {
                    self.failed = true;
                    if self.state == CloseState::Open {
                        self.fail = Some(Box::new(CloseFrame::new(
                            error.close_code(),
                            Utf8Bytes::from(error.to_string()),
                        )));
                    }
                    return Err(error);
                }
            };
            match &event {
                Event::Ping(payload) if self.state == CloseState::Open => {
                    self.pong = Some(payload.clone());
                }
                Event::Close(frame) => {
                    if self.state == CloseState::Open {
                        self.state = CloseState::CloseReceived;
                        self.reply = Some(Box::new(close::echo(frame.as_ref())));
                    } else {
                        // The answer to our Close: the handshake is over.
                        self.state = CloseState::Closed;
                    }
                }
                // §1.4: after our Close, data is read and dropped.
                Event::Message(_) if self.state == CloseState::CloseSent => continue,
                _ => {}
            }
            return Ok(Some(event));
        }
    }

    /// Whether a control frame is owed ([`transmit_control`](Self::transmit_control)):
    /// a driver stops reading while it cannot write it, so a peer that
    /// pings and never reads meets backpressure (§5.5.3).
    pub fn owes_control(&self) -> bool {
        self.pong.is_some() || self.fail.is_some()
    }

    /// How many more bytes the next frame needs (see [`Decoder::missing`]).
    pub fn missing(&self, buf: &[u8]) -> usize {
        self.decoder.missing(buf)
    }

    /// The echo of the peer's Close (§5.5.1), once, for the driver to send
    /// after what the handler queued before it.
    pub fn take_close_reply(&mut self) -> Option<Message> {
        self.reply.take().map(|reply| Message::Close(*reply))
    }

    /// Appends what is owed before any queued message: the Close that
    /// fails the connection, or else a Pong for the latest Ping. `false`
    /// when nothing is owed.
    pub fn transmit_control(&mut self, out: &mut BytesMut) -> bool {
        if let Some(frame) = self.fail.take() {
            encode::encode_close(Some(&*frame), out).expect("error codes are sendable");
            self.close_sent();
            return true;
        }
        match self.pong.take() {
            Some(payload) if self.state == CloseState::Open => {
                encode::encode_control(frame::OpCode::Pong, &payload, out);
                true
            }
            _ => false,
        }
    }

    /// Encodes `message` into `out` (see [`Encoder::encode`]); returns the
    /// large payload to write after `out`. A Close moves the state: nothing
    /// is sent after it.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] after our Close; [`SendError::InvalidCloseCode`]
    /// for a Close §7.4 forbids. Nothing is encoded.
    pub fn send(&mut self, message: Message, out: &mut BytesMut) -> Result<Bytes, SendError> {
        if matches!(self.state, CloseState::CloseSent | CloseState::Closed) || self.fail.is_some() {
            return Err(SendError::Closed);
        }
        let closing = matches!(message, Message::Close(_));
        let payload = self
            .encoder
            .encode(message, out)
            .map_err(|InvalidCloseCode(code)| SendError::InvalidCloseCode(code))?;
        if closing {
            self.close_sent();
        }
        Ok(payload)
    }

    /// Encodes a message prepared for many connections into `out` (see
    /// [`Encoder::encode_prepared`]); returns the large payload to write
    /// after `out`.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] after our Close; nothing is encoded.
    pub fn send_prepared(
        &mut self,
        prepared: &Prepared,
        out: &mut BytesMut,
        alone: bool,
    ) -> Result<Bytes, SendError> {
        if matches!(self.state, CloseState::CloseSent | CloseState::Closed) || self.fail.is_some() {
            return Err(SendError::Closed);
        }
        Ok(self.encoder.encode_prepared(prepared, out, alone))
    }

    fn close_sent(&mut self) {
        self.pong = None;
        self.reply = None;
        self.state = match self.state {
            CloseState::CloseReceived | CloseState::Closed => CloseState::Closed,
            CloseState::Open | CloseState::CloseSent => CloseState::CloseSent,
        };
    }
}

#[cfg(test)]
mod tests;
