//! The event-stream parser against the WHATWG HTML examples ("Server-sent events", §9.2.5–9.2.6) and
//! one vector per parsing rule. Every vector is fed whole, one byte at a time, and split in two at
//! every position; all three must give the same events and the same final state.

use pushlab::client::sse::{SseEvent, SseParser};

/// One input and everything the parser must make of it.
struct Vector {
    name: &'static str,
    input: &'static [u8],
    /// (event type, data, last event id) of each dispatched event.
    events: &'static [(&'static str, &'static str, &'static str)],
    /// The last event id after the stream ended (what a reconnect would send).
    last_event_id: &'static str,
    /// The reconnection time after the stream ended.
    retry_ms: Option<u64>,
}

const VECTORS: &[Vector] = &[
    // WHATWG example: "data: YHOO" ... three data lines make one event joined with LF.
    Vector {
        name: "spec: multi-line data",
        input: b"data: YHOO\ndata: +2\ndata: 10\n\n",
        events: &[("message", "YHOO\n+2\n10", "")],
        last_event_id: "",
        retry_ms: None,
    },
    // WHATWG example: a comment block, an id, an empty id that clears it, one leading space stripped
    // only, and a last block that fires because it ends with a blank line.
    Vector {
        name: "spec: test stream",
        input: b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
        events: &[("message", "first event", "1"), ("message", "second event", ""), ("message", " third event", "")],
        last_event_id: "",
        retry_ms: None,
    },
    // WHATWG example: `data` without colon is empty data; two of them make "\n"; the last block is not
    // ended by a blank line and is discarded.
    Vector {
        name: "spec: empty data and an unterminated last block",
        input: b"data\n\ndata\ndata\n\ndata:",
        events: &[("message", "", ""), ("message", "\n", "")],
        last_event_id: "",
        retry_ms: None,
    },
    // WHATWG example: "data:test" and "data: test" are the same.
    Vector {
        name: "spec: one optional space",
        input: b"data:test\n\ndata: test\n\n",
        events: &[("message", "test", ""), ("message", "test", "")],
        last_event_id: "",
        retry_ms: None,
    },
    // WHATWG example: named events.
    Vector {
        name: "spec: event types",
        input: b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        events: &[("add", "73857293", ""), ("remove", "2153", ""), ("add", "113411", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "event type resets after dispatch",
        input: b"event: x\ndata: 1\n\ndata: 2\n\n",
        events: &[("x", "1", ""), ("message", "2", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "event type resets even when nothing is dispatched",
        input: b"event: x\n\ndata: 2\n\n",
        events: &[("message", "2", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "empty event field means message",
        input: b"event\ndata: x\n\n",
        events: &[("message", "x", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "a leading BOM is stripped",
        input: b"\xEF\xBB\xBFdata: a\n\n",
        events: &[("message", "a", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "only one BOM is stripped",
        input: b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
        events: &[("message", "b", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "a BOM after the start is not stripped",
        input: b"data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: \xEF\xBB\xBFc\n\n",
        events: &[("message", "a", ""), ("message", "\u{FEFF}c", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "a BOM before a blank first line",
        input: b"\xEF\xBB\xBF\ndata: a\n\n",
        events: &[("message", "a", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "CRLF line ends",
        input: b"data: a\r\ndata: b\r\n\r\n",
        events: &[("message", "a\nb", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "lone CR line ends",
        input: b"data: a\rdata: b\r\rdata: c\r\r",
        events: &[("message", "a\nb", ""), ("message", "c", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "mixed line ends; LF then CR is two line ends",
        input: b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\rdata: e\n\n",
        events: &[("message", "a\nb\nc", ""), ("message", "d", ""), ("message", "e", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "comments are ignored",
        input: b": hello\n:\n: heartbeat\ndata: x\n: inside an event\n\n",
        events: &[("message", "x", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "only one leading space is stripped, and only a space",
        input: b"data:  two\n\ndata:\tx\n\n",
        events: &[("message", " two", ""), ("message", "\tx", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "the value is everything after the first colon",
        input: b"data: a:b: c\n\n",
        events: &[("message", "a:b: c", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "unknown fields are ignored and names are case-sensitive",
        input: b"foo: bar\nDATA: y\nData: z\ndata: x\nid : 9\n\n",
        events: &[("message", "x", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "a trailing empty data line keeps one LF",
        input: b"data: a\ndata:\n\n",
        events: &[("message", "a\n", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "id persists across events",
        input: b"id: 3\ndata: a\n\ndata: b\n\n",
        events: &[("message", "a", "3"), ("message", "b", "3")],
        last_event_id: "3",
        retry_ms: None,
    },
    Vector {
        name: "an id containing NUL is ignored",
        input: b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        events: &[("message", "a", "1"), ("message", "b", "1")],
        last_event_id: "1",
        retry_ms: None,
    },
    Vector {
        name: "an empty id clears the last event id",
        input: b"id: 1\ndata: a\n\nid:\ndata: b\n\n",
        events: &[("message", "a", "1"), ("message", "b", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "an id without data is remembered without an event",
        input: b"id: 5\n\n",
        events: &[],
        last_event_id: "5",
        retry_ms: None,
    },
    Vector {
        name: "an id in an unterminated event does not count",
        input: b"id: 1\ndata: a\n\nid: 9\ndata: b\n",
        events: &[("message", "a", "1")],
        last_event_id: "1",
        retry_ms: None,
    },
    Vector {
        name: "an unterminated last line is discarded",
        input: b"data: a\n\ndata: b",
        events: &[("message", "a", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "retry with digits only",
        input: b"retry: 1500\n\n",
        events: &[],
        last_event_id: "",
        retry_ms: Some(1500),
    },
    Vector {
        name: "retry that is not all digits is ignored",
        input: b"retry: 1500\nretry: 15x\nretry: -1\nretry: 1.5\nretry:  100\nretry\nretry:\n\n",
        events: &[],
        last_event_id: "",
        retry_ms: Some(1500),
    },
    Vector {
        name: "retry does not dispatch and mixes with data",
        input: b"retry: 0\ndata: x\n\n",
        events: &[("message", "x", "")],
        last_event_id: "",
        retry_ms: Some(0),
    },
    Vector {
        name: "UTF-8, and invalid bytes become U+FFFD",
        input: "data: é😀\n\n".as_bytes(),
        events: &[("message", "é😀", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "invalid UTF-8",
        input: b"data: a\xFFb\n\n",
        events: &[("message", "a\u{FFFD}b", "")],
        last_event_id: "",
        retry_ms: None,
    },
    Vector {
        name: "pushlab's own framing: retry, message, reset, heartbeat",
        input: b"retry: 2000\n\nid: 41\ndata: line 1\ndata: line 2\n\nevent: heartbeat\ndata:\n\nevent: reset\ndata: {\"reset\":true,\"last\":50}\nid: 50\n\n",
        events: &[("message", "line 1\nline 2", "41"), ("heartbeat", "", "41"), ("reset", "{\"reset\":true,\"last\":50}", "50")],
        last_event_id: "50",
        retry_ms: Some(2000),
    },
];

/// The parser's output for `pieces` fed in order, then the end of the stream.
fn run(pieces: &[&[u8]]) -> (Vec<SseEvent>, String, Option<u64>) {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    for piece in pieces {
        parser.feed(piece, &mut events).expect("within limits");
    }
    parser.finish();
    (
        events,
        parser.last_event_id().to_string(),
        parser.reconnection_time_ms(),
    )
}

fn expected(vector: &Vector) -> (Vec<SseEvent>, String, Option<u64>) {
    let events = vector
        .events
        .iter()
        .map(|(event_type, data, id)| SseEvent {
            event_type: event_type.to_string(),
            data: data.to_string(),
            last_event_id: id.to_string(),
        })
        .collect();
    (events, vector.last_event_id.to_string(), vector.retry_ms)
}

#[test]
fn vectors_fed_whole() {
    for vector in VECTORS {
        assert_eq!(run(&[vector.input]), expected(vector), "{}", vector.name);
    }
}

#[test]
fn vectors_fed_one_byte_at_a_time() {
    for vector in VECTORS {
        let bytes: Vec<&[u8]> = vector.input.chunks(1).collect();
        assert_eq!(run(&bytes), expected(vector), "{}", vector.name);
    }
}

#[test]
fn vectors_split_at_every_position() {
    for vector in VECTORS {
        for split in 0..=vector.input.len() {
            let (head, tail) = vector.input.split_at(split);
            assert_eq!(
                run(&[head, tail]),
                expected(vector),
                "{} split at {split}",
                vector.name
            );
        }
    }
}

#[test]
fn a_crlf_split_across_reads_is_one_line_end() {
    // "data: a\r" then "\n": were the LF a second line end, it would be a blank line and dispatch "a"
    // on its own.
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser.feed(b"data: a\r", &mut events).unwrap();
    parser.feed(b"\n", &mut events).unwrap();
    assert!(
        events.is_empty(),
        "the LF of a split CRLF is not a blank line"
    );
    parser.feed(b"data: b\r", &mut events).unwrap();
    parser.feed(b"\n\r", &mut events).unwrap();
    parser.feed(b"\n", &mut events).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, "a\nb");
}

#[test]
fn comments_are_counted_and_never_dispatched() {
    // Many servers' heartbeats are comments like this one; a page never sees them (pushlab's heartbeat
    // is an `event: heartbeat` instead, see the framing vector above).
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser.feed(b": keep-alive\n\n:\n\n", &mut events).unwrap();
    assert!(events.is_empty());
    assert_eq!(parser.comments_seen(), 2);
}

#[test]
fn trailing_bytes_stay_pending_until_their_line_ends() {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser.feed(b"data: a\n\ndata: b\n", &mut events).unwrap();
    assert_eq!(events.len(), 1);
    parser.feed(b"\n", &mut events).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].data, "b");
}

#[test]
fn an_oversized_event_is_refused() {
    let mut parser = SseParser::new(16);
    let mut events = Vec::new();
    assert!(parser
        .feed(b"data: 0123456789\ndata: 0123456789\n", &mut events)
        .is_err());
    let mut parser = SseParser::new(16);
    assert!(parser.feed(&[b'x'; 17], &mut events).is_err());
}
