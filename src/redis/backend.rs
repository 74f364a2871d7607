//! The hub's second backend: several pushlab processes (nodes) share every topic's log through Redis
//! Streams.
//!
//! # Theory of operation
//!
//! Each node keeps its in-memory [`Hub`] as a **mirror** of the shared log. Every door keeps reading
//! the local hub exactly as in the single-process server (cursors, replay, resets, retention), so the
//! doors and the connection core do not know which backend they have. What changes is where a message
//! comes from:
//!
//! ```text
//!  POST on node A ──► EVAL publish script ──► Redis: INCR + XADD topic stream + XADD feed (atomic)
//!                                                 │
//!  node A ◄── reply: the id (A acknowledges now) ─┘
//!  node A ◄─┬─ blocking XREAD on the feed (one per node, its own connection) ◄── feed
//!  node B ◄─┘      └─► hub.append_at(topic, id, data) ─► wake local subscribers
//! ```
//!
//! - **Publish** is one Lua script ([`PUBLISH_SCRIPT`]): Redis runs a script atomically, so the id
//!   counter, the topic's stream (`XADD` with `MAXLEN ~` retention), the feed and the set of topic
//!   names change together or not at all. The publisher is answered `{"id":N}` only when the script's
//!   reply arrives, that is, after Redis stored the message.
//! - **Delivery**: each node reads the one feed stream with `XREAD BLOCK` on a connection of its own,
//!   so each message crosses to each node once, however many local subscribers it has.
//! - **Resume** works from the local mirror. When the mirror cannot vouch for a topic (the node just
//!   started, a message arrives after a gap, Redis was away), the node loads the topic's stream with
//!   `XRANGE` and appends what it lacks; feed entries for that topic wait until the load is in.
//!
//! # Wire ids and stream ids
//!
//! A stream entry id is `<ms>-<seq>`. pushlab writes every entry with an explicit id `N-0`, where `N` is
//! the wire id: `{"id":N}` on the wire is entry `N-0` in `pushlab:topic:{name}`, and "after N" is
//! `XRANGE key (N-0 +`. `N` comes from a counter per topic in Redis (`pushlab:next:{name}`), incremented
//! by the publish script. Why this is correct across nodes:
//!
//! - *Strictly increasing, no gaps, no races.* `INCR` and `XADD` run inside one script, and Redis runs
//!   one script at a time: two nodes publishing at once get `N` and `N+1` in the order Redis ran their
//!   scripts, and the entries are appended in that same order. (Separate `INCR` then `XADD` commands
//!   would race: node A takes 5, node B takes 6 and appends first, and A's `XADD 5-0` is then refused
//!   because explicit ids must grow.) Ids are consecutive, which the hub's log relies on.
//! - *Never repeating across restarts.* A counter that does not exist (a new topic, a topic removed
//!   as idle, or Redis restarted without persistence) starts at the largest of Redis's clock in
//!   milliseconds (`TIME`), the publishing node's own head of the topic, and the id floor
//!   ([`ID_FLOOR_KEY`], the largest id of any topic removed as idle): as with the in-memory hub's
//!   `id_base` and its floor for evicted topics, a restarted log hands out ids larger than the old
//!   ones, and a client resuming with an old id gets a reset. The floor matters when a busy topic's
//!   ids ran ahead of the clock (more than one message per millisecond since it started): the clock
//!   alone could then hand its ids out again. The first message of a new counter is flagged in the
//!   feed (`f=1`), so that nodes rebase their mirror instead of taking the jump for a loss; when the
//!   new counter starts right after a node's head (the publishing node's head was the largest), that
//!   node has lost nothing and appends the message to the log it keeps.
//! - *At most 2^53.* Milliseconds since 1970 are about 1.8 × 10^12, far below 2^53 ≈ 9 × 10^15
//!   (`Number.MAX_SAFE_INTEGER`, what `pushlab.js` can hold exactly); the script refuses an id past it.
//!
//! Redis's own `*` ids were the alternative: they are increasing too, but `ms-seq` does not fit one
//! JavaScript number without packing, and they jump by the clock, while the hub's log and every door's
//! `after` expect consecutive integers.
//!
//! # Idle topics leave Redis
//!
//! `pushlab:topics` is a sorted set: each topic name scored by its last use, on Redis's clock. A
//! publish sets the score; so does each node's housekeeping run ([`HOUSEKEEPING_SCRIPT`], every
//! quarter of `hub.topic_idle_timeout`) for the topics in use there (with subscribers, or used since
//! the last run). The same run removes the topics whose score is older than the idle timeout: their
//! stream and counter are deleted, and their last id raises the floor. So a topic leaves Redis after
//! the idle time that evicts it from a node's hub (15 minutes by default), never while some node has
//! subscribers on it, and Redis holds the topics in use rather than every topic ever named. A starting
//! node loads the most recently used names first (`ZREVRANGE`, at most `hub.max_topics`).
//!
//! A run reports what is in use when it runs, and the runs are a quarter of the idle timeout apart. A
//! topic idle everywhere that gains a subscriber here just after this node's run would be reported
//! only at the next one, and another node's run in between would remove it under that subscriber (who
//! would then be sent a reset at the next publish, for nothing). So the moment a topic gains its first
//! local subscriber ([`Hub::take_first_subscribed`]), the node sets its score with
//! [`HOUSEKEEPING_SCRIPT`] run with a batch of 0 (it reports and removes nothing), at the end of the
//! loop's turn and without waiting for the reply. Each topic is
//! reported so at most once between two runs: a topic that keeps losing and regaining its only
//! subscriber (a long poll) costs one script per run, not one per poll. A load is not a use: the
//! topics a (re)connecting node loads are all of them, and reporting them would keep idle topics alive
//! for as long as nodes restart; their readers, if any, are first subscribers and are reported.
//!
//! # What a node cannot know yet
//!
//! Right after it starts (or reconnects), a node loads every topic with a round trip per page of 256
//! entries ([`LOAD_PAGE`]): the names from `pushlab:topics`, then each stream with `XRANGE`. Until a
//! topic's load is in, its mirror may be empty or behind, and the mirror's answer to "after N" would
//! be wrong: a client that read up to N on another node would be told of a gap (a reset) that the
//! shared log does not have. So readers of such a topic wait:
//!
//! - The hub counts a topic as *loading* while its `XRANGE` pages come in ([`Hub::set_loading`]), and,
//!   until the node's list of topics is in and every listed topic loaded, every topic the hub does
//!   not hold yet ([`Hub::hold_unknown_topics`], set from the start and again whenever a link drops).
//! - A reader of a loading topic is answered the way it would be on a quiet topic: a stream or a
//!   WebSocket opens (200 or 101) and waits at its cursor, a long poll or JSONP poll is parked. No
//!   message and no reset goes out. When the load is in ([`Outcome::Loaded`]) they are woken and read
//!   the loaded log: exactly what follows their id, or a reset only if the shared log warrants it.
//! - A short poll cannot wait: it gets 503 with `Retry-After: 1`. So does a parked poll whose hold
//!   runs out while its topic is still loading (Redis unreachable since the node started, say), since
//!   the node has no head to send it back with. The hold is the bound on how long a poll waits for
//!   Redis; streams wait like any subscriber while Redis is away.
//! - A subscriber "from now" on a topic created while loading sits at `hub::PENDING_HEAD` (2^53, an
//!   id the shared log never hands out), and resumes after whatever the load brings.
//!
//! Once the whole list is loaded, a topic the hub still does not hold has no history in Redis, and its
//! readers are answered as on any new topic.
//!
//! # One clock per cluster
//!
//! Every node's timer ticks the `clock` topic, but only one node may publish it, or two nodes would
//! tick it twice a second. The tick's publish carries a lease ([`CLOCK_LEASE_KEY`]): inside the same
//! script, a node publishes only if the lease is free or already its own, and then (re)sets it to its
//! name for `RedisLimits::clock_lease` (3 s). The holder renews it with every tick; the other nodes' ticks find it taken
//! and publish nothing (the script returns nil). When the holder stops, its lease runs out and the
//! next tick of another node takes it over, so the clock misses at most a lease's worth of ticks.
//! Checking and taking the lease in the publish script costs no extra round trip, and the check and
//! the publish cannot be separated by another node's tick.
//!
//! # Channel sessions
//!
//! A session's record lives in Redis (`pushlab:session:<id>`, its application) with a TTL of the grace
//! period. Opens and closes go through the feed, so every node adopts or forgets the record
//! ([`Outcome::SessionOpened`], [`Outcome::SessionClosed`]); a node refreshes the TTL of the sessions it
//! served ([`SessionCommand::Refresh`]); and a node where a session is idle does not end it on its own
//! clock but asks ([`SessionCommand::Check`]): while the record lives, the session is busy elsewhere;
//! once it expired, the first node to set `pushlab:session-end:<id>` runs `on_close` and announces the
//! close on the feed, so the others forget it at once. An application that builds state from its
//! sessions (the chat room's member list) is told of both, through `on_adopt` and `on_forget` (see
//! `ChatRoom` in `crate::channel`), so that state is one for the whole cluster.
//!
//! # Publishing once
//!
//! A publish whose reply is lost (the connection to Redis broke with the script in flight, or Redis
//! answered after `store_timeout`) is answered 503, and yet Redis may have stored it: retrying it
//! plainly could store it twice. A client that sends an `Idempotency-Key` header with its publish can
//! retry safely, through any node. The publish script looks up the key's record
//! (`pushlab:once:<topic>:<key>`, [`once_key`]) before anything else:
//!
//! - absent: it publishes, and in the same script records `<id>:<sha1 of the data>` with a TTL of
//!   `hub.publish_key_ttl` (10 minutes);
//! - present with the same SHA-1 (Redis computes it, `redis.sha1hex`): it returns the recorded id and
//!   stores nothing, so the retry is answered `{"id":N}` with the first id;
//! - present with another SHA-1: an error reply `KEYREUSED`, answered 422.
//!
//! Because the check and the publish are one script, two copies of the request racing on two nodes
//! cannot both publish: whichever script Redis runs first publishes, the other finds its record. So
//! with a key, "at least once" becomes "exactly once" for retries within the TTL; without one, a
//! publish whose reply was lost stays at-least-once. The in-memory hub keeps the same rule for a single
//! process (`Hub::publish_once`).
//!
//! # While Redis is away
//!
//! A publish answers 503 at once (nothing is acknowledged that was not stored); one whose reply was
//! lost with the connection answers 503 too, although Redis may have stored it (the client may then
//! publish it twice, unless it sent an idempotency key: see "Publishing once"; never a false
//! acknowledgement). Subscribers stay connected and
//! idle. When the links are back, the follower takes the feed's last id, and the node then loads every
//! topic it holds from its stream after its local head, so delivery resumes from the last id each node
//! had, with nothing skipped and nothing twice.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Registry, Token};

