//! Close codes (RFC 6455 §7.4 and the IANA registry).
//!
//! A close frame (§5.5.1) carries either nothing, or a two-byte big-endian status code followed by a
//! UTF-8 reason. The code space is split into ranges (§7.4.2):
//!
//! | range       | who defines it                           | may a peer send it?                       |
//! |-------------|------------------------------------------|-------------------------------------------|
//! | 0–999       | nobody                                   | never                                     |
//! | 1000–2999   | the RFC and its extensions (IANA)        | only the registered codes, see below      |
//! | 3000–3999   | libraries and frameworks (IANA)          | yes                                       |
//! | 4000–4999   | private use by applications              | yes                                       |
//! | 5000–65535  | nobody                                   | never                                     |
//!
//! Of the registered codes, 1004 is reserved, and 1005 ("no status"), 1006 ("abnormal closure") and
//! 1015 ("TLS failure") exist only so that APIs can *report* those situations: §7.4.1 says they MUST
//! NOT be set as a status code in a close frame. A close frame carrying one of them, or any code that is
//! not valid, is a protocol error answered with 1002.

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
    match code {
        // §7.4.1: normal, going away, protocol error, unsupported data.
        1000..=1003 => true,
        // §7.4.1: 1004 is reserved; 1005 and 1006 MUST NOT be sent in a close frame.
        1004..=1006 => false,
        // §7.4.1: invalid payload, policy violation, too big, extension missing, internal error;
        // IANA has since registered 1012 (service restart), 1013 (try again later), 1014 (bad gateway).
        1007..=1014 => true,
        // 1015 (TLS handshake failure) MUST NOT be sent; 1016–2999 are unassigned.
        1015..=2999 => false,
        // §7.4.2: 3000–3999 registered with IANA for libraries, 4000–4999 private use.
        3000..=4999 => true,
        // Below 1000 and 5000 or more: not used (§7.4.2).
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes the conformance tools probe as valid (Autobahn case 7.7.x).
    const PROBED_VALID: [u16; 14] = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999, 1012,
    ];
    /// The codes the conformance tools probe as invalid (Autobahn case 7.9.x).
    const PROBED_INVALID: [u16; 9] = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999];

    #[test]
    fn probed_valid_codes_are_accepted() {
        for code in PROBED_VALID {
            assert!(is_valid_close_code(code), "{code} should be valid");
        }
    }

    #[test]
    fn probed_invalid_codes_are_refused() {
        for code in PROBED_INVALID {
            assert!(!is_valid_close_code(code), "{code} should be invalid");
        }
    }

    #[test]
    fn every_code_matches_the_ranges() {
        for code in 0..=u16::MAX {
            let expected = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(is_valid_close_code(code), expected, "code {code}");
        }
    }
}
