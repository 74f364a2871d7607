//! The per-connection WebSocket state machine (RFC 6455 §5–§7), sans-IO.
//!
//! # Theory of operation
//!
//! A [`WsProtocol`] is created once the handshake is done. The event loop hands it the bytes it read
//! ([`WsProtocol::read`]) and the messages it wants to send ([`WsProtocol::send_text`]); the protocol
//! hands back events and appends the bytes to write to an output buffer. It never sees a socket or the
//! clock: `now` comes in as an argument, and [`WsProtocol::next_deadline`] says when to call
//! [`WsProtocol::on_timeout`].
//!
//! The life of a connection is the `State` enum, whose every transition is in this file:
//!
//! ```text
//!             close() / on error                  peer's close arrives
//!   Open ───────────────────────────► CloseSent ─────────────────────────► Closed
//!    │                                   │  close_timeout passes                ▲
//!    │                                   └──────────────────────────────────────┤
//!    │  peer's close arrives: echo it at once (§5.5.1)                          │
//!    ├──────────────────────────────────────────────────────────────────────────┤
//!    │  error in the peer's bytes: send a close with the error's code (§7.1.7)  │
//!    ├──────────────────────────────────────────────────────────────────────────┤
//!    │  peer silent for ping_interval + pong_timeout                            │
//!    └──────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! - `Open`: both directions carry data. After `ping_interval` without a byte from the peer a ping goes
//!   out; if still nothing comes back within `pong_timeout` the peer is declared dead.
//! - `CloseSent`: our close frame is queued, we send nothing more (§5.5.1) but still read, until the
//!   peer's close arrives or `close_timeout` passes.
//! - `Closed`: both close frames have crossed, or the connection failed. The server closes TCP first
//!   (§7.1.1); input is discarded.
//!
//! Reading has its own position in the byte stream, independent of the closing state: either at a frame
//! header (`Reading::FrameStart`) or inside the payload of a data frame (`Reading::DataPayload`).
//! Data frames are consumed as their bytes arrive: each piece is copied into the message buffer once,
//! unmasked in the same pass, so a large frame is never re-copied while it arrives. Text is checked
//! for UTF-8 piece by piece, so invalid text fails fast; the piece that completes a message is checked by
//! the conversion to `String` (the only way to a `String` without `unsafe`, which re-reads the earlier
//! pieces of a message that came in several). Control frames (at most 125 bytes) are only taken whole.
//! A message grows in `Assembly` until its final frame, then is handed out and its buffer released;
//! an idle connection holds no buffer at all. The buffer is sized from each frame header's announced
//! length (never more than one read ahead of the bytes that arrived), so it is allocated once, not
//! grown and copied as the payload comes in.
//!
//! Sending copies the payload into the output buffer after its header ([`WsProtocol::send_text`]),
//! or, for a payload the caller owns, writes only the header and gives the payload back to be queued
//! as it is ([`WsProtocol::send_binary_owned`]): an echo server then sends a 64 KiB message without
//! copying it again.
//!
//! An echo server can skip even the one copy into the message buffer. When a whole unfragmented
//! message is already in its read buffer, [`WsProtocol::echo_in_place`] unmasks the payload where it
//! lies and writes the server's header over the end of the client's (always 4 bytes longer: the
//! masking key), so the echo frame is a run of bytes in the read buffer, ready to be written from
//! there. Anything else (fragments, control frames, a frame not yet whole) goes through
//! [`WsProtocol::read`].
//!
//! # Driving it
//!
//! ```text
//! on readable:  append the socket's bytes to `input`
//!               loop { outcome = read(&input, &mut out, now)?; drop outcome.consumed bytes of input;
//!                      handle outcome.event; stop when nothing was consumed and no event came }
//! on any call:  write `out` to the socket; once `is_closed()` and `out` is written, close TCP
//! on timer:     at `next_deadline()`, call `on_timeout(now, &mut out)`; `true` means drop TCP now
//! ```
//!
//! After an `Err` from `read`, `out` ends with the close frame carrying the error's code; write it and
//! close TCP (`is_closed()` is then true).

