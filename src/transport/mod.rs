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
//! Each door owns its lifecycle behind one of two small interfaces, and the server core
//! (`server::connection`) holds no door-specific code:
//!
//! - [`BatchDoor`] (short poll, long poll, JSONP): whether it answers now or parks
//!   ([`BatchDoor::answers_now`]), the answer carrying a batch ([`BatchDoor::response`]), and the answer
//!   when the hold ends ([`BatchDoor::timeout_response`]). A reconnect carries `last` as `after`.
//! - [`StreamFormat`] (XHR stream, iframe, SSE): the head (`content_type`, `headers`), the `prelude`, a
//!   `reset` notice, one `message`, a `heartbeat`, and whether the response ends when long
//!   ([`StreamFormat::ends_when_long`]). A reconnect carries the last id (`after`, or SSE's
//!   `Last-Event-ID`, [`sse::resume_point`]).
//! - WebSocket ([`websocket`]): the text of a message or reset frame, and what a client's message means
//!   on a socket with a given role ([`websocket::inbound`]).
//!
//! All of this is formatting and decisions only: the functions here return a [`crate::http::Response`],
//! a value, or append bytes to a buffer. The server core decides when to call them: it pulls messages
//! from the topic log after a subscriber's cursor while the subscriber's output has room.
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
}
