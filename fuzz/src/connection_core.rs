//! The server core ([`pushlab::server::core::Core`]) driven by a fake event loop whose every move the
//! fuzzer chooses: clients connect, send requests to every door, WebSocket frames and junk, read
//! through windows of any size or not at all, hang up, are closed; messages are published; the clock
//! jumps. The limits are tiny, so a few hundred bytes reach all of them.
//!
//! After every event the bounds the core promises must hold (`pushlab::server::core`, "Budgets", and
//! `pushlab::server::output`):
//!
//! - no panic was caught by the core's guard ([`Core::internal_errors`] is zero);
//! - at most `max_connections` are open, and the core announced every close (`Action::Close`);
//! - a connection's input holds at most a whole request or frame (`max_input_bytes`);
//! - a connection's queued output is within `max_pending_output_bytes` plus one piece (an answer is
//!   checked against the budget before it is written, so it may pass it once) plus the one final piece
//!   (a last chunk or a close frame); and once at or over the budget, an event that wrote nothing to the
//!   socket adds at most that final piece;
//! - the global count of buffered bytes is the sum of the connections' storage, and it is within
//!   `max_buffered_bytes` unless no subscriber has output left to drop (the core sheds subscribers until
//!   it is under the budget, and answers new requests 503).
//!
//! # The event sequence
//!
//! Each event is one byte (its kind) and the bytes its kind needs; a missing byte reads as zero, so
//! every input is a valid sequence. A connection is named by a byte, modulo the open connections.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushlab::server::core::{Action, Core};
use pushlab::transport::iframe::PRELUDE_PADDING_BYTES;
use pushlab::Config;

/// The kinds of event, by their first byte (modulo [`event::KINDS`]), and what follows it. A connection
/// is one byte; a piece is a length byte and that many bytes.
pub mod event {
    /// A client connects.
    pub const ACCEPT: u8 = 0;
    /// A client sends a request: template (index into [`super::REQUESTS`]), topic, body piece,
    /// connection.
    pub const REQUEST: u8 = 1;
    /// A client sends a masked WebSocket frame: first header byte, payload piece, connection.
    pub const FRAME: u8 = 2;
    /// A client sends bytes: piece, connection.
    pub const JUNK: u8 = 3;
    /// A client reads: connection, window (two bytes, big-endian; 0 reads nothing).
    pub const READ: u8 = 4;
    /// A message is published from outside: topic, data piece.
    pub const PUBLISH: u8 = 5;
    /// The clock moves by the square of a byte, in milliseconds.
    pub const CLOCK: u8 = 6;
    /// A client hangs up: connection.
    pub const HANG_UP: u8 = 7;
    /// The driver closes a connection: connection.
    pub const CLOSE: u8 = 8;
    /// Reading a connection fails: connection.
    pub const READ_ERROR: u8 = 9;
    /// A readiness event with nothing new: connection.
    pub const READABLE: u8 = 10;
    /// How many kinds there are.
    pub const KINDS: u8 = 11;
}

/// Events per input: enough for long stories, few enough that every input runs in milliseconds.
const MAX_EVENTS: usize = 256;

/// `Action::ReadAgain` rounds carried out after one event (a bound for the fake loop, not the core).
const MAX_READ_AGAIN: usize = 64;

/// The wall clock at the start (for `Date` headers and the `clock` topic).
const UNIX_MILLIS_AT_START: u64 = 1_700_000_000_000;

/// The largest piece that ends what a connection sends, queued even at the budget: a WebSocket close
/// frame (RFC 6455 §5.5: a control frame's payload is at most 125 bytes, after a 2-byte header). The
/// last chunk of a response, `0\r\n\r\n`, is smaller.
const FINAL_PIECE_BYTES: usize = 2 + 125;

/// Opening requests, one per door and a few more: `{topic}` is replaced by a topic of the fuzzer's
/// choosing, `{body}` by its bytes.
pub const REQUESTS: [&str; 14] = [
    "GET /poll/{topic}?after=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    "GET /longpoll/{topic} HTTP/1.1\r\nHost: t\r\n\r\n",
    "GET /longpoll/{topic}?after=0 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    "GET /stream/{topic}?after=0 HTTP/1.1\r\nHost: t\r\n\r\n",
    "GET /iframe/{topic}?after=0&callback=cb HTTP/1.1\r\nHost: t\r\n\r\n",
    "GET /jsonp/{topic}?callback=cb HTTP/1.1\r\nHost: t\r\n\r\n",
    "GET /sse/{topic} HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 1\r\n\r\n",
    "GET /ws/{topic}?after=0 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    "GET /ws/echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    "POST /publish/{topic} HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n{body}",
    "POST /publish/{topic} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{chunked}",
    "POST /channel/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    "GET /pushlab.js HTTP/1.1\r\nHost: t\r\n\r\n",
    "GET /{body} HTTP/1.1\r\nHost: t\r\n\r\n",
];

