//! The seven doors to the hub. Each module says how a message is framed on the wire and when the
//! response ends; read them one after another (design §1).
//!
//! | door | module | request | a message on the wire | the response ends |
//! |---|---|---|---|---|
//! | short polling | [`short_poll`] | `GET /poll/{topic}?after=N`, on a timer | in a JSON batch | at once |
//! | long polling | [`long_poll`] | `GET /longpoll/{topic}?after=N`, again after each answer | in a JSON batch | on a message or at the hold timeout |
//! | JSONP | [`jsonp`] | `<script src="/jsonp/{topic}?after=N&callback=F">` | in `F({...})` | like a long poll |
//! | XHR streaming | [`xhr_stream`] | `GET /stream/{topic}?after=N`, once | one JSON line | after `max_stream_bytes` |
//! | iframe streaming | [`iframe`] | hidden `<iframe src="/iframe/{topic}?callback=F">` | one `<script>` | after `max_stream_bytes` |
//! | Server-Sent Events | [`sse`] | `new EventSource("/sse/{topic}")` | `id:` and `data:` lines | when a side closes |
//! | WebSocket | [`websocket`] | `GET /ws/{topic}` with `Upgrade` | one text frame | on a close handshake |
//!
//! Every door sends the same object for a message, `{"id":N,"data":"..."}`, built once at publish time
//! by [`json`] (SSE sends the data itself in `data:` lines, with the id in `id:`). Every door can resume
//! "after N", and every door tells a client that asked for more than the log keeps about the gap
//! (a *reset*) instead of skipping silently.
//!
//! # The interface the server core calls
//!
//! Each door owns its whole lifecycle, and the server core (`server::connection`) holds no
//! door-specific code. There are two lifecycles, because there are two kinds of door:
//!
//! **Doors that stay open and push** (XHR stream, iframe, SSE, WebSocket) implement [`PushDoor`]:
//!
//! | part of the lifecycle | stream doors ([`ChunkedStream`] around a [`StreamFormat`]) | WebSocket ([`websocket`]) |
//! |---|---|---|
//! | the head when it opens | [`ChunkedStream::head`], then [`ChunkedStream::prelude`] | the `101` of the handshake ([`crate::ws::handshake`]) |
//! | the replay, then live messages | [`PushDoor::reset`] if the reader missed some, then [`PushDoor::message`] each | the same, one text frame each |
//! | a heartbeat | [`PushDoor::heartbeat`], after a quiet interval | the protocol's ping, on its own timer |
//! | when the response ends | [`PushDoor::sent`] says so after `max_stream_bytes` (not SSE); then [`ChunkedStream::end`] | a close handshake |
//! | what a reconnect carries | `?after=N`, or SSE's `Last-Event-ID` ([`sse::resume_point`]) | `?after=N` |
//!
//! The server core moves messages from the topic log to the socket with **one loop for all four**:
//! while the output has room it reads the messages after the subscriber's cursor, has the door frame
//! each one, queues it whole or leaves it in the log, and moves the cursor past what it queued. The
//! replay after opening and the live messages after it are the same loop, so a replay is never
//! copied, and a subscriber that stops reading costs at most its output budget.
//!
//! **Doors that answer once with a batch** (short poll, long poll, JSONP) are a [`BatchDoor`]: whether
//! it answers now or parks ([`BatchDoor::answers_now`]), the answer carrying a batch
//! ([`BatchDoor::response`]), and the answer when the hold ends ([`BatchDoor::timeout_response`]). A
//! reconnect carries the answer's `last` as `after`. They stay a lifecycle of their own rather than a
//! third implementation of [`PushDoor`]: a batch is one document with a `Content-Length` (or one script call),
//! built whole from at most `max_batch_messages` messages, so there is nothing to move piece by piece
//! as the socket drains, and forcing them through the pull loop would mean a door that buffers
//! messages until some "end" the loop knows nothing about.
//!
//! All of this is formatting and decisions only: the functions here return a [`crate::http::Response`],
//! a value, or append bytes to a buffer. The server core decides when to call them.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation,
    )
)]

pub mod iframe;
pub mod json;
pub mod jsonp;
pub mod long_poll;
pub mod short_poll;
pub mod sse;
pub mod websocket;
pub mod xhr_stream;

use crate::http::chunked::{self, SizeLineBytes};
use crate::http::Response;
use crate::hub::{Message, Replay};

