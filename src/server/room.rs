//! The room every door opens onto: the hub, the channel sessions, the configuration, and the bookkeeping
//! that ties hub subscriptions to connections.
//!
//! A [`crate::server::connection::Connection`] acts on the room whenever one of its events needs the
//! shared state (a request publishes, a stream subscribes, a WebSocket client sends to its session).
//! The room never touches a connection: what it has to say to one (a topic has news, a session ended) it
//! leaves in [`Room::woken`] and [`Room::to_close`], which the core hands out once the current piece of
//! work is done. That keeps every connection transition in `connection.rs`.
//!
//! # Subscriptions, not connections
//!
//! Each subscribe gets a fresh [`SubscriberId`] that is never reused, and a map from it to the
//! connection's token. A message published while a connection is between two subscriptions (a long poll
//! answered, and its pipelined successor parked again in the same turn) therefore wakes at most the new
//! subscription, and that one reads from its own cursor: nobody can get a message twice.

//!
//! # With the shared log (`--redis`)
//!
//! A publish is not stored here but queued in [`SharedLog::outbox`]; the event loop hands it to the
//! Redis backend, and the answer comes back through [`Room::on_stored`] to whoever waits for it (a
//! connection in `State::Storing`, or a handle). Messages reach the hub, now a mirror, from the backend,
//! and [`Room::wake`] wakes their subscribers as a local publish would.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::rc::Rc;
use std::sync::mpsc::Sender;
use std::time::Instant;

use crate::channel::{Action, ClientId, Outbox, Sessions, SESSION_TOPIC_PREFIX};
use crate::http::Response;
use crate::hub::{Hub, HubError, Message, Once, Replay, SubscriberId};
use crate::redis::backend::{Outcome, PublishOptions, SessionCommand};
use crate::server::rate::PublishBuckets;
use crate::server::routes::RouteError;
use crate::transport::{BatchDoor, SharedFraming};
use crate::Config;

/// A connection's place in a topic: which subscription it is and how far it has read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The hub's key for this subscription (unique for the server's life).
    pub id: SubscriberId,
    /// The topic's name, shared with the hub and every other subscription of the topic
    /// ([`crate::hub::Hub::shared_name`]).
    pub topic: Rc<str>,
    /// The id of the last message this subscriber was given, or the point it asked to start after
    /// (0 for `after=0`: "everything the log still has", never a reset).
    pub cursor: u64,
}

/// A publish sent to the shared log (the Redis backend), numbered until Redis answers.
pub type Ticket = u64;

/// The last answer a woken parked request (long poll, JSONP) was given, kept so that the next one that
/// would say the same thing gets a copy of these bytes instead of building its JSON body and head again.
///
/// On a broadcast every parked poll of a topic waits after the same id, so one publish wakes a
/// thousand requests that all need the same answer: it is built once. The key is what the answer says,
/// not who asked: the door (a JSONP callback is part of the body), the replay (its first message, held
/// here so its address cannot be reused, the count, `last` and `reset`; a topic's log is append-only,
/// so the first message and the count fix the rest), the `Date` second and whether the connection is
/// kept alive. Nothing needs clearing: a different question simply has a different key.
#[derive(Debug, Default)]
pub struct SharedAnswer {
    said: Option<AnswerKey>,
    /// The whole response, head and body, as written for `said`.
    bytes: Vec<u8>,
}

/// What a shared answer says (see [`SharedAnswer`]).
#[derive(Debug)]
struct AnswerKey {
    door: BatchDoor,
    first: Option<Rc<Message>>,
    count: usize,
    last: u64,
    reset: bool,
    unix_secs: u64,
    keep_alive: bool,
}

impl AnswerKey {
    fn says(&self, door: &BatchDoor, replay: &Replay, unix_secs: u64, keep_alive: bool) -> bool {
        let same_first = match (&self.first, replay.messages.first()) {
            (Some(kept), Some(first)) => Rc::ptr_eq(kept, first),
            (None, None) => true,
            _ => false,
        };
        same_first
            && self.count == replay.messages.len()
            && self.last == replay.last
            && self.reset == replay.reset
            && self.unix_secs == unix_secs
            && self.keep_alive == keep_alive
            && self.door == *door
    }
}

