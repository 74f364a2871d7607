//! Example 10: WebSocket frames, field by field (RFC 6455 §5.2).
//!
//! ```text
//! cargo run --example 10_ws_frames                     # the RFC's example frames and a browser's
//! cargo run --example 10_ws_frames -- --listen [PORT]  # one connection on 127.0.0.1:PORT (9001),
//!                                                      # printing every frame the client sends
//! cargo run --example 10_ws_frames -- --listen 0       # the same on a free port the system picks
//! ```
//!
//! The first line `--listen` prints is the address it really listens on (`listening on
//! ws://127.0.0.1:PORT/`), so a test can start it on port 0 and read the port from there
//! (`tests/ch10_listen.rs` does, with Chromium running the chapter's page).
//!
//! With `--listen`, open the printed address from a browser console:
//! `ws = new WebSocket("ws://127.0.0.1:9001/"); ws.onopen = () => ws.send("Hello")`.
//! Text and binary messages are echoed, so `ws.onmessage` sees them come back.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use pushlab::http::request::Header;
use pushlab::http::Request;
use pushlab::ws::frame::{apply_mask, decode_header, Opcode};
use pushlab::ws::handshake::{check_upgrade, switching_protocols};
use pushlab::ws::{Event, Role, WsConfig, WsProtocol};

