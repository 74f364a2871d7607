//! The chunked transfer coding (RFC 9112 §7.1): decoder for request bodies, encoder for streams.
//!
//! A chunked body lets a sender start before it knows the total length, which is what every streaming
//! door of pushlab (XHR streaming, the iframe forever frame, SSE) relies on. On the wire:
//!
//! ```text
//! 5\r\n            chunk-size in hexadecimal, then CRLF
//! hello\r\n        exactly that many bytes of data, then CRLF
//! 1a;name=v\r\n    a size may carry extensions after `;`, which are ignored
//! ...26 bytes...\r\n
//! 0\r\n            the last chunk has size zero
//! Trailer: x\r\n   optional trailer fields
//! \r\n             an empty line ends the body
//! ```
//!
//! The decoder is sans-IO like the rest of [`crate::http`]: it looks at a buffer and says either
//! "incomplete" (nothing consumed) or "here is the body and the number of bytes it took".

use crate::http::percent::hex_value;
use crate::http::HttpError;

/// Longest chunk-size line (size, extensions, CRLF) accepted. Extensions carry nothing pushlab uses, so
/// a long line is only a way to make the server buffer bytes.
pub const MAX_CHUNK_SIZE_LINE_BYTES: usize = 1024;

/// Largest trailer section (after the last chunk) accepted, in bytes; larger answers 431.
pub const MAX_TRAILER_BYTES: usize = 8 * 1024;

/// Appends one chunk holding `data` to `out` (nothing if `data` is empty: an empty chunk ends the body).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF, chunk-size = 1*HEXDIG.
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk (`0\r\n\r\n`) that ends a chunked body.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    // RFC 9112 §7.1: last-chunk = 1*("0") [ chunk-ext ] CRLF, then an empty trailer section and CRLF.
    out.extend_from_slice(b"0\r\n\r\n");
}

/// Result of decoding a chunked body from the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkedStatus {
    /// The body is not complete yet.
    Incomplete,
    /// The whole body (trailers skipped) and the bytes it took.
    Complete {
        /// Decoded body.
        body: Vec<u8>,
        /// Bytes of the input used, trailer section included.
        consumed: usize,
    },
}

/// Decodes a whole chunked body from `buf`, refusing one over `max_body_bytes` (413).
pub fn decode_chunked(buf: &[u8], max_body_bytes: usize) -> Result<ChunkedStatus, HttpError> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some((chunk_bytes, line_bytes)) = parse_size_line(rest)? else {
            return Ok(ChunkedStatus::Incomplete);
        };
        pos += line_bytes;
        if chunk_bytes == 0 {
            let rest = buf.get(pos..).unwrap_or_default();
            return Ok(match skip_trailer_section(rest)? {
                Some(trailer_bytes) => ChunkedStatus::Complete {
                    body,
                    consumed: pos + trailer_bytes,
                },
                None => ChunkedStatus::Incomplete,
            });
        }
        // RFC 9110 §15.5.14: refuse as soon as the size is announced, before the data is uploaded.
        let room_bytes = max_body_bytes.saturating_sub(body.len());
        let chunk_bytes = match usize::try_from(chunk_bytes) {
            Ok(n) if n <= room_bytes => n,
            _ => {
                return Err(HttpError::new(
                    413,
                    "chunked body exceeds the largest body accepted",
                ))
            }
        };
        let Some(data) = buf.get(pos..pos + chunk_bytes) else {
            return Ok(ChunkedStatus::Incomplete);
        };
        body.extend_from_slice(data);
        pos += chunk_bytes;
        // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
        match expect_crlf(buf.get(pos..).unwrap_or_default()) {
            Crlf::Present => pos += 2,
            Crlf::Incomplete => return Ok(ChunkedStatus::Incomplete),
            Crlf::Wrong => {
                return Err(HttpError::new(
                    400,
                    "chunk data not followed by CRLF (RFC 9112 §7.1)",
                ))
            }
        }
    }
}

/// What follows a chunk's data.
enum Crlf {
    Present,
    Incomplete,
    Wrong,
}

fn expect_crlf(rest: &[u8]) -> Crlf {
    match rest {
        [b'\r', b'\n', ..] => Crlf::Present,
        [] | [b'\r'] => Crlf::Incomplete,
        _ => Crlf::Wrong,
    }
}

