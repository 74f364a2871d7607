//! What each fuzz target feeds to pushlab's protocol code, and what must hold whatever the bytes.
//!
//! The protocol code is sans-IO (bytes in, values and bytes out), so a fuzz target is a plain function of
//! a byte slice: no socket, no clock, no event loop. Every target checks more than "no panic": each
//! states a property that a wrong parser would break, usually by comparing two ways of feeding the same
//! bytes (whole, or split where the fuzzer's first byte says), or by comparing with an independent
//! reference (the standard library's UTF-8 check).
//!
//! Where the first byte chooses a split point, the rest of the input is the data; the fuzzer learns to
//! use both.
//!
//! This file and the modules it names depend on nothing but `pushlab` and `std`: `cargo test` compiles
//! them a second time, into `tests/fuzz_regressions.rs`, to replay every committed finding and the seed
//! corpus through the same properties (see `fuzz/README.md`). The `#[path]` attributes keep the module
//! files found from either place.

#[path = "connection_core.rs"]
pub mod connection_core;
#[path = "push_encoders.rs"]
mod push_encoders;

pub use connection_core::connection_core;
pub use push_encoders::push_encoders;

use std::time::Instant;

use pushlab::client::sse::SseParser;
use pushlab::http::chunked::{
    decode_chunked, encode_chunk, encode_last_chunk, ChunkedDecoder, ChunkedStatus,
};
use pushlab::http::{parse_request, Decoded, HttpLimits, ParseStatus, RequestDecoder};
use pushlab::ws::frame::{decode_header, Opcode};
use pushlab::ws::utf8::Utf8Validator;
use pushlab::ws::{Role, WsConfig, WsProtocol};

/// Splits `data` into a split point (from its first byte) and the rest.
fn split_point(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&first, rest)) => (usize::from(first) % (rest.len() + 1), rest),
        None => (0, data),
    }
}

/// Limits small enough for the fuzzer's inputs (at most a few KiB) to reach every size check.
fn small_http_limits() -> HttpLimits {
    HttpLimits {
        max_request_line_bytes: 64,
        max_header_bytes: 256,
        max_headers: 8,
        max_body_bytes: 128,
    }
}

/// HTTP/1.1 request parsing (RFC 9112). One `RequestDecoder` kept across reads (the bytes whole, in two
/// reads split where the first byte says, and one byte at a time) gives the same requests and the same
/// refusal, and agrees after every read with a fresh parse of the same bytes. A request that parses
/// completely must not depend on the bytes
/// after it (parsing exactly the bytes it consumed gives the same request), and must not be complete
/// any sooner: a strict prefix of it is `Incomplete`, neither a request nor a refusal (a parser that took
/// a cut-off body or chunked stream for a whole one would let requests be smuggled). A refusal must carry
/// a status pushlab answers with: 4xx, 501 (a transfer coding it does not know) or 505 (an HTTP version
/// it does not speak).
pub fn http_request(data: &[u8]) {
    let (split, data) = split_point(data);
    let limits = small_http_limits();
    match parse_request(data, &limits) {
        Ok(ParseStatus::Complete { request, consumed }) => {
            assert!(consumed > 0 && consumed <= data.len());
            let again = parse_request(&data[..consumed], &limits);
            assert_eq!(
                again,
                Ok(ParseStatus::Complete { request, consumed }),
                "a complete request changed when the bytes after it were removed"
            );
            for cut in [consumed - 1, split.min(consumed - 1)] {
                assert_eq!(
                    parse_request(&data[..cut], &limits),
                    Ok(ParseStatus::Incomplete),
                    "the first {cut} of {consumed} bytes are not a whole request yet"
                );
            }
        }
        Ok(ParseStatus::Incomplete) => {}
        Err(error) => {
            assert!(
                (400..500).contains(&error.status) || [501, 505].contains(&error.status),
                "unexpected status {}",
                error.status
            );
        }
    }
    let whole = decode_in_reads(data, &[], &limits);
    assert_eq!(
        decode_in_reads(data, &[split], &limits),
        whole,
        "two reads split at {split}"
    );
    let bytewise: Vec<usize> = (1..data.len()).collect();
    assert_eq!(
        decode_in_reads(data, &bytewise, &limits),
        whole,
        "one byte at a time"
    );
}