// ANCHOR: rfc_frames
/// The example frames of RFC 6455 §5.7.
const RFC_FRAMES: &[(&str, &[u8])] = &[
    (
        "a single-frame unmasked text message",
        &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
    ),
    (
        "a single-frame masked text message",
        &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    ),
    (
        "a fragmented unmasked text message, first fragment",
        &[0x01, 0x03, 0x48, 0x65, 0x6c],
    ),
    ("... and its final fragment", &[0x80, 0x02, 0x6c, 0x6f]),
    (
        "an unmasked ping",
        &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
    ),
    (
        "the masked pong answering it",
        &[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    ),
    (
        "the header of a 256-byte binary message",
        &[0x82, 0x7E, 0x01, 0x00],
    ),
    (
        "the header of a 64 KiB binary message",
        &[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00],
    ),
];
// ANCHOR_END: rfc_frames

// ANCHOR: browser_frames
/// Frames Chromium sent to `--listen` (from the page in the tutorial), as they crossed the wire. Each
/// has a fresh random masking key (§5.3).
const BROWSER_FRAMES: &[(&str, &[u8])] = &[
    (
        "browser: ws.send(\"Hello\")",
        &[
            0x81, 0x85, 0x16, 0x85, 0x1c, 0x16, 0x5e, 0xe0, 0x70, 0x7a, 0x79,
        ],
    ),
    (
        "browser: ws.send(new Uint8Array([1, 2, 3, 255]))",
        &[0x82, 0x84, 0xaf, 0x51, 0x34, 0x1e, 0xae, 0x53, 0x37, 0xe1],
    ),
    (
        "browser: ws.send(\"κόσμε\")",
        &[
            0x81, 0x8a, 0xc3, 0xa6, 0x39, 0x74, 0x0d, 0x1c, 0xf6, 0xf8, 0x0c, 0x25, 0xf7, 0xc8,
            0x0d, 0x13,
        ],
    ),
    // 126 times "x": one byte too many for the 7-bit length. The masked payload repeats every 4 bytes
    // because the text does: masking hides nothing from the reader, it only stops a page from choosing
    // the bytes on the wire.
    (
        "browser: ws.send(\"x\".repeat(126))",
        &[
            0x81, 0xfe, 0x00, 0x7e, 0x25, 0x8a, 0xe0, 0x4d, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2,
            0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35,
            0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2,
            0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35,
            0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2,
            0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35,
            0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2,
            0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35,
            0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2,
            0x98, 0x35, 0x5d, 0xf2, 0x98, 0x35, 0x5d, 0xf2,
        ],
    ),
    (
        "browser: ws.close(1000, \"bye\")",
        &[
            0x88, 0x85, 0x2c, 0xb0, 0x7e, 0x60, 0x2f, 0x58, 0x1c, 0x19, 0x49,
        ],
    ),
];
// ANCHOR_END: browser_frames

fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let more = if bytes.len() > 16 {
        format!(" ... ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    shown.join(" ") + &more
}

fn opcode_name(bits: u8) -> &'static str {
    match Opcode::from_bits(bits) {
        Some(Opcode::Continuation) => "continuation",
        Some(Opcode::Text) => "text",
        Some(Opcode::Binary) => "binary",
        Some(Opcode::Close) => "close",
        Some(Opcode::Ping) => "ping",
        Some(Opcode::Pong) => "pong",
        None => "reserved",
    }
}

// ANCHOR: describe
/// Prints every field of the frame at the start of `bytes`; returns its length, or `None` if the
/// frame is not whole yet (or breaks a rule, which is printed).
fn describe(bytes: &[u8]) -> Option<usize> {
    let (header, header_len) = match decode_header(bytes) {
        Ok(Some(decoded)) => decoded,
        Ok(None) => return None,
        Err(error) => {
            println!("  invalid header: {error}");
            return None;
        }
    };
    let payload_len = usize::try_from(header.payload_len).ok()?;
    let frame = bytes.get(..header_len.checked_add(payload_len)?)?;
    let (first, second) = (frame[0], frame[1]);
    println!("  byte 0 = {first:#04x} = {first:08b}");
    println!(
        "    FIN    = {}      (1: last frame of its message)",
        first >> 7
    );
    println!(
        "    RSV1-3 = {} {} {}  (0 without an extension)",
        first >> 6 & 1,
        first >> 5 & 1,
        first >> 4 & 1
    );
    println!(
        "    opcode = {:#x}    ({})",
        first & 0x0F,
        opcode_name(first & 0x0F)
    );
    println!("  byte 1 = {second:#04x} = {second:08b}");
    println!("    MASK   = {:<6} (1: sent by a client)", second >> 7);
    let length_form = match second & 0x7F {
        126 => "126: the length is in the next 2 bytes",
        127 => "127: the length is in the next 8 bytes",
        _ => "the length itself",
    };
    println!("    len7   = {:<6} ({length_form})", second & 0x7F);
    println!("  payload length = {payload_len} bytes");
    let masked_payload = &frame[header_len..];
    let mut payload = masked_payload.to_vec();
    if let Some(key) = header.mask {
        println!("  masking key    = {}", hex(&key));
        println!("  payload (wire) = {}", hex(masked_payload));
        apply_mask(&mut payload, key, 0);
    }
    println!("  payload        = {}", hex(&payload));
    describe_payload(header.opcode, &payload);
    Some(frame.len())
}

/// What the payload means for its opcode.
fn describe_payload(opcode: Opcode, payload: &[u8]) {
    match opcode {
        Opcode::Text | Opcode::Continuation | Opcode::Ping | Opcode::Pong => {
            if let Ok(text) = std::str::from_utf8(payload) {
                let shown: String = text.chars().take(40).collect();
                let more = if shown.len() < text.len() { "..." } else { "" };
                println!("  as text        = {shown:?}{more}");
            }
        }
        Opcode::Close => match payload {
            [high, low, reason @ ..] => println!(
                "  close code     = {}, reason {:?}",
                u16::from_be_bytes([*high, *low]),
                String::from_utf8_lossy(reason)
            ),
            _ => println!("  close without a code"),
        },
        Opcode::Binary => {}
    }
}
// ANCHOR_END: describe

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--listen") {
        let port: u16 = args
            .get(1)
            .and_then(|port| port.parse().ok())
            .unwrap_or(9001);
        return listen(port);
    }
    for (title, bytes) in RFC_FRAMES.iter().chain(BROWSER_FRAMES) {
        println!("{title}: {}", hex(bytes));
        // Headers alone (the long RFC examples) are described from their header.
        if describe(bytes).is_none() {
            if let Ok(Some((header, header_len))) = decode_header(bytes) {
                let opcode = header.opcode;
                println!(
                    "  header of {header_len} bytes: FIN {}, {opcode:?}, {} payload bytes follow",
                    header.fin, header.payload_len
                );
            }
        }
        println!();
    }
    Ok(())
}

