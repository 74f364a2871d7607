//! The swarm: thousands of subscribers on one thread, the lab's load generator for many clients.
//!
//! A load generator that needs a thread per client measures itself. At 1,000 subscribers, 1,000
//! blocking threads (one [`super::load`] client each) spend more CPU than the server they load, on the
//! same cores, and the latency they report is partly their own scheduling. The swarm keeps every
//! subscriber as a non-blocking socket on one `mio::Poll` in one thread: its cost grows with the
//! bytes it reads, not with the number of threads the kernel must wake.
//!
//! # How a delivery is timed
//!
//! Every message the lab publishes carries a marker made of letters and digits only,
//! `QQs<seq>t<micros>ZZ` ([`super::load::stamped_payload`]): its sequence number and the time it was
//! published, in microseconds since the lab's epoch (one `Instant`, one process, so no clocks need to
//! agree). No door escapes letters or digits, so the marker appears verbatim in the raw bytes whatever
//! the framing: a JSON line, an SSE event, a `<script>` call, a WebSocket text frame, a SockJS frame
//! whose string holds JSON. The swarm therefore does not decode the doors: it scans what it read for
//! markers ([`scan_markers`]), keeping an incomplete marker at the end of a read for the next one. A
//! server writes each message in one write (one chunk, one event, one frame), so no framing bytes
//! fall inside a marker. The time of a receipt is taken once per readable socket, right after its
//! bytes were read: the latency is publish to bytes-in-hand, without the decoding a real client does
//! (which the blocking clients of [`super::load`] include; on a few dozen bytes it is microseconds).
//!
//! The polling doors are parsed a little further, because the swarm must know where an answer ends
//! and what to ask next: the head as far as `Content-Length`, and the body's `"last":N`.
//!
//! # One thread, one poll
//!
//! The loop ([`run`]) waits on the poll for readiness or for the next short poll that is due (at most
//! [`TICK`]). A readable socket is read until a short read (readiness is edge-triggered: the next
//! bytes raise a new event), or to its end when the peer closed; a held door's response head is checked
//! once (`200`, or `101` for a WebSocket), then markers are taken; a polling door's answers are taken
//! whole and its next request is scheduled (at once for a long poll or JSONP, after the poll interval
//! for a short poll, at once when an answer was full). Requests are a few hundred bytes written into
//! an empty socket buffer, so a request is written at once; a short write is reported as that
//! subscriber's error. A connection the server closes is opened again at once, resuming after the last
//! message seen (by the id the publisher got for it), and the new request is counted.
//!
//! # What it counts, at the socket
//!
//! Every byte a subscriber writes or reads is counted on its door's [`RelayCounters`], as are its
//! connections (opened, open now, most at once): the bytes on the wire are counted where the client
//! sees them, with no relay hop in between. The lab still puts a relay in front when it simulates a
//! round-trip time. When the swarm is done its connections stay open ([`Finished::connections`])
//! until the caller has read the CPU counters: closing 10,000 connections costs a server about as
//! much as one broadcast to them, and that is the test's teardown, not the delivery it measures.
//!
//! # A whole fan-out
//!
//! [`fan_out`] wraps the swarm with a publisher of its own, for one door spread over one or more
//! nodes: the edges bench and the lab's scale-out scenario ([`super::scale`]) use it.
//!
//! # Bounds
//!
//! Every loop is bounded by the plan's deadline and by [`MAX_TURNS`]; every socket is on loopback,
//! since the lab only targets loopback addresses.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::load::{Dialect, Door, Tally, SOCKJS_PREFIX};
use super::relay::RelayCounters;