/// Parses `chunk-size [ chunk-ext ] CRLF` at the start of `rest`: the size and the line's length in
/// bytes, or `None` while the line is incomplete.
fn parse_size_line(rest: &[u8]) -> Result<Option<(u64, usize)>, HttpError> {
    let digit_count = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    // 1*HEXDIG: at least one digit; the value must fit in 64 bits (leading zeros are allowed).
    let mut size: u64 = 0;
    for &digit in rest.iter().take(digit_count) {
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(hex_value(digit).unwrap_or(0))))
            .ok_or(HttpError::new(400, "chunk size overflows (RFC 9112 §7.1)"))?;
    }
    let Some(line_end) = rest.iter().position(|&b| b == b'\n') else {
        // Still incomplete; stop a client that streams an endless size line.
        if rest.len() >= MAX_CHUNK_SIZE_LINE_BYTES {
            return Err(HttpError::new(400, "chunk size line too long"));
        }
        return check_partial_size_line(rest, digit_count).map(|()| None);
    };
    if line_end + 1 > MAX_CHUNK_SIZE_LINE_BYTES {
        return Err(HttpError::new(400, "chunk size line too long"));
    }
    if digit_count == 0 {
        return Err(HttpError::new(
            400,
            "chunk size is not hexadecimal (RFC 9112 §7.1)",
        ));
    }
    // RFC 9112 §7.1: the line ends with CRLF; a bare LF is refused (lenient parsers disagree on it,
    // which is a smuggling vector).
    let before_lf = rest.get(digit_count..line_end).unwrap_or_default();
    let Some(extensions) = before_lf.strip_suffix(b"\r") else {
        return Err(HttpError::new(
            400,
            "chunk size line not ended by CRLF (RFC 9112 §7.1)",
        ));
    };
    check_extensions(extensions)?;
    Ok(Some((size, line_end + 1)))
}

/// Rejects a partial size line that can no longer become valid, so garbage fails fast.
fn check_partial_size_line(rest: &[u8], digit_count: usize) -> Result<(), HttpError> {
    let after_digits = rest.get(digit_count..).unwrap_or_default();
    if after_digits.is_empty() {
        return Ok(());
    }
    if digit_count == 0 {
        return Err(HttpError::new(
            400,
            "chunk size is not hexadecimal (RFC 9112 §7.1)",
        ));
    }
    // The line so far may end with the CR of its CRLF, which must not count as an extension byte.
    check_extensions(after_digits.strip_suffix(b"\r").unwrap_or(after_digits))
}

/// RFC 9112 §7.1.1: `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`.
/// A recipient "MUST ignore unrecognized chunk extensions", so only their outline is checked: optional
/// whitespace, then `;`, and no control characters (a stray CR would hide a line ending).
fn check_extensions(extensions: &[u8]) -> Result<(), HttpError> {
    let is_bws = |b: &u8| *b == b' ' || *b == b'\t';
    let after_whitespace = extensions.get(extensions.iter().take_while(|b| is_bws(b)).count()..);
    let after_whitespace = after_whitespace.unwrap_or_default();
    let outline_ok = match after_whitespace.first() {
        None => true,
        Some(&b';') => after_whitespace
            .iter()
            .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80),
        Some(_) => false,
    };
    if outline_ok {
        Ok(())
    } else {
        Err(HttpError::new(
            400,
            "invalid chunk size or extension (RFC 9112 §7.1.1)",
        ))
    }
}

