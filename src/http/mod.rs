//! HTTP/1.1, written here on top of `httparse` (RFC 9110 semantics, RFC 9112 message syntax).
//!
//! Everything in this module is sans-IO: bytes in, values out, bytes written into a `Vec<u8>`.
//! The event loop in [`crate::server`] is the only code that touches a socket.

pub mod chunked;
pub mod error;
pub mod request;
pub mod response;
pub mod static_files;

pub use error::HttpError;
pub use request::{parse_request, ParseStatus, Request};
pub use response::Response;