use super::limits::RedisLimits;
use super::link::{Link, LinkEvent};
use super::resp::Reply;
use crate::hub::{Appended, Hub, HubError, Published, SubscriberId};

mod sessions;

pub use sessions::{session_key, SessionCommand};

/// Entries asked for per `XRANGE` when loading a topic: 256 of the largest messages (64 KiB) are 16 MiB,
/// a quarter of the RESP parser's bound on one reply.
pub const LOAD_PAGE: usize = 256;

/// A publish waiting for Redis, numbered by the caller.
pub type Ticket = u64;

/// The stream of every message of every topic, read by each node.
pub const FEED_KEY: &str = "pushlab:feed";
/// Every topic name, scored by its last use (Redis's clock in milliseconds: a publish, or a node
/// reporting it in use), so a starting node knows what to load and idle topics can be found.
pub const TOPICS_KEY: &str = "pushlab:topics";
/// The largest id any removed topic had handed out: a new counter starts above it.
pub const ID_FLOOR_KEY: &str = "pushlab:id-floor";

/// The stream that holds `topic`'s log.
pub fn stream_key(topic: &str) -> String {
    format!("pushlab:topic:{topic}")
}

/// The counter of `topic`'s last id.
pub fn counter_key(topic: &str) -> String {
    format!("pushlab:next:{topic}")
}

/// The key of an idempotency record: the id a publish with `key` on `topic` got, and its data's
/// SHA-1 (`<id>:<sha1 hex>`), kept for `hub.publish_key_ttl`.
pub fn once_key(topic: &str, key: &str) -> String {
    format!("pushlab:once:{topic}:{key}")
}

/// How a publish is stored, besides its topic and data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishOptions {
    /// Stored only by the node holding the clock lease (see "One clock per cluster").
    pub leased: bool,
    /// The client's idempotency key: a retry with it gets the first id (see "Publishing once").
    pub once_key: Option<String>,
}

