//! The channel API: application code talks to *one client*, whatever door it came through.
//!
//! Topics broadcast: everyone subscribed to `chat` gets every message. An application often needs more:
//! a private answer to one client, and to know when a client arrives and leaves. HTTP-Kit gives Clojure
//! servers that as one `AsyncChannel` (`on-receive`, `on-close`, `send!`) whether the client speaks
//! WebSocket or long polling; Sente does the same over its own transports. pushlab's version:
//!
//! ```text
//! browser                                   server
//! POST /channel/echo              ───────►  Sessions::open     → ChannelHandler::on_open
//!      ◄─── {"session":"3f…","topic":"session-3f…"}
//! any door on topic session-3f…   ◄───────  Outbox::send       (the client's private queue)
//! POST /channel/echo/3f…  (body)  ───────►  Sessions::message  → ChannelHandler::on_message
//!   or a WebSocket text frame on /ws/session-3f…
//! POST /channel/echo/3f…/close    ───────►  Sessions::close    → ChannelHandler::on_close
//!   or nobody connected for the grace period                     → ChannelHandler::on_close
//! GET  /channel/echo/3f…          ───────►  200 while the session lives, 404 once it is gone
//! ```
//!
//! The last line is for clients after a failed connection: a 404 says that reconnecting is useless (the
//! session expired, or the server restarted) and a new session must be opened; `pushlab.js` does that.
//!
//! The trick is that a client's private queue *is* a hub topic, `session-<id>`: it has ids, a bounded log
//! and resume, so every one of the seven doors works for a session exactly as for a public topic, and a
//! client that reconnects within the grace period loses nothing. The session id is 128 random bits and is
//! the only key to the queue; nobody else may publish to a `session-` topic.
//!
//! This module is sans-IO like the protocols: it never reads the clock (`now` comes in) and never touches
//! the hub. Handlers write their wishes into an [`Outbox`], which the server core carries out.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

/// The prefix of every session's private topic.
pub const SESSION_TOPIC_PREFIX: &str = "session-";

/// One client of a channel application, the same whatever its transport.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub String);

impl ClientId {
    /// The hub topic that is this client's private queue.
    pub fn topic(&self) -> String {
        format!("{SESSION_TOPIC_PREFIX}{}", self.0)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a handler asks the server to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `data` to one client only.
    Send {
        /// The client.
        client: ClientId,
        /// The message.
        data: String,
    },
    /// Publish `data` to a public topic.
    Publish {
        /// The topic.
        topic: String,
        /// The message.
        data: String,
    },
}

/// Where handlers put what they want sent; the server core carries it out after the handler returns.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outbox {
    /// The actions, in order.
    pub actions: Vec<Action>,
}

impl Outbox {
    /// Sends `data` to `client` alone (its private queue).
    pub fn send(&mut self, client: &ClientId, data: impl Into<String>) {
        self.actions.push(Action::Send {
            client: client.clone(),
            data: data.into(),
        });
    }

    /// Publishes `data` to the public `topic`.
    pub fn publish(&mut self, topic: &str, data: impl Into<String>) {
        self.actions.push(Action::Publish {
            topic: topic.into(),
            data: data.into(),
        });
    }
}

/// Application code for one channel: called for each client's arrival, messages and departure.
pub trait ChannelHandler {
    /// A client opened a session.
    fn on_open(&mut self, client: &ClientId, outbox: &mut Outbox) {
        let _ = (client, outbox);
    }
    /// A client sent a message (a POST or a WebSocket text frame).
    fn on_message(&mut self, client: &ClientId, data: &str, outbox: &mut Outbox);
    /// A client closed its session, or stayed away longer than the grace period.
    fn on_close(&mut self, client: &ClientId, outbox: &mut Outbox) {
        let _ = (client, outbox);
    }
    /// With `--redis`: a client opened a session on another node, whose `on_open` ran there (greetings
    /// included). Update what this node knows of its clients; send nothing, or it would be sent twice.
    fn on_adopt(&mut self, client: &ClientId) {
        let _ = client;
    }
    /// With `--redis`: a client's session ended on another node, whose `on_close` ran there. Forget the
    /// client; send nothing.
    fn on_forget(&mut self, client: &ClientId) {
        let _ = client;
    }
}