/// The largest answer [`SharedAnswer`] keeps: a broadcast's answers are small, and a batch of large
/// messages should not stay in memory after its readers are served.
pub const MAX_SHARED_ANSWER_BYTES: usize = 64 * 1024;

impl SharedAnswer {
    /// The whole answer `door` gives with `replay`: the kept bytes if they say the same, else built
    /// (and kept, unless larger than [`MAX_SHARED_ANSWER_BYTES`]).
    pub fn answer(
        &mut self,
        door: &BatchDoor,
        replay: &Replay,
        unix_secs: u64,
        keep_alive: bool,
    ) -> &[u8] {
        let same = self
            .said
            .as_ref()
            .is_some_and(|said| said.says(door, replay, unix_secs, keep_alive));
        if !same {
            self.bytes.clear();
            self.bytes.shrink_to(MAX_SHARED_ANSWER_BYTES);
            door.response(replay)
                .write(&mut self.bytes, unix_secs, false, keep_alive);
            self.said = (self.bytes.len() <= MAX_SHARED_ANSWER_BYTES).then(|| AnswerKey {
                door: door.clone(),
                first: replay.messages.first().cloned(),
                count: replay.messages.len(),
                last: replay.last,
                reset: replay.reset,
                unix_secs,
                keep_alive,
            });
        }
        &self.bytes
    }
}

/// The message published last, framed once per shared framing (a WebSocket frame, an XHR stream's
/// chunk, an SSE event's chunk) for every subscriber that was waiting for exactly that message (see
/// `Core::deliver_next` and [`crate::hub::Hub::just_appended_for`]).
///
/// A server's WebSocket frames are not masked (RFC 6455 §5.1), and nothing of a request goes into an
/// XHR stream's or an SSE stream's message: the framing of a message is the same bytes on every
/// connection of its door. A broadcast to a thousand subscribers of a door frames the message once,
/// and each delivery is one write of those bytes, as a server written for nothing else would do it.
/// Each framing is keyed by the message itself (held, so its address cannot be reused by another).
#[derive(Debug, Default)]
pub struct SharedFrame {
    framed: [Framed; SharedFraming::COUNT],
}

/// One framing of one message, in [`SharedFrame`].
#[derive(Debug, Default)]
struct Framed {
    message: Option<Rc<Message>>,
    /// The framed message.
    bytes: Vec<u8>,
    /// Its body bytes, for a stream's size limit (0 for a WebSocket frame).
    body_bytes: usize,
}

impl SharedFrame {
    /// `message` framed as `framing`, with its body bytes: the kept bytes if they are its framing,
    /// else framed now by `frame` (which appends and returns the body bytes) and kept. Keeps no more
    /// storage per framing than the last message's or [`MAX_SHARED_ANSWER_BYTES`], whichever is more.
    pub fn of(
        &mut self,
        framing: SharedFraming,
        message: &Rc<Message>,
        frame: impl FnOnce(&mut Vec<u8>) -> usize,
    ) -> (&[u8], usize) {
        // `index` is below `COUNT`, the array's length; `get_mut` keeps even a slip from panicking.
        let Some(framed) = self.framed.get_mut(framing.index()) else {
            return (&[], 0);
        };
        let same = framed
            .message
            .as_ref()
            .is_some_and(|kept| Rc::ptr_eq(kept, message));
        if !same {
            framed.bytes.clear();
            framed.bytes.shrink_to(MAX_SHARED_ANSWER_BYTES);
            framed.body_bytes = frame(&mut framed.bytes);
            framed.message = Some(Rc::clone(message));
        }
        (&framed.bytes, framed.body_bytes)
    }

