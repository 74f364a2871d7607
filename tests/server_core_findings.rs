//! Defects of the server core, each pinned by a wire test that states the rule the server must keep.
//!
//! Every test here talks to a real server (`pushlab::server::spawn` / `spawn_with`) over sockets on
//! 127.0.0.1 and asserts the *fixed* behaviour, so it fails until the defect is gone. Every read has a
//! timeout and every loop a bound: a server that hangs fails a test with a message that says so.
//!
//! The rules, each with its source and the tests that check it:
//!
//! 1. **The hub's bounds are kept by making room, not by refusing forever.** Past `hub.max_topics`, a
//!    publish to a new topic evicts the least recently used topic that has no subscriber; a topic with a
//!    live subscriber is never evicted; ids never repeat, not even for a topic that was evicted and comes
//!    back. Source: design.md §2 (a bounded hub whose ids never repeat) and §3 (bounded retention).
//!    Tests: `junk_topics_never_lock_out_a_new_topic`, `a_topic_with_a_live_subscriber_is_never_evicted`,
//!    `ids_of_an_evicted_topic_never_repeat`.
//! 2. **A connection paused for backpressure resumes when it drains, never on an unrelated timer.**
//!    Source: design.md §2, "One budget, one choke point".
//!    Test: `echo_pipeline_never_stalls_under_backpressure`.
//! 3. **A message larger than the server will take is refused with close 1009 as soon as its frame header
//!    announces the size.** Source: RFC 6455 §7.4.1 (1009: "a message that is too big for it to
//!    process"); design.md rule 6 (no unbounded buffer anywhere); README limits, `hub.max_publish_bytes`.
//!    Test: `websocket_topic_message_over_the_publish_limit_is_refused_at_its_header`.
//! 4. **A server that will read the body answers `Expect: 100-continue` with `100 Continue` first; never
//!    to HTTP/1.0; never before a final refusal such as 413.** Source: RFC 9110 §10.1.1.
//!    Test: `expect_100_continue_is_answered_before_the_body`.
//! 5. **A panic in application code (a channel handler) costs at most its own session or connection,
//!    wherever the loop calls it:** on a request, in housekeeping, while delivering a message another
//!    thread published. Source: design.md §2 (the event loop owns all work) and the promise of
//!    `Server::isolated` ("a bug (a panic) costs only that connection").
//!    Tests: `channel_handler_panic_in_housekeeping_is_isolated`,
//!    `channel_handler_panic_during_delivery_from_another_thread_is_isolated`.
//! 6. **Every connection's pending output is bounded, replay included.** A replay is a cursor into the
//!    log, never a copy, so a subscriber that does not read costs at most its budget. Source: design.md
//!    §2 ("a replay is a cursor into the topic log ... never a copy") and §3 (every connection's pending
//!    output is bounded). Test: `non_reading_subscribers_cost_at_most_their_budget`.

mod common;
#[path = "ws_codec/support.rs"]
mod support;

use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use pushlab::channel::{ChannelHandler, ClientId, Outbox};
use pushlab::client::http;
use pushlab::client::sse::SseClient;
use pushlab::server::{spawn, spawn_with, RunningServer};
use pushlab::ws::frame::{apply_mask, decode_header, FrameHeader, Opcode};

use common::{connect, read_response, server_with, test_config, wait_until};

/// How long a test waits for something the server should do at once before calling it a hang.
const HANG_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------------
// Helpers: HTTP answers as values (never panicking, so a dead server gives a clear message), a hand-made
// WebSocket opening handshake, and server frames read one at a time.
// ---------------------------------------------------------------------------------------------------

/// `POST /publish/{topic}`: the status and the body text of the answer.
fn publish_answer(addr: SocketAddr, topic: &str, data: &str) -> (u16, String) {
    let response = http::post(addr, &format!("/publish/{topic}"), data.as_bytes())
        .unwrap_or_else(|e| panic!("POST /publish/{topic}: no answer ({e})"));
    let text = response.text().unwrap_or_default().to_string();
    (response.status, text)
}

/// Publishes and returns the id from `{"id":N}`, failing the test on any other answer.
fn publish_id(addr: SocketAddr, topic: &str, data: &str) -> u64 {
    let (status, text) = publish_answer(addr, topic, data);
    assert_eq!(
        status, 200,
        "POST /publish/{topic} answered {status}: {text}"
    );
    id_in_answer(&text)
}

