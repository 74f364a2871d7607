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
//! socket ─► server::event_loop        (mio::Poll, tokens, deadline heap, waker)
//!             └─► server::connection  (buffers + one state machine per socket)
//!                   ├─ http            request parser, responses, chunked coding, static files, limits
//!                   ├─ ws              handshake, frames, UTF-8, close codes, protocol state machine, config
//!                   └─ transport       how each door frames a message and when its response ends
//! server::routes ─► hub                topics: ordered, bounded logs with ids; subscribers
//!                 └► channel           sessions: one client whatever its door (open, message, close)
//! json                                 the shared JSON text writer (escaping, the message object): a leaf
//! client                               blocking Rust clients for every door, client::ws for WebSocket
//! static/pushlab.js                    the browser client: auto fallback, resume by id, sessions
//! ```
//!
//! Protocol code ([`http`], [`ws`], [`transport`], [`hub`], [`channel`]) does no I/O and never reads the
//! clock: it takes bytes (and `now`) and returns values and bytes. Only [`server`] touches sockets. That
//! is why every protocol rule is tested with plain byte vectors, and the wire is tested separately over
//! real sockets.
//!
//! Dependencies point down the map, never up. Each layer owns its limits ([`http::HttpLimits`],
//! [`ws::WsConfig`]) and [`Config`] composes them, so no protocol module imports from [`server`] (one
//! exception is left: the hub's `HubLimits` still lives in [`server::config`]); the hub imports no door
//! or codec (the message JSON it builds comes from [`json`], which imports nothing); and [`client::ws`]
//! is where the WebSocket codec meets a socket, so [`ws`] itself stays sans-IO.
//! `tests/layering.rs` reads the source and fails on an import that points the wrong way.
//!
//! ## Follow one request
//!
//! A reading order that follows a long poll from the socket to the answer:
//!
//! 1. [`server::event_loop`]: the loop wakes up, [`server::connection::Connection::read_available`]
//!    drains the socket into the connection's input buffer.
//! 2. [`http::request::parse_request`] turns the bytes into a [`http::Request`], or says "incomplete"
//!    (the buffer itself is [`server::input::InputBuffer`]: reads land in place, parsing consumes by
//!    offset).
//! 3. [`server::routes`] picks the door from the path: `/longpoll/{topic}`.
//! 4. [`hub::Hub::read`] finds nothing after `?after=N`, so [`hub::Hub::subscribe`] parks the request
//!    (in the same turn, so no message can slip between the two), and the connection's state becomes
//!    `Held` with a deadline in the [`server::timers`] heap.
//! 5. A `POST /publish/{topic}` on another connection calls [`hub::Hub::publish`], which returns the
//!    subscribers; the loop hands the message to each ([`transport::long_poll::response`] frames it).
//! 6. [`http::Response::write`] appends the bytes, and the loop writes them until `WouldBlock`.
//!
//! Then read the seven doors in [`transport`] one after another: that is the course in one directory.
//! The tutorials in `tutorials/` walk through them with runnable examples in `examples/`.
#![deny(missing_docs)]

pub mod channel;
pub mod client;
pub mod http;
pub mod hub;
pub mod json;
pub mod server;
pub mod transport;
pub mod ws;

pub use server::config::Config;
