//! Which door a request opens: the URL contract of the README, as one function from a request to an
//! [`Opening`].
//!
//! | route                          | door                                            |
//! |--------------------------------|-------------------------------------------------|
//! | `POST /publish/{topic}`        | publish a message                               |
//! | `GET /poll/{topic}`            | [`short_poll`][crate::transport::short_poll]    |
//! | `GET /longpoll/{topic}`        | [`long_poll`][crate::transport::long_poll] (held) |
//! | `GET /jsonp/{topic}`           | [`jsonp`] (held)                                |
//! | `GET /stream/{topic}`          | [`xhr_stream`][crate::transport::xhr_stream] (streamed) |
//! | `GET /iframe/{topic}`          | [`iframe`][crate::transport::iframe] (streamed) |
//! | `GET /sse/{topic}`             | [`sse`] (streamed)                              |
//! | `GET /ws/echo`, `/ws/{topic}`  | WebSocket ([`crate::ws`], [`crate::transport::websocket`]) |
//! | `POST`/`GET /channel/...`      | the channel API ([`crate::server::channel_routes`]) |
//! | `GET` anything else            | a file under `static/`                          |
//!
//! Before any route runs, the request must name a host this server answers to (421 otherwise: DNS
//! rebinding). A write (`POST /publish`, anything under `/channel/`) must not come from a page on
//! another site (403: cross-site request forgery), must carry the publish token when one is configured
//! (403), and must stay within its client address's publish rate (429). See [`crate::http::site`] and
//! [`crate::server::rate`].
//!
//! Routing decides *what* a request opens and answers what can be answered at once (a publish, a short
//! poll, a file). It never changes a connection: opening a held request, a stream or a WebSocket is a
//! transition of the connection's state machine, done by `connection.rs` with the [`Opening`] returned
//! here.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::channel::{session_of_topic, ChannelError};
use crate::http::site::{foreign_site, host_allowed};
use crate::http::{static_files, HttpError, Request, Response};
use crate::hub::{Hub, HubError};
use crate::server::room::{Room, Stored, Ticket};
use crate::transport::iframe::IframeStream;
use crate::transport::sse::{self, SseStream};
use crate::transport::websocket::SocketRole;
use crate::transport::xhr_stream::XhrStream;
use crate::transport::{jsonp, BatchDoor, StreamFormat};
use crate::ws::handshake;

/// What a request opens.
pub enum Opening {
    /// A whole response, written at once; the connection then reads its next request.
    Answer(Response),
    /// A batch door (short poll, long poll, JSONP) on `topic`, reading after `after`.
    Batch {
        /// Which batch door.
        door: BatchDoor,
        /// The topic.
        topic: String,
        /// Where the reader resumes (`None`: from now).
        after: Option<u64>,
    },
    /// A chunked response held open (XHR stream, iframe, SSE).
    Stream {
        /// How the door frames what it sends.
        format: Box<dyn StreamFormat>,
        /// The topic.
        topic: String,
        /// Where the reader resumes.
        after: Option<u64>,
    },
    /// `101 Switching Protocols`, then WebSocket frames.
    Upgrade {
        /// The 101 response.
        accept: Response,
        /// What the socket is for.
        role: SocketRole,
        /// Where a topic socket resumes.
        after: Option<u64>,
    },
    /// A publish queued for the shared log (the Redis backend): the answer waits until Redis stored it.
    AwaitStore {
        /// The publish's number, under which the answer comes back.
        ticket: Ticket,
    },
}

impl fmt::Debug for Opening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opening::Answer(response) => write!(f, "Answer({})", response.status),
            Opening::Batch { door, topic, after } => {
                write!(f, "Batch({door:?}, {topic}, {after:?})")
            }
            Opening::Stream { topic, after, .. } => write!(f, "Stream({topic}, {after:?})"),
            Opening::Upgrade { role, after, .. } => write!(f, "Upgrade({role:?}, {after:?})"),
            Opening::AwaitStore { ticket } => write!(f, "AwaitStore({ticket})"),
        }
    }
}

