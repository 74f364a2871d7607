//! The comparison lab, run for real: `pushlab lab --quick` against its own server, the relay's delay
//! over loopback, and the well-formedness of what the lab writes (Markdown, JSON, SVG).
//!
//! The last test drives headless Chromium through `pushlab.js` (`--browser`).
//!
//! Nothing here asserts how fast anything is. The lab's numbers are read by people; these tests check
//! that the instrument works: every door has a complete row, nothing was lost, the relay delays at
//! least by what it says and passes every byte, and the files parse.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

mod lab_support;

use lab_support::{scratch_dir, DOORS};
use pushlab::client::json::{self, JsonValue};
use pushlab::lab::relay::Relay;
use pushlab::lab::svg::{self, Bar, Curve};

/// The cells of a Markdown table row, trimmed.
fn cells(row: &str) -> Vec<&str> {
    row.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

#[test]
fn a_quick_lab_fills_every_column_for_every_door_and_loses_nothing() {
    let out = scratch_dir("lab-quick");
    let output = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["lab", "--quick", "--seed", "11", "--out"])
        .arg(&out)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lab failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("seed 11"), "{stdout}");
    assert!(
        stderr.contains("[lab]"),
        "no progress line on stderr: {stderr}"
    );

    let header = stdout
        .lines()
        .find(|line| line.starts_with("| door |"))
        .expect("a table header");
    let columns = cells(header);
    for door in DOORS {
        let row = stdout
            .lines()
            .find(|line| line.starts_with(&format!("| {door} |")))
            .unwrap_or_else(|| panic!("no row for {door}:\n{stdout}"));
        let row = cells(row);
        assert_eq!(row.len(), columns.len(), "{door}: {row:?}");
        for (column, cell) in columns.iter().zip(&row) {
            assert!(
                !cell.is_empty() && *cell != "n/a",
                "{door}: {column} is {cell:?}"
            );
        }
        let count = |name: &str| {
            let index = columns.iter().position(|c| *c == name).expect(name);
            row[index].to_string()
        };
        assert_eq!(count("lost"), "0", "{door}");
        assert_eq!(count("dup"), "0", "{door}");
        assert_eq!(count("out of order"), "0", "{door}");
        assert_eq!(count("delivered"), "30", "{door}: 3 clients × 10 messages");
    }

    let json_text = std::fs::read_to_string(out.join("fanout.json")).expect("fanout.json written");
    let value = json::parse(&json_text).expect("fanout.json parses");
    assert_eq!(value.get("seed").and_then(JsonValue::as_u64), Some(11));
    let scenarios = value
        .get("scenarios")
        .and_then(JsonValue::as_array)
        .unwrap();
    let doors = scenarios[0]
        .get("doors")
        .and_then(JsonValue::as_array)
        .unwrap();
    let names: Vec<&str> = doors
        .iter()
        .filter_map(|d| d.get("door").and_then(JsonValue::as_str))
        .collect();
    assert_eq!(names, DOORS);
    for door in doors {
        assert_eq!(door.get("lost").and_then(JsonValue::as_u64), Some(0));
        assert_eq!(door.get("deliveries").and_then(JsonValue::as_u64), Some(30));
    }

    for chart in ["latency", "bytes", "requests"] {
        let path = out.join(format!("fanout-{chart}.svg"));
        let text = std::fs::read_to_string(&path).expect("chart written");
        check_xml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for door in DOORS {
            assert!(text.contains(&format!(">{door}<")), "{chart} lacks {door}");
        }
    }
    let markdown = std::fs::read_to_string(out.join("fanout.md")).expect("fanout.md written");
    assert!(markdown.contains("| WebSocket |"));
}

#[test]
fn the_lab_refuses_a_target_off_loopback() {
    let output = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["lab", "--quick", "--url", "http://192.0.2.1:80/"])
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback only"));
}

