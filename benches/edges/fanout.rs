//! The fan-out load generator: many subscribers on one door, one publisher, one clock.
//!
//! # How a delivery is timed
//!
//! Every message carries its own number and the time it was published, as plain letters and digits
//! that no door escapes: `QQs<number>t<microseconds>ZZ`, padded with `x` to 64 bytes. The microseconds
//! count from a start `Instant` shared by the publisher and the subscribers (the same process), so a
//! subscriber that finds a marker in what it received knows at once which message it is and how late it
//! came. The subscribers need not parse each door's framing to find markers (each message is one JSON
//! object, SSE event, `<script>` or WebSocket frame, and pushlab writes one chunk per message, so a
//! marker is never cut by chunk framing); the polling doors are parsed as far as `Content-Length` and
//! `"last"`, to know where an answer ends and what to ask next.
//!
//! # One thread, one poll
//!
//! All subscribers are non-blocking sockets on one `mio` poll in the calling thread, so the load costs
//! one core however many subscribers there are, and 1,000 subscribers do not mean 1,000 threads fighting
//! the server for the CPU. The publisher is one more thread with a blocking keep-alive connection
//! (`pushlab::client::http`), publishing on a fixed schedule.
//!
//! # One node or several
//!
//! [`run`] drives one server; [`run_spread`] spreads the subscribers over several nodes (subscriber `i`
//! on node `i % n`) and publishes on the first, which is how a cluster sharing its topics through Redis
//! is measured: a message published on one node must reach the subscribers of every node.
//!
//! A subscriber whose connection ends is reconnected at once, resuming after the last message it saw
//! (`after=` the id the publisher got for it), and counted in `reconnects`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use pushlab::client::http::HttpConnection;

/// Bytes of each published message.
pub const MESSAGE_BYTES: usize = 64;
/// Short polling asks again this long after each answer: the browser client's `pollIntervalMs`.
pub const SHORT_POLL_INTERVAL: Duration = Duration::from_millis(1000);
/// A server answer caps a poll at this many messages (`Config::max_batch_messages`); a full answer is
/// followed by another request at once, as the browser client does.
const MAX_BATCH_MESSAGES: usize = 100;
/// Most messages one run may publish (the per-subscriber record of what arrived is a fixed bitmap).
const MAX_MESSAGES: usize = 256;
/// Subscribing (connecting, and the held doors' response heads) must finish within this long.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// After subscribing, this long passes before the first publish, so that every request has been read.
const SETTLE_TIME: Duration = Duration::from_millis(500);
/// After the last publish, delivery may take this long (a short poll's interval, and a margin).
const DRAIN_TIME: Duration = Duration::from_secs(4);
/// Cap on the iterations of any loop, besides its deadline.
const MAX_ITERATIONS: u64 = 10_000_000;
/// A response head longer than this is an error.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The iframe and JSONP callback name.
const CALLBACK: &str = "cb";

/// A door of the server, as a subscriber opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// `GET /poll/{topic}?after=N`, again a second after each answer.
    Poll,
    /// `GET /longpoll/{topic}?after=N`, again at once after each answer.
    LongPoll,
    /// `GET /jsonp/{topic}?after=N&callback=cb`, held like a long poll, again at once.
    Jsonp,
    /// `GET /stream/{topic}?after=N`, chunked NDJSON, held.
    Stream,
    /// `GET /iframe/{topic}?after=N&callback=cb`, chunked `<script>`s, held.
    Iframe,
    /// `GET /sse/{topic}?after=N`, `text/event-stream`, held.
    Sse,
    /// `GET /ws/{topic}?after=N`, WebSocket text frames.
    Ws,
}

impl Door {
    /// Every door, in the order of the design's table.
    pub const ALL: [Door; 7] = [
        Door::Poll,
        Door::LongPoll,
        Door::Jsonp,
        Door::Stream,
        Door::Iframe,
        Door::Sse,
        Door::Ws,
    ];

