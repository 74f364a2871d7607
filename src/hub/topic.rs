//! One topic: a bounded log of recent messages, its head id and its subscribers.
//!
//! # Theory of operation
//!
//! Ids are handed out one after another: the first message gets `id_base + 1`, the next `id_base + 2`.
//! `head` is the last id handed out (`id_base` while nothing was published). The log keeps the newest
//! messages; when it holds more than `max_messages_per_topic` messages or `max_bytes_per_topic` payload
//! bytes the oldest are dropped. So the kept ids are always one unbroken run `first_kept ..= head`.
//!
//! A reader says "after N". Three cases decide whether it gets a **reset** (it missed something and
//! must be told):
//!
//! ```text
//!        dropped or never seen by this run     kept                    future
//!   ... ──────────────────────────────┤ first_kept ... head ├───────────────────
//!        N < first_kept - 1: reset          N in range: no reset    N > head: reset
//!                                                                   (an id from another run)
//! ```
//!
//! With an empty log the "kept" range is empty and only `N == head` is a clean resume. On a reset the
//! reader gets everything kept, oldest first, and continues from there.

use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;

use super::{Message, Replay, SubscriberId};
use crate::json::message_json;
use crate::server::config::HubLimits;

/// A topic's log and subscribers.
#[derive(Debug)]
pub(super) struct Topic {
    /// Kept messages, oldest first; their ids are consecutive and end at `head`.
    log: VecDeque<Rc<Message>>,
    /// Payload bytes (`data.len()`) of the kept messages.
    log_bytes: usize,
    /// The last id handed out; `id_base` while nothing was published.
    head: u64,
    /// Whether anything was ever published here (a topic without messages or subscribers can go).
    published: bool,
    /// Connection tokens subscribed now (a set: subscribing twice is once).
    subscribers: BTreeSet<SubscriberId>,
}

impl Topic {
    /// An empty topic whose first message will be `id_base + 1`.
    pub(super) fn new(id_base: u64) -> Topic {
        Topic {
            log: VecDeque::new(),
            log_bytes: 0,
            head: id_base,
            published: false,
            subscribers: BTreeSet::new(),
        }
    }

    /// The last id handed out.
    pub(super) fn head(&self) -> u64 {
        self.head
    }

    /// Appends `data` as the next message, then trims the log to the limits.
    pub(super) fn append(&mut self, data: String, limits: &HubLimits) -> Rc<Message> {
        // Ids only grow; u64 starting from a millisecond clock will not reach the end, and saturating
        // keeps a pathological `id_base` from panicking.
        self.head = self.head.saturating_add(1);
        self.published = true;
        let json = message_json(self.head, &data);
        let message = Rc::new(Message {
            id: self.head,
            data,
            json,
        });
        self.log_bytes += message.data.len();
        self.log.push_back(Rc::clone(&message));
        self.trim(limits);
        message
    }

    /// Drops the oldest messages while the log is over either limit. The newest message is always
    /// kept, so a reader arriving just after a publish can still read it (the byte bound is then
    /// exceeded by at most one message, itself bounded by `max_publish_bytes`).
    fn trim(&mut self, limits: &HubLimits) {
        while self.log.len() > 1
            && (self.log.len() > limits.max_messages_per_topic
                || self.log_bytes > limits.max_bytes_per_topic)
        {
            if let Some(oldest) = self.log.pop_front() {
                self.log_bytes -= oldest.data.len();
            }
        }
    }

    /// The messages after `after`, at most `max` of them (see the module docs for when it is a reset).
    pub(super) fn replay(&self, after: Option<u64>, max: usize) -> Replay {
        let Some(after) = after else {
            // "From now": nothing old, resume at the head.
            return Replay {
                reset: false,
                messages: Vec::new(),
                last: self.head,
            };
        };
        let (reset, start_after) = self.resume_point(after);
        // Ids in the log are consecutive, so the first message after `start_after` sits at a computed
        // index; no search needed.
        let first_kept = self.oldest_minus_one().saturating_add(1);
        let skip = usize::try_from(start_after.saturating_add(1).saturating_sub(first_kept))
            .unwrap_or(usize::MAX);
        let messages: Vec<Rc<Message>> = self.log.iter().skip(skip).take(max).cloned().collect();
        let last = match messages.last() {
            Some(message) => message.id,
            // Nothing returned: either nothing is pending (resume at the head) or `max` was 0 (resume
            // exactly where this read started, so nothing is skipped).
            None if skip >= self.log.len() => self.head,
            None => start_after,
        };
        Replay {
            reset,
            messages,
            last,
        }
    }

    /// The id just before the oldest kept message (the head when the log is empty).
    fn oldest_minus_one(&self) -> u64 {
        self.head.saturating_sub(self.log.len() as u64)
    }

    /// Decides whether a reader resuming after `after` missed messages, and after which id it really
    /// resumes: `after` itself, or just before the oldest kept message on a reset.
    fn resume_point(&self, after: u64) -> (bool, u64) {
        let oldest_minus_one = self.oldest_minus_one();
        // Design §3: `after=0` means "everything the log still has"; never a reset.
        if after == 0 {
            return (false, oldest_minus_one);
        }
        // Ids from the future come from another run of the server (or are made up): the reader's
        // position means nothing here, so it is told and starts over from the oldest kept.
        if after > self.head {
            return (true, oldest_minus_one);
        }
        // Messages after `after` were dropped from the log, or were published by an earlier run with
        // a smaller id base: the reader missed them.
        if after < oldest_minus_one {
            return (true, oldest_minus_one);
        }
        (false, after)
    }

    /// Adds a subscriber (idempotent).
    pub(super) fn subscribe(&mut self, subscriber: SubscriberId) {
        self.subscribers.insert(subscriber);
    }

    /// Removes a subscriber (no-op if absent).
    pub(super) fn unsubscribe(&mut self, subscriber: SubscriberId) {
        self.subscribers.remove(&subscriber);
    }

    /// Subscribers now, in token order.
    pub(super) fn subscribers(&self) -> Vec<SubscriberId> {
        self.subscribers.iter().copied().collect()
    }

    /// How many subscribers.
    pub(super) fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    /// True when the topic holds nothing worth keeping: never published to and nobody subscribed.
    /// (A topic that was published to keeps its head, even if its log is empty.)
    pub(super) fn is_disposable(&self) -> bool {
        !self.published && self.subscribers.is_empty()
    }
}
