//! # pushlab
//!
//! Every way a server pushes data to a browser, written from scratch and put side by side: short polling,
//! long polling, XHR streaming, iframe streaming, JSONP polling, Server-Sent Events and WebSocket, all
//! opening onto one message hub, served by one hand-written event loop.
//!
//! The only runtime dependencies are `mio` (readiness from the kernel), `httparse` (the HTTP/1.1 head
//! tokenizer), `sha1` and `base64` (for the WebSocket handshake). Everything else (HTTP framing, chunked
//! coding, the WebSocket codec, UTF-8 validation, the hub, every push technique and a client for each) is
//! here, to be read.
//!
//! ## The layers
//!
//! ```text
//! socket ─► server::event_loop        the only I/O: mio::Poll, sockets, waker, the clock
//!             └─► server::core         sans-IO: every connection, the deadline heap, delivery, budgets
//!                   └─► server::connection  one state machine per connection, every transition in one file
//!                         ├─ http            request parser, responses, chunked coding, static files, limits
//!                         ├─ ws              handshake, frames, UTF-8, close codes, protocol state machine
//!                         └─ transport       each door's lifecycle: opening, one message, heartbeat, end
//! server::routes ─► server::room ─► hub   topics: ordered, bounded logs with ids; subscribers
//!                                 └► channel sessions: one client whatever its door (open, message, close)
//! redis                                `--redis`: RESP (sans-IO), a mio-driven Redis link, and the hub's
//!                                      second backend, a mirror of topics shared through Redis Streams
//! json                                 the shared JSON text writer (escaping, the message object): a leaf
//! client                               blocking Rust clients for every door, client::ws for WebSocket
//! lab                                  `pushlab lab`: every door measured side by side (a relay, charts),
//!                                      behind nginx, beside the npm peers, in headless Chromium
//! static/pushlab.js                    the browser client: auto fallback, resume by id, sessions
//! ```
//!
//! Protocol code ([`http`], [`ws`], [`transport`], [`hub`], [`channel`]) does no I/O and never reads the
//! clock: it takes bytes (and `now`) and returns values and bytes. The connection core
//! ([`server::core`], [`server::connection`]) does no I/O either: the event loop hands it bytes and
//! `now`, and carries out what it asks for. That is why every protocol rule and every server behaviour
//! (holds, heartbeats, timeouts, backpressure) is tested with plain byte vectors and a fake clock, and
//! the wire is tested separately over real sockets.
//!
//! Dependencies point down the map, never up. Each layer owns its limits ([`http::HttpLimits`],
//! [`ws::WsConfig`]) and [`Config`] composes them, so no protocol module imports from [`server`]; the hub imports no door
//! or codec (the message JSON it builds comes from [`json`], which imports nothing); and [`client::ws`]
//! is where the WebSocket codec meets a socket, so [`ws`] itself stays sans-IO.
//! `tests/layering.rs` reads the source and fails on an import that points the wrong way.
//!
//! ## No panic from the network
//!
//! One event loop serves every client, so a panic while handling one peer's bytes would drop them
//! all: no byte from the wire may reach a panic. The code that reads the wire ([`http`], [`ws`],
//! [`transport`], [`hub`], [`server`], [`redis`] (the replies of a Redis server) and [`json`]) is written to be total, and Clippy holds it to
//! that. Each of those module roots opens with
//!
//! ```text
//! #![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing,
//!     clippy::string_slice, clippy::panic, clippy::unreachable, clippy::todo, clippy::unimplemented,
//!     clippy::cast_possible_truncation))]
//! ```
//!
//! - Instead of `buf[i]` or `&buf[a..b]`: `get`, `first`, `split_first`, `split_at_checked`,
//!   iterators and pattern matching; instead of `unwrap()`: `let ... else` that returns the error
//!   with its status or close code. A fixed-size array indexed by a constant (`len64[0]`) is checked
//!   by the compiler, and the lint leaves it alone. `indexing_slicing` does not look at `&text[a..b]`
//!   on a `str`, which panics when `a` or `b` falls inside a character: `string_slice` does.
//! - A length from the wire is narrowed with `usize::try_from`, never with `as`: a 64-bit WebSocket
//!   length cast to a 32-bit `usize` would be silently cut short, and the codec would then read the
//!   rest of the payload as frames. `cast_possible_truncation` refuses such a cast.
//! - Where an index is provably in range and the checked form would hide the lesson, the rule allows
//!   a narrow `#[allow(clippy::indexing_slicing)]` on the smallest item, with a `//` comment above it
//!   that says why it cannot panic. There is none today.
//! - Tests are exempt (`not(test)`): an `unwrap` in a test is a test that fails loudly.
//!
//! Arithmetic is judged differently. `clippy::arithmetic_side_effects` flags every `pos += 1` and
//! every `Instant + Duration`: over these modules that is some 120 places, nearly all sums of lengths
//! of bytes already in memory (which cannot reach `usize::MAX`) or counters held by a limit checked
//! beside them, and `checked_add` on each would bury the protocol under noise. What a peer does
//! control is the numbers it writes: `Content-Length`, a chunk size, a WebSocket payload length,
//! `?after=N` and `Last-Event-ID`. Those are parsed with `checked_mul` and `checked_add`, narrowed
//! with `usize::try_from` and compared with `saturating_add` (an overflow would panic in a debug
//! build and wrap in a release build: both wrong), and the files that turn them into sizes and ids
//! (`http::framing`, [`http::percent`], [`ws::frame`], the hub's topic log, and the chunk-size line
//! in [`http::chunked`]) deny `clippy::arithmetic_side_effects` outright.
//!
//! A few panicking calls have no lint, and are in range by construction next to them: `split_at_mut`
//! in [`ws::frame::apply_mask`], `VecDeque::range` in the hub's replay. `Instant + Duration` panics on overflow, but its durations come from
//! [`Config`], not from the wire. `tests/panic_free.rs` fails when a module root loses a lint of
//! its list, or when an exception has no comment saying why it cannot panic.
//!
//! ## Follow one request
//!
//! A reading order that follows a long poll from the socket to the answer:
//!
//! 1. [`server::event_loop`]: a socket is readable; the loop calls [`server::core::Core::receive`] with
//!    `|buf| socket.read(buf)`, and the bytes land in the connection's [`server::input::InputBuffer`].
//! 2. [`server::connection::Connection::on_input`] asks its [`http::RequestDecoder`] for a
//!    [`http::Request`] (or "incomplete": design rule 2); the decoder keeps its place across reads.
//! 3. [`server::routes::route`] maps `/longpoll/{topic}` to an [`server::routes::Opening`]: a batch door.
//! 4. The connection reads the hub ([`hub::Hub::read`]); nothing is new after `?after=N`, so
//!    [`transport::BatchDoor::answers_now`] says park, and in the same call it subscribes through
//!    [`server::room::Room::subscribe`] and moves to `State::Held`, whose deadline goes to the heap.
//! 5. A `POST /publish/{topic}` on another connection reaches [`server::room::Room::publish`], which
//!    wakes the subscription; the core calls [`server::connection::Connection::on_news`], which reads
//!    after its cursor and answers with [`transport::BatchDoor::response`].
//! 6. The answer is queued through [`server::output::Output::send`] (the output budget), and the loop
//!    writes it with [`server::core::Core::transmit_vectored`] (one `send(2)` for one slice, a
//!    `writev(2)` for several).
//!
//! A door that stays open takes the same path to step 3, where `/sse/{topic}` (or a stream, or a
//! WebSocket on a topic) opens a [`transport::PushDoor`]: a [`transport::ChunkedStream`] sends its
//! head and prelude, and the connection subscribes. From then on one loop, for all four doors that
//! push, moves messages from the log after the cursor to the output while it has room: the replay at
//! once, live messages on news, the rest whenever the socket drains. Each piece is framed by
//! [`transport::PushDoor::message`] and queued whole by [`server::output::Output::send_piece`], and
//! the cursor moves only past what was queued.
//!
//! Then read the seven doors in [`transport`] one after another: that is the course in one directory.
//! The tutorials in `tutorials/` walk through them with runnable examples in `examples/`.
#![deny(missing_docs)]

pub mod channel;
pub mod client;
pub mod http;
pub mod hub;
pub mod json;
pub mod lab;
pub mod redis;
pub mod server;
pub mod transport;
pub mod ws;

pub use server::config::Config;
