//! The load of few clients: one subscriber per thread, each the crate's own blocking client for its
//! door, and one publisher whose messages carry the instant they were published. The lab uses it where
//! decoding like a real client is the point (the single-client scenario) or needed (SockJS's polling
//! transports); many clients are one [`super::swarm`] instead, which reads the same payloads.
//!
//! # How a delivery is timed and checked
//!
//! Every message's payload starts with the marker `QQs{seq}t{micros}ZZ`: its sequence number in the
//! run (1, 2, ...) and the time it was published, in microseconds since the lab's epoch (one `Instant` shared by every
//! thread of the process, so no clocks need to agree). The rest is padding up to the payload size. A
//! subscriber that receives it subtracts the stamp from its own clock: that is the delivery latency, from
//! the moment the publisher began its `POST` to the moment the client had the message decoded.
//!
//! The sequence number checks the contract every door promises: each message exactly once and in order.
//! A number seen twice is a duplicate; a number below one already seen is out of order; a number never
//! seen by the end is lost.
//!
//! Subscribers ask with `after=0` on a topic that is new for the run, so a subscriber that connects a
//! little late still gets every message from the topic's log: what would be a race becomes, at worst, a
//! slower first delivery.
//!
//! Every blocking call gets the time left before the run's deadline as its timeout, so no thread
//! outlives the run, whatever the server does.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::client::sockjs::{SockjsClient, Transport};
use crate::client::{self, iframe, json, poll, sse, stream, ws, PushEvent};

/// The seven doors, in the order of the course.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// `GET /poll/{topic}` on a timer.
    ShortPoll,
    /// `GET /longpoll/{topic}`, held until news.
    LongPoll,
    /// `GET /jsonp/{topic}?callback=F`, held like a long poll.
    Jsonp,
    /// `GET /stream/{topic}`: chunked JSON lines.
    XhrStream,
    /// `GET /iframe/{topic}`: chunked `<script>` calls.
    Iframe,
    /// `GET /sse/{topic}`: `text/event-stream`.
    Sse,
    /// `GET /ws/{topic}`: RFC 6455 frames.
    WebSocket,
}

impl Door {
    /// Every door.
    pub const ALL: [Door; 7] = [
        Door::ShortPoll,
        Door::LongPoll,
        Door::Jsonp,
        Door::XhrStream,
        Door::Iframe,
        Door::Sse,
        Door::WebSocket,
    ];

    /// The door's name in tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Door::ShortPoll => "short poll",
            Door::LongPoll => "long poll",
            Door::Jsonp => "JSONP",
            Door::XhrStream => "XHR stream",
            Door::Iframe => "iframe",
            Door::Sse => "SSE",
            Door::WebSocket => "WebSocket",
        }
    }
}

/// How a server's doors are reached: pushlab's URL contract (pushlab itself, behind a proxy or not,
/// and the Node `http` + `ws` peer, which copies it), or SockJS sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// `/poll/{topic}`, `/sse/{topic}`, `/ws/{topic}`, ... as in design.md §3.
    Pushlab,
    /// `/sockjs/{server}/{session}/{transport}?topic=T&after=N` (see [`crate::client::sockjs`]).
    Sockjs,
}

impl Dialect {
    /// The SockJS transport that stands for `door`, if any (SockJS has no short polling).
    pub fn sockjs_transport(door: Door) -> Option<Transport> {
        Some(match door {
            Door::ShortPoll => return None,
            Door::LongPoll => Transport::XhrPolling,
            Door::Jsonp => Transport::JsonpPolling,
            Door::XhrStream => Transport::XhrStreaming,
            Door::Iframe => Transport::Htmlfile,
            Door::Sse => Transport::EventSource,
            Door::WebSocket => Transport::WebSocket,
        })
    }
}

/// The prefix the lab's SockJS peer serves under (`benches/peers/npm/sockjs.js`).
pub const SOCKJS_PREFIX: &str = "/sockjs";

/// What one subscriber needs to know.
#[derive(Clone, Debug)]
pub struct SubscriberPlan {
    /// Its door.
    pub door: Door,
    /// How the server's doors are reached.
    pub dialect: Dialect,
    /// Its number in the phase (it names its SockJS session).
    pub index: usize,
    /// Where it connects (a relay in front of the server).
    pub addr: SocketAddr,
    /// The run's topic.
    pub topic: String,
    /// How many messages the publisher sends.
    pub expected: u64,
    /// When it gives up.
    pub deadline: Instant,
    /// The lab's epoch, for the publish stamps.
    pub epoch: Instant,
    /// The pause between two short polls.
    pub poll_interval: Duration,
}

