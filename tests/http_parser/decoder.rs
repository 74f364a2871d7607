//! What only a decoder kept across reads can show: the same requests however the input is split,
//! decoding in time linear in the input, and when to answer `Expect: 100-continue` (RFC 9110 §10.1.1).

use super::{show, small_limits};
use pushlab::http::chunked::{decode_chunked, encode_chunk, encode_last_chunk};
use pushlab::http::{parse_request, Decoded, ParseStatus, Request, RequestDecoder};
use pushlab::server::config::HttpLimits;

/// Feeds `stream` to one decoder in reads that end at each of `cuts` (then at the end), consuming each
/// complete request as an event loop does. Returns the requests, the bytes they took, and the status of
/// the refusal that stopped the decoding, if one did.
pub fn decode_reads(
    stream: &[u8],
    cuts: &[usize],
    limits: &HttpLimits,
) -> (Vec<Request>, usize, Option<u16>) {
    let mut decoder = RequestDecoder::new();
    let (mut buffer, mut requests) = (Vec::new(), Vec::new());
    let (mut start, mut consumed_bytes) = (0, 0);
    for end in cuts.iter().copied().chain([stream.len()]) {
        buffer.extend_from_slice(&stream[start..end.max(start)]);
        start = end.max(start);
        loop {
            match decoder.decode(&buffer, limits) {
                Ok(Decoded::Complete { request, consumed }) => {
                    buffer.drain(..consumed);
                    requests.push(request);
                    consumed_bytes += consumed;
                }
                Ok(Decoded::Incomplete { .. }) => break,
                Err(error) => return (requests, consumed_bytes, Some(error.status)),
            }
        }
    }
    (requests, consumed_bytes, None)
}

/// Whole, one byte at a time, and in two reads split at every boundary: the same outcome.
fn same_outcome_however_split(
    stream: &[u8],
    limits: &HttpLimits,
) -> (Vec<Request>, usize, Option<u16>) {
    let whole = decode_reads(stream, &[], limits);
    let bytewise: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(
        decode_reads(stream, &bytewise, limits),
        whole,
        "one byte at a time: {}",
        show(stream)
    );
    for split in 0..=stream.len() {
        assert_eq!(
            decode_reads(stream, &[split], limits),
            whole,
            "split at {split}: {}",
            show(stream)
        );
    }
    whole
}

const CHUNKED_HEAD: &[u8] =
    b"POST /publish/t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

#[test]
fn content_length_and_chunked_pipelined_with_trailing_bytes() {
    let stream = [
        &b"POST /publish/a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"[..],
        CHUNKED_HEAD,
        b"3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n",
        b"GET /poll/a?after=1 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST /publish/b HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        b"GET /partial HTTP/1.1\r\nHo", // trailing bytes: the start of a request yet to come
    ]
    .concat();
    let (requests, consumed, error) = same_outcome_however_split(&stream, &HttpLimits::default());
    let bodies: Vec<&[u8]> = requests.iter().map(|r| r.body.as_slice()).collect();
    assert_eq!(bodies, [&b"hello"[..], b"abc0123456789abcdef", b"", b""]);
    assert_eq!(&stream[consumed..], b"GET /partial HTTP/1.1\r\nHo");
    assert_eq!(error, None);
}

