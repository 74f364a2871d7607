//! The demo server at its edges: what happens to memory when subscribers stop reading, to the topic
//! table when clients invent topics, and to delivery when a thousand subscribers share one topic.
//!
//! ```sh
//! cargo bench --bench edges                    # (a) to (c), about 2 minutes
//! cargo bench --bench edges -- memory          # (a) 60 subscribers that never read a 16 MB replay
//! cargo bench --bench edges -- junk            # (b) 1,100 topics, then one more
//! cargo bench --bench edges -- fanout          # (c) 1,000 subscribers on each door
//! cargo bench --bench edges -- fanout sse ws   # (c) on some doors only
//! cargo bench --bench edges -- broadcast       # (d) 10,000 subscribers per door, one message
//! cargo bench --bench edges -- broadcast sse   # (d) on some doors only
//! cargo bench --bench edges -- scale-out       # (e) 10,000 SSE subscribers over 1 or 2 nodes, Redis
//! ```
//!
//! # Why at the edges
//!
//! `ws_echo` measures the server where it is fast. These scenarios measure it where limits must hold:
//! a server that is fast until a client misbehaves is not fast. Each one drives the server past an
//! ordinary load (clients that stop reading, more topics than the table holds, a large fan-out) and
//! reports what a user of the server would see: its memory, whether it still answers, and how late and
//! how complete the delivery is.
//!
//! # What runs where
//!
//! The server is the release `pushlab` binary, started as a user starts it (`pushlab --addr
//! 127.0.0.1:0`), so its resident memory (`VmRSS` of `/proc/PID/status`) and CPU time (`utime + stime`
//! of `/proc/PID/stat`) are the server's alone. The bench first runs `cargo build --release --bin
//! pushlab` (a no-op when it is up to date) and takes the binary from `$CARGO_TARGET_DIR/release/`
//! (default `target/release/`); `PUSHLAB_BIN=/path/to/pushlab` runs another build instead, e.g. to
//! compare two commits. With two cores and `taskset`, the server is pinned to core 0 and this process,
//! the load generator, to core 1; the output says when they are not.
//!
//! Every loop is bounded in count and in time; every socket is on 127.0.0.1.
//!
//! # Scale-out (e)
//!
//! The same fan-out, three ways: one node with its in-memory hub, one node sharing its topics through
//! Redis Streams (`pushlab --redis`), and two such nodes with the subscribers spread over both and the
//! publisher on the first. Each Redis setup gets its own `redis-server` (persistence off, on a free
//! loopback port, stopped by its PID), and every node runs with `--no-clock` so that the only commands
//! Redis sees are the measured messages' own. Redis round trips per message are the commands the nodes
//! sent (`EVAL` for a publish, `XREAD` for each node's delivery, `XRANGE`/`XREVRANGE`/`SMEMBERS` for
//! resuming) counted by Redis itself (`INFO commandstats`) from the first publish to the end of
//! delivery; in brackets, every command run, including those the publish script runs inside Redis.

// Each bench uses the part of the shared module it needs: this one the child processes, not the echo
// servers or their load generator.
#[allow(dead_code)]
mod peers;

#[path = "edges/doors.rs"]
mod doors;

use doors::Door;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use peers::child::{can_pin, pin_this_process, pushlab_binary, BinaryChild};
use pushlab::client::http::HttpConnection;
use pushlab::lab::{scale, swarm};

const SERVER_CORE: usize = 0;
const LOAD_CORE: usize = 1;
/// Timeout of every blocking request the bench makes.
/// Every load here comes from one address (127.0.0.1), so the per-address limits, which would throttle
/// it long before the limits under test, are lifted: these benches measure the server's own bounds.
const LOAD_OPTIONS: &[&str] = &["--publish-rate", "0", "--max-connections-per-ip", "100000"];
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const MIB: f64 = 1024.0 * 1024.0;

// (a) memory
const BIG_TOPIC: &str = "big";
const BIG_MESSAGES: usize = 330;
const BIG_MESSAGE_BYTES: usize = 50_000;
const SSE_READERS: usize = 30;
const WS_READERS: usize = 30;
/// The receive buffer of every subscriber that never reads (the kernel doubles it for bookkeeping).
const TINY_RECEIVE_BUFFER: usize = 4 * 1024;
/// When the server's memory is read, counted from the moment the last subscriber has sent its request.
const MEMORY_SAMPLES: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
    Duration::from_secs(20),
];
/// The limits the redesigned server promises (`Config::max_pending_output_bytes`, and the per-topic
/// retention `HubLimits::max_bytes_per_topic`), used for the bound printed beside the readings.
const MAX_PENDING_OUTPUT_BYTES: f64 = MIB;
const RETENTION_BYTES: f64 = 16.0 * MIB;

