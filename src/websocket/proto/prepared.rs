//! A data message encoded once for many connections (a topic's publish):
//! its header is written once, its payload shared, and with
//! permessage-deflate it is compressed once per set of parameters that
//! compress alike (no context takeover: RFC 7692 §7.1.1.1 makes every
//! message start from an empty window, so the output depends on the
//! message and the parameters only).

#[cfg(feature = "deflate")]
use std::sync::Mutex;

use bytes::Bytes;

use super::frame::{self, OpCode, MAX_HEADER_LEN};

/// A Text or Binary message, ready for any number of connections.
#[derive(Debug)]
pub struct Prepared {
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    opcode: OpCode,
    /// The uncompressed frame, header (FIN, no RSV1, unmasked: §5.1) then
    /// payload, in one buffer: a connection with nothing else to write
    /// sends it as it is.
    frame: Bytes,
    header_len: u8,
    /// The compressed forms, one per set of parameters (few: most servers
    /// have one); `None` where the message does not shrink.
    #[cfg(feature = "deflate")]
    compressed: Mutex<Vec<(SharedKey, Option<Compressed>)>>,
}

/// The parameters that make two connections' compressed forms of a
/// message the same.
#[cfg(feature = "deflate")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SharedKey {
    pub(crate) level: u32,
    pub(crate) window_bits: u8,
    pub(crate) threshold: usize,
}

/// A compressed form: its frame (RSV1 set, §7.2.3.1), header then payload.
#[cfg(feature = "deflate")]
#[derive(Clone, Debug)]
pub(crate) struct Compressed {
    pub(crate) frame: Bytes,
    pub(crate) header_len: u8,
}

#[cfg(feature = "deflate")]
impl Compressed {
    pub(crate) fn header(&self) -> &[u8] {
        &self.frame[..usize::from(self.header_len)]
    }

    pub(crate) fn payload(&self) -> Bytes {
        self.frame.slice(usize::from(self.header_len)..)
    }
}

/// A frame in one buffer: FIN, `rsv1`, `opcode`, unmasked, then `payload`;
/// with the header's length.
fn frame(rsv1: bool, opcode: OpCode, payload: &[u8]) -> (Bytes, u8) {
    let mut header = [0; MAX_HEADER_LEN];
    let n = frame::encode(true, rsv1, opcode, payload.len(), None, &mut header);
    let mut frame = Vec::with_capacity(n + payload.len());
    frame.extend_from_slice(&header[..n]);
    frame.extend_from_slice(payload);
    (Bytes::from(frame), n as u8)
}

impl Prepared {
    /// `text`: a Text message (its payload is UTF-8, which the caller's
    /// type guarantees), else Binary.
    pub fn new(text: bool, payload: Bytes) -> Self {
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let (frame, header_len) = frame(false, opcode, &payload);
        Self {
            opcode,
            frame,
            header_len,
            #[cfg(feature = "deflate")]
            compressed: Mutex::new(Vec::new()),
        }
    }

    /// The payload's length (what a queue counts).
    pub fn len(&self) -> usize {
        self.frame.len() - usize::from(self.header_len)
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn frame(&self) -> &Bytes {
        &self.frame
    }

    pub(crate) fn header(&self) -> &[u8] {
        &self.frame[..usize::from(self.header_len)]
    }

    pub(crate) fn payload(&self) -> Bytes {
        self.frame.slice(usize::from(self.header_len)..)
    }

    /// The compressed form for `key`, made by `compress` the first time it
    /// is asked for (by whichever connection writes it first); `None` when
    /// the message does not shrink. The second value: whether this call
    /// compressed.
    #[cfg(feature = "deflate")]
    pub(crate) fn compressed(
        &self,
        key: SharedKey,
        compress: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    ) -> (Option<Compressed>, bool) {
        // Held while compressing: the other connections wait for the one
        // result rather than compressing it again.
        let mut forms = self.compressed.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, form)) = forms.iter().find(|(k, _)| *k == key) {
            return (form.clone(), false);
        }
        let form = compress(&self.frame[usize::from(self.header_len)..]).map(|payload| {
            let (frame, header_len) = frame(true, self.opcode, &payload);
            Compressed { frame, header_len }
        });
        forms.push((key, form.clone()));
        (form, true)
    }

    #[cfg(feature = "deflate")]
    pub(crate) fn opcode(&self) -> OpCode {
        self.opcode
    }

    /// How many compressed forms were made (the topics' tests).
    #[cfg(all(test, feature = "deflate"))]
    pub(crate) fn compressed_forms(&self) -> usize {
        self.compressed.lock().unwrap().len()
    }
}
