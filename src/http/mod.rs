//! HTTP/1.1, written here on top of `httparse` (RFC 9110 semantics, RFC 9112 message syntax).
//!
//! Everything in this module is sans-IO: bytes in, values out, bytes written into a `Vec<u8>`.
//! The event loop in [`crate::server`] is the only code that touches a socket.
//!
//! Reading order for one request:
//!
//! 1. [`decoder`]: the [`RequestDecoder`] a connection feeds after every read; it says "incomplete"
//!    (not an error: read more), "complete" or refuses, decodes each byte once, and says when to
//!    answer `Expect: 100-continue`;
//! 2. [`request`]: the request line and header fields, with every limit (414, 431) and rule (400, 505);
//! 3. `framing` (private): where the body ends, `Content-Length` or `Transfer-Encoding` (RFC 9112 §6),
//!    the rules that stop request smuggling;
//! 4. [`chunked`]: the chunked coding (RFC 9112 §7.1), decoded across reads for requests and encoded for
//!    streaming responses;
//! 5. [`response`]: the status line, headers and body that go back;
//! 6. [`static_files`]: the pages under `static/`, embedded at build time;
//! 7. [`error`]: every refusal carries the status that goes on the wire;
//! 8. [`limits`]: every size the parser enforces, in one struct ([`HttpLimits`]) that this layer owns.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::cast_possible_truncation,
    )
)]

pub mod chunked;
pub mod decoder;
pub mod error;
mod framing;
pub mod limits;
pub mod percent;
pub mod request;
pub mod response;
pub mod site;
pub mod static_files;

pub use decoder::{Decoded, RequestDecoder};
pub use error::HttpError;
pub use limits::HttpLimits;
pub use request::{parse_request, ParseStatus, Request};
pub use response::Response;
