//! Just enough of the Chrome DevTools Protocol to look into a page: Chromium is started with remote
//! debugging on a port it picks, and the test evaluates JavaScript in the page over a WebSocket, using
//! pushlab's own WebSocket client (`pushlab::client::ws`), so the pages are tested exactly as served,
//! without any hook for the tests in them.
//!
//! The protocol is JSON over WebSocket text frames: `{"id":1,"method":"Runtime.evaluate","params":{...}}`
//! out, `{"id":1,"result":{...}}` back. With remote debugging on port 0, Chromium writes the port it got
//! into `DevToolsActivePort` in its profile; `GET /json/list` there lists the pages and their sockets.

use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use pushlab::client::ws::Client;
use pushlab::ws::Event;

use crate::support::{parse_json, Browser, Fields, Json};

/// How long Chromium may take to start and show its page to the debugger.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(15);

/// A page in a headless Chromium, and a debugger connection to it.
pub struct Page {
    debugger: Client,
    next_id: u64,
    // Declared last: the browser is killed after the debugger's socket is dropped.
    _browser: Browser,
}

impl Page {
    /// Starts Chromium on `url` and attaches to its page.
    pub fn open(chromium: &Path, url: &str) -> Page {
        let browser = Browser::start_with(chromium, url, &["--remote-debugging-port=0"]);
        let port = wait_for_port(browser.profile());
        let debugger_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let socket_path = wait_for_page_socket(debugger_addr, url);
        let mut debugger = Client::connect(debugger_addr, &socket_path)
            .unwrap_or_else(|e| panic!("could not attach to the page: {e}"));
        debugger
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut page = Page {
            debugger,
            next_id: 1,
            _browser: browser,
        };
        // The page can be listed before its document is ours: until the navigation commits, the
        // debugger talks to the initial about:blank (where a relative import would fail, say).
        page.wait_until(
            &format!("location.href.startsWith({})", json_string(url)),
            "location.href",
            ATTACH_TIMEOUT,
        );
        page
    }

    /// Evaluates `expression` in the page and returns its value (`returnByValue`: JSON-like values).
    pub fn evaluate(&mut self, expression: &str) -> Json {
        self.try_evaluate(expression)
            .unwrap_or_else(|exception| panic!("{expression} threw: {exception}"))
    }

    /// Evaluates `expression`, waits for the promise it gives, and returns what the promise resolves to.
    pub fn evaluate_promise(&mut self, expression: &str) -> Result<Json, String> {
        self.run(expression, true)
    }

    /// Like [`Page::evaluate`], with an exception thrown in the page as an error.
    pub fn try_evaluate(&mut self, expression: &str) -> Result<Json, String> {
        self.run(expression, false)
    }

    fn run(&mut self, expression: &str, await_promise: bool) -> Result<Json, String> {
        let id = self.next_id;
        self.next_id += 1;
        let command = format!(
            "{{\"id\":{id},\"method\":\"Runtime.evaluate\",\"params\":{{\"expression\":{},\
             \"returnByValue\":true,\"awaitPromise\":{await_promise}}}}}",
            json_string(expression)
        );
        self.debugger
            .send_text(&command)
            .unwrap_or_else(|e| panic!("debugger: {e}"));
        loop {
            let frame = match self.debugger.recv() {
                Ok(Event::Text(text)) => text,
                Ok(_) => continue,
                Err(e) => panic!("debugger: {e}"),
            };
            let Some(answer) = parse_json(&frame) else {
                panic!("debugger sent something that is not JSON: {frame}")
            };
            if answer.get("id") != Some(&Json::Number(id.to_string())) {
                continue; // an event, or the answer to an earlier command
            }
            let result = answer.get("result").and_then(|r| r.get("result"));
            if let Some(exception) = answer.get("result").and_then(|r| r.get("exceptionDetails")) {
                return Err(format!("{exception:?}"));
            }
            return Ok(match result.and_then(|r| r.get("value")) {
                Some(value) => value.clone(),
                None => Json::Null, // undefined
            });
        }
    }

    /// Evaluates `expression` every 200 ms until it is `true`; panics with `explain`'s value if it
    /// never is within `limit`. An exception counts as "not yet": the page may still be loading.
    pub fn wait_until(&mut self, expression: &str, explain: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.try_evaluate(expression) == Ok(Json::Bool(true)) {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
        let state = self.try_evaluate(explain);
        panic!("not true within {limit:?}: {expression}\nthe page: {state:?}");
    }
}

/// The port Chromium chose for remote debugging: the first line of `DevToolsActivePort`.
fn wait_for_port(profile: &Path) -> u16 {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + ATTACH_TIMEOUT;
    while Instant::now() < deadline {
        // Two lines, the port and the browser's socket path; trust the file only once both are
        // there, so that a port number still being written is not read.
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(_path)) = (lines.next(), lines.next()) {
                if let Ok(port) = port.trim().parse() {
                    return port;
                }
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("Chromium wrote no {} in time", file.display());
}

/// The path of the debugger socket of the page showing `url` (`GET /json/list`).
fn wait_for_page_socket(debugger: SocketAddr, url: &str) -> String {
    let deadline = Instant::now() + ATTACH_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        // The debugger's HTTP server keeps connections open whatever the request says, so read the
        // answer by its Content-Length (the crate's client does), not to the end of the stream.
        let answer = pushlab::client::http::get(debugger, "/json/list");
        if let Some(body) = answer.ok().and_then(|a| a.text().ok().map(str::to_string)) {
            if let Some(Json::Array(targets)) = parse_json(&body) {
                let page = targets
                    .iter()
                    .find(|t| t.str_field("type") == "page" && t.str_field("url").starts_with(url));
                if let Some(page) = page {
                    let socket = page.str_field("webSocketDebuggerUrl");
                    let prefix = format!("ws://{debugger}");
                    if let Some(path) = socket.strip_prefix(&prefix) {
                        return path.to_string();
                    }
                }
            }
            last = body;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("no page for {url} in the debugger's list: {last}");
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn json_string_escapes_what_json_requires() {
    assert_eq!(
        json_string("a\"b\\c\nd\u{1}é"),
        "\"a\\\"b\\\\c\\nd\\u0001é\""
    );
}