/// How a held-open streaming response (XHR stream, iframe, SSE) frames what it sends. The server core
/// sends the response with `Transfer-Encoding: chunked` and wraps each piece in one chunk.
///
/// The order on the wire is: the head (`content_type` and `headers`), the `prelude`, then `reset` if
/// the subscription's replay says so, the replayed messages, and then live messages and heartbeats as
/// they come.
pub trait StreamFormat {
    /// The response's `Content-Type`.
    fn content_type(&self) -> &'static str;
    /// Extra response headers (e.g. `Cache-Control`, `X-Accel-Buffering`).
    fn headers(&self) -> Vec<(&'static str, String)>;
    /// Bytes sent before the first message (padding, `retry:`...), possibly none. `resume_after` is
    /// where the stream starts reading the log (the subscription's cursor): a door whose client
    /// reconnects by itself names it here, so that a reconnect before the first message resumes from
    /// there instead of "from now" (see `sse`).
    fn prelude(&self, resume_after: u64, out: &mut Vec<u8>);
    /// One message.
    fn message(&self, message: &Message, out: &mut Vec<u8>);
    /// Tells the client it missed messages; it continues after `last` (pass [`reset_point`]).
    fn reset(&self, last: u64, out: &mut Vec<u8>);
    /// Something harmless that keeps intermediaries and dead-peer detection going.
    fn heartbeat(&self, out: &mut Vec<u8>);
    /// Whether the response ends after `max_stream_bytes` of body, so that the client reconnects with
    /// its last id and its memory for one response stays bounded (XHR and iframe streams: the browser
    /// keeps the whole response). SSE does not: `EventSource` discards what it has dispatched.
    fn ends_when_long(&self) -> bool {
        true
    }
    /// Which shared framing [`StreamFormat::message`] writes, when it writes the same bytes on every
    /// connection of this format (nothing of the request goes into them): a broadcast then frames
    /// each message once for all the format's subscribers. `None` (the default) when it does not.
    fn shared_framing(&self) -> Option<SharedFraming> {
        None
    }
}

/// A door's framing of a message that is the same bytes on every connection of the door, so that a
/// broadcast frames each message once for all its subscribers and writes those bytes to each (see
/// `crate::server::room::SharedFrame`). The iframe stream is not one: its scripts name the page's
/// own callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedFraming {
    /// One text frame, unmasked as every server's frame is (RFC 6455 §5.1).
    WebSocket,
    /// One chunk holding the message's JSON line.
    XhrStream,
    /// One chunk holding the message's SSE event.
    Sse,
}

impl SharedFraming {
    /// How many there are.
    pub const COUNT: usize = 3;

    /// Its place among them, `0..COUNT`.
    pub fn index(self) -> usize {
        match self {
            SharedFraming::WebSocket => 0,
            SharedFraming::XhrStream => 1,
            SharedFraming::Sse => 2,
        }
    }
}

/// The id a reset notice announces: the stream continues after it. That is the id just before the
/// first replayed message (so a client that drops in the middle of the replay resumes inside it, not
/// after its end), or the replay's `last` when nothing is replayed.
///
/// Streams (XHR, iframe, SSE) and WebSocket announce this; polls instead answer `"reset":true` with the
/// batch's usual `last`, since the batch itself carries the messages.
pub fn reset_point(replay: &Replay) -> u64 {
    match replay.messages.first() {
        Some(first) => first.id.saturating_sub(1),
        None => replay.last,
    }
}

/// The interface of the four doors that stay open and push (XHR stream, iframe, SSE through
/// [`ChunkedStream`]; WebSocket through [`crate::ws::WsProtocol`], see [`websocket`]). The server
/// core holds one of them per subscriber and moves messages from the topic log to the socket with
/// one loop, whichever door it is:
///
/// ```text
/// while the output has room:
///     read the messages after the subscriber's cursor
///     (a reset notice first, if the reader asked for more than the log keeps)  -> reset()
///     each message                                                             -> message()
///     queue the framed piece whole, or leave it in the log for the next turn
///     move the cursor past it; stop if the response ended                      -> sent()
/// ```
///
/// Each method appends one framed piece, exactly as it goes on the wire, to `piece` (an empty
/// buffer the core lends); the core then queues it whole or not at all, so the cursor moves only
/// past what was queued. A door that sends nothing more (a WebSocket whose close frame went out)
/// appends nothing.
///
/// What a reconnect carries is decided when the request is routed: `?after=N` for every door, and
/// SSE's `Last-Event-ID` ([`sse::resume_point`]).
pub trait PushDoor {
    /// Frames the notice that messages were missed; the client continues after `last` (pass
    /// [`reset_point`]).
    fn reset(&mut self, last: u64, piece: &mut Vec<u8>);
    /// Frames one message.
    fn message(&mut self, message: &Message, piece: &mut Vec<u8>);
    /// Frames something harmless that keeps intermediaries and dead-peer detection going after a
    /// quiet interval. A WebSocket appends nothing: its protocol pings on its own timer (RFC 6455
    /// §5.5.2).
    fn heartbeat(&mut self, piece: &mut Vec<u8>);
    /// The piece framed last was queued. Returns whether the response must end now (a stream past
    /// its size limit: the client reconnects with its last id).
    fn sent(&mut self) -> bool;
}

