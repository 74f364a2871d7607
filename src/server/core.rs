//! The server core: every connection's state machine, the shared [`Room`], the deadline heap and the
//! budgets, with no socket and no clock. The event loop ([`crate::server::event_loop`]) drives it; tests
//! drive it with byte vectors and a `now` of their choosing.
//!
//! # Theory of operation
//!
//! The core hands each event to one connection ([`Core::receive`], [`Core::transmit`],
//! [`Core::on_timers`]) and then to everyone the event concerns: a publish in one connection's request
//! wakes the topic's subscribers. What the driver must do afterwards comes out of
//! [`Core::next_action`] as [`Action`]s: write to a socket, read it again, half-close it, close it.
//! The woken subscribers are served there too, one at a time: when no action waits, the next one
//! pulls its message from the log, and the write it asks for is the next action. The driver writes
//! that message at once, while the connection's state is still in the processor's cache, instead of
//! waking a thousand subscribers first and coming back to each one cold. A driver that hands the
//! core a way to write ([`Core::next_action_writing`], as the event loop does) saves even that
//! round trip: the core writes each message in the same piece of work that pulled it, one trip
//! through the connection per delivery (`cargo bench --bench core_fanout` measures both; chapter 14
//! has the figures). A WebSocket, XHR-stream or SSE subscriber that was waiting for exactly the
//! message just published takes a shortcut even past that
//! ([`crate::server::connection::Connection::push_shared_frame`]): those doors frame a message as
//! the same bytes on every connection, so the message is framed once per door and each delivery is
//! one write of those bytes, with no read of the log, no framing and no queue. And while one
//! subscriber's write runs in the kernel, the next one's state is already on its way into the cache
//! (see `prefetch`): on a real socket, the kernel's work for each write pushes the core's data out of
//! the cache, and without that a broadcast would wait for main memory once per subscriber. All of it
//! runs inside `Core::guarded`, so a bug costs one connection, never the server.
//!
//! Reading and writing take a closure that moves bytes (`|buf| socket.read(buf)`), so the core decides
//! *how much* and *when* (the input bound, the output budget, fairness) without knowing what a socket is.
//!
//! # Budgets
//!
//! - per connection: `max_pending_output_bytes` of output (see [`crate::server::output`]) and a whole
//!   request or WebSocket frame of input;
//! - for the whole server: `max_buffered_bytes` over every connection's input and output storage. Past
//!   it, new requests are answered 503 and the subscribers with the most unsent output are dropped
//!   until the total is under the budget again.
//! - read buffers lent to outputs (an echo written from the buffer it was read into, see
//!   [`crate::server::output`]) are counted by the outputs that hold them, and the core keeps at most
//!   [`MAX_LENT_READ_BUFFERS`] of them for reuse;
//! - fairness: one connection gets at most [`MAX_READ_BYTES_PER_TURN`] read and
//!   [`MAX_WRITE_BYTES_PER_TURN`] written per turn; the rest waits for the next turn, after everyone
//!   else's.

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::channel::ChannelHandler;
use crate::hub::{HubError, SubscriberId};
use crate::redis::backend::Outcome;
use crate::server::connection::{Connection, Fate};
use crate::server::log;
use crate::server::output::MAX_WRITE_SLICES;
use crate::server::room::{Room, SessionIds, Stored, Ticket};
use crate::server::slab::Slab;
use crate::server::timers::{TimerEntry, Timers};
use crate::Config;

/// The most bytes read from one connection in one turn of the loop (fairness: a client that sends
/// without pause cannot keep the loop from everyone else).
pub const MAX_READ_BYTES_PER_TURN: usize = 256 * 1024;

/// The most bytes written to one connection in one turn of the loop.
pub const MAX_WRITE_BYTES_PER_TURN: usize = 1024 * 1024;

/// The most read buffers the core keeps track of while they are lent to outputs (echoes written
/// straight from the read buffer, see [`crate::server::output`]): each one written out is reused for
/// reading instead of allocating and zeroing a new one. Past this many, the oldest is left to its
/// output, which frees it once written. At most this many times 1 MiB (the largest buffer worth
/// reusing) is held this way, whatever the number of connections.
pub const MAX_LENT_READ_BUFFERS: usize = 8;

/// What the event loop must do with a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Write the connection's output.
    Write(usize),
    /// Write the rest on the next turn: this turn's quota is used.
    WriteNextTurn(usize),
    /// Read the socket again on the next turn: it may hold bytes no new readiness event will report
    /// (reading stopped at a bound that has since made room).
    ReadAgain(usize),
    /// Close our sending side.
    HalfClose(usize),
    /// Drop the socket.
    Close(usize),
}

/// A read closure for [`Core::receive`] that hands over `bytes` as a socket would: as much as fits
/// each call, then `WouldBlock`. For tests and benchmarks that drive the core without sockets.
pub fn reading_from(bytes: &[u8]) -> impl FnMut(&mut [u8]) -> io::Result<usize> + '_ {
    let mut offered = bytes;
    move |buf| {
        if offered.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(offered.len());
        let (now, later) = offered.split_at(n);
        buf.get_mut(..n).unwrap_or_default().copy_from_slice(now);
        offered = later;
        Ok(n)
    }
}

/// Writes buffers to the socket of a connection (by token): see [`Core::next_action_writing`].
type SocketWriter<'a> = dyn FnMut(usize, &[IoSlice<'_>]) -> io::Result<usize> + 'a;

/// How a read or write closure's results are reported back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// The socket has no more for now (`WouldBlock`, or a short read).
    Drained,
    /// Stopped at a bound (input full, output budget, turn quota): there may be more.
    Stopped,
    /// The peer closed its side (read returned 0).
    Eof,
}

/// Per-connection bookkeeping the core keeps beside the state machine.
#[derive(Debug)]
struct Slot {
    conn: Connection,
    /// Distinguishes this connection from an earlier one with the same token (stale timers).
    serial: u64,
    /// The earliest deadline in the heap for this connection.
    scheduled: Option<Instant>,
    /// Bytes of storage counted in `Room::buffered_bytes` for this connection.
    accounted: usize,
    /// Reading stopped at a bound with bytes possibly left in the socket.
    read_stalled: bool,
    /// The kernel reported the peer's FIN: read on to the end of the stream.
    hung_up: bool,
    /// Our sending side was closed already.
    half_closed: bool,
    /// The output was just written as far as the socket took it: the rest waits for the socket's next
    /// writable edge (or the next turn, when the quota was used), not for another write now.
    write_deferred: bool,
}

