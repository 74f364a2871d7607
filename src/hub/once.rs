//! Publishing once: the idempotency keys the in-memory hub remembers (see "Publishing once" in the
//! hub's module docs).
//!
//! # Theory of operation
//!
//! A client that sent `POST /publish/{topic}` and lost the connection before the answer cannot tell
//! whether the message was stored. Retrying may store it twice; not retrying may lose it. With an
//! `Idempotency-Key` header (an IETF HTTPAPI draft, "The Idempotency-Key HTTP Header Field") the retry
//! is safe: the server remembers, per topic and key, the id it gave and a fingerprint of the message
//! (its SHA-1), and answers a retry with that id instead of storing the message again.
//!
//! - Same key, same message: the first id, nothing stored.
//! - Same key, another message: refused (HTTP 422, as the draft advises), since the client broke the
//!   rule that a key names one request.
//! - A key is remembered for `HubLimits::publish_key_ttl`; after that, and for the oldest keys when
//!   more than `HubLimits::max_publish_keys` are remembered, a retry publishes again.
//!
//! Keys are kept in arrival order, so the expired and the oldest are found at the front of a queue:
//! each publish costs O(1) amortised, never a scan.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

/// The SHA-1 of a message: what a retry must match.
pub(super) type Fingerprint = [u8; 20];

/// The fingerprint of `data`.
pub(super) fn fingerprint(data: &str) -> Fingerprint {
    Sha1::digest(data.as_bytes()).into()
}

/// What is remembered of a keyed publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remembered {
    id: u64,
    fingerprint: Fingerprint,
    /// When it was stored (the queue's order).
    at: Instant,
}

/// What a key says about a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// Not seen (or forgotten): publish it.
    New,
    /// Seen with the same message: this is its id.
    Same(u64),
    /// Seen with another message.
    Other,
}

/// The keys of recent keyed publishes, per topic, bounded in time and in number.
#[derive(Debug, Default)]
pub(super) struct OnceKeys {
    remembered: HashMap<(String, String), Remembered>,
    /// The same keys, oldest first.
    order: VecDeque<(String, String)>,
}

impl OnceKeys {
    /// What `key` on `topic` says about a publish of a message with `fingerprint` at `now`; keys
    /// older than `ttl` are forgotten first.
    pub(super) fn check(
        &mut self,
        topic: &str,
        key: &str,
        fingerprint: &Fingerprint,
        ttl: Duration,
        now: Instant,
    ) -> Seen {
        self.forget_expired(ttl, now);
        match self.remembered.get(&(topic.to_string(), key.to_string())) {
            None => Seen::New,
            Some(seen) if seen.fingerprint == *fingerprint => Seen::Same(seen.id),
            Some(_) => Seen::Other,
        }
    }

    /// Remembers that `key` on `topic` published the message with `fingerprint` as `id`; forgets
    /// the oldest keys past `max_keys`.
    pub(super) fn remember(
        &mut self,
        topic: &str,
        key: &str,
        id: u64,
        fingerprint: Fingerprint,
        max_keys: usize,
        now: Instant,
    ) {
        let name = (topic.to_string(), key.to_string());
        let remembered = Remembered {
            id,
            fingerprint,
            at: now,
        };
        if self.remembered.insert(name.clone(), remembered).is_none() {
            self.order.push_back(name);
        }
        while self.remembered.len() > max_keys {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.remembered.remove(&oldest);
        }
    }

    /// How many keys are remembered.
    pub(super) fn len(&self) -> usize {
        self.remembered.len()
    }

    fn forget_expired(&mut self, ttl: Duration, now: Instant) {
        while let Some(oldest) = self.order.front() {
            let expired = self
                .remembered
                .get(oldest)
                .is_none_or(|seen| now.saturating_duration_since(seen.at) >= ttl);
            if !expired {
                return;
            }
            if let Some(name) = self.order.pop_front() {
                self.remembered.remove(&name);
            }
        }
    }
}
