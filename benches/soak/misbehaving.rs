//! The misbehaving clients: each kind runs in a loop in a thread of its own until the soak stops, and
//! records what the server did with it (`Tally::outcome`), e.g. `slowloris → 408`.
//!
//! | kind | what it does | what the server must do |
//! |---|---|---|
//! | slow reader | SSE / WebSocket from `after=0`, 4 KiB receive buffer, reads 1 KiB every 100 ms for 30 s | keep serving it (it takes bytes) |
//! | stalled reader | the same, but never reads, for 40 s | drop it after a heartbeat or ping interval without progress |
//! | abrupt | closes with a reset mid-response, mid-WebSocket-frame (both ways) and mid-request-body | nothing visible: the next client is served |
//! | oversized | a WebSocket frame header announcing more than the limit; a body over `max_body_bytes` and over `max_publish_bytes` | close 1009; 413 |
//! | junk topics | `POST /publish/junkN`, a new topic each time, 5 a second | 200 (the least recently used idle topic is evicted) |
//! | slowloris | a request head, or a body, sent one line a second | 408 after `header_timeout` |
//! | garbage | random bytes instead of a request | 400 |
//!
//! Each attempt is bounded in time by socket timeouts and a deadline, so a thread sees the stop flag
//! within about 40 s at worst. At most a few connections per kind are open at once, so the whole soak
//! stays far below the per-address connection limit.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pushlab::client::http::HttpConnection;
use pushlab::client::ws::{Client, ClientOptions};
use pushlab::ws::Event;

use crate::tally::Tally;

/// The topic the slow and stalled readers replay from `after=0`: the one with the large messages.
pub const REPLAY_TOPIC: &str = "soak-a";
/// A topic only the oversized clients use (they never publish to it successfully).
const OVERSIZE_TOPIC: &str = "soak-oversize";
/// The receive buffer of the slow and stalled readers (the kernel doubles it for bookkeeping).
const TINY_RECEIVE_BUFFER: usize = 4 * 1024;
/// How long a slow reader reads, and how much per step.
const SLOW_READ_TIME: Duration = Duration::from_secs(30);
const SLOW_READ_STEP: Duration = Duration::from_millis(100);
const SLOW_READ_BYTES: usize = 1024;
/// How long a stalled reader holds its connection without reading: longer than the SSE heartbeat
/// interval (15 s) and the WebSocket ping interval (30 s) after which a client that took nothing is
/// dropped.
const STALL_TIME: Duration = Duration::from_secs(40);
/// After the stall, how long the bench reads to learn whether the server still serves the connection.
const STALL_PROBE_TIME: Duration = Duration::from_secs(3);
/// The slowloris sends one line per this interval, for at most this long.
const SLOWLORIS_STEP: Duration = Duration::from_secs(1);
const SLOWLORIS_MAX_TIME: Duration = Duration::from_secs(20);
/// Timeout of any single read, write or connect of a misbehaving client.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);
/// A frame length over `ws.max_message_bytes` (16 MiB), for `/ws/echo`.
const OVERSIZED_ECHO_FRAME: u64 = 17 * 1024 * 1024;
/// A frame length over `hub.max_publish_bytes` (64 KiB), for `/ws/{topic}`.
const OVERSIZED_PUBLISH_FRAME: u64 = 100_000;
/// A `Content-Length` over `http.max_body_bytes` (1 MiB); the body is not sent.
const OVERSIZED_BODY_ANNOUNCED: usize = 2 * 1024 * 1024;
/// A body that is sent whole, over `hub.max_publish_bytes` (64 KiB) and under `max_body_bytes`.
const OVERSIZED_PUBLISH_BODY: usize = 100_000;

/// The pause between two junk topics: at most 5 new topics a second.
pub const JUNK_TOPIC_PAUSE: Duration = Duration::from_millis(200);

/// One kind of misbehaving client, and the pause between its attempts.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    SlowReaderSse,
    SlowReaderWs,
    StalledSse,
    StalledWs,
    Abrupt,
    Oversized,
    JunkTopics,
    Slowloris,
    Garbage,
}

impl Kind {
    /// Every kind; a kind listed twice runs in two threads (two at a time).
    pub const ALL: [Kind; 10] = [
        Kind::SlowReaderSse,
        Kind::SlowReaderWs,
        Kind::StalledSse,
        Kind::StalledWs,
        Kind::Abrupt,
        Kind::Oversized,
        Kind::JunkTopics,
        Kind::Slowloris,
        Kind::Slowloris,
        Kind::Garbage,
    ];

