//! JSON as the HTTP doors write it: the batch body of the polls and JSONP, and the reset object of the
//! streams.
//!
//! The string escaper and the message object `{"id":N,"data":"..."}` are not door-specific: they live in
//! [`crate::json`], the shared JSON text writer (with the table of what is escaped and why). A message's
//! JSON is built once, when it is published ([`crate::hub::Message::json`]); a door only copies it into
//! its own framing.

use crate::hub::Replay;

/// The object that tells a streaming client it missed messages: `{"reset":true,"last":N}`.
/// It has no `id`, so a client never mistakes it for a message.
pub fn reset_json(last: u64) -> String {
    format!("{{\"reset\":true,\"last\":{last}}}")
}

/// The body of a poll, long-poll or JSONP answer:
/// `{"messages":[{"id":..,"data":..},...],"last":N}`, with `"reset":true` added when the reader missed
/// messages. `last` is what the client passes as `after` next time.
pub fn batch_body(replay: &Replay) -> String {
    let messages_bytes: usize = replay.messages.iter().map(|m| m.json.len() + 1).sum();
    let mut out = String::with_capacity(messages_bytes + 48);
    out.push_str("{\"messages\":[");
    for (index, message) in replay.messages.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&message.json);
    }
    out.push_str("],\"last\":");
    out.push_str(&replay.last.to_string());
    if replay.reset {
        out.push_str(",\"reset\":true");
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Message;
    use crate::json::message_json;
    use std::rc::Rc;

    #[test]
    fn reset_objects() {
        assert_eq!(reset_json(42), r#"{"reset":true,"last":42}"#);
        assert_eq!(reset_json(0), r#"{"reset":true,"last":0}"#);
    }

    fn message(id: u64, data: &str) -> Rc<Message> {
        Rc::new(Message {
            id,
            data: data.to_string(),
            json: message_json(id, data),
        })
    }

    #[test]
    fn batch_bodies() {
        let empty = Replay {
            reset: false,
            messages: vec![],
            last: 9,
        };
        assert_eq!(batch_body(&empty), r#"{"messages":[],"last":9}"#);
        let two = Replay {
            reset: false,
            messages: vec![message(1, "a"), message(2, "<b>")],
            last: 2,
        };
        assert_eq!(
            batch_body(&two),
            r#"{"messages":[{"id":1,"data":"a"},{"id":2,"data":"\u003cb\u003e"}],"last":2}"#
        );
        let reset = Replay {
            reset: true,
            messages: vec![message(5, "x")],
            last: 5,
        };
        assert_eq!(
            batch_body(&reset),
            r#"{"messages":[{"id":5,"data":"x"}],"last":5,"reset":true}"#
        );
    }
}
