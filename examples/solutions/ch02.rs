//! Chapter 2, the event loop: model answers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read};
use std::time::{Duration, Instant};

/// Exercise 2.1: reads everything a non-blocking socket has now ("drain readiness"): read until
/// `WouldBlock`, retry on `Interrupted`. Returns the bytes and whether the peer closed (a read of 0).
/// Stopping at the first short read would lose a wake-up: edge-triggered readiness (mio's) is not
/// reported again for bytes that were already there.
pub fn drain(socket: &mut impl Read, input: &mut Vec<u8>) -> io::Result<bool> {
    let mut buf = [0u8; 4096];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => return Ok(true),
            Ok(n) => input.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Exercise 2.2: the deadlines of a loop: a min-heap of (when, which connection). The loop sleeps in
/// `poll` exactly until the earliest one, so it wakes for a timeout without ever polling a clock.
#[derive(Default)]
pub struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Deadlines {
    /// Remembers that `connection` has something to do at `when`.
    pub fn add(&mut self, when: Instant, connection: usize) {
        self.heap.push(Reverse((when, connection)));
    }

    /// The timeout to give `poll`: zero if a deadline has passed, `None` (wait for I/O only) if
    /// there is none.
    pub fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        self.heap
            .peek()
            .map(|Reverse((when, _))| when.saturating_duration_since(now))
    }

    /// Removes and returns the connections whose deadline is at or before `now`, earliest first.
    pub fn expired(&mut self, now: Instant) -> Vec<usize> {
        let mut due = Vec::new();
        while let Some(Reverse((when, connection))) = self.heap.peek().copied() {
            if when > now {
                break;
            }
            self.heap.pop();
            due.push(connection);
        }
        due
    }
}
