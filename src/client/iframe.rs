//! The iframe streaming client: find each `<script>` of the forever frame and read the object in it.
//!
//! The server writes one of two shapes (see [`crate::transport::iframe`]):
//!
//! - `?callback=F`: `<script>parent.F(<json>);</script>`, a call into a same-origin parent page;
//! - `?origin=O`: `<script>parent.postMessage(<json>, "O");</script>`, a message that the browser
//!   delivers only to a parent page on origin `O`.
//!
//! A browser would run the scripts. Here the client checks each one has exactly the shape it asked for
//! (in the postMessage mode that includes the target origin, written as a JSON string) and reads the
//! JSON. It can search for `</script>` blindly because the server's escaper writes `<` inside JSON as
//! `\u003c`: the first `</script>` after a `<script>` really is its end.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::http::{self, ResponseStream};
use super::json;
use super::{door_path, invalid_data, PushEvent};
use crate::json::json_string;

/// Most bytes buffered while waiting for a script's end.
pub const MAX_PENDING_BYTES: usize = 1024 * 1024;

const OPEN: &[u8] = b"<script>";
const CLOSE: &[u8] = b"</script>";

/// How the frame hands objects to its parent: the query parameter that asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// `?callback=F`: `parent.F(<json>);`.
    Callback(String),
    /// `?origin=O`: `parent.postMessage(<json>, "O");`.
    PostMessage(String),
}

impl Handoff {
    /// The query parameter that asks the server for this handoff.
    pub fn query_param(&self) -> (&'static str, &str) {
        match self {
            Handoff::Callback(callback) => ("callback", callback),
            Handoff::PostMessage(origin) => ("origin", origin),
        }
    }

    /// What every script must start and end with, around the JSON object.
    fn script_frame(&self) -> (String, String) {
        match self {
            Handoff::Callback(callback) => (format!("parent.{callback}("), ");".to_string()),
            Handoff::PostMessage(origin) => (
                "parent.postMessage(".to_string(),
                format!(", {});", json_string(origin)),
            ),
        }
    }
}

/// Cuts an HTML byte stream into the JSON objects its scripts hand to the parent page. Sans-IO: feed
/// it bytes.
#[derive(Debug)]
pub struct ScriptExtractor {
    call_prefix: String,
    call_suffix: String,
    pending: Vec<u8>,
    /// Bytes seen before the first script (the prelude and its padding).
    prelude_bytes: usize,
    seen_script: bool,
}

impl ScriptExtractor {
    /// Expects calls of `parent.<callback>`.
    pub fn new(callback: &str) -> ScriptExtractor {
        ScriptExtractor::expecting(&Handoff::Callback(callback.to_string()))
    }

    /// Expects scripts of the shape `handoff` asks for.
    pub fn expecting(handoff: &Handoff) -> ScriptExtractor {
        let (call_prefix, call_suffix) = handoff.script_frame();
        ScriptExtractor {
            call_prefix,
            call_suffix,
            pending: Vec::new(),
            prelude_bytes: 0,
            seen_script: false,
        }
    }

    /// Appends `bytes` and returns the JSON argument of every script they complete. A script of any
    /// other shape is an error.
    pub fn feed(&mut self, bytes: &[u8]) -> io::Result<Vec<String>> {
        self.pending.extend_from_slice(bytes);
        let mut arguments = Vec::new();
        loop {
            let Some(open) = find(&self.pending, OPEN) else {
                // Keep a tail that could be the start of a `<script>` split across reads.
                let keep = self.pending.len().min(OPEN.len() - 1);
                let drop = self.pending.len() - keep;
                self.note_skipped(drop);
                self.pending.drain(..drop);
                break;
            };
            let body_start = open + OPEN.len();
            let Some(close) = find(self.pending.get(body_start..).unwrap_or_default(), CLOSE)
            else {
                break;
            };
            let script = self
                .pending
                .get(body_start..body_start + close)
                .unwrap_or_default();
            arguments.push(self.argument(script)?);
            self.note_skipped(open);
            self.seen_script = true;
            self.pending.drain(..body_start + close + CLOSE.len());
        }
        if self.pending.len() > MAX_PENDING_BYTES {
            return Err(invalid_data("script too long"));
        }
        Ok(arguments)
    }

    /// Bytes before the first script: the prelude, padding included.
    pub fn prelude_bytes(&self) -> usize {
        self.prelude_bytes
    }

    fn note_skipped(&mut self, bytes: usize) {
        if !self.seen_script {
            self.prelude_bytes += bytes;
        }
    }

    /// The JSON inside `parent.F(` ... `);` or `parent.postMessage(` ... `, "O");`.
    fn argument(&self, script: &[u8]) -> io::Result<String> {
        let text = std::str::from_utf8(script).map_err(|_| invalid_data("script is not UTF-8"))?;
        text.strip_prefix(self.call_prefix.as_str())
            .and_then(|rest| rest.strip_suffix(self.call_suffix.as_str()))
            .map(str::to_string)
            .ok_or_else(|| invalid_data(format!("unexpected script: {text}")))
    }
}

