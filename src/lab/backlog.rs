//! A slow reader behind nginx: what a buffering proxy does to a stream whose client falls behind.
//!
//! The lab's clients read as fast as messages come, and then nginx passes every chunk of a chunked
//! response on at once, in every buffering mode (see [`super::nginx`]). Buffering shows only when the
//! client stops reading for a while. This probe makes it do so, for each streaming door and each
//! [`Buffering`] mode:
//!
//! 1. a pushlab server in this process, with its stream and topic limits raised so that neither ends
//!    the stream nor drops the backlog ([`probe_config`]), and nginx in front of it;
//! 2. one client opens the door through nginx (no relay: the relay would itself be a buffer) and then
//!    reads nothing while [`BACKLOG_MESSAGES`] messages of [`MESSAGE_BYTES`] are published, more than
//!    the sockets between nginx and the client can hold, and then one more, the *tail*;
//! 3. the client reads the backlog, then waits up to [`TAIL_WAIT`] for the tail. If it has not come, it
//!    is *held back*: [`FILLER_MESSAGES`] more messages are published and the client waits for the tail
//!    again, which shows it was held, not lost.
//!
//! With nginx's default (the stream's `X-Accel-Buffering: no` honoured) or buffering off, the backlog
//! stays in the server, which pauses the subscriber and resumes it from the topic's log as the socket
//! drains, and the tail comes with the rest. With buffering that ignores the header, nginx drains the
//! server at full speed, spills the backlog to a temp file, and the tail waits in a part-filled buffer
//! behind it until more bytes fill that buffer.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::load::Door;
use super::nginx::{Buffering, Nginx};
use crate::client::iframe::IframeClient;
use crate::client::sse::SseClient;
use crate::client::stream::XhrStreamClient;
use crate::client::{PushEvent, ReceivedMessage};
use crate::server::{spawn, RunningServer};
use crate::Config;

/// Messages published while the client does not read: 8 MiB in all, more than nginx's socket to the
/// client can hold (its send buffer grows to 4 MiB by default, `net.ipv4.tcp_wmem`) plus what the
/// client's socket takes while it does not read.
pub const BACKLOG_MESSAGES: usize = 256;

/// The size of each message.
pub const MESSAGE_BYTES: usize = 32 * 1024;

/// Messages published after a held tail: 128 KiB, more than any of nginx's buffers
/// (`proxy_buffers 8 4k|8k`).
pub const FILLER_MESSAGES: usize = 4;

/// How long the tail may take, once the backlog is read, before it counts as held back. A tail that
/// is not held arrives within milliseconds of the backlog; a held one waits for bytes that, without
/// the filler, never come.
pub const TAIL_WAIT: Duration = Duration::from_secs(2);

/// How long any other read may take before the probe gives up.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The streaming doors the probe runs.
pub const DOORS: [Door; 3] = [Door::XhrStream, Door::Iframe, Door::Sse];

/// What happened to the tail.
#[derive(Clone, Debug, PartialEq)]
pub enum Tail {
    /// It came with the backlog, this many milliseconds after the backlog's last message.
    WithTheBacklog(f64),
    /// It was held back until the filler came, then arrived (milliseconds after the filler began).
    HeldUntilMoreBytes(f64),
    /// The probe failed: the reason.
    Failed(String),
}

/// One door behind one mode.
#[derive(Clone, Debug)]
pub struct BacklogRow {
    /// The door.
    pub door: Door,
    /// The nginx mode.
    pub buffering: Buffering,
    /// What happened to the tail.
    pub tail: Tail,
}

/// Runs every streaming door behind every nginx mode; `progress` is told which.
pub fn run(progress: &dyn Fn(&str)) -> Vec<BacklogRow> {
    let mut rows = Vec::new();
    for door in DOORS {
        for buffering in Buffering::ALL {
            progress(&format!("{} behind {}", door.name(), buffering.name()));
            let tail = probe(door, buffering).unwrap_or_else(|e| Tail::Failed(e.to_string()));
            rows.push(BacklogRow {
                door,
                buffering,
                tail,
            });
        }
    }
    rows
}

