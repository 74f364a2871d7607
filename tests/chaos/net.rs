//! A fake network and event loop around the sans-IO [`Core`], with faults.
//!
//! Each connection is a pair of byte pipes, modelled on what the kernel does with a TCP socket:
//!
//! ```text
//!  client ──send──► up_in_flight ──(segments arrive)──► up_arrived ──Core::receive──► core
//!  client ◄──recv── down (the server's send buffer, send_capacity bytes) ◄──Core::transmit── core
//! ```
//!
//! [`Net::turn`] is one turn of the event loop: segments arrive in random pieces, each arrival is a
//! readable edge (`Core::receive`); room in a send buffer is a writable edge (`Core::transmit`), given
//! at random moments, so writes meet `WouldBlock` and resume later; the core's [`Action`]s are carried
//! out exactly as `server::event_loop` does (write now, read or write again next turn, half-close,
//! close). The faults it injects, each drawn from the network's own [`Rng`]:
//!
//! - a write takes a random prefix of what the core offers: sometimes nothing (`WouldBlock`),
//!   sometimes one byte, sometimes up to the send buffer's room; a write or read is sometimes
//!   `Interrupted`;
//! - the client's bytes arrive in random splits (one byte, a few, all);
//! - the server kills a connection at a random moment ([`Core::close`]), and then the bytes it had
//!   written either still arrive (a FIN) or are lost (a reset); a read fails with `ConnectionReset`;
//!   now and then every connection drops at once ([`Core::drop_connections`]);
//! - the clock jumps ([`Net::advance`]), past holds, heartbeats, pings and timeouts.
//!
//! Sockets are kept in a `BTreeMap`, never a `HashMap`, so that iteration order, and with it a whole
//! run, is the same for the same seed.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushlab::hub::HubError;
use pushlab::server::core::{Action, Core};
use pushlab::Config;

use super::rng::Rng;

/// The driver's name for one connection, never reused (the core reuses its tokens).
pub type ConnId = u64;

/// The wall clock the core is told at the start (only `Date` headers use it).
const UNIX_MILLIS_AT_START: u64 = 1_700_000_000_000;

/// A spurious writable edge, once in this many turns per socket.
const SPURIOUS_EDGE_ONE_IN: u64 = 50;

/// Most actions carried out in one settle: the core asks for a bounded amount of work per event.
const MAX_ACTIONS_PER_SETTLE: usize = 100_000;

/// What a client's read of its socket gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// Bytes the server wrote.
    Bytes(Vec<u8>),
    /// Nothing now; the connection is open.
    Nothing,
    /// The server closed its side and everything it wrote has been read.
    Eof,
    /// The connection was reset: whatever was still in flight is lost.
    Reset,
}

/// How the server side of a connection ended, as the client will see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerEnd {
    Open,
    /// FIN: the bytes already written still arrive, then end of stream.
    Fin,
    /// RST: the bytes not yet read are lost.
    Reset,
}

/// One fake TCP connection (see the module docs).
#[derive(Debug)]
struct Socket {
    /// The core's token while the core has the connection.
    token: Option<usize>,
    up_in_flight: Vec<u8>,
    up_arrived: Vec<u8>,
    /// The client closed its side: after `up_in_flight`, the server reads end of stream.
    client_fin: bool,
    /// The client aborted: the server's next read fails with `ConnectionReset`.
    client_reset: bool,
    /// The client's end (FIN or reset) was reported to the core, once, as a readiness event does.
    end_reported: bool,
    down: Vec<u8>,
    send_capacity: usize,
    /// A write met `WouldBlock`: a writable edge is owed once the send buffer has room.
    writable_armed: bool,
    server_end: ServerEnd,
}

/// Counters of what the network did, printed after a run.
#[derive(Debug, Default, Clone)]
pub struct NetStats {
    /// Connections the server killed at random.
    pub server_kills: usize,
    /// Times every connection dropped at once.
    pub mass_drops: usize,
    /// Clock jumps.
    pub clock_jumps: usize,
    /// Writes that took nothing (`WouldBlock`) although the core offered bytes.
    pub writes_refused: usize,
    /// Writes cut to one byte.
    pub one_byte_writes: usize,
    /// Connections accepted.
    pub accepted: usize,
}

