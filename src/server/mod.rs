//! The event loop: one `mio::Poll`, a slab of connections, a deadline heap, a waker.

pub mod config;