    /// The pause after each attempt.
    fn pause(self) -> Duration {
        match self {
            Kind::Abrupt => Duration::from_millis(250),
            Kind::Oversized => Duration::from_millis(500),
            Kind::JunkTopics => JUNK_TOPIC_PAUSE,
            Kind::Garbage => Duration::from_millis(300),
            _ => Duration::from_millis(100),
        }
    }
}

/// Runs client `kind` again and again until the soak stops.
pub fn misbehave(kind: Kind, addr: SocketAddr, tally: &Tally) {
    let mut attempt: u64 = 0;
    let mut junk = None;
    while !tally.is_stopping() {
        attempt += 1;
        let result = match kind {
            Kind::SlowReaderSse => slow_reader(addr, Stream::Sse, tally),
            Kind::SlowReaderWs => slow_reader(addr, Stream::Ws, tally),
            Kind::StalledSse => stalled_reader(addr, Stream::Sse, tally),
            Kind::StalledWs => stalled_reader(addr, Stream::Ws, tally),
            Kind::Abrupt => abrupt(addr, attempt, tally),
            Kind::Oversized => oversized(addr, attempt, tally),
            Kind::JunkTopics => junk_topic(addr, &mut junk, attempt, tally),
            Kind::Slowloris => slowloris(addr, attempt, tally),
            Kind::Garbage => garbage(addr, attempt, tally),
        };
        if let Err(error) = result {
            tally.outcome(
                &format!("{kind:?}"),
                &format!("client error: {}", error.kind()),
            );
            junk = None;
        }
        std::thread::sleep(kind.pause());
    }
}

/// The held doors a reader can misbehave on.
#[derive(Clone, Copy, Debug)]
enum Stream {
    Sse,
    Ws,
}

impl Stream {
    /// The request that opens the whole replay of the replay topic.
    fn request(self, addr: SocketAddr) -> String {
        match self {
            Stream::Sse => format!(
                "GET /sse/{REPLAY_TOPIC}?after=0 HTTP/1.1\r\nHost: {addr}\r\n\
                 Accept: text/event-stream\r\n\r\n"
            ),
            // The RFC 6455 §1.3 example key: the server checks its form, not its freshness.
            Stream::Ws => format!(
                "GET /ws/{REPLAY_TOPIC}?after=0 HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n"
            ),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Stream::Sse => "sse",
            Stream::Ws => "ws",
        }
    }
}

/// A blocking socket with timeouts, and a small receive buffer when asked: set before connecting, since
/// the window scaling TCP offers is fixed in the handshake.
fn connect(addr: SocketAddr, receive_buffer: Option<usize>) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes)?;
    }
    socket.connect_timeout(&addr.into(), SOCKET_TIMEOUT)?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    stream.set_write_timeout(Some(SOCKET_TIMEOUT))?;
    Ok(stream)
}