/// The key of the clock lease: the name of the node that publishes the `clock` topic.
pub const CLOCK_LEASE_KEY: &str = "pushlab:clock-lease";

/// The publish script. KEYS: the topic's stream, its counter, the feed, the topic names by last use,
/// the id floor, the clock lease (`''` unless the publish is leased), the idempotency record (`''`
/// unless the publish carries a key). ARGV: the topic, the data, the publishing node's head of the
/// topic (a floor of a new counter), the topic's retention, the feed's retention, the node's name and
/// the lease's length (ms) for a leased publish, and how long an idempotency record lives (ms).
/// Returns the new id; the first id when the key was seen with the same data (nothing is stored); an
/// error starting `KEYREUSED` when it was seen with other data; nil when the lease belongs to another
/// node (nothing is published).
pub const PUBLISH_SCRIPT: &str = r#"
if KEYS[7] ~= '' then
  local seen = redis.call('GET', KEYS[7])
  if seen then
    local id, print = string.match(seen, '^(%d+):(%x+)$')
    if print ~= redis.sha1hex(ARGV[2]) then
      return redis.error_reply('KEYREUSED the idempotency key was used with another message')
    end
    return tonumber(id)
  end
end
if KEYS[6] ~= '' then
  local holder = redis.call('GET', KEYS[6])
  if holder and holder ~= ARGV[6] then
    return false
  end
  redis.call('SET', KEYS[6], ARGV[6], 'PX', ARGV[7])
end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local first = 0
if redis.call('EXISTS', KEYS[2]) == 0 then
  local base = now_ms
  local node_head = tonumber(ARGV[3])
  if node_head > base then base = node_head end
  local floor = tonumber(redis.call('GET', KEYS[5]) or '0')
  if floor > base then base = floor end
  redis.call('SET', KEYS[2], string.format('%d', base))
  first = 1
end
local id = redis.call('INCR', KEYS[2])
if id > 9007199254740991 then
  return redis.error_reply('ERR pushlab: ids would pass 2^53')
end
local entry = string.format('%d-0', id)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], entry, 'd', ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 't', ARGV[1], 'i', entry, 'f', first, 'd', ARGV[2])
redis.call('ZADD', KEYS[4], now_ms, ARGV[1])
if KEYS[7] ~= '' then
  redis.call('SET', KEYS[7], string.format('%d', id) .. ':' .. redis.sha1hex(ARGV[2]), 'PX', ARGV[8])
end
return id
"#;

/// The housekeeping script, run by every node about four times per idle timeout. KEYS: the topic names
/// by last use, the id floor. ARGV: the idle timeout (ms), the most idle topics to remove in one run,
/// then the names of the topics in use on this node (subscribed to, or used since the last run), whose
/// last use becomes now. A topic unused for the idle timeout on every node then goes: its stream and
/// counter are deleted, its name leaves the set, and its last id raises the floor, so that a counter
/// started for the name later hands out larger ids. Returns how many topics went.
///
/// With a batch of 0 it removes nothing and only reports: that is how a node reports the topics that
/// just came into use there (see "Idle topics leave Redis" in the module docs). `XX` only updates, so
/// a name another node removed meanwhile is not listed again: its stream is gone, and its next publish
/// starts a new counter.
///
/// The stream and counter keys are built from the names inside the script rather than passed as KEYS:
/// which topics are idle is only known in there. Redis Cluster would refuse that (a script may touch
/// only the keys it declares, all in one slot); see "Redis Cluster" in chapter 17.
pub const HOUSEKEEPING_SCRIPT: &str = r#"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now_ms, ARGV[i])
end
local idle = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms - tonumber(ARGV[1]), 'LIMIT', 0, ARGV[2])
if #idle == 0 then return 0 end
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
for _, name in ipairs(idle) do
  local last = tonumber(redis.call('GET', 'pushlab:next:' .. name) or '0')
  if last > floor then floor = last end
  redis.call('DEL', 'pushlab:topic:' .. name, 'pushlab:next:' .. name)
  redis.call('ZREM', KEYS[1], name)
end
redis.call('SET', KEYS[2], string.format('%d', floor))
return #idle
"#;

/// Most idle topics one housekeeping run removes, so that one run stays short however many went idle
/// (the rest go on the next runs).
pub const HOUSEKEEPING_BATCH: usize = 100;

/// The shortest time between two housekeeping runs.
const MIN_HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(100);

/// What the backend tells the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A message entered the local mirror: wake these subscribers.
    Delivered(Published),
    /// The publish with this ticket was stored (its id) or not.
    Stored {
        /// The caller's number for the publish.
        ticket: Ticket,
        /// The wire id, or why it was not stored.
        result: Result<u64, HubError>,
    },
    /// A channel session was opened on some node (this one included): adopt it.
    SessionOpened {
        /// The session id.
        id: String,
        /// Its application.
        app: String,
    },
    /// A channel session was closed on some node: forget it (its `on_close` ran there).
    SessionClosed {
        /// The session id.
        id: String,
    },
    /// A topic's history is loaded: its readers, who waited for it, read what it brought (see
    /// "What a node cannot know yet").
    Loaded {
        /// The topic.
        topic: String,
        /// Its subscribers here, to wake.
        subscribers: Vec<SubscriberId>,
    },
    /// The answer to [`SessionCommand::Check`]: the session lives on (used on some node), or its TTL
    /// ran out; then `run_on_close` is true on exactly one node.
    SessionChecked {
        /// The session id.
        id: String,
        /// Whether Redis still has its record.
        alive: bool,
        /// Whether this node is the one that runs the application's `on_close`.
        run_on_close: bool,
    },
}

/// What a command on the command link was for.
#[derive(Debug)]
enum CommandTag {
    /// A publish: kept so that the publishing node can add the message to its mirror at once.
    Publish {
        ticket: Ticket,
        topic: String,
        data: String,
    },
    /// The topic names, most recently used first, at (re)connection.
    Members,
    /// A housekeeping run (its reply, how many topics went, is only logged).
    Housekeeping,
    /// Topics just come into use here, reported at once ([`HOUSEKEEPING_SCRIPT`] with a batch of 0;
    /// the reply is not needed).
    Touch,
    /// `XRANGE` of one topic's stream.
    Load { topic: String },
    /// A session command whose reply only confirms it.
    SessionWrite,
    /// One page of `SCAN` over the session records, at (re)connection; `seen` counts records so far.
    SessionScan { seen: usize },
    /// The applications of these sessions (`MGET` of their records).
    SessionApps { ids: Vec<String> },
    /// The check of an idle session.
    SessionCheck { id: String },
}

