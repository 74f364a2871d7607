//! `pushlab lab --browser`: what a real browser sends, through `pushlab.js`, for each transport.
//!
//! The crate's own clients are lean: a request head of a hundred bytes, one connection per door. A
//! browser is not. It adds `User-Agent`, `Accept-*`, `Sec-Fetch-*` and more to every request, and it
//! keeps at most six HTTP/1.1 connections per host (a limit shared by every tab of the profile), so a
//! page that holds several long polls or streams starves the next request to the same host, even in
//! another tab. This module measures both in headless Chromium, driven through the Chrome DevTools
//! Protocol with pushlab's own WebSocket client ([`crate::client::ws`]).
//!
//! # The DevTools Protocol, as far as it is used here
//!
//! Chromium started with `--remote-debugging-port=0` picks a port and writes it into
//! `DevToolsActivePort` in its profile. Its HTTP side opens tabs (`PUT /json/new?URL`) and names each
//! tab's debugger socket; on that WebSocket, commands are JSON text frames
//! (`{"id":1,"method":"Runtime.evaluate","params":{..}}`) answered with the same `id`, and events
//! (`{"method":"Network.requestWillBeSent","params":{..}}`) arrive in between once a domain is
//! enabled. From the `Network` domain this module reads:
//!
//! - `requestWillBeSent` (method and URL) and `requestWillBeSentExtraInfo` (the headers exactly as
//!   sent, `Cookie` and `Host` included): the request head's size is the request line plus
//!   `name: value\r\n` per header plus the blank line;
//! - `responseReceived`: the `connectionId` each request used, so the connections a transport needs;
//! - `webSocketCreated` and `webSocketWillSendHandshakeRequest`: the WebSocket's handshake head.
//!
//! # One transport's run
//!
//! A fresh pushlab server (a child process) with a counting [`Relay`] in front, so the browser's bytes
//! and sockets are also counted at a socket. Two tabs load a page of the server's origin (the script
//! `/pushlab.js` itself, shown as text; the client is then added with a `<script>` tag). In the first
//! tab one channel opens with the transport, and [`BROWSER_MESSAGES`] messages are published one at a
//! time: the requests the transport made for them, their head sizes, the connections they used and
//! the bytes the relay saw going to the server give one row. Then the first tab opens channels until
//! it holds [`HELD_CHANNELS`], and the second tab fetches a short poll: if the answer has not come
//! within [`SECOND_TAB_WAIT`], the six-connection limit has been reached, and the row says how long
//! the request waited once the first tab let its channels go.
//!
//! Chromium runs as this process's child from a fresh profile directory, and is killed by its PID
//! when the run is over.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::load::Door;
use super::nginx::TempDir;
use super::peers::{find_program, ChildServer};
use super::relay::Relay;
use super::target::Target;
use crate::client::json::{self, JsonValue};
use crate::client::{http, ws};
use crate::json::json_string;

/// Where Debian installs Chromium; `PATH` is searched when it is not there.
pub const USUAL_PATH: &str = "/usr/bin/chromium";

/// How long Chromium may take to start, or a tab to load.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a channel may take to open or to receive what was published.
const CHANNEL_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the second tab's request may wait before it counts as blocked. A free connection answers
/// a short poll in milliseconds; a blocked one waits until a held response ends (a long poll's hold
/// is 20 s, a stream's is forever), so a few seconds tell the two apart on any machine.
pub const SECOND_TAB_WAIT: Duration = Duration::from_secs(3);

/// The channels the first tab holds open: Chromium's limit of HTTP/1.1 connections per host.
pub const HELD_CHANNELS: usize = 6;

/// Messages published to the measured channel, one at a time.
pub const BROWSER_MESSAGES: u64 = 5;

/// The pause between two published messages, so that each is its own delivery (a long poll answers
/// one and asks again) rather than a batch.
const PUBLISH_GAP: Duration = Duration::from_millis(150);

/// The paths of the doors, as `pushlab.js` requests them (and the WebSocket's).
const DOOR_PATHS: [&str; 7] = [
    "/poll/",
    "/longpoll/",
    "/stream/",
    "/iframe/",
    "/jsonp/",
    "/sse/",
    "/ws/",
];

