//! One topic: a bounded log of recent messages, its head id, its subscribers and when it was last used.
//!
//! # Theory of operation
//!
//! Ids are handed out one after another: the first message gets `id_base + 1`, the next `id_base + 2`.
//! `head` is the last id handed out (`id_base` while nothing was published). The log keeps the newest
//! messages; when it holds more than `max_messages_per_topic` messages or more than
//! `max_bytes_per_topic` bytes (as [`Message::stored_bytes`] counts them) the oldest are dropped. So
//! the kept ids are always one unbroken run `first_kept ..= head`.
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
//!
//! # What a read costs
//!
//! Because the kept ids are consecutive, the message after N sits at index `N + 1 - first_kept`: a
//! read computes that index and takes `VecDeque::range(index..)`, which starts there in O(1). A read
//! therefore costs O(messages returned), however long the log is. This matters because the server
//! reads every subscriber's next messages with a cursor each time a message arrives: 1,000 subscribers
//! on a 10,000-message log are 1,000 small reads per publish, not 10,000,000 steps.
//!
//! # When it was last used
//!
//! Every publish, subscribe, read and unsubscribe stamps the topic with `now` and with a hub-wide use
//! counter. The hub evicts a topic without subscribers whose stamp is older than the idle timeout, and,
//! when the table is full, the one with the smallest counter (the least recently used).
// A reader's `after` comes from the wire (`?after=N`, `Last-Event-ID`): arithmetic on ids is
// checked or saturating, never a wrap or a panic ("No panic from the network" in the crate docs).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{HubLimits, Message, Replay, SubscriberId};
use crate::json::message_json;

/// A topic's log and subscribers.
#[derive(Debug)]
pub(super) struct Topic {
    /// Kept messages, oldest first; their ids are consecutive and end at `head`.
    log: VecDeque<Rc<Message>>,
    /// Sum of [`Message::stored_bytes`] over the kept messages.
    log_bytes: usize,
    /// The last id handed out; `id_base` while nothing was published.
    head: u64,
    /// Whether anything was ever published here (a topic without messages or subscribers can go).
    published: bool,
    /// Set by [`Topic::rebase`] on a topic that never had a message: a reader resuming after the old
    /// head (`.0`) missed nothing, and resumes after `.1` instead of being told it missed something.
    alias: Option<(u64, u64)>,
    /// Subscriptions now (a set: subscribing twice is once). Ordered, so subscribers are handed a
    /// message in the order they subscribed (the server numbers subscriptions increasingly).
    subscribers: BTreeSet<SubscriberId>,
    /// When the topic was last published to, subscribed to, read or unsubscribed from.
    last_used_at: Instant,
    /// The hub's use counter at that moment: a smaller number was used less recently (exact even when
    /// two uses share one `Instant`).
    last_use_number: u64,
}

impl Topic {
    /// An empty topic whose first message will be `id_base + 1`, used first at `now`.
    pub(super) fn new(id_base: u64, now: Instant, use_number: u64) -> Topic {
        Topic {
            log: VecDeque::new(),
            log_bytes: 0,
            head: id_base,
            published: false,
            alias: None,
            subscribers: BTreeSet::new(),
            last_used_at: now,
            last_use_number: use_number,
        }
    }

    /// Records a use at `now`; `use_number` is the hub's counter, larger than any before.
    pub(super) fn touch(&mut self, now: Instant, use_number: u64) {
        self.last_used_at = now;
        self.last_use_number = use_number;
    }

    /// When the topic was last used.
    pub(super) fn last_used_at(&self) -> Instant {
        self.last_used_at
    }

    /// The hub's use counter at the last use (smaller: used less recently).
    pub(super) fn last_use_number(&self) -> u64 {
        self.last_use_number
    }

    /// When this topic may be evicted for idleness: `idle_timeout` after its last use, or never while
    /// it has subscribers. (`None` also if the sum passes what an `Instant` can hold.)
    pub(super) fn evictable_at(&self, idle_timeout: Duration) -> Option<Instant> {
        if self.has_subscribers() {
            return None;
        }
        self.last_used_at.checked_add(idle_timeout)
    }

    /// Bytes the kept messages count against `max_bytes_per_topic`.
    pub(super) fn stored_bytes(&self) -> usize {
        self.log_bytes
    }

    /// The last id handed out.
    pub(super) fn head(&self) -> u64 {
        self.head
    }

    /// Appends `data` as the next message, then trims the log to the limits.
    pub(super) fn append(&mut self, data: String, limits: &HubLimits) -> Rc<Message> {
        // Ids only grow; u64 starting from a millisecond clock will not reach the end, and saturating
        // keeps a pathological `id_base` from panicking.
        let id = self.head.saturating_add(1);
        self.push(id, data, limits)
    }

