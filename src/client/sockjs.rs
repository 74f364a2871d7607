//! A SockJS client, enough to read the transports the comparison lab measures on the `sockjs` peer.
//!
//! SockJS is not a push technique of its own but a session protocol that runs over several of them:
//! a client opens a session at `/{prefix}/{server}/{session}/{transport}` and, whatever the
//! transport, receives the same *frames* (the SockJS protocol's "framing" section):
//!
//! | frame | meaning |
//! |---|---|
//! | `o` | the session is open |
//! | `h` | heartbeat (every 25 s by default) |
//! | `a["..", ".."]` | messages: a JSON array of strings |
//! | `c[code, "reason"]` | the session is closed |
//!
//! Each transport carries frames its own way, and each is the SockJS twin of one pushlab door:
//!
//! | transport | request | a frame on the wire | pushlab door |
//! |---|---|---|---|
//! | `xhr` (xhr-polling) | `POST S/xhr`, asked again after each answer | the whole body, newline-ended | long poll |
//! | `xhr_streaming` | `POST S/xhr_streaming`, once | after 2,048 bytes of `h` prelude, one frame a line | XHR stream |
//! | `eventsource` | `GET S/eventsource` | one frame in each event's `data:` | SSE |
//! | `htmlfile` | `GET S/htmlfile?c=F` | `<script>\np("frame");\n</script>` after a prelude | iframe |
//! | `jsonp` (jsonp-polling) | `GET S/jsonp?c=F`, asked again | `/**/F("frame");` | JSONP |
//! | raw WebSocket | `GET /{prefix}/websocket` with Upgrade | one text frame a message, no SockJS framing | WebSocket |
//!
//! The streaming transports end a response once it has carried a set number of bytes (128 KiB by
//! default), so that a browser's `responseText` cannot grow without bound; the client then opens the
//! same session again and carries on. The session remembers what it has sent, so nothing is lost or
//! repeated across that reconnect. This client does the same, and counts each request it sends.
//!
//! The lab's peer carries pushlab's JSON object `{"id":N,"data":".."}` as each SockJS message, so
//! [`SockjsClient::next_messages`] returns [`ReceivedMessage`]s like every other client. The frame
//! reading ([`frame_messages`], [`LineFrames`], [`ScriptFrames`]) is sans-IO and tested with bytes.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::http::{self, HttpConnection, ResponseStream};
use super::sse::SseClient;
use super::{invalid_data, json, ws, PushEvent, ReceivedMessage};

/// The callback name the `htmlfile` and `jsonp` transports are asked to call.
pub const CALLBACK: &str = "onFrame";

/// The longest stretch of a held response kept while waiting for the end of a frame: a frame is one
/// message array, so anything longer is a broken stream, not a slow one.
pub const MAX_PARTIAL_FRAME_BYTES: usize = 1 << 20;

/// A SockJS transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `xhr`: one frame per response, the request held until there is one.
    XhrPolling,
    /// `xhr_streaming`: a chunked response, one frame a line.
    XhrStreaming,
    /// `eventsource`: Server-Sent Events, one frame an event.
    EventSource,
    /// `htmlfile`: a forever frame, one `<script>` a frame.
    Htmlfile,
    /// `jsonp`: one frame per response, wrapped in a callback.
    JsonpPolling,
    /// The raw WebSocket endpoint: one text frame a message.
    WebSocket,
}

impl Transport {
    /// The name SockJS's own client gives it.
    pub fn name(self) -> &'static str {
        match self {
            Transport::XhrPolling => "xhr-polling",
            Transport::XhrStreaming => "xhr-streaming",
            Transport::EventSource => "eventsource",
            Transport::Htmlfile => "htmlfile",
            Transport::JsonpPolling => "jsonp-polling",
            Transport::WebSocket => "websocket",
        }
    }

    /// The last segment of the session path.
    fn path_segment(self) -> &'static str {
        match self {
            Transport::XhrPolling => "xhr",
            Transport::XhrStreaming => "xhr_streaming",
            Transport::EventSource => "eventsource",
            Transport::Htmlfile => "htmlfile",
            Transport::JsonpPolling => "jsonp",
            Transport::WebSocket => "websocket",
        }
    }
}