// ANCHOR: listen
/// Accepts one connection, does the handshake, then prints every frame the client sends.
fn listen(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on ws://{}/", listener.local_addr()?);
    let (mut stream, peer) = listener.accept()?;
    println!("connection from {peer}");
    let mut input = Vec::new();
    let request = read_request(&mut stream, &mut input)?;
    // This teaching listener lets a page from any origin in (a browser console runs on some page);
    // the real server only allows its own origin and the configured ones.
    let origin = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("Origin"));
    let allowed_origins = origin
        .map(|h| String::from_utf8_lossy(&h.value).into_owned())
        .into_iter()
        .collect();
    let config = WsConfig {
        allowed_origins,
        ..WsConfig::default()
    };
    let upgrade = match check_upgrade(&request, &config) {
        Ok(upgrade) => upgrade,
        Err(refusal) => {
            println!(
                "refused: {} {}",
                refusal.status,
                String::from_utf8_lossy(&refusal.body)
            );
            return Ok(());
        }
    };
    let mut head = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (name, value) in &switching_protocols(&upgrade).headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    stream.write_all(format!("{head}\r\n").as_bytes())?;
    print!("{head}");
    let mut protocol = WsProtocol::new(Role::Server, &config, Instant::now());
    let mut printed = 0; // bytes of `input` already described
    let mut chunk = [0u8; 16 * 1024];
    loop {
        while let Some(frame_len) = input.get(printed..).and_then(describe_first) {
            printed += frame_len;
        }
        if answer(&mut protocol, &mut input, &mut printed, &mut stream)? {
            return Ok(());
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            println!("client closed TCP");
            return Ok(());
        }
        input.extend_from_slice(&chunk[..read]);
    }
}

/// Describes the frame at the start of `bytes` with its raw bytes.
fn describe_first(bytes: &[u8]) -> Option<usize> {
    let (header, header_len) = decode_header(bytes).ok()??;
    let frame_len = header_len + usize::try_from(header.payload_len).ok()?;
    println!("\nframe from the client: {}", hex(bytes.get(..frame_len)?));
    describe(bytes)
}

/// Lets the protocol answer (pong, echo, close); returns true once the connection is closed.
fn answer(
    protocol: &mut WsProtocol,
    input: &mut Vec<u8>,
    printed: &mut usize,
    stream: &mut TcpStream,
) -> std::io::Result<bool> {
    let mut out = Vec::new();
    loop {
        // Only whole frames that were already described go to the protocol.
        match protocol.read(&input[..*printed], &mut out, Instant::now()) {
            Ok(outcome) => {
                input.drain(..outcome.consumed);
                *printed -= outcome.consumed;
                match outcome.event {
                    Some(Event::Text(text)) => protocol.send_text(&text, &mut out),
                    Some(Event::Binary(data)) => protocol.send_binary(&data, &mut out),
                    Some(_) => {}
                    None if outcome.consumed == 0 => break,
                    None => {}
                }
            }
            Err(error) => {
                println!("protocol error, closing: {error}");
                break;
            }
        }
    }
    stream.write_all(&out)?;
    Ok(protocol.is_closed())
}
// ANCHOR_END: listen

/// Reads the upgrade request head (httparse does the parsing; frames may follow it in `rest`).
fn read_request(stream: &mut TcpStream, rest: &mut Vec<u8>) -> std::io::Result<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head_len)) = parsed.parse(&buffer) {
            let target = parsed.path.unwrap_or("/");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let request = Request {
                method: parsed.method.unwrap_or("").to_string(),
                path: path.to_string(),
                query: query.to_string(),
                version: parsed.version.unwrap_or(0),
                headers: parsed
                    .headers
                    .iter()
                    .map(|h| Header {
                        name: h.name.to_string(),
                        value: h.value.to_vec(),
                    })
                    .collect(),
                body: Vec::new(),
            };
            rest.extend_from_slice(&buffer[head_len..]);
            println!("{} {} HTTP/1.{}", request.method, target, request.version);
            for header in &request.headers {
                println!(
                    "{}: {}",
                    header.name,
                    String::from_utf8_lossy(&header.value)
                );
            }
            return Ok(request);
        }
        let read = stream.read(&mut chunk)?;
        if read == 0 || buffer.len() > 64 * 1024 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no complete request head",
            ));
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}