/// What one subscriber saw.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Latency of each first delivery, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Distinct messages received.
    pub received: u64,
    /// Messages received more than once.
    pub duplicated: u64,
    /// Messages received after a later one.
    pub out_of_order: u64,
    /// HTTP requests sent (a WebSocket handshake is one).
    pub requests: u64,
    /// Failures before the deadline, and the first one's text.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    seen: Vec<bool>,
    highest: u64,
}

impl Tally {
    /// A tally for a run of `expected` messages.
    pub fn new(expected: u64) -> Tally {
        Tally {
            seen: vec![false; expected as usize + 1],
            ..Tally::default()
        }
    }

    /// Done when every message arrived.
    pub fn complete(&self) -> bool {
        self.received + 1 >= self.seen.len() as u64
    }

    /// Records one payload as received now.
    fn on_payload(&mut self, data: &str, epoch: Instant) {
        let Some((seq, published_us)) = read_stamp(data) else {
            self.fail("a payload without the lab's stamp");
            return;
        };
        self.on_stamp(seq, published_us, epoch.elapsed().as_micros() as u64);
    }

    /// Records message `seq`, stamped `published_us`, as received at `now_us` (both since the lab's
    /// epoch).
    pub fn on_stamp(&mut self, seq: u64, published_us: u64, now_us: u64) {
        let Some(seen) = self.seen.get_mut(seq as usize).filter(|_| seq > 0) else {
            self.fail("a sequence number the publisher never sent");
            return;
        };
        if *seen {
            self.duplicated += 1;
            return;
        }
        *seen = true;
        self.received += 1;
        if seq < self.highest {
            self.out_of_order += 1;
        }
        self.highest = self.highest.max(seq);
        self.latencies_us.push(now_us.saturating_sub(published_us));
    }

    /// Counts a failure, and keeps the first one's text.
    pub fn fail(&mut self, error: impl ToString) {
        self.errors += 1;
        self.first_error.get_or_insert_with(|| error.to_string());
    }
}

/// The payload of message `seq`: its marker `QQs{seq}t{published_us}ZZ`, then `filler` repeated up
/// to `size` bytes. The marker is letters and digits only, so no door escapes it, and the many-client
/// load ([`super::swarm`]) finds it in the raw bytes of any framing without decoding it.
pub fn stamped_payload(seq: u64, published_us: u64, size: usize, filler: char) -> String {
    let mut data = format!("QQs{seq}t{published_us}ZZ");
    while data.len() < size {
        data.push(filler);
    }
    data
}

/// `(seq, published_us)` from a payload made by [`stamped_payload`].
pub fn read_stamp(data: &str) -> Option<(u64, u64)> {
    let rest = data.strip_prefix("QQs")?;
    let (seq, rest) = rest.split_once('t')?;
    let (published_us, _) = rest.split_once("ZZ")?;
    Some((seq.parse().ok()?, published_us.parse().ok()?))
}

/// Runs one subscriber until it has every message or the deadline passes; `ready` is counted up once
/// it is connected (or, for the polling doors, about to ask).
pub fn run_subscriber(plan: &SubscriberPlan, ready: &AtomicUsize) -> Tally {
    let mut tally = Tally::new(plan.expected);
    let result = match plan.door {
        _ if plan.dialect == Dialect::Sockjs => sockjs_loop(plan, ready, &mut tally),
        Door::ShortPoll | Door::LongPoll | Door::Jsonp => poll_loop(plan, ready, &mut tally),
        Door::XhrStream | Door::Iframe | Door::Sse => stream_loop(plan, ready, &mut tally),
        Door::WebSocket => websocket_loop(plan, ready, &mut tally),
    };
    if let Err(error) = result {
        // A timeout at the deadline is how an incomplete run ends, not a failure of its own.
        if Instant::now() < plan.deadline {
            tally.fail(error);
        }
    }
    tally
}

