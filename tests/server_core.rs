//! The server core without sockets and without sleeping: bytes in, bytes out, `now` passed in.
//!
//! Each test drives [`pushlab::server::core::Core`] through a small harness that plays the event loop:
//! it hands the core bytes "read from a socket", takes bytes "written to a socket" through a window of
//! a chosen size (a client that reads slowly, or not at all), and moves a fake clock forward. Deadlines
//! (holds, heartbeats, pings, timeouts) are therefore tested in microseconds, and backpressure is tested
//! byte-exactly (design rule 8; `server::core` module docs).

// Each test changes one or two limits of the default configuration; an assignment says that best.
#![allow(clippy::field_reassign_with_default)]

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushlab::channel::{ChannelHandler, ClientId, Outbox};
use pushlab::server::core::{Action, Core};
use pushlab::ws::frame::{encode_frame, Opcode};
use pushlab::Config;

/// A fake event loop around a core.
struct Harness {
    core: Core,
    now: Instant,
    closed: Vec<usize>,
}

const UNIX_MILLIS: u64 = 1_700_000_000_000;

impl Harness {
    fn new(config: Config) -> Harness {
        let now = Instant::now();
        let mut counter = 0u64;
        let ids = Box::new(move || {
            counter += 1;
            Ok(format!("{counter:032x}"))
        });
        let mut core = Core::new(config, 1000, ids, now);
        core.set_unix_millis(UNIX_MILLIS);
        Harness {
            core,
            now,
            closed: Vec::new(),
        }
    }

    fn connect(&mut self) -> usize {
        self.connect_from("127.0.0.1:40000").expect("accepted")
    }

    /// A new connection from `peer`, or `None` if the core refuses it.
    fn connect_from(&mut self, peer: &str) -> Option<usize> {
        let peer: SocketAddr = peer.parse().unwrap();
        let token = self.core.accept(peer, self.now)?;
        self.settle();
        Some(token)
    }

    /// The client sends `bytes`; the core reads as much as it wants of them now. Returns how many it took.
    fn send(&mut self, token: usize, bytes: &[u8]) -> usize {
        let mut offered = bytes;
        let mut taken = 0;
        self.core.receive(token, self.now, false, |room| {
            if offered.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = room.len().min(offered.len());
            room[..n].copy_from_slice(&offered[..n]);
            offered = &offered[n..];
            taken += n;
            Ok(n)
        });
        self.settle();
        taken
    }

    // ANCHOR: window
    /// The client reads at most `window` bytes (its receive window) and returns them.
    fn read(&mut self, token: usize, window: usize) -> Vec<u8> {
        let mut got = Vec::new();
        self.core.transmit(token, self.now, |bytes| {
            let room = window - got.len();
            if room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = room.min(bytes.len());
            got.extend_from_slice(&bytes[..n]);
            Ok(n)
        });
        self.settle();
        got
    }
    // ANCHOR_END: window

    /// Reads everything the server has for this client, round after round (a fast client).
    fn read_all(&mut self, token: usize) -> Vec<u8> {
        let mut all = Vec::new();
        for _ in 0..10_000 {
            let got = self.read(token, 1 << 20);
            if got.is_empty() {
                break;
            }
            all.extend_from_slice(&got);
        }
        all
    }

    /// Everything the server has for this client, as text.
    fn read_text(&mut self, token: usize) -> String {
        String::from_utf8(self.read_all(token)).expect("UTF-8 from the server")
    }

    // ANCHOR: advance
    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.core
            .on_timers(self.now, UNIX_MILLIS + by.as_millis() as u64);
        self.settle();
    }
    // ANCHOR_END: advance

    /// Carries out what the core asked the driver for: here only closes matter (writes happen when
    /// the test reads, reads when the test sends).
    fn settle(&mut self) {
        while let Some(action) = self.core.next_action() {
            if let Action::Close(token) = action {
                self.closed.push(token);
            }
        }
    }

    fn is_closed(&self, token: usize) -> bool {
        self.closed.contains(&token)
    }

    fn publish(&mut self, topic: &str, data: &str) -> u64 {
        let id = self.core.publish(topic, data.into(), self.now).unwrap();
        self.settle();
        id
    }

    fn request(&mut self, token: usize, head: &str) -> String {
        self.send(token, head.as_bytes());
        String::from_utf8_lossy(&self.read_all(token)).into_owned()
    }
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn upgrade(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
}