/// One `RequestDecoder` fed `data` in reads ending at `cuts`, consuming each complete request as the
/// event loop does: the requests, the bytes they took, and the status of the refusal that stopped it.
/// After every call it must say what a fresh parse of the same buffer says.
fn decode_in_reads(
    data: &[u8],
    cuts: &[usize],
    limits: &HttpLimits,
) -> (Vec<pushlab::http::Request>, usize, Option<u16>) {
    let mut decoder = RequestDecoder::new();
    let (mut buffer, mut requests, mut consumed_bytes) = (Vec::new(), Vec::new(), 0);
    let mut start = 0;
    for end in cuts.iter().copied().chain([data.len()]) {
        buffer.extend_from_slice(&data[start..end]);
        start = end;
        loop {
            let decoded = decoder.decode(&buffer, limits);
            let fresh = parse_request(&buffer, limits);
            match decoded {
                Ok(Decoded::Complete { request, consumed }) => {
                    assert_eq!(
                        fresh,
                        Ok(ParseStatus::Complete {
                            request: request.clone(),
                            consumed
                        })
                    );
                    buffer.drain(..consumed);
                    requests.push(request);
                    consumed_bytes += consumed;
                }
                Ok(Decoded::Incomplete { .. }) => {
                    assert_eq!(fresh, Ok(ParseStatus::Incomplete));
                    break;
                }
                Err(error) => {
                    assert_eq!(fresh, Err(error.clone()));
                    return (requests, consumed_bytes, Some(error.status));
                }
            }
        }
    }
    (requests, consumed_bytes, None)
}

/// Chunked bodies (RFC 9112 §7.1). A decoder resumed after a first read (split where the first byte
/// says) agrees with one call on the whole input. A complete body decodes the same from exactly the bytes it used and
/// is not complete one byte sooner, and the decoded body, encoded again by pushlab's encoder, decodes to
/// itself.
pub fn chunked_body(data: &[u8]) {
    let (split, data) = split_point(data);
    let max_body_bytes = 256; // small, so that the 413 is reachable
                              // A decoder resumed after a first read ending at `split` agrees with one call on the whole input.
    let mut decoder = ChunkedDecoder::new();
    let resumed = match decoder.decode(&data[..split], max_body_bytes) {
        Ok(ChunkedStatus::Incomplete) => decoder.decode(data, max_body_bytes),
        done => done,
    };
    assert_eq!(
        resumed,
        decode_chunked(data, max_body_bytes),
        "split at {split}"
    );
    if let Ok(ChunkedStatus::Complete { body, consumed }) = decode_chunked(data, max_body_bytes) {
        assert!(consumed > 0 && consumed <= data.len());
        assert!(body.len() <= consumed);
        assert_eq!(
            decode_chunked(&data[..consumed - 1], max_body_bytes),
            Ok(ChunkedStatus::Incomplete),
            "complete one byte early"
        );
        assert_eq!(
            decode_chunked(&data[..consumed], max_body_bytes),
            Ok(ChunkedStatus::Complete {
                body: body.clone(),
                consumed
            })
        );
        let mut encoded = Vec::new();
        if !body.is_empty() {
            encode_chunk(&body, &mut encoded);
        }
        encode_last_chunk(&mut encoded);
        let round_trip = decode_chunked(&encoded, max_body_bytes);
        assert_eq!(
            round_trip,
            Ok(ChunkedStatus::Complete {
                body,
                consumed: encoded.len()
            })
        );
    }
}

