//! The request head (RFC 9112 §2–§5), and [`parse_request`], the one-shot form of the decoder.
//!
//! # Theory of operation
//!
//! A request arrives as a stream of bytes that the event loop appends to a buffer. After each read the
//! connection's [`RequestDecoder`] looks at the whole unread buffer and
//! answers one of three things:
//!
//! - incomplete: not a whole request yet, nothing consumed; read more and call again ("need more bytes"
//!   is not "invalid");
//! - complete: a request, and how many bytes it took (the rest is the next request, sent before this
//!   one was answered: pipelining, RFC 9112 §9.3.2);
//! - an [`HttpError`]: the client broke a rule; answer its status and close the connection.
//!
//! This module reads the head. Until the head is complete, each read parses it again from its first
//! byte: `httparse` keeps no state between calls, and the head is bounded by
//! [`HttpLimits::max_header_bytes`], so each read costs at most that much. Once complete, the head is
//! parsed for the last time and the decoder goes on with the body (see [`crate::http::decoder`]).
//!
//! A request is a head and an optional body:
//!
//! ```text
//! POST /publish/chat HTTP/1.1\r\n    request line: method, target, version (RFC 9112 §3)
//! Host: 127.0.0.1:8080\r\n           header fields, one per line (RFC 9112 §5)
//! Content-Length: 5\r\n
//! \r\n                               an empty line ends the head
//! hello                              the body, framed as the headers say (RFC 9112 §6, see `framing`)
//! ```
//!
//! `httparse` reads the head. The limits are enforced around it in two steps, so that each is decided
//! as early as possible and the same way however the bytes were split: first the request line alone,
//! inside a window of [`HttpLimits::max_request_line_bytes`] (414), then the whole head inside a window
//! of [`HttpLimits::max_header_bytes`] (431).

use std::mem::MaybeUninit;

use crate::http::decoder::{Decoded, RequestDecoder};
use crate::http::framing::list_elements;
use crate::http::{percent, HttpError, HttpLimits};

/// One header field; the name as sent, the value as raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Field name, as sent (compare case-insensitively).
    pub name: String,
    /// Field value, leading and trailing whitespace removed.
    pub value: Vec<u8>,
}

/// A complete request: head and (decoded) body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method token, e.g. `GET`.
    pub method: String,
    /// Path part of the request target, still percent-encoded, e.g. `/poll/clock`.
    pub path: String,
    /// Query string after `?`, without the `?` (empty when absent).
    pub query: String,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Header fields in order.
    pub headers: Vec<Header>,
    /// The body, with any chunked transfer coding removed.
    pub body: Vec<u8>,
}

/// What the parser made of the bytes so far (design rule 2: "need more" is not "invalid").
#[derive(Debug, PartialEq, Eq)]
pub enum ParseStatus {
    /// Not a whole request yet; nothing consumed. Call again with more bytes.
    Incomplete,
    /// A whole request, which took the first `consumed` bytes of the buffer.
    Complete {
        /// The request.
        request: Request,
        /// Bytes of the buffer it used; any rest belongs to the next (pipelined) request.
        consumed: usize,
    },
}

/// Parses one request from the start of `buf`, which holds everything received so far.
///
/// A fresh [`RequestDecoder`] used once: the same verdict, decided by the same code, as a decoder fed
/// the same bytes over several reads. Convenient in tests and whenever the whole input is at hand; a
/// connection keeps one [`RequestDecoder`] instead, so that a body arriving over many reads is decoded
/// once (and so that it learns when to send `100 Continue`).
pub fn parse_request(buf: &[u8], limits: &HttpLimits) -> Result<ParseStatus, HttpError> {
    Ok(match RequestDecoder::new().decode(buf, limits)? {
        Decoded::Incomplete { .. } => ParseStatus::Incomplete,
        Decoded::Complete { request, consumed } => ParseStatus::Complete { request, consumed },
    })
}

/// A parsed head and how many bytes of the buffer it took (final empty line included).
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) version: u8,
    pub(crate) headers: Vec<Header>,
    pub(crate) head_bytes: usize,
}

