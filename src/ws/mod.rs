//! WebSocket (RFC 6455), written here on top of `sha1` and `base64`.
//!
//! Everything in this module is sans-IO: no socket, no clock, no file. [`handshake`] checks an upgrade
//! request and builds the 101 answer, [`frame`] reads and writes frames, [`utf8`] validates text
//! incrementally, [`close`] knows the close codes, [`error`] carries a broken rule with its close code,
//! and [`protocol`] is the per-connection state machine that turns bytes into messages and messages into
//! bytes (`now` comes in as an argument). [`mask_key`] gives a client its masking keys, and [`config`]
//! holds every setting of this layer ([`WsConfig`]). The blocking client on `std::net` built from the
//! same parts lives with the other clients, in [`crate::client::ws`].
//!
//! Reading order for a student: [`handshake`] (how the connection changes protocol), [`frame`] (what
//! crosses the wire), [`utf8`] and [`close`] (the two checks on payloads), then [`protocol`] (how it all
//! fits in one state machine).
//!
//! Dependencies inside the layer go one way: [`protocol`] uses [`frame`], [`utf8`], [`close`],
//! [`mask_key`] and [`error`]; [`frame`] uses only [`error`]; nothing here imports from the layers above
//! (`server`, `transport`, `hub`), which `tests/layering.rs` checks.
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

pub mod close;
pub mod config;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask_key;
pub mod protocol;
pub mod utf8;

pub use config::WsConfig;
pub use error::WsError;
pub use protocol::{EchoInPlace, Event, ReadOutcome, Role, WsProtocol};
