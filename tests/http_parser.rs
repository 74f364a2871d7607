//! The HTTP/1.1 request parser over real bytes.
//!
//! Every valid request is fed whole, one byte at a time, split at every boundary, with trailing
//! (pipelined) bytes, and through a simulated event loop that appends the bytes in pieces and keeps one
//! `RequestDecoder` across them (which must agree with a fresh parse after every piece). Every refusal
//! is a named test with its RFC rule, checked on the whole input and on every prefix (a prefix is either
//! still incomplete or already refused with the same status). `errors` holds the refusals, `proptests`
//! the randomised checks, `decoder` what only a decoder kept across reads can show (`100 Continue`,
//! decoding in time linear in the input).

use pushlab::http::{
    parse_request, Decoded, HttpError, HttpLimits, ParseStatus, Request, RequestDecoder,
};

#[path = "http_parser/decoder.rs"]
mod decoder;
#[path = "http_parser/errors.rs"]
mod errors;
#[path = "http_parser/proptests.rs"]
mod proptests;

/// Limits small enough that tests can reach them with short inputs.
pub fn small_limits() -> HttpLimits {
    HttpLimits {
        max_request_line_bytes: 64,
        max_header_bytes: 256,
        max_headers: 8,
        max_body_bytes: 32,
    }
}

/// Parses `bytes` and checks everything a valid request must satisfy; returns the request.
///
/// - whole: complete, every byte consumed;
/// - every strict prefix (a split at every boundary, and the one-byte-at-a-time feed): incomplete;
/// - followed by trailing bytes of a next request: the same request, consumed stops at its end;
/// - fed in pieces of every size through an event-loop-like buffer: the same request.
pub fn parse_everywhere(bytes: &[u8], limits: &HttpLimits) -> Request {
    let request = match parse_request(bytes, limits) {
        Ok(ParseStatus::Complete { request, consumed }) => {
            assert_eq!(consumed, bytes.len(), "consumed must be the whole request");
            request
        }
        other => panic!(
            "expected a complete request, got {other:?} for {}",
            show(bytes)
        ),
    };
    for end in 0..bytes.len() {
        assert_eq!(
            parse_request(&bytes[..end], limits),
            Ok(ParseStatus::Incomplete),
            "prefix of {end} bytes of {}",
            show(bytes)
        );
    }
    for trailing in [
        &b"G"[..],
        b"\r\n",
        b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\xff\x00garbage",
    ] {
        let mut pipelined = bytes.to_vec();
        pipelined.extend_from_slice(trailing);
        assert_eq!(
            parse_request(&pipelined, limits),
            Ok(ParseStatus::Complete {
                request: request.clone(),
                consumed: bytes.len()
            }),
            "with trailing {}",
            show(trailing)
        );
    }
    for piece_bytes in 1..=bytes.len().min(64) {
        assert_eq!(
            feed_in_pieces(bytes, piece_bytes, limits),
            vec![request.clone()],
            "pieces of {piece_bytes}"
        );
    }
    request
}

/// Plays the event loop: appends `stream` to a buffer `piece_bytes` at a time and, after each append,
/// lets one [`RequestDecoder`] take every complete request off the front of the buffer. After every
/// call, the decoder must agree with a fresh parse of the same buffer: decoding across reads never
/// changes a verdict, nor the moment it comes.
pub fn feed_in_pieces(stream: &[u8], piece_bytes: usize, limits: &HttpLimits) -> Vec<Request> {
    let mut buffer = Vec::new();
    let mut requests = Vec::new();
    let mut decoder = RequestDecoder::new();
    for piece in stream.chunks(piece_bytes) {
        buffer.extend_from_slice(piece);
        loop {
            let decoded = decoder.decode(&buffer, limits);
            assert_eq!(
                as_parse_status(decoded.clone()),
                parse_request(&buffer, limits),
                "the decoder and a fresh parse disagree on {}",
                show(&buffer)
            );
            match decoded {
                Ok(Decoded::Complete { request, consumed }) => {
                    buffer.drain(..consumed);
                    requests.push(request);
                }
                _ => break,
            }
        }
    }
    assert!(
        parse_request(&buffer, limits).is_ok_and(|s| s == ParseStatus::Incomplete),
        "leftover"
    );
    requests
}

