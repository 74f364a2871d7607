//! The npm reference servers, started by [`Peer::start`] and read with the crate's own clients: for
//! every door a peer offers, four messages published with `POST /publish/{topic}` arrive in order,
//! with the ids the publishes returned: one published before the client subscribes (replayed, the
//! client asks from `after=0`) and three after (delivered live).
//!
//! The Node `http` + `ws` peer speaks pushlab's URL contract, so the door clients in
//! `pushlab::client` read it unchanged. SockJS wraps every transport in its own session framing (`o`
//! open, `h` heartbeat, `a["..",..]` messages), so its doors are read with the crate's lower-level
//! pieces (the HTTP client, the SSE client, the WebSocket client, the JSON reader) and the few lines of
//! [`sockjs_messages`] that unwrap a frame; each SockJS message is pushlab's `{"id":N,"data":".."}`.
//!
//! Without `node` and `npm` the tests print that they skipped; with `CI` set they fail instead.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pushlab::client::http::{self, HttpConnection, ResponseStream};
use pushlab::client::json;
use pushlab::client::poll::long_poll;
use pushlab::client::sse::SseClient;
use pushlab::client::stream::XhrStreamClient;
use pushlab::client::ws::Client as WsClient;
use pushlab::client::{publish, PushEvent, ReceivedMessage};
use pushlab::lab::peers::{Door, Peer, PeerKind};
use pushlab::ws::Event;

/// How long any one read may wait before the test fails.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Messages published per door.
const MESSAGES: usize = 3;

/// Reads after the last message before giving up: heartbeats and framing may come between messages.
const MAX_READS: usize = 100;

/// Whether node and npm are here; prints the skip, and under `CI` fails instead.
fn node_or_skip(test: &str) -> bool {
    if Peer::available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: node and npm are not installed, and CI must run this test"
    );
    println!("SKIPPED {test}: node and npm are not installed");
    false
}

/// Something that yields the messages of one door, in the order they arrived.
trait Subscriber {
    /// The messages that the next read brings (maybe none: a heartbeat, framing, an empty poll).
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>>;
}

/// Publishes one message, subscribes with `open` from `after=0` (everything the fresh topic has),
/// publishes [`MESSAGES`] more and checks that all arrive, in order: the first from the replay, the
/// rest as they are published.
fn assert_delivers_in_order(
    peer: &Peer,
    door: Door,
    open: impl FnOnce(SocketAddr, &str) -> io::Result<Box<dyn Subscriber>>,
) {
    let name = peer.kind().name();
    let topic = format!("{name}-{door:?}");
    let mut expected = Vec::new();
    let mut publish_one = |n: usize| {
        let data = format!("message {n} on {door:?}");
        let id = publish(peer.addr(), &topic, &data).expect("publish");
        expected.push(ReceivedMessage { id, data });
    };
    publish_one(0);
    let mut subscriber = open(peer.addr(), &topic)
        .unwrap_or_else(|error| panic!("{door:?} on {name}: cannot subscribe: {error}"));
    for n in 1..=MESSAGES {
        publish_one(n);
    }
    let mut received = Vec::new();
    for _ in 0..MAX_READS {
        if received.len() >= expected.len() {
            break;
        }
        let messages = subscriber
            .read()
            .unwrap_or_else(|error| panic!("{door:?} on {name}: {error}"));
        received.extend(messages);
    }
    assert_eq!(received, expected, "{door:?} on {name}");
}

fn message(event: PushEvent) -> Option<ReceivedMessage> {
    match event {
        PushEvent::Message(message) => Some(message),
        _ => None,
    }
}

// ---- pushlab's own door clients, for the Node http + ws peer ----

struct XhrStream(XhrStreamClient);

impl Subscriber for XhrStream {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        let event = self.0.next_event()?.ok_or(io::ErrorKind::UnexpectedEof)?;
        Ok(message(event).into_iter().collect())
    }
}

struct Sse(SseClient);

impl Subscriber for Sse {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        let event = self.0.next_event()?.ok_or(io::ErrorKind::UnexpectedEof)?;
        let id = event
            .last_event_id
            .parse()
            .map_err(|_| io::ErrorKind::InvalidData)?;
        Ok(vec![ReceivedMessage {
            id,
            data: event.data,
        }])
    }
}

/// Long polling: ask, and ask again after the last id received.
struct LongPoll {
    addr: SocketAddr,
    topic: String,
    after: Option<u64>,
}

impl Subscriber for LongPoll {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        let batch = long_poll(self.addr, &self.topic, self.after, READ_TIMEOUT)?;
        self.after = Some(batch.last);
        Ok(batch.messages)
    }
}

/// A WebSocket whose text frames are each one JSON object.
struct WebSocket(WsClient);

impl WebSocket {
    fn connect(addr: SocketAddr, path: &str) -> io::Result<Box<dyn Subscriber>> {
        let mut client = WsClient::connect(addr, path)?;
        client.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(Box::new(WebSocket(client)))
    }
}

