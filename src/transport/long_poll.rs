//! Long polling: ask, and the server answers only when it has something (or gives up waiting).
//!
//! # How it works
//!
//! The request looks exactly like a short poll, and so does the answer. The difference is **when** the
//! answer comes. The server first reads the hub after `after` (at most `max_batch_messages`): if there
//! are messages (or a reset, see [`answers_now`]) it answers at once, like a short poll. If not, it
//! **parks** the request:
//!
//! 1. in the same step, so no message can slip in between, it subscribes the connection to the topic,
//!    with a cursor at the `last` it just read;
//! 2. it sets a deadline `hold_timeout` ahead (default 20 s);
//! 3. on the next publish to the topic it reads the messages after its cursor (again at most
//!    `max_batch_messages`), answers with them and unsubscribes;
//! 4. if the deadline comes first it unsubscribes and answers an empty list with the topic's head as
//!    `last` ([`timeout_response`]);
//! 5. if the client closes the connection meanwhile, it unsubscribes and forgets the request.
//!
//! The client re-issues the request as soon as an answer arrives, with the new `last` as `after`, so there
//! is nearly always one request waiting at the server: a message reaches the browser after about one
//! network round trip.
//!
//! ```text
//! GET /longpoll/chat?after=1043 HTTP/1.1
//! Host: 127.0.0.1:8080
//!
//!                                 ... held until someone publishes to "chat" ...
//! HTTP/1.1 200 OK
//! Content-Type: application/json
//! Cache-Control: no-store
//! Content-Length: 52
//!
//! {"messages":[{"id":1044,"data":"news"}],"last":1044}
//! ```
//!
//! # Framing and end of response
//!
//! One whole JSON document with a `Content-Length`, exactly as in [`super::short_poll`]. The response
//! ends when the body is sent; the held connection is free for the client's next request.
//!
//! # Strengths and weaknesses
//!
//! Low latency with nothing but ordinary requests and responses: it passes every proxy that passes
//! short polling. The cost is one parked request per client (a socket and a timer on the server) and a
//! full request/response round trip per message burst; messages published while the client is between
//! two requests are not lost, because the next request asks "after `last`" and the hub replays them.
//!
//! # Pitfalls
//!
//! - The hold must stay below the idle timeouts of proxies and PaaS routers (often 30 s or 60 s), or
//!   they cut the request and the client sees an error instead of an empty answer. 20 s is usual.
//! - The client's own request timeout must be **longer** than the hold, or it gives up first and
//!   reconnects in a loop.
//! - A browser allows about six HTTP/1.1 connections per host; every parked poll takes one of them.
//! - An answer with `"reset":true` is sent at once even when its list is empty (see
//!   [`answers_now`]): the client must learn that it missed messages.

use crate::http::Response;
use crate::hub::Replay;

/// Whether a long poll answers at once with this replay (there are messages, or the client must hear
/// about a reset) or is parked until the next publish or the hold timeout.
// ANCHOR: answers_now
pub fn answers_now(replay: &Replay) -> bool {
    !replay.messages.is_empty() || replay.reset
}
// ANCHOR_END: answers_now

/// The answer to `GET /longpoll/{topic}?after=N`: the same `200` JSON batch as a short poll, sent when
/// messages exist, on the next publish, or (with an empty list) at the hold timeout.
pub fn response(replay: &Replay) -> Response {
    super::short_poll::response(replay)
}

/// The answer at the hold timeout: an empty list and `last` = `head`, the id to ask after next time.
pub fn timeout_response(head: u64) -> Response {
    response(&Replay {
        reset: false,
        messages: Vec::new(),
        last: head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Message;
    use crate::json::message_json;
    use std::rc::Rc;

    #[test]
    fn parks_only_when_there_is_nothing_to_say() {
        let message = Rc::new(Message {
            id: 1,
            data: "a".into(),
            json: message_json(1, "a"),
        });
        assert!(answers_now(&Replay {
            reset: false,
            messages: vec![message],
            last: 1
        }));
        assert!(answers_now(&Replay {
            reset: true,
            messages: vec![],
            last: 0
        }));
        assert!(!answers_now(&Replay {
            reset: false,
            messages: vec![],
            last: 0
        }));
    }

    #[test]
    fn same_body_as_a_short_poll() {
        let message = Rc::new(Message {
            id: 8,
            data: "x".into(),
            json: message_json(8, "x"),
        });
        let replay = Replay {
            reset: true,
            messages: vec![message],
            last: 8,
        };
        let response = response(&replay);
        assert_eq!(response.status, 200);
        assert_eq!(
            response.body,
            br#"{"messages":[{"id":8,"data":"x"}],"last":8,"reset":true}"#
        );
        assert_eq!(
            response.body,
            super::super::short_poll::response(&replay).body
        );
        assert!(response
            .headers
            .iter()
            .any(|(n, v)| n == "Cache-Control" && v == "no-store"));
    }

    #[test]
    fn timeout_answers_an_empty_list() {
        assert_eq!(timeout_response(12).body, br#"{"messages":[],"last":12}"#);
    }
}
