//! The opening handshake (RFC 6455 §4).
//!
//! A WebSocket starts life as an HTTP/1.1 GET that asks to switch protocols (§4.1):
//!
//! ```text
//! GET /ws/echo HTTP/1.1
//! Host: 127.0.0.1:8080
//! Upgrade: websocket
//! Connection: Upgrade
//! Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
//! Sec-WebSocket-Version: 13
//! Origin: http://127.0.0.1:8080
//! ```
//!
//! The server checks it (§4.2.1) and, if all is well, answers `101 Switching Protocols` (§4.2.2):
//!
//! ```text
//! HTTP/1.1 101 Switching Protocols
//! Upgrade: websocket
//! Connection: Upgrade
//! Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//! ```
//!
//! From the next byte on, both sides speak frames ([`crate::ws::frame`]).
//!
//! The accept value proves that the server read the key and understands WebSocket: it is
//! base64(SHA-1(key + a fixed GUID)). A plain HTTP server, or a cache replaying an old answer, cannot
//! produce it. It is not authentication: anybody can compute it.
//!
//! `Origin` is what protects a browser user: a page on another site can open a WebSocket to this server
//! with the user's cookies (cross-site WebSocket hijacking), and only the `Origin` header, which the
//! browser sets and scripts cannot forge, tells the server who asked (§10.2). Clients that are not
//! browsers send no `Origin` and are let in.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::http::site::origin_allowed;
use crate::http::{Request, Response};
use crate::ws::WsConfig;

/// The GUID every server appends to the client's key (§1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version RFC 6455 defines (§4.1, §11.6).
pub const WEBSOCKET_VERSION: &str = "13";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    // RFC 6455 §4.2.2: concatenate the key (as sent, not decoded) with the GUID, SHA-1 it, base64 the
    // 20-byte digest.
    let mut sha1 = Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}

