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

/// The WebSocket protocol version pushlab speaks (RFC 6455 §4.1: the client sends 13).
pub const VERSION: &str = "13";

/// Exercise 9.3: what pushlab answers a handshake for `/ws/echo` with the `key`, `version` and `origin`
/// given, on a server whose own origin is `own_origin`: the status and the headers the answer must
/// carry. The server reads the handshake before it judges who sent it: a version other than 13 is
/// refused first (426, with the `Upgrade` to use as RFC 9110 §15.5.22 requires, and the version it
/// would accept, RFC 6455 §4.4), then a page of another origin (403: the browser's only protection,
/// §10.2); otherwise the server switches (101) and proves it read the key.
pub fn expected_answer(
    key: &str,
    version: &str,
    origin: Option<&str>,
    own_origin: &str,
) -> (u16, Vec<(&'static str, String)>) {
    if version != VERSION {
        let headers = vec![
            ("Upgrade", "websocket".to_string()),
            ("Sec-WebSocket-Version", VERSION.to_string()),
        ];
        return (426, headers);
    }
    if origin.is_some_and(|origin| origin != own_origin) {
        return (403, Vec::new());
    }
    let headers = vec![
        ("Upgrade", "websocket".to_string()),
        ("Connection", "Upgrade".to_string()),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ];
    (101, headers)
}
