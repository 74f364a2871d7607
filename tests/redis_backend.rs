//! The Redis backend driven directly, without a server around it: one `mio::Poll`, the backend's two
//! links on a real `redis-server` (started on a free loopback port with persistence off, stopped by
//! its PID), and a hub as its mirror. The test plays the event loop, so it decides which events are
//! handled when: here, a feed entry that arrives while the command link is down; another node's
//! housekeeping run right after a topic idle everywhere gained a subscriber here; and a topic that
//! keeps regaining its only subscriber, reported in use once between two runs.
//!
//! Without `redis-server` the tests print that they skipped; with `CI` set they fail instead.

mod common;

use common::redis::{another_nodes_housekeeping, redis_or_skip};

use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use pushlab::hub::{Hub, HubLimits};
use pushlab::redis::backend::{
    counter_key, stream_key, Backend, Outcome, PublishOptions, FEED_KEY, TOPICS_KEY,
};
use pushlab::redis::process::{self, RedisProcess};
use pushlab::redis::resp::Reply;
use pushlab::redis::RedisLimits;

const TIMEOUT: Duration = Duration::from_secs(10);

fn redis_command(redis: &RedisProcess, args: &[&str]) -> Reply {
    process::command(redis.addr(), args, TIMEOUT).unwrap()
}

/// One node's backend and mirror, driven by the test.
struct Node {
    poll: Poll,
    backend: Backend,
    hub: Hub,
    outcomes: Vec<Outcome>,
}

impl Node {
    fn new(redis: &RedisProcess) -> Node {
        let now = Instant::now();
        let backend = Backend::new(
            redis.addr(),
            (Token(0), Token(1)),
            RedisLimits::default(),
            100,
            (100, 100),
            "test-node".to_string(),
            now,
        );
        let mut hub = Hub::new(HubLimits::default(), 1000);
        // As a server with `--redis` starts: nothing is known before the first load.
        hub.hold_unknown_topics(true);
        hub.name_first_subscribed(true);
        Node {
            poll: Poll::new().unwrap(),
            backend,
            hub,
            outcomes: Vec::new(),
        }
    }

    /// One turn of the loop: the sockets that are ready, then (with `timers`) the backend's timers,
    /// which is where a dropped link connects again.
    fn turn(&mut self, timers: bool) {
        let mut events = Events::with_capacity(64);
        self.poll
            .poll(&mut events, Some(Duration::from_millis(10)))
            .unwrap();
        let now = Instant::now();
        for event in events.iter() {
            let registry = self.poll.registry();
            (self.backend).on_ready(
                event.token(),
                &mut self.hub,
                registry,
                now,
                &mut self.outcomes,
            );
        }
        if timers {
            let registry = self.poll.registry();
            (self.backend).on_timer(&mut self.hub, registry, now, &mut self.outcomes);
        }
    }

    /// Turns the loop until `done`; fails the test after [`TIMEOUT`].
    fn until(&mut self, what: &str, timers: bool, done: impl Fn(&Node) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.turn(timers);
        }
    }
}

/// The id of the client connection of ours that is not blocked in `XREAD` (the follower) and is not
/// the one asking: the command link.
fn command_link_client(redis: &RedisProcess) -> String {
    let list = redis_command(redis, &["CLIENT", "LIST"]);
    let text = list.as_str().unwrap().to_string();
    let line = text
        .lines()
        .find(|line| !line.contains("cmd=xread") && !line.contains("cmd=client"))
        .unwrap_or_else(|| panic!("no command link in {text}"));
    let id = line.split(' ').find_map(|field| field.strip_prefix("id="));
    id.unwrap().to_string()
}

