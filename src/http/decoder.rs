//! The request decoder: one per connection, fed after every read (RFC 9112 §6, §7.1; RFC 9110 §10.1.1).
//!
//! # Theory of operation
//!
//! Bytes arrive when the network delivers them, not when a request is whole. A read may end in the
//! middle of a header line, of a chunk-size line, of a chunk's data, or between the CR and the LF of a
//! line ending. So a parser has three answers, not two (design rule 2):
//!
//! - [`Decoded::Incomplete`]: what has arrived is a valid beginning, *and nothing more*. This is not an
//!   error; read more and call again. Nothing is consumed: the bytes stay in the caller's buffer.
//! - [`Decoded::Complete`]: one whole request, and how many bytes of the buffer it took. Anything after
//!   them is the next request, sent before this one was answered (pipelining, RFC 9112 §9.3.2).
//! - an [`HttpError`]: the bytes so far can no longer become a valid request, whatever follows. Answer
//!   the error's status and close the connection.
//!
//! The caller keeps the input in its buffer and calls [`RequestDecoder::decode`] after each read with
//! all of its unread bytes: those of the previous call plus the new ones at the end. The decoder keeps
//! what it learnt in between, in `State`:
//!
//! ```text
//!             head complete, checks passed            body complete
//!   Head ─────────────────────────────────► Body ─────────────────────► (Complete; back to Head)
//!    │  re-reads the head window on each      Content-Length: waits for N bytes, looks at none
//!    │  read (httparse is not resumable;      chunked: a ChunkedDecoder resumes at the byte where
//!    │  the window is bounded by              it stopped (RFC 9112 §7.1)
//!    │  max_header_bytes)
//!    └─ any rule broken ─► Err (the decoder starts afresh; the connection is answered and closed)
//! ```
//!
//! Once the head is complete it is parsed and checked once and never looked at again; the body is then
//! decoded where it stopped, so a body that trickles in costs time proportional to its length. Starting
//! again from the first byte on every read, as a stateless parser does, costs time proportional to the
//! square of the length for a chunked body sent in small pieces.
//!
//! # `Expect: 100-continue` (RFC 9110 §10.1.1)
//!
//! A client about to send a large body may ask first: it sends the head with `Expect: 100-continue`
//! and waits (curl waits one second) for an interim `100 Continue`, or for a final answer that makes
//! sending the body pointless (a 413, say). The decoder says when to send the 100:
//! [`Decoded::Incomplete`]`{ send_continue: true }`, exactly once per request, when
//!
//! - the head is complete and passed every check (so a request refused with 413 gets its 413, not a
//!   100 first);
//! - the request is HTTP/1.1 ("A server that receives a 100-continue expectation in an HTTP/1.0
//!   request MUST ignore that expectation");
//! - it has a body (a `Content-Length` above zero, or chunked);
//! - no byte of the body has arrived yet (a server "MAY omit sending a 100 (Continue) response if it
//!   has already received some or all of the message content").
//!
//! `100-continue` is the only expectation HTTP defines. A server that receives any other "MAY respond
//! with a 417 (Expectation Failed)": pushlab does, since it cannot meet an expectation it does not know.

use crate::http::chunked::{ChunkedDecoder, ChunkedStatus};
use crate::http::framing::{body_framing, is_named, list_elements, BodyFraming};
use crate::http::request::{check_host, parse_head, Head};
use crate::http::HttpLimits;
use crate::http::{HttpError, Request};

/// What the decoder made of the bytes so far (design rule 2: "need more" is not "invalid").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Not a whole request yet; nothing consumed. Call again when more bytes have arrived.
    Incomplete {
        /// Write `100 Continue` now: the client waits for it before sending the body (RFC 9110
        /// §10.1.1). True at most once per request; see the module docs for when.
        send_continue: bool,
    },
    /// One whole request, which took the first `consumed` bytes of the buffer.
    Complete {
        /// The request, its body decoded.
        request: Request,
        /// Bytes of the buffer it used. Consume them, then call again: the rest may already hold the
        /// next (pipelined) request.
        consumed: usize,
    },
}

