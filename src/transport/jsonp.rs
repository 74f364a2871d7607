//! JSONP polling: the answer is a script that calls a function the page named.
//!
//! # How it works
//!
//! Before CORS, a page could not read a response from another origin, but it could always *run* one:
//! `<script src="...">` loads JavaScript from anywhere. So the page defines a function, inserts
//! `<script src="/jsonp/chat?after=1043&callback=onChat">`, and the server answers with a script that
//! calls it with the data: `onChat({...})`. When the script has run, the page removes the element and
//! inserts the next one: a poll loop made of script tags. pushlab holds a JSONP poll like a long poll
//! (up to `hold_timeout`), so it is JSONP *long* polling.
//!
//! ```text
//! GET /jsonp/chat?after=1043&callback=onChat HTTP/1.1
//! Host: 127.0.0.1:8080
//!
//! HTTP/1.1 200 OK
//! Content-Type: text/javascript; charset=utf-8
//! X-Content-Type-Options: nosniff
//! Cache-Control: no-store
//! Content-Length: 65
//!
//! /**/onChat({"messages":[{"id":1044,"data":"news"}],"last":1044});
//! ```
//!
//! # Framing and end of response
//!
//! One script per response with a `Content-Length`; the body is the batch of
//! [`crate::transport::json::batch_body`], whose strings escape `<`, `>`, `&`, U+2028 and U+2029, wrapped
//! in a call. The response ends when the body is sent.
//!
//! # Strengths and weaknesses
//!
//! It works cross-origin in every browser, with no CORS. But it is **the least safe door**: the page runs
//! whatever the server sends, with the page's full authority. A compromised or impersonated server owns
//! the page. Errors are invisible too: a 404 or a timeout gives the page nothing but a missing callback
//! (`onerror` on the script element at best). Only `GET` is possible.
//!
//! # Pitfalls
//!
//! - The callback name comes from the URL. Echoed unchecked it is an XSS hole
//!   (`callback=alert(document.cookie)//`). [`validate_callback`] accepts only a dotted path of
//!   JavaScript identifiers.
//! - Rosetta Flash (CVE-2014-4671): a callback made of bytes that form a valid Flash file made the
//!   response run as a plugin in the server's origin. Two defences, both applied here: the body starts
//!   with `/**/`, so the response never starts with attacker-chosen bytes, and
//!   `X-Content-Type-Options: nosniff` forbids the browser to treat it as anything but JavaScript.
//! - Caching: a cached script replays old data; `Cache-Control: no-store`.
//! - **Any site can read a topic.** A `<script src>` is not subject to the same-origin policy, so a page
//!   on any site can include `/jsonp/{topic}?callback=steal` and receive every message, with the
//!   visitor's cookies attached (cross-site script inclusion, XSSI). That is JSONP's purpose, and why
//!   it must carry only what is public anyway: never a session's private queue unless its unguessable
//!   128-bit id is the only key, and never anything whose access depends on cookies. A deployment that
//!   has no need for it turns it off: `pushlab --no-jsonp` answers `/jsonp/...` with 404
//!   (`tests/security.rs`).

use crate::http::{HttpError, Response};
use crate::hub::Replay;
use crate::transport::json::batch_body;

/// The longest callback name accepted, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// The `Content-Type` of a JSONP answer.
///
/// RFC 9239 §6 makes `text/javascript` the one media type for JavaScript and marks
/// `application/javascript` obsolete. Browsers run both, and with `X-Content-Type-Options: nosniff`
/// they run a script only under a JavaScript type; pushlab sends the current one, as it does for
/// `/pushlab.js`.
pub const JAVASCRIPT_CONTENT_TYPE: &str = "text/javascript; charset=utf-8";

/// Checks that `callback` is a safe JavaScript identifier path: identifiers `[A-Za-z_$][A-Za-z0-9_$]*`
/// joined by single dots (`onChat`, `app.push.receive`), 1 to 64 bytes. Anything else is a `400`.
///
/// Only ASCII identifiers are allowed; that is narrower than JavaScript allows and wide enough for any
/// real callback. Parentheses, quotes, semicolons, spaces and `/` can never get in.
pub fn validate_callback(callback: &str) -> Result<(), HttpError> {
    if callback.is_empty() || callback.len() > MAX_CALLBACK_BYTES {
        return Err(HttpError::new(400, "callback must be 1 to 64 characters"));
    }
    if callback.split('.').all(is_identifier) {
        Ok(())
    } else {
        Err(HttpError::new(
            400,
            "callback must be a dotted path of JavaScript identifiers",
        ))
    }
}

