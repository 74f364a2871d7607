//! Records one run of each door: a real pushlab on a loopback port, the crate's own client for the
//! door in the browser's place, and the same five messages published at the same moments.
//!
//! The client notes what it sends and receives, the publisher notes when it publishes, both against
//! one clock started with the run. Every loop is bounded in requests and in time.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::iframe::IframeClient;
use pushlab::client::jsonp::jsonp_poll;
use pushlab::client::poll::{long_poll, short_poll, Batch, LONG_POLL_TIMEOUT};
use pushlab::client::sse::SseClient;
use pushlab::client::stream::XhrStreamClient;
use pushlab::client::ws::Client as WsClient;
use pushlab::client::PushEvent;
use pushlab::server::spawn;
use pushlab::ws::Event as WsEvent;
use pushlab::Config;

use super::trace::{Event, Kind, Trace};

/// When the five messages are published, in ms from the start. None falls on the short poll's
/// 300 ms grid, so which poll sees which message does not depend on a millisecond.
pub const PUBLISH_MS: [u64; 5] = [100, 350, 500, 800, 1050];
/// The short poll's interval, as in chapter 3.
const POLL_INTERVAL: Duration = Duration::from_millis(300);
/// How long the SSE client stays away after its connection drops (a browser waits `retry` ms).
const SSE_RECONNECT_DELAY: Duration = Duration::from_millis(400);
/// The most requests a recording makes.
const MAX_REQUESTS: usize = 30;
/// How long a client waits for anything.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The doors, in the course's order, with the names their figures get.
pub const DOORS: [&str; 7] = [
    "short-poll",
    "long-poll",
    "jsonp",
    "iframe",
    "xhr-stream",
    "sse",
    "websocket",
];
const TOPIC: &str = "news";

/// The events of a run so far, shared by the client and the publisher.
#[derive(Clone)]
struct Recorder {
    start: Instant,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recorder {
    fn note(&self, kind: Kind, label: &str) {
        let at_ms = self.start.elapsed().as_millis() as u64;
        let event = Event {
            at_ms,
            kind,
            label: label.to_string(),
        };
        self.events.lock().expect("no recorder panics").push(event);
    }
}

/// One recorded run of `door`.
pub fn record(door: &str) -> io::Result<Trace> {
    let config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        clock_interval: None,
        // Small enough that the XHR and iframe streams end after a few messages, as they do after
        // 128 KiB, so the figure shows their reconnect.
        max_stream_bytes: match door {
            "xhr-stream" => 2150,
            "iframe" => 1300,
            _ => Config::default().max_stream_bytes,
        },
        ..Config::default()
    };
    let server = spawn(config)?;
    let recorder = Recorder {
        start: Instant::now(),
        events: Arc::default(),
    };
    let publisher = {
        let (handle, recorder) = (server.handle.clone(), recorder.clone());
        thread::spawn(move || -> io::Result<()> {
            for (n, at_ms) in PUBLISH_MS.into_iter().enumerate() {
                let due = recorder.start + Duration::from_millis(at_ms);
                thread::sleep(due.saturating_duration_since(Instant::now()));
                let data = format!("story {}", n + 1);
                // Noted before the call, so that it comes before its delivery in the trace.
                recorder.note(Kind::Publish, &data);
                handle.publish(TOPIC, &data)?;
            }
            Ok(())
        })
    };
    let addr = server.addr;
    let client = match door {
        "short-poll" => polls(
            &recorder,
            |after| short_poll(addr, TOPIC, after),
            "/poll",
            true,
        ),
        "long-poll" => polls(
            &recorder,
            |after| long_poll(addr, TOPIC, after, LONG_POLL_TIMEOUT),
            "/longpoll",
            false,
        ),
        "jsonp" => polls(
            &recorder,
            |after| jsonp_poll(addr, TOPIC, after, "onNews", LONG_POLL_TIMEOUT),
            "/jsonp",
            false,
        ),
        "iframe" => streams(&recorder, "/iframe", |after| {
            let mut client = IframeClient::connect(addr, TOPIC, after, "onNews", TIMEOUT)?;
            Ok(move || client.next_event())
        }),
        "xhr-stream" => streams(&recorder, "/stream", |after| {
            let mut client = XhrStreamClient::connect(addr, TOPIC, after, TIMEOUT)?;
            Ok(move || client.next_event())
        }),
        "sse" => sse(&recorder, addr),
        "websocket" => websocket(&recorder, addr),
        other => Err(io::Error::other(format!("no door {other}"))),
    };
    let published = publisher
        .join()
        .map_err(|_| io::Error::other("the publisher panicked"))?;
    client.and(published)?;
    let mut events = recorder.events.lock().expect("no recorder panics").clone();
    // Two events in the same millisecond keep the order they were noted in.
    events.sort_by_key(|event| event.at_ms);
    Ok(Trace {
        door: door.to_string(),
        events,
    })
}

