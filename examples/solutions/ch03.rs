//! Chapter 3, short polling: model answers.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pushlab::client::poll::short_poll;
use pushlab::client::ReceivedMessage;

/// Exercise 3.1: a short-poll client. Polls `topic` every `interval`, always asking for what follows
/// the cursor (`last` of the previous answer), until `want` messages have come or `max_requests` were
/// made. Returns the messages and the number of requests.
pub fn collect(
    addr: SocketAddr,
    topic: &str,
    after: u64,
    want: usize,
    interval: Duration,
    max_requests: usize,
) -> io::Result<(Vec<ReceivedMessage>, usize)> {
    let (mut received, mut requests, mut cursor) = (Vec::new(), 0, after);
    while received.len() < want && requests < max_requests {
        if requests > 0 {
            std::thread::sleep(interval);
        }
        let batch = short_poll(addr, topic, Some(cursor))?;
        requests += 1;
        received.extend(batch.messages);
        cursor = batch.last;
    }
    Ok((received, requests))
}

/// Exercise 3.2: how many polls a client makes until it has seen every message, if it polls at
/// 0, `interval_ms`, 2 × `interval_ms`, ... and message `i` is published at `publish_ms[i]`. A poll
/// at the very moment of a publish sees the message. No message, no poll needed: 0.
pub fn polls_needed(publish_ms: &[u64], interval_ms: u64) -> u64 {
    match publish_ms.iter().max() {
        None => 0,
        Some(&last) => last.div_ceil(interval_ms.max(1)) + 1,
    }
}