    /// The door's name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Door::Poll => "poll",
            Door::LongPoll => "longpoll",
            Door::Jsonp => "jsonp",
            Door::Stream => "stream",
            Door::Iframe => "iframe",
            Door::Sse => "sse",
            Door::Ws => "ws",
        }
    }

    /// The door called `name`.
    pub fn from_name(name: &str) -> Option<Door> {
        Door::ALL.into_iter().find(|door| door.name() == name)
    }

    /// Whether one request holds a response open for every message (the streaming doors), rather than
    /// one answer per request (the polling doors).
    fn is_held(self) -> bool {
        matches!(self, Door::Stream | Door::Iframe | Door::Sse | Door::Ws)
    }

    /// The request that opens (or, for a polling door, repeats) a subscription after message `after`.
    fn request(self, addr: SocketAddr, topic: &str, after: u64) -> String {
        let target = match self {
            Door::Poll => format!("/poll/{topic}?after={after}"),
            Door::LongPoll => format!("/longpoll/{topic}?after={after}"),
            Door::Jsonp => format!("/jsonp/{topic}?after={after}&callback={CALLBACK}"),
            Door::Stream => format!("/stream/{topic}?after={after}"),
            Door::Iframe => format!("/iframe/{topic}?after={after}&callback={CALLBACK}"),
            Door::Sse => format!("/sse/{topic}?after={after}"),
            Door::Ws => format!("/ws/{topic}?after={after}"),
        };
        let upgrade = if self == Door::Ws {
            // The RFC 6455 §1.3 example key: the server checks its form, not its freshness.
            "Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        } else {
            ""
        };
        format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{upgrade}\r\n")
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The door every subscriber uses.
    pub door: Door,
    /// How many subscribers.
    pub subscribers: usize,
    /// How many messages to publish (at most 256).
    pub messages: usize,
    /// Messages published per second.
    pub rate_per_second: u64,
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// (subscriber, message) pairs received at least once.
    pub delivered: usize,
    /// (subscriber, message) pairs never received.
    pub lost: usize,
    /// Receipts of a message a subscriber already had.
    pub duplicates: usize,
    /// Latency of every first receipt, sorted.
    latencies: Vec<Duration>,
    /// How much each reading of the caller's gauges (server CPU seconds, Redis commands, ...) grew
    /// from the first publish to the end of delivery, in the order the gauges gave them.
    pub gauges: Vec<f64>,
    /// This process's CPU seconds over the same time: the load generator's own cost (every subscriber,
    /// and the publisher thread), to tell a slow server from a load generator that could not keep up.
    pub load_cpu_seconds: f64,
    /// Connections the subscribers had to open again.
    pub reconnects: usize,
    /// Time to connect and subscribe everyone.
    pub setup: Duration,
    /// Anything unexpected: refused requests, unexpected answers (each kind once, with a count).
    pub problems: Vec<String>,
}

impl Outcome {
    /// The latency below which a fraction `q` of deliveries came (`q = 1.0`: the maximum).
    pub fn latency_percentile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }
}

/// The message published as number `seq` at `micros` after the start.
fn payload(seq: usize, micros: u64) -> Vec<u8> {
    let mut text = format!("QQs{seq}t{micros}ZZ").into_bytes();
    text.resize(MESSAGE_BYTES.max(text.len()), b'x');
    text
}

