//! permessage-deflate (RFC 7692 §7.2) for one connection: flate2 on zlib-rs,
//! inflate bounded by the message limit, and a pool of compressor and
//! decompressor states shared by the registration for the directions
//! without context takeover.

use std::sync::Arc;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

use super::pool::{CompressorKey, Pool};
use crate::websocket::{DeflateConfig, PermessageDeflate};

/// RFC 7692 §7.2.1: a message's compressed data ends with this empty stored
/// block, which is removed before sending and put back before inflating.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// Why an inflate failed.
#[derive(Debug, PartialEq, Eq)]
pub enum InflateError {
    /// Over the message limit (RFC 6455 §7.4.1: 1009).
    TooBig,
    /// Not a deflate stream: a protocol error (1002).
    Corrupt,
}

/// One connection's compression state.
#[derive(Debug)]
pub struct Deflate {
    pool: Arc<Pool>,
    level: u32,
    threshold: usize,
    server_bits: u8,
    client_bits: u8,
    /// §7.1.1.1: the server starts every message with an empty window.
    server_reset: bool,
    /// §7.1.1.2: the client does.
    client_reset: bool,
    /// Kept between messages only with context takeover.
    compressor: Option<Compress>,
    decompressor: Option<Decompress>,
    /// The message being inflated ended its deflate stream (a final block)
    /// before its last frame.
    ended: bool,
}

impl Deflate {
    /// The state for what the handshake agreed, with the config's level,
    /// threshold and codec pool.
    pub fn new(agreed: &PermessageDeflate, config: &DeflateConfig) -> Self {
        Self {
            pool: config.codecs.clone(),
            level: config.level,
            threshold: config.threshold.max(1),
            server_bits: agreed.server_window_bits(),
            // zlib inflates no raw stream with a window under 9 bits; a
            // larger window reads a smaller one's stream.
            client_bits: agreed.client_window_bits().max(9),
            server_reset: agreed.server_no_context_takeover(),
            client_reset: agreed.client_no_context_takeover(),
            compressor: None,
            decompressor: None,
            ended: false,
        }
    }

    /// The parameters two connections compress a message alike with, when
    /// this one keeps no context between messages (RFC 7692 §7.1.1.1);
    /// `None` with context takeover (each connection's output depends on
    /// what it sent before).
    pub(crate) fn shared_key(&self) -> Option<super::prepared::SharedKey> {
        self.server_reset.then_some(super::prepared::SharedKey {
            level: self.level,
            window_bits: self.server_bits,
            threshold: self.threshold,
        })
    }

    fn compressor_key(&self) -> CompressorKey {
        CompressorKey {
            level: self.level,
            window_bits: self.server_bits,
            no_context_takeover: self.server_reset,
        }
    }

    /// Compresses one message (RFC 7692 §7.2.1). `None`: send it as it is,
    /// because it is short or does not shrink (§6.1 lets each message
    /// choose).
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        if payload.len() < self.threshold {
            return None;
        }
        let mut state = match self.compressor.take() {
            Some(state) => state,
            None => self.pool.compressor(self.compressor_key()),
        };
        // Room for what deflate makes of bytes that do not shrink (stored
        // blocks: 5 bytes per 16 KiB) plus the flush, so that the state ends
        // with nothing pending and can be reset.
        let mut out = Vec::with_capacity(payload.len() + (payload.len() >> 10) + 64);
        let mut input = payload;
        let (shrank, drained) = loop {
            let before = state.total_in();
            if state
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .is_err()
            {
                break (false, false);
            }
            input = &input[(state.total_in() - before) as usize..];
            if out.len() == out.capacity() {
                break (false, false);
            }
            if input.is_empty() {
                let shrank = out.ends_with(&TAIL) && out.len() - TAIL.len() < payload.len();
                break (shrank, true);
            }
        };
        if !drained {
            // zlib-rs 0.6.8 keeps the offset of undelivered output across
            // `reset`, and the state panics on its next use ("buf.len() must
            // fit in remaining()"): a state stopped midway is dropped.
            return None;
        }
        if !shrank {
            // Its window now holds a message the peer never saw: start over.
            state.reset();
        }
        if self.server_reset || !shrank {
            self.pool.give_compressor(self.compressor_key(), state);
        } else {
            self.compressor = Some(state);
        }
        shrank.then(|| {
            out.truncate(out.len() - TAIL.len());
            out
        })
    }

    /// Inflates one frame's payload of a compressed message onto `out`,
    /// stopping as soon as `out` would pass `limit` bytes; `fin`: the last
    /// frame (§7.2.2: the tail is put back).
    pub fn inflate(
        &mut self,
        payload: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        if self.ended {
            // The message's deflate stream ended (BFINAL) in an earlier
            // frame: more data is not part of it.
            self.ended = !fin;
            return if payload.is_empty() {
                Ok(())
            } else {
                self.ended = false;
                Err(InflateError::Corrupt)
            };
        }
        let mut state = match self.decompressor.take() {
            Some(state) => state,
            None => self.pool.decompressor(self.client_bits),
        };
        let mut result = feed(&mut state, payload, out, limit);
        if fin && result == Ok(false) {
            result = feed(&mut state, &TAIL, out, limit);
        }
        match result {
            // A final block (BFINAL) ends the stream: the next message
            // starts a new one.
            Ok(true) => {
                self.ended = !fin;
                self.pool.give_decompressor(self.client_bits, state);
            }
            Ok(false) if !fin || !self.client_reset => self.decompressor = Some(state),
            Ok(false) => self.pool.give_decompressor(self.client_bits, state),
            Err(e) => {
                self.pool.give_decompressor(self.client_bits, state);
                return Err(e);
            }
        }
        Ok(())
    }
}

