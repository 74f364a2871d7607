//! Handing messages to subscribers: the other half of the event loop.
//!
//! A publish (from `POST /publish`, a WebSocket frame, a channel application, the clock, or another
//! thread) stores the message in the hub, which answers with the topic's subscribers in the same step.
//! The pair is queued in `Server::deliveries` and handed out once the current piece of work is done:
//! each subscriber gets the message framed the way its door frames messages ([`crate::transport`]).
//! This file also holds what publishes on the server's own initiative: the `clock` tick and the
//! channel sessions' housekeeping.

use std::rc::Rc;
use std::time::Instant;

use crate::channel::{Action, ClientId, Outbox, SESSION_TOPIC_PREFIX};
use crate::http::chunked;
use crate::hub::{Message, Replay, SubscriberId};
use crate::server::connection::{Connection, HeldKind, State, WsRole};
use crate::server::event_loop::{log, unix_millis, Fate, Server, HOUSEKEEPING_INTERVAL};
use crate::transport::{jsonp, long_poll};

impl Server {
    /// Answers a parked long poll or JSONP request, with `message` or (at the hold timeout) an empty list.
    pub(crate) fn answer_held(
        &mut self,
        token: usize,
        conn: &mut Connection,
        message: Option<&Rc<Message>>,
        now: Instant,
    ) {
        let State::Held(held) = &conn.state else {
            return;
        };
        let replay = match message {
            Some(message) => Replay {
                reset: false,
                messages: vec![Rc::clone(message)],
                last: message.id,
            },
            None => match self.hub.read(&held.topic, None, 0, now) {
                Ok(replay) => replay,
                Err(_) => Replay {
                    reset: false,
                    messages: Vec::new(),
                    last: 0,
                },
            },
        };
        let response = match &held.kind {
            HeldKind::LongPoll => long_poll::response(&replay),
            HeldKind::Jsonp { callback } => jsonp::response(callback, &replay),
        };
        let keep_alive = held.keep_alive;
        self.hub
            .unsubscribe(&held.topic, token as SubscriberId, now);
        conn.state = State::Request { started: None };
        conn.last_active = now;
        self.write_response(conn, &response, false, keep_alive, now);
    }

    /// Hands queued messages to their subscribers.
    pub(crate) fn deliver_pending(&mut self) {
        while let Some((topic, published)) = self.deliveries.pop_front() {
            let now = Instant::now();
            for subscriber in published.subscribers {
                let token = subscriber as usize;
                let Some(mut conn) = self.connections.take(token) else {
                    continue;
                };
                if subscribed_topic(&conn.state) != Some(topic.as_str()) {
                    self.connections.restore(token, conn);
                    continue;
                }
                self.deliver(token, &mut conn, &published.message, now);
                let fate = match self.service(token, &mut conn, now, false) {
                    Fate::Keep if self.slow_consumer(&mut conn, now) => Fate::Close,
                    fate => fate,
                };
                self.finish(token, conn, fate);
            }
        }
    }

    /// Queues a message for a subscriber, framed the way its door frames messages.
    fn deliver(
        &mut self,
        token: usize,
        conn: &mut Connection,
        message: &Rc<Message>,
        now: Instant,
    ) {
        match &mut conn.state {
            State::Held(_) => self.answer_held(token, conn, Some(message), now),
            State::Stream(stream) => {
                stream.next_heartbeat = now + self.config.heartbeat_interval;
                let mut piece = Vec::new();
                stream.format.message(message, &mut piece);
                self.send_stream_piece(token, conn, &piece, now);
            }
            State::WebSocket(ws) => ws.protocol.send_text(&message.json, &mut conn.output),
            State::Request { .. } | State::Closing { .. } => {}
        }
    }

    /// A subscriber whose unsent output passed the bound is dropped (a WebSocket gets close 1008 first);
    /// it must never grow the server's memory. Returns whether to close the connection now.
    fn slow_consumer(&mut self, conn: &mut Connection, now: Instant) -> bool {
        if conn.pending_output() <= self.config.max_pending_output_bytes {
            return false;
        }
        log(
            Some(conn.peer),
            format_args!(
                "subscriber too slow: {} bytes unsent, dropping it",
                conn.pending_output()
            ),
        );
        match &mut conn.state {
            State::WebSocket(ws) if !ws.protocol.close_sent() => {
                ws.protocol.close(
                    crate::ws::close::POLICY_VIOLATION,
                    "subscriber too slow",
                    &mut conn.output,
                    now,
                );
                false
            }
            State::WebSocket(_) => false,
            _ => true,
        }
    }

