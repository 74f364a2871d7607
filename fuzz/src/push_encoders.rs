//! The encoders of the three doors that put a message inside another language: the iframe stream (a
//! `<script>` in an HTML page), JSONP (a JavaScript call) and SSE (an event-stream event). A payload
//! that could end its container early would let a publisher inject markup, code or events into every
//! subscriber's page, so for any payload, id and callback each encoded piece must be one container that
//! ends exactly at its end, and must read back to what went in.
//!
//! The input is cut as follows: the first byte is the callback's length, then the callback (checked
//! against an independent statement of the identifier rule; a refused one is replaced by `onMessage`),
//! then eight bytes of id (big-endian), then the payloads, separated by `0xFF` (a byte that never occurs
//! in UTF-8), each read as UTF-8 with invalid sequences replaced, as a publish would have to be.

use std::rc::Rc;

use pushlab::client::iframe::ScriptExtractor;
use pushlab::client::json::{self, JsonValue};
use pushlab::client::jsonp::parse_jsonp;
use pushlab::client::sse::{SseEvent, SseParser};
use pushlab::hub::{Message, Replay};
use pushlab::json::message_json;
use pushlab::transport::iframe::IframeStream;
use pushlab::transport::json::reset_json;
use pushlab::transport::jsonp::{self, validate_callback, MAX_CALLBACK_BYTES};
use pushlab::transport::sse::SseStream;
use pushlab::transport::StreamFormat;

/// The callback used when the fuzzer's one is refused.
const FALLBACK_CALLBACK: &str = "onMessage";

/// The fields an event-stream line may start with (WHATWG HTML, "Server-sent events"), and `:` for a
/// comment.
// `data:` without a space: the heartbeat's empty data line is `data:` alone.
const SSE_LINE_STARTS: [&str; 5] = ["id: ", "data:", "event: ", "retry: ", ":"];

/// What the encoders are given, cut from the fuzzer's bytes (see the module docs).
struct EncoderInput {
    callback: String,
    id: u64,
    payloads: Vec<String>,
}

impl EncoderInput {
    fn decode(data: &[u8]) -> EncoderInput {
        let (&callback_len, rest) = data.split_first().unwrap_or((&0, &[]));
        let (callback, rest) = rest.split_at(usize::from(callback_len).min(rest.len()));
        let (id_bytes, rest) = rest.split_at(8.min(rest.len()));
        let mut id = [0u8; 8];
        id[..id_bytes.len()].copy_from_slice(id_bytes);
        EncoderInput {
            callback: String::from_utf8_lossy(callback).into_owned(),
            id: u64::from_be_bytes(id),
            payloads: rest
                .split(|&byte| byte == 0xFF)
                .map(|payload| String::from_utf8_lossy(payload).into_owned())
                .collect(),
        }
    }
}

/// The property (see the module docs): every door's encoding of every payload is one whole container
/// that reads back to the payload.
pub fn push_encoders(data: &[u8]) {
    let input = EncoderInput::decode(data);
    assert_eq!(
        validate_callback(&input.callback).is_ok(),
        is_identifier_path(&input.callback),
        "callback {:?}",
        input.callback
    );
    let callback = if is_identifier_path(&input.callback) {
        input.callback.as_str()
    } else {
        FALLBACK_CALLBACK
    };
    let messages: Vec<Rc<Message>> = input
        .payloads
        .iter()
        .zip(0u64..)
        .map(|(payload, offset)| {
            let id = input.id.saturating_add(offset);
            // As the hub builds it when the message is published.
            Rc::new(Message {
                id,
                data: payload.clone(),
                json: message_json(id, payload),
            })
        })
        .collect();
    check_iframe(callback, &messages, input.id);
    check_jsonp(callback, &messages, input.id);
    check_sse(&messages, input.id);
}

