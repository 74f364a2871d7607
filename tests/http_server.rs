//! The HTTP/1.1 server over real sockets on 127.0.0.1: keep-alive, pipelining, bodies, every error status,
//! timeouts, the connection limit, and after every hostile input the server still serving everyone else.

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn index_page_is_served_with_date_server_and_type() {
    let server = server();
    let response = get(server.addr, "/");
    assert_eq!(response.status, 200);
    assert!(response
        .header("Content-Type")
        .unwrap()
        .starts_with("text/html"));
    assert!(
        response.header("Date").unwrap().ends_with(" GMT"),
        "RFC 9110 §6.6.1: an origin server sends Date"
    );
    assert_eq!(response.header("Server"), Some("pushlab"));
    assert!(
        response.text().contains("<html"),
        "the page is the real page"
    );
}

#[test]
fn browser_client_library_is_served_as_javascript() {
    let server = server();
    let response = get(server.addr, "/pushlab.js");
    assert_eq!(response.status, 200);
    assert!(response
        .header("Content-Type")
        .unwrap()
        .starts_with("text/javascript"));
}

#[test]
fn head_answers_the_length_without_the_body() {
    let server = server();
    let full = get(server.addr, "/");
    let head = exchange(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Content-Length"),
        Some(full.body.len().to_string().as_str())
    );
    assert!(head.body.is_empty());
}

#[test]
fn http11_keeps_the_connection_open_for_several_requests() {
    let server = server();
    let mut stream = connect(server.addr);
    for round in 0..5 {
        stream
            .write_all(b"GET /poll/ka?after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let response = read_response(&mut stream, false);
        assert_eq!(response.status, 200, "round {round}");
        assert_eq!(response.header("Connection"), None);
    }
}

#[test]
fn http10_closes_after_the_response_unless_keep_alive_was_asked() {
    let server = server();
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /poll/x?after=0 HTTP/1.0\r\n\r\n")
        .unwrap();
    let all = read_to_close(&mut stream);
    assert!(
        all.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&all)
    );

    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /poll/x?after=0 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream, false).status, 200);
    stream
        .write_all(b"GET /poll/x?after=0 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_response(&mut stream, false).status,
        200,
        "still open after the first answer"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = server();
    let mut stream = connect(server.addr);
    let requests =
        "POST /publish/pipe HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nfirst\
                    GET /poll/pipe?after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n\
                    GET /no/such/page HTTP/1.1\r\nHost: localhost\r\n\r\n\
                    HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream.write_all(requests.as_bytes()).unwrap();
    let published = read_response(&mut stream, false);
    assert_eq!(published.status, 200);
    let polled = read_response(&mut stream, false);
    assert!(
        polled.text().contains("\"data\":\"first\""),
        "{}",
        polled.text()
    );
    assert_eq!(read_response(&mut stream, false).status, 404);
    assert_eq!(read_response(&mut stream, true).status, 200);
}

#[test]
fn pipelined_requests_beyond_the_input_limit_are_all_answered() {
    // The input buffer holds at most about 3 KiB here, and 300 pipelined requests are 9 KiB: the server
    // must come back for the bytes it left in the socket, although the socket reports them only once.
    let server = server_with(|config| {
        config.http.max_header_bytes = 1024;
        config.http.max_body_bytes = 1024;
    });
    let mut stream = connect(server.addr);
    let request = "GET /no/such/page HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let count = 300;
    assert!(
        request.len() * count > 3 * 3072,
        "more than the input limit"
    );
    stream.write_all(request.repeat(count).as_bytes()).unwrap();
    for answered in 0..count {
        let response = read_response(&mut stream, false);
        assert_eq!(response.status, 404, "response {answered}");
    }
}

#[test]
fn chunked_request_body_is_decoded() {
    let server = server();
    let mut stream = connect(server.addr);
    stream
        .write_all(b"POST /publish/chunks HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhell\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stream
        .write_all(b"7;ext=1\r\no, worl\r\n1\r\nd\r\n0\r\nTrailer: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream, false).status, 200);
    let polled = get(server.addr, "/poll/chunks?after=0");
    assert!(
        polled.text().contains("\"data\":\"hello, world\""),
        "{}",
        polled.text()
    );
}

#[test]
fn a_request_arriving_one_byte_at_a_time_is_answered() {
    let server = server();
    let mut stream = connect(server.addr);
    for byte in b"GET /poll/slow?after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n" {
        stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(read_response(&mut stream, false).status, 200);
}

#[test]
fn a_half_closed_client_still_gets_its_answer() {
    let server = server();
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /poll/half?after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let all = read_to_close(&mut stream);
    assert!(
        all.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{}",
        String::from_utf8_lossy(&all)
    );
}

/// Sends `request`, expects `status` and a log-worthy refusal, then checks the server still serves.
fn assert_refused(request: &[u8], status: u16, rule: &str) {
    let server = server_with(|config| {
        config.http.max_body_bytes = 1024;
        config.http.max_headers = 16;
    });
    let response = exchange(server.addr, request);
    assert_eq!(response.status, status, "{rule}: {}", response.text());
    assert_still_serving(server.addr);
}

#[test]
fn http11_request_without_host_is_400() {
    assert_refused(
        b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
        400,
        "RFC 9112 §3.2: a server MUST respond with 400 to an HTTP/1.1 request that lacks a Host header",
    );
}

#[test]
fn malformed_request_line_is_400() {
    assert_refused(
        b"GARBAGE\r\n\r\n",
        400,
        "RFC 9112 §3: request-line = method SP request-target SP HTTP-version",
    );
}

#[test]
fn overlong_request_line_is_414() {
    let request = format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(9000)
    );
    assert_refused(
        request.as_bytes(),
        414,
        "RFC 9112 §3: a server answers 414 to a request-target longer than it wants",
    );
}

#[test]
fn oversized_header_block_is_431() {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20_000)
    );
    assert_refused(
        request.as_bytes(),
        431,
        "RFC 6585 §5: header fields too large",
    );
}