/// Topics the requests and publishes use (one more than `hub.max_topics`, so eviction happens).
pub const TOPICS: [&str; 4] = ["a", "b", "c", "chat"];

/// Tiny limits, so that short inputs reach every bound, and short timeouts, so that clock steps of a
/// few seconds reach every deadline.
fn small_config() -> Config {
    let mut config = Config {
        max_connections: 4,
        header_timeout: Duration::from_secs(2),
        linger: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(5),
        hold_timeout: Duration::from_secs(3),
        heartbeat_interval: Duration::from_secs(1),
        max_stream_bytes: 2048,
        max_pending_output_bytes: 512,
        max_buffered_bytes: 6 * 1024,
        max_batch_messages: 4,
        session_grace: Duration::from_secs(2),
        max_sessions: 2,
        clock_interval: Some(Duration::from_secs(1)),
        // The requests say `Host: t`, the shortest name; the Host check itself is tested on the wire.
        allowed_hosts: vec!["t".to_string()],
        ..Config::default()
    };
    config.http.max_request_line_bytes = 128;
    config.http.max_header_bytes = 512;
    config.http.max_headers = 8;
    config.http.max_body_bytes = 256;
    config.ws.max_message_bytes = 256;
    config.ws.ping_interval = Duration::from_secs(2);
    config.ws.pong_timeout = Duration::from_secs(1);
    config.ws.close_timeout = Duration::from_secs(1);
    config.hub.max_messages_per_topic = 8;
    config.hub.max_bytes_per_topic = 2048;
    config.hub.max_topics = 3;
    config.hub.max_publish_bytes = 128;
    config
}

/// The largest piece that may pass the output budget: a whole answer is checked against the budget
/// before it is written. The largest answers are a static file, a batch of `max_batch_messages`
/// messages (JSON escaping can make a message six times its size) and an iframe stream's prelude; 1 KiB
/// more covers the response head and the framing.
fn largest_piece(config: &Config) -> usize {
    let largest_file = pushlab::http::static_files::paths()
        .filter_map(|path| pushlab::http::static_files::lookup(path).ok().flatten())
        .map(|file| file.bytes.len())
        .max()
        .unwrap_or(0);
    let batch = config.max_batch_messages * (6 * config.hub.max_publish_bytes + 64);
    let echo = config.ws.max_message_bytes + 14;
    largest_file
        .max(batch)
        .max(echo)
        .max(PRELUDE_PADDING_BYTES + 256)
        + 1024
}

/// Reads the fuzzer's bytes; past the end every byte is zero.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (&first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// A length byte, then that many bytes.
    fn piece(&mut self) -> &[u8] {
        let len = usize::from(self.byte()).min(self.0.len());
        let (piece, rest) = self.0.split_at(len);
        self.0 = rest;
        piece
    }
}

/// One client: its connection's token and the bytes it sent that the server has not read yet (they
/// wait in the socket).
struct Client {
    token: usize,
    in_socket: Vec<u8>,
    hung_up: bool,
}

/// The fake event loop.
struct Driver {
    core: Core,
    now: Instant,
    unix_millis: u64,
    clients: Vec<Client>,
    budget: usize,
    max_buffered: usize,
    max_connections: usize,
    largest_piece: usize,
    /// The input bound of a connection reading requests (measured on the first one accepted).
    request_input_bound: usize,
}

/// The property: see the module docs.
pub fn connection_core(data: &[u8]) {
    let mut input = Bytes(data);
    let mut driver = Driver::new();
    for _ in 0..MAX_EVENTS {
        if input.0.is_empty() {
            break;
        }
        let before = driver.pending_outputs();
        let written_to = driver.step(&mut input);
        driver.settle();
        driver.check(&before, written_to);
    }
}

impl Driver {
    fn new() -> Driver {
        let config = small_config();
        let now = Instant::now();
        let mut counter = 0u64;
        let session_ids = Box::new(move || {
            counter += 1;
            Ok(format!("{counter:032x}"))
        });
        let (budget, max_buffered) = (config.max_pending_output_bytes, config.max_buffered_bytes);
        let (max_connections, largest_piece) = (config.max_connections, largest_piece(&config));
        let mut core = Core::new(config, 1000, session_ids, now);
        core.set_unix_millis(UNIX_MILLIS_AT_START);
        Driver {
            core,
            now,
            unix_millis: UNIX_MILLIS_AT_START,
            clients: Vec::new(),
            budget,
            max_buffered,
            max_connections,
            largest_piece,
            request_input_bound: 0,
        }
    }