/// One piece of news for one connection (by token), waiting for [`Core::next_action`].
#[derive(Debug)]
enum News {
    /// The shared log answered a publish the connection made.
    Stored(usize, Ticket, Result<u64, HubError>),
    /// The connection's topic has news for this subscription.
    Woken(usize, SubscriberId),
    /// The topic the connection reads was deleted: close it.
    TopicDeleted(usize),
}

impl News {
    /// The connection the news is for.
    fn token(&self) -> usize {
        match self {
            News::Stored(token, ..) | News::Woken(token, _) | News::TopicDeleted(token) => *token,
        }
    }
}

/// The sans-IO server (see the module docs).
pub struct Core {
    /// The shared state: hub, sessions, configuration.
    pub room: Room,
    /// Boxed, so that taking a connection out of the slab for a piece of work, and putting it back,
    /// moves a pointer rather than the whole state (hundreds of bytes, twice per delivery).
    slots: Slab<Box<Slot>>,
    timers: Timers,
    actions: VecDeque<Action>,
    /// News not yet handed out, one connection at a time, by [`Core::next_action`].
    news: VecDeque<News>,
    /// When the news was raised: the `now` it is handed out with.
    news_at: Instant,
    /// Input storage lent to whichever connection reads next (see [`crate::server::input`]).
    spare_input: Vec<u8>,
    /// Read buffers lent to outputs, oldest first; reused once no output holds them any more.
    lent_input: VecDeque<Arc<Vec<u8>>>,
    next_serial: u64,
    next_clock_tick: Option<Instant>,
    next_housekeeping: Instant,
    /// Panics caught by [`Core::guarded`]: zero unless pushlab has a bug.
    internal_errors: usize,
    /// Open connections per client address, for `max_connections_per_ip`.
    connections_per_ip: HashMap<IpAddr, usize>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("connections", &self.slots.len())
            .field("room", &self.room)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// A core whose topic ids start after `id_base`, with the built-in channel applications.
    pub fn new(config: Config, id_base: u64, session_ids: SessionIds, now: Instant) -> Core {
        let next_clock_tick = config.clock_interval.map(|interval| now + interval);
        let next_housekeeping = now + config.housekeeping_interval;
        let mut room = Room::new(config, id_base, session_ids);
        room.sessions
            .register("echo", Box::new(crate::channel::PrivateEcho));
        room.sessions
            .register("chat", Box::new(crate::channel::ChatRoom::default()));
        Core {
            room,
            slots: Slab::default(),
            timers: Timers::default(),
            actions: VecDeque::new(),
            news: VecDeque::new(),
            news_at: now,
            spare_input: Vec::new(),
            lent_input: VecDeque::new(),
            next_serial: 0,
            next_clock_tick,
            next_housekeeping,
            internal_errors: 0,
            connections_per_ip: HashMap::new(),
        }
    }

    /// Adds a channel application under `name`.
    pub fn register_channel(&mut self, name: &str, handler: Box<dyn ChannelHandler>) {
        self.room.sessions.register(name, handler);
    }

    /// A new connection from `peer`; `None` past `max_connections`, or past `max_connections_per_ip`
    /// for this client address (the caller answers 503).
    pub fn accept(&mut self, peer: SocketAddr, now: Instant) -> Option<usize> {
        let config = &self.room.config;
        let from_this_client = self.connections_per_ip.entry(peer.ip()).or_insert(0);
        let refusal = if self.slots.len() >= config.max_connections {
            Some(("connection limit", config.max_connections))
        } else if *from_this_client >= config.max_connections_per_ip {
            Some((
                "per-address connection limit",
                config.max_connections_per_ip,
            ))
        } else {
            None
        };
        if let Some((what, limit)) = refusal {
            if *from_this_client == 0 {
                self.connections_per_ip.remove(&peer.ip());
            }
            log(Some(peer), format_args!("503: {what} of {limit} reached"));
            return None;
        }
        *from_this_client += 1;
        self.next_serial += 1;
        let token = self.slots.insert(Box::new(Slot {
            conn: Connection::new(0, peer, now),
            serial: self.next_serial,
            scheduled: None,
            accounted: 0,
            read_stalled: false,
            hung_up: false,
            half_closed: false,
            write_deferred: false,
        }));
        // One wake-up for the connection's first deadlines, at the earlier of the idle and the header
        // timeout: its first request usually starts at once, and the header timeout it then gets
        // would otherwise be a second, earlier entry in the heap beside the idle one, for every
        // connection. A wake-up that comes early finds the real deadline later and re-arms once.
        let first_wake_up = now + config.header_timeout.min(config.idle_timeout);
        if let Some(slot) = self.slots.get_mut(token) {
            slot.conn.token = token;
            slot.scheduled = Some(first_wake_up);
            self.timers.push(TimerEntry {
                when: first_wake_up,
                token,
                serial: slot.serial,
            });
        }
        self.finish(token, now, Fate::Keep);
        Some(token)
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.slots.len()
    }

    /// Entries in the deadline heap, stale ones included (each costs memory until it pops).
    pub fn scheduled_wake_ups(&self) -> usize {
        self.timers.len()
    }

    /// Panics caught and survived.
    pub fn internal_errors(&self) -> usize {
        self.internal_errors
    }

    /// The next thing the driver must do, or `None` once there is nothing left.
    ///
    /// News is handed out here, one connection at a time (see `Core::deliver_next`): when no action
    /// waits, the next woken subscriber pulls its message, and the write it asks for is returned at
    /// once. So the driver writes each subscriber's message while that connection's state is still
    /// in the processor's cache, rather than waking a thousand subscribers first and then coming back
    /// to each one cold. The driver must call this until it returns `None` after every other call.
    pub fn next_action(&mut self) -> Option<Action> {
        self.next_action_with(None)
    }