impl Subscriber for WebSocket {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        match self.0.recv()? {
            Event::Text(text) => Ok(json_message(&text)?.into_iter().collect()),
            Event::Close { .. } => Err(io::ErrorKind::UnexpectedEof.into()),
            _ => Ok(Vec::new()),
        }
    }
}

fn json_message(text: &str) -> io::Result<Option<ReceivedMessage>> {
    let value = json::parse(text).map_err(invalid_data)?;
    Ok(PushEvent::from_json(&value).and_then(message))
}

/// The door's client from `after=0`.
fn node_subscriber(door: Door, addr: SocketAddr, topic: &str) -> io::Result<Box<dyn Subscriber>> {
    Ok(match door {
        Door::LongPoll => Box::new(LongPoll {
            addr,
            topic: topic.to_string(),
            after: Some(0),
        }),
        Door::XhrStream => Box::new(XhrStream(XhrStreamClient::connect(
            addr,
            topic,
            Some(0),
            READ_TIMEOUT,
        )?)),
        Door::Sse => Box::new(Sse(SseClient::connect(
            addr,
            &format!("/sse/{topic}?after=0"),
            None,
            READ_TIMEOUT,
        )?)),
        Door::WebSocket => WebSocket::connect(addr, &format!("/ws/{topic}?after=0"))?,
        other => panic!("the Node peer does not offer {other:?}"),
    })
}

#[test]
fn node_http_ws_delivers_in_order_on_every_door() {
    if !node_or_skip("node_http_ws_delivers_in_order_on_every_door") {
        return;
    }
    let peer = Peer::start(PeerKind::NodeHttpWs).expect("the Node peer starts");
    assert!(peer.pid() > 0);
    for &door in PeerKind::NodeHttpWs.doors() {
        assert_delivers_in_order(&peer, door, |addr, topic| {
            node_subscriber(door, addr, topic)
        });
    }
}

// ---- SockJS: its transports, unwrapped ----

/// The messages in one SockJS frame: `a["..",..]` holds JSON strings, each pushlab's message object;
/// `o` (open), `h` (heartbeat) and the `h…h` prelude of `xhr_streaming` hold none; `c[..]` is a close.
fn sockjs_messages(frame: &str) -> io::Result<Vec<ReceivedMessage>> {
    let frame = frame.trim_end();
    if let Some(array) = frame.strip_prefix('a') {
        let value = json::parse(array).map_err(invalid_data)?;
        let strings = value.as_array().ok_or(io::ErrorKind::InvalidData)?;
        let mut messages = Vec::new();
        for string in strings {
            let text = string.as_str().ok_or(io::ErrorKind::InvalidData)?;
            messages.extend(json_message(text)?);
        }
        return Ok(messages);
    }
    if frame.starts_with('c') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("SockJS closed: {frame}"),
        ));
    }
    Ok(Vec::new())
}

/// Reads the next chunk of a held response onto the text not used yet.
fn append_next_chunk(response: &mut ResponseStream, partial: &mut String) -> io::Result<()> {
    let chunk = response.next_chunk()?.ok_or(io::ErrorKind::UnexpectedEof)?;
    partial.push_str(std::str::from_utf8(&chunk).map_err(invalid_data)?);
    Ok(())
}

/// `POST …/xhr_streaming`: a chunked body of newline-ended frames.
struct SockjsXhrStreaming {
    response: ResponseStream,
    partial: String,
}

impl Subscriber for SockjsXhrStreaming {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        append_next_chunk(&mut self.response, &mut self.partial)?;
        let mut messages = Vec::new();
        while let Some(newline) = self.partial.find('\n') {
            let frame: String = self.partial.drain(..=newline).collect();
            messages.extend(sockjs_messages(&frame)?);
        }
        Ok(messages)
    }
}

/// `GET …/eventsource`: one frame in each event's data.
struct SockjsEventSource(SseClient);

impl Subscriber for SockjsEventSource {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        let event = self.0.next_event()?.ok_or(io::ErrorKind::UnexpectedEof)?;
        sockjs_messages(&event.data)
    }
}

/// A SockJS polling transport: each response is one frame, and the session (in the path) remembers
/// what was sent. `POST …/xhr` answers the frame as it is; `GET …/jsonp?c=F` wraps it as
/// `/**/F("frame");`.
struct SockjsPolling {
    addr: SocketAddr,
    path: String,
    jsonp: bool,
}

impl Subscriber for SockjsPolling {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        let method = if self.jsonp { "GET" } else { "POST" };
        let response = http::request(self.addr, method, &self.path, &[], b"", READ_TIMEOUT)?;
        if response.status != 200 {
            return Err(io::Error::other(format!("HTTP {}", response.status)));
        }
        let body = response.text()?.trim_end();
        if !self.jsonp {
            return sockjs_messages(body);
        }
        let literal = body
            .strip_prefix(&format!("/**/{SOCKJS_CALLBACK}("))
            .and_then(|rest| rest.strip_suffix(");"))
            .ok_or_else(|| invalid_data(format!("not a JSONP frame: {body}")))?;
        sockjs_quoted_messages(literal)
    }
}

