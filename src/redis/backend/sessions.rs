//! Channel sessions shared between nodes: the session commands, their keys and scripts, and the scan
//! that tells a starting node which sessions exist (see "Channel sessions" in the parent module).

use mio::Registry;
use std::time::Instant;

use super::{Backend, CommandTag, Outcome, FEED_KEY};
use crate::hub::Hub;
use crate::redis::resp::Reply;

/// What the server asks of Redis about channel sessions (see `Sessions::adopt` in `crate::channel`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// A session was opened here: record it with a TTL of the grace period, and tell the other nodes.
    Open {
        /// The session id.
        id: String,
        /// Its application.
        app: String,
    },
    /// The session was used here: its TTL starts again.
    Refresh {
        /// The session id.
        id: String,
    },
    /// Nobody used the session here for the grace period: does Redis still have it?
    Check {
        /// The session id.
        id: String,
    },
    /// The client closed the session here (its `on_close` ran here): delete it and tell the others.
    Close {
        /// The session id.
        id: String,
    },
}

/// The key of a session's record, which expires after the grace period unless refreshed.
pub fn session_key(id: &str) -> String {
    format!("pushlab:session:{id}")
}

/// The key that says a session has ended, so that its `on_close` runs on one node only.
fn session_end_key(id: &str) -> String {
    format!("pushlab:session-end:{id}")
}

/// Opens a session. KEYS: its record, the feed. ARGV: id, application, grace (ms), feed retention.
const SESSION_OPEN_SCRIPT: &str = r#"
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'k', 'open', 's', ARGV[1], 'a', ARGV[2])
return 1
"#;

/// Checks an idle session. KEYS: its record, its end marker. ARGV: grace (ms). Returns 1 while the
/// record lives; 0 to the one node that claims its end (and runs `on_close`); -1 to the others.
const SESSION_CHECK_SCRIPT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 0 end
return -1
"#;

/// Closes a session. KEYS: its record, its end marker, the feed. ARGV: id, grace (ms), feed retention.
const SESSION_CLOSE_SCRIPT: &str = r#"
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'k', 'close', 's', ARGV[1])
return 1
"#;

impl Backend {
    /// Carries out a session command (nothing while Redis is unreachable: a session's requests are
    /// then served from this node's copy, and it is checked again later).
    pub fn session(
        &mut self,
        command: SessionCommand,
        grace_ms: u64,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if !self.can_store() {
            return;
        }
        let (grace, feed_retention) =
            (grace_ms.to_string(), self.limits.feed_retention.to_string());
        match command {
            SessionCommand::Open { id, app } => {
                let args = [
                    "EVAL",
                    SESSION_OPEN_SCRIPT,
                    "2",
                    &session_key(&id),
                    FEED_KEY,
                    &id,
                    &app,
                    &grace,
                    &feed_retention,
                ];
                self.send_command(CommandTag::SessionWrite, &args, hub, registry, now, out);
            }
            SessionCommand::Refresh { id } => {
                let args = ["PEXPIRE", &session_key(&id), &grace];
                self.send_command(CommandTag::SessionWrite, &args, hub, registry, now, out);
            }
            SessionCommand::Check { id } => {
                let args = [
                    "EVAL",
                    SESSION_CHECK_SCRIPT,
                    "2",
                    &session_key(&id),
                    &session_end_key(&id),
                    &grace,
                ];
                let tag = CommandTag::SessionCheck { id: id.clone() };
                self.send_command(tag, &args, hub, registry, now, out);
            }
            SessionCommand::Close { id } => {
                let args = [
                    "EVAL",
                    SESSION_CLOSE_SCRIPT,
                    "3",
                    &session_key(&id),
                    &session_end_key(&id),
                    FEED_KEY,
                    &id,
                    &grace,
                    &feed_retention,
                ];
                self.send_command(CommandTag::SessionWrite, &args, hub, registry, now, out);
            }
        }
    }

    /// Asks for a page of session records (so a node that starts, or comes back, knows the sessions
    /// opened elsewhere meanwhile).
    pub(super) fn scan_sessions(
        &mut self,
        cursor: &str,
        seen: usize,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let pattern = session_key("*");
        let args = ["SCAN", cursor, "MATCH", pattern.as_str(), "COUNT", "1000"];
        self.send_command(
            CommandTag::SessionScan { seen },
            &args,
            hub,
            registry,
            now,
            out,
        );
    }

    /// A page of `SCAN`: fetch the records' applications, and the next page while there is one and
    /// the sessions seen stay within `max_sessions`.
    pub(super) fn on_session_scan(
        &mut self,
        reply: &Reply,
        seen: usize,
        hub: &mut Hub,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        let Some([cursor, keys]) = reply.as_array() else {
            return;
        };
        let prefix = session_key("");
        let ids: Vec<String> = keys
            .as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(|key| {
                key.as_str()?
                    .strip_prefix(prefix.as_str())
                    .map(str::to_string)
            })
            .take(self.max_sessions.saturating_sub(seen))
            .collect();
        let seen = seen.saturating_add(ids.len());
        if !ids.is_empty() {
            let keys: Vec<String> = ids.iter().map(|id| session_key(id)).collect();
            let mut args = vec!["MGET"];
            args.extend(keys.iter().map(String::as_str));
            self.send_command(
                CommandTag::SessionApps { ids },
                &args,
                hub,
                registry,
                now,
                out,
            );
        }
        match cursor.as_str() {
            Some("0") | None => {}
            Some(_) if seen >= self.max_sessions => {}
            Some(next) => {
                let next = next.to_string();
                self.scan_sessions(&next, seen, hub, registry, now, out);
            }
        }
    }
}