/// Closes with a TCP reset instead of a FIN (`SO_LINGER` 0): the server finds out mid-write.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Reads from `stream` for `time` at most. Returns the bytes read and whether the server ended the
/// connection (EOF or reset) within that time.
fn read_for(
    stream: &mut TcpStream,
    time: Duration,
    step_bytes: usize,
) -> io::Result<(usize, bool)> {
    let deadline = Instant::now() + time;
    let mut buffer = vec![0u8; step_bytes];
    let mut total = 0;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        stream.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        match stream.read(&mut buffer) {
            Ok(0) => return Ok((total, true)),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok((total, true)),
            Err(e) if is_timeout(&e) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((total, false))
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The status code of the first response line in `stream`, or `None` when the server closed the
/// connection without an answer.
fn read_status(stream: &mut TcpStream) -> io::Result<Option<u16>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && head.len() < 64 {
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let status = std::str::from_utf8(&head)
        .ok()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    Ok(status)
}

/// Records `status` as the outcome of `what`: the code, or that there was no answer.
fn record_status(tally: &Tally, what: &str, status: Option<u16>) {
    match status {
        Some(code) => tally.outcome(what, &code.to_string()),
        None => tally.outcome(what, "closed without an answer"),
    }
}

/// Reads 1 KiB every 100 ms for 30 s through a 4 KiB receive buffer: slow, but it takes bytes, so the
/// server must keep it (its queue waits at the budget, the log holds the rest).
fn slow_reader(addr: SocketAddr, door: Stream, tally: &Tally) -> io::Result<()> {
    let mut stream = connect(addr, Some(TINY_RECEIVE_BUFFER))?;
    stream.write_all(door.request(addr).as_bytes())?;
    let what = format!("slow reader {}", door.name());
    let deadline = Instant::now() + SLOW_READ_TIME;
    while Instant::now() < deadline && !tally.is_stopping() {
        let (_, ended) = read_for(&mut stream, SLOW_READ_STEP, SLOW_READ_BYTES)?;
        if ended {
            tally.outcome(&what, "dropped by the server");
            return Ok(());
        }
    }
    tally.outcome(&what, "served to the end");
    Ok(())
}

/// Asks for the whole replay through a 4 KiB receive buffer and never reads for 40 s; then reads for
/// 3 s to see whether the server still serves it. The server must have dropped it.
fn stalled_reader(addr: SocketAddr, door: Stream, tally: &Tally) -> io::Result<()> {
    let mut stream = connect(addr, Some(TINY_RECEIVE_BUFFER))?;
    stream.write_all(door.request(addr).as_bytes())?;
    let deadline = Instant::now() + STALL_TIME;
    while Instant::now() < deadline && !tally.is_stopping() {
        std::thread::sleep(Duration::from_millis(200));
    }
    if tally.is_stopping() {
        return Ok(()); // cut short: says nothing either way
    }
    let (_, ended) = read_for(&mut stream, STALL_PROBE_TIME, 64 * 1024)?;
    let what = format!("stalled reader {}", door.name());
    if ended {
        tally.outcome(&what, "dropped by the server");
    } else {
        tally.outcome(&what, "still served after 40 s");
    }
    Ok(())
}

/// One of four abrupt ends, in turn: a reset in the middle of a large poll answer, of a WebSocket
/// frame the server sends, of a frame the client sends, and of a request body.
fn abrupt(addr: SocketAddr, attempt: u64, tally: &Tally) -> io::Result<()> {
    match attempt % 4 {
        0 => {
            let mut stream = connect(addr, Some(TINY_RECEIVE_BUFFER))?;
            let request =
                format!("GET /poll/{REPLAY_TOPIC}?after=0 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            stream.write_all(request.as_bytes())?;
            let mut some = [0u8; 100];
            stream.read_exact(&mut some)?;
            reset(stream);
            tally.outcome("abrupt", "reset mid-response");
        }
        1 => {
            let mut stream = connect(addr, Some(TINY_RECEIVE_BUFFER))?;
            stream.write_all(Stream::Ws.request(addr).as_bytes())?;
            // The head, then part of the first frames of the replay.
            let mut some = [0u8; 1000];
            stream.read_exact(&mut some)?;
            reset(stream);
            tally.outcome("abrupt", "reset mid-frame (server to client)");
        }
        2 => {
            let mut client = Client::connect(addr, "/ws/echo")?;
            // A masked text frame announcing 1,000 bytes, of which 10 are sent.
            let mut frame = vec![0x81, 0x80 | 126, 0x03, 0xE8, 1, 2, 3, 4];
            frame.extend_from_slice(&[b'a'; 10]);
            client.send_raw(&frame)?;
            drop(client);
            tally.outcome("abrupt", "closed mid-frame (client to server)");
        }
        _ => {
            let mut stream = connect(addr, None)?;
            let head = format!(
                "POST /publish/{OVERSIZE_TOPIC} HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789"
            );
            stream.write_all(head.as_bytes())?;
            reset(stream);
            tally.outcome("abrupt", "reset mid-request-body");
        }
    }
    Ok(())
}

/// One of four oversized inputs, in turn: two WebSocket frame headers announcing more than the limit
/// (close 1009 expected), a `Content-Length` over `max_body_bytes` and a whole body over
/// `max_publish_bytes` (413 expected).
fn oversized(addr: SocketAddr, attempt: u64, tally: &Tally) -> io::Result<()> {
    match attempt % 4 {
        0 => oversized_frame(addr, "/ws/echo", OVERSIZED_ECHO_FRAME, tally),
        1 => oversized_frame(
            addr,
            &format!("/ws/{OVERSIZE_TOPIC}"),
            OVERSIZED_PUBLISH_FRAME,
            tally,
        ),
        2 => {
            let mut stream = connect(addr, None)?;
            let head = format!(
                "POST /publish/{OVERSIZE_TOPIC} HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: text/plain\r\nContent-Length: {OVERSIZED_BODY_ANNOUNCED}\r\n\r\n"
            );
            stream.write_all(head.as_bytes())?;
            record_status(tally, "body over max_body_bytes", read_status(&mut stream)?);
            Ok(())
        }
        _ => {
            let mut connection = HttpConnection::connect(addr, SOCKET_TIMEOUT)?;
            let body = vec![b'o'; OVERSIZED_PUBLISH_BODY];
            let path = format!("/publish/{OVERSIZE_TOPIC}");
            connection.send_request("POST", &path, &[("Content-Type", "text/plain")], &body)?;
            let status = connection.read_response()?.status;
            record_status(tally, "body over max_publish_bytes", Some(status));
            Ok(())
        }
    }
}

/// Sends the header of a masked binary frame announcing `length` bytes (RFC 6455 §5.2: 127, then a
/// 64-bit length) and reads until the server's close frame; its code must be 1009 (§7.4.1: "a message
/// that is too big for it to process").
fn oversized_frame(addr: SocketAddr, path: &str, length: u64, tally: &Tally) -> io::Result<()> {
    let options = ClientOptions {
        read_timeout: Some(SOCKET_TIMEOUT),
        ..ClientOptions::default()
    };
    let mut client = Client::connect_with(addr, path, &options)?;
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&length.to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    client.send_raw(&header)?;
    let what = format!(
        "ws frame of {length} B on {}",
        path.split('/').nth(2).unwrap_or("")
    );
    for _ in 0..100 {
        match client.recv() {
            Ok(Event::Close { code, .. }) => {
                let code = code.map_or("no code".to_string(), |code| code.to_string());
                tally.outcome(&what, &format!("close {code}"));
                return Ok(());
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                tally.outcome(&what, "closed without a close frame");
                return Ok(());
            }
            Err(error) => return Err(error),
        }
    }
    tally.outcome(&what, "no close after 100 frames");
    Ok(())
}

/// Publishes one byte to a topic that did not exist, on a keep-alive connection.
fn junk_topic(
    addr: SocketAddr,
    connection: &mut Option<HttpConnection>,
    attempt: u64,
    tally: &Tally,
) -> io::Result<()> {
    let mut open = match connection.take() {
        Some(open) => open,
        None => HttpConnection::connect(addr, SOCKET_TIMEOUT)?,
    };
    let path = format!("/publish/junk{attempt}");
    open.send_request("POST", &path, &[("Content-Type", "text/plain")], b"x")?;
    let response = open.read_response()?;
    let closing = response
        .header("Connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"));
    if !closing {
        *connection = Some(open);
    }
    record_status(tally, "junk topic", Some(response.status));
    Ok(())
}

/// Sends a request one line a second and never finishes it: the head (odd attempts) or the body (even
/// attempts). The server must answer 408 once `header_timeout` (10 s) has passed since the first byte.
fn slowloris(addr: SocketAddr, attempt: u64, tally: &Tally) -> io::Result<()> {
    let mut stream = connect(addr, None)?;
    let (what, start) = if attempt % 2 == 1 {
        (
            "slowloris head",
            format!("GET /poll/{REPLAY_TOPIC} HTTP/1.1\r\nHost: {addr}\r\n"),
        )
    } else {
        (
            "slowloris body",
            format!(
                "POST /publish/{OVERSIZE_TOPIC} HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: text/plain\r\nContent-Length: 10000\r\n\r\n"
            ),
        )
    };
    stream.write_all(start.as_bytes())?;
    stream.set_read_timeout(Some(SLOWLORIS_STEP))?;
    let deadline = Instant::now() + SLOWLORIS_MAX_TIME;
    let mut line = 0;
    while Instant::now() < deadline {
        // Anything to read is the server's answer (or its close).
        let mut first = [0u8; 1];
        match stream.peek(&mut first) {
            Ok(_) => break,
            Err(e) if is_timeout(&e) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => return Err(e),
        }
        line += 1;
        let more = if what == "slowloris head" {
            format!("X-Slow-{line}: y\r\n")
        } else {
            "body line\n".to_string()
        };
        if stream.write_all(more.as_bytes()).is_err() {
            break; // the server closed: its answer, if any, is waiting
        }
    }
    stream.set_read_timeout(Some(SOCKET_TIMEOUT))?;
    record_status(tally, what, read_status(&mut stream)?);
    Ok(())
}

/// Sends 64 to 1,087 random bytes (not starting with a method) and a blank line, and reads the answer.
fn garbage(addr: SocketAddr, attempt: u64, tally: &Tally) -> io::Result<()> {
    let mut state = attempt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let length = 64 + (state % 1024) as usize;
    let mut bytes: Vec<u8> = (0..length)
        .map(|_| {
            // xorshift64: reproducible noise without a dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    bytes[0] = 0xFF; // never a valid method
    bytes.extend_from_slice(b"\r\n\r\n");
    let mut stream = connect(addr, None)?;
    stream.write_all(&bytes)?;
    record_status(tally, "garbage bytes", read_status(&mut stream)?);
    Ok(())
}
