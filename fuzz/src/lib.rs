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

use std::time::Instant;

use pushlab::client::sse::SseParser;
use pushlab::http::chunked::{decode_chunked, encode_chunk, encode_last_chunk, ChunkedStatus};
use pushlab::http::{parse_request, ParseStatus};
use pushlab::server::config::{HttpLimits, WsConfig};
use pushlab::ws::frame::decode_header;
use pushlab::ws::utf8::Utf8Validator;
use pushlab::ws::{Role, WsProtocol};

/// Splits `data` into a split point (from its first byte) and the rest.
fn split_point(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&first, rest)) => (usize::from(first) % (rest.len() + 1), rest),
        None => (0, data),
    }
}

/// HTTP/1.1 request parsing (RFC 9112). A request that parses completely must not depend on the bytes
/// after it: parsing exactly the bytes it consumed gives the same request. A refusal must carry a status
/// pushlab answers with: 4xx, 501 (a transfer coding it does not know) or 505 (an HTTP version it does
/// not speak).
pub fn http_request(data: &[u8]) {
    let limits = HttpLimits::default();
    match parse_request(data, &limits) {
        Ok(ParseStatus::Complete { request, consumed }) => {
            assert!(consumed > 0 && consumed <= data.len());
            let again = parse_request(&data[..consumed], &limits);
            assert_eq!(
                again,
                Ok(ParseStatus::Complete { request, consumed }),
                "a complete request changed when the bytes after it were removed"
            );
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
}

/// Chunked bodies (RFC 9112 §7.1). A complete body decodes the same from exactly the bytes it used, and
/// the decoded body, encoded again by pushlab's encoder, decodes to itself.
pub fn chunked_body(data: &[u8]) {
    let max_body_bytes = 1 << 16;
    if let Ok(ChunkedStatus::Complete { body, consumed }) = decode_chunked(data, max_body_bytes) {
        assert!(consumed <= data.len());
        assert!(body.len() <= consumed);
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

/// The server side of RFC 6455, fed in two reads split where the first byte says. The protocol must not
/// panic, every failure must carry a close code for a peer's fault (1002, 1007, 1008, 1009), and what the
/// server writes must be well-formed, unmasked frames (§5.1).
pub fn ws_server(data: &[u8]) {
    let (split, data) = split_point(data);
    let config = WsConfig {
        max_message_bytes: 1 << 12, // small, so the size limit is reachable
        ..WsConfig::default()
    };
    let now = Instant::now();
    let mut protocol = WsProtocol::new(Role::Server, &config, now);
    let mut buffer = Vec::new();
    let mut out = Vec::new();
    'reads: for piece in [&data[..split], &data[split..]] {
        buffer.extend_from_slice(piece);
        loop {
            match protocol.read(&buffer, &mut out, now) {
                Ok(outcome) => {
                    assert!(outcome.consumed <= buffer.len());
                    buffer.drain(..outcome.consumed);
                    if outcome.consumed == 0 && outcome.event.is_none() {
                        break;
                    }
                }
                Err(error) => {
                    assert!(
                        [1002, 1007, 1008, 1009].contains(&error.close_code),
                        "close code {} for {}",
                        error.close_code,
                        error.reason
                    );
                    break 'reads;
                }
            }
        }
    }
    let mut written = &out[..];
    while !written.is_empty() {
        let (header, header_len) = match decode_header(written) {
            Ok(Some(decoded)) => decoded,
            other => panic!("the server wrote a broken frame: {other:?}"),
        };
        assert!(header.mask.is_none(), "a server frame is masked");
        let end = header_len + header.payload_len as usize;
        assert!(end <= written.len(), "the server wrote half a frame");
        written = &written[end..];
    }
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
    let max_event_bytes = 1 << 12;
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