    /// [`Core::next_action`] for a driver that lets the core write news itself: `write(token,
    /// slices)` hands one connection's buffers to its socket (as the closure of
    /// [`Core::transmit_vectored`] does). Each woken subscriber's message is then written in the same
    /// piece of work that pulled it, and the driver is asked for no write of its own: one trip
    /// through the connection's state per delivery instead of two. What the socket does not take waits
    /// for its writable edge, as after any write.
    pub fn next_action_writing(
        &mut self,
        mut write: impl FnMut(usize, &[IoSlice<'_>]) -> io::Result<usize>,
    ) -> Option<Action> {
        self.next_action_with(Some(&mut write))
    }

    /// The queued actions first; once they are done, the next piece of news, with `write` if the
    /// driver gave one.
    fn next_action_with(&mut self, mut write: Option<&mut SocketWriter<'_>>) -> Option<Action> {
        loop {
            if let Some(action) = self.actions.pop_front() {
                return Some(action);
            }
            if !self.deliver_next(write.as_deref_mut()) {
                return None;
            }
        }
    }

    /// The connection's state machine (for tests and the driver's logs).
    pub fn connection(&self, token: usize) -> Option<&Connection> {
        self.slots.get(token).map(|slot| &slot.conn)
    }

    /// Reads from the socket with `read` (called with room to fill; returns how much it filled, `Ok(0)`
    /// at end of stream, `WouldBlock` when empty) within the input bound, the output budget and this
    /// turn's quota; then processes what came in. Errors other than `WouldBlock`/`Interrupted` close
    /// the connection.
    ///
    /// A read that returns less than asked for has emptied the socket, so the next call would only say
    /// `WouldBlock`: reading stops there, saving a system call per message. Except when `hung_up`: the
    /// kernel reported the peer's FIN with this readiness, and no new event will come for it, so reading
    /// goes on to the end of the stream.
    pub fn receive(
        &mut self,
        token: usize,
        now: Instant,
        hung_up: bool,
        mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) {
        let Some(mut slot) = self.slots.take(token) else {
            return;
        };
        // Sticky: a FIN reported while reading was held back must still be read on a later round.
        slot.hung_up |= hung_up;
        let hung_up = slot.hung_up;
        let mut fate = None;
        let mut taken = 0;
        let transfer = loop {
            if !slot.conn.wants_input(&self.room) || taken >= MAX_READ_BYTES_PER_TURN {
                break Transfer::Stopped;
            }
            let limit = slot
                .conn
                .max_input_bytes(&self.room)
                .saturating_sub(slot.conn.input.len());
            let room = slot.conn.input.room(limit, &mut self.spare_input);
            let want = room.len();
            match read(room) {
                Ok(0) => break Transfer::Eof,
                Ok(n) => {
                    slot.conn.input.filled(n);
                    taken += n;
                    if n < want && !hung_up {
                        break Transfer::Drained;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Transfer::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log(Some(slot.conn.peer), format_args!("read failed: {e}"));
                    fate = Some(Fate::Close);
                    break Transfer::Drained;
                }
            }
        };
        slot.read_stalled = transfer == Transfer::Stopped;
        if transfer == Transfer::Eof {
            slot.conn.on_peer_closed();
        }
        let fate = match fate {
            Some(fate) => fate,
            None => self.guarded(&mut slot, now, |conn, room| conn.on_input(room, now)),
        };
        slot.conn.input.park(&mut self.spare_input);
        // Stopped by the turn's quota, or by a full input that processing has emptied: come back next
        // turn. Stopped by the output budget: `transmit` asks again once the output drains.
        if slot.read_stalled && fate != Fate::Close && slot.conn.wants_input(&self.room) {
            slot.read_stalled = false;
            self.actions.push_back(Action::ReadAgain(token));
        }
        self.put_back(token, slot, now, fate);
        self.note_news_time(now);
    }

    /// Writes the connection's output with `write`, one buffer at a time (returns how much the socket
    /// took; `WouldBlock` when full): [`Core::transmit_vectored`] for a writer that takes one slice.
    pub fn transmit(
        &mut self,
        token: usize,
        now: Instant,
        mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    ) {
        self.transmit_vectored(token, now, |slices| {
            write(slices.first().map_or(&[][..], |slice| &**slice))
        });
    }

    /// Writes the connection's output with `write`, which hands the socket several buffers at once
    /// (`writev(2)`; returns how much the socket took, `WouldBlock` when full), up to this turn's
    /// quota. Once the socket has taken bytes, whatever the budget held back goes on at once: a
    /// subscriber pulls its next messages, unparsed input is parsed, a paused reader is read again.
    pub fn transmit_vectored(
        &mut self,
        token: usize,
        now: Instant,
        write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) {
        let Some(mut slot) = self.slots.take(token) else {
            return;
        };
        let fate = self.transmit_slot(token, &mut slot, now, write);
        self.put_back(token, slot, now, fate);
        self.note_news_time(now);
    }

    /// The work of [`Core::transmit_vectored`] on a connection already taken out of the slab; returns
    /// its fate, for the caller to put it back with.
    fn transmit_slot(
        &mut self,
        token: usize,
        slot: &mut Slot,
        now: Instant,
        mut write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> Fate {
        let mut sent = 0;
        let mut failed = false;
        loop {
            let sent_before = sent;
            while slot.conn.output.pending() > 0 && sent < MAX_WRITE_BYTES_PER_TURN {
                let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
                let count = slot.conn.output.unwritten_slices(&mut slices);
                match write(slices.get(..count).unwrap_or_default()) {
                    Ok(0) => {
                        failed = true;
                        break;
                    }
                    Ok(n) => {
                        slot.conn.output.wrote(n);
                        sent += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        log(Some(slot.conn.peer), format_args!("write failed: {e}"));
                        failed = true;
                        break;
                    }
                }
            }
            if failed || sent >= MAX_WRITE_BYTES_PER_TURN {
                break; // the quota's rest is handled below, on the next turn
            }
            if sent == sent_before && slot.conn.output.pending() > 0 {
                break; // the socket is full: wait for its next writable edge
            }
            // The socket has room, and something waits for it: a piece the budget refused (a
            // subscriber's next message, an echo), or input left unparsed. Let the connection go on,
            // then write what it made.
            let waiting = slot.conn.output.take_refused() || !slot.conn.input.is_empty();
            if !waiting {
                break;
            }
            let before = slot.conn.output.pending();
            let fate = self.guarded(slot, now, |conn, room| conn.on_output_room(room, now));
            if fate == Fate::Close || slot.conn.output.pending() == before {
                break;
            }
        }
        // Output that made room since reading stopped: read the socket again, as no new event may come.
        if slot.read_stalled && slot.conn.wants_input(&self.room) {
            slot.read_stalled = false;
            self.actions.push_back(Action::ReadAgain(token));
        }
        let fate = if failed {
            Fate::Close
        } else {
            self.guarded(slot, now, |_, _| {})
        };
        if fate != Fate::Close && sent >= MAX_WRITE_BYTES_PER_TURN {
            // Quota used: finish next turn, after everyone else.
            self.actions.push_back(Action::WriteNextTurn(token));
        }
        // Whatever is left waits for the socket's next writable edge (or the next turn): asking for
        // another write now would only meet `WouldBlock` again.
        slot.write_deferred = true;
        fate
    }

    /// Publishes from outside any connection (another thread, a test) into the in-memory hub and
    /// returns the id. With the shared log the id is not known until Redis answers: this refuses
    /// (`HubError::Unavailable`) and queues nothing; use [`Core::submit`].
    pub fn publish(
        &mut self,
        topic: &str,
        data: String,
        now: Instant,
    ) -> Result<u64, crate::hub::HubError> {
        if self.room.shared_log.is_some() {
            return Err(crate::hub::HubError::Unavailable);
        }
        self.submit(topic, data, now)?
            .id()
            .ok_or(crate::hub::HubError::Unavailable)
    }

    /// Publishes from outside any connection, with either backend: stored now (its id), or queued for
    /// the shared log (a ticket to wait on with [`Room::await_store`]).
    pub fn submit(
        &mut self,
        topic: &str,
        data: String,
        now: Instant,
    ) -> Result<Stored, crate::hub::HubError> {
        let stored = self.room.publish(topic, data, now);
        self.note_news_time(now);
        stored
    }

    /// News from the shared log (the Redis backend): messages that entered the hub, its mirror, wake
    /// their subscribers; stored publishes answer whoever waits for them.
    pub fn on_shared_log(&mut self, outcomes: Vec<Outcome>, now: Instant) {
        for outcome in outcomes {
            match outcome {
                Outcome::Delivered(published) => self.room.wake(&published.subscribers),
                Outcome::Stored { ticket, result } => self.room.on_stored(ticket, result),
                session => self.room.on_session(session, now),
            }
        }
        self.note_news_time(now);
    }

    /// Closes one connection (the driver could not register its socket).
    pub fn close(&mut self, token: usize, now: Instant) {
        self.finish(token, now, Fate::Close);
    }

    /// Closes every connection at once, as a crash or a network change would.
    pub fn drop_connections(&mut self, now: Instant) {
        for token in self.slots.indices() {
            if let Some(slot) = self.slots.take(token) {
                self.put_back(token, slot, now, Fate::Close);
            }
        }
    }

    /// The earliest moment the core needs [`Core::on_timers`].
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.timers.next_deadline(),
            self.next_clock_tick,
            Some(self.next_housekeeping),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Acts on every deadline that has passed: connections' timers, the `clock` topic, housekeeping.
    pub fn on_timers(&mut self, now: Instant, unix_millis: u64) {
        self.room.unix_secs = unix_millis / 1000;
        self.tick_clock(now, unix_millis);
        self.housekeeping(now);
        while let Some(entry) = self.timers.pop_due(now) {
            let Some(mut slot) = self.slots.take(entry.token) else {
                continue;
            };
            if slot.serial != entry.serial || slot.scheduled != Some(entry.when) {
                // A stale entry: the connection is a newer one, or an earlier wake-up replaced it.
                self.slots.restore(entry.token, slot);
                continue;
            }
            slot.scheduled = None;
            let due = slot.conn.deadline(&self.room).is_some_and(|d| d <= now);
            let fate = if due {
                self.guarded(&mut slot, now, |conn, room| conn.on_deadline(room, now))
            } else {
                self.guarded(&mut slot, now, |_, _| {})
            };
            self.put_back(entry.token, slot, now, fate);
            self.note_news_time(now);
        }
    }

    /// Sets the wall clock used for `Date` headers.
    pub fn set_unix_millis(&mut self, unix_millis: u64) {
        self.room.unix_secs = unix_millis / 1000;
    }

    /// Runs `work` on one connection so that a bug (a panic) costs only that connection: it is logged
    /// and closed, and the server goes on serving everyone else. Then asks the connection its fate.
    /// Echoes the work queued from the read buffer are pinned before anything else happens.
    fn guarded(
        &mut self,
        slot: &mut Slot,
        now: Instant,
        work: impl FnOnce(&mut Connection, &mut Room),
    ) -> Fate {
        let fate = self.guarded_work(slot, now, work);
        self.pin_echoes(&mut slot.conn);
        fate
    }

    /// Lends the connection's read buffer to its output if echoes were queued from it (see
    /// [`crate::server::output`]): the buffer is frozen as it is, and the connection reads on into a
    /// buffer that earlier echoes have finished with, or the spare.
    fn pin_echoes(&mut self, conn: &mut Connection) {
        if !conn.output.awaits_input() {
            return;
        }
        let fresh = self.reusable_read_buffer();
        let lent = conn.input.lend_storage(fresh);
        conn.output.pin_input(&lent);
        if crate::server::input::worth_reusing(lent.len()) {
            if self.lent_input.len() >= MAX_LENT_READ_BUFFERS {
                self.lent_input.pop_front();
            }
            self.lent_input.push_back(lent);
        }
    }

    /// A read buffer no output holds any more (every echo in it written), or else the spare (which
    /// may be empty: the next read then allocates).
    fn reusable_read_buffer(&mut self) -> Vec<u8> {
        let written_out = self
            .lent_input
            .iter()
            .position(|lent| Arc::strong_count(lent) == 1);
        if let Some(lent) = written_out.and_then(|index| self.lent_input.remove(index)) {
            if let Ok(storage) = Arc::try_unwrap(lent) {
                return storage;
            }
        }
        std::mem::take(&mut self.spare_input)
    }

    /// [`Core::guarded`] without the pinning.
    fn guarded_work(
        &mut self,
        slot: &mut Slot,
        now: Instant,
        work: impl FnOnce(&mut Connection, &mut Room),
    ) -> Fate {
        let room = &mut self.room;
        let conn = &mut slot.conn;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            work(conn, room);
            conn.settle(room, now)
        }));
        let Err(_) = outcome else {
            return outcome.unwrap_or(Fate::Close);
        };
        self.internal_errors += 1;
        log(
            Some(slot.conn.peer),
            format_args!("internal error while serving this connection; closing it"),
        );
        // Close as after any fatal answer: what is already queued still reaches the client, and a
        // lingering close keeps its unread input from turning into a reset that would destroy it. If
        // even that fails, the socket is simply dropped.
        let room = &mut self.room;
        let conn = &mut slot.conn;
        catch_unwind(AssertUnwindSafe(|| {
            conn.fail(room, now);
            conn.settle(room, now)
        }))
        .unwrap_or(Fate::Close)
    }

    /// Runs work that belongs to no connection (the clock, housekeeping) under the same guard.
    fn guarded_global(&mut self, what: &str, work: impl FnOnce(&mut Room)) {
        let room = &mut self.room;
        if catch_unwind(AssertUnwindSafe(|| work(room))).is_err() {
            self.internal_errors += 1;
            log(None, format_args!("internal error in {what}; going on"));
        }
    }

    /// Puts a connection back after a piece of work: schedules its deadline, accounts its buffers,
    /// queues its I/O; or closes it for good.
    fn put_back(&mut self, token: usize, mut slot: Box<Slot>, now: Instant, fate: Fate) {
        if fate == Fate::Close {
            let conn = &mut slot.conn;
            let room = &mut self.room;
            if catch_unwind(AssertUnwindSafe(|| conn.release(room, now))).is_err() {
                self.internal_errors += 1;
            }
            self.room.buffered_bytes -= slot.accounted.min(self.room.buffered_bytes);
            self.forget_connection_from(slot.conn.peer.ip());
            self.slots.release(token);
            self.actions.push_back(Action::Close(token));
            return;
        }
        self.account(&mut slot);
        self.schedule(token, &mut slot);
        if slot.conn.output.pending() > 0 && !slot.write_deferred {
            self.actions.push_back(Action::Write(token));
        }
        slot.write_deferred = false;
        if fate == Fate::HalfClose && slot.conn.output.pending() == 0 && !slot.half_closed {
            slot.half_closed = true;
            self.actions.push_back(Action::HalfClose(token));
        }
        self.slots.restore(token, slot);
        if self.room.over_global_budget() {
            self.shed_load(now);
        }
    }

    /// One connection from `client` is gone.
    fn forget_connection_from(&mut self, client: IpAddr) {
        if let Some(count) = self.connections_per_ip.get_mut(&client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.connections_per_ip.remove(&client);
            }
        }
    }

