//! iframe streaming (the "forever frame"): a hidden HTML page that never finishes loading.
//!
//! # How it works
//!
//! The page adds a hidden `<iframe src="/iframe/chat?after=1043&callback=onChat">`. The server answers
//! with an HTML document sent as a chunked response that never ends. Browsers run each `<script>`
//! element as soon as it has arrived, even while the document is still loading, so every message is
//! sent as one small script that hands it to a function of the parent page:
//! `<script>parent.onChat({"id":1044,"data":"news"});</script>`. This is how Comet worked in browsers
//! that could not read a response while it was loading (it was called "htmlfile" in old Internet
//! Explorer).
//!
//! ```text
//! GET /iframe/chat?after=1043&callback=onChat HTTP/1.1
//! Host: 127.0.0.1:8080
//!
//! HTTP/1.1 200 OK
//! Content-Type: text/html; charset=utf-8
//! Cache-Control: no-store
//! X-Accel-Buffering: no
//! Transfer-Encoding: chunked
//!
//! 495\r\n<!doctype html><html><head><meta charset="utf-8">...</head><body>
//! <!-- ... 1 KiB of padding ... -->\r\n
//! 3B\r\n<script>parent.onChat({"id":1044,"data":"news"});</script>\n\r\n
//! 34\r\n<script>parent.onChat({"heartbeat":true});</script>\n\r\n
//! ```
//!
//! # Framing and end of response
//!
//! A prelude (the document's start and padding) and then one `<script>` per message. Each script hands
//! over one JSON object: with an `id` it is a message, `{"reset":true,"last":N}` says messages were
//! missed, and objects without an `id` (heartbeats) carry none. Like the XHR stream, the response ends
//! after `max_stream_bytes`, because the document and all its script elements stay in memory; the
//! page then reloads the frame with `after` = the last id it saw.
//!
//! # Two ways to hand a message to the parent page
//!
//! - **`?callback=F`**: each script is `<script>parent.F(OBJ);</script>`. It works only when the frame
//!   and the page share an origin: the browser's same-origin policy forbids a script in the frame to
//!   reach into a parent page of another origin, so this mode is already confined to the server's own
//!   pages. Old code set `document.domain` to let subdomains talk (now disabled by default in
//!   browsers); pushlab does not.
//! - **`?origin=O`**: each script is `<script>parent.postMessage(OBJ, "O");</script>` (HTML Living
//!   Standard, "Cross-document messaging"). `postMessage` crosses origins, so it is the mode a page on
//!   another origin must use, and the one `pushlab.js` uses everywhere. The second argument is the
//!   *target origin*: the browser delivers the message only if the parent page really is on `O`. So if
//!   an attacker's page frames the stream, the browser drops every message instead of handing the
//!   topic to the attacker. `"*"` ("any origin") would hand it to whoever frames the stream, and is
//!   never written. The server writes `O` only when it is allowed to read the stream: the server's own
//!   origin (`http://` or `https://` + the request's `Host`) or one of the configured allowed origins
//!   (`--allow-origin`, the same list and the same check as the WebSocket handshake,
//!   [`crate::http::site::origin_allowed`]); any other `O` is refused with `403`. The receiving page
//!   must check its side too: accept a `message` event only if `event.source` is its own frame's window
//!   and `event.origin` is the server's origin, because any window can post a message to any other.
//!
//! ```text
//! GET /iframe/chat?after=1043&origin=http%3A%2F%2F127.0.0.1%3A8080 HTTP/1.1
//! Host: 127.0.0.1:8080
//!
//! ... the same head and prelude ...
//! <script>parent.postMessage({"id":1044,"data":"news"}, "http://127.0.0.1:8080");</script>
//! ```
//!
//! A request gives exactly one of the two parameters; both or neither is a `400`.
//!
//! # Strengths and weaknesses
//!
//! Works in browsers with neither XHR streaming nor `EventSource`, with one connection for many
//! messages. But it is HTML in a script context, the hardest place to put data safely; errors are
//! invisible to the page, the browser may show a "loading" indicator the whole time, and the DOM grows
//! with every message.
//!
//! # Pitfalls
//!
//! - Browsers wait for a first block (about 1 KiB) before rendering: the prelude carries 1 KiB of
//!   padding in a comment.
//! - Script context: data must not end the script (`</script>`), open an HTML comment (`<!--`, which
//!   changes how the HTML parser looks for `</script>`), or break a string literal (U+2028/U+2029 in old
//!   engines). The escaper in [`crate::json`] writes `<`, `>`, `&`, U+2028 and U+2029 as
//!   `\uHHHH`, so none of these can appear in a message, nor in the target origin, which is written
//!   with the same escaper as a JSON string literal (a `Host` header is whatever the client sent).
//! - The callback name comes from the URL and is written into the page: it is checked with
//!   [`crate::transport::jsonp::validate_callback`] like a JSONP callback.