    /// Sends one piece of a streaming response as one chunk; ends the response past its size limit.
    pub(crate) fn send_stream_piece(
        &mut self,
        token: usize,
        conn: &mut Connection,
        piece: &[u8],
        now: Instant,
    ) {
        let State::Stream(stream) = &mut conn.state else {
            return;
        };
        chunked::encode_chunk(piece, &mut conn.output);
        stream.body_bytes += piece.len();
        if stream
            .limit_bytes
            .is_some_and(|limit| stream.body_bytes >= limit)
        {
            // The client reconnects with its last id; its memory for the response stays bounded.
            chunked::encode_last_chunk(&mut conn.output);
            let keep_alive = stream.keep_alive;
            self.hub
                .unsubscribe(&stream.topic, token as SubscriberId, now);
            conn.state = if keep_alive {
                State::Request { started: None }
            } else {
                State::Closing {
                    until: now + self.config.linger,
                }
            };
            conn.last_active = now;
        }
    }

    /// Publishes a message and queues its delivery.
    pub(crate) fn publish(
        &mut self,
        topic: &str,
        data: String,
    ) -> Result<u64, crate::hub::HubError> {
        let published = self.hub.publish(topic, data, Instant::now())?;
        let id = published.message.id;
        self.deliveries.push_back((topic.to_string(), published));
        Ok(id)
    }

    /// Publishes the server time to `clock` when it is due.
    pub(crate) fn tick_clock(&mut self, now: Instant) {
        let (Some(due), Some(interval)) = (self.next_clock_tick, self.config.clock_interval) else {
            return;
        };
        if now < due {
            return;
        }
        // Never try to catch up on missed ticks: one tick now, the next one a full interval later.
        self.next_clock_tick = Some((due + interval).max(now));
        let _ = self.publish("clock", format!("{{\"now_ms\":{}}}", unix_millis()));
        self.deliver_pending();
    }

    /// Once a second: evicts idle hub topics and ends channel sessions nobody has used for the grace
    /// period.
    pub(crate) fn housekeeping(&mut self, now: Instant) {
        if now < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = now + HOUSEKEEPING_INTERVAL;
        self.hub.evict_idle(now);
        let hub = &self.hub;
        let expired = self.sessions.expire(now, |id| {
            hub.subscriber_count(&format!("{SESSION_TOPIC_PREFIX}{id}")) > 0
        });
        for (client, outbox) in expired {
            self.carry_out(outbox);
            self.end_session_topic(&client);
        }
        self.deliver_pending();
    }

    /// Carries out what a channel handler asked for.
    pub(crate) fn carry_out(&mut self, outbox: Outbox) {
        for action in outbox.actions {
            let (topic, data) = match action {
                Action::Send { client, data } => (client.topic(), data),
                Action::Publish { topic, data } => (topic, data),
            };
            if let Err(error) = self.publish(&topic, data) {
                log(
                    None,
                    format_args!("channel message to {topic} refused: {error}"),
                );
            }
        }
    }

    /// Deletes an ended session's private topic and closes whatever is still connected to it.
    pub(crate) fn end_session_topic(&mut self, client: &ClientId) {
        for subscriber in self.hub.remove_topic(&client.topic()) {
            let token = subscriber as usize;
            if let Some(conn) = self.connections.take(token) {
                self.finish(token, conn, Fate::Close);
            }
        }
    }
}

/// The topic a connection in `state` is subscribed to, if any.
pub(crate) fn subscribed_topic(state: &State) -> Option<&str> {
    match state {
        State::Held(held) => Some(&held.topic),
        State::Stream(stream) => Some(&stream.topic),
        State::WebSocket(ws) => match &ws.role {
            WsRole::Topic(topic) => Some(topic),
            WsRole::Echo => None,
        },
        _ => None,
    }
}
