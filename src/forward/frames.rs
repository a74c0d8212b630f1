//! Where the client's frames begin and end (RFC 6455 §5.2), read off the
//! bytes the relay forwards without changing them: what lets the gateway
//! put a Close of its own between two frames at shutdown.

/// How far into the current frame the client's byte stream is.
#[derive(Debug, Default)]
pub(super) struct Boundaries {
    /// The bytes of the current frame's header read so far.
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to come.
    left: u64,
}

impl Boundaries {
    /// Whether the bytes seen so far end with a whole frame.
    pub(super) fn at_boundary(&self) -> bool {
        self.have == 0 && self.left == 0
    }

    /// Reads `bytes` until the end of the frame they are in: `Some(n)`
    /// when it ends after `bytes[..n]`, `None` when all of `bytes` is
    /// part of it (or of the next one's header).
    pub(super) fn next_boundary(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut at = 0;
        loop {
            if self.left > 0 {
                let take = self.left.min((bytes.len() - at) as u64);
                self.left -= take;
                at += take as usize;
                if self.left > 0 {
                    return None;
                }
                return Some(at);
            }
            if at == bytes.len() {
                return None;
            }
            self.header[self.have] = bytes[at];
            self.have += 1;
            at += 1;
            if let Some(payload) = self.payload_len() {
                self.have = 0;
                self.left = payload;
                if payload == 0 {
                    return Some(at);
                }
            }
        }
    }

    /// Reads all of `bytes`.
    pub(super) fn skip(&mut self, mut bytes: &[u8]) {
        while let Some(n) = self.next_boundary(bytes) {
            bytes = &bytes[n..];
        }
    }

    /// The payload length once the header is whole: two bytes, then 2 or
    /// 8 of extended length (§5.2), then 4 of masking key when MASK is set.
    fn payload_len(&self) -> Option<u64> {
        if self.have < 2 {
            return None;
        }
        let masked = self.header[1] & 0x80 != 0;
        let (len_bytes, short) = match self.header[1] & 0x7F {
            126 => (2, None),
            127 => (8, None),
            n => (0, Some(u64::from(n))),
        };
        let total = 2 + len_bytes + if masked { 4 } else { 0 };
        if self.have < total {
            return None;
        }
        Some(short.unwrap_or_else(|| {
            self.header[2..2 + len_bytes]
                .iter()
                .fold(0u64, |n, &b| (n << 8) | u64::from(b))
        }))
    }
}

/// A masked Close frame (a client's, RFC 6455 §5.3 and §5.5.1) with code
/// 1001, "going away" (§7.4.1): the gateway closes for the client it
/// relays for, and the upstream's answer reaches the client as is.
pub(super) fn close_going_away(key: [u8; 4]) -> [u8; 8] {
    let payload = 1001u16.to_be_bytes();
    [
        0x88,
        0x80 | 2,
        key[0],
        key[1],
        key[2],
        key[3],
        payload[0] ^ key[0],
        payload[1] ^ key[1],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(len: usize) -> Vec<u8> {
        let mut frame = vec![0x82];
        match len {
            0..=125 => frame.push(0x80 | len as u8),
            126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[1, 2, 3, 4]);
        frame.extend(std::iter::repeat_n(7u8, len));
        frame
    }

    #[test]
    fn boundaries_are_found_whatever_the_reads() {
        for lens in [[0, 5, 125], [126, 1000, 3], [70_000, 0, 1]] {
            let stream: Vec<u8> = lens.iter().flat_map(|&n| masked(n)).collect();
            let mut ends = Vec::new();
            let mut total = 0;
            for n in lens {
                total += masked(n).len();
                ends.push(total);
            }
            for read in [1, 2, 3, 7, 64, 100_000] {
                let mut cursor = Boundaries::default();
                let mut found = Vec::new();
                let mut offset = 0;
                for chunk in stream.chunks(read) {
                    let mut at = 0;
                    while let Some(n) = cursor.next_boundary(&chunk[at..]) {
                        at += n;
                        found.push(offset + at);
                    }
                    offset += chunk.len();
                }
                assert_eq!(found, ends, "{lens:?} read by {read}");
                assert!(cursor.at_boundary());
            }
        }
    }

    #[test]
    fn mid_frame_is_not_a_boundary() {
        let mut cursor = Boundaries::default();
        cursor.skip(&masked(10)[..7]);
        assert!(!cursor.at_boundary());
        cursor.skip(&masked(10)[7..]);
        assert!(cursor.at_boundary());
    }

    #[test]
    fn the_close_is_1001_masked() {
        let key = [0xA, 0xB, 0xC, 0xD];
        let frame = close_going_away(key);
        assert_eq!(frame[..2], [0x88, 0x82]);
        assert_eq!([frame[6] ^ key[0], frame[7] ^ key[1]], [0x03, 0xE9]);
        let mut cursor = Boundaries::default();
        assert_eq!(cursor.next_boundary(&frame), Some(8));
    }
}
