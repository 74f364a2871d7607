//! One client connection as a sans-IO state machine: every state and every transition is in this file.
//!
//! # Theory of operation
//!
//! A connection holds no socket. The event loop reads bytes into [`Connection::input`], writes bytes
//! from [`Connection::output`], and tells the connection what happened by calling one of its event
//! methods, always with `now` passed in (design rule 8):
//!
//! | event | method |
//! |---|---|
//! | bytes arrived | [`Connection::on_input`] |
//! | the socket took bytes and the output has room again | [`Connection::on_output_room`] |
//! | a message arrived on the subscribed topic | [`Connection::on_news`] |
//! | the deadline from [`Connection::deadline`] passed | [`Connection::on_deadline`] |
//! | the peer closed its sending side | [`Connection::on_peer_closed`] |
//!
//! Each returns nothing; what the loop must do next is read off the connection afterwards: bytes in
//! `output` to write, [`Connection::deadline`] to schedule, [`Connection::wants_input`] to keep reading,
//! [`Connection::settle`] to keep, half-close or close the socket. Actions on the shared state (publish,
//! subscribe, unsubscribe) go through the [`Room`], in the same call, so that "subscribe and replay" is
//! one step and no message can slip in between.
//!
//! ```text
//!            ┌──────────── answered, keep-alive ───────────────┐
//!            ▼                                                 │
//!   accept ─► Request ──(long poll / JSONP, nothing new)──► Held ──(news or hold timeout)
//!            │   │
//!            │   ├──(stream, iframe, SSE)──► Stream ──(body limit reached)──► Request
//!            │   ├──(101 Switching Protocols)──► WebSocket ──(close handshake)──► Closing
//!            │   └──(POST /publish with --redis)──► Storing ──(Redis answered, or timeout)──► Request
//!            │
//!            └──(error, Connection: close, peer gone)──► Closing ──(output flushed, peer quiet)──► closed
//! ```
//!
//! # The output budget
//!
//! Every byte is queued through [`Output::send`] against `max_pending_output_bytes` (see
//! [`crate::server::output`]). A subscriber (held, stream, WebSocket topic) never copies its replay: it
//! keeps a cursor into the topic log and *pulls* messages while its output has room, on news and again
//! whenever the socket drains. The four doors that push (the three streams and a WebSocket on a topic)
//! share one pull loop: each frames a piece through its [`PushDoor`], and the loop queues the piece
//! whole or leaves it in the log; a parked batch request answers once instead. Input is parsed only while the output has room, so a client that pipelines
//! requests or echoes without reading the answers stops being read, and resumes as soon as its output
//! drains: [`Connection::on_output_room`] does that at once, never an unrelated timer.
//!
//! # Deadlines
//!
//! Each state has one deadline: the header timeout (408) while a request is incomplete, the idle
//! timeout between requests, the hold of a parked poll, the heartbeat of a stream, the WebSocket
//! protocol's ping, pong or close timer, and the linger of a closing connection. A heartbeat or ping
//! that finds bytes waiting in the output and none written since the previous one drops the peer: it
//! is not reading.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use crate::channel::session_of_topic;
use crate::http::{Decoded, Request, RequestDecoder, Response};
use crate::hub::{Hub, HubError};
use crate::hub::{Message, Replay};
use crate::server::input::InputBuffer;
use crate::server::output::Output;
use crate::server::room::{Room, Subscription, Ticket, Waiter};
use crate::server::routes::{self, Opening, RouteError};
use crate::server::{log, trace_head};
use crate::transport::websocket::{self, Inbound, SocketRole};
use crate::transport::{
    reset_point, BatchDoor, ChunkedStream, PushDoor, SharedFraming, StreamFormat,
};
use crate::ws::{close, Role, WsProtocol};

/// How many messages a subscriber reads from the log per step while it has room.
const PULL_BATCH: usize = 64;

// ANCHOR: state
/// The connection's state (see the module docs for the transitions).
#[derive(Debug)]
pub enum State {
    /// Reading and answering HTTP requests. `started` is when the first byte of the request being read
    /// arrived (`None` while idle between requests).
    Request {
        /// First byte of the current request.
        started: Option<Instant>,
        /// The request being read, decoded incrementally across reads (each body byte once). It lives
        /// in this state only, boxed, so that a stream or a WebSocket does not carry its 200 bytes.
        decoder: Box<RequestDecoder>,
    },
    /// A long poll or JSONP request parked until news or the hold timeout.
    Held(Held),
    /// A chunked response held open (XHR stream, iframe, SSE).
    Stream(PushStream),
    /// After `101 Switching Protocols`.
    WebSocket(WebSocket),
    /// A `POST /publish` waiting for the shared log (the Redis backend) to store the message: the
    /// answer, `{"id":N}` or 503, goes out when Redis replies or `until` passes.
    Storing(Storing),
    /// Flushing the last bytes; the connection closes after `until` at the latest.
    Closing {
        /// When to give up and close.
        until: Instant,
    },
}
// ANCHOR_END: state

impl State {
    /// Reading requests, idle: nothing of the next one has arrived.
    fn reading() -> State {
        State::Request {
            started: None,
            decoder: Box::new(RequestDecoder::new()),
        }
    }