/// The server's config for the probe: the stream may carry the whole backlog (by default a stream
/// ends after 128 KiB and the client reconnects, which would hide the proxy), and the topic may keep it.
pub fn probe_config() -> Config {
    let mut config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        clock_interval: None,
        ..Config::default()
    };
    config.max_stream_bytes = 1 << 30;
    config.hub.max_bytes_per_topic = 64 << 20;
    config
}

fn probe(door: Door, buffering: Buffering) -> io::Result<Tail> {
    let server = spawn(probe_config())?;
    let nginx = Nginx::start(server.addr, buffering)?;
    let topic = "backlog";
    let mut stream = Stream::open(door, nginx.addr(), topic)?;
    let piece = "y".repeat(MESSAGE_BYTES);
    let mut backlog = Vec::with_capacity(BACKLOG_MESSAGES);
    for _ in 0..BACKLOG_MESSAGES {
        backlog.push(server.publish(topic, &piece)?);
    }
    let tail = server.publish(topic, &piece)?;
    for &id in &backlog {
        let message = stream.next_message()?;
        if message.id != id {
            return Err(io::Error::other(format!(
                "message {} where {id} was due",
                message.id
            )));
        }
    }
    let backlog_read = Instant::now();
    stream.set_read_timeout(TAIL_WAIT)?;
    match stream.next_message() {
        Ok(message) if message.id == tail => {
            return Ok(Tail::WithTheBacklog(ms_since(backlog_read)));
        }
        Ok(message) => {
            return Err(io::Error::other(format!(
                "message {} after the backlog",
                message.id
            )))
        }
        Err(error) if is_timeout(&error) => {}
        Err(error) => return Err(error),
    }
    let filler_began = Instant::now();
    publish_filler(&server, topic, &piece)?;
    stream.set_read_timeout(READ_TIMEOUT)?;
    let message = stream.next_message()?;
    if message.id != tail {
        return Err(io::Error::other(format!(
            "message {} where the tail was due",
            message.id
        )));
    }
    Ok(Tail::HeldUntilMoreBytes(ms_since(filler_began)))
}

fn publish_filler(server: &RunningServer, topic: &str, piece: &str) -> io::Result<()> {
    for _ in 0..FILLER_MESSAGES {
        server.publish(topic, piece)?;
    }
    Ok(())
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One held response of a streaming door, read with the crate's client for that door. Each client
/// keeps the bytes of a message it has only part of across a timed-out read, so the same stream can
/// be read again after the wait.
enum Stream {
    Xhr(XhrStreamClient),
    Iframe(IframeClient),
    Sse(SseClient),
}

impl Stream {
    fn open(door: Door, addr: SocketAddr, topic: &str) -> io::Result<Stream> {
        Ok(match door {
            Door::Iframe => Stream::Iframe(IframeClient::connect(
                addr,
                topic,
                None,
                "onMessage",
                READ_TIMEOUT,
            )?),
            Door::Sse => Stream::Sse(SseClient::connect(
                addr,
                &format!("/sse/{topic}"),
                None,
                READ_TIMEOUT,
            )?),
            _ => Stream::Xhr(XhrStreamClient::connect(addr, topic, None, READ_TIMEOUT)?),
        })
    }

    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        let socket = match self {
            Stream::Xhr(client) => client.response().socket(),
            Stream::Iframe(client) => client.response().socket(),
            Stream::Sse(client) => client.response().socket(),
        };
        socket.set_read_timeout(Some(timeout))
    }

    /// The next message, skipping heartbeats; an error when the read times out or the stream ends.
    fn next_message(&mut self) -> io::Result<ReceivedMessage> {
        // Bounded: every read times out, and each pass consumes one event.
        loop {
            let event = match self {
                Stream::Xhr(client) => client.next_event()?,
                Stream::Iframe(client) => client.next_event()?,
                Stream::Sse(client) => client.next_event()?.map(|event| {
                    PushEvent::Message(ReceivedMessage {
                        id: event.last_event_id.parse().unwrap_or(0),
                        data: event.data,
                    })
                }),
            };
            match event {
                Some(PushEvent::Message(message)) if !message.data.is_empty() => {
                    return Ok(message)
                }
                Some(_) => continue,
                None => return Err(io::ErrorKind::UnexpectedEof.into()),
            }
        }
    }
}
