//! The event loop: one `mio::Poll`, a slab of connections, a deadline heap, a waker.

pub mod config;

use std::io;
use std::net::SocketAddr;

use crate::Config;

/// A server running on its own thread, for tests, examples and the lab. Dropping it shuts it down.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on (with the real port when the config asked for port 0).
    pub addr: SocketAddr,
}

impl RunningServer {
    /// Publishes `data` to `topic` from outside the loop (through the waker); returns the new id.
    pub fn publish(&self, topic: &str, data: &str) -> io::Result<u64> {
        let _ = (topic, data);
        todo!()
    }
    /// How many subscribers `topic` has now (asked of the loop through the waker).
    pub fn subscriber_count(&self, topic: &str) -> io::Result<usize> {
        let _ = topic;
        todo!()
    }
}

/// Binds `config.addr` and runs the server on a new thread.
pub fn spawn(config: Config) -> io::Result<RunningServer> {
    let _ = config;
    todo!()
}
