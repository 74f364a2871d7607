//! Which door a request opens: the URL contract of the README, mapped to the transports.
//!
//! | route                          | door                                            |
//! |--------------------------------|-------------------------------------------------|
//! | `POST /publish/{topic}`        | publish a message                               |
//! | `GET /poll/{topic}`            | [`short_poll`]                                  |
//! | `GET /longpoll/{topic}`        | [`long_poll`] (held)                            |
//! | `GET /jsonp/{topic}`           | [`jsonp`] (held)                                |
//! | `GET /stream/{topic}`          | [`xhr_stream`][crate::transport::xhr_stream] (streamed) |
//! | `GET /iframe/{topic}`          | [`iframe`][crate::transport::iframe] (streamed) |
//! | `GET /sse/{topic}`             | [`sse`] (streamed)                              |
//! | `GET /ws/echo`, `/ws/{topic}`  | WebSocket ([`crate::ws`], [`websocket`])        |
//! | `POST`/`GET /channel/...`      | the channel API ([`crate::channel`])            |
//! | `GET` anything else            | a file under `static/`                          |

use std::time::Instant;

use crate::channel::{session_of_topic, ChannelError, ClientId};
use crate::http::{static_files, Request, Response};
use crate::hub::{Hub, HubError, Replay, SubscriberId};
use crate::server::connection::{Connection, Held, HeldKind, PushStream, State, WebSocket, WsRole};
use crate::server::event_loop::{log, random_session_id, trace_head, Server};
use crate::transport::iframe::IframeStream;
use crate::transport::sse::{self, SseStream};
use crate::transport::xhr_stream::XhrStream;
use crate::transport::{jsonp, long_poll, reset_point, short_poll, websocket, StreamFormat};
use crate::ws::{handshake, Event, Role, WsProtocol};

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

    /// The methods the route answers (for 405's `Allow`).
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

/// Why a request is refused before any door opens.
type Refusal = (u16, String);

impl Server {
    /// Answers one complete request (or opens the door it asks for).
    pub(crate) fn handle_request(
        &mut self,
        token: usize,
        conn: &mut Connection,
        request: Request,
        now: Instant,
    ) {
        if self.config.trace {
            trace_request(conn, &request);
        }
        if let Err((status, reason)) = self.route(token, conn, &request, now) {
            log(
                Some(conn.peer),
                format_args!("{status} for {} {}: {reason}", request.method, request.path),
            );
            let mut response = Response::error(status, &reason);
            if status == 405 {
                let allowed = Route::of(&request.path).allowed_methods();
                response = response.header("Allow", allowed);
            }
            self.answer(conn, &request, &response, now);
        }
    }

    /// Writes the answer to `request`: its head only for HEAD, and keep-alive as the request asked.
    fn answer(&self, conn: &mut Connection, request: &Request, response: &Response, now: Instant) {
        let head_only = request.method == "HEAD";
        self.write_response(conn, response, head_only, request.keep_alive(), now);
    }

