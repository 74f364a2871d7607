//! A recorded run of one door, as a text file a reader can check against the figure.
//!
//! One event per line: the time in milliseconds from the start of the run, a kind, and a label.
//!
//! ```text
//! 0 request GET /longpoll/news
//! 200 publish story 1
//! 201 answer 1 message
//! ```
//!
//! | kind | between | meaning |
//! |---|---|---|
//! | `request` | browser → server | a request (or an upgrade) goes out; the server holds it from here |
//! | `open` | server → browser | a held response's head (or the `101`): it stays open |
//! | `message` | server → browser | one message inside an open response or WebSocket |
//! | `answer` | server → browser | a whole response: the request is over |
//! | `end` | server → browser | the server ends an open response |
//! | `close` | browser → server | the client drops the connection |
//! | `publish` | → hub | a message is published |

use std::fmt::Write as _;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Open,
    Message,
    Answer,
    End,
    Close,
    Publish,
}

impl Kind {
    const ALL: [(Kind, &'static str); 7] = [
        (Kind::Request, "request"),
        (Kind::Open, "open"),
        (Kind::Message, "message"),
        (Kind::Answer, "answer"),
        (Kind::End, "end"),
        (Kind::Close, "close"),
        (Kind::Publish, "publish"),
    ];

    pub fn name(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(kind, _)| *kind == self)
            .map_or("?", |(_, name)| name)
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(kind, _)| *kind)
    }

    /// Whether the event ends the server's hold of a request.
    pub fn ends_hold(self) -> bool {
        matches!(self, Kind::Answer | Kind::End | Kind::Close)
    }
}

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at_ms: u64,
    pub kind: Kind,
    pub label: String,
}

/// A door's recorded run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The door's name, as in the figure's file name (`long-poll`).
    pub door: String,
    /// The events, in time order.
    pub events: Vec<Event>,
}

impl Trace {
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "# {}: a recorded run (times in ms); regenerate with \
             `PUSHLAB_FIGURES=record cargo test --test figures`\n",
            self.door
        );
        for event in &self.events {
            let _ = writeln!(
                text,
                "{} {} {}",
                event.at_ms,
                event.kind.name(),
                event.label
            );
        }
        text
    }

    pub fn parse(door: &str, text: &str) -> Result<Trace, String> {
        let mut events = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut words = line.splitn(3, ' ');
            let at = words.next().and_then(|w| w.parse().ok());
            let kind = words.next().and_then(Kind::from_name);
            let (Some(at_ms), Some(kind)) = (at, kind) else {
                return Err(format!("{door}: line {}: {line:?}", number + 1));
            };
            let label = words.next().unwrap_or("").to_string();
            events.push(Event { at_ms, kind, label });
        }
        Ok(Trace {
            door: door.to_string(),
            events,
        })
    }

    /// The run's shape: its events without their times, to compare two runs.
    pub fn shape(&self) -> Vec<(Kind, String)> {
        self.events
            .iter()
            .map(|event| (event.kind, event.label.clone()))
            .collect()
    }
}