fn messages_label(batch: &Batch) -> String {
    match batch.messages.as_slice() {
        [] => "empty".to_string(),
        messages => {
            let data: Vec<&str> = messages.iter().map(|m| m.data.as_str()).collect();
            data.join(", ")
        }
    }
}

/// A polling door: ask, note the answer, ask again after the cursor (at once, or on the next tick).
fn polls(
    recorder: &Recorder,
    mut ask: impl FnMut(Option<u64>) -> io::Result<Batch>,
    path: &str,
    on_a_timer: bool,
) -> io::Result<()> {
    let (mut after, mut received, mut requests) = (None, 0, 0);
    while received < PUBLISH_MS.len() && requests < MAX_REQUESTS {
        if on_a_timer && requests > 0 {
            let due = recorder.start + POLL_INTERVAL * requests as u32;
            thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let label = match after {
            None => format!("GET {path}/news"),
            Some(_) => format!("GET {path}/news?after=last"),
        };
        recorder.note(Kind::Request, &label);
        let batch = ask(after)?;
        requests += 1;
        recorder.note(Kind::Answer, &messages_label(&batch));
        received += batch.messages.len();
        after = Some(batch.last);
    }
    Ok(())
}

/// A streaming door that the server ends at its size limit: open, take messages, reconnect after the
/// last id.
fn streams<Next>(
    recorder: &Recorder,
    path: &str,
    mut open: impl FnMut(Option<u64>) -> io::Result<Next>,
) -> io::Result<()>
where
    Next: FnMut() -> io::Result<Option<PushEvent>>,
{
    let (mut after, mut received, mut requests) = (None, 0, 0);
    while received < PUBLISH_MS.len() && requests < MAX_REQUESTS {
        let label = match after {
            None => format!("GET {path}/news"),
            Some(_) => format!("GET {path}/news?after=last"),
        };
        recorder.note(Kind::Request, &label);
        let mut next = open(after)?;
        requests += 1;
        recorder.note(Kind::Open, "200, chunked");
        while received < PUBLISH_MS.len() {
            match next()? {
                Some(PushEvent::Message(message)) => {
                    recorder.note(Kind::Message, &message.data);
                    after = Some(message.id);
                    received += 1;
                }
                Some(_) => {}
                None => {
                    recorder.note(Kind::End, "the response ends at its size limit");
                    break;
                }
            }
        }
    }
    Ok(())
}

/// SSE: one stream; after the third message the connection drops, and the client reconnects with
/// `Last-Event-ID`, as a browser does.
fn sse(recorder: &Recorder, addr: SocketAddr) -> io::Result<()> {
    let mut last_event_id: Option<String> = None;
    let mut received = 0;
    for _connection in 0..2 {
        let label = match last_event_id {
            None => "GET /sse/news",
            Some(_) => "GET /sse/news, Last-Event-ID",
        };
        recorder.note(Kind::Request, label);
        let mut client = SseClient::connect(addr, "/sse/news", last_event_id.as_deref(), TIMEOUT)?;
        recorder.note(Kind::Open, "200, text/event-stream");
        while received < PUBLISH_MS.len() {
            let Some(event) = client.next_event()? else {
                return Err(io::Error::other("the SSE stream ended"));
            };
            if event.is_heartbeat() {
                continue;
            }
            recorder.note(Kind::Message, &event.data);
            last_event_id = Some(event.last_event_id.clone());
            received += 1;
            if received == 3 {
                break;
            }
        }
        if received == PUBLISH_MS.len() {
            break;
        }
        drop(client);
        recorder.note(Kind::Close, "the connection drops");
        // A browser waits `retry` before it reconnects; story 4 is published meanwhile, and the
        // server replays it after the id in `Last-Event-ID`.
        thread::sleep(SSE_RECONNECT_DELAY);
    }
    Ok(())
}

/// WebSocket: one upgrade, then every message as a text frame.
fn websocket(recorder: &Recorder, addr: SocketAddr) -> io::Result<()> {
    recorder.note(Kind::Request, "GET /ws/news, Upgrade: websocket");
    let mut client = WsClient::connect(addr, "/ws/news")?;
    recorder.note(Kind::Open, "101 Switching Protocols");
    let mut received = 0;
    while received < PUBLISH_MS.len() {
        if let WsEvent::Text(text) = client.recv()? {
            let value = pushlab::client::json::parse(&text).map_err(io::Error::other)?;
            let data = value.get("data").and_then(|d| d.as_str()).unwrap_or("?");
            recorder.note(Kind::Message, data);
            received += 1;
        }
    }
    client.close_normal()?;
    Ok(())
}
