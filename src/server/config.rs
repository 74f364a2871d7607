//! Every limit and timeout of the server, in one place (design rule 6).
//!
//! Each field has a safe default that the README's limits table repeats. Protocol code receives the part
//! it needs ([`HttpLimits`], [`WsConfig`], [`HubLimits`]) and never reads a global.

use std::net::SocketAddr;
use std::time::Duration;

/// The hub owns its limits (`src/hub/limits.rs`); re-exported here so `server::config::HubLimits`
/// keeps working.
pub use crate::hub::HubLimits;

/// Limits of the HTTP/1.1 request parser (RFC 9112, RFC 6585).
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Longest request line (method, target, version) in bytes; longer answers 414.
    pub max_request_line_bytes: usize,
    /// Largest header block (request line included) in bytes; larger answers 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more answers 431.
    pub max_headers: usize,
    /// Largest request body in bytes (after chunked decoding); larger answers 413.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_request_line_bytes: 8 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
        }
    }
}

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

/// The whole configuration of a pushlab server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on (`--addr`); pushlab binds loopback by default.
    pub addr: SocketAddr,
    /// Print every request and response head as it crosses the wire (`--trace`).
    pub trace: bool,
    /// Answer every WebSocket upgrade with 500, to show the client's fallback (`--refuse-websocket`).
    pub refuse_websocket: bool,
    /// Most connections open at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// A request (head and body) must be complete within this long of its first byte, else 408.
    pub header_timeout: Duration,
    /// After its last answer, a closing connection may take this long to read it and hang up before the
    /// server cuts it off (a lingering close: see `State::Closing`).
    pub linger: Duration,
    /// An idle keep-alive connection is closed after this long.
    pub idle_timeout: Duration,
    /// How long a long poll (and a JSONP poll) is held before it answers an empty list.
    pub hold_timeout: Duration,
    /// Held streams (XHR, iframe, SSE) send a heartbeat after this long without a message.
    pub heartbeat_interval: Duration,
    /// An XHR or iframe streaming response ends after this many body bytes; the client reconnects.
    pub max_stream_bytes: usize,
    /// Most output bytes waiting for a slow client; past this a subscriber is dropped.
    pub max_pending_output_bytes: usize,
    /// Most messages in one poll, long-poll or JSONP response; the client asks again at once for more.
    pub max_batch_messages: usize,
    /// The reconnection delay an SSE stream asks the browser for (`retry:`), in milliseconds.
    pub sse_retry_ms: u64,
    /// A channel session with nobody connected survives this long (so a client can reconnect to it).
    pub session_grace: Duration,
    /// Most channel sessions open at once; one more answers 503.
    pub max_sessions: usize,
    /// Publish the server time to the `clock` topic at this interval (`None`: no clock).
    pub clock_interval: Option<Duration>,
    /// HTTP parser limits.
    pub http: HttpLimits,
    /// WebSocket settings.
    pub ws: WsConfig,
    /// Hub retention.
    pub hub: HubLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trace: false,
            refuse_websocket: false,
            max_connections: 10_240,
            header_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(60),
            hold_timeout: Duration::from_secs(20),
            heartbeat_interval: Duration::from_secs(15),
            max_stream_bytes: 128 * 1024,
            max_pending_output_bytes: 1024 * 1024,
            max_batch_messages: 100,
            sse_retry_ms: 2_000,
            session_grace: Duration::from_secs(30),
            max_sessions: 10_000,
            clock_interval: Some(Duration::from_secs(1)),
            http: HttpLimits::default(),
            ws: WsConfig::default(),
            hub: HubLimits::default(),
        }
    }
}
