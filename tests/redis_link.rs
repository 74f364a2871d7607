//! The Redis link over a real socket: a `redis-server` started by each test on a free loopback port,
//! with persistence off, stopped by its PID (and that server is the test's own: a restart on a port
//! another server took meanwhile is refused).
//!
//! The link is driven here exactly as the server's event loop drives it: one `mio::Poll`, readiness
//! events routed by token, `on_timer` when a deadline passes. Without `redis-server` the tests print
//! that they skipped; with `CI` set they fail instead.

mod common;

use common::redis::redis_or_skip;

use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use pushlab::redis::link::{Link, LinkEvent};
use pushlab::redis::process::RedisProcess;
use pushlab::redis::resp::{Reply, RespLimits};

/// Links on one poll, and the events they produced, by link index.
struct Driver {
    poll: Poll,
    links: Vec<Link<u32>>,
}

impl Driver {
    fn new(redis: &RedisProcess, count: usize) -> Driver {
        let now = Instant::now();
        Driver {
            poll: Poll::new().unwrap(),
            links: (0..count)
                .map(|i| Link::new(redis.addr(), Token(i), RespLimits::default(), now))
                .collect(),
        }
    }

    /// One turn of the loop: wait for readiness (or the next deadline), dispatch, run timers.
    fn turn(&mut self, events_out: &mut Vec<(usize, LinkEvent<u32>)>) {
        let mut events = Events::with_capacity(64);
        let now = Instant::now();
        let next = self.links.iter().filter_map(Link::next_deadline).min();
        let timeout = next
            .map(|at| at.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        self.poll.poll(&mut events, Some(timeout)).unwrap();
        let now = Instant::now();
        for event in events.iter() {
            let index = event.token().0;
            let mut produced = Vec::new();
            self.links[index].on_ready(self.poll.registry(), now, &mut produced);
            events_out.extend(produced.into_iter().map(|e| (index, e)));
        }
        for (index, link) in self.links.iter_mut().enumerate() {
            let mut produced = Vec::new();
            link.on_timer(self.poll.registry(), now, &mut produced);
            events_out.extend(produced.into_iter().map(|e| (index, e)));
        }
    }

    /// Turns until `done` says so, collecting events; fails the test after 10 s.
    fn until(
        &mut self,
        mut done: impl FnMut(&[(usize, LinkEvent<u32>)]) -> bool,
    ) -> Vec<(usize, LinkEvent<u32>)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while !done(&seen) {
            assert!(
                Instant::now() < deadline,
                "timed out; events so far: {seen:?}"
            );
            self.turn(&mut seen);
        }
        seen
    }

    fn up(&mut self) {
        let count = self.links.len();
        self.until(|_| true);
        let links_up = |links: &[Link<u32>]| links.iter().all(Link::is_up);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !links_up(&self.links) {
            assert!(Instant::now() < deadline, "{count} links did not come up");
            self.turn(&mut Vec::new());
        }
    }

    fn send(&mut self, link: usize, tag: u32, args: &[&str]) {
        let mut produced = Vec::new();
        self.links[link]
            .send(
                tag,
                args,
                self.poll.registry(),
                Instant::now(),
                &mut produced,
            )
            .expect("the link is up");
        assert!(produced.is_empty(), "{produced:?}");
    }
}