/// What a command on the follower link was for.
#[derive(Debug)]
enum FollowTag {
    /// `XREVRANGE feed + - COUNT 1`: where to start following.
    FeedHead,
    /// `XREAD BLOCK ... STREAMS feed <cursor>`.
    Read,
}

/// One feed entry: a message of some topic.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FeedEntry {
    topic: String,
    id: u64,
    /// The first message of a new counter (a new topic, or a restarted Redis).
    first: bool,
    data: String,
}

/// How far a (re)connection's load of every topic has come: until the list of topic names is in and
/// each of them is loaded, a topic the mirror does not hold may still have history in Redis.
#[derive(Debug, Default)]
struct SyncProgress {
    /// Whether the list of topic names came back.
    names_in: bool,
    /// The topics of this load still being fetched.
    topics: HashSet<String>,
}

/// The Redis backend of one node (see the module docs).
#[derive(Debug)]
pub struct Backend {
    commands: Link<CommandTag>,
    follower: Link<FollowTag>,
    limits: RedisLimits,
    /// Messages each topic keeps, here and in its stream.
    retention: usize,
    /// Most topics loaded at (re)connection.
    max_topics: usize,
    /// Most session records loaded at (re)connection.
    max_sessions: usize,
    /// The feed entry id after which the follower reads next; `None` until known on this connection.
    feed_cursor: Option<String>,
    /// Whether the topics were loaded since both links came up.
    synced_since_up: bool,
    /// Topics whose mirror is known to be in step with the shared log.
    in_step: HashSet<String>,
    /// Topics being loaded, with the feed entries that arrived meanwhile.
    loading: HashMap<String, Vec<FeedEntry>>,
    /// Topics whose pending entries overflowed during a load: load again when it is in.
    reload: HashSet<String>,
    /// The (re)connection's load of every topic, while it is in progress.
    sync: Option<SyncProgress>,
    /// When the next housekeeping run is due (`None` until the first timer).
    next_housekeeping: Option<Instant>,
    /// When the last housekeeping run that went out was sent: the next one reports the topics used
    /// since (`None`: every topic, none was reported yet).
    reported_use_until: Option<Instant>,
    /// Topics reported as just used (a housekeeping run with a batch of 0) since the last housekeeping run went out: each is
    /// reported at most once per run, however often it loses and regains its subscribers (each long
    /// poll is a new subscriber), since that run reports every topic in use anyway.
    touched: HashSet<String>,
    /// Whether the last report said the backend was reachable (to log changes once).
    reported_up: bool,
    /// This node's name in the clock lease, unique among the nodes sharing the Redis server.
    node: String,
}

impl Backend {
    /// A backend for Redis at `addr`; its two connections use `tokens`; `retention` messages per topic;
    /// at most `max_topics` topics and `max_sessions` sessions are loaded at (re)connection; `node` names
    /// this node in the clock lease (it must differ from every other node's). Connection attempts
    /// start at the first [`Backend::on_timer`].
    pub fn new(
        addr: SocketAddr,
        tokens: (Token, Token),
        limits: RedisLimits,
        retention: usize,
        (max_topics, max_sessions): (usize, usize),
        node: String,
        now: Instant,
    ) -> Backend {
        Backend {
            commands: Link::new(addr, tokens.0, limits.resp.clone(), now),
            follower: Link::new(addr, tokens.1, limits.resp.clone(), now),
            limits,
            retention,
            max_topics,
            max_sessions,
            feed_cursor: None,
            synced_since_up: false,
            in_step: HashSet::new(),
            loading: HashMap::new(),
            reload: HashSet::new(),
            sync: None,
            next_housekeeping: None,
            reported_use_until: None,
            touched: HashSet::new(),
            reported_up: false,
            node,
        }
    }

    /// Whether a publish can be stored now.
    pub fn can_store(&self) -> bool {
        self.commands.is_up() && self.commands.unsent_bytes() <= self.limits.max_unsent_bytes
    }

    /// Whether both connections are up and the node follows the feed.
    pub fn is_following(&self) -> bool {
        self.can_store() && self.follower.is_up() && self.feed_cursor.is_some()
    }

    /// Whether `token` is one of the backend's connections.
    pub fn owns(&self, token: Token) -> bool {
        token == self.commands.token() || token == self.follower.token()
    }

    /// When [`Backend::on_timer`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.commands.next_deadline(),
            self.follower.next_deadline(),
            self.next_housekeeping,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Connection attempts and housekeeping runs that are due, and the topics just come into use
    /// here. The server calls it at the end of every turn of its loop (not only at
    /// [`Backend::next_deadline`]), so a topic's first subscriber is reported in the same turn.
    pub fn on_timer(
        &mut self,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let mut events = Vec::new();
        self.commands.on_timer(registry, now, &mut events);
        self.on_command_events(events, hub, registry, now, out);
        let mut events = Vec::new();
        self.follower.on_timer(registry, now, &mut events);
        self.on_follow_events(events, hub, registry, now, out);
        self.housekeeping_when_due(hub, registry, now, out);
        self.touch_first_subscribed(hub, registry, now, out);
    }

    /// Reports at once the topics that gained their first subscriber here since the last turn: their
    /// last use in Redis becomes now (see "Idle topics leave Redis"). Without it, such a topic would be
    /// reported only at this node's next housekeeping run, up to a quarter of the idle timeout later,
    /// and another node's run in between could remove it (its stream and counter deleted) under this
    /// node's subscribers, who would then be sent a reset for nothing. One small script per turn, and
    /// only in a turn where some topic went from no subscriber to one: nothing per message.
    fn touch_first_subscribed(
        &mut self,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if !self.can_store() {
            // The names stay in the hub's list until the link can take them. (A report lost with a
            // link that dropped is not sent again: the node's next run reports the topic anyway.)
            return;
        }
        let mut names = hub.take_first_subscribed();
        names.retain(|name| self.touched.insert(name.clone()));
        if names.is_empty() {
            return;
        }
        // A run that may remove no topic: it only reports these as used now.
        self.send_housekeeping(CommandTag::Touch, 0, &names, hub, registry, now, out);
    }

