//! Frames (RFC 6455 §5.2): header decoding over partial buffers, encoding, masking.

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

/// Appends one unfragmented-or-not frame to `out`. `mask` is `Some(key)` for a client, `None` for a server.
pub fn encode_frame(
    fin: bool,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut Vec<u8>,
) {
    let _ = (fin, opcode, payload, mask, out);
    todo!()
}

/// XORs `data` with `key`, as if `data` started at byte `offset` of the payload (§5.3). Word at a time.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let _ = (data, key, offset);
    todo!()
}