// (b) junk topics
const JUNK_TOPICS: usize = 1_100;
/// How long after the junk the bench asks once more for a brand-new topic (a limit that recovers by
/// itself would show it then).
const JUNK_RETRY_AFTER: Duration = Duration::from_secs(3);

// (c) fan-out
const FANOUT_SUBSCRIBERS: usize = 1_000;
const FANOUT_MESSAGES: u64 = 200;
const FANOUT_RATE_PER_SECOND: f64 = 50.0;

// (d) broadcast: many subscribers held at once, one message to all of them
const BROADCAST_SUBSCRIBERS: usize = 10_000;
const BROADCAST_MESSAGES: u64 = 1;

// (e) scale-out: many subscribers spread over nodes sharing Redis, a few messages to all of them
const SCALE_SUBSCRIBERS: usize = 10_000;
const SCALE_MESSAGES: u64 = 10;
const SCALE_RATE_PER_SECOND: f64 = 2.0;

// (c) to (e): what the load generator ([`swarm`], in the library) publishes and how it polls
/// Bytes of each published message.
const MESSAGE_BYTES: usize = 64;
/// Short polling asks again this long after each answer: the browser client's `pollIntervalMs`.
const SHORT_POLL_INTERVAL: Duration = Duration::from_millis(1000);

fn main() {
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|word| !word.starts_with("--"))
        .collect();
    if let Err(error) = run(&words) {
        eprintln!("edges bench failed: {error}");
        std::process::exit(1);
    }
}

fn run(words: &[String]) -> io::Result<()> {
    let scenarios = ["memory", "junk", "fanout", "broadcast", "scale-out"];
    let unknown: Vec<&String> = words
        .iter()
        .filter(|w| !scenarios.contains(&w.as_str()) && Door::from_name(w).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(io::Error::other(format!(
            "unknown words {unknown:?}: scenarios are {scenarios:?}, doors {:?}",
            Door::ALL.map(Door::name)
        )));
    }
    let chosen = |name: &str| words.is_empty() || words.iter().any(|w| w == name);
    let binary = pushlab_binary()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = can_pin() && pin_this_process(LOAD_CORE).is_ok();
    let server_core = pinned.then_some(SERVER_CORE);
    print_machine(&binary, cores, pinned);

    if chosen("memory") {
        memory(&binary, server_core)?;
    }
    if chosen("junk") {
        junk_topics(&binary, server_core)?;
    }
    let doors: Vec<Door> = Door::ALL
        .into_iter()
        .filter(|door| words.iter().any(|w| w == door.name()))
        .collect();
    let doors = if doors.is_empty() {
        Door::ALL.to_vec()
    } else {
        doors
    };
    let named_doors = words.iter().any(|w| Door::from_name(w).is_some());
    let named_scenario = |name: &str| words.iter().any(|w| w == name);
    if chosen("fanout")
        || (named_doors && !named_scenario("broadcast") && !named_scenario("scale-out"))
    {
        println!();
        println!(
            "(c) fan-out: {FANOUT_SUBSCRIBERS} subscribers, {FANOUT_MESSAGES} messages of {} B published \
             at {FANOUT_RATE_PER_SECOND}/s; latency = publish to receipt; short poll every {} ms",
            MESSAGE_BYTES,
            SHORT_POLL_INTERVAL.as_millis()
        );
        fan_out(
            &binary,
            server_core,
            &doors,
            (FANOUT_SUBSCRIBERS, FANOUT_MESSAGES, FANOUT_RATE_PER_SECOND),
        )?;
    }
    if words.iter().any(|w| w == "broadcast") {
        println!();
        println!(
            "(d) broadcast: {BROADCAST_SUBSCRIBERS} subscribers held on one door, then {BROADCAST_MESSAGES} \
             message of {} B to all of them; latency = publish to receipt; short poll every {} ms",
            MESSAGE_BYTES,
            SHORT_POLL_INTERVAL.as_millis()
        );
        fan_out(
            &binary,
            server_core,
            &doors,
            (BROADCAST_SUBSCRIBERS, BROADCAST_MESSAGES, 1.0),
        )?;
    }
    if named_scenario("scale-out") {
        let door = if named_doors { doors[0] } else { Door::Sse };
        scale_out(&binary, server_core, door)?;
    }
    Ok(())
}