    /// The door of a subscriber that stays open and pushes (a stream, or a WebSocket on a topic),
    /// with its subscription.
    fn push_door(&mut self) -> Option<(&mut dyn PushDoor, &mut Subscription)> {
        match self {
            State::Stream(stream) => Some((&mut stream.door, &mut stream.subscription)),
            State::WebSocket(ws) => {
                let subscription = ws.subscription.as_mut()?;
                Some((&mut ws.protocol, subscription))
            }
            State::Request { .. } | State::Held(_) | State::Storing(_) | State::Closing { .. } => {
                None
            }
        }
    }
}

/// A parked batch request.
#[derive(Debug)]
pub struct Held {
    /// Which batch door answers.
    pub door: BatchDoor,
    /// The subscription that wakes it.
    pub subscription: Subscription,
    /// When to answer with an empty list.
    pub until: Instant,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
}

/// A publish waiting to be stored.
#[derive(Debug)]
pub struct Storing {
    /// The publish's number in the room.
    pub ticket: Ticket,
    /// When to give up and answer 503 (the message may still be stored: see `redis::backend`).
    pub until: Instant,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
}

/// A streaming response held open.
#[derive(Debug)]
pub struct PushStream {
    /// The door: how it frames what it sends, and when its response ends.
    pub door: ChunkedStream,
    /// The topic and how far this stream has read it.
    pub subscription: Subscription,
    /// When the next heartbeat is due.
    pub next_heartbeat: Instant,
    /// Whether the connection stays open once the response ends.
    pub keep_alive: bool,
}

/// An open WebSocket.
#[derive(Debug)]
pub struct WebSocket {
    /// The protocol state machine (frames, close handshake, pings).
    pub protocol: WsProtocol,
    /// What the socket is for.
    pub role: SocketRole,
    /// The topic subscription of a topic or session socket (an echo socket has none). Kept here, not
    /// boxed: the 24 bytes it adds to every connection's state (this is the largest variant) cost
    /// less than a second pointer to chase, and probably miss in the cache, for every message a
    /// subscriber is handed; and a subscribed socket no longer holds a heap block of its own.
    pub subscription: Option<Subscription>,
    /// A ping found bytes waiting in the output, and moving: the next check is not before this.
    pub ping_deferred_until: Option<Instant>,
}

/// What the event loop does with the socket after a piece of work.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Fate {
    /// Keep it.
    Keep,
    /// Close our sending side (the peer reads EOF after our last bytes), keep reading until it hangs up.
    HalfClose,
    /// Close it now.
    Close,
}

/// One client connection (see the module docs).
#[derive(Debug)]
pub struct Connection {
    /// The event loop's token for it.
    pub token: usize,
    /// The peer's address, for logs.
    pub peer: SocketAddr,
    /// Bytes read and not yet parsed.
    pub input: InputBuffer,
    /// Bytes waiting to be written.
    pub output: Output,
    /// The state machine.
    pub state: State,
    /// The peer closed its sending side.
    pub peer_closed: bool,
    /// When the connection last did anything (for the idle timeout).
    pub last_active: Instant,
    /// Output written by the last heartbeat or ping check (a peer that moved nothing since is not reading).
    written_at_last_check: u64,
    /// A fatal condition found outside a state change (a dead peer): close at once.
    dead: bool,
}

impl Connection {
    /// A new connection in the request state.
    pub fn new(token: usize, peer: SocketAddr, now: Instant) -> Self {
        Connection {
            token,
            peer,
            input: InputBuffer::default(),
            output: Output::default(),
            state: State::reading(),
            peer_closed: false,
            last_active: now,
            written_at_last_check: 0,
            dead: false,
        }
    }