/// Whether a request asks for a WebSocket upgrade at all (`Upgrade: websocket`), so the router can send it
/// to [`check_upgrade`] rather than treat it as plain HTTP.
pub fn is_upgrade_request(request: &Request) -> bool {
    has_token(request, "Upgrade", "websocket")
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
/// malformed handshake, 426 with `Upgrade: websocket` and `Sec-WebSocket-Version: 13` for a wrong
/// version, 403 for an origin not allowed, 405 for a method other than GET.
pub fn check_upgrade(request: &Request, config: &WsConfig) -> Result<Upgrade, Response> {
    // RFC 6455 §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    if request.method != "GET" {
        return Err(
            refuse(405, "a WebSocket handshake must be a GET request").with_header("Allow", "GET")
        );
    }
    if request.version < 1 {
        return Err(refuse(400, "a WebSocket handshake needs HTTP/1.1"));
    }
    // §4.2.1 item 2: "A |Host| header field containing the server's authority."
    let Some(host) = single_header(request, "Host").filter(|host| !host.is_empty()) else {
        return Err(refuse(400, "missing Host header"));
    };
    // §4.2.1 items 3 and 4: Upgrade includes "websocket", Connection includes "Upgrade", both
    // case-insensitive tokens in comma-separated lists.
    if !has_token(request, "Upgrade", "websocket") {
        return Err(refuse(400, "Upgrade header does not name websocket"));
    }
    if !has_token(request, "Connection", "Upgrade") {
        return Err(refuse(400, "Connection header does not include Upgrade"));
    }
    // §4.2.1 item 6 and §4.2.2: a version the server does not speak is answered with the versions it
    // does speak, "such as 426 Upgrade Required", so that the client can retry. RFC 9110 §15.5.22:
    // "The server MUST send an Upgrade header field in a 426 response" naming the protocol required.
    if single_header(request, "Sec-WebSocket-Version") != Some(WEBSOCKET_VERSION) {
        return Err(refuse(426, "only WebSocket version 13 is supported")
            .with_header("Upgrade", "websocket")
            .with_header("Sec-WebSocket-Version", WEBSOCKET_VERSION));
    }
    // §4.2.1 item 5 and §4.1: the key is a base64-encoded 16-byte nonce.
    let Some(key) = single_header(request, "Sec-WebSocket-Key") else {
        return Err(refuse(400, "missing or repeated Sec-WebSocket-Key"));
    };
    if !is_valid_key(key) {
        return Err(refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64"));
    }
    // §10.2: refuse browsers on pages from other origins (cross-site WebSocket hijacking).
    if let Some(origin) = header_values(request, "Origin").next() {
        if !origin_allowed(origin, host, &config.allowed_origins) {
            return Err(refuse(403, "Origin not allowed"));
        }
    }
    Ok(Upgrade {
        accept: accept_key(key),
        subprotocol: choose_subprotocol(request, &config.subprotocols),
    })
}

/// The `101 Switching Protocols` response for a valid upgrade (§4.2.2).
///
/// permessage-deflate and other extensions are never accepted, so there is no
/// `Sec-WebSocket-Extensions` header: a client that offered one must then not use it (§9.1).
pub fn switching_protocols(upgrade: &Upgrade) -> Response {
    let mut headers = vec![
        ("Upgrade".to_string(), "websocket".to_string()),
        ("Connection".to_string(), "Upgrade".to_string()),
        ("Sec-WebSocket-Accept".to_string(), upgrade.accept.clone()),
    ];
    if let Some(subprotocol) = &upgrade.subprotocol {
        headers.push(("Sec-WebSocket-Protocol".to_string(), subprotocol.clone()));
    }
    Response {
        status: 101,
        headers,
        body: Vec::new(),
        chunked: false,
    }
}

/// A refusal with a short plain-text body saying why.
fn refuse(status: u16, reason: &str) -> Response {
    Response {
        status,
        headers: vec![(
            "Content-Type".to_string(),
            "text/plain; charset=utf-8".to_string(),
        )],
        body: format!("{reason}\n").into_bytes(),
        chunked: false,
    }
}

/// Adds a header to a refusal (the `Response` builder methods belong to the HTTP layer).
trait WithHeader {
    fn with_header(self, name: &str, value: &str) -> Self;
}

impl WithHeader for Response {
    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// Every value of header `name` (case-insensitive, §4.2.1 via RFC 9110 §5.1) that is valid UTF-8.
fn header_values<'r>(request: &'r Request, name: &'r str) -> impl Iterator<Item = &'r str> + 'r {
    request
        .headers
        .iter()
        .filter(move |header| header.name.eq_ignore_ascii_case(name))
        .filter_map(|header| std::str::from_utf8(&header.value).ok())
        .map(|value| value.trim_matches([' ', '\t']))
}

/// The value of a header that must appear exactly once; `None` if absent, repeated or not UTF-8.
fn single_header<'r>(request: &'r Request, name: &'r str) -> Option<&'r str> {
    let mut values = header_values(request, name);
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

/// The tokens of every comma-separated value of header `name` (RFC 9110 §5.6.1), empty ones skipped.
fn header_tokens<'r>(request: &'r Request, name: &'r str) -> impl Iterator<Item = &'r str> + 'r {
    header_values(request, name)
        .flat_map(|value| value.split(','))
        .map(|token| token.trim_matches([' ', '\t']))
        .filter(|token| !token.is_empty())
}

/// Whether header `name` lists `token`, compared case-insensitively.
fn has_token(request: &Request, name: &str, token: &str) -> bool {
    header_tokens(request, name).any(|candidate| candidate.eq_ignore_ascii_case(token))
}

/// RFC 6455 §4.1: the key is "a randomly selected 16-byte value that has been base64-encoded".
fn is_valid_key(key: &str) -> bool {
    BASE64.decode(key).is_ok_and(|nonce| nonce.len() == 16)
}

/// RFC 6455 §4.2.2 item 4: the server picks one of the subprotocols the client offered, or none. Here the
/// server's own order of preference decides. Identifiers are compared exactly, as browsers do: the RFC
/// defines no case folding for them, unlike for the `Upgrade` and `Connection` tokens.
fn choose_subprotocol(request: &Request, server_subprotocols: &[String]) -> Option<String> {
    server_subprotocols
        .iter()
        .find(|ours| {
            header_tokens(request, "Sec-WebSocket-Protocol").any(|offered| offered == ours.as_str())
        })
        .cloned()
}

#[cfg(test)]
mod tests;
