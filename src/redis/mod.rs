//! Redis, spoken here: the RESP protocol as sans-IO code ([`resp`]) and the pieces that let several
//! pushlab processes share their topics through Redis Streams.
//!
//! Reading order:
//!
//! 1. [`resp`]: RESP2 framing, commands out and replies in, incremental and bounded;
//! 2. [`link`]: one connection to Redis driven by `mio`: pipelining, replies in order, reconnect;
//! 3. [`backend`]: the hub's second backend, the node's mirror of the shared log (ids, delivery,
//!    resume, and what happens while Redis is away);
//! 4. [`limits`]: the backend's bounds ([`RedisLimits`]);
//! 5. [`process`]: a `redis-server` child for tests, examples and the lab.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation,
    )
)]

pub mod backend;
pub mod limits;
pub mod link;
pub mod process;

pub use backend::Backend;
pub use limits::RedisLimits;
pub mod resp;
