//! The seven doors as the benches' command lines and tables name them (`poll`, `longpoll`, ... `ws`),
//! shared by `edges` and `soak`. The load itself is the library's: [`pushlab::lab::swarm`] reads
//! these doors as [`pushlab::lab::load::Door`], which [`Door::lab`] gives.

/// A door of the server, as a subscriber opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// `GET /poll/{topic}?after=N`, again a second after each answer.
    Poll,
    /// `GET /longpoll/{topic}?after=N`, again at once after each answer.
    LongPoll,
    /// `GET /jsonp/{topic}?after=N&callback=F`, held like a long poll, again at once.
    Jsonp,
    /// `GET /stream/{topic}?after=N`, chunked NDJSON, held.
    Stream,
    /// `GET /iframe/{topic}?after=N&callback=F`, chunked `<script>`s, held.
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

    /// The door's name on the command line and in the tables.
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
    #[allow(dead_code)] // used by edges, not by soak
    pub fn from_name(name: &str) -> Option<Door> {
        Door::ALL.into_iter().find(|door| door.name() == name)
    }

    /// The same door as the lab and its load generator name it.
    #[allow(dead_code)] // used by edges, not by soak
    pub fn lab(self) -> pushlab::lab::load::Door {
        use pushlab::lab::load::Door as Lab;
        match self {
            Door::Poll => Lab::ShortPoll,
            Door::LongPoll => Lab::LongPoll,
            Door::Jsonp => Lab::Jsonp,
            Door::Stream => Lab::XhrStream,
            Door::Iframe => Lab::Iframe,
            Door::Sse => Lab::Sse,
            Door::Ws => Lab::WebSocket,
        }
    }
}
