//! WebSocket (RFC 6455), written here on top of `sha1` and `base64`.
//!
//! Sans-IO: [`handshake`] checks an upgrade request and builds the 101 answer, [`frame`] reads and writes
//! frames, [`utf8`] validates text incrementally, [`close`] knows the close codes, and [`protocol`] is the
//! per-connection state machine that turns bytes into messages and messages into bytes. [`mask_key`]
//! gives a client its masking keys. [`client`] is a small blocking client on `std::net` built from the
//! same parts.
//!
//! Reading order for a student: [`handshake`] (how the connection changes protocol), [`frame`] (what
//! crosses the wire), [`utf8`] and [`close`] (the two checks on payloads), then [`protocol`] (how it all
//! fits in one state machine).

pub mod client;
pub mod close;
pub mod frame;
pub mod handshake;
pub mod mask_key;
pub mod protocol;
pub mod utf8;

pub use protocol::{Event, ReadOutcome, Role, WsError, WsProtocol};