/// A request about sessions the server refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// No application of that name (HTTP 404).
    NoSuchApp,
    /// No session with that id: never opened, closed, or expired (HTTP 404).
    NoSuchSession,
    /// The session belongs to another application (HTTP 404, as if absent).
    WrongApp,
    /// The session limit is reached (HTTP 503).
    TooManySessions,
}

impl ChannelError {
    /// The HTTP status to answer.
    pub fn status(&self) -> u16 {
        match self {
            ChannelError::NoSuchApp | ChannelError::NoSuchSession | ChannelError::WrongApp => 404,
            ChannelError::TooManySessions => 503,
        }
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChannelError::NoSuchApp => "no channel application of that name",
            ChannelError::NoSuchSession => "no such session (closed or expired: open a new one)",
            ChannelError::WrongApp => "that session belongs to another channel application",
            ChannelError::TooManySessions => "too many open sessions",
        })
    }
}

impl std::error::Error for ChannelError {}

struct Session {
    app: String,
    last_seen: Instant,
    /// Used since [`Sessions::take_used`] last asked (the Redis backend then refreshes its TTL).
    used: bool,
}

/// Every registered application and every open session.
pub struct Sessions {
    apps: HashMap<String, Box<dyn ChannelHandler>>,
    sessions: HashMap<String, Session>,
    /// How long a session survives with nobody connected.
    pub grace: Duration,
    /// Most sessions open at once.
    pub max_sessions: usize,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("apps", &self.apps.keys().collect::<Vec<_>>())
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl Sessions {
    /// No applications, no sessions.
    pub fn new(grace: Duration, max_sessions: usize) -> Self {
        Sessions {
            apps: HashMap::new(),
            sessions: HashMap::new(),
            grace,
            max_sessions,
        }
    }

    /// Registers `handler` under `name` (replacing any earlier one).
    pub fn register(&mut self, name: &str, handler: Box<dyn ChannelHandler>) {
        self.apps.insert(name.to_string(), handler);
    }

    /// Opens a session of application `app` with the (random) `id` the server chose.
    pub fn open(
        &mut self,
        app: &str,
        id: String,
        now: Instant,
    ) -> Result<(ClientId, Outbox), ChannelError> {
        if self.sessions.len() >= self.max_sessions {
            return Err(ChannelError::TooManySessions);
        }
        let handler = self.apps.get_mut(app).ok_or(ChannelError::NoSuchApp)?;
        let client = ClientId(id);
        let mut outbox = Outbox::default();
        handler.on_open(&client, &mut outbox);
        self.sessions.insert(
            client.0.clone(),
            Session {
                app: app.to_string(),
                last_seen: now,
                used: true,
            },
        );
        Ok((client, outbox))
    }

    /// A message from session `id`, which must belong to `app`.
    pub fn message(
        &mut self,
        app: &str,
        id: &str,
        data: &str,
        now: Instant,
    ) -> Result<Outbox, ChannelError> {
        let (client, handler) = self.session_handler(app, id, now)?;
        let mut outbox = Outbox::default();
        handler.on_message(&client, data, &mut outbox);
        Ok(outbox)
    }

    /// Closes session `id` at the client's request.
    pub fn close(&mut self, app: &str, id: &str, now: Instant) -> Result<Outbox, ChannelError> {
        self.session_handler(app, id, now)?;
        Ok(self.end(id))
    }

    /// Notes that session `id` was just used (a request on its topic). Returns whether it exists.
    pub fn touch(&mut self, id: &str, now: Instant) -> bool {
        match self.sessions.get_mut(id) {
            Some(session) => {
                session.last_seen = now;
                session.used = true;
                true
            }
            None => false,
        }
    }

    /// The application a session belongs to.
    pub fn app_of(&self, id: &str) -> Option<&str> {
        self.sessions.get(id).map(|session| session.app.as_str())
    }

    /// Ends every session unused for longer than the grace period; `connected(id)` tells whether a client
    /// is connected to it right now (which counts as use). Returns the ended sessions' outboxes.
    pub fn expire(
        &mut self,
        now: Instant,
        connected: impl Fn(&str) -> bool,
    ) -> Vec<(ClientId, Outbox)> {
        let mut expired = BTreeSet::new();
        for (id, session) in &mut self.sessions {
            if connected(id) {
                session.last_seen = now;
            } else if now.saturating_duration_since(session.last_seen) > self.grace {
                expired.insert(id.clone());
            }
        }
        expired
            .into_iter()
            .map(|id| (ClientId(id.clone()), self.end(&id)))
            .collect()
    }

    // ----- sessions shared between nodes (the Redis backend) -----
    //
    // With `--redis` the record of a session lives in Redis with a TTL of the grace period, and each
    // node keeps a copy here: a session opened on one node is *adopted* by the others (its `on_open`
    // ran where it was opened), any node may serve its requests, and it ends once, on one node.

    /// Records session `id` of `app`, opened on another node, and tells the application
    /// ([`ChannelHandler::on_adopt`]). False if the application is unknown here or the table is full;
    /// nothing happens if the session is known already.
    pub fn adopt(&mut self, app: &str, id: &str, now: Instant) -> bool {
        if self.sessions.contains_key(id) {
            return true;
        }
        if self.sessions.len() >= self.max_sessions {
            return false;
        }
        let Some(handler) = self.apps.get_mut(app) else {
            return false;
        };
        handler.on_adopt(&ClientId(id.to_string()));
        let session = Session {
            app: app.to_string(),
            last_seen: now,
            used: false,
        };
        self.sessions.insert(id.to_string(), session);
        true
    }

    /// Drops session `id`, ended on another node (its `on_close` ran there), and tells the application
    /// ([`ChannelHandler::on_forget`]). Returns whether it was here.
    pub fn forget(&mut self, id: &str) -> bool {
        let Some(session) = self.sessions.remove(id) else {
            return false;
        };
        if let Some(handler) = self.apps.get_mut(&session.app) {
            handler.on_forget(&ClientId(id.to_string()));
        }
        true
    }

    /// The sessions used since the last call (a request, or a client connected to their topic, as
    /// `connected` tells), whose TTL in Redis is to be refreshed.
    pub fn take_used(&mut self, now: Instant, connected: impl Fn(&str) -> bool) -> Vec<String> {
        let mut used = Vec::new();
        for (id, session) in &mut self.sessions {
            if connected(id) {
                session.last_seen = now;
                session.used = true;
            }
            if std::mem::take(&mut session.used) {
                used.push(id.clone());
            }
        }
        used
    }

    /// Notes that Redis still had session `id`'s record when this node, where it was idle, asked: it
    /// was used on another node, so it is not idle here before another grace period has passed. Not a
    /// use here: the node that used it refreshes its TTL. (Counting it as one would make two idle
    /// nodes refresh the record for each other whenever their checks interleave, and a session nobody
    /// uses would never end.)
    pub fn alive_elsewhere(&mut self, id: &str, now: Instant) {
        if let Some(session) = self.sessions.get_mut(id) {
            session.last_seen = now;
        }
    }

    /// The sessions nobody used here for longer than the grace period, without ending them: another
    /// node may have served them meanwhile, which only Redis knows.
    pub fn idle(&self, now: Instant) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|(_, session)| now.saturating_duration_since(session.last_seen) > self.grace)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Ends session `id` here and now, running the application's `on_close`.
    pub fn end_now(&mut self, id: &str) -> Option<(ClientId, Outbox)> {
        self.sessions
            .contains_key(id)
            .then(|| (ClientId(id.to_string()), self.end(id)))
    }