use std::time::Instant;

use crate::ws::close::is_valid_close_code;
use crate::ws::error::WsError;
use crate::ws::frame::{
    apply_mask, decode_header, encode_frame, encode_header, extend_unmasked, FrameHeader, Opcode,
};
use crate::ws::mask_key::{HashMaskKeys, MaskKeySource};
use crate::ws::utf8::Utf8Validator;
use crate::ws::WsConfig;

/// Which end of the connection this is: servers never mask, clients always do (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The server end.
    Server,
    /// The client end.
    Client,
}

/// What the peer sent, once whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete text message, valid UTF-8.
    Text(String),
    /// A complete binary message.
    Binary(Vec<u8>),
    /// A ping (its pong has already been queued).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's close frame (our answering close has been queued if we had not sent one).
    Close {
        /// The close code, if the frame had one.
        code: Option<u16>,
        /// The reason text.
        reason: String,
    },
}

/// The result of one call to [`WsProtocol::read`].
#[derive(Debug, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Bytes of the input used; the caller drops them before the next call.
    pub consumed: usize,
    /// An event, if one became whole.
    pub event: Option<Event>,
}

impl ReadOutcome {
    fn need_more() -> Self {
        ReadOutcome {
            consumed: 0,
            event: None,
        }
    }
}

/// A message echoed where it lies in the input ([`WsProtocol::echo_in_place`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EchoInPlace {
    /// Bytes of the input the client's frame took; the caller drops them before the next call.
    pub consumed: usize,
    /// Where the echo frame now lies in the input: our header, then the unmasked payload, ready to write
    /// as they are.
    pub frame: std::ops::Range<usize>,
}

/// The closing state of a connection (see the theory of operation above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Both directions open.
    Open,
    /// Our close frame went out at `since`; waiting for the peer's.
    CloseSent {
        /// When our close was queued (the close timeout runs from here).
        since: Instant,
    },
    /// Both closes crossed, or the connection failed: TCP should close.
    Closed,
}

/// Where the reader stands in the incoming byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    /// At a frame boundary: the next bytes are a frame header.
    FrameStart,
    /// Inside the payload of a data frame.
    DataPayload {
        /// Payload bytes of this frame still to come.
        remaining_bytes: u64,
        /// The frame's masking key, if it had one.
        mask: Option<[u8; 4]>,
        /// Position in the frame's payload modulo 4, so the key stays in phase across pieces.
        mask_phase: usize,
        /// Whether this frame ends its message.
        fin: bool,
    },
}

/// The kind of a data message, fixed by its first frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MessageKind {
    Text,
    Binary,
}

/// A data message being assembled from its frames (§5.4).
#[derive(Debug)]
struct Assembly {
    kind: MessageKind,
    /// The unmasked payload so far.
    payload: Vec<u8>,
    /// UTF-8 state across frames: a code point may be split between fragments (§5.6).
    utf8: Utf8Validator,
}

/// The state of one WebSocket connection.
#[derive(Debug)]
pub struct WsProtocol {
    role: Role,
    max_message_bytes: usize,
    /// The timeouts of [`WsConfig`], in whole milliseconds and 32 bits (up to 49 days): every idle
    /// connection carries them, and three `Duration`s would be 48 bytes of the server's ~350 per socket.
    timeouts: Timeouts,
    state: State,
    reading: Reading,
    /// The data message in progress, if one has started and not ended. Boxed: an idle connection,
    /// which is most of them, then pays 8 bytes for it instead of the whole assembly.
    message: Option<Box<Assembly>>,
    /// When the peer last sent us anything.
    last_heard_at: Instant,
    /// When our keep-alive ping went out, while it waits for an answer.
    ping_sent_at: Option<Instant>,
    /// Masking keys, for the client role only.
    mask_keys: Option<Box<dyn MaskKeySource>>,
}