/// The longest the loop sleeps in the poll before it looks at its deadline and timers again.
pub const TICK: Duration = Duration::from_millis(50);
/// A bound on the loop's turns, besides its deadline.
pub const MAX_TURNS: u64 = 50_000_000;
/// A response head longer than this is an error.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Unused received bytes kept for one subscriber at most; a held stream that never carries a marker
/// (only heartbeats, a prelude) is trimmed to its tail.
const MAX_PENDING_BYTES: usize = 64 * 1024;
/// A server answer holds at most this many messages (`Config::max_batch_messages`); a full answer is
/// followed by the next request at once, whatever the door.
pub const MAX_BATCH_MESSAGES: usize = 100;
/// The callback name of the JSONP and iframe doors (and SockJS's `htmlfile`).
const CALLBACK: &str = "onFrame";
/// The bytes read from a socket at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// The ids the server gave the published messages: `ids[0]` is the point every subscriber starts
/// after, `ids[seq]` message `seq`'s. The publisher appends; a subscriber that reconnects resumes
/// after the id of the last message it saw.
pub type Ids = Arc<Mutex<Vec<u64>>>;

/// One subscriber of the swarm: its door, where it connects and whose counters it adds to.
#[derive(Clone, Debug)]
pub struct Member {
    /// Its door.
    pub door: Door,
    /// Where it connects (the server, or a relay or proxy in front of it).
    pub addr: SocketAddr,
    /// The door's counters: bytes and connections, at this subscriber's socket.
    pub counters: Arc<RelayCounters>,
}

/// What the swarm runs.
#[derive(Clone, Debug)]
pub struct SwarmPlan {
    /// The subscribers; the tallies come back in the same order.
    pub members: Vec<Member>,
    /// How the server's doors are reached.
    pub dialect: Dialect,
    /// The topic every subscriber reads.
    pub topic: String,
    /// Messages the publisher sends.
    pub expected: u64,
    /// When the swarm gives up, complete or not.
    pub deadline: Instant,
    /// The lab's epoch, for the publish stamps.
    pub epoch: Instant,
    /// The pause after a short poll's answer.
    pub poll_interval: Duration,
    /// The published messages' ids.
    pub ids: Ids,
}

/// Whether the swarm can read `door` as `dialect` serves it, from raw bytes. SockJS's polling
/// transports (`xhr`, `jsonp`) carry a session protocol (an open frame, then one request per frame),
/// which the blocking [`crate::client::sockjs`] client speaks: those stay with [`super::load`].
pub fn reads(dialect: Dialect, door: Door) -> bool {
    match dialect {
        Dialect::Pushlab => true,
        Dialect::Sockjs => matches!(
            door,
            Door::XhrStream | Door::Iframe | Door::Sse | Door::WebSocket
        ),
    }
}

/// Whether one request holds a response open for every message (rather than one answer a request).
fn is_held(door: Door) -> bool {
    matches!(
        door,
        Door::XhrStream | Door::Iframe | Door::Sse | Door::WebSocket
    )
}

/// The bytes of the request that opens (or, for a polling door, repeats) a subscription after id
/// `after`. `session` names a SockJS session and is fresh for each connection.
pub fn request(
    dialect: Dialect,
    door: Door,
    addr: SocketAddr,
    topic: &str,
    after: u64,
    session: &str,
) -> String {
    let (method, target) = match dialect {
        Dialect::Pushlab => (
            "GET",
            match door {
                Door::ShortPoll => format!("/poll/{topic}?after={after}"),
                Door::LongPoll => format!("/longpoll/{topic}?after={after}"),
                Door::Jsonp => format!("/jsonp/{topic}?after={after}&callback={CALLBACK}"),
                Door::XhrStream => format!("/stream/{topic}?after={after}"),
                Door::Iframe => format!("/iframe/{topic}?after={after}&callback={CALLBACK}"),
                Door::Sse => format!("/sse/{topic}?after={after}"),
                Door::WebSocket => format!("/ws/{topic}?after={after}"),
            },
        ),
        Dialect::Sockjs => {
            let query = format!("topic={topic}&after={after}");
            let session_path =
                |transport: &str| format!("{SOCKJS_PREFIX}/000/{session}/{transport}");
            match door {
                Door::WebSocket => ("GET", format!("{SOCKJS_PREFIX}/websocket?{query}")),
                Door::XhrStream => ("POST", format!("{}?{query}", session_path("xhr_streaming"))),
                Door::Sse => ("GET", format!("{}?{query}", session_path("eventsource"))),
                Door::Iframe => (
                    "GET",
                    format!("{}?{query}&c={CALLBACK}", session_path("htmlfile")),
                ),
                Door::LongPoll => ("POST", format!("{}?{query}", session_path("xhr"))),
                Door::Jsonp => (
                    "GET",
                    format!("{}?{query}&c={CALLBACK}", session_path("jsonp")),
                ),
                Door::ShortPoll => ("GET", format!("/poll/{topic}?after={after}")),
            }
        }
    };
    let extra = if door == Door::WebSocket {
        // The RFC 6455 §1.3 example key: a server checks its form (16 bytes in base64), not its
        // freshness, and the swarm never checks the accept value (the handshake is tested elsewhere).
        "Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    } else if method == "POST" {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n{extra}\r\n")
}