    /// How many sessions are open.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn session_handler(
        &mut self,
        app: &str,
        id: &str,
        now: Instant,
    ) -> Result<(ClientId, &mut Box<dyn ChannelHandler>), ChannelError> {
        let session = self
            .sessions
            .get_mut(id)
            .ok_or(ChannelError::NoSuchSession)?;
        if session.app != app {
            return Err(ChannelError::WrongApp);
        }
        session.last_seen = now;
        session.used = true;
        let handler = self.apps.get_mut(app).ok_or(ChannelError::NoSuchApp)?;
        Ok((ClientId(id.to_string()), handler))
    }

    fn end(&mut self, id: &str) -> Outbox {
        let mut outbox = Outbox::default();
        if let Some(session) = self.sessions.remove(id) {
            if let Some(handler) = self.apps.get_mut(&session.app) {
                handler.on_close(&ClientId(id.to_string()), &mut outbox);
            }
        }
        outbox
    }
}

/// The session id inside a `session-<id>` topic name, if it is one.
pub fn session_of_topic(topic: &str) -> Option<&str> {
    topic.strip_prefix(SESSION_TOPIC_PREFIX)
}

/// The private echo: every message comes back to its sender, and to nobody else.
#[derive(Debug, Default)]
pub struct PrivateEcho;