    /// Every quarter of the hub's idle timeout: reports the topics in use here and removes those idle
    /// on every node (see [`HOUSEKEEPING_SCRIPT`]). So a topic leaves Redis after the same idle time as
    /// it leaves a node's hub, and never while a node has subscribers on it.
    fn housekeeping_when_due(
        &mut self,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let idle_timeout = hub.limits().topic_idle_timeout;
        // (A floor, so that a tiny idle timeout cannot make every turn a run.)
        let interval = (idle_timeout / 4).max(MIN_HOUSEKEEPING_INTERVAL);
        let due = *self.next_housekeeping.get_or_insert(now + interval);
        if now < due {
            return;
        }
        self.next_housekeeping = Some(now + interval);
        if !self.can_store() {
            return; // the next run reports the use since the last run that went out
        }
        // This run reports every topic with subscribers: those just subscribed need no report of
        // their own, and from here on each topic may be reported once until the next run.
        hub.take_first_subscribed();
        self.touched.clear();
        let in_use = hub.topics_in_use(self.reported_use_until);
        self.reported_use_until = Some(now);
        let tag = CommandTag::Housekeeping;
        self.send_housekeeping(tag, HOUSEKEEPING_BATCH, &in_use, hub, registry, now, out);
    }

    /// Sends [`HOUSEKEEPING_SCRIPT`]: the topics `in_use` become used now, and at most `batch` idle
    /// topics go.
    #[allow(clippy::too_many_arguments)] // the loop's context (hub, registry, clock, outcomes) and the run
    fn send_housekeeping(
        &mut self,
        tag: CommandTag,
        batch: usize,
        in_use: &[String],
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let idle_ms = hub.limits().topic_idle_timeout.as_millis().to_string();
        let batch = batch.to_string();
        let mut args = vec![
            "EVAL",
            HOUSEKEEPING_SCRIPT,
            "2",
            TOPICS_KEY,
            ID_FLOOR_KEY,
            idle_ms.as_str(),
            batch.as_str(),
        ];
        args.extend(in_use.iter().map(String::as_str));
        self.send_command(tag, &args, hub, registry, now, out);
    }

    /// One of the backend's sockets is ready.
    pub fn on_ready(
        &mut self,
        token: Token,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if token == self.commands.token() {
            let mut events = Vec::new();
            self.commands.on_ready(registry, now, &mut events);
            self.on_command_events(events, hub, registry, now, out);
        } else if token == self.follower.token() {
            let mut events = Vec::new();
            self.follower.on_ready(registry, now, &mut events);
            self.on_follow_events(events, hub, registry, now, out);
        }
    }

    /// Sends `data` to `topic`'s shared log. Its fate comes back as [`Outcome::Stored`] with `ticket`;
    /// `Err` now when Redis cannot take it. A leased publish (the clock's tick) is stored only by the
    /// node that holds the clock lease, and takes or renews it (see "One clock per cluster"); on
    /// another node it comes back as not stored. A publish with an idempotency key is stored once per
    /// key (see "Publishing once").
    #[allow(clippy::too_many_arguments)] // the loop's context (hub, registry, clock, outcomes) and the message
    pub fn publish(
        &mut self,
        ticket: Ticket,
        topic: &str,
        data: String,
        options: PublishOptions,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) -> Result<(), HubError> {
        if !self.can_store() {
            return Err(HubError::Unavailable);
        }
        let floor = hub.head(topic).to_string();
        let retention = self.retention.to_string();
        let feed_retention = self.limits.feed_retention.to_string();
        let (stream, counter) = (stream_key(topic), counter_key(topic));
        let lease_ms = self.limits.clock_lease.as_millis().to_string();
        let lease_key = if options.leased { CLOCK_LEASE_KEY } else { "" };
        let once = options
            .once_key
            .as_deref()
            .map_or(String::new(), |key| once_key(topic, key));
        let once_ttl_ms = hub.limits().publish_key_ttl.as_millis().to_string();
        let args: [&[u8]; 18] = [
            b"EVAL",
            PUBLISH_SCRIPT.as_bytes(),
            b"7",
            stream.as_bytes(),
            counter.as_bytes(),
            FEED_KEY.as_bytes(),
            TOPICS_KEY.as_bytes(),
            ID_FLOOR_KEY.as_bytes(),
            lease_key.as_bytes(),
            once.as_bytes(),
            topic.as_bytes(),
            data.as_bytes(),
            floor.as_bytes(),
            retention.as_bytes(),
            feed_retention.as_bytes(),
            self.node.as_bytes(),
            lease_ms.as_bytes(),
            once_ttl_ms.as_bytes(),
        ];
        let tag = CommandTag::Publish {
            ticket,
            topic: topic.to_string(),
            data: data.clone(),
        };
        let mut events = Vec::new();
        let sent = self.commands.send(tag, &args, registry, now, &mut events);
        self.on_command_events(events, hub, registry, now, out);
        sent.map_err(|_| HubError::Unavailable)
    }

    // ----- the command link: publishes and loads -----

    fn send_command<A: AsRef<[u8]>>(
        &mut self,
        tag: CommandTag,
        args: &[A],
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let mut events = Vec::new();
        // Refused only while down, and then the next (re)connection loads everything anyway.
        let _ = self.commands.send(tag, args, registry, now, &mut events);
        self.on_command_events(events, hub, registry, now, out);
    }

    fn on_command_events(
        &mut self,
        events: Vec<LinkEvent<CommandTag>>,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        for event in events {
            match event {
                LinkEvent::Up => self.sync_when_ready(hub, registry, now, out),
                LinkEvent::Reply(tag, reply) => {
                    self.on_command_reply(tag, reply, hub, registry, now, out)
                }
                LinkEvent::Down { lost, reason } => {
                    self.synced_since_up = false;
                    // A touch in flight may be lost: a topic may be reported again once the link is back.
                    self.touched.clear();
                    // Until the next sync, a topic this node never saw may have history it cannot load.
                    hub.hold_unknown_topics(true);
                    for tag in lost {
                        match tag {
                            CommandTag::Publish { ticket, .. } => out.push(Outcome::Stored {
                                ticket,
                                result: Err(HubError::Unavailable),
                            }),
                            CommandTag::Load { topic } => {
                                self.loading.remove(&topic);
                            }
                            CommandTag::Members
                            | CommandTag::Housekeeping
                            | CommandTag::Touch
                            | CommandTag::SessionWrite
                            | CommandTag::SessionScan { .. }
                            | CommandTag::SessionApps { .. }
                            | CommandTag::SessionCheck { .. } => {}
                        }
                    }
                    self.report(&reason);
                }
            }
        }
        self.report("");
    }

