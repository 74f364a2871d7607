//! The seven doors to the hub. Each module says how a message is framed on the wire and when the
//! response ends; read them one after another (design §1).

pub mod iframe;
pub mod json;
pub mod jsonp;
pub mod long_poll;
pub mod short_poll;
pub mod sse;
pub mod websocket;
pub mod xhr_stream;

use crate::hub::Message;

/// How a held-open streaming response (XHR stream, iframe, SSE) frames what it sends. The event loop
/// sends the response with `Transfer-Encoding: chunked` and wraps each piece in one chunk.
pub trait StreamFormat {
    /// The response's `Content-Type`.
    fn content_type(&self) -> &'static str;
    /// Extra response headers (e.g. `Cache-Control`, `X-Accel-Buffering`).
    fn headers(&self) -> Vec<(&'static str, String)>;
    /// Bytes sent before the first message (padding, `retry:`...), possibly none.
    fn prelude(&self, out: &mut Vec<u8>);
    /// One message.
    fn message(&self, message: &Message, out: &mut Vec<u8>);
    /// Tells the client it missed messages; it continues after `last`.
    fn reset(&self, last: u64, out: &mut Vec<u8>);
    /// Something harmless that keeps intermediaries and dead-peer detection going.
    fn heartbeat(&self, out: &mut Vec<u8>);
}