#[test]
fn too_many_header_fields_is_431() {
    let mut request = String::from("GET / HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..40 {
        request.push_str(&format!("X-H{i}: v\r\n"));
    }
    request.push_str("\r\n");
    assert_refused(request.as_bytes(), 431, "RFC 6585 §5");
}

#[test]
fn body_over_the_limit_is_413_before_it_is_sent() {
    assert_refused(
        b"POST /publish/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 999999\r\n\r\n",
        413,
        "RFC 9110 §15.5.14",
    );
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    assert_refused(
        b"POST /publish/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "RFC 9112 §6.1: both framings at once is the request-smuggling vector",
    );
}

#[test]
fn differing_content_lengths_are_400() {
    assert_refused(
        b"POST /publish/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
        "RFC 9112 §6.3",
    );
}

#[test]
fn non_numeric_content_length_is_400() {
    assert_refused(
        b"POST /publish/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 12abc\r\n\r\n",
        400,
        "RFC 9112 §6.3",
    );
}

#[test]
fn obsolete_line_folding_is_400() {
    assert_refused(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n  b\r\n\r\n",
        400,
        "RFC 9112 §5.2",
    );
}

#[test]
fn unknown_transfer_coding_is_501() {
    assert_refused(
        b"POST /publish/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
        "RFC 9112 §6.1: a transfer coding the server does not understand",
    );
}

#[test]
fn unknown_path_is_404_and_wrong_method_is_405_with_allow() {
    let server = server();
    assert_eq!(get(server.addr, "/nothing-here").status, 404);
    let response = exchange(
        server.addr,
        b"DELETE /poll/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(response.status, 405);
    assert_eq!(
        response.header("Allow"),
        Some("GET"),
        "RFC 9110 §15.5.6: a 405 lists the allowed methods"
    );
    let response = exchange(
        server.addr,
        b"GET /publish/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        (response.status, response.header("Allow")),
        (405, Some("POST"))
    );
    assert_still_serving(server.addr);
}

#[test]
fn paths_escaping_the_web_root_are_refused() {
    let server = server();
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/static%2f..%2fCargo.toml",
        "/..%5cCargo.toml",
    ] {
        let status = get(server.addr, path).status;
        assert!(status == 400 || status == 404, "{path} answered {status}");
    }
    assert_still_serving(server.addr);
}

#[test]
fn invalid_topic_and_invalid_after_are_400() {
    let server = server();
    assert_eq!(get(server.addr, "/poll/bad%20topic").status, 400);
    assert_eq!(
        get(server.addr, &format!("/poll/{}", "t".repeat(65))).status,
        400
    );
    assert_eq!(get(server.addr, "/poll/ok?after=yesterday").status, 400);
    assert_still_serving(server.addr);
}

#[test]
fn a_request_head_not_complete_in_time_gets_408_and_is_closed() {
    let server = server_with(|config| config.header_timeout = Duration::from_millis(300));
    let mut stream = connect(server.addr);
    let start = Instant::now();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap(); // never finished
    let all = read_to_close(&mut stream);
    assert!(
        all.starts_with(b"HTTP/1.1 408 "),
        "{}",
        String::from_utf8_lossy(&all)
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "cut off by the header timeout, not by the test's"
    );
    assert_still_serving(server.addr);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = server_with(|config| config.idle_timeout = Duration::from_millis(200));
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /poll/x?after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream, false).status, 200);
    assert!(
        read_to_close(&mut stream).is_empty(),
        "closed without another byte"
    );
}

#[test]
fn past_the_connection_limit_new_clients_get_503_while_the_others_are_served() {
    let server = server_with(|config| config.max_connections = 3);
    let mut held: Vec<_> = (0..3).map(|_| connect(server.addr)).collect();
    assert!(wait_until(Duration::from_secs(5), || server
        .connection_count()
        .unwrap()
        == 3));
    let mut extra = connect(server.addr);
    let refused = read_to_close(&mut extra);
    assert!(
        refused.starts_with(b"HTTP/1.1 503 "),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    for stream in &mut held {
        stream
            .write_all(b"GET /poll/x?after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        assert_eq!(
            read_response(stream, false).status,
            200,
            "the admitted clients are still served"
        );
    }
}

#[test]
fn three_hundred_concurrent_connections_are_all_served() {
    // 300 publishes at once from one address are more than a publish burst allows; this test is about
    // connections, so the rate limit is off (it has tests of its own in tests/security.rs).
    let server = server_with(|config| config.publish_rate_per_ip = 0);
    let mut streams: Vec<_> = (0..300).map(|_| connect(server.addr)).collect();
    for (i, stream) in streams.iter_mut().enumerate() {
        let body = format!("message {i}");
        let request = format!(
            "POST /publish/many HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
    }
    let mut ids: Vec<u64> = streams
        .iter_mut()
        .map(|stream| {
            let response = read_response(stream, false);
            assert_eq!(response.status, 200);
            let text = response.text();
            text.trim_start_matches("{\"id\":")
                .trim_end_matches('}')
                .parse()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 300, "every publish got its own id");
}
