//! Errors a client can cause, each carrying the status that goes on the wire (design rule 5).

use std::fmt;

/// A request the server refuses, with the HTTP status to answer and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// The status code to answer with (400, 408, 413, 414, 431, 501, ...).
    pub status: u16,
    /// Which rule was broken, in words for the log and the response body.
    pub reason: &'static str,
}

impl HttpError {
    /// An error answering `status` because of `reason`.
    pub const fn new(status: u16, reason: &'static str) -> Self {
        HttpError { status, reason }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            crate::http::response::reason_phrase(self.status),
            self.reason
        )
    }
}

impl std::error::Error for HttpError {}
