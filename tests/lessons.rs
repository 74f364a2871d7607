//! The anchors the course's listings are cut from, and the links of the course.
//!
//! Every listing in a chapter is a copy of the lines between `// ANCHOR: name` and
//! `// ANCHOR_END: name` in a compiled file; `tests/book.rs` checks each copy against its region. This
//! file checks the other side: in every file the book takes listings from, each anchor is opened and
//! closed once, in that order, so that no region is cut short or runs to the end of the file. The
//! examples are compiled by `cargo test` (and `cargo clippy --all-targets`), so a listing is always code
//! that builds.

use std::fs;
use std::path::{Path, PathBuf};

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

/// The files the book's listings come from: the examples, the doors, the server, the browser client and
/// the server core's tests.
fn listing_sources() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["examples", "src/transport", "src/server"] {
        for entry in fs::read_dir(root.join(dir)).expect("a source folder") {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.push(root.join("static/pushlab.js"));
    files.push(root.join("tests/server_core.rs"));
    files.sort();
    files
}

#[test]
fn every_anchor_in_the_listing_sources_is_balanced() {
    let mut problems = Vec::new();
    let mut anchors = 0;
    for path in listing_sources() {
        let source = fs::read_to_string(&path).expect("source is UTF-8");
        let names = source
            .lines()
            .filter_map(|line| line.trim().strip_prefix("// ANCHOR: "));
        for name in names {
            anchors += 1;
            if let Some(problem) = anchor_problem(&source, name.trim()) {
                problems.push(format!("{}: {problem}", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The book takes some seventy listings from these files; none found means a broken reader.
    assert!(anchors > 50, "only {anchors} anchors found");
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
        let text = without_comments(&fs::read_to_string(&document).unwrap());
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

/// The text without its HTML comments (`<!-- ... -->`), which no reader sees.
fn without_comments(text: &str) -> String {
    let mut kept = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        kept.push_str(&rest[..start]);
        rest = rest[start..]
            .find("-->")
            .map_or("", |end| &rest[start + end + 3..]);
    }
    kept.push_str(rest);
    kept
}
