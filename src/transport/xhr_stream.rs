//! XHR streaming: one request, one never-ending response, one JSON line per message.
//!
//! # How it works
//!
//! The page opens one `XMLHttpRequest` (or `fetch`) and never lets it finish. The server answers with
//! `Transfer-Encoding: chunked` (RFC 9112 §7.1) and no length, so the response can go on as long as it
//! likes, and sends each message as one chunk holding one JSON line. The browser exposes the growing
//! body as it arrives (`xhr.onprogress` with `responseText`, or a `fetch` body reader); the page keeps
//! an offset, cuts complete lines and parses each.
//!
//! ```text
//! GET /stream/chat?after=1043 HTTP/1.1
//! Host: 127.0.0.1:8080
//!
//! HTTP/1.1 200 OK
//! Content-Type: application/x-ndjson
//! Cache-Control: no-store
//! X-Accel-Buffering: no
//! Transfer-Encoding: chunked
//!
//! 80F\r\n{"padding":"                 ... 2 KiB of spaces ...   "}\n\r\n
//! 1A\r\n{"id":1044,"data":"news"}\n\r\n
//! 13\r\n{"heartbeat":true}\n\r\n         <- after 15 s of silence
//! 1A\r\n{"id":1045,"data":"more"}\n\r\n
//! 0\r\n\r\n                                <- only after max_stream_bytes; the client reconnects
//! ```
//!
//! # Framing and end of response
//!
//! Newline-delimited JSON: each line is one object. A line with an `id` is a message,
//! `{"reset":true,"last":N}` says messages were missed, and lines without an `id` (the padding, the
//! heartbeats) carry no message. The escaper never leaves a raw newline inside a line, so a line break
//! always ends an object. Chunk boundaries mean nothing to the client: a line can arrive split over
//! several reads, and the client must buffer until the `\n`.
//!
//! The response ends when it has sent `max_stream_bytes` (SockJS uses 128 KiB): a browser keeps the
//! whole `responseText` in memory, so the server ends the response and the client reconnects at once
//! with `after` = the last id it saw, losing nothing.
//!
//! # Strengths and weaknesses
//!
//! One connection and one request for many messages, with the latency of a write. But it is one-way,
//! the page must do its own line parsing, resume and reconnect, and a proxy that buffers responses
//! (many do, to add a `Content-Length`) delivers nothing until the buffer fills.
//!
//! # Pitfalls
//!
//! - Some browsers deliver the body progressively only after a first block of bytes (older WebKit:
//!   about 1 KiB; some IE versions: 2 KiB): hence the ~2 KiB padding [`StreamFormat::prelude`].
//! - `X-Accel-Buffering: no` asks nginx not to buffer the response; other proxies need their own
//!   switches. Heartbeats make a dead connection visible and keep idle timeouts from firing.
//! - Memory: see `max_stream_bytes` above.
//! - A response head and a prelude prove little: a proxy with a size or time limit may let them through
//!   and cut every response after them. A client that reopens at once whenever a response ends then
//!   loops; `pushlab.js` reopens at once only after a response that delivered a message (a line with an
//!   `id`), and backs off after any other end (tutorial chapter 12).

use crate::hub::Message;
use crate::transport::json::reset_json;
use crate::transport::{SharedFraming, StreamFormat};

/// Bytes of spaces in the prelude's padding line (the whole line is a few bytes more).
pub const PRELUDE_PADDING_BYTES: usize = 2048;

/// The framing of `GET /stream/{topic}`: newline-delimited JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XhrStream;

impl StreamFormat for XhrStream {
    /// Nothing of the request goes into a message's bytes: every subscriber is written the same.
    fn shared_framing(&self) -> Option<SharedFraming> {
        Some(SharedFraming::XhrStream)
    }

    fn content_type(&self) -> &'static str {
        "application/x-ndjson"
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Cache-Control", "no-store".to_string()),
            // nginx: pass each chunk on at once instead of buffering the response.
            ("X-Accel-Buffering", "no".to_string()),
            ("X-Content-Type-Options", "nosniff".to_string()),
        ]
    }

    /// `{"padding":"<2 KiB of spaces>"}\n`: a valid JSON line without `id`, big enough to get past the
    /// browsers that buffer the first block of a response.
    fn prelude(&self, _resume_after: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"padding\":\"");
        out.resize(out.len() + PRELUDE_PADDING_BYTES, b' ');
        out.extend_from_slice(b"\"}\n");
    }

    // ANCHOR: framing
    fn message(&self, message: &Message, out: &mut Vec<u8>) {
        out.extend_from_slice(message.json.as_bytes());
        out.push(b'\n');
    }

    fn reset(&self, last: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(reset_json(last).as_bytes());
        out.push(b'\n');
    }

    fn heartbeat(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"heartbeat\":true}\n");
    }
    // ANCHOR_END: framing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::message_json;

    fn message(id: u64, data: &str) -> Message {
        Message {
            id,
            data: data.into(),
            json: message_json(id, data),
        }
    }

    #[test]
    fn prelude_is_one_padding_line_of_about_2_kib() {
        let mut out = Vec::new();
        XhrStream.prelude(0, &mut out);
        assert!(out.len() >= 2048 && out.len() < 2100, "{}", out.len());
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(out.starts_with(b"{\"padding\":\"   "));
        assert!(out.ends_with(b"   \"}\n"));
        assert!(!String::from_utf8(out).unwrap().contains("\"id\""));
    }

    #[test]
    fn one_line_per_message_even_with_newlines_in_data() {
        let mut out = Vec::new();
        XhrStream.message(&message(1, "a\nb\r\n"), &mut out);
        XhrStream.message(&message(2, "</script>\u{2028}"), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":1,\"data\":\"a\\nb\\r\\n\"}\n{\"id\":2,\"data\":\"\\u003c/script\\u003e\\u2028\"}\n"
        );
    }

    #[test]
    fn reset_and_heartbeat_lines_have_no_id() {
        let mut out = Vec::new();
        XhrStream.reset(10, &mut out);
        XhrStream.heartbeat(&mut out);
        assert_eq!(out, b"{\"reset\":true,\"last\":10}\n{\"heartbeat\":true}\n");
    }

    #[test]
    fn head_fields() {
        assert_eq!(XhrStream.content_type(), "application/x-ndjson");
        let headers = XhrStream.headers();
        assert!(headers.contains(&("Cache-Control", "no-store".to_string())));
        assert!(headers.contains(&("X-Accel-Buffering", "no".to_string())));
    }
}
