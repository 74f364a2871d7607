//! A Server-Sent Events client: the event-stream parser a browser's `EventSource` runs, and a blocking
//! client that reconnects the way a browser does, with `Last-Event-ID`.
//!
//! # The parsing rules (WHATWG HTML, "Server-sent events", §9.2.5 "Parsing an event stream" and §9.2.6 "Interpreting an event stream")
//!
//! - The stream is UTF-8; one leading byte order mark (U+FEFF) is dropped, only at the very start.
//! - Lines end with CRLF, a lone LF or a lone CR. A CRLF may arrive split over two reads: a CR at
//!   the end of one read and the LF at the start of the next are one line end, not two.
//! - A blank line dispatches the event being built.
//! - A line starting with `:` is a comment and is ignored. Many servers send comments as heartbeats;
//!   a page never sees them. pushlab's heartbeat is an event of its own type instead,
//!   `event: heartbeat` with an empty `data:` line, which a page can listen for (why, in
//!   [`crate::transport::sse`]); [`SseEvent::is_heartbeat`] tells it from a message here.
//! - Otherwise the field name is everything up to the first `:`, the value everything after it with
//!   one leading space removed if there is one. A line without `:` is a field with an empty value.
//! - `event` sets the event type; `data` appends the value and a LF to the data buffer; `id` sets the
//!   last event id, unless the value contains NUL (then the field is ignored), and an empty `id` clears
//!   it; `retry` sets the reconnection time if the value is only ASCII digits; any other field is ignored.
//! - Dispatch: the last event id is remembered (even if nothing is dispatched); if the data buffer is
//!   empty nothing is dispatched; otherwise one trailing LF is dropped from the data and an event of the
//!   given type (`message` if none) is fired. Data and type are then reset; the last event id is not.
//! - At the end of the stream an event not yet ended by a blank line is discarded.
//!
//! [`SseParser`] is sans-IO: feed it bytes in any pieces, get events.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::http::{self, ResponseStream};
use super::invalid_data;
use crate::transport::sse::HEARTBEAT_EVENT;

/// Most bytes an event (its unfinished line plus its data so far) may hold before the parser refuses
/// the stream: a server cannot make the client buffer without bound.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type: the last `event` field's value, or `message`.
    pub event_type: String,
    /// The `data` lines joined with LF.
    pub data: String,
    /// The last event id at dispatch (possibly set by an earlier event; empty if none or cleared).
    pub last_event_id: String,
}

impl SseEvent {
    /// Whether this is the server's heartbeat (`event: heartbeat`): a sign of life, not a message.
    pub fn is_heartbeat(&self) -> bool {
        self.event_type == HEARTBEAT_EVENT
    }
}

