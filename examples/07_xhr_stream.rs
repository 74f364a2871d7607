//! Chapter 7: XHR streaming. One request, one response that does not end, one JSON line per message.
//!
//! ```text
//! cargo run --example 07_xhr_stream
//! cargo run --example 07_xhr_stream -- --addr 127.0.0.1:9007
//! ```
//!
//! The example opens `GET /stream/news` by hand and prints the chunked body chunk by chunk, size line
//! included: the 2 KiB padding line, one line per message, and a heartbeat when nothing happens for
//! half a second. Each chunk's data goes through `pushlab::client::stream::NdjsonDecoder`, the line
//! splitter of the crate's XHR stream client. The server is configured to end a response after 2200
//! bytes, so the stream ends by itself and the client reconnects with `after` = the last id it saw,
//! exactly what a page does in `xhr.onload`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::http::{decode_chunk, ChunkStatus};
use pushlab::client::stream::NdjsonDecoder;
use pushlab::client::PushEvent;
use pushlab::Config;

/// What the publisher sends, and the pause before each (ms). The long pause lets a heartbeat through.
const MESSAGES: [(u64, &str); 6] = [
    (200, "story 1"),
    (150, "two\nlines"),
    (900, "story 3"),
    (200, "story 4"),
    (200, "story 5"),
    (200, "story 6"),
];

fn main() -> io::Result<()> {
    // ANCHOR: config
    let config = Config {
        addr: addr_from_args()?,
        // A heartbeat line after 500 ms without a message (the default is 15 s).
        heartbeat_interval: Duration::from_millis(500),
        // End each response after 2200 bytes of body (the default is 128 KiB).
        max_stream_bytes: 2200,
        clock_interval: None,
        ..Config::default()
    };
    // ANCHOR_END: config
    let server = pushlab::server::spawn(config)?;
    println!("pushlab listening on http://{}/\n", server.addr);

    let mut publisher = None;
    let mut received = Vec::new(); // (id, when it reached us)
    let (mut requests, mut heartbeats, mut message_wire_bytes, mut padding_wire_bytes) =
        (0, 0, 0, 0);
    let mut after: Option<u64> = None; // the first request: from now
                                       // ANCHOR: reconnect
    while received.len() < MESSAGES.len() && requests < 5 {
        // Every (re)connection asks for what follows the last id seen, so nothing falls in the gap.
        let target = match after {
            Some(id) => format!("/stream/news?after={id}"),
            None => "/stream/news".to_string(),
        };
        let mut socket = TcpStream::connect(server.addr)?;
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;
        let request = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
        socket.write_all(request.as_bytes())?;
        requests += 1;
        println!(
            "==== request {requests} ====\n{}",
            escape(request.as_bytes())
        );
        let mut buf = read_head(&mut socket)?;
        // ANCHOR_END: reconnect
        if publisher.is_none() {
            publisher = Some(start_publisher(&server.handle));
        }
        // ANCHOR: chunks
        // The chunked body, one chunk at a time: "<size in hex>\r\n<data>\r\n". Each chunk's data is
        // handed to the NDJSON decoder, which cuts complete lines (a line could span chunks; here each
        // chunk happens to hold exactly one line).
        let mut decoder = NdjsonDecoder::default();
        loop {
            match decode_chunk(&buf, 1 << 20)? {
                ChunkStatus::Incomplete => read_more(&mut socket, &mut buf)?,
                ChunkStatus::Chunk { data, consumed } => {
                    println!("---- chunk ----\n{}", escape(&buf[..consumed]));
                    if padding_wire_bytes == 0 {
                        padding_wire_bytes = consumed; // the first chunk is the padding line
                    }
                    for event in decoder.feed(&data)? {
                        match event {
                            PushEvent::Message(message) => {
                                println!("     => message {}: {:?}\n", message.id, message.data);
                                received.push((message.id, Instant::now()));
                                message_wire_bytes += consumed;
                                after = Some(message.id);
                            }
                            PushEvent::Heartbeat => heartbeats += 1,
                            PushEvent::Reset { last } => after = Some(last),
                        }
                    }
                    buf.drain(..consumed);
                }
                ChunkStatus::Last { consumed } => {
                    println!(
                        "---- last chunk: the response ends ----\n{}",
                        escape(&buf[..consumed])
                    );
                    break;
                }
            }
            if received.len() == MESSAGES.len() {
                break; // all there: hang up, as a page does when it leaves
            }
        }
        // ANCHOR_END: chunks
    }

    let sent = match publisher {
        Some(handle) => handle
            .join()
            .map_err(|_| io::Error::other("publisher panicked"))??,
        None => Vec::new(),
    };
    let latencies: Vec<Duration> = received
        .iter()
        .filter_map(|(id, got)| sent.iter().find(|(s, _)| s == id).map(|(_, at)| *got - *at))
        .collect();
    let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
    println!("\n---- summary ----");
    println!(
        "messages received:   {} of {}",
        received.len(),
        MESSAGES.len()
    );
    println!(
        "HTTP requests made:  {requests} (a response ends after 2200 bytes; the client reconnects)"
    );
    println!("heartbeats:          {heartbeats}");
    println!(
        "bytes on the wire:   {} per message (chunk size line, JSON line, CRLF), after a {padding_wire_bytes}-byte padding chunk per response",
        message_wire_bytes / received.len().max(1)
    );
    println!("latency:             mean {mean:.1?}");
    Ok(())
}

/// Publishes `MESSAGES` from a thread; returns each id with the moment it was published.
fn start_publisher(
    handle: &pushlab::server::ServerHandle,
) -> thread::JoinHandle<io::Result<Vec<(u64, Instant)>>> {
    let handle = handle.clone();
    thread::spawn(move || {
        let mut sent = Vec::new();
        for (pause_ms, data) in MESSAGES {
            thread::sleep(Duration::from_millis(pause_ms));
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
        read_more(socket, &mut buf)?;
    }
}

/// One read from the socket, appended to `buf`.
fn read_more(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    let n = socket.read(&mut chunk)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Shows bytes as they travel: CR as `\r`, LF as `\n` plus a real line break, and a long run of
/// spaces (the padding) as `<N spaces>`.
fn escape(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes)
        .replace('\r', "\\r")
        .replace('\n', "\\n\n");
    let mut shown = String::new();
    let mut spaces = 0;
    for c in text.chars().chain(['\0']) {
        if c == ' ' {
            spaces += 1;
            continue;
        }
        match spaces {
            0..=8 => shown.push_str(&" ".repeat(spaces)),
            _ => shown.push_str(&format!("<{spaces} spaces>")),
        }
        spaces = 0;
        if c != '\0' {
            shown.push(c);
        }
    }
    shown
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
