//! The checks of the course's exercises (`tutorials/exercises/chNN.md`).
//!
//! Every test is named after its chapter, so one chapter's checks run with
//! `cargo test --test exercises ch04`. By default they check the model answers in
//! `examples/solutions/`, so `cargo test` shows that every answer works.
//!
//! Three chapters have a "build it yourself" track: the long-poll answer (chapter 4), the event-stream
//! framing (chapter 8) and the frame decoder (chapter 10). The student writes those functions in
//! `examples/exercises/ch04.rs`, `examples/exercises/ch08.rs` and `examples/exercises/ch10.rs`, then runs the same checks against
//! their own code by setting `PUSHLAB_STUDENT`:
//!
//! ```text
//! PUSHLAB_STUDENT=1 cargo test --test exercises ch10_track
//! ```
//!
//! The student's files are compiled in every build (so they never rot, and switching needs no
//! rebuild); without the variable they are just not called.
//! Where a check can, it compares the answer with pushlab's own code on many inputs: the crate is the
//! reference.

mod common;

#[path = "../examples/solutions/ch01.rs"]
mod ch01;
#[path = "../examples/solutions/ch02.rs"]
mod ch02;
#[path = "../examples/solutions/ch03.rs"]
mod ch03;
#[path = "../examples/solutions/ch04.rs"]
mod ch04;
#[path = "../examples/solutions/ch05.rs"]
mod ch05;
#[path = "../examples/solutions/ch06.rs"]
mod ch06;
#[path = "../examples/solutions/ch07.rs"]
mod ch07;
#[path = "../examples/solutions/ch08.rs"]
mod ch08;
#[path = "../examples/solutions/ch09.rs"]
mod ch09;
#[path = "../examples/solutions/ch10.rs"]
mod ch10;
#[path = "../examples/solutions/ch11.rs"]
mod ch11;
#[path = "../examples/solutions/ch12.rs"]
mod ch12;
#[path = "../examples/solutions/ch13.rs"]
mod ch13;
#[path = "../examples/solutions/ch14.rs"]
mod ch14;
#[path = "../examples/solutions/ch15.rs"]
mod ch15;
#[path = "../examples/solutions/ch16.rs"]
mod ch16;
#[path = "../examples/solutions/ch17.rs"]
mod ch17;

// The student's files, compiled in every build.
#[allow(dead_code, unused_variables)]
#[path = "../examples/exercises/ch04.rs"]
mod student_ch04;
#[allow(dead_code, unused_variables)]
#[path = "../examples/exercises/ch08.rs"]
mod student_ch08;
#[allow(dead_code, unused_variables)]
#[path = "../examples/exercises/ch10.rs"]
mod student_ch10;

/// What the "build it yourself" checks call: the model answers, or the student's with `PUSHLAB_STUDENT`
/// set.
mod track {
    use super::{ch04 as model04, ch08 as model08, ch10 as model10};
    use super::{student_ch04, student_ch08, student_ch10};

    fn student() -> bool {
        std::env::var_os("PUSHLAB_STUDENT").is_some()
    }

    pub mod ch04 {
        use super::*;

        pub fn batch_body(messages: &[(u64, &str)], last: u64, reset: bool) -> String {
            match student() {
                true => student_ch04::batch_body(messages, last, reset),
                false => model04::batch_body(messages, last, reset),
            }
        }

        pub fn answers_now(message_count: usize, reset: bool) -> bool {
            match student() {
                true => student_ch04::answers_now(message_count, reset),
                false => model04::answers_now(message_count, reset),
            }
        }
    }

    pub mod ch08 {
        use super::*;

        pub fn sse_event(id: u64, data: &str) -> String {
            match student() {
                true => student_ch08::sse_event(id, data),
                false => model08::sse_event(id, data),
            }
        }

        pub fn resume_point(last_event_id: Option<&str>, after: Option<u64>) -> Option<u64> {
            match student() {
                true => student_ch08::resume_point(last_event_id, after),
                false => model08::resume_point(last_event_id, after),
            }
        }
    }

    pub mod ch10 {
        use super::*;
        pub use model10::Frame;

        pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, String> {
            if !student() {
                return model10::decode_frame(buf);
            }
            let decoded = student_ch10::decode_frame(buf)?;
            Ok(decoded.map(|(frame, used)| {
                let student_ch10::Frame {
                    fin,
                    opcode,
                    payload,
                } = frame;
                (
                    Frame {
                        fin,
                        opcode,
                        payload,
                    },
                    used,
                )
            }))
        }
    }
}

use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use pushlab::hub::{Message, Replay};
use pushlab::json::message_json;
use pushlab::ws::frame::Opcode;

/// Payloads that are hard to frame: quotes, backslashes, every line end, HTML, Unicode line
/// separators, control characters, empty.
const HARD_PAYLOADS: [&str; 9] = [
    "",
    "hello",
    "say \"hi\" \\ bye",
    "one\ntwo\r\nthree\rfour",
    "</script><script>alert(1)</script>",
    "<!-- & -->",
    "line\u{2028}separator\u{2029}",
    "tab\tbell\u{7}nul\u{0}",
    "é, 中文, 🦀",
];

/// Messages as (id, data).
type Messages<'a> = Vec<(u64, &'a str)>;

fn replay(messages: &[(u64, &str)], last: u64, reset: bool) -> Replay {
    Replay {
        reset,
        messages: messages
            .iter()
            .map(|&(id, data)| {
                Rc::new(Message {
                    id,
                    data: data.to_string(),
                    json: message_json(id, data),
                })
            })
            .collect(),
        last,
    }
}

// ---- chapter 1: raw HTTP ----

#[test]
fn ch01_head_end_whole_in_pieces_and_with_trailing_bytes() {
    let request = b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(ch01::head_end(request), Some(request.len()));
    for cut in 0..request.len() {
        assert_eq!(ch01::head_end(&request[..cut]), None, "only {cut} bytes");
    }
    let mut two = request.to_vec();
    two.extend_from_slice(b"GET /next HTTP/1.1\r\n");
    assert_eq!(ch01::head_end(&two), Some(request.len()));
}