/// The transport names of `pushlab.js`, with the lab's door for each.
pub const TRANSPORTS: [(&str, Door); 7] = [
    ("poll", Door::ShortPoll),
    ("longpoll", Door::LongPoll),
    ("jsonp", Door::Jsonp),
    ("stream", Door::XhrStream),
    ("iframe", Door::Iframe),
    ("sse", Door::Sse),
    ("websocket", Door::WebSocket),
];

/// Whether Chromium is installed.
pub fn available() -> bool {
    find_program("chromium", Some(USUAL_PATH)).is_some()
}

/// What the second tab saw while the first held [`HELD_CHANNELS`] channels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SecondTab {
    /// Its request was answered within [`SECOND_TAB_WAIT`], after this many milliseconds.
    Answered(f64),
    /// It was still waiting after [`SECOND_TAB_WAIT`]; once the first tab closed its channels it was
    /// answered after this many milliseconds in all (`None`: not even then).
    Blocked(Option<f64>),
}

/// One transport's row.
#[derive(Clone, Debug)]
pub struct BrowserRow {
    /// `pushlab.js`'s name for the transport.
    pub transport: &'static str,
    /// The lab's door.
    pub door: Door,
    /// Messages published, and how many the page received.
    pub messages: u64,
    /// Messages the page's channel delivered.
    pub received: u64,
    /// Requests to the door (a WebSocket handshake is one) while the messages were delivered.
    pub door_requests: u64,
    /// The mean size of those requests' heads as Chromium sent them, in bytes.
    pub request_head_bytes: Option<f64>,
    /// The same requests' heads as the crate's own client writes them, for comparison.
    pub lab_client_head_bytes: Option<f64>,
    /// Bytes the browser sent to the server per message (heads, bodies, frames), at the relay.
    pub bytes_sent_per_message: f64,
    /// Distinct connections the door's requests used (Chromium's `connectionId`s, or WebSockets).
    pub connections: u64,
    /// The most sockets open to the host while the first tab held its channels, at the relay (the
    /// pages' own idle connections included).
    pub sockets_while_held: u64,
    /// Channels that opened out of [`HELD_CHANNELS`].
    pub held_open: u64,
    /// What the second tab's request saw.
    pub second_tab: SecondTab,
}

/// Everything `--browser` measured.
#[derive(Clone, Debug)]
pub struct BrowserReport {
    /// Chromium's version, as its debugger reports it.
    pub version: String,
    /// One row per transport.
    pub rows: Vec<BrowserRow>,
}

/// Runs every transport in a fresh Chromium; `progress` is told what is happening.
pub fn run(progress: &dyn Fn(&str)) -> Result<BrowserReport, String> {
    let mut rows = Vec::new();
    let mut version = String::new();
    for (transport, door) in TRANSPORTS {
        progress(transport);
        let chromium = Chromium::start().map_err(|e| format!("cannot start Chromium: {e}"))?;
        if version.is_empty() {
            version = chromium.version().unwrap_or_else(|_| "unknown".into());
        }
        let row = measure(&chromium, transport, door)
            .map_err(|e| format!("browser, {transport}: {e}"))?;
        rows.push(row);
    }
    Ok(BrowserReport { version, rows })
}