    /// Where `framing`'s kept bytes are (tests check that writes come from them).
    #[cfg(test)]
    pub fn address(&self, framing: SharedFraming) -> *const u8 {
        self.framed[framing.index()].bytes.as_ptr()
    }
}

/// Where a publish stands once the room took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored in the local hub (the in-memory backend): this is its id.
    Now(u64),
    /// Queued for the shared log; its id (or refusal) comes later under this ticket.
    Later(Ticket),
}

impl Stored {
    /// The id, when it is known already.
    pub fn id(self) -> Option<u64> {
        match self {
            Stored::Now(id) => Some(id),
            Stored::Later(_) => None,
        }
    }
}

/// Who waits for a publish to be stored by the shared log.
#[derive(Debug)]
pub enum Waiter {
    /// A connection in `State::Storing` (its token).
    Connection(usize),
    /// Another thread, through a [`crate::server::ServerHandle`].
    Handle(Sender<Result<u64, HubError>>),
}

/// The room's side of the Redis backend: sans-IO, like the rest of the room. Publishes wait in
/// `outbox` until the event loop hands them to the backend, and their answers come back through
/// [`Room::on_stored`].
#[derive(Debug, Default)]
pub struct SharedLog {
    /// Whether the backend can store a publish now (set by the event loop); if not, 503 at once.
    pub reachable: bool,
    /// Publishes for the backend: ticket, topic, data.
    pub outbox: Vec<(Ticket, String, String)>,
    /// How the publishes of the outbox are stored, when not plainly: only by the holder of the clock
    /// lease (the clock's ticks: see `redis::backend`, "One clock per cluster"), or once per
    /// idempotency key. Taken with [`SharedLog::take_options`].
    options: HashMap<Ticket, PublishOptions>,
    /// Session commands for the backend (sessions are shared between nodes: see `Sessions::adopt`).
    pub sessions: Vec<SessionCommand>,
    /// Who waits for which ticket.
    waiters: HashMap<Ticket, Waiter>,
    next_ticket: Ticket,
    /// Idle sessions being checked in Redis, and since when (a check lost with the connection is
    /// asked again after a while).
    checking: HashMap<String, Instant>,
}

impl SharedLog {
    /// How the publish with `ticket` is to be stored (and forgets it).
    pub fn take_options(&mut self, ticket: Ticket) -> PublishOptions {
        self.options.remove(&ticket).unwrap_or_default()
    }
}

/// How long a session check may go unanswered before it is asked again.
const SESSION_CHECK_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Where new channel session ids come from (the operating system's random source in the server; a
/// counter in tests).
pub type SessionIds = Box<dyn FnMut() -> io::Result<String>>;

/// The shared state of the server (see the module docs).
pub struct Room {
    /// Every limit.
    pub config: Config,
    /// Topics and their logs.
    pub hub: Hub,
    /// Channel applications and their sessions.
    pub sessions: Sessions,
    /// New session ids.
    pub session_ids: SessionIds,
    /// Which connection each live subscription belongs to.
    subscribers: HashMap<SubscriberId, usize, BuildHasherDefault<SubscriberIdHasher>>,
    next_subscription: SubscriberId,
    /// Connections (tokens) that have news on their topic, with the subscription the news is for.
    pub woken: Vec<(usize, SubscriberId)>,
    /// Connections (tokens) to close, because the topic they read was deleted.
    pub to_close: Vec<usize>,
    /// The wall clock in seconds, for `Date` headers, set by the event loop each turn.
    pub unix_secs: u64,
    /// Bytes held by every connection's input and output buffers, for the global budget.
    pub buffered_bytes: usize,
    /// A buffer lent to whichever stream is framing a message (one message at a time, on one thread).
    pub scratch: Vec<u8>,
    /// Storage lent to whichever subscriber reads the log next ([`crate::hub::Hub::read_into`]),
    /// always handed back empty.
    pub replay_storage: Vec<Rc<Message>>,
    /// The last answer given to a woken parked request, for the next one that says the same.
    pub shared_answer: SharedAnswer,
    /// The message published last, framed once per shared framing, for every subscriber waiting
    /// for it.
    pub shared_frame: SharedFrame,
    /// Each client address's publish rate (`publish_rate_per_ip`).
    pub publish_buckets: PublishBuckets,
    /// With `--redis`: publishes go to the shared log, and the hub is its mirror (`None`: the hub
    /// alone is the log).
    pub shared_log: Option<SharedLog>,
    /// Publishes the shared log answered, for their waiting connections: (token, ticket, result).
    pub stored: Vec<(usize, Ticket, Result<u64, HubError>)>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("topics", &self.hub.topic_count())
            .field("subscribers", &self.subscribers.len())
            .field("buffered_bytes", &self.buffered_bytes)
            .finish_non_exhaustive()
    }
}

