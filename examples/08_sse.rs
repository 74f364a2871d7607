//! Chapter 8: Server-Sent Events. A streaming response in a format the browser parses, resumes and
//! reconnects for you.
//!
//! ```text
//! cargo run --example 08_sse
//! cargo run --example 08_sse -- --addr 127.0.0.1:9008
//! ```
//!
//! The example plays `EventSource`: it opens `GET /sse/news`, prints each chunk of the event stream
//! (`retry:`, `id:`/`data:` lines, an `event: heartbeat`, a three-line payload in three `data:` lines)
//! and parses it with `pushlab::client::sse::SseParser`, the WHATWG parsing rules in Rust. Then the
//! server drops every connection; the client waits the `retry` delay and reconnects with
//! `Last-Event-ID`, and the message published while it was away arrives first. Last, with a log of
//! only four messages, a new connection asks for an id the log no longer has and gets an
//! `event: reset` before the replay.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::http::{decode_chunk, ChunkStatus};
use pushlab::client::sse::{SseEvent, SseParser};
use pushlab::server::config::HubLimits;
use pushlab::Config;

/// When each message is published, in ms after the stream opens. Story 4 comes while the client is
/// disconnected (the server drops it after story 3).
const SCHEDULE: [(u64, &str); 6] = [
    (200, "story 1"),
    (300, "line one\nline two\nline three"),
    (800, "story 3"),
    (1000, "story 4"),
    (1600, "story 5"),
    (1700, "story 6"),
];

fn main() -> io::Result<()> {
    // ANCHOR: config
    let config = Config {
        addr: addr_from_args()?,
        sse_retry_ms: 500, // `retry: 500`: reconnect after half a second
        heartbeat_interval: Duration::from_millis(400), // `event: heartbeat` after 400 ms of silence
        hub: HubLimits {
            max_messages_per_topic: 4, // a tiny log, so that an old id falls out of it
            ..HubLimits::default()
        },
        clock_interval: None,
        ..Config::default()
    };
    // ANCHOR_END: config
    let server = pushlab::server::spawn(config)?;
    println!("pushlab listening on http://{}/\n", server.addr);

    // One parser for the whole run, as one EventSource object outlives its connections: it remembers
    // the last event id and the retry delay across reconnects.
    let mut parser = SseParser::default();
    let mut received: Vec<(SseEvent, Instant)> = Vec::new();
    let mut message_wire_bytes = 0;
    let mut heartbeats = 0;
    let mut publisher = None;
    // ANCHOR: reconnect
    for connection in 1..=2 {
        let last_id = parser.last_event_id().to_string();
        let mut socket = open(server.addr, &last_id)?;
        let mut buf = read_head(&mut socket)?;
        if publisher.is_none() {
            publisher = Some(start_publisher(&server.handle));
        }
        let wanted = if connection == 1 { 3 } else { SCHEDULE.len() };
        while received.len() < wanted {
            let Some((data, consumed)) = next_chunk(&mut socket, &mut buf)? else {
                parser.finish(); // the stream ended: an unfinished event is discarded
                break;
            };
            let mut events = Vec::new();
            parser.feed(&data, &mut events).map_err(io::Error::other)?;
            for event in events {
                println!(
                    "     => {} event, id {:?}: {:?}\n",
                    event.event_type, event.last_event_id, event.data
                );
                if event.is_heartbeat() {
                    heartbeats += 1; // a sign of life the page can see, not a message
                    continue;
                }
                message_wire_bytes += consumed;
                received.push((event, Instant::now()));
            }
        }
        if connection == 1 {
            // As if the server restarted or the network changed: every connection drops at once.
            server.drop_connections()?;
            while next_chunk(&mut socket, &mut buf)?.is_some() {}
            parser.finish();
            let retry = parser.reconnection_time_ms().unwrap_or(3000);
            println!("==== connection lost; waiting retry = {retry} ms, as a browser does ====\n");
            thread::sleep(Duration::from_millis(retry));
        }
    }
    // ANCHOR_END: reconnect

    // ANCHOR: reset
    // Ask for what follows story 1. The log keeps four messages (stories 3 to 6), so story 2 is gone:
    // the stream says so with `event: reset` before it replays what it still has.
    let first_id = received
        .first()
        .map(|(event, _)| event.last_event_id.clone());
    println!("==== a new client, with a Last-Event-ID the log no longer reaches ====\n");
    let mut socket = open(server.addr, first_id.as_deref().unwrap_or_default())?;
    let mut buf = read_head(&mut socket)?;
    let mut fresh = SseParser::default();
    let mut replayed = Vec::new();
    while replayed.len() < 5 {
        let Some((data, _)) = next_chunk(&mut socket, &mut buf)? else {
            break;
        };
        fresh.feed(&data, &mut replayed).map_err(io::Error::other)?;
    }
    for event in &replayed {
        println!(
            "     => {} event, id {:?}: {:?}",
            event.event_type, event.last_event_id, event.data
        );
    }
    // ANCHOR_END: reset

    let sent = match publisher {
        Some(handle) => handle
            .join()
            .map_err(|_| io::Error::other("publisher panicked"))??,
        None => Vec::new(),
    };
    println!("\n---- summary ----");
    println!(
        "messages received:   {} of {} on two connections, then 1 reset and a replay",
        received.len(),
        SCHEDULE.len()
    );
    println!("HTTP requests made:  3 (one per connection; none per message)");
    println!("heartbeats:          {heartbeats}");
    println!(
        "bytes on the wire:   {} per message (chunk framing, `id:` and `data:` lines, blank line)",
        message_wire_bytes / received.len().max(1)
    );
    // Match each event to its publish by id (`last_event_id` is the `id:` line of the event).
    let latencies: Vec<String> = received
        .iter()
        .filter_map(|(event, got)| {
            let (_, published) = sent
                .iter()
                .find(|(id, _)| id.to_string() == event.last_event_id)?;
            let name = event.data.lines().next().unwrap_or("");
            Some(format!("{name} {:.1?}", *got - *published))
        })
        .collect();
    println!("latency:             {}", latencies.join(", "));
    println!("                     (story 4 was published while the client was away)");
    Ok(())
}

