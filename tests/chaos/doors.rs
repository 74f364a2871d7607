//! The seven doors as a fake client sees them: the request that opens (or reopens) each one, and the
//! decoder that turns its body into what the client learns: messages, resets and batches.
//!
//! The decoders are the crate's own client parsers ([`NdjsonDecoder`], [`ScriptExtractor`],
//! [`SseParser`], [`parse_batch`], [`parse_jsonp`], [`WsProtocol`] in the client role); only the
//! glue is here. Each reconnect carries the client's cursor the way the browser client
//! (`static/pushlab.js`) does:
//!
//! | door | first request | reconnect |
//! |---|---|---|
//! | short poll, long poll, JSONP, XHR stream, iframe, WebSocket | `?after=N` | `?after=<cursor>` |
//! | SSE | `?after=N` | the same URL plus `Last-Event-ID: <cursor>`, as `EventSource` does (the header wins) |

use std::time::Instant;

use pushlab::client::http::{write_request, ResponseHead};
use pushlab::client::iframe::ScriptExtractor;
use pushlab::client::json::{self, JsonValue};
use pushlab::client::jsonp::parse_jsonp;
use pushlab::client::poll::{parse_batch, Batch};
use pushlab::client::sse::{SseEvent, SseParser};
use pushlab::client::stream::NdjsonDecoder;
use pushlab::client::{door_path, PushEvent};
use pushlab::ws::mask_key::FixedMaskKey;
use pushlab::ws::{Event, Role, WsConfig, WsProtocol};

/// The topic every chaos run publishes to.
pub const TOPIC: &str = "chaos";

/// The JSONP and iframe callback: a dotted path, as a page would use.
const CALLBACK: &str = "chaos.deliver";

/// The RFC 6455 §1.3 example key and the accept value it must get back.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One of the seven ways to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// `GET /poll/{topic}?after=N`, repeated on a timer.
    ShortPoll,
    /// `GET /longpoll/{topic}?after=N`, held until news.
    LongPoll,
    /// `GET /jsonp/{topic}?after=N&callback=F`, held like a long poll.
    Jsonp,
    /// `GET /stream/{topic}?after=N`: NDJSON lines in chunks.
    XhrStream,
    /// `GET /iframe/{topic}?after=N&callback=F`: one `<script>` per message.
    Iframe,
    /// `GET /sse/{topic}`: an event stream, resumed with `Last-Event-ID`.
    Sse,
    /// `GET /ws/{topic}?after=N` with `Upgrade: websocket`.
    WebSocket,
}

/// What a client learns from a door.
#[derive(Debug)]
pub enum Seen {
    /// One message.
    Message {
        /// Its id.
        id: u64,
        /// Its payload.
        data: String,
    },
    /// The server continues after `last`: messages before it are gone.
    Reset {
        /// The id the stream continues after.
        last: u64,
    },
    /// A poll-style answer.
    Batch(Batch),
}

impl Door {
    /// All seven, in the order of the design's table.
    pub const ALL: [Door; 7] = [
        Door::ShortPoll,
        Door::LongPoll,
        Door::XhrStream,
        Door::Iframe,
        Door::Jsonp,
        Door::Sse,
        Door::WebSocket,
    ];