/// Parses the head, enforcing the request line and header block limits; `None` while incomplete.
pub(crate) fn parse_head(buf: &[u8], limits: &HttpLimits) -> Result<Option<Head>, HttpError> {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the request line
    // (httparse skips them); they count towards the header block.
    let line_start = leading_empty_line_bytes(buf);
    // Empty lines alone that fill the header block are refused before the request line is looked
    // at, so the verdict does not depend on whether the line after them has arrived yet.
    if line_start >= limits.max_header_bytes {
        return Err(HttpError::new(431, "header block too large (RFC 6585 §5)"));
    }
    // Step 1: only the request line and the bytes that fit in its limit (plus CRLF), so a malformed
    // byte inside that window gives 400 whether or not the rest has arrived.
    let line_window_end = line_start
        .saturating_add(limits.max_request_line_bytes)
        .saturating_add(2);
    let line_window = buf
        .get(..line_window_end.min(buf.len()))
        .unwrap_or_default();
    let early_head = parse_window(line_window, line_start, limits)?;
    let line_is_complete =
        check_request_line_length(buf, line_start, limits.max_request_line_bytes)?;
    if let Some(head) = early_head {
        return check_header_block_size(head, limits.max_header_bytes).map(Some);
    }
    if !line_is_complete {
        return check_incomplete_header_block(buf, limits.max_header_bytes);
    }
    // Step 2: the whole head, within max_header_bytes.
    let head_window = buf
        .get(..limits.max_header_bytes.min(buf.len()))
        .unwrap_or_default();
    match parse_window(head_window, line_start, limits)? {
        Some(head) => check_header_block_size(head, limits.max_header_bytes).map(Some),
        None => check_incomplete_header_block(buf, limits.max_header_bytes),
    }
}

/// RFC 6585 §5: "431 ... the request's HTTP header fields are too large".
fn check_header_block_size(head: Head, max_header_bytes: usize) -> Result<Head, HttpError> {
    if head.head_bytes > max_header_bytes {
        return Err(HttpError::new(431, "header block too large (RFC 6585 §5)"));
    }
    Ok(head)
}

/// An incomplete head that already fills the header block limit can only end up too large: 431 now,
/// rather than buffering more (RFC 6585 §5).
fn check_incomplete_header_block(
    buf: &[u8],
    max_header_bytes: usize,
) -> Result<Option<Head>, HttpError> {
    if buf.len() >= max_header_bytes {
        return Err(HttpError::new(431, "header block too large (RFC 6585 §5)"));
    }
    Ok(None)
}

/// Bytes taken by empty lines before the request line (CRLF or LF each).
fn leading_empty_line_bytes(buf: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        match buf.get(pos..).unwrap_or_default() {
            [b'\r', b'\n', ..] => pos += 2,
            [b'\n', ..] => pos += 1,
            _ => return pos,
        }
    }
}

/// RFC 9112 §3: "A server that receives a request-target longer than any URI it wishes to parse MUST
/// respond with a 414 (URI Too Long)". The whole request line is measured, excluding its CRLF, and a
/// line that has already outgrown the limit is refused before its end arrives. Returns whether the line
/// is complete.
fn check_request_line_length(
    buf: &[u8],
    line_start: usize,
    max_line_bytes: usize,
) -> Result<bool, HttpError> {
    let too_long = || HttpError::new(414, "request line too long (RFC 9112 §3)");
    let window_end = line_start.saturating_add(max_line_bytes).saturating_add(2);
    let line = buf
        .get(line_start..window_end.min(buf.len()))
        .unwrap_or_default();
    match line.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let content_bytes = if lf > 0 && line.get(lf - 1) == Some(&b'\r') {
                lf - 1
            } else {
                lf
            };
            if content_bytes > max_line_bytes {
                return Err(too_long());
            }
            Ok(true)
        }
        None if buf.len() >= window_end => Err(too_long()),
        None => Ok(false),
    }
}

/// Runs httparse over `window`; `None` when the window holds no whole head (yet).
/// How many header slots [`parse_window`] keeps on the stack: the default `max_headers`.
const STACK_HEADER_SLOTS: usize = 64;

fn parse_window(
    window: &[u8],
    line_start: usize,
    limits: &HttpLimits,
) -> Result<Option<Head>, HttpError> {
    // One slot more than allowed would not help: httparse reports TooManyHeaders when the slots run out.
    // The slots live on the stack unless the limit was raised past them: every request comes through
    // here, and a heap allocation of 64 slots was a visible share of a long poll's cost. They are left
    // uninitialised (httparse fills the ones it uses): zeroing 64 slots, 2 KiB, for a request with
    // three headers was another.
    let mut stack_slots = [MaybeUninit::<httparse::Header>::uninit(); STACK_HEADER_SLOTS];
    let mut heap_slots = Vec::new();
    let slots = match stack_slots.get_mut(..limits.max_headers) {
        Some(slots) => slots,
        None => {
            heap_slots.resize(limits.max_headers, MaybeUninit::uninit());
            heap_slots.as_mut_slice()
        }
    };
    let mut parsed = httparse::Request::new(&mut []);
    match parsed.parse_with_uninit_headers(window, slots) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(head_bytes)) => {
            // httparse refuses obsolete line folding in requests; this keeps the rule ours.
            if has_obsolete_line_folding(window.get(..head_bytes).unwrap_or_default(), line_start) {
                return Err(obs_fold_error());
            }
            head_from(&parsed, head_bytes).map(Some)
        }
        Err(error) => map_httparse_error(error, window, line_start),
    }
}