/// One transport: a fresh server and relay, two tabs, the measured channel, then the held ones.
fn measure(chromium: &Chromium, transport: &'static str, door: Door) -> io::Result<BrowserRow> {
    let server = Target::spawn_own_server()?;
    let relay = Relay::start(server.front, Duration::ZERO)?;
    let origin = format!("http://{}", relay.addr());
    let mut first = chromium.open_tab(&format!("{origin}/pushlab.js"))?;
    let mut second = chromium.open_tab(&format!("{origin}/pushlab.js"))?;
    first.load_client()?;
    let topic = format!("browser-{transport}");

    let counters = relay.counters();
    let sent_before = counters.bytes_to_server.load(Ordering::Relaxed);
    first.take_events();
    first.evaluate(&format!(
        "window.lab = {{ids: []}}; lab.ch = pushlab.connect({}, {{transport: {}, after: 0}}); \
         lab.ch.onmessage = (m) => lab.ids.push(m.id); true",
        json_string(&topic),
        json_string(transport)
    ))?;
    first.wait_until("lab.ch.state === 'open'", CHANNEL_TIMEOUT)?;
    for n in 1..=BROWSER_MESSAGES {
        crate::client::publish(server.publish_to, &topic, &format!("message {n}"))?;
        std::thread::sleep(PUBLISH_GAP);
    }
    let all_in = format!("lab.ids.length >= {BROWSER_MESSAGES}");
    first.wait_until(&all_in, CHANNEL_TIMEOUT)?;
    let received = first.evaluate("lab.ids.length")?.as_u64().unwrap_or(0);
    let sent = counters.bytes_to_server.load(Ordering::Relaxed) - sent_before;
    let requests = DoorRequests::from_events(&first.take_events());

    // The six-connection limit: the first tab holds channels, the second asks for something.
    let open_now = counters.connections_open.load(Ordering::Relaxed);
    counters.connections_peak.store(open_now, Ordering::Relaxed);
    first.evaluate(&format!(
        "lab.more = Array.from({{length: {}}}, (_, i) => pushlab.connect({} + '-held-' + i, \
         {{transport: {}}})); true",
        HELD_CHANNELS - 1,
        json_string(&topic),
        json_string(transport)
    ))?;
    let all_open = "[lab.ch, ...lab.more].every((c) => c.state === 'open')";
    // Channels that cannot open are part of the answer, not a failure of the run.
    let _ = first.wait_until(all_open, CHANNEL_TIMEOUT);
    let held_open = first
        .evaluate("[lab.ch, ...lab.more].filter((c) => c.state === 'open').length")?
        .as_u64()
        .unwrap_or(0);
    let second_tab = probe_second_tab(&mut first, &mut second, &topic)?;
    Ok(BrowserRow {
        transport,
        door,
        messages: BROWSER_MESSAGES,
        received,
        door_requests: requests.heads.len() as u64,
        request_head_bytes: mean(&requests.heads),
        lab_client_head_bytes: lab_client_head_bytes(door, &topic, server.front),
        bytes_sent_per_message: sent as f64 / BROWSER_MESSAGES as f64,
        connections: requests.connections,
        sockets_while_held: counters.connections_peak.load(Ordering::Relaxed),
        held_open,
        second_tab,
    })
}

/// The second tab fetches a short poll; if it waits past [`SECOND_TAB_WAIT`], the first tab closes its
/// channels and the wait goes on until the answer comes.
fn probe_second_tab(first: &mut Tab, second: &mut Tab, topic: &str) -> io::Result<SecondTab> {
    second.evaluate(&format!(
        "window.probe = {{}}; const started = performance.now(); \
         fetch('/poll/' + {} + '-probe').then((r) => r.text()).then(\
         () => {{ probe.ms = performance.now() - started; }}, \
         (e) => {{ probe.error = String(e); }}); true",
        json_string(topic)
    ))?;
    let answered = "probe.ms !== undefined";
    if second.wait_until(answered, SECOND_TAB_WAIT).is_ok() {
        return Ok(SecondTab::Answered(number(&second.evaluate("probe.ms")?)));
    }
    first.evaluate("[lab.ch, ...lab.more].forEach((c) => c.close()); true")?;
    let released = second.wait_until(answered, CHANNEL_TIMEOUT).is_ok();
    Ok(SecondTab::Blocked(if released {
        Some(number(&second.evaluate("probe.ms")?))
    } else {
        None
    }))
}

/// The head the crate's own client writes for the door's first request, for comparison: what the
/// protocol needs, against what a browser adds.
fn lab_client_head_bytes(door: Door, topic: &str, host: SocketAddr) -> Option<f64> {
    let path = match door {
        Door::ShortPoll => format!("/poll/{topic}?after=0"),
        Door::LongPoll => format!("/longpoll/{topic}?after=0"),
        Door::Jsonp => format!("/jsonp/{topic}?after=0&callback=lab.on"),
        Door::XhrStream => format!("/stream/{topic}?after=0"),
        Door::Iframe => format!("/iframe/{topic}?after=0&callback=lab.on"),
        Door::Sse => format!("/sse/{topic}?after=0"),
        // The handshake's own headers (Upgrade, Connection, key, version) are the protocol's.
        Door::WebSocket => return Some(lab_websocket_head_bytes(topic, host) as f64),
    };
    let mut head = Vec::new();
    http::write_request(&mut head, "GET", &path, &host.to_string(), &[], b"").ok()?;
    Some(head.len() as f64)
}