/// Finds every complete marker in `bytes` and calls `found(seq, micros)`. Returns how many bytes
/// are done with: everything before an incomplete marker at the end (kept for the next read), or all
/// but the last two bytes (which could be the start of a marker).
fn scan_markers(bytes: &[u8], mut found: impl FnMut(usize, u64)) -> usize {
    let mut at = 0;
    while let Some(offset) = find(&bytes[at..], b"QQs") {
        let start = at + offset;
        let digits = |from: usize| {
            let len = bytes[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            (
                std::str::from_utf8(&bytes[from..from + len]).ok(),
                from + len,
            )
        };
        let (seq, after_seq) = digits(start + 3);
        if after_seq >= bytes.len() {
            return start; // cut off inside the number: wait for more
        }
        if bytes[after_seq] != b't' {
            at = start + 3;
            continue;
        }
        let (micros, after_micros) = digits(after_seq + 1);
        if after_micros + 2 > bytes.len() {
            return start;
        }
        if &bytes[after_micros..after_micros + 2] == b"ZZ" {
            if let (Some(Ok(seq)), Some(Ok(micros))) = (seq.map(str::parse), micros.map(str::parse))
            {
                found(seq, micros);
            }
        }
        at = after_micros;
    }
    bytes.len().saturating_sub(2).max(at)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One subscriber: a socket, what it has received, and what it asks next.
struct Subscriber {
    /// The node this subscriber talks to (and reconnects to).
    addr: SocketAddr,
    stream: mio::net::TcpStream,
    /// Received bytes not yet used.
    received: Vec<u8>,
    /// Held doors: whether the response head has arrived.
    head_seen: bool,
    /// The id to resume after: for the polling doors the `last` of the latest answer.
    after: u64,
    /// The highest message number received, to resume a held door after it.
    last_seq: Option<usize>,
    /// Polling doors: when to send the next request (`None`: a request is out).
    next_request: Option<Instant>,
    /// Which message numbers have arrived (bit `seq`).
    seen: [u64; MAX_MESSAGES / 64],
}

/// What every subscriber adds to.
struct Tally {
    start: Instant,
    latencies: Vec<Duration>,
    delivered: usize,
    duplicates: usize,
    reconnects: usize,
    problems: Vec<(String, usize)>,
}

impl Tally {
    fn problem(&mut self, what: String) {
        match self.problems.iter_mut().find(|(known, _)| *known == what) {
            Some((_, count)) => *count += 1,
            None => self.problems.push((what, 1)),
        }
    }
}

/// The ids the server gave each message: `ids[0]` is the primer's, `ids[n]` message `n`'s.
type Ids = Arc<Mutex<Vec<u64>>>;

/// Runs `plan` against the server at `addr`; `server_cpu` reads the server's CPU seconds so far, and
/// `gauges[0]` of the outcome is how many it used while delivering.
pub fn run(
    addr: SocketAddr,
    plan: &Plan,
    server_cpu: &dyn Fn() -> io::Result<f64>,
) -> io::Result<Outcome> {
    run_spread(&[addr], plan, &|| Ok(vec![server_cpu()?]))
}

/// Runs `plan` with the subscribers spread over the nodes at `addrs` (subscriber `i` on node
/// `i % addrs.len()`) and the publisher on the first node. `gauges` is read at the first publish and
/// at the end of delivery; the outcome holds how much each reading grew.
pub fn run_spread(
    addrs: &[SocketAddr],
    plan: &Plan,
    gauges: &dyn Fn() -> io::Result<Vec<f64>>,
) -> io::Result<Outcome> {
    let Some(&addr) = addrs.first() else {
        return Err(io::Error::other("no node to run on"));
    };
    if plan.messages >= MAX_MESSAGES {
        return Err(io::Error::other("at most 255 messages"));
    }
    let topic = format!("fanout-{}", plan.door.name());
    let setup_start = Instant::now();
    // The primer creates the topic and gives the id every subscriber starts after; it carries no
    // marker, so nobody counts it.
    let mut publishing = HttpConnection::connect(addr, Duration::from_secs(10))?;
    let primer = publish(&mut publishing, &topic, b"primer")?;
    let ids: Ids = Arc::new(Mutex::new(vec![primer]));

    let mut poll = Poll::new()?;
    let mut subscribers = Vec::with_capacity(plan.subscribers);
    for index in 0..plan.subscribers {
        let node = addrs[index % addrs.len()];
        let mut subscriber = Subscriber {
            addr: node,
            stream: connect(node)?,
            received: Vec::new(),
            head_seen: false,
            after: primer,
            last_seq: None,
            next_request: None,
            seen: [0; MAX_MESSAGES / 64],
        };
        poll.registry()
            .register(&mut subscriber.stream, Token(index), Interest::READABLE)?;
        send(&mut subscriber, plan.door, &topic)?;
        subscribers.push(subscriber);
    }
    let mut tally = Tally {
        start: Instant::now(),
        latencies: Vec::with_capacity(plan.subscribers * plan.messages),
        delivered: 0,
        duplicates: 0,
        reconnects: 0,
        problems: Vec::new(),
    };
    let mut events = Events::with_capacity(1024);
    let mut pump = |subscribers: &mut Vec<Subscriber>,
                    tally: &mut Tally,
                    until: &dyn Fn(&[Subscriber]) -> bool,
                    deadline: Instant|
     -> io::Result<()> {
        for _ in 0..MAX_ITERATIONS {
            let now = Instant::now();
            if now >= deadline || until(subscribers) {
                return Ok(());
            }
            // The poll wakes for the earliest short poll due, and at least every 50 ms.
            let mut wait = deadline.min(now + Duration::from_millis(50));
            for subscriber in subscribers.iter() {
                if let Some(at) = subscriber.next_request {
                    wait = wait.min(at);
                }
            }
            poll.poll(&mut events, Some(wait.saturating_duration_since(now)))?;
            for event in events.iter() {
                let index = event.token().0;
                on_readable(
                    &mut subscribers[index],
                    index,
                    plan.door,
                    &topic,
                    &poll,
                    &ids,
                    tally,
                )?;
            }
            let now = Instant::now();
            for subscriber in subscribers.iter_mut() {
                if subscriber.next_request.is_some_and(|at| at <= now) {
                    send(subscriber, plan.door, &topic)?;
                }
            }
        }
        Ok(())
    };

    // Subscribe: held doors have their response head; polling doors have their first request out.
    let door = plan.door;
    pump(
        &mut subscribers,
        &mut tally,
        &|subscribers| !door.is_held() || subscribers.iter().all(|s| s.head_seen),
        setup_start + SETUP_TIMEOUT,
    )?;
    let heads = subscribers.iter().filter(|s| s.head_seen).count();
    if door.is_held() && heads < subscribers.len() {
        tally.problem(format!(
            "only {heads} of {} response heads within {} s",
            subscribers.len(),
            SETUP_TIMEOUT.as_secs()
        ));
    }
    pump(
        &mut subscribers,
        &mut tally,
        &|_| false,
        Instant::now() + SETTLE_TIME,
    )?;
    let setup = setup_start.elapsed();

    // Publish on a schedule from another thread, and deliver in this one until everyone has every
    // message or the drain time after the last publish is over.
    let gauges_before = gauges()?;
    let load_cpu_before = own_cpu_seconds()?;
    let publisher = {
        let ids = Arc::clone(&ids);
        let start = tally.start;
        let (messages, rate, topic) = (plan.messages, plan.rate_per_second, topic.clone());
        std::thread::spawn(move || -> io::Result<()> {
            let first = Instant::now();
            for seq in 1..=messages {
                let due = first + Duration::from_micros(1_000_000 * (seq as u64 - 1) / rate);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let micros = start.elapsed().as_micros() as u64;
                let id = publish(&mut publishing, &topic, &payload(seq, micros))?;
                ids.lock()
                    .map_err(|_| io::Error::other("poisoned"))?
                    .push(id);
            }
            Ok(())
        })
    };
    let publishing_time =
        Duration::from_micros(1_000_000 * plan.messages as u64 / plan.rate_per_second.max(1));
    let everyone_has_all = |subscribers: &[Subscriber]| {
        subscribers
            .iter()
            .all(|s| count_seen(&s.seen) == plan.messages)
    };
    pump(
        &mut subscribers,
        &mut tally,
        &everyone_has_all,
        Instant::now() + publishing_time + DRAIN_TIME,
    )?;
    let gauges_grown: Vec<f64> = gauges()?
        .iter()
        .zip(&gauges_before)
        .map(|(after, before)| after - before)
        .collect();
    let load_cpu_seconds = own_cpu_seconds()? - load_cpu_before;
    publisher
        .join()
        .map_err(|_| io::Error::other("publisher panicked"))??;

    let delivered = tally.delivered;
    let mut latencies = tally.latencies;
    latencies.sort();
    Ok(Outcome {
        delivered,
        lost: plan.subscribers * plan.messages - delivered,
        duplicates: tally.duplicates,
        latencies,
        gauges: gauges_grown,
        load_cpu_seconds,
        reconnects: tally.reconnects,
        setup,
        problems: tally
            .problems
            .into_iter()
            .map(|(what, count)| format!("{count} × {what}"))
            .collect(),
    })
}

/// CPU seconds (user + system) this process has used so far.
fn own_cpu_seconds() -> io::Result<f64> {
    crate::peers::child::cpu_seconds(std::process::id())
}

fn count_seen(seen: &[u64]) -> usize {
    seen.iter().map(|word| word.count_ones() as usize).sum()
}

/// Publishes `body` and returns its id (from the answer `{"id":N}`).
fn publish(connection: &mut HttpConnection, topic: &str, body: &[u8]) -> io::Result<u64> {
    connection.send_request(
        "POST",
        &format!("/publish/{topic}"),
        &[("Content-Type", "text/plain")],
        body,
    )?;
    let response = connection.read_response()?;
    let text = response.text()?;
    if response.status != 200 {
        return Err(io::Error::other(format!(
            "publish: {} {text}",
            response.status
        )));
    }
    number_after(text.as_bytes(), b"\"id\":")
        .ok_or_else(|| io::Error::other(format!("publish answered {text:?}")))
}

/// The decimal number right after the first `key` in `bytes`.
fn number_after(bytes: &[u8], key: &[u8]) -> Option<u64> {
    let start = find(bytes, key)? + key.len();
    let len = bytes[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&bytes[start..start + len])
        .ok()?
        .parse()
        .ok()
}

/// A non-blocking connection to `addr` (the connect itself blocks: on loopback it is immediate).
fn connect(addr: SocketAddr) -> io::Result<mio::net::TcpStream> {
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    Ok(mio::net::TcpStream::from_std(stream))
}

/// Sends the subscriber's next request. A request is a few hundred bytes into an empty socket buffer,
/// so the write completes at once; a `WouldBlock` here would be a broken assumption, reported as such.
fn send(subscriber: &mut Subscriber, door: Door, topic: &str) -> io::Result<()> {
    subscriber.next_request = None;
    let request = door.request(subscriber.addr, topic, subscriber.after);
    let written = subscriber.stream.write(request.as_bytes())?;
    if written != request.len() {
        return Err(io::Error::other("a request did not fit the socket buffer"));
    }
    Ok(())
}

/// Reads everything that has arrived for one subscriber and acts on it.
#[allow(clippy::too_many_arguments)]
fn on_readable(
    subscriber: &mut Subscriber,
    index: usize,
    door: Door,
    topic: &str,
    poll: &Poll,
    ids: &Ids,
    tally: &mut Tally,
) -> io::Result<()> {
    let mut closed = false;
    let mut chunk = [0u8; 16 * 1024];
    for _ in 0..MAX_ITERATIONS {
        match subscriber.stream.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => subscriber.received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let now = tally.start.elapsed();
    if door.is_held() {
        take_stream(subscriber, now, tally);
    } else {
        take_answers(subscriber, door, now, tally);
    }
    if closed {
        tally.reconnects += 1;
        if door.is_held() {
            // Resume after the last message seen, by the id the server gave it.
            let ids = ids.lock().map_err(|_| io::Error::other("poisoned"))?;
            subscriber.after = match subscriber.last_seq {
                Some(seq) => ids.get(seq).or(ids.last()).copied().unwrap_or(0),
                None => ids[0],
            };
        }
        poll.registry().deregister(&mut subscriber.stream)?;
        subscriber.stream = connect(subscriber.addr)?;
        subscriber.received.clear();
        subscriber.head_seen = false;
        poll.registry()
            .register(&mut subscriber.stream, Token(index), Interest::READABLE)?;
        send(subscriber, door, topic)?;
    }
    Ok(())
}

/// Records message `seq`, published at `micros`, received at `now`.
fn record(subscriber: &mut Subscriber, seq: usize, micros: u64, now: Duration, tally: &mut Tally) {
    if seq >= MAX_MESSAGES {
        tally.problem(format!("message number {seq} out of range"));
        return;
    }
    let (word, bit) = (seq / 64, 1u64 << (seq % 64));
    if subscriber.seen[word] & bit != 0 {
        tally.duplicates += 1;
        return;
    }
    subscriber.seen[word] |= bit;
    subscriber.last_seq = Some(subscriber.last_seq.map_or(seq, |last| last.max(seq)));
    tally.delivered += 1;
    tally
        .latencies
        .push(now.saturating_sub(Duration::from_micros(micros)));
}

/// A held door: check the response head once, then take every marker that has arrived.
fn take_stream(subscriber: &mut Subscriber, now: Duration, tally: &mut Tally) {
    if !subscriber.head_seen {
        let Some(end) = find(&subscriber.received, b"\r\n\r\n") else {
            if subscriber.received.len() > MAX_HEAD_BYTES {
                tally.problem("response head too long".into());
                subscriber.received.clear();
            }
            return;
        };
        let head = &subscriber.received[..end];
        if !(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.1 101")) {
            let status_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
            tally.problem(format!("answered {}", String::from_utf8_lossy(status_line)));
        }
        subscriber.head_seen = true;
        subscriber.received.drain(..end + 4);
    }
    let mut found = Vec::new();
    let done = scan_markers(&subscriber.received, |seq, micros| {
        found.push((seq, micros))
    });
    subscriber.received.drain(..done);
    for (seq, micros) in found {
        record(subscriber, seq, micros, now, tally);
    }
}

/// A polling door: take every whole answer (`Content-Length` framed), record its markers, remember its
/// `last`, and schedule the next request.
fn take_answers(subscriber: &mut Subscriber, door: Door, now: Duration, tally: &mut Tally) {
    loop {
        let received = &subscriber.received;
        let Some(head_end) = find(received, b"\r\n\r\n") else {
            return;
        };
        let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
        let Some(length) = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
        else {
            tally.problem("an answer without Content-Length".into());
            subscriber.received.clear();
            return;
        };
        let body_start = head_end + 4;
        if received.len() < body_start + length {
            return;
        }
        if !head.starts_with("http/1.1 200") {
            tally.problem(format!(
                "answered {}",
                head.lines().next().unwrap_or_default()
            ));
        }
        let body = received[body_start..body_start + length].to_vec();
        subscriber.received.drain(..body_start + length);
        let mut count = 0;
        scan_markers(&body, |seq, micros| {
            count += 1;
            record(subscriber, seq, micros, now, tally);
        });
        if let Some(last) = number_after(&body, b"\"last\":") {
            subscriber.after = last;
        }
        // Short polling waits a second unless the answer was full; the held polls ask again at once.
        let wait = if door == Door::Poll && count < MAX_BATCH_MESSAGES {
            SHORT_POLL_INTERVAL
        } else {
            Duration::ZERO
        };
        subscriber.next_request = Some(Instant::now() + wait);
    }
}