    fn on_command_reply(
        &mut self,
        tag: CommandTag,
        reply: Reply,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        match tag {
            CommandTag::Publish {
                ticket,
                topic,
                data,
            } => {
                let result = match reply {
                    Reply::Integer(id) => u64::try_from(id).map_err(|_| HubError::Unavailable),
                    // A leased publish on a node that does not hold the lease: nothing was stored,
                    // as intended, so nothing is logged.
                    Reply::Null => Err(HubError::Unavailable),
                    Reply::Error(error) if error.starts_with("KEYREUSED") => {
                        Err(HubError::KeyReused)
                    }
                    other => {
                        log(format_args!("publish to {topic} not stored: {other:?}"));
                        Err(HubError::Unavailable)
                    }
                };
                // The publishing node need not wait for the feed to show its own message: readers
                // here see it as soon as its publisher is answered.
                if let (Ok(id), true) = (&result, self.in_step.contains(&topic)) {
                    if let Ok(Appended::Published(published)) =
                        hub.append_at(&topic, *id, data, now)
                    {
                        out.push(Outcome::Delivered(published));
                    }
                }
                out.push(Outcome::Stored { ticket, result });
            }
            CommandTag::Members => {
                let names: Vec<String> = reply
                    .as_array()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|name| name.as_str().map(str::to_string))
                    .filter(|name| Hub::valid_topic(name))
                    .take(self.max_topics)
                    .collect();
                if let Some(sync) = &mut self.sync {
                    sync.names_in = true;
                    sync.topics.extend(names.iter().cloned());
                }
                for topic in names {
                    self.start_load(&topic, hub, registry, now, out);
                }
                self.finish_sync_when_done(hub, out);
            }
            CommandTag::Load { topic } => self.on_loaded(&topic, &reply, hub, registry, now, out),
            CommandTag::Housekeeping => match reply {
                Reply::Integer(0) => {}
                Reply::Integer(gone) => log(format_args!("{gone} idle topics removed")),
                other => log(format_args!("housekeeping failed: {other:?}")),
            },
            CommandTag::Touch => {
                if let Reply::Error(error) = reply {
                    log(format_args!("reporting topics in use failed: {error}"));
                }
            }
            CommandTag::SessionWrite => {}
            CommandTag::SessionScan { seen } => {
                self.on_session_scan(&reply, seen, hub, registry, now, out)
            }
            CommandTag::SessionApps { ids } => {
                let apps = reply.as_array().unwrap_or_default();
                for (id, app) in ids.into_iter().zip(apps) {
                    if let Some(app) = app.as_str() {
                        let app = app.to_string();
                        out.push(Outcome::SessionOpened { id, app });
                    }
                }
            }
            CommandTag::SessionCheck { id } => {
                // Anything but the script's answer leaves the session be: it is checked again later.
                let (alive, run_on_close) = match reply {
                    Reply::Integer(0) => (false, true),
                    Reply::Integer(-1) => (false, false),
                    _ => (true, false),
                };
                out.push(Outcome::SessionChecked {
                    id,
                    alive,
                    run_on_close,
                });
            }
        }
    }

    /// Once both links are up and the feed's position is known: load every topic, those the node
    /// holds and those Redis names, so that nothing published while the node was away is missed.
    fn sync_when_ready(
        &mut self,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if self.synced_since_up || !self.commands.is_up() || self.feed_cursor.is_none() {
            return;
        }
        self.synced_since_up = true;
        let last_rank = self.max_topics.saturating_sub(1).to_string();
        hub.hold_unknown_topics(true);
        self.sync = Some(SyncProgress {
            names_in: false,
            topics: hub.topic_names().into_iter().collect(),
        });
        self.send_command(
            CommandTag::Members,
            &["ZREVRANGE", TOPICS_KEY, "0", &last_rank],
            hub,
            registry,
            now,
            out,
        );
        self.scan_sessions("0", 0, hub, registry, now, out);
        for topic in hub.topic_names() {
            self.start_load(&topic, hub, registry, now, out);
        }
    }

    /// Asks for `topic`'s stream: after the local head when the mirror is in step, whole otherwise.
    fn start_load(
        &mut self,
        topic: &str,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if self.loading.contains_key(topic) {
            return;
        }
        hub.set_loading(topic);
        if !self.commands.is_up() {
            // The load cannot be sent now, and is not recorded as under way: the sync that follows
            // the command link's return loads every topic after its head, this one included, and
            // would skip a topic recorded here (its readers would wait for good). The feed entry
            // that asked for it is in the stream that sync reads.
            return;
        }
        self.loading.insert(topic.to_string(), Vec::new());
        let start = if self.in_step.contains(topic) {
            format!("({}-0", hub.head(topic))
        } else {
            "-".to_string()
        };
        self.load_page(topic, &start, hub, registry, now, out);
    }

    /// One page of a load: at most [`LOAD_PAGE`] entries from `start`, so that one reply stays well
    /// inside the RESP limits even with the largest messages.
    fn load_page(
        &mut self,
        topic: &str,
        start: &str,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let count = LOAD_PAGE.to_string();
        let key = stream_key(topic);
        let args = ["XRANGE", key.as_str(), start, "+", "COUNT", count.as_str()];
        let tag = CommandTag::Load {
            topic: topic.to_string(),
        };
        self.send_command(tag, &args, hub, registry, now, out);
    }

    /// A page of a topic's stream arrived: append what the mirror lacks; ask for the next page, or
    /// when this was the last, replay the feed entries that waited.
    fn on_loaded(
        &mut self,
        topic: &str,
        reply: &Reply,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let entries: Vec<(u64, String)> = reply
            .as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(range_entry)
            .collect();
        if let (false, Some(first), Some(last)) = (
            self.in_step.contains(topic),
            entries.first(),
            entries.last(),
        ) {
            // The mirror did not know this topic: it starts where the kept log starts. Readers who
            // subscribed "from now" before the load resume after this page (they asked for nothing old).
            let _ = hub.rebase(topic, first.0.saturating_sub(1), last.0, now);
        }
        if !entries.is_empty() {
            self.in_step.insert(topic.to_string());
        }
        let next_page = (entries.len() >= LOAD_PAGE)
            .then(|| entries.last().map(|(id, _)| format!("({id}-0")))
            .flatten();
        for (id, data) in entries {
            self.apply(topic, id, data, hub, now, out);
        }
        if let Some(start) = next_page {
            return self.load_page(topic, &start, hub, registry, now, out);
        }
        let waited = self.loading.remove(topic).unwrap_or_default();
        for entry in waited {
            self.on_feed_entry(entry, false, hub, registry, now, out);
        }
        if self.reload.remove(topic) {
            return self.start_load(topic, hub, registry, now, out);
        }
        self.end_wait(topic, hub, out);
        if let Some(sync) = &mut self.sync {
            sync.topics.remove(topic);
        }
        self.finish_sync_when_done(hub, out);
    }

    /// `topic`'s readers stop waiting: those subscribed are woken to read what the load brought.
    fn end_wait(&mut self, topic: &str, hub: &mut Hub, out: &mut Vec<Outcome>) {
        let subscribers = hub.loaded(topic);
        if !subscribers.is_empty() {
            let topic = topic.to_string();
            out.push(Outcome::Loaded { topic, subscribers });
        }
    }

    /// Once the list of topic names is in and each of them is loaded, the mirror holds everything the
    /// shared log had when the node (re)connected, and what came since arrives on the feed: a topic
    /// the hub does not hold has no history, and its readers (waiting since they came) are answered.
    fn finish_sync_when_done(&mut self, hub: &mut Hub, out: &mut Vec<Outcome>) {
        // A link that dropped meanwhile (`synced_since_up` false) means another sync is to come.
        let done = self.synced_since_up
            && self
                .sync
                .as_ref()
                .is_some_and(|sync| sync.names_in && sync.topics.is_empty());
        if !done {
            return;
        }
        self.sync = None;
        hub.hold_unknown_topics(false);
        for topic in hub.loading_topics() {
            if !self.loading.contains_key(&topic) {
                self.end_wait(&topic, hub, out);
            }
        }
    }

    /// Appends a message the shared log has, rebasing the mirror when it jumps (readers who missed
    /// something are then told with a reset).
    fn apply(
        &mut self,
        topic: &str,
        id: u64,
        data: String,
        hub: &mut Hub,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        match hub.append_at(topic, id, data.clone(), now) {
            Ok(Appended::Published(published)) => out.push(Outcome::Delivered(published)),
            Ok(Appended::Duplicate) | Err(_) => {}
            Ok(Appended::Gap { .. } | Appended::Unknown) => {
                let previous = id.saturating_sub(1);
                if hub.rebase(topic, previous, previous, now).is_ok() {
                    if let Ok(Appended::Published(published)) = hub.append_at(topic, id, data, now)
                    {
                        out.push(Outcome::Delivered(published));
                    }
                }
            }
        }
    }

    // ----- the follower link: the feed -----

    fn on_follow_events(
        &mut self,
        events: Vec<LinkEvent<FollowTag>>,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        for event in events {
            match event {
                LinkEvent::Up => {
                    let args = ["XREVRANGE", FEED_KEY, "+", "-", "COUNT", "1"];
                    self.send_follow(FollowTag::FeedHead, &args, hub, registry, now, out);
                }
                LinkEvent::Reply(FollowTag::FeedHead, reply) => {
                    // An empty feed: read from its very start, so an entry added meanwhile is not missed.
                    let head = reply
                        .as_array()
                        .and_then(<[Reply]>::first)
                        .and_then(Reply::as_array)
                        .and_then(<[Reply]>::first)
                        .and_then(Reply::as_str)
                        .unwrap_or("0-0");
                    self.feed_cursor = Some(head.to_string());
                    self.follow(hub, registry, now, out);
                    self.sync_when_ready(hub, registry, now, out);
                }
                LinkEvent::Reply(FollowTag::Read, reply) => {
                    for (entry_id, entry) in feed_entries(&reply) {
                        self.feed_cursor = Some(entry_id);
                        match entry {
                            Some(FeedItem::Message(entry)) => {
                                self.on_feed_entry(entry, true, hub, registry, now, out)
                            }
                            Some(FeedItem::Session(outcome)) => out.push(outcome),
                            None => {}
                        }
                    }
                    self.follow(hub, registry, now, out);
                }
                LinkEvent::Down { reason, .. } => {
                    self.feed_cursor = None;
                    self.synced_since_up = false;
                    hub.hold_unknown_topics(true);
                    self.report(&reason);
                }
            }
        }
        self.report("");
    }

    fn send_follow(
        &mut self,
        tag: FollowTag,
        args: &[&str],
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let mut events = Vec::new();
        let _ = self.follower.send(tag, args, registry, now, &mut events);
        self.on_follow_events(events, hub, registry, now, out);
    }

    /// Blocks in `XREAD` for the next feed entries.
    fn follow(&mut self, hub: &mut Hub, registry: &Registry, now: Instant, out: &mut Vec<Outcome>) {
        let Some(cursor) = self.feed_cursor.clone() else {
            return;
        };
        let count = self.limits.follow_batch.to_string();
        let block = self.limits.follow_block.as_millis().to_string();
        let args = [
            "XREAD",
            "COUNT",
            count.as_str(),
            "BLOCK",
            block.as_str(),
            "STREAMS",
            FEED_KEY,
            cursor.as_str(),
        ];
        self.send_follow(FollowTag::Read, &args, hub, registry, now, out);
    }

    /// One message from the feed. `may_load`: a gap may start a load (not while replaying the entries
    /// that waited for one: those take the jump, so a log that lacks them cannot loop).
    fn on_feed_entry(
        &mut self,
        entry: FeedEntry,
        may_load: bool,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if let Some(waiting) = self.loading.get_mut(&entry.topic) {
            if waiting.len() < self.limits.max_pending_per_topic {
                waiting.push(entry);
            } else {
                self.reload.insert(entry.topic);
            }
            return;
        }
        let in_step = self.in_step.contains(&entry.topic);
        if entry.first {
            self.on_new_counter(entry, in_step, hub, now, out);
            return;
        }
        if !may_load {
            self.apply(&entry.topic, entry.id, entry.data, hub, now, out);
            self.in_step.insert(entry.topic);
            return;
        }
        if in_step {
            match hub.append_at(&entry.topic, entry.id, entry.data.clone(), now) {
                Ok(Appended::Published(published)) => {
                    return out.push(Outcome::Delivered(published))
                }
                Ok(Appended::Duplicate) | Err(_) => return,
                Ok(Appended::Gap { .. }) => {}
                Ok(Appended::Unknown) => {
                    self.in_step.remove(&entry.topic);
                }
            }
        }
        // The mirror cannot vouch for what precedes this entry: fetch the topic, and let the entry wait.
        let topic = entry.topic.clone();
        self.start_load(&topic, hub, registry, now, out);
        if let Some(waiting) = self.loading.get_mut(&topic) {
            waiting.push(entry);
        }
    }

    /// The first message of a new counter (a new topic, or one whose counter was removed as idle or
    /// lost with a restarted Redis). The counter starts at the largest of Redis's clock, the
    /// publishing node's head and the id floor, so its first id either jumps (the log starts over
    /// there: readers behind are told with a reset) or, when the topic's ids had run ahead of the
    /// clock, follows the mirror's head exactly: then nothing was missed, and the message is simply
    /// appended. Starting the log over in that case too would empty it, and every reader not yet
    /// at the head would be sent a reset for messages this node holds.
    fn on_new_counter(
        &mut self,
        entry: FeedEntry,
        in_step: bool,
        hub: &mut Hub,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let head = hub.head(&entry.topic);
        let published_here = in_step && head == entry.id;
        let follows_head = in_step && head.checked_add(1) == Some(entry.id);
        if follows_head {
            self.apply(&entry.topic, entry.id, entry.data, hub, now, out);
        } else if !published_here {
            let previous = entry.id.saturating_sub(1);
            if hub.rebase(&entry.topic, previous, previous, now).is_ok() {
                self.apply(&entry.topic, entry.id, entry.data, hub, now, out);
            }
        }
        self.in_step.insert(entry.topic);
    }

    /// Logs when the backend becomes reachable or unreachable (once per change).
    fn report(&mut self, reason: &str) {
        let up = self.is_following();
        if up != self.reported_up {
            self.reported_up = up;
            if up {
                log(format_args!("following the shared log"));
            } else {
                log(format_args!(
                    "shared log unreachable ({reason}); publishes answer 503 until it is back"
                ));
            }
        }
    }
}

