//! Every request the parser refuses, by the rule it breaks and the status that goes on the wire.

use super::{as_parse_status, show, small_limits};
use pushlab::http::{parse_request, HttpLimits, ParseStatus, RequestDecoder};

/// Checks that `bytes` is refused with `status`, and that every prefix is either still incomplete or
/// already refused with the same status (never accepted, never another status). Returns the length of
/// the shortest prefix that is refused: how early the parser decided.
fn refused_everywhere(bytes: &[u8], limits: &HttpLimits, status: u16) -> usize {
    let whole = parse_request(bytes, limits).map_err(|e| e.status);
    assert_eq!(
        whole.as_ref().err(),
        Some(&status),
        "{} gave {whole:?}",
        show(bytes)
    );
    let mut decided_at = bytes.len();
    for end in (0..bytes.len()).rev() {
        match parse_request(&bytes[..end], limits) {
            Ok(ParseStatus::Incomplete) => {}
            Err(e) if e.status == status => decided_at = end,
            other => panic!("prefix of {end} bytes of {} gave {other:?}", show(bytes)),
        }
    }
    // One decoder fed a byte at a time says the same after every byte, and refuses at the same byte.
    let mut decoder = RequestDecoder::new();
    for end in 1..=bytes.len() {
        let decoded = decoder.decode(&bytes[..end], limits);
        assert_eq!(
            as_parse_status(decoded),
            parse_request(&bytes[..end], limits),
            "the decoder at {end} bytes of {}",
            show(bytes)
        );
        if end >= decided_at {
            break;
        }
    }
    // Trailing bytes cannot rescue a refused request.
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        parse_request(&longer, limits).map_err(|e| e.status).err(),
        Some(status),
        "with trailing bytes"
    );
    decided_at
}

fn refused(bytes: &[u8], status: u16) -> usize {
    refused_everywhere(bytes, &HttpLimits::default(), status)
}

// --- 400: malformed messages (RFC 9112 §2–§5) ---

#[test]
fn rfc9112_3_malformed_request_line_is_400() {
    for bytes in [
        &b"GET\r\n\r\n"[..],
        b"GET /\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello sent to a plain HTTP port
        b" GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    ] {
        refused(bytes, 400);
    }
}

#[test]
fn rfc9112_2_3_malformed_version_is_400() {
    for bytes in [
        &b"GET / http/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.10\r\n\r\n",
        b"GET / HTTP/1\r\n\r\n",
        b"GET / HTTPS/1.1\r\n\r\n",
    ] {
        refused(bytes, 400);
    }
}

#[test]
fn rfc9110_5_1_malformed_field_name_is_400() {
    for bytes in [
        &b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nName : space before colon\r\n\r\n",
    ] {
        refused(bytes, 400);
    }
}