fn client_frame(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(true, opcode, payload, Some([1, 2, 3, 4]), &mut out);
    out
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

// ANCHOR: hold
#[test]
fn a_long_poll_is_held_until_its_hold_timeout_without_sleeping() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    assert_eq!(h.request(client, &get("/longpoll/t")), "", "parked");
    h.advance(Duration::from_secs(19));
    assert!(h.read_all(client).is_empty(), "still held at 19 s");
    h.advance(Duration::from_secs(1));
    let answer = h.read_text(client);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(
        answer.ends_with("{\"messages\":[],\"last\":1000}"),
        "{answer}"
    );
}
// ANCHOR_END: hold

#[test]
fn a_held_long_poll_answers_the_first_news_then_serves_the_pipelined_request() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    let two = format!("{}{}", get("/longpoll/t"), get("/poll/t?after=0"));
    assert_eq!(h.request(client, &two), "");
    h.publish("t", "news");
    let answers = h.read_text(client);
    assert_eq!(count(&answers, "HTTP/1.1 200 OK"), 2, "{answers}");
    assert_eq!(
        count(&answers, "\"data\":\"news\""),
        2,
        "both answers carry it once"
    );
}

#[test]
fn a_stream_sends_a_heartbeat_after_the_interval_without_sleeping() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    let head = h.request(client, &get("/sse/t"));
    assert!(
        head.contains("text/event-stream") && head.contains("retry: 2000"),
        "{head}"
    );
    h.advance(Duration::from_secs(14));
    assert!(h.read_all(client).is_empty());
    h.advance(Duration::from_secs(1));
    let beat = h.read_text(client);
    assert!(beat.contains("event: heartbeat\ndata:\n\n"), "{beat:?}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_and_an_incomplete_request_gets_408() {
    let mut h = Harness::new(Config::default());
    let idle = h.connect();
    let slow = h.connect();
    h.send(slow, b"GET /poll/t HTTP/1.1\r\n");
    h.advance(Duration::from_secs(10));
    let answer = h.read_text(slow);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(!h.is_closed(idle));
    h.advance(Duration::from_secs(60));
    assert!(h.is_closed(idle));
}

/// Memory per idle connection: a connection that opens and sends its request at once (a WebSocket
/// upgrade here) leaves one entry in the deadline heap, not one for its idle timeout and another for
/// its header timeout; and the early wake-up still closes an idle connection only at its idle timeout.
#[test]
fn each_new_connection_costs_one_wake_up() {
    let mut h = Harness::new(Config::default());
    let sockets: Vec<usize> = (0..50).map(|_| h.connect()).collect();
    for &socket in &sockets {
        let switched = h.request(socket, &upgrade("/ws/echo"));
        assert!(switched.starts_with("HTTP/1.1 101"), "{switched}");
    }
    let silent = h.connect();
    assert_eq!(h.core.scheduled_wake_ups(), sockets.len() + 1);
    h.advance(Duration::from_secs(59));
    assert!(!h.is_closed(silent), "an idle connection has 60 s");
    h.advance(Duration::from_secs(1));
    assert!(h.is_closed(silent));
}

