//! Unit tests of the request helpers; the parser itself is tested over byte vectors in
//! `tests/http_parser.rs`.

use super::*;

fn parse(bytes: &[u8]) -> Request {
    match parse_request(bytes, &HttpLimits::default()) {
        Ok(ParseStatus::Complete { request, .. }) => request,
        other => panic!("expected a complete request, got {other:?}"),
    }
}

fn with_query(query: &str) -> Request {
    parse(format!("GET /x?{query} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
}

#[test]
fn target_splits_into_encoded_path_and_raw_query() {
    let request = parse(b"GET /poll/a%20b?after=3&x=%2F HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(request.path, "/poll/a%20b");
    assert_eq!(request.query, "after=3&x=%2F");
    let request = parse(b"GET /only HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        (request.path.as_str(), request.query.as_str()),
        ("/only", "")
    );
    let request = parse(b"GET /empty? HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        (request.path.as_str(), request.query.as_str()),
        ("/empty", "")
    );
}

#[test]
fn rfc9112_3_2_4_asterisk_form_only_for_options() {
    assert_eq!(parse(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").path, "*");
    let error = parse_request(b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", &HttpLimits::default());
    assert_eq!(error.map_err(|e| e.status), Err(400));
}

#[test]
fn header_lookup_is_case_insensitive_and_trimmed() {
    let request = parse(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Thing:   spaced value \t\r\nx-thing: second\r\n\r\n",
    );
    assert_eq!(request.header("x-THING"), Some(&b"spaced value"[..]));
    assert_eq!(request.header_str("X-Thing"), Some("spaced value"));
    assert_eq!(request.header("missing"), None);
}

#[test]
fn header_str_refuses_non_utf8() {
    let request = parse(b"GET / HTTP/1.1\r\nHost: a\r\nX-Bytes: \xff\xfe\r\n\r\n");
    assert_eq!(request.header("x-bytes"), Some(&b"\xff\xfe"[..]));
    assert_eq!(request.header_str("x-bytes"), None);
}

#[test]
fn rfc9110_5_6_1_tokens_are_found_in_lists_and_across_fields() {
    let request =
        parse(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive ,\tUpgrade\r\nConnection: ,foo,\r\n\r\n");
    assert!(request.header_has_token("connection", "upgrade"));
    assert!(request.header_has_token("CONNECTION", "Keep-Alive"));
    assert!(request.header_has_token("connection", "foo"));
    assert!(!request.header_has_token("connection", "keep"));
    assert!(!request.header_has_token("connection", ""));
    assert!(!request.header_has_token("upgrade", "upgrade"));
}

#[test]
fn rfc9112_9_3_persistence_by_version_and_connection() {
    let keep = |bytes: &[u8]| parse(bytes).keep_alive();
    assert!(keep(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert!(!keep(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    ));
    assert!(!keep(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, Close\r\n\r\n"
    ));
    assert!(!keep(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(keep(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    assert!(!keep(
        b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
    ));
}

#[test]
fn query_params_are_percent_and_plus_decoded() {
    let request = with_query("after=42&callback=a.b_c&msg=hello+w%C3%B6rld%21&flag&e=");
    assert_eq!(request.query_param("after").as_deref(), Some("42"));
    assert_eq!(request.query_param("callback").as_deref(), Some("a.b_c"));
    assert_eq!(request.query_param("msg").as_deref(), Some("hello wörld!"));
    assert_eq!(request.query_param("flag").as_deref(), Some(""));
    assert_eq!(request.query_param("e").as_deref(), Some(""));
    assert_eq!(request.query_param("missing"), None);
    assert_eq!(request.query_param("aft"), None);
}

#[test]
fn query_param_names_are_decoded_and_the_first_wins() {
    let request = with_query("a%5Bb%5D=1&x=first&x=second");
    assert_eq!(request.query_param("a[b]").as_deref(), Some("1"));
    assert_eq!(request.query_param("x").as_deref(), Some("first"));
}

#[test]
fn query_param_invalid_encoding_or_utf8_is_none() {
    let request = with_query("bad=%FF%FE&trunc=%4&ok=1");
    assert_eq!(request.query_param("bad"), None);
    assert_eq!(request.query_param("trunc"), None);
    assert_eq!(request.query_param("ok").as_deref(), Some("1"));
}

#[test]
fn version_prefixes() {
    assert!(is_version_prefix(b""));
    assert!(is_version_prefix(b"HTT"));
    assert!(is_version_prefix(b"HTTP/2"));
    assert!(is_version_prefix(b"HTTP/2.0"));
    assert!(!is_version_prefix(b"HTTP/2.0 "));
    assert!(!is_version_prefix(b"http/1.1"));
    assert!(!is_version_prefix(b"HTTP/x"));
    assert!(!is_version_prefix(b"HTTP/1,1"));
}

#[test]
fn obsolete_folding_is_seen_only_in_field_lines() {
    assert!(has_obsolete_line_folding(
        b"GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n",
        0
    ));
    assert!(has_obsolete_line_folding(
        b"GET / HTTP/1.1\r\nHost: h\r\n\tA: b\r\n\r\n",
        0
    ));
    assert!(!has_obsolete_line_folding(
        b"GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n body",
        0
    ));
    assert!(!has_obsolete_line_folding(
        b"GET / HTTP/1.1\r\nHost: h\r\nA: b c\r\n",
        0
    ));
}

/// RFC 9112 §2.2 lets a server skip empty lines before the request line, but they count towards the
/// header block: once they fill it the answer is 431, whether the line after them (here a malformed
/// one, which alone would be 400) arrived in the same read or not. Found by the `http_request` fuzz
/// target (`fuzz/regressions/http_request/leading-empty-lines-fill-the-head`).
#[test]
fn leading_empty_lines_that_fill_the_head_are_431_however_they_arrive() {
    let limits = HttpLimits {
        max_header_bytes: 256,
        ..HttpLimits::default()
    };
    let empty_lines = vec![b'\n'; 256];
    let mut whole = empty_lines.clone();
    whole.extend_from_slice(b"\xff\n");
    for bytes in [&empty_lines, &whole] {
        let status = parse_request(bytes, &limits).map_err(|error| error.status);
        assert_eq!(status.err(), Some(431), "{} bytes", bytes.len());
    }
    // One empty line fewer leaves room for the request line, whose own error then decides.
    let status = parse_request(&whole[1..], &limits).map_err(|error| error.status);
    assert_eq!(status.err(), Some(400));
}