/// The messages in one frame: `a[...]` holds JSON strings, each pushlab's message object; `o`, `h`
/// and the `h…h` prelude of `xhr_streaming` hold none; `c[...]` ends the session and is an error.
pub fn frame_messages(frame: &str) -> io::Result<Vec<ReceivedMessage>> {
    let frame = frame.trim_end();
    if let Some(array) = frame.strip_prefix('a') {
        let value = json::parse(array).map_err(invalid_data)?;
        let strings = value
            .as_array()
            .ok_or_else(|| invalid_data("an a-frame that is not an array"))?;
        let mut messages = Vec::with_capacity(strings.len());
        for string in strings {
            let text = string
                .as_str()
                .ok_or_else(|| invalid_data("a SockJS message that is not a string"))?;
            messages.extend(message_object(text)?);
        }
        return Ok(messages);
    }
    if frame.starts_with('c') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("SockJS closed the session: {frame}"),
        ));
    }
    Ok(Vec::new())
}

/// A frame that arrives as a JavaScript string literal (a JSON string), as `htmlfile` and `jsonp`
/// wrap it.
pub fn quoted_frame_messages(literal: &str) -> io::Result<Vec<ReceivedMessage>> {
    let value = json::parse(literal).map_err(invalid_data)?;
    let frame = value
        .as_str()
        .ok_or_else(|| invalid_data("a wrapped frame that is not a string"))?;
    frame_messages(frame)
}

/// pushlab's `{"id":N,"data":".."}` from one SockJS message (or a raw WebSocket text frame).
fn message_object(text: &str) -> io::Result<Option<ReceivedMessage>> {
    let value = json::parse(text).map_err(invalid_data)?;
    Ok(match PushEvent::from_json(&value) {
        Some(PushEvent::Message(message)) => Some(message),
        _ => None,
    })
}

/// Cuts the `xhr_streaming` body into newline-ended frames, whatever the chunk boundaries (a chunk
/// may end inside a frame, even inside a UTF-8 sequence).
#[derive(Debug, Default)]
pub struct LineFrames {
    partial: Vec<u8>,
}

impl LineFrames {
    /// Adds `bytes` and returns the messages of every frame they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> io::Result<Vec<ReceivedMessage>> {
        self.partial.extend_from_slice(bytes);
        let mut messages = Vec::new();
        while let Some(newline) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=newline).collect();
            messages.extend(frame_messages(
                std::str::from_utf8(&line).map_err(invalid_data)?,
            )?);
        }
        check_partial(self.partial.len())?;
        Ok(messages)
    }
}

/// Cuts the `htmlfile` body into `<script>\np("frame");\n</script>` blocks; the prelude before the
/// first block (the page that defines `p`) holds none.
#[derive(Debug, Default)]
pub struct ScriptFrames {
    partial: Vec<u8>,
}

impl ScriptFrames {
    const OPEN: &'static [u8] = b"<script>\np(";
    const CLOSE: &'static [u8] = b");\n</script>";

