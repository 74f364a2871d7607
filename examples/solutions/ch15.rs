//! Chapter 15, the server core: model answers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

/// Exercise 15.1: deadlines that move for free. Each connection has at most one deadline; moving it
/// pushes a new entry and leaves the old one in the heap, where it is recognised as stale (it no
/// longer matches the connection's current deadline) and skipped when it comes up. A long poll whose
/// hold is replaced by a heartbeat, or an idle timeout pushed back by every read, costs one push.
#[derive(Default)]
pub struct LazyDeadlines {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    current: HashMap<usize, Instant>,
}

impl LazyDeadlines {
    /// Sets (or moves) `connection`'s deadline to `when`.
    pub fn set(&mut self, connection: usize, when: Instant) {
        self.current.insert(connection, when);
        self.heap.push(Reverse((when, connection)));
    }

    /// Forgets `connection`'s deadline (it closed, or has nothing to wait for).
    pub fn clear(&mut self, connection: usize) {
        self.current.remove(&connection);
    }

    /// The earliest live deadline, dropping stale entries from the top of the heap on the way.
    pub fn next(&mut self) -> Option<Instant> {
        while let Some(Reverse((when, connection))) = self.heap.peek().copied() {
            if self.current.get(&connection) == Some(&when) {
                return Some(when);
            }
            self.heap.pop();
        }
        None
    }

    /// The connections whose deadline has come at `now`, earliest first; their deadlines are cleared.
    pub fn expired(&mut self, now: Instant) -> Vec<usize> {
        let mut due = Vec::new();
        while let Some(when) = self.next() {
            if when > now {
                break;
            }
            if let Some(Reverse((_, connection))) = self.heap.pop() {
                self.current.remove(&connection);
                due.push(connection);
            }
        }
        due
    }
}

/// Exercise 15.2: one connection's output budget, the single choke point every queued byte passes.
/// A message is queued only if it fits whole (so its cursor can wait in the log instead), or if nothing
/// at all waits (so a message larger than the budget still goes, alone); any other piece (an answer, a
/// heartbeat, a prelude) only needs the queue to be below the budget.
pub struct OutputBudget {
    /// The most bytes that may wait for the socket.
    pub limit: usize,
    /// The bytes waiting now.
    pub pending: usize,
}

impl OutputBudget {
    /// Queues a message of `len` bytes if it fits whole or goes alone; returns whether it was queued.
    pub fn try_message(&mut self, len: usize) -> bool {
        let fits = self.pending == 0 || self.pending.saturating_add(len) <= self.limit;
        if fits {
            self.pending += len;
        }
        fits
    }

    /// Queues another piece if the queue is below the budget; returns whether it was queued.
    pub fn try_control(&mut self, len: usize) -> bool {
        let room = self.pending < self.limit;
        if room {
            self.pending += len;
        }
        room
    }

    /// The socket took `written` bytes.
    pub fn drained(&mut self, written: usize) {
        self.pending = self.pending.saturating_sub(written);
    }
}
