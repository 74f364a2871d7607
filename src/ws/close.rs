//! Close codes (RFC 6455 §7.4 and the IANA registry).

/// 1000: normal closure.
pub const NORMAL: u16 = 1000;
/// 1001: going away (server shutting down, page navigated away).
pub const GOING_AWAY: u16 = 1001;
/// 1002: protocol error.
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a data type the endpoint cannot accept.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1007: a text message that is not valid UTF-8.
pub const INVALID_PAYLOAD: u16 = 1007;
/// 1008: a message that violates policy (also: a subscriber too slow to keep up).
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: a message too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1011: the server hit an unexpected condition.
pub const INTERNAL_ERROR: u16 = 1011;

/// Whether a peer may send `code` in a close frame (§7.4.1, §7.4.2).
pub fn is_valid_close_code(code: u16) -> bool {
    let _ = code;
    todo!()
}
