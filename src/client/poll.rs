//! Short and long polling clients: one request, one JSON batch.
//!
//! A poll loop is three lines: ask with `after`, handle the messages, ask again with `after = last`.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use pushlab::client::poll;
//! let addr = "127.0.0.1:8080".parse().unwrap();
//! let mut after = Some(0);
//! loop {
//!     let batch = poll::long_poll(addr, "chat", after, poll::LONG_POLL_TIMEOUT)?;
//!     if batch.reset {
//!         println!("missed some messages");
//!     }
//!     for message in &batch.messages {
//!         println!("{}: {}", message.id, message.data);
//!     }
//!     after = Some(batch.last);
//! }
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::http::{self, HttpResponse};
use super::json::{self, JsonValue};
use super::{door_path, invalid_data, status_error, ReceivedMessage};

/// A long poll's request timeout: it must be longer than the server's hold (20 s by default), or the
/// client gives up just before the empty answer would arrive.
pub const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(30);

/// A poll's answer: `{"messages":[...],"last":N}` plus `"reset":true` when messages were missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The messages, oldest first.
    pub messages: Vec<ReceivedMessage>,
    /// The id to pass as `after` next time.
    pub last: u64,
    /// True when the server no longer had everything after the id asked for.
    pub reset: bool,
}

/// Reads a batch body (also the argument of a JSONP callback).
pub fn parse_batch(text: &str) -> io::Result<Batch> {
    let value = json::parse(text).map_err(invalid_data)?;
    let items = value
        .get("messages")
        .and_then(JsonValue::as_array)
        .ok_or_else(|| invalid_data("no messages array"))?;
    let mut messages = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("id")
            .and_then(JsonValue::as_u64)
            .ok_or_else(|| invalid_data("message without id"))?;
        let data = item
            .get("data")
            .and_then(JsonValue::as_str)
            .ok_or_else(|| invalid_data("message without data"))?;
        messages.push(ReceivedMessage {
            id,
            data: data.to_string(),
        });
    }
    let last = value
        .get("last")
        .and_then(JsonValue::as_u64)
        .ok_or_else(|| invalid_data("no last"))?;
    let reset = value
        .get("reset")
        .and_then(JsonValue::as_bool)
        .unwrap_or(false);
    Ok(Batch {
        messages,
        last,
        reset,
    })
}

/// Reads the batch out of a `200` answer.
pub fn batch_from_response(response: &HttpResponse) -> io::Result<Batch> {
    if response.status != 200 {
        return Err(status_error(response));
    }
    parse_batch(response.text()?)
}

/// `GET /poll/{topic}?after=N`: answered at once.
pub fn short_poll(addr: SocketAddr, topic: &str, after: Option<u64>) -> io::Result<Batch> {
    let response = http::get(addr, &door_path("poll", topic, after, &[]))?;
    batch_from_response(&response)
}

/// `GET /longpoll/{topic}?after=N`: answered when a message after N exists, or empty at the server's
/// hold timeout. `timeout` must exceed the hold.
pub fn long_poll(
    addr: SocketAddr,
    topic: &str,
    after: Option<u64>,
    timeout: Duration,
) -> io::Result<Batch> {
    let path = door_path("longpoll", topic, after, &[]);
    let response = http::request(addr, "GET", &path, &[], b"", timeout)?;
    batch_from_response(&response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches() {
        let batch = parse_batch(
            r#"{"messages":[{"id":1,"data":"\u003cb\u003e"},{"id":2,"data":""}],"last":2}"#,
        )
        .unwrap();
        assert_eq!(
            batch.messages,
            vec![
                ReceivedMessage {
                    id: 1,
                    data: "<b>".into()
                },
                ReceivedMessage {
                    id: 2,
                    data: String::new()
                },
            ]
        );
        assert_eq!((batch.last, batch.reset), (2, false));
        let batch = parse_batch(r#"{"messages":[],"last":9,"reset":true}"#).unwrap();
        assert_eq!(
            (batch.messages.len(), batch.last, batch.reset),
            (0, 9, true)
        );
        for bad in [
            "{}",
            r#"{"messages":[],"last":"9"}"#,
            r#"{"messages":[{"id":1}],"last":1}"#,
            "nope",
        ] {
            assert!(parse_batch(bad).is_err(), "{bad}");
        }
    }
}
