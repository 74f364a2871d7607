//! Two pushlab nodes sharing their topics through one Redis (`--redis`), over real sockets: publish on
//! one node, read on the other through every door; Redis stopped and restarted under a stream, and
//! restarted under a topic whose ids ran ahead of the clock (which goes on with no reset); a node
//! killed under a stream, its client resuming on the other node; one clock tick per second however
//! many nodes tick it, and another node taking the clock over when its publisher stops; readers that
//! come before a late node loaded the history; idle topics leaving Redis, but not one that just gained
//! a subscriber on some node; a publish retried with an idempotency key; channel sessions moving
//! between nodes and living until their TTL runs out; and the chat room's member list across nodes.
//!
//! Each test starts its own `redis-server` on a free loopback port with persistence off and stops it
//! by its PID. Without `redis-server` the tests print that they skipped; with `CI` set they fail.

mod common;

use common::redis::{another_nodes_housekeeping, redis_or_skip};

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushlab::client::iframe::IframeClient;
use pushlab::client::json::{self, JsonValue};
use pushlab::client::jsonp::jsonp_poll;
use pushlab::client::poll::{long_poll, short_poll};
use pushlab::client::sse::SseClient;
use pushlab::client::stream::XhrStreamClient;
use pushlab::client::{door_path, http, publish, ws, PushEvent, ReceivedMessage};
use pushlab::redis::backend::{CLOCK_LEASE_KEY, LOAD_PAGE};
use pushlab::redis::process::RedisProcess;
use pushlab::redis::resp::Reply;
use pushlab::server::RunningServer;
use pushlab::ws::Event;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A node of the cluster: a server on a free port sharing topics through `redis`.
fn node(redis: &RedisProcess) -> RunningServer {
    node_with(redis, |_| {})
}

/// A node whose config `change` adjusts further (after the cluster settings).
fn node_with(redis: &RedisProcess, change: impl FnOnce(&mut pushlab::Config)) -> RunningServer {
    let node = common::server_with(|config| {
        config.redis = Some(redis.addr());
        config.hold_timeout = Duration::from_secs(3);
        // The tests publish from one address faster than the default rate allows.
        config.publish_rate_per_ip = 0;
        change(config);
    });
    // A node can store publishes once its connections to Redis are up.
    wait_for("the node to reach Redis", || {
        let answer = http::post(node.addr, "/publish/warmup", b"x").ok()?;
        (answer.status == 200).then_some(())
    });
    node
}

/// Retries `probe` until it gives a value; fails the test after [`TIMEOUT`].
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `node`'s mirror of `topic` holds every message up to `last`.
fn wait_for_mirror(node: SocketAddr, topic: &str, last: u64) {
    wait_for("the other node's mirror", || {
        let batch = short_poll(node, topic, Some(last - 1)).ok()?;
        batch
            .messages
            .last()
            .is_some_and(|m| m.id == last)
            .then_some(())
    });
}

fn message(id: u64, data: &str) -> ReceivedMessage {
    ReceivedMessage {
        id,
        data: data.to_string(),
    }
}

/// The seven doors, each as "read `count` messages after `after`" on one node.
#[derive(Clone, Copy, Debug)]
enum Door {
    ShortPoll,
    LongPoll,
    Jsonp,
    XhrStream,
    Iframe,
    Sse,
    WebSocket,
}

const DOORS: [Door; 7] = [
    Door::ShortPoll,
    Door::LongPoll,
    Door::Jsonp,
    Door::XhrStream,
    Door::Iframe,
    Door::Sse,
    Door::WebSocket,
];

/// A door opened on a node, reading messages in order; resets are reported as such.
enum Reader {
    Batch {
        door: Door,
        addr: SocketAddr,
        topic: String,
        after: Option<u64>,
    },
    Stream(XhrStreamClient),
    Iframe(IframeClient),
    Sse(SseClient),
    WebSocket(ws::Client),
}

impl Reader {
    fn open(door: Door, addr: SocketAddr, topic: &str, after: Option<u64>) -> Reader {
        match door {
            Door::ShortPoll | Door::LongPoll | Door::Jsonp => Reader::Batch {
                door,
                addr,
                topic: topic.to_string(),
                after,
            },
            Door::XhrStream => {
                Reader::Stream(XhrStreamClient::connect(addr, topic, after, TIMEOUT).unwrap())
            }
            Door::Iframe => {
                Reader::Iframe(IframeClient::connect(addr, topic, after, "got", TIMEOUT).unwrap())
            }
            Door::Sse => Reader::Sse(
                SseClient::connect(addr, &door_path("sse", topic, after, &[]), None, TIMEOUT)
                    .unwrap(),
            ),
            Door::WebSocket => {
                let mut client =
                    ws::Client::connect(addr, &door_path("ws", topic, after, &[])).unwrap();
                client.set_read_timeout(Some(TIMEOUT)).unwrap();
                Reader::WebSocket(client)
            }
        }
    }

    /// The next events (messages or resets) this door hands over; blocks up to the timeout.
    fn next(&mut self) -> Vec<PushEvent> {
        match self {
            Reader::Batch {
                door,
                addr,
                topic,
                after,
            } => {
                let batch = match door {
                    Door::ShortPoll => {
                        std::thread::sleep(Duration::from_millis(20));
                        short_poll(*addr, topic, *after)
                    }
                    Door::LongPoll => long_poll(*addr, topic, *after, TIMEOUT),
                    _ => jsonp_poll(*addr, topic, *after, "got", TIMEOUT),
                }
                .unwrap();
                *after = Some(batch.last);
                let mut events: Vec<PushEvent> = Vec::new();
                if batch.reset {
                    events.push(PushEvent::Reset { last: batch.last });
                }
                events.extend(batch.messages.into_iter().map(PushEvent::Message));
                events
            }
            Reader::Stream(client) => client.next_event().unwrap().into_iter().collect(),
            Reader::Iframe(client) => client.next_event().unwrap().into_iter().collect(),
            Reader::Sse(client) => {
                let event = client.next_event().unwrap().expect("the stream goes on");
                match event.event_type.as_str() {
                    "message" => vec![PushEvent::Message(message(
                        event.last_event_id.parse().unwrap(),
                        &event.data,
                    ))],
                    "reset" => vec![PushEvent::Reset {
                        last: event.last_event_id.parse().unwrap(),
                    }],
                    _ => vec![PushEvent::Heartbeat],
                }
            }
            Reader::WebSocket(client) => match client.recv().unwrap() {
                Event::Text(text) => {
                    let value: JsonValue = json::parse(&text).unwrap();
                    PushEvent::from_json(&value).into_iter().collect()
                }
                _ => Vec::new(),
            },
        }
    }

