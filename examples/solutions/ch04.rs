//! Chapter 4, long polling: model answers, including the "build it yourself" track.

use std::io;
use std::net::SocketAddr;

use pushlab::client::poll::{long_poll, LONG_POLL_TIMEOUT};
use pushlab::client::ReceivedMessage;
use pushlab::json::json_string;

/// Track, exercise 4.1: the body of a long-poll answer (the same as a short poll's):
/// `{"messages":[{"id":N,"data":"..."},...],"last":N}`, plus `,"reset":true` before the closing brace
/// when the client missed messages. `data` is a JSON string, escaped.
pub fn batch_body(messages: &[(u64, &str)], last: u64, reset: bool) -> String {
    let objects: Vec<String> = messages
        .iter()
        .map(|(id, data)| format!("{{\"id\":{id},\"data\":{}}}", json_string(data)))
        .collect();
    let reset = if reset { ",\"reset\":true" } else { "" };
    format!(
        "{{\"messages\":[{}],\"last\":{last}{reset}}}",
        objects.join(",")
    )
}

/// Track, exercise 4.2: whether the door answers at once or parks the request: at once when there
/// are messages to give, or when the client must learn that it missed some (a reset), even with none.
pub fn answers_now(message_count: usize, reset: bool) -> bool {
    message_count > 0 || reset
}

/// Exercise 4.3: a long-poll client that collects `want` messages after `after`, re-asking at once
/// after each answer. Returns the messages and how many requests it took.
pub fn collect(
    addr: SocketAddr,
    topic: &str,
    after: u64,
    want: usize,
    max_requests: usize,
) -> io::Result<(Vec<ReceivedMessage>, usize)> {
    let (mut received, mut requests, mut cursor) = (Vec::new(), 0, after);
    while received.len() < want && requests < max_requests {
        let batch = long_poll(addr, topic, Some(cursor), LONG_POLL_TIMEOUT)?;
        requests += 1;
        received.extend(batch.messages);
        cursor = batch.last;
    }
    Ok((received, requests))
}
