//! Server-Sent Events: a streaming response in a format the browser parses for you.
//!
//! # How it works
//!
//! `new EventSource("/sse/chat")` opens one `GET` and reads a `text/event-stream` response that never
//! ends (WHATWG HTML, "Server-sent events"). The body is lines of `field: value`; a blank line ends an
//! event and the browser fires it, with `event.data` and `event.lastEventId`. The browser also does
//! what every other door leaves to the page: when the connection drops it waits `retry` milliseconds and
//! reconnects to the same URL with the header `Last-Event-ID: <the last id it saw>`, so the server can
//! resume exactly there.
//!
//! ```text
//! GET /sse/chat HTTP/1.1
//! Host: 127.0.0.1:8080
//! Accept: text/event-stream
//! Last-Event-ID: 1043
//!
//! HTTP/1.1 200 OK
//! Content-Type: text/event-stream
//! Cache-Control: no-cache
//! X-Accel-Buffering: no
//! Transfer-Encoding: chunked
//!
//! retry: 2000
//! id: 1043
//!
//! id: 1044
//! data: first line
//! data: second line
//!
//! event: heartbeat
//! data:
//!
//! ```
//!
//! (each block above travels in one chunk of the chunked body).
//!
//! # Framing and end of response
//!
//! The prelude names the reconnection delay (`retry:`) and where the stream starts (`id:`, the id it
//! resumes after): no event is dispatched for it, but the browser keeps the id, so a stream that drops
//! before its first message is resumed from where it started, not "from now".
//!
//! Per message: `id: N`, then one `data:` line per line of the payload, then a blank line. The browser
//! joins `data` lines with `\n`, so multi-line text survives. A missed-messages notice is an event of its
//! own type, `event: reset`, with `data: {"reset":true,"last":N}` and `id: N`, so that a reconnect after
//! it resumes from there. The response ends only when either side closes; the browser then reconnects by
//! itself (an HTTP 204 or a non-200 answer stops it for good).
//!
//! # The heartbeat: a named event, not a comment
//!
//! After `heartbeat_interval` without a message the server sends `event: heartbeat` and an empty
//! `data:` line. Many servers send a comment (`: heartbeat`) instead, which keeps proxies from closing
//! an idle stream just as well, but a comment is invisible to JavaScript: `EventSource` drops comment
//! lines while parsing ("Interpreting an event stream"). A page that wants to notice a dead stream
//! (TCP may not report a vanished peer for many minutes) needs a heartbeat it can see, so pushlab's is
//! an event the page listens for with `source.addEventListener("heartbeat", ...)`. Why this shape:
//!
//! - **Named** (`event: heartbeat`): an event without a type is a `message` and would reach `onmessage`,
//!   where every page would have to tell it from real data.
//! - **With a `data:` line**, even an empty one: the browser dispatches an event only if its data
//!   buffer is not empty, and a `data:` field appends its value *and a LF* to it. So `data:` makes the
//!   buffer `"\n"`, the event is dispatched, and the trailing LF is removed: `event.data` is `""`.
//!   Without the `data:` line nothing would be dispatched at all.
//! - **Without an `id:` line**, so the browser's last event id (its resume point) stays the last
//!   message's.
//!
//! # Strengths and weaknesses
//!
//! Reconnection, resume (`Last-Event-ID`) and parsing are built into the browser; it is plain HTTP, so
//! it passes most proxies and works with HTTP/2. It is one-way (upstream stays a `POST`), text only
//! (UTF-8), and over HTTP/1.1 each stream takes one of the browser's ~6 connections per host.
//!
//! # Pitfalls
//!
//! - Injection: a newline inside a value ends the field, and the rest is parsed as new fields. A
//!   payload `"x\ndata: fake\nid: 999"` in one `data:` line would forge an id. Here every payload line
//!   (split on CRLF, CR or LF, the three line ends of the format) gets its own `data:` line. The price:
//!   the browser joins lines with LF, so a CR or CRLF in the payload arrives as LF.
//! - `id:` must not contain LF, CR or NUL (the browser ignores an id with NUL); pushlab's ids are digits.
//! - Buffering proxies: `X-Accel-Buffering: no` for nginx; heartbeats (after ~15 s of silence) keep
//!   idle intermediaries from closing the stream, reveal a dead client to the server, and reveal a
//!   dead stream to the page.
//! - `Cache-Control: no-cache`: a cached event stream would replay stale events.
//! - A browser reconnecting sends `Last-Event-ID` **to the original URL**, which may still carry an old
//!   `?after=N`: the header must win ([`resume_point`]).

