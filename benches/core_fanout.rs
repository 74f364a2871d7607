//! The server core's own cost of a broadcast, without the kernel: `cargo bench --bench core_fanout`.
//!
//! The lab (`pushlab lab`) measures a whole server on loopback, where the kernel's TCP stack takes
//! nearly nine tenths of the CPU of each delivery, and its figures drift by a fifth with the machine.
//! That hides what the server's own code costs, which is the part pushlab can change. This bench
//! drives [`pushlab::server::core::Core`], the sans-IO server, with no socket at all: 1,000
//! subscribers on one door, one topic, messages published one by one, every write taken whole by a
//! sink that only counts bytes. So each figure is user-space time only: parsing, the hub's read,
//! framing, the output queue, the bookkeeping around each connection.
//!
//! Each door is measured `ROUNDS` times (200 messages to 1,000 subscribers each); the table gives the
//! median and the fastest round in nanoseconds per delivery. The long poll's figure includes its
//! next request (parsed, routed, parked): that is what one delivery costs on that door.
//!
//! `cargo bench --bench core_fanout -- websocket "long poll"` measures those doors alone (for a
//! profiler, say).

use std::io::IoSlice;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushlab::server::core::{reading_from, Action, Core};
use pushlab::Config;

/// Subscribers on the door.
const SUBSCRIBERS: usize = 1_000;
/// Messages per round.
const MESSAGES: usize = 200;
/// Rounds per door.
const ROUNDS: usize = 7;
/// The message: 64 bytes, as in the lab's broadcast.
const PAYLOAD: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// How a door's client opens, and what it sends after each answer.
struct Door {
    name: &'static str,
    /// The request that opens the subscription.
    opening: fn() -> String,
    /// The request sent after each delivery (a poll asks again), if any, given the last id.
    next_request: Option<fn(u64) -> String>,
}

fn doors() -> [Door; 5] {
    [
        Door {
            name: "WebSocket",
            opening: || {
                "GET /ws/t HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
                    .into()
            },
            next_request: None,
        },
        Door {
            name: "SSE",
            opening: || "GET /sse/t HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".into(),
            next_request: None,
        },
        Door {
            name: "XHR stream",
            opening: || "GET /stream/t HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".into(),
            next_request: None,
        },
        Door {
            name: "iframe",
            opening: || "GET /iframe/t?callback=cb HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".into(),
            next_request: None,
        },
        Door {
            name: "long poll",
            opening: || "GET /longpoll/t HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".into(),
            next_request: Some(|last| {
                format!("GET /longpoll/t?after={last} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            }),
        },
    ]
}

/// Hands `bytes` to the core as what connection `token` sent.
fn send(core: &mut Core, token: usize, now: Instant, bytes: &[u8]) {
    core.receive(token, now, false, reading_from(bytes));
}

/// Carries out the core's actions as the event loop does, with a socket that takes every write whole:
/// news is written inside [`Core::next_action_writing`], anything else by `transmit_vectored`.
/// Returns how many bytes went out, and records which connections were written to, in order.
fn settle(core: &mut Core, now: Instant, written: &mut Vec<usize>) -> u64 {
    let mut bytes = 0u64;
    let mut sink = |token: usize, slices: &[IoSlice<'_>], written: &mut Vec<usize>| {
        let n: usize = slices.iter().map(|slice| slice.len()).sum();
        bytes += n as u64;
        written.push(token);
        Ok(n)
    };
    loop {
        let next = core.next_action_writing(|token, slices| sink(token, slices, written));
        let Some(action) = next else {
            return bytes;
        };
        match action {
            Action::Write(token) | Action::WriteNextTurn(token) => {
                core.transmit_vectored(token, now, |slices| sink(token, slices, written));
            }
            Action::ReadAgain(_) | Action::HalfClose(_) => {}
            Action::Close(token) => panic!("connection {token} was closed"),
        }
    }
}

/// One round on `door`: a fresh core, the subscribers, then `MESSAGES` published one by one.
/// Returns nanoseconds per delivery and the bytes written per delivery.
fn round(door: &Door) -> (f64, f64) {
    let start = Instant::now();
    let config = Config {
        clock_interval: None,
        max_connections: SUBSCRIBERS + 10,
        max_connections_per_ip: SUBSCRIBERS + 10,
        ..Config::default()
    };
    let mut core = Core::new(config, 1000, Box::new(|| Ok("0".repeat(32))), start);
    let mut now = start;
    let mut written = Vec::new();
    for i in 0..SUBSCRIBERS {
        let peer: SocketAddr = format!("127.0.0.1:{}", 20_000 + i).parse().unwrap();
        let token = core.accept(peer, now).expect("room for every subscriber");
        send(&mut core, token, now, (door.opening)().as_bytes());
    }
    settle(&mut core, now, &mut written);

    let mut deliveries = 0u64;
    let mut bytes = 0u64;
    let clock = Instant::now();
    for _ in 0..MESSAGES {
        // Time moves as in the lab (50 messages a second), so deadlines behave as they would.
        now += Duration::from_millis(20);
        let id = core.publish("t", PAYLOAD.into(), now).expect("published");
        written.clear();
        bytes += settle(&mut core, now, &mut written);
        deliveries += written.len() as u64;
        if let Some(next_request) = door.next_request {
            let request = next_request(id);
            for &token in &written {
                send(&mut core, token, now, request.as_bytes());
            }
            written.clear();
            settle(&mut core, now, &mut written);
        }
    }
    let elapsed = clock.elapsed();
    assert_eq!(
        deliveries,
        (SUBSCRIBERS * MESSAGES) as u64,
        "{}: every subscriber got every message",
        door.name
    );
    assert_eq!(core.internal_errors(), 0);
    (
        elapsed.as_nanos() as f64 / deliveries as f64,
        bytes as f64 / deliveries as f64,
    )
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent: one short round proves it runs.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = !args.iter().any(|arg| arg == "--bench");
    // Words that are not flags pick doors by name: `-- websocket "long poll"`.
    let picked: Vec<String> = args
        .iter()
        .filter(|arg| !arg.starts_with("--"))
        .map(|arg| arg.to_lowercase())
        .collect();
    let rounds = if quick { 1 } else { ROUNDS };
    println!(
        "core_fanout: {SUBSCRIBERS} subscribers, {MESSAGES} messages of {} B per round, {rounds} round{} per door; user space only",
        PAYLOAD.len(),
        if rounds == 1 { "" } else { "s" }
    );
    println!();
    println!("| door | ns per delivery, median | fastest | bytes written per delivery |");
    println!("|---|---|---|---|");
    let wanted = |door: &Door| picked.is_empty() || picked.contains(&door.name.to_lowercase());
    for door in doors().into_iter().filter(wanted) {
        let mut results: Vec<(f64, f64)> = (0..rounds).map(|_| round(&door)).collect();
        results.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median = results[results.len() / 2].0;
        let fastest = results[0].0;
        println!(
            "| {} | {median:.0} | {fastest:.0} | {:.1} |",
            door.name, results[0].1
        );
    }
}
