//! The Redis backend's bounds and settings, in one struct (design rule 6); `server::Config` composes it.

use std::time::Duration;

use super::resp::RespLimits;

/// Limits and settings of the Redis backend.
#[derive(Clone, Debug)]
pub struct RedisLimits {
    /// Entries the feed stream keeps (`XADD ... MAXLEN ~`). The feed only carries news between nodes;
    /// a node that falls further behind than this reloads the topic from its own stream, so this
    /// bounds Redis's memory, not what a client can resume.
    pub feed_retention: usize,
    /// Most feed entries one blocking `XREAD` returns (`COUNT`).
    pub follow_batch: usize,
    /// How long one blocking `XREAD` waits before Redis answers "nothing" and the node asks again
    /// (`BLOCK`). It also bounds how long a silently dead connection goes unnoticed on a quiet feed.
    pub follow_block: Duration,
    /// Most bytes of commands queued for Redis and not yet taken by the socket; past it, publishes
    /// answer 503 instead of growing the queue.
    pub max_unsent_bytes: usize,
    /// Most feed entries kept for one topic while its history is being loaded; past it they are
    /// dropped and the topic is loaded again afterwards.
    pub max_pending_per_topic: usize,
    /// How long a publish waits for Redis to store it before it answers 503.
    pub store_timeout: Duration,
    /// How long the clock lease lasts without renewal: the node holding it publishes the `clock`
    /// topic, and another node takes it over once it runs out (so a stopped holder's clock is missed
    /// for at most this long). Three ticks of the default one-second clock, so one late tick does
    /// not hand the clock over.
    pub clock_lease: Duration,
    /// The RESP parser's limits.
    pub resp: RespLimits,
}

impl Default for RedisLimits {
    fn default() -> Self {
        RedisLimits {
            feed_retention: 10_000,
            follow_batch: 512,
            follow_block: Duration::from_secs(5),
            max_unsent_bytes: 16 * 1024 * 1024,
            max_pending_per_topic: 10_000,
            store_timeout: Duration::from_secs(5),
            clock_lease: Duration::from_secs(3),
            resp: RespLimits::default(),
        }
    }
}