use crate::http::response::push_decimal;
use crate::hub::Message;
use crate::transport::json::reset_json;
use crate::transport::{SharedFraming, StreamFormat};

/// The heartbeat event: a type the page listens for, an empty `data:` line so that it is dispatched, and
/// no `id:`, so the resume point stays the last message's.
pub const HEARTBEAT: &[u8] = b"event: heartbeat\ndata:\n\n";

/// The name of [`HEARTBEAT`]'s event type, for clients that listen for it.
pub const HEARTBEAT_EVENT: &str = "heartbeat";

/// The framing of `GET /sse/{topic}`: `text/event-stream`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SseStream {
    /// The reconnection delay to ask the browser for, in milliseconds (`retry:`).
    pub retry_ms: u64,
}

impl StreamFormat for SseStream {
    /// Nothing of the request goes into a message's bytes: every subscriber is written the same.
    fn shared_framing(&self) -> Option<SharedFraming> {
        Some(SharedFraming::Sse)
    }

    fn content_type(&self) -> &'static str {
        // The event stream is always UTF-8; no charset parameter is needed.
        "text/event-stream"
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Cache-Control", "no-cache".to_string()),
            ("X-Accel-Buffering", "no".to_string()),
        ]
    }

    /// `retry: N`, `id: <where the stream starts>` and a blank line. The blank line dispatches no event
    /// (there is no data), but the browser still takes the id as its last event id (WHATWG HTML
    /// §9.2.6, "dispatch the event": the id is set before the empty data is checked). So a stream that
    /// drops before its first message is resumed by the browser with `Last-Event-ID` from where it
    /// started, and a message published during the gap is not lost, even on a topic opened "from now".
    fn prelude(&self, resume_after: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!("retry: {}\nid: {resume_after}\n\n", self.retry_ms).as_bytes(),
        );
    }

    // ANCHOR: message
    fn message(&self, message: &Message, out: &mut Vec<u8>) {
        out.extend_from_slice(b"id: ");
        push_decimal(out, message.id);
        out.push(b'\n');
        push_data_lines(&message.data, out);
        out.push(b'\n');
    }
    // ANCHOR_END: message

    /// `event: reset`, the reset object as data, and `id: N`: the browser's last event id becomes `N`,
    /// so a reconnect after the reset resumes after `N`, not before the gap again.
    fn reset(&self, last: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"event: reset\n");
        push_data_lines(&reset_json(last), out);
        out.extend_from_slice(format!("id: {last}\n\n").as_bytes());
    }

    /// `event: heartbeat` and an empty `data:` line: an event the page can see (see the module docs).
    fn heartbeat(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(HEARTBEAT);
    }

    /// `EventSource` keeps nothing it has dispatched, so the stream can stay open for good.
    fn ends_when_long(&self) -> bool {
        false
    }
}

/// Appends one `data: <line>\n` per line of `payload`, splitting on CRLF, CR or LF: the line ends of
/// the event-stream format, any of which inside a value would end the field and let the payload inject
/// fields. An empty payload is one empty `data:` line, which the browser dispatches as an empty string.
pub fn push_data_lines(payload: &str, out: &mut Vec<u8>) {
    let mut rest = payload;
    loop {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        // `end` is where `find` stopped, or the length: always a character boundary in range.
        let (line, tail) = rest.split_at_checked(end).unwrap_or((rest, ""));
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        rest = if let Some(after_crlf) = tail.strip_prefix("\r\n") {
            after_crlf
        } else if let Some(after_eol) = tail.strip_prefix(['\r', '\n']) {
            after_eol
        } else {
            // No line end left: that was the last line.
            return;
        };
    }
}

