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
use pushlab::client::iframe::IframeClient;
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

// ---------------------------------------------------------------------------------------------------
// Publishing
// ---------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------
// Short polling
// ---------------------------------------------------------------------------------------------------

#[test]
fn short_poll_delivers_in_order_and_resumes_exactly() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 6);
    let all = short_poll(server.addr, "t", Some(0)).unwrap();
    assert_eq!(ids_of(&all.messages), ids);
    assert_eq!(all.messages[3].data, "m 3");
    assert_eq!((all.last, all.reset), (ids[5], false));
    let rest = short_poll(server.addr, "t", Some(ids[2])).unwrap();
    assert_eq!(ids_of(&rest.messages), ids[3..].to_vec());
    let none = short_poll(server.addr, "t", Some(ids[5])).unwrap();
    assert_eq!((none.messages.len(), none.last), (0, ids[5]));
}

#[test]
fn short_poll_without_after_is_from_now() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 2);
    let batch = short_poll(server.addr, "t", None).unwrap();
    assert!(batch.messages.is_empty());
    assert_eq!(batch.last, ids[1]);
}

#[test]
fn short_poll_head_fields() {
    let server = start(test_config());
    let response = http::get(server.addr, "/poll/t?after=0").unwrap();
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert!(response.header("content-length").is_some());
}

#[test]
fn short_poll_reset_when_asking_behind_the_log() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let batch = short_poll(server.addr, "t", Some(ids[0])).unwrap();
    assert!(batch.reset);
    assert_eq!(ids_of(&batch.messages), ids[5..].to_vec());
    // Just before the oldest kept is a clean resume.
    let batch = short_poll(server.addr, "t", Some(ids[4])).unwrap();
    assert!(!batch.reset);
    assert_eq!(ids_of(&batch.messages), ids[5..].to_vec());
}

#[test]
fn short_poll_batches_are_capped_and_last_pages_on() {
    let mut config = test_config();
    config.max_batch_messages = 4;
    let server = start(config);
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut seen = Vec::new();
    let mut after = Some(0);
    for _ in 0..10 {
        let batch = short_poll(server.addr, "t", after).unwrap();
        assert!(batch.messages.len() <= 4);
        if batch.messages.is_empty() {
            break;
        }
        seen.extend(ids_of(&batch.messages));
        after = Some(batch.last);
    }
    assert_eq!(seen, ids);
}

#[test]
fn hostile_data_round_trips_through_a_poll() {
    let server = start(test_config());
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let response = http::get(server.addr, &door_path("poll", "t", Some(id - 1), &[])).unwrap();
    let body = response.text().unwrap();
    for raw in ["<", ">", "\u{2028}", "\u{2029}", "\r", "\n", "\0"] {
        assert!(!body.contains(raw), "raw {raw:?} in {body}");
    }
    let batch = poll::batch_from_response(&response).unwrap();
    assert_eq!(
        batch.messages,
        vec![ReceivedMessage {
            id,
            data: HOSTILE.to_string()
        }]
    );
}

// ---------------------------------------------------------------------------------------------------
// Long polling
// ---------------------------------------------------------------------------------------------------

#[test]
fn long_poll_answers_at_once_when_messages_exist() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 3);
    let batch = long_poll(server.addr, "t", Some(ids[0]), TIMEOUT).unwrap();
    assert_eq!(ids_of(&batch.messages), ids[1..].to_vec());
}

#[test]
fn long_poll_is_answered_by_the_next_publish() {
    let server = start(test_config());
    let after = head(server.addr, "t");
    let addr = server.addr;
    let waiter = thread::spawn(move || long_poll(addr, "t", Some(after), TIMEOUT));
    wait_for_subscribers(&server, "t", 1);
    let id = publish(server.addr, "t", "wake up").unwrap();
    let batch = waiter.join().unwrap().unwrap();
    assert_eq!(
        batch.messages,
        vec![ReceivedMessage {
            id,
            data: "wake up".into()
        }]
    );
    assert_eq!(batch.last, id);
    wait_for_subscribers(&server, "t", 0);
}

