//! The floor: the least work a push server can do on this machine, measured beside the real ones.
//!
//! **Not a server anyone should use.** It has no hub, no limits, no heartbeats, no log, no budget and
//! no error answers beyond a bare `404`; it trusts every client, keeps every message for ever and
//! never times anything out. It exists for one number.
//!
//! # Why a floor
//!
//! On loopback the core that sends a delivery also runs the receiver's half of TCP: `write(2)` on
//! one socket queues the bytes, runs the loopback "device", and delivers them into the peer socket's
//! receive queue and wakes its reader, all inside the sender's system call (the softirq runs on the
//! sending core). Every server therefore pays a kernel cost per delivery that no server code can
//! remove. The floor pays that cost and nothing else: for each delivery exactly one `write` of bytes
//! framed once per message. Its CPU per 1,000 deliveries is what the kernel charges for pushing on
//! this machine; a real server's CPU *above the floor* is what its own code costs. If the floor is
//! already more than half of the best peer's CPU, no server can be twice as cheap as that peer.
//!
//! On long polling (and JSONP) the floor is a floor per *answer*, not per delivery: it parks each poll and
//! answers it with the one message that arrives, so every delivery costs an answer and the next
//! request. A server whose answer carries every message waiting (pushlab's does) makes fewer
//! requests per delivery and can spend less CPU than this floor; compare the requests column too.
//!
//! # What it speaks
//!
//! Just enough of pushlab's URL contract for the lab's swarm ([`super::swarm`]) to read it, with the
//! same framing as pushlab's doors so that the bytes per delivery match:
//!
//! | request | answer | each message |
//! |---|---|---|
//! | `GET /sse/{topic}?after=N` | `200`, `text/event-stream`, chunked (RFC 9112 §7.1) | one chunk: `id: N\ndata: {payload}\n\n` |
//! | `GET /stream/{topic}?after=N` | `200`, `application/x-ndjson`, chunked | one chunk: `{json}\n` |
//! | `GET /ws/{topic}?after=N` | `101` with `Sec-WebSocket-Accept` (RFC 6455 §4.2.2) | one unmasked text frame (§5.2) |
//! | `GET /longpoll/{topic}?after=N` | held until a message, then `200` with `Content-Length` | `{"messages":[{json}],"last":N}` |
//! | `GET /jsonp/{topic}?after=N&callback=F` | the same, as `text/javascript` | `/**/F({"messages":[{json}],"last":N});` |
//! | `POST /publish/{topic}` | `200` `{"id":N}`, after one write to every subscriber | |
//!
//! `{json}` is pushlab's `{"id":N,"data":".."}`. A subscriber that asks from an `after` below the
//! topic's last id first gets what it missed in one write (a long poll at once, up to
//! [`MAX_BATCH_MESSAGES`]).
//!
//! # The loop
//!
//! One thread, one `mio::Poll`, every socket non-blocking. A publish frames the message once per
//! door and walks the topic's subscribers writing each its frame: one `write` each. A write the
//! socket cannot take whole is kept and finished when the socket is writable again (on loopback with
//! the lab's small messages that does not happen, but a floor that dropped bytes would measure less
//! than the work). It exits when its standard input closes, so it never outlives the lab that
//! started it.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::http::chunked::encode_chunk;
use crate::json::message_json;
use crate::ws::frame::{encode_frame, Opcode};
use crate::ws::handshake::accept_key;

/// The line it prints once it listens, followed by the address and `/`; the lab reads it.
pub const LISTENING: &str = "pushlab floor listening on http://";
/// The listener's token; connections use their slot index.
const LISTENER: Token = Token(usize::MAX);
/// A request head (or a publish body) longer than this closes the connection.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// A long poll answers at most this many missed messages, as pushlab does.
pub const MAX_BATCH_MESSAGES: usize = 100;
/// Bytes read from a socket at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// The doors the floor serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloorDoor {
    /// `/longpoll/`.
    LongPoll,
    /// `/jsonp/`: a long poll whose answer calls the request's `callback`.
    Jsonp,
    /// `/stream/`.
    XhrStream,
    /// `/sse/`.
    Sse,
    /// `/ws/`.
    WebSocket,
}

