//! Browser tests: a real Chromium runs `static/test.html` against a real pushlab server.
//!
//! Each test starts the server in this process on a free port, starts headless Chromium on
//! `/test.html?transport=...&topic=...`, and waits for the page to report that its channel is open (the
//! page reports by publishing JSON to a results topic, which the test reads with a plain short poll).
//! Then the test publishes numbered messages from Rust, and the page reports what it received. What is
//! checked, for each of the seven transports, for auto mode and for reconnects:
//!
//! - every message arrives, once, in order, with strictly increasing ids (resume by id, no loss);
//! - a message sent upstream by the page (`ch.send`) is published to the topic;
//! - auto mode picks WebSocket, and falls back to SSE when the server refuses the upgrade;
//! - after the server drops every connection, each transport reconnects and receives the messages
//!   published while it was away, each exactly once.
//!
//! Chromium is looked for at `/usr/bin/chromium`, then on `PATH`. Without it the tests print a line and
//! pass, except when the `CI` environment variable is set: CI must run them, so there they fail.
//! The tests take Chromium one at a time (a static mutex): the machines they run on are small.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pushlab::server::{spawn, RunningServer};
use pushlab::Config;

/// One Chromium at a time.
static BROWSER_LOCK: Mutex<()> = Mutex::new(());

/// How long Chromium may take to start and open the channel.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the messages may take to arrive once published (a reconnect included).
const DONE_TIMEOUT: Duration = Duration::from_secs(20);
/// Messages published per test.
const MESSAGES: usize = 20;

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

#[test]
fn short_poll_receives_every_message_in_order() {
    forced_transport("poll");
}

#[test]
fn long_poll_receives_every_message_in_order() {
    forced_transport("longpoll");
}

#[test]
fn xhr_stream_receives_every_message_in_order() {
    forced_transport("stream");
}

#[test]
fn iframe_receives_every_message_in_order() {
    forced_transport("iframe");
}

#[test]
fn jsonp_receives_every_message_in_order() {
    forced_transport("jsonp");
}

#[test]
fn sse_receives_every_message_in_order() {
    forced_transport("sse");
}

#[test]
fn websocket_receives_every_message_in_order() {
    forced_transport("websocket");
}

#[test]
fn auto_mode_picks_websocket() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let server = start_server(test_config());
    let report = run_scenario(&chromium, &server, &Scenario::new("auto"));
    assert_eq!(report.str_field("transport"), "websocket", "{report:?}");
    let changes = transport_changes(&report);
    assert_eq!(
        changes,
        vec![(None, "websocket".to_string())],
        "auto mode moved: {report:?}"
    );
}

#[test]
fn auto_mode_falls_back_to_sse_when_websocket_is_refused() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let server = start_server(Config {
        refuse_websocket: true,
        ..test_config()
    });
    let report = run_scenario(&chromium, &server, &Scenario::new("auto"));
    assert_eq!(report.str_field("transport"), "sse", "{report:?}");
    let changes = transport_changes(&report);
    assert_eq!(
        changes,
        vec![
            (None, "websocket".to_string()),
            (Some("websocket".to_string()), "sse".to_string())
        ],
        "expected websocket, then the fallback to sse: {report:?}"
    );
}

#[test]
fn websocket_resumes_after_the_server_drops_connections() {
    dropped_connections("websocket", test_config(), None);
}

#[test]
fn sse_resumes_after_the_server_drops_connections() {
    // EventSource reconnects by itself, with Last-Event-ID, after the server's `retry:` delay.
    dropped_connections("sse", test_config(), None);
}

#[test]
fn long_poll_resumes_after_the_server_drops_connections() {
    dropped_connections("longpoll", test_config(), None);
}

#[test]
fn xhr_stream_resumes_after_the_server_drops_connections() {
    dropped_connections("stream", test_config(), None);
}

#[test]
fn iframe_resumes_after_the_server_drops_connections() {
    // A cut iframe response gives the page no event at all (the iframe stays "loading"): only the
    // page's watchdog notices, after twice the heartbeat interval. A short heartbeat keeps this quick
    // and also checks that heartbeats keep a healthy iframe stream from being reopened needlessly.
    let heartbeat = Duration::from_millis(500);
    let config = Config {
        heartbeat_interval: heartbeat,
        ..test_config()
    };
    dropped_connections("iframe", config, Some(heartbeat));
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// What the page is asked to do.
struct Scenario {
    transport: &'static str,
    /// Text the page sends upstream once open (`ch.send`), if any.
    send: bool,
    /// Drop every connection after this many messages arrived, then publish the rest.
    drop_after: Option<usize>,
    /// The server's heartbeat interval, for the page's watchdog, when the test shortened it.
    heartbeat: Option<Duration>,
}

impl Scenario {
    fn new(transport: &'static str) -> Scenario {
        Scenario {
            transport,
            send: true,
            drop_after: None,
            heartbeat: None,
        }
    }
}

fn test_config() -> Config {
    Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Config::default()
    }
}

