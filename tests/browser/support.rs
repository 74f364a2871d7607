//! What the browser tests stand on: finding and starting Chromium, reading the page's reports over a
//! plain TCP socket, and just enough JSON to read them (no dependency for the test files).

// Shared by `browser.rs` and `browser_pages.rs`, each of which uses only a part.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A string no other run (or other test of this run) uses: for topics, profiles and page runs.
pub fn unique_run_id() -> String {
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
pub fn chromium_or_skip() -> Option<PathBuf> {
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
pub struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Browser {
    pub fn start(chromium: &Path, url: &str) -> Browser {
        Browser::start_with(chromium, url, &[])
    }

    /// Like [`Browser::start`], with more command-line switches (e.g. remote debugging).
    pub fn start_with(chromium: &Path, url: &str, extra_args: &[&str]) -> Browser {
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
            .args(extra_args)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", chromium.display()));
        Browser { child, profile }
    }
}

impl Browser {
    /// The browser's profile directory (Chromium writes `DevToolsActivePort` there).
    pub fn profile(&self) -> &Path {
        &self.profile
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

pub struct Reports {
    pub addr: SocketAddr,
    pub topic: String,
}

impl Reports {
    /// Every report so far (each message's data is one JSON report).
    pub fn all(&self) -> Vec<Json> {
        topic_data(self.addr, &self.topic)
            .iter()
            .filter_map(|d| Json::parse(d))
            .collect()
    }

    /// Waits for the report of `phase`; fails at once on the page's own "timeout" report.
    pub fn wait_for(&self, phase: &str, limit: Duration) -> Json {
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
pub fn topic_data(addr: SocketAddr, topic: &str) -> Vec<String> {
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
pub fn http_get(addr: SocketAddr, path: &str) -> io::Result<String> {
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
pub enum Json {
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
    pub fn parse(text: &str) -> Option<Json> {
        let mut parser = JsonParser {
            text,
            bytes: text.as_bytes(),
            at: 0,
        };
        let value = parser.value()?;
        parser.skip_space();
        (parser.at == parser.bytes.len()).then_some(value)
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A string field, or "" when absent or not a string.
    pub fn str_field(&self, key: &str) -> String {
        match self.get(key) {
            Some(Json::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    pub fn u64_field(&self, key: &str) -> u64 {
        match self.get(key) {
            Some(Json::Num(n)) => n
                .parse()
                .unwrap_or_else(|_| panic!("{key} is not an id: {n}")),
            other => panic!("{key} is not a number: {other:?}"),
        }
    }

    pub fn u64_list(&self, key: &str) -> Vec<u64> {
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

    pub fn str_list(&self, key: &str) -> Vec<String> {
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

/// The (from, to) pairs of the page's `ontransportchange` events.
pub fn transport_changes(report: &Json) -> Vec<(Option<String>, String)> {
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
