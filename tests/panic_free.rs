//! No panic reachable from the network, checked: the lints that enforce it stay switched on.
//!
//! A server that panics on a byte it reads hands every client a way to stop it. The code that reads
//! the wire (`http`, `ws`, `transport`, `hub`, `server` and `json`) is therefore written to be total:
//! `get()`, `split_at_checked`, `first()`, iterators and `let ... else` with a proper error, never
//! `unwrap()`, `expect()` or `buf[i]` (see "No panic from the network" in `src/lib.rs`). Clippy
//! checks that, but only while each module root keeps its `deny` attribute, and one deleted line
//! would switch the rule off for a whole layer without a single failing build. This test reads the
//! source and fails when:
//!
//! - a module root in scope loses `#![cfg_attr(not(test), deny(...))]` or a lint from its list
//!   ([`PANIC_LINTS`]);
//! - a file (or an item) that turns numbers from the wire into sizes loses its
//!   `deny(clippy::arithmetic_side_effects)` ([`ARITHMETIC_FILES`], [`ARITHMETIC_ITEMS`]);
//! - an exception (`#[allow(clippy::indexing_slicing)]` or any other lint of the lists) appears in
//!   scope without a `//` comment just above it saying why it cannot panic.
//!
//! The source is read as text, well enough for attributes: `//` comments are dropped first (so an
//! attribute quoted in a comment never counts), then the leading inner attributes (`#![...]`) of the
//! file are collected with their brackets matched, and whitespace is ignored inside them.

use std::fs;
use std::path::{Path, PathBuf};

/// The module roots whose non-test code must deny [`PANIC_LINTS`].
const MODULE_ROOTS: &[&str] = &[
    "src/http/mod.rs",
    "src/ws/mod.rs",
    "src/transport/mod.rs",
    "src/hub/mod.rs",
    "src/server/mod.rs",
    "src/json.rs",
    "src/redis/mod.rs",
];

/// What every module root denies outside tests: each is a way for a byte from the wire to panic.
const PANIC_LINTS: &[&str] = &[
    "clippy::unwrap_used",
    "clippy::expect_used",
    "clippy::indexing_slicing",
    "clippy::string_slice",
    "clippy::panic",
    "clippy::unreachable",
    "clippy::todo",
    "clippy::unimplemented",
    // Not a panic, but its cousin: a 64-bit length from the wire cast with `as` to a 32-bit `usize`
    // is silently cut short.
    "clippy::cast_possible_truncation",
];

/// Files where a number read from the wire becomes a size or an id, which deny unchecked arithmetic.
const ARITHMETIC_FILES: &[&str] = &[
    "src/http/framing.rs",
    "src/http/percent.rs",
    "src/ws/frame.rs",
    "src/hub/topic.rs",
];

/// Single items that deny unchecked arithmetic in a file that does not: (file, the item's first line).
const ARITHMETIC_ITEMS: &[(&str, &str)] = &[(
    "src/http/chunked.rs",
    "fn step(&mut self, byte: u8) -> Result<SizeLineStep, HttpError> {",
)];

const ARITHMETIC_LINT: &str = "clippy::arithmetic_side_effects";

/// Where an exception to the lints needs a comment that says why it cannot panic.
const SCOPE: &[&str] = &[
    "src/http",
    "src/ws",
    "src/transport",
    "src/hub",
    "src/server",
    "src/json.rs",
    "src/redis",
];

