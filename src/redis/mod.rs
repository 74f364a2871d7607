//! Redis, spoken here: the RESP protocol as sans-IO code ([`resp`]) and the pieces that let several
//! pushlab processes share their topics through Redis Streams.
//!
//! Reading order:
//!
//! 1. [`resp`]: RESP2 framing, commands out and replies in, incremental and bounded;
//! 2. [`link`]: one connection to Redis driven by `mio`: pipelining, replies in order, reconnect;
//! 3. [`backend`]: the hub's second backend, the node's mirror of the shared log (ids, delivery,
//!    resume, readers waiting for a topic's first load, idle topics leaving Redis, publishing once
//!    with an idempotency key, the one clock per cluster, and what happens while Redis is away), with
//!    the channel sessions it shares in `backend/sessions.rs`;
//! 4. [`limits`]: the backend's bounds ([`RedisLimits`]);
//! 5. [`process`]: a `redis-server` child for tests, examples and the lab.
//!
//! [`resp`] does no I/O, like `http` and `ws`. [`link`] owns its socket and is driven by the server's
//! event loop (it is the one other place that reads and writes a socket in the server), and
//! [`backend`] turns replies into hub appends and outcomes for the server core. A Redis reply is input
//! from the network like any other: the same lints as in `http` and `ws` keep it from reaching a
//! panic, and a reply that breaks RESP or a limit costs only the connection to Redis, which is made
//! again.
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
pub mod resp;

pub use backend::Backend;
pub use limits::RedisLimits;
