//! The server core with the shared log (`config.redis`), without sockets and without Redis: the test
//! plays the event loop, takes the publishes the core queues for Redis, and hands back what Redis would
//! answer (`Core::on_shared_log`). So the `Storing` state is tested with a fake clock: the answer waits
//! for Redis, a refusal is 503, a silent Redis is 503 after `store_timeout`, pipelined requests wait
//! their turn, and a message that the feed brings wakes the local subscribers. Readers of a topic
//! whose history is not loaded yet wait for the load (a short poll, which cannot, gets 503).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushlab::hub::{Appended, HubError};
use pushlab::redis::backend::Outcome;
use pushlab::server::core::{reading_from, Core};
use pushlab::Config;

struct Harness {
    core: Core,
    now: Instant,
}

impl Harness {
    fn new() -> Harness {
        let config = Config {
            redis: Some("127.0.0.1:6379".parse().unwrap()),
            clock_interval: None,
            ..Config::default()
        };
        let now = Instant::now();
        let mut core = Core::new(config, 1000, Box::new(|| Ok("0".repeat(32))), now);
        // What the event loop does each turn: tell the room whether the backend can store.
        core.room.shared_log.as_mut().unwrap().reachable = true;
        Harness { core, now }
    }

    fn connect(&mut self) -> usize {
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        self.core.accept(peer, self.now).unwrap()
    }

    fn send(&mut self, token: usize, bytes: &[u8]) {
        self.core
            .receive(token, self.now, false, reading_from(bytes));
        self.settle();
    }

    /// Carries out the core's actions (here: drains them), as the event loop does after every call:
    /// news reaches its subscribers, and answers from Redis reach their connections, while they are.
    fn settle(&mut self) {
        while self.core.next_action().is_some() {}
    }

    /// What the client can read now (after settling whatever the test called on the core itself).
    fn read_text(&mut self, token: usize) -> String {
        self.settle();
        let mut got = Vec::new();
        self.core.transmit(token, self.now, |bytes| {
            got.extend_from_slice(bytes);
            Ok(bytes.len())
        });
        self.settle();
        String::from_utf8(got).unwrap()
    }

    /// The publishes queued for Redis since the last call: (ticket, topic, data).
    fn queued(&mut self) -> Vec<(u64, String, String)> {
        std::mem::take(&mut self.core.room.shared_log.as_mut().unwrap().outbox)
    }

    fn redis_answers(&mut self, ticket: u64, result: Result<u64, HubError>) {
        self.core
            .on_shared_log(vec![Outcome::Stored { ticket, result }], self.now);
        self.settle();
    }
}

fn publish_request(topic: &str, body: &str) -> String {
    format!(
        "POST /publish/{topic} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_publish_is_answered_only_when_redis_stored_it() {
    let mut h = Harness::new();
    let client = h.connect();
    h.send(client, publish_request("t", "hello").as_bytes());
    assert_eq!(h.read_text(client), "", "nothing before Redis answers");
    let queued = h.queued();
    assert_eq!(queued.len(), 1);
    let (ticket, topic, data) = &queued[0];
    assert_eq!((topic.as_str(), data.as_str()), ("t", "hello"));
    assert!(
        h.core.room.hub.head("t") < 5001,
        "the hub is not written by a publish"
    );
    h.redis_answers(*ticket, Ok(5001));
    let answer = h.read_text(client);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n{\"id\":5001}"), "{answer}");
}

#[test]
fn refused_unreachable_and_silent_redis_all_answer_503() {
    let mut h = Harness::new();
    let client = h.connect();
    // Refused: the link broke with the command in flight.
    h.send(client, publish_request("t", "a").as_bytes());
    let ticket = h.queued()[0].0;
    h.redis_answers(ticket, Err(HubError::Unavailable));
    assert!(h.read_text(client).starts_with("HTTP/1.1 503 "));

    // Unreachable: answered at once, nothing queued.
    h.core.room.shared_log.as_mut().unwrap().reachable = false;
    h.send(client, publish_request("t", "b").as_bytes());
    assert!(h.read_text(client).starts_with("HTTP/1.1 503 "));
    assert!(h.queued().is_empty());

    // Silent: the deadline answers, and a late reply changes nothing.
    h.core.room.shared_log.as_mut().unwrap().reachable = true;
    h.send(client, publish_request("t", "c").as_bytes());
    let ticket = h.queued()[0].0;
    h.now += Config::default().redis_limits.store_timeout + Duration::from_millis(1);
    h.core.on_timers(h.now, 0);
    assert!(h.read_text(client).starts_with("HTTP/1.1 503 "));
    h.redis_answers(ticket, Ok(7));
    assert_eq!(h.read_text(client), "", "no second answer");
}