/// The size of the crate's WebSocket client's handshake request: the request line, `Host`, and the
/// four headers RFC 6455 §4.1 requires (a 24-character key).
fn lab_websocket_head_bytes(topic: &str, host: SocketAddr) -> usize {
    let lines = [
        format!("GET /ws/{topic}?after=0 HTTP/1.1"),
        format!("Host: {host}"),
        "Upgrade: websocket".to_string(),
        "Connection: Upgrade".to_string(),
        format!("Sec-WebSocket-Key: {}", "x".repeat(24)),
        "Sec-WebSocket-Version: 13".to_string(),
    ];
    lines.iter().map(|line| line.len() + 2).sum::<usize>() + 2
}

fn mean(values: &[usize]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<usize>() as f64 / values.len() as f64)
}

fn number(value: &JsonValue) -> f64 {
    match value {
        JsonValue::Number(text) => text.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// The door requests in a tab's `Network` events: each head's size, and the connections they used.
#[derive(Debug, Default)]
struct DoorRequests {
    heads: Vec<usize>,
    connections: u64,
}

impl DoorRequests {
    fn from_events(events: &[JsonValue]) -> DoorRequests {
        // requestId -> the request line; then the head's size once its headers are known.
        let mut lines: HashMap<String, String> = HashMap::new();
        let mut headers: HashMap<String, usize> = HashMap::new();
        let mut connections: Vec<String> = Vec::new();
        let mut websockets = 0;
        for event in events {
            let method = event.get("method").and_then(JsonValue::as_str);
            let Some(params) = event.get("params") else {
                continue;
            };
            let id = text(params.get("requestId")).to_string();
            match method {
                Some("Network.requestWillBeSent") => {
                    let request = params.get("request");
                    let url = text(request.and_then(|r| r.get("url")));
                    let verb = text(request.and_then(|r| r.get("method")));
                    if let Some(path) = door_path(url) {
                        lines.insert(id, format!("{verb} {path} HTTP/1.1"));
                    }
                }
                Some("Network.webSocketCreated") => {
                    if let Some(path) = door_path(text(params.get("url"))) {
                        lines.insert(id, format!("GET {path} HTTP/1.1"));
                        websockets += 1;
                    }
                }
                Some("Network.requestWillBeSentExtraInfo") => {
                    headers.insert(id, header_bytes(params.get("headers")));
                }
                Some("Network.webSocketWillSendHandshakeRequest") => {
                    let request = params.get("request");
                    headers.insert(id, header_bytes(request.and_then(|r| r.get("headers"))));
                }
                Some("Network.responseReceived") if lines.contains_key(&id) => {
                    let connection = params
                        .get("response")
                        .and_then(|r| r.get("connectionId"))
                        .map(|c| format!("{c:?}"));
                    if let Some(connection) = connection {
                        if !connections.contains(&connection) {
                            connections.push(connection);
                        }
                    }
                }
                _ => {}
            }
        }
        let heads = lines
            .iter()
            .filter_map(|(id, line)| Some(line.len() + 2 + headers.get(id)? + 2))
            .collect();
        DoorRequests {
            heads,
            connections: connections.len() as u64 + websockets,
        }
    }
}

fn text(value: Option<&JsonValue>) -> &str {
    value.and_then(JsonValue::as_str).unwrap_or_default()
}

/// The path and query of `url` when it is one of a door's (`http://` or `ws://`).
fn door_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))?;
    let path = rest.get(rest.find('/')?..)?;
    DOOR_PATHS
        .iter()
        .any(|door| path.starts_with(door))
        .then_some(path)
}

/// `name: value\r\n` for every member of a DevTools headers object.
fn header_bytes(headers: Option<&JsonValue>) -> usize {
    match headers {
        Some(JsonValue::Object(members)) => members
            .iter()
            .map(|(name, value)| {
                // Chromium joins repeated headers with newlines; each is its own line on the wire.
                text(Some(value))
                    .split('\n')
                    .map(|one| name.len() + 2 + one.len() + 2)
                    .sum::<usize>()
            })
            .sum(),
        _ => 0,
    }
}

/// A headless Chromium with remote debugging, from a fresh profile; killed by its PID when dropped.
pub struct Chromium {
    debugger: SocketAddr,
    // Declared before the profile: fields drop in order, so the process stops before its files go.
    _child: ChildServer,
    _profile: TempDir,
}

