//! Reading what `pushlab lab` prints, for the tests that run it: its main table as rows of named
//! cells, so that a test can check every column of every (door, server) row.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The seven doors as the lab names them, in the course's order.
pub const DOORS: [&str; 7] = [
    "short poll",
    "long poll",
    "JSONP",
    "XHR stream",
    "iframe",
    "SSE",
    "WebSocket",
];

/// The doors the floor (`src/lab/floor.rs`) serves.
pub const FLOOR_DOORS: [&str; 5] = ["long poll", "JSONP", "XHR stream", "SSE", "WebSocket"];

/// The doors some peer offers: every door but short polling.
pub fn peer_doors() -> &'static [&'static str] {
    DOORS.get(1..).unwrap_or_default()
}

/// A fresh directory under the target directory for one test's output.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `pushlab lab` with `args` and `--out dir`; returns the output and stdout as text.
pub fn run_lab(args: &[&str], out: &PathBuf) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .arg("lab")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

/// The cells of a Markdown table row, trimmed.
pub fn cells(row: &str) -> Vec<String> {
    row.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(|cell| cell.trim().to_string())
        .collect()
}

/// One row of the lab's main table: its header's names and its cells.
pub struct Row {
    pub columns: Vec<String>,
    pub cells: Vec<String>,
}

impl Row {
    /// The cell under `column`.
    pub fn get(&self, column: &str) -> &str {
        let index = self
            .columns
            .iter()
            .position(|c| c == column)
            .unwrap_or_else(|| panic!("no column {column} in {:?}", self.columns));
        &self.cells[index]
    }
}

/// The rows of the first table whose header starts with `| door | server |`.
pub fn main_table(stdout: &str) -> Vec<Row> {
    let mut lines = stdout
        .lines()
        .skip_while(|line| !line.starts_with("| door | server |"));
    let columns = cells(lines.next().expect("a table header"));
    lines
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .map(|line| Row {
            columns: columns.clone(),
            cells: cells(line),
        })
        .collect()
}

/// The row of `door` served by `server` (the server cell may add a transport in parentheses).
pub fn find_row<'a>(rows: &'a [Row], door: &str, server: &str) -> &'a Row {
    rows.iter()
        .find(|row| {
            row.get("door") == door
                && (row.get("server") == server
                    || row.get("server").starts_with(&format!("{server} (")))
        })
        .unwrap_or_else(|| panic!("no row for {door} on {server}"))
}

/// Every cell of `row` is filled (not empty, not `n/a`), and nothing was lost, duplicated or
/// reordered; `delivered` is `expected`.
pub fn assert_complete(row: &Row, expected: u64) {
    assert_eq!(row.cells.len(), row.columns.len(), "{:?}", row.cells);
    for (column, cell) in row.columns.iter().zip(&row.cells) {
        assert!(
            !cell.is_empty() && cell != "n/a",
            "{} on {}: {column} is {cell:?}",
            row.get("door"),
            row.get("server")
        );
    }
    for column in ["lost", "dup", "out of order"] {
        assert_eq!(
            row.get(column),
            "0",
            "{} on {}",
            row.get("door"),
            row.get("server")
        );
    }
    assert_eq!(
        row.get("delivered"),
        expected.to_string(),
        "{} on {}",
        row.get("door"),
        row.get("server")
    );
}
