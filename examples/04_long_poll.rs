//! Chapter 4: long polling. Ask, and the server answers only when it has something, or when the hold
//! timeout passes; then ask again at once.
//!
//! ```text
//! cargo run --example 04_long_poll
//! cargo run --example 04_long_poll -- --addr 127.0.0.1:9004
//! ```
//!
//! The example starts a pushlab server with a hold of one second (the default is 20 s), shows a long
//! poll that nobody answers until the hold runs out, then publishes five messages from a thread while
//! the client keeps exactly one `GET /longpoll/news?after=N` waiting at the server. The requests are
//! written by hand on one kept-alive connection so that every byte can be printed; the answers are
//! decoded by `pushlab::client::poll::parse_batch`, the code of the crate's long-poll client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::poll::{self, Batch};
use pushlab::Config;

/// How long the server holds a poll that has nothing to answer (pushlab's default is 20 s).
const HOLD: Duration = Duration::from_secs(1);
/// Pauses between published messages, in milliseconds. Story 3 follows story 2 at once, while the
/// client is between two requests: it is not lost, the next poll asks for what follows story 2 and is
/// answered without waiting.
const PUBLISH_GAPS_MS: [u64; 5] = [300, 450, 0, 600, 350];
const MESSAGES: usize = PUBLISH_GAPS_MS.len();

fn main() -> io::Result<()> {
    // ANCHOR: config
    let config = Config {
        addr: addr_from_args()?,
        hold_timeout: HOLD,
        clock_interval: None, // no `clock` topic: keep the wire quiet
        ..Config::default()
    };
    // ANCHOR_END: config
    let server = pushlab::server::spawn(config)?;
    println!("pushlab listening on http://{}/\n", server.addr);
    let mut socket = TcpStream::connect(server.addr)?;
    // The client's own timeout must be longer than the server's hold, or it gives up first.
    socket.set_read_timeout(Some(HOLD * 3))?;

    // ANCHOR: timeout
    // No `after`: "from now". Nothing is published, so the server holds the request for HOLD and then
    // answers an empty list whose `last` is the topic's head: the cursor for the next poll.
    let started = Instant::now();
    let (first, exchange) = long_poll(&mut socket, server.addr, None)?;
    println!(
        "(the server held this request for {:.2?})",
        started.elapsed()
    );
    exchange.print();
    let mut after = first.last;
    // ANCHOR_END: timeout

    let handle = server.handle.clone();
    let publisher = thread::spawn(move || -> io::Result<Vec<(u64, Instant)>> {
        let mut sent = Vec::new();
        for (n, gap_ms) in PUBLISH_GAPS_MS.into_iter().enumerate() {
            thread::sleep(Duration::from_millis(gap_ms));
            let at = Instant::now();
            sent.push((handle.publish("news", &format!("story {}", n + 1))?, at));
        }
        Ok(sent)
    });

    // ANCHOR: loop
    let mut received = Vec::new(); // (id, when it reached us)
    let (mut requests, mut total_bytes) = (1, exchange.bytes());
    while received.len() < MESSAGES && requests < 50 {
        // No sleep here: the next request goes out as soon as the previous answer is in.
        let asked = Instant::now();
        let (batch, exchange) = long_poll(&mut socket, server.addr, Some(after))?;
        let now = Instant::now();
        requests += 1;
        total_bytes += exchange.bytes();
        if received.is_empty() {
            exchange.print(); // the bytes of the first answer that carries a message
        }
        received.extend(batch.messages.iter().map(|message| (message.id, now)));
        let data: Vec<&str> = batch.messages.iter().map(|m| m.data.as_str()).collect();
        println!(
            "poll {requests}: after={after}, held {:>6.1?} -> {data:?}, last={} ({} bytes)",
            now - asked,
            batch.last,
            exchange.bytes()
        );
        after = batch.last;
    }
    // ANCHOR_END: loop

    // ANCHOR: client
    // The crate's blocking client does the same in one call. With after=0 the log has messages, so the
    // answer comes at once: a long poll only waits when there is nothing to say.
    let started = Instant::now();
    let whole_log = poll::long_poll(server.addr, "news", Some(0), poll::LONG_POLL_TIMEOUT)?;
    println!(
        "\nafter=0: {} messages, answered in {:.1?}",
        whole_log.messages.len(),
        started.elapsed()
    );
    // ANCHOR_END: client

    let sent = publisher
        .join()
        .map_err(|_| io::Error::other("publisher panicked"))??;
    let latencies: Vec<Duration> = received
        .iter()
        .filter_map(|(id, got)| sent.iter().find(|(s, _)| s == id).map(|(_, at)| *got - *at))
        .collect();
    let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
    println!("\n---- summary ----");
    println!("messages received:   {} of {MESSAGES}", received.len());
    println!("HTTP requests made:  {requests} (1 ended by the hold timeout)");
    println!(
        "bytes on the wire:   {total_bytes} in both directions, {} per message",
        total_bytes / received.len().max(1)
    );
    println!(
        "latency:             mean {mean:.1?}, min {:.1?}, max {:.1?} (no interval to wait for)",
        latencies.iter().min().copied().unwrap_or_default(),
        latencies.iter().max().copied().unwrap_or_default(),
    );
    Ok(())
}

// ANCHOR: long_poll
/// One long poll on the kept-alive connection: `GET /longpoll/news[?after=N]`. The request is the same
/// as a short poll's; only the server's timing differs, so this blocks until the answer comes.
fn long_poll(
    socket: &mut TcpStream,
    addr: SocketAddr,
    after: Option<u64>,
) -> io::Result<(Batch, Exchange)> {
    let target = match after {
        Some(id) => format!("/longpoll/news?after={id}"),
        None => "/longpoll/news".to_string(),
    };
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
    socket.write_all(&request)?;
    let (response, body_start) = read_response(socket)?;
    let body = std::str::from_utf8(&response[body_start..]).map_err(io::Error::other)?;
    let batch = poll::parse_batch(body)?;
    Ok((batch, Exchange { request, response }))
}
// ANCHOR_END: long_poll

/// The bytes of one request and its response.
struct Exchange {
    request: Vec<u8>,
    response: Vec<u8>,
}

impl Exchange {
    fn bytes(&self) -> usize {
        self.request.len() + self.response.len()
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

/// Reads one response with a `Content-Length` body from a kept-alive connection. Returns its bytes
/// and where the body starts. (pushlab::client::http does this properly, with chunked bodies too.)
fn read_response(socket: &mut TcpStream) -> io::Result<(Vec<u8>, usize)> {
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
                return Ok((response, body_start));
            }
        }
        let n = socket.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        response.extend_from_slice(&buf[..n]);
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
