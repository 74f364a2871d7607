//! The message hub: topics, each an ordered log of messages with increasing ids, and their subscribers.
//!
//! The hub knows nothing of HTTP or WebSocket. It lives inside the event loop (one thread), so
//! "subscribe and replay in one step" is simply one method call: no message can slip in between.
//!
//! # The contract every door relies on (design §2–§3)
//!
//! - A topic name is `[A-Za-z0-9_-]{1,64}`.
//! - Ids increase by one per topic, starting after `id_base`. The server passes its start time in
//!   milliseconds as `id_base`, so a restarted server hands out ids larger than any from the earlier
//!   run, and a client resuming with an old id sees a gap (a reset) instead of silently missing messages
//!   (Centrifugo pairs offsets with an epoch for the same reason).
//! - Each topic keeps a bounded log of recent messages, bounded by count and by payload bytes; the
//!   oldest go first.
//! - A reader asks for the messages "after N" ([`Hub::read`], [`Hub::subscribe`]):
//!   - `after = None` means "from now": no old messages, resume at the head;
//!   - `after = Some(0)` means "everything the log still has", never a reset;
//!   - `after = Some(n)` returns what follows `n`, or, when the log no longer reaches back to `n` or `n`
//!     is from another run, a [`Replay`] with `reset: true` and everything kept, oldest first.
//! - [`Replay::last`] is the id to ask "after" next time.
//!
//! ```
//! use pushlab::hub::Hub;
//! use pushlab::server::config::HubLimits;
//!
//! let mut hub = Hub::new(HubLimits::default(), 1000);
//! let first = hub.publish("chat", "hello".to_string()).unwrap();
//! assert_eq!(first.message.id, 1001);
//! assert_eq!(first.message.json, r#"{"id":1001,"data":"hello"}"#);
//!
//! // A subscriber that saw nothing yet: replay and subscription in one step.
//! let replay = hub.subscribe("chat", 7, Some(0)).unwrap();
//! assert_eq!((replay.messages.len(), replay.last, replay.reset), (1, 1001, false));
//! assert_eq!(hub.publish("chat", "again".to_string()).unwrap().subscribers, vec![7]);
//! ```

mod topic;

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use topic::Topic;

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
    /// `<script>` (`<`, `>`, `&`, U+2028, U+2029 as `\uHHHH`).
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
    /// The HTTP status for this error (design rule 5: the error knows what goes on the wire).
    pub fn status(&self) -> u16 {
        match self {
            HubError::BadTopic => 400,
            HubError::TooLarge => 413,
            HubError::TooManyTopics => 503,
        }
    }
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::BadTopic => {
                f.write_str("topic names are 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'")
            }
            HubError::TooLarge => f.write_str("the message is larger than the server accepts"),
            HubError::TooManyTopics => f.write_str("the server has as many topics as it may hold"),
        }
    }
}

impl std::error::Error for HubError {}

/// The longest topic name, in bytes.
pub const MAX_TOPIC_NAME_BYTES: usize = 64;

/// All topics.
#[derive(Debug)]
pub struct Hub {
    /// Retention and size limits.
    limits: HubLimits,
    /// Every topic's ids start after this.
    id_base: u64,
    /// Topics by name.
    topics: HashMap<String, Topic>,
}

impl Hub {
    /// An empty hub. Every topic's ids start after `id_base` (the server passes its start time in
    /// milliseconds, so ids never repeat across a restart).
    pub fn new(limits: HubLimits, id_base: u64) -> Hub {
        Hub {
            limits,
            id_base,
            topics: HashMap::new(),
        }
    }

