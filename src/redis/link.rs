//! One connection to Redis, driven by the event loop's `mio::Poll`: non-blocking, no thread, commands
//! pipelined and their replies matched in order, and a reconnect with backoff when it breaks.
//!
//! # Theory of operation
//!
//! ```text
//!   Down { retry_at } ──(timer)──► Connecting ──(writable, no error)──► Up
//!        ▲                              │                               │
//!        └──────── connect failed ──────┘◄──── read/write error, EOF, ───┘
//!                  (backoff doubles)           protocol error
//! ```
//!
//! RESP answers commands in the order they were sent ("Multiple commands and pipelining" in the
//! spec), so the link needs no ids on the wire: it keeps the caller's tag of each command sent in a
//! queue, and each reply parsed pops the front tag. When the connection breaks, every tag still in the
//! queue comes back in [`LinkEvent::Down`]: those commands may or may not have run, and the caller
//! must not report them as done.
//!
//! The link owns its socket, like the event loop owns the clients' sockets: it is the only other place
//! that does I/O. Everything about RESP is in [`super::resp`], which does none. Time is passed in
//! (`now`), and [`Link::next_deadline`] says when the link wants [`Link::on_timer`].

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::resp::{encode_command, Reply, ReplyParser, RespLimits};

/// How long the first reconnect waits; each failure doubles it up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Bytes read from the socket per `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// What happened on a link, for its owner.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkEvent<T> {
    /// The connection is established: commands may be sent.
    Up,
    /// The reply to the command sent with this tag.
    Reply(T, Reply),
    /// The connection broke; `lost` are the tags of commands sent and not answered, oldest first.
    Down {
        /// Commands whose fate is unknown.
        lost: Vec<T>,
        /// Why, for the log.
        reason: String,
    },
}

/// The link's state (see the module docs).
#[derive(Debug)]
enum State {
    Down { retry_at: Instant },
    Connecting(TcpStream),
    Up(TcpStream),
}

/// Commands may only be sent while the link is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotConnected;

/// One connection to Redis (see the module docs).
#[derive(Debug)]
pub struct Link<T> {
    addr: SocketAddr,
    token: Token,
    state: State,
    /// The wait before the next attempt after a failure.
    backoff: Duration,
    /// Encoded commands not yet written.
    output: Vec<u8>,
    /// Bytes read and not yet parsed.
    input: Vec<u8>,
    parser: ReplyParser,
    limits: RespLimits,
    /// Tags of commands sent (or queued in `output`) and not yet answered, oldest first.
    awaiting: VecDeque<T>,
}

impl<T> Link<T> {
    /// A link to `addr`, registered under `token` once it connects; the first attempt is due at `now`.
    pub fn new(addr: SocketAddr, token: Token, limits: RespLimits, now: Instant) -> Link<T> {
        Link {
            addr,
            token,
            state: State::Down { retry_at: now },
            backoff: MIN_BACKOFF,
            output: Vec::new(),
            input: Vec::new(),
            parser: ReplyParser::new(limits.clone()),
            limits,
            awaiting: VecDeque::new(),
        }
    }