/// Why a request is refused: each kind knows its status (design rule 5), mapped in [`RouteError::status`].
#[derive(Debug, Clone)]
pub enum RouteError {
    /// The request broke an HTTP rule (its own status).
    Http(HttpError),
    /// The hub refused (400 bad topic, 413 too large, 503 too many topics).
    Hub(HubError),
    /// The channel layer refused (404, 503).
    Channel(ChannelError),
    /// The method is not one the route answers; `allow` lists those it does (405).
    MethodNotAllowed {
        /// The `Allow` header's value.
        allow: &'static str,
    },
    /// No static file at this path (404).
    NotFound,
    /// `?after=` is not a decimal id (400).
    BadAfter,
    /// `?callback=` is missing (400).
    MissingCallback,
    /// The body of a publish or a channel message is not UTF-8 (400).
    BodyNotUtf8,
    /// A session topic is written only by its channel application (403).
    SessionTopicReadOnly,
    /// A streaming response needs HTTP/1.1 chunked encoding (505).
    StreamNeedsHttp11,
    /// `--refuse-websocket` is on (500, to show the client's fallback).
    WebSocketRefused,
    /// The WebSocket handshake failed; the response says why.
    Handshake(Response),
    /// The server's buffers are at their global budget (503).
    Busy,
    /// No random source for a session id (500).
    NoRandomSource,
    /// `Host` names a host this server does not answer to: DNS rebinding (421).
    UnknownHost,
    /// A write from a page on another site (403); says which header gave it away.
    CrossSite(&'static str),
    /// A publish without the configured publish token (403).
    NoPublishToken,
    /// The client address is over its publish rate; a token comes back after this long (429).
    TooManyPublishes(Duration),
    /// The JSONP door is turned off (`--no-jsonp`) (404).
    JsonpOff,
    /// `Idempotency-Key` is not 1 to 64 characters of `A-Z a-z 0-9 _ -`, bare or quoted (400).
    BadIdempotencyKey,
}

impl RouteError {
    /// The HTTP status this refusal answers with.
    pub fn status(&self) -> u16 {
        match self {
            RouteError::Http(error) => error.status,
            RouteError::Hub(error) => error.status(),
            RouteError::Channel(error) => error.status(),
            RouteError::MethodNotAllowed { .. } => 405,
            RouteError::NotFound | RouteError::JsonpOff => 404,
            RouteError::UnknownHost => 421,
            RouteError::CrossSite(_) | RouteError::NoPublishToken => 403,
            RouteError::TooManyPublishes(_) => 429,
            RouteError::BadAfter
            | RouteError::MissingCallback
            | RouteError::BodyNotUtf8
            | RouteError::BadIdempotencyKey => 400,
            RouteError::SessionTopicReadOnly => 403,
            RouteError::StreamNeedsHttp11 => 505,
            RouteError::WebSocketRefused | RouteError::NoRandomSource => 500,
            RouteError::Handshake(response) => response.status,
            RouteError::Busy => 503,
        }
    }