/// Whether `segment` is one identifier `[A-Za-z_$][A-Za-z0-9_$]*` (an empty segment, from `a..b` or a
/// leading or trailing dot, is not).
fn is_identifier(segment: &str) -> bool {
    let mut bytes = segment.bytes();
    let starts_well =
        matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'$');
    starts_well && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
}

/// The answer when the hold ends with nothing new: `F({"messages":[],"last":head})`.
pub fn timeout_response(callback: &str, head: u64) -> Response {
    response(
        callback,
        &Replay {
            reset: false,
            messages: Vec::new(),
            last: head,
        },
    )
}

/// The answer to `GET /jsonp/{topic}?after=N&callback=F`: `/**/F({...});`. The caller validates
/// `callback` first with [`validate_callback`].
pub fn response(callback: &str, replay: &Replay) -> Response {
    let batch = batch_body(replay);
    let mut body = String::with_capacity(batch.len() + callback.len() + 8);
    // ANCHOR: wrap
    // The comment keeps the response from starting with bytes chosen by the requester (Rosetta Flash).
    body.push_str("/**/");
    body.push_str(callback);
    body.push('(');
    body.push_str(&batch);
    body.push_str(");");
    // ANCHOR_END: wrap
    Response {
        status: 200,
        headers: vec![
            ("Content-Type".into(), JAVASCRIPT_CONTENT_TYPE.into()),
            // The browser must run this as JavaScript or not at all, never sniff it as something else.
            ("X-Content-Type-Options".into(), "nosniff".into()),
            ("Cache-Control".into(), "no-store".into()),
        ],
        body: body.into_bytes(),
        chunked: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Message;
    use crate::json::message_json;
    use std::rc::Rc;

    #[test]
    fn safe_callbacks_pass() {
        for good in [
            "f",
            "onChat",
            "a.b",
            "$x.y_z",
            "_",
            "$",
            "jQuery123_456",
            "a.b.c.d",
            &"x".repeat(64),
        ] {
            assert_eq!(validate_callback(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn unsafe_callbacks_are_400() {
        let too_long = "x".repeat(65);
        for bad in [
            "",
            "alert(1)",
            "a..b",
            ".a",
            "a.",
            "x;y",
            "1abc",
            "a.1b",
            "a b",
            "a-b",
            "a/b",
            "a[0]",
            "a'b",
            "f//",
            "é",
            "a\u{2028}",
            "<script>",
            too_long.as_str(),
        ] {
            let error = validate_callback(bad).unwrap_err();
            assert_eq!(error.status, 400, "{bad:?}");
        }
    }

    #[test]
    fn body_is_a_call_behind_a_comment() {
        let message = Rc::new(Message {
            id: 2,
            data: "</script>".into(),
            json: message_json(2, "</script>"),
        });
        let response = response(
            "cb.run",
            &Replay {
                reset: false,
                messages: vec![message],
                last: 2,
            },
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            String::from_utf8(response.body.clone()).unwrap(),
            r#"/**/cb.run({"messages":[{"id":2,"data":"\u003c/script\u003e"}],"last":2});"#
        );
        let has = |name: &str, value: &str| {
            response
                .headers
                .iter()
                .any(|(n, v)| n == name && v == value)
        };
        assert!(has("Content-Type", "text/javascript; charset=utf-8"));
        assert!(has("X-Content-Type-Options", "nosniff"));
        assert!(has("Cache-Control", "no-store"));
    }

    #[test]
    fn reset_is_passed_to_the_callback() {
        let response = response(
            "f",
            &Replay {
                reset: true,
                messages: vec![],
                last: 4,
            },
        );
        assert_eq!(
            response.body,
            br#"/**/f({"messages":[],"last":4,"reset":true});"#
        );
    }
}