/// `pushlab lab floor-server`: serves on a free loopback port until stdin closes.
pub fn main() -> u8 {
    match serve() {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("pushlab floor: {error}");
            1
        }
    }
}

/// One message, framed once for every door.
struct Framed {
    id: u64,
    /// The payload as published (SSE carries it in `data:` lines, as pushlab does).
    data: String,
    json: String,
}

/// One topic: its messages (id = index + 1) and who listens.
#[derive(Default)]
struct Topic {
    messages: Vec<Framed>,
    /// Held subscribers: their slot and door.
    held: Vec<(usize, FloorDoor)>,
    /// Parked long polls and JSONP polls: their slots, and a JSONP poll's callback.
    long_polls: Vec<(usize, Option<String>)>,
}

impl Topic {
    fn last_id(&self) -> u64 {
        self.messages.len() as u64
    }

    /// The messages after `after`, at most `limit`.
    fn after(&self, after: u64, limit: usize) -> &[Framed] {
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        let slice = self.messages.get(start..).unwrap_or_default();
        slice.get(..limit.min(slice.len())).unwrap_or_default()
    }
}

/// One connection.
struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet taken as a request.
    inbox: Vec<u8>,
    /// Bytes a write could not take yet.
    outbox: Vec<u8>,
    /// Once a held door answered, what it reads is ignored.
    held: bool,
    /// Close once the outbox is empty.
    close_after_write: bool,
}

/// What one request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Ask {
    Subscribe {
        door: FloorDoor,
        topic: String,
        after: u64,
        ws_key: Option<String>,
        /// A JSONP poll's `callback`.
        callback: Option<String>,
    },
    Publish {
        topic: String,
        body_len: usize,
    },
    NotFound,
}

/// Parses a whole request head: what it asks and its length; `None` while incomplete; an error for
/// what httparse refuses.
fn parse_head(bytes: &[u8]) -> Result<Option<(Ask, usize)>, httparse::Error> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(head_len) = request.parse(bytes)? else {
        return Ok(None);
    };
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let target = request.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    let after = param("after").and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (kind, topic) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let topic = topic.to_string();
    let door = match kind {
        "sse" => Some(FloorDoor::Sse),
        "stream" => Some(FloorDoor::XhrStream),
        "ws" => Some(FloorDoor::WebSocket),
        "longpoll" => Some(FloorDoor::LongPoll),
        "jsonp" => Some(FloorDoor::Jsonp),
        _ => None,
    };
    let ask = match (request.method, door) {
        _ if topic.is_empty() => Ask::NotFound,
        (Some("GET"), Some(FloorDoor::WebSocket)) => match header("sec-websocket-key") {
            Some(key) => Ask::Subscribe {
                door: FloorDoor::WebSocket,
                topic,
                after,
                ws_key: Some(key.to_string()),
                callback: None,
            },
            None => Ask::NotFound,
        },
        // The lab's callbacks are plain names; pushlab checks them (`transport::jsonp`), the floor
        // trusts them.
        (Some("GET"), Some(FloorDoor::Jsonp)) => match param("callback") {
            Some(callback) if !callback.is_empty() => Ask::Subscribe {
                door: FloorDoor::Jsonp,
                topic,
                after,
                ws_key: None,
                callback: Some(callback.to_string()),
            },
            _ => Ask::NotFound,
        },
        (Some("GET"), Some(door)) => Ask::Subscribe {
            door,
            topic,
            after,
            ws_key: None,
            callback: None,
        },
        (Some("POST"), None) if kind == "publish" => Ask::Publish {
            topic,
            body_len: header("content-length")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        },
        _ => Ask::NotFound,
    };
    Ok(Some((ask, head_len)))
}