    fn finish(&mut self, token: usize, now: Instant, fate: Fate) {
        if let Some(slot) = self.slots.take(token) {
            self.put_back(token, slot, now, fate);
        }
    }

    /// Brings the connection's storage into the global count.
    fn account(&mut self, slot: &mut Slot) {
        let now_held = slot.conn.output.footprint() + slot.conn.input.capacity();
        self.room.buffered_bytes =
            self.room.buffered_bytes - slot.accounted.min(self.room.buffered_bytes) + now_held;
        slot.accounted = now_held;
    }

    /// Over the global budget: drops the subscribers with the most unsent output until under it. (A scan
    /// of every connection, which only happens when the server is already in trouble.)
    fn shed_load(&mut self, now: Instant) {
        while self.room.over_global_budget() {
            let worst = self
                .slots
                .indices()
                .into_iter()
                .filter_map(|token| {
                    let slot = self.slots.get(token)?;
                    slot.conn.subscription()?;
                    Some((slot.conn.output.pending(), token))
                })
                .max();
            let Some((pending, token)) = worst.filter(|(pending, _)| *pending > 0) else {
                return;
            };
            if let Some(slot) = self.slots.take(token) {
                log(
                    Some(slot.conn.peer),
                    format_args!("over the global buffer budget: dropping this subscriber ({pending} bytes unsent)"),
                );
                self.put_back(token, slot, now, Fate::Close);
            }
        }
    }

