//! The hub's bounds, in one struct (design rule 6): how much each topic keeps, how many topics may
//! exist, and when an unused topic goes.
//!
//! The hub owns its limits, so it imports nothing from the server; `server::Config` composes them
//! (`Config::hub`) and re-exports the type as `server::config::HubLimits`.

use std::time::Duration;

/// Retention and size limits of the message hub.
#[derive(Clone, Debug)]
pub struct HubLimits {
    /// Most messages a topic keeps for resume; past it the oldest is dropped.
    pub max_messages_per_topic: usize,
    /// Most bytes a topic's log may hold, counted by [`Message::stored_bytes`](super::Message::stored_bytes):
    /// the payload, its JSON form and the per-message overhead. Past it the oldest messages are
    /// dropped (the newest one always stays, so one message may exceed it by itself).
    pub max_bytes_per_topic: usize,
    /// Most topics that may exist at once. A new topic past this evicts the least recently used topic
    /// without subscribers; only when every topic has subscribers is it refused (HTTP 503).
    pub max_topics: usize,
    /// Largest message that may be published to a topic, through any door, in bytes.
    pub max_publish_bytes: usize,
    /// A topic without subscribers that has seen no publish, subscribe or read for this long is
    /// evicted ([`Hub::evict_idle`](super::Hub::evict_idle)).
    pub topic_idle_timeout: Duration,
    /// How long the idempotency key of a publish is remembered: a retry with the same key within
    /// this time gets the first id and stores nothing ([`Hub::publish_once`](super::Hub::publish_once)).
    pub publish_key_ttl: Duration,
    /// Most idempotency keys the in-memory hub remembers; past it the oldest are forgotten (a retry
    /// of a forgotten key publishes again). With `--redis` the keys live in Redis, bounded by the TTL.
    pub max_publish_keys: usize,
}

impl Default for HubLimits {
    fn default() -> Self {
        HubLimits {
            max_messages_per_topic: 10_000,
            max_bytes_per_topic: 16 * 1024 * 1024,
            max_topics: 1_024,
            max_publish_bytes: 64 * 1024,
            topic_idle_timeout: Duration::from_secs(15 * 60),
            publish_key_ttl: Duration::from_secs(10 * 60),
            max_publish_keys: 100_000,
        }
    }
}
