//! The well-behaved clients: publishers at a steady rate, and subscribers on every door that check
//! they receive every message once and in order.
//!
//! # How a subscriber knows it missed nothing
//!
//! A publisher numbers its messages: the payload is `"<n> "` and padding (`x`), and the last one,
//! published when the soak ends, is `"<n> end"`. The hub gives each message an id that grows per topic
//! (design §3). A subscriber starts after the id of a primer message published before any subscriber
//! exists, and resumes after the last id it saw whenever a response ends (short and long polls after
//! every answer, the XHR and iframe streams after `max_stream_bytes`, any door after an error), so it
//! must see the numbers 1, 2, 3, … up to the end, each once:
//!
//! - an id not above the last one, or a number below the next expected, is a duplicate;
//! - a number above the next expected is a gap: the numbers in between are lost;
//! - a subscriber that never sees the end message lost everything after its last number.
//!
//! Every client is a blocking client of `pushlab::client` in a thread of its own, with a read timeout,
//! so a stuck request ends in an error that is counted, never in a soak that does not stop.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pushlab::client::http::HttpConnection;
use pushlab::client::iframe::IframeClient;
use pushlab::client::json::{self, JsonValue};
use pushlab::client::poll::{self, Batch};
use pushlab::client::sse::SseClient;
use pushlab::client::stream::XhrStreamClient;
use pushlab::client::ws::{Client, ClientOptions};
use pushlab::client::{door_path, jsonp, PushEvent};
use pushlab::ws::Event;

use crate::doors::Door;
use crate::tally::Tally;

/// How long any read of a well-behaved client may wait: above the long-poll hold (20 s), so a held
/// request that is answered on time never times out.
pub const READ_TIMEOUT: Duration = Duration::from_secs(25);
/// A short poll asks again this long after an answer that was not full (the browser client's interval).
const SHORT_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A full poll answer (`max_batch_messages`) is followed by the next request at once.
const MAX_BATCH_MESSAGES: usize = 100;
/// After an error, a subscriber waits this long before it tries again.
const RETRY_DELAY: Duration = Duration::from_millis(500);
/// The JSONP and iframe callback name.
const CALLBACK: &str = "cb";

/// One topic's publisher: what it publishes and how fast.
#[derive(Clone, Debug)]
pub struct PublisherPlan {
    pub topic: &'static str,
    pub per_second: u64,
    /// Payload sizes cycle through this range (bytes, the number included).
    pub min_bytes: usize,
    pub max_bytes: usize,
}

/// The payload of message number `n` of `plan`: `"<n> "` padded with `x` to a size that cycles through
/// the plan's range (a prime step, so sizes do not repeat in a short period).
fn payload(plan: &PublisherPlan, n: u64) -> String {
    let span = (plan.max_bytes - plan.min_bytes + 1) as u64;
    let size = plan.min_bytes + ((n * 7_919) % span) as usize;
    let mut text = format!("{n} ");
    let padding = size.saturating_sub(text.len());
    text.extend(std::iter::repeat_n('x', padding));
    text
}

/// Publishes `text` to `topic` on a keep-alive connection (opened again when the server closed it) and
/// returns the id from `{"id":N}`.
fn publish(
    connection: &mut Option<HttpConnection>,
    addr: SocketAddr,
    topic: &str,
    text: &str,
) -> io::Result<u64> {
    let mut open = match connection.take() {
        Some(open) => open,
        None => HttpConnection::connect(addr, READ_TIMEOUT)?,
    };
    open.send_request(
        "POST",
        &format!("/publish/{topic}"),
        &[("Content-Type", "text/plain; charset=utf-8")],
        text.as_bytes(),
    )?;
    let response = open.read_response()?;
    let closing = response
        .header("Connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"));
    if !closing {
        *connection = Some(open);
    }
    if response.status != 200 {
        return Err(io::Error::other(format!("HTTP {}", response.status)));
    }
    json::parse(response.text()?)
        .ok()
        .and_then(|value| value.get("id").and_then(JsonValue::as_u64))
        .ok_or_else(|| io::Error::other("publish answer without an id"))
}

/// Publishes the primer of `topic` (number 0, before any subscriber) and returns its id.
pub fn publish_primer(addr: SocketAddr, topic: &str) -> io::Result<u64> {
    publish(&mut None, addr, topic, "0 primer")
}