/// The callback rule stated independently of pushlab's code: 1 to 64 bytes of identifiers
/// `[A-Za-z_$][A-Za-z0-9_$]*` joined by single dots.
fn is_identifier_path(callback: &str) -> bool {
    let identifier = |segment: &str| {
        segment.chars().enumerate().all(|(at, c)| {
            c.is_ascii_alphabetic() || c == '_' || c == '$' || (at > 0 && c.is_ascii_digit())
        }) && !segment.is_empty()
    };
    (1..=MAX_CALLBACK_BYTES).contains(&callback.len()) && callback.split('.').all(identifier)
}

/// The iframe stream: each message, the reset notice and the heartbeat is one
/// `<script>parent.F(<json>);</script>\n` that the HTML parser cannot leave early, and the client's
/// script extractor reads the same objects from the page.
fn check_iframe(callback: &str, messages: &[Rc<Message>], last: u64) {
    let stream = IframeStream::new(callback).expect("a valid callback is accepted");
    let mut page = Vec::new();
    stream.prelude(0, &mut page);
    let mut extractor = ScriptExtractor::new(callback);
    let from_prelude = extractor.feed(&page).expect("the prelude is HTML");
    assert!(from_prelude.is_empty(), "a script in the prelude");
    let prelude_len = page.len();
    let mut expected = Vec::new();
    for message in messages {
        let mut chunk = Vec::new();
        stream.message(message, &mut chunk);
        let object = script_object(callback, &chunk);
        assert_message(&object, message);
        expected.push(object);
        page.extend_from_slice(&chunk);
    }
    let mut chunk = Vec::new();
    stream.reset(last, &mut chunk);
    let object = script_object(callback, &chunk);
    assert_eq!(
        object,
        json::parse(&reset_json(last)).expect("the reset object")
    );
    expected.push(object);
    page.extend_from_slice(&chunk);
    let mut chunk = Vec::new();
    stream.heartbeat(&mut chunk);
    expected.push(script_object(callback, &chunk));
    page.extend_from_slice(&chunk);
    let extracted: Vec<JsonValue> = extractor
        .feed(&page[prelude_len..])
        .expect("the client reads the page")
        .into_iter()
        .map(|argument| json::parse(&argument).expect("each argument is JSON"))
        .collect();
    assert_eq!(extracted, expected, "the client reads other objects");
}

/// The JSON object carried by one iframe chunk, after checking the chunk cannot end its script early:
/// exactly one `</script` (the HTML tokenizer matches it in any case), at the end; no `<!--` (which
/// would change how the tokenizer looks for the end); no raw U+2028 or U+2029; no `<` at all inside the
/// call; and the exact shape `<script>parent.F(<json>);</script>\n`.
fn script_object(callback: &str, chunk: &[u8]) -> JsonValue {
    let text = std::str::from_utf8(chunk).expect("a script chunk is UTF-8");
    let lower = text.to_ascii_lowercase();
    assert_eq!(lower.matches("</script").count(), 1, "{text:?}");
    assert!(lower.ends_with("</script>\n"), "{text:?}");
    assert!(!text.contains("<!--"), "{text:?}");
    assert!(!text.contains(['\u{2028}', '\u{2029}']), "{text:?}");
    let argument = call_argument(text, "<script>parent.", callback, ");</script>\n");
    assert!(!argument.contains('<'), "a `<` inside the script: {text:?}");
    json::parse(argument).unwrap_or_else(|error| panic!("{error}: {argument:?}"))
}

/// The argument of `<before>F(<argument><after>`, the exact shape of a call of `callback`; panics on
/// any other text.
fn call_argument<'a>(text: &'a str, before: &str, callback: &str, after: &str) -> &'a str {
    text.strip_prefix(before)
        .and_then(|rest| rest.strip_prefix(callback))
        .and_then(|rest| rest.strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(after))
        .unwrap_or_else(|| panic!("not one call of {callback}: {text:?}"))
}

/// `object` is `{"id":N,"data":"..."}` for `message`.
fn assert_message(object: &JsonValue, message: &Message) {
    assert_eq!(
        object.get("id").and_then(JsonValue::as_u64),
        Some(message.id)
    );
    assert_eq!(
        object.get("data").and_then(JsonValue::as_str),
        Some(message.data.as_str()),
        "the payload did not read back"
    );
}