/// Design §2, "one budget": a subscriber that does not read holds at most its budget (plus one piece),
/// however long the replay; the rest stays in the log behind its cursor, and reaches it intact, once
/// and in order, when it reads.
#[test]
fn a_replay_is_a_cursor_pulled_as_the_socket_drains() {
    let mut config = Config::default();
    config.max_pending_output_bytes = 64 * 1024;
    let mut h = Harness::new(config);
    let payload = "x".repeat(10_000);
    for _ in 0..100 {
        h.publish("big", &payload);
    }
    for door in ["/sse/big?after=0", "/stream/big?after=0", "/ws/big?after=0"] {
        let client = h.connect();
        let opening = if door.starts_with("/ws") {
            upgrade(door)
        } else {
            get(door)
        };
        h.send(client, opening.as_bytes());
        let held = h.core.connection(client).unwrap().output.pending();
        assert!(
            held <= 64 * 1024,
            "{door}: {held} bytes queued for a client that reads nothing (budget 64 KiB)"
        );
        let everything = String::from_utf8_lossy(&h.read_all(client)).into_owned();
        let ids: Vec<u64> = everything
            .match_indices("\"id\":")
            .map(|(at, _)| {
                let digits: String = everything[at + 5..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().unwrap()
            })
            .collect();
        let sse_ids = count(&everything, "\nid: 1");
        if door.starts_with("/sse") {
            assert_eq!(sse_ids, 100, "{door}: every message once");
        } else if door.starts_with("/stream") {
            // The XHR stream ends after max_stream_bytes (128 KiB): the client reconnects from there.
            assert_eq!(ids, (1001..=1013).collect::<Vec<_>>(), "{door}");
        } else {
            assert_eq!(
                ids,
                (1001..=1100).collect::<Vec<_>>(),
                "{door}: once, in order"
            );
        }
    }
}

#[test]
fn a_subscriber_that_stops_reading_is_dropped_at_its_heartbeat_and_a_websocket_gets_1008() {
    let mut config = Config::default();
    config.max_pending_output_bytes = 16 * 1024;
    let mut h = Harness::new(config);
    for _ in 0..10 {
        h.publish("t", &"y".repeat(8_000));
    }
    let sse = h.connect();
    h.send(sse, get("/sse/t?after=0").as_bytes());
    let ws = h.connect();
    h.send(ws, upgrade("/ws/t?after=0").as_bytes());
    h.advance(Duration::from_secs(15));
    h.advance(Duration::from_secs(15));
    assert!(
        h.is_closed(sse),
        "the SSE subscriber read nothing for a heartbeat interval"
    );
    // The ping interval (30 s) has passed too: the WebSocket's close frame waits behind its backlog.
    let tail = h.read_all(ws);
    let close_at = tail
        .windows(4)
        .rposition(|w| w[0] == 0x88 && w[2..4] == [0x03, 0xF0])
        .expect("a close frame with 1008");
    assert!(close_at > 0);
    h.advance(Duration::from_secs(5));
    assert!(h.is_closed(ws));
}

/// The stall from the issue: an echo client with more in flight than the budget. Reading stops while
/// the output is full and resumes the moment the socket drains, in the same call, never on a timer.
#[test]
fn backpressured_echo_resumes_as_soon_as_its_output_drains() {
    let mut config = Config::default();
    config.max_pending_output_bytes = 64 * 1024;
    config.ws.ping_interval = Duration::from_secs(3600);
    let mut h = Harness::new(config);
    let client = h.connect();
    let switched = h.request(client, &upgrade("/ws/echo"));
    assert!(switched.starts_with("HTTP/1.1 101"));
    let mut burst = Vec::new();
    for i in 0..64u8 {
        burst.extend(client_frame(Opcode::Binary, &[i; 32 * 1024]));
    }
    // The core takes what fits its budget and leaves the rest in the "socket".
    let taken = h.send(client, &burst);
    assert!(taken < burst.len(), "reading stopped at the output budget");
    let mut echoed = Vec::new();
    let mut offered = taken;
    for _ in 0..1_000 {
        echoed.extend(h.read(client, 1 << 20));
        if offered < burst.len() {
            offered += h.send(client, &burst[offered..]);
        } else if h.core.connection(client).unwrap().output.pending() == 0 {
            break;
        }
    }
    assert_eq!(
        offered,
        burst.len(),
        "every byte was read, without any timer"
    );
    assert_eq!(
        echoed.len(),
        64 * (32 * 1024 + 4),
        "64 binary echoes, 4-byte headers"
    );
}

/// The echo hands each message's own buffer to the output queue, and the queue goes out with vectored
/// writes: whatever the messages' sizes (every length encoding, empty, larger than the budget), and
/// however little the socket takes at a time (here 7,919 bytes, cutting headers and payloads anywhere),
/// every echo comes back byte for byte and in order.
#[test]
fn echoes_come_back_byte_for_byte_through_short_vectored_writes() {
    let mut config = Config::default();
    config.max_pending_output_bytes = 48 * 1024;
    config.ws.ping_interval = Duration::from_secs(3600);
    let mut h = Harness::new(config);
    let client = h.connect();
    let switched = h.request(client, &upgrade("/ws/echo"));
    assert!(switched.starts_with("HTTP/1.1 101"));
    let sizes = [
        0usize, 1, 125, 126, 65_535, 65_536, 70_000, 3, 200_000, 17, 4_096, 0,
    ];
    let (mut burst, mut expected) = (Vec::new(), Vec::new());
    for (i, &size) in sizes.iter().enumerate() {
        // Text alternates with binary; text is ASCII, so it is valid UTF-8 wherever it is cut.
        let opcode = if i % 2 == 0 {
            Opcode::Binary
        } else {
            Opcode::Text
        };
        let payload: Vec<u8> = (0..size).map(|b| b'a' + ((b * 7 + i) % 26) as u8).collect();
        burst.extend(client_frame(opcode, &payload));
        encode_frame(true, opcode, &payload, None, &mut expected);
    }
    let (mut echoed, mut offered) = (Vec::new(), 0);
    for _ in 0..100_000 {
        if offered < burst.len() {
            offered += h.send(client, &burst[offered..]);
        }
        let mut window = 7_919;
        h.core.transmit_vectored(client, h.now, |slices| {
            let before = window;
            for slice in slices {
                let n = slice.len().min(window);
                echoed.extend_from_slice(&slice[..n]);
                window -= n;
            }
            match before - window {
                0 => Err(io::ErrorKind::WouldBlock.into()),
                n => Ok(n),
            }
        });
        h.settle();
        if offered == burst.len() && echoed.len() >= expected.len() {
            break;
        }
    }
    assert_eq!(offered, burst.len(), "every frame was read");
    assert_eq!(echoed.len(), expected.len());
    assert!(echoed == expected, "the echoes differ from what was sent");
}

/// Issue finding 7: a subscriber is woken per subscription, and reads from its own cursor, so a wake
/// that arrives twice or for a replaced subscription delivers nothing twice.
#[test]
fn news_is_delivered_once_even_when_a_subscription_is_replaced_in_the_same_turn() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    let head = h.publish("t", "first");
    // Two pipelined long polls after the same id: the first parks, the second waits behind it.
    let two = format!(
        "{}{}",
        get(&format!("/longpoll/t?after={head}")),
        get(&format!("/longpoll/t?after={head}"))
    );
    assert_eq!(h.request(client, &two), "");
    // One publish answers the first; the second (now parked with after=head) reads the same message
    // from the log; a second publish in the same turn must not reach either twice.
    h.publish("t", "second");
    let answers = h.read_text(client);
    assert_eq!(count(&answers, "\"data\":\"second\""), 2, "{answers}");
    h.publish("t", "third");
    let more = h.read_text(client);
    assert_eq!(
        count(&more, "HTTP/1.1 200"),
        0,
        "both polls answered; nothing more: {more}"
    );
}

