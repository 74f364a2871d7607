//! Incremental request parsing (RFC 9112 §2–§7).

use crate::http::HttpError;
use crate::server::config::HttpLimits;

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

/// Parses one request from the start of `buf`.
pub fn parse_request(buf: &[u8], limits: &HttpLimits) -> Result<ParseStatus, HttpError> {
    let _ = (buf, limits);
    todo!()
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        let _ = name;
        todo!()
    }
    /// The first value of header `name` as UTF-8 text, if it is.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        let _ = name;
        todo!()
    }
    /// Whether header `name` holds `token` in its comma-separated list (case-insensitive).
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        let _ = (name, token);
        todo!()
    }
    /// Whether the connection stays open after the response (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        todo!()
    }
    /// The percent-decoded value of query parameter `name`, if present and valid UTF-8.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let _ = name;
        todo!()
    }
}