#[test]
fn rfc9110_5_5_control_characters_in_a_field_value_are_400() {
    refused(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n", 400);
    refused(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400);
}

#[test]
fn rfc9112_5_2_obsolete_line_folding_is_400() {
    let error = parse_request(
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  continued\r\n\r\n",
        &HttpLimits::default(),
    );
    assert!(
        error.as_ref().is_err_and(|e| e.reason.contains("§5.2")),
        "{error:?}"
    );
    refused(
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  continued\r\n\r\n",
        400,
    );
    refused(
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tcontinued\r\n\r\n",
        400,
    );
}

#[test]
fn rfc9112_2_2_whitespace_before_the_first_field_is_400() {
    refused(b"GET / HTTP/1.1\r\nHost: h\r\n Host: a\r\n\r\n", 400);
}

#[test]
fn rfc9112_3_2_absolute_form_target_is_400() {
    refused(
        b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
        400,
    );
}

#[test]
fn rfc9112_3_2_1_target_must_start_with_a_slash() {
    refused(b"GET poll/x HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    refused(b"CONNECT example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    refused(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    refused(b"GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400);
}

// --- 414 and 431: limits (RFC 9112 §3, RFC 6585 §5) ---

#[test]
fn rfc9112_3_request_line_too_long_is_414() {
    let limits = small_limits();
    let long_target = format!("/{}", "a".repeat(64));
    let bytes = format!("GET {long_target} HTTP/1.1\r\nHost: h\r\n\r\n");
    refused_everywhere(bytes.as_bytes(), &limits, 414);
    // One byte over: the 64-byte line of `limits_are_inclusive` plus one.
    let line = format!(
        "GET /{} HTTP/1.1",
        "a".repeat(64 - "GET / HTTP/1.1".len() + 1)
    );
    assert_eq!(line.len(), 65);
    refused_everywhere(format!("{line}\r\n\r\n").as_bytes(), &limits, 414);
}

#[test]
fn rfc9112_3_request_line_too_long_is_414_before_it_ends() {
    let limits = small_limits();
    let endless = format!("GET /{}", "a".repeat(200));
    let decided_at = refused_everywhere(endless.as_bytes(), &limits, 414);
    assert_eq!(
        decided_at,
        64 + 2,
        "decided once the line cannot fit with its CRLF"
    );
}

#[test]
fn rfc6585_5_header_block_too_large_is_431() {
    let limits = small_limits();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "p".repeat(256)
    );
    let decided_at = refused_everywhere(head.as_bytes(), &limits, 431);
    assert_eq!(
        decided_at, 256,
        "decided while the head is still incomplete"
    );
    // One byte over an exactly-full head.
    let padding = 256 - "GET / HTTP/1.1\r\nHost: h\r\nX: \r\n\r\n".len() + 1;
    let head = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "p".repeat(padding)
    );
    refused_everywhere(head.as_bytes(), &limits, 431);
}

#[test]
fn rfc6585_5_many_small_fields_are_431() {
    let limits = HttpLimits {
        max_headers: 1000,
        ..small_limits()
    };
    let fields: String = (0..60).map(|i| format!("X{i}: v\r\n")).collect();
    refused_everywhere(
        format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n").as_bytes(),
        &limits,
        431,
    );
}

#[test]
fn a_limit_raised_past_the_default_admits_that_many_fields_and_refuses_one_more() {
    // 64 slots live on the stack; a larger limit must still be honoured to the field.
    let limits = HttpLimits {
        max_headers: 100,
        max_header_bytes: 64 * 1024,
        ..small_limits()
    };
    let head_with = |count: usize| {
        let fields: String = (1..count).map(|i| format!("X{i}: v\r\n")).collect();
        format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n")
    };
    match parse_request(head_with(100).as_bytes(), &limits) {
        Ok(ParseStatus::Complete { request, .. }) => assert_eq!(request.headers.len(), 100),
        Ok(ParseStatus::Incomplete) => panic!("100 fields under a limit of 100: incomplete"),
        Err(error) => panic!("100 fields under a limit of 100: {error:?}"),
    }
    refused_everywhere(head_with(101).as_bytes(), &limits, 431);
}

#[test]
fn rfc6585_5_too_many_fields_is_431() {
    let limits = small_limits();
    // Host and eight more: nine fields, one over the limit.
    let fields: String = (0..8).map(|i| format!("X-{i}: v\r\n")).collect();
    let decided_at = refused_everywhere(
        format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n").as_bytes(),
        &limits,
        431,
    );
    let after_ninth = "GET / HTTP/1.1\r\nHost: h\r\n".len() + 8 * "X-0: v\r\n".len();
    assert_eq!(
        decided_at, after_ninth,
        "decided when the ninth field ends, before the head does"
    );
}

// --- Body framing (RFC 9112 §6) ---

#[test]
fn rfc9112_6_1_transfer_encoding_with_content_length_is_400_smuggling() {
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn rfc9112_6_3_differing_content_lengths_are_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    );
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\nhello!",
        400,
    );
}

#[test]
fn rfc9110_8_6_content_length_not_a_number_is_400() {
    for value in [
        "abc",
        "-1",
        "+5",
        "5.0",
        "0x10",
        "",
        "1 2",
        "99999999999999999999999",
    ] {
        let bytes = format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {value}\r\n\r\n");
        refused(bytes.as_bytes(), 400);
    }
}