fn obs_fold_error() -> HttpError {
    HttpError::new(
        400,
        "obsolete line folding: a field line starts with whitespace (RFC 9112 §5.2)",
    )
}

/// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
/// message that lacks a Host header field and to any request message that contains more than one Host
/// header field line or a Host header field with an invalid field value." HTTP/1.0 had no Host, so
/// there it may be absent. An empty value is allowed (§3.2: for a target URI without an authority).
pub(crate) fn check_host(head: &Head) -> Result<(), HttpError> {
    let mut hosts = head
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("host"));
    let (first, second) = (hosts.next(), hosts.next());
    match (first, second) {
        (None, _) if head.version >= 1 => Err(HttpError::new(
            400,
            "an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)",
        )),
        (Some(_), Some(_)) => Err(HttpError::new(
            400,
            "more than one Host header (RFC 9112 §3.2)",
        )),
        (Some(host), None) if !is_host_and_port(&host.value) => Err(HttpError::new(
            400,
            "the Host header is not a valid host[:port] (RFC 9112 §3.2)",
        )),
        _ => Ok(()),
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2-3.2.3): a registered name or IPv4
/// address, or an IP literal in brackets (`[::1]`), then optionally a colon and digits. Empty is allowed.
fn is_host_and_port(value: &[u8]) -> bool {
    let (host, after_host): (&[u8], &[u8]) = match value.strip_prefix(b"[") {
        // IP-literal: hex digits, colons, dots, and a zone id's unreserved or percent-encoded bytes.
        Some(literal) => {
            let mut around_close = literal.splitn(2, |&b| b == b']');
            let (Some(inside), Some(after_close)) = (around_close.next(), around_close.next())
            else {
                return false; // no closing bracket
            };
            let ok = !inside.is_empty() && inside.iter().all(|&b| b == b':' || is_reg_name_byte(b));
            if !ok {
                return false;
            }
            (inside, after_close)
        }
        // A reg-name or IPv4 address runs up to the first colon; the port part keeps the colon.
        None => {
            let colon = value.iter().position(|&b| b == b':').unwrap_or(value.len());
            value.split_at_checked(colon).unwrap_or((value, b""))
        }
    };
    let host_ok = value.starts_with(b"[") || host.iter().all(|&b| is_reg_name_byte(b));
    let port_ok = match after_host.strip_prefix(b":") {
        Some(port) => port.iter().all(u8::is_ascii_digit),
        None => after_host.is_empty(),
    };
    host_ok && port_ok
}

/// reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986 §3.2.2), byte by byte.
fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b)
}

/// Says which rule an httparse error broke.
fn map_httparse_error(
    error: httparse::Error,
    window: &[u8],
    line_start: usize,
) -> Result<Option<Head>, HttpError> {
    let reason = match error {
        // RFC 6585 §5: too many fields is also "request header fields too large".
        httparse::Error::TooManyHeaders => {
            return Err(HttpError::new(431, "too many header fields (RFC 6585 §5)"))
        }
        httparse::Error::Version => return version_error(window, line_start),
        // RFC 9112 §5.2: "A server that receives an obs-fold in a request message ... MUST either reject
        // the message by sending a 400 (Bad Request)" or replace it; and §2.2: whitespace between the
        // start-line and the first field line likewise. httparse sees either as a bad field name.
        httparse::Error::HeaderName if has_obsolete_line_folding(window, line_start) => {
            return Err(obs_fold_error())
        }
        httparse::Error::HeaderName => "invalid header field name (RFC 9110 §5.1)",
        httparse::Error::HeaderValue => "invalid header field value (RFC 9110 §5.5)",
        httparse::Error::NewLine => "invalid line ending (RFC 9112 §2.2)",
        httparse::Error::Token => "malformed request line (RFC 9112 §3)",
        httparse::Error::Status => "malformed request",
    };
    Err(HttpError::new(400, reason))
}

/// Whether a field line of the head in `bytes` starts with SP or HTAB (the request line excluded).
fn has_obsolete_line_folding(bytes: &[u8], line_start: usize) -> bool {
    let mut pos = line_start;
    loop {
        let rest = bytes.get(pos..).unwrap_or_default();
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return false;
        };
        pos += lf + 1;
        match bytes.get(pos) {
            Some(b' ' | b'\t') => return true,
            // The empty line that ends the head (or nothing yet): no more field lines.
            Some(b'\r' | b'\n') | None => return false,
            Some(_) => {}
        }
    }
}

