//! Chapter 16, choosing a technique: model answers.

use std::time::Duration;

/// What an application needs, as chapter 16 asks it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Needs {
    /// The browser sends as much as it receives, or binary data.
    pub talks_back: bool,
    /// The path passes held responses on unbuffered.
    pub unbuffered_path: bool,
    /// Something on the path buffers responses or cuts long ones, but a held request is fine.
    pub may_hold: bool,
    /// The request needs headers or a body of its own (`Authorization`, a `POST`), on a clean path.
    pub controls_the_request: bool,
}

/// Exercise 16.1: the five questions of chapter 16, in order; the first that settles it wins.
pub fn choose(needs: Needs) -> &'static str {
    if needs.talks_back {
        "websocket"
    } else if needs.controls_the_request && needs.unbuffered_path {
        "xhr-stream"
    } else if needs.unbuffered_path {
        "sse"
    } else if needs.may_hold {
        "long-poll"
    } else {
        "short-poll"
    }
}

/// Exercise 16.2: the requests an idle client makes in an hour, where nothing is published: a short
/// poll asks every `poll_interval`, a long poll once per `hold`, and a held stream or a WebSocket
/// never (it only receives heartbeats).
pub fn idle_requests_per_hour(door: &str, poll_interval: Duration, hold: Duration) -> u64 {
    let hour = Duration::from_secs(3600).as_millis();
    let per = |every: Duration| hour.checked_div(every.as_millis()).unwrap_or(0) as u64;
    match door {
        "short-poll" => per(poll_interval),
        "long-poll" | "jsonp" => per(hold),
        _ => 0,
    }
}
