//! The event loop: the only code in pushlab that touches a socket or reads the clock. It holds no
//! protocol and no door logic: it moves bytes between sockets and the [`Core`], and carries out the
//! core's [`Action`]s.
//!
//! # Theory of operation
//!
//! One thread, one `mio::Poll`. The listener, a `mio::Waker` and every connection are registered with it
//! (connections edge-triggered for reading and writing, once). Each turn:
//!
//! 1. wait for readiness, at most until the core's earliest deadline (zero when sockets wait to be read
//!    again);
//! 2. for each readiness event: accept, run commands from other threads, or let the core read
//!    (`|buf| socket.read(buf)`) and write (`socket.write(slice)` for one slice,
//!    `socket.write_vectored(slices)` for several) the connection;
//! 3. carry out the core's actions: writes, half-closes, closes; reads left for the next turn
//!    (fairness) are collected;
//! 4. give the core the time: it fires the deadlines that are due.
//!
//! Edge-triggered readiness reports new bytes once. Whenever the core stopped reading a socket at a
//! bound (the input was full, the output was at its budget, the turn's quota was used), it asks for
//! [`Action::ReadAgain`] as soon as the bound makes room, and the loop reads that socket on its next
//! turn without waiting for an event that would never come.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::channel::ChannelHandler;
use crate::redis::backend::{Backend, Outcome};
use crate::server::core::{Action, Core};
use crate::server::room::{Stored, Waiter};
use crate::server::timers::poll_timeout;
use crate::server::{log, unix_millis, Command, ServerHandle};
use crate::Config;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// The Redis backend's two connections: commands (publish, load) and the feed follower.
const REDIS_COMMANDS: Token = Token(usize::MAX - 3);
const REDIS_FOLLOWER: Token = Token(usize::MAX - 4);