#[test]
fn rfc9112_6_1_unknown_transfer_coding_is_501() {
    for coding in [
        "gzip",
        "gzip, chunked",
        "chunked, gzip",
        "identity",
        "deflate;q=1",
    ] {
        let bytes = format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {coding}\r\n\r\n");
        refused(bytes.as_bytes(), 501);
    }
}

#[test]
fn rfc9112_6_1_chunked_twice_or_in_http10_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        400,
    );
    refused(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn rfc9110_15_5_14_declared_body_too_large_is_413_before_the_body() {
    let limits = small_limits();
    let head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 33\r\n\r\n";
    let decided_at = refused_everywhere(head, &limits, 413);
    assert_eq!(
        decided_at,
        head.len(),
        "decided with the head alone, no body byte sent"
    );
    let huge = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n";
    refused_everywhere(huge, &limits, 413);
}

#[test]
fn rfc9110_15_5_14_chunked_body_too_large_is_413_as_it_passes_the_limit() {
    let limits = small_limits();
    let mut bytes =
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n".to_vec();
    bytes.extend_from_slice(&[b'x'; 16]);
    bytes.extend_from_slice(b"\r\n11\r\n");
    let decided_at = refused_everywhere(&bytes, &limits, 413);
    assert_eq!(
        decided_at,
        bytes.len(),
        "decided at the size line, before the chunk's data"
    );
}

#[test]
fn rfc9112_7_1_chunk_size_overflow_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\n",
        400,
    );
}

#[test]
fn rfc9112_7_1_chunk_without_crlf_is_400() {
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
        400,
    );
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
        400,
    );
    refused(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
    );
}

// --- 505 (RFC 9110 §15.6.6) ---

#[test]
fn rfc9110_15_6_6_other_http_versions_are_505() {
    for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"] {
        let bytes = format!("GET / {version}\r\nHost: a\r\n\r\n");
        refused(bytes.as_bytes(), 505);
    }
}

#[test]
fn rfc9110_15_6_6_version_is_judged_once_the_line_ends() {
    // "HTTP/2.0" could still turn into a malformed "HTTP/2.00": wait for the end of the line.
    assert_eq!(
        parse_request(b"GET / HTTP/2.0", &HttpLimits::default()),
        Ok(ParseStatus::Incomplete)
    );
    assert_eq!(
        parse_request(b"GET / HTTP/2.0\r", &HttpLimits::default()),
        Ok(ParseStatus::Incomplete)
    );
    let status = parse_request(b"GET / HTTP/2.0\r\n", &HttpLimits::default()).map_err(|e| e.status);
    assert_eq!(status, Err(505));
}

#[test]
fn refusals_name_their_rule() {
    let error = parse_request(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
        &HttpLimits::default(),
    );
    let error = error.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.starts_with("501 Not Implemented: "), "{error}");
    assert!(error.contains("RFC 9112"), "{error}");
}

// --- Host (RFC 9112 §3.2) ---

#[test]
fn rfc9112_3_2_http11_without_host_is_400() {
    refused(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400);
}

#[test]
fn rfc9112_3_2_two_host_fields_are_400_whatever_the_version() {
    refused(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    refused(b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
}

#[test]
fn rfc9112_3_2_a_host_that_is_not_host_port_is_400() {
    for host in [
        &b"a b"[..],
        b"evil.example/x",
        b"user@a",
        b"x:abc",
        b"x:80:81",
        b"[::1",
        b"::1",
        b"[]",
        b"[::1]x",
        b"x\"<>",
        "caf\u{e9}".as_bytes(),
    ] {
        let request = [&b"GET / HTTP/1.1\r\nHost: "[..], host, b"\r\n\r\n"].concat();
        refused(&request, 400);
    }
}

#[test]
fn rfc9112_3_2_real_host_values_are_accepted() {
    for host in [
        "127.0.0.1:8080",
        "localhost",
        "LOCALHOST:8080",
        "[::1]:8080",
        "[::1]",
        "[fe80::1%25eth0]:80",
        "example.com:",
        "",
    ] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert!(
            matches!(
                parse_request(request.as_bytes(), &HttpLimits::default()),
                Ok(ParseStatus::Complete { .. })
            ),
            "Host: {host:?} refused"
        );
    }
}