/// A held-open chunked response (XHR stream, iframe, SSE): a [`StreamFormat`] says what each piece
/// is, and this wraps every piece in one chunk (RFC 9112 §7.1) and counts the body, so that the
/// response ends after `max_body_bytes` when the format asks for it.
///
/// Its lifecycle: [`ChunkedStream::head`] and [`ChunkedStream::prelude`] when it opens, then the
/// pieces of [`PushDoor`], and [`ChunkedStream::end`] when the response ends.
pub struct ChunkedStream {
    format: Box<dyn StreamFormat>,
    /// Body bytes queued so far (chunk framing not counted).
    body_bytes: usize,
    /// The response ends after this many body bytes (`usize::MAX`: never, see
    /// [`StreamFormat::ends_when_long`]).
    max_body_bytes: usize,
    /// Body bytes of the piece framed last, counted once [`PushDoor::sent`] says it was queued.
    framed_body_bytes: usize,
}

impl std::fmt::Debug for ChunkedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedStream")
            .field("content_type", &self.format.content_type())
            .field("body_bytes", &self.body_bytes)
            .finish_non_exhaustive()
    }
}

impl ChunkedStream {
    /// A stream framed by `format`, ending after `max_stream_bytes` of body if the format ends
    /// when long.
    pub fn new(format: Box<dyn StreamFormat>, max_stream_bytes: usize) -> ChunkedStream {
        let max_body_bytes = if format.ends_when_long() {
            max_stream_bytes
        } else {
            usize::MAX
        };
        ChunkedStream {
            format,
            body_bytes: 0,
            max_body_bytes,
            framed_body_bytes: 0,
        }
    }

    /// The response head: `200`, chunked, the format's `Content-Type` and headers.
    pub fn head(&self) -> Response {
        let mut response = Response::new(200).chunked(self.format.content_type());
        for (name, value) in self.format.headers() {
            response = response.header(name, &value);
        }
        response
    }

    /// Frames the prelude, the first chunk of the body (see [`StreamFormat::prelude`]).
    pub fn prelude(&mut self, resume_after: u64, piece: &mut Vec<u8>) {
        let format = &self.format;
        self.framed_body_bytes = frame_chunk(piece, |body| format.prelude(resume_after, body));
    }

    /// The last chunk, which ends the response (RFC 9112 §7.1).
    pub fn end(out: &mut Vec<u8>) {
        chunked::encode_last_chunk(out);
    }

    /// The framing this stream's messages share with every stream of its format, if they do.
    pub fn shared_framing(&self) -> Option<SharedFraming> {
        self.format.shared_framing()
    }

    /// Appends `message` as this stream frames it, one chunk, without counting it as sent: the
    /// shared framing a broadcast writes to every subscriber of the format. Returns its body bytes,
    /// for [`ChunkedStream::has_room_for`] and [`ChunkedStream::count_sent`].
    pub fn frame_message(&self, message: &Message, out: &mut Vec<u8>) -> usize {
        let format = &self.format;
        frame_chunk(out, |body| format.message(message, body))
    }

    /// Whether a piece of `body_bytes` can go without ending the response. (The piece that reaches
    /// the size limit goes the usual way, which then ends the response.)
    pub fn has_room_for(&self, body_bytes: usize) -> bool {
        self.body_bytes.saturating_add(body_bytes) < self.max_body_bytes
    }

    /// Counts a piece of `body_bytes` written from a shared framing, as [`PushDoor::sent`] counts
    /// one framed here.
    pub fn count_sent(&mut self, body_bytes: usize) {
        self.body_bytes = self.body_bytes.saturating_add(body_bytes);
    }
}