impl Room {
    /// A room with an empty hub whose ids start after `id_base`.
    pub fn new(config: Config, id_base: u64, session_ids: SessionIds) -> Room {
        let mut hub = Hub::new(config.hub.clone(), id_base);
        // A node of a shared log knows no topic's history until its first load from Redis: readers
        // wait for it rather than be told of a gap that may not exist (`redis::backend`).
        hub.hold_unknown_topics(config.redis.is_some());
        // It also tells Redis at once of a topic that comes into use here (`redis::backend`, "Idle
        // topics leave Redis"), so the hub names such topics only then.
        hub.name_first_subscribed(config.redis.is_some());
        let sessions = Sessions::new(config.session_grace, config.max_sessions);
        let publish_buckets =
            PublishBuckets::new(config.publish_rate_per_ip, config.publish_burst_per_ip);
        Room {
            hub,
            sessions,
            session_ids,
            subscribers: HashMap::default(),
            next_subscription: 1,
            woken: Vec::new(),
            to_close: Vec::new(),
            unix_secs: 0,
            buffered_bytes: 0,
            scratch: Vec::new(),
            replay_storage: Vec::new(),
            shared_answer: SharedAnswer::default(),
            shared_frame: SharedFrame::default(),
            publish_buckets,
            shared_log: config.redis.is_some().then(SharedLog::default),
            stored: Vec::new(),
            config,
        }
    }

    /// Publishes `data` to `topic`. With the in-memory hub the message is stored and its subscribers
    /// woken at once ([`Stored::Now`]); with the shared log it is queued for Redis ([`Stored::Later`]),
    /// and reaches subscribers, here and on every node, when the feed brings it back.
    pub fn publish(&mut self, topic: &str, data: String, now: Instant) -> Result<Stored, HubError> {
        let Some(shared) = &mut self.shared_log else {
            let published = self.hub.publish(topic, data, now)?;
            self.wake(&published.subscribers);
            return Ok(Stored::Now(published.message.id));
        };
        // The same refusals as the in-memory hub, before anything goes to Redis.
        if !Hub::valid_topic(topic) {
            return Err(HubError::BadTopic);
        }
        if data.len() > self.config.hub.max_publish_bytes {
            return Err(HubError::TooLarge);
        }
        if !shared.reachable {
            return Err(HubError::Unavailable);
        }
        shared.next_ticket += 1;
        let ticket = shared.next_ticket;
        shared.outbox.push((ticket, topic.to_string(), data));
        Ok(Stored::Later(ticket))
    }

    /// Publishes like [`Room::publish`], except that with the shared log only the node holding the
    /// clock lease stores it: every node ticks the clock, and the cluster publishes one tick.
    pub fn publish_leased(
        &mut self,
        topic: &str,
        data: String,
        now: Instant,
    ) -> Result<Stored, HubError> {
        let stored = self.publish(topic, data, now)?;
        if let (Stored::Later(ticket), Some(shared)) = (&stored, &mut self.shared_log) {
            shared.options.entry(*ticket).or_default().leased = true;
        }
        Ok(stored)
    }

