//! Messages in, bytes out: the server's frames (RFC 6455 §5.2, unmasked,
//! §5.1), compressed when permessage-deflate was agreed (RFC 7692 §7.2.1).

use bytes::{BufMut, Bytes, BytesMut};

use super::close;
#[cfg(feature = "deflate")]
use super::compress::Deflate;
use super::frame::{self, OpCode, MAX_HEADER_LEN};
use super::Prepared;
use crate::websocket::messages::{CloseFrame, Message};

/// Payloads up to this size are copied next to their header, so that a
/// small message is one contiguous write; larger ones are handed back
/// uncopied, to be written after the header (vectored where the IO can).
pub const COPY_MAX: usize = 4096;

/// A Close the handler may not send (RFC 6455 §7.4): its code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidCloseCode(pub u16);

/// The sending half of the protocol.
#[derive(Debug, Default)]
pub struct Encoder {
    #[cfg(feature = "deflate")]
    deflate: Option<Box<Deflate>>,
}

impl Encoder {
    /// A server's encoder: frames unmasked, nothing compressed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compresses data messages with the agreed parameters (RFC 7692).
    #[cfg(feature = "deflate")]
    pub fn with_deflate(mut self, deflate: Deflate) -> Self {
        self.deflate = Some(Box::new(deflate));
        self
    }

    /// Appends `message`'s header to `out`, and its payload when it is at
    /// most [`COPY_MAX`] bytes; returns the payload still to write after
    /// `out` (empty when it was copied). A control payload over 125 bytes
    /// is cut to 125 (§5.5); a Close reason is cut on a character to fit.
    ///
    /// # Errors
    ///
    /// A Close whose code may not be sent; nothing is appended.
    pub fn encode(
        &mut self,
        message: Message,
        out: &mut BytesMut,
    ) -> Result<Bytes, InvalidCloseCode> {
        match message {
            Message::Text(text) => Ok(self.encode_data(OpCode::Text, text.into_bytes(), out)),
            Message::Binary(bytes) => Ok(self.encode_data(OpCode::Binary, bytes, out)),
            Message::Ping(payload) => {
                encode_control(OpCode::Ping, &payload, out);
                Ok(Bytes::new())
            }
            Message::Pong(payload) => {
                encode_control(OpCode::Pong, &payload, out);
                Ok(Bytes::new())
            }
            Message::Close(frame) => {
                encode_close(frame.as_ref(), out)?;
                Ok(Bytes::new())
            }
        }
    }

    /// Appends a message prepared for many connections: its header, made
    /// once, and its payload when at most [`COPY_MAX`] bytes (else returned
    /// uncopied, as [`encode`](Self::encode) does). `alone` (nothing follows
    /// it in this write) with `out` empty: the whole frame, header and
    /// payload as made once for every connection, is returned uncopied. With
    /// permessage-deflate without context takeover, the compressed form is
    /// made once for all connections with the same parameters; with
    /// context takeover, this connection compresses it (counted in
    /// `tower_upgrade_topic_compressions_total{kind="per_connection"}`).
    pub fn encode_prepared(
        &mut self,
        prepared: &Prepared,
        out: &mut BytesMut,
        alone: bool,
    ) -> Bytes {
        let whole = alone && out.is_empty();
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &mut self.deflate {
            match deflate.shared_key() {
                Some(key) => {
                    let (form, compressed) =
                        prepared.compressed(key, |payload| deflate.compress(payload));
                    if compressed {
                        crate::websocket::topics::metrics::compressed("shared");
                    }
                    if let Some(form) = form {
                        if whole {
                            return form.frame;
                        }
                        out.put_slice(form.header());
                        return copy_or_hand_back(form.payload(), out);
                    }
                }
                None => {
                    crate::websocket::topics::metrics::compressed("per_connection");
                    if let Some(compressed) = deflate.compress(&prepared.payload()) {
                        put_header(true, true, prepared.opcode(), compressed.len(), out);
                        return copy_or_hand_back(Bytes::from(compressed), out);
                    }
                }
            }
        }
        if whole {
            return prepared.frame().clone();
        }
        out.put_slice(prepared.header());
        copy_or_hand_back(prepared.payload(), out)
    }

    fn encode_data(&mut self, opcode: OpCode, payload: Bytes, out: &mut BytesMut) -> Bytes {
        #[allow(unused_mut)]
        let (mut payload, mut rsv1) = (payload, false);
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &mut self.deflate {
            if let Some(compressed) = deflate.compress(&payload) {
                payload = Bytes::from(compressed);
                rsv1 = true;
            }
        }
        put_header(true, rsv1, opcode, payload.len(), out);
        copy_or_hand_back(payload, out)
    }
}

/// A payload of at most [`COPY_MAX`] bytes goes next to its header; a
/// larger one is handed back, to be written after `out`.
fn copy_or_hand_back(payload: Bytes, out: &mut BytesMut) -> Bytes {
    if payload.len() <= COPY_MAX {
        out.put_slice(&payload);
        Bytes::new()
    } else {
        payload
    }
}

/// Appends a Close frame, refusing a code §7.4 keeps off the wire.
pub(crate) fn encode_close(
    frame: Option<&CloseFrame>,
    out: &mut BytesMut,
) -> Result<(), InvalidCloseCode> {
    close::check_sendable(frame).map_err(InvalidCloseCode)?;
    let payload = frame.map(CloseFrame::encode).unwrap_or_default();
    encode_control(OpCode::Close, &payload, out);
    Ok(())
}

/// Appends a control frame, its payload cut to 125 bytes (§5.5).
pub(crate) fn encode_control(opcode: OpCode, payload: &[u8], out: &mut BytesMut) {
    let payload = &payload[..payload.len().min(125)];
    put_header(true, false, opcode, payload.len(), out);
    out.put_slice(payload);
}

fn put_header(fin: bool, rsv1: bool, opcode: OpCode, len: usize, out: &mut BytesMut) {
    let mut header = [0; MAX_HEADER_LEN];
    let n = frame::encode(fin, rsv1, opcode, len, None, &mut header);
    out.put_slice(&header[..n]);
}
