//! The channel API over HTTP (see [`crate::channel`]): open a session, send to it, ask about it, close it.
//!
//! | request                              | answer                                                  |
//! |--------------------------------------|---------------------------------------------------------|
//! | `POST /channel/{app}`                | `{"session":"<id>","topic":"session-<id>"}`             |
//! | `POST /channel/{app}/{id}`           | `{}`: the body went to the application as one message   |
//! | `POST /channel/{app}/{id}/close`     | `{}`: the session is closed                             |
//! | `GET /channel/{app}/{id}`            | the session's JSON while it lives, 404 once it is gone  |
//!
//! The client reads its private queue (`session-<id>`) through any door; that part is an ordinary topic.

use std::time::Instant;

use crate::channel::{ChannelError, ClientId};
use crate::http::{Request, Response};
use crate::server::room::Room;
use crate::server::routes::RouteError;

/// Answers one channel request (the path after `/channel/`).
pub fn answer(
    request: &Request,
    path: &str,
    room: &mut Room,
    now: Instant,
) -> Result<Response, RouteError> {
    let mut parts = path.split('/');
    let (app, session, action) = (parts.next().unwrap_or(""), parts.next(), parts.next());
    if parts.next().is_some() || action.is_some_and(|action| action != "close") {
        return Err(RouteError::NotFound);
    }
    let body = match (request.method.as_str(), session, action) {
        // GET /channel/{app}/{session}: does the server still know this session? A client whose
        // connection failed asks this to tell "the network hiccuped" (reconnect) from "the session
        // expired or the server restarted" (open a new one).
        ("GET", Some(id), None) => {
            if room.sessions.app_of(id) != Some(app) {
                return Err(ChannelError::NoSuchSession.into());
            }
            session_json(&ClientId(id.to_string()))
        }
        ("GET", _, _) => return Err(RouteError::MethodNotAllowed { allow: "POST" }),
        (_, None, _) => {
            let id = (room.session_ids)().map_err(|_| RouteError::NoRandomSource)?;
            let (client, outbox) = room.sessions.open(app, id, now)?;
            room.session_opened(&client, app);
            room.carry_out(outbox, now);
            session_json(&client)
        }
        (_, Some(id), Some(_close)) => {
            let outbox = room.sessions.close(app, id, now)?;
            room.carry_out(outbox, now);
            let client = ClientId(id.to_string());
            room.session_closed(&client);
            room.end_session_topic(&client);
            "{}".to_string()
        }
        (_, Some(id), None) => {
            let data = std::str::from_utf8(&request.body).map_err(|_| RouteError::BodyNotUtf8)?;
            let outbox = room.sessions.message(app, id, data, now)?;
            room.carry_out(outbox, now);
            "{}".to_string()
        }
    };
    Ok(Response::new(200)
        .header("Cache-Control", "no-store")
        .body("application/json", body))
}

/// The JSON that names a session and its private topic: `{"session":"<id>","topic":"session-<id>"}`.
fn session_json(client: &ClientId) -> String {
    format!(
        "{{\"session\":\"{}\",\"topic\":\"{}\"}}",
        client,
        client.topic()
    )
}
