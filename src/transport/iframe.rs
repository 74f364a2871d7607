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
//!   `\uHHHH`, so none of these can appear in a message.
//! - The callback name comes from the URL and is written into the page: it is checked with
//!   [`crate::transport::jsonp::validate_callback`] like a JSONP callback.
//! - `parent.F` works only when the frame and page share an origin. Old code set `document.domain` to
//!   let subdomains talk (now disabled by default in browsers); pushlab does not. A cross-origin frame
//!   must use `parent.postMessage(data, "https://the.page.origin")` with an explicit target origin,
//!   never `"*"`, or any page that frames the stream can read it.

use crate::http::HttpError;
use crate::hub::Message;
use crate::transport::json::reset_json;
use crate::transport::jsonp::validate_callback;
use crate::transport::StreamFormat;

/// Bytes of padding in the prelude, before the first script.
pub const PRELUDE_PADDING_BYTES: usize = 1024;

/// The framing of `GET /iframe/{topic}?callback=F`: one `<script>parent.F(...);</script>` per message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IframeStream {
    /// The parent page's function that receives each object (a validated identifier path).
    pub callback: String,
}

impl IframeStream {
    /// A stream handing objects to `parent.<callback>`, refusing an unsafe name with `400`.
    pub fn new(callback: &str) -> Result<IframeStream, HttpError> {
        validate_callback(callback)?;
        Ok(IframeStream {
            callback: callback.to_string(),
        })
    }

    /// Appends `<script>parent.F(<json>);</script>\n`. `json` is one of our own objects, already
    /// escaped for script context.
    fn script(&self, json: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"<script>parent.");
        out.extend_from_slice(self.callback.as_bytes());
        out.push(b'(');
        out.extend_from_slice(json.as_bytes());
        out.extend_from_slice(b");</script>\n");
    }
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
    /// message's script calls `parent.F` itself, and nothing sets `document.domain`.
    fn prelude(&self, out: &mut Vec<u8>) {
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
            IframeStream::new("app.onChat").unwrap().callback,
            "app.onChat"
        );
        for bad in ["alert(1)", "", "a..b", "x;y", "</script>"] {
            assert_eq!(IframeStream::new(bad).unwrap_err().status, 400, "{bad:?}");
        }
    }

    #[test]
    fn prelude_is_html_with_a_kib_of_padding_and_no_script() {
        let mut out = Vec::new();
        stream().prelude(&mut out);
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

    #[test]
    fn head_fields() {
        assert_eq!(stream().content_type(), "text/html; charset=utf-8");
        assert!(stream()
            .headers()
            .contains(&("Cache-Control", "no-store".to_string())));
    }
}
