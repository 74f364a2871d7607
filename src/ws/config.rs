//! The settings of the WebSocket layer, owned by the layer that enforces them (design rule 6).
//!
//! [`crate::server::config::Config`] composes these with the other layers' limits; the handshake and the
//! protocol state machine only ever see this struct, so the `ws` layer never reaches up into `server`.

use std::time::Duration;

/// Settings of the WebSocket protocol (RFC 6455).
#[derive(Clone, Debug)]
pub struct WsConfig {
    /// Largest message (all fragments together) in bytes; larger closes with 1009.
    pub max_message_bytes: usize,
    /// Send a ping after this long without hearing from the peer.
    pub ping_interval: Duration,
    /// A peer that does not answer a ping within this long is considered dead; its TCP connection is
    /// dropped.
    pub pong_timeout: Duration,
    /// After sending a close frame, wait this long for the peer's close before closing TCP (§7.1.1).
    pub close_timeout: Duration,
    /// Origins allowed to open a WebSocket besides the server's own (`Origin` matching `Host`).
    /// A browser request from any other origin is refused with 403 (cross-site WebSocket hijacking).
    pub allowed_origins: Vec<String>,
    /// Subprotocols the server speaks, in order of preference (`Sec-WebSocket-Protocol`, §4.2.2).
    pub subprotocols: Vec<String>,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message_bytes: 16 * 1024 * 1024,
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            allowed_origins: Vec::new(),
            subprotocols: Vec::new(),
        }
    }
}