    /// A short name of the state, for logs.
    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Request { .. } => "request",
            State::Held(_) => "held",
            State::Stream(_) => "stream",
            State::WebSocket(_) => "websocket",
            State::Storing(_) => "storing",
            State::Closing { .. } => "closing",
        }
    }

    // ----- what the event loop asks -----

    /// Whether the loop should read more from the socket: only while the output has room (backpressure)
    /// and the input is below its bound.
    pub fn wants_input(&self, room: &Room) -> bool {
        !self.dead
            && self.output.has_room(room.config.max_pending_output_bytes)
            && self.input.len() < self.max_input_bytes(room)
    }

    /// The most input this connection may buffer in its state: a whole request, or a whole WebSocket
    /// frame of the largest message its role accepts.
    pub fn max_input_bytes(&self, room: &Room) -> usize {
        let http = &room.config.http;
        let request = http.max_header_bytes + http.max_body_bytes + 1024;
        match &self.state {
            // A whole frame must fit: the largest message plus the longest frame header.
            State::WebSocket(ws) => max_message_bytes(&room.config, &ws.role) + 14,
            _ => request,
        }
    }

    /// The subscription whose news this connection waits for.
    pub fn subscription(&self) -> Option<&Subscription> {
        match &self.state {
            State::Held(held) => Some(&held.subscription),
            State::Stream(stream) => Some(&stream.subscription),
            State::WebSocket(ws) => ws.subscription.as_ref(),
            State::Request { .. } | State::Storing(_) | State::Closing { .. } => None,
        }
    }

    // ANCHOR: deadline
    /// The moment this connection next needs [`Connection::on_deadline`].
    pub fn deadline(&self, room: &Room) -> Option<Instant> {
        let config = &room.config;
        match &self.state {
            State::Request {
                started: Some(started),
                ..
            } => Some(*started + config.header_timeout),
            State::Request { started: None, .. } => Some(self.last_active + config.idle_timeout),
            State::Held(held) => Some(held.until),
            State::Stream(stream) => Some(stream.next_heartbeat),
            State::WebSocket(ws) => {
                let protocol = ws.protocol.next_deadline()?;
                Some(ws.ping_deferred_until.map_or(protocol, |d| d.max(protocol)))
            }
            State::Storing(storing) => Some(storing.until),
            State::Closing { until } => Some(*until),
        }
    }
    // ANCHOR_END: deadline

    /// Whether the socket lives on after this piece of work.
    pub fn settle(&mut self, room: &mut Room, now: Instant) -> Fate {
        if self.dead {
            return Fate::Close;
        }
        if let State::WebSocket(ws) = &self.state {
            if ws.protocol.is_closed() {
                // RFC 6455 §7.1.1: once both close frames have crossed, the server closes TCP first.
                self.begin_closing(room, now, now + room.config.linger);
            }
        }
        match &self.state {
            State::Request { .. } if self.peer_closed => {
                // The peer will send nothing more: answer what was asked, then close.
                if self.output.pending() == 0 {
                    return Fate::Close;
                }
                self.begin_closing(room, now, now + room.config.linger);
                Fate::Keep
            }
            State::Held(_) | State::Stream(_) | State::WebSocket(_) if self.peer_closed => {
                Fate::Close
            }
            State::Closing { .. } if self.output.pending() > 0 => Fate::Keep,
            State::Closing { .. } if self.peer_closed => Fate::Close,
            // Close our side and wait (briefly) for the peer's EOF, so that unread bytes on its side
            // do not turn our close into a reset that could destroy the answer in flight.
            State::Closing { .. } => Fate::HalfClose,
            _ => Fate::Keep,
        }
    }

    /// Leaves the hub: called once when the connection is dropped, whatever its state.
    pub fn release(&mut self, room: &mut Room, now: Instant) {
        if let Some(subscription) = self.subscription().cloned() {
            room.unsubscribe(&subscription, now);
        }
    }

    /// After an internal error (a bug, caught by the core): leave the hub, ignore what the peer sends
    /// from now on, flush what is queued, and close. Nothing else runs on this connection again.
    pub fn fail(&mut self, room: &mut Room, now: Instant) {
        self.input.clear();
        self.begin_closing(room, now, now + room.config.linger);
    }

    // ----- events -----

    /// Bytes arrived in `input`: parse them according to the state.
    pub fn on_input(&mut self, room: &mut Room, now: Instant) {
        if !self.input.is_empty() {
            self.last_active = now;
        }
        self.process_input(room, now);
    }

    /// The socket took bytes: pull more for a subscriber, and parse input that waited for room.
    pub fn on_output_room(&mut self, room: &mut Room, now: Instant) {
        self.pull(room, now);
        self.process_input(room, now);
    }

    /// A message was published on the topic of subscription `subscription_id`.
    pub fn on_news(&mut self, subscription_id: u64, room: &mut Room, now: Instant) {
        if self.subscription().map(|s| s.id) != Some(subscription_id) {
            return;
        }
        self.pull(room, now);
        // A held request answered, or a stream ended at its size limit, frees the connection for
        // pipelined requests. (A subscriber still open parses its input as it arrives: nothing waits.)
        if matches!(self.state, State::Request { .. }) {
            self.process_input(room, now);
        }
    }

    /// The broadcast's shortcut, tried before [`Connection::on_news`] by a core that writes news
    /// itself. It applies to an open WebSocket, an XHR stream or an SSE stream (the doors whose
    /// framing of a message is the same bytes on every connection) whose subscription
    /// `subscription_id` has every message before the one just published to its topic
    /// ([`crate::hub::Hub::just_appended_for`]), with nothing waiting in its output. The message,
    /// framed once for every subscriber of the door ([`Room::shared_frame`]), then goes straight to
    /// the socket with `write` ([`Output::write_through`]) and the cursor moves past it, as the usual
    /// pull would have done (a stream also counts the bytes toward its size limit and puts off its
    /// heartbeat), without reading the log, framing the message or queueing it. A write that fails
    /// loses the connection, as any failed write does.
    ///
    /// Returns whether it applied; when not (nor for the message that would end a stream at its size
    /// limit: that piece goes the usual way, which ends the response after it), nothing was done, and
    /// [`Connection::on_news`] serves the news.
    pub fn push_shared_frame(
        &mut self,
        subscription_id: u64,
        room: &mut Room,
        now: Instant,
        write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> bool {
        if self.dead || self.peer_closed || self.output.pending() > 0 {
            return false;
        }
        let written = match &mut self.state {
            State::WebSocket(ws) => {
                if !ws.protocol.takes_shared_frames() {
                    return false;
                }
                let Some(subscription) = ws.subscription.as_mut() else {
                    return false;
                };
                let Some(message) = caught_up_on(subscription, subscription_id, &room.hub) else {
                    return false;
                };
                let (frame, _) = room
                    .shared_frame
                    .of(SharedFraming::WebSocket, message, |out| {
                        websocket::encode_message_frame(message, out);
                        0
                    });
                let written = self.output.write_through(frame, write);
                subscription.cursor = message.id;
                written
            }
            State::Stream(stream) => {
                let Some(framing) = stream.door.shared_framing() else {
                    return false;
                };
                let subscription = &mut stream.subscription;
                let Some(message) = caught_up_on(subscription, subscription_id, &room.hub) else {
                    return false;
                };
                let door = &stream.door;
                let (chunk, body_bytes) = room
                    .shared_frame
                    .of(framing, message, |out| door.frame_message(message, out));
                // An empty framing (none today) would move the cursor past a message never sent:
                // the usual path moves it only past what was queued.
                if chunk.is_empty() || !stream.door.has_room_for(body_bytes) {
                    return false;
                }
                let written = self.output.write_through(chunk, write);
                stream.door.count_sent(body_bytes);
                subscription.cursor = message.id;
                stream.next_heartbeat = now + room.config.heartbeat_interval;
                written
            }
            _ => return false,
        };
        if let Err(e) = written {
            log(Some(self.peer), format_args!("write failed: {e}"));
            self.dead = true;
        }
        true
    }

    /// The peer closed its sending side.
    pub fn on_peer_closed(&mut self) {
        self.peer_closed = true;
    }

    /// The deadline from [`Connection::deadline`] has passed.
    pub fn on_deadline(&mut self, room: &mut Room, now: Instant) {
        match &mut self.state {
            State::Request {
                started: Some(_), ..
            } => {
                log(
                    Some(self.peer),
                    format_args!(
                        "408: request not complete within {:?}",
                        room.config.header_timeout
                    ),
                );
                self.input.clear();
                self.state = State::reading();
                let response = Response::error(408, "the request was not complete in time");
                self.respond(&response, false, false, room, now);
            }
            State::Request { started: None, .. } => self.dead = true, // idle keep-alive connection
            State::Held(held) => {
                let response = room.hold_timeout_response(&held.door, &held.subscription.topic);
                self.answer_held(&response, room, now);
                self.process_input(room, now);
            }
            State::Stream(_) => self.heartbeat(room, now),
            State::WebSocket(_) => self.websocket_timer(room, now),
            State::Storing(_) => {
                log(
                    Some(self.peer),
                    format_args!("503: the shared log did not answer in time"),
                );
                let response =
                    Response::error(503, "the shared message log did not answer in time");
                self.answer_storing(&response, room, now);
            }
            State::Closing { .. } => self.dead = true,
        }
    }

    /// The shared log answered the publish with `ticket`.
    pub fn on_stored(
        &mut self,
        ticket: Ticket,
        result: Result<u64, HubError>,
        room: &mut Room,
        now: Instant,
    ) {
        if !matches!(&self.state, State::Storing(storing) if storing.ticket == ticket) {
            return; // answered already (its time ran out)
        }
        let response = match result {
            Ok(id) => routes::published_response(id),
            Err(error) => RouteError::from(error).response(),
        };
        self.answer_storing(&response, room, now);
    }

    /// Answers a waiting publish, then reads the next request.
    fn answer_storing(&mut self, response: &Response, room: &mut Room, now: Instant) {
        let State::Storing(storing) = &self.state else {
            return;
        };
        let keep_alive = storing.keep_alive;
        self.state = State::reading();
        self.last_active = now;
        self.respond(response, false, keep_alive, room, now);
        self.process_input(room, now);
    }

    // ----- the request state -----

    /// Parses and answers requests, or feeds WebSocket frames, while the output has room.
    fn process_input(&mut self, room: &mut Room, now: Instant) {
        loop {
            let progressed = match self.state {
                State::Request { .. } => self.next_request(room, now),
                State::WebSocket(_) => {
                    self.websocket_input(room, now);
                    false
                }
                State::Closing { .. } => {
                    // Lingering close: whatever the peer still sends is read and thrown away.
                    self.input.clear();
                    false
                }
                // Pipelined requests wait in the input buffer until the held response is done.
                State::Held(_) | State::Stream(_) | State::Storing(_) => false,
            };
            if !progressed {
                return;
            }
        }
    }

    /// Parses one request and answers it. Returns whether to look for another.
    fn next_request(&mut self, room: &mut Room, now: Instant) -> bool {
        let budget = room.config.max_pending_output_bytes;
        if self.input.is_empty() || !self.output.has_room(budget) {
            return false;
        }
        let State::Request { started, decoder } = &mut self.state else {
            return false;
        };
        match decoder.decode(self.input.unread(), &room.config.http) {
            Ok(Decoded::Incomplete { send_continue }) => {
                started.get_or_insert(now);
                if send_continue {
                    // RFC 9110 §10.1.1: the client waits for this before sending its body.
                    let _ = self.output.send(budget, |out| {
                        out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n")
                    });
                }
                false
            }
            Ok(Decoded::Complete { request, consumed }) => {
                // The decoder starts over by itself after a whole request.
                self.input.consume(consumed);
                *started = (!self.input.is_empty()).then_some(now);
                self.handle_request(request, room, now);
                true
            }
            Err(error) => {
                log(Some(self.peer), format_args!("bad request: {error}"));
                self.input.clear();
                self.state = State::reading();
                let response = Response::error(error.status, error.reason);
                self.respond(&response, false, false, room, now);
                false
            }
        }
    }

    /// Routes one complete request and moves to the state it opens.
    fn handle_request(&mut self, request: Request, room: &mut Room, now: Instant) {
        if room.config.trace {
            trace_request(self.peer, &request);
        }
        let keep_alive = request.keep_alive();
        let head_only = request.method == "HEAD";
        let opening = if room.over_global_budget() {
            Err(RouteError::Busy)
        } else {
            routes::route(&request, self.peer.ip(), room, now)
        };
        let result = match opening {
            Ok(Opening::Answer(response)) => {
                self.respond(&response, head_only, keep_alive, room, now);
                Ok(())
            }
            Ok(Opening::Batch { door, topic, after }) => {
                self.open_batch(door, &topic, after, keep_alive, room, now)
            }
            Ok(Opening::Stream {
                format,
                topic,
                after,
            }) => self.open_stream(format, &topic, after, &request, room, now),
            Ok(Opening::Upgrade {
                accept,
                role,
                after,
            }) => self.open_websocket(accept, role, after, room, now),
            Ok(Opening::AwaitStore { ticket }) => {
                room.await_store(ticket, Waiter::Connection(self.token));
                self.state = State::Storing(Storing {
                    ticket,
                    until: now + room.config.redis_limits.store_timeout,
                    keep_alive,
                });
                Ok(())
            }
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            log(
                Some(self.peer),
                format_args!(
                    "{} for {} {}: {error}",
                    error.status(),
                    request.method,
                    request.path
                ),
            );
            // A refused handshake or a server at its budget closes; other refusals keep the connection.
            let keep = keep_alive && !matches!(error, RouteError::Handshake(_) | RouteError::Busy);
            self.respond(&error.response(), head_only, keep, room, now);
        }
    }

    /// Queues a whole response; without keep-alive the connection then closes.
    fn respond(
        &mut self,
        response: &Response,
        head_only: bool,
        keep_alive: bool,
        room: &mut Room,
        now: Instant,
    ) {
        let unix_secs = room.unix_secs;
        // A chunked response goes on after its head; any other ends here.
        let close_after = !keep_alive && !response.chunked;
        self.queue_answer(close_after, room, now, |out| {
            response.write(out, unix_secs, head_only, keep_alive)
        });
    }

    /// Queues what `write` appends (a whole answer, or a stream's head); with `close_after` the
    /// connection then lingers and closes.
    fn queue_answer(
        &mut self,
        close_after: bool,
        room: &mut Room,
        now: Instant,
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        let budget = room.config.max_pending_output_bytes;
        let (peer, trace) = (self.peer, room.config.trace);
        let queued = self.output.send(budget, |out| {
            let start = out.len();
            write(out);
            if trace {
                trace_head(peer, "->", out.get(start..).unwrap_or_default());
            }
        });
        match queued {
            Ok(()) => {}
            // Requests are parsed only while the output has room, so this is a client that pipelined
            // past its budget in one read: it gets no answer and is closed.
            Err(_) => self.dead = true,
        }
        if close_after {
            self.begin_closing(room, now, now + room.config.linger);
        }
    }

    /// Moves to the closing state, leaving the hub first: a closing connection gets no more messages.
    fn begin_closing(&mut self, room: &mut Room, now: Instant, until: Instant) {
        self.release(room, now);
        self.state = State::Closing { until };
    }

    // ----- batch doors: short poll, long poll, JSONP -----

    /// Reads after `after`; answers now, or parks on a subscription (in the same step as the read).
    fn open_batch(
        &mut self,
        door: BatchDoor,
        topic: &str,
        after: Option<u64>,
        keep_alive: bool,
        room: &mut Room,
        now: Instant,
    ) -> Result<(), RouteError> {
        let replay = room
            .hub
            .read(topic, after, room.config.max_batch_messages, now)?;
        if door.answers_now(&replay) {
            self.respond(&door.response(&replay), false, keep_alive, room, now);
            return Ok(());
        }
        let subscription = room.subscribe(self.token, topic, Some(replay.last), now)?;
        self.state = State::Held(Held {
            door,
            subscription,
            until: now + room.config.hold_timeout,
            keep_alive,
        });
        Ok(())
    }

    /// Answers a parked request and returns to reading requests.
    fn answer_held(&mut self, response: &Response, room: &mut Room, now: Instant) {
        let State::Held(held) = &self.state else {
            return;
        };
        let keep_alive = held.keep_alive;
        self.leave_held(room, now);
        self.respond(response, false, keep_alive, room, now);
    }

    /// A parked batch request reads what its news brought and answers, if there is something to say.
    /// The answer comes from [`Room::shared_answer`]: on a broadcast, every parked poll of the topic
    /// says the same, so it is built once and copied.
    fn answer_held_if_news(&mut self, room: &mut Room, now: Instant) {
        let State::Held(held) = &self.state else {
            return;
        };
        let replay = match read_after(
            &held.subscription,
            room,
            room.config.max_batch_messages,
            now,
            Vec::new(),
        ) {
            Some(replay) => replay,
            None => return,
        };
        if !held.door.answers_now(&replay) {
            return;
        }
        let keep_alive = held.keep_alive;
        let mut shared = std::mem::take(&mut room.shared_answer);
        let answer = shared.answer(&held.door, &replay, room.unix_secs, keep_alive);
        self.leave_held(room, now);
        self.queue_answer(!keep_alive, room, now, |out| out.extend_from_slice(answer));
        room.shared_answer = shared;
    }

    /// Leaves the parked state (unsubscribing) to read the next request.
    fn leave_held(&mut self, room: &mut Room, now: Instant) {
        if let State::Held(held) = &self.state {
            room.unsubscribe(&held.subscription, now);
        }
        self.state = State::reading();
        self.last_active = now;
    }

    // ----- pulling messages from the log -----

    /// Moves messages from the topic log to the output while it has room: the replay after opening,
    /// and live messages after that, are the same loop, whichever door pushes them. A parked batch
    /// request answers once instead (`transport`'s docs say why it is not in the loop).
    fn pull(&mut self, room: &mut Room, now: Instant) {
        match &self.state {
            State::Held(_) => self.answer_held_if_news(room, now),
            State::Stream(_) | State::WebSocket(_) => {
                // One scratch buffer for every door's pieces, lent by the room: no allocation per
                // message.
                let mut piece = std::mem::take(&mut room.scratch);
                self.pull_into(&mut piece, room, now);
                piece.clear();
                room.scratch = piece;
            }
            State::Request { .. } | State::Storing(_) | State::Closing { .. } => {}
        }
    }

    // ANCHOR: pull
    /// The loop of [`Connection::pull`] for a door that pushes: reads the log after the cursor, a
    /// batch at a time, and hands each piece to [`Connection::push`] until one does not go out.
    fn pull_into(&mut self, piece: &mut Vec<u8>, room: &mut Room, now: Instant) {
        loop {
            let Some((_, subscription)) = self.state.push_door() else {
                return;
            };
            // The batch is read into storage the room lends, and given back emptied: no allocation
            // per read, and no message kept alive after it.
            let storage = std::mem::take(&mut room.replay_storage);
            let Some(replay) = read_after(subscription, room, PULL_BATCH, now, storage) else {
                return;
            };
            let went_out = self.push_replay(piece, &replay, room, now);
            let batch_was_full = replay.messages.len() == PULL_BATCH;
            let mut storage = replay.messages;
            storage.clear();
            room.replay_storage = storage;
            if !went_out || !batch_was_full {
                return;
            }
        }
    }

    /// Pushes one batch read from the log (its reset notice first, if any); returns whether every
    /// piece went out.
    fn push_replay(
        &mut self,
        piece: &mut Vec<u8>,
        replay: &Replay,
        room: &mut Room,
        now: Instant,
    ) -> bool {
        if replay.reset {
            let point = reset_point(replay);
            if !self.push(piece, point, room, now, |door, piece| {
                door.reset(point, piece)
            }) {
                return false;
            }
        }
        replay.messages.iter().all(|message| {
            let frame = |door: &mut dyn PushDoor, piece: &mut Vec<u8>| door.message(message, piece);
            self.push(piece, message.id, room, now, frame)
        })
    }

    /// Frames one piece with the subscriber's door and queues it only if it fits the output budget
    /// whole; then the cursor moves to `cursor`. A piece that does not fit waits in the log for the
    /// socket to drain: the cursor moves only past what was queued. Returns whether to go on (not
    /// when the piece waits, the door sends nothing more, or the piece ended the response).
    fn push(
        &mut self,
        piece: &mut Vec<u8>,
        cursor: u64,
        room: &mut Room,
        now: Instant,
        frame: impl FnOnce(&mut dyn PushDoor, &mut Vec<u8>),
    ) -> bool {
        let budget = room.config.max_pending_output_bytes;
        let Some((door, subscription)) = self.state.push_door() else {
            return false;
        };
        piece.clear();
        frame(door, piece);
        if piece.is_empty() {
            return false; // a WebSocket whose close frame went out
        }
        let queued = self
            .output
            .send_piece(budget, piece.len(), |out| out.extend_from_slice(piece));
        if queued.is_err() {
            return false;
        }
        subscription.cursor = cursor;
        let response_ended = door.sent();
        if let State::Stream(stream) = &mut self.state {
            stream.next_heartbeat = now + room.config.heartbeat_interval;
        }
        if response_ended {
            // The client reconnects with its last id.
            self.end_stream(room, now);
            return false;
        }
        true
    }
    // ANCHOR_END: pull

    // ----- streams: XHR, iframe, SSE -----

    /// Opens a chunked response on a subscription: head, prelude, then whatever the log has after
    /// `after`, pulled as the socket drains.
    fn open_stream(
        &mut self,
        format: Box<dyn StreamFormat>,
        topic: &str,
        after: Option<u64>,
        request: &Request,
        room: &mut Room,
        now: Instant,
    ) -> Result<(), RouteError> {
        let subscription = room.subscribe(self.token, topic, after, now)?;
        let door = ChunkedStream::new(format, room.config.max_stream_bytes);
        let keep_alive = request.keep_alive();
        self.respond(&door.head(), false, keep_alive, room, now);
        let resume_after = subscription.cursor;
        self.state = State::Stream(PushStream {
            door,
            subscription,
            next_heartbeat: now + room.config.heartbeat_interval,
            keep_alive,
        });
        self.written_at_last_check = self.output.total_written();
        self.send_control(room, now, |door, piece| door.prelude(resume_after, piece));
        self.pull(room, now);
        Ok(())
    }

    /// Sends a piece of a stream that is not a message (the prelude, a heartbeat): it needs only the
    /// output to have room, and waits nowhere if it has none (a heartbeat then has no reason to be).
    fn send_control(
        &mut self,
        room: &mut Room,
        now: Instant,
        frame: impl FnOnce(&mut ChunkedStream, &mut Vec<u8>),
    ) {
        let budget = room.config.max_pending_output_bytes;
        let State::Stream(stream) = &mut self.state else {
            return;
        };
        let mut piece = std::mem::take(&mut room.scratch);
        piece.clear();
        frame(&mut stream.door, &mut piece);
        let queued = !piece.is_empty()
            && self
                .output
                .send(budget, |out| out.extend_from_slice(&piece))
                .is_ok();
        piece.clear();
        room.scratch = piece;
        if queued && stream.door.sent() {
            self.end_stream(room, now);
        }
    }

    /// Ends a streaming response; the client reconnects with its last id.
    fn end_stream(&mut self, room: &mut Room, now: Instant) {
        let State::Stream(stream) = &self.state else {
            return;
        };
        let keep_alive = stream.keep_alive;
        room.unsubscribe(&stream.subscription, now);
        self.output.send_final(ChunkedStream::end);
        self.last_active = now;
        if keep_alive {
            self.state = State::reading();
        } else {
            self.begin_closing(room, now, now + room.config.linger);
        }
    }

    /// A stream's heartbeat is due: send one on a quiet stream; drop a peer that took none of its waiting
    /// bytes for a whole interval.
    fn heartbeat(&mut self, room: &mut Room, now: Instant) {
        if self.stopped_reading() {
            self.dead = true;
            return;
        }
        let State::Stream(stream) = &mut self.state else {
            return;
        };
        stream.next_heartbeat = now + room.config.heartbeat_interval;
        // A heartbeat keeps a quiet stream alive. With bytes still queued the stream is not quiet (the
        // check above saw them move), and a heartbeat would only grow the queue.
        if self.output.pending() == 0 {
            self.send_control(room, now, |door, piece| door.heartbeat(piece));
        }
    }

    /// The check a heartbeat or ping makes first: whether bytes wait in the output and the socket took
    /// none of them since the previous check, a whole interval ago (the peer is not reading; logged).
    /// Starts the next interval.
    fn stopped_reading(&mut self) -> bool {
        let written = self.output.total_written();
        let stopped = self.output.pending() > 0 && written == self.written_at_last_check;
        self.written_at_last_check = written;
        if stopped {
            log(
                Some(self.peer),
                format_args!(
                    "{} subscriber not reading ({} bytes unsent), dropping it",
                    self.state_name(),
                    self.output.pending()
                ),
            );
        }
        stopped
    }

    // ----- WebSocket -----

    /// Answers `101`, then pushes the topic's messages after `after` (a topic or session socket).
    fn open_websocket(
        &mut self,
        accept: Response,
        role: SocketRole,
        after: Option<u64>,
        room: &mut Room,
        now: Instant,
    ) -> Result<(), RouteError> {
        // Subscribe before answering 101, so a refused topic still gets an HTTP status.
        let subscription = match role.topic() {
            Some(topic) => Some(room.subscribe(self.token, topic, after, now)?),
            None => None,
        };
        self.respond(&accept, false, true, room, now);
        let mut config = room.config.ws.clone();
        config.max_message_bytes = max_message_bytes(&room.config, &role);
        self.state = State::WebSocket(WebSocket {
            protocol: WsProtocol::new(Role::Server, &config, now),
            role,
            subscription,
            ping_deferred_until: None,
        });
        self.written_at_last_check = self.output.total_written();
        self.pull(room, now);
        Ok(())
    }

    /// Turns buffered WebSocket bytes into events and acts on them, while the output has room.
    fn websocket_input(&mut self, room: &mut Room, now: Instant) {
        let budget = room.config.max_pending_output_bytes;
        let mut used = 0;
        while let State::WebSocket(ws) = &mut self.state {
            // An echo's shortcut: a whole message becomes its own echo in the read buffer, written from
            // there (`WsProtocol::echo_in_place`, `Output::send_from_input`); anything else is read.
            if ws.role == SocketRole::Echo {
                let unread = self.input.unread_mut().get_mut(used..).unwrap_or_default();
                let echo = self
                    .output
                    .send(budget, |out| ws.protocol.echo_in_place(unread, out, now));
                match echo {
                    Ok(Ok(Some(echo))) => {
                        let frame = used + echo.frame.start..used + echo.frame.end;
                        let _ = self
                            .output
                            .send_from_input(budget, self.input.storage_range(frame));
                        used += echo.consumed;
                        continue;
                    }
                    Ok(Err(error)) => {
                        self.websocket_failed(&error, room, now);
                        break;
                    }
                    Ok(Ok(None)) | Err(_) => {}
                }
            }
            // Backpressure: an echo client that does not read its answers is not read either.
            let unread = self.input.unread().get(used..).unwrap_or_default();
            let read = self
                .output
                .send(budget, |out| ws.protocol.read(unread, out, now));
            match read {
                Err(_) => break,
                Ok(Ok(outcome)) => {
                    used += outcome.consumed;
                    match outcome.event {
                        Some(event) => {
                            let inbound = websocket::inbound(&ws.role, event);
                            self.on_inbound(inbound, room, now);
                        }
                        None if outcome.consumed == 0 => break,
                        None => {}
                    }
                }
                Ok(Err(error)) => {
                    self.websocket_failed(&error, room, now);
                    break;
                }
            }
        }
        self.input.consume(used);
    }

    /// The peer broke a rule: the protocol has queued a close frame with the error's code; flush it
    /// and close.
    fn websocket_failed(&mut self, error: &crate::ws::WsError, room: &mut Room, now: Instant) {
        log(Some(self.peer), format_args!("websocket {error}"));
        let until = now + room.config.ws.close_timeout;
        self.begin_closing(room, now, until);
    }

    /// Acts on one message from the client.
    fn on_inbound(&mut self, inbound: Inbound, room: &mut Room, now: Instant) {
        let budget = room.config.max_pending_output_bytes;
        let State::WebSocket(ws) = &mut self.state else {
            return;
        };
        // A message that goes to the hub or to a channel application is a publish: it takes a token from
        // the client address's bucket, as `POST /publish` does (see `server::rate`).
        let is_publish = matches!(inbound, Inbound::Publish(_) | Inbound::ToSession(_));
        let over_rate = is_publish && room.publish_buckets.take(self.peer.ip(), now).is_err();
        let refusal = match inbound {
            _ if over_rate => Some((close::POLICY_VIOLATION, "publish rate exceeded".to_string())),
            // The echo hands the received message's own buffer to the output queue: not copied again.
            Inbound::EchoText(text) => {
                let _ = self
                    .output
                    .send_owned(budget, |out| ws.protocol.send_text_owned(text, out));
                None
            }
            Inbound::EchoBinary(data) => {
                let _ = self
                    .output
                    .send_owned(budget, |out| ws.protocol.send_binary_owned(data, out));
                None
            }
            Inbound::Publish(text) => {
                let topic = ws.role.topic().unwrap_or_default().to_string();
                room.publish(&topic, text, now).err().map(|error| {
                    let code = match error {
                        crate::hub::HubError::TooLarge => close::MESSAGE_TOO_BIG,
                        // RFC 6455 §7.4.1: 1011, a condition on the server's side (the shared log is
                        // unreachable) kept it from fulfilling the request; the client may come back.
                        crate::hub::HubError::Unavailable => close::INTERNAL_ERROR,
                        _ => close::POLICY_VIOLATION,
                    };
                    (code, error.to_string())
                })
            }
            Inbound::ToSession(text) => {
                let Some(session) = ws.role.topic().and_then(session_of_topic) else {
                    return;
                };
                let app = room
                    .sessions
                    .app_of(session)
                    .unwrap_or_default()
                    .to_string();
                match room.sessions.message(&app, session, &text, now) {
                    Ok(outbox) => {
                        room.carry_out(outbox, now);
                        None
                    }
                    Err(error) => Some((close::POLICY_VIOLATION, error.to_string())),
                }
            }
            Inbound::Refuse { code, reason } => Some((code, reason.to_string())),
            Inbound::Nothing => None,
        };
        if let Some((code, reason)) = refusal {
            log(
                Some(self.peer),
                format_args!("websocket message refused ({code}): {reason}"),
            );
            self.close_websocket(code, &reason, room, now);
        }
    }

    /// Starts the closing handshake with `code`.
    fn close_websocket(&mut self, code: u16, reason: &str, room: &mut Room, now: Instant) {
        let State::WebSocket(ws) = &mut self.state else {
            return;
        };
        self.output
            .send_final(|out| ws.protocol.close(code, reason, out, now));
        if let Some(subscription) = ws.subscription.take() {
            room.unsubscribe(&subscription, now);
        }
    }

    /// The WebSocket protocol's timer: a ping, a dead peer, or a subscriber that stopped reading.
    fn websocket_timer(&mut self, room: &mut Room, now: Instant) {
        let budget = room.config.max_pending_output_bytes;
        if self.stopped_reading() {
            self.close_websocket(close::POLICY_VIOLATION, "subscriber too slow", room, now);
            let until = now + room.config.ws.close_timeout;
            self.begin_closing(room, now, until);
            return;
        }
        let State::WebSocket(ws) = &mut self.state else {
            return;
        };
        if self.output.pending() > 0 {
            // Bytes wait and move (the check above): the peer is reading, so a ping proves nothing
            // new, and one queued behind the backlog could not be answered before the pong timeout
            // (a slow reader would be dropped for being slow). Ping once the output is empty.
            ws.ping_deferred_until = Some(now + room.config.ws.ping_interval);
            return;
        }
        ws.ping_deferred_until = None;
        let dead = self
            .output
            .send(budget, |out| ws.protocol.on_timeout(now, out));
        if dead == Ok(true) {
            log(
                Some(self.peer),
                format_args!("websocket peer unresponsive, dropping it"),
            );
            self.dead = true;
        }
    }
}

