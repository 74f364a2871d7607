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
//!   published while it was away, each exactly once;
//! - behind a proxy that cuts every XHR stream response just past its prelude, the page backs off
//!   (a handful of requests in a window, not hundreds);
//! - on a quiet SSE topic with a short heartbeat interval, the page's watchdog sees the heartbeats and
//!   never reopens the EventSource.
//!
//! Chromium is looked for at `/usr/bin/chromium`, then on `PATH`. Without it the tests print a line and
//! pass, except when the `CI` environment variable is set: CI must run them, so there they fail.
//! The tests take Chromium one at a time (a static mutex): the machines they run on are small.

#[path = "browser/support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use support::{
    chromium_or_skip, topic_data, transport_changes, unique_run_id, Browser, CuttingProxy, Fields,
    Json, Reports,
};

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

#[test]
fn xhr_stream_backs_off_when_a_proxy_cuts_every_response_after_its_prelude() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let server = start_server(test_config());
    let cut_after = stream_head_and_prelude_bytes(server.addr);
    let proxy = CuttingProxy::start(server.addr, "GET /stream/", Some(cut_after));
    let _one_at_a_time = BROWSER_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (reports, _browser, _topic) = quiet_page(&chromium, &server, proxy.addr, "stream", None);
    reports.wait_for("opened", OPEN_TIMEOUT);
    let opened_at = proxy.watched_requests();
    thread::sleep(CUT_WINDOW);
    let requests = proxy.watched_requests() - opened_at;
    println!(
        "stream requests through the cutting proxy (cut after {cut_after} bytes) in {CUT_WINDOW:?}: {requests}"
    );
    // Backoff from 250 ms doubling (each delay in the upper half of its ceiling) gives at most 6 in
    // 8 s; reopening at once after every cut gives hundreds, and a backoff that every open resets to
    // its base about 40.
    assert!(
        (2..=8).contains(&requests),
        "{requests} stream requests in {CUT_WINDOW:?}: expected a growing backoff"
    );
}

#[test]
fn sse_on_a_quiet_topic_with_heartbeats_is_opened_once() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let heartbeat = Duration::from_millis(300);
    let server = start_server(Config {
        heartbeat_interval: heartbeat,
        ..test_config()
    });
    // Counts the EventSource's requests; cuts nothing.
    let proxy = CuttingProxy::start(server.addr, "GET /sse/", None);
    let _one_at_a_time = BROWSER_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (reports, _browser, topic) =
        quiet_page(&chromium, &server, proxy.addr, "sse", Some(heartbeat));
    reports.wait_for("opened", OPEN_TIMEOUT);
    // Quiet for ten heartbeat intervals: five periods of the page's watchdog (2 x heartbeat).
    thread::sleep(heartbeat * 10);
    server
        .publish(&topic, "after the quiet")
        .unwrap_or_else(|e| panic!("publish: {e}"));
    let done = reports.wait_for("done", DONE_TIMEOUT);
    assert_eq!(done.str_list("data"), vec!["after the quiet".to_string()]);
    assert_eq!(done.str_list("errors"), Vec::<String>::new(), "{done:?}");
    assert_eq!(done.u64_field("opens"), 1, "{done:?}");
    let requests = done.get("stats").map(|stats| stats.u64_field("requests"));
    assert_eq!(requests, Some(1), "{done:?}");
    assert_eq!(
        proxy.watched_requests(),
        1,
        "EventSource requests seen on the wire"
    );
}

// Sessions: the page as one client of the `echo` channel application, through every transport.

#[test]
fn session_over_short_poll_hears_its_private_echoes() {
    session_echo("poll", test_config());
}

#[test]
fn session_over_long_poll_hears_its_private_echoes() {
    session_echo("longpoll", test_config());
}

#[test]
fn session_over_xhr_stream_hears_its_private_echoes() {
    session_echo("stream", test_config());
}

#[test]
fn session_over_iframe_hears_its_private_echoes() {
    session_echo("iframe", test_config());
}

#[test]
fn session_over_jsonp_hears_its_private_echoes() {
    session_echo("jsonp", test_config());
}

#[test]
fn session_over_sse_hears_its_private_echoes() {
    session_echo("sse", test_config());
}

#[test]
fn session_over_websocket_hears_its_private_echoes() {
    if let Some(report) = session_echo("websocket", test_config()) {
        assert_eq!(report.str_field("transport"), "websocket");
    }
}

