//! The server: a sans-IO core driven by a hand-written `mio` event loop.
//!
//! Read it in this order:
//!
//! - [`connection`]: one connection's state machine, every transition in one file, no socket;
//! - [`output`]: the output queue and its budget, the one choke point for every byte sent;
//! - [`routes`]: which door a request opens (the URL contract of the README), and every refusal's status;
//! - [`room`]: the shared state the doors open onto: hub, sessions, subscriptions;
//! - [`core`]: all connections, deadlines, delivery and budgets, still without a socket;
//! - [`event_loop`]: the thin driver: mio, sockets, the waker, the clock;
//! - [`input`], [`timers`], [`slab`]: the input buffer, the deadline heap, connections by token;
//! - [`channel_routes`]: the channel API over HTTP;
//! - [`config`]: every limit, with its default.
//!
//! Other threads talk to the loop through a [`ServerHandle`]: a command is queued on a channel and the
//! loop is woken by a `mio::Waker` to run it.
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

pub mod channel_routes;
pub mod config;
pub mod connection;
pub mod core;
pub mod event_loop;
pub mod input;
pub mod output;
pub mod rate;
pub mod room;
pub mod routes;
pub mod slab;
pub mod timers;

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use mio::Waker;

pub use event_loop::Server;

use crate::hub::HubError;
use crate::Config;

/// Work handed to the loop from another thread.
#[derive(Debug)]
pub enum Command {
    /// Publish `data` to `topic`; the new id (or the refusal) is sent back.
    Publish {
        /// Topic name.
        topic: String,
        /// Payload.
        data: String,
        /// Where the answer goes.
        reply: Sender<Result<u64, HubError>>,
    },
    /// How many subscribers `topic` has.
    SubscriberCount {
        /// Topic name.
        topic: String,
        /// Where the answer goes.
        reply: Sender<usize>,
    },
    /// How many client connections are open.
    ConnectionCount {
        /// Where the answer goes.
        reply: Sender<usize>,
    },
    /// Bytes held by all connections' input and output buffers (the global budget's count).
    BufferedBytes {
        /// Where the answer goes.
        reply: Sender<usize>,
    },
    /// How many topics the hub holds.
    TopicCount {
        /// Where the answer goes.
        reply: Sender<usize>,
    },
    /// How many panics the loop caught and survived (each closed one connection).
    InternalErrors {
        /// Where the answer goes.
        reply: Sender<usize>,
    },
    /// Close every client connection at once (to test reconnection).
    DropConnections,
    /// Stop the loop.
    Shutdown,
}

/// A cloneable, thread-safe way to reach a running server's loop.
#[derive(Clone, Debug)]
pub struct ServerHandle {
    commands: Sender<Command>,
    waker: Arc<Waker>,
}

impl ServerHandle {
    fn send(&self, command: Command) -> io::Result<()> {
        self.commands
            .send(command)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "server stopped"))?;
        self.waker.wake()
    }

    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Command) -> io::Result<T> {
        let (reply, answer) = mpsc::channel();
        self.send(make(reply))?;
        answer
            .recv()
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "server stopped"))
    }

    /// Publishes `data` to `topic`; returns the new message id.
    pub fn publish(&self, topic: &str, data: &str) -> io::Result<u64> {
        let result = self.ask(|reply| Command::Publish {
            topic: topic.into(),
            data: data.into(),
            reply,
        })?;
        result.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
    }

    /// How many subscribers `topic` has now.
    pub fn subscriber_count(&self, topic: &str) -> io::Result<usize> {
        self.ask(|reply| Command::SubscriberCount {
            topic: topic.into(),
            reply,
        })
    }

    /// How many client connections are open now.
    pub fn connection_count(&self) -> io::Result<usize> {
        self.ask(|reply| Command::ConnectionCount { reply })
    }

    /// How many panics the loop caught and survived: zero unless pushlab has a bug.
    pub fn internal_errors(&self) -> io::Result<usize> {
        self.ask(|reply| Command::InternalErrors { reply })
    }

    /// Bytes held by all connections' input and output buffers now.
    pub fn buffered_bytes(&self) -> io::Result<usize> {
        self.ask(|reply| Command::BufferedBytes { reply })
    }

    /// How many topics the hub holds now.
    pub fn topic_count(&self) -> io::Result<usize> {
        self.ask(|reply| Command::TopicCount { reply })
    }

    /// Closes every client connection.
    pub fn drop_connections(&self) -> io::Result<()> {
        self.send(Command::DropConnections)
    }

    /// Stops the loop (connections are closed as it returns).
    pub fn shutdown(&self) -> io::Result<()> {
        self.send(Command::Shutdown)
    }
}

/// A server running on its own thread, for tests, examples and the lab. Dropping it shuts it down.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on (with the real port when the config asked for port 0).
    pub addr: SocketAddr,
    /// A handle to its loop.
    pub handle: ServerHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl RunningServer {
    /// Publishes `data` to `topic` from outside the loop (through the waker); returns the new id.
    pub fn publish(&self, topic: &str, data: &str) -> io::Result<u64> {
        self.handle.publish(topic, data)
    }

    /// How many subscribers `topic` has now (asked of the loop through the waker).
    pub fn subscriber_count(&self, topic: &str) -> io::Result<usize> {
        self.handle.subscriber_count(topic)
    }

    /// How many client connections are open now.
    pub fn connection_count(&self) -> io::Result<usize> {
        self.handle.connection_count()
    }

    /// Closes every client connection at once, as a crash or a network change would.
    pub fn drop_connections(&self) -> io::Result<()> {
        self.handle.drop_connections()
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds `config.addr` and runs the server on a new thread.
pub fn spawn(config: Config) -> io::Result<RunningServer> {
    spawn_with(config, |_| {})
}

/// Like [`spawn`], after `setup` has prepared the server on its thread (to register channel
/// applications, whose handlers need not be `Send`).
pub fn spawn_with(
    config: Config,
    setup: impl FnOnce(&mut Server) + Send + 'static,
) -> io::Result<RunningServer> {
    // The server is built on its own thread: its hub shares messages with `Rc`, which never crosses threads.
    let (ready, is_ready) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("pushlab-loop".into())
        .spawn(move || {
            let bound = Server::bind(config).and_then(|server| Ok((server.local_addr()?, server)));
            match bound {
                Ok((addr, mut server)) => {
                    setup(&mut server);
                    let _ = ready.send(Ok((addr, server.handle())));
                    server.run()
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                    Ok(())
                }
            }
        })?;
    let (addr, handle) = is_ready.recv().map_err(|_| {
        io::Error::new(
            io::ErrorKind::BrokenPipe,
            "server thread ended before it was ready",
        )
    })??;
    Ok(RunningServer {
        addr,
        handle,
        thread: Some(thread),
    })
}

/// Milliseconds since the Unix epoch (read by the event loop only).
pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One log line on standard error.
pub(crate) fn log(peer: Option<SocketAddr>, message: std::fmt::Arguments<'_>) {
    match peer {
        Some(peer) => eprintln!("pushlab: {peer}: {message}"),
        None => eprintln!("pushlab: {message}"),
    }
}

/// Prints the head of an HTTP message (up to the blank line) for `--trace`, with its direction.
pub(crate) fn trace_head(peer: SocketAddr, direction: &str, bytes: &[u8]) {
    let head_bytes = match bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => bytes.get(..end).unwrap_or(bytes),
        None => bytes,
    };
    let head = String::from_utf8_lossy(head_bytes);
    let mut text = String::new();
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        text.push_str(&format!("{direction} {line}\n"));
    }
    println!("[{peer}]\n{text}");
}