/// `ping_interval`, `pong_timeout` and `close_timeout`, in milliseconds (see [`WsProtocol`]).
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    ping_ms: u32,
    pong_ms: u32,
    close_ms: u32,
}

impl Timeouts {
    fn from(config: &WsConfig) -> Timeouts {
        // Longer than 49 days is as good as never.
        let ms =
            |duration: std::time::Duration| u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
        Timeouts {
            ping_ms: ms(config.ping_interval),
            pong_ms: ms(config.pong_timeout),
            close_ms: ms(config.close_timeout),
        }
    }

    fn ping(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.ping_ms))
    }

    fn pong(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.pong_ms))
    }

    fn close(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.close_ms))
    }
}

/// How far the message buffer's reservation may run ahead of the payload bytes that have arrived (one
/// socket read's worth): see `WsProtocol::reserve_for_frame`.
pub const RESERVE_AHEAD_BYTES: usize = 64 * 1024;

/// Close reasons must fit a control frame: 125 bytes minus the 2-byte code (§5.5.1).
const MAX_CLOSE_REASON_BYTES: usize = 123;

impl WsProtocol {
    /// A connection in the open state, just after the handshake.
    pub fn new(role: Role, config: &WsConfig, now: Instant) -> Self {
        let mask_keys: Option<Box<dyn MaskKeySource>> = match role {
            Role::Server => None,
            Role::Client => Some(Box::new(HashMaskKeys::new())),
        };
        WsProtocol {
            role,
            max_message_bytes: config.max_message_bytes,
            timeouts: Timeouts::from(config),
            state: State::Open,
            reading: Reading::FrameStart,
            message: None,
            last_heard_at: now,
            ping_sent_at: None,
            mask_keys,
        }
    }

