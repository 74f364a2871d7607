//! The message hub: topics, each an ordered log of messages with increasing ids, and their subscribers.
//!
//! The hub knows nothing of HTTP or WebSocket, imports nothing from the server and never reads the
//! clock: every method that uses a topic takes `now`. It lives inside the event loop (one thread), so
//! "subscribe and replay in one step" is simply one method call: no message can slip in between.
//!
//! # The contract every door relies on (design §2–§3)
//!
//! - A topic name is `[A-Za-z0-9_-]{1,64}`.
//! - Ids increase by one per topic, starting after `id_base`. The server passes its start time in
//!   milliseconds as `id_base`, so a restarted server hands out ids larger than any from the earlier
//!   run, and a client resuming with an old id sees a gap (a reset) instead of silently missing messages
//!   (Centrifugo pairs offsets with an epoch for the same reason).
//! - Each topic keeps a bounded log of recent messages, bounded by count and by bytes; the oldest go
//!   first.
//! - A reader asks for the messages "after N" ([`Hub::read`], [`Hub::subscribe`]):
//!   - `after = None` means "from now": no old messages, resume at the head;
//!   - `after = Some(0)` means "everything the log still has", never a reset;
//!   - `after = Some(n)` returns what follows `n`, or, when the log no longer reaches back to `n` or `n`
//!     is from another run, a [`Replay`] with `reset: true` and everything kept, oldest first.
//! - [`Replay::last`] is the id to ask "after" next time.
//!
//! # What retention counts
//!
//! A kept message holds its payload, its JSON form (which escaping can make up to six times longer:
//! `<` becomes `\u003c`), the `Message` itself, the `Rc` counters around it and its slot in the log.
//! [`Message::stored_bytes`] adds all of these, and `max_bytes_per_topic` bounds that sum, so the
//! bound is on memory, not on payload alone.
//!
//! # Topics come and go
//!
//! A topic is created by its first publish or subscribe and removed in four ways:
//!
//! 1. a topic that was only subscribed to (never published to) goes with its last subscriber;
//! 2. [`Hub::evict_idle`]: a topic without subscribers unused (no publish, subscribe, read or
//!    unsubscribe) for `topic_idle_timeout` is evicted; the server calls it about once a second,
//!    and [`Hub::next_eviction`] says when the next one is due;
//! 3. when the table holds `max_topics` and a new topic is needed, the least recently used topic
//!    without subscribers makes room; only when every topic has subscribers is the new one refused
//!    ([`HubError::TooManyTopics`]). So topics nobody listens to can never lock new ones out;
//! 4. [`Hub::remove_topic`] deletes one on purpose (an ended channel session's private queue).
//!
//! A topic with subscribers is never evicted. Both eviction paths scan the table: O(topics), which at
//! the default 1,024 topics is microseconds, run once a second or when a new topic meets a full table.
//! (An index ordered by last use would make them O(log topics) but must be kept in step on every
//! publish and read; the scan keeps one source of truth.)
//!
//! # Ids never repeat, even after an eviction
//!
//! Forgetting a topic forgets its head, and a recreated topic starting again at `id_base + 1` would hand
//! out ids a client already saw. So the hub keeps one number, `new_topic_base`: `id_base` raised to the
//! head of every topic removed so far. A new topic starts after it. A reader that resumes with an id of
//! the evicted topic then gets a reset if it missed messages, or a clean resume if it asks after
//! exactly the evicted head. One `u64` for the whole hub, never one entry per evicted name, so the
//! memory stays bounded however many names come and go; the price is that a recreated topic may jump
//! ahead further than strictly needed, and a client of a smaller evicted topic gets a reset where it
//! missed nothing (told too much, never too little).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use pushlab::hub::{Hub, HubLimits};
//!
//! let now = Instant::now();
//! let mut hub = Hub::new(HubLimits::default(), 1000);
//! let first = hub.publish("chat", "hello".to_string(), now).unwrap();
//! assert_eq!(first.message.id, 1001);
//! assert_eq!(first.message.json, r#"{"id":1001,"data":"hello"}"#);
//!
//! // A subscriber that saw nothing yet: replay and subscription in one step.
//! let replay = hub.subscribe("chat", 7, Some(0), now).unwrap();
//! assert_eq!((replay.messages.len(), replay.last, replay.reset), (1, 1001, false));
//! assert_eq!(hub.publish("chat", "again".to_string(), now).unwrap().subscribers, vec![7]);
//!
//! // Once nobody listens and nobody uses it, the topic is evicted; its ids are not reused.
//! let later = now + Duration::from_secs(60 * 60);
//! hub.unsubscribe("chat", 7, now);
//! assert_eq!(hub.evict_idle(later), 1);
//! assert_eq!(hub.publish("chat", "back".to_string(), later).unwrap().message.id, 1003);
//! ```
//!
//! # Publishing once
//!
//! A publisher whose connection broke before the answer cannot know whether its message was stored.
//! [`Hub::publish_once`] lets it retry safely: with an idempotency key (the `Idempotency-Key` header
//! of `POST /publish/{topic}`), the hub remembers the key with the id it gave and the SHA-1 of the
//! message, for `publish_key_ttl` (10 minutes), and answers a retry with the same id without storing
//! anything; the same key with another message is refused ([`HubError::KeyReused`], HTTP 422). At most
//! `max_publish_keys` keys are remembered, the oldest forgotten first (see `once.rs`).
//!
//! # A mirror of a shared log
//!
//! With `--redis` the hub is the in-memory mirror of logs that Redis keeps for every node (see
//! `crate::redis::backend`). The ids then come from Redis, and two methods take them:
//! [`Hub::append_at`] appends a message numbered elsewhere only when it is the next one (and reports a
//! duplicate, a gap or an unknown topic otherwise, so the backend can fetch what is missing), and
//! [`Hub::rebase`] empties a topic so that its next message may jump (the shared log was trimmed, or
//! restarted). Every reader keeps the same contract as above.
//!
//! A mirror may also not know yet what the shared log holds: right after the node starts or comes
//! back, or while it fetches a topic it fell behind on. Whether "after N" is a clean resume or a reset
//! cannot be decided then, so it is not: [`Hub::set_loading`] marks a topic as being loaded, and
//! [`Hub::hold_unknown_topics`] marks every topic the hub does not hold yet. A read of such a topic
//! returns nothing and no reset, with `last` where the reader asked to start, so a subscriber waits at
//! its own cursor; [`Hub::loaded`] ends the wait and names the subscribers to wake, who then read the
//! loaded log and get exactly what follows their id, or a reset only where the shared log warrants it.
//! A topic created while loading starts at [`PENDING_HEAD`], a number no shared log hands out, so a
//! subscriber waiting there is known to have asked "from now" (and never mistaken for one that asked
//! after an id the shared log has) and resumes after whatever the load brings.
//!
//! A mirror also says which topics just came into use here: once asked to
//! ([`Hub::name_first_subscribed`], which only a mirror does), [`Hub::take_first_subscribed`] names the
//! topics that gained their first subscriber since it was last called, so the backend can tell the
//! shared log at once that they are not idle (the hub itself knows nothing of Redis). The in-memory
//! hub records nothing: a long poll subscribes anew after every answer, and that path stays free.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation,
    )
)]