#[test]
fn long_poll_hold_timeout_answers_an_empty_list() {
    let mut config = test_config();
    config.hold_timeout = Duration::from_millis(300);
    let server = start(config);
    let ids = publish_many(server.addr, "t", "m", 1);
    let batch = long_poll(server.addr, "t", Some(ids[0]), TIMEOUT).unwrap();
    assert!(batch.messages.is_empty());
    assert_eq!((batch.last, batch.reset), (ids[0], false));
    let batch = long_poll(server.addr, "t", None, TIMEOUT).unwrap();
    assert!(batch.messages.is_empty());
    assert_eq!(batch.last, ids[0]);
    wait_for_subscribers(&server, "t", 0);
}

#[test]
fn long_poll_loop_loses_nothing_published_between_requests() {
    let server = start(test_config());
    let mut after = head(server.addr, "t");
    let mut expected = Vec::new();
    let mut seen = Vec::new();
    for round in 0..5 {
        // Published while no request is waiting: the next request asks after `last` and gets them.
        expected.extend(publish_many(
            server.addr,
            "t",
            &format!("round {round}"),
            round + 1,
        ));
        let batch = long_poll(server.addr, "t", Some(after), TIMEOUT).unwrap();
        assert!(!batch.reset);
        seen.extend(ids_of(&batch.messages));
        after = batch.last;
    }
    assert_eq!(seen, expected);
}

#[test]
fn long_poll_reset_is_answered_at_once() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let batch = long_poll(server.addr, "t", Some(ids[1]), TIMEOUT).unwrap();
    assert!(batch.reset);
    assert_eq!(ids_of(&batch.messages), ids[5..].to_vec());
    // An id from the future (another run of the server) is a reset too, even with nothing to send.
    let batch = long_poll(server.addr, "t", Some(ids[9] + 1_000), TIMEOUT).unwrap();
    assert!(batch.reset);
}

#[test]
fn long_poll_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let after = head(server.addr, "t");
    let mut connection = HttpConnection::connect(server.addr, TIMEOUT).unwrap();
    connection
        .send_request(
            "GET",
            &door_path("longpoll", "t", Some(after), &[]),
            &[],
            b"",
        )
        .unwrap();
    wait_for_subscribers(&server, "t", 1);
    drop(connection);
    wait_for_subscribers(&server, "t", 0);
}

/// How many client sockets the many-clients test opens: 1,000, unless the open-file limit would not
/// allow client and server sockets of this one process together.
fn many_clients_count() -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits
                .lines()
                .find(|line| line.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    match soft_limit {
        Some(limit) if limit < 2_200 => {
            let count = limit.saturating_sub(200) / 2;
            eprintln!("open-file limit {limit}: using {count} clients instead of 1000");
            count
        }
        _ => 1_000,
    }
}

#[test]
fn one_publish_releases_a_thousand_long_polls() {
    let server = start(test_config());
    let count = many_clients_count();
    let after = head(server.addr, "crowd");
    let path = door_path("longpoll", "crowd", Some(after), &[]);
    let mut connections = Vec::with_capacity(count);
    for _ in 0..count {
        let mut connection = HttpConnection::connect(server.addr, Duration::from_secs(30)).unwrap();
        connection.send_request("GET", &path, &[], b"").unwrap();
        connections.push(connection);
    }
    wait_until("every long poll parked", || {
        server.subscriber_count("crowd").ok() == Some(count)
    });
    let id = publish(server.addr, "crowd", "for everyone").unwrap();
    for connection in &mut connections {
        let response = connection.read_response().unwrap();
        let batch = poll::batch_from_response(&response).unwrap();
        assert_eq!(
            batch.messages,
            vec![ReceivedMessage {
                id,
                data: "for everyone".into()
            }]
        );
    }
    wait_for_subscribers(&server, "crowd", 0);
}