    /// Replaces where a client's masking keys come from (ignored by a server, which never masks).
    pub fn set_mask_key_source(&mut self, source: Box<dyn MaskKeySource>) {
        if self.role == Role::Client {
            self.mask_keys = Some(source);
        }
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Reads from the start of `input`. Frames the protocol itself must send (pong, close echo, close on
    /// error) are appended to `out`. `consumed == 0 && event == None` means "need more bytes".
    /// On `Err`, a close frame with the error's code has been appended to `out`.
    ///
    /// At most one event comes out per call; call again with the rest of the input until the call
    /// consumes nothing and returns no event. A data frame's payload is consumed as it arrives, so
    /// `consumed` can be positive without an event.
    pub fn read(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<ReadOutcome, WsError> {
        if self.state == State::Closed {
            // §5.5.1: after the closing handshake nothing more is processed.
            return Ok(ReadOutcome {
                consumed: input.len(),
                event: None,
            });
        }
        match self.read_frames(input, out) {
            Ok(outcome) => {
                if outcome.consumed > 0 {
                    self.heard_from_peer(now);
                }
                Ok(outcome)
            }
            Err(error) => {
                self.fail(&error, out);
                Err(error)
            }
        }
    }

    /// The echo server's shortcut: if `input` starts with a whole message in one frame, turns that frame
    /// into its own echo where it lies, and says where the echo is. `None`, with nothing changed: not a
    /// case for the shortcut, call [`WsProtocol::read`] (a control frame, a fragment, a frame not yet
    /// whole, a broken header, a closing connection, a client).
    ///
    /// The payload is unmasked in place (§5.3: XOR with the key, as [`apply_mask`]), and our header goes
    /// over the end of the client's. A client's header is always exactly 4 bytes longer than the
    /// server's for the same payload: the same length encoding, plus the masking key, which a server
    /// does not send (§5.2). So the echo frame is one contiguous run of bytes, the caller can write it
    /// from the read buffer itself, and the payload is never copied in user space.
    ///
    /// On `Err` (text that is not UTF-8, §8.1), a close frame with the error's code has been appended to
    /// `out`, as after [`WsProtocol::read`].
    pub fn echo_in_place(
        &mut self,
        input: &mut [u8],
        out: &mut Vec<u8>,
        now: Instant,
    ) -> Result<Option<EchoInPlace>, WsError> {
        let at_message_start = self.reading == Reading::FrameStart && self.message.is_none();
        if self.role != Role::Server || self.state != State::Open || !at_message_start {
            return Ok(None);
        }
        // A broken header is left to `read`, which fails the connection with the right code.
        let Ok(Some((header, header_len))) = decode_header(input) else {
            return Ok(None);
        };
        let (true, Some(key), Opcode::Text | Opcode::Binary) =
            (header.fin, header.mask, header.opcode)
        else {
            return Ok(None);
        };
        let Some(payload_len) = usize::try_from(header.payload_len)
            .ok()
            .filter(|len| *len <= self.max_message_bytes)
        else {
            return Ok(None); // `read` answers 1009
        };
        let mut echo_header = Vec::with_capacity(crate::ws::frame::MAX_HEADER_BYTES);
        encode_header(true, header.opcode, payload_len, None, &mut echo_header);
        let frame_len = header_len.saturating_add(payload_len);
        let (Some(frame), Some(echo_start)) = (
            input.get_mut(..frame_len),
            header_len.checked_sub(echo_header.len()),
        ) else {
            return Ok(None); // not whole yet
        };
        let (head, payload) = frame.split_at_mut(header_len);
        apply_mask(payload, key, 0);
        if header.opcode == Opcode::Text && std::str::from_utf8(payload).is_err() {
            let error = WsError::invalid_payload("text message is not valid UTF-8");
            self.fail(&error, out);
            return Err(error);
        }
        if let Some(place) = head.get_mut(echo_start..) {
            place.copy_from_slice(&echo_header);
        }
        self.heard_from_peer(now);
        Ok(Some(EchoInPlace {
            consumed: frame_len,
            frame: echo_start..frame_len,
        }))
    }

    /// Appends a text message frame to `out` (nothing after a close was sent).
    pub fn send_text(&mut self, text: &str, out: &mut Vec<u8>) {
        self.send_data(Opcode::Text, text.as_bytes(), out);
    }

    /// Appends a binary message frame to `out` (nothing after a close was sent).
    pub fn send_binary(&mut self, data: &[u8], out: &mut Vec<u8>) {
        self.send_data(Opcode::Binary, data, out);
    }

    /// Sends a text message whose bytes the caller owns, without copying them into `out`: appends only
    /// the frame header to `out` and gives the payload back, to be written right after it (masked in
    /// place for a client). `None`, and nothing appended, once a close was sent. An echo server hands
    /// the message it just received to its output queue this way.
    pub fn send_text_owned(&mut self, text: String, out: &mut Vec<u8>) -> Option<Vec<u8>> {
        self.send_data_owned(Opcode::Text, text.into_bytes(), out)
    }

    /// [`WsProtocol::send_text_owned`] for a binary message.
    pub fn send_binary_owned(&mut self, data: Vec<u8>, out: &mut Vec<u8>) -> Option<Vec<u8>> {
        self.send_data_owned(Opcode::Binary, data, out)
    }

    /// Appends a ping to `out` (at most 125 bytes of `payload` are sent; nothing after a close was sent).
    pub fn send_ping(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        if self.state == State::Open {
            let payload = payload
                .get(..crate::ws::frame::MAX_CONTROL_PAYLOAD_BYTES)
                .unwrap_or(payload);
            self.write_frame(Opcode::Ping, payload, out);
        }
    }

    /// Starts the closing handshake: appends a close frame to `out` and waits for the peer's.
    ///
    /// `code` should be one a peer may send ([`is_valid_close_code`]); the reason is cut to 123
    /// bytes on a character boundary. Does nothing if a close was already sent.
    pub fn close(&mut self, code: u16, reason: &str, out: &mut Vec<u8>, now: Instant) {
        if self.state == State::Open {
            self.write_close(Some(code), reason, out);
            self.state = State::CloseSent { since: now };
        }
    }

    /// Whether a close frame has been sent (no more data may be sent, §5.5.1).
    pub fn close_sent(&self) -> bool {
        self.state != State::Open
    }

    /// Whether a data frame encoded once for every server-side connection may go out on this one now
    /// (a broadcast shares one encoding, see [`crate::transport::websocket::encode_message_frame`]):
    /// only a server's frames are the same bytes on every connection, since a client masks each
    /// frame with a key of its own (§5.1, §5.3); and no data frame may follow our close (§5.5.1).
    pub fn takes_shared_frames(&self) -> bool {
        self.role == Role::Server && self.state == State::Open
    }

    /// Whether both close frames have crossed: the TCP connection should now be closed (§7.1.1).
    ///
    /// Also true once the connection has failed (an error from [`WsProtocol::read`], a dead peer): the
    /// close frame is in `out`, and after writing it the TCP connection is closed (§7.1.7).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The next instant at which [`WsProtocol::on_timeout`] must be called (ping due, pong or close overdue).
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Open => Some(match self.ping_sent_at {
                Some(ping_sent_at) => ping_sent_at + self.timeouts.pong(),
                None => self.last_heard_at + self.timeouts.ping(),
            }),
            State::CloseSent { since } => Some(since + self.timeouts.close()),
            State::Closed => None,
        }
    }

    /// Acts on deadlines that have passed: queues a keep-alive ping into `out`, or returns `true` when the
    /// peer is dead (no pong, no close answer) and the TCP connection should be dropped.
    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        match self.state {
            State::Open => match self.ping_sent_at {
                Some(ping_sent_at) if now >= ping_sent_at + self.timeouts.pong() => {
                    // Nothing at all from the peer since our ping: the connection is dead. No close
                    // frame, nobody would read it.
                    self.state = State::Closed;
                    true
                }
                None if now >= self.last_heard_at + self.timeouts.ping() => {
                    self.write_frame(Opcode::Ping, b"", out);
                    self.ping_sent_at = Some(now);
                    false
                }
                _ => false,
            },
            State::CloseSent { since } if now >= since + self.timeouts.close() => {
                // §7.1.1: the peer did not answer our close in time; drop TCP.
                self.state = State::Closed;
                true
            }
            State::CloseSent { .. } | State::Closed => false,
        }
    }