#[test]
fn ch01_content_length_found_absent_and_refused() {
    let head = |fields: &str| format!("POST /publish/chat HTTP/1.1\r\n{fields}");
    assert_eq!(
        ch01::content_length(&head("Content-Length: 11")),
        Ok(Some(11))
    );
    assert_eq!(
        ch01::content_length(&head("content-length:5\r\nX: y")),
        Ok(Some(5))
    );
    assert_eq!(ch01::content_length(&head("Host: x")), Ok(None));
    assert_eq!(
        ch01::content_length(&head("Content-Length: 3\r\nContent-Length: 3")),
        Ok(Some(3))
    );
    for bad in [
        "Content-Length: 3\r\nContent-Length: 4",
        "Content-Length: -1",
        "Content-Length: 0x10",
        "Content-Length: ",
    ] {
        assert!(
            ch01::content_length(&head(bad)).is_err(),
            "{bad:?} was accepted"
        );
    }
}

#[test]
fn ch01_chunks_are_the_bytes_pushlab_sends() {
    for data in [&b"hello"[..], &[b'x'; 300], b"\r\n"] {
        let mut expected = Vec::new();
        pushlab::http::chunked::encode_chunk(data, &mut expected);
        assert_eq!(ch01::chunk(data), expected);
    }
    let mut last = Vec::new();
    pushlab::http::chunked::encode_last_chunk(&mut last);
    assert_eq!(ch01::chunk(b""), last);
}

// ---- chapter 2: the event loop ----

/// A socket that returns its script one step per read: some bytes, an interruption, or "would block".
struct ScriptedSocket(Vec<io::Result<Vec<u8>>>);

impl Read for ScriptedSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.first_mut() {
            None => Ok(0),
            Some(Ok(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                bytes.drain(..n);
                if bytes.is_empty() {
                    let _done = self.0.remove(0);
                }
                Ok(n)
            }
            Some(Err(_)) => Err(self.0.remove(0).unwrap_err()),
        }
    }
}

#[test]
fn ch02_drain_reads_until_would_block_and_retries_when_interrupted() {
    let would_block = || Err(io::ErrorKind::WouldBlock.into());
    let mut socket = ScriptedSocket(vec![
        Ok(b"GET / HT".to_vec()),
        Err(io::ErrorKind::Interrupted.into()),
        Ok(vec![b'x'; 5000]),
        would_block(),
        Ok(b"later".to_vec()),
    ]);
    let mut input = Vec::new();
    assert!(!ch02::drain(&mut socket, &mut input).unwrap(), "not closed");
    assert_eq!(input.len(), 8 + 5000);
    input.clear();
    assert!(
        ch02::drain(&mut socket, &mut input).unwrap(),
        "closed after `later`"
    );
    assert_eq!(input, b"later");
    let mut broken = ScriptedSocket(vec![Err(io::ErrorKind::ConnectionReset.into())]);
    assert!(ch02::drain(&mut broken, &mut Vec::new()).is_err());
}

#[test]
fn ch02_the_poll_timeout_is_the_earliest_deadline() {
    let now = Instant::now();
    let mut deadlines = ch02::Deadlines::default();
    assert_eq!(deadlines.poll_timeout(now), None);
    deadlines.add(now + Duration::from_secs(20), 1);
    deadlines.add(now + Duration::from_secs(5), 2);
    deadlines.add(now + Duration::from_secs(15), 3);
    assert_eq!(deadlines.poll_timeout(now), Some(Duration::from_secs(5)));
    assert_eq!(
        deadlines.expired(now + Duration::from_secs(4)),
        Vec::<usize>::new()
    );
    assert_eq!(deadlines.expired(now + Duration::from_secs(16)), [2, 3]);
    let later = now + Duration::from_secs(30);
    assert_eq!(deadlines.poll_timeout(later), Some(Duration::ZERO));
    assert_eq!(deadlines.expired(later), [1]);
}

// ---- chapter 3: short polling ----

#[test]
fn ch03_a_short_poll_client_gets_every_message_once_in_order() {
    let server = common::server();
    let first = server.publish("news", "story 1").unwrap();
    server.publish("news", "story 2").unwrap();
    let publisher = {
        let handle = server.handle.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            handle.publish("news", "story 3").unwrap();
        })
    };
    let (received, requests) = ch03::collect(
        server.addr,
        "news",
        first - 1,
        3,
        Duration::from_millis(20),
        500,
    )
    .unwrap();
    publisher.join().unwrap();
    let data: Vec<&str> = received.iter().map(|m| m.data.as_str()).collect();
    assert_eq!(data, ["story 1", "story 2", "story 3"]);
    assert!((2..=500).contains(&requests), "{requests} requests");
}

#[test]
fn ch03_polls_needed_for_a_schedule() {
    assert_eq!(ch03::polls_needed(&[], 300), 0);
    assert_eq!(ch03::polls_needed(&[0], 300), 1);
    assert_eq!(ch03::polls_needed(&[1], 300), 2);
    assert_eq!(ch03::polls_needed(&[100, 900, 901], 300), 5);
    assert_eq!(ch03::polls_needed(&[600], 300), 3);
}

// ---- chapter 4: long polling (build-it-yourself track) ----

#[test]
fn ch04_track_the_batch_body_is_what_the_long_poll_door_sends() {
    let cases: Vec<(Messages, u64, bool)> = vec![
        (vec![], 41, false),
        (vec![(42, "story 1")], 42, false),
        (vec![(7, "a"), (8, "b"), (9, "c")], 9, false),
        (vec![(100, "after a gap")], 100, true),
        (vec![], 12, true),
        (
            HARD_PAYLOADS
                .iter()
                .enumerate()
                .map(|(i, d)| (i as u64 + 1, *d))
                .collect(),
            9,
            false,
        ),
    ];
    for (messages, last, reset) in cases {
        let expected = pushlab::transport::json::batch_body(&replay(&messages, last, reset));
        assert_eq!(track::ch04::batch_body(&messages, last, reset), expected);
    }
}

