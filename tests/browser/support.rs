//! What the browser tests stand on: finding and starting Chromium, and reading the page's reports with
//! the crate's own clients (a short poll of the results topic, `pushlab::client::json` to parse them).

// Shared by `browser.rs` and `browser_pages.rs`, each of which uses only a part.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
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
// Reading the page's reports: a short poll of the results topic with the crate's poll client
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
            .filter_map(|d| parse_json(d))
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
/// while answers come back non-empty (an answer may be capped), with the crate's own poll client.
pub fn topic_data(addr: SocketAddr, topic: &str) -> Vec<String> {
    let mut data = Vec::new();
    let mut after = 0u64;
    for _ in 0..100 {
        let batch = match pushlab::client::poll::short_poll(addr, topic, Some(after)) {
            Ok(batch) => batch,
            Err(_) => return data, // e.g. the server is dropping connections right now: ask later
        };
        if batch.messages.is_empty() {
            break;
        }
        data.extend(batch.messages.into_iter().map(|m| m.data));
        after = batch.last;
    }
    data
}

// ---------------------------------------------------------------------------------------------
// Reading JSON: the crate's own parser (`pushlab::client::json`), and field helpers for the reports
// ---------------------------------------------------------------------------------------------

pub use pushlab::client::json::JsonValue as Json;

/// Parses a whole JSON document; `None` if it is not one.
pub fn parse_json(text: &str) -> Option<Json> {
    pushlab::client::json::parse(text).ok()
}

/// Typed reads of a report's fields, panicking with the report when a field is not what it should be.
pub trait Fields {
    /// A string field, or "" when absent or not a string.
    fn str_field(&self, key: &str) -> String;
    /// A number field that is an id.
    fn u64_field(&self, key: &str) -> u64;
    /// A list of ids.
    fn u64_list(&self, key: &str) -> Vec<u64>;
    /// A list of strings (anything else in it is shown as its debug text).
    fn str_list(&self, key: &str) -> Vec<String>;
}

impl Fields for Json {
    fn str_field(&self, key: &str) -> String {
        self.get(key)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    }

    fn u64_field(&self, key: &str) -> u64 {
        match self.get(key) {
            Some(value) => value
                .as_u64()
                .unwrap_or_else(|| panic!("{key} is not an id: {value:?}")),
            None => panic!("no {key} in {self:?}"),
        }
    }

    fn u64_list(&self, key: &str) -> Vec<u64> {
        let Some(items) = self.get(key).and_then(Json::as_array) else {
            panic!("{key} is not a list in {self:?}")
        };
        items
            .iter()
            .map(|item| {
                item.as_u64()
                    .unwrap_or_else(|| panic!("not an id: {item:?}"))
            })
            .collect()
    }

    fn str_list(&self, key: &str) -> Vec<String> {
        let Some(items) = self.get(key).and_then(Json::as_array) else {
            panic!("{key} is not a list in {self:?}")
        };
        items
            .iter()
            .map(|item| match item.as_str() {
                Some(text) => text.to_string(),
                None => format!("{item:?}"),
            })
            .collect()
    }
}

/// The (from, to) pairs of the page's `ontransportchange` events.
pub fn transport_changes(report: &Json) -> Vec<(Option<String>, String)> {
    let Some(changes) = report.get("transportChanges").and_then(Json::as_array) else {
        panic!("no transportChanges in {report:?}")
    };
    changes
        .iter()
        .map(|c| {
            let from = c.get("from").and_then(Json::as_str).map(str::to_string);
            (from, c.str_field("to"))
        })
        .collect()
}

#[test]
fn report_fields_read_what_the_page_sends() {
    let text = r#"{"phase":"done","ids":[1795316003777,1795316003778],"data":["msg-0","a\"b\\c\u00e9\ud83d\ude00"],
                  "transportChanges":[{"from":null,"to":"websocket","reason":"x"}],"ok":true,"n":-1.5e3}"#;
    let json = parse_json(text).expect("valid JSON");
    assert_eq!(json.str_field("phase"), "done");
    assert_eq!(json.str_field("absent"), "");
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
        parse_json("{\"a\":1} x"),
        None,
        "trailing bytes are an error"
    );
    assert_eq!(parse_json("[1,"), None, "a truncated document is an error");
}

// ---------------------------------------------------------------------------------------------
// A proxy that cuts responses: what a misbehaving intermediary does to a held stream
// ---------------------------------------------------------------------------------------------

/// How often the proxy's threads look at its stop flag while their sockets are quiet.
const PROXY_POLL: Duration = Duration::from_millis(50);

/// "Not cutting": the response to the connection's current request passes whole.
const PASS_WHOLE: usize = usize::MAX;