impl Chromium {
    /// Starts the installed Chromium (see [`available`]) on `about:blank`.
    pub fn start() -> io::Result<Chromium> {
        let program = find_program("chromium", Some(USUAL_PATH))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "chromium is not installed"))?;
        Chromium::start_program(&program)
    }

    /// Starts the Chromium at `program` on `about:blank` and waits for its debugger's port.
    pub fn start_program(program: &Path) -> io::Result<Chromium> {
        let profile = TempDir::new("pushlab-lab-chromium")?;
        let mut command = Command::new(program);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--mute-audio",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path.display()))
            .arg("about:blank");
        let child = ChildServer::spawn(command, "chromium", Stdio::null())?;
        let port = wait_for_port(&profile.path)?;
        Ok(Chromium {
            debugger: SocketAddr::from(([127, 0, 0, 1], port)),
            _child: child,
            _profile: profile,
        })
    }

    /// The browser's name and version (`GET /json/version`).
    pub fn version(&self) -> io::Result<String> {
        let answer = http::get(self.debugger, "/json/version")?;
        let value = json::parse(answer.text()?).map_err(io::Error::other)?;
        Ok(text(value.get("Browser")).to_string())
    }

    /// Opens a tab on `url` (`PUT /json/new?URL`), attaches to it, enables the `Network` domain and
    /// waits until the document is `url`'s and parsed. (Not until it is `complete`: a page with a
    /// forever frame, the iframe door, never finishes loading.)
    pub fn open_tab(&self, url: &str) -> io::Result<Tab> {
        let answer = http::request(
            self.debugger,
            "PUT",
            // The whole query is the URL, unescaped by Chromium: escape it, or its own `&` would end it.
            &format!("/json/new?{}", http::percent_encode(url)),
            &[],
            b"",
            ATTACH_TIMEOUT,
        )?;
        let value = json::parse(answer.text()?).map_err(io::Error::other)?;
        let socket_url = text(value.get("webSocketDebuggerUrl"));
        let path = socket_url
            .strip_prefix(&format!("ws://{}", self.debugger))
            .ok_or_else(|| {
                io::Error::other(format!("no debugger socket for the tab: {value:?}"))
            })?;
        let options = ws::ClientOptions {
            read_timeout: Some(ATTACH_TIMEOUT),
            ..ws::ClientOptions::default()
        };
        let socket = ws::Client::connect_with(self.debugger, path, &options)?;
        let mut tab = Tab {
            socket,
            next_id: 1,
            events: Vec::new(),
        };
        tab.command("Network.enable", "{}")?;
        tab.wait_until(
            &format!(
                "location.href.startsWith({}) && document.readyState !== 'loading'",
                json_string(url)
            ),
            ATTACH_TIMEOUT,
        )?;
        Ok(tab)
    }
}