#[test]
fn ch04_track_the_door_waits_only_when_it_has_nothing_to_say() {
    for (count, reset) in [(0, false), (0, true), (1, false), (3, true)] {
        let messages: Vec<(u64, &str)> = (0..count).map(|i| (i + 1, "x")).collect();
        let expected = pushlab::transport::long_poll::answers_now(&replay(&messages, 5, reset));
        assert_eq!(
            track::ch04::answers_now(count as usize, reset),
            expected,
            "{count} {reset}"
        );
    }
}

#[test]
fn ch04_a_long_poll_client_gets_messages_published_while_it_waits() {
    let server = common::server();
    let head = server.publish("news", "before").unwrap();
    let publisher = {
        let handle = server.handle.clone();
        std::thread::spawn(move || {
            for n in 1..=3 {
                std::thread::sleep(Duration::from_millis(30));
                handle.publish("news", &format!("story {n}")).unwrap();
            }
        })
    };
    let (received, requests) = ch04::collect(server.addr, "news", head, 3, 50).unwrap();
    publisher.join().unwrap();
    let data: Vec<&str> = received.iter().map(|m| m.data.as_str()).collect();
    assert_eq!(data, ["story 1", "story 2", "story 3"]);
    assert!(
        requests <= 3,
        "{requests} requests for 3 messages: a long poll waits"
    );
}

// ---- chapter 5: JSONP ----

#[test]
fn ch05_safe_callbacks_are_exactly_the_ones_pushlab_accepts() {
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    let names = [
        "onNews",
        "app.news.receive",
        "_x",
        "$",
        "a1.b2",
        long.as_str(),
        too_long.as_str(),
        "",
        "alert(1)",
        "a..b",
        ".a",
        "a.",
        "1abc",
        "a b",
        "a;b",
        "a-b",
        "é",
        "a/b",
        "x[0]",
    ];
    for name in names {
        let expected = pushlab::transport::jsonp::validate_callback(name).is_ok();
        assert_eq!(ch05::is_safe_callback(name), expected, "{name:?}");
    }
}

#[test]
fn ch05_the_jsonp_body_is_what_the_door_sends() {
    let batch = replay(&[(3, "story")], 3, false);
    let expected = pushlab::transport::jsonp::response("app.receive", &batch).body;
    let json = pushlab::transport::json::batch_body(&batch);
    assert_eq!(
        ch05::jsonp_body("app.receive", &json).map(String::into_bytes),
        Some(expected)
    );
    assert_eq!(ch05::jsonp_body("alert(document.cookie)", &json), None);
}

// ---- chapter 6: the iframe forever frame ----

#[test]
fn ch06_script_safe_json_matches_pushlab_and_cannot_close_the_script() {
    for data in HARD_PAYLOADS {
        let answer = ch06::script_safe_json_string(data);
        assert_eq!(answer, pushlab::json::json_string(data), "{data:?}");
        for forbidden in ["<", ">", "&", "\u{2028}", "\u{2029}", "\n"] {
            assert!(
                !answer.contains(forbidden),
                "{answer} contains {forbidden:?}"
            );
        }
    }
}

#[test]
fn ch06_the_script_block_is_what_the_iframe_door_sends() {
    use pushlab::transport::iframe::IframeStream;
    use pushlab::transport::StreamFormat;
    let door = IframeStream::new("onNews").unwrap();
    for (id, data) in HARD_PAYLOADS.iter().enumerate() {
        let mut sent = Vec::new();
        let message = &replay(&[(id as u64, data)], 0, false).messages[0];
        door.message(message, &mut sent);
        assert_eq!(
            ch06::script_block("onNews", id as u64, data).into_bytes(),
            sent,
            "{data:?}"
        );
    }
}

// ---- chapter 7: XHR streaming ----

#[test]
fn ch07_complete_lines_only_whatever_the_progress_events_cut() {
    let body = "{\"padding\":\"   \"}\n{\"id\":1,\"data\":\"a\"}\n{\"id\":2,\"data\":\"b\"}\n";
    for step in 1..body.len() {
        let (mut seen, mut lines) = (0, Vec::new());
        let mut end = 0;
        while end < body.len() {
            end = (end + step).min(body.len());
            lines.extend(ch07::new_lines(&body[..end], &mut seen));
        }
        assert_eq!(lines.len(), 3, "progress every {step} bytes: {lines:?}");
        assert_eq!(lines[2], "{\"id\":2,\"data\":\"b\"}");
        assert_eq!(seen, body.len());
    }
}

#[test]
fn ch07_the_stream_ends_at_the_limit_as_the_server_ends_it() {
    assert!(!ch07::ends_after(0, 100, 1536));
    assert!(!ch07::ends_after(1400, 135, 1536));
    assert!(ch07::ends_after(1400, 136, 1536));
    assert!(ch07::ends_after(2000, 1, 1536));
    // Against the server: the XHR stream's body is its prelude (2 KiB of padding in one JSON line),
    // then one JSON line per message; it ends after the message that reaches the limit.
    let limit = 4096;
    let server = common::server_with(|config| config.max_stream_bytes = limit);
    let data = "x".repeat(200);
    let first = server.publish("news", &data).unwrap();
    for _ in 1..20 {
        server.publish("news", &data).unwrap();
    }
    let prelude =
        pushlab::transport::xhr_stream::PRELUDE_PADDING_BYTES + "{\"padding\":\"\"}\n".len();
    let line = pushlab::json::message_json(first, &data).len() + 1;
    let (mut body, mut predicted) = (prelude, 0);
    while predicted < 20 && !ch07::ends_after(body, line, limit) {
        body += line;
        predicted += 1;
    }
    let predicted = predicted + 1; // the message that reaches the limit is still sent
    let mut stream = pushlab::client::stream::XhrStreamClient::connect(
        server.addr,
        "news",
        Some(first - 1),
        Duration::from_secs(10),
    )
    .unwrap();
    let mut delivered = 0;
    while let Some(event) = stream.next_event().unwrap() {
        delivered += usize::from(matches!(event, pushlab::client::PushEvent::Message(_)));
    }
    assert_eq!(
        delivered, predicted,
        "messages before the server ended the response"
    );
}