impl PushDoor for ChunkedStream {
    fn reset(&mut self, last: u64, piece: &mut Vec<u8>) {
        let format = &self.format;
        self.framed_body_bytes = frame_chunk(piece, |body| format.reset(last, body));
    }

    fn message(&mut self, message: &Message, piece: &mut Vec<u8>) {
        let format = &self.format;
        self.framed_body_bytes = frame_chunk(piece, |body| format.message(message, body));
    }

    fn heartbeat(&mut self, piece: &mut Vec<u8>) {
        let format = &self.format;
        self.framed_body_bytes = frame_chunk(piece, |body| format.heartbeat(body));
    }

    fn sent(&mut self) -> bool {
        self.body_bytes += std::mem::take(&mut self.framed_body_bytes);
        self.body_bytes >= self.max_body_bytes
    }
}

/// Appends to `out` one chunk holding what `write_body` appends, framed as
/// [`chunked::encode_chunk`] frames it, without a second buffer: the body is written first and its
/// size line slid in front of it. Nothing stays if the body is empty (an empty chunk would end the
/// response). Returns the body's length.
fn frame_chunk(out: &mut Vec<u8>, write_body: impl FnOnce(&mut Vec<u8>)) -> usize {
    let start = out.len();
    write_body(out);
    let body_len = out.len().saturating_sub(start);
    if body_len > 0 {
        // RFC 9112 §7.1: chunk = chunk-size CRLF chunk-data CRLF, the size in hexadecimal.
        let mut size_line = SizeLineBytes::default();
        out.splice(start..start, size_line.of(body_len).iter().copied());
        out.extend_from_slice(b"\r\n");
    }
    body_len
}

/// The three doors that answer with one response carrying a batch of messages.
///
/// Their lifecycle, which the server core follows without knowing which door it has:
///
/// 1. read the messages after the client's `after` (at most `max_batch_messages`);
/// 2. if [`BatchDoor::answers_now`], answer with [`BatchDoor::response`] and be done;
/// 3. else park: subscribe (in the same turn as the read, so nothing slips in between) and answer with the
///    first news, or with [`BatchDoor::timeout_response`] when the hold ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchDoor {
    /// `GET /poll/{topic}`: answers at once, even with an empty list.
    ShortPoll,
    /// `GET /longpoll/{topic}`: parks until there is something to say.
    LongPoll,
    /// `GET /jsonp/{topic}?callback=F`: a long poll whose answer is a script calling `F`.
    Jsonp {
        /// The validated callback name.
        callback: String,
    },
}

impl BatchDoor {
    /// Whether the door answers with this replay now, or parks the request.
    pub fn answers_now(&self, replay: &Replay) -> bool {
        match self {
            BatchDoor::ShortPoll => true,
            BatchDoor::LongPoll | BatchDoor::Jsonp { .. } => long_poll::answers_now(replay),
        }
    }

    /// The response carrying `replay`.
    pub fn response(&self, replay: &Replay) -> Response {
        match self {
            BatchDoor::ShortPoll => short_poll::response(replay),
            BatchDoor::LongPoll => long_poll::response(replay),
            BatchDoor::Jsonp { callback } => jsonp::response(callback, replay),
        }
    }

