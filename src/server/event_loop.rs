//! The event loop: the only code in pushlab that touches a socket or reads the clock.
//!
//! # Theory of operation
//!
//! One thread, one `mio::Poll`. The listener, a `mio::Waker` and every connection are registered with it
//! (connections edge-triggered for both reading and writing, once, so no re-registration is ever needed).
//! Each turn of the loop:
//!
//! 1. waits for readiness, at most until the earliest deadline in the [`Timers`] heap (or the next
//!    `clock` tick);
//! 2. for each ready connection: reads until `WouldBlock`, lets the protocol code turn the bytes into
//!    answers (HTTP responses, WebSocket frames), writes until `WouldBlock`;
//! 3. hands every message published during that work to the topic's subscribers (the hub answered
//!    "who is subscribed" in the same step as it stored the message, so nobody is missed or served twice);
//! 4. fires the deadlines that are due: header timeouts (408), long-poll holds, heartbeats, WebSocket
//!    pings, lingering closes.
//!
//! While a connection is being worked on it is taken out of the slab, so the code can change the rest of
//! the server (the hub, the timers) at the same time. Messages published meanwhile are queued in
//! `deliveries` and handed out once the connection is back, which also delivers a WebSocket client's own
//! message back to it.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::channel::{ChannelHandler, ChatRoom, PrivateEcho, Sessions};
use crate::hub::{Hub, Published};
use crate::server::connection::{Connection, ReadResult, State};
use crate::server::delivery::subscribed_topic;
use crate::server::slab::Slab;
use crate::server::timers::{poll_timeout, TimerEntry, Timers};
use crate::server::{Command, ServerHandle};
use crate::Config;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);

/// How often expired channel sessions are looked for.
pub(crate) const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Whether a connection goes on after a piece of work.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    Keep,
    Close,
}