/// One log line on standard error, like the server's.
fn log(message: std::fmt::Arguments<'_>) {
    eprintln!("pushlab: redis: {message}");
}

/// The wire id of stream entry id `N-0`.
fn wire_id(entry_id: &str) -> Option<u64> {
    let (n, seq) = entry_id.split_once('-')?;
    (seq == "0").then(|| n.parse().ok()).flatten()
}

/// One `XRANGE` entry of a topic stream: `[id, [d, data]]` as `(wire id, data)`.
fn range_entry(entry: &Reply) -> Option<(u64, String)> {
    let [id, fields] = entry.as_array()? else {
        return None;
    };
    let id = wire_id(id.as_str()?)?;
    let data = field(fields, "d")?;
    Some((id, data.to_string()))
}

/// The value of field `name` in an entry's flat `[field, value, ...]` list.
fn field<'r>(fields: &'r Reply, name: &str) -> Option<&'r str> {
    fields
        .as_array()?
        .chunks_exact(2)
        .find_map(|pair| match pair {
            [key, value] if key.as_str() == Some(name) => value.as_str(),
            _ => None,
        })
}

/// What a feed entry carries.
#[derive(Debug, PartialEq, Eq)]
enum FeedItem {
    /// A message of a topic.
    Message(FeedEntry),
    /// A channel session opened or closed on some node.
    Session(Outcome),
}