/// The time left, at least a millisecond (a zero timeout means "none" to `std::net`).
fn time_left(plan: &SubscriberPlan) -> Duration {
    plan.deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

fn poll_loop(plan: &SubscriberPlan, ready: &AtomicUsize, tally: &mut Tally) -> io::Result<()> {
    ready.fetch_add(1, Ordering::SeqCst);
    let mut after = 0;
    // Bounded by the deadline; each request also times out at it.
    while !tally.complete() && Instant::now() < plan.deadline {
        tally.requests += 1;
        let batch = match plan.door {
            Door::ShortPoll => poll::short_poll(plan.addr, &plan.topic, Some(after))?,
            Door::LongPoll => {
                poll::long_poll(plan.addr, &plan.topic, Some(after), time_left(plan))?
            }
            _ => client::jsonp::jsonp_poll(
                plan.addr,
                &plan.topic,
                Some(after),
                "lab.on",
                time_left(plan),
            )?,
        };
        for message in &batch.messages {
            tally.on_payload(&message.data, plan.epoch);
        }
        after = batch.last;
        if plan.door == Door::ShortPoll && !tally.complete() {
            std::thread::sleep(plan.poll_interval.min(time_left(plan)));
        }
    }
    Ok(())
}

fn stream_loop(plan: &SubscriberPlan, ready: &AtomicUsize, tally: &mut Tally) -> io::Result<()> {
    tally.requests += 1;
    let mut next: Box<dyn FnMut() -> io::Result<Option<String>>> = match plan.door {
        Door::XhrStream => {
            let mut client =
                stream::XhrStreamClient::connect(plan.addr, &plan.topic, Some(0), time_left(plan))?;
            Box::new(move || next_push_message(client.next_event()))
        }
        Door::Iframe => {
            let mut client = iframe::IframeClient::connect(
                plan.addr,
                &plan.topic,
                Some(0),
                "lab.on",
                time_left(plan),
            )?;
            Box::new(move || next_push_message(client.next_event()))
        }
        _ => {
            let path = client::door_path("sse", &plan.topic, Some(0), &[]);
            let mut client = sse::SseClient::connect(plan.addr, &path, None, time_left(plan))?;
            Box::new(move || {
                Ok(client
                    .next_event()?
                    .map(|event| match event.event_type.as_str() {
                        "message" => event.data,
                        other => format!("unexpected event {other}"),
                    }))
            })
        }
    };
    ready.fetch_add(1, Ordering::SeqCst);
    // Bounded by the deadline: the socket's read timeout is the time that was left at connect.
    while !tally.complete() && Instant::now() < plan.deadline {
        match next()? {
            Some(data) if data.is_empty() => {}
            Some(data) => tally.on_payload(&data, plan.epoch),
            None => return Err(io::Error::other("the server ended the stream")),
        }
    }
    Ok(())
}

/// The next message's payload from a JSON stream; a heartbeat is an empty string (which the loop
/// skips), and a reset is text that fails the stamp check, so it counts as an error.
fn next_push_message(event: io::Result<Option<PushEvent>>) -> io::Result<Option<String>> {
    Ok(event?.map(|event| match event {
        PushEvent::Message(message) => message.data,
        PushEvent::Reset { last } => format!("reset after {last}"),
        PushEvent::Heartbeat => String::new(),
    }))
}

fn websocket_loop(plan: &SubscriberPlan, ready: &AtomicUsize, tally: &mut Tally) -> io::Result<()> {
    tally.requests += 1;
    let options = ws::ClientOptions {
        read_timeout: Some(time_left(plan)),
        ..ws::ClientOptions::default()
    };
    let path = client::door_path("ws", &plan.topic, Some(0), &[]);
    let mut socket = ws::Client::connect_with(plan.addr, &path, &options)?;
    ready.fetch_add(1, Ordering::SeqCst);
    // Bounded by the deadline: the read timeout is the time that was left at connect.
    while !tally.complete() && Instant::now() < plan.deadline {
        match socket.recv()? {
            crate::ws::Event::Text(text) => {
                let value = json::parse(&text).map_err(client::invalid_data)?;
                match PushEvent::from_json(&value) {
                    Some(PushEvent::Message(message)) => {
                        tally.on_payload(&message.data, plan.epoch)
                    }
                    Some(PushEvent::Heartbeat) => {}
                    _ => tally.fail(format!("unexpected frame {text}")),
                }
            }
            crate::ws::Event::Close { code, .. } => {
                return Err(io::Error::other(format!("closed with {code:?}")))
            }
            _ => {}
        }
    }
    let _ = socket.close_normal();
    Ok(())
}

/// A SockJS session over the transport that stands for the plan's door. The session name is unique
/// in the phase (topic and subscriber number); the topic and `after=0` go in the query, since SockJS
/// owns the path.
fn sockjs_loop(plan: &SubscriberPlan, ready: &AtomicUsize, tally: &mut Tally) -> io::Result<()> {
    let transport = Dialect::sockjs_transport(plan.door).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("SockJS has no transport for {}", plan.door.name()),
        )
    })?;
    let session = format!("{}-{}", plan.topic, plan.index);
    let query = format!("topic={}&after=0", plan.topic);
    let opened = SockjsClient::open(
        plan.addr,
        SOCKJS_PREFIX,
        &session,
        transport,
        &query,
        time_left(plan),
    );
    // Count the opening request even when it fails, as the other doors do.
    let mut client = opened.inspect_err(|_| tally.requests += 1)?;
    ready.fetch_add(1, Ordering::SeqCst);
    // Bounded by the deadline: every request and read times out at the time left when it was opened.
    let result = (|| {
        while !tally.complete() && Instant::now() < plan.deadline {
            client.set_timeout(time_left(plan));
            for message in client.next_messages()? {
                tally.on_payload(&message.data, plan.epoch);
            }
        }
        Ok(())
    })();
    tally.requests += client.requests();
    result
}