    /// Whether `name` is a valid topic name: `[A-Za-z0-9_-]{1,64}` (design §3). The alphabet needs no
    /// percent-encoding in a URL path and no escaping anywhere else.
    pub fn valid_topic(name: &str) -> bool {
        (1..=MAX_TOPIC_NAME_BYTES).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    /// Appends a message to `topic` (created if new) and returns it with the topic's subscribers.
    pub fn publish(&mut self, topic: &str, data: String) -> Result<Published, HubError> {
        Self::check_topic(topic)?;
        if data.len() > self.limits.max_publish_bytes {
            return Err(HubError::TooLarge);
        }
        let limits = self.limits.clone();
        let entry = self.topic_mut(topic)?;
        let message = entry.append(data, &limits);
        Ok(Published {
            message,
            subscribers: entry.subscribers(),
        })
    }

    /// The messages after `after` (at most `max`; `None` means "from now": none). Creates nothing.
    ///
    /// When `max` cuts the list short, `last` is the id of the last message returned, so asking again
    /// after `last` continues without a gap.
    pub fn read(&self, topic: &str, after: Option<u64>, max: usize) -> Result<Replay, HubError> {
        Self::check_topic(topic)?;
        match self.topics.get(topic) {
            Some(entry) => Ok(entry.replay(after, max)),
            // A topic nobody created reads like an empty one: same answer, nothing allocated.
            None => Ok(Topic::new(self.id_base).replay(after, max)),
        }
    }

    /// Subscribes `subscriber` to `topic` (created if new) and returns, in the same step, every kept
    /// message after `after`.
    ///
    /// Nothing is capped here: a subscriber's connection takes the whole replay (its own output bound
    /// then decides whether it can keep up).
    pub fn subscribe(
        &mut self,
        topic: &str,
        subscriber: SubscriberId,
        after: Option<u64>,
    ) -> Result<Replay, HubError> {
        Self::check_topic(topic)?;
        let entry = self.topic_mut(topic)?;
        entry.subscribe(subscriber);
        Ok(entry.replay(after, usize::MAX))
    }

    /// Removes `subscriber` from `topic` (no-op if absent).
    ///
    /// A topic that was only ever subscribed to (never published to) goes away with its last
    /// subscriber, so visitors of random topic names cannot use up `max_topics`. A topic that has
    /// messages stays, with its head, even when nobody listens.
    pub fn unsubscribe(&mut self, topic: &str, subscriber: SubscriberId) {
        if let Some(entry) = self.topics.get_mut(topic) {
            entry.unsubscribe(subscriber);
            if entry.is_disposable() {
                self.topics.remove(topic);
            }
        }
    }

    /// Subscribers of `topic` now.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.topics.get(topic).map_or(0, Topic::subscriber_count)
    }

    /// Subscribers over all topics.
    pub fn total_subscribers(&self) -> usize {
        self.topics.values().map(Topic::subscriber_count).sum()
    }

    /// How many topics exist now.
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// The last id handed out on `topic` (`id_base` for a topic without messages).
    pub fn head(&self, topic: &str) -> u64 {
        self.topics.get(topic).map_or(self.id_base, Topic::head)
    }

    /// Deletes `topic` with its log and its subscriptions (a channel session's private queue, once the
    /// session has ended). Returns the subscribers it had, so the caller can end their connections.
    pub fn remove_topic(&mut self, topic: &str) -> Vec<SubscriberId> {
        self.topics
            .remove(topic)
            .map(|entry| entry.subscribers())
            .unwrap_or_default()
    }

    /// Refuses a bad topic name.
    fn check_topic(topic: &str) -> Result<(), HubError> {
        if Self::valid_topic(topic) {
            Ok(())
        } else {
            Err(HubError::BadTopic)
        }
    }

    /// The topic named `topic`, created if new and `max_topics` allows.
    fn topic_mut(&mut self, topic: &str) -> Result<&mut Topic, HubError> {
        if !self.topics.contains_key(topic) && self.topics.len() >= self.limits.max_topics {
            return Err(HubError::TooManyTopics);
        }
        let id_base = self.id_base;
        Ok(self
            .topics
            .entry(topic.to_string())
            .or_insert_with(|| Topic::new(id_base)))
    }
}

#[cfg(test)]
mod tests;
