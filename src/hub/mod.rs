//! The message hub: topics, each an ordered log of messages with increasing ids, and their subscribers.
//!
//! The hub knows nothing of HTTP or WebSocket. It lives inside the event loop (one thread), so
//! "subscribe and replay in one step" is simply one method call: no message can slip in between.

use std::rc::Rc;

use crate::server::config::HubLimits;

/// Who is subscribed: the event loop's connection token.
pub type SubscriberId = usize;

/// One published message.
#[derive(Debug, PartialEq, Eq)]
pub struct Message {
    /// Its id, increasing per topic.
    pub id: u64,
    /// The payload as published.
    pub data: String,
    /// `{"id":N,"data":"..."}`, computed once at publish time, escaped so it is also safe inside an HTML
    /// `<script>` (`<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`).
    pub json: String,
}

/// What a reader gets back: the messages after the id it asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct Replay {
    /// True when the log no longer reaches back to the id asked for: the reader missed messages.
    pub reset: bool,
    /// The messages, oldest first.
    pub messages: Vec<Rc<Message>>,
    /// The id to resume after next time: the last message's id, or the topic's head when empty.
    pub last: u64,
}

/// The result of a publish.
#[derive(Debug, PartialEq, Eq)]
pub struct Published {
    /// The new message.
    pub message: Rc<Message>,
    /// Everyone subscribed to the topic, to be handed the message.
    pub subscribers: Vec<SubscriberId>,
}

/// A request the hub refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubError {
    /// The topic name is not `[A-Za-z0-9_-]{1,64}` (HTTP 400).
    BadTopic,
    /// The message is larger than `max_publish_bytes` (HTTP 413).
    TooLarge,
    /// Creating the topic would pass `max_topics` (HTTP 503).
    TooManyTopics,
}

impl HubError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        todo!()
    }
}

impl std::fmt::Display for HubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f;
        todo!()
    }
}

/// All topics.
#[derive(Debug)]
pub struct Hub {
    _limits: HubLimits,
}

impl Hub {
    /// An empty hub. Every topic's ids start after `id_base` (the server passes its start time in
    /// milliseconds, so ids never repeat across a restart).
    pub fn new(limits: HubLimits, id_base: u64) -> Hub {
        let _ = id_base;
        Hub { _limits: limits }
    }
    /// Whether `name` is a valid topic name.
    pub fn valid_topic(name: &str) -> bool {
        let _ = name;
        todo!()
    }
    /// Appends a message to `topic` (created if new) and returns it with the topic's subscribers.
    pub fn publish(&mut self, topic: &str, data: String) -> Result<Published, HubError> {
        let _ = (topic, data);
        todo!()
    }
    /// The messages after `after` (at most `max`; `None` means "from now": none). Creates nothing.
    pub fn read(&self, topic: &str, after: Option<u64>, max: usize) -> Result<Replay, HubError> {
        let _ = (topic, after, max);
        todo!()
    }
    /// Subscribes `subscriber` to `topic` (created if new) and returns, in the same step, every kept
    /// message after `after`.
    pub fn subscribe(
        &mut self,
        topic: &str,
        subscriber: SubscriberId,
        after: Option<u64>,
    ) -> Result<Replay, HubError> {
        let _ = (topic, subscriber, after);
        todo!()
    }
    /// Removes `subscriber` from `topic` (no-op if absent).
    pub fn unsubscribe(&mut self, topic: &str, subscriber: SubscriberId) {
        let _ = (topic, subscriber);
        todo!()
    }
    /// Subscribers of `topic` now.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        let _ = topic;
        todo!()
    }
    /// Subscribers over all topics.
    pub fn total_subscribers(&self) -> usize {
        todo!()
    }
}
