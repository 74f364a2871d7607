//! The limits of the HTTP/1.1 request parser, owned by the layer that enforces them (design rule 6).
//!
//! [`crate::server::config::Config`] composes these with the other layers' limits; the parser only ever sees
//! this struct, so the `http` layer never reaches up into `server` for its settings.

/// Limits of the HTTP/1.1 request parser (RFC 9112, RFC 6585).
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Longest request line (method, target, version) in bytes; longer answers 414.
    pub max_request_line_bytes: usize,
    /// Largest header block (request line included) in bytes; larger answers 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more answers 431.
    pub max_headers: usize,
    /// Largest request body in bytes (after chunked decoding); larger answers 413.
    pub max_body_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_request_line_bytes: 8 * 1024,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024 * 1024,
        }
    }
}