/// Where an SSE request resumes: after the id in `Last-Event-ID` if it has a valid one, else after
/// `?after=N`, else (both absent) from now. The header wins because a reconnecting browser sends it to
/// the original URL, whose `after` is stale.
///
/// A header that is not a decimal id (another server's format, garbage) carries no position here and
/// is ignored.
pub fn resume_point(last_event_id_header: Option<&str>, after_param: Option<u64>) -> Option<u64> {
    last_event_id_header
        .and_then(|value| value.trim().parse::<u64>().ok())
        .or(after_param)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::message_json;

    fn framed(data: &str) -> String {
        let mut out = Vec::new();
        SseStream { retry_ms: 2000 }.message(
            &Message {
                id: 7,
                data: data.into(),
                json: message_json(7, data),
            },
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn prelude_sets_the_retry_and_the_resume_point() {
        let mut out = Vec::new();
        SseStream { retry_ms: 1500 }.prelude(41, &mut out);
        assert_eq!(out, b"retry: 1500\nid: 41\n\n");
    }

    #[test]
    fn one_line_message() {
        assert_eq!(framed("hello"), "id: 7\ndata: hello\n\n");
    }

    #[test]
    fn every_payload_line_gets_its_own_data_line() {
        assert_eq!(framed("a\nb"), "id: 7\ndata: a\ndata: b\n\n");
        assert_eq!(framed("a\r\nb\rc"), "id: 7\ndata: a\ndata: b\ndata: c\n\n");
        assert_eq!(framed("a\n"), "id: 7\ndata: a\ndata: \n\n");
        assert_eq!(framed("\r\n\r\n"), "id: 7\ndata: \ndata: \ndata: \n\n");
        assert_eq!(framed(""), "id: 7\ndata: \n\n");
    }

    #[test]
    fn injected_fields_stay_inside_data() {
        let text = framed("x\r\nid: 999\ndata: fake\revent: reset\n\nretry: 1");
        assert_eq!(
            text,
            "id: 7\ndata: x\ndata: id: 999\ndata: data: fake\ndata: event: reset\ndata: \ndata: retry: 1\n\n"
        );
        // Every line but the id line and the final blank line is a data line.
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.first(), Some(&"id: 7"));
        assert!(lines[1..lines.len() - 2]
            .iter()
            .all(|line| line.starts_with("data: ")));
        assert_eq!(text.matches("\n\n").count(), 1, "exactly one event");
    }

    #[test]
    fn reset_is_a_named_event_carrying_its_id() {
        let mut out = Vec::new();
        SseStream { retry_ms: 0 }.reset(41, &mut out);
        assert_eq!(
            out,
            b"event: reset\ndata: {\"reset\":true,\"last\":41}\nid: 41\n\n"
        );
    }

    #[test]
    fn heartbeat_is_a_named_event_with_empty_data_and_no_id() {
        let mut out = Vec::new();
        SseStream { retry_ms: 0 }.heartbeat(&mut out);
        assert_eq!(out, b"event: heartbeat\ndata:\n\n");
        assert_eq!(out, HEARTBEAT);
        assert!(out.starts_with(format!("event: {HEARTBEAT_EVENT}\n").as_bytes()));
    }

    #[test]
    fn head_fields() {
        let sse = SseStream { retry_ms: 0 };
        assert_eq!(sse.content_type(), "text/event-stream");
        assert!(sse
            .headers()
            .contains(&("Cache-Control", "no-cache".to_string())));
        assert!(sse
            .headers()
            .contains(&("X-Accel-Buffering", "no".to_string())));
    }

    #[test]
    fn last_event_id_wins_over_after() {
        assert_eq!(resume_point(Some("12"), Some(3)), Some(12));
        assert_eq!(resume_point(Some(" 12 "), None), Some(12));
        assert_eq!(resume_point(None, Some(3)), Some(3));
        assert_eq!(resume_point(None, None), None);
        assert_eq!(resume_point(Some("0"), Some(5)), Some(0));
        // Not an id of ours: ignored.
        assert_eq!(resume_point(Some("abc"), Some(3)), Some(3));
        assert_eq!(resume_point(Some(""), None), None);
        assert_eq!(resume_point(Some("-1"), Some(2)), Some(2));
    }
}