    fn route(
        &mut self,
        token: usize,
        conn: &mut Connection,
        request: &Request,
        now: Instant,
    ) -> Result<(), Refusal> {
        let route = Route::of(&request.path);
        // One table of methods per route, the same one that writes the 405's `Allow`.
        let method_ok = route
            .allowed_methods()
            .split(", ")
            .any(|method| method == request.method);
        if !method_ok {
            return Err((405, format!("{} is not allowed here", request.method)));
        }
        if let Some(topic) = route.topic() {
            if !Hub::valid_topic(topic) {
                return Err((400, "a topic name is 1 to 64 of A-Z a-z 0-9 _ -".into()));
            }
            if let Some(session) = session_of_topic(topic) {
                // A session's private queue is written only by its channel application.
                if matches!(route, Route::Publish(_)) {
                    return Err((
                        403,
                        "session topics are written by their channel application".into(),
                    ));
                }
                if !self.sessions.touch(session, now) {
                    return Err((404, ChannelError::NoSuchSession.to_string()));
                }
            }
        }
        let after = after_param(request)?;
        let keep_alive = request.keep_alive();
        match route {
            Route::Publish(topic) => self.publish_request(conn, request, topic, now),
            Route::Poll(topic) => {
                let replay = self
                    .hub
                    .read(topic, after, self.config.max_batch_messages, now)
                    .map_err(hub_refusal)?;
                self.write_response(conn, &short_poll::response(&replay), false, keep_alive, now);
                Ok(())
            }
            Route::LongPoll(topic) => self.hold(
                token,
                conn,
                topic,
                after,
                HeldKind::LongPoll,
                keep_alive,
                now,
            ),
            Route::Jsonp(topic) => {
                let callback = callback_param(request)?;
                self.hold(
                    token,
                    conn,
                    topic,
                    after,
                    HeldKind::Jsonp { callback },
                    keep_alive,
                    now,
                )
            }
            Route::Stream(topic) => {
                let limit = Some(self.config.max_stream_bytes);
                self.open_stream(
                    token,
                    conn,
                    request,
                    topic,
                    after,
                    Box::new(XhrStream),
                    limit,
                    now,
                )
            }
            Route::Iframe(topic) => {
                let callback = callback_param(request)?;
                let limit = Some(self.config.max_stream_bytes);
                let format = Box::new(IframeStream { callback });
                self.open_stream(token, conn, request, topic, after, format, limit, now)
            }
            Route::Sse(topic) => {
                // A browser reconnects to the original URL plus `Last-Event-ID`, which must win over `?after`.
                let resume = sse::resume_point(request.header_str("Last-Event-ID"), after);
                let format = Box::new(SseStream {
                    retry_ms: self.config.sse_retry_ms,
                });
                self.open_stream(token, conn, request, topic, resume, format, None, now)
            }
            Route::WsEcho => self.upgrade(token, conn, request, WsRole::Echo, after, now),
            Route::WsTopic(topic) => self.upgrade(
                token,
                conn,
                request,
                WsRole::Topic(topic.into()),
                after,
                now,
            ),
            Route::Channel(path) => self.channel_request(conn, request, path, now),
            Route::Static => self.static_file(conn, request, now),
        }
    }

    /// The channel API over HTTP: open a session, send to it, close it (see [`crate::channel`]).
    fn channel_request(
        &mut self,
        conn: &mut Connection,
        request: &Request,
        path: &str,
        now: Instant,
    ) -> Result<(), Refusal> {
        let channel_refusal = |e: ChannelError| (e.status(), e.to_string());
        let mut parts = path.split('/');
        let (app, session, action) = (parts.next().unwrap_or(""), parts.next(), parts.next());
        if parts.next().is_some() || action.is_some_and(|action| action != "close") {
            return Err((
                404,
                "channel paths are /channel/{app}[/{session}[/close]]".into(),
            ));
        }
        let body = match session {
            // GET /channel/{app}/{session}: does the server still know this session? A client whose
            // connection failed asks this to tell "the network hiccuped" (reconnect) from "the session
            // expired or the server restarted" (open a new one).
            Some(id) if request.method == "GET" && action.is_none() => {
                if self.sessions.app_of(id) != Some(app) {
                    return Err((404, ChannelError::NoSuchSession.to_string()));
                }
                session_json(&ClientId(id.to_string()))
            }
            _ if request.method == "GET" => {
                return Err((405, "only /channel/{app}/{session} answers GET".into()));
            }
            None => {
                let id =
                    random_session_id().map_err(|e| (500, format!("no random source: {e}")))?;
                let (client, outbox) = self.sessions.open(app, id, now).map_err(channel_refusal)?;
                self.carry_out(outbox);
                session_json(&client)
            }
            Some(id) if action.is_some() => {
                let outbox = self.sessions.close(app, id, now).map_err(channel_refusal)?;
                self.carry_out(outbox);
                self.end_session_topic(&ClientId(id.to_string()));
                "{}".to_string()
            }
            Some(id) => {
                let data = std::str::from_utf8(&request.body)
                    .map_err(|_| (400, "the body must be UTF-8 text".to_string()))?;
                let outbox = self
                    .sessions
                    .message(app, id, data, now)
                    .map_err(channel_refusal)?;
                self.carry_out(outbox);
                "{}".to_string()
            }
        };
        let response = Response::new(200)
            .header("Cache-Control", "no-store")
            .body("application/json", body);
        self.answer(conn, request, &response, now);
        Ok(())
    }

