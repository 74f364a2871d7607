//! Redis, spoken here: the RESP protocol as sans-IO code ([`resp`]) and the pieces that let several
//! pushlab processes share their topics through Redis Streams.
//!
//! Reading order:
//!
//! 1. [`resp`]: RESP2 framing, commands out and replies in, incremental and bounded;
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

pub mod resp;