impl ChannelHandler for PrivateEcho {
    fn on_message(&mut self, client: &ClientId, data: &str, outbox: &mut Outbox) {
        outbox.send(client, data);
    }
}

/// The chat room as a channel application: it knows who is in the room, greets each newcomer privately,
/// and hands every message to every member through their own queues (as HTTP-Kit's chat example does
/// with a set of channels), announcing arrivals and departures. `/who` asks how many are in the room
/// (answered to the asker alone).
///
/// # One room over several nodes
///
/// With `--redis` a member may join on node A and talk on node B, so every node's `ChatRoom` must list
/// every member. The list needs no store of its own: a member *is* an open session of this application,
/// and the sessions already live in Redis (`pushlab:session:<id>` → `chat`, expiring after the session
/// grace unless used), with every open and close announced on the shared feed. So each node's list is
/// a mirror of those records: a session opened on another node is added by [`ChannelHandler::on_adopt`]
/// (whether the feed announced it or a starting node found it among the records), and one that ended
/// elsewhere, closed or expired, is removed by [`ChannelHandler::on_forget`]. The greetings and
/// departure notices go out once, from the node where the session opened or ended, to every member
/// through their private topics, which are shared like any topic. (Two members joining on two nodes
/// in the same instant may miss each other's arrival notice: each node greets the members it knew.)
#[derive(Debug, Default)]
pub struct ChatRoom {
    members: BTreeSet<ClientId>,
}

/// What a member sends to ask how many are in the room.
pub const CHAT_WHO: &str = "/who";

impl ChatRoom {
    fn broadcast(&self, data: &str, outbox: &mut Outbox) {
        for member in &self.members {
            outbox.send(member, data);
        }
    }
}

impl ChannelHandler for ChatRoom {
    fn on_open(&mut self, client: &ClientId, outbox: &mut Outbox) {
        self.broadcast("* someone joined the room", outbox);
        self.members.insert(client.clone());
        outbox.send(
            client,
            format!("* welcome: {} in the room", self.members.len()),
        );
    }

    fn on_message(&mut self, client: &ClientId, data: &str, outbox: &mut Outbox) {
        if data == CHAT_WHO {
            outbox.send(client, format!("* {} in the room", self.members.len()));
            return;
        }
        self.broadcast(data, outbox);
    }

    fn on_close(&mut self, client: &ClientId, outbox: &mut Outbox) {
        self.members.remove(client);
        self.broadcast("* someone left the room", outbox);
    }

    fn on_adopt(&mut self, client: &ClientId) {
        self.members.insert(client.clone());
    }

