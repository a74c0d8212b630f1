//! The compressor and decompressor states a registration's connections
//! share for the directions without context takeover (permessage-deflate,
//! RFC 7692 §7.1.1): held by the `DeflateConfig`, used by `compress.rs`.

use std::sync::Mutex;

use flate2::{Compress, Compression, Decompress};

/// Idle states kept per pool and direction: about the number of messages
/// compressed at the same moment, not the number of connections.
const POOL_SIZE: usize = 16;

/// Everything that makes one compressor differ from another: a state is
/// only ever reused for the same parameters. A clone of a `DeflateConfig`
/// shares its pool, and a clone may change the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CompressorKey {
    pub(crate) level: u32,
    pub(crate) window_bits: u8,
    /// States in the pool are always reset, so this changes nothing today;
    /// it is in the key so that a state kept differently never mixes.
    pub(crate) no_context_takeover: bool,
}

/// Compressors and decompressors borrowed for one message at a time.
/// Decompressors differ by their window only (inflating takes no level).
#[derive(Debug, Default)]
pub(crate) struct Pool {
    compressors: Mutex<Vec<(CompressorKey, Compress)>>,
    decompressors: Mutex<Vec<(u8, Decompress)>>,
}

impl Pool {
    pub(crate) fn compressor(&self, key: CompressorKey) -> Compress {
        let mut idle = self.compressors.lock().unwrap_or_else(|e| e.into_inner());
        match idle.iter().position(|(k, _)| *k == key) {
            Some(i) => idle.swap_remove(i).1,
            None => {
                Compress::new_with_window_bits(Compression::new(key.level), false, key.window_bits)
            }
        }
    }

    pub(crate) fn decompressor(&self, bits: u8) -> Decompress {
        let mut idle = self.decompressors.lock().unwrap_or_else(|e| e.into_inner());
        match idle.iter().position(|(b, _)| *b == bits) {
            Some(i) => idle.swap_remove(i).1,
            None => Decompress::new_with_window_bits(false, bits),
        }
    }

    pub(crate) fn give_compressor(&self, key: CompressorKey, mut state: Compress) {
        state.reset();
        let mut idle = self.compressors.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push((key, state));
        }
    }

    pub(crate) fn give_decompressor(&self, bits: u8, mut state: Decompress) {
        state.reset(false);
        let mut idle = self.decompressors.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < POOL_SIZE {
            idle.push((bits, state));
        }
    }
}
