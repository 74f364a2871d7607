//! WebSocket on a topic: the one door that is a real two-way channel.
//!
//! # How it works
//!
//! `new WebSocket("ws://host/ws/chat?after=1043")` sends a `GET` with `Upgrade: websocket`; the server
//! answers `101 Switching Protocols` (RFC 6455 §4) and from then on the TCP connection carries frames,
//! not HTTP (§5). On `/ws/{topic}` the server subscribes the connection to the topic, replays the
//! messages after `after`, and then pushes each new message as one text frame holding the same JSON
//! object every other door sends. A text frame from the browser is published to the topic.
//!
//! ```text
//! GET /ws/chat?after=1043 HTTP/1.1
//! Host: 127.0.0.1:8080
//! Upgrade: websocket
//! Connection: Upgrade
//! Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
//! Sec-WebSocket-Version: 13
//!
//! HTTP/1.1 101 Switching Protocols
//! Upgrade: websocket
//! Connection: Upgrade
//! Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//!
//! 81 19 {"id":1044,"data":"news"}      <- FIN + text opcode, length 25, unmasked payload
//! ```
//!
//! # Framing and end of the session
//!
//! One text frame (RFC 6455 §5.6) per message: [`message_text`], framed by the connection's own
//! protocol state, which is this door's [`PushDoor`]. A reader that asked for an id older
//! than the log first gets the text frame [`reset_text`], `{"reset":true,"last":N}` with `N` =
//! [`super::reset_point`] (the id just before the first replayed message), and then the oldest kept
//! messages. The session ends with a close handshake (§5.5.1, §7). A subscriber that stops reading
//! stops being sent messages once its output reaches its budget (the rest waits in the topic log);
//! if it takes none of the frames waiting for it for a whole ping interval it is closed with 1008
//! (policy violation).
//!
//! # Compared with the other six
//!
//! | | HTTP doors | WebSocket |
//! |---|---|---|
//! | direction | server to browser; upstream is a separate `POST` | both ways on one connection |
//! | framing | JSON documents, lines, scripts or SSE fields | length-prefixed frames: no escaping for framing's sake |
//! | per-message overhead | a whole request (polls) or a few bytes (streams) | 2 to 14 bytes of frame header |
//! | resume | `after` / `Last-Event-ID` | `after` in the URL; the page reconnects itself |
//! | proxies | plain HTTP, passes almost everything | needs proxies that understand `Upgrade` |
//!
//! The JSON escaping of `<`, `>`, `&` is not needed here, but it is harmless, and sending the exact bytes
//! of [`crate::hub::Message::json`] means one encoding per message for every door.
//!
//! # Pitfalls
//!
//! - Check `Origin` in the handshake: browsers send cookies with a WebSocket request from any site
//!   (cross-site WebSocket hijacking).
//! - Frames from the browser are masked, the server's are not (§5.1, §5.3).
//! - Text must be valid UTF-8 across the whole message (§8.1).
//! - No automatic reconnection: the page must reconnect with `after` = the last id it saw.

use crate::hub::Message;
use crate::transport::json::reset_json;
use crate::transport::PushDoor;
use crate::ws::frame::{encode_frame, Opcode};
use crate::ws::{close, Event, WsProtocol};

/// What a WebSocket connection is for, chosen by its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketRole {
    /// `/ws/echo`: every message comes back unchanged (the conformance target).
    Echo,
    /// `/ws/{topic}`: pushes the topic's messages; text from the client is published to it.
    Topic(String),
    /// `/ws/{topic}` opened without the publish token the server requires (`--publish-token`): pushes
    /// the topic's messages; text from the client is refused with 1008.
    ReadOnlyTopic(String),
    /// `/ws/session-{id}`: pushes the session's private queue (this topic); text goes to its channel
    /// application. The session id is the topic's suffix, so it is not stored twice.
    Session(String),
}

impl SocketRole {
    /// The topic the socket pushes, if any.
    pub fn topic(&self) -> Option<&str> {
        match self {
            SocketRole::Echo => None,
            SocketRole::Topic(topic)
            | SocketRole::ReadOnlyTopic(topic)
            | SocketRole::Session(topic) => Some(topic),
        }
    }
}

/// What the server does with a message the client sent, by what the socket is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// Send this text message back.
    EchoText(String),
    /// Send this binary message back.
    EchoBinary(Vec<u8>),
    /// Publish this text to the socket's topic.
    Publish(String),
    /// Hand this text to the session's channel application.
    ToSession(String),
    /// Close the connection with this code: the client sent what the socket does not carry.
    Refuse {
        /// RFC 6455 §7.4.1 close code.
        code: u16,
        /// Why, for the close frame.
        reason: &'static str,
    },
    /// Nothing to do (pings and closes were answered by the protocol itself).
    Nothing,
}

/// Decides what an event from the client means on a socket with `role`.
pub fn inbound(role: &SocketRole, event: Event) -> Inbound {
    match (event, role) {
        (Event::Text(text), SocketRole::Echo) => Inbound::EchoText(text),
        (Event::Binary(data), SocketRole::Echo) => Inbound::EchoBinary(data),
        (Event::Text(text), SocketRole::Topic(_)) => Inbound::Publish(text),
        (Event::Text(text), SocketRole::Session(_)) => Inbound::ToSession(text),
        (Event::Text(_), SocketRole::ReadOnlyTopic(_)) => Inbound::Refuse {
            code: close::POLICY_VIOLATION,
            reason: "publishing needs the publish token",
        },
        // RFC 6455 §7.4.1: 1003, "a type of data it cannot accept": topics carry text.
        (Event::Binary(_), _) => Inbound::Refuse {
            code: close::UNSUPPORTED_DATA,
            reason: "topics carry text",
        },
        (Event::Ping(_) | Event::Pong(_) | Event::Close { .. }, _) => Inbound::Nothing,
    }
}