// ---------------------------------------------------------------------------------------------------
// JSONP
// ---------------------------------------------------------------------------------------------------

#[test]
fn jsonp_delivers_through_the_callback() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 3);
    let path = door_path("jsonp", "t", Some(ids[0]), &[("callback", "app.receive")]);
    let response = http::get(server.addr, &path).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.text().unwrap();
    assert!(body.starts_with("/**/app.receive({"), "{body}");
    let batch = parse_jsonp(body, "app.receive").unwrap();
    assert_eq!(ids_of(&batch.messages), ids[1..].to_vec());
}

#[test]
fn jsonp_refuses_unsafe_callbacks() {
    let server = start(test_config());
    let too_long = "x".repeat(65);
    for bad in [
        "alert(1)",
        "a..b",
        "x;y",
        "",
        "a b",
        "</script>",
        "1a",
        too_long.as_str(),
    ] {
        let path = door_path("jsonp", "t", Some(0), &[("callback", bad)]);
        let response = http::get(server.addr, &path).unwrap();
        assert_eq!(response.status, 400, "callback {bad:?}");
    }
    let id = publish(server.addr, "t", "m").unwrap();
    for good in ["a.b", "$x.y_z", "cb"] {
        let batch = jsonp_poll(server.addr, "t", Some(0), good, TIMEOUT).unwrap();
        assert_eq!(ids_of(&batch.messages), vec![id], "callback {good:?}");
    }
}

#[test]
fn jsonp_hold_timeout_and_hostile_data() {
    let mut config = test_config();
    config.hold_timeout = Duration::from_millis(300);
    let server = start(config);
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let batch = jsonp_poll(server.addr, "t", Some(id), "f", TIMEOUT).unwrap();
    assert_eq!((batch.messages.len(), batch.last), (0, id));
    let response = http::get(
        server.addr,
        &door_path("jsonp", "t", Some(id - 1), &[("callback", "f")]),
    )
    .unwrap();
    let body = response.text().unwrap();
    assert!(
        !body.contains("</script") && !body.contains("<!--") && !body.contains('\u{2028}'),
        "{body}"
    );
    let batch = parse_jsonp(body, "f").unwrap();
    assert_eq!(
        batch.messages,
        vec![ReceivedMessage {
            id,
            data: HOSTILE.to_string()
        }]
    );
}

#[test]
fn jsonp_reset() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let batch: Batch = jsonp_poll(server.addr, "t", Some(ids[0]), "f", TIMEOUT).unwrap();
    assert!(batch.reset);
    assert_eq!(ids_of(&batch.messages), ids[5..].to_vec());
}

// ---------------------------------------------------------------------------------------------------
// XHR streaming
// ---------------------------------------------------------------------------------------------------

#[test]
fn xhr_stream_replays_then_pushes_live_in_order() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "old", 3);
    let mut client = XhrStreamClient::connect(server.addr, "t", Some(ids[0]), TIMEOUT).unwrap();
    let head = &client.response().head;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    let mut next = || client.next_event();
    assert_eq!(message_of(next_push(&mut next)).id, ids[1]);
    assert_eq!(message_of(next_push(&mut next)).id, ids[2]);
    let live = publish_many(server.addr, "t", "new", 3);
    for id in live {
        assert_eq!(message_of(next_push(&mut next)).id, id);
    }
}

#[test]
fn xhr_stream_starts_with_two_kib_of_padding_without_id() {
    let server = start(test_config());
    let mut stream = http::open_stream(server.addr, "/stream/t?after=0", &[], TIMEOUT).unwrap();
    let mut first_line = Vec::new();
    while !first_line.contains(&b'\n') {
        first_line.extend(stream.next_chunk().unwrap().expect("open"));
    }
    let end = first_line.iter().position(|&b| b == b'\n').unwrap();
    let line = std::str::from_utf8(&first_line[..end]).unwrap();
    assert!(line.len() >= 2048, "padding line of {} bytes", line.len());
    let value = pushlab::client::json::parse(line).unwrap();
    assert!(value.get("id").is_none());
}

