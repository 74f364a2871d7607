//! The deadline heap: when each connection next needs attention.
//!
//! Every connection has at most one deadline that matters (its header timeout, its long-poll hold, its
//! next heartbeat, its WebSocket ping...), computed from its state. The heap holds `(when, token, serial)`
//! entries; the event loop's poll timeout is the earliest of them (design rule 8: the clock is read by the
//! loop, never by protocol code).
//!
//! Entries are never removed from the middle of the heap. Instead an entry is checked when it pops: if the
//! connection is gone (`serial` differs) or its deadline moved, the entry is stale and is ignored or
//! re-armed. A deadline that moves *later* (an idle timer pushed back by every request) therefore costs
//! nothing at all: the early entry fires, finds the deadline in the future and re-arms once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// One scheduled wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerEntry {
    /// When it is due.
    pub when: Instant,
    /// The connection's token.
    pub token: usize,
    /// The connection's serial number, so a reused token is not mistaken for the old connection.
    pub serial: u64,
}

/// A min-heap of deadlines.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<TimerEntry>>,
}

impl Timers {
    /// Schedules a wake-up.
    pub fn push(&mut self, entry: TimerEntry) {
        self.heap.push(Reverse(entry));
    }

    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(entry)| entry.when)
    }

    /// Removes and returns the next entry that is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<TimerEntry> {
        match self.heap.peek() {
            Some(Reverse(entry)) if entry.when <= now => {
                self.heap.pop().map(|Reverse(entry)| entry)
            }
            _ => None,
        }
    }

    /// How many entries are scheduled (stale ones included).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The poll timeout for the earliest of `deadlines` seen from `now`: `None` (wait forever) when there is
/// none, zero when one is already due. Rounded up to whole milliseconds so the loop does not spin on a
/// deadline a few microseconds away.
pub fn poll_timeout(
    now: Instant,
    deadlines: impl IntoIterator<Item = Option<Instant>>,
) -> Option<Duration> {
    let earliest = deadlines.into_iter().flatten().min()?;
    let wait = earliest.saturating_duration_since(now);
    let millis = wait.as_nanos().div_ceil(1_000_000);
    Some(Duration::from_millis(
        u64::try_from(millis).unwrap_or(u64::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_pop_in_deadline_order_and_only_when_due() {
        let start = Instant::now();
        let mut timers = Timers::default();
        for (offset_ms, token) in [(30, 3), (10, 1), (20, 2)] {
            timers.push(TimerEntry {
                when: start + Duration::from_millis(offset_ms),
                token,
                serial: 0,
            });
        }
        assert_eq!(
            timers.next_deadline(),
            Some(start + Duration::from_millis(10))
        );
        assert_eq!(timers.pop_due(start), None, "nothing is due yet");
        let due: Vec<usize> =
            std::iter::from_fn(|| timers.pop_due(start + Duration::from_millis(25)))
                .map(|entry| entry.token)
                .collect();
        assert_eq!(due, vec![1, 2]);
        assert_eq!(timers.len(), 1);
    }

    #[test]
    fn poll_timeout_is_the_earliest_deadline_rounded_up() {
        let now = Instant::now();
        let soon = now + Duration::from_micros(1_500);
        let later = now + Duration::from_secs(5);
        assert_eq!(
            poll_timeout(now, [Some(later), None, Some(soon)]),
            Some(Duration::from_millis(2))
        );
        assert_eq!(poll_timeout(now, [None, None]), None);
        assert_eq!(
            poll_timeout(later, [Some(soon)]),
            Some(Duration::ZERO),
            "an overdue deadline"
        );
    }
}
