//! Chapter 11, WebSocket in the server: model answers.

use std::io;
use std::net::SocketAddr;

use pushlab::client::ws::Client;
use pushlab::ws::Event;

/// What a close frame's payload means (RFC 6455 §5.5.1, §7.4).
#[derive(Debug, PartialEq, Eq)]
pub enum ClosePayload {
    /// No payload: a close without a code.
    NoCode,
    /// A code a peer may send, and a UTF-8 reason.
    Code(u16, String),
    /// Answer with close 1002 (a bad code, one byte) or 1007 (a reason that is not UTF-8).
    Fail(u16),
}

/// Exercise 11.1: reads a close frame's payload. Codes a peer may send: 1000-1003, 1007-1014 and
/// 3000-4999; every other code, and a one-byte payload, is a protocol error (1002).
pub fn close_payload(payload: &[u8]) -> ClosePayload {
    match payload {
        [] => ClosePayload::NoCode,
        [_] => ClosePayload::Fail(1002),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            let allowed = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            match (allowed, std::str::from_utf8(reason)) {
                (false, _) => ClosePayload::Fail(1002),
                (true, Err(_)) => ClosePayload::Fail(1007),
                (true, Ok(reason)) => ClosePayload::Code(code, reason.to_string()),
            }
        }
    }
}

/// Exercise 11.2: over a real socket: opens `/ws/echo`, sends `text`, returns what comes back, then
/// closes with 1000.
pub fn echo(addr: SocketAddr, text: &str) -> io::Result<String> {
    let mut client = Client::connect(addr, "/ws/echo")?;
    client.send_text(text)?;
    // Skip pings and pongs: the first message is the echo.
    let answer = loop {
        match client.recv()? {
            Event::Text(text) => break text,
            Event::Close { code, .. } => {
                return Err(io::Error::other(format!("closed with {code:?}")))
            }
            _ => continue,
        }
    };
    client.close_normal()?;
    Ok(answer)
}
