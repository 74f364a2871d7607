//! Chapter 6: iframe streaming, the "forever frame". A hidden HTML page that never finishes loading,
//! with one `<script>` per message.
//!
//! ```text
//! cargo run --example 06_iframe
//! cargo run --example 06_iframe -- --addr 127.0.0.1:9006
//! ```
//!
//! The example opens `GET /iframe/news?callback=onNews` by hand and prints the chunked response chunk
//! by chunk: the padded prelude, then one script per message, including a message that tries to close
//! the script and open one of its own. The server is configured to end a response after 1.5 KiB, so
//! the response ends in the middle; the example reconnects with `after` the way the page reloads its
//! frame, this time with the crate's `IframeClient` and in the other mode, `?origin=O`, where each
//! script is `parent.postMessage(OBJ, "O")` (what `pushlab.js` uses). Last, it asks for a foreign
//! origin and gets a 403.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::http;
use pushlab::client::http::{decode_chunk, ChunkStatus};
use pushlab::client::iframe::{Handoff, IframeClient, ScriptExtractor};
use pushlab::client::{json, PushEvent};
use pushlab::Config;

/// What the publisher sends, one message every 200 ms. The second and third are hostile.
const MESSAGES: [&str; 6] = [
    "hello",
    "</script><script>alert(1)</script>",
    "<!-- & \u{2028} -->",
    "story 4",
    "story 5",
    "story 6",
];

fn main() -> io::Result<()> {
    // ANCHOR: config
    let config = Config {
        addr: addr_from_args()?,
        // Small on purpose (the default is 128 KiB): the response ends after about five messages.
        max_stream_bytes: 1536,
        clock_interval: None,
        ..Config::default()
    };
    // ANCHOR_END: config
    let server = pushlab::server::spawn(config)?;
    println!("pushlab listening on http://{}/\n", server.addr);

    // ANCHOR: open
    let mut socket = TcpStream::connect(server.addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = format!(
        "GET /iframe/news?callback=onNews HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr
    );
    socket.write_all(request.as_bytes())?;
    println!("---- request ----\n{}", escape(request.as_bytes()));
    let (head_bytes, mut buf) = read_head(&mut socket)?; // prints the head
                                                         // ANCHOR_END: open

    let handle = server.handle.clone();
    let publisher = thread::spawn(move || -> io::Result<Vec<(u64, Instant)>> {
        let mut sent = Vec::new();
        for data in MESSAGES {
            thread::sleep(Duration::from_millis(200));
            let at = Instant::now();
            sent.push((handle.publish("news", data)?, at));
        }
        Ok(sent)
    });

    // ANCHOR: chunks
    // Cut the body into chunks exactly as they were sent, print each with its size line, and hand its
    // data to the client's script extractor, which finds each `<script>parent.onNews(...);</script>`.
    let mut extractor = ScriptExtractor::new("onNews");
    let mut received = Vec::new(); // (id, when it reached us)
    let (mut body_bytes, mut prelude_wire_bytes, mut message_wire_bytes, mut last) =
        (0, 0, 0, None);
    loop {
        match decode_chunk(&buf, 1 << 20)? {
            ChunkStatus::Incomplete => read_more(&mut socket, &mut buf)?,
            ChunkStatus::Chunk { data, consumed } => {
                println!("---- chunk ----\n{}", escape(&buf[..consumed]));
                body_bytes += data.len();
                let before = received.len();
                for argument in extractor.feed(&data)? {
                    if let Some(PushEvent::Message(message)) =
                        PushEvent::from_json(&json::parse(&argument).map_err(io::Error::other)?)
                    {
                        println!("     => message {}: {:?}\n", message.id, message.data);
                        received.push((message.id, Instant::now()));
                        last = Some(message.id);
                    }
                }
                if received.len() > before {
                    message_wire_bytes += consumed;
                } else {
                    prelude_wire_bytes += consumed;
                }
                buf.drain(..consumed);
            }
            ChunkStatus::Last { consumed } => {
                println!("---- last chunk ----\n{}", escape(&buf[..consumed]));
                break;
            }
        }
    }
    println!("the server ended the response after {body_bytes} body bytes (limit 1536)\n");
    let on_first_response = received.len();
    // ANCHOR_END: chunks

    // ANCHOR: reconnect
    // The page would now reload its frame with after = the last id it saw. Nothing is lost in between.
    // This time in the postMessage mode, with the page's origin (here: the server's own) as target.
    let own_origin = Handoff::PostMessage(format!("http://{}", server.addr));
    let mut client = IframeClient::connect_with(
        server.addr,
        "news",
        last,
        &own_origin,
        Duration::from_secs(5),
    )?;
    while received.len() < MESSAGES.len() {
        match client.next_event()? {
            Some(PushEvent::Message(message)) => {
                println!("reconnected, message {}: {:?}", message.id, message.data);
                received.push((message.id, Instant::now()));
            }
            Some(_) => {}
            None => break,
        }
    }
    // ANCHOR_END: reconnect

    // ANCHOR: foreign
    // A target origin the server does not know: it refuses to write it into a script.
    let foreign = pushlab::client::door_path(
        "iframe",
        "news",
        None,
        &[("origin", "https://evil.example")],
    );
    let refused = http::get(server.addr, &foreign)?;
    println!(
        "\nGET {foreign}\n  => {}",
        String::from_utf8_lossy(&refused.body).trim()
    );
    // ANCHOR_END: foreign

    let sent = publisher
        .join()
        .map_err(|_| io::Error::other("publisher panicked"))??;
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
        "HTTP requests made:  2 (the first response ended at the size limit), and 1 refused ({})",
        refused.status
    );
    println!(
        "prelude:             {} bytes before the first script",
        extractor.prelude_bytes()
    );
    println!(
        "bytes on the wire:   request {}, head {head_bytes}, prelude {prelude_wire_bytes}, then {} per message (chunk framing and script)",
        request.len(),
        message_wire_bytes / on_first_response.max(1)
    );
    println!("latency:             mean {mean:.1?}");
    Ok(())
}

/// Reads the response head and prints it. Returns its length and the bytes that came after it.
fn read_head(socket: &mut TcpStream) -> io::Result<(usize, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            println!("---- response head ----\n{}", escape(&buf[..end + 4]));
            return Ok((end + 4, buf.split_off(end + 4)));
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
