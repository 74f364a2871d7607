//! Chapter 13: security. Each attack on a push server, sent as raw bytes, and the answer that stops it.
//!
//! ```text
//! cargo run --example 13_security                        # a server on 127.0.0.1 and a free port
//! cargo run --example 13_security -- --addr 127.0.0.1:9013
//! ```
//!
//! The example starts a pushlab server in this process with small per-client limits (so that a flood
//! and a connection hog are refused after a handful of requests, not after hundreds) and a one-second
//! request timeout (so that the slowloris client is cut off quickly). Then it plays the attacker: every
//! request is written by hand on its own TCP connection, and the first line of each answer is printed.
//! It ends with a table: attack, what the server answered, and what was expected.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use pushlab::Config;

/// The attacker's site, as its pages' `Origin` says.
const EVIL: &str = "https://evil.example";

fn main() -> io::Result<()> {
    let config = Config {
        addr: addr_from_args()?,
        clock_interval: None,
        header_timeout: Duration::from_secs(1),
        max_connections_per_ip: 4,
        publish_rate_per_ip: 1,
        publish_burst_per_ip: 3,
        ..Config::default()
    };
    let server = pushlab::server::spawn(config)?;
    let addr = server.addr;
    println!("pushlab listening on http://{addr}/\n");
    let mut results = Vec::new();

    // ANCHOR: csrf
    // A page on evil.example makes the visitor's browser POST to the server on 127.0.0.1. A
    // `text/plain` POST is a "simple request": the browser sends it without asking (no preflight), and
    // attaches `Origin`, which no script can forge.
    let forged = format!(
        "POST /publish/chat HTTP/1.1\r\nHost: {addr}\r\nOrigin: {EVIL}\r\n\
         Content-Type: text/plain\r\nContent-Length: 6\r\n\r\nforged"
    );
    results.push(attack("cross-site publish (CSRF)", addr, &forged, 403)?);
    // ANCHOR_END: csrf
    let metadata = format!(
        "POST /channel/echo HTTP/1.1\r\nHost: {addr}\r\nSec-Fetch-Site: cross-site\r\n\
         Content-Length: 0\r\n\r\n"
    );
    results.push(attack("cross-site channel POST", addr, &metadata, 403)?);
    let own_page = format!(
        "POST /publish/chat HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Sec-Fetch-Site: same-origin\r\nContent-Length: 5\r\n\r\nhello"
    );
    results.push(attack(
        "the server's own page publishes",
        addr,
        &own_page,
        200,
    )?);

    // ANCHOR: rebinding
    // The attacker's name now resolves to 127.0.0.1: for the browser, the page and the server are the
    // same origin, so Origin alone cannot tell. The name in Host can.
    let port = addr.port();
    let rebound = format!(
        "GET /poll/chat?after=0 HTTP/1.1\r\nHost: evil.example:{port}\r\n\
         Origin: http://evil.example:{port}\r\n\r\n"
    );
    results.push(attack("DNS rebinding", addr, &rebound, 421)?);
    // ANCHOR_END: rebinding

    let hijack = format!(
        "GET /ws/chat HTTP/1.1\r\nHost: {addr}\r\nOrigin: {EVIL}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    results.push(attack(
        "cross-site WebSocket hijacking",
        addr,
        &hijack,
        403,
    )?);

    let unsafe_callback = format!(
        "GET /jsonp/chat?callback=alert(document.cookie)// HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    );
    results.push(attack(
        "JSONP callback injection",
        addr,
        &unsafe_callback,
        400,
    )?);

    // ANCHOR: smuggling
    // Two lengths: a proxy that believes Content-Length and a server that believes chunked would
    // disagree on where this request ends, and the rest would become a second, hidden request.
    let smuggled = format!(
        "POST /publish/chat HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 44\r\n\
         Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /poll/chat HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    results.push(attack("request smuggling (CL + TE)", addr, &smuggled, 400)?);
    // ANCHOR_END: smuggling

    results.push(slowloris(addr)?);
    results.push(flood(addr)?);
    results.push(connection_hog(addr)?);

    println!("\n---- summary ----");
    println!("{:<34} {:<40} expected", "attack", "answer");
    let mut all_as_expected = true;
    for (name, answer, expected, ok) in &results {
        all_as_expected &= ok;
        println!("{name:<34} {answer:<40} {expected}");
    }
    println!(
        "\nevery attack refused as expected: {}",
        if all_as_expected { "yes" } else { "NO" }
    );
    if all_as_expected {
        Ok(())
    } else {
        Err(io::Error::other("an attack got an unexpected answer"))
    }
}

/// What one attack got: its name, the answer's status line, the expected status, and whether they match.
type Outcome = (String, String, u16, bool);

/// Sends `request` on a new connection and reads the first line of the answer.
fn attack(name: &str, addr: SocketAddr, request: &str, expected: u16) -> io::Result<Outcome> {
    let mut socket = connect(addr)?;
    socket.write_all(request.as_bytes())?;
    let status_line = first_line(&mut socket)?;
    println!("{name}:\n  > {}\n  < {status_line}", request_line(request));
    Ok(outcome(name, status_line, expected))
}

// ANCHOR: slowloris
/// Slowloris: open a request and never finish it, to hold a connection (and its buffers) forever.
/// The request must be complete within `header_timeout`, or the answer is 408 and the connection closes.
fn slowloris(addr: SocketAddr) -> io::Result<Outcome> {
    let mut socket = connect(addr)?;
    socket.write_all(b"GET /poll/chat HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")?;
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(400));
        // One byte at a time, never the blank line that ends the head.
        if socket.write_all(b"a").is_err() {
            break;
        }
    }
    let status_line = first_line(&mut socket)?;
    println!(
        "slowloris (a head that never ends):\n  > one header byte every 400 ms\n  < {status_line}"
    );
    Ok(outcome("slowloris", status_line, 408))
}
// ANCHOR_END: slowloris