/// The position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// A connected `GET /iframe/{topic}?callback=F` or `?origin=O`.
#[derive(Debug)]
pub struct IframeClient {
    response: ResponseStream,
    extractor: ScriptExtractor,
    queue: VecDeque<PushEvent>,
}

impl IframeClient {
    /// Opens the forever frame after `after` in the callback mode, checking the status and
    /// `Content-Type`.
    pub fn connect(
        addr: SocketAddr,
        topic: &str,
        after: Option<u64>,
        callback: &str,
        timeout: Duration,
    ) -> io::Result<IframeClient> {
        let handoff = Handoff::Callback(callback.to_string());
        IframeClient::connect_with(addr, topic, after, &handoff, timeout)
    }

    /// Opens the forever frame after `after` with either handoff. A `403` (an origin the server does
    /// not post to) is an error carrying the status, like any other non-200 answer.
    pub fn connect_with(
        addr: SocketAddr,
        topic: &str,
        after: Option<u64>,
        handoff: &Handoff,
        timeout: Duration,
    ) -> io::Result<IframeClient> {
        let path = door_path("iframe", topic, after, &[handoff.query_param()]);
        let response = http::open_stream(addr, &path, &[], timeout)?;
        if response.head.status != 200 {
            return Err(io::Error::other(format!("HTTP {}", response.head.status)));
        }
        if !response
            .head
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html"))
        {
            return Err(invalid_data("not a text/html response"));
        }
        Ok(IframeClient {
            response,
            extractor: ScriptExtractor::expecting(handoff),
            queue: VecDeque::new(),
        })
    }

    /// The response, e.g. to read its head or shut its socket.
    pub fn response(&self) -> &ResponseStream {
        &self.response
    }

    /// Bytes of the prelude seen so far.
    pub fn prelude_bytes(&self) -> usize {
        self.extractor.prelude_bytes()
    }

    /// The next event, blocking until it arrives; `None` when the server ended the response.
    pub fn next_event(&mut self) -> io::Result<Option<PushEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            let Some(bytes) = self.response.next_chunk()? else {
                return Ok(None);
            };
            for argument in self.extractor.feed(&bytes)? {
                let value = json::parse(&argument).map_err(invalid_data)?;
                self.queue.extend(PushEvent::from_json(&value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &[u8] = b"<!doctype html><html><body>\n<!--            -->\n<script>parent.app.f({\"id\":1,\"data\":\"\\u003c/script\\u003e\"});</script>\n<script>parent.app.f({\"heartbeat\":true});</script>\n";

    fn expected() -> Vec<String> {
        vec![
            r#"{"id":1,"data":"\u003c/script\u003e"}"#.to_string(),
            r#"{"heartbeat":true}"#.to_string(),
        ]
    }

    #[test]
    fn whole_byte_by_byte_and_split_everywhere() {
        let mut extractor = ScriptExtractor::new("app.f");
        assert_eq!(extractor.feed(PAGE).unwrap(), expected());
        assert_eq!(extractor.prelude_bytes(), 48);
        let mut extractor = ScriptExtractor::new("app.f");
        let mut all = Vec::new();
        for byte in PAGE {
            all.extend(extractor.feed(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(all, expected());
        assert_eq!(extractor.prelude_bytes(), 48);
        for split in 0..=PAGE.len() {
            let mut extractor = ScriptExtractor::new("app.f");
            let mut all = extractor.feed(&PAGE[..split]).unwrap();
            all.extend(extractor.feed(&PAGE[split..]).unwrap());
            assert_eq!(all, expected(), "split at {split}");
        }
    }

    #[test]
    fn post_message_scripts_with_the_expected_origin() {
        let page = b"<!-- pad -->\n<script>parent.postMessage({\"id\":1,\"data\":\"\\u003c/script\\u003e\"}, \"http://127.0.0.1:8080\");</script>\n<script>parent.postMessage({\"heartbeat\":true}, \"http://127.0.0.1:8080\");</script>\n";
        let origin = Handoff::PostMessage("http://127.0.0.1:8080".into());
        assert_eq!(origin.query_param(), ("origin", "http://127.0.0.1:8080"));
        for split in 0..=page.len() {
            let mut extractor = ScriptExtractor::expecting(&origin);
            let mut all = extractor.feed(&page[..split]).unwrap();
            all.extend(extractor.feed(&page[split..]).unwrap());
            assert_eq!(all, expected(), "split at {split}");
        }
        // Another target origin, "*", or the callback shape are not what was asked for.
        for other in [
            &b"<script>parent.postMessage({}, \"http://evil.example\");</script>"[..],
            b"<script>parent.postMessage({}, \"*\");</script>",
            b"<script>parent.postMessage({});</script>",
            b"<script>parent.f({});</script>",
        ] {
            assert!(
                ScriptExtractor::expecting(&origin).feed(other).is_err(),
                "{}",
                String::from_utf8_lossy(other)
            );
        }
    }

    #[test]
    fn foreign_scripts_are_errors() {
        assert!(ScriptExtractor::new("f")
            .feed(b"<script>alert(1)</script>")
            .is_err());
        assert!(ScriptExtractor::new("f")
            .feed(b"<script>parent.g({});</script>")
            .is_err());
    }
}
