//! Text: [`Utf8Bytes`], UTF-8 in shared bytes (the core checks text as it
//! arrives, `proto/utf8.rs`).

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// UTF-8 text in shared [`Bytes`]: a received text message is handed over
/// without a copy, and sending it back costs none either.
///
/// ```
/// use tower_upgrade::websocket::Utf8Bytes;
///
/// let text = Utf8Bytes::from("hé");
/// assert_eq!(text.as_str(), "hé");
/// assert_eq!(text.len(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Every constructor checks or starts from UTF-8.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The text's length in bytes, without looking at the text (it was
    /// checked when made): O(1), where going through `Deref<Target = str>`
    /// validated it again.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes taken as text with no check at all: only tests use it, to
    /// show that a method does not validate.
    #[cfg(test)]
    pub(crate) fn unchecked_for_tests(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The text's bytes, shared.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// A checked conversion; used for payloads already validated, where it
    /// cannot fail.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Self(bytes)
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Self(bytes))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