/// What [`parse_request`] says for the same verdict (it forgets `send_continue`).
pub fn as_parse_status(decoded: Result<Decoded, HttpError>) -> Result<ParseStatus, HttpError> {
    decoded.map(|decoded| match decoded {
        Decoded::Incomplete { .. } => ParseStatus::Incomplete,
        Decoded::Complete { request, consumed } => ParseStatus::Complete { request, consumed },
    })
}

/// Bytes with CR and LF made visible, for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.header_str(name)
}

#[test]
fn curl_get() {
    let request = parse_everywhere(
        b"GET /poll/clock?after=0 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
        &HttpLimits::default(),
    );
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/poll/clock");
    assert_eq!(request.query, "after=0");
    assert_eq!(request.version, 1);
    assert_eq!(request.headers.len(), 3);
    assert_eq!(header(&request, "host"), Some("127.0.0.1:8080"));
    assert_eq!(request.query_param("after").as_deref(), Some("0"));
    assert!(request.body.is_empty());
    assert!(request.keep_alive());
}

#[test]
fn browser_get_with_many_headers() {
    let bytes = b"GET /sse/chat HTTP/1.1\r\n\
        Host: localhost:8080\r\n\
        Connection: keep-alive\r\n\
        Accept: text/event-stream\r\n\
        Cache-Control: no-cache\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36\r\n\
        Referer: http://localhost:8080/\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\n\
        Accept-Language: en-US,en;q=0.9,fr;q=0.8\r\n\
        Last-Event-ID: 41\r\n\
        \r\n";
    let request = parse_everywhere(bytes, &HttpLimits::default());
    assert_eq!(request.path, "/sse/chat");
    assert_eq!(request.headers.len(), 9);
    assert_eq!(header(&request, "last-event-id"), Some("41"));
    assert!(request.header_has_token("accept-encoding", "br"));
}

#[test]
fn post_with_content_length() {
    let request = parse_everywhere(
        b"POST /publish/chat HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
        &HttpLimits::default(),
    );
    assert_eq!(request.method, "POST");
    assert_eq!(request.body, b"hello world");
}