/// httparse knows only `HTTP/1.0` and `HTTP/1.1`. RFC 9112 §2.3: `HTTP-version = "HTTP" "/" DIGIT "."
/// DIGIT`; a well-formed version we do not speak is 505 (RFC 9110 §15.6.6), anything else 400. While
/// the line is incomplete and could still be a well-formed version, wait for it.
fn version_error(window: &[u8], line_start: usize) -> Result<Option<Head>, HttpError> {
    let malformed = || HttpError::new(400, "malformed HTTP version (RFC 9112 §2.3)");
    let rest = window.get(line_start..).unwrap_or_default();
    let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
        Some(lf) => (rest.get(..lf).unwrap_or_default(), true),
        None => (rest, false),
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // method SP request-target SP HTTP-version
    let mut parts = line.splitn(3, |&b| b == b' ');
    let version = match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(_), Some(version)) => version,
        _ => return Err(malformed()),
    };
    if !is_version_prefix(version) {
        return Err(malformed());
    }
    match (complete, version.len() == b"HTTP/1.1".len()) {
        (true, true) => Err(HttpError::new(
            505,
            "HTTP version not supported (RFC 9110 §15.6.6)",
        )),
        (true, false) => Err(malformed()),
        (false, _) => Ok(None),
    }
}

/// Whether `bytes` is a prefix of `HTTP/DIGIT.DIGIT`.
fn is_version_prefix(bytes: &[u8]) -> bool {
    bytes.len() <= 8
        && bytes.iter().enumerate().all(|(i, &b)| match i {
            0..=4 => b"HTTP/".get(i) == Some(&b),
            6 => b == b'.',
            _ => b.is_ascii_digit(),
        })
}

/// Builds our owned head from httparse's borrowed one, checking the request target.
fn head_from(parsed: &httparse::Request, head_bytes: usize) -> Result<Head, HttpError> {
    let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(HttpError::new(400, "malformed request line (RFC 9112 §3)"));
    };
    let (path, query) = split_target(method, target)?;
    let headers = parsed
        .headers
        .iter()
        .map(|h| Header {
            name: h.name.to_string(),
            value: h.value.trim_ascii().to_vec(),
        })
        .collect();
    Ok(Head {
        method: method.to_string(),
        path,
        query,
        version,
        headers,
        head_bytes,
    })
}

/// Splits a request target into path and query (RFC 9112 §3.2).
fn split_target(method: &str, target: &str) -> Result<(String, String), HttpError> {
    // RFC 9112 §3.2.4: asterisk-form, only for a server-wide OPTIONS.
    if target == "*" {
        if method == "OPTIONS" {
            return Ok(("*".to_string(), String::new()));
        }
        return Err(HttpError::new(
            400,
            "asterisk-form target is only for OPTIONS (RFC 9112 §3.2.4)",
        ));
    }
    // RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ]. The absolute-form (§3.2.2) is what a
    // client sends to a proxy; pushlab is not one, so it is refused rather than half-supported.
    if !target.starts_with('/') {
        return Err(HttpError::new(
            400,
            "request target must start with / (RFC 9112 §3.2.1)",
        ));
    }
    // A fragment (`#...`) is never sent to a server (RFC 9110 §4.2.5).
    if target.contains('#') {
        return Err(HttpError::new(
            400,
            "fragment in request target (RFC 9112 §3.2)",
        ));
    }
    Ok(match target.split_once('?') {
        Some((path, query)) => (path.to_string(), query.to_string()),
        None => (target.to_string(), String::new()),
    })
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }
    /// The first value of header `name` as UTF-8 text, if it is.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }
    /// Whether header `name` holds `token` in its comma-separated list (case-insensitive).
    ///
    /// Every field with that name counts: `Connection: keep-alive` and `Connection: Upgrade` on two lines
    /// mean the same as one `Connection: keep-alive, Upgrade` (RFC 9110 §5.3).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| list_elements(&h.value))
            .any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
    }
    /// Whether the connection stays open after the response (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        // RFC 9112 §9.3: "close" always wins; HTTP/1.1 is persistent by default, HTTP/1.0 only when the
        // client asked for "keep-alive" (the pre-standard extension of RFC 9112 §C.2.2).
        if self.header_has_token("connection", "close") {
            return false;
        }
        self.version >= 1 || self.header_has_token("connection", "keep-alive")
    }
    /// The percent-decoded value of query parameter `name`, if present and valid UTF-8.
    ///
    /// The query is read as `application/x-www-form-urlencoded`: pairs separated by `&`, `+` for space.
    /// A parameter without `=` has the empty value. Only the first parameter named `name` counts.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded_name = percent::decode(raw_name.as_bytes(), true)?;
            if *decoded_name != *name.as_bytes() {
                return None;
            }
            Some(
                percent::decode(raw_value.as_bytes(), true)
                    .and_then(|value| String::from_utf8(value.into_owned()).ok()),
            )
        })?
    }
}

#[cfg(test)]
mod tests;