use crate::http::site::origin_allowed;
use crate::http::HttpError;
use crate::hub::Message;
use crate::json::json_string;
use crate::transport::json::reset_json;
use crate::transport::jsonp::validate_callback;
use crate::transport::StreamFormat;

/// Bytes of padding in the prelude, before the first script.
pub const PRELUDE_PADDING_BYTES: usize = 1024;

/// How each script hands its object to the parent page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// `parent.F(OBJ)`: a function of a same-origin parent page (a validated identifier path).
    Callback(String),
    /// `parent.postMessage(OBJ, "O")`: the target origin `O`, already written as a JSON string
    /// literal escaped for script context.
    PostMessage {
        /// `O` with its quotes, e.g. `"http://127.0.0.1:8080"`.
        target_origin_literal: String,
    },
}

/// The framing of `GET /iframe/{topic}`: one `<script>` per message, handing it to the parent page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IframeStream {
    /// How each script reaches the parent page.
    pub handoff: Handoff,
}

impl IframeStream {
    /// A stream handing objects to `parent.<callback>`, refusing an unsafe name with `400`.
    pub fn new(callback: &str) -> Result<IframeStream, HttpError> {
        validate_callback(callback)?;
        Ok(IframeStream {
            handoff: Handoff::Callback(callback.to_string()),
        })
    }

    /// A stream posting objects to a parent page on `origin`, refused with `403` unless `origin` is the
    /// server's own (`http(s)://` + `host`) or one of `allowed_origins`, and always for `"*"`.
    pub fn posting_to(
        origin: &str,
        host: Option<&str>,
        allowed_origins: &[String],
    ) -> Result<IframeStream, HttpError> {
        // "*" would let any page that frames the stream read it, whatever the configuration says. A
        // request without a `Host` (HTTP/1.0, which a stream refuses anyway) is refused here too.
        let allowed = origin != "*"
            && host
                .filter(|host| !host.is_empty())
                .is_some_and(|host| origin_allowed(origin, host, allowed_origins));
        if !allowed {
            return Err(HttpError::new(
                403,
                "origin is neither this server's nor an allowed origin",
            ));
        }
        Ok(IframeStream {
            handoff: Handoff::PostMessage {
                target_origin_literal: json_string(origin),
            },
        })
    }

    /// The stream a request's query asks for: `?callback=F` or `?origin=O`, exactly one of them (else
    /// `400`). `host` is the request's `Host`; `allowed_origins` the configured list.
    pub fn from_query(
        callback: Option<&str>,
        origin: Option<&str>,
        host: Option<&str>,
        allowed_origins: &[String],
    ) -> Result<IframeStream, HttpError> {
        match (callback, origin) {
            (Some(callback), None) => IframeStream::new(callback),
            (None, Some(origin)) => IframeStream::posting_to(origin, host, allowed_origins),
            (Some(_), Some(_)) => Err(HttpError::new(400, "give callback or origin, not both")),
            (None, None) => Err(HttpError::new(400, "callback or origin is required")),
        }
    }