    /// One event decoded from `input`. Returns the connection whose client read, if one did.
    fn step(&mut self, input: &mut Bytes) -> Option<usize> {
        match input.byte() % event::KINDS {
            event::ACCEPT => self.accept(),
            event::REQUEST => {
                let request = request(input);
                self.send(input.byte(), &request);
            }
            event::FRAME => {
                let frame = client_frame(input);
                self.send(input.byte(), &frame);
            }
            event::JUNK => {
                let junk = input.piece().to_vec();
                self.send(input.byte(), &junk);
            }
            event::READ => return self.read(input.byte(), usize::from(input.u16())),
            event::PUBLISH => {
                let topic = TOPICS[usize::from(input.byte()) % TOPICS.len()];
                let data = String::from_utf8_lossy(input.piece()).into_owned();
                // Refusals (too large, too many topics) are part of the story.
                let _ = self.core.publish(topic, data, self.now);
            }
            event::CLOCK => {
                // Quadratic, so that steps range from a millisecond to a minute.
                let step = u64::from(input.byte()).pow(2);
                self.now += Duration::from_millis(step);
                self.unix_millis += step;
                self.core.on_timers(self.now, self.unix_millis);
            }
            event::HANG_UP => {
                if let Some(client) = self.client(input.byte()) {
                    client.hung_up = true;
                    let token = client.token;
                    self.receive(token, true);
                }
            }
            event::CLOSE => {
                if let Some(client) = self.client(input.byte()) {
                    let token = client.token;
                    self.core.close(token, self.now);
                }
            }
            event::READ_ERROR => {
                if let Some(client) = self.client(input.byte()) {
                    let token = client.token;
                    self.core.receive(token, self.now, false, |_| {
                        Err(io::ErrorKind::ConnectionReset.into())
                    });
                }
            }
            _ => {
                // A readiness event with nothing new: the server reads what waits in the socket.
                if let Some(client) = self.client(input.byte()) {
                    let token = client.token;
                    self.receive(token, false);
                }
            }
        }
        None
    }

    fn accept(&mut self) {
        let open = self.core.connection_count();
        let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
        match self.core.accept(peer, self.now) {
            Some(token) => {
                assert!(open < self.max_connections, "accepted past the limit");
                if let Some(conn) = self.core.connection(token) {
                    let bound = conn.max_input_bytes(&self.core.room);
                    self.request_input_bound = self.request_input_bound.max(bound);
                }
                self.clients.push(Client {
                    token,
                    in_socket: Vec::new(),
                    hung_up: false,
                });
            }
            None => assert_eq!(open, self.max_connections, "refused below the limit"),
        }
    }

    /// The client named by `which` (modulo the open ones), if any is open.
    fn client(&mut self, which: u8) -> Option<&mut Client> {
        let count = self.clients.len();
        self.clients.get_mut(usize::from(which) % count.max(1))
    }

    /// The client puts `bytes` in its socket (unless it hung up), and the server reads.
    fn send(&mut self, which: u8, bytes: &[u8]) {
        let Some(client) = self.client(which) else {
            return;
        };
        if client.hung_up {
            return;
        }
        client.in_socket.extend_from_slice(bytes);
        let token = client.token;
        self.receive(token, false);
    }

    /// The server reads what waits in the client's socket, as much as it wants; a hung-up client's
    /// socket reports the end of the stream once it is empty.
    fn receive(&mut self, token: usize, hung_up: bool) {
        let Some(client) = self.clients.iter_mut().find(|c| c.token == token) else {
            return;
        };
        let mut taken = 0;
        let (socket, client_hung_up) = (&client.in_socket, client.hung_up);
        self.core.receive(token, self.now, hung_up, |room| {
            let waiting = &socket[taken..];
            if waiting.is_empty() {
                return if client_hung_up {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                };
            }
            let n = room.len().min(waiting.len());
            room[..n].copy_from_slice(&waiting[..n]);
            taken += n;
            Ok(n)
        });
        client.in_socket.drain(..taken);
    }