// ---- chapter 8: Server-Sent Events (build-it-yourself track) ----

#[test]
fn ch08_track_each_event_is_what_the_sse_door_sends() {
    use pushlab::transport::sse::SseStream;
    use pushlab::transport::StreamFormat;
    let door = SseStream { retry_ms: 2000 };
    for (id, data) in HARD_PAYLOADS.iter().enumerate() {
        let mut sent = Vec::new();
        door.message(
            &replay(&[(id as u64, data)], 0, false).messages[0],
            &mut sent,
        );
        let answer = track::ch08::sse_event(id as u64, data);
        assert_eq!(answer, String::from_utf8(sent).unwrap(), "{data:?}");
    }
}

#[test]
fn ch08_track_a_payload_cannot_write_fields_of_its_own() {
    let event = track::ch08::sse_event(1, "innocent\nid: 999\r\nevent: reset\rretry: 1");
    let mut parser = pushlab::client::sse::SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser.feed(event.as_bytes(), &mut events).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "message");
    assert_eq!(events[0].last_event_id, "1");
    assert_eq!(parser.reconnection_time_ms(), None);
}

#[test]
fn ch08_track_resume_point_prefers_the_header() {
    let cases = [
        (Some("42"), Some(7)),
        (Some(" 42 "), None),
        (Some("abc"), Some(7)),
        (Some(""), None),
        (None, Some(7)),
        (None, None),
    ];
    for (header, after) in cases {
        let expected = pushlab::transport::sse::resume_point(header, after);
        assert_eq!(
            track::ch08::resume_point(header, after),
            expected,
            "{header:?} {after:?}"
        );
    }
}

#[test]
fn ch08_the_small_reader_agrees_with_pushlabs_sse_parser() {
    let streams = [
        "retry: 500\nid: 4\n\nid: 5\ndata: story 1\n\n",
        ": heartbeat comment\r\ndata: a\r\ndata: b\r\n\r\n",
        "event: reset\ndata: {}\nid: 9\n\ndata:no space\rdata:  two spaces\r\r",
        "data\n\nid: 3\nevent: x\n\ndata: after an empty event\n\n",
        "id: 1\ndata: kept\n\ndata: not dispatched, no blank line",
    ];
    for stream in streams {
        let mut parser = pushlab::client::sse::SseParser::new(1 << 20);
        let mut events = Vec::new();
        parser.feed(stream.as_bytes(), &mut events).unwrap();
        let expected: Vec<(String, String, String)> = events
            .into_iter()
            .map(|e| (e.event_type, e.data, e.last_event_id))
            .collect();
        assert_eq!(ch08::parse_stream(stream), expected, "{stream:?}");
    }
}

// ---- chapter 9: the WebSocket handshake ----

