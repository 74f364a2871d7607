//! The course cannot drift from the code: every `{{#include ../examples/FILE:ANCHOR}}` in a chapter
//! under `tutorials/` must name an example that exists and an anchor that the example opens with
//! `// ANCHOR: name` and closes with `// ANCHOR_END: name`, once each, in that order.
//!
//! The examples themselves are compiled by `cargo test` (and `cargo clippy --all-targets`), so an
//! anchored snippet is always code that builds.

use std::fs;
use std::path::{Path, PathBuf};

/// One `{{#include ...}}` found in a chapter.
#[derive(Debug, PartialEq, Eq)]
struct Include {
    /// The chapter it is in, and its line number (1-based), for the failure message.
    chapter: String,
    line: usize,
    /// The path as written, relative to `tutorials/`.
    path: String,
    /// The anchor name, if the include names one (not a line range).
    anchor: Option<String>,
}

/// Every `{{#include PATH}}` and `{{#include PATH:ANCHOR}}` in `text`. A numeric suffix (`:10` or
/// `:10:20`, mdBook's line ranges) is not an anchor.
fn includes(chapter: &str, text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{#include ") {
            let after = &rest[start + "{{#include ".len()..];
            let Some(end) = after.find("}}") else {
                break;
            };
            let spec = after[..end].trim();
            let (path, anchor) = match spec.split_once(':') {
                Some((path, suffix)) if !suffix.starts_with(|c: char| c.is_ascii_digit()) => {
                    (path, Some(suffix.to_string()))
                }
                Some((path, _line_range)) => (path, None),
                None => (spec, None),
            };
            found.push(Include {
                chapter: chapter.to_string(),
                line: index + 1,
                path: path.to_string(),
                anchor,
            });
            rest = &after[end + 2..];
        }
    }
    found
}

/// What is wrong with `anchor` in `source`, if anything: each marker must appear exactly once (as a
/// whole comment line), and the start before the end.
fn anchor_problem(source: &str, anchor: &str) -> Option<String> {
    let marker_lines = |marker: String| -> Vec<usize> {
        source
            .lines()
            .enumerate()
            .filter(|(_, line)| line.trim() == marker)
            .map(|(index, _)| index)
            .collect()
    };
    let starts = marker_lines(format!("// ANCHOR: {anchor}"));
    let ends = marker_lines(format!("// ANCHOR_END: {anchor}"));
    match (starts.as_slice(), ends.as_slice()) {
        ([], _) => Some(format!("no `// ANCHOR: {anchor}`")),
        (_, []) => Some(format!("no `// ANCHOR_END: {anchor}`")),
        ([start], [end]) if start < end => None,
        ([_], [_]) => Some(format!("`// ANCHOR_END: {anchor}` comes before its start")),
        _ => Some(format!(
            "anchor `{anchor}` is opened or closed more than once"
        )),
    }
}

fn tutorials_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tutorials")
}

fn chapters() -> Vec<(String, String)> {
    let mut chapters: Vec<(String, String)> = fs::read_dir(tutorials_dir())
        .expect("tutorials/ exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&path).expect("chapter is UTF-8"))
        })
        .collect();
    chapters.sort();
    chapters
}

#[test]
fn every_anchored_include_names_an_anchor_that_exists() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, text) in chapters() {
        for include in includes(&name, &text) {
            let file = tutorials_dir().join(&include.path);
            let Ok(source) = fs::read_to_string(&file) else {
                problems.push(format!(
                    "{}:{}: {} does not exist",
                    include.chapter, include.line, include.path
                ));
                continue;
            };
            checked += 1;
            if let Some(anchor) = &include.anchor {
                if let Some(problem) = anchor_problem(&source, anchor) {
                    problems.push(format!(
                        "{}:{}: {}: {problem}",
                        include.chapter, include.line, include.path
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken includes:\n{}",
        problems.join("\n")
    );
    // The chapters do include code; finding none would mean this test reads them wrongly.
    assert!(checked > 20, "only {checked} includes found in tutorials/");
}

#[test]
fn every_anchor_in_the_examples_is_balanced() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut problems = Vec::new();
    for entry in fs::read_dir(examples).expect("examples/ exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let source = fs::read_to_string(&path).expect("example is UTF-8");
        let names = source
            .lines()
            .filter_map(|line| line.trim().strip_prefix("// ANCHOR: "));
        for name in names {
            if let Some(problem) = anchor_problem(&source, name.trim()) {
                problems.push(format!("{}: {problem}", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn include_parser_reads_paths_anchors_and_line_ranges() {
    let text = "intro\n```rust\n{{#include ../examples/03_short_poll.rs:loop}}\n```\n\
                {{#include ../examples/a.rs}} and {{#include ../examples/b.rs:10:20}}\n";
    let found = includes("x.md", text);
    let summary: Vec<(usize, &str, Option<&str>)> = found
        .iter()
        .map(|i| (i.line, i.path.as_str(), i.anchor.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, "../examples/03_short_poll.rs", Some("loop")),
            (5, "../examples/a.rs", None),
            (5, "../examples/b.rs", None),
        ]
    );
}

#[test]
fn anchor_checker_finds_each_kind_of_drift() {
    let good = "// ANCHOR: a\nfn a() {}\n// ANCHOR_END: a\n";
    assert_eq!(anchor_problem(good, "a"), None);
    assert!(anchor_problem(good, "b")
        .unwrap()
        .contains("no `// ANCHOR: b`"));
    assert!(anchor_problem("// ANCHOR: a\n", "a")
        .unwrap()
        .contains("ANCHOR_END"));
    assert!(anchor_problem("// ANCHOR_END: a\n// ANCHOR: a\n", "a")
        .unwrap()
        .contains("before"));
    assert!(anchor_problem(&format!("{good}{good}"), "a")
        .unwrap()
        .contains("more than once"));
    // `// ANCHOR: ab` is not `// ANCHOR: a`.
    assert!(anchor_problem("// ANCHOR: ab\n// ANCHOR_END: ab\n", "a").is_some());
}

/// Every relative link `[text](path)` in the chapters and the README points at a file that exists, so
/// renaming a chapter or an example cannot leave the course pointing nowhere.
#[test]
fn every_relative_link_in_the_course_points_at_a_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documents: Vec<PathBuf> = chapters()
        .into_iter()
        .map(|(name, _)| tutorials_dir().join(name))
        .collect();
    documents.push(root.join("README.md"));
    let mut checked = 0;
    for document in documents {
        let text = fs::read_to_string(&document).unwrap();
        let base = document.parent().unwrap();
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            let path = target.split('#').next().unwrap_or("");
            let external =
                path.contains("://") || path.starts_with("mailto:") || path.starts_with('/');
            if path.is_empty() || external || path.contains(char::is_whitespace) {
                continue;
            }
            assert!(
                base.join(path).exists(),
                "{}: link to missing {path}",
                document.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked > 20,
        "only {checked} links checked: is the link finder broken?"
    );
}