/// A feed entry that shows a gap arrives while the command link is down, so the load it calls for
/// cannot be sent. When the link is back, the sync that follows loads the topic, and its readers stop
/// waiting with every message. (Before, the load counted as under way though it was never sent: the
/// sync skipped the topic and its readers waited for good.)
#[test]
fn a_gap_seen_while_the_command_link_is_down_is_loaded_when_it_is_back() {
    let Some(redis) =
        redis_or_skip("a_gap_seen_while_the_command_link_is_down_is_loaded_when_it_is_back")
    else {
        return;
    };
    let mut node = Node::new(&redis);
    node.until("the node to follow the feed", true, |n| {
        n.backend.is_following()
    });
    let registry = node.poll.registry();
    let options = PublishOptions::default();
    let (hub, outcomes) = (&mut node.hub, &mut node.outcomes);
    (node.backend)
        .publish(
            1,
            "t",
            "one".into(),
            options,
            hub,
            registry,
            Instant::now(),
            outcomes,
        )
        .unwrap();
    node.until("the publish to be stored", true, |n| {
        n.outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Stored { ticket: 1, .. }))
    });
    let first = node
        .outcomes
        .iter()
        .find_map(|o| match o {
            Outcome::Stored { ticket: 1, result } => Some(result.clone().unwrap()),
            _ => None,
        })
        .unwrap();
    node.until("the mirror to hold it", true, |n| n.hub.head("t") == first);

    // Only the command link breaks; the follower goes on.
    let client = command_link_client(&redis);
    redis_command(&redis, &["CLIENT", "KILL", "ID", &client]);
    node.until("the command link to drop", false, |n| {
        !n.backend.can_store()
    });

    // Two messages stored, the first of them missing from the feed: the node sees a gap.
    let (two, three) = (first + 1, first + 2);
    let key = stream_key("t");
    redis_command(&redis, &["XADD", &key, &format!("{two}-0"), "d", "two"]);
    redis_command(&redis, &["XADD", &key, &format!("{three}-0"), "d", "three"]);
    redis_command(&redis, &["SET", &counter_key("t"), &three.to_string()]);
    let entry = format!("{three}-0");
    let feed = [
        "XADD", FEED_KEY, "*", "t", "t", "i", &entry, "f", "0", "d", "three",
    ];
    redis_command(&redis, &feed);
    node.until("the gap to be seen", false, |n| n.hub.is_loading("t"));

    node.until("the topic to be loaded once the link is back", true, |n| {
        !n.hub.is_loading("t") && n.hub.head("t") == three
    });
    let replay = node.hub.read("t", Some(first), 10, Instant::now()).unwrap();
    assert!(!replay.reset);
    let got: Vec<(u64, &str)> = replay
        .messages
        .iter()
        .map(|m| (m.id, m.data.as_str()))
        .collect();
    assert_eq!(got, vec![(two, "two"), (three, "three")]);
}

/// Publishes `data` on `topic` through the node's backend and turns its loop until Redis stored it and
/// the node's mirror holds it. Returns the id.
fn publish_and_mirror(node: &mut Node, ticket: u64, topic: &str, data: &str) -> u64 {
    let registry = node.poll.registry();
    let (hub, outcomes) = (&mut node.hub, &mut node.outcomes);
    (node.backend)
        .publish(
            ticket,
            topic,
            data.into(),
            PublishOptions::default(),
            hub,
            registry,
            Instant::now(),
            outcomes,
        )
        .unwrap();
    let stored = |n: &Node| {
        n.outcomes.iter().find_map(|o| match o {
            Outcome::Stored { ticket: t, result } if *t == ticket => Some(result.clone().unwrap()),
            _ => None,
        })
    };
    node.until("the publish to be stored", true, |n| stored(n).is_some());
    let id = stored(node).unwrap();
    node.until("the mirror to hold it", true, |n| n.hub.head(topic) >= id);
    id
}

/// The score of `topic` in `pushlab:topics` (its last use, Redis milliseconds), if listed.
fn last_use(redis: &RedisProcess, topic: &str) -> Option<u64> {
    let score = redis_command(redis, &["ZSCORE", TOPICS_KEY, topic]);
    score.as_str().map(|s| s.parse().unwrap())
}