#[test]
fn xhr_stream_reset_and_hostile_data() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut client = XhrStreamClient::connect(server.addr, "t", Some(ids[0]), TIMEOUT).unwrap();
    let mut next = || client.next_event();
    assert_eq!(next_push(&mut next), PushEvent::Reset { last: ids[4] });
    for id in &ids[5..] {
        assert_eq!(message_of(next_push(&mut next)).id, *id);
    }
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    assert_eq!(
        message_of(next_push(&mut next)),
        ReceivedMessage {
            id,
            data: HOSTILE.to_string()
        }
    );
}

#[test]
fn xhr_stream_heartbeat() {
    let mut config = test_config();
    config.heartbeat_interval = Duration::from_millis(200);
    let server = start(config);
    let mut client = XhrStreamClient::connect(server.addr, "t", None, TIMEOUT).unwrap();
    assert_eq!(client.next_event().unwrap(), Some(PushEvent::Heartbeat));
}

/// A function that opens a stream after an id and returns its "next event" reader.
type OpenStream = fn(SocketAddr, u64) -> Box<dyn FnMut() -> io::Result<Option<PushEvent>>>;

/// A client reads a stream while another thread publishes 40 messages of 200 bytes. The server ends
/// each response after `max_stream_bytes` (4 KiB here); the client reconnects after the last id it
/// saw, as the browser code does, and must see every message exactly once, in order.
fn check_stream_resumes_across_reconnects(open: OpenStream) {
    let mut config = test_config();
    config.max_stream_bytes = 4 * 1024;
    let server = start(config);
    let first = head(server.addr, "t");
    let final_id = first + 40;
    let addr = server.addr;
    let mut next = open(addr, first);
    wait_for_subscribers(&server, "t", 1);
    let publisher = thread::spawn(move || {
        for i in 0..40 {
            publish(addr, "t", &format!("{i:0>200}")).expect("publish");
        }
    });
    let mut seen = Vec::new();
    let mut after = first;
    let mut connections = 1;
    loop {
        match next().expect("stream read") {
            Some(PushEvent::Message(message)) => {
                after = message.id;
                seen.push(message.id);
                if after == final_id {
                    break;
                }
            }
            Some(PushEvent::Reset { last }) => panic!("unexpected reset to {last}"),
            Some(PushEvent::Heartbeat) => {}
            None => {
                connections += 1;
                assert!(connections <= 100, "too many reconnects");
                next = open(addr, after);
            }
        }
    }
    publisher.join().expect("publisher");
    assert_eq!(seen, (first + 1..=final_id).collect::<Vec<_>>());
    assert!(
        connections > 1,
        "the stream should have ended at least once"
    );
}

#[test]
fn xhr_stream_ends_after_max_stream_bytes_and_resumes_without_loss() {
    check_stream_resumes_across_reconnects(|addr, after| {
        let mut client =
            XhrStreamClient::connect(addr, "t", Some(after), TIMEOUT).expect("connect");
        Box::new(move || client.next_event())
    });
}

#[test]
fn xhr_stream_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let client = XhrStreamClient::connect(server.addr, "t", None, TIMEOUT).unwrap();
    wait_for_subscribers(&server, "t", 1);
    drop(client);
    wait_for_subscribers(&server, "t", 0);
}

// ---------------------------------------------------------------------------------------------------
// iframe streaming
// ---------------------------------------------------------------------------------------------------

