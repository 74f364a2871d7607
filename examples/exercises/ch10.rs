//! Your WebSocket frame decoder (chapter 10, exercise 10.1). Write `decode_frame`, then check it:
//!
//! ```text
//! PUSHLAB_STUDENT=1 cargo test --test exercises ch10_track
//! ```
//!
//! The checks feed it the example frames of RFC 6455 §5.7, every prefix of them (a decoder must say
//! "need more bytes", not fail), frames followed by the next one, and the frames pushlab refuses. The
//! model answer is in `examples/solutions/ch10.rs`: try first.

/// A whole decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The last frame of its message.
    pub fin: bool,
    /// 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong.
    pub opcode: u8,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

/// Exercise 10.1: decodes the frame at the start of `buf` (RFC 6455 §5.2):
/// - `Ok(None)` while the frame is not all there yet;
/// - `Ok(Some((frame, length)))`, with `length` the bytes the frame took (more may follow);
/// - `Err(why)` for a reserved bit set, a reserved opcode (3-7, 11-15), a control frame (8-15) that is
///   fragmented or longer than 125 bytes, or a 64-bit length with its most significant bit set.
///
/// A masked payload is unmasked: byte `i` XOR key byte `i % 4` (§5.3).
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
    todo!("exercise 10.1: decode {} bytes", buf.len())
}