fn start_server(config: Config) -> RunningServer {
    spawn(config).unwrap_or_else(|e| panic!("server did not start: {e}"))
}

fn forced_transport(transport: &'static str) {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let server = start_server(test_config());
    let report = run_scenario(&chromium, &server, &Scenario::new(transport));
    assert_eq!(report.str_field("transport"), transport, "{report:?}");
    assert_eq!(
        transport_changes(&report),
        vec![(None, transport.to_string())],
        "{report:?}"
    );
}

fn dropped_connections(transport: &'static str, config: Config, heartbeat: Option<Duration>) {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let server = start_server(config);
    let scenario = Scenario {
        transport,
        send: false,
        drop_after: Some(MESSAGES / 2),
        heartbeat,
    };
    let report = run_scenario(&chromium, &server, &scenario);
    assert_eq!(report.str_field("transport"), transport, "{report:?}");
}

/// Runs one page through a scenario and checks what every scenario must hold; returns the page's
/// final report for the caller's own checks.
fn run_scenario(chromium: &Path, server: &RunningServer, scenario: &Scenario) -> Json {
    let _one_at_a_time = BROWSER_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let run = unique_run_id();
    let topic = format!("bt-{run}");
    let results = format!("bt-{run}-results");
    let upstream = format!("upstream-{run}");
    let expect = MESSAGES + usize::from(scenario.send);

    let mut query = format!(
        "transport={}&topic={topic}&results={results}&run={run}&expect={expect}&timeout_ms={}",
        scenario.transport,
        DONE_TIMEOUT.as_millis() + OPEN_TIMEOUT.as_millis(),
    );
    if scenario.send {
        query.push_str(&format!("&send={upstream}"));
    }
    if let Some(count) = scenario.drop_after {
        query.push_str(&format!("&checkpoint={count}"));
    }
    if let Some(heartbeat) = scenario.heartbeat {
        query.push_str(&format!("&heartbeat_ms={}", heartbeat.as_millis()));
    }
    let url = format!("http://{}/test.html?{query}", server.addr);
    let _browser = Browser::start(chromium, &url);

    let results_reader = Reports {
        addr: server.addr,
        topic: results,
    };
    results_reader.wait_for("opened", OPEN_TIMEOUT);

    let publish = |range: std::ops::Range<usize>| {
        for i in range {
            server
                .publish(&topic, &format!("msg-{i}"))
                .unwrap_or_else(|e| panic!("publish: {e}"));
        }
    };
    match scenario.drop_after {
        None => publish(0..MESSAGES),
        Some(count) => {
            publish(0..count);
            results_reader.wait_for("checkpoint", DONE_TIMEOUT);
            // Whatever the method returns (unit or a Result), the test only needs it to have happened.
            #[allow(clippy::let_unit_value)]
            let _ = server.drop_connections();
            // Published while every client is away: the page must get these by resuming after its id.
            publish(count..MESSAGES);
        }
    }
    let report = results_reader.wait_for("done", DONE_TIMEOUT);

    let ids = report.u64_list("ids");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids not strictly increasing: {ids:?}"
    );
    let data = report.str_list("data");
    let ours: Vec<&str> = data
        .iter()
        .map(String::as_str)
        .filter(|d| d.starts_with("msg-"))
        .collect();
    let wanted: Vec<String> = (0..MESSAGES).map(|i| format!("msg-{i}")).collect();
    assert_eq!(
        ours, wanted,
        "messages lost, repeated or out of order: {report:?}"
    );
    if scenario.send {
        assert!(
            data.contains(&upstream),
            "the page did not see its own message: {report:?}"
        );
        assert!(
            topic_data(server.addr, &topic).contains(&upstream),
            "the page's upstream message was not published to {topic}"
        );
    }
    if scenario.drop_after.is_none() {
        assert_eq!(
            report.str_list("errors"),
            Vec::<String>::new(),
            "{report:?}"
        );
    }
    report
}

/// The (from, to) pairs of the page's `ontransportchange` events.
fn transport_changes(report: &Json) -> Vec<(Option<String>, String)> {
    let Some(Json::Arr(changes)) = report.get("transportChanges") else {
        panic!("no transportChanges in {report:?}")
    };
    changes
        .iter()
        .map(|c| {
            let from = match c.get("from") {
                Some(Json::Str(s)) => Some(s.clone()),
                _ => None,
            };
            (from, c.str_field("to"))
        })
        .collect()
}

