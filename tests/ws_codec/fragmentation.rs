//! Autobahn section 5: fragmentation (RFC 6455 §5.4).

use crate::support::*;
use pushlab::ws::Event;

#[test]
fn fragmented_ping_and_pong_fail() {
    // RFC 6455 §5.5: control frames MUST NOT be fragmented.
    for opcode in [PING, PONG, CLOSE] {
        let input = [
            raw_frame(opcode, b"frag"),
            raw_frame(FIN | CONTINUATION, b"ment"),
        ]
        .concat();
        expect_failure(&input, 1002, &[]);
    }
}

#[test]
fn text_and_binary_in_two_fragments() {
    let input = [
        raw_frame(TEXT, b"fragment1"),
        raw_frame(FIN | CONTINUATION, b"fragment2"),
    ]
    .concat();
    expect_events(
        &input,
        &[Event::Text("fragment1fragment2".to_string())],
        b"",
    );
    let input = [
        raw_frame(BINARY, b"fragment1"),
        raw_frame(FIN | CONTINUATION, b"fragment2"),
    ]
    .concat();
    expect_events(
        &input,
        &[Event::Binary(b"fragment1fragment2".to_vec())],
        b"",
    );
}

#[test]
fn rfc_fragmented_hello_in_many_fragments() {
    let input = [
        raw_frame(TEXT, b"H"),
        raw_frame(CONTINUATION, b"e"),
        raw_frame(CONTINUATION, b""),
        raw_frame(CONTINUATION, b"ll"),
        raw_frame(FIN | CONTINUATION, b"o"),
    ]
    .concat();
    expect_events(&input, &[Event::Text("Hello".to_string())], b"");
}

#[test]
fn empty_fragments() {
    let input = [
        raw_frame(TEXT, b""),
        raw_frame(CONTINUATION, b""),
        raw_frame(FIN | CONTINUATION, b""),
    ]
    .concat();
    expect_events(&input, &[Event::Text(String::new())], b"");
}

#[test]
fn control_frames_between_fragments_are_handled_at_once() {
    // RFC 6455 §5.4: "Control frames MAY be injected in the middle of a fragmented message."
    let input = [
        raw_frame(TEXT, b"frag"),
        raw_frame(FIN | PING, b"p1"),
        raw_frame(CONTINUATION, b"men"),
        raw_frame(FIN | PONG, b"unsolicited"),
        raw_frame(FIN | CONTINUATION, b"ted"),
    ]
    .concat();
    expect_events(
        &input,
        &[
            Event::Ping(b"p1".to_vec()),
            Event::Pong(b"unsolicited".to_vec()),
            Event::Text("fragmented".to_string()),
        ],
        &server_frame(FIN | PONG, b"p1"),
    );
}

#[test]
fn close_between_fragments_drops_the_message() {
    let input = [raw_frame(TEXT, b"never finished"), close_frame(1000, b"")].concat();
    expect_events(
        &input,
        &[Event::Close {
            code: Some(1000),
            reason: String::new(),
        }],
        &server_close(1000),
    );
}

#[test]
fn continuation_without_a_message_fails() {
    for first_byte in [FIN | CONTINUATION, CONTINUATION] {
        expect_failure(&raw_frame(first_byte, b"orphan"), 1002, &[]);
    }
    // Also right after a complete message.
    let input = [text(b"done"), raw_frame(FIN | CONTINUATION, b"orphan")].concat();
    expect_failure(&input, 1002, &[Event::Text("done".to_string())]);
}

#[test]
fn new_message_inside_a_fragmented_one_fails() {
    for interloper in [TEXT, BINARY, FIN | TEXT, FIN | BINARY] {
        let input = [raw_frame(TEXT, b"first"), raw_frame(interloper, b"second")].concat();
        expect_failure(&input, 1002, &[]);
    }
}

#[test]
fn fragmented_message_with_a_ping_after_each_fragment() {
    let mut input = raw_frame(BINARY, &[0]);
    let mut events = Vec::new();
    let mut out = Vec::new();
    for i in 1..=20u8 {
        input.extend(raw_frame(FIN | PING, &[i]));
        events.push(Event::Ping(vec![i]));
        out.extend(server_frame(FIN | PONG, &[i]));
        let fin = if i == 20 { FIN } else { 0 };
        input.extend(raw_frame(fin | CONTINUATION, &[i]));
    }
    events.push(Event::Binary((0..=20).collect()));
    expect_events(&input, &events, &out);
}
