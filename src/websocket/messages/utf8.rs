//! UTF-8 checked as text arrives (RFC 6455 §8.1), so that a fragmented
//! message fails on the fragment that breaks it, not at its end.

/// Checks `bytes`, of which the first `checked` are already known valid.
///
/// Returns how many bytes are now known valid. An incomplete character at
/// the end is fine unless the message is `complete`: Rust's validator reports
/// a truncated sequence only when its bytes so far can still start a valid
/// character, so an impossible prefix fails here at once.
pub(crate) fn check(bytes: &[u8], checked: usize, complete: bool) -> Result<usize, ()> {
    match std::str::from_utf8(&bytes[checked..]) {
        Ok(_) => Ok(bytes.len()),
        Err(e) if e.error_len().is_none() && !complete => Ok(checked + e.valid_up_to()),
        Err(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn fails_in_the_fragment_that_breaks_the_text() {
        let euro = "€".as_bytes();
        // A character split across fragments is fine until the end.
        assert_eq!(check(&euro[..1], 0, false), Ok(0));
        assert_eq!(check(euro, 0, false), Ok(3));
        assert_eq!(check(&euro[..2], 0, true), Err(()));
        // A prefix no character has fails before the message ends:
        // U+110000 and above, and UTF-16 surrogates.
        assert_eq!(check(&[b'a', 0xF4, 0x90], 0, false), Err(()));
        assert_eq!(check(&[0xED, 0xA0], 0, false), Err(()));
        assert_eq!(check(&[0xC0], 0, false), Err(()));
    }
}