    /// The route's name, as in the URL.
    pub fn route(self) -> &'static str {
        match self {
            Door::ShortPoll => "poll",
            Door::LongPoll => "longpoll",
            Door::Jsonp => "jsonp",
            Door::XhrStream => "stream",
            Door::Iframe => "iframe",
            Door::Sse => "sse",
            Door::WebSocket => "ws",
        }
    }

    /// The request that opens the door for a client whose first request said `after=first_after`
    /// and whose cursor is now `cursor`.
    pub fn request(self, first_after: u64, cursor: u64) -> Vec<u8> {
        let callback = [("callback", CALLBACK)];
        let extra: &[(&str, &str)] = match self {
            Door::Jsonp | Door::Iframe => &callback,
            _ => &[],
        };
        let cursor_string = cursor.to_string();
        let (path, headers) = match self {
            // EventSource reopens its original URL and says where it stands in a header, once it has
            // seen an id: the header must win over the URL's stale `after`.
            Door::Sse => {
                let mut headers = vec![("Accept", "text/event-stream")];
                if cursor != first_after {
                    headers.push(("Last-Event-ID", cursor_string.as_str()));
                }
                (door_path("sse", TOPIC, Some(first_after), &[]), headers)
            }
            Door::WebSocket => (
                door_path("ws", TOPIC, Some(cursor), &[]),
                vec![
                    ("Upgrade", "websocket"),
                    ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Version", "13"),
                    ("Sec-WebSocket-Key", WS_KEY),
                ],
            ),
            _ => (door_path(self.route(), TOPIC, Some(cursor), extra), vec![]),
        };
        let mut request = Vec::new();
        write_request(&mut request, "GET", &path, "127.0.0.1:8080", &headers, b"")
            .expect("a request without CR or LF");
        request
    }

    /// The status and `Content-Type` this door answers with when it opens.
    fn expected_head(self) -> (u16, &'static str) {
        match self {
            Door::ShortPoll | Door::LongPoll => (200, "application/json"),
            Door::Jsonp => (200, "text/javascript"),
            Door::XhrStream => (200, "application/x-ndjson"),
            Door::Iframe => (200, "text/html"),
            Door::Sse => (200, "text/event-stream"),
            Door::WebSocket => (101, ""),
        }
    }

    /// Checks a response head: `Ok(false)` for an answer a browser retries (a 503 at a budget, a 408
    /// for a request that arrived too slowly), an error for anything that is not this door.
    pub fn check_head(self, head: &ResponseHead) -> Result<bool, String> {
        let (want_status, want_type) = self.expected_head();
        let (status, content_type) = (head.status, head.header("content-type"));
        if matches!(status, 408 | 503) {
            return Ok(false);
        }
        let type_ok = content_type.unwrap_or_default().starts_with(want_type);
        if status != want_status || !type_ok {
            return Err(format!(
                "{} answered {status} {content_type:?}, expected {want_status} {want_type}",
                self.route()
            ));
        }
        Ok(true)
    }
}

/// Turns one response's body into [`Seen`] items, with the door's own parser.
pub enum BodyDecoder {
    /// Polls and JSONP: the whole body is one batch.
    Batch {
        /// Which of the three.
        door: Door,
        /// The body so far.
        body: Vec<u8>,
    },
    /// XHR stream: JSON lines.
    Ndjson(NdjsonDecoder),
    /// iframe: `<script>parent.F(...)</script>`.
    Scripts(ScriptExtractor),
    /// SSE: the WHATWG event-stream parser.
    Sse(SseParser),
}

impl BodyDecoder {
    /// A decoder for a new response of `door` (not the WebSocket, see [`WsReader`]).
    pub fn new(door: Door) -> BodyDecoder {
        match door {
            Door::XhrStream => BodyDecoder::Ndjson(NdjsonDecoder::default()),
            Door::Iframe => BodyDecoder::Scripts(ScriptExtractor::new(CALLBACK)),
            Door::Sse => BodyDecoder::Sse(SseParser::default()),
            _ => BodyDecoder::Batch {
                door,
                body: Vec::new(),
            },
        }
    }

    /// Body bytes arrived.
    pub fn body(&mut self, bytes: &[u8], seen: &mut Vec<Seen>) -> Result<(), String> {
        match self {
            BodyDecoder::Batch { body, .. } => body.extend_from_slice(bytes),
            BodyDecoder::Ndjson(decoder) => {
                let events = decoder.feed(bytes).map_err(|e| format!("NDJSON: {e}"))?;
                seen.extend(events.into_iter().filter_map(push_event));
            }
            BodyDecoder::Scripts(extractor) => {
                for argument in extractor.feed(bytes).map_err(|e| format!("iframe: {e}"))? {
                    seen.extend(json_object(&argument)?);
                }
            }
            BodyDecoder::Sse(parser) => {
                let mut events = Vec::new();
                parser
                    .feed(bytes, &mut events)
                    .map_err(|e| format!("SSE: {e}"))?;
                for event in events {
                    seen.extend(sse_event(&event)?);
                }
            }
        }
        Ok(())
    }

