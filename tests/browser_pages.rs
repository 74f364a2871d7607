//! The demo pages in a real Chromium: the dashboard, the chat, the channel API page and the seven lesson
//! pages, served by a real pushlab server and looked into with the DevTools protocol (see
//! `browser/devtools.rs`), exactly as a student opens them, without test hooks in the pages.
//!
//! What is checked:
//! - the dashboard's seven cards are all open and all counting clock messages, each with a latency;
//! - the chat page sends a line with the chosen transport and shows it coming back from the topic;
//! - the channel API page echoes a message privately, through the session's own topic;
//! - every lesson page, which uses no library, shows the clock's messages arriving in id order;
//! - `pushlab.mjs` gives the client as an ES module with named exports.
//!
//! Chromium is found and skipped (or, under CI, required) as in `browser.rs`; one Chromium at a time.

#[path = "browser/support.rs"]
mod support;

#[path = "browser/devtools.rs"]
mod devtools;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use devtools::Page;
use pushlab::server::{spawn, RunningServer};
use pushlab::Config;
use support::{chromium_or_skip, topic_data, Fields, Json};

static BROWSER_LOCK: Mutex<()> = Mutex::new(());

/// Long enough for a slow machine to start Chromium, connect seven ways and see a few ticks.
const LIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The pages' server with a config changed by `change`.
fn server_with(change: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        // A faster clock than the demo's one tick a second, so the pages have something to show sooner.
        clock_interval: Some(Duration::from_millis(250)),
        ..Config::default()
    };
    change(&mut config);
    spawn(config).unwrap_or_else(|e| panic!("server did not start: {e}"))
}

/// A page in Chromium, its server, and this test's turn with the browser.
struct Visit {
    // Fields drop in order: Chromium is killed first, then the server stops, and only then may the
    // next test start its browser.
    page: Page,
    server: RunningServer,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

/// The server and a page on `path`, or `None` when Chromium is missing (and CI is not set).
fn open(path: &str) -> Option<Visit> {
    open_with(path, |_| {})
}

/// [`open`], on a server whose config `change` alters.
fn open_with(path: &str, change: impl FnOnce(&mut Config)) -> Option<Visit> {
    let chromium = chromium_or_skip()?;
    let one_at_a_time = BROWSER_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let server = server_with(change);
    let page = Page::open(&chromium, &format!("http://{}{path}", server.addr));
    Some(Visit {
        page,
        server,
        _one_at_a_time: one_at_a_time,
    })
}

#[test]
fn the_dashboard_shows_all_seven_techniques_live() {
    let Some(mut visit) = open("/") else {
        return;
    };
    let page = &mut visit.page;
    // Every card: open, at least three clock messages counted, and a latency shown.
    let cards = "[...document.querySelectorAll('#cards .card')].map(card => ({
        title: card.querySelector('h3').textContent,
        status: card.querySelector('.status').textContent,
        messages: Number(card.querySelector('[data-k=messages]').textContent),
        requests: Number(card.querySelector('[data-k=requests]').textContent),
        latency: card.querySelector('[data-k=latency]').textContent }))";
    page.wait_until(
        &format!(
            "(cards => cards.length === 7 && cards.every(c => c.status === 'open' && c.messages >= 3 \
             && /^-?\\d+ ms$/.test(c.latency)))({cards})"
        ),
        cards,
        LIVE_TIMEOUT,
    );
    let Json::Array(cards) = page.evaluate(cards) else {
        panic!("no cards")
    };
    let mut titles: Vec<String> = cards.iter().map(|c| c.str_field("title")).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 7, "seven different techniques: {titles:?}");
    for card in &cards {
        assert!(card.u64_field("requests") >= 1, "{card:?}");
    }
}

#[test]
fn the_chat_page_sends_a_line_and_shows_it_from_the_topic() {
    let Some(mut visit) = open("/chat.html?transport=longpoll&name=tester") else {
        return;
    };
    let page = &mut visit.page;
    wait_for_status(page, "longpoll: open");
    say(page, "hello from chromium");
    wait_for_messages(page, "includes('tester: hello from chromium')");
    let published = topic_data(visit.server.addr, "chat");
    assert!(
        published
            .iter()
            .any(|d| d == r#"{"name":"tester","text":"hello from chromium"}"#),
        "the line went to the chat topic as JSON: {published:?}"
    );
}

/// Chapter 12 opens with the chat page on a server that refuses WebSocket: its wire log, as the chapter
/// prints it (without the times), is what the page logs.
#[test]
fn the_chat_page_falls_back_to_sse_as_chapter_12_shows() {
    let chapter = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tutorials/12-auto-fallback.md"
    ))
    .expect("chapter 12");
    let shown: Vec<&str> = chapter
        .split("The wire log now reads:\n\n```text\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("chapter 12 shows the wire log")
        .lines()
        .collect();
    assert!(shown.len() >= 3, "{shown:?}");
    let Some(mut visit) = open_with("/chat.html", |config| config.refuse_websocket = true) else {
        return;
    };
    let page = &mut visit.page;
    wait_for_status(page, "sse: open");
    let Json::String(log) = page.evaluate("document.getElementById('log').textContent") else {
        panic!("no wire log")
    };
    // Each line of the log is `HH:MM:SS.mmm  text`.
    let logged: Vec<&str> = log
        .lines()
        .map(|line| line.split_once("  ").map_or(line, |(_, text)| text))
        .collect();
    assert_eq!(logged, shown, "the page's wire log:\n{log}");
}