    /// Appends `<script>parent.F(<json>);</script>\n` or
    /// `<script>parent.postMessage(<json>, "O");</script>\n`. `json` is one of our own objects, already
    /// escaped for script context.
    // ANCHOR: script
    fn script(&self, json: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"<script>parent.");
        match &self.handoff {
            Handoff::Callback(callback) => {
                out.extend_from_slice(callback.as_bytes());
                out.push(b'(');
                out.extend_from_slice(json.as_bytes());
            }
            Handoff::PostMessage {
                target_origin_literal,
            } => {
                out.extend_from_slice(b"postMessage(");
                out.extend_from_slice(json.as_bytes());
                out.extend_from_slice(b", ");
                out.extend_from_slice(target_origin_literal.as_bytes());
            }
        }
        out.extend_from_slice(b");</script>\n");
    }
    // ANCHOR_END: script
}

impl StreamFormat for IframeStream {
    fn content_type(&self) -> &'static str {
        "text/html; charset=utf-8"
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Cache-Control", "no-store".to_string()),
            ("X-Accel-Buffering", "no".to_string()),
            ("X-Content-Type-Options", "nosniff".to_string()),
        ]
    }

    /// The document's start and 1 KiB of padding in an HTML comment. There is no script in it: each
    /// message's script reaches the parent itself, and nothing sets `document.domain`.
    fn prelude(&self, _resume_after: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"<!doctype html><html><head><meta charset=\"utf-8\"><title>pushlab stream</title></head><body>\n",
        );
        out.extend_from_slice(b"<!-- padding so the browser starts rendering at once:");
        out.resize(out.len() + PRELUDE_PADDING_BYTES, b' ');
        out.extend_from_slice(b"-->\n");
    }

    fn message(&self, message: &Message, out: &mut Vec<u8>) {
        self.script(&message.json, out);
    }

    fn reset(&self, last: u64, out: &mut Vec<u8>) {
        self.script(&reset_json(last), out);
    }

    /// A script, not a comment, so the parent page sees the stream is alive and can detect a dead one.
    fn heartbeat(&self, out: &mut Vec<u8>) {
        self.script("{\"heartbeat\":true}", out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::message_json;

    fn stream() -> IframeStream {
        IframeStream::new("onChat").unwrap()
    }

    #[test]
    fn callback_is_validated() {
        assert_eq!(
            IframeStream::new("app.onChat").unwrap().handoff,
            Handoff::Callback("app.onChat".into())
        );
        for bad in ["alert(1)", "", "a..b", "x;y", "</script>"] {
            assert_eq!(IframeStream::new(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn prelude_is_html_with_a_kib_of_padding_and_no_script() {
        let mut out = Vec::new();
        stream().prelude(0, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("<!doctype html><html>"));
        assert!(text.contains("<body>"));
        assert!(text.len() >= 1024 + 64, "{}", text.len());
        assert!(!text.contains("<script"));
        assert!(!text.contains("document.domain"));
        // The comment is closed, so the scripts after it run.
        assert!(text.trim_end().ends_with("-->"));
    }

    #[test]
    fn one_script_per_message() {
        let mut out = Vec::new();
        let data = "</script><!--\u{2028}\"\\";
        stream().message(
            &Message {
                id: 5,
                data: data.into(),
                json: message_json(5, data),
            },
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "<script>parent.onChat({\"id\":5,\"data\":\"\\u003c/script\\u003e\\u003c!--\\u2028\\\"\\\\\"});</script>\n"
        );
        // Hostile data can neither close the script early nor open a comment.
        assert_eq!(text.matches("</script>").count(), 1);
        assert!(!text.contains("<!--"));
        assert!(!text.contains('\u{2028}'));
    }

    #[test]
    fn reset_and_heartbeat_are_scripts_without_id() {
        let mut out = Vec::new();
        stream().reset(9, &mut out);
        stream().heartbeat(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<script>parent.onChat({\"reset\":true,\"last\":9});</script>\n\
             <script>parent.onChat({\"heartbeat\":true});</script>\n"
        );
    }

    const HOST: &str = "127.0.0.1:8080";

    fn allowed() -> Vec<String> {
        vec!["https://app.example".to_string()]
    }

    #[test]
    fn post_message_goes_only_to_our_own_or_an_allowed_origin() {
        for ok in [
            "http://127.0.0.1:8080",
            "https://127.0.0.1:8080",
            "https://app.example",
        ] {
            let posting = IframeStream::posting_to(ok, Some(HOST), &allowed()).unwrap();
            assert_eq!(
                posting.handoff,
                Handoff::PostMessage {
                    target_origin_literal: format!("\"{ok}\"")
                }
            );
        }
        for foreign in [
            "*",
            "/",
            "",
            "null",
            "http://127.0.0.1:9999",
            "http://evil.example",
            "https://app.example.evil",
            "http://127.0.0.1:8080/",
        ] {
            let refused = IframeStream::posting_to(foreign, Some(HOST), &allowed()).unwrap_err();
            assert_eq!(refused.status, 403, "{foreign:?}");
        }
        // "*" stays refused even when someone configured it as an allowed origin.
        let star = vec!["*".to_string()];
        assert_eq!(
            IframeStream::posting_to("*", Some(HOST), &star)
                .unwrap_err()
                .status,
            403
        );
        // No Host, no origin of ours.
        assert_eq!(
            IframeStream::posting_to("http://", None, &[])
                .unwrap_err()
                .status,
            403
        );
    }

    #[test]
    fn a_request_names_exactly_one_handoff() {
        let from = |callback, origin| IframeStream::from_query(callback, origin, Some(HOST), &[]);
        assert_eq!(
            from(Some("f"), None).unwrap().handoff,
            Handoff::Callback("f".into())
        );
        assert!(matches!(
            from(None, Some("http://127.0.0.1:8080")).unwrap().handoff,
            Handoff::PostMessage { .. }
        ));
        assert_eq!(
            from(Some("f"), Some("http://127.0.0.1:8080"))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(from(None, None).unwrap_err().status, 400);
        assert_eq!(from(None, Some("http://x")).unwrap_err().status, 403);
        assert_eq!(from(Some("alert(1)"), None).unwrap_err().status, 400);
    }

    #[test]
    fn post_message_scripts_name_their_target_origin_and_keep_hostile_data_inside() {
        let posting = IframeStream::posting_to("http://127.0.0.1:8080", Some(HOST), &[]).unwrap();
        let mut out = Vec::new();
        let data = "</script><!--\u{2028}\"\\";
        posting.message(
            &Message {
                id: 5,
                data: data.into(),
                json: message_json(5, data),
            },
            &mut out,
        );
        posting.reset(9, &mut out);
        posting.heartbeat(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "<script>parent.postMessage({\"id\":5,\"data\":\"\\u003c/script\\u003e\\u003c!--\\u2028\\\"\\\\\"}, \"http://127.0.0.1:8080\");</script>\n\
             <script>parent.postMessage({\"reset\":true,\"last\":9}, \"http://127.0.0.1:8080\");</script>\n\
             <script>parent.postMessage({\"heartbeat\":true}, \"http://127.0.0.1:8080\");</script>\n"
        );
        assert_eq!(text.matches("</script>").count(), 3);
        assert!(!text.contains("<!--"));
        assert!(!text.contains('\u{2028}'));
        assert!(!text.contains("\"*\""));
    }

    #[test]
    fn an_allowed_origin_is_escaped_like_data() {
        // An operator's allowed origin is written as a JSON string escaped for script context too.
        let odd = vec!["https://a</script><!--.example".to_string()];
        let posting = IframeStream::posting_to(&odd[0], Some(HOST), &odd).unwrap();
        let mut out = Vec::new();
        posting.heartbeat(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<script>parent.postMessage({\"heartbeat\":true}, \"https://a\\u003c/script\\u003e\\u003c!--.example\");</script>\n"
        );
    }

    #[test]
    fn head_fields() {
        assert_eq!(stream().content_type(), "text/html; charset=utf-8");
        assert!(stream()
            .headers()
            .contains(&("Cache-Control", "no-store".to_string())));
    }
}
