//! Chapter 1: raw HTTP. A tiny blocking server that shows every byte a client sends, and answers
//! with a response written out by hand.
//!
//! ```text
//! cargo run --example 01_raw_http                 # listens on 127.0.0.1:8081, stops after 5 requests
//! cargo run --example 01_raw_http -- --addr 127.0.0.1:9000 --requests 2
//! curl -v http://127.0.0.1:8081/hello             # in another terminal, or open it in a browser
//! curl --raw http://127.0.0.1:8081/chunked        # the same words, sent as chunks
//! ```
//!
//! No library is used for HTTP here, on purpose: this is what pushlab's `http` module automates.
//! One connection carries one request (the answer says `Connection: close`), which keeps the loop short.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// Largest request head this example reads; a real server answers 431 past its limit.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest body this example reads; a real server answers 413 past its limit.
const MAX_BODY_BYTES: usize = 64 * 1024;

fn main() -> io::Result<()> {
    let (addr, max_requests) = parse_args()?;
    let listener = TcpListener::bind(addr)?;
    println!(
        "listening on http://{}/ ; will stop after {max_requests} requests",
        listener.local_addr()?
    );
    let mut served = 0;
    while served < max_requests {
        let (mut stream, peer) = listener.accept()?;
        // A browser may open a connection "just in case" and never use it: don't wait forever.
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        match serve_one(&mut stream) {
            Ok(true) => served += 1,
            Ok(false) => println!("(connection from {peer} closed without a request)\n"),
            Err(error) => println!("(connection from {peer} failed: {error})\n"),
        }
    }
    println!("served {served} requests, bye");
    Ok(())
}

/// Reads one request, prints it, answers it. Returns whether there was a request at all.
fn serve_one(stream: &mut TcpStream) -> io::Result<bool> {
    let Some((head, body)) = read_request(stream)? else {
        return Ok(false);
    };
    println!("---- {} bytes received ----", head.len() + body.len());
    println!("{}{}", escape(&head), escape(&body));
    let request_line =
        String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or_default());
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let mut response = Vec::new();
    if path == "/chunked" {
        write_chunked_response(&mut response);
    } else {
        write_response(&mut response, &request_line);
    }
    println!("---- {} bytes sent ----", response.len());
    println!("{}\n", escape(&response));
    stream.write_all(&response)?;
    Ok(true)
}

// ANCHOR: read_head
/// Reads bytes until the blank line that ends the head, then the body that `Content-Length` announces.
/// Returns `None` when the client closed the connection without sending anything.
fn read_request(stream: &mut TcpStream) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    // The head ends with an empty line: the four bytes \r\n\r\n.
    let head_end = loop {
        if let Some(pos) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if received.len() > MAX_HEAD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            // The read timeout: a connection opened but never used counts as closed.
            Err(e) if is_timeout(&e) => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return if received.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed in the middle of a head",
                ))
            };
        }
        received.extend_from_slice(&buf[..n]);
    };
    let body_bytes = content_length(&received[..head_end]);
    // ANCHOR_END: read_head
    // ANCHOR: read_body
    // Whatever came after the blank line already belongs to the body; read the rest of it.
    if body_bytes > MAX_BODY_BYTES {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
    }
    while received.len() < head_end + body_bytes {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed in the middle of a body",
            ));
        }
        received.extend_from_slice(&buf[..n]);
    }
    received.truncate(head_end + body_bytes);
    let body = received.split_off(head_end);
    Ok(Some((received, body)))
    // ANCHOR_END: read_body
}

/// Whether a read failed only because the read timeout passed.
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

// ANCHOR: content_length
/// The value of the `Content-Length` header, or 0. Field names ignore case: `content-length` is the same
/// field. (pushlab's parser also refuses bad or conflicting values; this one only reads.)
fn content_length(head: &[u8]) -> usize {
    let text = String::from_utf8_lossy(head);
    text.split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}
// ANCHOR_END: content_length

// ANCHOR: response
/// Writes a complete response by hand.
fn write_response(out: &mut Vec<u8>, request_line: &str) {
    let body = format!("Hello from pushlab!\nYou asked for: {request_line}\n");
    // The status line: version, status code, reason phrase, then CR LF (13 10).
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    // Headers, one per line, "Name: value" then CR LF.
    // What the body is, so the browser knows to show it as text.
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    // How many bytes of body follow the blank line: this is how the client knows where it ends.
    out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    // We close the connection after this response, and say so.
    out.extend_from_slice(b"Connection: close\r\n");
    // The blank line: CR LF on its own ends the head.
    out.extend_from_slice(b"\r\n");
    // The body: exactly Content-Length bytes, nothing after it.
    out.extend_from_slice(body.as_bytes());
}
// ANCHOR_END: response

// ANCHOR: chunked
/// Writes a response whose length is not announced: the body is sent as chunks, each prefixed by its
/// size in hexadecimal, and a chunk of size 0 ends it. This is how a server streams.
fn write_chunked_response(out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    // Instead of Content-Length: the body comes in chunks.
    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    out.extend_from_slice(b"Connection: close\r\n");
    out.extend_from_slice(b"\r\n");
    for part in ["Hello ", "in ", "three chunks!\n"] {
        // Size in hex, CR LF, the bytes, CR LF. "three chunks!\n" is 14 bytes: "e".
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // The last chunk: size 0, then the empty line that ends the (empty) trailer section.
    out.extend_from_slice(b"0\r\n\r\n");
}
// ANCHOR_END: chunked

// ANCHOR: escape
/// Shows bytes the way they travel: CR as `\r`, LF as `\n` (followed by a real line break so the
/// output stays readable), and any other invisible byte as `\xNN`.
fn escape(bytes: &[u8]) -> String {
    let mut shown = String::new();
    for &byte in bytes {
        match byte {
            b'\r' => shown.push_str("\\r"),
            b'\n' => shown.push_str("\\n\n"),
            b' '..=b'~' => shown.push(char::from(byte)),
            _ => shown.push_str(&format!("\\x{byte:02x}")),
        }
    }
    shown
}
// ANCHOR_END: escape

/// `--addr HOST:PORT` (default 127.0.0.1:8081) and `--requests N` (default 5).
fn parse_args() -> io::Result<(SocketAddr, usize)> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 8081));
    let mut max_requests = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| invalid("missing value after an option"))?;
        match arg.as_str() {
            "--addr" => {
                addr = value
                    .parse()
                    .map_err(|_| invalid("--addr expects HOST:PORT"))?
            }
            "--requests" => {
                max_requests = value
                    .parse()
                    .map_err(|_| invalid("--requests expects a number"))?
            }
            _ => {
                return Err(invalid(
                    "usage: 01_raw_http [--addr HOST:PORT] [--requests N]",
                ))
            }
        }
    }
    Ok((addr, max_requests))
}
