//! What every client of the soak adds to, read by the sampler every period and by the final report.
//!
//! Counters are atomics, so a subscriber thread adds to them without waiting for anyone; the two tables
//! of named outcomes (what the server answered each misbehaving client, and what went wrong for a
//! well-behaved one) are behind a mutex, which is taken a few times a second at most.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::doors::Door;

/// Counters of one door's well-behaved subscribers.
#[derive(Default)]
pub struct DoorCounts {
    /// Subscribers on this door.
    pub subscribers: AtomicU64,
    /// Messages received in order, each once.
    pub delivered: AtomicU64,
    /// Messages a subscriber never received (a gap in the numbers, or missing at the end).
    pub lost: AtomicU64,
    /// Messages received again, or out of order.
    pub duplicates: AtomicU64,
    /// Times a held response ended (or a connection failed) and the subscriber opened it again.
    pub reconnects: AtomicU64,
    /// Requests or connections that failed (each is also named in [`Tally::errors`]).
    pub errors: AtomicU64,
}

/// Everything the soak counts.
pub struct Tally {
    /// One entry per door, in the order of [`Door::ALL`].
    pub doors: [DoorCounts; 7],
    /// Messages the publishers had accepted (`200`) so far.
    pub published: AtomicU64,
    /// Payload bytes of those messages.
    pub published_bytes: AtomicU64,
    /// Set when the load must stop: the time is up, or the server died.
    pub stopping: AtomicBool,
    /// What the server did with each kind of misbehaving client, e.g. `slowloris → 408`.
    outcomes: Mutex<BTreeMap<String, u64>>,
    /// What went wrong for well-behaved clients and publishers, e.g. `sse: connection reset`.
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            doors: Default::default(),
            published: AtomicU64::new(0),
            published_bytes: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            outcomes: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    /// The counters of `door`.
    pub fn door(&self, door: Door) -> &DoorCounts {
        let index = Door::ALL.iter().position(|d| *d == door).unwrap_or(0);
        &self.doors[index]
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Records that a misbehaving client of kind `what` saw `answer` (e.g. `"408"`).
    pub fn outcome(&self, what: &str, answer: &str) {
        add_named(&self.outcomes, format!("{what} → {answer}"));
    }

    /// Records an error of a well-behaved client or publisher.
    pub fn error(&self, who: &str, error: impl std::fmt::Display) {
        add_named(&self.errors, format!("{who}: {error}"));
    }

    /// An error of a subscriber on `door`: named, and counted for the door.
    pub fn door_error(&self, door: Door, error: impl std::fmt::Display) {
        self.door(door).errors.fetch_add(1, Ordering::Relaxed);
        self.error(door.name(), error);
    }

    pub fn outcomes(&self) -> BTreeMap<String, u64> {
        self.outcomes.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Totals at this moment, for one row of the sample table.
    pub fn snapshot(&self) -> Totals {
        let sum = |field: fn(&DoorCounts) -> &AtomicU64| -> u64 {
            self.doors
                .iter()
                .map(|d| field(d).load(Ordering::Relaxed))
                .sum()
        };
        Totals {
            published: self.published.load(Ordering::Relaxed),
            delivered: sum(|d| &d.delivered),
            misbehaving: self.outcomes().values().sum(),
            errors: self.errors().values().sum(),
        }
    }
}

/// Totals at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    pub published: u64,
    pub delivered: u64,
    /// Misbehaving clients whose outcome was recorded.
    pub misbehaving: u64,
    /// Errors of well-behaved clients and publishers.
    pub errors: u64,
}

fn add_named(table: &Mutex<BTreeMap<String, u64>>, name: String) {
    if let Ok(mut table) = table.lock() {
        *table.entry(name).or_insert(0) += 1;
    }
}