/// The response head of a held door.
fn held_head(door: FloorDoor, ws_key: Option<&str>) -> String {
    match door {
        FloorDoor::Sse => "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                           Transfer-Encoding: chunked\r\n\r\n"
            .to_string(),
        FloorDoor::XhrStream => "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\
                                 Transfer-Encoding: chunked\r\n\r\n"
            .to_string(),
        FloorDoor::WebSocket => format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(ws_key.unwrap_or_default())
        ),
        FloorDoor::LongPoll | FloorDoor::Jsonp => String::new(),
    }
}

/// One unmasked, final text frame (RFC 6455 §5.2): a server never masks.
fn text_frame(payload: &[u8], out: &mut Vec<u8>) {
    encode_frame(true, Opcode::Text, payload, None, out);
}

/// A held door's bytes for `messages`, appended to `out`.
fn held_frames(door: FloorDoor, messages: &[Framed], out: &mut Vec<u8>) {
    for message in messages {
        match door {
            FloorDoor::Sse => {
                // One `data:` line per line of the payload (WHATWG HTML §9.2.6), as pushlab's SSE
                // door frames it; the event's id is the message's.
                let mut event = format!("id: {}\n", message.id);
                for line in message.data.lines() {
                    event.push_str("data: ");
                    event.push_str(line);
                    event.push('\n');
                }
                event.push('\n');
                encode_chunk(event.as_bytes(), out);
            }
            FloorDoor::XhrStream => encode_chunk(format!("{}\n", message.json).as_bytes(), out),
            FloorDoor::WebSocket => text_frame(message.json.as_bytes(), out),
            FloorDoor::LongPoll | FloorDoor::Jsonp => {}
        }
    }
}

/// A long poll's whole answer: `{"messages":[..],"last":N}` with its `Content-Length`; with a JSONP
/// `callback`, the same object as the argument of a call, `/**/F(..);`, as pushlab's JSONP door
/// writes it.
fn long_poll_answer(messages: &[Framed], last: u64, callback: Option<&str>) -> Vec<u8> {
    let jsons: Vec<&str> = messages.iter().map(|m| m.json.as_str()).collect();
    let object = format!("{{\"messages\":[{}],\"last\":{last}}}", jsons.join(","));
    let (content_type, body) = match callback {
        Some(callback) => ("text/javascript", format!("/**/{callback}({object});")),
        None => ("application/json", object),
    };
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The floor's state: connections in slots, topics by name.
struct Floor {
    poll: Poll,
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
    topics: HashMap<String, Topic>,
}

/// Listens on a free loopback port, prints [`LISTENING`], and serves until stdin closes.
fn serve() -> io::Result<()> {
    let mut listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = listener.local_addr()?;
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    // The lab holds our stdin; when it closes (the lab ended, however), so do we.
    std::thread::spawn(|| {
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        std::process::exit(0);
    });
    println!("{LISTENING}{addr}/");
    io::stdout().flush()?;
    let mut floor = Floor {
        poll,
        slots: Vec::new(),
        free: Vec::new(),
        topics: HashMap::new(),
    };
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(error) = floor.poll.poll(&mut events, None) {
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                floor.accept_all(&listener)?;
                continue;
            }
            let slot = event.token().0;
            if event.is_writable() {
                floor.flush(slot);
            }
            if event.is_readable() || event.is_read_closed() {
                floor.read(slot);
            }
        }
    }
}