/// An echo server on loopback that answers every connection until it closes; returns its address.
fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        // Bounded: the test process ends, and the tests open a handful of connections.
        for socket in listener.incoming().take(8) {
            let Ok(mut socket) = socket else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = socket.read(&mut buf) {
                    if n == 0 || socket.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Sends `bytes` through `socket` and reads the same number back.
fn round_trip(socket: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    socket.write_all(bytes).unwrap();
    let mut echoed = vec![0u8; bytes.len()];
    socket.read_exact(&mut echoed).unwrap();
    echoed
}

#[test]
fn the_relay_delays_each_round_trip_by_at_least_its_rtt_and_counts_every_byte() {
    let rtt = Duration::from_millis(120);
    let relay = Relay::start(echo_server(), rtt).unwrap();
    let mut socket = TcpStream::connect(relay.addr()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    // The first exchange also pays the connection's handshake: one more round trip.
    let started = Instant::now();
    assert_eq!(round_trip(&mut socket, b"hello"), b"hello");
    let first = started.elapsed();
    assert!(
        first >= rtt * 2,
        "first exchange took {first:?}, less than 2 × {rtt:?}"
    );

    let started = Instant::now();
    let payload = vec![b'x'; 10_000];
    assert_eq!(round_trip(&mut socket, &payload), payload);
    let second = started.elapsed();
    assert!(
        second >= rtt,
        "second exchange took {second:?}, less than {rtt:?}"
    );

    let counters = relay.counters();
    let to_server = counters
        .bytes_to_server
        .load(std::sync::atomic::Ordering::Relaxed);
    let to_client = counters
        .bytes_to_client
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!((to_server, to_client), (10_005, 10_005));
    let accepted = counters
        .connections_accepted
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(accepted, 1);
}

#[test]
fn a_relay_without_delay_passes_a_close_through() {
    let relay = Relay::start(echo_server(), Duration::ZERO).unwrap();
    let mut socket = TcpStream::connect(relay.addr()).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(round_trip(&mut socket, b"ping"), b"ping");
    socket.shutdown(std::net::Shutdown::Write).unwrap();
    // The echo server sees end-of-file through the relay and closes; the relay passes that back.
    let mut rest = Vec::new();
    socket.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn charts_escape_their_text_and_parse_back() {
    let bars = [
        Bar {
            label: "a<b & \"c\"".into(),
            segments: vec![10.0, 64.0],
        },
        Bar {
            label: "zero".into(),
            segments: vec![0.0, 0.0],
        },
    ];
    let chart = svg::bar_chart("bytes <per> message", "B", &["overhead", "payload"], &bars);
    check_xml(&chart).unwrap();
    assert!(chart.contains(">a&lt;b &amp; &quot;c&quot;<"), "{chart}");
    assert!(chart.contains(">74 B<"), "the total ends the bar: {chart}");

    let curves = [Curve {
        label: "SSE".into(),
        points: vec![(0.5, 0.0), (0.7, 0.5), (12.0, 1.0)],
    }];
    let chart = svg::cdf_chart("latency", &curves);
    check_xml(&chart).unwrap();
    assert!(chart.contains("<polyline"));
    assert!(
        chart.contains(">10 ms<"),
        "a decade line is labelled: {chart}"
    );
    assert!(check_xml("<svg><rect></svg>").is_err());
    assert!(check_xml("<svg>a < b</svg>").is_err());
}

/// A minimal XML well-formedness check, enough for what the SVG writer emits: tags nest and close,
/// attribute values are quoted, text holds no raw `<` and only known entities after `&`.
fn check_xml(text: &str) -> Result<(), String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = text.trim();
    let mut roots = 0;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').ok_or("a tag never ends")?;
            let tag = &after[..end];
            rest = &after[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match open.pop() {
                    Some(expected) if expected == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("bad tag name {name:?}"));
            }
            check_attributes(attributes)?;
            if open.is_empty() {
                roots += 1;
            }
            if !self_closing {
                open.push(name.to_string());
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            check_text(&rest[..end])?;
            if open.is_empty() && !rest[..end].trim().is_empty() {
                return Err("text outside the root".into());
            }
            rest = &rest[end..];
        }
    }
    match (open.is_empty(), roots) {
        (true, 1) => Ok(()),
        (false, _) => Err(format!("never closed: {open:?}")),
        (true, n) => Err(format!("{n} root elements")),
    }
}

fn check_attributes(mut attributes: &str) -> Result<(), String> {
    // Bounded: each pass consumes one `name="value"`.
    loop {
        attributes = attributes.trim_start();
        if attributes.is_empty() {
            return Ok(());
        }
        let (name, after) = attributes
            .split_once("=\"")
            .ok_or(format!("unquoted attribute in {attributes:?}"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-:".contains(c))
        {
            return Err(format!("bad attribute name {name:?}"));
        }
        let end = after.find('"').ok_or("an attribute value never ends")?;
        check_text(&after[..end])?;
        attributes = &after[end + 1..];
    }
}

fn check_text(text: &str) -> Result<(), String> {
    if text.contains('<') {
        return Err(format!("raw < in {text:?}"));
    }
    for (index, _) in text.match_indices('&') {
        let entity = &text[index..];
        if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
            .iter()
            .any(|known| entity.starts_with(known))
        {
            return Err(format!("bare & in {text:?}"));
        }
    }
    Ok(())
}

#[test]
fn over_a_slow_relay_no_door_delivers_faster_than_half_a_round_trip() {
    let out = scratch_dir("lab-rtt");
    let output = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["lab", "--quick", "--seed", "5", "--rtt", "60ms", "--out"])
        .arg(&out)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "lab failed:\n{stdout}");
    assert!(out.join("fanout-rtt60ms.json").exists());
    let header = cells(stdout.lines().find(|l| l.starts_with("| door |")).unwrap());
    let p50_column = header.iter().position(|c| *c == "p50 ms").unwrap();
    for door in DOORS {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {door} |")))
            .unwrap();
        let p50: f64 = cells(line)[p50_column].parse().unwrap();
        // The publisher is next to the server; the message still crosses the relay once: 30 ms.
        assert!(p50 >= 30.0, "{door}: p50 {p50} ms through a 60 ms relay");
    }
}

/// Chromium, or a skip that says so; under `CI` a missing browser fails instead.
fn chromium_or_skip(test: &str) -> bool {
    if pushlab::lab::browser::available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: chromium is not installed, and CI must run this test (apt-get install chromium)"
    );
    println!("SKIPPED {test}: chromium is not installed (apt-get install chromium)");
    false
}

/// `pushlab lab --browser`: a row for every transport of `pushlab.js`, each message delivered, the
/// browser's request heads measured (and larger than the lab client's, which sends only what the
/// protocol needs), and SSE, which holds one HTTP connection per channel, leaving a second tab's
/// request waiting while six channels are open. Nothing here bounds how fast anything is: "blocked"
/// means still unanswered after a wait, which a slow machine cannot turn into "answered".
#[test]
fn the_lab_drives_chromium_through_every_transport() {
    if !chromium_or_skip("the_lab_drives_chromium_through_every_transport") {
        return;
    }
    let out = scratch_dir("lab-browser");
    let output = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args([
            "lab",
            "--quick",
            "--scenario",
            "single",
            "--browser",
            "--seed",
            "19",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "lab failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("| transport | door |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .collect();
    let transports: Vec<String> = table
        .iter()
        .map(|line| cells(line)[0].to_string())
        .collect();
    assert_eq!(
        transports,
        [
            "poll",
            "longpoll",
            "jsonp",
            "stream",
            "iframe",
            "sse",
            "websocket"
        ]
    );
    let header = cells(
        stdout
            .lines()
            .find(|line| line.starts_with("| transport | door |"))
            .unwrap(),
    );
    let column = |name: &str| header.iter().position(|c| c.starts_with(name)).unwrap();
    for line in &table {
        let row = cells(line);
        assert_eq!(row.len(), header.len(), "{line}");
        assert_eq!(row[column("delivered")], "5 of 5", "{line}");
        let browser: f64 = row[column("request head B (browser)")].parse().unwrap();
        let lab: f64 = row[column("request head B (lab client)")].parse().unwrap();
        assert!(browser > lab, "{line}");
        assert!(!row[column("a second tab")].is_empty(), "{line}");
    }
    let sse = cells(table[5]);
    assert!(
        sse[column("a second tab")].starts_with("blocked"),
        "six SSE channels hold all six connections: {}",
        table[5]
    );
    let json = std::fs::read_to_string(out.join("single.json")).expect("single.json written");
    let value = json::parse(&json).expect("single.json parses");
    let rows = value
        .get("browser")
        .and_then(|b| b.get("transports"))
        .and_then(JsonValue::as_array)
        .expect("the browser's rows in the JSON");
    assert_eq!(rows.len(), 7);
}

/// `pushlab lab --quick --floor`: the floor (`src/lab/floor.rs`) has a complete row on each of its
/// five doors, nothing lost, in the same run as pushlab; the Markdown has a table of CPU above the
/// floor with a pushlab cell on each of those doors, and the JSON gives pushlab's rows on them a
/// number for it (and the doors the floor lacks `null`).
#[test]
fn a_quick_lab_measures_the_floor_beside_pushlab() {
    use lab_support::FLOOR_DOORS;
    let out = scratch_dir("lab-floor");
    let (output, stdout) = lab_support::run_lab(&["--quick", "--seed", "12", "--floor"], &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lab failed:\n{stdout}\n{stderr}");
    let rows = lab_support::main_table(&stdout);
    assert_eq!(rows.len(), DOORS.len() + FLOOR_DOORS.len(), "{stdout}");
    for door in FLOOR_DOORS {
        lab_support::assert_complete(lab_support::find_row(&rows, door, "floor"), 30);
        lab_support::assert_complete(lab_support::find_row(&rows, door, "pushlab"), 30);
    }

    let above = stdout
        .split("#### fanout: server CPU above the floor")
        .nth(1)
        .expect("a table of CPU above the floor");
    let header = above
        .lines()
        .find(|line| line.starts_with("| door |"))
        .expect("its header");
    assert_eq!(cells(header), ["door", "floor", "pushlab"]);
    for door in FLOOR_DOORS {
        let line = above
            .lines()
            .find(|line| line.starts_with(&format!("| {door} |")))
            .unwrap_or_else(|| panic!("no line for {door}:\n{above}"));
        let row = cells(line);
        assert_eq!(row.len(), 3, "{line}");
        assert!(row[1].parse::<f64>().is_ok(), "{door}: floor {:?}", row[1]);
        let above_floor = row[2].split(' ').next().unwrap_or_default();
        assert!(
            above_floor.parse::<f64>().is_ok(),
            "{door}: pushlab {:?}",
            row[2]
        );
    }

    let json_text = std::fs::read_to_string(out.join("fanout.json")).expect("fanout.json written");
    let value = json::parse(&json_text).expect("fanout.json parses");
    let doors = value
        .get("scenarios")
        .and_then(JsonValue::as_array)
        .unwrap()[0]
        .get("doors")
        .and_then(JsonValue::as_array)
        .unwrap()
        .to_vec();
    let number = |value: &JsonValue| match value {
        JsonValue::Number(text) => text.parse::<f64>().ok(),
        _ => None,
    };
    let field = |door: &str, server: &str| {
        let row = doors
            .iter()
            .find(|d| {
                d.get("door").and_then(JsonValue::as_str) == Some(door)
                    && d.get("server").and_then(JsonValue::as_str) == Some(server)
            })
            .unwrap_or_else(|| panic!("no JSON row for {door} on {server}"));
        row.get("cpu_above_floor_ms_per_1k").cloned()
    };
    for door in FLOOR_DOORS {
        let on_pushlab = field(door, "pushlab").expect("the field");
        assert!(number(&on_pushlab).is_some(), "{door}: {on_pushlab:?}");
        let on_floor = field(door, "floor").expect("the field");
        assert_eq!(
            number(&on_floor),
            Some(0.0),
            "{door}: the floor above itself"
        );
    }
    assert_eq!(field("short poll", "pushlab"), Some(JsonValue::Null));
    assert!(out.join("fanout-floor-latency.svg").is_file());
}

/// `pushlab lab --quick --floor --repeat 3`: each chosen door is measured three times, every server in
/// turn each time. The main table is the first run's; the tables over the runs give each run's figure
/// and the median (the middle one), and the JSON keeps every run's rows, the first run's being the
/// main table's.
#[test]
fn a_repeated_lab_reports_every_run_and_the_median() {
    let out = scratch_dir("lab-repeat");
    let args = [
        "--quick",
        "--seed",
        "13",
        "--floor",
        "--repeat",
        "3",
        "--door",
        "sse",
        "--door",
        "websocket",
    ];
    let (output, stdout) = lab_support::run_lab(&args, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lab failed:\n{stdout}\n{stderr}");
    // The progress says which run is going on, door by door, in order.
    let runs_announced: Vec<&str> = stderr
        .split("[lab] ")
        .filter(|line| line.contains(": run "))
        .map(|line| line.lines().next().unwrap_or_default().trim())
        .collect();
    assert_eq!(
        runs_announced,
        [
            "fanout / SSE: run 1 of 3",
            "fanout / SSE: run 2 of 3",
            "fanout / SSE: run 3 of 3",
            "fanout / WebSocket: run 1 of 3",
            "fanout / WebSocket: run 2 of 3",
            "fanout / WebSocket: run 3 of 3",
        ],
        "{stderr}"
    );
    let rows = lab_support::main_table(&stdout);
    assert_eq!(rows.len(), 4, "the first run's rows only:\n{stdout}");

    let table_after = |heading: &str| -> Vec<Vec<String>> {
        let rest = stdout
            .split(heading)
            .nth(1)
            .unwrap_or_else(|| panic!("no table {heading:?}:\n{stdout}"));
        rest.lines()
            .skip_while(|line| !line.starts_with("| door |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(lab_support::cells)
            .collect()
    };
    let number = |text: &str| {
        text.parse::<f64>()
            .unwrap_or_else(|_| panic!("not a number: {text:?}"))
    };
    let runs_and_median = |cells: &[String], at: usize| {
        let runs: Vec<f64> = cells[at].split(" · ").map(number).collect();
        (runs, number(&cells[at + 1]))
    };
    for (heading, figures) in [
        (
            "#### fanout: 3 runs, pushlab's p99 ms and server CPU",
            [1, 3],
        ),
        (
            "#### fanout: 3 runs, pushlab's server CPU above the floor",
            [1, 3],
        ),
    ] {
        let lines = table_after(heading);
        let doors: Vec<&str> = lines.iter().map(|cells| cells[0].as_str()).collect();
        assert_eq!(doors, ["SSE", "WebSocket"], "{heading}");
        for cells in &lines {
            assert_eq!(cells.len(), 5, "{cells:?}");
            for at in figures {
                let (mut runs, median) = runs_and_median(cells, at);
                assert_eq!(runs.len(), 3, "{cells:?}");
                // Three runs: the median is the middle value, printed the same way.
                runs.sort_by(f64::total_cmp);
                assert_eq!(median, runs[1], "{heading}: {cells:?}");
            }
        }
    }

    let json_text = std::fs::read_to_string(out.join("fanout.json")).expect("fanout.json written");
    let value = json::parse(&json_text).expect("fanout.json parses");
    let scenario = &value
        .get("scenarios")
        .and_then(JsonValue::as_array)
        .expect("scenarios")[0];
    let runs = scenario
        .get("runs")
        .and_then(JsonValue::as_array)
        .expect("the runs");
    assert_eq!(runs.len(), 3);
    assert_eq!(
        scenario.get("doors"),
        Some(&runs[0]),
        "the main rows are the first run's"
    );
    for run in runs {
        let rows = run.as_array().expect("a run is an array of rows");
        let order: Vec<(&str, &str)> = rows
            .iter()
            .map(|row| {
                let field = |name| row.get(name).and_then(JsonValue::as_str).unwrap_or("?");
                (field("door"), field("server"))
            })
            .collect();
        // Door by door, every server in turn within each run.
        assert_eq!(
            order,
            [
                ("SSE", "pushlab"),
                ("SSE", "floor"),
                ("WebSocket", "pushlab"),
                ("WebSocket", "floor")
            ]
        );
    }
}
