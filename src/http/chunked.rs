//! The chunked transfer coding (RFC 9112 §7.1): decoder for request bodies, encoder for streams.

use crate::http::HttpError;

/// Appends one chunk holding `data` to `out` (nothing if `data` is empty: an empty chunk ends the body).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    let _ = (data, out);
    todo!()
}

/// Appends the last chunk (`0\r\n\r\n`) that ends a chunked body.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    let _ = out;
    todo!()
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
    let _ = (buf, max_body_bytes);
    todo!()
}