    /// Publishes like [`Room::publish`], once per idempotency `key`: a retry with the same key and
    /// message gets the first id and stores nothing, here (`Hub::publish_once`) or in Redis (the
    /// publish script), so a client that lost the answer may safely send it again.
    pub fn publish_once(
        &mut self,
        topic: &str,
        key: &str,
        data: String,
        now: Instant,
    ) -> Result<Stored, HubError> {
        if self.shared_log.is_none() {
            return match self.hub.publish_once(topic, key, data, now)? {
                Once::Published(published) => {
                    self.wake(&published.subscribers);
                    Ok(Stored::Now(published.message.id))
                }
                Once::Repeated { id } => Ok(Stored::Now(id)),
            };
        }
        let stored = self.publish(topic, data, now)?;
        if let (Stored::Later(ticket), Some(shared)) = (&stored, &mut self.shared_log) {
            shared.options.entry(*ticket).or_default().once_key = Some(key.to_string());
        }
        Ok(stored)
    }

    /// Who is told when the publish with `ticket` is stored (or not).
    pub fn await_store(&mut self, ticket: Ticket, waiter: Waiter) {
        if let Some(shared) = &mut self.shared_log {
            shared.waiters.insert(ticket, waiter);
        }
    }

    /// The shared log answered the publish with `ticket`: a handle is answered here, a connection
    /// through [`Room::stored`].
    pub fn on_stored(&mut self, ticket: Ticket, result: Result<u64, HubError>) {
        let waiter = self
            .shared_log
            .as_mut()
            .and_then(|shared| shared.waiters.remove(&ticket));
        match waiter {
            Some(Waiter::Connection(token)) => self.stored.push((token, ticket, result)),
            Some(Waiter::Handle(reply)) => {
                let _ = reply.send(result);
            }
            None => {}
        }
    }

    /// The answer to a parked poll whose hold ran out: an empty list at the topic's head; or 503 while
    /// the topic's history is still being loaded from the shared log (Redis unreachable since the node
    /// started, say), because the head here means nothing yet and a client told to resume after it
    /// would be sent a reset it does not need.
    pub fn hold_timeout_response(&self, door: &BatchDoor, topic: &str) -> Response {
        if self.hub.is_loading(topic) {
            return RouteError::from(HubError::Loading).response();
        }
        door.timeout_response(self.hub.head(topic))
    }

    /// Wakes the connections of these subscriptions: their topic has news.
    pub fn wake(&mut self, subscriptions: &[SubscriberId]) {
        for subscription in subscriptions {
            if let Some(&token) = self.subscribers.get(subscription) {
                self.woken.push((token, *subscription));
            }
        }
    }

    /// Subscribes connection `token` to `topic`, starting after `after` (`None`: from now). Nothing is
    /// copied: the subscriber reads the log from its cursor as its socket drains.
    pub fn subscribe(
        &mut self,
        token: usize,
        topic: &str,
        after: Option<u64>,
        now: Instant,
    ) -> Result<Subscription, HubError> {
        let id = self.next_subscription;
        // Subscribing "from now" copies nothing; the cursor then says where reading starts.
        let head = self.hub.subscribe(topic, id, None, now)?.last;
        self.next_subscription += 1;
        self.subscribers.insert(id, token);
        Ok(Subscription {
            id,
            topic: self.hub.shared_name(topic),
            cursor: after.unwrap_or(head),
        })
    }

    /// Ends a subscription.
    pub fn unsubscribe(&mut self, subscription: &Subscription, now: Instant) {
        self.subscribers.remove(&subscription.id);
        self.hub
            .unsubscribe(&subscription.topic, subscription.id, now);
    }

    /// Publishes what a channel application asked for.
    pub fn carry_out(&mut self, outbox: Outbox, now: Instant) {
        for action in outbox.actions {
            let (topic, data) = match action {
                Action::Send { client, data } => (client.topic(), data),
                Action::Publish { topic, data } => (topic, data),
            };
            if let Err(error) = self.publish(&topic, data, now) {
                crate::server::log(
                    None,
                    format_args!("channel message to {topic} refused: {error}"),
                );
            }
        }
    }