    /// The client reads at most `window` bytes. Returns its token.
    fn read(&mut self, which: u8, window: usize) -> Option<usize> {
        let token = self.client(which)?.token;
        let mut got = 0;
        self.core.transmit(token, self.now, |bytes| {
            let room = window - got;
            if room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = room.min(bytes.len());
            got += n;
            Ok(n)
        });
        Some(token)
    }

    /// Carries out what the core asked for: forget closed connections, read again where asked.
    /// Writes wait for the clients to read.
    fn settle(&mut self) {
        for _ in 0..MAX_READ_AGAIN {
            let mut read_again = Vec::new();
            while let Some(action) = self.core.next_action() {
                match action {
                    Action::Close(token) => self.clients.retain(|c| c.token != token),
                    Action::ReadAgain(token) => read_again.push(token),
                    Action::Write(_) | Action::WriteNextTurn(_) | Action::HalfClose(_) => {}
                }
            }
            if read_again.is_empty() {
                return;
            }
            for token in read_again {
                self.receive(token, false);
            }
        }
    }

    /// Each open connection's queued output, by token.
    fn pending_outputs(&self) -> Vec<(usize, usize)> {
        self.clients
            .iter()
            .filter_map(|c| Some((c.token, self.core.connection(c.token)?.output.pending())))
            .collect()
    }

    /// Every bound of the module docs. `written_to` is the connection whose client read in this event.
    fn check(&self, before: &[(usize, usize)], written_to: Option<usize>) {
        let core = &self.core;
        assert_eq!(core.internal_errors(), 0, "a panic was caught by the guard");
        assert!(core.connection_count() <= self.max_connections);
        assert_eq!(
            core.connection_count(),
            self.clients.len(),
            "a connection closed without Action::Close"
        );
        let mut held = 0;
        let mut subscriber_output = 0;
        for client in &self.clients {
            let conn = core
                .connection(client.token)
                .expect("an open connection is known to the core");
            let pending = conn.output.pending();
            // Bytes read under the request bound may still wait when the state has changed (pipelined
            // after an upgrade), so the bound is the larger of the two.
            let input_bound = conn
                .max_input_bytes(&core.room)
                .max(self.request_input_bound);
            assert!(
                conn.input.len() <= input_bound,
                "input of {} bytes in state {}",
                conn.input.len(),
                conn.state_name()
            );
            assert!(
                pending <= self.budget + self.largest_piece + FINAL_PIECE_BYTES,
                "{pending} bytes queued in state {} (budget {})",
                conn.state_name(),
                self.budget
            );
            let earlier = before.iter().find(|(token, _)| *token == client.token);
            if let Some(&(_, earlier)) = earlier.filter(|_| written_to != Some(client.token)) {
                if earlier >= self.budget {
                    assert!(
                        pending <= earlier + FINAL_PIECE_BYTES,
                        "{earlier} bytes queued (budget {}) grew to {pending} in state {}",
                        self.budget,
                        conn.state_name()
                    );
                }
            }
            held += conn.output.footprint() + conn.input.capacity();
            if conn.subscription().is_some() {
                subscriber_output += pending;
            }
        }
        assert_eq!(
            core.room.buffered_bytes, held,
            "the global count is not the sum of the connections' storage"
        );
        assert!(
            held <= self.max_buffered || subscriber_output == 0,
            "{held} bytes buffered (budget {}) while subscribers hold {subscriber_output} unsent",
            self.max_buffered
        );
    }
}

/// An opening request from [`REQUESTS`], with a topic and a body from the fuzzer.
fn request(input: &mut Bytes) -> Vec<u8> {
    let template = REQUESTS[usize::from(input.byte()) % REQUESTS.len()];
    let topic = TOPICS[usize::from(input.byte()) % TOPICS.len()];
    let body = input.piece();
    let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
    chunked.extend_from_slice(body);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let text = template
        .replace("{topic}", topic)
        .replace("{len}", &body.len().to_string());
    let mut out = Vec::new();
    for (at, part) in text.split("{body}").enumerate() {
        if at > 0 {
            out.extend_from_slice(body);
        }
        let mut parts = part.split("{chunked}");
        out.extend_from_slice(parts.next().unwrap_or_default().as_bytes());
        for rest in parts {
            out.extend_from_slice(&chunked);
            out.extend_from_slice(rest.as_bytes());
        }
    }
    out
}

/// A client's frame (RFC 6455 §5.2), masked as a client must: the first header byte (FIN, RSV bits,
/// opcode) as the fuzzer gives it, so bad opcodes, reserved bits and fragments come too.
fn client_frame(input: &mut Bytes) -> Vec<u8> {
    let first = input.byte();
    let payload = input.piece().to_vec();
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![first];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}