    fn publish_request(
        &mut self,
        conn: &mut Connection,
        request: &Request,
        topic: &str,
        now: Instant,
    ) -> Result<(), Refusal> {
        let data = String::from_utf8(request.body.clone())
            .map_err(|_| (400, "the body must be UTF-8 text".to_string()))?;
        let id = self.publish(topic, data).map_err(hub_refusal)?;
        let response = Response::new(200).body("application/json", format!("{{\"id\":{id}}}"));
        self.answer(conn, request, &response, now);
        Ok(())
    }

    /// Long poll and JSONP: answer at once if something is new, else park the request in the hub.
    #[allow(clippy::too_many_arguments)]
    fn hold(
        &mut self,
        token: usize,
        conn: &mut Connection,
        topic: &str,
        after: Option<u64>,
        kind: HeldKind,
        keep_alive: bool,
        now: Instant,
    ) -> Result<(), Refusal> {
        let replay = self
            .hub
            .read(topic, after, self.config.max_batch_messages, now)
            .map_err(hub_refusal)?;
        if !replay.messages.is_empty() || replay.reset {
            let response = match &kind {
                HeldKind::LongPoll => long_poll::response(&replay),
                HeldKind::Jsonp { callback } => jsonp::response(callback, &replay),
            };
            self.write_response(conn, &response, false, keep_alive, now);
            return Ok(());
        }
        // Nothing new. Subscribing now, in the same turn as the read above, leaves no gap for a message.
        self.hub
            .subscribe(topic, token as SubscriberId, after, now)
            .map_err(hub_refusal)?;
        let until = now + self.config.hold_timeout;
        conn.state = State::Held(Held {
            kind,
            topic: topic.into(),
            until,
            keep_alive,
        });
        Ok(())
    }

    /// XHR stream, iframe, SSE: a chunked response that stays open, one chunk per message.
    #[allow(clippy::too_many_arguments)]
    fn open_stream(
        &mut self,
        token: usize,
        conn: &mut Connection,
        request: &Request,
        topic: &str,
        after: Option<u64>,
        format: Box<dyn StreamFormat>,
        limit_bytes: Option<usize>,
        now: Instant,
    ) -> Result<(), Refusal> {
        if request.version == 0 {
            return Err((
                505,
                "a streaming response needs HTTP/1.1 chunked encoding".into(),
            ));
        }
        let replay = self
            .hub
            .subscribe(topic, token as SubscriberId, after, now)
            .map_err(hub_refusal)?;
        let mut response = Response::new(200).chunked(format.content_type());
        for (name, value) in format.headers() {
            response = response.header(name, &value);
        }
        let keep_alive = request.keep_alive();
        self.write_response(conn, &response, false, keep_alive, now);
        let next_heartbeat = now + self.config.heartbeat_interval;
        let stream = PushStream {
            format,
            topic: topic.into(),
            body_bytes: 0,
            limit_bytes,
            next_heartbeat,
            keep_alive,
        };
        conn.state = State::Stream(stream);
        for piece in stream_opening(conn, &replay) {
            self.send_stream_piece(token, conn, &piece, now);
        }
        Ok(())
    }