    /// The response that goes on the wire.
    pub fn response(&self) -> Response {
        match self {
            RouteError::Handshake(response) => response.clone(),
            RouteError::MethodNotAllowed { allow } => {
                Response::error(405, &self.to_string()).header("Allow", allow)
            }
            RouteError::Busy | RouteError::Hub(HubError::Loading) => {
                Response::error(503, &self.to_string()).header("Retry-After", "1")
            }
            RouteError::TooManyPublishes(wait) => {
                // Retry-After is in whole seconds (RFC 9110 §10.2.3): round up, never "0".
                let seconds = wait.as_millis().div_ceil(1000).max(1);
                Response::error(429, &self.to_string()).header("Retry-After", &seconds.to_string())
            }
            _ => Response::error(self.status(), &self.to_string()),
        }
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Http(error) => f.write_str(error.reason),
            RouteError::Hub(error) => write!(f, "{error}"),
            RouteError::Channel(error) => write!(f, "{error}"),
            RouteError::MethodNotAllowed { allow } => write!(f, "this route answers {allow}"),
            RouteError::NotFound => f.write_str("no such page"),
            RouteError::BadAfter => f.write_str("after must be a decimal message id"),
            RouteError::MissingCallback => f.write_str("callback is required"),
            RouteError::BodyNotUtf8 => f.write_str("the body must be UTF-8 text"),
            RouteError::BadIdempotencyKey => f.write_str(
                "Idempotency-Key must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'",
            ),
            RouteError::SessionTopicReadOnly => {
                f.write_str("session topics are written by their channel application")
            }
            RouteError::StreamNeedsHttp11 => {
                f.write_str("a streaming response needs HTTP/1.1 chunked encoding")
            }
            RouteError::WebSocketRefused => {
                f.write_str("WebSocket upgrades are refused (--refuse-websocket)")
            }
            RouteError::Handshake(_) => f.write_str("the WebSocket handshake was refused"),
            RouteError::Busy => f.write_str("the server is at its memory budget; retry"),
            RouteError::NoRandomSource => f.write_str("no random source for a session id"),
            RouteError::UnknownHost => f.write_str(
                "this server does not answer to that Host name (start it with --allow-host NAME)",
            ),
            RouteError::CrossSite(why) => f.write_str(why),
            RouteError::NoPublishToken => {
                f.write_str("publishing needs the publish token (Authorization: Bearer <token>)")
            }
            RouteError::TooManyPublishes(_) => {
                f.write_str("too many publishes from this address; retry after the time given")
            }
            RouteError::JsonpOff => f.write_str("the JSONP door is turned off (--no-jsonp)"),
        }
    }
}

impl From<HubError> for RouteError {
    fn from(error: HubError) -> Self {
        RouteError::Hub(error)
    }
}

impl From<HttpError> for RouteError {
    fn from(error: HttpError) -> Self {
        RouteError::Http(error)
    }
}

impl From<ChannelError> for RouteError {
    fn from(error: ChannelError) -> Self {
        RouteError::Channel(error)
    }
}