fn replies(events: &[(usize, LinkEvent<u32>)]) -> Vec<(u32, Reply)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            LinkEvent::Reply(tag, reply) => Some((*tag, reply.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn pipelined_commands_get_their_replies_in_order() {
    let Some(redis) = redis_or_skip("pipelined_commands_get_their_replies_in_order") else {
        return;
    };
    let mut driver = Driver::new(&redis, 1);
    driver.up();
    // 300 commands written before any reply is read: the replies come back in the order sent.
    for i in 0..100u32 {
        driver.send(0, 3 * i, &["INCR", "counter"]);
        driver.send(0, 3 * i + 1, &["SET", &format!("k{i}"), &format!("v{i}")]);
        driver.send(0, 3 * i + 2, &["GET", &format!("k{i}")]);
    }
    assert_eq!(driver.links[0].awaiting(), 300);
    let events = driver.until(|seen| replies(seen).len() == 300);
    for (tag, reply) in replies(&events) {
        let i = tag / 3;
        let expected = match tag % 3 {
            0 => Reply::Integer(i64::from(i) + 1),
            1 => Reply::Simple("OK".into()),
            _ => Reply::Bulk(format!("v{i}").into_bytes()),
        };
        assert_eq!(reply, expected, "tag {tag}");
    }
    assert_eq!(driver.links[0].awaiting(), 0);
    // An error reply is a reply like any other: it answers its command and the link stays up.
    driver.send(0, 1000, &["NOSUCHCOMMAND"]);
    let events = driver.until(|seen| !replies(seen).is_empty());
    assert!(matches!(&replies(&events)[0], (1000, Reply::Error(e)) if e.starts_with("ERR")));
    assert!(driver.links[0].is_up());
}

#[test]
fn a_stream_client_adds_trims_ranges_and_follows() {
    let Some(redis) = redis_or_skip("a_stream_client_adds_trims_ranges_and_follows") else {
        return;
    };
    // Link 0 writes; link 1 blocks in XREAD, as a node's follower does, on its own connection.
    let mut driver = Driver::new(&redis, 2);
    driver.up();
    // Blocking on an id of a stream that does not exist yet: whichever of the two commands Redis runs
    // first, the follower gets entry 1-0.
    driver.send(1, 1, &["XREAD", "BLOCK", "5000", "STREAMS", "s", "0-0"]);
    driver.send(0, 2, &["XADD", "s", "MAXLEN", "~", "50", "1-0", "d", "m1"]);
    let events = driver.until(|seen| replies(seen).len() == 2);
    let all = replies(&events);
    let follow = all.iter().find(|(tag, _)| *tag == 1).unwrap();
    let streams = follow.1.as_array().unwrap();
    let entries = streams[0].as_array().unwrap()[1].as_array().unwrap();
    let entry = entries[0].as_array().unwrap();
    assert_eq!(entry[0].as_str(), Some("1-0"));
    assert_eq!(entry[1].as_array().unwrap()[1].as_str(), Some("m1"));
    // An explicit id must be larger than the stream's last: that is what keeps wire ids increasing.
    driver.send(0, 3, &["XADD", "s", "1-0", "d", "again"]);
    let events = driver.until(|seen| replies(seen).len() == 1);
    assert!(matches!(&replies(&events)[0].1, Reply::Error(e) if e.contains("equal or smaller")));
    for n in 2..=200u32 {
        let id = format!("{n}-0");
        driver.send(
            0,
            n + 1000,
            &["XADD", "s", "MAXLEN", "~", "50", &id, "d", &format!("m{n}")],
        );
    }
    let events = driver.until(|seen| replies(seen).len() == 199);
    for (tag, reply) in replies(&events) {
        assert_eq!(reply.as_str(), Some(format!("{}-0", tag - 1000).as_str()));
    }
    // Approximate trimming keeps at least 50 and drops whole nodes of the radix tree: fewer than 200.
    driver.send(0, 500, &["XLEN", "s"]);
    // Resume after 180: an exclusive range start, `(180-0` (Redis 6.2+).
    driver.send(0, 501, &["XRANGE", "s", "(180-0", "+"]);
    let events = driver.until(|seen| replies(seen).len() == 2);
    let all = replies(&events);
    let Reply::Integer(kept) = all[0].1 else {
        panic!("{:?}", all[0])
    };
    assert!((50..200).contains(&kept), "kept {kept}");
    let ids: Vec<_> = all[1]
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry.as_array().unwrap()[0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        (181..=200).map(|n| format!("{n}-0")).collect::<Vec<_>>()
    );
}

#[test]
fn a_broken_connection_hands_back_what_was_in_flight_and_reconnects() {
    let Some(mut redis) =
        redis_or_skip("a_broken_connection_hands_back_what_was_in_flight_and_reconnects")
    else {
        return;
    };
    let mut driver = Driver::new(&redis, 1);
    driver.up();
    driver.send(0, 7, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    driver.send(0, 8, &["PING"]);
    driver.until(|_| true);
    redis.stop();
    let events = driver.until(|seen| {
        seen.iter()
            .any(|(_, e)| matches!(e, LinkEvent::Down { .. }))
    });
    let lost = events.iter().find_map(|(_, e)| match e {
        LinkEvent::Down { lost, .. } => Some(lost.clone()),
        _ => None,
    });
    assert_eq!(lost, Some(vec![7, 8]), "both commands' fate is unknown");
    assert!(!driver.links[0].is_up());
    let mut produced = Vec::new();
    let refused = driver.links[0].send(
        9,
        &["PING"],
        driver.poll.registry(),
        Instant::now(),
        &mut produced,
    );
    assert!(refused.is_err(), "no command is accepted while down");
    // Attempts fail while Redis is away (each one another Down), then it comes back on the same port.
    driver.until(|seen| {
        seen.iter()
            .filter(|(_, e)| matches!(e, LinkEvent::Down { .. }))
            .count()
            >= 2
    });
    redis.restart().unwrap();
    driver.until(|seen| seen.iter().any(|(_, e)| *e == LinkEvent::Up));
    driver.send(0, 10, &["PING"]);
    let events = driver.until(|seen| !replies(seen).is_empty());
    assert_eq!(replies(&events), vec![(10, Reply::Simple("PONG".into()))]);
}

/// A test's Redis is its own: when another server took the port while it was stopped, `restart`
/// says so (`AddrInUse`) instead of going on with the other server, which would mix two tests' keys
/// and have one test's stop break the other's connections. (`start` checks the same way, and tries
/// another port.)
#[test]
fn a_restart_on_a_port_taken_meanwhile_is_refused_not_shared() {
    let Some(mut redis) =
        redis_or_skip("a_restart_on_a_port_taken_meanwhile_is_refused_not_shared")
    else {
        return;
    };
    redis.stop();
    // Another redis-server takes the port, as another test's could.
    let port = redis.addr().port().to_string();
    let program = ["/usr/bin/redis-server", "redis-server"]
        .into_iter()
        .find(|path| !path.starts_with('/') || std::path::Path::new(path).exists())
        .unwrap();
    let mut other = std::process::Command::new(program)
        .args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "no", "--loglevel", "warning"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while pushlab::redis::process::command(redis.addr(), &["PING"], Duration::from_millis(200))
        .is_err()
    {
        assert!(Instant::now() < deadline, "the other server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let restarted = redis.restart();
    let _ = other.kill();
    let _ = other.wait();
    let error = restarted.expect_err("the port answers with another server");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{error}");
}