    /// The WebSocket opening handshake (RFC 6455 §4.2), then the replay for a topic socket.
    fn upgrade(
        &mut self,
        token: usize,
        conn: &mut Connection,
        request: &Request,
        role: WsRole,
        after: Option<u64>,
        now: Instant,
    ) -> Result<(), Refusal> {
        if !handshake::is_upgrade_request(request) {
            // RFC 9110 §15.5.22: a 426 names the protocol to switch to.
            let response = Response::error(
                426,
                "this is a WebSocket endpoint; send an Upgrade: websocket request",
            )
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13");
            self.answer(conn, request, &response, now);
            return Ok(());
        }
        if self.config.refuse_websocket {
            return Err((
                500,
                "WebSocket upgrades are refused (--refuse-websocket)".into(),
            ));
        }
        let upgrade = match handshake::check_upgrade(request, &self.config.ws) {
            Ok(upgrade) => upgrade,
            Err(response) => {
                log(
                    Some(conn.peer),
                    format_args!("websocket handshake refused: {}", response.status),
                );
                self.write_response(conn, &response, false, false, now);
                return Ok(());
            }
        };
        // Subscribe before answering 101, so a refused topic can still get an HTTP status.
        let replay = match &role {
            WsRole::Topic(topic) => Some(
                self.hub
                    .subscribe(topic, token as SubscriberId, after, now)
                    .map_err(hub_refusal)?,
            ),
            WsRole::Echo => None,
        };
        self.write_response(
            conn,
            &handshake::switching_protocols(&upgrade),
            false,
            true,
            now,
        );
        let mut protocol = WsProtocol::new(Role::Server, &self.config.ws, now);
        if let Some(replay) = replay {
            if replay.reset {
                protocol.send_text(
                    &websocket::reset_text(reset_point(&replay)),
                    &mut conn.output,
                );
            }
            for message in &replay.messages {
                protocol.send_text(&message.json, &mut conn.output);
            }
        }
        conn.state = State::WebSocket(WebSocket { protocol, role });
        Ok(())
    }

    fn static_file(
        &mut self,
        conn: &mut Connection,
        request: &Request,
        now: Instant,
    ) -> Result<(), Refusal> {
        let file =
            static_files::lookup(&request.path).map_err(|e| (e.status, e.reason.to_string()))?;
        let Some(file) = file else {
            return Err((404, format!("no such page: {}", request.path)));
        };
        let response = Response::new(200)
            .header("Cache-Control", "no-cache")
            .body(file.content_type, file.bytes);
        self.answer(conn, request, &response, now);
        Ok(())
    }

    /// Turns buffered WebSocket bytes into events and answers them.
    pub(crate) fn process_websocket_bytes(
        &mut self,
        token: usize,
        conn: &mut Connection,
        now: Instant,
    ) {
        let mut used = 0;
        loop {
            // Backpressure: an echo client that does not read its answers is not read either.
            if conn.pending_output() > self.config.max_pending_output_bytes {
                break;
            }
            let Connection {
                state: State::WebSocket(ws),
                input,
                output,
                peer,
                ..
            } = conn
            else {
                break;
            };
            match ws.protocol.read(&input.unread()[used..], output, now) {
                Ok(outcome) => {
                    used += outcome.consumed;
                    match outcome.event {
                        Some(event) => {
                            let role = ws.role.clone();
                            self.on_websocket_event(token, conn, &role, event, now);
                        }
                        None if outcome.consumed == 0 => break,
                        None => {}
                    }
                }
                Err(error) => {
                    // The protocol has queued a close frame with the error's code; flush it and close.
                    log(Some(*peer), format_args!("websocket {error}"));
                    let until = now + self.config.ws.close_timeout;
                    self.begin_closing(token, conn, until);
                    break;
                }
            }
        }
        conn.input.consume(used);
    }

