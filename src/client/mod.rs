//! Small blocking clients on `std::net` for every technique, used by tests, tutorials and the lab.
//!
//! Each module is the other half of a door in [`crate::transport`], written the simplest way that is
//! still correct, so that a student can read what a browser does for each technique:
//!
//! | door | client | what it does with the bytes |
//! |---|---|---|
//! | short / long polling | [`poll`] | one request, one JSON batch; ask again with `after = last` |
//! | JSONP | [`jsonp`] | strips `/**/F(` and `);`, then reads the batch |
//! | XHR streaming | [`stream`] | buffers the chunked body and cuts it into JSON lines |
//! | iframe streaming | [`iframe`] | finds each `<script>parent.F(...);</script>` and reads the object inside |
//! | Server-Sent Events | [`sse`] | a sans-IO parser with the WHATWG rules, and a client sending `Last-Event-ID` |
//! | WebSocket | [`ws`] | the upgrade handshake, then RFC 6455 frames through [`crate::ws::WsProtocol`] |
//! | SockJS (the lab's peer) | [`sockjs`] | one session over a SockJS transport, its `o`/`h`/`a[..]`/`c[..]` frames unwrapped |
//!
//! Underneath are [`http`], a minimal HTTP/1.1 client (request writing, response heads with
//! `httparse`, `Content-Length` and chunked bodies, held responses read piece by piece), and [`json`], a
//! tiny JSON reader. Every socket has a read timeout, so a test never hangs forever.

pub mod http;
pub mod iframe;
pub mod json;
pub mod jsonp;
pub mod poll;
pub mod sockjs;
pub mod sse;
pub mod stream;
pub mod ws;

use std::io;
use std::net::SocketAddr;

use json::JsonValue;

/// A message as a client receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// Its id.
    pub id: u64,
    /// Its payload.
    pub data: String,
}

/// What a streaming door hands the client, one object at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushEvent {
    /// A message (an object with `id` and `data`).
    Message(ReceivedMessage),
    /// `{"reset":true,"last":N}`: messages were missed; the stream continues with the oldest kept.
    Reset {
        /// The id to resume after.
        last: u64,
    },
    /// `{"heartbeat":true}` or `{}`: the stream is alive, nothing more.
    Heartbeat,
}

impl PushEvent {
    /// Reads one object of a stream: a message if it has `id` and `data`, a reset if `reset` is true, a
    /// heartbeat if it is `{}` or `{"heartbeat":true}`, and nothing otherwise (the prelude's padding).
    pub fn from_json(value: &JsonValue) -> Option<PushEvent> {
        if let (Some(id), Some(data)) = (
            value.get("id").and_then(JsonValue::as_u64),
            value.get("data").and_then(JsonValue::as_str),
        ) {
            return Some(PushEvent::Message(ReceivedMessage {
                id,
                data: data.to_string(),
            }));
        }
        if value.get("reset").and_then(JsonValue::as_bool) == Some(true) {
            return value
                .get("last")
                .and_then(JsonValue::as_u64)
                .map(|last| PushEvent::Reset { last });
        }
        let is_empty_object = *value == JsonValue::Object(Vec::new());
        if is_empty_object || value.get("heartbeat").and_then(JsonValue::as_bool) == Some(true) {
            return Some(PushEvent::Heartbeat);
        }
        None
    }
}

/// Turns a parse failure into the `io::Error` the blocking clients return.
pub(crate) fn invalid_data(error: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error.to_string())
}

/// An `io::Error` for a response whose status is not `200`, carrying status and body.
pub(crate) fn status_error(response: &http::HttpResponse) -> io::Error {
    let body = String::from_utf8_lossy(&response.body);
    io::Error::other(format!("HTTP {}: {}", response.status, body.trim()))
}

/// The path `/{door}/{topic}` with `?after=N` when `after` is given and any `extra` query parameters
/// (values percent-encoded).
pub fn door_path(door: &str, topic: &str, after: Option<u64>, extra: &[(&str, &str)]) -> String {
    let mut path = format!("/{door}/{topic}");
    let mut separator = '?';
    if let Some(after) = after {
        path.push_str(&format!("{separator}after={after}"));
        separator = '&';
    }
    for (name, value) in extra {
        path.push_str(&format!(
            "{separator}{name}={}",
            http::percent_encode(value)
        ));
        separator = '&';
    }
    path
}

/// Publishes `data` to `topic` with `POST /publish/{topic}` and returns the new message's id, read
/// from the answer `{"id":N}`.
pub fn publish(addr: SocketAddr, topic: &str, data: &str) -> io::Result<u64> {
    let response = http::post(addr, &format!("/publish/{topic}"), data.as_bytes())?;
    if response.status != 200 {
        return Err(status_error(&response));
    }
    let value = json::parse(response.text()?).map_err(invalid_data)?;
    value
        .get("id")
        .and_then(JsonValue::as_u64)
        .ok_or_else(|| invalid_data("publish answer without an id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> Option<PushEvent> {
        json::parse(text)
            .ok()
            .as_ref()
            .and_then(PushEvent::from_json)
    }

    #[test]
    fn objects_of_a_stream() {
        assert_eq!(
            event(r#"{"id":3,"data":"x"}"#),
            Some(PushEvent::Message(ReceivedMessage {
                id: 3,
                data: "x".into()
            }))
        );
        assert_eq!(
            event(r#"{"reset":true,"last":9}"#),
            Some(PushEvent::Reset { last: 9 })
        );
        assert_eq!(event(r#"{"heartbeat":true}"#), Some(PushEvent::Heartbeat));
        assert_eq!(event("{}"), Some(PushEvent::Heartbeat));
        assert_eq!(event(r#"{"padding":"   "}"#), None);
        assert_eq!(event(r#"{"id":"3","data":"x"}"#), None);
        assert_eq!(event("[]"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(door_path("poll", "t", None, &[]), "/poll/t");
        assert_eq!(door_path("poll", "t", Some(5), &[]), "/poll/t?after=5");
        assert_eq!(
            door_path("jsonp", "t", Some(0), &[("callback", "a(1)")]),
            "/jsonp/t?after=0&callback=a%281%29"
        );
        assert_eq!(
            door_path("iframe", "t", None, &[("callback", "f")]),
            "/iframe/t?callback=f"
        );
    }
}