    /// Makes sure the timer heap will wake us for this connection's deadline (see [`Timers`]).
    fn schedule(&mut self, token: usize, slot: &mut Slot) {
        let Some(deadline) = slot.conn.deadline(&self.room) else {
            return;
        };
        if slot
            .scheduled
            .is_some_and(|scheduled| scheduled <= deadline)
        {
            return; // an earlier wake-up is already planned; it re-arms for this one
        }
        slot.scheduled = Some(deadline);
        self.timers.push(TimerEntry {
            when: deadline,
            token,
            serial: slot.serial,
        });
    }

    /// Notes when the news raised by the current call happened: [`Core::next_action`] hands it out
    /// with that time.
    fn note_news_time(&mut self, now: Instant) {
        self.news_at = now;
    }

    /// Hands the next piece of news to its connection: a woken subscriber pulls from its own cursor
    /// (so being woken twice, or for a subscription it has since replaced, delivers nothing twice), a
    /// stored publish is answered, a connection whose topic was deleted is closed. With `write`, what
    /// the connection queued goes to its socket at once; whatever it still asks of the driver joins
    /// the actions. `false` when there is no news left.
    fn deliver_next(&mut self, mut write: Option<&mut SocketWriter<'_>>) -> bool {
        if self.news.is_empty() {
            self.collect_news();
        }
        let Some(news) = self.news.pop_front() else {
            return false;
        };
        // The next subscriber's state starts loading now, while this one's write runs in the kernel.
        if let Some(next) = self
            .news
            .front()
            .and_then(|next| self.slots.get(next.token()))
        {
            prefetch(&**next);
        }
        let now = self.news_at;
        let token = news.token();
        let Some(mut slot) = self.slots.take(token) else {
            return true;
        };
        let fate = match news {
            News::Stored(_, ticket, result) => self.guarded(&mut slot, now, |conn, room| {
                conn.on_stored(ticket, result, room, now)
            }),
            News::Woken(_, subscription) => {
                // The broadcast's shortcut first (see `Connection::push_shared_frame`); the usual
                // pull when it does not apply. One guarded piece of work either way.
                let mut shared = false;
                let fate = self.guarded(&mut slot, now, |conn, room| {
                    shared = write.as_deref_mut().is_some_and(|write| {
                        conn.push_shared_frame(subscription, room, now, |slices| {
                            write(token, slices)
                        })
                    });
                    if !shared {
                        conn.on_news(subscription, room, now);
                    }
                });
                if shared {
                    // Written already: whatever the socket did not take waits for its writable
                    // edge, as after any write.
                    slot.write_deferred = true;
                    self.put_back(token, slot, now, fate);
                    return true;
                }
                fate
            }
            News::TopicDeleted(_) => Fate::Close,
        };
        let fate = match write {
            Some(write) if fate != Fate::Close && slot.conn.output.pending() > 0 => {
                self.transmit_slot(token, &mut slot, now, |slices| write(token, slices))
            }
            _ => fate,
        };
        self.put_back(token, slot, now, fate);
        true
    }