    fn on_forget(&mut self, client: &ClientId) {
        self.members.remove(client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        let mut sessions = Sessions::new(Duration::from_secs(10), 3);
        sessions.register("echo", Box::new(PrivateEcho));
        sessions.register("chat", Box::new(ChatRoom::default()));
        sessions
    }

    fn sends(outbox: &Outbox) -> Vec<(String, String)> {
        outbox
            .actions
            .iter()
            .map(|action| match action {
                Action::Send { client, data } => (client.0.clone(), data.clone()),
                Action::Publish { topic, data } => (format!("topic {topic}"), data.clone()),
            })
            .collect()
    }

    #[test]
    fn private_echo_answers_the_sender_only() {
        let now = Instant::now();
        let mut sessions = sessions();
        let (client, opened) = sessions.open("echo", "a1".into(), now).unwrap();
        assert!(opened.actions.is_empty());
        assert_eq!(client.topic(), "session-a1");
        let outbox = sessions.message("echo", "a1", "hi", now).unwrap();
        assert_eq!(sends(&outbox), vec![("a1".to_string(), "hi".to_string())]);
    }

    #[test]
    fn chat_room_greets_fans_out_and_announces_departures() {
        let now = Instant::now();
        let mut sessions = sessions();
        let (_, first) = sessions.open("chat", "a".into(), now).unwrap();
        assert_eq!(
            sends(&first),
            vec![("a".into(), "* welcome: 1 in the room".into())]
        );
        let (_, second) = sessions.open("chat", "b".into(), now).unwrap();
        assert_eq!(
            sends(&second),
            vec![
                ("a".into(), "* someone joined the room".into()),
                ("b".into(), "* welcome: 2 in the room".into())
            ]
        );
        let message = sessions.message("chat", "b", "hello", now).unwrap();
        assert_eq!(
            sends(&message),
            vec![("a".into(), "hello".into()), ("b".into(), "hello".into())]
        );
        let closed = sessions.close("chat", "a", now).unwrap();
        assert_eq!(
            sends(&closed),
            vec![("b".into(), "* someone left the room".into())]
        );
        assert_eq!(
            sessions.message("chat", "a", "x", now),
            Err(ChannelError::NoSuchSession)
        );
    }

    #[test]
    fn the_chat_room_lists_members_adopted_from_other_nodes_and_forgets_them_quietly() {
        let now = Instant::now();
        let mut sessions = sessions();
        // "far" joined on another node: its greeting ran there, so adopting it sends nothing.
        assert!(sessions.adopt("chat", "far", now));
        let (_, joined) = sessions.open("chat", "near".into(), now).unwrap();
        assert_eq!(
            sends(&joined),
            vec![
                ("far".into(), "* someone joined the room".into()),
                ("near".into(), "* welcome: 2 in the room".into())
            ]
        );
        let who = sessions.message("chat", "near", CHAT_WHO, now).unwrap();
        assert_eq!(sends(&who), vec![("near".into(), "* 2 in the room".into())]);
        // "far" ended on its node (which announced it): here it only leaves the list.
        assert!(sessions.forget("far"));
        let who = sessions.message("chat", "near", CHAT_WHO, now).unwrap();
        assert_eq!(sends(&who), vec![("near".into(), "* 1 in the room".into())]);
        assert!(!sessions.forget("far"), "forgotten once");
    }

    #[test]
    fn refusals_carry_their_status() {
        let now = Instant::now();
        let mut sessions = sessions();
        assert_eq!(
            sessions.open("nope", "x".into(), now).unwrap_err().status(),
            404
        );
        sessions.open("echo", "e".into(), now).unwrap();
        assert_eq!(
            sessions.message("chat", "e", "x", now),
            Err(ChannelError::WrongApp)
        );
        sessions.open("echo", "f".into(), now).unwrap();
        sessions.open("echo", "g".into(), now).unwrap();
        let refused = sessions.open("echo", "h".into(), now).unwrap_err();
        assert_eq!(
            (refused.clone(), refused.status()),
            (ChannelError::TooManySessions, 503)
        );
    }

    #[test]
    fn sessions_expire_only_after_the_grace_period_without_a_connection() {
        let start = Instant::now();
        let mut sessions = sessions();
        sessions.open("chat", "gone".into(), start).unwrap();
        sessions.open("chat", "here".into(), start).unwrap();
        let later = start + Duration::from_secs(11);
        let expired = sessions.expire(later, |id| id == "here");
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0, ClientId("gone".into()));
        assert_eq!(
            sends(&expired[0].1),
            vec![("here".into(), "* someone left the room".into())]
        );
        assert_eq!(sessions.len(), 1);
        assert!(
            sessions
                .expire(later + Duration::from_secs(5), |_| false)
                .is_empty(),
            "seen connected at 11 s"
        );
        assert_eq!(
            sessions
                .expire(later + Duration::from_secs(11), |_| false)
                .len(),
            1
        );
        assert!(sessions.is_empty());
    }

    #[test]
    fn a_session_alive_on_another_node_is_not_idle_here_and_not_used_here() {
        let start = Instant::now();
        let mut sessions = sessions();
        sessions.open("echo", "s1".into(), start).unwrap();
        assert_eq!(sessions.take_used(start, |_| false), vec!["s1".to_string()]);
        let checked = start + Duration::from_secs(11);
        assert_eq!(sessions.idle(checked), vec!["s1".to_string()]);
        sessions.alive_elsewhere("s1", checked);
        assert!(sessions.idle(checked + Duration::from_secs(5)).is_empty());
        assert!(
            sessions
                .take_used(checked + Duration::from_secs(5), |_| false)
                .is_empty(),
            "only the node that used it refreshes its TTL"
        );
        assert_eq!(
            sessions.idle(checked + Duration::from_secs(11)),
            vec!["s1".to_string()]
        );
    }

    #[test]
    fn session_topics_are_recognised() {
        assert_eq!(session_of_topic("session-abc"), Some("abc"));
        assert_eq!(session_of_topic("chat"), None);
    }
}