#[test]
fn a_websocket_topic_message_larger_than_a_publish_is_refused_with_1009_from_its_header() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    h.request(client, &upgrade("/ws/t"));
    // A header announcing 200 KiB, and only 1 KiB of it.
    let frame = client_frame(Opcode::Text, &vec![b'a'; 200 * 1024]);
    h.send(client, &frame[..1024]);
    let out = h.read_all(client);
    assert!(out.len() >= 4, "a close frame: {out:?}");
    assert_eq!(out[0], 0x88, "FIN + close opcode");
    assert_eq!(
        &out[2..4],
        &[0x03, 0xF1],
        "code 1009, before the payload arrived"
    );
}

#[test]
fn a_panic_in_a_channel_application_during_housekeeping_costs_nothing_else() {
    struct PanicsOnClose;
    impl ChannelHandler for PanicsOnClose {
        fn on_message(&mut self, _: &ClientId, _: &str, _: &mut Outbox) {}
        fn on_close(&mut self, _: &ClientId, _: &mut Outbox) {
            panic!("a bug in an application");
        }
    }
    let mut config = Config::default();
    config.session_grace = Duration::from_secs(2);
    let mut h = Harness::new(config);
    h.core.register_channel("boom", Box::new(PanicsOnClose));
    let client = h.connect();
    let opened = h.request(client, &post("/channel/boom", ""));
    assert!(opened.contains("\"session\""), "{opened}");
    h.advance(Duration::from_secs(4));
    assert_eq!(h.core.internal_errors(), 1);
    let still = h.request(client, &get("/poll/t"));
    assert!(still.starts_with("HTTP/1.1 200"), "{still}");
}