mod limits;
mod once;
mod topic;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::mem::size_of;
use std::rc::Rc;
use std::time::Instant;

pub use limits::HubLimits;
use once::{fingerprint, OnceKeys, Seen};
use topic::Topic;

/// Who is subscribed: one subscription, numbered by the server, never reused. A subscription, not a
/// connection, so a re-subscribe on the same connection is a new subscriber.
pub type SubscriberId = u64;

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

impl Message {
    /// What one kept message costs besides its two strings: the `Message` (id and two `String`
    /// headers), the `Rc` allocation's strong and weak counters, and the `Rc` pointer in the log's slot.
    pub const OVERHEAD_BYTES: usize =
        size_of::<Message>() + 2 * size_of::<usize>() + size_of::<Rc<Message>>();

    /// A message; both strings are shrunk to their length, so `len()` is what they hold in memory.
    fn new(id: u64, mut data: String, mut json: String) -> Message {
        data.shrink_to_fit();
        json.shrink_to_fit();
        Message { id, data, json }
    }

    /// The bytes this message holds while a topic keeps it, as retention counts them: the payload, its
    /// JSON form (escaping can make it six times the payload) and [`Message::OVERHEAD_BYTES`].
    /// (The allocator's own bookkeeping is not counted.)
    pub fn stored_bytes(&self) -> usize {
        self.data.len() + self.json.len() + Self::OVERHEAD_BYTES
    }
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

/// What [`Hub::publish_once`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Once {
    /// The key was new: the message was published.
    Published(Published),
    /// The key was seen with the same message: this is the id it got then; nothing was stored.
    Repeated {
        /// The first publish's id.
        id: u64,
    },
}