#[test]
fn session_in_auto_mode_falls_back_to_sse_when_websocket_is_refused() {
    let config = Config {
        refuse_websocket: true,
        ..test_config()
    };
    if let Some(report) = session_echo("auto", config) {
        assert_eq!(report.str_field("transport"), "sse", "{report:?}");
    }
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

/// How long the cut XHR stream is watched.
const CUT_WINDOW: Duration = Duration::from_secs(8);

/// Bytes of an XHR stream response up to the end of its prelude (head included), read directly from
/// the server: the proxy cuts just past them.
fn stream_head_and_prelude_bytes(addr: SocketAddr) -> usize {
    let mut socket = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"));
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("timeout: {e}"));
    let request = format!("GET /stream/prelude-probe HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    socket
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("write: {e}"));
    // The prelude is one chunk holding one padding line: it ends with `"}` LF and the chunk's CRLF.
    let end_of_prelude = b"\"}\n\r\n";
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        if let Some(at) = bytes
            .windows(end_of_prelude.len())
            .position(|w| w == end_of_prelude)
        {
            return at + end_of_prelude.len();
        }
        let n = socket
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read: {e}"));
        assert!(n > 0, "the stream ended before its prelude");
        bytes.extend_from_slice(&buf[..n]);
    }
    panic!("no end of prelude in {} bytes", bytes.len());
}

/// Starts Chromium on `test.html` loaded through `via` (a proxy), subscribed to a fresh, quiet topic
/// with `transport` (returned last); the page reports to a results topic, read directly from the server.
fn quiet_page(
    chromium: &Path,
    server: &RunningServer,
    via: SocketAddr,
    transport: &str,
    heartbeat: Option<Duration>,
) -> (Reports, Browser, String) {
    let run = unique_run_id();
    let topic = format!("bt-{run}");
    let results = format!("bt-{run}-results");
    let mut query = format!(
        "transport={transport}&topic={topic}&results={results}&run={run}&expect=1&timeout_ms={}",
        (DONE_TIMEOUT + OPEN_TIMEOUT + CUT_WINDOW).as_millis()
    );
    if let Some(heartbeat) = heartbeat {
        query.push_str(&format!("&heartbeat_ms={}", heartbeat.as_millis()));
    }
    let browser = Browser::start(chromium, &format!("http://{via}/test.html?{query}"));
    let reports = Reports {
        addr: server.addr,
        topic: results,
    };
    (reports, browser, topic)
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

/// A session of the `echo` application: the page sends `MESSAGES` numbered messages to the application
/// and must hear each one back, once, in order, through `transport`; the session's private queue on the
/// server must hold exactly those.
/// `None` when the test was skipped (no Chromium, and CI not set).
fn session_echo(transport: &'static str, config: Config) -> Option<Json> {
    let chromium = chromium_or_skip()?;
    let server = start_server(config);
    let _one_at_a_time = BROWSER_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let run = unique_run_id();
    let results = format!("bt-{run}-results");
    let query = format!(
        "transport={transport}&app=echo&sends={MESSAGES}&expect={MESSAGES}&results={results}&run={run}&timeout_ms={}",
        DONE_TIMEOUT.as_millis() + OPEN_TIMEOUT.as_millis(),
    );
    let _browser = Browser::start(
        &chromium,
        &format!("http://{}/test.html?{query}", server.addr),
    );
    let reports = Reports {
        addr: server.addr,
        topic: results,
    };
    let opened = reports.wait_for("opened", OPEN_TIMEOUT);
    let session = opened.str_field("session");
    assert_eq!(session.len(), 32, "a 128-bit session id: {opened:?}");
    let report = reports.wait_for("done", DONE_TIMEOUT);

    let wanted: Vec<String> = (0..MESSAGES).map(|i| format!("echo-{i}")).collect();
    assert_eq!(report.str_list("data"), wanted, "{report:?}");
    let ids = report.u64_list("ids");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids: {ids:?}");
    assert_eq!(
        report.str_list("errors"),
        Vec::<String>::new(),
        "{report:?}"
    );
    assert_eq!(
        topic_data(server.addr, &format!("session-{session}")),
        wanted,
        "the session's private queue on the server"
    );
    Some(report)
}