/// A TCP proxy on 127.0.0.1 in front of `upstream`. Each accepted connection gets its own upstream
/// connection and two threads copying bytes, one each way. A request whose bytes start with the
/// watched prefix (e.g. `GET /stream/`) is counted, and when a cut is set, its response is cut after
/// its first `cut_after_bytes` bytes: both sockets are shut, as a proxy with a size or time limit
/// would. Everything else (the page, the script, the page's reports) passes whole, so that the page
/// loads through the proxy and its requests stay same-origin.
///
/// The watched request is recognised on the client-to-server side before it is forwarded, so every
/// response byte that comes back after it belongs to its response (browsers do not pipeline).
/// Stopped on drop: the threads notice the flag within [`PROXY_POLL`].
pub struct CuttingProxy {
    pub addr: SocketAddr,
    watched_requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

/// What both directions of one proxied connection share.
struct Relay {
    watched_prefix: &'static [u8],
    cut_after_bytes: Option<usize>,
    /// Bytes of the current watched response still to pass, or [`PASS_WHOLE`].
    response_bytes_left: AtomicUsize,
    watched_requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CuttingProxy {
    /// Starts the proxy on a free port of 127.0.0.1. `cut_after_bytes: None` only counts the watched
    /// requests.
    pub fn start(
        upstream: SocketAddr,
        watched_prefix: &'static str,
        cut_after_bytes: Option<usize>,
    ) -> CuttingProxy {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("proxy bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("proxy addr: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("proxy nonblocking: {e}"));
        let watched_requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counter, stopping) = (watched_requests.clone(), stop.clone());
        let acceptor = thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let relay = Relay {
                            watched_prefix: watched_prefix.as_bytes(),
                            cut_after_bytes,
                            response_bytes_left: AtomicUsize::new(PASS_WHOLE),
                            watched_requests: counter.clone(),
                            stop: stopping.clone(),
                        };
                        // A connection the proxy cannot relay is simply dropped, as a real one would.
                        let _ = relay_connection(client, upstream, Arc::new(relay));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CuttingProxy {
            addr,
            watched_requests,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// How many watched requests passed so far.
    pub fn watched_requests(&self) -> usize {
        self.watched_requests.load(Ordering::Relaxed)
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Connects to `upstream` and starts the two copying threads of one connection.
fn relay_connection(client: TcpStream, upstream: SocketAddr, relay: Arc<Relay>) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect(upstream)?;
    for socket in [&client, &server] {
        socket.set_read_timeout(Some(PROXY_POLL))?;
        socket.set_nodelay(true)?;
    }
    let (client_in, server_out) = (client.try_clone()?, server.try_clone()?);
    let up = relay.clone();
    thread::spawn(move || copy_requests(client_in, server_out, &up));
    thread::spawn(move || copy_responses(server, client, &relay));
    Ok(())
}

/// Reads `from` into `buf` until bytes arrive (`Some(n)`), the peer closes or fails (`None`), or the
/// proxy stops (`None`).
fn read_some(from: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> Option<usize> {
    while !stop.load(Ordering::Relaxed) {
        match from.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    None
}

/// Browser to server: notes each watched request (arming the cut) before forwarding it.
fn copy_requests(mut client: TcpStream, mut server: TcpStream, relay: &Relay) {
    let mut buf = [0u8; 16 * 1024];
    while let Some(n) = read_some(&mut client, &mut buf, &relay.stop) {
        let bytes = &buf[..n];
        if bytes.starts_with(relay.watched_prefix) {
            relay.watched_requests.fetch_add(1, Ordering::Relaxed);
            let left = relay.cut_after_bytes.unwrap_or(PASS_WHOLE);
            relay.response_bytes_left.store(left, Ordering::Relaxed);
        } else {
            relay
                .response_bytes_left
                .store(PASS_WHOLE, Ordering::Relaxed);
        }
        if server.write_all(bytes).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Both);
}

/// Server to browser: passes responses, and cuts a watched one after its first bytes.
fn copy_responses(mut server: TcpStream, mut client: TcpStream, relay: &Relay) {
    let mut buf = [0u8; 16 * 1024];
    while let Some(n) = read_some(&mut server, &mut buf, &relay.stop) {
        let left = relay.response_bytes_left.load(Ordering::Relaxed);
        let pass = n.min(left);
        if client.write_all(&buf[..pass]).is_err() {
            break;
        }
        if left != PASS_WHOLE {
            relay
                .response_bytes_left
                .store(left - pass, Ordering::Relaxed);
            if pass == left {
                break; // the cut: both sockets are shut below
            }
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}