#[test]
fn junk_topics_never_lock_out_a_new_one() {
    let mut config = Config::default();
    config.hub.max_topics = 8;
    let mut h = Harness::new(config);
    let client = h.connect();
    for n in 0..50 {
        let answer = h.request(client, &post(&format!("/publish/junk{n}"), "x"));
        assert!(answer.starts_with("HTTP/1.1 200"), "junk{n}: {answer}");
    }
}

#[test]
fn past_the_global_budget_new_requests_get_503_and_the_worst_subscriber_goes() {
    let mut config = Config::default();
    config.max_pending_output_bytes = 256 * 1024;
    config.max_buffered_bytes = 300 * 1024;
    let mut h = Harness::new(config);
    for _ in 0..40 {
        h.publish("t", &"z".repeat(10_000));
    }
    let first = h.connect();
    h.send(first, get("/sse/t?after=0").as_bytes());
    let second = h.connect();
    h.send(second, get("/sse/t?after=0").as_bytes());
    assert!(
        h.is_closed(first) || h.is_closed(second),
        "one of two non-reading subscribers over the global budget was dropped"
    );
}

/// RFC 9110 §10.1.1: a client that sends `Expect: 100-continue` waits for `100 Continue` before its
/// body (curl waits one second for it otherwise); it comes once, and then the final answer.
#[test]
fn expect_100_continue_is_answered_before_the_body_then_the_publish_goes_through() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    let head =
        "POST /publish/t HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(h.request(client, head), "HTTP/1.1 100 Continue\r\n\r\n");
    let answer = h.request(client, "hello");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("{\"id\":1001}"), "{answer}");
}

/// A channel session nobody uses ends after the grace period; one with a client connected to its
/// private queue does not. Housekeeping runs once a second on the fake clock.
#[test]
fn a_session_expires_after_its_grace_unless_someone_is_connected() {
    let mut config = Config::default();
    config.session_grace = Duration::from_millis(100);
    let mut h = Harness::new(config);
    let client = h.connect();
    let idle = h.request(client, &post("/channel/echo", ""));
    let connected = h.request(client, &post("/channel/echo", ""));
    let session_of = |answer: &str| {
        let at = answer.find("\"session\":\"").expect("a session id") + 11;
        answer[at..at + 32].to_string()
    };
    let (idle, connected) = (session_of(&idle), session_of(&connected));
    let reader = h.connect();
    let head = h.request(reader, &get(&format!("/sse/session-{connected}")));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    h.advance(Duration::from_secs(3));
    let gone = h.request(client, &get(&format!("/channel/echo/{idle}")));
    assert!(gone.starts_with("HTTP/1.1 404"), "expired: {gone}");
    let kept = h.request(
        client,
        &post(&format!("/channel/echo/{connected}"), "still here"),
    );
    assert!(kept.starts_with("HTTP/1.1 200"), "{kept}");
    let echoed = h.read_text(reader);
    assert!(echoed.contains("data: still here"), "{echoed:?}");
}

/// An XHR stream ends at `max_stream_bytes` (the client reconnects with its last id); a request the
/// client pipelined behind it is answered as soon as it has, on the same connection.
#[test]
fn a_stream_that_ends_at_its_size_limit_frees_the_connection_for_the_next_request() {
    let mut config = Config::default();
    config.max_stream_bytes = 4 * 1024;
    let mut h = Harness::new(config);
    let client = h.connect();
    let two = format!("{}{}", get("/stream/t"), get("/poll/t?after=0"));
    let opening = h.request(client, &two);
    assert!(opening.contains("application/x-ndjson"), "{opening}");
    assert!(
        !opening.contains("\"messages\""),
        "the poll waits behind the stream"
    );
    for _ in 0..3 {
        h.publish("t", &"s".repeat(1_000));
    }
    let rest = h.read_text(client);
    let end_of_stream = rest.find("\r\n0\r\n\r\n").expect("the last chunk");
    let poll = rest
        .find("\"messages\"")
        .expect("the pipelined poll's answer");
    assert!(end_of_stream < poll, "{rest}");
}