// ANCHOR: open
/// Opens `GET /sse/news` as `EventSource` does: `Accept: text/event-stream`, and on a reconnect the
/// header `Last-Event-ID` with the last id the parser saw.
fn open(addr: SocketAddr, last_event_id: &str) -> io::Result<TcpStream> {
    let mut request =
        format!("GET /sse/news HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
    if !last_event_id.is_empty() {
        request.push_str(&format!("Last-Event-ID: {last_event_id}\r\n"));
    }
    request.push_str("\r\n");
    let mut socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    socket.write_all(request.as_bytes())?;
    println!("---- request ----\n{}", escape(request.as_bytes()));
    Ok(socket)
}
// ANCHOR_END: open

/// The next chunk of the body, printed with its framing: its data and how many bytes it took on the
/// wire. `None` when the response ends or the connection closes.
fn next_chunk(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<(Vec<u8>, usize)>> {
    loop {
        match decode_chunk(buf, 1 << 20)? {
            ChunkStatus::Chunk { data, consumed } => {
                println!("---- chunk ----\n{}", escape(&buf[..consumed]));
                buf.drain(..consumed);
                return Ok(Some((data, consumed)));
            }
            ChunkStatus::Last { .. } => return Ok(None),
            ChunkStatus::Incomplete => {
                if !read_more(socket, buf)? {
                    println!("---- the server closed the connection ----\n");
                    return Ok(None);
                }
            }
        }
    }
}

/// Publishes `SCHEDULE` from a thread; returns each id with the moment it was published.
fn start_publisher(
    handle: &pushlab::server::ServerHandle,
) -> thread::JoinHandle<io::Result<Vec<(u64, Instant)>>> {
    let handle = handle.clone();
    thread::spawn(move || {
        let start = Instant::now();
        let mut sent = Vec::new();
        for (at_ms, data) in SCHEDULE {
            thread::sleep(
                (start + Duration::from_millis(at_ms)).saturating_duration_since(Instant::now()),
            );
            let at = Instant::now();
            sent.push((handle.publish("news", data)?, at));
        }
        Ok(sent)
    })
}

/// Reads the response head and prints it. Returns the bytes that came after it.
fn read_head(socket: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            println!("---- response head ----\n{}", escape(&buf[..end + 4]));
            return Ok(buf.split_off(end + 4));
        }
        if !read_more(socket, &mut buf)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// One read from the socket, appended to `buf`; false at the end of the stream.
fn read_more(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    let n = match socket.read(&mut chunk) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => 0,
        other => other?,
    };
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Shows bytes as they travel: CR as `\r`, LF as `\n` plus a real line break.
fn escape(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace('\r', "\\r")
        .replace('\n', "\\n\n")
}

/// `--addr HOST:PORT`, or 127.0.0.1 with a port the system picks.
fn addr_from_args() -> io::Result<SocketAddr> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(SocketAddr::from(([127, 0, 0, 1], 0))),
        (Some("--addr"), Some(addr)) => addr.parse().map_err(io::Error::other),
        _ => Err(io::Error::other("usage: [--addr HOST:PORT]")),
    }
}