fn unique_run_id() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

// ---------------------------------------------------------------------------------------------
// Chromium
// ---------------------------------------------------------------------------------------------

fn find_chromium() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// The browser, or `None` with a line saying why the tests are skipped. Under CI a missing browser is
/// a failure: the tests must not pass there without having run.
fn chromium_or_skip() -> Option<PathBuf> {
    if let Some(path) = find_chromium() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium not found and CI is set: install it (apt-get install chromium)");
    }
    println!("browser tests skipped: chromium not found (apt-get install chromium)");
    None
}

/// A headless Chromium on one URL, with a fresh profile; killed (by its own PID) and cleaned up on drop.
struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Browser {
    fn start(chromium: &Path, url: &str) -> Browser {
        let profile = std::env::temp_dir().join(format!("pushlab-chromium-{}", unique_run_id()));
        std::fs::create_dir_all(&profile).unwrap_or_else(|e| panic!("profile dir: {e}"));
        let child = Command::new(chromium)
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
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", chromium.display()));
        Browser { child, profile }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the page's reports: a short poll of the results topic over a plain TCP socket
// ---------------------------------------------------------------------------------------------

struct Reports {
    addr: SocketAddr,
    topic: String,
}

impl Reports {
    /// Every report so far (each message's data is one JSON report).
    fn all(&self) -> Vec<Json> {
        topic_data(self.addr, &self.topic)
            .iter()
            .filter_map(|d| Json::parse(d))
            .collect()
    }

    /// Waits for the report of `phase`; fails at once on the page's own "timeout" report.
    fn wait_for(&self, phase: &str, limit: Duration) -> Json {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            seen = self.all();
            if let Some(report) = seen.iter().find(|r| r.str_field("phase") == phase) {
                return report.clone();
            }
            if let Some(report) = seen.iter().find(|r| r.str_field("phase") == "timeout") {
                panic!("the page gave up waiting before '{phase}': {report:?}");
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("no '{phase}' report within {limit:?}; reports so far: {seen:?}");
    }
}

/// The data of every message the topic still has (`GET /poll/{topic}?after=0`), following `last`
/// while answers come back non-empty (an answer may be capped).
fn topic_data(addr: SocketAddr, topic: &str) -> Vec<String> {
    let mut data = Vec::new();
    let mut after = 0u64;
    for _ in 0..100 {
        let body = match http_get(addr, &format!("/poll/{topic}?after={after}")) {
            Ok(body) => body,
            Err(_) => return data, // e.g. the server is dropping connections right now: ask later
        };
        let Some(json) = Json::parse(&body) else {
            panic!("poll answer is not JSON: {body}")
        };
        let Some(Json::Arr(messages)) = json.get("messages") else {
            panic!("no messages: {body}")
        };
        if messages.is_empty() {
            break;
        }
        data.extend(messages.iter().map(|m| m.str_field("data")));
        after = json.u64_field("last");
    }
    data
}

/// A GET on a fresh connection (`Connection: close`), answering the body of a 200.
fn http_get(addr: SocketAddr, path: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no end of head"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(io::Error::other(format!(
            "GET {path}: {}",
            head.lines().next().unwrap_or("")
        )));
    }
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if chunked {
        dechunk(body)
    } else {
        Ok(body.to_string())
    }
}

/// Joins the chunks of a chunked body (RFC 9112 §7.1); enough for a test reading a whole response.
fn dechunk(mut body: &str) -> io::Result<String> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad chunked body");
    let mut out = String::new();
    loop {
        let (size_line, rest) = body.split_once("\r\n").ok_or_else(bad)?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad())?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or_else(bad)?;
        out.push_str(chunk);
        body = rest.get(size + 2..).ok_or_else(bad)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Just enough JSON to read the reports (no dependency for one test file)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// The number's text, so that ids keep every digit.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Printed as JSON-like text, so that a failing assertion shows the page's report readably.
impl std::fmt::Debug for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Json::Null => write!(f, "null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Num(n) => write!(f, "{n}"),
            Json::Str(s) => write!(f, "{s:?}"),
            Json::Arr(items) => f.debug_list().entries(items).finish(),
            Json::Obj(fields) => f
                .debug_map()
                .entries(fields.iter().map(|(k, v)| (k, v)))
                .finish(),
        }
    }
}

