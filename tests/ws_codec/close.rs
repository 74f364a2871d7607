//! Autobahn section 7: close handling and close codes (RFC 6455 §5.5.1, §7).

use crate::support::*;
use pushlab::ws::Event;

/// The codes the conformance tools send expecting an echo.
const VALID_CODES: [u16; 16] = [
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];
/// The codes they send expecting a 1002.
const INVALID_CODES: [u16; 11] = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000];

fn close_event(code: Option<u16>, reason: &str) -> Event {
    Event::Close {
        code,
        reason: reason.to_string(),
    }
}

#[test]
fn empty_close_is_answered_with_an_empty_close() {
    expect_events(
        &raw_frame(FIN | CLOSE, b""),
        &[close_event(None, "")],
        &server_frame(FIN | CLOSE, b""),
    );
}

#[test]
fn valid_codes_are_echoed() {
    for code in VALID_CODES {
        expect_events(
            &close_frame(code, b""),
            &[close_event(Some(code), "")],
            &server_close(code),
        );
    }
}

#[test]
fn invalid_codes_are_answered_with_1002() {
    for code in INVALID_CODES {
        expect_failure(&close_frame(code, b""), 1002, &[]);
    }
}

#[test]
fn one_byte_close_payload_is_a_protocol_error() {
    expect_failure(&raw_frame(FIN | CLOSE, &[0x03]), 1002, &[]);
}

#[test]
fn reason_is_delivered() {
    expect_events(
        &close_frame(1000, b"Hello World!"),
        &[close_event(Some(1000), "Hello World!")],
        &server_close(1000),
    );
    let longest = "*".repeat(123);
    expect_events(
        &close_frame(1000, longest.as_bytes()),
        &[close_event(Some(1000), &longest)],
        &server_close(1000),
    );
}

#[test]
fn close_payload_over_125_bytes_is_a_protocol_error() {
    expect_failure(&close_frame(1000, &[b'*'; 124]), 1002, &[]);
}

#[test]
fn invalid_utf8_reason_is_answered_with_1007() {
    // The reason is text like any other (§5.5.1, §8.1); Autobahn 7.5.1 accepts 1007 here.
    expect_failure(
        &close_frame(
            1000,
            b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80edited",
        ),
        1007,
        &[],
    );
}

#[test]
fn frames_after_the_close_are_ignored() {
    // Autobahn 7.1.x: nothing the peer sends after its close is processed or answered.
    let input = [
        close_frame(1000, b""),
        text(b"after close"),
        raw_frame(FIN | PING, b"after close"),
    ]
    .concat();
    let run = run_all_ways(&input);
    assert_eq!(run.error, None);
    assert_eq!(run.events, [close_event(Some(1000), "")]);
    assert_eq!(run.out, server_close(1000));
    assert_eq!(run.unconsumed, 0);
}

#[test]
fn close_after_a_message_and_during_a_fragmented_one() {
    let input = [text(b"Hello"), close_frame(1000, b"")].concat();
    expect_events(
        &input,
        &[Event::Text("Hello".into()), close_event(Some(1000), "")],
        &server_close(1000),
    );
    let input = [
        raw_frame(TEXT, b"frag"),
        close_frame(1001, b""),
        raw_frame(FIN | CONTINUATION, b"ment"),
    ]
    .concat();
    expect_events(&input, &[close_event(Some(1001), "")], &server_close(1001));
}

#[test]
fn both_closes_crossed_means_closed() {
    let mut server = server();
    let run = feed(&mut server, &close_frame(1000, b""), usize::MAX);
    assert_eq!(run.error, None);
    assert!(server.close_sent());
    assert!(server.is_closed());
    let mut after = Vec::new();
    server.send_text("too late", &mut after);
    assert!(after.is_empty(), "no data after close (§5.5.1)");
}