    /// The token its socket is registered under.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Whether commands may be sent.
    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Up(_))
    }

    /// How many commands wait for their reply.
    pub fn awaiting(&self) -> usize {
        self.awaiting.len()
    }

    /// Bytes of commands not yet taken by the socket.
    pub fn unsent_bytes(&self) -> usize {
        self.output.len()
    }

    /// When the link wants [`Link::on_timer`]: the next connection attempt while it is down.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Down { retry_at } => Some(retry_at),
            _ => None,
        }
    }

    /// Queues a command (an array of bulk strings) and writes what the socket takes now.
    pub fn send<A: AsRef<[u8]>>(
        &mut self,
        tag: T,
        args: &[A],
        registry: &Registry,
        now: Instant,
        events: &mut Vec<LinkEvent<T>>,
    ) -> Result<(), NotConnected> {
        if !self.is_up() {
            return Err(NotConnected);
        }
        encode_command(args, &mut self.output);
        self.awaiting.push_back(tag);
        self.write_out(registry, now, events);
        Ok(())
    }

    /// Starts a connection attempt when one is due.
    pub fn on_timer(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent<T>>) {
        let State::Down { retry_at } = self.state else {
            return;
        };
        if now < retry_at {
            return;
        }
        match TcpStream::connect(self.addr) {
            Ok(mut stream) => {
                let registered = registry.register(
                    &mut stream,
                    self.token,
                    Interest::READABLE | Interest::WRITABLE,
                );
                match registered {
                    Ok(()) => self.state = State::Connecting(stream),
                    Err(e) => self.fail(registry, now, format!("register: {e}"), events),
                }
            }
            Err(e) => self.fail(registry, now, format!("connect: {e}"), events),
        }
    }

    /// The socket is ready: finish connecting, read and parse replies, write queued commands.
    pub fn on_ready(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent<T>>) {
        if let State::Connecting(stream) = &self.state {
            // mio's `connect` docs: a writable event means the attempt finished; `take_error` says
            // whether it failed, and `peer_addr` fails while it is still in progress.
            match (stream.take_error(), stream.peer_addr()) {
                (Ok(None), Ok(_)) => {}
                (Ok(Some(e)) | Err(e), _) => {
                    return self.fail(registry, now, format!("connect: {e}"), events)
                }
                (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => return,
                (Ok(None), Err(e)) => {
                    return self.fail(registry, now, format!("connect: {e}"), events)
                }
            }
            let State::Connecting(stream) =
                std::mem::replace(&mut self.state, State::Down { retry_at: now })
            else {
                return;
            };
            let _ = stream.set_nodelay(true);
            self.state = State::Up(stream);
            self.backoff = MIN_BACKOFF;
            events.push(LinkEvent::Up);
        }
        self.read_in(registry, now, events);
        self.write_out(registry, now, events);
    }

    /// Closes the connection on purpose (the owner saw a reply it cannot use); reconnects later.
    pub fn reset(
        &mut self,
        registry: &Registry,
        now: Instant,
        reason: String,
        events: &mut Vec<LinkEvent<T>>,
    ) {
        self.fail(registry, now, reason, events);
    }

    /// Reads until `WouldBlock` (design rule 7) and hands out every whole reply.
    fn read_in(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent<T>>) {
        let mut chunk = vec![0; READ_CHUNK];
        loop {
            let State::Up(stream) = &mut self.state else {
                return;
            };
            match stream.read(&mut chunk) {
                Ok(0) => {
                    return self.fail(registry, now, "Redis closed the connection".into(), events)
                }
                Ok(n) => {
                    self.input
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    if let Err(e) = self.parse_replies(events) {
                        return self.fail(registry, now, e, events);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(registry, now, format!("read: {e}"), events),
            }
        }
    }

    /// Takes every whole reply off the input and pairs it with the oldest tag.
    fn parse_replies(&mut self, events: &mut Vec<LinkEvent<T>>) -> Result<(), String> {
        let mut consumed = 0;
        loop {
            let rest = self.input.get(consumed..).unwrap_or_default();
            let (used, reply) = self.parser.parse(rest).map_err(|e| e.to_string())?;
            consumed += used;
            let Some(reply) = reply else {
                break;
            };
            let Some(tag) = self.awaiting.pop_front() else {
                return Err("Redis sent a reply to no command".into());
            };
            events.push(LinkEvent::Reply(tag, reply));
        }
        self.input.drain(..consumed.min(self.input.len()));
        Ok(())
    }

    /// Writes queued commands until the socket takes no more.
    fn write_out(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent<T>>) {
        while !self.output.is_empty() {
            let State::Up(stream) = &mut self.state else {
                return;
            };
            match stream.write(&self.output) {
                Ok(0) => return self.fail(registry, now, "write: socket closed".into(), events),
                Ok(n) => {
                    self.output.drain(..n.min(self.output.len()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.fail(registry, now, format!("write: {e}"), events),
            }
        }
    }

    /// Drops the connection and everything in flight, and schedules the next attempt.
    fn fail(
        &mut self,
        registry: &Registry,
        now: Instant,
        reason: String,
        events: &mut Vec<LinkEvent<T>>,
    ) {
        let previous = std::mem::replace(
            &mut self.state,
            State::Down {
                retry_at: now + self.backoff,
            },
        );
        if let State::Connecting(mut stream) | State::Up(mut stream) = previous {
            let _ = registry.deregister(&mut stream);
        }
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.output.clear();
        self.input.clear();
        self.parser = ReplyParser::new(self.limits.clone());
        events.push(LinkEvent::Down {
            lost: self.awaiting.drain(..).collect(),
            reason,
        });
    }
}
