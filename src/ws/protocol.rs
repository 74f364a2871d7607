//! The per-connection WebSocket state machine (RFC 6455 §5–§7), sans-IO.

use std::fmt;
use std::time::Instant;

use crate::server::config::WsConfig;

/// Which end of the connection this is: servers never mask, clients always do (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The server end.
    Server,
    /// The client end.
    Client,
}

/// What the peer sent, once whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete text message, valid UTF-8.
    Text(String),
    /// A complete binary message.
    Binary(Vec<u8>),
    /// A ping (its pong has already been queued).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's close frame (our answering close has been queued if we had not sent one).
    Close {
        /// The close code, if the frame had one.
        code: Option<u16>,
        /// The reason text.
        reason: String,
    },
}

/// A rule the peer broke, with the close code that goes on the wire (design rule 5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsError {
    /// Close code sent to the peer: 1002, 1007, 1008 or 1009.
    pub close_code: u16,
    /// Which rule, in words.
    pub reason: &'static str,
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "close {}: {}", self.close_code, self.reason)
    }
}

impl std::error::Error for WsError {}

/// The result of one call to [`WsProtocol::read`].
#[derive(Debug, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes of the input used; the caller drops them before the next call.
    pub consumed: usize,
    /// An event, if one became whole.
    pub event: Option<Event>,
}

/// The state of one WebSocket connection.
#[derive(Debug)]
pub struct WsProtocol {
    _role: Role,
}

impl WsProtocol {
    /// A connection in the open state, just after the handshake.
    pub fn new(role: Role, config: &WsConfig, now: Instant) -> Self {
        let _ = (config, now);
        WsProtocol { _role: role }
    }
    /// Reads from the start of `input`. Frames the protocol itself must send (pong, close echo, close on
    /// error) are appended to `out`. `consumed == 0 && event == None` means "need more bytes".
    /// On `Err`, a close frame with the error's code has been appended to `out`.
    pub fn read(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<ReadOutcome, WsError> {
        let _ = (input, out, now);
        todo!()
    }
    /// Appends a text message frame to `out` (nothing after a close was sent).
    pub fn send_text(&mut self, text: &str, out: &mut Vec<u8>) {
        let _ = (text, out);
        todo!()
    }
    /// Appends a binary message frame to `out` (nothing after a close was sent).
    pub fn send_binary(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let _ = (data, out);
        todo!()
    }
    /// Appends a ping to `out`.
    pub fn send_ping(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let _ = (payload, out);
        todo!()
    }
    /// Starts the closing handshake: appends a close frame to `out` and waits for the peer's.
    pub fn close(&mut self, code: u16, reason: &str, out: &mut Vec<u8>, now: Instant) {
        let _ = (code, reason, out, now);
        todo!()
    }
    /// Whether a close frame has been sent (no more data may be sent, §5.5.1).
    pub fn close_sent(&self) -> bool {
        todo!()
    }
    /// Whether both close frames have crossed: the TCP connection should now be closed (§7.1.1).
    pub fn is_closed(&self) -> bool {
        todo!()
    }
    /// The next instant at which [`WsProtocol::on_timeout`] must be called (ping due, pong or close overdue).
    pub fn next_deadline(&self) -> Option<Instant> {
        todo!()
    }
    /// Acts on deadlines that have passed: queues a keep-alive ping into `out`, or returns `true` when the
    /// peer is dead (no pong, no close answer) and the TCP connection should be dropped.
    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        let _ = (now, out);
        todo!()
    }
}