/// Finds every complete marker `QQs<seq>t<micros>ZZ` in `bytes` and calls `found(seq, micros)`.
/// Returns how many leading bytes are done with: all of them but an incomplete marker at the end (or
/// the last two bytes, which could start one), which the caller keeps for the next read.
pub fn scan_markers(bytes: &[u8], mut found: impl FnMut(u64, u64)) -> usize {
    let mut at = 0;
    while let Some(offset) = find(bytes.get(at..).unwrap_or_default(), b"QQs") {
        let start = at + offset;
        let (seq, after_seq) = digits(bytes, start + 3);
        let Some(&separator) = bytes.get(after_seq) else {
            return start; // cut inside the number: wait for the rest
        };
        if separator != b't' {
            at = start + 3;
            continue;
        }
        let (micros, after_micros) = digits(bytes, after_seq + 1);
        let Some(end) = bytes.get(after_micros..after_micros + 2) else {
            return start;
        };
        if end == b"ZZ" {
            if let (Some(seq), Some(micros)) = (seq, micros) {
                found(seq, micros);
            }
        }
        at = after_micros;
    }
    bytes.len().saturating_sub(2).max(at)
}

/// The decimal number that starts at `from` (if any digits are there) and where it ends.
fn digits(bytes: &[u8], from: usize) -> (Option<u64>, usize) {
    let tail = bytes.get(from..).unwrap_or_default();
    let len = tail.iter().take_while(|b| b.is_ascii_digit()).count();
    let number = std::str::from_utf8(tail.get(..len).unwrap_or_default())
        .ok()
        .and_then(|text| text.parse().ok());
    (number, from + len)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The decimal number right after the first `key` in `bytes`.
fn number_after(bytes: &[u8], key: &[u8]) -> Option<u64> {
    let start = find(bytes, key)? + key.len();
    digits(bytes, start).0
}

/// One subscriber's state.
struct Subscriber {
    member: Member,
    /// Its socket; `None` once it failed for good.
    stream: Option<mio::net::TcpStream>,
    /// Received bytes not yet used.
    pending: Vec<u8>,
    /// Held doors: whether the response head has arrived.
    head_seen: bool,
    /// Whether it has counted itself ready.
    ready: bool,
    /// The id to ask after: the `last` of the latest answer, or the last message's id.
    after: u64,
    /// The highest sequence number received.
    highest: u64,
    /// Polling doors: when to send the next request (`None`: a request is out, or none is due).
    next_request: Option<Instant>,
    /// Connections opened, to name a fresh SockJS session each time.
    connections: u64,
    tally: Tally,
}

/// Runs the swarm until every subscriber has every message or the deadline passes, and returns one
/// tally per member, in order. `ready` is counted up once per subscriber when it is listening: a held
/// door once its response head arrived, a polling door once its first request is out.
pub fn run(plan: &SwarmPlan, ready: &AtomicUsize) -> io::Result<Finished> {
    let mut poll = Poll::new()?;
    let start_after = plan.ids.lock().ok().and_then(|ids| ids.first().copied());
    let mut subscribers: Vec<Subscriber> = plan
        .members
        .iter()
        .map(|member| Subscriber {
            member: member.clone(),
            stream: None,
            pending: Vec::new(),
            head_seen: false,
            ready: false,
            after: start_after.unwrap_or(0),
            highest: 0,
            next_request: None,
            connections: 0,
            tally: Tally::new(plan.expected),
        })
        .collect();
    for (index, subscriber) in subscribers.iter_mut().enumerate() {
        open(subscriber, index, plan, &poll);
        if !is_held(subscriber.member.door) && subscriber.stream.is_some() {
            subscriber.ready = true;
            ready.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut events = Events::with_capacity(1024);
    // Counted as they complete, so that a turn costs what its events cost, not a pass over every
    // subscriber (10,000 of them would make each turn as slow as the server's whole broadcast).
    let mut complete = subscribers.iter().filter(|s| s.tally.complete()).count();
    for _ in 0..MAX_TURNS {
        let now = Instant::now();
        if now >= plan.deadline || complete == subscribers.len() {
            break;
        }
        // Only short polls wait between requests; their timers are few compared with the events.
        let mut wake = plan.deadline.min(now + TICK);
        for at in subscribers.iter().filter_map(|s| s.next_request) {
            wake = wake.min(at);
        }
        match poll.poll(&mut events, Some(wake.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            let index = event.token().0;
            // A peer that closed (or failed) may have sent its last bytes and its FIN together, in
            // one readiness edge: then the socket is read to its end, not only to a short read.
            let closing = event.is_read_closed() || event.is_error();
            if let Some(subscriber) = subscribers.get_mut(index) {
                let was_complete = subscriber.tally.complete();
                on_readable(subscriber, index, plan, &poll, ready, closing);
                if !was_complete && subscriber.tally.complete() {
                    complete += 1;
                }
            }
        }
        let now = Instant::now();
        for (index, subscriber) in subscribers.iter_mut().enumerate() {
            if subscriber.next_request.is_some_and(|at| at <= now) && !subscriber.tally.complete() {
                send(subscriber, index, plan);
            }
        }
    }
    let mut open = Vec::with_capacity(subscribers.len());
    let mut tallies = Vec::with_capacity(subscribers.len());
    for mut subscriber in subscribers {
        if let Some(stream) = subscriber.stream.take() {
            closed(&subscriber.member.counters);
            open.push(stream);
        }
        tallies.push(subscriber.tally);
    }
    Ok(Finished {
        tallies,
        connections: Connections(open),
    })
}

/// What a swarm hands back: one tally per member, in order, and the connections still open.
#[derive(Debug)]
pub struct Finished {
    /// One tally per member.
    pub tallies: Vec<Tally>,
    /// The connections still open at the end.
    pub connections: Connections,
}

/// Connections the swarm left open, closed when this is dropped. The caller drops it after its last
/// CPU reading: 10,000 connections closing at once cost the server as much CPU as a broadcast to
/// them (each close is a FIN to answer and a socket to free), and that is the end of the test, not
/// the delivery it measures.
#[derive(Debug)]
pub struct Connections(Vec<mio::net::TcpStream>);

impl Connections {
    /// No connections.
    pub fn none() -> Connections {
        Connections(Vec::new())
    }

    /// How many are open.
    pub fn count(&self) -> usize {
        self.0.len()
    }
}

/// Opens the subscriber's connection and sends its request; a failure is its error, and it stops.
fn open(subscriber: &mut Subscriber, index: usize, plan: &SwarmPlan, poll: &Poll) {
    let connected = connect(subscriber.member.addr).and_then(|mut stream| {
        poll.registry()
            .register(&mut stream, Token(index), Interest::READABLE)?;
        Ok(stream)
    });
    match connected {
        Ok(stream) => {
            opened(&subscriber.member.counters);
            subscriber.stream = Some(stream);
            subscriber.connections += 1;
            subscriber.pending.clear();
            subscriber.head_seen = false;
            send(subscriber, index, plan);
        }
        Err(e) => subscriber.tally.fail(format!("connect: {e}")),
    }
}

/// Writes the subscriber's next request (all of it, or it is an error).
fn send(subscriber: &mut Subscriber, index: usize, plan: &SwarmPlan) {
    subscriber.next_request = None;
    let session = format!("{}-{index}-{}", plan.topic, subscriber.connections);
    let text = request(
        plan.dialect,
        subscriber.member.door,
        subscriber.member.addr,
        &plan.topic,
        subscriber.after,
        &session,
    );
    let Some(stream) = subscriber.stream.as_mut() else {
        return;
    };
    subscriber.tally.requests += 1;
    match stream.write(text.as_bytes()) {
        Ok(written) => {
            add(&subscriber.member.counters.bytes_to_server, written);
            if written != text.len() {
                subscriber
                    .tally
                    .fail("a request did not fit an empty socket buffer");
                drop_connection(subscriber);
            }
        }
        Err(e) => {
            subscriber.tally.fail(format!("send: {e}"));
            drop_connection(subscriber);
        }
    }
}

/// Reads all that arrived for one subscriber and acts on it.
fn on_readable(
    subscriber: &mut Subscriber,
    index: usize,
    plan: &SwarmPlan,
    poll: &Poll,
    ready: &AtomicUsize,
    closing: bool,
) {
    let Some(stream) = subscriber.stream.as_mut() else {
        return;
    };
    let mut ended = false;
    let mut chunk = [0u8; READ_CHUNK_BYTES];
    // Bounded: a socket that always has more is left for the next turn after this many reads.
    for _ in 0..64 {
        match stream.read(&mut chunk) {
            Ok(0) => {
                ended = true;
                break;
            }
            Ok(n) => {
                add(&subscriber.member.counters.bytes_to_client, n);
                subscriber
                    .pending
                    .extend_from_slice(chunk.get(..n).unwrap_or_default());
                if n < chunk.len() && !closing {
                    // A short read took all the socket held: the next bytes raise a new readiness
                    // event (mio is edge-triggered), so the read that would say `WouldBlock` is
                    // one system call per event saved. A closing socket raises no further event,
                    // so it is read on to its end-of-file.
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                ended = true;
                break;
            }
        }
    }
    let now_us = plan.epoch.elapsed().as_micros() as u64;
    if is_held(subscriber.member.door) {
        take_stream(subscriber, now_us, ready);
    } else {
        take_answers(subscriber, plan, now_us);
        if !ended {
            send_if_due_now(subscriber, index, plan);
        }
    }
    if ended && !subscriber.tally.complete() && Instant::now() < plan.deadline {
        // The server ended the connection (a stream's byte limit, a keep-alive close): open it again,
        // after the last message this subscriber has.
        drop_connection(subscriber);
        if is_held(subscriber.member.door) && subscriber.highest > 0 {
            if let Some(id) = plan
                .ids
                .lock()
                .ok()
                .and_then(|ids| ids.get(subscriber.highest as usize).copied())
            {
                subscriber.after = id;
            }
        }
        open(subscriber, index, plan, poll);
    } else if ended {
        drop_connection(subscriber);
    }
}

/// A held door: check the response head once, then take every marker that has arrived.
fn take_stream(subscriber: &mut Subscriber, now_us: u64, ready: &AtomicUsize) {
    if !subscriber.head_seen {
        let Some(end) = find(&subscriber.pending, b"\r\n\r\n") else {
            if subscriber.pending.len() > MAX_HEAD_BYTES {
                subscriber.tally.fail("a response head too long");
                drop_connection(subscriber);
            }
            return;
        };
        let head = subscriber.pending.get(..end).unwrap_or_default();
        if !(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.1 101")) {
            let status_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
            let text = format!("answered {}", String::from_utf8_lossy(status_line));
            subscriber.tally.fail(text);
            drop_connection(subscriber);
            return;
        }
        subscriber.head_seen = true;
        subscriber.pending.drain(..end + 4);
        if !subscriber.ready {
            subscriber.ready = true;
            ready.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut found = Vec::new();
    let done = scan_markers(&subscriber.pending, |seq, micros| found.push((seq, micros)));
    subscriber.pending.drain(..done);
    if subscriber.pending.len() > MAX_PENDING_BYTES {
        let excess = subscriber.pending.len() - MAX_PENDING_BYTES;
        subscriber.pending.drain(..excess);
    }
    for (seq, micros) in found {
        record(subscriber, seq, micros, now_us);
    }
}

/// A polling door: take every whole answer (`Content-Length` framed), record its markers, keep its
/// `last`, and schedule the next request.
fn take_answers(subscriber: &mut Subscriber, plan: &SwarmPlan, now_us: u64) {
    // Bounded: each turn consumes one whole answer, and a read brings at most a few.
    for _ in 0..1024 {
        let pending = &subscriber.pending;
        let Some(head_end) = find(pending, b"\r\n\r\n") else {
            return;
        };
        let head = String::from_utf8_lossy(pending.get(..head_end).unwrap_or_default())
            .to_ascii_lowercase();
        let Some(length) = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
        else {
            subscriber.tally.fail("an answer without Content-Length");
            drop_connection(subscriber);
            return;
        };
        let body_start = head_end + 4;
        let Some(body) = pending.get(body_start..body_start + length) else {
            return;
        };
        let body = body.to_vec();
        subscriber.pending.drain(..body_start + length);
        if !head.starts_with("http/1.1 200") {
            let status = head.lines().next().unwrap_or_default().to_string();
            subscriber.tally.fail(format!("answered {status}"));
        }
        let mut found = Vec::new();
        scan_markers(&body, |seq, micros| found.push((seq, micros)));
        let count = found.len();
        for (seq, micros) in found {
            record(subscriber, seq, micros, now_us);
        }
        if let Some(last) = number_after(&body, b"\"last\":") {
            subscriber.after = last;
        }
        // A short poll waits unless the answer was full; a long poll or JSONP asks again at once,
        // as the browser client does, once the answers that arrived together are all taken.
        let wait = if subscriber.member.door == Door::ShortPoll && count < MAX_BATCH_MESSAGES {
            plan.poll_interval
        } else {
            Duration::ZERO
        };
        subscriber.next_request = Some(Instant::now() + wait);
    }
}

/// Sends a polling door's next request now if it is due now (an answer that asks again at once).
fn send_if_due_now(subscriber: &mut Subscriber, index: usize, plan: &SwarmPlan) {
    if subscriber
        .next_request
        .is_some_and(|at| at <= Instant::now())
        && !subscriber.tally.complete()
    {
        send(subscriber, index, plan);
    }
}

/// Records message `seq`, published at `published_us`, received at `now_us`.
fn record(subscriber: &mut Subscriber, seq: u64, published_us: u64, now_us: u64) {
    subscriber.highest = subscriber.highest.max(seq);
    subscriber.tally.on_stamp(seq, published_us, now_us);
}

/// Closes the subscriber's connection, if it has one.
fn drop_connection(subscriber: &mut Subscriber) {
    if subscriber.stream.take().is_some() {
        closed(&subscriber.member.counters);
    }
    subscriber.next_request = None;
}

fn opened(counters: &RelayCounters) {
    counters
        .connections_accepted
        .fetch_add(1, Ordering::Relaxed);
    let open = counters.connections_open.fetch_add(1, Ordering::Relaxed) + 1;
    counters.connections_peak.fetch_max(open, Ordering::Relaxed);
}

fn closed(counters: &RelayCounters) {
    counters.connections_open.fetch_sub(1, Ordering::Relaxed);
}

fn add(counter: &std::sync::atomic::AtomicU64, bytes: usize) {
    counter.fetch_add(bytes as u64, Ordering::Relaxed);
}

/// A non-blocking connection to `addr`. The connect itself blocks: on loopback it completes as soon
/// as the server's kernel queues it, without waiting for the server to accept.
fn connect(addr: SocketAddr) -> io::Result<mio::net::TcpStream> {
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    Ok(mio::net::TcpStream::from_std(stream))
}

/// A fan-out run with its own publisher: the subscribers of one door spread over one or more
/// nodes (subscriber `i` on node `i % nodes.len()`), the publisher posting to the first node. This
/// is how a cluster sharing its topics through Redis is measured: a message published on one node
/// must reach the subscribers of every node.
#[derive(Clone, Debug)]
pub struct FanOut {
    /// The door every subscriber uses.
    pub door: Door,
    /// The nodes (at least one).
    pub nodes: Vec<SocketAddr>,
    /// Subscribers in all.
    pub subscribers: usize,
    /// Messages published.
    pub messages: u64,
    /// Messages per second.
    pub rate_per_s: f64,
    /// Bytes of each payload (at least the marker).
    pub payload_bytes: usize,
    /// The pause after a short poll's answer.
    pub poll_interval: Duration,
    /// The topic.
    pub topic: String,
}

/// What a [`FanOut`] measured.
#[derive(Debug)]
pub struct FanOutcome {
    /// One tally per subscriber.
    pub tallies: Vec<Tally>,
    /// How much each of the caller's gauges grew from the first publish to the end of delivery.
    pub gauges: Vec<f64>,
    /// This process's CPU time over the same span (every subscriber and the publisher), in ms.
    pub generator_cpu_ms: Option<u64>,
    /// Connecting and subscribing everyone.
    pub setup: Duration,
    /// Bytes and connections at the subscribers' sockets.
    pub counters: Arc<RelayCounters>,
}

impl FanOutcome {
    /// Every first delivery's latency, in microseconds, sorted.
    pub fn latencies_us(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self
            .tallies
            .iter()
            .flat_map(|t| t.latencies_us.iter().copied())
            .collect();
        all.sort_unstable();
        all
    }

    /// (subscriber, message) pairs delivered.
    pub fn delivered(&self) -> u64 {
        self.tallies.iter().map(|t| t.received).sum()
    }

    /// Repeated receipts.
    pub fn duplicated(&self) -> u64 {
        self.tallies.iter().map(|t| t.duplicated).sum()
    }

    /// Failures, with the first one's text.
    pub fn errors(&self) -> (u64, Option<String>) {
        let count = self.tallies.iter().map(|t| t.errors).sum();
        let first = self.tallies.iter().find_map(|t| t.first_error.clone());
        (count, first)
    }
}

/// Subscribing (connections, and the held doors' response heads) must finish within this long.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// After subscribing, this long passes before the first publish, so that every request was read.
pub const SETTLE_TIME: Duration = Duration::from_millis(500);
/// After the last publish, delivery may take this long (besides a short poll's interval).
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Runs `plan`: a primer message (no marker; it gives the id every subscriber starts after), the
/// swarm on its own thread, then the messages published at the plan's rate on one keep-alive
/// connection from this thread. `gauges` is read at the first publish and after delivery ends.
pub fn fan_out(plan: &FanOut, gauges: &dyn Fn() -> io::Result<Vec<f64>>) -> io::Result<FanOutcome> {
    let Some(&first_node) = plan.nodes.first() else {
        return Err(io::Error::other("no node to run on"));
    };
    let setup_start = Instant::now();
    let mut publisher =
        crate::client::http::HttpConnection::connect(first_node, Duration::from_secs(10))?;
    let primer = publish(&mut publisher, &plan.topic, b"primer")?;
    let ids: Ids = Arc::new(Mutex::new(vec![primer]));
    let counters = Arc::new(RelayCounters::default());
    let publishing = Duration::from_secs_f64(plan.messages as f64 / plan.rate_per_s.max(0.001));
    let epoch = Instant::now();
    let swarm_plan = SwarmPlan {
        members: (0..plan.subscribers)
            .map(|i| Member {
                door: plan.door,
                addr: plan.nodes[i % plan.nodes.len()],
                counters: Arc::clone(&counters),
            })
            .collect(),
        dialect: Dialect::Pushlab,
        topic: plan.topic.clone(),
        expected: plan.messages,
        deadline: epoch
            + SETUP_TIMEOUT
            + SETTLE_TIME
            + publishing
            + DRAIN_TIME
            + plan.poll_interval * 2,
        epoch,
        poll_interval: plan.poll_interval,
        ids: Arc::clone(&ids),
    };
    let ready = Arc::new(AtomicUsize::new(0));
    let swarm = {
        let ready = Arc::clone(&ready);
        std::thread::Builder::new()
            .name("swarm".into())
            .spawn(move || run(&swarm_plan, &ready))?
    };
    let setup_deadline = setup_start + SETUP_TIMEOUT;
    while ready.load(Ordering::SeqCst) < plan.subscribers && Instant::now() < setup_deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let setup = setup_start.elapsed();
    std::thread::sleep(SETTLE_TIME);

    let gauges_before = gauges()?;
    let own_cpu_before = super::machine::cpu_time_ms(std::process::id());
    let first = Instant::now();
    for seq in 1..=plan.messages {
        let due = first + Duration::from_secs_f64((seq - 1) as f64 / plan.rate_per_s);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let micros = epoch.elapsed().as_micros() as u64;
        let data = super::load::stamped_payload(seq, micros, plan.payload_bytes, 'x');
        let id = publish(&mut publisher, &plan.topic, data.as_bytes())?;
        if let Ok(mut ids) = ids.lock() {
            ids.push(id);
        }
    }
    let Finished {
        tallies,
        connections,
    } = swarm
        .join()
        .map_err(|_| io::Error::other("the swarm panicked"))??;
    let grown = gauges()?
        .iter()
        .zip(&gauges_before)
        .map(|(after, before)| after - before)
        .collect();
    let own_cpu_after = super::machine::cpu_time_ms(std::process::id());
    drop(connections);
    Ok(FanOutcome {
        tallies,
        gauges: grown,
        generator_cpu_ms: own_cpu_before
            .zip(own_cpu_after)
            .map(|(b, a)| a.saturating_sub(b)),
        setup,
        counters,
    })
}

/// Publishes `body` on a keep-alive connection and returns its id (from the answer `{"id":N}`).
fn publish(
    connection: &mut crate::client::http::HttpConnection,
    topic: &str,
    body: &[u8],
) -> io::Result<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::load::stamped_payload;

    fn markers(bytes: &[u8]) -> (Vec<(u64, u64)>, usize) {
        let mut found = Vec::new();
        let done = scan_markers(bytes, |seq, micros| found.push((seq, micros)));
        (found, done)
    }

    #[test]
    fn markers_are_found_in_any_framing() {
        let payload = stamped_payload(7, 1234, 64, 'a');
        let framings = [
            format!("data: {{\"id\":9,\"data\":\"{payload}\"}}\n\n"),
            format!("<script>onFrame({{\"id\":9,\"data\":\"{payload}\"}})</script>"),
            format!("a[\"{{\\\"id\\\":9,\\\"data\\\":\\\"{payload}\\\"}}\"]\n"),
        ];
        for framing in framings {
            assert_eq!(markers(framing.as_bytes()).0, vec![(7, 1234)], "{framing}");
        }
    }

    #[test]
    fn a_marker_cut_by_a_read_is_kept_for_the_next() {
        let whole = format!("x{}y", stamped_payload(12, 99, 32, 'b'));
        for cut in 0..whole.len() {
            let (first, rest) = whole.as_bytes().split_at(cut);
            let (found, done) = markers(first);
            let mut joined = first[done..].to_vec();
            joined.extend_from_slice(rest);
            let (later, _) = markers(&joined);
            let all: Vec<_> = found.into_iter().chain(later).collect();
            assert_eq!(all, vec![(12, 99)], "cut at {cut}");
        }
    }

    #[test]
    fn a_false_start_is_skipped() {
        assert_eq!(markers(b"QQsxQQs3t4ZZ").0, vec![(3, 4)]);
        assert_eq!(markers(b"QQs3u4ZZ QQs5t6ZZ").0, vec![(5, 6)]);
    }

    #[test]
    fn requests_follow_each_dialect() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let sse = request(Dialect::Pushlab, Door::Sse, addr, "t", 4, "s");
        assert!(sse.starts_with("GET /sse/t?after=4 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"));
        let ws = request(Dialect::Sockjs, Door::WebSocket, addr, "t", 0, "s");
        assert!(ws.starts_with("GET /sockjs/websocket?topic=t&after=0 HTTP/1.1\r\n"));
        assert!(ws.contains("Sec-WebSocket-Version: 13\r\n"));
        let stream = request(Dialect::Sockjs, Door::XhrStream, addr, "t", 0, "s");
        assert!(stream.starts_with("POST /sockjs/000/s/xhr_streaming?topic=t&after=0 HTTP/1.1"));
        assert!(stream.ends_with("Content-Length: 0\r\n\r\n"));
        assert!(!reads(Dialect::Sockjs, Door::LongPoll));
        assert!(reads(Dialect::Pushlab, Door::Jsonp));
    }
}