#[test]
fn a_refusal_in_a_pipelined_body_comes_at_the_same_byte_however_split() {
    // The second request's second chunk announces more than the 32 bytes allowed: 413.
    let stream = [
        &b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        CHUNKED_HEAD,
        b"10\r\n0123456789abcdef\r\n11\r\n",
    ]
    .concat();
    let (requests, consumed, error) = same_outcome_however_split(&stream, &small_limits());
    assert_eq!(requests.len(), 1);
    assert_eq!(consumed, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n".len());
    assert_eq!(error, Some(413));
}

/// A chunked body of `chunk_count` one-byte chunks, and the whole request.
fn many_small_chunks(chunk_count: usize) -> Vec<u8> {
    let mut wire = CHUNKED_HEAD.to_vec();
    for i in 0..chunk_count {
        encode_chunk(&[b'a' + (i % 26) as u8], &mut wire);
    }
    encode_last_chunk(&mut wire);
    wire
}

#[test]
fn a_body_trickling_in_byte_by_byte_is_decoded_in_linear_time() {
    let limits = HttpLimits::default();
    let wire = many_small_chunks(2000);
    let mut decoder = RequestDecoder::new();
    // The head in one read, then the body one byte at a time.
    let mut outcome = None;
    for end in CHUNKED_HEAD.len()..=wire.len() {
        match decoder.decode(&wire[..end], &limits) {
            Ok(Decoded::Incomplete { .. }) => {}
            other => outcome = Some((end, other)),
        }
    }
    let (end, outcome) = outcome.expect("the request completes");
    assert_eq!(end, wire.len(), "complete at its last byte, not before");
    let Ok(Decoded::Complete { request, consumed }) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!((request.body.len(), consumed), (2000, wire.len()));
    // Each body byte is looked at once; the head once, as a whole.
    let examined = decoder.examined_bytes();
    assert!(
        examined <= 4 * wire.len(),
        "{examined} bytes examined for a request of {}",
        wire.len()
    );
}

#[test]
fn starting_again_from_the_first_byte_on_each_read_would_be_quadratic() {
    // What the decoder replaced: a fresh decode of the whole body after every byte. 300 one-byte chunks
    // (2,100 bytes) already cost over a million bytes examined, where the decoder above examines each
    // byte once.
    let wire = many_small_chunks(300);
    let body = &wire[CHUNKED_HEAD.len()..];
    let mut examined_afresh = 0;
    for end in 1..=body.len() {
        let mut fresh = pushlab::http::chunked::ChunkedDecoder::new();
        let _ = fresh.decode(&body[..end], 1 << 20);
        examined_afresh += fresh.examined_bytes();
    }
    assert!(
        examined_afresh > body.len() * body.len() / 3,
        "{examined_afresh}"
    );
    assert!(decode_chunked(body, 1 << 20).is_ok());
}

#[test]
fn giving_the_decoder_fewer_bytes_than_before_is_an_error_not_a_panic() {
    let limits = HttpLimits::default();
    let wire = many_small_chunks(4);
    let mut decoder = RequestDecoder::new();
    assert_eq!(
        decoder.decode(&wire[..wire.len() - 3], &limits),
        Ok(Decoded::Incomplete {
            send_continue: false
        })
    );
    let shorter = decoder.decode(&wire[..CHUNKED_HEAD.len() + 2], &limits);
    assert_eq!(shorter.map_err(|e| e.status), Err(500));
    // The decoder then starts afresh.
    assert!(matches!(
        decoder.decode(&wire, &limits),
        Ok(Decoded::Complete { consumed, .. }) if consumed == wire.len()
    ));
}

/// The successive answers of one decoder fed `reads` (each the whole buffer so far), as
/// `send_continue` flags, `C` for complete and the status of a refusal.
fn answers(reads: &[&[u8]], limits: &HttpLimits) -> Vec<String> {
    let mut decoder = RequestDecoder::new();
    reads
        .iter()
        .map(|buffer| match decoder.decode(buffer, limits) {
            Ok(Decoded::Incomplete { send_continue }) => send_continue.to_string(),
            Ok(Decoded::Complete { .. }) => "C".to_string(),
            Err(error) => error.status.to_string(),
        })
        .collect()
}

const EXPECT_HEAD: &[u8] =
    b"POST /publish/a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";

#[test]
fn rfc9110_10_1_1_100_continue_is_sent_once_when_the_head_is_complete() {
    let limits = HttpLimits::default();
    let head = EXPECT_HEAD;
    let whole = [head, b"abc"].concat();
    let reads: [&[u8]; 6] = [
        &head[..10],
        &head[..head.len() - 1],
        head,
        head, // nothing new: no second 100
        &whole[..head.len() + 1],
        &whole,
    ];
    assert_eq!(
        answers(&reads, &limits),
        ["false", "false", "true", "false", "false", "C"]
    );
    // The token is case-insensitive; a chunked body counts as a body.
    let chunked = b"POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(answers(&[chunked], &limits), ["true"]);
}

#[test]
fn rfc9110_10_1_1_no_100_continue_when_it_is_not_wanted() {
    let limits = HttpLimits::default();
    let once = |bytes: &[u8]| answers(&[bytes], &limits).remove(0);
    // Part of the body already arrived with the head: the client is sending it anyway.
    assert_eq!(once(&[EXPECT_HEAD, b"a"].concat()), "false");
    // HTTP/1.0: "MUST ignore that expectation".
    assert_eq!(
        once(b"POST /p HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
        "false"
    );
    // No body to wait for.
    assert_eq!(
        once(b"POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"),
        "C"
    );
    assert_eq!(
        once(b"GET /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n"),
        "C"
    );
    // Not asked.
    assert_eq!(
        once(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"),
        "false"
    );
}

#[test]
fn rfc9110_10_1_1_a_refused_request_gets_its_refusal_not_100() {
    let limits = HttpLimits::default();
    let once = |bytes: &[u8]| answers(&[bytes], &limits).remove(0);
    let too_large =
        b"POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 99999999\r\n\r\n";
    assert_eq!(once(too_large), "413");
    let no_host = b"POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(once(no_host), "400");
    let unknown_coding =
        b"POST /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: gzip\r\n\r\n";
    assert_eq!(once(unknown_coding), "501");
}

#[test]
fn rfc9110_10_1_1_an_unknown_expectation_is_417() {
    let limits = HttpLimits::default();
    for expect in [
        "fly",
        "100-continue, fly",
        "100-continue; x=1",
        "100-continue=1",
    ] {
        let bytes =
            format!("POST /p HTTP/1.1\r\nHost: h\r\nExpect: {expect}\r\nContent-Length: 3\r\n\r\n");
        let status = parse_request(bytes.as_bytes(), &limits).map_err(|e| e.status);
        assert_eq!(status, Err(417), "Expect: {expect}");
    }
    // Also without a body, and in HTTP/1.0: an expectation the server cannot meet.
    let status =
        parse_request(b"GET / HTTP/1.0\r\nExpect: fly\r\n\r\n", &limits).map_err(|e| e.status);
    assert_eq!(status, Err(417));
    // Empty list elements are no expectation at all (RFC 9110 §5.6.1).
    assert!(matches!(
        parse_request(b"GET / HTTP/1.1\r\nHost: h\r\nExpect: ,\r\n\r\n", &limits),
        Ok(ParseStatus::Complete { .. })
    ));
}