/// What [`Hub::append_at`] did with a message numbered elsewhere.
#[derive(Debug, PartialEq, Eq)]
pub enum Appended {
    /// It was the next message: appended, and here are the subscribers to wake.
    Published(Published),
    /// Its id is not past the head: the topic has it already.
    Duplicate,
    /// Its id is past `head + 1`: messages in between are missing here.
    Gap {
        /// The topic's head now.
        head: u64,
    },
    /// The topic does not exist here.
    Unknown,
}

/// A request the hub refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubError {
    /// The topic name is not `[A-Za-z0-9_-]{1,64}` (HTTP 400).
    BadTopic,
    /// The message is larger than `max_publish_bytes` (HTTP 413).
    TooLarge,
    /// Creating the topic would pass `max_topics`, and every topic has subscribers, so none can make
    /// room (HTTP 503).
    TooManyTopics,
    /// The shared log (the Redis backend) cannot be reached, so nothing can be stored (HTTP 503).
    Unavailable,
    /// The shared log's history of this topic has not been loaded here yet, so a reader that cannot
    /// wait for it (a short poll) cannot be answered correctly (HTTP 503; retry).
    Loading,
    /// The publish's idempotency key was used before with another message (HTTP 422).
    KeyReused,
}

impl HubError {
    /// The HTTP status for this error (design rule 5: the error knows what goes on the wire).
    pub fn status(&self) -> u16 {
        match self {
            HubError::BadTopic => 400,
            HubError::TooLarge => 413,
            HubError::KeyReused => 422,
            HubError::TooManyTopics | HubError::Unavailable | HubError::Loading => 503,
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
            HubError::TooManyTopics => {
                f.write_str("the server has as many topics as it may hold, all of them in use")
            }
            HubError::Unavailable => {
                f.write_str("the shared message log is unreachable; nothing was stored, retry")
            }
            HubError::KeyReused => f.write_str(
                "this Idempotency-Key was used with another message; a key names one message",
            ),
            HubError::Loading => {
                f.write_str("this topic's history is still being loaded from the shared log; retry")
            }
        }
    }
}

impl std::error::Error for HubError {}

/// The head of a topic created while its history is being loaded: 2^53, one past the largest id the
/// shared log hands out (ids stay exact JavaScript numbers, at most 2^53 − 1), so a reader whose cursor
/// is this number subscribed "from now" before the load. Never handed out, and never reported by
/// [`Hub::head`].
pub const PENDING_HEAD: u64 = 1 << 53;

/// The longest topic name, in bytes.
pub const MAX_TOPIC_NAME_BYTES: usize = 64;

