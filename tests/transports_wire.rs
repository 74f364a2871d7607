//! Every door over real sockets: a server from `pushlab::server::spawn` on 127.0.0.1 and the blocking
//! clients of `pushlab::client` (plus `tungstenite` as an independent WebSocket client).
//!
//! For each technique: delivery in order, resume after N with no loss and no duplicate, an explicit
//! reset when N is older than the log, hostile data arriving intact and harmless, callback validation,
//! hold timeouts, and cleanup of subscribers when a client goes away. Every read has a timeout and every
//! loop a bound, so a broken server fails a test instead of hanging it.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::http::{self, HttpConnection};
use pushlab::client::iframe::{Handoff, IframeClient};
use pushlab::client::jsonp::{jsonp_poll, parse_jsonp};
use pushlab::client::poll::{self, long_poll, short_poll, Batch};
use pushlab::client::sse::{SseClient, SseEvent, SseParser};
use pushlab::client::stream::XhrStreamClient;
use pushlab::client::{door_path, publish, PushEvent, ReceivedMessage};
use pushlab::server::{spawn, RunningServer};
use pushlab::Config;

/// Read timeout of every client socket in these tests.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A configuration for tests: an ephemeral loopback port, no clock topic.
fn test_config() -> Config {
    Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        clock_interval: None,
        ..Config::default()
    }
}

fn start(config: Config) -> RunningServer {
    spawn(config).expect("server starts")
}

/// A server that keeps only the 5 newest messages of a topic.
fn start_with_short_log() -> RunningServer {
    let mut config = test_config();
    config.hub.max_messages_per_topic = 5;
    start(config)
}

/// Publishes `count` messages `"<prefix> i"` over HTTP and returns their ids.
fn publish_many(addr: SocketAddr, topic: &str, prefix: &str, count: usize) -> Vec<u64> {
    (0..count)
        .map(|i| publish(addr, topic, &format!("{prefix} {i}")).expect("publish"))
        .collect()
}

/// The topic's head: what `after` absent resolves to.
fn head(addr: SocketAddr, topic: &str) -> u64 {
    short_poll(addr, topic, None).expect("poll").last
}

fn ids_of(messages: &[ReceivedMessage]) -> Vec<u64> {
    messages.iter().map(|m| m.id).collect()
}

/// Waits (bounded) until `condition` holds.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for_subscribers(server: &RunningServer, topic: &str, count: usize) {
    wait_until(&format!("{count} subscribers on {topic}"), || {
        server.subscriber_count(topic).ok() == Some(count)
    });
}

/// A payload that tries to break every framing: script end, comment start, JavaScript line
/// terminators, quotes, backslashes, HTML entities, NUL and other control characters, CRLF.
const HOSTILE: &str = "</script><!--\u{2028}\u{2029}\"\\'&amp;<b>\0\u{1}\t\r\n-->end";

/// The next message of a push stream, skipping heartbeats; resets are returned too.
fn next_push(next: &mut dyn FnMut() -> io::Result<Option<PushEvent>>) -> PushEvent {
    loop {
        match next().expect("stream read").expect("stream still open") {
            PushEvent::Heartbeat => continue,
            event => return event,
        }
    }
}

fn message_of(event: PushEvent) -> ReceivedMessage {
    match event {
        PushEvent::Message(message) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[path = "transports_wire/polls.rs"]
mod polls;
#[path = "transports_wire/sse.rs"]
mod sse;
#[path = "transports_wire/streams.rs"]
mod streams;
#[path = "transports_wire/websocket.rs"]
mod websocket;

#[test]
fn publish_answers_increasing_ids_and_refuses_bad_requests() {
    let mut config = test_config();
    config.hub.max_publish_bytes = 1024;
    let server = start(config);
    let ids = publish_many(server.addr, "t", "m", 3);
    assert_eq!(ids[1], ids[0] + 1);
    assert_eq!(ids[2], ids[1] + 1);
    let response = http::post(server.addr, "/publish/t", b"{}").unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.text().unwrap(),
        format!("{{\"id\":{}}}", ids[2] + 1)
    );
    assert_eq!(
        http::post(server.addr, "/publish/bad.topic", b"x")
            .unwrap()
            .status,
        400
    );
    assert_eq!(
        http::post(server.addr, &format!("/publish/{}", "a".repeat(65)), b"x")
            .unwrap()
            .status,
        400
    );
    assert_eq!(
        http::post(server.addr, "/publish/t", &[b'x'; 1025])
            .unwrap()
            .status,
        413
    );
    // Through the server handle too.
    assert_eq!(server.publish("t", "direct").unwrap(), ids[2] + 2);
}
