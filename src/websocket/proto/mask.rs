//! Masking (RFC 6455 §5.3), sixteen bytes at a time without `unsafe`.

/// XORs `buf` with the masking key, as if the key repeated from `buf[0]`.
pub fn apply(buf: &mut [u8], key: [u8; 4]) {
    let mut wide = [0u8; 16];
    for (byte, k) in wide.iter_mut().zip(key.iter().cycle()) {
        *byte = *k;
    }
    let word = u128::from_ne_bytes(wide);
    let mut chunks = buf.chunks_exact_mut(16);
    for chunk in &mut chunks {
        let bytes: &mut [u8; 16] = chunk.try_into().expect("chunks of 16");
        *bytes = (u128::from_ne_bytes(*bytes) ^ word).to_ne_bytes();
    }
    // The remainder starts at a multiple of 16, so of 4: the key restarts.
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_bytewise_definition() {
        let key = [0x12, 0x34, 0x56, 0x78];
        for len in 0..40 {
            let data: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            let mut fast = data.clone();
            super::apply(&mut fast, key);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(fast, slow, "len {len}");
        }
    }
}
