//! Chapter 3: short polling. Ask on a timer, get an answer at once, usually an empty one.
//!
//! ```text
//! cargo run --example 03_short_poll                        # a server on 127.0.0.1 and a free port
//! cargo run --example 03_short_poll -- --addr 127.0.0.1:9003
//! ```
//!
//! The example starts a pushlab server in this process, publishes eight messages to the topic `news` at
//! irregular times from a thread, and polls `GET /poll/news?after=N` every 300 ms over one kept-alive TCP
//! connection, written by hand so that every byte can be printed. The answers are decoded by
//! `pushlab::client::poll::parse_batch`, the same code the crate's short-poll client uses. It ends
//! with a summary: requests made, empty answers, bytes per message and latency.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::poll::{self, Batch};
use pushlab::Config;

/// How often the client asks.
const POLL_INTERVAL: Duration = Duration::from_millis(300);
/// The pauses between the publisher's messages, in milliseconds: irregular, like real events, so that
/// some polls find two messages while others find none. Each message lands at least 100 ms away from
/// the polls' 300 ms grid (at 450, 1000, 1100, 1950, 2230, 2560, 2820 and 3170 ms), so which poll
/// finds it does not depend on a few milliseconds of scheduling, and every run prints the same polls.
const PUBLISH_GAPS_MS: [u64; 8] = [450, 550, 100, 850, 280, 330, 260, 350];
const MESSAGES: usize = PUBLISH_GAPS_MS.len();

fn main() -> io::Result<()> {
    let config = Config {
        addr: addr_from_args()?,
        clock_interval: None, // no `clock` topic: keep the wire quiet
        ..Config::default()
    };
    let server = pushlab::server::spawn(config)?;
    println!("pushlab listening on http://{}/\n", server.addr);
    let mut socket = TcpStream::connect(server.addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;

    // ANCHOR: from_now
    // The first poll carries no `after`: that means "from now", so the answer is empty, and its `last`
    // (the topic's current head) is the cursor for the next poll.
    let (first, exchange) = poll_once(&mut socket, server.addr, None)?;
    exchange.print();
    let mut after = first.last;
    // ANCHOR_END: from_now

    // The publisher and the poll timer count from the same moment, each to its own fixed schedule, so
    // a late wake-up delays one message or one poll but never shifts the ones after it.
    let started = Instant::now();
    let handle = server.handle.clone();
    let publisher = thread::spawn(move || -> io::Result<Vec<(u64, Instant)>> {
        let mut sent = Vec::new();
        let mut due = started;
        for (n, gap_ms) in PUBLISH_GAPS_MS.into_iter().enumerate() {
            due += Duration::from_millis(gap_ms);
            thread::sleep(due.saturating_duration_since(Instant::now()));
            let at = Instant::now();
            sent.push((handle.publish("news", &format!("story {}", n + 1))?, at));
        }
        Ok(sent)
    });

    // ANCHOR: loop
    let mut received = Vec::new(); // (id, when it reached us)
    let (mut requests, mut empty_answers, mut total_bytes) = (1, 1, exchange.bytes());
    let mut next_poll = started;
    while received.len() < MESSAGES && requests < 50 {
        // A timer like the browser's `setInterval`: a tick every POLL_INTERVAL from the start, however
        // long each poll took.
        next_poll += POLL_INTERVAL;
        thread::sleep(next_poll.saturating_duration_since(Instant::now()));
        let (batch, exchange) = poll_once(&mut socket, server.addr, Some(after))?;
        let now = Instant::now();
        requests += 1;
        total_bytes += exchange.bytes();
        if batch.messages.is_empty() {
            empty_answers += 1;
        } else if received.is_empty() {
            exchange.print(); // the bytes of the first answer that carries something
        }
        received.extend(batch.messages.iter().map(|message| (message.id, now)));
        let data: Vec<&str> = batch.messages.iter().map(|m| m.data.as_str()).collect();
        println!(
            "poll {requests:2}: after={after} -> {data:?}, last={} ({} bytes)",
            batch.last,
            exchange.bytes()
        );
        // The cursor: the next poll asks for what comes after the last id this one saw.
        after = batch.last;
    }
    // ANCHOR_END: loop

    // ANCHOR: whole_log
    // `after=0` means "everything the log still has", through the crate's blocking client.
    let whole_log = poll::short_poll(server.addr, "news", Some(0))?;
    println!(
        "\nafter=0 returns the whole log: {} messages",
        whole_log.messages.len()
    );
    // ANCHOR_END: whole_log

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
    println!("HTTP requests made:  {requests} ({empty_answers} answered with an empty list)");
    println!(
        "bytes on the wire:   {total_bytes} in both directions, {} per message",
        total_bytes / received.len().max(1)
    );
    println!(
        "latency:             mean {mean:.0?}, min {:.0?}, max {:.0?} (expected: about half the {POLL_INTERVAL:?} interval)",
        latencies.iter().min().copied().unwrap_or_default(),
        latencies.iter().max().copied().unwrap_or_default(),
    );
    Ok(())
}

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

// ANCHOR: poll_once
/// One short poll on the kept-alive connection: `GET /poll/news[?after=N]`, answered at once.
/// Returns the decoded batch and the exact bytes of the request and of the response.
fn poll_once(
    socket: &mut TcpStream,
    addr: SocketAddr,
    after: Option<u64>,
) -> io::Result<(Batch, Exchange)> {
    let target = match after {
        Some(id) => format!("/poll/news?after={id}"),
        None => "/poll/news".to_string(),
    };
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
    socket.write_all(&request)?;
    let (response, body_start) = read_response(socket)?;
    let body = std::str::from_utf8(&response[body_start..]).map_err(io::Error::other)?;
    let batch = poll::parse_batch(body)?;
    Ok((batch, Exchange { request, response }))
}
// ANCHOR_END: poll_once

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
