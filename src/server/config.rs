//! Every limit and timeout of the server, in one place (design rule 6).
//!
//! Each field has a safe default that the README's limits table repeats. Each protocol layer owns the
//! struct of its own limits ([`HttpLimits`] in [`crate::http`], [`WsConfig`] in [`crate::ws`]), and
//! [`Config`] composes them, so protocol code never imports from `server`: it receives the part it needs
//! and never reads a global. `HttpLimits` and `WsConfig` are re-exported here so that
//! `server::config::{HttpLimits, WsConfig}` names the same types.

use std::net::SocketAddr;
use std::time::Duration;

/// Each layer owns its limits; they are re-exported here so `server::config::HttpLimits` and the others
/// keep working.
pub use crate::http::HttpLimits;
pub use crate::hub::HubLimits;
pub use crate::redis::RedisLimits;
pub use crate::ws::WsConfig;

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
    /// Most connections one client address may hold at once (`--max-connections-per-ip`); one more is
    /// answered 503 and closed. Generous, because a whole classroom may share one NAT address.
    pub max_connections_per_ip: usize,
    /// Publishes per second that one client address may make, sustained (`--publish-rate`): a token
    /// bucket refilled at this rate. Over it, `POST /publish` answers 429 with `Retry-After` and a
    /// WebSocket publisher is closed with 1008. 0 turns the limit off.
    pub publish_rate_per_ip: u32,
    /// The bucket's size: how many publishes a client address may make in a burst before the rate
    /// applies.
    pub publish_burst_per_ip: u32,
    /// Host names the server answers to besides IP address literals and `localhost` (`--allow-host`);
    /// any other `Host` is answered 421, which closes DNS rebinding (see [`crate::http::site`]).
    pub allowed_hosts: Vec<String>,
    /// A shared secret that every publisher must present (`--publish-token`): `Authorization: Bearer
    /// <token>` on `POST /publish`, that header or `?token=` on a `/ws/{topic}` upgrade. `None`: anyone
    /// who passes the origin check may publish.
    pub publish_token: Option<String>,
    /// Serve the JSONP door (`--no-jsonp` turns it off; `/jsonp/...` then answers 404). JSONP lets any
    /// site read a topic, by design: see `transport::jsonp`.
    pub jsonp: bool,
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
    /// Most output bytes queued for one client (replay, messages, heartbeats, pings, echoes and answers
    /// alike). A subscriber stops pulling from the log and an echo or pipelining client stops being
    /// read until the socket drains. A peer that takes none of the bytes waiting for it for a whole
    /// heartbeat or ping interval is dropped (WebSocket: close 1008).
    pub max_pending_output_bytes: usize,
    /// Most bytes held by all connections' input and output buffers together. Past it, new requests
    /// are answered 503 and the subscribers with the most unsent output are dropped.
    pub max_buffered_bytes: usize,
    /// Most messages in one poll, long-poll or JSONP response; the client asks again at once for more.
    pub max_batch_messages: usize,
    /// The reconnection delay an SSE stream asks the browser for (`retry:`), in milliseconds.
    pub sse_retry_ms: u64,
    /// A channel session with nobody connected survives this long (so a client can reconnect to it).
    pub session_grace: Duration,
    /// Most channel sessions open at once; one more answers 503.
    pub max_sessions: usize,
    /// How often the server looks for what time alone ends: channel sessions past their grace, topics
    /// idle past `hub.topic_idle_timeout`, full publish buckets to forget. A session or topic therefore
    /// ends up to this long after its time; tests set it short so they need not wait.
    pub housekeeping_interval: Duration,
    /// Publish the server time to the `clock` topic at this interval (`None`: no clock).
    pub clock_interval: Option<Duration>,
    /// HTTP parser limits.
    pub http: HttpLimits,
    /// WebSocket settings.
    pub ws: WsConfig,
    /// Hub retention.
    pub hub: HubLimits,
    /// Share topics with other pushlab processes through the Redis server at this address
    /// (`--redis HOST:PORT`); `None`, the default: the in-memory hub alone, no external service.
    pub redis: Option<SocketAddr>,
    /// The Redis backend's limits (used only with `redis`).
    pub redis_limits: RedisLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trace: false,
            refuse_websocket: false,
            max_connections: 10_240,
            max_connections_per_ip: 1_024,
            publish_rate_per_ip: 100,
            publish_burst_per_ip: 200,
            allowed_hosts: Vec::new(),
            publish_token: None,
            jsonp: true,
            header_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(60),
            hold_timeout: Duration::from_secs(20),
            heartbeat_interval: Duration::from_secs(15),
            max_stream_bytes: 128 * 1024,
            max_pending_output_bytes: 1024 * 1024,
            max_buffered_bytes: 512 * 1024 * 1024,
            max_batch_messages: 100,
            sse_retry_ms: 2_000,
            session_grace: Duration::from_secs(30),
            max_sessions: 10_000,
            housekeeping_interval: Duration::from_secs(1),
            clock_interval: Some(Duration::from_secs(1)),
            http: HttpLimits::default(),
            ws: WsConfig::default(),
            hub: HubLimits::default(),
            redis: None,
            redis_limits: RedisLimits::default(),
        }
    }
}