/// The entries of an `XREAD` reply on the feed: each entry's id (the next cursor), and what it carries
/// (`None` for an entry that is not one of ours, which is skipped).
fn feed_entries(reply: &Reply) -> Vec<(String, Option<FeedItem>)> {
    let Some([stream]) = reply.as_array() else {
        return Vec::new(); // a null reply: the block timed out with nothing new
    };
    let Some([_key, entries]) = stream.as_array() else {
        return Vec::new();
    };
    entries
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            let [id, fields] = entry.as_array()? else {
                return None;
            };
            Some((id.as_str()?.to_string(), feed_item(fields)))
        })
        .collect()
}

/// One feed entry's fields: a message (`t`, `i`, `f`, `d`) or a session event (`k`, `s`, `a`).
fn feed_item(fields: &Reply) -> Option<FeedItem> {
    match field(fields, "k") {
        Some("open") => Some(FeedItem::Session(Outcome::SessionOpened {
            id: field(fields, "s")?.to_string(),
            app: field(fields, "a")?.to_string(),
        })),
        Some("close") => Some(FeedItem::Session(Outcome::SessionClosed {
            id: field(fields, "s")?.to_string(),
        })),
        Some(_) => None,
        None => Some(FeedItem::Message(FeedEntry {
            topic: field(fields, "t")?.to_string(),
            id: wire_id(field(fields, "i")?)?,
            first: field(fields, "f")? == "1",
            data: field(fields, "d")?.to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Reply {
        Reply::Bulk(text.as_bytes().to_vec())
    }

    #[test]
    fn wire_ids_are_the_stream_ids_milliseconds_part_with_sequence_zero() {
        assert_eq!(wire_id("1733241600001-0"), Some(1_733_241_600_001));
        assert_eq!(wire_id("5-1"), None, "pushlab writes only N-0");
        assert_eq!(wire_id("x-0"), None);
        assert_eq!(wire_id("5"), None);
    }

    #[test]
    fn feed_entries_are_read_from_an_xread_reply() {
        let entry = |id: &str, fields: &[&str]| {
            Reply::Array(vec![
                bulk(id),
                Reply::Array(fields.iter().map(|f| bulk(f)).collect()),
            ])
        };
        let reply = Reply::Array(vec![Reply::Array(vec![
            bulk(FEED_KEY),
            Reply::Array(vec![
                entry("9-1", &["t", "chat", "i", "1001-0", "f", "1", "d", "hi"]),
                entry("9-2", &["x", "y"]),
                entry("9-3", &["k", "open", "s", "abc", "a", "echo"]),
                entry("9-4", &["k", "close", "s", "abc"]),
            ]),
        ])]);
        assert_eq!(
            feed_entries(&reply),
            vec![
                (
                    "9-1".to_string(),
                    Some(FeedItem::Message(FeedEntry {
                        topic: "chat".into(),
                        id: 1001,
                        first: true,
                        data: "hi".into()
                    }))
                ),
                ("9-2".to_string(), None),
                (
                    "9-3".to_string(),
                    Some(FeedItem::Session(Outcome::SessionOpened {
                        id: "abc".into(),
                        app: "echo".into()
                    }))
                ),
                (
                    "9-4".to_string(),
                    Some(FeedItem::Session(Outcome::SessionClosed {
                        id: "abc".into()
                    }))
                ),
            ]
        );
        assert!(feed_entries(&Reply::Null).is_empty());
    }
}