/// JSONP: the body is `/**/F(<json>);`, one call whose argument is one JSON value (so nothing in it
/// can close the call and start other code), with no raw U+2028/U+2029 and no `<`, and the argument
/// reads back to the batch, by hand and through the client.
fn check_jsonp(callback: &str, messages: &[Rc<Message>], last: u64) {
    for reset in [false, true] {
        let replay = Replay {
            reset,
            messages: messages.to_vec(),
            last,
        };
        let body = String::from_utf8(jsonp::response(callback, &replay).body)
            .expect("a JSONP body is UTF-8");
        assert!(!body.contains(['\u{2028}', '\u{2029}', '<']), "{body:?}");
        let argument = call_argument(&body, "/**/", callback, ");");
        let batch = json::parse(argument).unwrap_or_else(|error| panic!("{error}: {argument:?}"));
        let objects = batch
            .get("messages")
            .and_then(JsonValue::as_array)
            .expect("a messages array");
        assert_eq!(objects.len(), messages.len());
        for (object, message) in objects.iter().zip(messages) {
            assert_message(object, message);
        }
        assert_eq!(batch.get("last").and_then(JsonValue::as_u64), Some(last));
        assert_eq!(
            batch.get("reset").and_then(JsonValue::as_bool),
            reset.then_some(true)
        );
        let read = parse_jsonp(&body, callback).expect("the client reads the body");
        let data: Vec<&str> = read.messages.iter().map(|m| m.data.as_str()).collect();
        let sent: Vec<&str> = messages.iter().map(|m| m.data.as_str()).collect();
        assert_eq!((data, read.last, read.reset), (sent, last, reset));
    }
}

/// SSE: each event has exactly one blank line, at its end; no CR (a line end too); every line starts
/// with a known field or is a comment. The whole stream (prelude, messages, reset, heartbeat) parses
/// to exactly the events sent, each payload with its line ends turned into LF (the price of the
/// format: see `pushlab::transport::sse`).
fn check_sse(messages: &[Rc<Message>], last: u64) {
    let format = SseStream { retry_ms: 2000 };
    let mut stream = Vec::new();
    format.prelude(0, &mut stream);
    let mut expected = Vec::new();
    for message in messages {
        let mut event = Vec::new();
        format.message(message, &mut event);
        check_sse_event(&event);
        stream.extend_from_slice(&event);
        expected.push(SseEvent {
            event_type: "message".to_string(),
            data: message.data.replace("\r\n", "\n").replace('\r', "\n"),
            last_event_id: message.id.to_string(),
        });
    }
    let mut reset = Vec::new();
    format.reset(last, &mut reset);
    let mut heartbeat = Vec::new();
    format.heartbeat(&mut heartbeat);
    for event in [reset, heartbeat] {
        check_sse_event(&event);
        stream.extend_from_slice(&event);
    }
    expected.push(SseEvent {
        event_type: "reset".to_string(),
        data: reset_json(last),
        last_event_id: last.to_string(),
    });
    // The heartbeat is a named event with empty data, so that a client can see it (its watchdog
    // counts it as life) while `onmessage` never does; it carries no id, so the last id stays.
    expected.push(SseEvent {
        event_type: "heartbeat".to_string(),
        data: String::new(),
        last_event_id: last.to_string(),
    });
    let mut parser = SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser
        .feed(&stream, &mut events)
        .expect("far below the size limit");
    assert_eq!(events, expected);
    assert_eq!(parser.reconnection_time_ms(), Some(2000));
}

/// One encoded event: see [`check_sse`].
fn check_sse_event(event: &[u8]) {
    let text = std::str::from_utf8(event).expect("an event is UTF-8");
    assert!(!text.contains('\r'), "{text:?}");
    assert_eq!(text.find("\n\n"), text.len().checked_sub(2), "{text:?}");
    let lines = text.strip_suffix("\n\n").expect("ends with a blank line");
    for line in lines.split('\n') {
        assert!(
            SSE_LINE_STARTS.iter().any(|start| line.starts_with(start)),
            "an unknown field: {line:?} in {text:?}"
        );
    }
}
