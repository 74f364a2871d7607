//! The opening handshake (RFC 6455 §4).

use crate::http::{Request, Response};
use crate::server::config::WsConfig;

/// The GUID every server appends to the client's key (§1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let _ = key;
    todo!()
}

/// Whether a request asks for a WebSocket upgrade at all (`Upgrade: websocket`), so the router can send it
/// to [`check_upgrade`] rather than treat it as plain HTTP.
pub fn is_upgrade_request(request: &Request) -> bool {
    let _ = request;
    todo!()
}

/// A valid upgrade: what the 101 response needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// The subprotocol chosen from the client's offer, if any.
    pub subprotocol: Option<String>,
}

/// Checks an upgrade request (§4.2.1). On failure returns the error response to send: 400 for a
/// malformed handshake, 426 with `Sec-WebSocket-Version: 13` for a wrong version, 403 for an origin not
/// allowed, 405 for a method other than GET.
pub fn check_upgrade(request: &Request, config: &WsConfig) -> Result<Upgrade, Response> {
    let _ = (request, config);
    todo!()
}

/// The `101 Switching Protocols` response for a valid upgrade (§4.2.2).
pub fn switching_protocols(upgrade: &Upgrade) -> Response {
    let _ = upgrade;
    todo!()
}