fn print_machine(binary: &std::path::Path, cores: usize, pinned: bool) {
    println!("edges: {}", peers::child::machine_summary(cores));
    println!("server: {}", binary.display());
    if pinned {
        println!(
            "server pinned to core {SERVER_CORE}, load generator to core {LOAD_CORE} (taskset)"
        );
    } else {
        println!("NOT pinned (needs 2 cores and taskset): server and load share the cores");
    }
}

/// POSTs `body` to `path` on a keep-alive connection, opening a new one when there is none or the
/// server closed the last one. Returns the status and the body.
fn post(
    connection: &mut Option<HttpConnection>,
    addr: SocketAddr,
    path: &str,
    body: &[u8],
) -> io::Result<(u16, Vec<u8>)> {
    let mut open = match connection.take() {
        Some(open) => open,
        None => HttpConnection::connect(addr, REQUEST_TIMEOUT)?,
    };
    open.send_request("POST", path, &[("Content-Type", "text/plain")], body)?;
    let response = open.read_response()?;
    let closing = response
        .header("Connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"));
    if !closing {
        *connection = Some(open);
    }
    Ok((response.status, response.body))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

/// (a) Subscribers that never read: does the server's memory stay bounded?
///
/// A topic is filled with about 16 MB (330 messages of 50 KB), then 60 subscribers ask for all of it
/// (`after=0`: 30 SSE, 30 WebSocket) from sockets with a 4 KiB receive buffer that never read. The
/// kernel holds a few hundred KiB per connection; everything else the server wants to send waits in
/// the server. A server that bounds each connection's pending output (and drops a subscriber past it)
/// stays near its baseline plus the retained log; one that queues the whole replay per subscriber grows
/// by about 16 MB per subscriber.
fn memory(binary: &std::path::Path, server_core: Option<usize>) -> io::Result<()> {
    println!();
    println!(
        "(a) memory: {BIG_MESSAGES} × {BIG_MESSAGE_BYTES} B published to /publish/{BIG_TOPIC}, then \
         {SSE_READERS} SSE + {WS_READERS} WebSocket subscribers with after=0 that never read \
         (SO_RCVBUF {TINY_RECEIVE_BUFFER} B)"
    );
    let server = BinaryChild::start_with(binary, server_core, LOAD_OPTIONS)?;
    std::thread::sleep(Duration::from_millis(300));
    let started_rss = server.rss_bytes()?;
    let started_fds = server.open_fds()?;

    let body = vec![b'm'; BIG_MESSAGE_BYTES];
    let mut connection = None;
    let path = format!("/publish/{BIG_TOPIC}");
    for n in 0..BIG_MESSAGES {
        let (status, answer) = post(&mut connection, server.addr, &path, &body)?;
        if status != 200 {
            return Err(io::Error::other(format!(
                "publish {n}: {status} {}",
                String::from_utf8_lossy(&answer)
            )));
        }
    }
    drop(connection);
    std::thread::sleep(Duration::from_millis(300));
    let published_rss = server.rss_bytes()?;

    let mut subscribers = Vec::with_capacity(SSE_READERS + WS_READERS);
    for n in 0..SSE_READERS + WS_READERS {
        let request = if n < SSE_READERS {
            format!(
                "GET /sse/{BIG_TOPIC}?after=0 HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                server.addr
            )
        } else {
            format!(
                "GET /ws/{BIG_TOPIC}?after=0 HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                 Sec-WebSocket-Version: 13\r\n\r\n",
                server.addr
            )
        };
        let mut stream = connect_with_tiny_receive_buffer(server.addr)?;
        stream.write_all(request.as_bytes())?;
        subscribers.push(stream);
    }
    let opened = Instant::now();

    println!(
        "| {:<34} | {:>10} | {:>26} |",
        "when", "server RSS", "server fds (subscribers)"
    );
    println!("|{:-<36}|{:->12}|{:->28}|", ":", ":", ":");
    let row = |when: &str, rss: u64, fds: usize| {
        println!(
            "| {when:<34} | {:>6.1} MiB | {:>26} |",
            mib(rss),
            format!("{fds} ({})", fds.saturating_sub(started_fds))
        );
    };
    row("started", started_rss, started_fds);
    row(
        &format!("after publishing {:.1} MB", mib_published()),
        published_rss,
        started_fds,
    );
    for at in MEMORY_SAMPLES {
        std::thread::sleep(at.saturating_sub(opened.elapsed()));
        row(
            &format!("{} s after the subscribers", at.as_secs()),
            server.rss_bytes()?,
            server.open_fds()?,
        );
    }
    let subscribers_count = subscribers.len() as f64;
    drop(subscribers);
    let bound = published_rss as f64 + subscribers_count * MAX_PENDING_OUTPUT_BYTES;
    println!(
        "bound the redesign promises: {subscribers_count} × max_pending_output_bytes ({:.0} MiB) + the \
         retained log (at most {:.0} MiB of payload) = {:.0} MiB over the server's start; measured from \
         the 'after publishing' row (which holds the log): at most {:.1} MiB",
        MAX_PENDING_OUTPUT_BYTES / MIB,
        RETENTION_BYTES / MIB,
        (subscribers_count * MAX_PENDING_OUTPUT_BYTES + RETENTION_BYTES) / MIB,
        bound / MIB
    );
    println!(
        "(fds: the server's open descriptors; in brackets, those over its start: one per subscriber \
         it still holds)"
    );
    Ok(())
}