/// How often each fault strikes while faults are on (one in N turns, or N calls).
#[derive(Debug, Clone, Copy)]
pub struct FaultRates {
    /// The server kills one random connection, once in N turns.
    pub server_kill_one_in: u64,
    /// Every connection drops at once, once in N turns.
    pub mass_drop_one_in: u64,
    /// A server-side read fails with `ConnectionReset`, once in N reads.
    pub read_error_one_in: u64,
    /// The clock jumps, once in N turns.
    pub clock_jump_one_in: u64,
}

impl FaultRates {
    /// The rates of a chaos run.
    pub const CHAOS: FaultRates = FaultRates {
        server_kill_one_in: 40,
        mass_drop_one_in: 1_500,
        read_error_one_in: 300,
        clock_jump_one_in: 60,
    };
}

/// The fake network, the fake clock, and the core they drive.
pub struct Net {
    /// The server under test.
    pub core: Core,
    /// The fake clock.
    pub now: Instant,
    started: Instant,
    rng: Rng,
    sockets: BTreeMap<ConnId, Socket>,
    by_token: BTreeMap<usize, ConnId>,
    next_conn: ConnId,
    read_next_turn: BTreeSet<usize>,
    write_next_turn: BTreeSet<usize>,
    /// Faults on (`Some`) or off (`None`, the drain at the end of a run).
    pub faults: Option<FaultRates>,
    /// When the faults stopped.
    pub calm_since: Option<Instant>,
    /// What happened.
    pub stats: NetStats,
}

impl Net {
    /// A core with `config`, its topic ids starting after `id_base`.
    pub fn new(config: Config, id_base: u64, rng: Rng) -> Net {
        let now = Instant::now();
        let mut session_counter = 0u64;
        let session_ids = Box::new(move || {
            session_counter += 1;
            Ok(format!("{session_counter:032x}"))
        });
        let mut core = Core::new(config, id_base, session_ids, now);
        core.set_unix_millis(UNIX_MILLIS_AT_START);
        Net {
            core,
            now,
            started: now,
            rng,
            sockets: BTreeMap::new(),
            by_token: BTreeMap::new(),
            next_conn: 0,
            read_next_turn: BTreeSet::new(),
            write_next_turn: BTreeSet::new(),
            faults: Some(FaultRates::CHAOS),
            calm_since: None,
            stats: NetStats::default(),
        }
    }

    /// Stops injecting faults (the network still splits, cuts and delays, as any network does).
    pub fn stop_faults(&mut self) {
        if self.faults.take().is_some() {
            self.calm_since = Some(self.now);
        }
    }

    /// Every connection the core still has, with its state and its socket's, for a failure report.
    pub fn describe_open_connections(&self) -> Vec<String> {
        self.by_token
            .iter()
            .map(|(token, conn)| {
                let state = self.core.connection(*token).map(|c| {
                    let state = format!("{:?}", c.state);
                    let state: String = state.chars().take(400).collect();
                    format!(
                        "state {state}, {} bytes of output pending, {} of input, peer closed {}",
                        c.output.pending(),
                        c.input.len(),
                        c.peer_closed
                    )
                });
                let socket = self.sockets.get(conn).map(|s| {
                    format!(
                        "client FIN {} reset {}, {} bytes unread by the client, {} in flight, \
                         {} arrived, writable armed {}, server end {:?}",
                        s.client_fin,
                        s.client_reset,
                        s.down.len(),
                        s.up_in_flight.len(),
                        s.up_arrived.len(),
                        s.writable_armed,
                        s.server_end
                    )
                });
                format!("conn {conn} (token {token}): {state:?}; socket: {socket:?}")
            })
            .collect()
    }

    /// Fake time since the start, for traces.
    pub fn elapsed(&self) -> Duration {
        self.now - self.started
    }