/// Decodes the requests of one connection, one after another, across reads.
///
/// ```
/// use pushlab::http::{Decoded, RequestDecoder};
/// use pushlab::server::config::HttpLimits;
///
/// let limits = HttpLimits::default();
/// let mut decoder = RequestDecoder::new();
/// let mut buffer = b"POST /publish/chat HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc".to_vec();
/// assert_eq!(decoder.decode(&buffer, &limits), Ok(Decoded::Incomplete { send_continue: false }));
/// buffer.extend_from_slice(b"\r\n0\r\n\r\n"); // the next read, appended
/// match decoder.decode(&buffer, &limits) {
///     Ok(Decoded::Complete { request, consumed }) => {
///         assert_eq!(request.body, b"abc");
///         assert_eq!(consumed, buffer.len());
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Default)]
pub struct RequestDecoder {
    /// Where the current request stands.
    state: State,
    /// Length of the input at the previous call for this request: the input may only grow.
    seen_bytes: usize,
    /// Input bytes looked at over the decoder's life (for the linearity test).
    examined_bytes: usize,
}

/// The decoder's state: one enum, every transition in [`RequestDecoder::decode`] (design rule 9).
#[derive(Debug, Default)]
enum State {
    /// Waiting for a complete head.
    #[default]
    Head,
    /// The head is parsed and checked; reading the body.
    Body {
        /// The request's head.
        head: Head,
        /// How the body is delimited, and how far it has been decoded.
        body: BodyDecoder,
    },
}

/// The body of one request, as its framing says (RFC 9112 §6.3).
#[derive(Debug)]
enum BodyDecoder {
    /// `Content-Length` (or no body: length zero): the body is the next `length` bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked(ChunkedDecoder),
}

impl RequestDecoder {
    /// A decoder waiting for the first byte of a request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Looks at the connection's unread input: the bytes given last time plus any new ones at the end.
    ///
    /// Nothing is consumed until a request is complete: the caller removes `consumed` bytes from the
    /// front of its buffer only on [`Decoded::Complete`], and then calls again for a pipelined request.
    /// Bytes already decoded are not examined again: the head is parsed once it is complete, and the
    /// body resumes where it stopped. `limits` must be the same on every call.
    ///
    /// After an error the decoder starts afresh; the connection should be answered and closed. Input
    /// shorter than at the previous call breaks this contract (bytes were consumed in the middle of a
    /// request) and gives a 500 error, never a panic.
    pub fn decode(&mut self, unread: &[u8], limits: &HttpLimits) -> Result<Decoded, HttpError> {
        let result = self.step(unread, limits);
        match &result {
            Ok(Decoded::Incomplete { .. }) => self.seen_bytes = unread.len(),
            // A request is done, or can never be: the next call starts a new request.
            Ok(Decoded::Complete { .. }) | Err(_) => {
                self.state = State::Head;
                self.seen_bytes = 0;
            }
        }
        result
    }

    /// How many input bytes this decoder has looked at since it was made, over all its requests: a
    /// head window for each read before the head is complete, then each body byte once. Exposed so that
    /// a test can prove the body decoding linear in its length.
    #[doc(hidden)]
    pub fn examined_bytes(&self) -> usize {
        let chunked = match &self.state {
            State::Body {
                body: BodyDecoder::Chunked(chunked),
                ..
            } => chunked.examined_bytes(),
            _ => 0,
        };
        self.examined_bytes + chunked
    }