#[test]
fn pipelined_requests_wait_for_the_stored_answer() {
    let mut h = Harness::new();
    let client = h.connect();
    let two = format!(
        "{}{}",
        publish_request("t", "one"),
        publish_request("t", "two")
    );
    h.send(client, two.as_bytes());
    let first = h.queued();
    assert_eq!(
        first.len(),
        1,
        "the second request waits for the first answer"
    );
    h.redis_answers(first[0].0, Ok(11));
    let second = h.queued();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].2, "two");
    h.redis_answers(second[0].0, Ok(12));
    let answers = h.read_text(client);
    let first_at = answers.find("{\"id\":11}").expect("first answer");
    let second_at = answers.find("{\"id\":12}").expect("second answer");
    assert!(first_at < second_at, "in order: {answers}");
}

#[test]
fn a_message_from_the_feed_wakes_a_long_poll() {
    let mut h = Harness::new();
    let now = h.now;
    // The mirror knows the topic (as after a load), and a long poll waits on it.
    h.core.room.hub.rebase("t", 5000, 5000, now).unwrap();
    h.core.room.hub.loaded("t");
    let client = h.connect();
    h.send(
        client,
        b"GET /longpoll/t?after=5000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert_eq!(h.read_text(client), "");
    let Ok(Appended::Published(published)) =
        h.core.room.hub.append_at("t", 5001, "from B".into(), now)
    else {
        panic!("5001 follows 5000");
    };
    h.core
        .on_shared_log(vec![Outcome::Delivered(published)], now);
    let answer = h.read_text(client);
    assert!(
        answer.contains(r#"{"messages":[{"id":5001,"data":"from B"}],"last":5001}"#),
        "{answer}"
    );
}

#[test]
fn a_reader_of_a_topic_not_loaded_yet_waits_for_the_load_and_gets_no_reset() {
    let mut h = Harness::new();
    let now = h.now;
    // The node has just started: no topic is loaded, and the reader resumes after 5001, an id of the
    // shared log that this mirror has never seen (its own ids would start after 1000).
    let client = h.connect();
    h.send(
        client,
        b"GET /longpoll/t?after=5001 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert_eq!(h.read_text(client), "", "parked, not told of a gap");
    let poller = h.connect();
    h.send(
        poller,
        b"GET /poll/t?after=5001 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    let refused = h.read_text(poller);
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
    assert!(refused.contains("Retry-After: 1\r\n"), "{refused}");

    // The backend loads 5001..=5003: messages enter the mirror, but the reader still waits...
    let hub = &mut h.core.room.hub;
    hub.rebase("t", 5000, 5003, now).unwrap();
    let mut delivered = Vec::new();
    for (id, data) in [(5001, "one"), (5002, "two"), (5003, "three")] {
        let Ok(Appended::Published(published)) = hub.append_at("t", id, data.into(), now) else {
            panic!("{id} is the next id");
        };
        delivered.push(Outcome::Delivered(published));
    }
    h.core.on_shared_log(delivered, now);
    assert_eq!(h.read_text(client), "", "the load is not in yet");
    // ...until the load is in: then exactly what follows its id.
    let subscribers = h.core.room.hub.loaded("t");
    assert_eq!(subscribers.len(), 1);
    h.core.on_shared_log(
        vec![Outcome::Loaded {
            topic: "t".into(),
            subscribers,
        }],
        now,
    );
    let answer = h.read_text(client);
    assert!(
        answer.contains(
            r#"{"messages":[{"id":5002,"data":"two"},{"id":5003,"data":"three"}],"last":5003}"#
        ),
        "{answer}"
    );
}

#[test]
fn a_long_poll_whose_hold_ends_before_the_load_gets_503() {
    let mut h = Harness::new();
    let client = h.connect();
    h.send(
        client,
        b"GET /longpoll/t?after=5001 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    assert_eq!(h.read_text(client), "");
    h.now += Config::default().hold_timeout + Duration::from_millis(1);
    h.core.on_timers(h.now, 0);
    let answer = h.read_text(client);
    assert!(
        answer.starts_with("HTTP/1.1 503 "),
        "the node's head of an unloaded topic is no place to resume from: {answer}"
    );
}
