//! Rules a peer can break, each carrying the close code that goes on the wire (design rule 5).
//!
//! Both [`crate::ws::frame`] (rules a header alone breaks) and [`crate::ws::protocol`] (rules of the
//! connection) fail with a [`WsError`]. It lives in its own module, below both, so that the dependency
//! between them goes one way: the protocol uses frames, frames know nothing of the protocol.

use std::fmt;

use crate::ws::close;

/// A rule the peer broke, with the close code that goes on the wire (design rule 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsError {
    /// Close code sent to the peer: 1002, 1007, 1008 or 1009.
    pub close_code: u16,
    /// Which rule, in words.
    pub reason: &'static str,
}

impl WsError {
    /// 1002: the peer broke a framing rule.
    pub const fn protocol(reason: &'static str) -> Self {
        WsError {
            close_code: close::PROTOCOL_ERROR,
            reason,
        }
    }
    /// 1007: text that is not UTF-8.
    pub const fn invalid_payload(reason: &'static str) -> Self {
        WsError {
            close_code: close::INVALID_PAYLOAD,
            reason,
        }
    }
    /// 1009: a message over the size limit.
    pub const fn too_big(reason: &'static str) -> Self {
        WsError {
            close_code: close::MESSAGE_TOO_BIG,
            reason,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "close {}: {}", self.close_code, self.reason)
    }
}

impl std::error::Error for WsError {}
