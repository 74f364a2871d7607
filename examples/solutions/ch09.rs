//! Chapter 9, the WebSocket handshake: model answers.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

/// The GUID that RFC 6455 §1.3 appends to the key.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Exercise 9.1: `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2):
/// base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let digest = Sha1::digest(format!("{key}{GUID}").as_bytes());
    STANDARD.encode(digest)
}

/// Exercise 9.2: whether a `Sec-WebSocket-Key` is acceptable (§4.1): base64 that decodes to exactly
/// 16 bytes. Anything else is answered 400.
pub fn key_is_valid(key: &str) -> bool {
    STANDARD
        .decode(key.trim())
        .is_ok_and(|bytes| bytes.len() == 16)
}