    /// The response when the hold ends with nothing new: an empty list, and `head` as `last`.
    pub fn timeout_response(&self, head: u64) -> Response {
        match self {
            BatchDoor::ShortPoll | BatchDoor::LongPoll => long_poll::timeout_response(head),
            BatchDoor::Jsonp { callback } => jsonp::timeout_response(callback, head),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::message_json;
    use std::rc::Rc;

    fn replay(reset: bool, ids: &[u64], last: u64) -> Replay {
        let messages = ids
            .iter()
            .map(|&id| {
                Rc::new(Message {
                    id,
                    data: format!("m{id}"),
                    json: message_json(id, &format!("m{id}")),
                })
            })
            .collect();
        Replay {
            reset,
            messages,
            last,
        }
    }

    #[test]
    fn reset_point_is_just_before_the_first_replayed() {
        assert_eq!(reset_point(&replay(true, &[6, 7, 8], 8)), 5);
        assert_eq!(reset_point(&replay(true, &[], 40)), 40);
    }

    #[test]
    fn a_chunked_stream_frames_each_piece_as_one_chunk_and_ends_when_long() {
        let message = Message {
            id: 7,
            data: "hi".into(),
            json: message_json(7, "hi"),
        };
        let mut stream = ChunkedStream::new(Box::new(xhr_stream::XhrStream), 60);
        assert_eq!(stream.head().status, 200);
        let mut piece = Vec::new();
        stream.message(&message, &mut piece);
        let mut expected = Vec::new();
        chunked::encode_chunk(b"{\"id\":7,\"data\":\"hi\"}\n", &mut expected);
        assert_eq!(piece, expected, "the same bytes as encode_chunk");
        assert!(!stream.sent(), "21 body bytes of 60");
        piece.clear();
        stream.reset(6, &mut piece);
        assert_eq!(piece, b"18\r\n{\"reset\":true,\"last\":6}\n\r\n");
        assert!(!stream.sent(), "45 of 60");
        stream.message(&message, &mut piece);
        assert!(
            stream.sent(),
            "66 of 60: the response ends, the client reconnects"
        );
    }

    #[test]
    fn a_refused_piece_is_not_counted_and_sse_never_ends_at_a_size() {
        let mut sse = ChunkedStream::new(Box::new(sse::SseStream { retry_ms: 0 }), 10);
        let mut piece = Vec::new();
        sse.heartbeat(&mut piece);
        assert_eq!(piece, b"18\r\nevent: heartbeat\ndata:\n\n\r\n");
        assert!(!sse.sent(), "SSE: EventSource keeps nothing it dispatched");
        let mut xhr = ChunkedStream::new(Box::new(xhr_stream::XhrStream), 30);
        xhr.heartbeat(&mut piece);
        // That piece was not queued (the output was full); only the next one counts.
        xhr.heartbeat(&mut piece);
        assert!(!xhr.sent(), "19 body bytes, counted once");
    }

    #[test]
    fn batch_doors_park_only_when_there_is_nothing_to_say() {
        let empty = replay(false, &[], 9);
        assert!(BatchDoor::ShortPoll.answers_now(&empty));
        assert!(!BatchDoor::LongPoll.answers_now(&empty));
        assert!(BatchDoor::LongPoll.answers_now(&replay(true, &[], 9)));
        let jsonp = BatchDoor::Jsonp {
            callback: "f".into(),
        };
        assert!(jsonp.answers_now(&replay(false, &[10], 10)));
        let timeout = jsonp.timeout_response(9);
        assert_eq!(timeout.body, b"/**/f({\"messages\":[],\"last\":9});");
    }

    /// The framing shared among a door's subscribers is what each stream would frame itself, and it
    /// counts toward the size limit the same way; the iframe, whose scripts name the page's callback,
    /// shares none.
    #[test]
    fn a_shared_framing_is_the_streams_own_and_counts_the_same() {
        let message = Message {
            id: 7,
            data: "hi\nthere".into(),
            json: message_json(7, "hi\nthere"),
        };
        type NewFormat = fn() -> Box<dyn StreamFormat>;
        let formats: [(NewFormat, Option<SharedFraming>); 3] = [
            (
                || Box::new(xhr_stream::XhrStream),
                Some(SharedFraming::XhrStream),
            ),
            (
                || Box::new(sse::SseStream { retry_ms: 1000 }),
                Some(SharedFraming::Sse),
            ),
            (|| Box::new(iframe::IframeStream::new("cb").unwrap()), None),
        ];
        for (format, framing) in formats {
            let mut stream = ChunkedStream::new(format(), 1_000);
            // A twin of the same format, sent the usual way.
            let mut twin = ChunkedStream::new(format(), 1_000);
            assert_eq!(stream.shared_framing(), framing);
            let (mut shared, mut own) = (Vec::new(), Vec::new());
            let body_bytes = stream.frame_message(&message, &mut shared);
            twin.message(&message, &mut own);
            assert_eq!(shared, own);
            let twin_ended = twin.sent();
            // Counted as `sent` counts the same piece framed by the stream itself.
            stream.count_sent(body_bytes);
            assert_eq!(stream.body_bytes, twin.body_bytes);
            assert!(!twin_ended);
            let left = 1_000 - body_bytes;
            assert!(stream.has_room_for(left - 1));
            let ends = stream.format.ends_when_long();
            assert_eq!(
                stream.has_room_for(left),
                !ends,
                "the piece that reaches the limit"
            );
        }
    }
}
