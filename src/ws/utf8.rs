//! Incremental UTF-8 validation that fails fast (RFC 6455 §8.1, RFC 3629).

/// Validates UTF-8 fed in pieces that may split a code point anywhere.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    _state: u32,
}

/// The bytes seen so far cannot begin valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a text.
    pub fn new() -> Self {
        Self::default()
    }
    /// Feeds the next piece; fails as soon as the text so far cannot be a prefix of valid UTF-8.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        let _ = bytes;
        todo!()
    }
    /// Ends the text: fails if it stops inside a code point.
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        todo!()
    }
}
