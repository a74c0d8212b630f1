//! Bytes in, events out: frames (RFC 6455 §5.2) checked, unmasked,
//! reassembled (§5.4), inflated (RFC 7692 §7.2.2) and validated (§8.1).

use bytes::{Buf, Bytes, BytesMut};

#[cfg(feature = "deflate")]
use super::compress::{Deflate, InflateError};
use super::frame::{self, Header, OpCode, Rules};
use super::utf8::Utf8Check;
use super::{close, mask, ProtocolError};
use crate::websocket::messages::{CloseFrame, Message, Utf8Bytes};
use crate::websocket::FrameLimits;

/// What a decoded frame (or the last frame of a message) means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole Text or Binary message.
    Message(Message),
    /// A Ping with its payload.
    Ping(Bytes),
    /// A Pong with its payload.
    Pong(Bytes),
    /// The peer's Close, with its code and reason if it had them.
    Close(Option<CloseFrame>),
}

/// A data message being reassembled from its fragments.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    /// Grows with the bytes received (or inflated), never ahead of them.
    buf: Vec<u8>,
    utf8: Utf8Check,
}

/// The receiving half of the protocol: no IO, no state but the message
/// being reassembled (and the inflate state with context takeover).
#[derive(Debug)]
pub struct Decoder {
    max_frame_size: usize,
    max_message_size: usize,
    partial: Option<Partial>,
    #[cfg(feature = "deflate")]
    deflate: Option<Box<Deflate>>,
}

impl Decoder {
    /// A server's decoder (client frames must be masked) with `limits`.
    pub fn new(limits: &FrameLimits) -> Self {
        Self {
            max_frame_size: limits.max_frame_size,
            max_message_size: limits.max_message_size,
            partial: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// Inflates messages whose first frame has RSV1 set, with the agreed
    /// parameters (RFC 7692).
    #[cfg(feature = "deflate")]
    pub fn with_deflate(mut self, deflate: Deflate) -> Self {
        self.deflate = Some(Box::new(deflate));
        self
    }

    fn rules(&self) -> Rules {
        Rules {
            #[cfg(feature = "deflate")]
            allow_rsv1: self.deflate.is_some(),
            #[cfg(not(feature = "deflate"))]
            allow_rsv1: false,
            require_mask: true,
            max_payload: u64::try_from(self.max_frame_size).unwrap_or(u64::MAX),
        }
    }

    /// Consumes from `buf` the frames that make the next event and returns
    /// it; `Ok(None)` when `buf` holds no whole frame: read more (see
    /// [`missing`](Self::missing)) and call again. Frames that complete no
    /// event (a fragment) are consumed on the way. Nothing is reserved in
    /// `buf`: it grows only with what the driver reads into it.
    ///
    /// # Errors
    ///
    /// The peer broke the protocol; the connection must fail with
    /// [`ProtocolError::close_code`]. The decoder is not to be used again.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtocolError> {
        loop {
            let Some((header, header_len)) = frame::decode(buf, self.rules())
                .map_err(|e| ProtocolError::from_frame(e, self.max_frame_size))?
            else {
                return Ok(None);
            };
            // Order and size are known from the header: fail before the
            // payload is read.
            self.check_header(&header)?;
            let len = usize::try_from(header.payload_len).map_err(|_| ProtocolError::TooBig {
                limit: self.max_frame_size,
            })?;
            if buf.len() - header_len < len {
                return Ok(None);
            }
            buf.advance(header_len);
            let mut payload = buf.split_to(len);
            if let Some(key) = header.mask {
                mask::apply(&mut payload, key);
            }
            if let Some(event) = self.on_frame(header, payload)? {
                return Ok(Some(event));
            }
        }
    }

    /// How many more bytes the frame at the start of `buf` needs (at least
    /// 1): a driver reads up to this much (bounded by its read buffer size)
    /// instead of reserving a whole frame on the word of its header.
    pub fn missing(&self, buf: &[u8]) -> usize {
        match frame::decode(buf, self.rules()) {
            Ok(Some((header, n))) => usize::try_from(header.payload_len)
                .unwrap_or(usize::MAX)
                .saturating_add(n)
                .saturating_sub(buf.len())
                .max(1),
            Ok(None) => frame::MAX_HEADER_LEN.saturating_sub(buf.len()).max(1),
            Err(_) => 1,
        }
    }

    /// RFC 6455 §5.4: continuation order; the message limit for frames
    /// that are not inflated (inflated ones are bounded as they inflate).
    fn check_header(&self, header: &Header) -> Result<(), ProtocolError> {
        if header.opcode.is_control() {
            return Ok(());
        }
        match (header.opcode == OpCode::Continuation, &self.partial) {
            (true, None) => return Err(ProtocolError::UnexpectedContinuation),
            (false, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            _ => {}
        }
        let compressed = header.rsv1 || self.partial.as_ref().is_some_and(|p| p.compressed);
        let held = self.partial.as_ref().map_or(0, |p| p.buf.len());
        let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        if !compressed && held.saturating_add(len) > self.max_message_size {
            return Err(ProtocolError::TooBig {
                limit: self.max_message_size,
            });
        }
        Ok(())
    }

    fn on_frame(
        &mut self,
        header: Header,
        payload: BytesMut,
    ) -> Result<Option<Event>, ProtocolError> {
        Ok(Some(match header.opcode {
            OpCode::Ping => Event::Ping(payload.freeze()),
            OpCode::Pong => Event::Pong(payload.freeze()),
            OpCode::Close => Event::Close(close::parse(payload.freeze())?),
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                return Ok(self.on_data(header, payload)?.map(Event::Message))
            }
        }))
    }

    fn on_data(
        &mut self,
        header: Header,
        payload: BytesMut,
    ) -> Result<Option<Message>, ProtocolError> {
        let first = header.opcode != OpCode::Continuation;
        // One frame, not compressed: the payload is the message, no copy.
        if first && header.fin && !header.rsv1 {
            let bytes = payload.freeze();
            return Ok(Some(if header.opcode == OpCode::Text {
                Message::Text(Utf8Bytes::try_from(bytes).map_err(|_| ProtocolError::InvalidUtf8)?)
            } else {
                Message::Binary(bytes)
            }));
        }
        let partial = self.partial.get_or_insert_with(|| Partial {
            text: header.opcode == OpCode::Text,
            compressed: header.rsv1,
            buf: Vec::new(),
            utf8: Utf8Check::default(),
        });
        if partial.compressed {
            #[cfg(feature = "deflate")]
            if let Some(deflate) = &mut self.deflate {
                let limit = self.max_message_size;
                deflate
                    .inflate(&payload, header.fin, &mut partial.buf, limit)
                    .map_err(|e| match e {
                        InflateError::TooBig => ProtocolError::TooBig { limit },
                        InflateError::Corrupt => ProtocolError::InvalidDeflate,
                    })?;
            }
        } else {
            partial.buf.extend_from_slice(&payload);
        }
        if partial.text {
            // §8.1: fail as soon as the text cannot be UTF-8.
            partial.utf8.feed(&partial.buf, header.fin)?;
        }
        if !header.fin {
            return Ok(None);
        }
        let Partial { text, buf, .. } = self.partial.take().expect("set above");
        let bytes = Bytes::from(buf);
        Ok(Some(if text {
            Message::Text(Utf8Bytes::from_validated(bytes))
        } else {
            Message::Binary(bytes)
        }))
    }
}
