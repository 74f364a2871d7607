//! The lab's one-thread load generator ([`pushlab::lab::swarm`]) over real sockets: against the
//! server on every door, with a counting relay in between to check what the swarm counts at its own
//! sockets, and against a hand-written server that ends a stream, to check how it resumes.
//!
//! Nothing here is timed: waits are bounds on something that must happen, never a speed checked.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pushlab::lab::load::{stamped_payload, Dialect, Door};
use pushlab::lab::relay::{Relay, RelayCounters};
use pushlab::lab::swarm::{self, Member, SwarmPlan};

const SUBSCRIBERS: usize = 4;
const MESSAGES: u64 = 5;
/// The bound on anything the test waits for.
const WAIT: Duration = Duration::from_secs(20);

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "still waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// On every door: each subscriber gets every message once and in order, and the bytes the swarm
/// counted at its sockets are the bytes that crossed the relay: all of what it sent, and at most what
/// the relay passed it (a heartbeat may still be on its way when the swarm is done).
#[test]
fn on_every_door_the_swarm_gets_every_message_and_counts_what_crossed_the_wire() {
    let server = common::server();
    for door in Door::ALL {
        let relay = Relay::start(server.addr, Duration::ZERO).expect("relay");
        let counters = Arc::new(RelayCounters::default());
        let topic = format!("swarm-{}", door.name().replace(' ', "-"));
        let epoch = Instant::now();
        let ids: swarm::Ids = Arc::new(Mutex::new(vec![0]));
        let plan = SwarmPlan {
            members: (0..SUBSCRIBERS)
                .map(|_| Member {
                    door,
                    addr: relay.addr(),
                    counters: Arc::clone(&counters),
                })
                .collect(),
            dialect: Dialect::Pushlab,
            topic: topic.clone(),
            expected: MESSAGES,
            deadline: epoch + WAIT,
            epoch,
            poll_interval: Duration::from_millis(50),
            ids: Arc::clone(&ids),
        };
        let ready = Arc::new(AtomicUsize::new(0));
        let swarm = {
            let ready = Arc::clone(&ready);
            std::thread::spawn(move || swarm::run(&plan, &ready).expect("the swarm runs"))
        };
        wait_until("every subscriber ready", || {
            ready.load(Ordering::SeqCst) == SUBSCRIBERS
        });
        for seq in 1..=MESSAGES {
            let stamp = epoch.elapsed().as_micros() as u64;
            let id = server
                .publish(&topic, &stamped_payload(seq, stamp, 64, 'k'))
                .expect("publish");
            ids.lock().unwrap().push(id);
        }
        let finished = swarm.join().expect("the swarm thread");
        assert_eq!(finished.tallies.len(), SUBSCRIBERS);
        for tally in &finished.tallies {
            assert_eq!(tally.received, MESSAGES, "{door:?}: {tally:?}");
            assert_eq!(
                (tally.duplicated, tally.out_of_order, tally.errors),
                (0, 0, 0),
                "{door:?}: {tally:?}"
            );
        }
        assert_eq!(finished.connections.count(), SUBSCRIBERS, "{door:?}");

        let swarm_sent = counters.bytes_to_server.load(Ordering::SeqCst);
        let relay_sent = || relay.counters().bytes_to_server.load(Ordering::SeqCst);
        wait_until("the relay to pass every request", || {
            relay_sent() >= swarm_sent
        });
        assert_eq!(relay_sent(), swarm_sent, "{door:?}: request bytes");
        let swarm_read = counters.bytes_to_client.load(Ordering::SeqCst);
        let relay_passed = relay.counters().bytes_to_client.load(Ordering::SeqCst);
        assert!(
            swarm_read <= relay_passed,
            "{door:?}: read {swarm_read} of {relay_passed}"
        );
        let payloads = SUBSCRIBERS as u64 * MESSAGES * 64;
        assert!(swarm_read > payloads, "{door:?}: {swarm_read} bytes");
        assert_eq!(
            counters.connections_peak.load(Ordering::SeqCst),
            SUBSCRIBERS as u64,
            "{door:?}: one connection per subscriber"
        );
    }
}

/// Reads one request head from `socket` and returns its first line.
fn request_line(socket: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            socket.read(&mut byte).expect("read"),
            1,
            "request cut short"
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn sse_event(id: u64, seq: u64) -> String {
    format!(
        "id: {id}\ndata: {{\"id\":{id},\"data\":\"{}\"}}\n\n",
        stamped_payload(seq, 0, 32, 'z')
    )
}

/// A server that ends an SSE stream after two messages: the swarm opens it again after the id of
/// the last message it saw (the id the publisher got for it), and counts the second request.
#[test]
fn a_stream_the_server_ends_is_opened_again_after_the_last_message_seen() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr: SocketAddr = listener.local_addr().unwrap();
    listener
        .set_nonblocking(false)
        .expect("a blocking listener");
    let server = std::thread::spawn(move || {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
        let (mut first, _) = listener.accept().expect("first connection");
        let first_line = request_line(&mut first);
        first
            .write_all(format!("{head}{}{}", sse_event(10, 1), sse_event(20, 2)).as_bytes())
            .expect("write");
        drop(first); // the server ends the stream
        let (mut second, _) = listener.accept().expect("second connection");
        let second_line = request_line(&mut second);
        second
            .write_all(format!("{head}{}", sse_event(30, 3)).as_bytes())
            .expect("write");
        // Held open until the swarm, done, drops its side.
        let mut rest = Vec::new();
        let _ = second.read_to_end(&mut rest);
        (first_line, second_line)
    });
    let epoch = Instant::now();
    let plan = SwarmPlan {
        members: vec![Member {
            door: Door::Sse,
            addr,
            counters: Arc::new(RelayCounters::default()),
        }],
        dialect: Dialect::Pushlab,
        topic: "ends".into(),
        expected: 3,
        deadline: epoch + WAIT,
        epoch,
        poll_interval: Duration::from_millis(50),
        // The ids the publisher got: the start point, then messages 1, 2 and 3.
        ids: Arc::new(Mutex::new(vec![0, 10, 20, 30])),
    };
    let finished = swarm::run(&plan, &AtomicUsize::new(0)).expect("the swarm runs");
    let tally = &finished.tallies[0];
    assert_eq!(
        (tally.received, tally.duplicated, tally.errors),
        (3, 0, 0),
        "{tally:?}"
    );
    assert_eq!(
        tally.requests, 2,
        "the first request and the one after the end"
    );
    drop(finished);
    let (first_line, second_line) = server.join().expect("the server thread");
    assert_eq!(first_line, "GET /sse/ends?after=0 HTTP/1.1");
    assert_eq!(second_line, "GET /sse/ends?after=20 HTTP/1.1");
}
