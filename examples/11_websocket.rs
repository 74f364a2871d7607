//! Chapter 11: WebSocket, the one door that is a real two-way channel.
//!
//! ```text
//! cargo run --example 11_websocket
//! cargo run --example 11_websocket -- --addr 127.0.0.1:9011
//! ```
//!
//! Four short scenes against one in-process server:
//! 1. `/ws/echo` by hand: the opening handshake (`101 Switching Protocols`), a masked "Hello" frame from
//!    the client, the unmasked echo, and the close handshake, every byte printed in hex.
//! 2. The same handshake from a page on another site (`Origin: http://evil.example`): refused with 403.
//! 3. A topic socket with the crate's client, `pushlab::client::ws::Client`, on `/ws/news?after=0`: the
//!    replay of the log, two live messages, and a message published by sending a text frame.
//! 4. The channel API's private echo: a session opened by `POST /channel/echo`, then its private
//!    queue `session-<id>` over WebSocket. What the socket sends goes to the application, whose answer
//!    comes back to this client only.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::ws::Client;
use pushlab::client::{http, json, poll};
use pushlab::ws::frame::{decode_header, encode_frame, encode_header, Opcode};
use pushlab::ws::handshake::accept_key;
use pushlab::ws::Event;
use pushlab::Config;

/// The sample nonce of RFC 6455 §1.3, so the accept value can be checked by eye against the RFC. A real
/// client sends 16 fresh random bytes, base64-encoded, every time (§4.1); `client::ws` does.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn main() -> io::Result<()> {
    let config = Config {
        addr: addr_from_args()?,
        clock_interval: None,
        ..Config::default()
    };
    let server = pushlab::server::spawn(config)?;
    println!("pushlab listening on http://{}/\n", server.addr);

    // ANCHOR: handshake
    // Scene 1. An HTTP GET that asks to switch protocols. From the 101 on, the connection carries frames.
    let mut socket = TcpStream::connect(server.addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    let request = format!(
        "GET /ws/echo HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    socket.write_all(request.as_bytes())?;
    let (head, mut buf) = read_head(&mut socket)?;
    println!("---- request ----\n{}", escape(request.as_bytes()));
    println!("---- response ----\n{}", escape(&head));
    // §4.2.2: the accept value is base64(SHA-1(key + the protocol's GUID)): proof the server read our key.
    println!("expected Sec-WebSocket-Accept: {}\n", accept_key(KEY));
    // ANCHOR_END: handshake

    // ANCHOR: echo
    // A client MUST mask every frame (§5.3), with a new 4-byte key per frame. This is the key of the
    // RFC's own example (§5.7), so the bytes below are the RFC's bytes.
    let mut frame = Vec::new();
    encode_frame(
        true,
        Opcode::Text,
        b"Hello",
        Some([0x37, 0xfa, 0x21, 0x3d]),
        &mut frame,
    );
    socket.write_all(&frame)?;
    println!("client -> server, masked text \"Hello\": {}", hex(&frame));
    // A server MUST NOT mask (§5.1): the payload is readable as it is.
    let (opcode, payload, wire) = read_frame(&mut socket, &mut buf)?;
    println!(
        "server -> client, {opcode:?} {:?}, unmasked: {}",
        String::from_utf8_lossy(&payload),
        hex(&wire)
    );
    // ANCHOR_END: echo

    // ANCHOR: close
    // The close handshake (§5.5.1): a close frame with code 1000 (two bytes, big-endian), answered by
    // the server's own close frame; then the server closes TCP first (§7.1.1).
    let mut frame = Vec::new();
    encode_frame(
        true,
        Opcode::Close,
        &1000u16.to_be_bytes(),
        Some([1, 2, 3, 4]),
        &mut frame,
    );
    socket.write_all(&frame)?;
    println!("client -> server, close 1000: {}", hex(&frame));
    let (opcode, payload, wire) = read_frame(&mut socket, &mut buf)?;
    let code = payload // the close code: the first two bytes of the payload, big-endian
        .get(..2)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_be_bytes);
    println!("server -> client, {opcode:?} {code:?}: {}", hex(&wire));
    println!(
        "then the server closed TCP: read returned {} bytes\n",
        socket.read(&mut [0u8; 16])?
    );
    // ANCHOR_END: close

    // ANCHOR: origin
    // Scene 2. Browsers send cookies with a WebSocket handshake from any site, so the server checks
    // Origin (§10.2): a page on another site is refused, or it could talk to us as the user.
    let mut socket = TcpStream::connect(server.addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    let hijack = request.replace("\r\n\r\n", "\r\nOrigin: http://evil.example\r\n\r\n");
    socket.write_all(hijack.as_bytes())?;
    let (head, _) = read_head(&mut socket)?;
    let status_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    println!("with Origin: http://evil.example -> {status_line}\n");
    // ANCHOR_END: origin

    // ANCHOR: topic
    // Scene 3. A topic socket. after=0 replays the log first, then live messages follow on the same
    // socket, each a text frame holding {"id":..,"data":..}.
    for n in 1..=3 {
        server.publish("news", &format!("story {n}"))?;
    }
    let mut client = Client::connect(server.addr, "/ws/news?after=0")?;
    let handle = server.handle.clone();
    let publisher = thread::spawn(move || -> io::Result<Vec<(u64, Instant)>> {
        let mut sent = Vec::new();
        for n in 4..=5 {
            thread::sleep(Duration::from_millis(200));
            let at = Instant::now();
            sent.push((handle.publish("news", &format!("story {n}"))?, at));
        }
        Ok(sent)
    });
    let mut received = Vec::new(); // (text, when it reached us)
    while received.len() < 5 {
        if let Event::Text(text) = client.recv()? {
            println!("topic socket got: {text}");
            received.push((text, Instant::now()));
        }
    }
    // Upstream on the same connection: a text frame from the client is published to the topic, and
    // comes back to every subscriber, this socket included.
    let sending = Instant::now();
    client.send_text("typed into the socket")?;
    let echo = loop {
        if let Event::Text(text) = client.recv()? {
            break text;
        }
    };
    let round_trip = sending.elapsed();
    println!("sent a text frame, the topic got: {echo} (round trip {round_trip:.1?})\n");
    client.close_normal()?;
    // ANCHOR_END: topic

    // ANCHOR: channel
    // Scene 4. The channel API: open a session of the `echo` application over HTTP...
    let opened = http::post(server.addr, "/channel/echo", b"")?;
    let session = json::parse(opened.text()?).map_err(io::Error::other)?;
    let topic = session.get("topic").and_then(|t| t.as_str()).unwrap_or("");
    println!("POST /channel/echo -> {}", opened.text()?);
    // ...then reach its private queue through the WebSocket door. On a session socket a text frame goes
    // to the application (here: send it back to this client alone) instead of being published.
    let mut private = Client::connect(server.addr, &format!("/ws/{topic}"))?;
    private.send_text("only for me")?;
    if let Event::Text(text) = private.recv()? {
        println!("private echo: {text}");
    }
    private.close_normal()?;
    // The private queue is a topic like any other: every door can read it, for example a short poll.
    let queue = poll::short_poll(server.addr, topic, Some(0))?;
    println!("the same queue by short poll: {:?}\n", queue.messages);
    // ANCHOR_END: channel

    let sent = publisher
        .join()
        .map_err(|_| io::Error::other("publisher panicked"))??;
    let latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(id, at)| {
            let (_, got) = received
                .iter()
                .find(|(text, _)| text.contains(&format!("\"id\":{id},")))?;
            Some(*got - *at)
        })
        .collect();
    let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
    // What one message costs on the wire: the frame header the crate's encoder writes for this payload
    // length (2 bytes up to 125 bytes, §5.2) plus the JSON. Server frames carry no mask.
    let text = received
        .last()
        .map(|(text, _)| text.as_str())
        .unwrap_or_default();
    let mut header = Vec::new();
    encode_header(true, Opcode::Text, text.len(), None, &mut header);
    println!("---- summary ----");
    println!(
        "messages received:   {} on the topic socket (3 replayed, 2 live), 1 published by a frame",
        received.len()
    );
    println!("HTTP requests made:  1 per socket (the upgrade); none per message");
    println!(
        "bytes on the wire:   {} per message: a {}-byte frame header + {} bytes of JSON (client frames add a 4-byte mask)",
        header.len() + text.len(),
        header.len(),
        text.len()
    );
    println!("latency:             mean {mean:.1?} (live messages); upstream round trip {round_trip:.1?}");
    Ok(())
}

// ANCHOR: read_frame
/// Reads one whole frame: decodes the header with the crate's sans-IO decoder (which says "need more
/// bytes" until the header is complete), then waits for the payload. Returns the opcode, the payload
/// and the frame's exact bytes.
fn read_frame(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<(Opcode, Vec<u8>, Vec<u8>)> {
    loop {
        if let Some((header, header_len)) = decode_header(buf).map_err(io::Error::other)? {
            let total = header_len + header.payload_len as usize;
            if buf.len() >= total {
                let wire: Vec<u8> = buf.drain(..total).collect();
                let payload = wire[header_len..].to_vec(); // a server's frame is never masked
                return Ok((header.opcode, payload, wire));
            }
        }
        read_more(socket, buf)?;
    }
}
// ANCHOR_END: read_frame

/// Reads until the blank line that ends the response head. Returns the head and the bytes after it
/// (a server may send its first frame in the same packet as its 101).
fn read_head(socket: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
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

/// Bytes in hex, the way frames are usually shown: `81 05 48 65 6c 6c 6f`.
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
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