/// The other side of the rule above: a slow reader that keeps taking bytes is never dropped, and gets
/// no heartbeat while its queue is not empty (a heartbeat would only grow it).
#[test]
fn a_slow_reader_that_keeps_reading_is_kept_and_gets_no_heartbeat_while_busy() {
    let mut config = Config::default();
    config.max_pending_output_bytes = 16 * 1024;
    let mut h = Harness::new(config);
    for _ in 0..40 {
        h.publish("t", &"w".repeat(8_000));
    }
    let sse = h.connect();
    h.send(sse, get("/sse/t?after=0").as_bytes());
    let mut got = Vec::new();
    for _ in 0..8 {
        got.extend(h.read(sse, 4 * 1024));
        h.advance(Duration::from_secs(15));
    }
    assert!(!h.is_closed(sse), "it read something every interval");
    let text = String::from_utf8_lossy(&got);
    assert!(
        !text.contains("event: heartbeat"),
        "no heartbeat behind queued messages"
    );
    got.extend(h.read_all(sse));
    assert_eq!(
        count(&String::from_utf8_lossy(&got), "\ndata: "),
        40,
        "all 40, once"
    );
}

#[test]
fn the_per_address_connection_limit_counts_each_address_and_frees_on_close() {
    let mut config = Config::default();
    config.max_connections_per_ip = 2;
    let mut h = Harness::new(config);
    let first = h.connect_from("127.0.0.1:40001").expect("first");
    h.connect_from("127.0.0.1:40002").expect("second");
    assert_eq!(
        h.connect_from("127.0.0.1:40003"),
        None,
        "a third from the same address"
    );
    assert!(
        h.connect_from("127.0.0.2:40001").is_some(),
        "another address has its own count"
    );
    h.core.close(first, h.now);
    h.settle();
    assert!(
        h.connect_from("127.0.0.1:40004").is_some(),
        "a closed connection frees its place"
    );
}

// ----- every server timeout, on the fake clock -----

/// `header_timeout` covers the whole request, body included: a body that stops coming gets 408 like
/// a head that does, and nothing is published.
#[test]
fn a_body_that_stops_coming_gets_408_at_the_header_timeout() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    let partial = "POST /publish/t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc";
    assert_eq!(h.request(client, partial), "");
    h.advance(Duration::from_millis(9_999));
    assert!(h.read_all(client).is_empty(), "still waiting for the body");
    h.advance(Duration::from_millis(1));
    let answer = h.read_text(client);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let other = h.connect();
    let poll = h.request(other, &get("/poll/t?after=0"));
    assert!(poll.ends_with("{\"messages\":[],\"last\":1000}"), "{poll}");
}

/// A lingering close (`linger`): after its last answer the server closes its sending side and waits
/// for the client to hang up, but only this long.
#[test]
fn a_closing_connection_that_does_not_hang_up_is_cut_off_after_the_linger() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    let last = "GET /poll/t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert!(h.request(client, last).starts_with("HTTP/1.1 200"));
    h.advance(Duration::from_millis(1_999));
    assert!(
        !h.is_closed(client),
        "the client has the linger to read and hang up"
    );
    h.advance(Duration::from_millis(1));
    assert!(h.is_closed(client));
}