    /// Deletes an ended session's private topic; whatever is still connected to it will be closed.
    pub fn end_session_topic(&mut self, client: &ClientId) {
        for subscription in self.hub.remove_topic(&client.topic()) {
            if let Some(token) = self.subscribers.remove(&subscription) {
                self.to_close.push(token);
            }
        }
    }

    /// A session was opened here: with the shared log, Redis records it and the other nodes adopt it.
    pub fn session_opened(&mut self, client: &ClientId, app: &str) {
        if let Some(shared) = &mut self.shared_log {
            shared.sessions.push(SessionCommand::Open {
                id: client.0.clone(),
                app: app.to_string(),
            });
        }
    }

    /// A session was closed here at its client's request: with the shared log, every node forgets it.
    pub fn session_closed(&mut self, client: &ClientId) {
        if let Some(shared) = &mut self.shared_log {
            shared.sessions.push(SessionCommand::Close {
                id: client.0.clone(),
            });
        }
    }

    /// What the shared log says besides messages and stored publishes: a session opened or closed on
    /// some node, or checked; a topic loaded, whose waiting readers are woken.
    pub fn on_session(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::SessionOpened { id, app } => {
                self.sessions.adopt(&app, &id, now);
            }
            Outcome::SessionClosed { id } => {
                if self.sessions.forget(&id) {
                    self.end_session_topic(&ClientId(id));
                }
            }
            Outcome::SessionChecked {
                id,
                alive,
                run_on_close,
            } => {
                if let Some(shared) = &mut self.shared_log {
                    shared.checking.remove(&id);
                }
                if alive {
                    // Used on another node: idle here, alive there (and refreshed there).
                    self.sessions.alive_elsewhere(&id, now);
                } else if run_on_close {
                    if let Some((client, outbox)) = self.sessions.end_now(&id) {
                        self.carry_out(outbox, now);
                        self.end_session_topic(&client);
                        // Tell the other nodes now, rather than at their own checks: a chat room
                        // there drops the member at once.
                        self.session_closed(&client);
                    }
                } else if self.sessions.forget(&id) {
                    self.end_session_topic(&ClientId(id));
                }
            }
            Outcome::Loaded { subscribers, .. } => self.wake(&subscribers),
            Outcome::Delivered(_) | Outcome::Stored { .. } => {}
        }
    }

    /// Ends the channel sessions nobody used for the grace period. With the shared log a session may
    /// be used on another node, so this node refreshes the TTL in Redis of those it used, and asks
    /// Redis about those idle here; one node then runs `on_close` ([`Room::on_session`]).
    pub fn expire_sessions(&mut self, now: Instant) {
        if self.shared_log.is_some() {
            return self.check_shared_sessions(now);
        }
        let hub = &self.hub;
        let expired = self.sessions.expire(now, |id| {
            hub.subscriber_count(&format!("{SESSION_TOPIC_PREFIX}{id}")) > 0
        });
        for (client, outbox) in expired {
            self.carry_out(outbox, now);
            self.end_session_topic(&client);
        }
    }

    fn check_shared_sessions(&mut self, now: Instant) {
        let hub = &self.hub;
        let used = self.sessions.take_used(now, |id| {
            hub.subscriber_count(&format!("{SESSION_TOPIC_PREFIX}{id}")) > 0
        });
        let idle = self.sessions.idle(now);
        let Some(shared) = &mut self.shared_log else {
            return;
        };
        for id in used {
            shared.sessions.push(SessionCommand::Refresh { id });
        }
        for id in idle {
            let asked_lately = shared
                .checking
                .get(&id)
                .is_some_and(|since| now.saturating_duration_since(*since) < SESSION_CHECK_RETRY);
            if !asked_lately {
                shared.checking.insert(id.clone(), now);
                shared.sessions.push(SessionCommand::Check { id });
            }
        }
    }

    /// Whether the buffers of all connections together have passed the global budget.
    pub fn over_global_budget(&self) -> bool {
        self.buffered_bytes > self.config.max_buffered_bytes
    }
}

