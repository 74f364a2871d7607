//! Frames (RFC 6455 §5.2): header decoding over partial buffers, encoding, masking.
//!
//! Every WebSocket message travels as one or more frames. A frame is a header of 2 to 14 bytes and a
//! payload:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```
//!
//! - FIN: this is the last frame of a message (§5.4).
//! - RSV1–3: reserved for extensions; without a negotiated extension they MUST be 0.
//! - opcode: what the frame is ([`Opcode`]); 0x3–0x7 and 0xB–0xF are reserved.
//! - MASK and the masking key: clients mask every frame, servers never do (§5.3).
//! - payload length: 0–125 in the 7 bits; 126 means "the next 2 bytes hold it"; 127 means "the next 8
//!   bytes hold it, with the most significant bit 0".
//!
//! [`decode_header`] reads a header from the start of a buffer that may hold only part of it, and tells
//! "need more bytes" (`Ok(None)`) apart from a header that breaks a rule (`Err`). It checks every rule a
//! header alone can break; the rules that depend on the connection (who must mask, which frame may follow
//! which, how big a message may grow) belong to [`crate::ws::protocol`].
// A frame header carries a 64-bit length from the wire: arithmetic here is checked, never a
// wrap or a panic ("No panic from the network" in the crate docs).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use crate::ws::error::WsError;

/// Frame opcodes (§5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: a text message (UTF-8).
    Text,
    /// 0x2: a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl Opcode {
    /// The opcode for the 4 bits of a header, or `None` for a reserved one (0x3–0x7, 0xB–0xF).
    pub fn from_bits(bits: u8) -> Option<Opcode> {
        match bits {
            0x0 => Some(Opcode::Continuation),
            0x1 => Some(Opcode::Text),
            0x2 => Some(Opcode::Binary),
            0x8 => Some(Opcode::Close),
            0x9 => Some(Opcode::Ping),
            0xA => Some(Opcode::Pong),
            _ => None,
        }
    }

    /// The 4 bits that stand for this opcode in a header.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Control frames (close, ping, pong) have the high bit of the opcode set (§5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }
}

/// The largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD_BYTES: usize = 125;

/// The longest possible header: 2 bytes, 8 bytes of extended length, 4 bytes of masking key.
pub const MAX_HEADER_BYTES: usize = 14;

/// A decoded frame header (§5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The masking key, present in every frame a client sends.
    pub mask: Option<[u8; 4]>,
    /// Length of the payload that follows the header, in bytes.
    pub payload_len: u64,
}

/// Bits of the first header byte.
const FIN_BIT: u8 = 0x80;
const RSV_BITS: u8 = 0x70;
const OPCODE_BITS: u8 = 0x0F;
/// Bits of the second header byte.
const MASK_BIT: u8 = 0x80;
const LEN7_BITS: u8 = 0x7F;

/// Reads `N` bytes at `at` and says where they end, or `None` if the buffer is too short so far.
fn bytes_at<const N: usize>(buf: &[u8], at: usize) -> Option<([u8; N], usize)> {
    let end = at.checked_add(N)?;
    let bytes = buf.get(at..end)?.try_into().ok()?;
    Some((bytes, end))
}