#[test]
fn every_module_root_in_scope_denies_the_panic_lints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for file in MODULE_ROOTS {
        let source = read(&root.join(file));
        problems.extend(missing_denials(&source, PANIC_LINTS).map(|lint| {
            format!("{file}: no `#![cfg_attr(not(test), deny({lint}))]` at the top of the file")
        }));
    }
    for file in ARITHMETIC_FILES {
        let source = read(&root.join(file));
        problems.extend(missing_denials(&source, &[ARITHMETIC_LINT]).map(|lint| {
            format!("{file}: no `#![cfg_attr(not(test), deny({lint}))]` at the top of the file")
        }));
    }
    for (file, item) in ARITHMETIC_ITEMS {
        if !item_denies(&read(&root.join(file)), item, ARITHMETIC_LINT) {
            problems.push(format!(
                "{file}: `{item}` lost its `#[cfg_attr(not(test), deny({ARITHMETIC_LINT}))]`"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the lints that keep the network from panicking the server are off:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_exception_in_scope_says_why_it_cannot_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for entry in SCOPE {
        collect_rust_files(&root.join(entry), &mut files);
    }
    assert!(files.len() > 30, "found only {} files", files.len());
    let mut exceptions = 0;
    let mut problems = Vec::new();
    for file in &files {
        let source = read(file);
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        for exception in exceptions_in(&source) {
            exceptions += 1;
            if !exception.justified {
                problems.push(format!(
                    "{name}:{}: an exception to the panic lints without a `//` comment above it \
                     saying why it cannot panic",
                    exception.line
                ));
            }
        }
    }
    println!("{exceptions} justified exception(s) to the panic lints in scope");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The lints of `wanted` that no leading `#![cfg_attr(not(test), deny(...))]` (or `#![deny(...)]`,
/// which holds in tests too) of `source` names.
fn missing_denials<'a>(source: &str, wanted: &'a [&'a str]) -> impl Iterator<Item = &'a str> {
    let denied: Vec<String> = leading_inner_attributes(source)
        .iter()
        .filter_map(|attribute| {
            let outside_tests = attribute
                .strip_prefix("#![cfg_attr(not(test),deny(")
                .and_then(|rest| rest.strip_suffix("))]"));
            let always = || {
                attribute
                    .strip_prefix("#![deny(")
                    .and_then(|rest| rest.strip_suffix(")]"))
            };
            outside_tests.or_else(always).map(str::to_string)
        })
        .flat_map(|list| {
            list.split(',')
                .filter(|lint| !lint.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    wanted
        .iter()
        .copied()
        .filter(move |lint| !denied.iter().any(|d| d == lint))
}

/// Whether the item starting with the line `item` has `#[cfg_attr(not(test), deny(lint))]` among the
/// attributes just above it.
fn item_denies(source: &str, item: &str, lint: &str) -> bool {
    let wanted = format!("#[cfg_attr(not(test), deny({lint}))]");
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    let Some(at) = lines.iter().position(|line| *line == item) else {
        return false;
    };
    lines
        .get(..at)
        .unwrap_or_default()
        .iter()
        .rev()
        .take_while(|line| line.starts_with('#'))
        .any(|line| *line == wanted)
}

/// The inner attributes (`#![...]`) before the first item of `source`, whitespace removed.
fn leading_inner_attributes(source: &str) -> Vec<String> {
    let code: String = source
        .lines()
        .map(|line| match line.find("//") {
            Some(comment) => line.get(..comment).unwrap_or(line),
            None => line,
        })
        .flat_map(|line| line.chars().chain(['\n']))
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut attributes = Vec::new();
    let mut rest = code.as_str();
    while rest.starts_with("#![") {
        let mut depth = 0usize;
        let end = rest.char_indices().find_map(|(i, c)| {
            match c {
                '[' | '(' => depth += 1,
                ']' | ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            (depth == 0 && c == ']').then_some(i + 1)
        });
        let Some((attribute, tail)) = end.and_then(|end| rest.split_at_checked(end)) else {
            break;
        };
        attributes.push(attribute.to_string());
        rest = tail;
    }
    attributes
}

/// One `allow` or `expect` of a lint from the lists.
struct Exception {
    /// 1-based line number.
    line: usize,
    /// Whether a `//` comment (not a doc comment) sits just above the attribute.
    justified: bool,
}

/// Every `allow(...)`/`expect(...)` attribute in `source` that names a lint of the lists.
fn exceptions_in(source: &str) -> Vec<Exception> {
    let lines: Vec<&str> = source.lines().collect();
    let guarded: Vec<&str> = PANIC_LINTS
        .iter()
        .chain(&[ARITHMETIC_LINT])
        .copied()
        .collect();
    let mut exceptions = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let is_exception = code.starts_with('#')
            && (code.contains("allow(") || code.contains("expect("))
            && guarded.iter().any(|lint| code.contains(lint));
        if !is_exception {
            continue;
        }
        // Other attributes may stand between the comment and this one.
        let above = lines
            .get(..index)
            .unwrap_or_default()
            .iter()
            .rev()
            .map(|line| line.trim_start())
            .find(|line| !line.starts_with('#'));
        let justified =
            above.is_some_and(|line| line.starts_with("//") && !line.starts_with("///"));
        exceptions.push(Exception {
            line: index + 1,
            justified,
        });
    }
    exceptions
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn collect_rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.extension().is_some_and(|ext| ext == "rs") {
        out.push(path.to_path_buf());
        return;
    }
    let entries = fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let path = entry.path();
        if path.is_dir() || path.extension().is_some_and(|ext| ext == "rs") {
            collect_rust_files(&path, out);
        }
    }
}

// The checker itself: each rule is seen to fail on a source that breaks it.

const GOOD_ROOT: &str = "//! Docs.\n\
//! More docs.\n\
#![cfg_attr(\n    not(test),\n    deny(\n        clippy::unwrap_used,\n        clippy::expect_used,\n\
        clippy::indexing_slicing,\n        clippy::string_slice,\n        clippy::panic,\n        clippy::unreachable,\n\
        clippy::todo,\n        clippy::unimplemented,\n        clippy::cast_possible_truncation,\n    )\n)]\n\
\n\
pub mod frame;\n";

#[test]
fn a_root_with_the_whole_list_passes() {
    assert_eq!(missing_denials(GOOD_ROOT, PANIC_LINTS).count(), 0);
}

#[test]
fn a_root_without_the_attribute_or_with_part_of_the_list_is_reported() {
    let without = "//! Docs.\n\npub mod frame;\n";
    assert_eq!(
        missing_denials(without, PANIC_LINTS).collect::<Vec<_>>(),
        PANIC_LINTS
    );
    let partial = GOOD_ROOT.replace("clippy::indexing_slicing,", "");
    assert_eq!(
        missing_denials(&partial, PANIC_LINTS).collect::<Vec<_>>(),
        ["clippy::indexing_slicing"]
    );
}

#[test]
fn an_attribute_in_a_comment_after_an_item_or_for_tests_only_does_not_count() {
    let commented = "// #![cfg_attr(not(test), deny(clippy::unwrap_used))]\npub mod a;\n";
    let after_item = "pub mod a;\n#![cfg_attr(not(test), deny(clippy::unwrap_used))]\n";
    let tests_only = "#![cfg_attr(test, deny(clippy::unwrap_used))]\npub mod a;\n";
    let warn_only = "#![cfg_attr(not(test), warn(clippy::unwrap_used))]\npub mod a;\n";
    for source in [commented, after_item, tests_only, warn_only] {
        assert_eq!(
            missing_denials(source, &["clippy::unwrap_used"]).count(),
            1,
            "{source}"
        );
    }
    let arithmetic =
        "//! Docs.\n// Why.\n#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]\n";
    assert_eq!(missing_denials(arithmetic, &[ARITHMETIC_LINT]).count(), 0);
}

#[test]
fn an_item_keeps_its_arithmetic_lint_only_directly_above_it() {
    let item = "fn step(&mut self) {";
    let lint = ARITHMETIC_LINT;
    let attribute = "#[cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]";
    let kept = format!("// Why.\n{attribute}\n#[inline]\nfn step(&mut self) {{\n");
    assert!(item_denies(&kept, item, lint));
    let lost = format!("{attribute}\nfn other() {{}}\nfn step(&mut self) {{\n");
    assert!(!item_denies(&lost, item, lint));
    assert!(!item_denies("fn renamed(&mut self) {\n", item, lint));
}

#[test]
fn an_exception_needs_a_comment_above_it() {
    let source = "fn a() {}\n\
// Cannot panic: the header is 2 bytes, checked above.\n\
#[allow(clippy::indexing_slicing)]\n\
fn b() {}\n\
/// Docs are not a reason.\n\
#[inline]\n\
#[allow(clippy::unwrap_used)]\n\
fn c() {}\n\
#[allow(dead_code)]\n\
fn d() {}\n";
    let found: Vec<(usize, bool)> = exceptions_in(source)
        .iter()
        .map(|e| (e.line, e.justified))
        .collect();
    assert_eq!(found, [(3, true), (7, false)]);
}