    /// Any byte from the peer proves it is alive: the keep-alive clock starts over.
    fn heard_from_peer(&mut self, now: Instant) {
        self.last_heard_at = now;
        self.ping_sent_at = None;
    }

    /// _Fail the WebSocket Connection_ (§7.1.7): send a close with the error's code unless one was sent.
    fn fail(&mut self, error: &WsError, out: &mut Vec<u8>) {
        if self.state == State::Open {
            self.write_close(Some(error.close_code), error.reason, out);
        }
        self.message = None;
        self.reading = Reading::FrameStart;
        self.state = State::Closed;
    }

    /// Reads frames until one event is whole or the input runs out.
    fn read_frames(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<ReadOutcome, WsError> {
        let mut consumed = 0;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            let step = match self.reading {
                Reading::FrameStart => self.read_frame(rest, out)?,
                Reading::DataPayload { .. } => self.read_data_payload(rest)?,
            };
            consumed += step.consumed;
            if step.event.is_some() || step.consumed == 0 || self.state == State::Closed {
                return Ok(ReadOutcome {
                    consumed,
                    event: step.event,
                });
            }
        }
    }

    /// Reads one frame header and, for a control frame, its whole payload.
    fn read_frame(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<ReadOutcome, WsError> {
        let Some((header, header_len)) = decode_header(input)? else {
            return Ok(ReadOutcome::need_more());
        };
        self.check_masking(&header)?;
        if header.opcode.is_control() {
            // decode_header has already held control payloads to 125 bytes (§5.5).
            let payload_len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
            let frame_len = header_len.saturating_add(payload_len);
            let Some(masked_payload) = input.get(header_len..frame_len) else {
                return Ok(ReadOutcome::need_more());
            };
            let mut payload = masked_payload.to_vec();
            if let Some(key) = header.mask {
                apply_mask(&mut payload, key, 0);
            }
            let event = self.on_control_frame(header.opcode, payload, out)?;
            return Ok(ReadOutcome {
                consumed: frame_len,
                event: Some(event),
            });
        }
        self.start_data_frame(&header)?;
        let arrived = input.len().saturating_sub(header_len);
        self.reserve_for_frame(header.payload_len, arrived);
        self.reading = Reading::DataPayload {
            remaining_bytes: header.payload_len,
            mask: header.mask,
            mask_phase: 0,
            fin: header.fin,
        };
        let payload_part = self.read_data_payload(input.get(header_len..).unwrap_or_default())?;
        Ok(ReadOutcome {
            consumed: header_len + payload_part.consumed,
            event: payload_part.event,
        })
    }

    /// RFC 6455 §5.1: "a client MUST mask all frames that it sends to the server" and "a server MUST NOT
    /// mask any frames that it sends to the client"; the receiver closes on the other kind.
    fn check_masking(&self, header: &FrameHeader) -> Result<(), WsError> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => Err(WsError::protocol("unmasked frame from a client")),
            (Role::Client, true) => Err(WsError::protocol("masked frame from a server")),
            _ => Ok(()),
        }
    }

    /// Checks that a data frame may come now, and how big the message would grow; opens the message.
    fn start_data_frame(&mut self, header: &FrameHeader) -> Result<(), WsError> {
        let kind = match (header.opcode, &self.message) {
            // RFC 6455 §5.4: a fragmented message is a first frame with FIN clear, then continuation
            // frames, the last with FIN set. Only control frames may come in between.
            (Opcode::Continuation, Some(message)) => message.kind,
            (Opcode::Continuation, None) => {
                return Err(WsError::protocol(
                    "continuation frame without a message to continue",
                ))
            }
            (Opcode::Text | Opcode::Binary, Some(_)) => {
                return Err(WsError::protocol(
                    "new message started inside a fragmented message",
                ))
            }
            (Opcode::Text, None) => MessageKind::Text,
            (Opcode::Binary, None) => MessageKind::Binary,
            (Opcode::Close | Opcode::Ping | Opcode::Pong, _) => {
                return Err(WsError::protocol("control frame taken for a data frame"))
            }
        };
        // RFC 6455 §10.4: an endpoint limits the size of what it buffers and answers 1009 (§7.4.1).
        // Decided from the header, before a byte of the payload is buffered.
        let buffered_bytes = self
            .message
            .as_ref()
            .map_or(0, |message| message.payload.len());
        let message_bytes = (buffered_bytes as u64).saturating_add(header.payload_len);
        if message_bytes > self.max_message_bytes as u64 {
            return Err(WsError::too_big("message larger than max_message_bytes"));
        }
        if self.message.is_none() {
            // Its capacity comes from the frame's announced length (`reserve_for_frame`).
            self.message = Some(Box::new(Assembly {
                kind,
                payload: Vec::new(),
                utf8: Utf8Validator::new(),
            }));
        }
        Ok(())
    }

    /// Makes room in the message buffer for a data frame of `announced` payload bytes, `arrived` of
    /// which are already here, so the buffer is allocated once instead of growing (and being copied)
    /// piece by piece as the frame comes in. A peer could announce 16 MiB and send nothing, so the room
    /// made runs at most [`RESERVE_AHEAD_BYTES`] ahead of the bytes that have arrived; a larger frame's
    /// buffer grows as its bytes come.
    fn reserve_for_frame(&mut self, announced: u64, arrived: usize) {
        if let Some(message) = self.message.as_mut() {
            let announced = usize::try_from(announced).unwrap_or(usize::MAX);
            // `reserve`, not `reserve_exact`: a message of many small fragments still grows by
            // doubling, so its bytes are copied a bounded number of times.
            message
                .payload
                .reserve(announced.min(arrived.saturating_add(RESERVE_AHEAD_BYTES)));
        }
    }

    /// Takes the part of the current data frame's payload that `input` holds.
    fn read_data_payload(&mut self, input: &[u8]) -> Result<ReadOutcome, WsError> {
        let Reading::DataPayload {
            remaining_bytes,
            mask,
            mask_phase,
            fin,
        } = self.reading
        else {
            return Ok(ReadOutcome::need_more());
        };
        let Some(message) = self.message.as_mut() else {
            return Err(WsError::protocol("payload without a message"));
        };
        let take = usize::try_from(remaining_bytes)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let piece = input.get(..take).unwrap_or_default();
        let start = message.payload.len();
        // Copied out of the read buffer and unmasked in the same pass.
        match mask {
            Some(key) => extend_unmasked(&mut message.payload, piece, key, mask_phase),
            None => message.payload.extend_from_slice(piece),
        }
        let new_bytes = message.payload.get(start..).unwrap_or_default();
        // The piece that ends the message is checked by the conversion to `String` in
        // `finish_message`, in this same call: checking it here too would read it twice.
        let ends_message = fin && remaining_bytes == take as u64;
        if message.kind == MessageKind::Text && !ends_message {
            // RFC 6455 §8.1: text that is not UTF-8 fails the connection with 1007, here as soon as the
            // bytes so far cannot begin valid UTF-8.
            if message.utf8.feed(new_bytes).is_err() {
                return Err(WsError::invalid_payload("text message is not valid UTF-8"));
            }
        }
        let remaining_bytes = remaining_bytes - take as u64;
        if remaining_bytes > 0 {
            let mask_phase = (mask_phase + take) % 4;
            self.reading = Reading::DataPayload {
                remaining_bytes,
                mask,
                mask_phase,
                fin,
            };
            return Ok(ReadOutcome {
                consumed: take,
                event: None,
            });
        }
        self.reading = Reading::FrameStart;
        if !fin {
            return Ok(ReadOutcome {
                consumed: take,
                event: None,
            });
        }
        let event = self.finish_message()?;
        Ok(ReadOutcome {
            consumed: take,
            event,
        })
    }

    /// Hands out the message whose final frame has arrived, releasing its buffer.
    fn finish_message(&mut self) -> Result<Option<Event>, WsError> {
        let Some(message) = self.message.take() else {
            return Ok(None);
        };
        let message = *message;
        match message.kind {
            MessageKind::Binary => Ok(Some(Event::Binary(message.payload))),
            MessageKind::Text => {
                // The whole message must be UTF-8 (§5.6, §8.1): this also catches a message that
                // ends inside a code point, and checks the final piece, which was not fed to `utf8`.
                String::from_utf8(message.payload)
                    .map(|text| Some(Event::Text(text)))
                    .map_err(|_| WsError::invalid_payload("text message is not valid UTF-8"))
            }
        }
    }

    /// Answers a whole control frame (§5.5).
    fn on_control_frame(
        &mut self,
        opcode: Opcode,
        payload: Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Event, WsError> {
        match opcode {
            Opcode::Ping => {
                // RFC 6455 §5.5.2–3: answer a ping with a pong carrying "identical Application data",
                // unless we are closing (nothing is sent after our close).
                if self.state == State::Open {
                    self.write_frame(Opcode::Pong, &payload, out);
                }
                Ok(Event::Ping(payload))
            }
            // RFC 6455 §5.5.3: a pong may be unsolicited; it needs no answer.
            Opcode::Pong => Ok(Event::Pong(payload)),
            _ => self.on_close_frame(&payload, out),
        }
    }

    /// The peer's close (§5.5.1, §7.1.5): check it, echo it if we have not closed yet.
    fn on_close_frame(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<Event, WsError> {
        let (code, reason) = parse_close_payload(payload)?;
        if self.state == State::Open {
            // RFC 6455 §5.5.1: "the endpoint MUST send a Close frame in response ... typically echoing
            // the status code it received". An empty close is answered with an empty close.
            self.write_close(code, "", out);
        }
        self.message = None;
        self.state = State::Closed;
        Ok(Event::Close { code, reason })
    }

    fn send_data(&mut self, opcode: Opcode, payload: &[u8], out: &mut Vec<u8>) {
        // RFC 6455 §5.5.1: "The application MUST NOT send any more data frames after sending a Close
        // frame."
        if self.state == State::Open {
            self.write_frame(opcode, payload, out);
        }
    }

    /// One unfragmented data frame whose header goes to `out` and whose payload is given back.
    fn send_data_owned(
        &mut self,
        opcode: Opcode,
        mut payload: Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Option<Vec<u8>> {
        // §5.5.1, as in `send_data`: no data frame after our close.
        if self.state != State::Open {
            return None;
        }
        let mask = self.next_mask();
        encode_header(true, opcode, payload.len(), mask, out);
        if let Some(key) = mask {
            apply_mask(&mut payload, key, 0);
        }
        Some(payload)
    }

    /// A close frame: optional code and a reason cut to fit (§5.5.1).
    fn write_close(&mut self, code: Option<u16>, reason: &str, out: &mut Vec<u8>) {
        let mut payload = Vec::with_capacity(2 + MAX_CLOSE_REASON_BYTES);
        if let Some(code) = code {
            payload.extend_from_slice(&code.to_be_bytes());
            payload.extend_from_slice(
                truncate_on_char_boundary(reason, MAX_CLOSE_REASON_BYTES).as_bytes(),
            );
        }
        self.write_frame(Opcode::Close, &payload, out);
    }

    /// One unfragmented frame, masked with a fresh key when we are the client (§5.3).
    fn write_frame(&mut self, opcode: Opcode, payload: &[u8], out: &mut Vec<u8>) {
        let mask = self.next_mask();
        encode_frame(true, opcode, payload, mask, out);
    }

    /// The masking key of the next frame we send: a fresh one for a client (§5.3), none for a server.
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Server => None,
            Role::Client => Some(
                self.mask_keys
                    .get_or_insert_with(|| Box::new(HashMaskKeys::new()))
                    .next_mask_key(),
            ),
        }
    }
}

/// A close payload (§5.5.1): empty, or a 2-byte code then a UTF-8 reason.
fn parse_close_payload(payload: &[u8]) -> Result<(Option<u16>, String), WsError> {
    let (code_bytes, reason_bytes) = match payload {
        [] => return Ok((None, String::new())),
        // RFC 6455 §5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
        // unsigned integer" - one byte cannot be.
        [_] => return Err(WsError::protocol("close frame with a 1-byte payload")),
        [high, low, reason @ ..] => ([*high, *low], reason),
    };
    let code = u16::from_be_bytes(code_bytes);
    // RFC 6455 §7.4.1–2: codes a peer may not send (1005, 1006, 1015, unassigned ranges) are errors.
    if !is_valid_close_code(code) {
        return Err(WsError::protocol("invalid close code"));
    }
    // RFC 6455 §5.5.1: the reason is UTF-8. Invalid UTF-8 is answered as for any text (§8.1), with 1007,
    // which is also what Autobahn case 7.5.1 looks for.
    let reason = String::from_utf8(reason_bytes.to_vec())
        .map_err(|_| WsError::invalid_payload("close reason is not valid UTF-8"))?;
    Ok((Some(code), reason))
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
fn truncate_on_char_boundary(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests;