    /// One call's work; `decode` then records how far the input was seen.
    fn step(&mut self, unread: &[u8], limits: &HttpLimits) -> Result<Decoded, HttpError> {
        if unread.len() < self.seen_bytes {
            return Err(HttpError::new(
                500,
                "request decoder given fewer bytes than before (input consumed mid-request)",
            ));
        }
        if let State::Head = self.state {
            if unread.len() == self.seen_bytes && self.seen_bytes > 0 {
                // Nothing new since the head was found incomplete: the answer is the same.
                return Ok(Decoded::Incomplete {
                    send_continue: false,
                });
            }
            self.examined_bytes += unread.len().min(limits.max_header_bytes);
            let Some(head) = parse_head(unread, limits)? else {
                return Ok(Decoded::Incomplete {
                    send_continue: false,
                });
            };
            check_host(&head)?;
            // The framing (and a 413 for a declared length over the limit) is decided from the head
            // alone, before any body byte is read.
            let body = match body_framing(head.version, &head.headers, limits.max_body_bytes)? {
                BodyFraming::Empty => BodyDecoder::Length(0),
                BodyFraming::Length(length) => BodyDecoder::Length(length),
                BodyFraming::Chunked => BodyDecoder::Chunked(ChunkedDecoder::new()),
            };
            let asks_continue = check_expectation(&head)?;
            let has_body = !matches!(body, BodyDecoder::Length(0));
            let body_started = unread.len() > head.head_bytes;
            let send_continue = asks_continue && head.version >= 1 && has_body && !body_started;
            self.state = State::Body { head, body };
            if send_continue {
                return Ok(Decoded::Incomplete {
                    send_continue: true,
                });
            }
        }
        self.body_step(unread, limits)
    }

    /// Decodes the body from where it stopped; on completion, builds the request.
    fn body_step(&mut self, unread: &[u8], limits: &HttpLimits) -> Result<Decoded, HttpError> {
        let State::Body { head, body } = &mut self.state else {
            return Ok(Decoded::Incomplete {
                send_continue: false,
            });
        };
        let after_head = unread.get(head.head_bytes..).unwrap_or_default();
        let (body, body_bytes) = match body {
            BodyDecoder::Length(length) => match after_head.get(..*length) {
                // The body is copied once, when it is all here; until then no body byte is read.
                Some(body) => {
                    self.examined_bytes += body.len();
                    (body.to_vec(), *length)
                }
                None => {
                    return Ok(Decoded::Incomplete {
                        send_continue: false,
                    })
                }
            },
            BodyDecoder::Chunked(chunked) => {
                let status = chunked.decode(after_head, limits.max_body_bytes);
                match status? {
                    ChunkedStatus::Incomplete => {
                        return Ok(Decoded::Incomplete {
                            send_continue: false,
                        })
                    }
                    ChunkedStatus::Complete { body, consumed } => {
                        self.examined_bytes += chunked.examined_bytes();
                        (body, consumed)
                    }
                }
            }
        };
        // The head is moved out; `decode` puts the decoder back in `State::Head`.
        let head = std::mem::take(head);
        let consumed = head.head_bytes + body_bytes;
        let request = Request {
            method: head.method,
            path: head.path,
            query: head.query,
            version: head.version,
            headers: head.headers,
            body,
        };
        Ok(Decoded::Complete { request, consumed })
    }
}

/// Whether the head asks for `100 Continue`; 417 for an expectation other than `100-continue`.
///
/// RFC 9110 §10.1.1: `Expect = #expectation`, and "The only expectation defined by this specification
/// is '100-continue' (with no defined parameters)", compared case-insensitively. "A server that
/// receives an Expect field value containing a member other than 100-continue MAY respond with a 417
/// (Expectation Failed) status code to indicate that the unexpected expectation cannot be met."
fn check_expectation(head: &Head) -> Result<bool, HttpError> {
    let mut asks_continue = false;
    for header in head.headers.iter().filter(|h| is_named(h, "expect")) {
        for element in list_elements(&header.value) {
            if !element.eq_ignore_ascii_case(b"100-continue") {
                return Err(HttpError::new(
                    417,
                    "unknown expectation: only 100-continue is defined (RFC 9110 §10.1.1)",
                ));
            }
            asks_continue = true;
        }
    }
    Ok(asks_continue)
}