/// A pushlab server: bind it, then [`Server::run`] it on the current thread.
pub struct Server {
    pub(crate) poll: Poll,
    pub(crate) listener: TcpListener,
    pub(crate) waker: Arc<Waker>,
    pub(crate) commands: Receiver<Command>,
    pub(crate) command_sender: Sender<Command>,
    pub(crate) connections: Slab<Connection>,
    pub(crate) timers: Timers,
    pub(crate) hub: Hub,
    pub(crate) config: Config,
    /// Input storage lent to whichever connection reads next; each connection gives it back once its
    /// input is empty (see [`crate::server::input`]), so an idle connection holds no read buffer.
    spare_input: Vec<u8>,
    /// Connections whose socket may still hold input that could not be taken in (the input buffer was
    /// full, or reading waited for output to drain) and that have since made room. Readiness is
    /// edge-triggered, so no new event would come for those bytes: the loop reads them on its next turn.
    read_again: Vec<usize>,
    next_serial: u64,
    pub(crate) next_clock_tick: Option<Instant>,
    /// Channel applications and their clients' sessions.
    pub(crate) sessions: Sessions,
    pub(crate) next_housekeeping: Instant,
    /// Messages published during the current piece of work, still to be handed to subscribers.
    pub(crate) deliveries: VecDeque<(String, Published)>,
    running: bool,
    /// Panics caught by [`Server::isolated`]: always zero unless pushlab has a bug.
    internal_errors: usize,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds `config.addr` and prepares the loop (nothing is served until [`Server::run`]).
    pub fn bind(config: Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(config.addr)?;
        raise_listen_backlog(&listener, LISTEN_BACKLOG);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (command_sender, commands) = std::sync::mpsc::channel();
        // Ids start after the start time in milliseconds, so they do not repeat across a restart.
        let hub = Hub::new(config.hub.clone(), unix_millis());
        let next_clock_tick = config
            .clock_interval
            .map(|interval| Instant::now() + interval);
        let mut sessions = Sessions::new(config.session_grace, config.max_sessions);
        sessions.register("echo", Box::new(PrivateEcho));
        sessions.register("chat", Box::new(ChatRoom::default()));
        Ok(Server {
            poll,
            listener,
            waker,
            commands,
            command_sender,
            connections: Slab::default(),
            timers: Timers::default(),
            hub,
            config,
            spare_input: Vec::new(),
            read_again: Vec::new(),
            next_serial: 0,
            next_clock_tick,
            sessions,
            next_housekeeping: Instant::now() + HOUSEKEEPING_INTERVAL,
            deliveries: VecDeque::new(),
            running: true,
            internal_errors: 0,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle other threads use to publish, ask questions, or stop the server.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            commands: self.command_sender.clone(),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Adds a channel application under `name` (see [`crate::channel`]); `echo` and `chat` are built in.
    pub fn register_channel(&mut self, name: &str, handler: Box<dyn ChannelHandler>) {
        self.sessions.register(name, handler);
    }

    /// Runs until a [`ServerHandle::shutdown`].
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while self.running {
            let timeout = if self.read_again.is_empty() {
                poll_timeout(
                    Instant::now(),
                    [self.timers.next_deadline(), self.next_clock_tick],
                )
            } else {
                Some(Duration::ZERO) // input is waiting in some socket: just look for news, then read it
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    WAKER => self.run_commands(),
                    Token(token) => {
                        self.on_ready(token, event.is_read_closed() || event.is_error())
                    }
                }
            }
            // One more round for each connection that left input in its socket; a round each, so one
            // client sending without pause cannot keep the loop from everyone else.
            for token in std::mem::take(&mut self.read_again) {
                self.on_ready(token, false);
            }
            let now = Instant::now();
            self.tick_clock(now);
            self.housekeeping(now);
            self.fire_timers(now);
        }
        Ok(())
    }

    /// Accepts every waiting connection (design rule 7: until `WouldBlock`).
    fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.add_connection(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: the waiting clients stay queued in the kernel.
                    log(None, format_args!("accept failed: {e}"));
                    return;
                }
            }
        }
    }

    fn add_connection(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        if self.connections.len() >= self.config.max_connections {
            log(
                Some(peer),
                format_args!(
                    "503: connection limit of {} reached",
                    self.config.max_connections
                ),
            );
            // Best effort: a fresh socket's send buffer takes this small answer at once.
            let _ = stream.write(SERVICE_UNAVAILABLE);
            return;
        }
        let _ = stream.set_nodelay(true);
        let now = Instant::now();
        self.next_serial += 1;
        let token = self
            .connections
            .insert(Connection::new(stream, peer, self.next_serial, now));
        let Some(conn) = self.connections.get_mut(token) else {
            return;
        };
        let registered = self.poll.registry().register(
            &mut conn.stream,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(e) = registered {
            log(Some(peer), format_args!("cannot register connection: {e}"));
            self.connections.remove(token);
            return;
        }
        let mut conn = self.connections.take(token);
        if let Some(conn) = conn.as_mut() {
            self.reschedule(token, conn);
        }
        if let Some(conn) = conn {
            self.connections.restore(token, conn);
        }
    }

    /// Readiness on a connection: read, process, write. `hung_up` says the kernel already knows the peer
    /// closed its side (or the socket failed), so reading must go on to the end of the stream.
    fn on_ready(&mut self, token: usize, hung_up: bool) {
        let Some(mut conn) = self.connections.take(token) else {
            return;
        };
        let now = Instant::now();
        let fate = self.isolated(&mut conn, |server, conn| {
            conn.hung_up |= hung_up;
            server.service(token, conn, now, true)
        });
        self.finish(token, conn, fate);
        self.deliver_pending();
    }

    /// Runs work on one connection so that a bug (a panic) costs only that connection: it is logged and
    /// closed, and the loop goes on serving everyone else. Every path from the network is meant to be
    /// panic-free (the parsers are property-tested for it); this is the second line of defence.
    fn isolated(
        &mut self,
        conn: &mut Connection,
        work: impl FnOnce(&mut Self, &mut Connection) -> Fate,
    ) -> Fate {
        let peer = conn.peer;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(self, conn))) {
            Ok(fate) => fate,
            Err(_) => {
                self.internal_errors += 1;
                log(
                    Some(peer),
                    format_args!("internal error while serving this connection; closing it"),
                );
                Fate::Close
            }
        }
    }

    /// One round of work on a connection: read (when asked and not held back), process input, write,
    /// and decide whether it lives on.
    pub(crate) fn service(
        &mut self,
        token: usize,
        conn: &mut Connection,
        now: Instant,
        read: bool,
    ) -> Fate {
        // Whether bytes may be left in the socket: the buffer filled up, or reading waited for output.
        let mut left_in_socket = false;
        if read && self.output_backlogged(conn) {
            left_in_socket = true;
        } else if read {
            let max_input = self.max_input_bytes(&conn.state);
            match conn.read_available(&mut self.spare_input, max_input) {
                Ok(ReadResult::Full) => left_in_socket = true,
                Ok(ReadResult::Drained | ReadResult::Eof) => {}
                Err(e) => {
                    log(Some(conn.peer), format_args!("read failed: {e}"));
                    return Fate::Close;
                }
            }
            if !conn.input.is_empty() {
                conn.last_active = now;
            }
        }
        let unread_before = conn.input.len();
        self.process_input(token, conn, now);
        let input_taken = conn.input.len() < unread_before;
        conn.input.park(&mut self.spare_input);
        match conn.flush() {
            Ok(_) => {}
            Err(e) => {
                log(Some(conn.peer), format_args!("write failed: {e}"));
                return Fate::Close;
            }
        }
        // Room was made (input parsed, or output written below the backlog limit): come back for the
        // rest, since the socket will not report it again. No room made: wait for an event as usual.
        if left_in_socket && (input_taken || !self.output_backlogged(conn)) {
            self.read_again.push(token);
        }
        self.settle(token, conn, now)
    }

    /// Whether so much output waits for this client that reading more from it must wait (backpressure:
    /// an echo client that does not read its answers stops being read, rather than growing our memory).
    fn output_backlogged(&self, conn: &Connection) -> bool {
        conn.pending_output() > self.config.max_pending_output_bytes
    }

    /// The most input a connection may buffer in its state.
    fn max_input_bytes(&self, state: &State) -> usize {
        let http = self.config.http.max_header_bytes + self.config.http.max_body_bytes + 1024;
        match state {
            // A whole frame must fit: the largest message plus the longest frame header.
            State::WebSocket(_) => self.config.ws.max_message_bytes.max(http) + 14,
            _ => http,
        }
    }

    /// Turns buffered input into work, according to the connection's state.
    fn process_input(&mut self, token: usize, conn: &mut Connection, now: Instant) {
        loop {
            let progressed = match conn.state {
                State::Request { .. } => self.process_request_bytes(token, conn, now),
                State::WebSocket(_) => {
                    self.process_websocket_bytes(token, conn, now);
                    false
                }
                State::Closing { .. } => {
                    // Lingering close: whatever the peer still sends is read and thrown away.
                    conn.input.clear();
                    false
                }
                // Pipelined requests wait in the input buffer until the held response is done.
                State::Held(_) | State::Stream(_) => false,
            };
            if !progressed {
                return;
            }
        }
    }

    /// Parses one request from the input and answers it. Returns whether to go on parsing.
    fn process_request_bytes(&mut self, token: usize, conn: &mut Connection, now: Instant) -> bool {
        use crate::http::{parse_request, ParseStatus};
        if conn.input.is_empty() || self.output_backlogged(conn) {
            return false;
        }
        match parse_request(conn.input.unread(), &self.config.http) {
            Ok(ParseStatus::Incomplete) => {
                if let State::Request {
                    started: started @ None,
                } = &mut conn.state
                {
                    *started = Some(now);
                }
                false
            }
            Ok(ParseStatus::Complete { request, consumed }) => {
                conn.input.consume(consumed);
                let started = if conn.input.is_empty() {
                    None
                } else {
                    Some(now)
                };
                conn.state = State::Request { started };
                self.handle_request(token, conn, request, now);
                true
            }
            Err(error) => {
                log(Some(conn.peer), format_args!("bad request: {error}"));
                conn.input.clear();
                let response = crate::http::Response::error(error.status, error.reason);
                self.write_response(conn, &response, false, false, now);
                false
            }
        }
    }

    /// Moves a connection to the closing state, leaving the hub first: a closing connection gets no
    /// more messages, and its subscription must not outlive its state.
    pub(crate) fn begin_closing(&mut self, token: usize, conn: &mut Connection, until: Instant) {
        self.forget_subscriptions(token, &conn.state);
        conn.state = State::Closing { until };
    }

    /// Whether the connection lives on, once its work is done.
    fn settle(&mut self, token: usize, conn: &mut Connection, now: Instant) -> Fate {
        match &conn.state {
            State::Request { .. } if conn.peer_closed => {
                // The peer will send nothing more: answer what was asked, then close.
                if conn.pending_output() == 0 {
                    return Fate::Close;
                }
                conn.state = State::Closing {
                    until: now + self.config.linger,
                };
                Fate::Keep
            }
            State::Held(_) | State::Stream(_) | State::WebSocket(_) if conn.peer_closed => {
                Fate::Close
            }
            State::WebSocket(ws) if ws.protocol.is_closed() => {
                // RFC 6455 §7.1.1: once both close frames have crossed, the server closes TCP first.
                self.begin_closing(token, conn, now + self.config.linger);
                self.settle(token, conn, now)
            }
            State::Closing { .. } => {
                if conn.pending_output() > 0 {
                    return Fate::Keep;
                }
                if conn.peer_closed {
                    return Fate::Close;
                }
                // Close our side and wait (briefly) for the peer's EOF, so that unread bytes on its side
                // do not turn our close into a reset that could destroy the answer in flight.
                conn.shutdown_write();
                Fate::Keep
            }
            _ => Fate::Keep,
        }
    }

    /// Puts a connection back in the slab, or closes it for good.
    pub(crate) fn finish(&mut self, token: usize, mut conn: Connection, fate: Fate) {
        match fate {
            Fate::Keep => {
                self.reschedule(token, &mut conn);
                self.connections.restore(token, conn);
            }
            Fate::Close => {
                self.forget_subscriptions(token, &conn.state);
                let _ = self.poll.registry().deregister(&mut conn.stream);
                self.connections.release(token);
                // Dropping the socket closes it.
            }
        }
    }

    /// Removes a connection's subscriptions from the hub (no leaked subscriber survives its socket).
    pub(crate) fn forget_subscriptions(&mut self, token: usize, state: &State) {
        if let Some(topic) = subscribed_topic(state) {
            self.hub
                .unsubscribe(topic, token as crate::hub::SubscriberId, Instant::now());
        }
    }

    /// The moment this connection next needs attention.
    fn deadline(&self, conn: &Connection) -> Option<Instant> {
        match &conn.state {
            State::Request {
                started: Some(started),
            } => Some(*started + self.config.header_timeout),
            State::Request { started: None } => Some(conn.last_active + self.config.idle_timeout),
            State::Held(held) => Some(held.until),
            State::Stream(stream) => Some(stream.next_heartbeat),
            State::WebSocket(ws) => ws.protocol.next_deadline(),
            State::Closing { until } => Some(*until),
        }
    }

    /// Makes sure the timer heap will wake us for this connection's deadline (see [`Timers`]).
    fn reschedule(&mut self, token: usize, conn: &mut Connection) {
        let Some(deadline) = self.deadline(conn) else {
            return;
        };
        if conn
            .scheduled
            .is_some_and(|scheduled| scheduled <= deadline)
        {
            return; // an earlier wake-up is already planned; it will re-arm for this one
        }
        conn.scheduled = Some(deadline);
        self.timers.push(TimerEntry {
            when: deadline,
            token,
            serial: conn.serial,
        });
    }

    /// Acts on every deadline that has passed.
    fn fire_timers(&mut self, now: Instant) {
        while let Some(entry) = self.timers.pop_due(now) {
            let Some(mut conn) = self.connections.take(entry.token) else {
                continue;
            };
            if conn.serial != entry.serial || conn.scheduled != Some(entry.when) {
                // A stale entry: the connection is a newer one, or an earlier wake-up replaced it.
                self.connections.restore(entry.token, conn);
                continue;
            }
            conn.scheduled = None;
            let fate = match self.deadline(&conn) {
                Some(deadline) if deadline <= now => self.isolated(&mut conn, |server, conn| {
                    server.on_deadline(entry.token, conn, now)
                }),
                _ => Fate::Keep,
            };
            self.finish(entry.token, conn, fate);
            self.deliver_pending();
        }
    }

    /// A connection's deadline has passed.
    fn on_deadline(&mut self, token: usize, conn: &mut Connection, now: Instant) -> Fate {
        match &mut conn.state {
            State::Request { started: Some(_) } => {
                log(
                    Some(conn.peer),
                    format_args!(
                        "408: request not complete within {:?}",
                        self.config.header_timeout
                    ),
                );
                let response =
                    crate::http::Response::error(408, "the request was not complete in time");
                conn.input.clear();
                self.write_response(conn, &response, false, false, now);
            }
            State::Request { started: None } => return Fate::Close, // idle keep-alive connection
            State::Held(_) => self.answer_held(token, conn, None, now),
            State::Stream(stream) => {
                stream.next_heartbeat = now + self.config.heartbeat_interval;
                let mut piece = Vec::new();
                stream.format.heartbeat(&mut piece);
                self.send_stream_piece(token, conn, &piece, now);
            }
            State::WebSocket(ws) => {
                if ws.protocol.on_timeout(now, &mut conn.output) {
                    log(
                        Some(conn.peer),
                        format_args!("websocket peer unresponsive, dropping it"),
                    );
                    return Fate::Close;
                }
            }
            State::Closing { .. } => return Fate::Close,
        }
        self.service(token, conn, now, false)
    }

    /// Runs what other threads asked for.
    fn run_commands(&mut self) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Publish { topic, data, reply } => {
                    let _ = reply.send(self.publish(&topic, data));
                }
                Command::SubscriberCount { topic, reply } => {
                    let _ = reply.send(self.hub.subscriber_count(&topic));
                }
                Command::ConnectionCount { reply } => {
                    let _ = reply.send(self.connections.len());
                }
                Command::InternalErrors { reply } => {
                    let _ = reply.send(self.internal_errors);
                }
                Command::DropConnections => self.drop_connections(),
                Command::Shutdown => self.running = false,
            }
        }
        self.deliver_pending();
    }

    /// Closes every client connection at once, as a crash or a network change would.
    fn drop_connections(&mut self) {
        for token in self.connections.indices() {
            if let Some(conn) = self.connections.take(token) {
                self.finish(token, conn, Fate::Close);
            }
        }
    }

    /// Writes a response; prints its head with `--trace`. Without keep-alive the connection then closes.
    pub(crate) fn write_response(
        &self,
        conn: &mut Connection,
        response: &crate::http::Response,
        head_only: bool,
        keep_alive: bool,
        now: Instant,
    ) {
        let start = conn.output.len();
        response.write(
            &mut conn.output,
            unix_millis() / 1000,
            head_only,
            keep_alive,
        );
        if self.config.trace {
            trace_head(conn.peer, "->", &conn.output[start..]);
        }
        if !keep_alive && !response.chunked {
            conn.state = State::Closing {
                until: now + self.config.linger,
            };
        }
    }
}