    /// Adds `bytes` and returns the messages of every block they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> io::Result<Vec<ReceivedMessage>> {
        self.partial.extend_from_slice(bytes);
        let mut messages = Vec::new();
        while let Some(start) = find(&self.partial, Self::OPEN) {
            let literal_start = start + Self::OPEN.len();
            let Some(length) = self
                .partial
                .get(literal_start..)
                .and_then(|rest| find(rest, Self::CLOSE))
            else {
                break;
            };
            let block: Vec<u8> = self
                .partial
                .drain(..literal_start + length + Self::CLOSE.len())
                .collect();
            let literal = block
                .get(literal_start..literal_start + length)
                .unwrap_or_default();
            messages.extend(quoted_frame_messages(
                std::str::from_utf8(literal).map_err(invalid_data)?,
            )?);
        }
        check_partial(self.partial.len())?;
        Ok(messages)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn check_partial(bytes: usize) -> io::Result<()> {
    if bytes > MAX_PARTIAL_FRAME_BYTES {
        return Err(invalid_data(format!(
            "more than {MAX_PARTIAL_FRAME_BYTES} bytes without the end of a frame"
        )));
    }
    Ok(())
}

/// `/**/F("frame");` (the jsonp transport's body) as the frame's messages.
pub fn jsonp_body_messages(body: &str) -> io::Result<Vec<ReceivedMessage>> {
    let literal = body
        .trim_end()
        .strip_prefix(&format!("/**/{CALLBACK}("))
        .and_then(|rest| rest.strip_suffix(");"))
        .ok_or_else(|| invalid_data(format!("not a JSONP frame: {body}")))?;
    quoted_frame_messages(literal)
}

/// What is open right now.
enum Held {
    /// Nothing: a polling transport between two requests, or a stream that ended.
    Nothing,
    /// An `xhr_streaming` response.
    Lines(ResponseStream, LineFrames),
    /// An `htmlfile` response.
    Scripts(ResponseStream, ScriptFrames),
    /// An `eventsource` response.
    Events(Box<SseClient>),
    /// The raw WebSocket.
    Socket(Box<ws::Client>),
}

/// One SockJS session over one transport, read with blocking calls.
pub struct SockjsClient {
    addr: SocketAddr,
    transport: Transport,
    /// `/{prefix}/000/{session}/{segment}`, without the query.
    path: String,
    /// The query every request carries (the lab's peer reads the topic from it).
    query: String,
    timeout: Duration,
    held: Held,
    requests: u64,
}

impl SockjsClient {
    /// A session `session` under `prefix` (e.g. `/sockjs`) over `transport`; `query` (without `?`)
    /// goes on every request. A streaming transport and the WebSocket connect now; a polling transport
    /// sends its first request at the first [`SockjsClient::next_messages`]. `timeout` bounds
    /// connecting and every read.
    pub fn open(
        addr: SocketAddr,
        prefix: &str,
        session: &str,
        transport: Transport,
        query: &str,
        timeout: Duration,
    ) -> io::Result<SockjsClient> {
        let path = match transport {
            Transport::WebSocket => format!("{prefix}/websocket"),
            _ => format!("{prefix}/000/{session}/{}", transport.path_segment()),
        };
        let mut client = SockjsClient {
            addr,
            transport,
            path,
            query: query.to_string(),
            timeout,
            held: Held::Nothing,
            requests: 0,
        };
        if !matches!(transport, Transport::XhrPolling | Transport::JsonpPolling) {
            client.reopen()?;
        }
        Ok(client)
    }

    /// HTTP requests sent so far (a WebSocket handshake is one).
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Sets the timeout of the requests sent from now on (a held response keeps the one it was
    /// opened with).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    fn url(&self, with_callback: bool) -> String {
        let mut url = format!("{}?{}", self.path, self.query);
        if with_callback {
            url.push_str(&format!("&c={CALLBACK}"));
        }
        url
    }

    /// Opens the held response (or the socket) of a streaming transport, again after one ended.
    fn reopen(&mut self) -> io::Result<()> {
        self.requests += 1;
        self.held = match self.transport {
            Transport::XhrStreaming => {
                let mut connection = HttpConnection::connect(self.addr, self.timeout)?;
                connection.send_request("POST", &self.url(false), &[], b"")?;
                Held::Lines(ok_stream(connection.into_stream()?)?, LineFrames::default())
            }
            Transport::Htmlfile => {
                let response = http::open_stream(self.addr, &self.url(true), &[], self.timeout)?;
                Held::Scripts(ok_stream(response)?, ScriptFrames::default())
            }
            Transport::EventSource => Held::Events(Box::new(SseClient::connect(
                self.addr,
                &self.url(false),
                None,
                self.timeout,
            )?)),
            Transport::WebSocket => {
                let options = ws::ClientOptions {
                    read_timeout: Some(self.timeout),
                    ..ws::ClientOptions::default()
                };
                Held::Socket(Box::new(ws::Client::connect_with(
                    self.addr,
                    &self.url(false),
                    &options,
                )?))
            }
            Transport::XhrPolling | Transport::JsonpPolling => Held::Nothing,
        };
        Ok(())
    }