/// The N of `{"id":N}`.
fn id_in_answer(text: &str) -> u64 {
    let value = pushlab::client::json::parse(text).expect("a JSON answer");
    value
        .get("id")
        .and_then(|id| id.as_u64())
        .unwrap_or_else(|| panic!("no id in {text}"))
}

/// Publishes one message to each of `topic_names`, each of them new, and asserts every one is taken.
fn flood_with_new_topics(addr: SocketAddr, topic_names: &[String]) {
    for topic in topic_names {
        let (status, text) = publish_answer(addr, topic, "junk");
        assert_eq!(
            status, 200,
            "POST /publish/{topic} answered {status} ({text}): a hub full of topics nobody listens to \
             must make room by evicting the least recently used one, not refuse every new topic"
        );
    }
}

/// `junk0`, `junk1`, ... `junk{count-1}`.
fn junk_topic_names(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("junk{n}")).collect()
}

/// The status of `GET path`, or why there was none (a server whose loop died refuses connections).
fn get_status(addr: SocketAddr, path: &str) -> io::Result<u16> {
    http::get(addr, path).map(|response| response.status)
}

/// Asserts that the server still answers an ordinary request; `after_what` names what it survived.
fn assert_still_serving_after(addr: SocketAddr, after_what: &str) {
    match get_status(addr, "/poll/health?after=0") {
        Ok(200) => {}
        Ok(status) => panic!("after {after_what}, GET /poll/health answered {status}, not 200"),
        Err(e) => panic!(
            "after {after_what}, the server no longer answers ({e}): its loop thread died, so every \
             client lost it"
        ),
    }
}

/// Whether any byte (or the end of the stream) arrives on `stream` within `limit`; consumes nothing.
fn bytes_arrive_within(stream: &TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let arrived = match stream.peek(&mut [0u8; 1]) {
        Ok(_) => true,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(e) => panic!("peek failed: {e}"),
    };
    stream.set_read_timeout(Some(HANG_TIMEOUT)).unwrap();
    arrived
}