    /// Appends `data` with the id another process gave it (the Redis backend). Only the id right after
    /// the head fits; `None` otherwise, and nothing changes.
    pub(super) fn append_at(
        &mut self,
        id: u64,
        data: String,
        limits: &HubLimits,
    ) -> Option<Rc<Message>> {
        (Some(id) == self.head.checked_add(1)).then(|| self.push(id, data, limits))
    }

    /// Forgets the log and makes `head_before` the head, so that the next message appended is
    /// `head_before + 1` (the Redis backend, when the shared log's ids jump). Readers of a topic that
    /// had messages get a reset, as for any gap. On a topic that never had a message, the subscribers
    /// waiting now sit at the old head and missed nothing: until the last of them leaves, a reader at
    /// the old head resumes after `alias_after`. (Only while they wait: the old head is this process's
    /// own number, which may also be an id of the shared log.)
    pub(super) fn rebase(&mut self, head_before: u64, alias_after: u64) {
        if !self.published && self.has_subscribers() {
            self.alias = Some((self.head, alias_after));
        }
        self.log.clear();
        self.log_bytes = 0;
        self.head = head_before;
    }

    /// Makes message `id` the new head.
    fn push(&mut self, id: u64, data: String, limits: &HubLimits) -> Rc<Message> {
        self.head = id;
        self.published = true;
        let json = message_json(self.head, &data);
        let message = Rc::new(Message::new(self.head, data, json));
        self.log_bytes = self.log_bytes.saturating_add(message.stored_bytes());
        self.log.push_back(Rc::clone(&message));
        self.trim(limits);
        message
    }

    /// Drops the oldest messages while the log is over either limit. The newest message is always
    /// kept, so a reader arriving just after a publish can still read it (the byte bound is then
    /// exceeded by at most that one message, whose payload is bounded by `max_publish_bytes`).
    fn trim(&mut self, limits: &HubLimits) {
        while self.log.len() > 1
            && (self.log.len() > limits.max_messages_per_topic
                || self.log_bytes > limits.max_bytes_per_topic)
        {
            if let Some(oldest) = self.log.pop_front() {
                self.log_bytes = self.log_bytes.saturating_sub(oldest.stored_bytes());
            }
        }
    }

    /// The messages after `after`, at most `max` of them (see the module docs for when it is a reset).
    pub(super) fn replay(&self, after: Option<u64>, max: usize) -> Replay {
        self.replay_into(after, max, Vec::new())
    }

    /// [`Topic::replay`] into `messages` (cleared first): a reader that reads again and again lends
    /// the same storage each time instead of allocating it per read.
    pub(super) fn replay_into(
        &self,
        after: Option<u64>,
        max: usize,
        mut messages: Vec<Rc<Message>>,
    ) -> Replay {
        messages.clear();
        let Some(after) = after else {
            // "From now": nothing old, resume at the head.
            return Replay {
                reset: false,
                messages,
                last: self.head,
            };
        };
        let (reset, start_after) = self.resume_point(after);
        // Ids in the log are consecutive, so the first message after `start_after` sits at a computed
        // index, and `range` starts there directly: the read costs what it returns (module docs).
        let first_kept = self.oldest_minus_one().saturating_add(1);
        let start = usize::try_from(start_after.saturating_add(1).saturating_sub(first_kept))
            .unwrap_or(usize::MAX)
            .min(self.log.len());
        messages.extend(self.log.range(start..).take(max).cloned());
        let last = match messages.last() {
            Some(message) => message.id,
            // Nothing returned: either nothing is pending (resume at the head) or `max` was 0 (resume
            // exactly where this read started, so nothing is skipped).
            None if start == self.log.len() => self.head,
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
        let after = match self.alias {
            Some((old_head, resume_after)) if after == old_head => resume_after,
            _ => after,
        };
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

    /// Whether a reader resuming after `after` reads on from exactly there: no reset, and no alias
    /// moving it elsewhere.
    pub(super) fn resumes_exactly_after(&self, after: u64) -> bool {
        self.resume_point(after) == (false, after)
    }

    /// Adds a subscriber (idempotent).
    pub(super) fn subscribe(&mut self, subscriber: SubscriberId) {
        self.subscribers.insert(subscriber);
    }

    /// Removes a subscriber (no-op if absent).
    pub(super) fn unsubscribe(&mut self, subscriber: SubscriberId) {
        self.subscribers.remove(&subscriber);
        if self.subscribers.is_empty() {
            self.alias = None;
        }
    }

    /// Subscribers now, in subscription-number order.
    pub(super) fn subscribers(&self) -> Vec<SubscriberId> {
        self.subscribers.iter().copied().collect()
    }

    /// How many subscribers.
    pub(super) fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    /// Whether anyone is subscribed (a topic with subscribers is never evicted).
    pub(super) fn has_subscribers(&self) -> bool {
        !self.subscribers.is_empty()
    }

    /// True when the topic holds nothing worth keeping: never published to and nobody subscribed.
    /// (A topic that was published to keeps its head, even if its log is empty.)
    pub(super) fn is_disposable(&self) -> bool {
        !self.published && !self.has_subscribers()
    }
}