/// Publishes messages 1, 2, … on schedule until the soak stops, then the end message. Returns the end
/// message's number. A number is used up only when the server accepted it, so a failed publish (counted
/// as an error) leaves no gap for the subscribers.
pub fn publish_steadily(addr: SocketAddr, plan: &PublisherPlan, tally: &Tally) -> u64 {
    let who = format!("publisher {}", plan.topic);
    let mut connection = None;
    let start = Instant::now();
    let mut n = 1;
    while !tally.is_stopping() {
        let due = start + Duration::from_micros(1_000_000 * (n - 1) / plan.per_second);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let text = payload(plan, n);
        match publish(&mut connection, addr, plan.topic, &text) {
            Ok(_) => {
                tally.published.fetch_add(1, Ordering::Relaxed);
                tally
                    .published_bytes
                    .fetch_add(text.len() as u64, Ordering::Relaxed);
                n += 1;
            }
            Err(error) => {
                tally.error(&who, error);
                connection = None;
                std::thread::sleep(RETRY_DELAY);
            }
        }
    }
    // The end message must get through, or every subscriber would count the tail as lost.
    for _ in 0..10 {
        match publish(&mut connection, addr, plan.topic, &format!("{n} end")) {
            Ok(_) => {
                tally.published.fetch_add(1, Ordering::Relaxed);
                break;
            }
            Err(error) => {
                tally.error(&who, format!("end message: {error}"));
                connection = None;
                std::thread::sleep(RETRY_DELAY);
            }
        }
    }
    n
}

/// What one subscriber has seen so far.
struct Sequence {
    /// The id to resume after: the last message's.
    last_id: u64,
    /// The number the next message must carry.
    next_number: u64,
    /// Whether the end message has arrived.
    ended: bool,
}

/// One well-behaved subscriber: its door, its topic, and what it has seen.
pub struct Subscriber {
    pub door: Door,
    pub topic: &'static str,
    pub addr: SocketAddr,
    sequence: Sequence,
    /// When it stops waiting for the end message.
    give_up_at: Instant,
}

impl Subscriber {
    /// A subscriber that starts after message `primer_id` of `topic`.
    pub fn new(door: Door, topic: &'static str, addr: SocketAddr, primer_id: u64) -> Subscriber {
        Subscriber {
            door,
            topic,
            addr,
            sequence: Sequence {
                last_id: primer_id,
                next_number: 1,
                ended: false,
            },
            give_up_at: Instant::now(),
        }
    }

    /// Whether to keep reading: the end has not come and the give-up time has not passed (a held
    /// response kept alive by heartbeats would otherwise be read forever).
    fn going_on(&self) -> bool {
        !self.sequence.ended && Instant::now() < self.give_up_at
    }

    /// Follows the topic until the end message, or until `give_up_at`. Returns the number of the next
    /// message it was waiting for (the end's number + 1 when it saw the end).
    pub fn follow(mut self, tally: &Tally, give_up_at: Instant) -> u64 {
        tally
            .door(self.door)
            .subscribers
            .fetch_add(1, Ordering::Relaxed);
        self.give_up_at = give_up_at;
        while self.going_on() {
            let result = match self.door {
                Door::Poll | Door::LongPoll | Door::Jsonp => self.poll_once(tally),
                Door::Stream | Door::Iframe => self.follow_push_stream(tally),
                Door::Sse => self.follow_sse(tally),
                Door::Ws => self.follow_websocket(tally),
            };
            if let Err(error) = result {
                tally.door_error(self.door, error);
                tally
                    .door(self.door)
                    .reconnects
                    .fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(RETRY_DELAY);
            }
        }
        self.sequence.next_number
    }