/// All topics.
#[derive(Debug)]
pub struct Hub {
    /// Retention, size and idleness limits.
    limits: HubLimits,
    /// A topic created now hands out ids after this: the `id_base` given to [`Hub::new`], raised to
    /// the head of every topic removed since, so no id is handed out twice (module docs).
    new_topic_base: u64,
    /// Counts uses of topics; each use stamps its topic with the next number (least recently used =
    /// smallest stamp).
    use_counter: u64,
    /// Topics by name. The key is shared ([`Hub::shared_name`]): every subscription of a topic holds
    /// the same string, so reading the topic for a thousand subscribers touches one name, not a
    /// thousand copies scattered over the heap.
    topics: HashMap<Rc<str>, Topic>,
    /// Topics whose history is being loaded from the shared log: their readers wait (module docs).
    loading: HashSet<String>,
    /// Whether a topic this hub does not hold yet counts as loading (a mirror that has not finished
    /// reading the shared log's list of topics).
    hold_unknown: bool,
    /// The idempotency keys of recent publishes ([`Hub::publish_once`]).
    once: OnceKeys,
    /// Whether to name the topics that gain their first subscriber ([`Hub::name_first_subscribed`]):
    /// only a mirror of a shared log has anyone to tell, so the in-memory hub spends nothing on it.
    names_first_subscribed: bool,
    /// Topics that gained their first subscriber since [`Hub::take_first_subscribed`] last took
    /// them. Always a subset of `topics` (a removed topic leaves it too), so it is bounded by
    /// `max_topics`.
    first_subscribed: HashSet<String>,
    /// The message appended last, for the readers that have everything before it
    /// ([`Hub::just_appended_for`]). Anything else that changes a log forgets it.
    last_append: Option<LastAppend>,
}

/// The message a hub appended last, and where a reader stands that has everything before it.
#[derive(Debug)]
struct LastAppend {
    /// The topic's name: the hub's own key, compared by address.
    topic: Rc<str>,
    /// The message.
    message: Rc<Message>,
    /// A reader resuming after this id reads exactly `message`, with no reset.
    after: u64,
}

impl Hub {
    /// An empty hub. Every topic's ids start after `id_base` (the server passes its start time in
    /// milliseconds, so ids never repeat across a restart).
    pub fn new(limits: HubLimits, id_base: u64) -> Hub {
        Hub {
            limits,
            new_topic_base: id_base,
            use_counter: 0,
            topics: HashMap::new(),
            loading: HashSet::new(),
            hold_unknown: false,
            once: OnceKeys::default(),
            names_first_subscribed: false,
            first_subscribed: HashSet::new(),
            last_append: None,
        }
    }