fn mib_published() -> f64 {
    (BIG_MESSAGES * BIG_MESSAGE_BYTES) as f64 / 1e6
}

/// A socket whose receive buffer is set before connecting: the window scaling TCP offers is fixed in
/// the handshake, so setting it afterwards would not shrink what the server may send.
fn connect_with_tiny_receive_buffer(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(TINY_RECEIVE_BUFFER)?;
    socket.connect_timeout(&addr.into(), REQUEST_TIMEOUT)?;
    Ok(socket.into())
}

/// (b) Junk topics: 1,100 publishes, each to a new topic, then one more brand-new topic. A table of
/// topics with a fixed size and no eviction fills up and refuses every new topic from then on.
fn junk_topics(binary: &std::path::Path, server_core: Option<usize>) -> io::Result<()> {
    println!();
    println!(
        "(b) junk topics: {JUNK_TOPICS} POST /publish/junkN (keep-alive), then POST to a new topic"
    );
    let server = BinaryChild::start_with(binary, server_core, LOAD_OPTIONS)?;
    let mut connection = None;
    let mut statuses: Vec<(u16, usize)> = Vec::new();
    let mut first_refusal = None;
    let mut connections_opened = 0;
    let start = Instant::now();
    for n in 0..JUNK_TOPICS {
        if connection.is_none() {
            connections_opened += 1;
        }
        let (status, _) = post(
            &mut connection,
            server.addr,
            &format!("/publish/junk{n}"),
            b"x",
        )?;
        match statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, count)) => *count += 1,
            None => statuses.push((status, 1)),
        }
        if status != 200 && first_refusal.is_none() {
            first_refusal = Some((n, status));
        }
    }
    let took = start.elapsed();
    let statuses: Vec<String> = statuses
        .iter()
        .map(|(status, count)| format!("{count} × {status}"))
        .collect();
    println!(
        "{JUNK_TOPICS} publishes in {:.3} s ({:.0}/s) on {connections_opened} connection(s): {}",
        took.as_secs_f64(),
        JUNK_TOPICS as f64 / took.as_secs_f64(),
        statuses.join(", ")
    );
    match first_refusal {
        Some((n, status)) => println!("first refusal: junk{n} answered {status}"),
        None => println!("no refusal"),
    }
    let (status, body) = post(&mut connection, server.addr, "/publish/fresh", b"hello")?;
    println!(
        "POST /publish/fresh right after: {status} {}",
        String::from_utf8_lossy(&body).trim()
    );
    std::thread::sleep(JUNK_RETRY_AFTER);
    let (status, body) = post(&mut connection, server.addr, "/publish/fresh2", b"hello")?;
    println!(
        "POST /publish/fresh2 {} s later: {status} {}",
        JUNK_RETRY_AFTER.as_secs(),
        String::from_utf8_lossy(&body).trim()
    );
    Ok(())
}