    /// The response is complete: a batch door reads its body now.
    pub fn end(&mut self, seen: &mut Vec<Seen>) -> Result<(), String> {
        let BodyDecoder::Batch { door, body } = self else {
            return Ok(());
        };
        let text =
            std::str::from_utf8(body).map_err(|_| "a batch that is not UTF-8".to_string())?;
        let batch = if *door == Door::Jsonp {
            parse_jsonp(text, CALLBACK)
        } else {
            parse_batch(text)
        };
        seen.push(Seen::Batch(
            batch.map_err(|e| format!("batch {text:?}: {e}"))?,
        ));
        Ok(())
    }
}

/// A message or reset among a stream's objects; heartbeats and padding teach nothing.
fn push_event(event: PushEvent) -> Option<Seen> {
    match event {
        PushEvent::Message(message) => Some(Seen::Message {
            id: message.id,
            data: message.data,
        }),
        PushEvent::Reset { last } => Some(Seen::Reset { last }),
        PushEvent::Heartbeat => None,
    }
}

/// One JSON object of a stream or a WebSocket frame.
fn json_object(text: &str) -> Result<Option<Seen>, String> {
    let value: JsonValue = json::parse(text).map_err(|e| format!("JSON {text:?}: {e}"))?;
    Ok(PushEvent::from_json(&value).and_then(push_event))
}

/// An SSE event: a message (`id:` and `data:`), `event: reset` whose data is the reset object, or
/// `event: heartbeat`, which teaches nothing.
fn sse_event(event: &SseEvent) -> Result<Option<Seen>, String> {
    if event.is_heartbeat() {
        return Ok(None);
    }
    let seen = match event.event_type.as_str() {
        "message" => {
            let id = event
                .last_event_id
                .parse()
                .map_err(|_| format!("an SSE message without a numeric id: {event:?}"))?;
            Ok(Seen::Message {
                id,
                data: event.data.clone(),
            })
        }
        "reset" => match json_object(&event.data)? {
            Some(Seen::Reset { last }) if event.last_event_id == last.to_string() => {
                Ok(Seen::Reset { last })
            }
            _ => Err(format!("an SSE reset whose data or id is wrong: {event:?}")),
        },
        other => Err(format!("an SSE event of unknown type {other:?}")),
    };
    seen.map(Some)
}

/// The client end of a topic WebSocket: the crate's [`WsProtocol`] in the client role, fed with the
/// bytes after the `101`.
pub struct WsReader {
    protocol: WsProtocol,
    input: Vec<u8>,
    /// The peer's close frame arrived.
    pub closed_by_server: bool,
}

impl WsReader {
    /// Checks the handshake's accept value, then reads frames.
    pub fn new(accept: Option<&str>, now: Instant) -> Result<WsReader, String> {
        if accept != Some(WS_ACCEPT) {
            return Err(format!(
                "Sec-WebSocket-Accept {accept:?}, expected {WS_ACCEPT}"
            ));
        }
        let mut protocol = WsProtocol::new(Role::Client, &WsConfig::default(), now);
        protocol.set_mask_key_source(Box::new(FixedMaskKey([0x37, 0xfa, 0x21, 0x3d])));
        Ok(WsReader {
            protocol,
            input: Vec::new(),
            closed_by_server: false,
        })
    }

    /// Frames arrived. What the protocol must answer (pongs, the closing handshake) goes to `out`.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        now: Instant,
        out: &mut Vec<u8>,
        seen: &mut Vec<Seen>,
    ) -> Result<(), String> {
        self.input.extend_from_slice(bytes);
        // Each call consumes at least a frame header or yields an event, so the input bounds the loop.
        for _ in 0..=self.input.len() {
            let outcome = self
                .protocol
                .read(&self.input, out, now)
                .map_err(|e| format!("WebSocket: {e}"))?;
            self.input.drain(..outcome.consumed);
            match outcome.event {
                Some(Event::Text(text)) => seen.extend(json_object(&text)?),
                Some(Event::Close { .. }) => self.closed_by_server = true,
                Some(Event::Binary(_)) => return Err("a binary frame on a topic socket".into()),
                Some(_) => {}
                None if outcome.consumed == 0 => return Ok(()),
                None => {}
            }
        }
        Ok(())
    }

    /// A close frame from the client (the page closing the socket).
    pub fn close(&mut self, out: &mut Vec<u8>, now: Instant) {
        self.protocol.close(1000, "bye", out, now);
    }
}