impl Json {
    fn parse(text: &str) -> Option<Json> {
        let mut parser = JsonParser {
            text,
            bytes: text.as_bytes(),
            at: 0,
        };
        let value = parser.value()?;
        parser.skip_space();
        (parser.at == parser.bytes.len()).then_some(value)
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A string field, or "" when absent or not a string.
    fn str_field(&self, key: &str) -> String {
        match self.get(key) {
            Some(Json::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    fn u64_field(&self, key: &str) -> u64 {
        match self.get(key) {
            Some(Json::Num(n)) => n
                .parse()
                .unwrap_or_else(|_| panic!("{key} is not an id: {n}")),
            other => panic!("{key} is not a number: {other:?}"),
        }
    }

    fn u64_list(&self, key: &str) -> Vec<u64> {
        match self.get(key) {
            Some(Json::Arr(items)) => items
                .iter()
                .map(|item| match item {
                    Json::Num(n) => n.parse().unwrap_or_else(|_| panic!("not an id: {n}")),
                    other => panic!("not an id: {other:?}"),
                })
                .collect(),
            other => panic!("{key} is not a list: {other:?}"),
        }
    }

    fn str_list(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Json::Arr(items)) => items
                .iter()
                .map(|item| match item {
                    Json::Str(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect(),
            other => panic!("{key} is not a list: {other:?}"),
        }
    }
}

struct JsonParser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl JsonParser<'_> {
    fn skip_space(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        let found = self.bytes[self.at..].starts_with(literal.as_bytes());
        if found {
            self.at += literal.len();
        }
        found
    }

    fn value(&mut self) -> Option<Json> {
        self.skip_space();
        match *self.bytes.get(self.at)? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Json::Str),
            b't' => self.eat("true").then_some(Json::Bool(true)),
            b'f' => self.eat("false").then_some(Json::Bool(false)),
            b'n' => self.eat("null").then_some(Json::Null),
            _ => self.number(),
        }
    }

    fn object(&mut self) -> Option<Json> {
        self.at += 1; // {
        let mut fields = Vec::new();
        self.skip_space();
        if self.eat("}") {
            return Some(Json::Obj(fields));
        }
        loop {
            self.skip_space();
            let key = self.string()?;
            self.skip_space();
            if !self.eat(":") {
                return None;
            }
            fields.push((key, self.value()?));
            self.skip_space();
            if self.eat("}") {
                return Some(Json::Obj(fields));
            }
            if !self.eat(",") {
                return None;
            }
        }
    }

    fn array(&mut self) -> Option<Json> {
        self.at += 1; // [
        let mut items = Vec::new();
        self.skip_space();
        if self.eat("]") {
            return Some(Json::Arr(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_space();
            if self.eat("]") {
                return Some(Json::Arr(items));
            }
            if !self.eat(",") {
                return None;
            }
        }
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.at;
        while matches!(
            self.bytes.get(self.at),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
        ) {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
        text.parse::<f64>()
            .ok()
            .map(|_| Json::Num(text.to_string()))
    }

    fn string(&mut self) -> Option<String> {
        if !self.eat("\"") {
            return None;
        }
        let mut out = String::new();
        loop {
            // `at` only ever stops on a character boundary: after ASCII syntax or a whole character.
            let c = self.text.get(self.at..)?.chars().next()?;
            self.at += c.len_utf8();
            match c {
                '"' => return Some(out),
                '\\' => out.push(self.escape()?),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Option<char> {
        let c = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high) && self.eat("\\u") {
                    let low = self.hex4()?;
                    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low.checked_sub(0xDC00)?))?
                } else {
                    char::from_u32(high)?
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = std::str::from_utf8(self.bytes.get(self.at..self.at + 4)?).ok()?;
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }
}

#[test]
fn report_json_parser_reads_what_the_page_sends() {
    let text = r#"{"phase":"done","ids":[1795316003777,1795316003778],"data":["msg-0","a\"b\\c\u00e9\ud83d\ude00"],
                  "transportChanges":[{"from":null,"to":"websocket","reason":"x"}],"ok":true,"n":-1.5e3}"#;
    let json = Json::parse(text).expect("valid JSON");
    assert_eq!(json.str_field("phase"), "done");
    assert_eq!(
        json.u64_list("ids"),
        vec![1_795_316_003_777, 1_795_316_003_778]
    );
    assert_eq!(
        json.str_list("data"),
        vec!["msg-0".to_string(), "a\"b\\c\u{e9}\u{1F600}".to_string()]
    );
    assert_eq!(
        transport_changes(&json),
        vec![(None, "websocket".to_string())]
    );
    assert_eq!(json.get("ok"), Some(&Json::Bool(true)));
    assert_eq!(
        Json::parse("{\"a\":1} x"),
        None,
        "trailing bytes are an error"
    );
    assert_eq!(Json::parse("[1,"), None, "a truncated document is an error");
    assert_eq!(
        dechunk("5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n").ok(),
        Some("hello world".to_string())
    );
}