impl Floor {
    fn accept_all(&mut self, listener: &TcpListener) -> io::Result<()> {
        loop {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let slot = self.free.pop().unwrap_or(self.slots.len());
                    self.poll.registry().register(
                        &mut stream,
                        Token(slot),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    let connection = Connection {
                        stream,
                        inbox: Vec::new(),
                        outbox: Vec::new(),
                        held: false,
                        close_after_write: false,
                    };
                    match self.slots.get_mut(slot) {
                        Some(place) => *place = Some(connection),
                        None => self.slots.push(Some(connection)),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                // Out of descriptors, a connection reset before accept: the next one may work.
                Err(_) => return Ok(()),
            }
        }
    }

    /// Reads what arrived and takes every whole request.
    fn read(&mut self, slot: usize) {
        let Some(Some(connection)) = self.slots.get_mut(slot) else {
            return;
        };
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        let mut ended = false;
        loop {
            match connection.stream.read(&mut chunk) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) if connection.held => {
                    // A held door's client sends nothing the floor answers (a WebSocket close frame
                    // at the end): read and dropped.
                    let _ = n;
                }
                Ok(n) => connection
                    .inbox
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            self.close(slot);
            return;
        }
        self.take_requests(slot);
    }

    /// Takes the whole requests in a connection's inbox, one after the other.
    fn take_requests(&mut self, slot: usize) {
        // Bounded: each turn consumes a request, and a long poll stops the loop until answered.
        for _ in 0..64 {
            let Some(Some(connection)) = self.slots.get_mut(slot) else {
                return;
            };
            if connection.held {
                return;
            }
            let (ask, head_len) = match parse_head(&connection.inbox) {
                Ok(Some(parsed)) => parsed,
                Ok(None) if connection.inbox.len() <= MAX_REQUEST_BYTES => return,
                Ok(None) | Err(_) => return self.close(slot),
            };
            match ask {
                Ask::Publish { topic, body_len } => {
                    let Some(body) = connection.inbox.get(head_len..head_len + body_len) else {
                        if head_len + body_len > MAX_REQUEST_BYTES {
                            self.close(slot);
                        }
                        return;
                    };
                    let data = String::from_utf8_lossy(body).into_owned();
                    connection.inbox.drain(..head_len + body_len);
                    let id = self.publish(&topic, &data);
                    let body = format!("{{\"id\":{id}}}");
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Content-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    self.send(slot, answer.as_bytes());
                }
                Ask::Subscribe {
                    door,
                    topic,
                    after,
                    ws_key,
                    callback,
                } => {
                    connection.inbox.drain(..head_len);
                    let extra = ws_key.or(callback);
                    let parked = self.subscribe(slot, door, &topic, after, extra);
                    if parked {
                        return;
                    }
                }
                Ask::NotFound => {
                    connection.inbox.clear();
                    connection.close_after_write = true;
                    self.send(
                        slot,
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    return;
                }
            }
        }
    }

    /// Answers a subscription: a held door gets its head and what it missed in one write and joins
    /// the topic; a long poll or JSONP poll is answered at once if it missed something, else parked.
    /// `extra` is a WebSocket's key or a JSONP poll's callback. True when the connection now waits
    /// (held or parked).
    fn subscribe(
        &mut self,
        slot: usize,
        door: FloorDoor,
        topic_name: &str,
        after: u64,
        extra: Option<String>,
    ) -> bool {
        let topic = self.topics.entry(topic_name.to_string()).or_default();
        if matches!(door, FloorDoor::LongPoll | FloorDoor::Jsonp) {
            let missed = topic.after(after, MAX_BATCH_MESSAGES);
            if missed.is_empty() {
                topic.long_polls.push((slot, extra));
                return true;
            }
            let last = missed.last().map_or(after, |m| m.id);
            let answer = long_poll_answer(missed, last, extra.as_deref());
            self.send(slot, &answer);
            return false;
        }
        let mut bytes = held_head(door, extra.as_deref()).into_bytes();
        held_frames(door, topic.after(after, usize::MAX), &mut bytes);
        topic.held.push((slot, door));
        if let Some(Some(connection)) = self.slots.get_mut(slot) {
            connection.held = true;
            connection.inbox.clear();
        }
        self.send(slot, &bytes);
        true
    }

    /// Stores the message, frames it once per door, and writes it to every subscriber: one write
    /// each. Returns its id.
    fn publish(&mut self, topic_name: &str, data: &str) -> u64 {
        let topic = self.topics.entry(topic_name.to_string()).or_default();
        let id = topic.last_id() + 1;
        let framed = || Framed {
            id,
            data: data.to_string(),
            json: message_json(id, data),
        };
        topic.messages.push(framed());
        // A copy of its own, so that parked polls' answers can be built while the floor writes.
        let latest = [framed()];
        let message = latest.as_slice();
        let mut frames: [Vec<u8>; 3] = Default::default();
        for (frame, door) in
            frames
                .iter_mut()
                .zip([FloorDoor::Sse, FloorDoor::XhrStream, FloorDoor::WebSocket])
        {
            held_frames(door, message, frame);
        }
        // One answer per callback (the lab's polls share one), built when first needed.
        let mut answers: Vec<(Option<String>, Vec<u8>)> = Vec::new();
        let held = topic.held.clone();
        let parked = std::mem::take(&mut topic.long_polls);
        for (slot, door) in held {
            let frame = match door {
                FloorDoor::Sse => &frames[0],
                FloorDoor::XhrStream => &frames[1],
                FloorDoor::WebSocket => &frames[2],
                FloorDoor::LongPoll | FloorDoor::Jsonp => continue,
            };
            self.send(slot, frame);
        }
        for (slot, callback) in parked {
            let index = match answers.iter().position(|(c, _)| *c == callback) {
                Some(index) => index,
                None => {
                    let answer = long_poll_answer(message, id, callback.as_deref());
                    answers.push((callback, answer));
                    answers.len() - 1
                }
            };
            let Some((_, answer)) = answers.get(index) else {
                continue;
            };
            self.send(slot, answer);
            // The client's next request may already be here.
            self.take_requests(slot);
        }
        id
    }

    /// One write of `bytes`; what the socket does not take waits in the outbox.
    fn send(&mut self, slot: usize, bytes: &[u8]) {
        let Some(Some(connection)) = self.slots.get_mut(slot) else {
            return;
        };
        if !connection.outbox.is_empty() {
            connection.outbox.extend_from_slice(bytes);
            return;
        }
        match connection.stream.write(bytes) {
            Ok(n) if n == bytes.len() => {
                if connection.close_after_write {
                    self.close(slot);
                }
            }
            Ok(n) => connection
                .outbox
                .extend_from_slice(bytes.get(n..).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                connection.outbox.extend_from_slice(bytes)
            }
            Err(_) => self.close(slot),
        }
    }

    /// Writes what waits in the outbox, now that the socket is writable.
    fn flush(&mut self, slot: usize) {
        let Some(Some(connection)) = self.slots.get_mut(slot) else {
            return;
        };
        while !connection.outbox.is_empty() {
            match connection.stream.write(&connection.outbox) {
                Ok(0) => return self.close(slot),
                Ok(n) => {
                    connection.outbox.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.close(slot),
            }
        }
        if connection.close_after_write {
            self.close(slot);
        }
    }

    /// Drops a connection and forgets it in its topic.
    fn close(&mut self, slot: usize) {
        let Some(place) = self.slots.get_mut(slot) else {
            return;
        };
        let Some(mut connection) = place.take() else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut connection.stream);
        for topic in self.topics.values_mut() {
            topic.held.retain(|(s, _)| *s != slot);
            topic.long_polls.retain(|(s, _)| *s != slot);
        }
        self.free.push(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(id: u64, data: &str) -> Framed {
        Framed {
            id,
            data: data.to_string(),
            json: message_json(id, data),
        }
    }

    #[test]
    fn each_door_frames_a_message_as_pushlab_does() {
        let message = [framed(7, "hi")];
        let mut sse = Vec::new();
        held_frames(FloorDoor::Sse, &message, &mut sse);
        assert_eq!(sse, b"10\r\nid: 7\ndata: hi\n\n\r\n");
        let mut stream = Vec::new();
        held_frames(FloorDoor::XhrStream, &message, &mut stream);
        assert_eq!(stream, b"15\r\n{\"id\":7,\"data\":\"hi\"}\n\r\n");
        let mut ws = Vec::new();
        held_frames(FloorDoor::WebSocket, &message, &mut ws);
        assert_eq!(ws.get(..2), Some(&[0x81, 20][..]));
        assert_eq!(ws.get(2..), Some(&b"{\"id\":7,\"data\":\"hi\"}"[..]));
        let answer = String::from_utf8(long_poll_answer(&message, 7, None)).unwrap();
        assert!(answer.ends_with("\r\n\r\n{\"messages\":[{\"id\":7,\"data\":\"hi\"}],\"last\":7}"));
        assert!(answer.contains("Content-Length: 44\r\n"));
        let call = String::from_utf8(long_poll_answer(&message, 7, Some("f"))).unwrap();
        assert!(call
            .ends_with("\r\n\r\n/**/f({\"messages\":[{\"id\":7,\"data\":\"hi\"}],\"last\":7});"));
        assert!(call.contains("Content-Type: text/javascript\r\nContent-Length: 52\r\n"));
    }

    #[test]
    fn a_long_websocket_frame_carries_a_16_bit_length() {
        let mut out = Vec::new();
        text_frame(&[b'a'; 300], &mut out);
        assert_eq!(out.get(..4), Some(&[0x81, 126, 1, 44][..]));
        assert_eq!(out.len(), 304);
    }

    #[test]
    fn requests_are_routed_by_their_door() {
        let ws = b"GET /ws/t?after=3 HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let (ask, len) = parse_head(ws).unwrap().unwrap();
        assert_eq!(len, ws.len());
        assert_eq!(
            ask,
            Ask::Subscribe {
                door: FloorDoor::WebSocket,
                topic: "t".into(),
                after: 3,
                ws_key: Some("dGhlIHNhbXBsZSBub25jZQ==".into()),
                callback: None,
            }
        );
        let jsonp = b"GET /jsonp/t?after=2&callback=got HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            parse_head(jsonp).unwrap().unwrap().0,
            Ask::Subscribe {
                door: FloorDoor::Jsonp,
                topic: "t".into(),
                after: 2,
                ws_key: None,
                callback: Some("got".into()),
            }
        );
        let without_callback = parse_head(b"GET /jsonp/t?after=2 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(without_callback.map(|(ask, _)| ask), Some(Ask::NotFound));
        // RFC 6455 §1.3's example key and its accept value.
        assert!(
            held_head(FloorDoor::WebSocket, Some("dGhlIHNhbXBsZSBub25jZQ=="))
                .contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")
        );
        let publish = b"POST /publish/t HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        let (ask, len) = parse_head(publish).unwrap().unwrap();
        assert_eq!(
            ask,
            Ask::Publish {
                topic: "t".into(),
                body_len: 5
            }
        );
        assert_eq!(publish.get(len..), Some(&b"hello"[..]));
        let other = parse_head(b"GET /poll/t HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(other.0, Ask::NotFound);
        assert_eq!(parse_head(b"GET /sse/t HTTP/1.1\r\n").unwrap(), None);
    }

    #[test]
    fn a_topic_gives_what_was_missed_in_order_and_bounded() {
        let mut topic = Topic::default();
        for id in 1..=5 {
            topic.messages.push(framed(id, "x"));
        }
        let ids = |slice: &[Framed]| slice.iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(topic.after(3, 100)), [4, 5]);
        assert_eq!(ids(topic.after(0, 2)), [1, 2]);
        assert!(topic.after(5, 100).is_empty());
        assert!(topic.after(99, 100).is_empty());
    }
}