/// The messages after a subscription's cursor; `None` when the topic is gone. A cursor of 0 is
/// The message `subscription` (if it is `subscription_id`) has left to read, when that is only the
/// one just published ([`crate::hub::Hub::just_appended_for`]).
fn caught_up_on<'a>(
    subscription: &Subscription,
    subscription_id: u64,
    hub: &'a Hub,
) -> Option<&'a Rc<Message>> {
    if subscription.id != subscription_id {
        return None;
    }
    hub.just_appended_for(&subscription.topic, subscription.cursor)
}

/// `after=0`, "everything the log still has" (real ids start above the id base, so no message has id 0).
fn read_after(
    subscription: &Subscription,
    room: &mut Room,
    max: usize,
    now: Instant,
    storage: Vec<Rc<Message>>,
) -> Option<Replay> {
    let after = Some(subscription.cursor);
    room.hub
        .read_into(&subscription.topic, after, max, now, storage)
        .ok()
}

/// The largest message a socket with `role` accepts: a topic or session socket takes no message
/// larger than a publish may be (`hub.max_publish_bytes`), so its input buffer is sized to match.
fn max_message_bytes(config: &crate::Config, role: &SocketRole) -> usize {
    match role.topic() {
        Some(_) => config
            .ws
            .max_message_bytes
            .min(config.hub.max_publish_bytes),
        None => config.ws.max_message_bytes,
    }
}

/// Prints a request head for `--trace`.
fn trace_request(peer: SocketAddr, request: &Request) {
    let mut head = format!("{} {}", request.method, request.path);
    if !request.query.is_empty() {
        head.push('?');
        head.push_str(&request.query);
    }
    head.push_str(&format!(" HTTP/1.{}\r\n", request.version));
    for header in &request.headers {
        head.push_str(&format!(
            "{}: {}\r\n",
            header.name,
            String::from_utf8_lossy(&header.value)
        ));
    }
    trace_head(peer, "<-", head.as_bytes());
}