#[test]
fn iframe_stream_delivers_scripts_after_a_prelude() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 2);
    let mut client = IframeClient::connect(server.addr, "t", Some(0), "app.push", TIMEOUT).unwrap();
    assert_eq!(
        client.response().head.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let first = message_of(next_push(&mut || client.next_event()));
    assert_eq!(
        first,
        ReceivedMessage {
            id: ids[0],
            data: "m 0".into()
        }
    );
    assert!(
        client.prelude_bytes() >= 1024,
        "prelude of {} bytes",
        client.prelude_bytes()
    );
    assert_eq!(
        message_of(next_push(&mut || client.next_event())).id,
        ids[1]
    );
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    assert_eq!(
        message_of(next_push(&mut || client.next_event())),
        ReceivedMessage {
            id,
            data: HOSTILE.into()
        }
    );
}

#[test]
fn iframe_hostile_data_cannot_leave_its_script() {
    let server = start(test_config());
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let path = door_path("iframe", "t", Some(id - 1), &[("callback", "f")]);
    let mut stream = http::open_stream(server.addr, &path, &[], TIMEOUT).unwrap();
    let mut page = Vec::new();
    while !page.windows(9).any(|w| w == b"</script>") {
        page.extend(stream.next_chunk().unwrap().expect("open"));
    }
    let page = String::from_utf8(page).unwrap();
    let script_start = page.find("<script>").unwrap();
    let script = &page[script_start..page.find("</script>").unwrap()];
    assert!(script.starts_with("<script>parent.f({\"id\":"), "{script}");
    for raw in ["<!--", "-->", "\u{2028}", "\u{2029}", "\n", "\r"] {
        assert!(
            !script.contains(raw),
            "raw {raw:?} inside the script: {script}"
        );
    }
    assert_eq!(
        script.matches('<').count(),
        1,
        "only the opening tag: {script}"
    );
}

#[test]
fn iframe_refuses_unsafe_callbacks() {
    let server = start(test_config());
    let too_long = "x".repeat(65);
    for bad in ["alert(1)", "a..b", "x;y", "", too_long.as_str()] {
        let response = http::get(
            server.addr,
            &door_path("iframe", "t", None, &[("callback", bad)]),
        )
        .unwrap();
        assert_eq!(response.status, 400, "callback {bad:?}");
    }
}

#[test]
fn iframe_reset_then_oldest_kept() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut client = IframeClient::connect(server.addr, "t", Some(ids[1]), "f", TIMEOUT).unwrap();
    assert_eq!(
        next_push(&mut || client.next_event()),
        PushEvent::Reset { last: ids[4] }
    );
    for id in &ids[5..] {
        assert_eq!(message_of(next_push(&mut || client.next_event())).id, *id);
    }
}

#[test]
fn iframe_stream_ends_after_max_stream_bytes_and_resumes_without_loss() {
    check_stream_resumes_across_reconnects(|addr, after| {
        let mut client =
            IframeClient::connect(addr, "t", Some(after), "f", TIMEOUT).expect("connect");
        Box::new(move || client.next_event())
    });
}

#[test]
fn iframe_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let client = IframeClient::connect(server.addr, "t", None, "f", TIMEOUT).unwrap();
    wait_for_subscribers(&server, "t", 1);
    drop(client);
    wait_for_subscribers(&server, "t", 0);
}

// ---------------------------------------------------------------------------------------------------
// Server-Sent Events
// ---------------------------------------------------------------------------------------------------

fn next_sse(client: &mut SseClient) -> SseEvent {
    client
        .next_event()
        .expect("sse read")
        .expect("sse stream open")
}

#[test]
fn sse_delivers_ids_and_data_and_asks_for_retry() {
    let mut config = test_config();
    config.sse_retry_ms = 1234;
    let server = start(config);
    let mut client = SseClient::connect(server.addr, "/sse/t", None, TIMEOUT).unwrap();
    let head = &client.response().head;
    assert_eq!(head.header("cache-control"), Some("no-cache"));
    assert_eq!(head.header("x-accel-buffering"), Some("no"));
    wait_for_subscribers(&server, "t", 1);
    let ids = publish_many(server.addr, "t", "m", 3);
    for (i, id) in ids.iter().enumerate() {
        let event = next_sse(&mut client);
        assert_eq!(event.event_type, "message");
        assert_eq!(event.data, format!("m {i}"));
        assert_eq!(event.last_event_id, id.to_string());
    }
    assert_eq!(client.parser().reconnection_time_ms(), Some(1234));
}