/// One publish wakes many parked polls, and their answer is built once and copied (`SharedAnswer`):
/// each must still get the answer to its own question: its door, its callback, its topic, its
/// `Connection`, and the `Date` of the second it is answered in.
#[test]
fn parked_polls_woken_together_each_get_the_answer_to_their_own_question() {
    let mut h = Harness::new(Config::default());
    let polls = [h.connect(), h.connect()];
    let (jsonp_f, jsonp_g, closing, other_topic) =
        (h.connect(), h.connect(), h.connect(), h.connect());
    // Subscribed (and so woken) in this order: a poll that closes after its answer sits between two
    // that stay open, and JSONP callbacks follow each other.
    let close_head = "GET /longpoll/t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_eq!(h.request(polls[0], &get("/longpoll/t")), "", "parked");
    assert_eq!(h.request(closing, close_head), "");
    assert_eq!(h.request(polls[1], &get("/longpoll/t")), "");
    assert_eq!(h.request(jsonp_f, &get("/jsonp/t?callback=f")), "");
    assert_eq!(h.request(jsonp_g, &get("/jsonp/t?callback=g")), "");
    assert_eq!(h.request(other_topic, &get("/longpoll/u")), "");

    let id_u = h.publish("u", "elsewhere");
    let id_t = h.publish("t", "news");
    let body = format!("{{\"messages\":[{{\"id\":{id_t},\"data\":\"news\"}}],\"last\":{id_t}}}");
    let first = h.read_text(polls[0]);
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.ends_with(&body), "{first}");
    assert!(!first.contains("Connection: close"), "{first}");
    assert_eq!(
        h.read_text(polls[1]),
        first,
        "the same question, the same bytes"
    );
    let f = h.read_text(jsonp_f);
    assert!(f.ends_with(&format!("/**/f({body});")), "{f}");
    let g = h.read_text(jsonp_g);
    assert!(g.ends_with(&format!("/**/g({body});")), "{g}");
    let closed = h.read_text(closing);
    assert!(closed.contains("\r\nConnection: close\r\n"), "{closed}");
    assert!(closed.ends_with(&body), "{closed}");
    let other = h.read_text(other_topic);
    assert!(
        other.contains(&format!("\"id\":{id_u},\"data\":\"elsewhere\"")),
        "{other}"
    );

    // A second later the next publish's answer carries the new Date.
    let date_of = |answer: &str| {
        let start = answer.find("Date: ").expect("a Date header");
        answer[start..]
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    for poll in polls {
        assert_eq!(
            h.request(poll, &get(&format!("/longpoll/t?after={id_t}"))),
            ""
        );
    }
    h.advance(Duration::from_secs(1));
    let id_later = h.publish("t", "later");
    let answers = polls.map(|poll| h.read_text(poll));
    assert_eq!(answers[0], answers[1]);
    assert!(
        answers[0].contains(&format!("\"id\":{id_later}")),
        "{}",
        answers[0]
    );
    assert_ne!(
        date_of(&answers[0]),
        date_of(&first),
        "the clock moved by a second"
    );
}

#[test]
fn a_jsonp_poll_is_held_like_a_long_poll_and_answers_an_empty_call_at_its_hold_timeout() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    assert_eq!(h.request(client, &get("/jsonp/t?callback=f")), "", "parked");
    h.advance(Duration::from_secs(19));
    assert!(h.read_all(client).is_empty(), "still held at 19 s");
    h.advance(Duration::from_secs(1));
    let answer = h.read_text(client);
    assert!(
        answer.ends_with("/**/f({\"messages\":[],\"last\":1000});"),
        "{answer}"
    );
}

/// RFC 6455 §5.5.2: a silent peer gets a ping after `ws.ping_interval`; one that answers lives on, one
/// that sends nothing within `ws.pong_timeout` is dropped.
#[test]
fn a_silent_websocket_is_pinged_and_dropped_when_no_pong_comes() {
    let mut h = Harness::new(Config::default());
    let (quiet, answering) = (h.connect(), h.connect());
    for client in [quiet, answering] {
        let switched = h.request(client, &upgrade("/ws/echo"));
        assert!(switched.starts_with("HTTP/1.1 101"), "{switched}");
    }
    h.advance(Duration::from_secs(29));
    assert!(h.read_all(quiet).is_empty(), "no ping before the interval");
    h.advance(Duration::from_secs(1));
    for client in [quiet, answering] {
        assert_eq!(h.read_all(client), [0x89, 0x00], "an empty ping");
    }
    h.send(answering, &client_frame(Opcode::Pong, b""));
    h.advance(Duration::from_millis(9_999));
    assert!(
        !h.is_closed(quiet),
        "the peer has the pong timeout to answer"
    );
    h.advance(Duration::from_millis(1));
    assert!(h.is_closed(quiet), "no pong within the pong timeout");
    assert!(!h.is_closed(answering), "its pong proved it alive");
}