/// A pushlab server: bind it, then [`Server::run`] it on the current thread.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    waker: Arc<Waker>,
    commands: Receiver<Command>,
    command_sender: Sender<Command>,
    /// Sockets by the core's connection token.
    sockets: Vec<Option<TcpStream>>,
    core: Core,
    /// With `--redis`: the connections to the shared log, whose mirror is the core's hub.
    shared_log: Option<Backend>,
    /// Sockets to read on the next turn (see the module docs).
    read_next_turn: Vec<usize>,
    /// Sockets to write on the next turn (their quota for this one was used).
    write_next_turn: Vec<usize>,
    running: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.listener.local_addr().ok())
            .field("core", &self.core)
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
        let shared_log = config.redis.map(|addr| {
            Backend::new(
                addr,
                (REDIS_COMMANDS, REDIS_FOLLOWER),
                config.redis_limits.clone(),
                config.hub.max_messages_per_topic,
                (config.hub.max_topics, config.max_sessions),
                // A random name, so that nodes in one process or on different hosts never share one.
                random_session_id().unwrap_or_else(|_| format!("pid{}", std::process::id())),
                Instant::now(),
            )
        });
        // Ids start after the start time in milliseconds, so they do not repeat across a restart.
        let mut core = Core::new(
            config,
            unix_millis(),
            Box::new(random_session_id),
            Instant::now(),
        );
        core.set_unix_millis(unix_millis());
        Ok(Server {
            poll,
            listener,
            waker,
            commands,
            command_sender,
            sockets: Vec::new(),
            core,
            shared_log,
            read_next_turn: Vec::new(),
            write_next_turn: Vec::new(),
            running: true,
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
        self.core.register_channel(name, handler);
    }

    // ANCHOR: turn
    /// Runs until a [`ServerHandle::shutdown`].
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while self.running {
            let timeout = if self.read_next_turn.is_empty() && self.write_next_turn.is_empty() {
                let shared_log = self.shared_log.as_ref().and_then(Backend::next_deadline);
                poll_timeout(Instant::now(), [self.core.next_deadline(), shared_log])
            } else {
                Some(Duration::ZERO) // sockets wait for another round: just look for news first
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            self.core.set_unix_millis(unix_millis());
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(now),
                    WAKER => self.run_commands(now),
                    token if self.shared_log.as_ref().is_some_and(|b| b.owns(token)) => {
                        self.shared_log_ready(Some(token), now)
                    }
                    Token(token) => {
                        let hung_up = event.is_read_closed() || event.is_error();
                        if event.is_readable() || hung_up {
                            self.read(token, now, hung_up);
                        }
                        if event.is_writable() {
                            self.write(token, now);
                        }
                    }
                }
                self.carry_out_actions(now);
            }
            // One more round for each socket left for this turn, after everyone's events.
            for token in std::mem::take(&mut self.read_next_turn) {
                self.read(token, now, false);
                self.carry_out_actions(now);
            }
            for token in std::mem::take(&mut self.write_next_turn) {
                self.write(token, now);
                self.carry_out_actions(now);
            }
            self.core.on_timers(Instant::now(), unix_millis());
            self.shared_log_ready(None, now);
            self.carry_out_actions(now);
        }
        Ok(())
    }
    // ANCHOR_END: turn

    /// Drives the Redis backend: a socket of its own is ready (`Some(token)`), or its timers may be
    /// due (`None`). What it brings (messages, stored publishes) goes to the core.
    fn shared_log_ready(&mut self, token: Option<Token>, now: Instant) {
        let Some(backend) = &mut self.shared_log else {
            return;
        };
        let mut outcomes = Vec::new();
        let hub = &mut self.core.room.hub;
        match token {
            Some(token) => backend.on_ready(token, hub, self.poll.registry(), now, &mut outcomes),
            None => backend.on_timer(hub, self.poll.registry(), now, &mut outcomes),
        }
        if let Some(shared) = &mut self.core.room.shared_log {
            shared.reachable = backend.can_store();
        }
        self.core.on_shared_log(outcomes, now);
        self.carry_out_actions(now);
    }

    /// Hands the publishes the core queued to the Redis backend. Returns whether there were any.
    fn send_to_shared_log(&mut self, now: Instant) -> bool {
        let (Some(backend), Some(shared)) = (&mut self.shared_log, &mut self.core.room.shared_log)
        else {
            return false;
        };
        let outbox = std::mem::take(&mut shared.outbox);
        let sessions = std::mem::take(&mut shared.sessions);
        if outbox.is_empty() && sessions.is_empty() {
            return false;
        }
        let mut outcomes = Vec::new();
        let hub = &mut self.core.room.hub;
        let grace_ms =
            u64::try_from(self.core.room.config.session_grace.as_millis()).unwrap_or(u64::MAX);
        for command in sessions {
            backend.session(
                command,
                grace_ms,
                hub,
                self.poll.registry(),
                now,
                &mut outcomes,
            );
        }
        for (ticket, topic, data) in outbox {
            let registry = self.poll.registry();
            let options = shared.take_options(ticket);
            if let Err(error) = backend.publish(
                ticket,
                &topic,
                data,
                options,
                hub,
                registry,
                now,
                &mut outcomes,
            ) {
                outcomes.push(Outcome::Stored {
                    ticket,
                    result: Err(error),
                });
            }
        }
        shared.reachable = backend.can_store();
        self.core.on_shared_log(outcomes, now);
        true
    }

    /// Accepts every waiting connection (design rule 7: until `WouldBlock`).
    fn accept_all(&mut self, now: Instant) {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.add_connection(stream, peer, now),
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

    fn add_connection(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        let Some(token) = self.core.accept(peer, now) else {
            // Best effort: a fresh socket's send buffer takes this small answer at once.
            let _ = stream.write(SERVICE_UNAVAILABLE);
            return;
        };
        let _ = stream.set_nodelay(true);
        let registered = self.poll.registry().register(
            &mut stream,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(e) = registered {
            log(Some(peer), format_args!("cannot register connection: {e}"));
            self.core.close(token, now);
            return;
        }
        if self.sockets.len() <= token {
            self.sockets.resize_with(token + 1, || None);
        }
        match self.sockets.get_mut(token) {
            Some(slot) => *slot = Some(stream),
            // Not reached: the table was just grown to hold `token`. Were it, the connection would be
            // closed (the socket dropped here) rather than kept by the core without a socket.
            None => self.core.close(token, now),
        }
    }

    /// Lets the core read from the socket (`hung_up`: the event reported the peer's FIN).
    fn read(&mut self, token: usize, now: Instant, hung_up: bool) {
        let Some(Some(socket)) = self.sockets.get_mut(token) else {
            return;
        };
        self.core
            .receive(token, now, hung_up, |buf| socket.read(buf));
    }

    /// Lets the core write to the socket.
    fn write(&mut self, token: usize, now: Instant) {
        let Some(Some(socket)) = self.sockets.get_mut(token) else {
            return;
        };
        self.core
            .transmit_vectored(token, now, |slices| write_to(socket, slices));
    }

    /// Does what the core asked for.
    fn carry_out_actions(&mut self, now: Instant) {
        loop {
            self.carry_out_socket_actions(now);
            // Publishes queued for the shared log go out now; their outcomes may bring more actions.
            if !self.send_to_shared_log(now) {
                return;
            }
        }
    }

    /// Does what the core asked of the client sockets. News goes out inside `next_action_writing`:
    /// the core writes each woken subscriber's message to its socket as soon as it is pulled.
    fn carry_out_socket_actions(&mut self, now: Instant) {
        loop {
            let sockets = &mut self.sockets;
            let next =
                self.core
                    .next_action_writing(|token, slices| match sockets.get_mut(token) {
                        Some(Some(socket)) => write_to(socket, slices),
                        _ => Err(io::ErrorKind::NotConnected.into()),
                    });
            let Some(action) = next else {
                return;
            };
            match action {
                Action::Write(token) => self.write(token, now),
                Action::WriteNextTurn(token) => {
                    if !self.write_next_turn.contains(&token) {
                        self.write_next_turn.push(token);
                    }
                }
                Action::ReadAgain(token) => {
                    if !self.read_next_turn.contains(&token) {
                        self.read_next_turn.push(token);
                    }
                }
                Action::HalfClose(token) => {
                    if let Some(Some(socket)) = self.sockets.get(token) {
                        // An error means the peer is already gone, which is what we want anyway.
                        let _ = socket.shutdown(Shutdown::Write);
                    }
                }
                Action::Close(token) => {
                    if let Some(slot) = self.sockets.get_mut(token) {
                        if let Some(mut socket) = slot.take() {
                            let _ = self.poll.registry().deregister(&mut socket);
                            // Dropping the socket closes it.
                        }
                    }
                }
            }
        }
    }

    /// Runs what other threads asked for.
    fn run_commands(&mut self, now: Instant) {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Publish { topic, data, reply } => {
                    match self.core.submit(&topic, data, now) {
                        Ok(Stored::Now(id)) => {
                            let _ = reply.send(Ok(id));
                        }
                        // The shared log answers the handle when Redis has stored the message.
                        Ok(Stored::Later(ticket)) => {
                            self.core.room.await_store(ticket, Waiter::Handle(reply))
                        }
                        Err(error) => {
                            let _ = reply.send(Err(error));
                        }
                    }
                }
                Command::SubscriberCount { topic, reply } => {
                    let _ = reply.send(self.core.room.hub.subscriber_count(&topic));
                }
                Command::ConnectionCount { reply } => {
                    let _ = reply.send(self.core.connection_count());
                }
                Command::InternalErrors { reply } => {
                    let _ = reply.send(self.core.internal_errors());
                }
                Command::BufferedBytes { reply } => {
                    let _ = reply.send(self.core.room.buffered_bytes);
                }
                Command::TopicCount { reply } => {
                    let _ = reply.send(self.core.room.hub.topic_count());
                }
                Command::DropConnections => self.core.drop_connections(now),
                Command::Shutdown => self.running = false,
            }
            self.carry_out_actions(now);
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

/// Hands `slices` to the socket. One slice (a whole answer, one pushed message) goes out by send(2);
/// writev(2) is for several. The vectored call takes the VFS's path (the iovec array copied in from
/// user space, then the file's checks) before it reaches the socket, which the lab measured at about a
/// tenth of a WebSocket delivery's server CPU on loopback.
fn write_to(socket: &mut TcpStream, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    match slices {
        [only] => socket.write(only),
        _ => socket.write_vectored(slices),
    }
}

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
fn random_session_id() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