    /// Turns on (or off) naming the topics that gain their first subscriber, for
    /// [`Hub::take_first_subscribed`]. Off by default: a long poll re-subscribes on every answer, and
    /// without a shared log to tell, recording it would be work on the hot path for nobody.
    pub fn name_first_subscribed(&mut self, on: bool) {
        self.names_first_subscribed = on;
        if !on {
            self.first_subscribed.clear();
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
    pub fn publish(
        &mut self,
        topic: &str,
        data: String,
        now: Instant,
    ) -> Result<Published, HubError> {
        Self::check_topic(topic)?;
        if data.len() > self.limits.max_publish_bytes {
            return Err(HubError::TooLarge);
        }
        let limits = self.limits.clone();
        let entry = self.use_topic(topic, now)?;
        let message = entry.append(data, &limits);
        let subscribers = entry.subscribers();
        self.note_append(topic, &message);
        Ok(Published {
            message,
            subscribers,
        })
    }

    /// Publishes `data` once per idempotency `key` on `topic` (module docs, "Publishing once"): a
    /// retry with the same key and message gets the first id and stores nothing; the same key with
    /// another message is refused with [`HubError::KeyReused`].
    pub fn publish_once(
        &mut self,
        topic: &str,
        key: &str,
        data: String,
        now: Instant,
    ) -> Result<Once, HubError> {
        Self::check_topic(topic)?;
        let print = fingerprint(&data);
        let ttl = self.limits.publish_key_ttl;
        match self.once.check(topic, key, &print, ttl, now) {
            Seen::Same(id) => return Ok(Once::Repeated { id }),
            Seen::Other => return Err(HubError::KeyReused),
            Seen::New => {}
        }
        let published = self.publish(topic, data, now)?;
        let max_keys = self.limits.max_publish_keys;
        self.once
            .remember(topic, key, published.message.id, print, max_keys, now);
        Ok(Once::Published(published))
    }

    /// How many idempotency keys the hub remembers now.
    pub fn publish_key_count(&self) -> usize {
        self.once.len()
    }

    /// Appends a message whose id was given elsewhere (by the shared log of the Redis backend, where
    /// every node's publishes are numbered). Only `head + 1` is appended; anything else is reported, so
    /// the caller can fetch what is missing. Creates no topic.
    pub fn append_at(
        &mut self,
        topic: &str,
        id: u64,
        data: String,
        now: Instant,
    ) -> Result<Appended, HubError> {
        Self::check_topic(topic)?;
        let limits = self.limits.clone();
        let use_number = self.next_use_number();
        let Some(entry) = self.topics.get_mut(topic) else {
            return Ok(Appended::Unknown);
        };
        entry.touch(now, use_number);
        if id <= entry.head() {
            return Ok(Appended::Duplicate);
        }
        let Some(message) = entry.append_at(id, data, &limits) else {
            return Ok(Appended::Gap { head: entry.head() });
        };
        let subscribers = entry.subscribers();
        self.note_append(topic, &message);
        Ok(Appended::Published(Published {
            message,
            subscribers,
        }))
    }

    /// Empties `topic`'s log (creating the topic if new) so that its next message is
    /// `head_before + 1`: the shared log's ids jumped (its history was trimmed, or it restarted).
    /// Readers of a topic that had messages get a reset; on a topic that never had one, readers at
    /// the old head resume after `alias_after` (see `Topic::rebase`).
    pub fn rebase(
        &mut self,
        topic: &str,
        head_before: u64,
        alias_after: u64,
        now: Instant,
    ) -> Result<(), HubError> {
        Self::check_topic(topic)?;
        self.last_append = None;
        self.use_topic(topic, now)?.rebase(head_before, alias_after);
        Ok(())
    }

    /// The names of every topic held now.
    pub fn topic_names(&self) -> Vec<String> {
        self.topics.keys().map(|name| name.to_string()).collect()
    }

    /// The name `topic`, shared with the hub's own key when the topic is held (a new string
    /// otherwise): a subscription keeps this, not a copy of its own.
    pub fn shared_name(&self, topic: &str) -> Rc<str> {
        self.topics
            .get_key_value(topic)
            .map_or_else(|| Rc::from(topic), |(name, _)| Rc::clone(name))
    }

    /// The messages after `after` (at most `max`; `None` means "from now": none). Creates nothing, but
    /// counts as a use of an existing topic (it is not idle while someone reads it).
    ///
    /// When `max` cuts the list short, `last` is the id of the last message returned, so asking again
    /// after `last` continues without a gap. Costs O(messages returned), not O(log length).
    pub fn read(
        &mut self,
        topic: &str,
        after: Option<u64>,
        max: usize,
        now: Instant,
    ) -> Result<Replay, HubError> {
        self.read_into(topic, after, max, now, Vec::new())
    }

    /// [`Hub::read`] into `storage` (cleared first), which comes back as the replay's `messages`: a
    /// subscriber that pulls on every publish lends the same `Vec` each time (the caller keeps it
    /// between reads) instead of allocating one per read.
    pub fn read_into(
        &mut self,
        topic: &str,
        after: Option<u64>,
        max: usize,
        now: Instant,
        storage: Vec<Rc<Message>>,
    ) -> Result<Replay, HubError> {
        if self.is_loading(topic) {
            Self::check_topic(topic)?;
            return Ok(self.waiting_replay(topic, after));
        }
        let use_number = self.next_use_number();
        match self.topics.get_mut(topic) {
            // A name the hub holds was checked when the topic was added: a subscriber reading on
            // every publish does not scan its topic's name again.
            Some(entry) => {
                entry.touch(now, use_number);
                Ok(entry.replay_into(after, max, storage))
            }
            // A topic that does not exist reads like an empty one (with the head it would start at):
            // same answer, nothing kept.
            None => {
                Self::check_topic(topic)?;
                Ok(Topic::new(self.new_topic_base, now, use_number)
                    .replay_into(after, max, storage))
            }
        }
    }

    /// The message just appended to `topic`, when it is all that a reader at `cursor` has left to
    /// read: a read after `cursor` would return exactly this message, and no reset. `None` otherwise
    /// (the reader is behind or ahead, another topic was published to since, or the log changed in
    /// another way), and the reader reads the log as usual.
    ///
    /// This is the broadcast's shortcut: a thousand subscribers that were all waiting at the head ask
    /// this instead of each reading the log, and it costs two comparisons. The name is compared by
    /// address, not by its bytes, so `topic` must be the hub's own copy ([`Hub::shared_name`], which
    /// every subscription holds); any other copy gets `None`.
    pub fn just_appended_for(&self, topic: &Rc<str>, cursor: u64) -> Option<&Rc<Message>> {
        let last = self.last_append.as_ref()?;
        (Rc::ptr_eq(&last.topic, topic) && last.after == cursor).then_some(&last.message)
    }

    /// Remembers `message`, just appended to `topic`, for [`Hub::just_appended_for`]: only when a
    /// reader just before it would read it and nothing else (not while the topic loads, nor when an
    /// alias left by [`Hub::rebase`] moves such a reader elsewhere).
    fn note_append(&mut self, topic: &str, message: &Rc<Message>) {
        self.last_append = None;
        if self.is_loading(topic) {
            return;
        }
        let Some((name, entry)) = self.topics.get_key_value(topic) else {
            return;
        };
        let after = message.id.saturating_sub(1);
        if entry.head() == message.id && entry.resumes_exactly_after(after) {
            self.last_append = Some(LastAppend {
                topic: Rc::clone(name),
                message: Rc::clone(message),
                after,
            });
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
        now: Instant,
    ) -> Result<Replay, HubError> {
        Self::check_topic(topic)?;
        let loading = self.is_loading(topic);
        let entry = self.use_topic(topic, now)?;
        let first = !entry.has_subscribers();
        entry.subscribe(subscriber);
        let replay = (!loading).then(|| entry.replay(after, usize::MAX));
        if first && self.names_first_subscribed && !self.first_subscribed.contains(topic) {
            self.first_subscribed.insert(topic.to_string());
        }
        Ok(replay.unwrap_or_else(|| self.waiting_replay(topic, after)))
    }

    // ----- a mirror that is loading (module docs, "A mirror of a shared log") -----

    /// While `hold` is true, every topic the hub does not hold yet counts as loading (and one created
    /// meanwhile stays loading until [`Hub::loaded`]).
    pub fn hold_unknown_topics(&mut self, hold: bool) {
        self.last_append = None;
        self.hold_unknown = hold;
    }

    /// Marks `topic` as being loaded from the shared log: its readers wait.
    pub fn set_loading(&mut self, topic: &str) {
        if Self::valid_topic(topic) {
            self.last_append = None;
            self.loading.insert(topic.to_string());
        }
    }

    /// `topic`'s history is in: its readers stop waiting. Returns the subscribers to wake, so they
    /// read what the load brought (or learn of a reset the shared log warrants).
    pub fn loaded(&mut self, topic: &str) -> Vec<SubscriberId> {
        if !self.loading.remove(topic) {
            return Vec::new();
        }
        self.last_append = None;
        let new_topic_base = self.new_topic_base;
        let Some(entry) = self.topics.get_mut(topic) else {
            return Vec::new();
        };
        if entry.head() == PENDING_HEAD {
            // The shared log had nothing: the topic starts like any new one, and its "from now"
            // readers resume there.
            entry.rebase(new_topic_base, new_topic_base);
        }
        entry.subscribers()
    }

    /// Whether `topic`'s readers wait for its history (see [`Hub::set_loading`]).
    pub fn is_loading(&self, topic: &str) -> bool {
        self.loading.contains(topic) || (self.hold_unknown && !self.topics.contains_key(topic))
    }

    /// The names of the topics marked as loading.
    pub fn loading_topics(&self) -> Vec<String> {
        self.loading.iter().cloned().collect()
    }

    /// What a reader of a loading topic gets: nothing, no reset, and `last` where it asked to start
    /// (the head for "from now"), so it waits at its own cursor.
    fn waiting_replay(&self, topic: &str, after: Option<u64>) -> Replay {
        let head = self.topics.get(topic).map_or(PENDING_HEAD, Topic::head);
        Replay {
            reset: false,
            messages: Vec::new(),
            last: after.unwrap_or(head),
        }
    }

    /// Removes `subscriber` from `topic` (no-op if absent). The topic's idle time starts again at `now`.
    ///
    /// A topic that was only ever subscribed to (never published to) goes away with its last
    /// subscriber at once; a topic that has messages stays until it is evicted.
    pub fn unsubscribe(&mut self, topic: &str, subscriber: SubscriberId, now: Instant) {
        let use_number = self.next_use_number();
        if let Some(entry) = self.topics.get_mut(topic) {
            entry.unsubscribe(subscriber);
            entry.touch(now, use_number);
            if entry.is_disposable() {
                self.remove_entry(topic);
            }
        }
    }

    /// Evicts every topic without subscribers that has not been used for `topic_idle_timeout` as of
    /// `now`. Returns how many went. O(topics); the server calls it about once a second.
    pub fn evict_idle(&mut self, now: Instant) -> usize {
        let idle_timeout = self.limits.topic_idle_timeout;
        let mut highest_evicted_head = self.new_topic_base;
        let before = self.topics.len();
        self.topics.retain(|_, entry| {
            let due = entry.evictable_at(idle_timeout).is_some_and(|at| at <= now);
            if due && entry.head() != PENDING_HEAD {
                highest_evicted_head = highest_evicted_head.max(entry.head());
            }
            !due
        });
        let topics = &self.topics;
        self.first_subscribed
            .retain(|name| topics.contains_key(name.as_str()));
        self.new_topic_base = highest_evicted_head;
        let evicted = before - self.topics.len();
        if evicted > 0 {
            self.last_append = None;
        }
        evicted
    }

    /// When [`Hub::evict_idle`] next has something to do (`None`: every topic has subscribers, or there
    /// are none). O(topics), like the eviction itself.
    pub fn next_eviction(&self) -> Option<Instant> {
        let idle_timeout = self.limits.topic_idle_timeout;
        self.topics
            .values()
            .filter_map(|entry| entry.evictable_at(idle_timeout))
            .min()
    }

    /// The hub's limits.
    pub fn limits(&self) -> &HubLimits {
        &self.limits
    }

    /// The names of the topics in use: with subscribers, or used (published, subscribed, read) at or
    /// after `since` (`None`: every topic held). With `--redis`, the backend tells Redis which topics
    /// are still in use.
    pub fn topics_in_use(&self, since: Option<Instant>) -> Vec<String> {
        self.topics
            .iter()
            .filter(|(_, entry)| {
                entry.has_subscribers() || since.is_none_or(|since| entry.last_used_at() >= since)
            })
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// Takes the names of the topics that went from no subscriber to one since the last call. With
    /// `--redis` the backend tells Redis at once that they are in use, so that no other node removes
    /// them as idle before this node's next report (see `crate::redis::backend`, "Idle topics leave
    /// Redis"). A topic subscribed to again after its last subscriber left counts again.
    pub fn take_first_subscribed(&mut self) -> Vec<String> {
        if self.first_subscribed.is_empty() {
            return Vec::new(); // the usual turn: nothing allocated
        }
        self.first_subscribed.drain().collect()
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

    /// The last id handed out on `topic` (for a topic that does not exist: the id its first message
    /// would follow).
    pub fn head(&self, topic: &str) -> u64 {
        self.topics
            .get(topic)
            .map(Topic::head)
            .filter(|head| *head != PENDING_HEAD)
            .unwrap_or(self.new_topic_base)
    }

    /// The bytes `topic`'s log holds as retention counts them (the sum of [`Message::stored_bytes`]
    /// over its kept messages), 0 for a topic that does not exist.
    pub fn stored_bytes(&self, topic: &str) -> usize {
        self.topics.get(topic).map_or(0, Topic::stored_bytes)
    }

    /// Deletes `topic` with its log and its subscriptions (a channel session's private queue, once the
    /// session has ended). Returns the subscribers it had, so the caller can end their connections.
    pub fn remove_topic(&mut self, topic: &str) -> Vec<SubscriberId> {
        self.remove_entry(topic)
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

    /// The next number of the use counter.
    fn next_use_number(&mut self) -> u64 {
        self.use_counter += 1;
        self.use_counter
    }

    /// The topic named `topic`, stamped as used at `now`; created if new.
    fn use_topic(&mut self, topic: &str, now: Instant) -> Result<&mut Topic, HubError> {
        if !self.topics.contains_key(topic) {
            return self.add_topic(topic, now);
        }
        let use_number = self.next_use_number();
        // Looked up by `&str`: a topic already in use costs no allocation; only creating one does.
        // (Present, as `contains_key` just said, so the error is never met.)
        let entry = self.topics.get_mut(topic).ok_or(HubError::TooManyTopics)?;
        entry.touch(now, use_number);
        Ok(entry)
    }

    /// Creates `topic`, stamped as used at `now`, after making room in a full table by evicting the
    /// least recently used topic without subscribers.
    fn add_topic(&mut self, topic: &str, now: Instant) -> Result<&mut Topic, HubError> {
        if self.topics.len() >= self.limits.max_topics && !self.evict_least_recently_used() {
            return Err(HubError::TooManyTopics);
        }
        let mut head = self.new_topic_base;
        if self.is_loading(topic) {
            // Created before the mirror knows what the shared log holds: it waits like the others,
            // at a head no shared log hands out (module docs).
            self.loading.insert(topic.to_string());
            head = PENDING_HEAD;
        }
        let use_number = self.next_use_number();
        Ok(self
            .topics
            .entry(Rc::from(topic))
            .or_insert_with(|| Topic::new(head, now, use_number)))
    }

    /// Evicts the least recently used topic without subscribers. False when every topic has
    /// subscribers (or there are none). O(topics).
    fn evict_least_recently_used(&mut self) -> bool {
        let victim = self
            .topics
            .iter()
            .filter(|(_, entry)| !entry.has_subscribers())
            .min_by_key(|(_, entry)| entry.last_use_number())
            .map(|(name, _)| name.clone());
        match victim {
            Some(name) => self.remove_entry(&name).is_some(),
            None => false,
        }
    }

    /// Removes a topic, remembering its head so no later topic hands out its ids again.
    fn remove_entry(&mut self, topic: &str) -> Option<Topic> {
        let entry = self.topics.remove(topic)?;
        self.last_append = None;
        self.first_subscribed.remove(topic);
        if entry.head() != PENDING_HEAD {
            self.new_topic_base = self.new_topic_base.max(entry.head());
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests;