/// The port Chromium chose for remote debugging: the first line of `DevToolsActivePort`, trusted once
/// its second line (the browser's socket path) is there too, so a half-written number is never read.
fn wait_for_port(profile: &Path) -> io::Result<u16> {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + ATTACH_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(contents) = std::fs::read_to_string(&file) {
            let mut lines = contents.lines();
            if let (Some(port), Some(_)) = (lines.next(), lines.next()) {
                if let Ok(port) = port.trim().parse() {
                    return Ok(port);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("Chromium wrote no {} in time", file.display()),
    ))
}

/// One tab's debugger connection, keeping the `Network` events that arrive between answers. The
/// browser tests (`tests/browser_pages.rs`) look into the demo pages through it too.
pub struct Tab {
    socket: ws::Client,
    next_id: u64,
    events: Vec<JsonValue>,
}

impl Tab {
    /// Sends one command and waits for its answer's `result`; events met on the way are kept.
    fn command(&mut self, method: &str, params: &str) -> io::Result<JsonValue> {
        let id = self.next_id;
        self.next_id += 1;
        self.socket.send_text(&format!(
            "{{\"id\":{id},\"method\":{},\"params\":{params}}}",
            json_string(method)
        ))?;
        // Bounded: every read times out, and Chromium answers every command.
        loop {
            let crate::ws::Event::Text(frame) = self.socket.recv()? else {
                continue;
            };
            let value = json::parse(&frame).map_err(io::Error::other)?;
            if value.get("id").and_then(JsonValue::as_u64) == Some(id) {
                return Ok(value.get("result").cloned().unwrap_or(JsonValue::Null));
            }
            if value.get("method").is_some() {
                self.events.push(value);
            }
        }
    }

    /// The events kept since the last call.
    fn take_events(&mut self) -> Vec<JsonValue> {
        std::mem::take(&mut self.events)
    }

    /// Evaluates `expression` in the page and returns its value; an exception is an error.
    pub fn evaluate(&mut self, expression: &str) -> io::Result<JsonValue> {
        let result = self.command(
            "Runtime.evaluate",
            &format!(
                "{{\"expression\":{},\"returnByValue\":true,\"awaitPromise\":true}}",
                json_string(expression)
            ),
        )?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(io::Error::other(format!(
                "{expression} threw: {exception:?}"
            )));
        }
        Ok(result
            .get("result")
            .and_then(|r| r.get("value"))
            .cloned()
            .unwrap_or(JsonValue::Null))
    }

    /// Evaluates `expression` every 100 ms until it is `true`, or fails after `limit`. An exception
    /// counts as "not yet": the page may still be loading.
    pub fn wait_until(&mut self, expression: &str, limit: Duration) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if matches!(self.evaluate(expression), Ok(JsonValue::Bool(true))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("not true within {limit:?}: {expression}"),
        ))
    }

    /// Adds `/pushlab.js` to the page with a `<script>` tag and waits until `pushlab` is defined.
    fn load_client(&mut self) -> io::Result<()> {
        self.evaluate(
            "const script = document.createElement('script'); script.src = '/pushlab.js'; \
             document.head.appendChild(script); true",
        )?;
        self.wait_until("typeof pushlab === 'object'", ATTACH_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(text: &str) -> JsonValue {
        json::parse(text).unwrap()
    }

    #[test]
    fn door_paths_and_header_sizes() {
        assert_eq!(
            door_path("http://127.0.0.1:1/sse/t?after=0"),
            Some("/sse/t?after=0")
        );
        assert_eq!(door_path("ws://127.0.0.1:1/ws/t"), Some("/ws/t"));
        assert_eq!(door_path("http://127.0.0.1:1/pushlab.js"), None);
        let headers = event(r#"{"Host":"a:1","Cookie":"x=1\ny=2"}"#);
        // "Host: a:1\r\n" (11) + "Cookie: x=1\r\n" and "Cookie: y=2\r\n" (13 each).
        assert_eq!(header_bytes(Some(&headers)), 37);
    }

    #[test]
    fn door_requests_are_read_from_network_events() {
        let events = [
            r#"{"method":"Network.requestWillBeSent","params":{"requestId":"1","request":{"url":"http://h:1/longpoll/t?after=0","method":"GET"}}}"#,
            r#"{"method":"Network.requestWillBeSentExtraInfo","params":{"requestId":"1","headers":{"Host":"h:1"}}}"#,
            r#"{"method":"Network.responseReceived","params":{"requestId":"1","response":{"connectionId":7}}}"#,
            r#"{"method":"Network.requestWillBeSent","params":{"requestId":"2","request":{"url":"http://h:1/pushlab.js","method":"GET"}}}"#,
            r#"{"method":"Network.requestWillBeSentExtraInfo","params":{"requestId":"2","headers":{"Host":"h:1"}}}"#,
            r#"{"method":"Network.webSocketCreated","params":{"requestId":"3","url":"ws://h:1/ws/t"}}"#,
            r#"{"method":"Network.webSocketWillSendHandshakeRequest","params":{"requestId":"3","request":{"headers":{"Upgrade":"websocket"}}}}"#,
        ]
        .map(event);
        let requests = DoorRequests::from_events(&events);
        let mut heads = requests.heads.clone();
        heads.sort_unstable();
        // "GET /ws/t HTTP/1.1\r\n" (20) + "Upgrade: websocket\r\n" (20) + "\r\n";
        // "GET /longpoll/t?after=0 HTTP/1.1\r\n" (34) + "Host: h:1\r\n" (11) + "\r\n".
        assert_eq!(heads, [42, 47]);
        assert_eq!(
            requests.connections, 2,
            "one HTTP connection and one WebSocket"
        );
    }
}