/// Hashes subscription ids for `Room::subscribers`, which a publish looks up once per subscriber. The
/// ids are counted up by the room itself, never chosen by a client, so nobody can pick ids that
/// collide; the keyed SipHash that the standard `HashMap` uses against such attacks buys nothing here
/// and was a visible share of a broadcast's time in `cargo bench --bench core_fanout`. Multiplying by
/// 2^64 / φ (Fibonacci hashing) leaves consecutive ids distinct in the low bits that pick a bucket and
/// mixes them into the high bits that the table compares first.
#[derive(Debug, Default)]
struct SubscriberIdHasher(u64);

/// 2^64 divided by the golden ratio, rounded to an odd number.
const FIBONACCI_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for SubscriberIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(FIBONACCI_MULTIPLIER);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id).wrapping_mul(FIBONACCI_MULTIPLIER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::message_json;

    /// A thousand consecutive subscription ids land in a thousand different buckets of a table of
    /// 1,024, and their high bits (what the table compares first) differ too.
    #[test]
    fn consecutive_subscription_ids_spread_over_the_buckets() {
        let hash = |id: u64| {
            let mut hasher = SubscriberIdHasher::default();
            hasher.write_u64(id);
            hasher.finish()
        };
        let buckets: std::collections::BTreeSet<u64> =
            (1..=1000).map(|id| hash(id) % 1024).collect();
        assert_eq!(buckets.len(), 1000);
        let high_bits: std::collections::BTreeSet<u64> =
            (1..=1000).map(|id| hash(id) >> 57).collect();
        assert!(
            high_bits.len() > 100,
            "{} distinct top-7-bit values",
            high_bits.len()
        );
    }

    fn replay_of(id: u64, data: &str) -> Replay {
        Replay {
            reset: false,
            messages: vec![Rc::new(Message {
                id,
                data: data.into(),
                json: message_json(id, data),
            })],
            last: id,
        }
    }

    #[test]
    fn a_shared_answer_is_rebuilt_for_another_second_or_another_message_with_the_same_id() {
        let mut shared = SharedAnswer::default();
        let replay = replay_of(7, "a");
        let at_first = shared
            .answer(&BatchDoor::LongPoll, &replay, 1_700_000_000, true)
            .to_vec();
        let same = shared.answer(&BatchDoor::LongPoll, &replay, 1_700_000_000, true);
        assert_eq!(same, at_first.as_slice());
        let a_second_later = shared
            .answer(&BatchDoor::LongPoll, &replay, 1_700_000_001, true)
            .to_vec();
        assert_ne!(a_second_later, at_first, "the Date moved");
        // Another topic may have a message with the same id: the kept message itself is compared.
        let elsewhere = shared.answer(
            &BatchDoor::LongPoll,
            &replay_of(7, "b"),
            1_700_000_001,
            true,
        );
        assert!(elsewhere.ends_with(br#"{"messages":[{"id":7,"data":"b"}],"last":7}"#));
    }

    #[test]
    fn a_shared_answer_larger_than_the_bound_is_given_but_not_kept() {
        let mut shared = SharedAnswer::default();
        let big = "x".repeat(MAX_SHARED_ANSWER_BYTES);
        let replay = replay_of(1, &big);
        let answer = shared.answer(&BatchDoor::LongPoll, &replay, 0, true).len();
        assert!(answer > MAX_SHARED_ANSWER_BYTES);
        assert!(shared.said.is_none());
        shared.answer(&BatchDoor::LongPoll, &replay_of(2, "small"), 0, true);
        assert!(shared.bytes.capacity() <= 2 * MAX_SHARED_ANSWER_BYTES);
        assert!(shared.said.is_some());
    }
}
