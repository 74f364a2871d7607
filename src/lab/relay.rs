//! A TCP relay that counts every byte and can pretend the network is slow.
//!
//! The lab puts one relay in front of the server (or of whatever front it targets: a proxy, a peer
//! server) for each door it measures. Clients connect to the relay; for every accepted connection the
//! relay opens one to the upstream address and copies bytes both ways. Two things come out of that:
//!
//! - **Bytes on the wire, counted at a socket.** What the relay reads from a client socket is exactly
//!   what the client wrote (request heads, bodies, WebSocket frames), and what it writes to it is
//!   exactly what the client reads (response heads, chunk sizes, padding, heartbeats, payload). The
//!   counts are per relay, so per door, and they include nothing the publisher sends.
//! - **A round-trip time.** With `rtt` set, bytes read at time `t` are written on at `t + rtt/2`, in
//!   each direction, so a question and its answer cost one `rtt`. A new TCP connection also costs one
//!   round trip before its first byte can leave (RFC 9293 §3.5: SYN, SYN-ACK, then data), so the first
//!   bytes of a connection wait until `accepted + rtt` before their half-trip starts. That is the cost
//!   that short polling pays on every request when it opens a new connection each time.
//!
//! What it does not model: bandwidth, loss, slow start or window limits; only delay.
//!
//! # Theory of operation
//!
//! One thread runs one `mio::Poll`. A `Pair` is an accepted client socket and its upstream socket;
//! each of its two directions is a `Pipe`: a queue of byte chunks, each stamped with the instant it
//! may be written. Readable sockets are drained until `WouldBlock` into the other side's pipe; every
//! turn (after any readiness, a writable socket included), pipes with chunks that are due are
//! written until `WouldBlock`. The poll timeout is the next
//! due instant (at most `TICK`), so a delayed chunk leaves on time without busy waiting. A side that
//! reads end-of-file shuts the other side's writing half once its pipe is empty, so `Connection: close`
//! responses and closing handshakes pass through unchanged.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

/// The longest the relay sleeps before it looks at its stop flag again.
const TICK: Duration = Duration::from_millis(20);
/// The listener's token; pairs use `2 * index` (client side) and `2 * index + 1` (upstream side).
const LISTENER: Token = Token(usize::MAX);
/// Bytes read from a socket at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// What a relay has seen since it started.
#[derive(Debug, Default)]
pub struct RelayCounters {
    /// Bytes clients sent towards the server.
    pub bytes_to_server: AtomicU64,
    /// Bytes the server sent towards clients.
    pub bytes_to_client: AtomicU64,
    /// Client connections accepted.
    pub connections_accepted: AtomicU64,
    /// Client connections open right now.
    pub connections_open: AtomicU64,
    /// The most client connections open at once.
    pub connections_peak: AtomicU64,
}

impl RelayCounters {
    fn opened(&self) {
        self.connections_accepted.fetch_add(1, Ordering::Relaxed);
        let open = self.connections_open.fetch_add(1, Ordering::Relaxed) + 1;
        self.connections_peak.fetch_max(open, Ordering::Relaxed);
    }
}

