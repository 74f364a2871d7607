//! What the browser tests stand on: finding and starting Chromium, and reading the page's reports with
//! the crate's own clients (a short poll of the results topic, `pushlab::client::json` to parse them).

// Shared by `browser.rs` and `browser_pages.rs`, each of which uses only a part.
#![allow(dead_code)]

use std::net::SocketAddr;
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