    /// Reads until `count` messages came; returns every message and reset, in order.
    fn read(&mut self, count: usize) -> Vec<PushEvent> {
        let deadline = Instant::now() + TIMEOUT;
        let mut events = Vec::new();
        while events
            .iter()
            .filter(|e| matches!(e, PushEvent::Message(_)))
            .count()
            < count
        {
            assert!(Instant::now() < deadline, "timed out; got {events:?}");
            events.extend(
                self.next()
                    .into_iter()
                    .filter(|e| !matches!(e, PushEvent::Heartbeat)),
            );
        }
        events
    }

    /// The data of the next message (the chat tests read one line at a time).
    fn next_data(&mut self) -> String {
        messages(&self.read(1))[0].data.clone()
    }
}

fn messages(events: &[PushEvent]) -> Vec<ReceivedMessage> {
    events
        .iter()
        .filter_map(|e| match e {
            PushEvent::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn published_on_one_node_read_on_the_other_through_every_door() {
    let Some(redis) = redis_or_skip("published_on_one_node_read_on_the_other_through_every_door")
    else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    for door in DOORS {
        let topic = format!("doors-{door:?}");
        // History: published on A before anyone reads on B.
        let first = publish(a.addr, &topic, "one").unwrap();
        let second = publish(a.addr, &topic, "two").unwrap();
        assert_eq!(second, first + 1, "ids increase by one per topic");
        wait_for_mirror(b.addr, &topic, second);
        let mut reader = Reader::open(door, b.addr, &topic, Some(first - 1));
        let replay = reader.read(2);
        assert_eq!(
            replay,
            vec![
                PushEvent::Message(message(first, "one")),
                PushEvent::Message(message(second, "two"))
            ],
            "{door:?}: the replay on B"
        );
        // Live: published on A while B's reader waits.
        let third = publish(a.addr, &topic, "three <&> \u{2028}").unwrap();
        assert_eq!(third, second + 1);
        assert_eq!(
            reader.read(1),
            vec![PushEvent::Message(message(third, "three <&> \u{2028}"))],
            "{door:?}: live on B"
        );
        // And the other way round: published on B, the id continues the same sequence.
        let fourth = publish(b.addr, &topic, "four").unwrap();
        assert_eq!(fourth, third + 1, "one sequence per topic across nodes");
        assert_eq!(
            reader.read(1),
            vec![PushEvent::Message(message(fourth, "four"))],
            "{door:?}: published on B"
        );
    }
}

#[test]
fn a_websocket_publisher_on_one_node_reaches_subscribers_on_both() {
    let Some(redis) =
        redis_or_skip("a_websocket_publisher_on_one_node_reaches_subscribers_on_both")
    else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    let head = publish(a.addr, "wsroom", "start").unwrap();
    wait_for_mirror(b.addr, "wsroom", head);
    let mut on_a = Reader::open(Door::Sse, a.addr, "wsroom", Some(head));
    let mut on_b = Reader::open(Door::XhrStream, b.addr, "wsroom", Some(head));
    let mut publisher = ws::Client::connect(a.addr, "/ws/wsroom").unwrap();
    for i in 0..20 {
        publisher.send_text(&format!("frame {i}")).unwrap();
    }
    let expected: Vec<ReceivedMessage> = (0..20)
        .map(|i| message(head + 1 + i, &format!("frame {i}")))
        .collect();
    assert_eq!(messages(&on_a.read(20)), expected);
    assert_eq!(messages(&on_b.read(20)), expected);
}

#[test]
fn while_redis_is_down_publish_answers_503_and_subscribers_stay() {
    let Some(mut redis) =
        redis_or_skip("while_redis_is_down_publish_answers_503_and_subscribers_stay")
    else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    let head = publish(a.addr, "outage", "before").unwrap();
    wait_for_mirror(b.addr, "outage", head);
    let mut subscriber = Reader::open(Door::Sse, b.addr, "outage", Some(head));
    wait_for("the subscription", || {
        (b.subscriber_count("outage").ok()? == 1).then_some(())
    });
    // A stream of messages from both nodes, all delivered on B in order.
    let before: Vec<ReceivedMessage> = (0..20)
        .map(|i| {
            let publisher = if i % 2 == 0 { a.addr } else { b.addr };
            let data = format!("before {i}");
            message(publish(publisher, "outage", &data).unwrap(), &data)
        })
        .collect();
    assert_eq!(messages(&subscriber.read(20)), before);

    redis.stop();
    let refused = wait_for("a 503", || {
        let answer = http::post(a.addr, "/publish/outage", b"lost?").ok()?;
        (answer.status == 503).then_some(answer)
    });
    assert!(
        refused.text().unwrap().contains("retry"),
        "{:?}",
        refused.text()
    );
    assert_eq!(
        b.subscriber_count("outage").unwrap(),
        1,
        "the subscriber is kept"
    );

    // Redis comes back empty (no persistence): the counter starts over above every id handed out,
    // and the subscriber on B gets what is published next, from either node.
    redis.restart().unwrap();
    let first_after = wait_for("publish to work again", || {
        publish(a.addr, "outage", "after 0").ok()
    });
    let last_before = before.last().unwrap().id;
    assert!(
        first_after > last_before,
        "{first_after} must pass {last_before}: ids never repeat"
    );
    let mut after = vec![message(first_after, "after 0")];
    for i in 1..20 {
        let publisher = if i % 2 == 0 { a.addr } else { b.addr };
        let data = format!("after {i}");
        let id = wait_for("a publish", || publish(publisher, "outage", &data).ok());
        after.push(message(id, &data));
    }
    let events = subscriber.read(20);
    assert_eq!(messages(&events), after, "in order, once each");
    // Redis lost its log, so B cannot vouch that nothing was published in between: it says so, once.
    assert!(
        matches!(events.first(), Some(PushEvent::Reset { .. })),
        "an explicit reset before the messages: {events:?}"
    );
    let resets = events
        .iter()
        .filter(|e| matches!(e, PushEvent::Reset { .. }))
        .count();
    assert_eq!(resets, 1, "{events:?}");
}

/// Redis comes back empty while a topic's ids had run ahead of the clock: the new counter starts
/// right after the publishing node's head, so the next message follows the log every node holds.
/// The other node appends it and keeps its log: a reader there that is behind the head still gets
/// every message, and no reset (before, the node started its log over at the new counter, and that
/// reader was told it had missed messages the node had).
#[test]
fn after_redis_restarts_a_topic_ahead_of_the_clock_goes_on_without_a_reset() {
    let Some(mut redis) =
        redis_or_skip("after_redis_restarts_a_topic_ahead_of_the_clock_goes_on_without_a_reset")
    else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    let ahead: u64 = 3_000_000_000_000_000;
    redis_command(&redis, &["SET", "pushlab:next:ahead", &ahead.to_string()]);
    let before: Vec<ReceivedMessage> = (1..=3)
        .map(|i| {
            let data = format!("m{i}");
            message(publish(a.addr, "ahead", &data).unwrap(), &data)
        })
        .collect();
    assert_eq!(before[2].id, ahead + 3);
    wait_for_mirror(b.addr, "ahead", ahead + 3);

    redis.restart().unwrap();
    // B follows the new Redis's feed again (it saw a message published since), so the next message
    // of `ahead` reaches it on the feed, flagged as the first of a new counter.
    let warm = wait_for("publish to work again", || {
        publish(a.addr, "warm", "x").ok()
    });
    wait_for_mirror(b.addr, "warm", warm);
    let next = publish(a.addr, "ahead", "m4").unwrap();
    assert_eq!(next, ahead + 4, "the new counter starts after A's head");
    wait_for_mirror(b.addr, "ahead", next);

    let behind = short_poll(b.addr, "ahead", Some(before[0].id)).unwrap();
    assert!(!behind.reset, "B holds every message after it: {behind:?}");
    assert_eq!(
        behind.messages,
        vec![before[1].clone(), before[2].clone(), message(next, "m4")]
    );
}

#[test]
fn a_client_of_a_killed_node_resumes_on_the_other_with_nothing_lost_or_repeated() {
    let Some(redis) = redis_or_skip(
        "a_client_of_a_killed_node_resumes_on_the_other_with_nothing_lost_or_repeated",
    ) else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    let head = publish(b.addr, "failover", "start").unwrap();
    wait_for_mirror(a.addr, "failover", head);
    let mut on_a = Reader::open(Door::Sse, a.addr, "failover", Some(head));
    let published: Vec<u64> = (0..30)
        .map(|i| publish(b.addr, "failover", &format!("m{i}")).unwrap())
        .collect();
    let mut got = messages(&on_a.read(10));
    let last_seen = got.last().unwrap().id;
    drop(on_a);
    drop(a); // the node goes away with its client's stream
    let mut on_b = Reader::open(Door::Sse, b.addr, "failover", Some(last_seen));
    let rest = on_b.read(published.len() - got.len());
    assert!(
        !rest.iter().any(|e| matches!(e, PushEvent::Reset { .. })),
        "{rest:?}"
    );
    got.extend(messages(&rest));
    let expected: Vec<ReceivedMessage> = published
        .iter()
        .enumerate()
        .map(|(i, id)| message(*id, &format!("m{i}")))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn a_node_started_later_loads_the_history_from_redis() {
    let Some(redis) = redis_or_skip("a_node_started_later_loads_the_history_from_redis") else {
        return;
    };
    let a = node(&redis);
    // More than one page of a load (`LOAD_PAGE`), so the history comes in several `XRANGE`s.
    let count = 2 * LOAD_PAGE + 50;
    let ids: Vec<u64> = (0..count)
        .map(|i| publish(a.addr, "history", &format!("h{i}")).unwrap())
        .collect();
    let b = node(&redis);
    wait_for_mirror(b.addr, "history", ids[count - 1]);
    let mut after = ids[1];
    let mut read = Vec::new();
    while read.len() < count - 2 {
        let batch = short_poll(b.addr, "history", Some(after)).unwrap();
        assert!(!batch.reset);
        after = batch.last;
        read.extend(batch.messages);
    }
    let expected: Vec<ReceivedMessage> = (2..count)
        .map(|i| message(ids[i], &format!("h{i}")))
        .collect();
    assert_eq!(read, expected);
}

/// One blocking command to Redis, its reply parsed by the crate's own RESP parser.
fn redis_command(redis: &RedisProcess, args: &[&str]) -> Reply {
    pushlab::redis::process::command(redis.addr(), args, TIMEOUT).unwrap()
}

#[test]
fn a_wire_id_n_is_stream_entry_n_0_and_topics_are_scored_by_their_last_use() {
    let Some(redis) =
        redis_or_skip("a_wire_id_n_is_stream_entry_n_0_and_topics_are_scored_by_their_last_use")
    else {
        return;
    };
    let a = node(&redis);
    let first = publish(a.addr, "layout", "α").unwrap();
    let second = publish(a.addr, "layout", "β").unwrap();
    let Reply::Array(entries) =
        redis_command(&redis, &["XRANGE", "pushlab:topic:layout", "-", "+"])
    else {
        panic!("not an array");
    };
    let expected = |id: u64, data: &str| {
        Reply::Array(vec![
            Reply::Bulk(format!("{id}-0").into_bytes()),
            Reply::Array(vec![
                Reply::Bulk(b"d".to_vec()),
                Reply::Bulk(data.as_bytes().to_vec()),
            ]),
        ])
    };
    assert_eq!(entries, vec![expected(first, "α"), expected(second, "β")]);
    assert_eq!(
        redis_command(&redis, &["GET", "pushlab:next:layout"]),
        Reply::Bulk(second.to_string().into_bytes()),
        "the counter holds the last id handed out"
    );
    // Ids are milliseconds-based and far below 2^53, what JavaScript holds exactly.
    assert!(second < 1 << 53);
    // The name is scored with the last publish, on Redis's clock (milliseconds, as `TIME` gives).
    let score = redis_command(&redis, &["ZSCORE", "pushlab:topics", "layout"]);
    let score: u64 = score.as_str().expect("a score").parse().unwrap();
    let Reply::Array(time) = redis_command(&redis, &["TIME"]) else {
        panic!("TIME");
    };
    let redis_ms = time[0].as_str().unwrap().parse::<u64>().unwrap() * 1000;
    assert!(
        score <= redis_ms + 1000 && score + 60_000 > redis_ms,
        "{score} is a time in milliseconds near {redis_ms}"
    );
}

/// A node whose topics go idle after `idle` (in its hub and in Redis).
fn node_with_idle(redis: &RedisProcess, idle: Duration) -> RunningServer {
    node_with(redis, |config| config.hub.topic_idle_timeout = idle)
}

fn exists(redis: &RedisProcess, key: &str) -> bool {
    redis_command(redis, &["EXISTS", key]) == Reply::Integer(1)
}

fn listed(redis: &RedisProcess, topic: &str) -> bool {
    redis_command(redis, &["ZSCORE", "pushlab:topics", topic]) != Reply::Null
}

/// `pushlab:topics` shrinks: a topic unused for the idle timeout on every node leaves Redis (name,
/// stream and counter), as it leaves a node's hub, while a topic with a subscriber somewhere stays.
/// When a removed topic's name is published to again, its ids go on above the old ones, even when
/// they had run far ahead of the clock, and even on a node that never knew the topic.
#[test]
fn idle_topics_leave_redis_and_their_ids_are_never_handed_out_again() {
    let Some(redis) =
        redis_or_skip("idle_topics_leave_redis_and_their_ids_are_never_handed_out_again")
    else {
        return;
    };
    let idle = Duration::from_secs(2);
    let a = node_with_idle(&redis, idle);
    // A topic whose ids ran far ahead of the clock (as a busy one does at more than one message per
    // millisecond): its counter is set high by hand.
    let ahead: u64 = 3_000_000_000_000_000;
    redis_command(&redis, &["SET", "pushlab:next:busy", &ahead.to_string()]);
    let last_busy = publish(a.addr, "busy", "fast").unwrap();
    assert_eq!(last_busy, ahead + 1);
    // Another topic is published to once and then only read, by a subscriber on A.
    let kept = publish(a.addr, "kept", "hello").unwrap();
    let mut reader = Reader::open(Door::Sse, a.addr, "kept", Some(kept));
    wait_for("the subscription", || {
        (a.subscriber_count("kept").ok()? == 1).then_some(())
    });
    assert!(listed(&redis, "busy") && listed(&redis, "kept"));

    wait_for("the idle topic to leave Redis", || {
        (!listed(&redis, "busy")
            && !exists(&redis, "pushlab:topic:busy")
            && !exists(&redis, "pushlab:next:busy"))
        .then_some(())
    });
    // Two more housekeeping runs, past the idle timeout: the subscribed topic is still there.
    std::thread::sleep(idle);
    assert!(listed(&redis, "kept"), "a topic with a subscriber stays");
    assert!(exists(&redis, "pushlab:topic:kept"));
    assert!(exists(&redis, "pushlab:next:kept"));

    // The name comes back, published through a node started since, which never saw the old ids.
    let b = node_with_idle(&redis, idle);
    let again = publish(b.addr, "busy", "again").unwrap();
    assert!(
        again > last_busy,
        "{again} must pass {last_busy}: ids are never handed out twice"
    );
    // And the subscribed topic still carries its messages.
    let next = publish(b.addr, "kept", "still here").unwrap();
    assert_eq!(next, kept + 1, "its counter survived");
    assert_eq!(
        reader.read(1),
        vec![PushEvent::Message(message(next, "still here"))]
    );
}

/// A topic idle on every node (its last use in Redis older than the idle timeout) gains a WebSocket
/// subscriber on node B; another node's housekeeping run follows (played here with the same script,
/// so it runs exactly then). B reported the use as the subscriber came, so the run removes nothing, and
/// the next publish on A reaches B's subscriber with the next id and no reset. (Before, B reported the
/// use only at its next run, and the topic was removed under the subscriber.)
#[test]
fn a_topic_idle_everywhere_that_gains_a_subscriber_is_kept_for_it() {
    let Some(redis) =
        redis_or_skip("a_topic_idle_everywhere_that_gains_a_subscriber_is_kept_for_it")
    else {
        return;
    };
    // The default idle timeout (15 minutes): neither node's own run comes during the test.
    let (a, b) = (node(&redis), node(&redis));
    let first = publish(a.addr, "revived", "one").unwrap();
    wait_for_mirror(b.addr, "revived", first);
    let score = |redis: &RedisProcess| -> Option<u64> {
        let reply = redis_command(redis, &["ZSCORE", "pushlab:topics", "revived"]);
        reply.as_str().map(|s| s.parse().unwrap())
    };
    redis_command(&redis, &["ZADD", "pushlab:topics", "XX", "1", "revived"]);
    assert_eq!(
        score(&redis),
        Some(1),
        "last used in 1970: idle on every node"
    );

    let mut reader = Reader::open(Door::WebSocket, b.addr, "revived", Some(first));
    wait_for("B to report the topic in use", || {
        score(&redis).is_some_and(|ms| ms > 1).then_some(())
    });
    let idle = pushlab::hub::HubLimits::default().topic_idle_timeout;
    assert_eq!(
        another_nodes_housekeeping(&redis, idle),
        Reply::Integer(0),
        "nothing is idle"
    );
    assert!(exists(&redis, "pushlab:topic:revived") && exists(&redis, "pushlab:next:revived"));

    let second = publish(a.addr, "revived", "two").unwrap();
    assert_eq!(second, first + 1, "the counter went on");
    assert_eq!(
        reader.read(1),
        vec![PushEvent::Message(message(second, "two"))],
        "the next message, and no reset"
    );
}

/// A "Redis" that answers every command with bytes that are not RESP: the node's parser refuses them,
/// the link is dropped and retried with backoff, publishes answer 503, and everything else the node
/// serves goes on. (Needs no redis-server.)
#[test]
fn a_redis_that_breaks_the_protocol_costs_only_the_shared_log() {
    let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fake_addr = fake.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in fake.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(b"?not RESP\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    let node = common::server_with(|config| config.redis = Some(fake_addr));
    for _ in 0..5 {
        let answer = http::post(node.addr, "/publish/t", b"x").unwrap();
        assert_eq!(answer.status, 503, "{:?}", answer.text());
    }
    // The link reconnects after each refusal (with backoff): more than the first two connections.
    wait_for("a reconnection", || {
        let _ = http::post(node.addr, "/publish/t", b"x");
        (accepted.load(std::sync::atomic::Ordering::SeqCst) > 2).then_some(())
    });
    // Nothing was stored, and a node that never read the shared log has no history to tell: a short
    // poll is asked to come back (503), a page that needs no Redis is served.
    let poll = http::get(node.addr, "/poll/t?after=0").unwrap();
    assert_eq!(poll.status, 503, "{:?}", poll.text());
    assert_eq!(http::get(node.addr, "/pushlab.js").unwrap().status, 200);
    assert_eq!(
        node.handle.internal_errors().unwrap(),
        0,
        "no panic anywhere"
    );
}

/// How often the session nodes look at their sessions (`housekeeping_interval`): that is when a node
/// refreshes in Redis the TTL of the sessions used on it, and asks about those idle on it. Short, so a
/// session used every [`SESSION_USE_INTERVAL`] is refreshed well within a short grace.
const SESSION_HOUSEKEEPING: Duration = Duration::from_millis(50);

/// How often the session test uses its session on one node.
const SESSION_USE_INTERVAL: Duration = Duration::from_millis(100);

/// A node whose channel sessions end after `grace` without use, checked every
/// [`SESSION_HOUSEKEEPING`].
fn node_with_grace(redis: &RedisProcess, grace: Duration) -> RunningServer {
    let node = common::server_with(|config| {
        config.redis = Some(redis.addr());
        config.session_grace = grace;
        config.housekeeping_interval = SESSION_HOUSEKEEPING;
        config.publish_rate_per_ip = 0;
    });
    wait_for("the node to reach Redis", || {
        let answer = http::post(node.addr, "/publish/warmup", b"x").ok()?;
        (answer.status == 200).then_some(())
    });
    node
}

/// `POST /channel/echo`: a new session's id.
fn open_session(addr: SocketAddr) -> String {
    let answer = http::post(addr, "/channel/echo", b"").unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.text());
    let value = json::parse(answer.text().unwrap()).unwrap();
    value
        .get("session")
        .and_then(JsonValue::as_str)
        .unwrap()
        .to_string()
}

/// The status of `GET /channel/echo/{id}`: 200 while the node knows the session, 404 after.
fn session_status(addr: SocketAddr, id: &str) -> u16 {
    http::get(addr, &format!("/channel/echo/{id}"))
        .unwrap()
        .status
}

#[test]
fn a_channel_session_moves_between_nodes() {
    let Some(redis) = redis_or_skip("a_channel_session_moves_between_nodes") else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    let id = open_session(a.addr);
    let topic = format!("session-{id}");
    // B learns of the session from the shared feed, and serves it from then on.
    wait_for("B to know the session", || {
        (session_status(b.addr, &id) == 200).then_some(())
    });
    let head = short_poll(b.addr, &topic, None).unwrap().last;
    let mut on_b = Reader::open(Door::LongPoll, b.addr, &topic, Some(head));
    // A message sent through A is echoed into the private queue, read on B; and the other way round.
    let sent = http::post(a.addr, &format!("/channel/echo/{id}"), b"via A").unwrap();
    assert_eq!(sent.status, 200);
    assert_eq!(on_b.next_data(), "via A");
    let sent = http::post(b.addr, &format!("/channel/echo/{id}"), b"via B").unwrap();
    assert_eq!(sent.status, 200);
    assert_eq!(on_b.next_data(), "via B");
    // Closed on B: A forgets it too.
    let closed = http::post(b.addr, &format!("/channel/echo/{id}/close"), b"").unwrap();
    assert_eq!(closed.status, 200);
    wait_for("A to forget the session", || {
        (session_status(a.addr, &id) == 404).then_some(())
    });
    assert_eq!(session_status(b.addr, &id), 404);
}

#[test]
fn a_session_used_on_one_node_lives_on_every_node_until_its_ttl_runs_out() {
    let Some(redis) =
        redis_or_skip("a_session_used_on_one_node_lives_on_every_node_until_its_ttl_runs_out")
    else {
        return;
    };
    // The record's TTL is renewed on B's next housekeeping after each use, so between two renewals
    // pass at most a use interval and a housekeeping interval (150 ms): a grace four times that
    // leaves a loaded machine room for a late turn, and three grace periods still take under 2 s.
    let grace = Duration::from_millis(600);
    let (a, b) = (
        node_with_grace(&redis, grace),
        node_with_grace(&redis, grace),
    );
    let id = open_session(a.addr);
    wait_for("B to know the session", || {
        (session_status(b.addr, &id) == 200).then_some(())
    });
    let Reply::Integer(ttl) = redis_command(&redis, &["PTTL", &format!("pushlab:session:{id}")])
    else {
        panic!("PTTL");
    };
    assert!(
        ttl > 0 && ttl <= grace.as_millis() as i64,
        "the record's TTL is the grace period ({ttl} ms)"
    );
    // Used only on B, for three grace periods: A, which saw no use, must not end it.
    let until = Instant::now() + 3 * grace;
    while Instant::now() < until {
        let sent = http::post(b.addr, &format!("/channel/echo/{id}"), b"still here").unwrap();
        assert_eq!(sent.status, 200);
        assert_eq!(
            session_status(a.addr, &id),
            200,
            "A keeps a session used on B"
        );
        std::thread::sleep(SESSION_USE_INTERVAL);
    }
    // Unused everywhere: its TTL runs out in Redis, and every node ends it.
    wait_for("both nodes to end the session", || {
        (session_status(a.addr, &id) == 404 && session_status(b.addr, &id) == 404).then_some(())
    });
    let Reply::Integer(exists) =
        redis_command(&redis, &["EXISTS", &format!("pushlab:session:{id}")])
    else {
        panic!("EXISTS");
    };
    assert_eq!(exists, 0);
}

#[test]
fn a_node_started_later_knows_the_sessions_opened_before() {
    let Some(redis) = redis_or_skip("a_node_started_later_knows_the_sessions_opened_before") else {
        return;
    };
    let a = node(&redis);
    let ids: Vec<String> = (0..3).map(|_| open_session(a.addr)).collect();
    let late = node(&redis);
    for id in &ids {
        wait_for("the late node to load the session", || {
            (session_status(late.addr, id) == 200).then_some(())
        });
        let sent = http::post(late.addr, &format!("/channel/echo/{id}"), b"hi").unwrap();
        assert_eq!(sent.status, 200, "served by a node that did not open it");
    }
    assert_eq!(
        session_status(late.addr, "0123456789abcdef0123456789abcdef"),
        404
    );
}

#[test]
fn a_websocket_publisher_is_closed_with_1011_while_redis_is_away() {
    let Some(mut redis) =
        redis_or_skip("a_websocket_publisher_is_closed_with_1011_while_redis_is_away")
    else {
        return;
    };
    let a = node(&redis);
    let mut publisher = ws::Client::connect(a.addr, "/ws/away").unwrap();
    publisher.set_read_timeout(Some(TIMEOUT)).unwrap();
    redis.stop();
    wait_for("a 503", || {
        let answer = http::post(a.addr, "/publish/away", b"x").ok()?;
        (answer.status == 503).then_some(())
    });
    publisher.send_text("nobody can store this").unwrap();
    let code = loop {
        match publisher.recv().unwrap() {
            Event::Close { code, .. } => break code,
            _ => continue,
        }
    };
    assert_eq!(
        code,
        Some(1011),
        "RFC 6455 §7.4.1: the server could not fulfil it"
    );
}

/// A node whose `clock` topic ticks every second, as the demo server's does.
fn clock_node(redis: &RedisProcess) -> RunningServer {
    node_with(redis, |config| config.clock_interval = Some(CLOCK_INTERVAL))
}

const CLOCK_INTERVAL: Duration = Duration::from_secs(1);

/// The `now_ms` a clock message carries (`{"now_ms":N}`).
fn clock_millis(message: &ReceivedMessage) -> u64 {
    let digits = message
        .data
        .strip_prefix("{\"now_ms\":")
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or_else(|| panic!("a clock message: {message:?}"));
    digits.parse().unwrap()
}

/// The name of the node holding the clock lease, if any.
fn clock_lease_holder(redis: &RedisProcess) -> Option<String> {
    match redis_command(redis, &["GET", CLOCK_LEASE_KEY]) {
        Reply::Null => None,
        reply => Some(String::from_utf8(reply.as_bytes().unwrap().to_vec()).unwrap()),
    }
}

/// Two nodes both tick the clock every second, and the topic still gets one tick a second: only the
/// holder of the clock lease publishes it.
///
/// Five consecutive ticks, as stamped by the node that published them, span four intervals from one
/// publisher (about 4 s); from two publishers ticking out of phase they would span two (about 2 s). The
/// bound checked between the two is on the stamps the ticks carry, not on how fast anything ran: a
/// slow machine makes ticks later, and later ticks only widen the span.
#[test]
fn two_nodes_tick_the_clock_once_a_second_not_twice() {
    let Some(redis) = redis_or_skip("two_nodes_tick_the_clock_once_a_second_not_twice") else {
        return;
    };
    let (a, b) = (clock_node(&redis), clock_node(&redis));
    let mut on_a = Reader::open(Door::Sse, a.addr, "clock", None);
    let mut on_b = Reader::open(Door::Sse, b.addr, "clock", None);
    let ticks = messages(&on_b.read(5));
    let ticks = &ticks[..5];
    for pair in ticks.windows(2) {
        assert_eq!(pair[1].id, pair[0].id + 1, "one sequence: {ticks:?}");
    }
    let span_ms = clock_millis(&ticks[4]) - clock_millis(&ticks[0]);
    assert!(
        span_ms >= 3 * CLOCK_INTERVAL.as_millis() as u64,
        "five ticks in {span_ms} ms: more than one node publishes the clock ({ticks:?})"
    );
    // The other node's subscribers see the same ticks.
    let on_a_ticks = messages(&on_a.read(1));
    assert!(
        ticks.iter().any(|tick| *tick == on_a_ticks[0]),
        "{on_a_ticks:?} {ticks:?}"
    );
    assert!(clock_lease_holder(&redis).is_some());
}

/// When the node that holds the clock lease stops, its lease runs out and the other node's next tick
/// takes the clock over: the topic keeps ticking.
#[test]
fn when_the_clock_node_stops_another_node_takes_the_clock_over() {
    let Some(redis) = redis_or_skip("when_the_clock_node_stops_another_node_takes_the_clock_over")
    else {
        return;
    };
    let a = clock_node(&redis);
    // A ticks alone first, so the lease is A's.
    let mut on_a = Reader::open(Door::Sse, a.addr, "clock", None);
    on_a.read(1);
    let holder_a = clock_lease_holder(&redis).expect("A took the lease with its tick");
    let b = clock_node(&redis);
    let mut on_b = Reader::open(Door::Sse, b.addr, "clock", None);
    let before_events = on_b.read(2);
    let before = messages(&before_events);
    assert_eq!(
        clock_lease_holder(&redis).as_ref(),
        Some(&holder_a),
        "A keeps its lease"
    );
    drop(on_a);
    drop(a);
    // Within the lease's length and a tick, B's ticks publish.
    let after_events = on_b.read(2);
    let after = messages(&after_events);
    let holder_b = clock_lease_holder(&redis).expect("B took the lease over");
    assert_ne!(holder_b, holder_a);
    // Every tick reaches B's reader once, in order, and no reset says one was lost.
    let events = [before_events, after_events].concat();
    assert!(
        !events.iter().any(|e| matches!(e, PushEvent::Reset { .. })),
        "a reset is a lost tick: {events:?}"
    );
    assert_eq!(
        after[0].id,
        before.last().unwrap().id + 1,
        "the clock goes on in one sequence: {events:?}"
    );
    assert!(after[1].id > after[0].id);
}

/// `POST /channel/chat`: a new member's session id.
fn join_chat(addr: SocketAddr) -> String {
    let answer = http::post(addr, "/channel/chat", b"").unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.text());
    let value = json::parse(answer.text().unwrap()).unwrap();
    let id = value.get("session").and_then(JsonValue::as_str).unwrap();
    id.to_string()
}

/// Sends `text` to the chat as member `id`, through `addr`.
fn say(addr: SocketAddr, id: &str, text: &str) {
    let sent = http::post(addr, &format!("/channel/chat/{id}"), text.as_bytes()).unwrap();
    assert_eq!(sent.status, 200, "{:?}", sent.text());
}

/// The chat's member list is one list however many nodes serve it: a member who joined on A is in
/// the room that B serves (B's greeting counts them, B's messages reach them), and leaves it when
/// their session is closed on A or expires.
#[test]
fn the_chat_room_lists_the_members_of_every_node() {
    let Some(redis) = redis_or_skip("the_chat_room_lists_the_members_of_every_node") else {
        return;
    };
    let grace = Duration::from_secs(2);
    let (a, b) = (
        node_with_grace(&redis, grace),
        node_with_grace(&redis, grace),
    );
    let first = join_chat(a.addr);
    let mut first_reads = Reader::open(Door::Sse, a.addr, &format!("session-{first}"), Some(0));
    assert_eq!(first_reads.next_data(), "* welcome: 1 in the room");
    wait_for("B to know the first member", || {
        let status = http::get(b.addr, &format!("/channel/chat/{first}"))
            .ok()?
            .status;
        (status == 200).then_some(())
    });
    // Joined on B: B counts the member who joined on A, and A's member hears of the arrival.
    let second = join_chat(b.addr);
    let mut second_reads = Reader::open(Door::Sse, b.addr, &format!("session-{second}"), Some(0));
    assert_eq!(second_reads.next_data(), "* welcome: 2 in the room");
    assert_eq!(first_reads.next_data(), "* someone joined the room");
    // Said on B, heard by the member who joined on A (and by the speaker).
    say(b.addr, &second, "hello from B");
    assert_eq!(first_reads.next_data(), "hello from B");
    assert_eq!(second_reads.next_data(), "hello from B");

    // A third member joins on A and then goes quiet: its session expires, and it leaves B's list.
    let third = join_chat(a.addr);
    assert_eq!(first_reads.next_data(), "* someone joined the room");
    assert_eq!(second_reads.next_data(), "* someone joined the room");
    say(b.addr, &second, "/who");
    assert_eq!(second_reads.next_data(), "* 3 in the room");
    assert_eq!(
        second_reads.next_data(),
        "* someone left the room",
        "the quiet member's session expired (the other two are connected)"
    );
    wait_for("B to forget the expired member", || {
        let status = http::get(b.addr, &format!("/channel/chat/{third}"))
            .ok()?
            .status;
        (status == 404).then_some(())
    });
    say(b.addr, &second, "/who");
    assert_eq!(second_reads.next_data(), "* 2 in the room");

    // The first member closes on A: B's list drops them too.
    let closed = http::post(a.addr, &format!("/channel/chat/{first}/close"), b"").unwrap();
    assert_eq!(closed.status, 200);
    assert_eq!(second_reads.next_data(), "* someone left the room");
    wait_for("B to forget the closed member", || {
        let status = http::get(b.addr, &format!("/channel/chat/{first}"))
            .ok()?
            .status;
        (status == 404).then_some(())
    });
    say(b.addr, &second, "/who");
    assert_eq!(second_reads.next_data(), "* 1 in the room");
}

/// A TCP relay to `redis` that holds every connection it accepts until [`Gate::open`]: a node behind
/// it is connected, and its first load from Redis cannot finish before the test says so.
struct Gate {
    addr: SocketAddr,
    open: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Gate {
    fn closed(redis: &RedisProcess) -> Gate {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let open = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let (gate, target) = (std::sync::Arc::clone(&open), redis.addr());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let gate = std::sync::Arc::clone(&gate);
                std::thread::spawn(move || {
                    let (lock, opened) = &*gate;
                    let mut is_open = lock.lock().unwrap();
                    while !*is_open {
                        is_open = opened.wait(is_open).unwrap();
                    }
                    drop(is_open);
                    let Ok(server) = std::net::TcpStream::connect(target) else {
                        return;
                    };
                    let (mut up_in, mut up_out) = (client.try_clone().unwrap(), server);
                    let (mut down_in, mut down_out) = (up_out.try_clone().unwrap(), client);
                    std::thread::spawn(move || std::io::copy(&mut down_in, &mut down_out));
                    let _ = std::io::copy(&mut up_in, &mut up_out);
                });
            }
        });
        Gate { addr, open }
    }

    fn open(&self) {
        let (lock, opened) = &*self.open;
        *lock.lock().unwrap() = true;
        opened.notify_all();
    }
}

/// A node started after the history was written, whose first load from Redis is held back: a reader
/// that asks for "after N" meanwhile is not told of a gap (the mirror is empty, but the shared log is
/// not). Streams wait at their cursor, a long poll is parked, and a short poll, which cannot wait, is
/// answered 503; so is a long poll whose hold runs out before the load. Once the load is in, every
/// reader gets exactly the messages after N, and no reset.
#[test]
fn readers_that_come_before_a_late_node_loaded_the_history_get_what_follows_their_id() {
    let Some(redis) = redis_or_skip(
        "readers_that_come_before_a_late_node_loaded_the_history_get_what_follows_their_id",
    ) else {
        return;
    };
    let a = node(&redis);
    let topic = "late";
    let ids: Vec<u64> = (0..10)
        .map(|i| publish(a.addr, topic, &format!("l{i}")).unwrap())
        .collect();
    let after = ids[4];
    let expected: Vec<ReceivedMessage> =
        (5..10).map(|i| message(ids[i], &format!("l{i}"))).collect();
    let gate = Gate::closed(&redis);
    let hold = Duration::from_secs(2);
    let b = common::server_with(|config| {
        config.redis = Some(gate.addr);
        config.hold_timeout = hold;
        config.publish_rate_per_ip = 0;
    });
    let streams: Vec<(Door, Reader)> = [Door::Sse, Door::XhrStream, Door::Iframe, Door::WebSocket]
        .into_iter()
        .map(|door| (door, Reader::open(door, b.addr, topic, Some(after))))
        .collect();
    let poll = http::get(b.addr, &door_path("poll", topic, Some(after), &[])).unwrap();
    assert_eq!(
        poll.status,
        503,
        "a short poll cannot wait: {:?}",
        poll.text()
    );
    assert!(poll.header("Retry-After").is_some());
    let timed_out = http::request(
        b.addr,
        "GET",
        &door_path("longpoll", topic, Some(after), &[]),
        &[],
        b"",
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(
        timed_out.status,
        503,
        "the hold ran out before the load: no head to give, {:?}",
        timed_out.text()
    );
    let parked: Vec<(Door, std::thread::JoinHandle<Vec<PushEvent>>)> =
        [Door::LongPoll, Door::Jsonp]
            .into_iter()
            .map(|door| {
                let addr = b.addr;
                let handle = std::thread::spawn(move || {
                    let mut reader = Reader::open(door, addr, topic, Some(after));
                    reader.read(5)
                });
                (door, handle)
            })
            .collect();
    // The parked polls are sent (or not: either way they must get the same answer).
    std::thread::sleep(Duration::from_millis(200));
    gate.open();
    for (door, mut reader) in streams {
        assert_eq!(
            reader.read(5),
            expected
                .iter()
                .cloned()
                .map(PushEvent::Message)
                .collect::<Vec<_>>(),
            "{door:?}: exactly the messages after {after}, no reset"
        );
    }
    for (door, handle) in parked {
        let events = handle.join().unwrap();
        assert_eq!(
            events,
            expected
                .iter()
                .cloned()
                .map(PushEvent::Message)
                .collect::<Vec<_>>(),
            "{door:?}: exactly the messages after {after}, no reset"
        );
    }
    let poll = short_poll(b.addr, topic, Some(after)).unwrap();
    assert!(!poll.reset);
    assert_eq!(poll.messages, expected);
}

/// `POST /publish/{topic}` with an `Idempotency-Key` header.
fn publish_with_key(addr: SocketAddr, topic: &str, key: &str, body: &str) -> (u16, String) {
    let answer = http::request(
        addr,
        "POST",
        &format!("/publish/{topic}"),
        &[("Idempotency-Key", key)],
        body.as_bytes(),
        TIMEOUT,
    )
    .unwrap();
    (answer.status, answer.text().unwrap_or_default().to_string())
}

/// A publish whose answer was lost is safe to send again with the same `Idempotency-Key`: the retry,
/// through any node, gets the first id and nothing is stored twice; the same key with another message
/// is refused. Both backends keep the rule, the in-memory hub and Redis.
#[test]
fn a_retried_publish_with_an_idempotency_key_is_stored_once_with_either_backend() {
    let Some(redis) = redis_or_skip(
        "a_retried_publish_with_an_idempotency_key_is_stored_once_with_either_backend",
    ) else {
        return;
    };
    let (a, b) = (node(&redis), node(&redis));
    let alone = common::server();
    let key = "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"";
    // (first node, retry node): the same node in memory; two nodes sharing Redis.
    for (first, retry) in [(alone.addr, alone.addr), (a.addr, b.addr)] {
        let (status, body) = publish_with_key(first, "once", key, "only once");
        assert_eq!(status, 200, "{body}");
        let id: u64 = body
            .strip_prefix("{\"id\":")
            .and_then(|rest| rest.strip_suffix('}'))
            .unwrap()
            .parse()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(
                publish_with_key(retry, "once", key, "only once"),
                (200, body.clone()),
                "a retry gets the first id"
            );
        }
        let (status, refused) = publish_with_key(retry, "once", key, "another message");
        assert_eq!(status, 422, "{refused}");
        let (status, bad) = publish_with_key(first, "once", "not a key!", "x");
        assert_eq!(status, 400, "{bad}");
        // Stored once: the next publish follows it directly, and the log holds one copy.
        let next = publish(retry, "once", "next").unwrap();
        assert_eq!(next, id + 1);
        wait_for_mirror(first, "once", next);
        let batch = short_poll(first, "once", Some(id - 1)).unwrap();
        assert_eq!(
            batch.messages,
            vec![message(id, "only once"), message(next, "next")]
        );
    }
}
