//! UTF-8 checked as text arrives (RFC 6455 §8.1), so that a fragmented
//! message fails in the fragment that breaks it, not at its end.

use super::ProtocolError;

/// How much of a text message is known to be valid UTF-8.
#[derive(Debug, Default)]
pub(crate) struct Utf8Check {
    checked: usize,
}

impl Utf8Check {
    /// Checks `text`, the message so far, of which only the bytes after
    /// the last complete character are looked at again. An incomplete
    /// character at the end is fine unless the message is `complete`;
    /// Rust's validator reports a truncated sequence only when its bytes
    /// can still start a character, so an impossible prefix (above U+10FFFF,
    /// a surrogate, an overlong form) fails at once.
    pub(crate) fn feed(&mut self, text: &[u8], complete: bool) -> Result<(), ProtocolError> {
        match std::str::from_utf8(&text[self.checked..]) {
            Ok(_) => {
                self.checked = text.len();
                Ok(())
            }
            Err(e) if e.error_len().is_none() && !complete => {
                self.checked += e.valid_up_to();
                Ok(())
            }
            Err(_) => Err(ProtocolError::InvalidUtf8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &[u8], complete: bool) -> Result<(), ProtocolError> {
        Utf8Check::default().feed(text, complete)
    }

    #[test]
    fn fails_in_the_fragment_that_breaks_the_text() {
        let euro = "€".as_bytes();
        let mut check_so_far = Utf8Check::default();
        assert_eq!(check_so_far.feed(&euro[..1], false), Ok(()));
        assert_eq!(check_so_far.feed(euro, false), Ok(()));
        assert_eq!(check_so_far.checked, 3);
        assert_eq!(check(&euro[..2], true), Err(ProtocolError::InvalidUtf8));
        // U+110000 and above, UTF-16 surrogates, overlong forms: no
        // character starts so, whatever follows.
        assert!(check(&[b'a', 0xF4, 0x90], false).is_err());
        assert!(check(&[0xED, 0xA0], false).is_err());
        assert!(check(&[0xC0], false).is_err());
    }
}