    /// Checks message `id` carrying `data` against what came before.
    fn on_message(&mut self, id: u64, data: &str, tally: &Tally) {
        let counts = tally.door(self.door);
        let number = data
            .split(' ')
            .next()
            .and_then(|word| word.parse::<u64>().ok());
        let Some(number) = number else {
            tally.door_error(self.door, "a message without a number");
            return;
        };
        let sequence = &mut self.sequence;
        if id <= sequence.last_id || number < sequence.next_number {
            counts.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if number > sequence.next_number {
            counts
                .lost
                .fetch_add(number - sequence.next_number, Ordering::Relaxed);
        }
        counts.delivered.fetch_add(1, Ordering::Relaxed);
        sequence.last_id = id;
        sequence.next_number = number + 1;
        sequence.ended = data.ends_with(" end");
    }

    /// A reset is what a subscriber that fell behind the log gets; a well-behaved one never should.
    /// The gap it announces shows as lost numbers in the next message.
    fn on_reset(&mut self, tally: &Tally) {
        tally.door_error(self.door, "reset (fell behind the log)");
    }

    /// Short poll, long poll or JSONP: one request, one answer.
    fn poll_once(&mut self, tally: &Tally) -> io::Result<()> {
        let after = Some(self.sequence.last_id);
        let batch: Batch = match self.door {
            Door::Poll => poll::short_poll(self.addr, self.topic, after)?,
            Door::LongPoll => poll::long_poll(self.addr, self.topic, after, READ_TIMEOUT)?,
            _ => jsonp::jsonp_poll(self.addr, self.topic, after, CALLBACK, READ_TIMEOUT)?,
        };
        if batch.reset {
            self.on_reset(tally);
        }
        for message in &batch.messages {
            self.on_message(message.id, &message.data, tally);
        }
        if self.door == Door::Poll && batch.messages.len() < MAX_BATCH_MESSAGES {
            std::thread::sleep(SHORT_POLL_INTERVAL);
        }
        Ok(())
    }

    /// XHR or iframe stream: one held response until the server ends it (at `max_stream_bytes`).
    fn follow_push_stream(&mut self, tally: &Tally) -> io::Result<()> {
        let after = Some(self.sequence.last_id);
        let mut next_event: Box<dyn FnMut() -> io::Result<Option<PushEvent>>> = if self.door
            == Door::Stream
        {
            let mut client = XhrStreamClient::connect(self.addr, self.topic, after, READ_TIMEOUT)?;
            Box::new(move || client.next_event())
        } else {
            let mut client =
                IframeClient::connect(self.addr, self.topic, after, CALLBACK, READ_TIMEOUT)?;
            Box::new(move || client.next_event())
        };
        while self.going_on() {
            match next_event()? {
                Some(event) => self.on_push_event(event, tally),
                None => return self.response_ended(tally),
            }
        }
        Ok(())
    }

    fn on_push_event(&mut self, event: PushEvent, tally: &Tally) {
        match event {
            PushEvent::Message(message) => self.on_message(message.id, &message.data, tally),
            PushEvent::Reset { .. } => self.on_reset(tally),
            PushEvent::Heartbeat => {}
        }
    }

    /// The server ended a held response: open it again after the last id.
    fn response_ended(&self, tally: &Tally) -> io::Result<()> {
        tally
            .door(self.door)
            .reconnects
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// SSE: reconnects as a browser does, with `Last-Event-ID`.
    fn follow_sse(&mut self, tally: &Tally) -> io::Result<()> {
        let path = door_path("sse", self.topic, None, &[]);
        let last_event_id = self.sequence.last_id.to_string();
        let mut client = SseClient::connect(self.addr, &path, Some(&last_event_id), READ_TIMEOUT)?;
        while self.going_on() {
            let Some(event) = client.next_event()? else {
                return self.response_ended(tally);
            };
            match event.event_type.as_str() {
                "reset" => self.on_reset(tally),
                _ => match event.last_event_id.parse::<u64>() {
                    Ok(id) => self.on_message(id, &event.data, tally),
                    Err(_) => tally.door_error(self.door, "an SSE event without a numeric id"),
                },
            }
        }
        Ok(())
    }

    /// WebSocket: `{"id":..,"data":..}` text frames; ends with a normal close once the end has come.
    fn follow_websocket(&mut self, tally: &Tally) -> io::Result<()> {
        let path = door_path("ws", self.topic, Some(self.sequence.last_id), &[]);
        let options = ClientOptions {
            read_timeout: Some(READ_TIMEOUT),
            ..ClientOptions::default()
        };
        let mut client = Client::connect_with(self.addr, &path, &options)?;
        while self.going_on() {
            match client.recv()? {
                Event::Text(text) => match json::parse(&text)
                    .ok()
                    .as_ref()
                    .and_then(PushEvent::from_json)
                {
                    Some(event) => self.on_push_event(event, tally),
                    None => tally.door_error(self.door, "a text frame that is not a message"),
                },
                Event::Close { code, .. } => {
                    tally.door_error(self.door, format!("closed by the server ({code:?})"));
                    return self.response_ended(tally);
                }
                Event::Binary(_) | Event::Ping(_) | Event::Pong(_) => {}
            }
        }
        client.close_normal()
    }
}
