//! pushlab: every way a server pushes data to a browser, written from scratch and compared side by side.
#![deny(missing_docs)]

pub mod client;
pub mod http;
pub mod hub;
pub mod server;
pub mod transport;
pub mod ws;

pub use server::config::Config;