/// Decodes the header at the start of `buf`. Returns `Ok(None)` while the buffer holds only part of it,
/// `Ok(Some((header, header_len)))` once it is whole (the payload starts at `header_len`), and `Err` with
/// close code 1002 for a header that breaks §5.2 or §5.5.
pub fn decode_header(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, WsError> {
    let Some(([first, second], _)) = bytes_at::<2>(buf, 0) else {
        return Ok(None);
    };
    // RFC 6455 §5.2: "RSV1, RSV2, RSV3: MUST be 0 unless an extension is negotiated that defines
    // meanings for non-zero values." pushlab negotiates no extension.
    if first & RSV_BITS != 0 {
        return Err(WsError::protocol(
            "reserved bit set without a negotiated extension",
        ));
    }
    // RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket
    // Connection_."
    let Some(opcode) = Opcode::from_bits(first & OPCODE_BITS) else {
        return Err(WsError::protocol("reserved opcode"));
    };
    let fin = first & FIN_BIT != 0;
    let len7 = second & LEN7_BITS;
    if opcode.is_control() {
        // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST
        // NOT be fragmented."
        if !fin {
            return Err(WsError::protocol("fragmented control frame"));
        }
        if usize::from(len7) > MAX_CONTROL_PAYLOAD_BYTES {
            return Err(WsError::protocol("control frame payload over 125 bytes"));
        }
    }
    let (payload_len, length_end) = match len7 {
        126 => match bytes_at::<2>(buf, 2) {
            Some((len16, end)) => (u64::from(u16::from_be_bytes(len16)), end),
            None => return Ok(None),
        },
        127 => match bytes_at::<8>(buf, 2) {
            // RFC 6455 §5.2: "the most significant bit MUST be 0". A receiver need not insist on the
            // shortest length encoding, so a small length in 8 bytes is accepted.
            Some((len64, _)) if len64[0] & 0x80 != 0 => {
                return Err(WsError::protocol(
                    "64-bit payload length with the most significant bit set",
                ))
            }
            Some((len64, end)) => (u64::from_be_bytes(len64), end),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    let (mask, header_len) = if second & MASK_BIT != 0 {
        match bytes_at::<4>(buf, length_end) {
            Some((key, end)) => (Some(key), end),
            None => return Ok(None),
        }
    } else {
        (None, length_end)
    };
    Ok(Some((
        FrameHeader {
            fin,
            opcode,
            mask,
            payload_len,
        },
        header_len,
    )))
}

/// Appends the header of a frame with a `payload_len`-byte payload to `out` (§5.2), choosing the
/// shortest length encoding.
pub fn encode_header(
    fin: bool,
    opcode: Opcode,
    payload_len: usize,
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) {
    let fin_bit = if fin { FIN_BIT } else { 0 };
    out.push(fin_bit | opcode.bits());
    let mask_bit = if mask.is_some() { MASK_BIT } else { 0 };
    match (u8::try_from(payload_len), u16::try_from(payload_len)) {
        (Ok(short @ 0..=125), _) => out.push(mask_bit | short),
        (_, Ok(medium)) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&medium.to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(payload_len as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// Appends one unfragmented-or-not frame to `out`. `mask` is `Some(key)` for a client, `None` for a server.
pub fn encode_frame(
    fin: bool,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) {
    out.reserve(MAX_HEADER_BYTES.saturating_add(payload.len()));
    encode_header(fin, opcode, payload.len(), mask, out);
    let payload_start = out.len();
    out.extend_from_slice(payload);
    if let (Some(key), Some(payload_in_out)) = (mask, out.get_mut(payload_start..)) {
        apply_mask(payload_in_out, key, 0);
    }
}

/// XORs `data` with `key`, as if `data` started at byte `offset` of the payload (§5.3). Word at a time.
///
/// RFC 6455 §5.3: octet `i` of the payload is XORed with octet `i % 4` of the key. Masking is its own
/// inverse, so the same function masks and unmasks. `offset` lets a payload that arrives in pieces be
/// unmasked piece by piece.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that `key[0]` applies to `data[0]`.
    let mut key = key;
    key.rotate_left(offset % 4);
    // Head: byte by byte until `data` is 8-byte aligned, so the words below are aligned loads.
    let head_len = data.as_ptr().align_offset(8).min(data.len());
    let (head, rest) = data.split_at_mut(head_len);
    apply_mask_bytewise(head, key);
    key.rotate_left(head_len % 4);
    // Body: 8 bytes at a time against the key repeated twice. Byte order does not matter: XOR works on
    // each byte on its own, and the word is built and taken apart in the same (native) order.
    let [k0, k1, k2, k3] = key;
    let key_word = u64::from_ne_bytes([k0, k1, k2, k3, k0, k1, k2, k3]);
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        word.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ key_word).to_ne_bytes());
    }
    // Tail: fewer than 8 bytes; a multiple of 8 bytes went before, so the key is still in phase.
    apply_mask_bytewise(words.into_remainder(), key);
}

/// Appends `masked` to `out`, XORed with `key` as if it started at byte `offset` of the payload: the
/// copy and the unmasking of [`apply_mask`] in one pass over the bytes instead of two. A receiver
/// moving a frame's payload out of its read buffer into the message uses this.
pub fn extend_unmasked(out: &mut Vec<u8>, masked: &[u8], key: [u8; 4], offset: usize) {
    let mut key = key;
    key.rotate_left(offset % 4);
    // The key repeated over a block: each block of `masked` is zipped with it. Iterators over two
    // slices, zipped and mapped, have an exact length, so `extend` reserves once and the loop compiles
    // to wide vector XORs with no bounds check per byte.
    let mut key_block = [0u8; MASK_BLOCK_BYTES];
    for (byte, key_byte) in key_block.iter_mut().zip(key.iter().cycle()) {
        *byte = *key_byte;
    }
    out.reserve(masked.len());
    // A block is a multiple of 4 bytes, so every block starts in phase with the key.
    for block in masked.chunks(MASK_BLOCK_BYTES) {
        out.extend(block.iter().zip(key_block.iter()).map(|(byte, k)| byte ^ k));
    }
}

/// The block `extend_unmasked` works in: a multiple of 4 (the key's length) and of the widest vector.
const MASK_BLOCK_BYTES: usize = 256;

/// The byte-at-a-time mask, for the unaligned head and the short tail.
fn apply_mask_bytewise(data: &mut [u8], key: [u8; 4]) {
    for (byte, key_byte) in data.iter_mut().zip(key.iter().cycle()) {
        *byte ^= key_byte;
    }
}

#[cfg(test)]
mod tests;
