//! One client connection: its socket, its buffers, and the state machine of what it is doing.
//!
//! # Theory of operation
//!
//! A connection starts in [`State::Request`]: it reads bytes, parses HTTP requests and answers them in
//! order (keep-alive and pipelining fall out of that loop). A request can move it to another state:
//!
//! ```text
//!            ┌──────────── answered, keep-alive ───────────────┐
//!            ▼                                                 │
//!   accept ─► Request ──(long poll / JSONP, nothing new)──► Held ──(message or hold timeout)
//!            │   │
//!            │   ├──(stream, iframe, SSE)──► Stream ──(size limit reached)──► Request
//!            │   └──(101 Switching Protocols)──► WebSocket
//!            │
//!            └──(error, Connection: close, peer gone)──► Closing ──(output flushed, peer quiet)──► closed
//! ```
//!
//! Every state knows its one deadline (header timeout, idle timeout, hold, heartbeat, WebSocket ping,
//! lingering close), which `Server::deadline` (in `event_loop.rs`) reads. Input that arrives while a
//! request is held stays in the input buffer and is parsed once the held response is done, so pipelined
//! requests are still answered in order.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;

use mio::net::TcpStream;

use crate::server::input::InputBuffer;
use crate::transport::StreamFormat;
use crate::ws::WsProtocol;

/// What a held-open request is waiting to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldKind {
    /// `GET /longpoll/{topic}`: answers JSON.
    LongPoll,
    /// `GET /jsonp/{topic}`: answers `callback(JSON)`.
    Jsonp {
        /// The validated callback name.
        callback: String,
    },
}

/// A long poll or JSONP poll parked until a message arrives or the hold ends.
#[derive(Debug)]
pub struct Held {
    /// How to answer.
    pub kind: HeldKind,
    /// The topic subscribed to.
    pub topic: String,
    /// When to answer with an empty list.
    pub until: Instant,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
}

/// A streaming response held open (XHR stream, iframe, SSE).
pub struct PushStream {
    /// How messages are framed.
    pub format: Box<dyn StreamFormat>,
    /// The topic subscribed to.
    pub topic: String,
    /// Body bytes sent so far (the response ends past `limit_bytes`).
    pub body_bytes: usize,
    /// End the response after this many body bytes (`None`: never).
    pub limit_bytes: Option<usize>,
    /// When the next heartbeat is due.
    pub next_heartbeat: Instant,
    /// Whether the connection stays open once the response ends.
    pub keep_alive: bool,
}

impl std::fmt::Debug for PushStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushStream")
            .field("topic", &self.topic)
            .field("body_bytes", &self.body_bytes)
            .finish_non_exhaustive()
    }
}

/// What a WebSocket connection is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsRole {
    /// `/ws/echo`: every message comes back unchanged.
    Echo,
    /// `/ws/{topic}`: pushes the topic's messages; text from the client is published.
    Topic(String),
}

/// An open WebSocket.
#[derive(Debug)]
pub struct WebSocket {
    /// The protocol state machine.
    pub protocol: WsProtocol,
    /// What the socket is for.
    pub role: WsRole,
}

/// The connection's state (see the module docs for the transitions).
#[derive(Debug)]
pub enum State {
    /// Reading and answering HTTP requests. `started` is when the first byte of the request being read
    /// arrived (`None` while idle between requests).
    Request {
        /// First byte of the current request.
        started: Option<Instant>,
    },
    /// A long poll or JSONP request parked in the hub.
    Held(Held),
    /// A streaming response.
    Stream(PushStream),
    /// After `101 Switching Protocols`.
    WebSocket(WebSocket),
    /// Flushing the last bytes; the connection closes after `until` at the latest.
    Closing {
        /// When to give up and close.
        until: Instant,
    },
}

impl State {
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            State::Request { .. } => "request",
            State::Held(_) => "held",
            State::Stream(_) => "stream",
            State::WebSocket(_) => "websocket",
            State::Closing { .. } => "closing",
        }
    }
}