    /// The messages the next read brings: one poll, one chunk or event of a stream, one WebSocket
    /// frame. Often none (the open frame, a heartbeat, a prelude). A stream the server ended is opened
    /// again on the same session; a closed WebSocket is an error (it has no session to resume).
    pub fn next_messages(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        match &mut self.held {
            Held::Nothing => match self.transport {
                Transport::XhrPolling | Transport::JsonpPolling => self.poll_once(),
                _ => {
                    self.reopen()?;
                    Ok(Vec::new())
                }
            },
            Held::Lines(response, frames) => match response.next_chunk()? {
                Some(bytes) => frames.feed(&bytes),
                None => self.ended(),
            },
            Held::Scripts(response, frames) => match response.next_chunk()? {
                Some(bytes) => frames.feed(&bytes),
                None => self.ended(),
            },
            Held::Events(events) => match events.next_event()? {
                Some(event) => frame_messages(&event.data),
                None => self.ended(),
            },
            Held::Socket(socket) => match socket.recv()? {
                crate::ws::Event::Text(text) => Ok(message_object(&text)?.into_iter().collect()),
                crate::ws::Event::Close { code, .. } => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the WebSocket closed with {code:?}"),
                )),
                _ => Ok(Vec::new()),
            },
        }
    }

    /// A streaming response ended: the next read opens the session again.
    fn ended(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        self.held = Held::Nothing;
        Ok(Vec::new())
    }

    /// One request of a polling transport: held by the server until it has a frame.
    fn poll_once(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        self.requests += 1;
        let jsonp = self.transport == Transport::JsonpPolling;
        let method = if jsonp { "GET" } else { "POST" };
        let response = http::request(self.addr, method, &self.url(jsonp), &[], b"", self.timeout)?;
        if response.status != 200 {
            return Err(io::Error::other(format!("HTTP {}", response.status)));
        }
        let body = response.text()?;
        if jsonp {
            jsonp_body_messages(body)
        } else {
            frame_messages(body)
        }
    }
}

fn ok_stream(response: ResponseStream) -> io::Result<ResponseStream> {
    if response.head.status != 200 {
        return Err(io::Error::other(format!("HTTP {}", response.head.status)));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(messages: &[ReceivedMessage]) -> Vec<u64> {
        messages.iter().map(|m| m.id).collect()
    }

    #[test]
    fn frames_open_heartbeat_messages_close() {
        assert!(frame_messages("o\n").unwrap().is_empty());
        assert!(frame_messages("h").unwrap().is_empty());
        let messages =
            frame_messages(r#"a["{\"id\":1,\"data\":\"x\"}","{\"id\":2,\"data\":\"y\"}"]"#)
                .unwrap();
        assert_eq!(ids(&messages), [1, 2]);
        assert_eq!(messages[1].data, "y");
        let closed = frame_messages(r#"c[3000,"Go away!"]"#).unwrap_err();
        assert_eq!(closed.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            frame_messages("a[1]").is_err(),
            "a message must be a string"
        );
    }

    #[test]
    fn lines_survive_any_chunk_boundary() {
        let body = "hhhh\no\na[\"{\\\"id\\\":7,\\\"data\\\":\\\"é\\\"}\"]\nh\n".as_bytes();
        for split in 0..body.len() {
            let mut frames = LineFrames::default();
            let mut messages = frames.feed(&body[..split]).unwrap();
            messages.extend(frames.feed(&body[split..]).unwrap());
            assert_eq!(ids(&messages), [7], "split at {split}");
            assert_eq!(messages[0].data, "é");
        }
    }

    #[test]
    fn scripts_are_cut_out_of_the_forever_frame() {
        let body = "<!doctype html><script>var p = parent.onFrame;</script>   \
                    <script>\np(\"o\");\n</script>\r\n\
                    <script>\np(\"a[\\\"{\\\\\\\"id\\\\\\\":3,\\\\\\\"data\\\\\\\":\\\\\\\"z\\\\\\\"}\\\"]\");\n</script>\r\n";
        for split in 0..body.len() {
            let mut frames = ScriptFrames::default();
            let mut messages = frames.feed(&body.as_bytes()[..split]).unwrap();
            messages.extend(frames.feed(&body.as_bytes()[split..]).unwrap());
            assert_eq!(ids(&messages), [3], "split at {split}");
        }
    }

    #[test]
    fn jsonp_bodies_unwrap_the_callback() {
        let body = "/**/onFrame(\"a[\\\"{\\\\\\\"id\\\\\\\":4,\\\\\\\"data\\\\\\\":\\\\\\\"q\\\\\\\"}\\\"]\");\r\n";
        assert_eq!(ids(&jsonp_body_messages(body).unwrap()), [4]);
        assert!(jsonp_body_messages("/**/other(\"o\");").is_err());
    }

    #[test]
    fn a_frame_that_never_ends_is_refused() {
        let mut frames = LineFrames::default();
        let long = vec![b'h'; MAX_PARTIAL_FRAME_BYTES + 1];
        assert!(frames.feed(&long).is_err());
    }
}