/// A topic idle on every node (its last use in Redis older than the idle timeout) gains a subscriber
/// here, and another node's housekeeping run comes right after. The node reported the use at once,
/// so the run finds the topic in use: its stream and counter stay, and the subscriber gets the next
/// publish with no reset. (Before, the use was reported only at the node's own next run, a quarter
/// of the idle timeout later; the other node's run removed the topic, the next publish started a new
/// counter at Redis's clock, and the subscriber was sent a reset for messages it had not missed.)
#[test]
fn a_topic_that_gains_a_subscriber_is_not_removed_as_idle_by_another_node() {
    let Some(redis) =
        redis_or_skip("a_topic_that_gains_a_subscriber_is_not_removed_as_idle_by_another_node")
    else {
        return;
    };
    let mut node = Node::new(&redis);
    node.until("the node to follow the feed", true, |n| {
        n.backend.is_following()
    });
    let first = publish_and_mirror(&mut node, 1, "t", "one");

    // Idle on every node: last used in 1970, as far as Redis knows.
    redis_command(&redis, &["ZADD", TOPICS_KEY, "XX", "1", "t"]);
    assert_eq!(last_use(&redis, "t"), Some(1));

    // A reader subscribes here after the message it has.
    let replay = node
        .hub
        .subscribe("t", 7, Some(first), Instant::now())
        .unwrap();
    assert!(!replay.reset && replay.messages.is_empty());
    node.until("the use to be reported to Redis", true, |_| {
        last_use(&redis, "t").is_some_and(|score| score > 1)
    });

    // Another node's housekeeping run: it reports nothing in use and removes what is idle.
    let idle = node.hub.limits().topic_idle_timeout;
    assert_eq!(
        another_nodes_housekeeping(&redis, idle),
        Reply::Integer(0),
        "nothing is idle"
    );
    assert!(last_use(&redis, "t").is_some(), "the topic is still listed");
    let counter = redis_command(&redis, &["GET", &counter_key("t")]);
    assert_eq!(
        counter,
        Reply::Bulk(first.to_string().into_bytes()),
        "its counter stays"
    );

    // The next message follows the reader's id: delivered to it, and no reset.
    node.outcomes.clear();
    let second = publish_and_mirror(&mut node, 2, "t", "two");
    assert_eq!(second, first + 1);
    let delivered: Vec<(u64, Vec<u64>)> = node
        .outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Delivered(published) => {
                Some((published.message.id, published.subscribers.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(delivered, vec![(second, vec![7])]);
    let replay = node.hub.read("t", Some(first), 10, Instant::now()).unwrap();
    assert!(!replay.reset, "the reader missed nothing");
    let got: Vec<(u64, &str)> = replay
        .messages
        .iter()
        .map(|m| (m.id, m.data.as_str()))
        .collect();
    assert_eq!(got, vec![(second, "two")]);
}

/// How many `EVAL`s Redis ran so far (publishes, housekeeping runs, reports of topics in use).
fn evals_run(redis: &RedisProcess) -> u64 {
    let info = redis_command(redis, &["INFO", "commandstats"]);
    let text = info.as_str().unwrap().to_string();
    text.lines()
        .find_map(|line| line.strip_prefix("cmdstat_eval:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// A topic that keeps losing and regaining its only subscriber (as it does under long polls, each a
/// new subscription) is reported in use once between two housekeeping runs, not once per subscriber:
/// the report costs nothing per poll.
#[test]
fn a_topic_that_regains_its_only_subscriber_is_reported_once_between_two_runs() {
    let Some(redis) =
        redis_or_skip("a_topic_that_regains_its_only_subscriber_is_reported_once_between_two_runs")
    else {
        return;
    };
    let mut node = Node::new(&redis);
    node.until("the node to follow the feed", true, |n| {
        n.backend.is_following()
    });
    let first = publish_and_mirror(&mut node, 1, "polled", "one");
    redis_command(&redis, &["ZADD", TOPICS_KEY, "XX", "1", "polled"]);
    node.hub
        .subscribe("polled", 1, Some(first), Instant::now())
        .unwrap();
    node.until("the first report", true, |_| {
        last_use(&redis, "polled").is_some_and(|score| score > 1)
    });
    let evals_before = evals_run(&redis);

    // Five more polls, each a first subscriber again, each followed by a turn of the loop.
    for subscriber in 2..7 {
        node.hub
            .unsubscribe("polled", subscriber - 1, Instant::now());
        (node.hub)
            .subscribe("polled", subscriber, Some(first), Instant::now())
            .unwrap();
        node.turn(true);
    }
    // A publish goes out on the same connection after anything those turns sent, so once it is
    // stored Redis has run every one of them.
    publish_and_mirror(&mut node, 2, "polled", "two");
    assert_eq!(
        evals_run(&redis) - evals_before,
        1,
        "the publish alone: the topic was reported already since the last run"
    );
}
