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
//! All of this is formatting only: the functions here return a [`crate::http::Response`] or append bytes
//! to a buffer. The event loop decides when to call them.

pub mod iframe;
pub mod json;
pub mod jsonp;
pub mod long_poll;
pub mod short_poll;
pub mod sse;
pub mod websocket;
pub mod xhr_stream;

use crate::hub::{Message, Replay};

/// How a held-open streaming response (XHR stream, iframe, SSE) frames what it sends. The event loop
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
    /// Bytes sent before the first message (padding, `retry:`...), possibly none.
    fn prelude(&self, out: &mut Vec<u8>);
    /// One message.
    fn message(&self, message: &Message, out: &mut Vec<u8>);
    /// Tells the client it missed messages; it continues after `last` (pass [`reset_point`]).
    fn reset(&self, last: u64, out: &mut Vec<u8>);
    /// Something harmless that keeps intermediaries and dead-peer detection going.
    fn heartbeat(&self, out: &mut Vec<u8>);
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

/// Appends what a stream sends right after its prelude for a subscription's replay: the reset notice
/// if the replay is a reset, then every replayed message, oldest first.
pub fn write_replay(format: &dyn StreamFormat, replay: &Replay, out: &mut Vec<u8>) {
    if replay.reset {
        format.reset(reset_point(replay), out);
    }
    for message in &replay.messages {
        format.message(message, out);
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
    fn replay_on_a_stream_is_reset_then_messages() {
        let mut out = Vec::new();
        write_replay(&xhr_stream::XhrStream, &replay(true, &[6, 7], 7), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"reset\":true,\"last\":5}\n{\"id\":6,\"data\":\"m6\"}\n{\"id\":7,\"data\":\"m7\"}\n"
        );
        let mut out = Vec::new();
        write_replay(
            &sse::SseStream { retry_ms: 1 },
            &replay(false, &[3], 3),
            &mut out,
        );
        assert_eq!(out, b"id: 3\ndata: m3\n\n");
    }
}