/// A flood from one address: the publish bucket holds 3 and refills at 1 a second.
fn flood(addr: SocketAddr) -> io::Result<Outcome> {
    let mut last = String::new();
    for n in 1..=5 {
        let request = format!(
            "POST /publish/flood HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\n{}",
            n % 10
        );
        let mut socket = connect(addr)?;
        socket.write_all(request.as_bytes())?;
        last = first_line(&mut socket)?;
        println!("flood, publish {n}:\n  < {last}");
    }
    Ok(outcome("publish flood (5 at once, burst 3)", last, 429))
}

/// One address opening more connections than it may hold (4 here; 1,024 by default).
fn connection_hog(addr: SocketAddr) -> io::Result<Outcome> {
    let held: Vec<TcpStream> = (0..4).map(|_| connect(addr)).collect::<io::Result<_>>()?;
    // Make sure the four are accepted before the fifth knocks.
    for mut socket in held
        .iter()
        .map(TcpStream::try_clone)
        .collect::<io::Result<Vec<_>>>()?
    {
        socket.write_all(b"GET /poll/x HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
        first_line(&mut socket)?;
    }
    let mut fifth = connect(addr)?;
    let status_line = first_line(&mut fifth)?;
    println!("connection hog, fifth connection:\n  < {status_line}");
    drop(held);
    Ok(outcome("one address, a fifth connection", status_line, 503))
}

fn outcome(name: &str, status_line: String, expected: u16) -> Outcome {
    let ok = status_line
        .split(' ')
        .nth(1)
        .is_some_and(|code| code == expected.to_string());
    (name.to_string(), status_line, expected, ok)
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(socket)
}

/// The request's first line, for the printout.
fn request_line(request: &str) -> &str {
    request.split("\r\n").next().unwrap_or(request)
}

/// Reads up to the end of the first line of the answer (the status line).
fn first_line(socket: &mut TcpStream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if socket.read(&mut byte)? == 0 {
            break;
        }
        line.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
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
