//! Writing responses: status line, headers, body (RFC 9112 §4, §6).

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
        let _ = status;
        todo!()
    }
    /// Adds a header field.
    pub fn header(self, name: &str, value: &str) -> Self {
        let _ = (name, value);
        todo!()
    }
    /// Sets the body and its `Content-Type`.
    pub fn body(self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let _ = (content_type, body.into());
        todo!()
    }
    /// Marks the response as a chunked stream: the head is written now, chunks later.
    pub fn chunked(self, content_type: &str) -> Self {
        let _ = content_type;
        todo!()
    }
    /// A plain-text error response for `status` explaining `reason`.
    pub fn error(status: u16, reason: &str) -> Self {
        let _ = (status, reason);
        todo!()
    }
    /// Writes the response into `out`. `now_unix_secs` gives the `Date` header; `head_only` (for HEAD)
    /// writes the head with the body's length but not the body; `keep_alive: false` adds
    /// `Connection: close`.
    pub fn write(&self, out: &mut Vec<u8>, now_unix_secs: u64, head_only: bool, keep_alive: bool) {
        let _ = (out, now_unix_secs, head_only, keep_alive);
        todo!()
    }
}

/// The reason phrase of a status code (RFC 9110 §15).
pub fn reason_phrase(status: u16) -> &'static str {
    let _ = status;
    todo!()
}

/// Formats a Unix time as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
pub fn http_date(unix_secs: u64) -> String {
    let _ = unix_secs;
    todo!()
}