/// One client connection.
#[derive(Debug)]
pub struct Connection {
    /// The socket.
    pub stream: TcpStream,
    /// The peer's address, for logs.
    pub peer: SocketAddr,
    /// Distinguishes this connection from an earlier one that had the same token.
    pub serial: u64,
    /// Bytes read and not yet parsed.
    pub input: InputBuffer,
    /// Bytes waiting to be written, from `output_sent` on.
    pub output: Vec<u8>,
    /// How much of `output` has been written.
    pub output_sent: usize,
    /// The state machine.
    pub state: State,
    /// The peer closed its sending side (read returned 0).
    pub peer_closed: bool,
    /// When the connection last did anything (for the idle timeout).
    pub last_active: Instant,
    /// The earliest deadline currently in the timer heap for this connection.
    pub scheduled: Option<Instant>,
    /// The kernel reported that the peer hung up: read on to the end of the stream.
    pub hung_up: bool,
    /// `100 Continue` has been sent for the request being read.
    pub continue_sent: bool,
}

/// What a read pass found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadResult {
    /// The socket has no more bytes for now.
    Drained,
    /// The peer closed its side.
    Eof,
    /// Reading stopped because the input buffer reached its bound.
    Full,
}

impl Connection {
    /// A new connection in the request state.
    pub fn new(stream: TcpStream, peer: SocketAddr, serial: u64, now: Instant) -> Self {
        Connection {
            stream,
            peer,
            serial,
            input: InputBuffer::default(),
            output: Vec::new(),
            output_sent: 0,
            state: State::Request { started: None },
            peer_closed: false,
            last_active: now,
            scheduled: None,
            continue_sent: false,
            hung_up: false,
        }
    }

    /// Bytes queued and not yet written.
    pub fn pending_output(&self) -> usize {
        self.output.len() - self.output_sent
    }

    /// Reads until the kernel's buffer is empty (design rule 7: drain readiness, retry on `Interrupted`),
    /// appending to `input` but never past `max_input_bytes`. "Empty" is `WouldBlock`, or a read that
    /// returned less than asked for (as tokio also reasons), which saves the `WouldBlock` call. Bytes go
    /// straight into `input`'s storage, borrowing the server's `spare` storage when `input` has none.
    pub fn read_available(
        &mut self,
        spare: &mut Vec<u8>,
        max_input_bytes: usize,
    ) -> io::Result<ReadResult> {
        loop {
            let limit = max_input_bytes.saturating_sub(self.input.len());
            if limit == 0 {
                return Ok(ReadResult::Full);
            }
            let room = self.input.room(limit, spare);
            let want = room.len();
            match self.stream.read(room) {
                Ok(0) => {
                    self.peer_closed = true;
                    return Ok(ReadResult::Eof);
                }
                Ok(n) => {
                    self.input.filled(n);
                    // A short read emptied the kernel's buffer: asking again would only return
                    // WouldBlock, one wasted system call per message. New bytes raise a new edge. A
                    // hang-up reported with this event is the exception: its EOF must still be read.
                    if n < want && !self.hung_up {
                        return Ok(ReadResult::Drained);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadResult::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes queued output until done or the socket would block. Returns whether everything was written.
    pub fn flush(&mut self) -> io::Result<bool> {
        while self.output_sent < self.output.len() {
            match self.stream.write(&self.output[self.output_sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.output_sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.compact_output();
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        // Everything went out: give the memory back, so an idle connection costs almost nothing.
        self.output = Vec::new();
        self.output_sent = 0;
        Ok(true)
    }

    /// Drops the part of `output` already written once it is large, so appending does not grow forever.
    fn compact_output(&mut self) {
        if self.output_sent > 64 * 1024 && self.output_sent * 2 > self.output.len() {
            self.output.drain(..self.output_sent);
            self.output_sent = 0;
        }
    }

    /// Closes our sending side: the peer reads EOF after the bytes already written.
    pub fn shutdown_write(&self) {
        // An error here means the peer is already gone, which is what we want anyway.
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}
