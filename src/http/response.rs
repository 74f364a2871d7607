//! Writing responses: status line, headers, body (RFC 9112 §4, §6).
//!
//! A response has the same shape as a request, with a status line in place of the request line:
//!
//! ```text
//! HTTP/1.1 200 OK\r\n                    version, status code, reason phrase (RFC 9112 §4)
//! Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n
//! Server: pushlab\r\n
//! Content-Type: application/json\r\n
//! Content-Length: 13\r\n                 how the client finds the end of the body (RFC 9112 §6.3)
//! \r\n
//! {"messages":[]}
//! ```
//!
//! A response that streams (XHR streaming, iframe, SSE) does not know its length, so it says
//! `Transfer-Encoding: chunked` instead and the body follows as chunks ([`crate::http::chunked`]).

use crate::http::HttpError;

/// A response waiting to be written.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields besides `Date`, `Server`, `Content-Length` and `Connection`, which `write` adds.
    pub headers: Vec<(String, String)>,
    /// Body bytes (ignored for `chunked` responses, whose body is streamed later).
    pub body: Vec<u8>,
    /// When true the head says `Transfer-Encoding: chunked` and no body is written now.
    pub chunked: bool,
}

impl Response {
    /// A response with `status`, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            chunked: false,
        }
    }
    /// Adds a header field.
    ///
    /// CR, LF and NUL are removed from the name and value: a value copied from a request must never be
    /// able to end the field line and add fields of its own (response splitting, RFC 9110 §5.5).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((without_line_breaks(name), without_line_breaks(value)));
        self
    }
    /// Sets the body and its `Content-Type`.
    pub fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let mut response = self.header("Content-Type", content_type);
        response.body = body.into();
        response
    }
    /// Marks the response as a chunked stream: the head is written now, chunks later.
    pub fn chunked(self, content_type: &str) -> Self {
        let mut response = self.header("Content-Type", content_type);
        response.chunked = true;
        response
    }
    /// A plain-text error response for `status` explaining `reason`.
    pub fn error(status: u16, reason: &str) -> Self {
        let body = format!("{status} {}: {reason}\n", reason_phrase(status));
        Response::new(status).body("text/plain; charset=utf-8", body)
    }
    /// Writes the response into `out`. `now_unix_secs` gives the `Date` header; `head_only` (for HEAD)
    /// writes the head with the body's length but not the body; `keep_alive: false` adds
    /// `Connection: close`.
    pub fn write(&self, out: &mut Vec<u8>, now_unix_secs: u64, head_only: bool, keep_alive: bool) {
        // Every answer of a long poll goes through here, so the head is pushed piece by piece, with no
        // `format!` and no allocation beyond the output's own growth.
        // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
        let status = self.status;
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(status));
        out.push(b' ');
        push_line(out, reason_phrase(status));
        // RFC 9110 §6.6.1: an origin server with a clock MUST send Date in 2xx, 3xx and 4xx responses.
        out.extend_from_slice(b"Date: ");
        push_http_date(out, now_unix_secs);
        out.extend_from_slice(b"\r\n");
        push_line(out, "Server: pushlab");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            push_line(out, value);
        }
        let has_body = status_allows_body(self.status);
        if has_body && self.chunked {
            // RFC 9112 §6.1: the body that follows is a series of chunks ended by a zero-size chunk.
            push_line(out, "Transfer-Encoding: chunked");
        } else if has_body {
            // RFC 9110 §8.6: on a HEAD response, Content-Length is the length a GET would have had.
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, self.body.len() as u64);
            out.extend_from_slice(b"\r\n");
        }
        // RFC 9112 §9.6: "close" tells the client this is the last response on the connection.
        // A 101 hands the connection over to another protocol, so it never says close.
        if !keep_alive && self.status >= 200 {
            push_line(out, "Connection: close");
        }
        out.extend_from_slice(b"\r\n");
        if has_body && !self.chunked && !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

impl From<&HttpError> for Response {
    /// The response that answers a refused request: its status and rule, as text.
    fn from(error: &HttpError) -> Self {
        Response::error(error.status, error.reason)
    }
}

/// RFC 9110 §6.4.1: 1xx, 204 and 304 responses never have content, so they get neither a
/// `Content-Length` (forbidden for 1xx and 204 by §8.6) nor a body.
fn status_allows_body(status: u16) -> bool {
    !(100..200).contains(&status) && status != 204 && status != 304
}

fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `value` in decimal, most significant digit first (a `u64` has at most 20 digits).
pub(crate) fn push_decimal(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// Appends `value` as exactly two decimal digits (`value` is below 100: a day, an hour, a minute).
fn push_two_digits(out: &mut Vec<u8>, value: u64) {
    out.push(b'0' + (value / 10 % 10) as u8);
    out.push(b'0' + (value % 10) as u8);
}

fn without_line_breaks(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
        .collect()
}

/// The reason phrase of a status code (RFC 9110 §15).
pub fn reason_phrase(status: u16) -> &'static str {
    known_reason_phrase(status).unwrap_or(match status {
        // RFC 9110 §15: a client understands an unknown code by its class (first digit).
        100..=199 => "Informational",
        200..=299 => "Success",
        300..=399 => "Redirection",
        400..=499 => "Client Error",
        _ => "Server Error",
    })
}

/// The phrases RFC 9110 §15 (and RFC 6585) give to the codes pushlab may send.
fn known_reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => return None,
    })
}

/// Appends a Unix time as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7):
/// 29 bytes, written into the response without a `String` of their own.
fn push_http_date(out: &mut Vec<u8>, unix_secs: u64) {
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs_of_day = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday (index 4).
    let weekday = WEEKDAYS
        .get(((days + 4) % 7) as usize)
        .copied()
        .unwrap_or("Sun");
    let month_name = MONTHS
        .get(usize::try_from(month.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    // day-name "," SP day SP month SP year SP hour ":" minute ":" second SP "GMT"
    out.extend_from_slice(weekday.as_bytes());
    out.extend_from_slice(b", ");
    push_two_digits(out, day);
    out.push(b' ');
    out.extend_from_slice(month_name.as_bytes());
    out.push(b' ');
    // RFC 9110 §5.6.7: year = 4DIGIT.
    push_two_digits(out, year / 100);
    push_two_digits(out, year % 100);
    out.push(b' ');
    push_two_digits(out, secs_of_day / 3600);
    out.push(b':');
    push_two_digits(out, secs_of_day / 60 % 60);
    out.push(b':');
    push_two_digits(out, secs_of_day % 60);
    out.extend_from_slice(b" GMT");
}

/// The proleptic Gregorian (year, month 1–12, day 1–31) of a count of days since 1970-01-01.
///
/// This is Howard Hinnant's `civil_from_days`: shift the calendar so that years start on March 1st
/// (the leap day then ends the year), split into 400-year eras of 146,097 days, then find the year of
/// the era, the day of that year, and the month from a linear formula over the March-based months.
fn civil_from_days(days_since_epoch: u64) -> (u64, u64, u64) {
    let days = days_since_epoch + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = days / 146_097;
    let day_of_era = days % 146_097; // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11], 0 is March
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
