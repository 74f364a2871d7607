//! Sans-IO WebSocket conformance: the rules of RFC 6455 checked on [`WsProtocol`] with bytes in memory,
//! organised like the sections of the Autobahn test suite:
//!
//! | module          | Autobahn section                          |
//! |-----------------|-------------------------------------------|
//! | `framing`       | 1 framing, 2 ping/pong, 3 reserved bits, 4 reserved opcodes |
//! | `fragmentation` | 5 fragmentation                           |
//! | `utf8`          | 6 UTF-8 handling                          |
//! | `close`         | 7 close handling and codes                |
//! | `limits`        | 9 limits and performance                  |
//! | `in_memory`     | a client and a server protocol connected back to back |
//! | `random_input`  | random bytes and random frames: no panic, one close with a peer-fault code |
//!
//! Every case that sends bytes is run three ways (fed whole, one byte at a time, and in odd-sized chunks)
//! through a driver that does what the event loop does: append input, call `read` until it makes no
//! progress, drop what was consumed.

#[path = "ws_codec/support.rs"]
mod support;

#[path = "ws_codec/framing.rs"]
mod framing;

#[path = "ws_codec/fragmentation.rs"]
mod fragmentation;

#[path = "ws_codec/utf8.rs"]
mod utf8;

#[path = "ws_codec/close.rs"]
mod close;

#[path = "ws_codec/limits.rs"]
mod limits;

#[path = "ws_codec/in_memory.rs"]
mod in_memory;

#[path = "ws_codec/random_input.rs"]
mod random_input;