/// A frame that arrives as a JavaScript string literal (a JSON string), as `htmlfile` and `jsonp` wrap it.
fn sockjs_quoted_messages(literal: &str) -> io::Result<Vec<ReceivedMessage>> {
    let value = json::parse(literal).map_err(invalid_data)?;
    sockjs_messages(value.as_str().ok_or(io::ErrorKind::InvalidData)?)
}

/// `GET …/htmlfile?c=F`: a forever frame, one `<script>\np("frame");\n</script>` per frame after a
/// prelude that defines `p` to hand the frame to `parent.F`.
struct SockjsHtmlfile {
    response: ResponseStream,
    partial: String,
}

impl Subscriber for SockjsHtmlfile {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        const OPEN: &str = "<script>\np(";
        const CLOSE: &str = ");\n</script>";
        append_next_chunk(&mut self.response, &mut self.partial)?;
        let mut messages = Vec::new();
        while let Some(start) = self.partial.find(OPEN) {
            let Some(length) = self.partial[start..].find(CLOSE) else {
                break;
            };
            let literal = self.partial[start + OPEN.len()..start + length].to_string();
            self.partial.drain(..start + length + CLOSE.len());
            messages.extend(sockjs_quoted_messages(&literal)?);
        }
        Ok(messages)
    }
}

/// The callback name the `htmlfile` and `jsonp` transports are asked to call.
const SOCKJS_CALLBACK: &str = "onFrame";

fn invalid_data(error: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error.to_string())
}

/// A SockJS session path, `/sockjs/{server}/{session}/{transport}`, with the topic and `after=0` in
/// the query (SockJS owns the path). The topic names the session: each is fresh.
fn sockjs_path(transport: &str, topic: &str) -> String {
    format!("/sockjs/000/{topic}/{transport}?topic={topic}&after=0")
}

fn sockjs_subscriber(door: Door, addr: SocketAddr, topic: &str) -> io::Result<Box<dyn Subscriber>> {
    Ok(match door {
        Door::LongPoll => Box::new(SockjsPolling {
            addr,
            path: sockjs_path("xhr", topic),
            jsonp: false,
        }),
        Door::XhrStream => {
            let mut connection = HttpConnection::connect(addr, READ_TIMEOUT)?;
            connection.send_request("POST", &sockjs_path("xhr_streaming", topic), &[], b"")?;
            Box::new(SockjsXhrStreaming {
                response: connection.into_stream()?,
                partial: String::new(),
            })
        }
        Door::Sse => Box::new(SockjsEventSource(SseClient::connect(
            addr,
            &sockjs_path("eventsource", topic),
            None,
            READ_TIMEOUT,
        )?)),
        Door::Iframe => {
            let path = format!("{}&c={SOCKJS_CALLBACK}", sockjs_path("htmlfile", topic));
            Box::new(SockjsHtmlfile {
                response: http::open_stream(addr, &path, &[], READ_TIMEOUT)?,
                partial: String::new(),
            })
        }
        Door::Jsonp => Box::new(SockjsPolling {
            addr,
            path: format!("{}&c={SOCKJS_CALLBACK}", sockjs_path("jsonp", topic)),
            jsonp: true,
        }),
        Door::WebSocket => {
            WebSocket::connect(addr, &format!("/sockjs/websocket?topic={topic}&after=0"))?
        }
    })
}

#[test]
fn sockjs_delivers_in_order_on_every_door() {
    if !node_or_skip("sockjs_delivers_in_order_on_every_door") {
        return;
    }
    let peer = Peer::start(PeerKind::Sockjs).expect("the SockJS peer starts");
    for &door in PeerKind::Sockjs.doors() {
        assert_delivers_in_order(&peer, door, |addr, topic| {
            sockjs_subscriber(door, addr, topic)
        });
    }
}

/// Both peers can run at once, each on its own port and process, and each stops with its value.
#[test]
fn peers_run_side_by_side_and_stop_on_drop() {
    if !node_or_skip("peers_run_side_by_side_and_stop_on_drop") {
        return;
    }
    let node = Peer::start(PeerKind::NodeHttpWs).expect("the Node peer starts");
    let sockjs = Peer::start(PeerKind::Sockjs).expect("the SockJS peer starts");
    assert_ne!(node.addr(), sockjs.addr());
    assert!(node.addr().ip().is_loopback() && sockjs.addr().ip().is_loopback());
    let pid = node.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let addr = node.addr();
    drop(node);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens on {addr}"
    );
    assert!(publish(sockjs.addr(), "still-there", "x").is_ok());
}