/// The text of the frame that carries `message`: `{"id":N,"data":"..."}`.
// ANCHOR: message_text
pub fn message_text(message: &Message) -> &str {
    &message.json
}
// ANCHOR_END: message_text

/// Appends the frame that carries `message` from any server: one final text frame (§5.6), unmasked
/// as every server's frame is (§5.1). These bytes are the same on every connection, so a broadcast
/// encodes them once and writes them to every subscriber that was waiting for this message (see
/// `Room::shared_frame`); they are exactly what [`WsProtocol::send_text`] appends for a server.
pub fn encode_message_frame(message: &Message, out: &mut Vec<u8>) {
    encode_frame(
        true,
        Opcode::Text,
        message_text(message).as_bytes(),
        None,
        out,
    );
}

/// The text of the frame that tells the client it missed messages: `{"reset":true,"last":N}`.
pub fn reset_text(last: u64) -> String {
    reset_json(last)
}

/// A WebSocket on a topic pushes each piece as one text frame (RFC 6455 §5.6), written by the
/// connection's own protocol state, which writes nothing once its close frame went out (§5.5.1).
impl PushDoor for WsProtocol {
    fn reset(&mut self, last: u64, piece: &mut Vec<u8>) {
        self.send_text(&reset_text(last), piece);
    }

    fn message(&mut self, message: &Message, piece: &mut Vec<u8>) {
        self.send_text(message_text(message), piece);
    }

    /// Nothing: a WebSocket's heartbeat is its protocol's ping, sent on the protocol's own timer
    /// (§5.5.2), which also notices a peer that stopped answering.
    fn heartbeat(&mut self, _piece: &mut Vec<u8>) {}

    /// A WebSocket ends only with a close handshake, never at a size.
    fn sent(&mut self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::message_json;

    #[test]
    fn what_a_client_message_means_depends_on_the_socket() {
        let topic = SocketRole::Topic("chat".into());
        assert_eq!(
            inbound(&topic, Event::Text("hi".into())),
            Inbound::Publish("hi".into())
        );
        assert!(matches!(
            inbound(&topic, Event::Binary(vec![1])),
            Inbound::Refuse { code: 1003, .. }
        ));
        assert_eq!(
            inbound(&SocketRole::Echo, Event::Binary(vec![1])),
            Inbound::EchoBinary(vec![1])
        );
    }

    #[test]
    fn frames_carry_the_shared_json() {
        let message = Message {
            id: 3,
            data: "a\"b".into(),
            json: message_json(3, "a\"b"),
        };
        assert_eq!(message_text(&message), r#"{"id":3,"data":"a\"b"}"#);
        assert_eq!(reset_text(17), r#"{"reset":true,"last":17}"#);
    }

    #[test]
    fn a_topic_socket_pushes_one_unmasked_text_frame_per_piece_until_its_close() {
        use crate::ws::{Role, WsConfig};
        let now = std::time::Instant::now();
        let mut socket = WsProtocol::new(Role::Server, &WsConfig::default(), now);
        let message = Message {
            id: 3,
            data: "hi".into(),
            json: message_json(3, "hi"),
        };
        let mut piece = Vec::new();
        socket.message(&message, &mut piece);
        assert_eq!(piece, b"\x81\x14{\"id\":3,\"data\":\"hi\"}");
        piece.clear();
        socket.reset(9, &mut piece);
        assert_eq!(piece, b"\x81\x17{\"reset\":true,\"last\":9}");
        piece.clear();
        socket.heartbeat(&mut piece);
        assert!(piece.is_empty(), "the protocol pings instead");
        assert!(!socket.sent(), "no size limit");
        let mut close = Vec::new();
        socket.close(1000, "", &mut close, now);
        socket.message(&message, &mut piece);
        assert!(piece.is_empty(), "no data frame after our close (§5.5.1)");
    }

    #[test]
    fn the_frame_encoded_once_is_what_every_server_socket_would_send_until_its_close() {
        use crate::ws::{Role, WsConfig};
        let now = std::time::Instant::now();
        let mut server = WsProtocol::new(Role::Server, &WsConfig::default(), now);
        // Payload lengths around the three length encodings of §5.2 (7 bits, 16 bits, 64 bits).
        for data_len in [0, 100, 125 - 18, 126 - 18, 65_535 - 18, 65_536 - 18, 70_000] {
            let data = "x".repeat(data_len);
            let message = Message {
                id: 7,
                json: message_json(7, &data),
                data,
            };
            let (mut shared, mut own) = (Vec::new(), Vec::new());
            encode_message_frame(&message, &mut shared);
            server.message(&message, &mut own);
            assert_eq!(shared, own, "payload of {} bytes", message.json.len());
        }
        assert!(server.takes_shared_frames());
        let client = WsProtocol::new(Role::Client, &WsConfig::default(), now);
        assert!(!client.takes_shared_frames(), "a client masks every frame");
        server.close(1000, "", &mut Vec::new(), now);
        assert!(
            !server.takes_shared_frames(),
            "no data frame after our close"
        );
    }
}
