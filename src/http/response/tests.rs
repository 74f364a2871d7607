use super::*;

const NOW: u64 = 784_111_777;
const DATE_LINE: &str = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";

/// The IMF-fixdate of a Unix time, as `Response::write` puts it in `Date`.
fn http_date(unix_secs: u64) -> String {
    let mut text = Vec::new();
    push_http_date(&mut text, unix_secs);
    String::from_utf8(text).unwrap_or_default()
}

fn written(response: &Response, head_only: bool, keep_alive: bool) -> String {
    let mut out = Vec::new();
    response.write(&mut out, NOW, head_only, keep_alive);
    String::from_utf8(out).unwrap_or_default()
}

#[test]
fn rfc9110_5_6_7_imf_fixdate_example() {
    assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

#[test]
fn known_dates() {
    assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(http_date(86_399), "Thu, 01 Jan 1970 23:59:59 GMT");
    assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(http_date(951_868_800), "Wed, 01 Mar 2000 00:00:00 GMT");
    assert_eq!(http_date(1_234_567_890), "Fri, 13 Feb 2009 23:31:30 GMT");
    assert_eq!(http_date(1_709_164_800), "Thu, 29 Feb 2024 00:00:00 GMT");
    assert_eq!(http_date(1_735_689_599), "Tue, 31 Dec 2024 23:59:59 GMT");
    assert_eq!(http_date(4_102_444_800), "Fri, 01 Jan 2100 00:00:00 GMT");
    assert_eq!(http_date(4_107_456_000), "Sun, 28 Feb 2100 00:00:00 GMT");
    assert_eq!(
        http_date(4_107_542_400),
        "Mon, 01 Mar 2100 00:00:00 GMT",
        "2100 is not a leap year"
    );
}

#[test]
fn dates_agree_with_a_day_by_day_walk() {
    // Walk the calendar one day at a time from 1970 to 2100 and compare with the closed formula.
    let (mut year, mut month, mut day) = (1970u64, 1u64, 1u64);
    for days in 0..47_482u64 {
        assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let month_days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        day += 1;
        if day > month_days {
            day = 1;
            month += 1;
            if month > 12 {
                month = 1;
                year += 1;
            }
        }
    }
}

#[test]
fn writes_status_line_headers_and_body() {
    let response = Response::new(200)
        .header("Cache-Control", "no-store")
        .body("application/json", "{}");
    assert_eq!(
        written(&response, false, true),
        format!(
            "HTTP/1.1 200 OK\r\n{DATE_LINE}Server: pushlab\r\nCache-Control: no-store\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
        )
    );
}

#[test]
fn rfc9112_9_6_connection_close_when_not_keeping_alive() {
    let text = written(&Response::new(200), false, false);
    assert!(
        text.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"),
        "{text}"
    );
}

#[test]
fn rfc9110_8_6_head_gets_the_length_but_not_the_body() {
    let response = Response::new(200).body("text/plain", "hello");
    let text = written(&response, true, true);
    assert!(text.ends_with("Content-Length: 5\r\n\r\n"), "{text}");
}

#[test]
fn chunked_head_announces_the_coding_and_no_length() {
    let response = Response {
        body: b"not written".to_vec(),
        ..Response::new(200).chunked("application/x-ndjson")
    };
    let text = written(&response, false, true);
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    assert!(!text.contains("Content-Length"), "{text}");
    assert!(
        text.ends_with("Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"),
        "{text}"
    );
}

#[test]
fn rfc9110_6_4_1_no_content_for_1xx_204_304() {
    for status in [101, 204, 304] {
        let response = Response::new(status).body("text/plain", "never sent");
        let text = written(&response, false, false);
        assert!(!text.contains("Content-Length"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }
    let switching = written(
        &Response::new(101).header("Upgrade", "websocket"),
        false,
        false,
    );
    assert!(!switching.contains("Connection: close"), "{switching}");
}

#[test]
fn error_bodies_name_status_phrase_and_reason() {
    let response = Response::error(413, "body too large");
    assert_eq!(response.status, 413);
    assert_eq!(response.body, b"413 Content Too Large: body too large\n");
    assert!(response
        .headers
        .contains(&("Content-Type".into(), "text/plain; charset=utf-8".into())));
    let from_error = Response::from(&HttpError::new(431, "too many"));
    assert_eq!(
        from_error.body,
        b"431 Request Header Fields Too Large: too many\n"
    );
}

#[test]
fn header_values_cannot_split_the_response() {
    let response = Response::new(200).header("X-Echo", "a\r\nSet-Cookie: b\0");
    assert_eq!(
        response.headers,
        vec![("X-Echo".to_string(), "aSet-Cookie: b".to_string())]
    );
}

#[test]
fn reason_phrases() {
    let expected = [
        (101, "Switching Protocols"),
        (200, "OK"),
        (204, "No Content"),
        (301, "Moved Permanently"),
        (304, "Not Modified"),
        (400, "Bad Request"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (405, "Method Not Allowed"),
        (408, "Request Timeout"),
        (413, "Content Too Large"),
        (414, "URI Too Long"),
        (415, "Unsupported Media Type"),
        (426, "Upgrade Required"),
        (431, "Request Header Fields Too Large"),
        (500, "Internal Server Error"),
        (501, "Not Implemented"),
        (503, "Service Unavailable"),
        (505, "HTTP Version Not Supported"),
        (499, "Client Error"),
        (599, "Server Error"),
    ];
    for (status, phrase) in expected {
        assert_eq!(reason_phrase(status), phrase, "{status}");
    }
}

#[test]
fn decimals_are_written_digit_by_digit_from_zero_to_the_largest_u64() {
    for value in [0, 7, 10, 99, 200, 1_000_007, u64::MAX] {
        let mut out = Vec::new();
        push_decimal(&mut out, value);
        assert_eq!(out, value.to_string().into_bytes(), "{value}");
    }
}

#[test]
fn the_content_length_counts_a_body_of_several_digits() {
    let response = Response::new(200).body("text/plain", vec![b'x'; 12_345]);
    let text = written(&response, true, true);
    assert!(text.contains("\r\nContent-Length: 12345\r\n"), "{text}");
}