/// The answer to a client past the connection limit, written before the socket is dropped.
const SERVICE_UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\
Content-Length: 34\r\nConnection: close\r\nRetry-After: 1\r\n\r\n503: too many connections, retry\r\n";

/// How many finished handshakes the kernel may queue for `accept`. `mio` (like `std`) asks for 128; a
/// burst of a thousand clients connecting at once then overflows the queue, and the kernel drops their
/// handshakes, which the clients retry only after a full second.
const LISTEN_BACKLOG: i32 = 4096;

/// Raises the listen backlog of an already listening socket (Linux and the BSDs accept a second
/// `listen(2)` for that). Failure only leaves the smaller backlog, so it is ignored.
fn raise_listen_backlog(listener: &TcpListener, backlog: i32) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        extern "C" {
            fn listen(socket: i32, backlog: i32) -> i32;
        }
        // SAFETY: `listen` takes a plain integer file descriptor and an integer and touches no memory of
        // ours; the descriptor is valid because `listener` owns it and is alive for the whole call.
        // `std` and `mio` offer no way to choose the backlog, and the runtime dependencies are kept to
        // four crates, so this one foreign call stands in for a socket-options crate. Measured need: the
        // `thousand_long_poll_clients` test stalls a full second (SYN retransmission) with 128.
        let _ = unsafe { listen(listener.as_raw_fd(), backlog) };
    }
}

/// A new channel session id: 128 bits from the operating system's random source, as 32 hex digits. The id
/// is the only key to the session's private queue, so it must not be guessable.
pub(crate) fn random_session_id() -> io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
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
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut text = String::new();
    for line in head.split("\r\n").filter(|line| !line.is_empty()) {
        text.push_str(&format!("{direction} {line}\n"));
    }
    println!("[{peer}]\n{text}");
}
