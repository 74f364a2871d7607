//! Short polling: ask, get an answer at once, ask again later.
//!
//! # How it works
//!
//! The browser sends a plain `GET` on a timer (every second, say) and remembers the `last` id of each
//! answer to pass as `after` next time. The server answers **at once** with whatever it has, often an
//! empty list, and the response ends like any other: it has a `Content-Length`, and the connection is
//! free for the next request (HTTP/1.1 keep-alive, RFC 9112 §9.3).
//!
//! ```text
//! GET /poll/chat?after=1041 HTTP/1.1
//! Host: 127.0.0.1:8080
//!
//! HTTP/1.1 200 OK
//! Content-Type: application/json
//! Cache-Control: no-store
//! Content-Length: 77
//!
//! {"messages":[{"id":1042,"data":"hi"},{"id":1043,"data":"there"}],"last":1043}
//! ```
//!
//! # Framing and end of response
//!
//! One whole JSON document per response ([`crate::transport::json::batch_body`]); the response ends
//! when its `Content-Length` bytes are sent. A batch is capped (`max_batch_messages`): a client that got
//! a full batch asks again at once. A client whose `after` the log no longer reaches gets
//! `"reset":true` and the oldest kept messages.
//!
//! # Strengths and weaknesses
//!
//! It works through every proxy and in every browser ever made, and the server holds nothing between
//! requests. But latency is half the polling interval on average, and most requests carry nothing: the
//! cost is paid in headers, round trips and wake-ups whether or not anything happens.
//!
//! # Pitfalls
//!
//! - Caches: a cached poll answer hides new messages. `Cache-Control: no-store` says never store it.
//! - Always pass `after`: without it the server answers "from now", and a poll without `after` can
//!   only see messages published while it is in flight, which is none.

use crate::http::Response;
use crate::hub::Replay;
use crate::transport::json::batch_body;

/// The `Content-Type` of every poll, long-poll and batch answer.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// The answer to `GET /poll/{topic}?after=N`: `200`, the batch as JSON, never cached.
// ANCHOR: response
pub fn response(replay: &Replay) -> Response {
    Response {
        status: 200,
        headers: vec![
            ("Content-Type".into(), JSON_CONTENT_TYPE.into()),
            // RFC 9111 §5.2.2.5: no-store forbids any cache from keeping the answer.
            ("Cache-Control".into(), "no-store".into()),
        ],
        body: batch_body(replay).into_bytes(),
        chunked: false,
    }
}
// ANCHOR_END: response

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Message;
    use crate::json::message_json;
    use std::rc::Rc;

    fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
        response
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn answers_json_at_once() {
        let message = Rc::new(Message {
            id: 3,
            data: "<x>".into(),
            json: message_json(3, "<x>"),
        });
        let response = response(&Replay {
            reset: false,
            messages: vec![message],
            last: 3,
        });
        assert_eq!(response.status, 200);
        assert!(!response.chunked);
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        assert_eq!(header(&response, "cache-control"), Some("no-store"));
        assert_eq!(
            response.body,
            br#"{"messages":[{"id":3,"data":"\u003cx\u003e"}],"last":3}"#
        );
    }

    #[test]
    fn empty_answer_carries_the_head() {
        let response = response(&Replay {
            reset: false,
            messages: vec![],
            last: 77,
        });
        assert_eq!(response.body, br#"{"messages":[],"last":77}"#);
    }
}