/// The server side of RFC 6455, fed whole and in two reads split where the first byte says. Both ways
/// must give the same events, the same bytes written and the same verdict; a failure must carry a close
/// code for a peer's fault (1002, 1007, 1008, 1009) and be announced by exactly one close frame with that
/// code, sent last; everything written must be whole, unmasked frames (§5.1).
pub fn ws_server(data: &[u8]) {
    let (split, data) = split_point(data);
    let whole = run_ws_server(&[data]);
    let two_reads = run_ws_server(&[&data[..split], &data[split..]]);
    assert_eq!(whole, two_reads, "split at {split}");
    let (_events, written, error) = whole;
    let frames = server_frames(&written);
    let closes: Vec<&(Opcode, Vec<u8>)> = frames.iter().filter(|f| f.0 == Opcode::Close).collect();
    assert!(closes.len() <= 1, "more than one close frame");
    if let Some(code) = error {
        assert!(
            [1002, 1007, 1008, 1009].contains(&code),
            "close code {code} for a peer's fault"
        );
        let last = frames
            .last()
            .expect("a failure is announced by a close frame");
        assert_eq!(last.0, Opcode::Close, "the close frame comes last");
        assert_eq!(last.1.get(..2), Some(&code.to_be_bytes()[..]));
    }
}

/// What a fresh server protocol makes of `reads`: its events (as text), the bytes it wrote, and the
/// close code of the failure that ended it, if one did.
fn run_ws_server(reads: &[&[u8]]) -> (Vec<String>, Vec<u8>, Option<u16>) {
    let config = WsConfig {
        max_message_bytes: 256, // small, so that 1009 is reachable across fragments too
        ..WsConfig::default()
    };
    let now = Instant::now();
    let mut protocol = WsProtocol::new(Role::Server, &config, now);
    let (mut buffer, mut out, mut events) = (Vec::new(), Vec::new(), Vec::new());
    for piece in reads {
        buffer.extend_from_slice(piece);
        loop {
            match protocol.read(&buffer, &mut out, now) {
                Ok(outcome) => {
                    assert!(outcome.consumed <= buffer.len());
                    buffer.drain(..outcome.consumed);
                    let progressed = outcome.consumed > 0 || outcome.event.is_some();
                    events.extend(outcome.event.map(|event| format!("{event:?}")));
                    if !progressed {
                        break;
                    }
                }
                Err(error) => return (events, out, Some(error.close_code)),
            }
        }
    }
    (events, out, None)
}

/// The frames a server wrote, as (opcode, payload); panics on a broken, partial or masked frame.
fn server_frames(mut written: &[u8]) -> Vec<(Opcode, Vec<u8>)> {
    let mut frames = Vec::new();
    while !written.is_empty() {
        let (header, header_len) = match decode_header(written) {
            Ok(Some(decoded)) => decoded,
            other => panic!("the server wrote a broken frame: {other:?}"),
        };
        assert!(header.mask.is_none(), "a server frame is masked");
        let end = header_len + header.payload_len as usize;
        assert!(end <= written.len(), "the server wrote half a frame");
        frames.push((header.opcode, written[header_len..end].to_vec()));
        written = &written[end..];
    }
    frames
}

/// The incremental UTF-8 validator used for text messages (RFC 6455 §8.1), fed in two pieces split where
/// the first byte says, agrees with the standard library on every input.
pub fn utf8_validator(data: &[u8]) {
    let (split, data) = split_point(data);
    let mut validator = Utf8Validator::new();
    let verdict = validator
        .feed(&data[..split])
        .and_then(|()| validator.feed(&data[split..]))
        .and_then(|()| validator.finish());
    assert_eq!(
        verdict.is_ok(),
        std::str::from_utf8(data).is_ok(),
        "the validator disagrees with std on {data:?} split at {split}"
    );
}

/// The WHATWG event-stream parser of the SSE client: the same events whether the stream arrives whole,
/// in two reads, or one byte at a time (a line end may be split between CR and LF).
pub fn sse_stream(data: &[u8]) {
    let (split, data) = split_point(data);
    let max_event_bytes = 256; // small, so that the size limit is reachable
    let events_of = |pieces: Vec<&[u8]>| {
        let mut parser = SseParser::new(max_event_bytes);
        let mut events = Vec::new();
        let outcome = pieces
            .into_iter()
            .try_for_each(|piece| parser.feed(piece, &mut events));
        (events, outcome, parser.last_event_id().to_string())
    };
    let whole = events_of(vec![data]);
    let two_reads = events_of(vec![&data[..split], &data[split..]]);
    let bytewise = events_of(data.chunks(1).collect());
    assert_eq!(whole, two_reads, "split at {split}");
    assert_eq!(whole, bytewise);
}