    /// A client connects from 127.0.0.1 (every fake client shares the address). `None` when the core
    /// refuses the connection (its connection limit).
    pub fn connect(&mut self) -> Option<ConnId> {
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_000 + (self.next_conn % 20_000) as u16));
        let token = self.core.accept(peer, self.now)?;
        self.stats.accepted += 1;
        self.next_conn += 1;
        let id = self.next_conn;
        // Send buffers from a few bytes (every write is cut) to 64 KiB (most writes go whole).
        let send_capacity = *self.rng.pick(&[64, 1_000, 8 * 1024, 64 * 1024, 64 * 1024]);
        self.sockets.insert(
            id,
            Socket {
                token: Some(token),
                up_in_flight: Vec::new(),
                up_arrived: Vec::new(),
                client_fin: false,
                client_reset: false,
                end_reported: false,
                writable_armed: false,
                down: Vec::new(),
                send_capacity,
                server_end: ServerEnd::Open,
            },
        );
        self.by_token.insert(token, id);
        self.settle();
        Some(id)
    }

    /// The client sends `bytes`; they arrive at the server over the next turns, in random pieces.
    pub fn send(&mut self, conn: ConnId, bytes: &[u8]) {
        if let Some(socket) = self.sockets.get_mut(&conn) {
            if !socket.client_fin && !socket.client_reset {
                socket.up_in_flight.extend_from_slice(bytes);
            }
        }
    }

    /// The client reads at most `window` bytes.
    pub fn recv(&mut self, conn: ConnId, window: usize) -> Recv {
        let Some(socket) = self.sockets.get_mut(&conn) else {
            return Recv::Reset;
        };
        if socket.server_end == ServerEnd::Reset {
            return Recv::Reset;
        }
        if socket.down.is_empty() {
            return match socket.server_end {
                ServerEnd::Open => Recv::Nothing,
                _ => Recv::Eof,
            };
        }
        let n = window.min(socket.down.len());
        Recv::Bytes(socket.down.drain(..n).collect())
    }

    /// The client closes its socket (`close()`, never a half-close: browsers do not), with a FIN, or
    /// with a reset when `abort` is set or when bytes it never read are still in its buffer (as the
    /// kernel does: RFC 2525 §2.17). It never uses `conn` again.
    pub fn hang_up(&mut self, conn: ConnId, abort: bool) {
        let Some(socket) = self.sockets.get_mut(&conn) else {
            return;
        };
        if abort || !socket.down.is_empty() {
            socket.client_reset = true;
            socket.up_in_flight.clear();
            socket.down.clear();
        } else {
            socket.client_fin = true;
        }
        if socket.token.is_none() {
            self.sockets.remove(&conn);
        }
    }

    /// Publishes from outside any connection, as another thread of the server would.
    pub fn publish(&mut self, topic: &str, data: &str) -> Result<u64, HubError> {
        let id = self.core.publish(topic, data.to_string(), self.now);
        self.settle();
        id
    }

    /// Moves the clock forward by `by` and fires what is due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let unix_millis = UNIX_MILLIS_AT_START + self.elapsed().as_millis() as u64;
        self.core.on_timers(self.now, unix_millis);
        self.settle();
    }

    /// One turn of the fake event loop: reads and writes left from the last turn, segments arriving,
    /// writable edges, the server's random kills, and a small step (or a jump) of the clock.
    pub fn turn(&mut self) {
        for token in std::mem::take(&mut self.read_next_turn) {
            self.read(token);
        }
        for token in std::mem::take(&mut self.write_next_turn) {
            self.write(token);
        }
        self.arrive_segments();
        self.writable_edges();
        self.server_faults();
        let step = Duration::from_millis(self.rng.between(1, 60) as u64);
        self.advance(step);
        if let Some(rates) = self.faults {
            if self.rng.one_in(rates.clock_jump_one_in) {
                self.stats.clock_jumps += 1;
                let jump = self.random_jump();
                self.advance(jump);
            }
        }
    }

    /// A jump chosen to land past the server's deadlines: holds (20 s), heartbeats (15 s), pings
    /// (30 s), header and linger timeouts (10 s, 2 s), idle keep-alive connections (60 s).
    fn random_jump(&mut self) -> Duration {
        let seconds = *self
            .rng
            .pick(&[1, 2, 5, 10, 15, 16, 20, 21, 30, 41, 61, 90]);
        Duration::from_secs(seconds) + Duration::from_millis(self.rng.below(1_000))
    }

    /// Some of the client's bytes reach the server's receive buffer: a readable edge for each.
    fn arrive_segments(&mut self) {
        let conns: Vec<ConnId> = self.sockets.keys().copied().collect();
        for conn in conns {
            let Some(socket) = self.sockets.get_mut(&conn) else {
                continue;
            };
            let Some(token) = socket.token else {
                continue;
            };
            let mut edge = false;
            if !socket.up_in_flight.is_empty() {
                let len = socket.up_in_flight.len();
                let n = match self.rng.below(4) {
                    0 => 1,
                    1 => self.rng.between(1, len.min(16)),
                    _ => len,
                };
                let segment: Vec<u8> = socket.up_in_flight.drain(..n).collect();
                socket.up_arrived.extend(segment);
                edge = true;
            }
            let ended =
                (socket.client_fin || socket.client_reset) && socket.up_in_flight.is_empty();
            let mut error = false;
            if ended && !socket.end_reported {
                socket.end_reported = true;
                edge = true;
                error = socket.client_reset;
            }
            if edge {
                self.read(token);
            }
            // A reset is reported as an error, readable and writable at once: the core learns of it
            // from a write even when it is not reading (its output at the budget).
            if error {
                self.write(token);
            }
        }
    }

    /// The core reads the socket of `token` (a readable edge, or a read it asked to repeat).
    fn read(&mut self, token: usize) {
        let Some(socket) = socket_of(&self.by_token, &mut self.sockets, token) else {
            return;
        };
        let hung_up = (socket.client_fin || socket.client_reset) && socket.up_in_flight.is_empty();
        let read_error_one_in = self.faults.map(|rates| rates.read_error_one_in);
        let rng = &mut self.rng;
        self.core.receive(token, self.now, hung_up, |room| {
            if read_error_one_in.is_some_and(|one_in| rng.one_in(one_in)) || socket.client_reset {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            if rng.one_in(20) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if socket.up_arrived.is_empty() {
                if hung_up {
                    return Ok(0);
                }
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = room.len().min(socket.up_arrived.len());
            room[..n].copy_from_slice(&socket.up_arrived[..n]);
            socket.up_arrived.drain(..n);
            Ok(n)
        });
        self.settle();
    }

    /// The core writes to the socket of `token`: each write takes a random prefix of what is offered,
    /// within the send buffer's room.
    fn write(&mut self, token: usize) {
        let Some(socket) = socket_of(&self.by_token, &mut self.sockets, token) else {
            return;
        };
        let (stats, rng) = (&mut self.stats, &mut self.rng);
        self.core.transmit(token, self.now, |bytes| {
            client_socket_takes(socket, stats, rng, bytes)
        });
        self.settle();
    }

    /// Writable edges, as edge-triggered readiness gives them: once for a socket whose write met
    /// `WouldBlock`, some turns after its send buffer has room again (the client read). Now and then a
    /// spurious one, which mio allows and the core must shrug off.
    fn writable_edges(&mut self) {
        let tokens: Vec<usize> = self.by_token.keys().copied().collect();
        for token in tokens {
            let Some(socket) = socket_of(&self.by_token, &mut self.sockets, token) else {
                continue;
            };
            let has_room = socket.down.len() < socket.send_capacity;
            let edge = socket.writable_armed && has_room && self.rng.one_in(2);
            if edge {
                socket.writable_armed = false;
            }
            if edge || self.rng.one_in(SPURIOUS_EDGE_ONE_IN) {
                self.write(token);
            }
        }
    }

    /// The server kills a random connection now and then, and rarely all of them.
    fn server_faults(&mut self) {
        let Some(rates) = self.faults else {
            return;
        };
        if self.rng.one_in(rates.mass_drop_one_in) {
            self.stats.mass_drops += 1;
            self.core.drop_connections(self.now);
            self.settle();
        }
        if self.by_token.is_empty() || !self.rng.one_in(rates.server_kill_one_in) {
            return;
        }
        let tokens: Vec<usize> = self.by_token.keys().copied().collect();
        let token = *self.rng.pick(&tokens);
        self.stats.server_kills += 1;
        let conn = self.by_token[&token];
        let lose_in_flight = self.rng.one_in(2);
        self.core.close(token, self.now);
        self.settle();
        if let Some(socket) = self.sockets.get_mut(&conn).filter(|_| lose_in_flight) {
            socket.server_end = ServerEnd::Reset;
        }
    }

    /// Carries out what the core asked for, as `server::event_loop` does.
    fn settle(&mut self) {
        for _ in 0..MAX_ACTIONS_PER_SETTLE {
            // News is written inside the core, to the socket of each subscriber it wakes.
            let (by_token, sockets) = (&self.by_token, &mut self.sockets);
            let (stats, rng) = (&mut self.stats, &mut self.rng);
            let next = self.core.next_action_writing(|token, slices| {
                let socket = socket_of(by_token, sockets, token)
                    .ok_or(io::Error::from(io::ErrorKind::NotConnected))?;
                let first = slices.first().map_or(&[][..], |slice| &**slice);
                client_socket_takes(socket, stats, rng, first)
            });
            let Some(action) = next else {
                return;
            };
            match action {
                Action::Write(token) => self.write(token),
                Action::WriteNextTurn(token) => {
                    self.write_next_turn.insert(token);
                }
                Action::ReadAgain(token) => {
                    self.read_next_turn.insert(token);
                }
                Action::HalfClose(token) => {
                    if let Some(socket) = socket_of(&self.by_token, &mut self.sockets, token) {
                        socket.server_end = ServerEnd::Fin;
                    }
                }
                Action::Close(token) => self.closed(token),
            }
        }
        panic!("the core asked for more than {MAX_ACTIONS_PER_SETTLE} actions in one settle");
    }

    /// The core dropped the connection: its token may be reused from now on.
    fn closed(&mut self, token: usize) {
        self.read_next_turn.remove(&token);
        self.write_next_turn.remove(&token);
        let Some(conn) = self.by_token.remove(&token) else {
            return;
        };
        let Some(socket) = self.sockets.get_mut(&conn) else {
            return;
        };
        socket.token = None;
        if socket.server_end == ServerEnd::Open {
            socket.server_end = ServerEnd::Fin;
        }
        if socket.client_fin || socket.client_reset {
            self.sockets.remove(&conn);
        }
    }
}

/// What one write to the client's socket does: refused now and then (`WouldBlock`, arming the
/// writable edge), one byte or an interrupted call, or part of what fits in the send buffer.
fn client_socket_takes(
    socket: &mut Socket,
    stats: &mut NetStats,
    rng: &mut Rng,
    bytes: &[u8],
) -> io::Result<usize> {
    if socket.client_reset {
        return Err(io::ErrorKind::BrokenPipe.into());
    }
    if socket.client_fin {
        // The client has closed its socket: its kernel drops the bytes and answers with a
        // reset, which the next readiness event reports.
        socket.client_reset = true;
        socket.end_reported = false;
        return Ok(bytes.len());
    }
    let room = socket.send_capacity.saturating_sub(socket.down.len());
    let n = match rng.below(10) {
        0 => 0,
        1 => 1,
        2 => return Err(io::ErrorKind::Interrupted.into()),
        _ => rng.between(1, bytes.len()),
    }
    .min(room);
    if n == 0 {
        stats.writes_refused += 1;
        socket.writable_armed = true;
        return Err(io::ErrorKind::WouldBlock.into());
    }
    if n == 1 {
        stats.one_byte_writes += 1;
    }
    socket.down.extend_from_slice(&bytes[..n]);
    Ok(n)
}

/// The socket the core knows as `token` (a function of the two maps alone, so that the core and the
/// generator can be borrowed beside it).
fn socket_of<'a>(
    by_token: &BTreeMap<usize, ConnId>,
    sockets: &'a mut BTreeMap<ConnId, Socket>,
    token: usize,
) -> Option<&'a mut Socket> {
    sockets.get_mut(by_token.get(&token)?)
}

#[test]
fn a_client_closing_with_unread_bytes_resets_the_connection_and_the_core_lets_go() {
    let mut net = Net::new(Config::default(), 1_000, Rng::new(1));
    net.stop_faults();
    let conn = net.connect().expect("accepted");
    net.send(conn, b"GET /poll/t?after=0 HTTP/1.1\r\nHost: t\r\n\r\n");
    for _ in 0..100 {
        net.turn();
    }
    assert!(matches!(net.recv(conn, 1), Recv::Bytes(first) if first == b"H"));
    net.hang_up(conn, false);
    let open = net.describe_open_connections();
    assert!(open[0].contains("client FIN false reset true"), "{open:?}");
    for _ in 0..3 {
        net.turn();
    }
    assert_eq!(net.core.connection_count(), 0);
}