#[test]
fn sse_last_event_id_wins_over_after() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 5);
    let path = door_path("sse", "t", Some(0), &[]);
    let last = ids[2].to_string();
    let mut client = SseClient::connect(server.addr, &path, Some(&last), TIMEOUT).unwrap();
    assert_eq!(next_sse(&mut client).last_event_id, ids[3].to_string());
    assert_eq!(next_sse(&mut client).last_event_id, ids[4].to_string());
    // Without the header, `after` applies.
    let path = door_path("sse", "t", Some(ids[3]), &[]);
    let mut client = SseClient::connect(server.addr, &path, None, TIMEOUT).unwrap();
    assert_eq!(next_sse(&mut client).last_event_id, ids[4].to_string());
}

#[test]
fn sse_reconnect_with_last_event_id_loses_nothing() {
    let server = start(test_config());
    let before = head(server.addr, "t");
    let mut client = SseClient::connect(
        server.addr,
        &door_path("sse", "t", Some(before), &[]),
        None,
        TIMEOUT,
    )
    .unwrap();
    let ids = publish_many(server.addr, "t", "a", 3);
    let mut seen: Vec<u64> = (0..3)
        .map(|_| next_sse(&mut client).last_event_id.parse().unwrap())
        .collect();
    let last = client.parser().last_event_id().to_string();
    drop(client);
    // Published while disconnected.
    let more = publish_many(server.addr, "t", "b", 3);
    let mut client = SseClient::connect(
        server.addr,
        &door_path("sse", "t", Some(before), &[]),
        Some(&last),
        TIMEOUT,
    )
    .unwrap();
    seen.extend((0..3).map(|_| next_sse(&mut client).last_event_id.parse::<u64>().unwrap()));
    assert_eq!(seen, [ids, more].concat());
}

#[test]
fn sse_reset_event_carries_the_resume_id() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut client =
        SseClient::connect(server.addr, "/sse/t", Some(&ids[0].to_string()), TIMEOUT).unwrap();
    let reset = next_sse(&mut client);
    assert_eq!(reset.event_type, "reset");
    assert_eq!(
        reset.data,
        format!("{{\"reset\":true,\"last\":{}}}", ids[4])
    );
    assert_eq!(reset.last_event_id, ids[4].to_string());
    for id in &ids[5..] {
        assert_eq!(next_sse(&mut client).last_event_id, id.to_string());
    }
}

#[test]
fn sse_payload_cannot_inject_fields_or_events() {
    let server = start(test_config());
    let mut client = SseClient::connect(server.addr, "/sse/t", None, TIMEOUT).unwrap();
    wait_for_subscribers(&server, "t", 1);
    let injected = "x\r\nid: 999\ndata: fake\revent: reset\n\nretry: 1\n: comment";
    let id = publish(server.addr, "t", injected).unwrap();
    let follow = publish(server.addr, "t", "after").unwrap();
    let event = next_sse(&mut client);
    assert_eq!(event.event_type, "message");
    assert_eq!(event.last_event_id, id.to_string());
    // SSE carries lines: every line end arrives as LF, nothing else changes.
    assert_eq!(
        event.data,
        "x\nid: 999\ndata: fake\nevent: reset\n\nretry: 1\n: comment"
    );
    let next = next_sse(&mut client);
    assert_eq!(
        (next.data.as_str(), next.last_event_id),
        ("after", follow.to_string())
    );
    assert_eq!(
        client.parser().reconnection_time_ms(),
        Some(Config::default().sse_retry_ms)
    );
    // Hostile HTML means nothing here, but must arrive intact (line ends aside).
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    let event = next_sse(&mut client);
    assert_eq!(
        (event.data, event.last_event_id),
        (HOSTILE.replace("\r\n", "\n"), id.to_string())
    );
}

