//! Percent-decoding (RFC 3986 §2.1) for paths and query strings.
//!
//! A URL can only carry a limited set of characters, so any other byte travels as `%` followed by two
//! hexadecimal digits: a space is `%20`, `é` (UTF-8 `C3 A9`) is `%C3%A9`. In a query string written by an
//! HTML form, a `+` also stands for a space (WHATWG URL, `application/x-www-form-urlencoded`).
//!
//! Decoding happens only where a value is *used* (a query parameter, a file name), never on the raw
//! request target: decoding early would turn `%2F` into a `/` that then looks like a path separator.
// Hexadecimal digits from the wire become numbers here: arithmetic is checked, never a wrap or
// a panic ("No panic from the network" in the crate docs).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::borrow::Cow;

/// Decodes `%XX` escapes in `input`; with `plus_as_space`, `+` decodes to a space (query strings).
///
/// Returns `None` when a `%` is not followed by two hexadecimal digits (RFC 3986 §2.1: "a percent sign
/// followed by two hexadecimal digits"). The result is bytes: whether they are UTF-8 is the caller's call.
/// Input with nothing to decode (the usual query parameter name) is handed back as it is, without a copy.
pub fn decode(input: &[u8], plus_as_space: bool) -> Option<Cow<'_, [u8]>> {
    let escaped = |byte: &u8| *byte == b'%' || (plus_as_space && *byte == b'+');
    if !input.iter().any(escaped) {
        return Some(Cow::Borrowed(input));
    }
    let mut decoded = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&byte, tail)) = rest.split_first() {
        match byte {
            b'%' => {
                let (&high, tail) = tail.split_first()?;
                let (&low, tail) = tail.split_first()?;
                decoded.push(hex_value(high)? << 4 | hex_value(low)?);
                rest = tail;
            }
            b'+' if plus_as_space => {
                decoded.push(b' ');
                rest = tail;
            }
            other => {
                decoded.push(other);
                rest = tail;
            }
        }
    }
    Some(Cow::Owned(decoded))
}

/// The value of one hexadecimal digit, either case.
pub(crate) fn hex_value(digit: u8) -> Option<u8> {
    let value = char::from(digit).to_digit(16)?;
    u8::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_escapes_in_either_case() {
        assert_eq!(
            decode(b"a%20b%2fc%2F", false).as_deref(),
            Some(&b"a b/c/"[..])
        );
        assert_eq!(decode(b"%C3%a9", false).as_deref(), Some("é".as_bytes()));
    }

    #[test]
    fn plus_is_a_space_only_in_queries() {
        assert_eq!(decode(b"a+b", true).as_deref(), Some(&b"a b"[..]));
        assert_eq!(decode(b"a+b", false).as_deref(), Some(&b"a+b"[..]));
        assert_eq!(decode(b"a%2Bb", true).as_deref(), Some(&b"a+b"[..]));
    }

    #[test]
    fn rfc3986_2_1_truncated_or_non_hex_escapes_are_invalid() {
        assert_eq!(decode(b"%", false), None);
        assert_eq!(decode(b"%4", false), None);
        assert_eq!(decode(b"%zz", false), None);
        assert_eq!(decode(b"abc%g0", false), None);
    }

    #[test]
    fn input_without_escapes_is_handed_back_uncopied() {
        let input = b"callback";
        let decoded = decode(input, true);
        assert!(
            matches!(decoded, Some(std::borrow::Cow::Borrowed(bytes)) if bytes.as_ptr() == input.as_ptr())
        );
        assert!(matches!(
            decode(b"a+b", false),
            Some(std::borrow::Cow::Borrowed(_))
        ));
        assert!(matches!(
            decode(b"a+b", true),
            Some(std::borrow::Cow::Owned(_))
        ));
    }

    #[test]
    fn empty_input_decodes_to_empty() {
        assert_eq!(decode(b"", true).as_deref(), Some(&b""[..]));
    }
}