    fn on_websocket_event(
        &mut self,
        _token: usize,
        conn: &mut Connection,
        role: &WsRole,
        event: Event,
        now: Instant,
    ) {
        let State::WebSocket(ws) = &mut conn.state else {
            return;
        };
        match (event, role) {
            (Event::Text(text), WsRole::Echo) => ws.protocol.send_text(&text, &mut conn.output),
            (Event::Binary(data), WsRole::Echo) => ws.protocol.send_binary(&data, &mut conn.output),
            (Event::Text(text), WsRole::Topic(topic)) if session_of_topic(topic).is_some() => {
                // On a session's socket, text goes to the channel application, not to the topic.
                let session = session_of_topic(topic).unwrap_or_default();
                let app = self
                    .sessions
                    .app_of(session)
                    .unwrap_or_default()
                    .to_string();
                match self.sessions.message(&app, session, &text, now) {
                    Ok(outbox) => self.carry_out(outbox),
                    Err(error) => ws.protocol.close(
                        crate::ws::close::POLICY_VIOLATION,
                        &error.to_string(),
                        &mut conn.output,
                        now,
                    ),
                }
            }
            (Event::Text(text), WsRole::Topic(topic)) => {
                if let Err(error) = self.publish(topic, text) {
                    let code = match error {
                        HubError::TooLarge => crate::ws::close::MESSAGE_TOO_BIG,
                        _ => crate::ws::close::POLICY_VIOLATION,
                    };
                    log(
                        Some(conn.peer),
                        format_args!("websocket publish refused: {error}"),
                    );
                    ws.protocol
                        .close(code, &error.to_string(), &mut conn.output, now);
                }
            }
            (Event::Binary(_), WsRole::Topic(_)) => {
                // RFC 6455 §7.4.1: 1003, "a type of data it cannot accept": topics carry text.
                ws.protocol.close(
                    crate::ws::close::UNSUPPORTED_DATA,
                    "topics carry text",
                    &mut conn.output,
                    now,
                );
            }
            // Pings were answered by the protocol; closes too (settle() sees when both have crossed).
            (Event::Ping(_) | Event::Pong(_) | Event::Close { .. }, _) => {}
        }
    }
}

/// What a stream sends first: its prelude, a reset notice if the log no longer reaches back, the replay.
fn stream_opening(conn: &Connection, replay: &Replay) -> Vec<Vec<u8>> {
    let State::Stream(stream) = &conn.state else {
        return Vec::new();
    };
    let mut pieces = Vec::new();
    let mut prelude = Vec::new();
    stream.format.prelude(&mut prelude);
    if !prelude.is_empty() {
        pieces.push(prelude);
    }
    if replay.reset {
        let mut piece = Vec::new();
        stream.format.reset(reset_point(replay), &mut piece);
        pieces.push(piece);
    }
    for message in &replay.messages {
        let mut piece = Vec::new();
        stream.format.message(message, &mut piece);
        pieces.push(piece);
    }
    pieces
}

/// `?after=N`: absent means "from now"; anything but a decimal id is a 400.
fn after_param(request: &Request) -> Result<Option<u64>, Refusal> {
    match request.query_param("after") {
        None => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .map(Some)
            .map_err(|_| (400, "after must be a decimal message id".into())),
    }
}

/// `?callback=F`, validated as a safe JavaScript identifier path.
fn callback_param(request: &Request) -> Result<String, Refusal> {
    let callback = request
        .query_param("callback")
        .ok_or((400, "callback is required".to_string()))?;
    jsonp::validate_callback(&callback).map_err(|e| (e.status, e.reason.to_string()))?;
    Ok(callback)
}

fn hub_refusal(error: HubError) -> Refusal {
    (error.status(), error.to_string())
}

/// Prints a request head for `--trace`.
fn trace_request(conn: &Connection, request: &Request) {
    let mut head = format!("{} {}", request.method, request.path);
    if !request.query.is_empty() {
        head.push('?');
        head.push_str(&request.query);
    }
    head.push_str(&format!(" HTTP/1.{}\r\n", request.version));
    for header in &request.headers {
        head.push_str(&format!(
            "{}: {}\r\n",
            header.name,
            String::from_utf8_lossy(&header.value)
        ));
    }
    trace_head(conn.peer, "<-", head.as_bytes());
}

/// The JSON that names a session and its private topic: `{"session":"<id>","topic":"session-<id>"}`.
fn session_json(client: &ClientId) -> String {
    format!(
        "{{\"session\":\"{}\",\"topic\":\"{}\"}}",
        client,
        client.topic()
    )
}

#[cfg(test)]
mod tests {
    use super::Route;

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
}