    /// Moves the room's news into the core's queue: stored publishes first, then woken subscribers,
    /// then closes. (`drain` keeps the room's lists' storage for the next publish.)
    fn collect_news(&mut self) {
        let room = &mut self.room;
        let stored = room.stored.drain(..);
        self.news
            .extend(stored.map(|(token, ticket, result)| News::Stored(token, ticket, result)));
        let woken = room.woken.drain(..);
        self.news
            .extend(woken.map(|(token, subscription)| News::Woken(token, subscription)));
        self.news
            .extend(room.to_close.drain(..).map(News::TopicDeleted));
    }

    /// Publishes the server time to `clock` when it is due.
    fn tick_clock(&mut self, now: Instant, unix_millis: u64) {
        let (Some(due), Some(interval)) = (self.next_clock_tick, self.room.config.clock_interval)
        else {
            return;
        };
        if now < due {
            return;
        }
        // Never try to catch up on missed ticks: one tick now, the next one a full interval later.
        self.next_clock_tick = Some((due + interval).max(now));
        self.guarded_global("the clock", |room| {
            // With Redis, every node ticks but only the holder of the clock lease publishes.
            let _ = room.publish_leased("clock", format!("{{\"now_ms\":{unix_millis}}}"), now);
        });
        self.note_news_time(now);
    }

    /// Every `housekeeping_interval` (1 s by default): ends channel sessions nobody used for the grace
    /// period, evicts idle topics, and forgets the publish buckets that are full again.
    fn housekeeping(&mut self, now: Instant) {
        if now < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = now + self.room.config.housekeeping_interval;
        self.guarded_global("housekeeping", |room| {
            room.expire_sessions(now);
            room.hub.evict_idle(now);
            room.publish_buckets.forget_full(now);
        });
        self.note_news_time(now);
    }
}