/// A running relay; dropping it stops the thread and closes every connection.
pub struct Relay {
    addr: SocketAddr,
    counters: Arc<RelayCounters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listens on a free loopback port and relays every connection to `upstream`, each direction
    /// delayed by `rtt / 2` (and a new connection's first bytes by one more `rtt`).
    pub fn start(upstream: SocketAddr, rtt: Duration) -> io::Result<Relay> {
        let mut listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let counters = Arc::new(RelayCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut state = RelayLoop {
            poll,
            listener,
            upstream,
            rtt,
            pairs: HashMap::new(),
            next_pair: 0,
            counters: Arc::clone(&counters),
        };
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("lab-relay".into())
            .spawn(move || state.run(&stop_flag))?;
        Ok(Relay {
            addr,
            counters,
            stop,
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The byte and connection counts.
    pub fn counters(&self) -> &RelayCounters {
        &self.counters
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One direction of a pair: chunks waiting for their instant.
#[derive(Default)]
struct Pipe {
    chunks: VecDeque<(Instant, Vec<u8>)>,
    /// Bytes of the front chunk already written.
    written: usize,
    /// The reading side saw end-of-file: shut the writing side once the queue is empty.
    reader_done: bool,
    /// The writing side has been shut (or failed).
    writer_shut: bool,
}

/// An accepted client connection and its upstream connection.
struct Pair {
    client: TcpStream,
    server: TcpStream,
    accepted_at: Instant,
    /// Client to server.
    up: Pipe,
    /// Server to client.
    down: Pipe,
}

impl Pair {
    fn finished(&self) -> bool {
        self.up.writer_shut && self.down.writer_shut
    }
}

struct RelayLoop {
    poll: Poll,
    listener: TcpListener,
    upstream: SocketAddr,
    rtt: Duration,
    pairs: HashMap<usize, Pair>,
    next_pair: usize,
    counters: Arc<RelayCounters>,
}

impl RelayLoop {
    fn run(&mut self, stop: &AtomicBool) {
        let mut events = Events::with_capacity(1024);
        // Bounded by the stop flag, read every TICK at the latest.
        while !stop.load(Ordering::Relaxed) {
            let timeout = self.next_due().map_or(TICK, |due| {
                due.saturating_duration_since(Instant::now()).min(TICK)
            });
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return;
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    Token(token) => self.read_side(token / 2, token % 2 == 1),
                }
            }
            self.write_due();
        }
    }

    /// The earliest instant a queued chunk may leave.
    fn next_due(&self) -> Option<Instant> {
        self.pairs
            .values()
            .flat_map(|pair| [pair.up.chunks.front(), pair.down.chunks.front()])
            .flatten()
            .map(|(due, _)| *due)
            .min()
    }

    fn accept_all(&mut self) {
        // Bounded: the kernel's accept queue is finite and we stop at WouldBlock.
        loop {
            match self.listener.accept() {
                Ok((client, _)) => {
                    if let Err(error) = self.open_pair(client) {
                        eprintln!("lab relay: cannot reach {}: {error}", self.upstream);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    fn open_pair(&mut self, mut client: TcpStream) -> io::Result<()> {
        // A blocking connect on loopback is immediate, and the socket is then connected for sure.
        let upstream = std::net::TcpStream::connect(self.upstream)?;
        upstream.set_nonblocking(true)?;
        upstream.set_nodelay(true)?;
        client.set_nodelay(true)?;
        let mut server = TcpStream::from_std(upstream);
        let index = self.next_pair;
        self.next_pair += 1;
        let registry = self.poll.registry();
        // Writable too: a socket whose buffer was full wakes the loop when it drains (edge-triggered).
        let both = Interest::READABLE | Interest::WRITABLE;
        registry.register(&mut client, Token(2 * index), both)?;
        registry.register(&mut server, Token(2 * index + 1), both)?;
        self.counters.opened();
        self.pairs.insert(
            index,
            Pair {
                client,
                server,
                accepted_at: Instant::now(),
                up: Pipe::default(),
                down: Pipe::default(),
            },
        );
        Ok(())
    }

    /// Drains one readable side into the other side's pipe, each chunk stamped with its due instant.
    fn read_side(&mut self, index: usize, from_server: bool) {
        let half_trip = self.rtt / 2;
        let handshake = self.rtt;
        let Some(pair) = self.pairs.get_mut(&index) else {
            return;
        };
        let (socket, pipe, counter) = if from_server {
            (
                &mut pair.server,
                &mut pair.down,
                &self.counters.bytes_to_client,
            )
        } else {
            (
                &mut pair.client,
                &mut pair.up,
                &self.counters.bytes_to_server,
            )
        };
        let mut buf = [0u8; READ_CHUNK_BYTES];
        // Bounded: each pass reads bytes that were already in the kernel, until WouldBlock or EOF.
        while !pipe.reader_done {
            match socket.read(&mut buf) {
                Ok(0) => pipe.reader_done = true,
                Ok(n) => {
                    counter.fetch_add(n as u64, Ordering::Relaxed);
                    let now = Instant::now();
                    let may_leave = now.max(pair.accepted_at + handshake);
                    pipe.chunks
                        .push_back((may_leave + half_trip, buf[..n].to_vec()));
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => pipe.reader_done = true,
            }
        }
    }

    /// Writes every chunk that is due, shuts finished directions and drops finished pairs.
    fn write_due(&mut self) {
        let now = Instant::now();
        let mut finished = Vec::new();
        for (index, pair) in self.pairs.iter_mut() {
            write_pipe(&mut pair.up, &mut pair.server, now);
            write_pipe(&mut pair.down, &mut pair.client, now);
            if pair.finished() {
                finished.push(*index);
            }
        }
        for index in finished {
            if let Some(mut pair) = self.pairs.remove(&index) {
                let registry = self.poll.registry();
                let _ = registry.deregister(&mut pair.client);
                let _ = registry.deregister(&mut pair.server);
                self.counters
                    .connections_open
                    .fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// Writes the due chunks of one pipe to `socket` until one is not due or the socket would block.
fn write_pipe(pipe: &mut Pipe, socket: &mut TcpStream, now: Instant) {
    while let Some((due, chunk)) = pipe.chunks.front() {
        if *due > now || pipe.writer_shut {
            break;
        }
        match socket.write(&chunk[pipe.written..]) {
            Ok(n) => {
                pipe.written += n;
                if pipe.written == chunk.len() {
                    pipe.chunks.pop_front();
                    pipe.written = 0;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                pipe.chunks.clear();
                pipe.writer_shut = true;
            }
        }
    }
    if pipe.reader_done && pipe.chunks.is_empty() && !pipe.writer_shut {
        let _ = socket.shutdown(Shutdown::Write);
        pipe.writer_shut = true;
    }
}