/// (c) Fan-out: 1,000 subscribers on one topic, through each door in turn (a fresh server per door).
/// Runs `(subscribers, messages, rate per second)` on each door, one fresh server per door, with the
/// lab's one-thread load generator ([`swarm::fan_out`]), and prints the table.
fn fan_out(
    binary: &std::path::Path,
    server_core: Option<usize>,
    doors: &[Door],
    (subscribers, messages, rate_per_s): (usize, u64, f64),
) -> io::Result<()> {
    println!(
        "| {:<8} | {:>9} | {:>5} | {:>4} | {:>9} | {:>9} | {:>9} | {:>10} | {:>8} | {:>8} | {:>7} |",
        "door",
        "delivered",
        "lost",
        "dup",
        "p50",
        "p99",
        "max",
        "server CPU",
        "load CPU",
        "requests",
        "setup"
    );
    println!(
        "|{:-<10}|{:->11}|{:->7}|{:->6}|{:->11}|{:->11}|{:->11}|{:->12}|{:->10}|{:->10}|{:->9}|",
        ":", ":", ":", ":", ":", ":", ":", ":", ":", ":", ":"
    );
    for &door in doors {
        let server = BinaryChild::start_with(binary, server_core, LOAD_OPTIONS)?;
        let plan = swarm::FanOut {
            door: door.lab(),
            nodes: vec![server.addr],
            subscribers,
            messages,
            rate_per_s,
            payload_bytes: MESSAGE_BYTES,
            poll_interval: SHORT_POLL_INTERVAL,
            topic: format!("fanout-{}", door.name()),
        };
        let outcome = swarm::fan_out(&plan, &|| Ok(vec![server.cpu_seconds()?]))?;
        let latencies = outcome.latencies_us();
        let ms = |q: f64| {
            let rank = ((latencies.len().max(1) - 1) as f64 * q).round() as usize;
            let us = latencies.get(rank).copied().unwrap_or(0);
            format!("{:.1} ms", us as f64 / 1e3)
        };
        let delivered = outcome.delivered();
        let requests: u64 = outcome.tallies.iter().map(|t| t.requests).sum();
        println!(
            "| {:<8} | {:>9} | {:>5} | {:>4} | {:>9} | {:>9} | {:>9} | {:>8.2} s | {:>6.2} s | {:>8} | {:>5.1} s |",
            door.name(),
            delivered,
            (subscribers as u64 * messages).saturating_sub(delivered),
            outcome.duplicated(),
            ms(0.50),
            ms(0.99),
            ms(1.0),
            outcome.gauges.first().copied().unwrap_or(0.0),
            outcome.generator_cpu_ms.unwrap_or(0) as f64 / 1e3,
            requests,
            outcome.setup.as_secs_f64()
        );
        if let (count, Some(first)) = outcome.errors() {
            println!("  {}: {count} errors, the first: {first}", door.name());
        }
    }
    println!(
        "delivered/lost/dup count (subscriber, message) pairs, {} expected; server CPU is user + system \
         seconds from the first publish to the end of delivery, load CPU the same for the load generator \
         (this process: every subscriber and the publisher); requests counts every request the \
         subscribers sent (a held door's beyond one per subscriber are reconnections); setup is \
         connecting and subscribing",
        subscribers as u64 * messages
    );
    Ok(())
}

/// (e) Scale-out: 10,000 subscribers on one door, on one node in memory, one node with Redis, and two
/// nodes with Redis (subscribers spread over both, the publisher on the first): the lab's scale-out
/// scenario ([`scale::run`]), with this bench's server binary as the nodes.
fn scale_out(binary: &std::path::Path, server_core: Option<usize>, door: Door) -> io::Result<()> {
    let workload = scale::ScaleWorkload {
        door: door.lab(),
        subscribers: SCALE_SUBSCRIBERS,
        messages: SCALE_MESSAGES,
        rate_per_s: SCALE_RATE_PER_SECOND,
        payload_bytes: MESSAGE_BYTES,
    };
    let rows = scale::run(binary, server_core, workload, &|setup| {
        eprintln!("(e) {setup}")
    })?;
    println!("\n(e){}", scale::markdown(&workload, &rows));
    Ok(())
}