/// Asks the CPU to start loading `value`'s memory into its cache, and returns at once.
///
/// Why: a broadcast walks a thousand subscribers, and each one's state (a [`Slot`], a few hundred
/// bytes in a heap allocation of its own) has usually left the cache since the last publish: the
/// kernel's work for a thousand writes in between uses far more memory than the cache holds. Read
/// when its turn comes, every slot would cost a wait for main memory before its write could even be
/// built. Asked for one subscriber ahead, the load overlaps the current subscriber's write, which
/// takes far longer (the system call runs TCP for both ends of the loopback connection).
///
/// A prefetch is only a hint: it reads nothing into the program and cannot fault. It is issued on
/// x86-64; elsewhere this compiles to nothing.
#[inline]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const CACHE_LINE_BYTES: usize = 64;
        let start: *const i8 = (value as *const T).cast();
        // Every cache line `value` touches, from the one its first byte is in (a heap block is
        // aligned to 16 bytes, not to a line, so a value may span one line more than its size says).
        let into_first_line = start as usize % CACHE_LINE_BYTES;
        let first_line = start.wrapping_sub(into_first_line);
        let span = into_first_line + std::mem::size_of::<T>();
        for offset in (0..span).step_by(CACHE_LINE_BYTES) {
            // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 processor has; it only hints the
            // cache and never dereferences, so any address is sound (these are `value`'s lines).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(first_line.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::SharedFraming;
    use crate::ws::frame::{encode_frame, Opcode};
    use std::time::Duration;

    /// Offers `bytes` to the core as one socket read; returns where the read landed.
    fn receive(core: &mut Core, token: usize, now: Instant, bytes: &[u8]) -> *const u8 {
        let mut offered = bytes;
        let mut landed: *const u8 = std::ptr::null();
        core.receive(token, now, false, |room| {
            if offered.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = room.len().min(offered.len());
            room[..n].copy_from_slice(&offered[..n]);
            if landed.is_null() {
                landed = room.as_ptr();
            }
            offered = &offered[n..];
            Ok(n)
        });
        landed
    }

    /// Writes everything queued; returns the bytes and the start address of each slice written.
    fn transmit(core: &mut Core, token: usize, now: Instant) -> (Vec<u8>, Vec<*const u8>) {
        let (mut bytes, mut starts) = (Vec::new(), Vec::new());
        core.transmit_vectored(token, now, |slices| {
            let before = bytes.len();
            for slice in slices {
                starts.push(slice.as_ptr());
                bytes.extend_from_slice(slice);
            }
            match bytes.len() - before {
                0 => Err(io::ErrorKind::WouldBlock.into()),
                n => Ok(n),
            }
        });
        while core.next_action().is_some() {}
        (bytes, starts)
    }

    /// A core whose WebSockets are never pinged within a test.
    fn core_without_pings(now: Instant) -> Core {
        let mut config = Config::default();
        config.ws.ping_interval = Duration::from_secs(3600);
        Core::new(config, 1000, Box::new(|| Ok("0".repeat(32))), now)
    }

    /// A WebSocket on `path` from local port `port`, its `101` answer already written.
    fn open_websocket(core: &mut Core, path: &str, port: u16, now: Instant) -> usize {
        let token = core
            .accept(SocketAddr::from(([127, 0, 0, 1], port)), now)
            .unwrap();
        let upgrade = format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        receive(core, token, now, upgrade.as_bytes());
        let (answer, _) = transmit(core, token, now);
        assert!(answer.starts_with(b"HTTP/1.1 101"));
        token
    }

    /// Three echoes read at once are written from the read buffer itself, each as one slice (header and
    /// payload together); once written, that buffer is read into again instead of a new one.
    #[test]
    fn echoes_are_written_from_the_read_buffer_which_is_reused_once_written() {
        let now = Instant::now();
        let mut core = core_without_pings(now);
        let token = open_websocket(&mut core, "/ws/echo", 40_000, now);

        let mut first_read_at: *const u8 = std::ptr::null();
        for round in 0..3u8 {
            let (mut burst, mut expected) = (Vec::new(), Vec::new());
            for i in 0..3u8 {
                let payload = vec![round * 3 + i; 5_000];
                encode_frame(
                    true,
                    Opcode::Binary,
                    &payload,
                    Some([9, 8, 7, 6]),
                    &mut burst,
                );
                encode_frame(true, Opcode::Binary, &payload, None, &mut expected);
            }
            let read_at = receive(&mut core, token, now, &burst);
            let (echoed, starts) = transmit(&mut core, token, now);
            assert!(echoed == expected, "round {round}: the echoes differ");
            assert_eq!(starts.len(), 3, "one slice per echo");
            let read_range = read_at as usize..read_at as usize + burst.len();
            assert!(
                starts.iter().all(|s| read_range.contains(&(*s as usize))),
                "round {round}: written from the read buffer"
            );
            match round {
                0 => first_read_at = read_at,
                // Round 1 read into another buffer while round 0's was lent; round 2 reuses round 0's.
                2 => assert_eq!(read_at, first_read_at, "the written-out buffer is reused"),
                _ => {}
            }
        }
        assert_eq!(core.internal_errors(), 0);
    }

    /// A core with `count` SSE subscribers of topic `t`, their response heads already written.
    fn core_with_sse_subscribers(count: u16, now: Instant) -> (Core, Vec<usize>) {
        let mut core = Core::new(
            Config::default(),
            1000,
            Box::new(|| Ok("0".repeat(32))),
            now,
        );
        let subscribers = (0..count)
            .map(|i| {
                let peer = SocketAddr::from(([127, 0, 0, 1], 40_000 + i));
                let token = core.accept(peer, now).unwrap();
                let request = b"GET /sse/t HTTP/1.1\r\nHost: localhost\r\n\r\n";
                receive(&mut core, token, now, request);
                let (head, _) = transmit(&mut core, token, now);
                assert!(head.starts_with(b"HTTP/1.1 200 OK"));
                token
            })
            .collect();
        (core, subscribers)
    }

    /// A publish wakes every subscriber, but each one pulls its message only when the driver asks for
    /// the next action, and that action is its write: the driver writes one subscriber's message
    /// before the next subscriber has been touched.
    #[test]
    fn news_is_handed_out_one_subscriber_at_a_time_each_followed_by_its_write() {
        let now = Instant::now();
        let (mut core, subscribers) = core_with_sse_subscribers(3, now);

        core.publish("t", "news".into(), now).unwrap();
        let pending = |core: &Core| -> Vec<usize> {
            subscribers
                .iter()
                .map(|&token| core.connection(token).unwrap().output.pending())
                .collect()
        };
        assert_eq!(pending(&core), [0, 0, 0], "nobody has pulled yet");
        for (turn, &token) in subscribers.iter().enumerate() {
            assert_eq!(core.next_action(), Some(Action::Write(token)));
            let queued = pending(&core);
            assert!(queued[turn] > 0, "subscriber {turn} pulled its message");
            assert!(
                queued[turn + 1..].iter().all(|&bytes| bytes == 0),
                "the later subscribers wait: {queued:?}"
            );
            core.transmit(token, now, |bytes| Ok(bytes.len()));
        }
        assert_eq!(core.next_action(), None);
        assert_eq!(pending(&core), [0, 0, 0], "every message written");
    }

    /// With a writer, the core writes each woken subscriber's message itself, in the same piece of
    /// work that pulled it, and asks the driver for no write. A socket that takes nothing keeps the
    /// message queued for its writable edge; one that fails is closed.
    #[test]
    fn a_core_that_writes_news_itself_asks_for_no_write_and_keeps_what_a_full_socket_refused() {
        let now = Instant::now();
        let (mut core, subscribers) = core_with_sse_subscribers(3, now);
        let (taker, full, broken) = (subscribers[0], subscribers[1], subscribers[2]);

        core.publish("t", "news".into(), now).unwrap();
        let mut written: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut actions = Vec::new();
        while let Some(action) = core.next_action_writing(|token, slices| {
            if token == full {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            if token == broken {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let bytes: Vec<u8> = slices
                .iter()
                .flat_map(|slice| slice.iter().copied())
                .collect();
            let n = bytes.len();
            written.push((token, bytes));
            Ok(n)
        }) {
            actions.push(action);
        }
        assert_eq!(written.len(), 1, "one socket took its message");
        assert_eq!(written[0].0, taker);
        let event = String::from_utf8_lossy(&written[0].1).into_owned();
        assert!(event.contains("data: news"), "{event}");
        assert_eq!(
            actions,
            [Action::Close(broken)],
            "no write asked for; the failed one closed"
        );
        let pending = core.connection(full).unwrap().output.pending();
        assert!(
            pending > 0,
            "the full socket's message waits for its writable edge"
        );
        let (later, _) = transmit(&mut core, full, now);
        assert!(String::from_utf8_lossy(&later).contains("data: news"));
    }

    /// A core with `count` WebSocket subscribers of topic `t`, their `101` answers already written.
    fn core_with_websocket_subscribers(count: u16, now: Instant) -> (Core, Vec<usize>) {
        let mut core = core_without_pings(now);
        let subscribers = (0..count)
            .map(|i| open_websocket(&mut core, "/ws/t", 41_000 + i, now))
            .collect();
        (core, subscribers)
    }

    /// The frame a server sends for message `id` with `data`.
    fn text_frame(id: u64, data: &str) -> Vec<u8> {
        let mut frame = Vec::new();
        let json = crate::json::message_json(id, data);
        encode_frame(true, Opcode::Text, json.as_bytes(), None, &mut frame);
        frame
    }

    /// The broadcast's shortcut: every WebSocket subscriber that was waiting for the message gets
    /// the one frame encoded for all of them (the same bytes in memory), in one write of one slice.
    /// A socket that takes part of it keeps the rest queued; a full one keeps all of it, and on the
    /// next publish, with bytes still waiting, it is served the usual way, in order; a broken one is
    /// closed.
    #[test]
    fn caught_up_websockets_are_written_one_frame_encoded_once() {
        let now = Instant::now();
        let (mut core, subscribers) = core_with_websocket_subscribers(5, now);
        let (first, second, half, full, broken) = (
            subscribers[0],
            subscribers[1],
            subscribers[2],
            subscribers[3],
            subscribers[4],
        );
        let id = core.publish("t", "news".into(), now).unwrap();
        let frame = text_frame(id, "news");

        // (token, slices in the call, address of the first slice, bytes taken)
        let mut writes: Vec<(usize, usize, *const u8, Vec<u8>)> = Vec::new();
        let mut actions = Vec::new();
        while let Some(action) = core.next_action_writing(|token, slices| {
            let offered: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
            let taken = match token {
                t if t == full => return Err(io::ErrorKind::WouldBlock.into()),
                t if t == broken => return Err(io::ErrorKind::ConnectionReset.into()),
                t if t == half => {
                    if writes.iter().any(|w| w.0 == half) {
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    offered.len() / 2
                }
                _ => offered.len(),
            };
            writes.push((
                token,
                slices.len(),
                slices[0].as_ptr(),
                offered[..taken].to_vec(),
            ));
            Ok(taken)
        }) {
            actions.push(action);
        }
        assert_eq!(
            actions,
            [Action::Close(broken)],
            "no write asked of the driver"
        );
        let tokens: Vec<usize> = writes.iter().map(|w| w.0).collect();
        assert_eq!(tokens, [first, second, half], "one write each");
        assert!(writes.iter().all(|w| w.1 == 1), "one slice each");
        assert!(
            writes
                .iter()
                .all(|w| w.2 == core.room.shared_frame.address(SharedFraming::WebSocket)),
            "every subscriber was handed the bytes encoded once, not a copy"
        );
        assert_eq!(writes[0].3, frame);
        assert_eq!(writes[1].3, frame);
        assert_eq!(writes[2].3, frame[..frame.len() / 2]);
        let pending = |core: &Core, token| core.connection(token).unwrap().output.pending();
        assert_eq!(pending(&core, half), frame.len() - frame.len() / 2);
        assert_eq!(pending(&core, full), frame.len());
        assert_eq!(
            core.connection(first).unwrap().output.total_written(),
            core.connection(second).unwrap().output.total_written(),
            "a write through counts as written"
        );

        // The next publish: the two sockets with bytes waiting are served the usual way, behind them.
        let next = core.publish("t", "more".into(), now).unwrap();
        let next_frame = text_frame(next, "more");
        let mut shortcut = Vec::new();
        let action = core.next_action_writing(|token, slices| {
            if token == half || token == full {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            shortcut.push(token);
            Ok(slices.iter().map(|s| s.len()).sum())
        });
        assert_eq!(action, None, "no write asked of the driver");
        assert_eq!(shortcut, [first, second]);
        let (rest, _) = transmit(&mut core, half, now);
        assert_eq!(rest, [&frame[frame.len() / 2..], &next_frame[..]].concat());
        let (all, _) = transmit(&mut core, full, now);
        assert_eq!(all, [&frame[..], &next_frame[..]].concat());
        assert_eq!(core.internal_errors(), 0);
    }

    /// Writes every news with a socket that takes all, and returns each write: (token, slices in the
    /// call, address of the first slice, bytes).
    fn write_news(core: &mut Core) -> Vec<(usize, usize, *const u8, Vec<u8>)> {
        let mut writes = Vec::new();
        let action = core.next_action_writing(|token, slices| {
            let bytes: Vec<u8> = slices.iter().flat_map(|s| s.iter().copied()).collect();
            let n = bytes.len();
            writes.push((token, slices.len(), slices[0].as_ptr(), bytes));
            Ok(n)
        });
        assert_eq!(action, None, "no write asked of the driver");
        writes
    }

    /// SSE subscribers share one framing too: each caught-up one is written the event's chunk,
    /// framed once, in one write of one slice: the bytes the usual pull would have queued.
    #[test]
    fn caught_up_sse_streams_are_written_one_chunk_framed_once() {
        let now = Instant::now();
        let (mut core, subscribers) = core_with_sse_subscribers(3, now);
        let id = core.publish("t", "news".into(), now).unwrap();
        let writes = write_news(&mut core);
        let tokens: Vec<usize> = writes.iter().map(|w| w.0).collect();
        assert_eq!(tokens, subscribers, "one write each, in order");
        let event = format!("id: {id}\ndata: news\n\n");
        let chunk = format!("{:x}\r\n{event}\r\n", event.len());
        for (token, slices, address, bytes) in &writes {
            assert_eq!(*slices, 1);
            assert_eq!(*address, core.room.shared_frame.address(SharedFraming::Sse));
            assert_eq!(String::from_utf8_lossy(bytes), chunk, "subscriber {token}");
        }
        // A stream written this way puts off its heartbeat, as one written the usual way does.
        let later = now + Duration::from_secs(5);
        core.publish("t", "more".into(), later).unwrap();
        assert_eq!(write_news(&mut core).len(), 3);
        let heartbeat = core.room.config.heartbeat_interval;
        for &token in &subscribers {
            let deadline = core.connection(token).unwrap().deadline(&core.room);
            assert_eq!(deadline, Some(later + heartbeat), "subscriber {token}");
        }
        assert_eq!(core.internal_errors(), 0);
    }

    /// The message that brings an XHR stream to its size limit does not take the shortcut: it goes
    /// the usual way, which ends the response after it (the last chunk), and the client reconnects
    /// with its last id. The messages before it did take the shortcut.
    #[test]
    fn the_message_that_ends_a_stream_at_its_size_limit_goes_the_usual_way() {
        let now = Instant::now();
        // The prelude is about 2 KiB; three messages of about 1 KiB each fit, the fourth reaches
        // the limit.
        let config = Config {
            max_stream_bytes: 2 * 1024 + 3 * 1024 + 512,
            ..Config::default()
        };
        let mut core = Core::new(config, 1000, Box::new(|| Ok("0".repeat(32))), now);
        let token = core
            .accept(SocketAddr::from(([127, 0, 0, 1], 42_000)), now)
            .unwrap();
        receive(
            &mut core,
            token,
            now,
            b"GET /stream/t HTTP/1.1\r\nHost: localhost\r\n\r\n",
        );
        let (head, _) = transmit(&mut core, token, now);
        assert!(head.starts_with(b"HTTP/1.1 200 OK"));
        let data = "x".repeat(1000);
        for round in 0..4 {
            core.publish("t", data.clone(), now).unwrap();
            let writes = write_news(&mut core);
            assert_eq!(writes.len(), 1, "round {round}");
            let (_, _, address, bytes) = &writes[0];
            let shared = *address == core.room.shared_frame.address(SharedFraming::XhrStream);
            let ended = bytes.ends_with(b"0\r\n\r\n");
            if round < 3 {
                assert!(
                    shared && !ended,
                    "round {round}: the shortcut, and the stream goes on"
                );
            } else {
                assert!(
                    !shared && ended,
                    "round {round}: the usual way, and the response ends"
                );
            }
        }
        assert_eq!(core.internal_errors(), 0);
    }
}