#[test]
fn body_bytes_that_look_like_a_request_stay_body() {
    let request = parse_everywhere(
        b"POST /publish/x HTTP/1.1\r\nHost: h\r\nContent-Length: 27\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        &HttpLimits::default(),
    );
    assert_eq!(request.body, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
}

#[test]
fn rfc9112_7_1_chunked_body_with_extensions_and_trailers() {
    let request = parse_everywhere(
        b"POST /publish/chat HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n",
        &HttpLimits::default(),
    );
    assert_eq!(request.body, b"hello 0123456789");
}

#[test]
fn rfc9112_7_1_empty_chunked_body() {
    let request = parse_everywhere(
        b"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        &HttpLimits::default(),
    );
    assert!(request.body.is_empty());
}

#[test]
fn rfc9110_8_6_identical_content_lengths_are_one() {
    let request = parse_everywhere(
        b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc",
        &HttpLimits::default(),
    );
    assert_eq!(request.body, b"abc");
}

#[test]
fn rfc9112_6_3_content_length_zero() {
    let request = parse_everywhere(
        b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
        &HttpLimits::default(),
    );
    assert!(request.body.is_empty());
}

#[test]
fn rfc9112_9_3_http10_without_host_closes_by_default() {
    let request = parse_everywhere(b"GET / HTTP/1.0\r\n\r\n", &HttpLimits::default());
    assert_eq!(request.version, 0);
    assert!(!request.keep_alive());
    let request = parse_everywhere(
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        &HttpLimits::default(),
    );
    assert!(request.keep_alive());
}

#[test]
fn rfc9112_9_3_connection_close() {
    let request = parse_everywhere(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        &HttpLimits::default(),
    );
    assert!(!request.keep_alive());
}

#[test]
fn rfc9112_2_2_empty_lines_before_the_request_line_are_ignored() {
    let request = parse_everywhere(
        b"\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
        &HttpLimits::default(),
    );
    assert_eq!(request.path, "/x");
}

#[test]
fn rfc9112_2_2_bare_lf_line_endings_are_recognised_in_the_head() {
    let request = parse_everywhere(b"GET /lf HTTP/1.1\nHost: a\n\n", &HttpLimits::default());
    assert_eq!(request.path, "/lf");
    assert_eq!(header(&request, "host"), Some("a"));
}

#[test]
fn rfc9112_3_2_4_options_asterisk() {
    let request = parse_everywhere(
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        &HttpLimits::default(),
    );
    assert_eq!(request.path, "*");
}

#[test]
fn websocket_upgrade_head() {
    let request = parse_everywhere(
        b"GET /ws/echo HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
          Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n",
        &HttpLimits::default(),
    );
    assert!(request.header_has_token("connection", "upgrade"));
    assert!(request.header_has_token("sec-websocket-protocol", "superchat"));
    assert_eq!(
        header(&request, "sec-websocket-key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
}

#[test]
fn field_values_keep_inner_spaces_and_obs_text() {
    let request = parse_everywhere(
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Note:  caf\xc3\xa9 au lait \t\r\n\r\n",
        &HttpLimits::default(),
    );
    assert_eq!(header(&request, "x-note"), Some("café au lait"));
}

#[test]
fn percent_encoded_path_is_kept_encoded() {
    let request = parse_everywhere(
        b"GET /a%20b/%2e%2e?q=%41+b HTTP/1.1\r\nHost: h\r\n\r\n",
        &HttpLimits::default(),
    );
    assert_eq!(request.path, "/a%20b/%2e%2e");
    assert_eq!(request.query, "q=%41+b");
    assert_eq!(request.query_param("q").as_deref(), Some("A b"));
}

#[test]
fn limits_are_inclusive() {
    let limits = small_limits();
    // A request line of exactly max_request_line_bytes.
    let target = format!("/{}", "a".repeat(64 - "GET / HTTP/1.1".len()));
    let line = format!("GET {target} HTTP/1.1");
    assert_eq!(line.len(), 64);
    parse_everywhere(format!("{line}\r\nHost: h\r\n\r\n").as_bytes(), &limits);
    // Exactly max_headers fields, Host among them.
    let fields: String = (0..7).map(|i| format!("X-{i}: v\r\n")).collect();
    parse_everywhere(
        format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n").as_bytes(),
        &limits,
    );
    // A head of exactly max_header_bytes.
    let padding = 256 - "GET / HTTP/1.1\r\nHost: h\r\nX: \r\n\r\n".len();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "p".repeat(padding)
    );
    assert_eq!(head.len(), 256);
    parse_everywhere(head.as_bytes(), &limits);
    // A body of exactly max_body_bytes, declared and chunked.
    let body = "b".repeat(32);
    parse_everywhere(
        format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 32\r\n\r\n{body}").as_bytes(),
        &limits,
    );
    let chunked = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{0}\r\n10\r\n{0}\r\n0\r\n\r\n",
        &body[..16]
    );
    assert_eq!(
        parse_everywhere(chunked.as_bytes(), &limits).body,
        body.as_bytes()
    );
}

#[test]
fn two_pipelined_requests_parse_in_turn() {
    let first =
        b"POST /publish/a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            .to_vec();
    let second = b"GET /poll/a?after=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi".to_vec();
    let limits = HttpLimits::default();
    let expected = vec![
        parse_everywhere(&first, &limits),
        parse_everywhere(&second, &limits),
    ];
    let stream = [first.clone(), second].concat();
    match parse_request(&stream, &limits) {
        Ok(ParseStatus::Complete { consumed, .. }) => assert_eq!(consumed, first.len()),
        other => panic!("{other:?}"),
    }
    for piece_bytes in 1..=stream.len() {
        assert_eq!(
            feed_in_pieces(&stream, piece_bytes, &limits),
            expected,
            "pieces of {piece_bytes}"
        );
    }
    // Split the stream in two at every boundary, as two reads would.
    for split in 0..=stream.len() {
        let mut buffer = stream[..split].to_vec();
        let mut requests = Vec::new();
        for tail in [&stream[split..], &[][..]] {
            while let Ok(ParseStatus::Complete { request, consumed }) =
                parse_request(&buffer, &limits)
            {
                buffer.drain(..consumed);
                requests.push(request);
            }
            buffer.extend_from_slice(tail);
        }
        assert_eq!(requests, expected, "split at {split}");
    }
}

#[test]
fn chunked_body_split_at_every_boundary() {
    let head = b"POST /publish/t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    let body = b"1\r\na\r\n1b;x=\"y z\"\r\nabcdefghijklmnopqrstuvwxyz!\r\n0\r\nT: 1\r\n\r\n";
    let stream = [&head[..], &body[..]].concat();
    let request = parse_everywhere(&stream, &HttpLimits::default());
    assert_eq!(request.body, b"aabcdefghijklmnopqrstuvwxyz!");
}