#[test]
fn ch09_accept_key_rfc_example_and_pushlab() {
    assert_eq!(
        ch09::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    for key in [
        "c2hvcnQ=",
        "AAAAAAAAAAAAAAAAAAAAAA==",
        "x3JJHMbDL1EzLkh9GBhXDw==",
    ] {
        assert_eq!(
            ch09::accept_key(key),
            pushlab::ws::handshake::accept_key(key)
        );
    }
    assert_eq!(ch09::GUID, pushlab::ws::handshake::WEBSOCKET_GUID);
}

#[test]
fn ch09_only_keys_of_16_bytes_are_valid() {
    assert!(ch09::key_is_valid("dGhlIHNhbXBsZSBub25jZQ=="));
    assert!(ch09::key_is_valid("AAAAAAAAAAAAAAAAAAAAAA=="));
    for bad in [
        "c2hvcnQ=",
        "",
        "dGhlIHNhbXBsZSBub25jZQ",
        "not base64 at all!",
        "AAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(!ch09::key_is_valid(bad), "{bad:?}");
    }
}

/// The RFC's key, sent as a handshake for `/ws/echo` with `version` and `origin`.
fn handshake(addr: std::net::SocketAddr, version: &str, origin: Option<&str>) -> Vec<u8> {
    let origin = origin.map_or(String::new(), |origin| format!("Origin: {origin}\r\n"));
    format!(
        "GET /ws/echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n{origin}\r\n"
    )
    .into_bytes()
}

#[test]
fn ch09_the_answer_to_each_handshake_is_what_pushlab_sends() {
    let server = common::server();
    let own = format!("http://{}", server.addr);
    let cases = [
        ("13", None),
        ("13", Some(own.as_str())),
        ("8", None),
        ("8", Some("https://evil.example")),
        ("13", Some("https://evil.example")),
        ("13", Some("null")),
    ];
    for (version, origin) in cases {
        let (status, headers) =
            ch09::expected_answer("dGhlIHNhbXBsZSBub25jZQ==", version, origin, &own);
        let mut socket = common::connect(server.addr);
        socket
            .write_all(&handshake(server.addr, version, origin))
            .unwrap();
        let answer = common::read_response(&mut socket, true);
        let case = format!("version {version}, origin {origin:?}");
        assert_eq!(status, answer.status, "{case}");
        for (name, value) in headers {
            assert_eq!(answer.header(name), Some(value.as_str()), "{case}: {name}");
        }
    }
    let (_, switched) = ch09::expected_answer("dGhlIHNhbXBsZSBub25jZQ==", "13", None, &own);
    assert!(switched.contains(&(
        "Sec-WebSocket-Accept",
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string()
    )));
    let (_, refused) = ch09::expected_answer("dGhlIHNhbXBsZSBub25jZQ==", "8", None, &own);
    assert!(
        refused.iter().any(|(name, _)| *name == "Upgrade"),
        "RFC 9110 §15.5.22: a 426 names the protocol to upgrade to"
    );
}

// ---- chapter 10: WebSocket frames (build-it-yourself track) ----

/// The example frames of RFC 6455 §5.7, and what they hold.
fn rfc_frames() -> Vec<(Vec<u8>, bool, u8, Vec<u8>)> {
    let mut frames = vec![
        (
            vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            true,
            1,
            b"Hello".to_vec(),
        ),
        (
            vec![
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            true,
            1,
            b"Hello".to_vec(),
        ),
        (
            vec![0x01, 0x03, 0x48, 0x65, 0x6c],
            false,
            1,
            b"Hel".to_vec(),
        ),
        (vec![0x80, 0x02, 0x6c, 0x6f], true, 0, b"lo".to_vec()),
        (
            vec![0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            true,
            9,
            b"Hello".to_vec(),
        ),
        (
            vec![
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            true,
            10,
            b"Hello".to_vec(),
        ),
    ];
    let mut binary_256 = vec![0x82, 0x7e, 0x01, 0x00];
    binary_256.extend(vec![7u8; 256]);
    frames.push((binary_256, true, 2, vec![7u8; 256]));
    let mut binary_64k = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    binary_64k.extend(vec![9u8; 65536]);
    frames.push((binary_64k, true, 2, vec![9u8; 65536]));
    frames
}

#[test]
fn ch10_track_decodes_the_rfc_example_frames() {
    for (bytes, fin, opcode, payload) in rfc_frames() {
        let (frame, used) = track::ch10::decode_frame(&bytes).unwrap().unwrap();
        assert_eq!((frame.fin, frame.opcode, used), (fin, opcode, bytes.len()));
        assert_eq!(frame.payload, payload);
    }
}

#[test]
fn ch10_track_need_more_bytes_is_not_an_error_and_trailing_bytes_stay() {
    for (bytes, ..) in rfc_frames().into_iter().take(7) {
        for cut in 0..bytes.len() {
            assert_eq!(
                track::ch10::decode_frame(&bytes[..cut]),
                Ok(None),
                "{cut} bytes"
            );
        }
        let mut two = bytes.clone();
        two.extend_from_slice(&[0x81, 0x00]);
        let (_, used) = track::ch10::decode_frame(&two).unwrap().unwrap();
        assert_eq!(used, bytes.len());
    }
}

#[test]
fn ch10_track_refuses_what_pushlab_refuses() {
    let mut long_ping = vec![0x89, 126, 0, 126];
    long_ping.extend(vec![0u8; 126]);
    let refused: [&[u8]; 6] = [
        &[0xc1, 0x00],                            // RSV1 without an extension
        &[0x83, 0x00],                            // reserved data opcode
        &[0x8b, 0x00],                            // reserved control opcode
        &[0x09, 0x00],                            // fragmented ping
        &long_ping,                               // ping longer than 125 bytes
        &[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0], // 64-bit length with its top bit set
    ];
    for bytes in refused {
        assert!(
            pushlab::ws::frame::decode_header(bytes).is_err(),
            "pushlab accepts {bytes:02x?}"
        );
        assert!(
            track::ch10::decode_frame(bytes).is_err(),
            "{bytes:02x?} was accepted"
        );
    }
}

#[test]
fn ch10_encoded_frames_are_pushlabs_and_decode_back() {
    use pushlab::ws::frame::{encode_frame, Opcode};
    for len in [0, 5, 125, 126, 127, 65535, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        for mask in [None, Some([0x37, 0xfa, 0x21, 0x3d])] {
            let mut expected = Vec::new();
            encode_frame(true, Opcode::Binary, &payload, mask, &mut expected);
            let answer = ch10::encode_frame(2, &payload, mask);
            assert_eq!(answer, expected, "{len} bytes, mask {mask:?}");
            let (frame, _) = ch10::decode_frame(&answer).unwrap().unwrap();
            assert_eq!(frame.payload, payload);
        }
    }
}

#[test]
fn ch10_a_ping_gets_the_pong_pushlab_sends() {
    // A client's empty ping, masked with the key 11 22 33 44: the server answers an empty pong.
    let empty_ping = [0x89, 0x80, 0x11, 0x22, 0x33, 0x44];
    assert_eq!(ch10::pong_for(&empty_ping), Ok(vec![0x8a, 0x00]));
    // RFC 6455 §5.7's masked "Hello", as a ping.
    let hello_ping = [
        0x89, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut pushlabs = Vec::new();
    pushlab::ws::frame::encode_frame(true, Opcode::Pong, b"Hello", None, &mut pushlabs);
    assert_eq!(ch10::pong_for(&hello_ping), Ok(pushlabs));
    for not_a_masked_ping in [
        &[0x89, 0x05, b'H', b'e', b'l', b'l', b'o'][..],
        &[0x81, 0x80, 0x11, 0x22, 0x33, 0x44],
        &[0x8a, 0x80, 0x11, 0x22, 0x33, 0x44],
        &hello_ping[..5],
    ] {
        assert!(
            ch10::pong_for(not_a_masked_ping).is_err(),
            "{not_a_masked_ping:02x?}"
        );
    }
    // The real server answers the same ping with the same bytes.
    let server = common::server();
    let mut socket = common::connect(server.addr);
    socket
        .write_all(&handshake(server.addr, "13", None))
        .unwrap();
    assert_eq!(common::read_response(&mut socket, true).status, 101);
    socket.write_all(&empty_ping).unwrap();
    let mut pong = [0u8; 2];
    socket.read_exact(&mut pong).unwrap();
    assert_eq!(ch10::pong_for(&empty_ping), Ok(pong.to_vec()));
}

// ---- chapter 11: WebSocket in the server ----

#[test]
fn ch11_close_payloads() {
    use ch11::ClosePayload::{Code, Fail, NoCode};
    assert_eq!(ch11::close_payload(&[]), NoCode);
    assert_eq!(ch11::close_payload(&[0x03]), Fail(1002));
    assert_eq!(
        ch11::close_payload(&[0x03, 0xe8]),
        Code(1000, String::new())
    );
    assert_eq!(
        ch11::close_payload(b"\x0f\xa0bye"),
        Code(4000, "bye".into())
    );
    assert_eq!(ch11::close_payload(&[0x03, 0xe8, 0xff]), Fail(1007));
    for code in [
        0u16, 999, 1000, 1001, 1003, 1004, 1005, 1006, 1007, 1011, 1012, 1015, 1016, 2999, 3000,
        4999, 5000,
    ] {
        let valid = matches!(ch11::close_payload(&code.to_be_bytes()), Code(..));
        assert_eq!(
            valid,
            pushlab::ws::close::is_valid_close_code(code),
            "code {code}"
        );
    }
}

#[test]
fn ch11_echo_over_a_real_socket() {
    let server = common::server();
    for text in ["Hello", "", "é 中文 🦀", &"long ".repeat(30_000)] {
        assert_eq!(ch11::echo(server.addr, text).unwrap(), text);
    }
}

// ---- chapter 12: automatic fallback ----

#[test]
fn ch12_the_fallback_order_is_pushlab_js_and_skips_failed_doors() {
    let js =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/static/pushlab.js")).unwrap();
    let quoted: Vec<String> = ch12::AUTO_ORDER
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect();
    assert!(
        js.contains(&format!("var AUTO_ORDER = [{}];", quoted.join(", "))),
        "AUTO_ORDER differs from static/pushlab.js"
    );
    let order = ch12::AUTO_ORDER;
    assert_eq!(ch12::next_transport(&order, &[]), Some("websocket"));
    assert_eq!(ch12::next_transport(&order, &["websocket"]), Some("sse"));
    assert_eq!(
        ch12::next_transport(&order, &["sse", "websocket"]),
        Some("longpoll")
    );
    assert_eq!(ch12::next_transport(&order, &order), None);
}

#[test]
fn ch12_backoff_doubles_to_its_cap_with_equal_jitter() {
    assert_eq!(ch12::backoff_delay_ms(0, 250, 10_000, 0.0), 125);
    assert_eq!(ch12::backoff_delay_ms(0, 250, 10_000, 1.0), 250);
    assert_eq!(ch12::backoff_delay_ms(3, 250, 10_000, 1.0), 2000);
    assert_eq!(ch12::backoff_delay_ms(6, 250, 10_000, 1.0), 10_000);
    assert_eq!(ch12::backoff_delay_ms(60, 250, 10_000, 0.0), 5000);
    for attempt in 0..40 {
        let low = ch12::backoff_delay_ms(attempt, 250, 10_000, 0.0);
        let high = ch12::backoff_delay_ms(attempt, 250, 10_000, 1.0);
        assert!(
            low >= 125 && low * 2 == high && high <= 10_000,
            "attempt {attempt}"
        );
    }
}

#[test]
fn ch12_only_a_connection_that_stayed_open_resets_the_backoff() {
    assert_eq!(ch12::STABLE_OPEN_MS, 5_000);
    assert_eq!(ch12::attempt_after_close(3, 100), 4);
    assert_eq!(ch12::attempt_after_close(3, 4_999), 4);
    assert_eq!(ch12::attempt_after_close(3, 5_000), 0);
    assert_eq!(ch12::attempt_after_close(0, 60_000), 0);
    assert_eq!(ch12::attempt_after_close(u32::MAX, 0), u32::MAX);
    // A server that accepts every connection and closes it 100 ms later: the delays grow to the cap
    // instead of staying at the base, as they would if every open reset the backoff.
    let mut attempt = 0;
    let delays: Vec<u64> = (0..10)
        .map(|_| {
            attempt = ch12::attempt_after_close(attempt, 100);
            ch12::backoff_delay_ms(attempt, 250, 10_000, 1.0)
        })
        .collect();
    assert!(
        delays.windows(2).all(|pair| pair[0] <= pair[1]),
        "{delays:?}"
    );
    assert_eq!(delays.last(), Some(&10_000), "{delays:?}");
}

// ---- chapter 13: security ----

#[test]
fn ch13_hosts_that_dns_rebinding_cannot_fake() {
    let hosts = [
        "127.0.0.1:8080",
        "127.0.0.1",
        "[::1]:8080",
        "[::1]",
        "localhost:8080",
        "LOCALHOST",
        "localhost.:8080",
        "10.0.0.7:80",
        "evil.example:8080",
        "evil.example",
        "localhost.evil.example",
        "127.0.0.1.nip.io:8080",
        "",
    ];
    for host in hosts {
        let expected = pushlab::http::site::host_allowed(host, &[]);
        assert_eq!(ch13::host_allowed(host), expected, "{host:?}");
    }
}

#[test]
fn ch13_attacks_against_the_real_server() {
    let server = common::server();
    let host = format!("Host: {}\r\n", server.addr);
    let csrf = format!(
        "POST /publish/chat HTTP/1.1\r\n{host}Origin: https://evil.example\r\nContent-Length: 2\r\n\r\nhi"
    );
    let rebinding = "GET /poll/chat HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n".to_string();
    let smuggling = format!(
        "POST /publish/chat HTTP/1.1\r\n{host}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    );
    let own_page = format!(
        "POST /publish/chat HTTP/1.1\r\n{host}Origin: http://{}\r\nContent-Length: 2\r\n\r\nhi",
        server.addr
    );
    let opaque_origin =
        format!("POST /publish/chat HTTP/1.1\r\n{host}Origin: null\r\nContent-Length: 2\r\n\r\nhi");
    let same_site_channel = format!(
        "POST /channel/chat/s1 HTTP/1.1\r\n{host}Sec-Fetch-Site: same-site\r\nContent-Length: 2\r\n\r\nhi"
    );
    for (request, status) in [
        (csrf, 403),
        (rebinding, 421),
        (smuggling, 400),
        (own_page, 200),
        (opaque_origin, 403),
        (same_site_channel, 403),
    ] {
        assert_eq!(
            ch13::status_of(server.addr, request.as_bytes()).unwrap(),
            status,
            "{request}"
        );
    }
}

#[test]
fn ch13_the_publish_bucket_counts_as_pushlabs_does() {
    use pushlab::server::rate::PublishBuckets;
    let client = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let start = Instant::now();
    // (rate per second, burst, publish times in ms), each a schedule where the bucket runs dry.
    let schedules: [(u32, u32, &[u64]); 4] = [
        (2, 5, &[0, 0, 0, 0, 0, 0, 100, 499, 500, 501, 1_000]),
        (10, 3, &[0, 0, 0, 0, 40, 100, 100, 250, 5_000]),
        (3, 1, &[0, 1, 333, 334, 335, 1_000, 1_001]),
        (1_000_000, 1, &[0, 0, 0, 1, 1]),
    ];
    for (rate, burst, times) in schedules {
        let mut pushlabs = PublishBuckets::new(rate, burst);
        let mut yours = ch13::Bucket::new(rate, burst);
        for &at in times {
            let expected = pushlabs
                .take(client, start + Duration::from_millis(at))
                .map_err(|wait| wait.as_millis() as u64);
            assert_eq!(
                yours.take(at),
                expected,
                "rate {rate}, burst {burst}, at {at} ms"
            );
        }
    }
    // After a very long silence the refill overflows a u64 unless it saturates: the bucket is full.
    let mut yours = ch13::Bucket::new(1_000_000, 2);
    assert_eq!(yours.take(0), Ok(()));
    assert_eq!(yours.take(u64::MAX / 2), Ok(()));
    assert_eq!(yours.take(u64::MAX / 2), Ok(()));
    assert!(yours.take(u64::MAX / 2).is_err());
}

// ---- chapter 14: the comparison lab ----

#[test]
fn ch14_percentiles_by_nearest_rank() {
    let samples: Vec<u64> = (1..=10).collect();
    assert_eq!(ch14::percentile(&samples, 50), Some(5));
    assert_eq!(ch14::percentile(&samples, 95), Some(10));
    assert_eq!(ch14::percentile(&samples, 100), Some(10));
    assert_eq!(ch14::percentile(&samples, 0), Some(1));
    assert_eq!(ch14::percentile(&samples, 11), Some(2));
    assert_eq!(ch14::percentile(&[], 50), None);
    assert_eq!(ch14::percentile(&[7], 99), Some(7));
}

#[test]
fn ch14_a_delivery_tally() {
    let tally = |received: &[u64], sent| ch14::tally(received, sent);
    assert_eq!(tally(&[1, 2, 3], 3), ch14::Tally::default());
    let broken = tally(&[1, 3, 2, 3, 5], 6);
    assert_eq!(
        broken,
        ch14::Tally {
            lost: 2,
            duplicated: 1,
            out_of_order: 1
        }
    );
}

// ---- chapter 15: the server core ----

#[test]
fn ch15_a_moved_deadline_fires_once_at_its_new_time() {
    let now = Instant::now();
    let at = |ms| now + Duration::from_millis(ms);
    let mut deadlines = ch15::LazyDeadlines::default();
    deadlines.set(1, at(20_000)); // a long poll's hold
    deadlines.set(2, at(5_000));
    deadlines.set(1, at(30_000)); // moved: the old entry is stale
    deadlines.set(3, at(1_000));
    deadlines.clear(3); // closed
    assert_eq!(deadlines.next(), Some(at(5_000)));
    assert_eq!(deadlines.expired(at(25_000)), [2]);
    assert_eq!(deadlines.next(), Some(at(30_000)));
    assert_eq!(deadlines.expired(at(30_000)), [1]);
    assert_eq!(deadlines.next(), None);
    assert_eq!(deadlines.expired(at(99_000)), Vec::<usize>::new());
}

/// One step of a connection's output: a message or another piece of some length, or a drain.
#[derive(Clone, Copy, Debug)]
enum Step {
    Message(usize),
    Control(usize),
    Drain(usize),
}

#[test]
fn ch15_the_budget_decides_as_pushlabs_output_does() {
    use pushlab::server::output::Output;
    use Step::{Control, Drain, Message};
    let limit = 100;
    let script = [
        Message(60),
        Message(50), // does not fit whole: waits in the log
        Message(40),
        Control(1), // the queue is at the budget: not even a heartbeat
        Drain(30),
        Control(45), // below the budget: it goes, and passes the budget
        Message(1),
        Drain(1000),
        Message(150), // larger than the budget, but alone: it goes
        Message(1),
        Drain(150),
        Message(100),
    ];
    let mut answer = ch15::OutputBudget { limit, pending: 0 };
    let mut pushlab = Output::default();
    for (n, step) in script.into_iter().enumerate() {
        let (mine, theirs) = match step {
            Message(len) => (
                answer.try_message(len),
                pushlab
                    .send_piece(limit, len, |out| out.extend(vec![b'm'; len]))
                    .is_ok(),
            ),
            Control(len) => (
                answer.try_control(len),
                pushlab
                    .send(limit, |out| out.extend(vec![b'c'; len]))
                    .is_ok(),
            ),
            Drain(len) => {
                answer.drained(len);
                pushlab.wrote(len.min(pushlab.pending()));
                (true, true)
            }
        };
        assert_eq!(mine, theirs, "step {n}: {step:?}");
        assert_eq!(
            answer.pending,
            pushlab.pending(),
            "after step {n}: {step:?}"
        );
    }
}

// ---- chapter 16: choosing a technique ----

#[test]
fn ch16_the_five_questions() {
    use ch16::Needs;
    let chat = Needs {
        talks_back: true,
        ..Needs::default()
    };
    let ticker = Needs {
        unbuffered_path: true,
        may_hold: true,
        ..Needs::default()
    };
    let behind_a_buffering_proxy = Needs {
        may_hold: true,
        ..Needs::default()
    };
    let serverless_status_page = Needs::default();
    let authorised_feed = Needs {
        unbuffered_path: true,
        controls_the_request: true,
        ..Needs::default()
    };
    assert_eq!(ch16::choose(chat), "websocket");
    assert_eq!(ch16::choose(ticker), "sse");
    assert_eq!(ch16::choose(behind_a_buffering_proxy), "long-poll");
    assert_eq!(ch16::choose(serverless_status_page), "short-poll");
    assert_eq!(ch16::choose(authorised_feed), "xhr-stream");
}

#[test]
fn ch16_what_an_idle_client_costs_in_requests() {
    let (interval, hold) = (Duration::from_millis(300), Duration::from_secs(20));
    assert_eq!(
        ch16::idle_requests_per_hour("short-poll", interval, hold),
        12_000
    );
    assert_eq!(
        ch16::idle_requests_per_hour("long-poll", interval, hold),
        180
    );
    assert_eq!(ch16::idle_requests_per_hour("jsonp", interval, hold), 180);
    for held in ["sse", "websocket", "xhr-stream", "iframe"] {
        assert_eq!(
            ch16::idle_requests_per_hour(held, interval, hold),
            0,
            "{held}"
        );
    }
    assert_eq!(
        ch16::idle_requests_per_hour("short-poll", Duration::ZERO, hold),
        0
    );
}

// ---- the exercise pages ----

// ---- chapter 17: scaling out ----

/// Commands whose arguments are empty, carry CR and LF, NUL or multi-byte UTF-8.
const CH17_COMMANDS: &[&[&[u8]]] = &[
    &[b"PING"],
    &[b"GET", b""],
    &[
        b"XADD",
        b"pushlab:topic:chat",
        b"7-0",
        b"d",
        b"line one\r\nline two",
    ],
    &[b"SET", b"k\0ey", "caf\u{e9} \u{1f600}".as_bytes()],
    &[],
];

#[test]
fn ch17_encode_frames_commands_as_pushlab_does() {
    for args in CH17_COMMANDS {
        let mut expected = Vec::new();
        pushlab::redis::resp::encode_command(args, &mut expected);
        assert_eq!(ch17::encode(args), expected, "{args:?}");
    }
}

#[test]
fn ch17_parse_flat_replies_whole_and_cut() {
    use ch17::Flat;
    use pushlab::redis::resp::{Reply, ReplyParser};
    let replies: [&[u8]; 7] = [
        b"+OK\r\n",
        b"-ERR unknown command\r\n",
        b":-42\r\n",
        b"$5\r\nhello\r\n",
        b"$0\r\n\r\n",
        b"$4\r\na\r\nb\r\n",
        b"$-1\r\n",
    ];
    for bytes in replies {
        let (used, reply) = ReplyParser::default().parse(bytes).expect("a valid reply");
        let expected = match reply.expect("whole") {
            Reply::Simple(text) => Flat::Simple(text),
            Reply::Error(text) => Flat::Error(text),
            Reply::Integer(n) => Flat::Integer(n),
            Reply::Bulk(data) => Flat::Bulk(data),
            Reply::Null => Flat::Null,
            Reply::Array(_) => unreachable!("only flat replies here"),
        };
        assert_eq!(ch17::parse_flat(bytes), Some((expected, used)), "{bytes:?}");
        for cut in 0..bytes.len() {
            assert_eq!(
                ch17::parse_flat(&bytes[..cut]),
                None,
                "{bytes:?} cut at {cut}"
            );
        }
    }
    // A reply followed by the next one (pipelining): only the first is taken.
    assert_eq!(
        ch17::parse_flat(b":1\r\n:2\r\n"),
        Some((Flat::Integer(1), 4))
    );
}

#[test]
fn ch17_wire_ids_from_stream_ids() {
    assert_eq!(ch17::wire_id("7-0"), Some(7));
    assert_eq!(ch17::wire_id("1796318555315-0"), Some(1_796_318_555_315));
    assert_eq!(ch17::wire_id("9007199254740992-0"), Some(1 << 53));
    for not_ours in [
        "9007199254740993-0",
        "7-1",
        "7",
        "-0",
        "+7-0",
        "7-0-0",
        "x-0",
        "",
    ] {
        assert_eq!(ch17::wire_id(not_ours), None, "{not_ours}");
    }
}

/// Every numbered chapter that has exercises links its page, each page names two or three exercises,
/// and every check command on a page selects at least one test of this file.
#[test]
fn every_exercise_page_names_checks_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("tests/exercises.rs")).unwrap();
    let tests: Vec<&str> = source
        .lines()
        .filter_map(|line| line.strip_prefix("fn ch"))
        .collect();
    for chapter in 1..=17 {
        let page_name = format!("ch{chapter:02}.md");
        let page = std::fs::read_to_string(root.join("tutorials/exercises").join(&page_name))
            .unwrap_or_else(|e| panic!("{page_name}: {e}"));
        let exercises = page
            .lines()
            .filter(|line| {
                let heading = line.trim_start_matches('#').trim_start();
                line.starts_with("##") && heading.starts_with(&format!("{chapter}."))
            })
            .count();
        assert!(
            (2..=3).contains(&exercises),
            "{page_name}: {exercises} exercises"
        );
        let commands: Vec<&str> = page
            .split("cargo test --test exercises ")
            .skip(1)
            .filter_map(|rest| rest.split(['`', '\n', ' ']).next())
            .collect();
        assert!(!commands.is_empty(), "{page_name} names no check");
        for filter in commands {
            let name = filter.strip_prefix("ch").unwrap_or(filter);
            assert!(
                tests.iter().any(|test| test.starts_with(name)),
                "{page_name}: `{filter}` selects no test"
            );
        }
        let chapter_file = std::fs::read_dir(root.join("tutorials"))
            .unwrap()
            .filter_map(|entry| entry.ok())
            .find(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{chapter:02}-"))
            })
            .unwrap_or_else(|| panic!("no chapter {chapter}"));
        let text = std::fs::read_to_string(chapter_file.path()).unwrap();
        assert!(
            text.contains(&format!("(exercises/{page_name})")),
            "{} does not link {page_name}",
            chapter_file.path().display()
        );
    }
}