/// A request's destination, from its path alone.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Publish(&'a str),
    Poll(&'a str),
    LongPoll(&'a str),
    Jsonp(&'a str),
    Stream(&'a str),
    Iframe(&'a str),
    Sse(&'a str),
    WsEcho,
    WsTopic(&'a str),
    /// `/channel/{app}`, `/channel/{app}/{session}`, `/channel/{app}/{session}/close`.
    Channel(&'a str),
    Static,
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Route<'a> {
        let Some((door, topic)) = path.strip_prefix('/').and_then(|rest| rest.split_once('/'))
        else {
            return Route::Static;
        };
        match door {
            "publish" => Route::Publish(topic),
            "poll" => Route::Poll(topic),
            "longpoll" => Route::LongPoll(topic),
            "jsonp" => Route::Jsonp(topic),
            "stream" => Route::Stream(topic),
            "iframe" => Route::Iframe(topic),
            "sse" => Route::Sse(topic),
            "ws" if topic == "echo" => Route::WsEcho,
            "ws" => Route::WsTopic(topic),
            "channel" => Route::Channel(topic),
            _ => Route::Static,
        }
    }

    /// The methods the route answers: the one table that both checks a method and writes 405's `Allow`.
    fn allowed_methods(&self) -> &'static str {
        match self {
            Route::Publish(_) => "POST",
            Route::Channel(_) => "GET, POST",
            Route::Static => "GET, HEAD",
            _ => "GET",
        }
    }

    fn topic(&self) -> Option<&'a str> {
        match self {
            Route::Publish(t)
            | Route::Poll(t)
            | Route::LongPoll(t)
            | Route::Jsonp(t)
            | Route::Stream(t)
            | Route::Iframe(t)
            | Route::Sse(t)
            | Route::WsTopic(t) => Some(t),
            Route::WsEcho | Route::Channel(_) | Route::Static => None,
        }
    }
}

/// Decides what `request`, sent from address `client`, opens, answering at once what can be answered
/// at once.
pub fn route(
    request: &Request,
    client: IpAddr,
    room: &mut Room,
    now: Instant,
) -> Result<Opening, RouteError> {
    check_host(request, &room.config.allowed_hosts)?;
    let route = Route::of(&request.path);
    let allow = route.allowed_methods();
    if !allow.split(", ").any(|method| method == request.method) {
        return Err(RouteError::MethodNotAllowed { allow });
    }
    if matches!(route, Route::Jsonp(_)) && !room.config.jsonp {
        return Err(RouteError::JsonpOff);
    }
    if matches!(route, Route::Publish(_) | Route::Channel(_)) {
        check_write(request, &route, client, room, now)?;
    }
    if let Some(topic) = route.topic() {
        check_topic(topic, &route, room, now)?;
    }
    let after = after_param(request)?;
    if let Route::Poll(topic) = route {
        // A short poll cannot wait for the shared log's history of its topic (see `Hub::set_loading`).
        if room.hub.is_loading(topic) {
            return Err(HubError::Loading.into());
        }
    }
    let batch = |door, topic: &str| Opening::Batch {
        door,
        topic: topic.to_string(),
        after,
    };
    Ok(match route {
        Route::Publish(topic) => publish(request, topic, room, now)?,
        Route::Poll(topic) => batch(BatchDoor::ShortPoll, topic),
        Route::LongPoll(topic) => batch(BatchDoor::LongPoll, topic),
        Route::Jsonp(topic) => batch(
            BatchDoor::Jsonp {
                callback: callback_param(request)?,
            },
            topic,
        ),
        Route::Stream(topic) => stream(request, topic, after, Box::new(XhrStream))?,
        Route::Iframe(topic) => {
            // `?callback=F` (same-origin parent) or `?origin=O` (postMessage, O checked like a WebSocket Origin).
            let format = IframeStream::from_query(
                request.query_param("callback").as_deref(),
                request.query_param("origin").as_deref(),
                request.header_str("Host"),
                &room.config.ws.allowed_origins,
            )?;
            stream(request, topic, after, Box::new(format))?
        }
        Route::Sse(topic) => {
            // A browser reconnects to the original URL plus `Last-Event-ID`, which must win over `?after`.
            let resume = sse::resume_point(request.header_str("Last-Event-ID"), after);
            let format = SseStream {
                retry_ms: room.config.sse_retry_ms,
            };
            stream(request, topic, resume, Box::new(format))?
        }
        Route::WsEcho => upgrade(request, SocketRole::Echo, None, room)?,
        Route::WsTopic(topic) => {
            let role = match session_of_topic(topic) {
                Some(_) => SocketRole::Session(topic.to_string()),
                // Browsers cannot set headers on a WebSocket, so here the token may come as `?token=`.
                None if !presents_publish_token(request, &room.config.publish_token, true) => {
                    SocketRole::ReadOnlyTopic(topic.to_string())
                }
                None => SocketRole::Topic(topic.to_string()),
            };
            upgrade(request, role, after, room)?
        }
        Route::Channel(path) => Opening::Answer(crate::server::channel_routes::answer(
            request, path, room, now,
        )?),
        Route::Static => static_file(request)?,
    })
}

/// DNS rebinding: the `Host` must name this server (see [`crate::http::site`]). An HTTP/1.0 request
/// may have no `Host` at all (HTTP/1.1 requires one, and the parser answers 400 without it).
fn check_host(request: &Request, allowed_hosts: &[String]) -> Result<(), RouteError> {
    match request.header_str("Host") {
        Some(host) if !host_allowed(host, allowed_hosts) => Err(RouteError::UnknownHost),
        _ => Ok(()),
    }
}

/// A write (a publish, or anything under `/channel/`) must come from this site or an allowed origin,
/// must present the publish token if one is configured (publishes only), and takes one token from the
/// client address's publish bucket (`POST`s only; asking about a session costs nothing).
fn check_write(
    request: &Request,
    route: &Route,
    client: IpAddr,
    room: &mut Room,
    now: Instant,
) -> Result<(), RouteError> {
    if let Some(why) = foreign_site(request, &room.config.ws.allowed_origins) {
        return Err(RouteError::CrossSite(why));
    }
    let is_publish = matches!(route, Route::Publish(_));
    if is_publish && !presents_publish_token(request, &room.config.publish_token, false) {
        return Err(RouteError::NoPublishToken);
    }
    if request.method == "POST" {
        room.publish_buckets
            .take(client, now)
            .map_err(RouteError::TooManyPublishes)?;
    }
    Ok(())
}

/// Whether `request` carries the publish token `expected` (`None`: no token is needed), as
/// `Authorization: Bearer <token>` (RFC 6750 §2.1) or, where `query_allowed`, as `?token=`.
fn presents_publish_token(
    request: &Request,
    expected: &Option<String>,
    query_allowed: bool,
) -> bool {
    let Some(expected) = expected else {
        return true;
    };
    let from_header = request
        .header_str("Authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_string());
    let given = from_header.or_else(|| {
        query_allowed
            .then(|| request.query_param("token"))
            .flatten()
    });
    given.is_some_and(|given| same_secret(given.as_bytes(), expected.as_bytes()))
}

/// Compares two secrets in a time that does not depend on where they first differ, so that timing the
/// answers cannot guess the token byte by byte.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// A topic must be a valid name; a session's private topic must belong to a live session and is written
/// only by its channel application.
fn check_topic(
    topic: &str,
    route: &Route,
    room: &mut Room,
    now: Instant,
) -> Result<(), RouteError> {
    if !Hub::valid_topic(topic) {
        return Err(HubError::BadTopic.into());
    }
    if let Some(session) = session_of_topic(topic) {
        if matches!(route, Route::Publish(_)) {
            return Err(RouteError::SessionTopicReadOnly);
        }
        if !room.sessions.touch(session, now) {
            return Err(ChannelError::NoSuchSession.into());
        }
    }
    Ok(())
}

/// `POST /publish/{topic}`: the body becomes one message; the answer is `{"id":N}`.
fn publish(
    request: &Request,
    topic: &str,
    room: &mut Room,
    now: Instant,
) -> Result<Opening, RouteError> {
    let data = String::from_utf8(request.body.clone()).map_err(|_| RouteError::BodyNotUtf8)?;
    let stored = match request.header_str("Idempotency-Key") {
        Some(value) => room.publish_once(topic, idempotency_key(value)?, data, now)?,
        None => room.publish(topic, data, now)?,
    };
    match stored {
        Stored::Now(id) => Ok(Opening::Answer(published_response(id))),
        // The shared log answers later: the connection waits for it (`State::Storing`).
        Stored::Later(ticket) => Ok(Opening::AwaitStore { ticket }),
    }
}

/// The key of an `Idempotency-Key` header: the draft ("The Idempotency-Key HTTP Header Field", IETF
/// HTTPAPI) makes the value a Structured Field string, `"8e03978e-40d5-..."`, and many clients send it
/// bare; both are taken. The key becomes part of a Redis key name, so its alphabet is that of topic
/// names: a UUID fits, and nothing in it can be read as a separator.
pub fn idempotency_key(value: &str) -> Result<&str, RouteError> {
    let key = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(value);
    if Hub::valid_topic(key) {
        Ok(key)
    } else {
        Err(RouteError::BadIdempotencyKey)
    }
}

/// The answer to a stored publish: `{"id":N}`.
pub fn published_response(id: u64) -> Response {
    Response::new(200).body("application/json", format!("{{\"id\":{id}}}"))
}

/// XHR stream, iframe, SSE: a chunked response that stays open.
fn stream(
    request: &Request,
    topic: &str,
    after: Option<u64>,
    format: Box<dyn StreamFormat>,
) -> Result<Opening, RouteError> {
    if request.version == 0 {
        return Err(RouteError::StreamNeedsHttp11);
    }
    Ok(Opening::Stream {
        format,
        topic: topic.to_string(),
        after,
    })
}

/// The WebSocket opening handshake (RFC 6455 §4.2).
fn upgrade(
    request: &Request,
    role: SocketRole,
    after: Option<u64>,
    room: &Room,
) -> Result<Opening, RouteError> {
    if !handshake::is_upgrade_request(request) {
        // RFC 9110 §15.5.22: a 426 names the protocol to switch to.
        let response = Response::error(
            426,
            "this is a WebSocket endpoint; send an Upgrade: websocket request",
        )
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13");
        return Ok(Opening::Answer(response));
    }
    if room.config.refuse_websocket {
        return Err(RouteError::WebSocketRefused);
    }
    let upgrade =
        handshake::check_upgrade(request, &room.config.ws).map_err(RouteError::Handshake)?;
    Ok(Opening::Upgrade {
        accept: handshake::switching_protocols(&upgrade),
        role,
        after,
    })
}

fn static_file(request: &Request) -> Result<Opening, RouteError> {
    let file = static_files::lookup(&request.path)?.ok_or(RouteError::NotFound)?;
    Ok(Opening::Answer(
        Response::new(200)
            .header("Cache-Control", "no-cache")
            .body(file.content_type, file.bytes),
    ))
}

/// `?after=N`: absent means "from now"; anything but a decimal id is a 400.
fn after_param(request: &Request) -> Result<Option<u64>, RouteError> {
    match request.query_param("after") {
        None => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .map(Some)
            .map_err(|_| RouteError::BadAfter),
    }
}

/// `?callback=F`, validated as a safe JavaScript identifier path.
fn callback_param(request: &Request) -> Result<String, RouteError> {
    let callback = request
        .query_param("callback")
        .ok_or(RouteError::MissingCallback)?;
    jsonp::validate_callback(&callback)?;
    Ok(callback)
}

#[cfg(test)]
mod tests {
    use super::{Route, RouteError};
    use crate::hub::HubError;

    #[test]
    fn paths_map_to_doors() {
        assert_eq!(Route::of("/publish/chat"), Route::Publish("chat"));
        assert_eq!(Route::of("/sse/clock"), Route::Sse("clock"));
        assert_eq!(Route::of("/ws/echo"), Route::WsEcho);
        assert_eq!(Route::of("/ws/chat"), Route::WsTopic("chat"));
        assert_eq!(Route::of("/"), Route::Static);
        assert_eq!(Route::of("/pushlab.js"), Route::Static);
        assert_eq!(Route::of("/lessons/sse.html"), Route::Static);
        assert_eq!(
            Route::of("/poll/a/b"),
            Route::Poll("a/b"),
            "then refused as an invalid topic"
        );
    }

    #[test]
    fn every_refusal_maps_to_its_status_in_one_place() {
        assert_eq!(RouteError::Hub(HubError::TooManyTopics).status(), 503);
        assert_eq!(RouteError::BadAfter.status(), 400);
        assert_eq!(RouteError::SessionTopicReadOnly.status(), 403);
        let refused = RouteError::MethodNotAllowed { allow: "POST" }.response();
        assert_eq!(refused.status, 405);
        assert!(refused
            .headers
            .iter()
            .any(|(n, v)| n == "Allow" && v == "POST"));
        let busy = RouteError::Busy.response();
        assert!(busy.headers.iter().any(|(n, _)| n == "Retry-After"));
    }
}