#[test]
fn sse_heartbeat_is_a_comment() {
    let mut config = test_config();
    config.heartbeat_interval = Duration::from_millis(200);
    let server = start(config);
    let mut stream = http::open_stream(
        server.addr,
        "/sse/t",
        &[("Accept", "text/event-stream")],
        TIMEOUT,
    )
    .unwrap();
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    while parser.comments_seen() == 0 {
        parser
            .feed(&stream.next_chunk().unwrap().expect("open"), &mut events)
            .unwrap();
    }
    assert!(events.is_empty());
}

#[test]
fn sse_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let client = SseClient::connect(server.addr, "/sse/t", None, TIMEOUT).unwrap();
    wait_for_subscribers(&server, "t", 1);
    drop(client);
    wait_for_subscribers(&server, "t", 0);
}

// ---------------------------------------------------------------------------------------------------
// WebSocket on a topic (tungstenite as an independent client)
// ---------------------------------------------------------------------------------------------------

type Ws = tungstenite::WebSocket<TcpStream>;

fn ws_connect(addr: SocketAddr, path: &str) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let (socket, response) = tungstenite::client(format!("ws://{addr}{path}"), stream)
        .map_err(|e| e.to_string())
        .unwrap();
    assert_eq!(response.status(), 101);
    socket
}

fn ws_text(socket: &mut Ws) -> String {
    loop {
        match socket.read().expect("ws read") {
            tungstenite::Message::Text(text) => return text,
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

fn ws_message(socket: &mut Ws) -> ReceivedMessage {
    let text = ws_text(socket);
    let value = pushlab::client::json::parse(&text).unwrap();
    message_of(PushEvent::from_json(&value).unwrap_or_else(|| panic!("not a message: {text}")))
}

#[test]
fn websocket_replays_pushes_and_publishes() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 2);
    let mut socket = ws_connect(server.addr, &door_path("ws", "t", Some(0), &[]));
    assert_eq!(
        ws_message(&mut socket),
        ReceivedMessage {
            id: ids[0],
            data: "m 0".into()
        }
    );
    assert_eq!(ws_message(&mut socket).id, ids[1]);
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    assert_eq!(
        ws_message(&mut socket),
        ReceivedMessage {
            id,
            data: HOSTILE.into()
        }
    );
    // A text frame from the client is published to the topic, and comes back as a message.
    socket
        .send(tungstenite::Message::Text("from the socket".into()))
        .unwrap();
    let echoed = ws_message(&mut socket);
    assert_eq!(
        (echoed.id, echoed.data.as_str()),
        (id + 1, "from the socket")
    );
    let batch = short_poll(server.addr, "t", Some(id)).unwrap();
    assert_eq!(batch.messages, vec![echoed]);
}

#[test]
fn websocket_reset_frame_then_oldest_kept() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut socket = ws_connect(server.addr, &door_path("ws", "t", Some(ids[0]), &[]));
    assert_eq!(
        ws_text(&mut socket),
        format!("{{\"reset\":true,\"last\":{}}}", ids[4])
    );
    for id in &ids[5..] {
        assert_eq!(ws_message(&mut socket).id, *id);
    }
}

#[test]
fn websocket_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let mut socket = ws_connect(server.addr, "/ws/t");
    wait_for_subscribers(&server, "t", 1);
    socket.close(None).unwrap();
    drop(socket);
    wait_for_subscribers(&server, "t", 0);
    // Without a close handshake too.
    let socket = ws_connect(server.addr, "/ws/t");
    wait_for_subscribers(&server, "t", 1);
    drop(socket);
    wait_for_subscribers(&server, "t", 0);
}
