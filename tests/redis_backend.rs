//! The Redis backend driven directly, without a server around it: one `mio::Poll`, the backend's two
//! links on a real `redis-server` (started on a free loopback port with persistence off, stopped by
//! its PID), and a hub as its mirror. The test plays the event loop, so it decides which events are
//! handled when: here, a feed entry that arrives while the command link is down.
//!
//! Without `redis-server` the tests print that they skipped; with `CI` set they fail instead.

use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use pushlab::hub::{Hub, HubLimits};
use pushlab::redis::backend::{
    counter_key, stream_key, Backend, Outcome, PublishOptions, FEED_KEY,
};
use pushlab::redis::process::{self, RedisProcess};
use pushlab::redis::resp::Reply;
use pushlab::redis::RedisLimits;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Whether redis-server is here; prints the skip, and under `CI` fails instead.
fn redis_or_skip(test: &str) -> Option<RedisProcess> {
    if !RedisProcess::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: redis-server is not installed, and CI must run this test (apt-get install redis-server)"
        );
        println!("SKIPPED {test}: redis-server is not installed (apt-get install redis-server)");
        return None;
    }
    Some(RedisProcess::start().expect("redis-server starts"))
}

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
