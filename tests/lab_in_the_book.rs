//! The course's lab numbers are the lab's: chapters 14 and 16 quote `benches/results/lab/`, which
//! `pushlab lab` wrote, and this test keeps them from drifting apart.
//!
//! - Every table row of chapter 14 is a row of a results file, byte for byte, except the table of
//!   nginx's own CPU, whose cells are checked against the "nginx's own CPU" line of the fanout run.
//! - Chapter 16's summary table is computed here from the fanout run, the same run over a 100 ms round
//!   trip and the idle run (pushlab's direct rows), and must be exactly the table in the chapter.
//! - Chapter 17's cost tables are runs of `benches/results/scaling-out.md`, row for row: the 400-client
//!   table one of the example's two runs, the 10,000-client table one of the two runs of the edges
//!   bench's scale-out scenario; and the other run's p99s the prose quotes are that run's.
//!
//! After a new lab run (`cargo run --release -- lab --scenario all --proxy nginx --peers --browser
//! --pin --seed 2026`, then the slow-network run named in chapter 14), rewrite chapter 16's table with
//!
//! ```text
//! BLESS=1 cargo test --test lab_in_the_book
//! ```
//!
//! and read the diff: the prose around the table may have to follow the numbers. Chapter 14's tables
//! are copied from the run's Markdown by hand, with the prose that reads them.

mod lab_support;

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use lab_support::DOORS;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every lab results file in Markdown, in `benches/results/lab/` and the folders in it (a run with
/// `--out` writes its own).
fn results_files() -> Vec<(PathBuf, String)> {
    let mut folders = vec![root().join("benches/results/lab")];
    let mut files = Vec::new();
    while let Some(folder) = folders.pop() {
        for path in fs::read_dir(&folder)
            .expect("a results folder")
            .flatten()
            .map(|entry| entry.path())
        {
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                let text = fs::read_to_string(&path).expect("readable");
                files.push((path, text));
            }
        }
    }
    files.sort();
    files
}