/// Skips the trailer section after the last chunk (RFC 9112 §7.1.2): field lines, then an empty line.
/// Returns the bytes it took, or `None` while incomplete. Trailer fields are read and discarded: pushlab
/// gives them no meaning ("a recipient MAY ... discard" them).
fn skip_trailer_section(rest: &[u8]) -> Result<Option<usize>, HttpError> {
    let mut pos = 0;
    loop {
        let line = rest.get(pos..).unwrap_or_default();
        match line {
            [b'\r', b'\n', ..] => return Ok(Some(pos + 2)),
            [] | [b'\r'] => return Ok(None),
            [b'\r', ..] => {
                return Err(HttpError::new(
                    400,
                    "bad CRLF after the last chunk (RFC 9112 §7.1)",
                ))
            }
            // RFC 9112 §5.2: obsolete line folding is refused in trailers as in headers.
            [b' ' | b'\t', ..] => {
                return Err(HttpError::new(
                    400,
                    "obsolete line folding in trailer (RFC 9112 §5.2)",
                ))
            }
            _ => {}
        }
        let Some(line_end) = line.iter().position(|&b| b == b'\n') else {
            if pos + line.len() > MAX_TRAILER_BYTES {
                return Err(HttpError::new(
                    431,
                    "trailer section too large (RFC 6585 §5)",
                ));
            }
            return Ok(None);
        };
        pos += line_end + 1;
        if pos > MAX_TRAILER_BYTES {
            return Err(HttpError::new(
                431,
                "trailer section too large (RFC 6585 §5)",
            ));
        }
        let field = line.get(..line_end).unwrap_or_default();
        let well_formed =
            field.ends_with(b"\r") && field.iter().position(|&b| b == b':').is_some_and(|c| c > 0);
        if !well_formed {
            return Err(HttpError::new(
                400,
                "malformed trailer field (RFC 9112 §7.1.2)",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<ChunkedStatus, HttpError> {
        decode_chunked(bytes, 64)
    }

    fn complete(body: &[u8], consumed: usize) -> Result<ChunkedStatus, HttpError> {
        Ok(ChunkedStatus::Complete {
            body: body.to_vec(),
            consumed,
        })
    }

    fn status(bytes: &[u8]) -> u16 {
        decode(bytes).err().map_or(0, |e| e.status)
    }

    #[test]
    fn encodes_chunks_with_hex_sizes() {
        let mut out = Vec::new();
        encode_chunk(b"hello", &mut out);
        encode_chunk(b"", &mut out);
        encode_chunk(&[b'x'; 26], &mut out);
        encode_last_chunk(&mut out);
        let mut expected = b"5\r\nhello\r\n1a\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 26]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn encoded_chunks_decode_back() {
        let mut out = Vec::new();
        encode_chunk(b"push", &mut out);
        encode_chunk(b"lab", &mut out);
        encode_last_chunk(&mut out);
        assert_eq!(decode(&out), complete(b"pushlab", out.len()));
    }

    #[test]
    fn rfc9112_7_1_decodes_sizes_in_either_case_and_ignores_extensions() {
        let wire =
            b"A;name=value\r\n0123456789\r\n0b ; x ; y=\"q\"\r\nhello world\r\n000\r\n\r\nNEXT";
        assert_eq!(
            decode(wire),
            complete(b"0123456789hello world", wire.len() - 4)
        );
    }

    #[test]
    fn rfc9112_7_1_2_trailers_are_skipped() {
        let wire = b"3\r\nabc\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n";
        assert_eq!(decode(wire), complete(b"abc", wire.len()));
    }

    #[test]
    fn empty_body_is_just_the_last_chunk() {
        assert_eq!(decode(b"0\r\n\r\n"), complete(b"", 5));
    }

    #[test]
    fn incomplete_at_every_prefix() {
        let wire = b"3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
        for end in 0..wire.len() {
            assert_eq!(
                decode(&wire[..end]),
                Ok(ChunkedStatus::Incomplete),
                "prefix of {end} bytes"
            );
        }
        assert_eq!(decode(wire), complete(b"abc0123456789abcdef", wire.len()));
    }

    #[test]
    fn rfc9112_7_1_size_overflow_is_400() {
        assert_eq!(status(b"10000000000000000\r\n"), 400);
        assert_eq!(status(b"ffffffffffffffffff"), 400);
        // Leading zeros are not an overflow.
        let wire = b"00000000000000000000001\r\na\r\n0\r\n\r\n";
        assert_eq!(decode(wire), complete(b"a", wire.len()));
    }

    #[test]
    fn rfc9112_7_1_missing_or_bad_crlf_is_400() {
        assert_eq!(status(b"3\r\nabcX\r\n0\r\n\r\n"), 400);
        assert_eq!(status(b"3\r\nabc\rX"), 400);
        assert_eq!(
            status(b"3\nabc\r\n0\r\n\r\n"),
            400,
            "bare LF after the size"
        );
        assert_eq!(status(b"0\r\n\rX"), 400);
        assert_eq!(status(b"0\r\nno-colon\r\n\r\n"), 400);
        assert_eq!(status(b"0\r\n folded\r\n\r\n"), 400);
    }

    #[test]
    fn rfc9112_7_1_size_must_be_hex() {
        assert_eq!(status(b"g\r\n"), 400, "decided before the CRLF");
        assert_eq!(status(b"\r\n"), 400);
        assert_eq!(status(b"-1\r\n"), 400);
        assert_eq!(status(b"0x5\r\n"), 400);
        assert_eq!(status(b"5 5\r\n"), 400);
        assert_eq!(status(b"5\r5"), 400, "a CR inside the size line");
        assert_eq!(status(b"5\r;x"), 400, "a CR before the extensions");
        assert_eq!(status(b"5;a\rb\r\n"), 400, "a CR inside the extensions");
    }

    #[test]
    fn rfc9110_15_5_14_over_limit_is_413_before_the_data() {
        assert_eq!(decode_chunked(b"40\r\n", 64), Ok(ChunkedStatus::Incomplete));
        assert_eq!(
            decode_chunked(b"41\r\n", 64).map_err(|e| e.status),
            Err(413)
        );
        assert_eq!(decode_chunked(b"20\r\n", 64), Ok(ChunkedStatus::Incomplete));
        let mut wire = b"20\r\n".to_vec();
        wire.extend_from_slice(&[b'a'; 32]);
        wire.extend_from_slice(b"\r\n21\r\n");
        assert_eq!(decode_chunked(&wire, 64).map_err(|e| e.status), Err(413));
    }

    #[test]
    fn long_size_line_and_trailer_are_bounded() {
        let mut line = b"1;".to_vec();
        line.resize(MAX_CHUNK_SIZE_LINE_BYTES, b'x');
        assert_eq!(status(&line), 400);
        let mut trailer = b"0\r\nX: ".to_vec();
        trailer.resize(MAX_TRAILER_BYTES + 8, b'y');
        assert_eq!(status(&trailer), 431);
    }
}