#[test]
fn the_channel_page_echoes_privately_through_a_session() {
    let Some(mut visit) = open("/channel.html?app=echo&transport=sse") else {
        return;
    };
    let page = &mut visit.page;
    wait_for_status(page, "sse: open");
    say(page, "only for me");
    wait_for_messages(page, "startsWith('only for me')");
    // The log names the session; its private topic on the server holds the echo.
    let log = page.evaluate("document.getElementById('log').textContent");
    let Json::String(log) = log else {
        panic!("no log: {log:?}")
    };
    let session = log
        .split("session ")
        .filter_map(|rest| rest.split_whitespace().next())
        .find(|word| word.len() == 32)
        .unwrap_or_else(|| panic!("no session id in the log: {log}"));
    assert_eq!(
        topic_data(visit.server.addr, &format!("session-{session}")),
        vec!["only for me".to_string()]
    );
}

#[test]
fn the_client_loads_as_an_es_module_with_named_exports() {
    // A lesson page loads no library: a clean page to import into.
    let Some(mut visit) = open("/lessons/sse.html") else {
        return;
    };
    let page = &mut visit.page;
    page.wait_until(
        "document.readyState === 'complete'",
        "document.readyState",
        LIVE_TIMEOUT,
    );
    let loaded = page.evaluate_promise(
        "import('/pushlab.mjs').then(m => [typeof m.connect, typeof m.session, typeof m.default.connect,
           m.default === globalThis.pushlab, m.transports.length].join(' '))",
    );
    assert_eq!(
        loaded,
        Ok(Json::String("function function function true 7".into()))
    );
}

/// Chat and channel pages: waits until the status badge reads `text`.
fn wait_for_status(page: &mut Page, text: &str) {
    let status = "document.getElementById('status').textContent";
    page.wait_until(&format!("{status} === '{text}'"), status, LIVE_TIMEOUT);
}

/// Chat and channel pages: types `text` into the form and submits it, as a user would.
fn say(page: &mut Page, text: &str) {
    page.evaluate(&format!(
        "document.querySelector('#say input[name=text]').value = '{text}';
         document.getElementById('say').requestSubmit(); true"
    ));
}

/// Chat and channel pages: waits until the message list's text passes `check` (a string method call).
fn wait_for_messages(page: &mut Page, check: &str) {
    let messages = "document.getElementById('messages').textContent";
    page.wait_until(&format!("{messages}.{check}"), messages, LIVE_TIMEOUT);
}

/// A lesson page shows `#<id>  <latency> ms` for each clock message: wait for three, in id order.
fn lesson_page_shows_the_clock(lesson: &str) {
    let Some(mut visit) = open(&format!("/lessons/{lesson}.html")) else {
        return;
    };
    let page = &mut visit.page;
    let ids = "(document.getElementById('output').textContent.match(/#\\d+ +-?\\d+ ms/g) || [])
               .map(line => Number(line.slice(1).split(' ')[0]))";
    page.wait_until(
        &format!(
            "(ids => ids.length >= 3 && ids.every((id, i) => i === 0 || id > ids[i - 1]))({ids})"
        ),
        "document.getElementById('output').textContent",
        LIVE_TIMEOUT,
    );
}

#[test]
fn lesson_short_poll_shows_the_clock() {
    lesson_page_shows_the_clock("short-poll");
}

#[test]
fn lesson_long_poll_shows_the_clock() {
    lesson_page_shows_the_clock("long-poll");
}

#[test]
fn lesson_xhr_stream_shows_the_clock() {
    lesson_page_shows_the_clock("xhr-stream");
}

#[test]
fn lesson_iframe_shows_the_clock() {
    lesson_page_shows_the_clock("iframe");
}

#[test]
fn lesson_jsonp_shows_the_clock() {
    lesson_page_shows_the_clock("jsonp");
}

#[test]
fn lesson_sse_shows_the_clock() {
    lesson_page_shows_the_clock("sse");
}

#[test]
fn lesson_websocket_shows_the_clock() {
    lesson_page_shows_the_clock("websocket");
}