/// The key of RFC 6455 §1.3, and the `Sec-WebSocket-Accept` the RFC computes for it.
const EXAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const EXAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The opening handshake of a client (RFC 6455 §4.1), with the RFC's example key.
fn ws_handshake_request(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {EXAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// Reads the answer to the opening handshake and checks it is a `101` for our key (§4.2.2).
fn expect_switching_protocols(stream: &mut TcpStream) {
    let response = read_response(stream, false);
    assert_eq!(
        response.status,
        101,
        "the upgrade was refused: {}",
        response.text()
    );
    assert_eq!(
        response.header("Sec-WebSocket-Accept"),
        Some(EXAMPLE_ACCEPT)
    );
}

/// A raw socket with an open WebSocket on `path`: the handshake done by hand, nothing else read.
fn ws_open_raw(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = connect(addr);
    stream
        .write_all(ws_handshake_request(path).as_bytes())
        .unwrap();
    expect_switching_protocols(&mut stream);
    stream
}

/// Reads one whole frame from the server: its header and its payload (servers never mask, §5.1).
fn read_server_frame(reader: &mut impl Read) -> io::Result<(FrameHeader, Vec<u8>)> {
    let mut header_bytes = Vec::with_capacity(14);
    let (header, _) = loop {
        if let Some(decoded) = decode_header(&header_bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
        {
            break decoded;
        }
        let mut byte = [0u8; 1];
        reader.read_exact(&mut byte)?;
        header_bytes.push(byte[0]);
    };
    let mut payload = vec![0; header.payload_len as usize];
    reader.read_exact(&mut payload)?;
    if let Some(key) = header.mask {
        apply_mask(&mut payload, key, 0);
    }
    Ok((header, payload))
}

/// Whether an I/O error is a read or write timeout.
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The close code of a close frame's payload (§5.5.1), if it has one.
fn close_code(payload: &[u8]) -> Option<u16> {
    (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
}

// ---------------------------------------------------------------------------------------------------
// 1. The hub's topic bound: evict the least recently used topic without subscribers.
// ---------------------------------------------------------------------------------------------------

/// The topic limit of the eviction tests, and how many junk topics flood it (three times as many).
const SMALL_TOPIC_LIMIT: usize = 16;
const JUNK_TOPIC_COUNT: usize = 3 * SMALL_TOPIC_LIMIT;

fn server_with_small_topic_limit() -> RunningServer {
    server_with(|config| config.hub.max_topics = SMALL_TOPIC_LIMIT)
}

/// Rule: `hub.max_topics` bounds memory, not the set of names ever used. Once the table is full, a
/// publish to a new topic evicts the least recently used topic that has no subscriber (design.md §2-§3).
///
/// Today the hub answers 503 to every new topic once `max_topics` names were ever published to, so
/// anyone can lock every new topic out by publishing to junk names. After the fix: all 48 junk publishes
/// and the publish to `fresh` answer 200.
#[test]
fn junk_topics_never_lock_out_a_new_topic() {
    let server = server_with_small_topic_limit();
    flood_with_new_topics(server.addr, &junk_topic_names(JUNK_TOPIC_COUNT));
    let (status, text) = publish_answer(server.addr, "fresh", "hello");
    assert_eq!(
        status, 200,
        "a new topic after the flood answered {status}: {text}"
    );
    let topics = server.handle.topic_count().unwrap();
    assert!(
        topics <= SMALL_TOPIC_LIMIT,
        "{topics} topics held, over the table's {SMALL_TOPIC_LIMIT}"
    );
}

/// Rule: a topic with a live subscriber is never evicted: its stream goes on receiving, and its log and
/// ids go on where they were (design.md §2: "nothing is lost across a reconnect").
///
/// After the fix: an SSE stream opened on `live` before a flood of junk topics receives the message
/// published after the flood, with a larger id, and `/poll/live?after=0` still holds both messages
/// without a reset. Today the flood itself is refused with 503.
#[test]
fn a_topic_with_a_live_subscriber_is_never_evicted() {
    let server = server_with_small_topic_limit();
    let mut stream = SseClient::connect(server.addr, "/sse/live", None, HANG_TIMEOUT).unwrap();
    assert!(wait_until(HANG_TIMEOUT, || server
        .subscriber_count("live")
        .ok()
        == Some(1)));
    let id_before_flood = publish_id(server.addr, "live", "before the flood");
    let first = stream.next_event().unwrap().expect("the stream is open");
    assert_eq!(first.last_event_id, id_before_flood.to_string());

    flood_with_new_topics(server.addr, &junk_topic_names(JUNK_TOPIC_COUNT));

    let id_after_flood = publish_id(server.addr, "live", "after the flood");
    let second = stream
        .next_event()
        .expect("the subscriber's stream survives the flood")
        .expect("the subscriber's stream is still open");
    assert_eq!(second.data, "after the flood");
    assert_eq!(second.last_event_id, id_after_flood.to_string());
    assert!(id_after_flood > id_before_flood, "ids keep increasing");
    let poll = http::get(server.addr, "/poll/live?after=0").unwrap();
    let poll_text = poll.text().unwrap();
    assert!(
        poll_text.contains("before the flood")
            && poll_text.contains("after the flood")
            && !poll_text.contains("reset"),
        "the live topic's log was kept whole: {poll_text}"
    );
}

/// Rule: ids never repeat, not even for a topic that was evicted and published to again (design.md §2:
/// a client resuming with an old id must see a gap, never silently miss messages).
///
/// After the fix: `junk0`'s id after its eviction is greater than its id before. Today the flood that
/// should evict `junk0` is refused with 503 (and a recreated topic would start again from the server's
/// start time, repeating the old id).
#[test]
fn ids_of_an_evicted_topic_never_repeat() {
    let server = server_with_small_topic_limit();
    let names = junk_topic_names(JUNK_TOPIC_COUNT);
    let id_before_eviction = publish_id(server.addr, &names[0], "first life");
    flood_with_new_topics(server.addr, &names[1..]);
    let id_after_eviction = publish_id(server.addr, &names[0], "second life");
    assert!(
        id_after_eviction > id_before_eviction,
        "junk0 got id {id_after_eviction} after its eviction, not above its earlier {id_before_eviction}: \
         a client resuming after the old id would silently miss messages"
    );
}

// ---------------------------------------------------------------------------------------------------
// 2. Backpressure: a paused connection resumes when it drains.
// ---------------------------------------------------------------------------------------------------

/// Connections, messages each keeps in flight, echoes each must get, and the size of one message.
const PIPELINE_CONNECTIONS: usize = 10;
const PIPELINE_IN_FLIGHT: usize = 64;
const PIPELINE_ECHOES: usize = 300;
const PIPELINE_MESSAGE_BYTES: usize = 64 * 1024;

/// Message `sequence` of connection `connection`: 64 KiB that differ for every pair, so a lost,
/// repeated or reordered echo is noticed.
fn pipeline_payload(connection: usize, sequence: usize) -> Vec<u8> {
    let mut payload: Vec<u8> = (0..PIPELINE_MESSAGE_BYTES)
        .map(|i| (i + 7 * sequence + 31 * connection) as u8)
        .collect();
    payload[..8].copy_from_slice(&(connection as u64).to_be_bytes());
    payload[8..16].copy_from_slice(&(sequence as u64).to_be_bytes());
    payload
}

/// Writes the connection's messages, keeping `PIPELINE_IN_FLIGHT` ahead of the echoes counted on
/// `echoes`.
fn pipeline_writer(
    mut socket: TcpStream,
    connection: usize,
    echoes: mpsc::Receiver<()>,
) -> Result<(), String> {
    for sequence in 0..PIPELINE_ECHOES {
        if sequence >= PIPELINE_IN_FLIGHT && echoes.recv_timeout(HANG_TIMEOUT).is_err() {
            return Ok(()); // the reader stopped (and says why) or stalled (and says so)
        }
        let frame = support::binary(&pipeline_payload(connection, sequence));
        socket.write_all(&frame).map_err(|e| {
            format!("stalled: connection {connection} could not write message {sequence} ({e})")
        })?;
    }
    Ok(())
}

/// Reads every echo of the connection, checks it byte for byte, and counts it on `echoed`.
fn pipeline_reader(
    socket: TcpStream,
    connection: usize,
    echoed: mpsc::Sender<()>,
) -> Result<(), String> {
    let mut reader = BufReader::with_capacity(256 * 1024, socket);
    for sequence in 0..PIPELINE_ECHOES {
        let (header, payload) = match read_server_frame(&mut reader) {
            Ok(frame) => frame,
            Err(e) if is_timeout(&e) => {
                return Err(format!(
                    "stalled: connection {connection} got {sequence} of {PIPELINE_ECHOES} echoes, \
                     then nothing for {HANG_TIMEOUT:?} although {PIPELINE_IN_FLIGHT} messages were in \
                     flight"
                ))
            }
            Err(e) => return Err(format!("connection {connection}, echo {sequence}: {e}")),
        };
        if header.opcode != Opcode::Binary || payload != pipeline_payload(connection, sequence) {
            return Err(format!(
                "connection {connection}: echo {sequence} is not the message sent ({:?}, {} bytes)",
                header.opcode,
                payload.len()
            ));
        }
        let _ = echoed.send(());
    }
    Ok(())
}

/// Rule: a connection paused for backpressure resumes when its output drains, never on an unrelated
/// timer (design.md §2). The client here keeps 64 messages of 64 KiB in flight on each of 10 echo
/// sockets (4 MiB each, well over `max_pending_output_bytes`), so the server pauses reading again and
/// again; pings are an hour apart, so no timer can wake a stalled socket.
///
/// Today complete frames stay unparsed in the input buffer once the output has drained (the only
/// reading pass that could parse them ran while the output was still over the limit), and the echo
/// stops: the test fails with "stalled". After the fix: every connection gets its 300 echoes, each
/// byte-identical to what it sent.
#[test]
fn echo_pipeline_never_stalls_under_backpressure() {
    let server = server_with(|config| config.ws.ping_interval = Duration::from_secs(3600));
    let mut workers = Vec::new();
    for connection in 0..PIPELINE_CONNECTIONS {
        let socket = ws_open_raw(server.addr, "/ws/echo");
        socket.set_read_timeout(Some(HANG_TIMEOUT)).unwrap();
        socket.set_write_timeout(Some(HANG_TIMEOUT)).unwrap();
        let writer_socket = socket.try_clone().unwrap();
        let (echoed, echoes) = mpsc::channel();
        let writer = thread::spawn(move || pipeline_writer(writer_socket, connection, echoes));
        let reader = thread::spawn(move || pipeline_reader(socket, connection, echoed));
        workers.push((writer, reader));
    }
    let mut failures = Vec::new();
    for (writer, reader) in workers {
        for outcome in [reader.join(), writer.join()] {
            if let Err(failure) = outcome.expect("a client thread panicked") {
                failures.push(failure);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------------
// 3. A message that is too big is refused at its header.
// ---------------------------------------------------------------------------------------------------

/// Rule: RFC 6455 §7.4.1, 1009: "an endpoint is terminating the connection because it has received a
/// message that is too big for it to process". On `/ws/{topic}` the limit is `hub.max_publish_bytes`
/// (64 KiB by default; README limits table), and a server with no unbounded buffer (design.md rule 6)
/// refuses as soon as the frame header announces more.
///
/// The client announces a 200 KiB text message and sends only its first 4 KiB. Today the socket limit
/// is `ws.max_message_bytes` (16 MiB): the server waits for the rest, sends nothing, and the test fails
/// after its read timeout. After the fix: a close frame with code 1009 arrives at once.
#[test]
fn websocket_topic_message_over_the_publish_limit_is_refused_at_its_header() {
    let server = common::server();
    let publish_limit = test_config().hub.max_publish_bytes;
    let announced_bytes = 200 * 1024;
    assert!(announced_bytes > publish_limit);
    let mut socket = ws_open_raw(server.addr, "/ws/big");
    let frame = support::text(&vec![b'a'; announced_bytes]);
    let (_, header_bytes) = decode_header(&frame).unwrap().expect("a whole header");
    socket.write_all(&frame[..header_bytes + 4096]).unwrap();

    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (header, payload) = match read_server_frame(&mut socket) {
        Ok(frame) => frame,
        Err(e) if is_timeout(&e) => panic!(
            "no close frame within 10 s of a header announcing {announced_bytes} bytes (limit \
             {publish_limit}): the server is buffering a message it will refuse anyway"
        ),
        Err(e) => panic!("expected close 1009, the connection failed: {e}"),
    };
    assert_eq!(header.opcode, Opcode::Close, "expected a close frame");
    assert_eq!(close_code(&payload), Some(1009));
    common::assert_still_serving(server.addr);
}

// ---------------------------------------------------------------------------------------------------
// 4. Expect: 100-continue.
// ---------------------------------------------------------------------------------------------------

/// The interim response of RFC 9110 §15.2.1, exactly as pushlab writes it.
const CONTINUE_RESPONSE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
/// How long a client waits for `100 Continue` (curl waits one second, then sends the body anyway).
const CONTINUE_WAIT: Duration = Duration::from_secs(3);

/// Rule: RFC 9110 §10.1.1: a client that sends `Expect: 100-continue` waits for `100 Continue` before the
/// body; a server that will read the body sends it, unless it already has the body or answers with a
/// final status instead (413 for a body over `http.max_body_bytes`); and a server MUST NOT send it to an
/// HTTP/1.0 client.
///
/// Today `http::expects_continue` exists but the event loop never calls it: no `100 Continue` arrives
/// and the test fails after 3 s. After the fix: `100 Continue` at once, then `200 {"id":N}` for the
/// body. The HTTP/1.0 and 413 parts pass today (they guard the fix against answering too eagerly).
#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let server = server_with(|config| config.http.max_body_bytes = 1024);

    let mut stream = connect(server.addr);
    stream
        .write_all(
            b"POST /publish/t HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap();
    assert!(
        bytes_arrive_within(&stream, CONTINUE_WAIT),
        "RFC 9110 §10.1.1: no `100 Continue` within {CONTINUE_WAIT:?} for a request that waits for it"
    );
    let mut interim = vec![0; CONTINUE_RESPONSE.len()];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&interim),
        String::from_utf8_lossy(CONTINUE_RESPONSE)
    );
    stream.write_all(b"hello").unwrap();
    let published = read_response(&mut stream, false);
    assert_eq!(published.status, 200, "{}", published.text());
    id_in_answer(&published.text());

    // HTTP/1.0: no interim response; the body is read when it comes.
    let mut stream = connect(server.addr);
    stream
        .write_all(b"POST /publish/t HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        .unwrap();
    assert!(
        !bytes_arrive_within(&stream, Duration::from_millis(500)),
        "RFC 9110 §10.1.1: a server MUST NOT send 100 Continue to an HTTP/1.0 client"
    );
    stream.write_all(b"hello").unwrap();
    assert_eq!(read_response(&mut stream, false).status, 200);

    // A body over the limit: the final answer 413, and no 100 before it.
    let mut stream = connect(server.addr);
    stream
        .write_all(
            b"POST /publish/t HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 4096\r\n\r\n",
        )
        .unwrap();
    assert_eq!(read_response(&mut stream, false).status, 413);
}

// ---------------------------------------------------------------------------------------------------
// 5. Panics in application code, outside a request.
// ---------------------------------------------------------------------------------------------------

/// A channel application with a bug in `on_close`, which housekeeping calls when a session expires.
struct PanicsOnClose;

impl ChannelHandler for PanicsOnClose {
    fn on_message(&mut self, _client: &ClientId, _data: &str, _outbox: &mut Outbox) {}
    fn on_close(&mut self, client: &ClientId, _outbox: &mut Outbox) {
        panic!("deliberate bug: on_close of session {client}");
    }
}

/// Opens a session of channel application `app`; returns its id.
fn open_session(addr: SocketAddr, app: &str) -> String {
    let response = http::post(addr, &format!("/channel/{app}"), b"")
        .unwrap_or_else(|e| panic!("POST /channel/{app}: no answer ({e})"));
    let text = response.text().unwrap().to_string();
    assert_eq!(response.status, 200, "POST /channel/{app}: {text}");
    let value = pushlab::client::json::parse(&text).unwrap();
    value
        .get("session")
        .and_then(|id| id.as_str())
        .unwrap_or_else(|| panic!("no session in {text}"))
        .to_string()
}

/// Rule: a panic in application code costs at most its own session, wherever the loop calls it
/// (design.md §2; `Server::isolated` guards connection work, and housekeeping is loop work too).
///
/// A session of `boom` expires after 200 ms of `session_grace`; its `on_close` panics. Today
/// housekeeping calls it unguarded, the panic unwinds through `Server::run`, the loop thread dies and
/// the listener with it: the next request is refused. After the fix: the session still ends (404), the
/// server serves, a new session opens, and `internal_errors()` counts the panic.
#[test]
fn channel_handler_panic_in_housekeeping_is_isolated() {
    let mut config = test_config();
    config.session_grace = Duration::from_millis(50);
    config.housekeeping_interval = Duration::from_millis(10);
    let server = spawn_with(config, |server| {
        server.register_channel("boom", Box::new(PanicsOnClose))
    })
    .expect("server starts");
    let session = open_session(server.addr, "boom");
    let session_path = format!("/channel/boom/{session}");

    // Housekeeping looks for expired sessions every 10 ms here; asking about the session is not a use.
    let deadline = Instant::now() + HANG_TIMEOUT;
    loop {
        thread::sleep(Duration::from_millis(10));
        match get_status(server.addr, &session_path) {
            Ok(404) => break,
            Ok(200) => assert!(
                Instant::now() < deadline,
                "the session did not expire within {HANG_TIMEOUT:?}"
            ),
            Ok(status) => panic!("GET {session_path} answered {status}"),
            Err(e) => panic!(
                "the server stopped answering once the session expired ({e}): the panic in on_close \
                 killed the loop thread"
            ),
        }
    }
    assert_still_serving_after(server.addr, "a panic in on_close during housekeeping");
    open_session(server.addr, "boom");
    let internal_errors = server.handle.internal_errors().expect("the loop answers");
    assert!(internal_errors >= 1, "the panic was not counted");
}

/// A channel application that greets each client with 8 KiB and has a bug in `on_message`.
struct PanicsOnMessage;

/// How many messages of 2 KiB the greeting of each `PanicsOnMessage` client has.
const GREETING_MESSAGES: usize = 4;

impl ChannelHandler for PanicsOnMessage {
    fn on_open(&mut self, client: &ClientId, outbox: &mut Outbox) {
        for _ in 0..GREETING_MESSAGES {
            outbox.send(client, "g".repeat(2048));
        }
    }
    fn on_message(&mut self, client: &ClientId, _data: &str, _outbox: &mut Outbox) {
        panic!("deliberate bug: on_message of session {client}");
    }
}

/// Rule: as above; here the handler runs while the loop delivers a message that *another thread*
/// published (`RunningServer::publish`, through `run_commands`).
///
/// The client writes its first text frame right behind the opening handshake, in one packet. The
/// server reads both; the replay of the greeting (8 KiB) is over `max_pending_output_bytes` (1 KiB
/// here), so the frame waits in the input buffer. Today it waits there until the next piece of work on
/// that connection, which is the delivery of a message published from the test thread: `deliver_pending`
/// services the connection outside `Server::isolated`, `on_message` panics, and the loop thread dies.
/// After the fix: whenever the frame is processed (with the redesigned core, as soon as the output has
/// room for it, possibly before the greeting), the panic costs at most this connection, the server
/// serves on, and `internal_errors()` counts it.
#[test]
fn channel_handler_panic_during_delivery_from_another_thread_is_isolated() {
    let mut config = test_config();
    config.max_pending_output_bytes = 1024;
    let server = spawn_with(config, |server| {
        server.register_channel("boom", Box::new(PanicsOnMessage))
    })
    .expect("server starts");
    let session = open_session(server.addr, "boom");
    let topic = format!("session-{session}");

    let mut socket = connect(server.addr);
    let mut handshake_and_frame =
        ws_handshake_request(&format!("/ws/{topic}?after=0")).into_bytes();
    handshake_and_frame.extend_from_slice(&support::text(b"this message triggers the bug"));
    socket.write_all(&handshake_and_frame).unwrap();
    expect_switching_protocols(&mut socket);
    // The redesigned core may handle the frame before the replay has gone out (a subscriber's queue
    // takes a message only when it fits the budget whole, so the frame can find room first): then the
    // panic ends this connection early, and fewer greetings arrive. Whatever arrives is a text frame.
    for _ in 0..GREETING_MESSAGES {
        let Ok((header, _)) = read_server_frame(&mut socket) else {
            break;
        };
        assert_eq!(header.opcode, Opcode::Text);
    }

    // Published from this thread: the loop hands it to the socket above. Whether the publish itself is
    // answered depends on when the frame was processed; what counts is what follows.
    let _ = server.publish(&topic, "from another thread");
    assert_still_serving_after(
        server.addr,
        "a panic in on_message while delivering a message from another thread",
    );
    let internal_errors = server.handle.internal_errors().expect("the loop answers");
    assert!(internal_errors >= 1, "the panic was not counted");
}

// ---------------------------------------------------------------------------------------------------
// 6. Memory: a subscriber that does not read costs at most its budget.
// ---------------------------------------------------------------------------------------------------

/// Set in the environment of the child process that runs the memory measurement alone.
const MEMORY_CHILD_ENV: &str = "PUSHLAB_FINDINGS_MEMORY_CHILD";
/// The topic of the memory test: 320 messages of 50 KB, 16 MB of payload (the hub keeps each message's
/// JSON form too: about twice that in memory).
const BIG_TOPIC_MESSAGES: usize = 320;
const BIG_TOPIC_MESSAGE_BYTES: usize = 50_000;
/// Subscribers that never read: half SSE, half WebSocket.
const NON_READING_SUBSCRIBERS: usize = 10;
/// The per-connection output budget of the memory test.
const OUTPUT_BUDGET_BYTES: usize = 256 * 1024;
/// Allowance for everything else: the test harness, thread stacks, allocator slack.
const MEMORY_SLACK_BYTES: usize = 32 * 1024 * 1024;
/// The receive buffer each non-reading subscriber asks for, so the kernel soaks up little of the replay.
const SMALL_RECEIVE_BUFFER_BYTES: u32 = 4096;

/// This process's resident memory (`VmRSS` in `/proc/self/status`), in bytes.
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// A connected socket with a small receive buffer (set before connecting, so the window stays small).
/// `std` cannot set `SO_RCVBUF`; tokio's `TcpSocket` (a dev-dependency) can, and hands back a std socket.
fn connect_with_small_receive_buffer(addr: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .set_recv_buffer_size(SMALL_RECEIVE_BUFFER_BYTES)
        .unwrap();
    let stream = runtime.block_on(socket.connect(addr)).unwrap();
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// Opens one subscriber of `topic` that asks for everything (`after=0`) and then never reads.
fn open_non_reading_subscriber(addr: SocketAddr, topic: &str, websocket: bool) -> TcpStream {
    let mut socket = connect_with_small_receive_buffer(addr);
    let request = if websocket {
        ws_handshake_request(&format!("/ws/{topic}?after=0"))
    } else {
        format!("GET /sse/{topic}?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    };
    socket.write_all(request.as_bytes()).unwrap();
    socket
}

/// The measurement itself, run in a process of its own (see the test below).
fn measure_non_reading_subscribers() {
    let baseline = resident_bytes();
    let mut config = test_config();
    config.max_pending_output_bytes = OUTPUT_BUDGET_BYTES;
    let server = spawn(config).expect("server starts");
    let message = "m".repeat(BIG_TOPIC_MESSAGE_BYTES);
    for _ in 0..BIG_TOPIC_MESSAGES {
        server.publish("big", &message).expect("publish");
    }
    let topic_bytes = BIG_TOPIC_MESSAGES * BIG_TOPIC_MESSAGE_BYTES;

    let subscribers: Vec<TcpStream> = (0..NON_READING_SUBSCRIBERS)
        .map(|n| open_non_reading_subscriber(server.addr, "big", n % 2 == 1))
        .collect();
    assert!(
        wait_until(HANG_TIMEOUT, || server.subscriber_count("big").ok()
            == Some(NON_READING_SUBSCRIBERS)),
        "not every subscriber was admitted"
    );
    thread::sleep(Duration::from_secs(2)); // let the server push all it will push

    // The server's own count of what all connections buffer: each subscriber its budget plus at most
    // one message piece (and its input storage), never its replay.
    let buffered = server.handle.buffered_bytes().expect("the loop answers");
    let buffered_bound =
        NON_READING_SUBSCRIBERS * (OUTPUT_BUDGET_BYTES + 2 * BIG_TOPIC_MESSAGE_BYTES + 256 * 1024);
    assert!(
        buffered <= buffered_bound,
        "the server buffers {buffered} bytes for {NON_READING_SUBSCRIBERS} subscribers, over {buffered_bound}"
    );
    let growth = resident_bytes().saturating_sub(baseline);
    let budget =
        NON_READING_SUBSCRIBERS * OUTPUT_BUDGET_BYTES + 2 * topic_bytes + MEMORY_SLACK_BYTES;
    let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "topic {:.1} MiB, {NON_READING_SUBSCRIBERS} non-reading subscribers with {:.2} MiB of output \
         budget each: resident memory grew {:.1} MiB (allowed {:.1} MiB)",
        mib(topic_bytes),
        mib(OUTPUT_BUDGET_BYTES),
        mib(growth),
        mib(budget)
    );
    assert!(
        growth < budget,
        "resident memory grew {:.1} MiB, over the {:.1} MiB that {NON_READING_SUBSCRIBERS} budgeted \
         subscribers and the topic may cost: each subscriber holds a copy of the replay",
        mib(growth),
        mib(budget)
    );
    drop(subscribers);
}

/// Runs test `name` of this binary alone in a child process, bounded in time; fails if it fails.
fn run_alone_in_child_process(name: &str) {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MEMORY_CHILD_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test binary runs again");
    let collect = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    println!("{stdout}");
    eprintln!("{stderr}");
    match status {
        None => panic!("the measurement did not finish within 120 s"),
        Some(status) => assert!(status.success(), "the measurement failed (output above)"),
    }
}

/// Rule: every connection's pending output is bounded, replay included; a replay is a cursor into the
/// topic's log that advances as the socket drains, never a copy (design.md §2 and §3).
///
/// A topic of 16 MB, then 10 subscribers (5 SSE, 5 WebSocket) asking for everything with `after=0` and
/// never reading, each with a 4 KiB receive buffer. Resident memory may grow by 10 output budgets, twice
/// the topic (the hub keeps each payload and its JSON form) and 32 MiB of slack. Today each subscriber
/// copies the whole replay into its output buffer (10 x 16 MB), and the test fails with the growth it
/// measured. After the fix: the growth is about the hub's own copy of the topic.
///
/// The measurement runs in a child process running this test alone, so the memory other tests use and
/// free meanwhile cannot blur it.
#[test]
fn non_reading_subscribers_cost_at_most_their_budget() {
    if std::env::var_os(MEMORY_CHILD_ENV).is_some() {
        measure_non_reading_subscribers();
    } else {
        run_alone_in_child_process("non_reading_subscribers_cost_at_most_their_budget");
    }
}