impl Drop for Deflate {
    fn drop(&mut self) {
        // States with context takeover go back to the pool reset.
        if let Some(state) = self.compressor.take() {
            self.pool.give_compressor(self.compressor_key(), state);
        }
        if let Some(state) = self.decompressor.take() {
            self.pool.give_decompressor(self.client_bits, state);
        }
    }
}

/// Inflates `input` onto `out`, never holding more than `limit + 1` bytes
/// (unless `out` came with more capacity); `Ok(true)` when the stream ended
/// (a final block).
///
/// The work is proportional to this frame's input and output: the
/// decompressor writes into `out`'s spare capacity (`decompress_vec`, which
/// neither zero-fills nor touches what `out` already holds), and capacity
/// grows by doubling, so reallocation copies are amortised over the output
/// that filled them.
fn feed(
    state: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, InflateError> {
    if input.is_empty() {
        // Nothing is pending inside `state`: every call returns only once
        // the decompressor stopped short of filling its output.
        return Ok(false);
    }
    let bound = limit.saturating_add(1);
    loop {
        let held = out.len();
        if held > limit {
            return Err(InflateError::TooBig);
        }
        if out.capacity() == held {
            // Doubling what is held so far (at least 4 KiB, or four times
            // the input), never past the limit.
            let room = bound - held;
            let grow = room.min(held.max(input.len().saturating_mul(4)).max(4096));
            #[cfg(test)]
            tests::FILLED.with(|f| f.set(f.get() + held));
            out.reserve_exact(grow);
        }
        let spare = out.capacity() - held;
        let (in_before, out_before) = (state.total_in(), state.total_out());
        let status = state.decompress_vec(input, out, FlushDecompress::Sync);
        let used = (state.total_in() - in_before) as usize;
        let made = (state.total_out() - out_before) as usize;
        input = &input[used..];
        if out.len() > limit {
            return Err(InflateError::TooBig);
        }
        match status {
            Err(_) => return Err(InflateError::Corrupt),
            Ok(Status::StreamEnd) => {
                return if input.is_empty() {
                    Ok(true)
                } else {
                    Err(InflateError::Corrupt)
                }
            }
            Ok(_) if input.is_empty() && made < spare => return Ok(false),
            Ok(_) if used == 0 && made == 0 => return Err(InflateError::Corrupt),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Bytes of output buffer `feed` zero-filled or copied on this thread.
        pub(super) static FILLED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn words(n: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_u32;
        let mut out = Vec::new();
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.extend_from_slice(
                ["alpha ", "beta ", "gamma ", "delta ", "epsilon "][x as usize % 5].as_bytes(),
            );
            out.extend_from_slice(&(x % 1000).to_string().into_bytes());
        }
        out
    }

    /// Regression: after a first frame that inflated to N bytes, every
    /// further frame of the message zero-filled at least N bytes again
    /// (`resize` over a chunk as large as what was held), so a client
    /// sending empty continuations made the server work O(N) per frame.
    #[test]
    fn empty_continuations_cost_no_more_than_their_bytes() {
        let mut sender = pair("permessage-deflate");
        let message = vec![b'a'; 1 << 20];
        let wire = sender.compress(&message).unwrap();
        let mut receiver = pair("permessage-deflate");
        receiver.client_bits = 15;
        let mut out = Vec::new();
        receiver.inflate(&wire, false, &mut out, 4 << 20).unwrap();
        FILLED.with(|f| f.set(0));
        for _ in 0..1000 {
            receiver.inflate(&[], false, &mut out, 4 << 20).unwrap();
        }
        let filled = FILLED.with(|f| f.get());
        assert!(
            filled <= 1000 * 64,
            "1000 empty frames filled {filled} bytes"
        );
        receiver.inflate(&[], true, &mut out, 4 << 20).unwrap();
        assert_eq!(out, message);
    }

    /// Regression: `max_message_size(usize::MAX)` overflowed `limit + 1`.
    #[test]
    fn an_unbounded_limit_does_not_overflow() {
        let mut sender = pair("permessage-deflate");
        let text = words(10_000);
        let wire = sender.compress(&text).unwrap();
        let mut receiver = pair("permessage-deflate");
        receiver.client_bits = 15;
        let mut out = Vec::new();
        receiver.inflate(&wire, true, &mut out, usize::MAX).unwrap();
        assert_eq!(out, text);
    }

    /// Regression: the pool was keyed by window bits only, so a clone of a
    /// `DeflateConfig` with another level compressed with the first one's
    /// compressors.
    #[test]
    fn clones_with_other_levels_never_share_compressors() {
        let offer = "permessage-deflate";
        let mut headers = http::HeaderMap::new();
        headers.insert("sec-websocket-extensions", offer.parse().unwrap());
        let offers = crate::websocket::extensions::parse_offers(&headers);
        let fast = DeflateConfig::new();
        let small = fast.clone().compression_level(9).unwrap();
        let agreed = crate::websocket::deflate::negotiate(&fast, &offers).unwrap();
        let text = words(64 << 10);
        let at_level_1 = Deflate::new(&agreed, &fast).compress(&text).unwrap();
        let alone = DeflateConfig::new().compression_level(9).unwrap();
        let at_level_9 = Deflate::new(&agreed, &alone).compress(&text).unwrap();
        assert_ne!(
            at_level_1, at_level_9,
            "the levels must differ on this text"
        );
        // `fast`'s compressor is back in the pool `small` shares.
        let shared = Deflate::new(&agreed, &small).compress(&text).unwrap();
        assert_eq!(shared, at_level_9);
    }

    fn pair(header: &str) -> Deflate {
        let mut headers = http::HeaderMap::new();
        headers.insert("sec-websocket-extensions", header.parse().unwrap());
        let offers = crate::websocket::extensions::parse_offers(&headers);
        let config = DeflateConfig::new();
        let agreed = crate::websocket::deflate::negotiate(&config, &offers).unwrap();
        Deflate::new(&agreed, &config)
    }

    #[test]
    fn round_trip_with_and_without_context_takeover() {
        for header in [
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ] {
            // The server's output read back by a decompressor set up like a
            // client's: the same state machine, other direction.
            let mut server = pair(header);
            let mut client = pair(header);
            client.client_bits = server.server_bits;
            client.client_reset = server.server_reset;
            let text = br#"{"user":"ada","text":"hello hello hello hello"}"#;
            for _ in 0..3 {
                let wire = server.compress(text).expect("JSON shrinks");
                assert!(!wire.ends_with(&TAIL));
                let mut out = Vec::new();
                client.inflate(&wire, true, &mut out, 1 << 20).unwrap();
                assert_eq!(out, text, "{header}");
            }
        }
    }

    #[test]
    fn does_not_send_what_does_not_shrink() {
        let mut server = pair("permessage-deflate");
        // xorshift: bytes deflate cannot shrink.
        let mut x = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(server.compress(&noise), None);
        assert_eq!(server.compress(b""), None);
    }

    /// Regression: a compressor reset after a message that did not shrink
    /// panicked inside zlib-rs on the next 64 KiB message (a never-reading
    /// echo client sending random bytes brought the connection down).
    #[test]
    fn messages_that_do_not_shrink_leave_a_reusable_state() {
        let mut server = pair("permessage-deflate; client_max_window_bits");
        let mut x = 0x2545_f491_u32;
        for _ in 0..4 {
            let noise: Vec<u8> = (0..64 << 10)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            assert_eq!(server.compress(&noise), None);
        }
        let text = br#"{"user":"ada","text":"hello hello hello hello"}"#.repeat(100);
        let wire = server.compress(&text).expect("JSON shrinks");
        let mut client = pair("permessage-deflate");
        client.client_bits = 15;
        let mut out = Vec::new();
        client.inflate(&wire, true, &mut out, 1 << 20).unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let mut sender = pair("permessage-deflate");
        let zeros = vec![0u8; 4 << 20];
        let wire = sender.compress(&zeros).unwrap();
        let mut receiver = pair("permessage-deflate");
        receiver.client_bits = 15;
        let mut out = Vec::new();
        assert_eq!(
            receiver.inflate(&wire, true, &mut out, 64 << 10),
            Err(InflateError::TooBig)
        );
        assert!(
            out.capacity() <= (64 << 10) + 4096,
            "held {}",
            out.capacity()
        );
    }
}