fn cells(row: &str) -> Vec<&str> {
    row.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

fn is_table_row(line: &str) -> bool {
    line.starts_with('|')
}

fn is_separator(line: &str) -> bool {
    line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// One scenario's main table in a results file: (door, server) to the row's cells by column name.
type ScenarioTable = HashMap<(String, String), HashMap<String, String>>;

/// The main table of `scenario` (the one under `### {scenario}:`) in `text`.
fn scenario_table(text: &str, scenario: &str) -> ScenarioTable {
    let heading = format!("### {scenario}:");
    let start = text
        .find(&heading)
        .unwrap_or_else(|| panic!("no section {heading}"));
    let mut lines = text[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !is_table_row(l));
    let header: Vec<String> = cells(lines.next().expect("a header"))
        .into_iter()
        .map(String::from)
        .collect();
    let mut table = ScenarioTable::new();
    for line in lines.take_while(|l| is_table_row(l)) {
        if is_separator(line) {
            continue;
        }
        let row = cells(line);
        let by_column: HashMap<String, String> = header
            .iter()
            .cloned()
            .zip(row.iter().map(|c| c.to_string()))
            .collect();
        table.insert((row[0].to_string(), row[1].to_string()), by_column);
    }
    table
}

/// `2389` as `2,389`: the chapters write thousands with a comma.
fn with_thousands(number: &str) -> String {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.len() <= 3 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return number.to_string();
    }
    let mut grouped = String::new();
    for (at, digit) in whole.chars().enumerate() {
        if at > 0 && (whole.len() - at) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if fraction.is_empty() {
        grouped
    } else {
        format!("{grouped}.{fraction}")
    }
}

/// `145 (80.5 + 64)`: the total and the overhead.
fn total_and_overhead(bytes_in: &str) -> (String, String) {
    let (total, rest) = bytes_in
        .split_once(" (")
        .expect("total (overhead + payload)");
    let overhead = rest.split(" + ").next().expect("overhead");
    (total.to_string(), overhead.to_string())
}

const CHAPTER_16: &str = "tutorials/16-choosing.md";
const CHAPTER_16_HEADER: &str =
    "| door | p50 latency, loopback | p50 latency, 100 ms round trip | \
requests per 1,000 messages | overhead bytes per message | bytes for one message on an idle \
connection | server CPU ms per 1,000 deliveries |";

/// The runs chapter 16's table is computed from: the fanout and idle scenarios on loopback, and the
/// fanout over a 100 ms round trip (both with the code of `c2aeca5`; chapter 14 keeps the runs of
/// earlier code).
const CHAPTER_16_RUN: &str = "benches/results/lab/choosing/fanout-idle.md";
const CHAPTER_16_SLOW_RUN: &str = "benches/results/lab/choosing-rtt100ms/fanout-rtt100ms.md";

/// Chapter 16's table, from pushlab's direct rows of the fanout, slow-network and idle runs.
fn chapter_16_table() -> String {
    let combined = read(CHAPTER_16_RUN);
    let fanout = scenario_table(&combined, "fanout");
    let idle = scenario_table(&combined, "idle");
    let slow = scenario_table(&read(CHAPTER_16_SLOW_RUN), "fanout");
    let mut table = format!("{CHAPTER_16_HEADER}\n|---|---:|---:|---:|---:|---:|---:|\n");
    for door in DOORS {
        let key = (door.to_string(), "pushlab".to_string());
        let (fast, slow, idle) = (&fanout[&key], &slow[&key], &idle[&key]);
        let (_, overhead) = total_and_overhead(&fast["bytes in / msg (overhead + payload)"]);
        let (idle_total, _) = total_and_overhead(&idle["bytes in / msg (overhead + payload)"]);
        table.push_str(&format!(
            "| {door} | {} ms | {} ms | {} | {overhead} | {} | {} |\n",
            fast["p50 ms"],
            slow["p50 ms"],
            with_thousands(&fast["requests / 1k msg"]),
            with_thousands(&idle_total),
            fast["server CPU ms / 1k"],
        ));
    }
    table
}

/// The table in `text` that starts with `header`, through its last row.
fn table_span(text: &str, header: &str) -> (usize, usize) {
    let start = text
        .find(header)
        .unwrap_or_else(|| panic!("no table starting {header}"));
    let mut end = start;
    for line in text[start..].split_inclusive('\n') {
        if !is_table_row(line) {
            break;
        }
        end += line.len();
    }
    (start, end)
}

#[test]
fn chapter_16_quotes_the_lab_run() {
    let text = read(CHAPTER_16);
    let (start, end) = table_span(&text, CHAPTER_16_HEADER);
    let expected = chapter_16_table();
    if std::env::var_os("BLESS").is_some() {
        let rewritten = format!("{}{expected}{}", &text[..start], &text[end..]);
        fs::write(root().join(CHAPTER_16), rewritten).expect("writable");
        return;
    }
    assert_eq!(
        &text[start..end],
        expected,
        "{CHAPTER_16}'s lab table is not the lab's results (BLESS=1 rewrites it)"
    );
}

/// The line of the fanout run that gives nginx's CPU per door and mode.
fn nginx_cpu_line() -> String {
    let combined = read("benches/results/lab/single-fanout-idle-broadcast.md");
    let fanout = &combined[combined.find("### fanout:").expect("a fanout run")..];
    fanout
        .lines()
        .find(|line| line.starts_with("nginx's own CPU"))
        .expect("nginx's CPU in the fanout run")
        .to_string()
}

/// The rows of `chapter` (chapter 14's text) that no results file holds.
fn chapter_14_problems(chapter: &str) -> (usize, Vec<String>) {
    let results: Vec<String> = results_files().into_iter().map(|(_, text)| text).collect();
    let is_result_row = |row: &str| {
        results
            .iter()
            .any(|text| text.lines().any(|line| line == row))
    };
    let nginx_cpu = nginx_cpu_line();
    let modes = ["nginx-default", "nginx-buffering-off", "nginx-ignore-accel"];
    let mut problems = Vec::new();
    let mut rows = 0;
    // The table right after the line that introduces nginx's CPU, up to its last row.
    let mut in_nginx_cpu_table = false;
    let mut previous_was_row = false;
    for (number, line) in chapter.lines().enumerate() {
        if line.starts_with("nginx's own CPU") {
            in_nginx_cpu_table = true;
        }
        if !is_table_row(line) {
            if previous_was_row {
                in_nginx_cpu_table = false;
            }
            previous_was_row = false;
            continue;
        }
        previous_was_row = true;
        if is_separator(line) || line.starts_with("| door |") {
            continue;
        }
        rows += 1;
        if in_nginx_cpu_table {
            let row = cells(line);
            for (mode, value) in modes.iter().zip(&row[1..]) {
                let quoted = format!("{} (pushlab / {mode}) {value}", row[0]);
                if !nginx_cpu.contains(&format!("{quoted},"))
                    && !nginx_cpu.contains(&format!("{quoted}."))
                {
                    problems.push(format!("line {}: {quoted}", number + 1));
                }
            }
        } else if !is_result_row(line) {
            problems.push(format!("line {}: {line}", number + 1));
        }
    }
    (rows, problems)
}

#[test]
fn chapter_14_tables_are_rows_of_the_results() {
    let (rows, problems) = chapter_14_problems(&read("tutorials/14-comparison.md"));
    assert!(rows > 50, "only {rows} table rows in chapter 14");
    assert!(
        problems.is_empty(),
        "rows of chapter 14 that no lab results file holds:\n{}",
        problems.join("\n")
    );
}

/// The heading of the 10,000-client section of `benches/results/scaling-out.md`; the runs of chapter 17's
/// example come before it.
const FAN_OUT_10K: &str = "## Fan-out to 10,000";

/// The body rows (no header, no separator) of every table in `text`, one list per table: a table is a
/// run of consecutive lines that start with `|`.
fn tables(text: &str) -> Vec<Vec<String>> {
    let mut tables = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut header_next = true;
    for line in text.lines() {
        if is_table_row(line) {
            if header_next {
                header_next = false;
            } else if !is_separator(line) {
                current.push(line.to_string());
            }
        } else {
            header_next = true;
            if !current.is_empty() {
                tables.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        tables.push(current);
    }
    tables
}

/// The runs of chapter 17's example in `benches/results/scaling-out.md` (its `## Run N` sections), each
/// as its table rows.
fn scaling_out_runs() -> Vec<Vec<String>> {
    let results = read("benches/results/scaling-out.md");
    let before_10k = results.split(FAN_OUT_10K).next().unwrap_or_default();
    before_10k
        .split("## Run ")
        .skip(1)
        .flat_map(tables)
        .collect()
}

/// The runs of the edges bench's scale-out scenario in `benches/results/scaling-out.md` (the tables
/// of its "Fan-out to 10,000" section), each as its table rows.
fn fan_out_10k_runs() -> Vec<Vec<String>> {
    let results = read("benches/results/scaling-out.md");
    let section = results
        .split_once(FAN_OUT_10K)
        .map(|(_, after)| after)
        .expect("a \"Fan-out to 10,000\" section in benches/results/scaling-out.md");
    tables(section)
}

/// Chapter 17's "What it costs" section.
fn chapter_17_costs(chapter: &str) -> &str {
    let section = &chapter[chapter.find("## What it costs").expect("the costs section")..];
    &section[..section.find("\n## On paper").expect("the next section")]
}

/// Where `table` is among `runs`, and the sentence that must quote the p99s (column `p99_column`) of
/// the other run: `Err` says what is wrong.
fn quoted_run(table: &[String], runs: &[Vec<String>], p99_column: usize) -> Result<String, String> {
    if runs.len() != 2 {
        return Err(format!("expected two runs, found {}", runs.len()));
    }
    let quoted = runs
        .iter()
        .position(|run| run == table)
        .ok_or_else(|| format!("this table is none of the runs:\n{}", table.join("\n")))?;
    let other = &runs[1 - quoted];
    let p99s: Vec<&str> = other
        .iter()
        .map(|row| cells(row).get(p99_column).copied().unwrap_or("?"))
        .collect();
    match p99s.as_slice() {
        [first, second, third] => Ok(format!("p99s of {first}, {second} and {third}")),
        _ => Err(format!("expected three setups, found {}", p99s.len())),
    }
}

#[test]
fn chapter_17_quotes_a_scaling_out_run() {
    let chapter = read("tutorials/17-scaling-out.md");
    let section = chapter_17_costs(&chapter);
    let chapter_tables = tables(section);
    let table_400 = chapter_tables
        .first()
        .expect("the 400-client table in chapter 17's costs");
    let sentence = quoted_run(table_400, &scaling_out_runs(), 2)
        .map(|p99s| format!("{p99s} ms"))
        .unwrap_or_else(|problem| panic!("chapter 17, 400 clients: {problem}"));
    assert!(
        section.contains(&sentence),
        "chapter 17 should quote the other run as \"{sentence}\""
    );
}

/// The 10,000-client table of chapter 17 is one of the two runs of the edges bench's scale-out scenario,
/// byte for byte, and the prose quotes the other run's p99s.
#[test]
fn chapter_17_quotes_a_fan_out_to_10k_run() {
    let chapter = read("tutorials/17-scaling-out.md");
    let section = chapter_17_costs(&chapter);
    let chapter_tables = tables(section);
    let table_10k = chapter_tables
        .get(1)
        .expect("the 10,000-client table in chapter 17's costs, after the 400-client one");
    let sentence = quoted_run(table_10k, &fan_out_10k_runs(), 5)
        .unwrap_or_else(|problem| panic!("chapter 17, 10,000 clients: {problem}"));
    assert!(
        section.contains(&sentence),
        "chapter 17 should quote the other 10,000-client run as \"{sentence}\""
    );
}

/// The 10,000-client check fails on a table with one changed cell.
#[test]
fn a_changed_fan_out_cell_is_caught() {
    let runs = fan_out_10k_runs();
    let first = runs.first().expect("a run").clone();
    assert!(quoted_run(&first, &runs, 5).is_ok());
    let mut changed = first.clone();
    changed[0] = changed[0].replacen(" | 0 | ", " | 1 | ", 1);
    assert_ne!(changed, first, "the row has a 0 to change");
    assert!(quoted_run(&changed, &runs, 5).is_err());
}

/// Each check fails on a chapter whose number moved: one cell of a main table, one of the nginx CPU
/// table, one of chapter 16's.
#[test]
fn the_checks_fail_on_a_changed_number() {
    let chapter = read("tutorials/14-comparison.md");
    let row = chapter
        .lines()
        .find(|line| line.starts_with("| SSE | pushlab |"))
        .expect("an SSE row");
    let changed_row = row.replacen(" | 5 | ", " | 6 | ", 1);
    assert_ne!(row, changed_row, "the row has a 5 to change");
    let (_, problems) = chapter_14_problems(&chapter.replacen(row, &changed_row, 1));
    assert_eq!(problems.len(), 1, "{problems:?}");
    let cpu_row = chapter
        .lines()
        .skip_while(|line| !line.starts_with("nginx's own CPU"))
        .find(|line| line.starts_with("| SSE |"))
        .expect("nginx's CPU row for SSE");
    let (_, problems) =
        chapter_14_problems(&chapter.replacen(cpu_row, "| SSE | 999 | 999 | 999 |", 1));
    assert_eq!(problems.len(), 3, "{problems:?}");

    assert_eq!(with_thousands("2389"), "2,389");
    assert_eq!(with_thousands("1234567.5"), "1,234,567.5");
    assert_eq!(with_thousands("468"), "468");
    let table = chapter_16_table();
    assert_eq!(table.lines().count(), 2 + DOORS.len());
    let moved = table.replacen("| SSE | ", "| SSE | 1", 1);
    assert_ne!(moved, table, "a moved number is a different table");
}