/// RFC 6455 §7.1.1: after sending its close frame the server waits `ws.close_timeout` for the peer's,
/// then closes TCP anyway.
#[test]
fn after_its_close_frame_the_server_waits_the_close_timeout_for_the_peers() {
    let mut h = Harness::new(Config::default());
    let client = h.connect();
    h.request(client, &upgrade("/ws/t"));
    // Binary on a topic socket: refused with 1003 (RFC 6455 §7.4.1).
    h.send(client, &client_frame(Opcode::Binary, b"x"));
    let close = h.read_all(client);
    assert_eq!(
        (close[0], &close[2..4]),
        (0x88, &[0x03, 0xEB][..]),
        "{close:?}"
    );
    h.advance(Duration::from_millis(4_999));
    assert!(
        !h.is_closed(client),
        "the peer has the close timeout to answer"
    );
    h.advance(Duration::from_millis(1));
    assert!(h.is_closed(client));
}

/// What time alone ends (a channel session past its grace, a topic idle past `topic_idle_timeout`)
/// ends at the first housekeeping after its time: housekeeping runs every `housekeeping_interval`.
#[test]
fn idle_topics_and_sessions_end_at_the_first_housekeeping_after_their_time() {
    let mut config = Config::default();
    config.housekeeping_interval = Duration::from_secs(10);
    config.session_grace = Duration::from_secs(1);
    config.hub.topic_idle_timeout = Duration::from_secs(5);
    let mut h = Harness::new(config);
    let client = h.connect();
    h.request(client, &post("/publish/t", "x"));
    let opened = h.request(client, &post("/channel/echo", ""));
    let at = opened.find("\"session\":\"").expect("a session id") + 11;
    let session = opened[at..at + 32].to_string();
    let has_topic = |h: &Harness| h.core.room.hub.topic_names().contains(&"t".to_string());
    h.advance(Duration::from_millis(9_999));
    assert!(has_topic(&h), "idle for 10 s, but no housekeeping yet");
    assert!(h.core.room.sessions.app_of(&session).is_some());
    h.advance(Duration::from_millis(1));
    assert!(!has_topic(&h), "evicted at the first housekeeping");
    assert_eq!(h.core.room.sessions.app_of(&session), None, "expired");
}

/// The opcodes of the server frames in `bytes`, in order (server frames are never masked).
fn frame_opcodes(bytes: &[u8]) -> Vec<u8> {
    let (mut opcodes, mut at) = (Vec::new(), 0);
    while at + 2 <= bytes.len() {
        opcodes.push(bytes[at] & 0x0F);
        let (len, header) = match bytes[at + 1] & 0x7F {
            126 => (
                u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize,
                4,
            ),
            127 => (
                u64::from_be_bytes(bytes[at + 2..at + 10].try_into().unwrap()) as usize,
                10,
            ),
            short => (short as usize, 2),
        };
        at += header + len;
    }
    opcodes
}

/// The WebSocket side of the slow reader: a ping that finds the output full but moving is put off
/// rather than queued behind the backlog, and the reader, which takes a little every interval, is
/// kept however long it takes.
#[test]
fn a_slow_websocket_reader_is_kept_and_its_ping_waits_while_the_output_is_full() {
    let mut config = Config::default();
    config.max_pending_output_bytes = 16 * 1024;
    let mut h = Harness::new(config);
    for _ in 0..40 {
        h.publish("t", &"w".repeat(8_000));
    }
    let ws = h.connect();
    h.send(ws, upgrade("/ws/t?after=0").as_bytes());
    let mut got = Vec::new();
    for _ in 0..8 {
        got.extend(h.read(ws, 4 * 1024));
        h.advance(Duration::from_secs(30));
    }
    assert!(!h.is_closed(ws), "it read something every ping interval");
    got.extend(h.read_all(ws));
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(got.starts_with(b"HTTP/1.1 101"));
    let opcodes = frame_opcodes(&got[head_end..]);
    assert_eq!(opcodes, vec![0x1; 40], "40 text frames, no ping among them");
}