/// A stream the parser refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SseError {
    /// An event grew past the parser's `max_event_bytes`.
    EventTooLarge,
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::EventTooLarge => {
                f.write_str("event stream: an event is larger than the client accepts")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// The event-stream parser (see the module docs for its rules).
#[derive(Clone, Debug)]
pub struct SseParser {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// Whether the previous byte was a CR (so a LF now is the second half of a CRLF).
    after_cr: bool,
    /// Whether the start of the stream was checked for a BOM.
    bom_checked: bool,
    /// The data buffer: each `data` value followed by LF.
    data: String,
    /// The event type buffer.
    event_type: String,
    /// The last event id buffer, kept across events.
    id_buffer: String,
    /// The last event id as of the last dispatch (what a reconnect sends).
    last_event_id: String,
    /// The reconnection time from the last valid `retry` field, in milliseconds.
    reconnection_time_ms: Option<u64>,
    /// Comment lines seen.
    comments: u64,
    max_event_bytes: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser refusing events larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> SseParser {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            bom_checked: false,
            data: String::new(),
            event_type: String::new(),
            id_buffer: String::new(),
            last_event_id: String::new(),
            reconnection_time_ms: None,
            comments: 0,
            max_event_bytes,
        }
    }

    /// Parses `bytes` (any piece of the stream) and appends the events they complete to `events`.
    pub fn feed(&mut self, bytes: &[u8], events: &mut Vec<SseEvent>) -> Result<(), SseError> {
        for &byte in bytes {
            // A LF right after a CR completes a CRLF line end, even across two reads.
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            match byte {
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(events);
                }
                b'\n' => self.end_line(events),
                _ => {
                    self.line.push(byte);
                    if !self.bom_checked && self.line.len() >= BOM.len() {
                        self.strip_bom();
                    }
                    if self.line.len() + self.data.len() > self.max_event_bytes {
                        return Err(SseError::EventTooLarge);
                    }
                }
            }
        }
        Ok(())
    }

    /// The stream ended: an unfinished line and an event not ended by a blank line are discarded.
    pub fn finish(&mut self) {
        self.line.clear();
        self.data.clear();
        self.event_type.clear();
        self.after_cr = false;
    }

    /// The last event id as of the last dispatch: what a reconnect sends as `Last-Event-ID` (nothing if
    /// empty).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the server asked for with `retry`, in milliseconds.
    pub fn reconnection_time_ms(&self) -> Option<u64> {
        self.reconnection_time_ms
    }

    /// How many comment lines were seen (another server's heartbeats; pushlab sends events instead).
    pub fn comments_seen(&self) -> u64 {
        self.comments
    }

    /// Drops one BOM at the very start of the stream; called once the first line has three bytes or
    /// ends.
    fn strip_bom(&mut self) {
        self.bom_checked = true;
        if self.line.starts_with(BOM) {
            self.line.drain(..BOM.len());
        }
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>) {
        if !self.bom_checked {
            self.strip_bom();
        }
        let line = std::mem::take(&mut self.line);
        // Decoding whole lines is the same as decoding the stream: CR and LF never occur inside a
        // UTF-8 sequence. Invalid bytes become U+FFFD, as the spec's UTF-8 decode says.
        let line = String::from_utf8_lossy(&line);
        if line.is_empty() {
            self.dispatch(events);
        } else if line.starts_with(':') {
            self.comments += 1;
        } else {
            let (name, value) = match line.split_once(':') {
                Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
                None => (line.as_ref(), ""),
            };
            self.field(name, value);
        }
    }

    fn field(&mut self, name: &str, value: &str) {
        match name {
            "event" => self.event_type = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            // An id with NUL is ignored; an empty one clears the buffer.
            "id" if !value.contains('\0') => self.id_buffer = value.to_string(),
            // Only ASCII digits; a value too large for u64 is ignored too.
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse() {
                    self.reconnection_time_ms = Some(ms);
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        self.last_event_id = self.id_buffer.clone();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        let event_type = match std::mem::take(&mut self.event_type) {
            name if name.is_empty() => "message".to_string(),
            name => name,
        };
        events.push(SseEvent {
            event_type,
            data,
            last_event_id: self.last_event_id.clone(),
        });
    }
}

/// A connected `GET /sse/{topic}` (or any event stream).
#[derive(Debug)]
pub struct SseClient {
    response: ResponseStream,
    parser: SseParser,
    queue: VecDeque<SseEvent>,
}

impl SseClient {
    /// Opens the event stream at `path`, sending `Last-Event-ID` when given (non-empty), as a browser
    /// does on reconnect. Checks the status and `Content-Type`.
    pub fn connect(
        addr: SocketAddr,
        path: &str,
        last_event_id: Option<&str>,
        timeout: Duration,
    ) -> io::Result<SseClient> {
        let mut headers = vec![
            ("Accept", "text/event-stream"),
            ("Cache-Control", "no-cache"),
        ];
        if let Some(id) = last_event_id.filter(|id| !id.is_empty()) {
            headers.push(("Last-Event-ID", id));
        }
        let response = http::open_stream(addr, path, &headers, timeout)?;
        if response.head.status != 200 {
            return Err(io::Error::other(format!("HTTP {}", response.head.status)));
        }
        if !response
            .head
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
        {
            return Err(invalid_data("not a text/event-stream response"));
        }
        Ok(SseClient {
            response,
            parser: SseParser::default(),
            queue: VecDeque::new(),
        })
    }

    /// The response, e.g. to read its head or shut its socket.
    pub fn response(&self) -> &ResponseStream {
        &self.response
    }

    /// The parser's state: last event id, reconnection time, comments seen.
    pub fn parser(&self) -> &SseParser {
        &self.parser
    }

    /// The next event, blocking until it arrives; `None` when the stream ended (a pending event is
    /// discarded, as the rules say).
    pub fn next_event(&mut self) -> io::Result<Option<SseEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            let Some(bytes) = self.response.next_chunk()? else {
                self.parser.finish();
                return Ok(None);
            };
            let mut events = Vec::new();
            self.parser
                .feed(&bytes, &mut events)
                .map_err(invalid_data)?;
            self.queue.extend(events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> (Vec<SseEvent>, SseParser) {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        parser.feed(bytes, &mut events).unwrap();
        parser.finish();
        (events, parser)
    }

    #[test]
    fn a_message_with_id() {
        let (events, parser) = parse(b"id: 7\ndata: hi\n\n");
        assert_eq!(
            events,
            vec![SseEvent {
                event_type: "message".into(),
                data: "hi".into(),
                last_event_id: "7".into()
            }]
        );
        assert_eq!(parser.last_event_id(), "7");
    }

    #[test]
    fn pushlab_heartbeat_is_an_empty_event_that_keeps_the_last_id() {
        let (events, parser) = parse(b"id: 7\ndata: hi\n\nevent: heartbeat\ndata:\n\n");
        assert_eq!(events.len(), 2);
        assert!(!events[0].is_heartbeat());
        assert_eq!(
            events[1],
            SseEvent {
                event_type: "heartbeat".into(),
                data: String::new(),
                last_event_id: "7".into()
            }
        );
        assert!(events[1].is_heartbeat());
        assert_eq!(
            parser.last_event_id(),
            "7",
            "a heartbeat moves no resume point"
        );
        assert_eq!(parser.comments_seen(), 0);
        // Without its `data:` line the same event would never be dispatched.
        let (events, _) = parse(b"event: heartbeat\n\n");
        assert!(events.is_empty());
    }

    #[test]
    fn event_too_large() {
        let mut parser = SseParser::new(8);
        let mut events = Vec::new();
        assert_eq!(
            parser.feed(b"data: 0123456789\n", &mut events),
            Err(SseError::EventTooLarge)
        );
    }
}
