//! Listings: code in the chapters that is a copy of an anchored region of compiled source.
//!
//! A listing in a chapter is four things, in this order:
//!
//! ````text
//! <!-- listing: examples/04_long_poll.rs:config -->
//! ```rust,ignore
//! ...the lines between `ANCHOR: config` and `ANCHOR_END: config` in examples/04_long_poll.rs...
//! ```
//! *Listing 4-1: What the listing shows ([`examples/04_long_poll.rs`](../examples/04_long_poll.rs))*
//! ````
//!
//! The marker names the source file (from the repository root) and the anchor. The region is taken as
//! mdBook takes it for an include: the lines strictly between `ANCHOR: name` and `ANCHOR_END: name`,
//! byte for byte, without the lines of other anchors nested inside. A listing inside a list item is
//! indented like its fence, and that indentation is not part of the code. The caption's number and
//! source link are generated; its text is written by hand.
//!
//! [`check`] lists every difference; [`bless`] rewrites the chapters so that there is none, turning
//! any leftover mdBook include directive into a listing on the way.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The comment that opens a listing, before the path and the anchor.
const MARKER_OPEN: &str = "<!-- listing: ";
/// The comment's end.
const MARKER_CLOSE: &str = " -->";
/// mdBook's directive for including a file; a forge shows it as an empty code block.
const INCLUDE: &str = "{{#include ";

/// One problem found in a chapter, with where it is.
#[derive(Debug)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.what)
    }
}

/// A source file's anchored regions, read once per run.
#[derive(Default)]
pub struct Sources {
    root: PathBuf,
    files: BTreeMap<String, Option<String>>,
}

impl Sources {
    pub fn new(root: &Path) -> Sources {
        Sources {
            root: root.to_path_buf(),
            files: BTreeMap::new(),
        }
    }

    /// The lines of `anchor` in `path` (from the repository root), or why there are none.
    pub fn region(&mut self, path: &str, anchor: &str) -> Result<Vec<String>, String> {
        let root = self.root.clone();
        let text = self
            .files
            .entry(path.to_string())
            .or_insert_with(|| fs::read_to_string(root.join(path)).ok());
        let Some(text) = text else {
            return Err(format!("{path} cannot be read"));
        };
        anchored_lines(text, anchor).ok_or_else(|| format!("{path} has no anchor `{anchor}`"))
    }
}

/// The lines strictly between `ANCHOR: anchor` and `ANCHOR_END: anchor`, without other anchors'
/// lines: the region an mdBook include of `file:anchor` shows. `None` when the anchor is missing.
pub fn anchored_lines(text: &str, anchor: &str) -> Option<Vec<String>> {
    let mut inside = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if inside {
            if anchor_name(line, "ANCHOR_END:") == Some(anchor) {
                return Some(lines);
            }
            if anchor_name(line, "ANCHOR:").is_none() && anchor_name(line, "ANCHOR_END:").is_none()
            {
                lines.push(line.to_string());
            }
        } else if anchor_name(line, "ANCHOR:") == Some(anchor) {
            inside = true;
        }
    }
    // mdBook takes an anchor that is never closed to the end of the file.
    inside.then_some(lines)
}

/// The name after `keyword` on an anchor line (`// ANCHOR: name`), if the line is one.
fn anchor_name<'a>(line: &'a str, keyword: &str) -> Option<&'a str> {
    let start = line.find(keyword)? + keyword.len();
    let rest = line.get(start..)?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let name = rest.get(..end)?;
    (!name.is_empty()).then_some(name)
}

/// A listing as found in a chapter: where its lines are and what they say.
struct Listing {
    /// Index of the marker line.
    marker: usize,
    /// Spaces before the marker, the fences and every code line.
    indent: String,
    source: String,
    anchor: String,
    /// Index of the closing fence.
    close: usize,
    /// The code lines, without the indentation.
    code: Vec<String>,
    /// The caption line's hand-written text, if there is a caption.
    caption_text: Option<String>,
}

/// The label of the listings in `chapter` ("4" for `04-long-poll.md`, "E4" for `exercises/ch04.md`),
/// or `None` for a page that is not numbered.
pub fn chapter_label(chapter: &Path) -> Option<String> {
    let stem = chapter.file_stem()?.to_str()?;
    let in_exercises = chapter
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "exercises");
    let digits: String = stem
        .trim_start_matches("ch")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let number: u32 = digits.parse().ok()?;
    Some(if in_exercises {
        format!("E{number}")
    } else {
        number.to_string()
    })
}

/// The path from `chapter` (relative to the repository root) back to the root: `../` per directory.
fn path_to_root(chapter_from_root: &Path) -> String {
    let depth = chapter_from_root.components().count().saturating_sub(1);
    "../".repeat(depth)
}

/// The caption line that follows a listing's closing fence.
fn caption(indent: &str, label: &str, text: &str, source: &str, to_root: &str) -> String {
    format!("{indent}*Listing {label}: {text} ([`{source}`]({to_root}{source}))*")
}

/// The hand-written text of a caption line, if `line` is one (`*Listing N-M: text (...)*`).
fn caption_text(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("*Listing ")?;
    let (_, rest) = rest.split_once(": ")?;
    let text = match rest.rfind(" ([`") {
        Some(end) => rest.get(..end)?,
        None => rest.strip_suffix('*')?,
    };
    Some(text.to_string())
}

/// The marker's source and anchor, if `line` is a listing marker.
fn parse_marker(line: &str) -> Option<(String, String, String)> {
    let trimmed = line.trim_start();
    let indent = line.get(..line.len() - trimmed.len())?.to_string();
    let inner = trimmed
        .strip_prefix(MARKER_OPEN)?
        .strip_suffix(MARKER_CLOSE)?;
    let (source, anchor) = inner.rsplit_once(':')?;
    Some((indent, source.to_string(), anchor.to_string()))
}

/// Every listing in a chapter's lines, or the first line where the shape is wrong.
fn find_listings(lines: &[&str]) -> Result<Vec<Listing>, (usize, String)> {
    let mut listings = Vec::new();
    let mut index = 0;
    // The backticks of the code block we are in, if any: a marker shown inside a code block (as the
    // book's README shows one) is text, not a listing.
    let mut open_fence: Option<usize> = None;
    while index < lines.len() {
        let backticks = fence_length(lines[index]);
        match (open_fence, backticks) {
            (None, Some(length)) => open_fence = Some(length),
            (Some(open), Some(length)) if length >= open && lines[index].trim().len() == length => {
                open_fence = None
            }
            _ => {}
        }
        if open_fence.is_some() || backticks.is_some() {
            index += 1;
            continue;
        }
        let Some((indent, source, anchor)) = parse_marker(lines[index]) else {
            index += 1;
            continue;
        };
        let marker = index;
        let open = marker + 1;
        let opens_fence = lines.get(open).is_some_and(|line| {
            line.strip_prefix(indent.as_str())
                .is_some_and(|l| l.starts_with("```"))
        });
        if !opens_fence {
            return Err((
                open,
                "a listing marker must be followed by a code fence".into(),
            ));
        }
        let close = (open + 1..lines.len())
            .find(|&i| lines[i].trim_end() == format!("{indent}```"))
            .ok_or((open, "the listing's code fence is never closed".to_string()))?;
        let code = lines[open + 1..close]
            .iter()
            .map(|line| {
                line.strip_prefix(indent.as_str())
                    .unwrap_or(line.trim_start())
                    .to_string()
            })
            .collect();
        let caption_text = lines.get(close + 1).and_then(|line| caption_text(line));
        listings.push(Listing {
            marker,
            indent,
            source,
            anchor,
            close,
            code,
            caption_text,
        });
        index = close + 1;
    }
    Ok(listings)
}

/// The number of backticks that open or close a code block on this line, if it is a fence.
fn fence_length(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    let length = trimmed.chars().take_while(|&c| c == '`').count();
    (length >= 3).then_some(length)
}

/// The fence's info string for a source file: Rust listings are not doctests (they are parts of
/// compiled files, not whole programs), so they are `ignore`d by `mdbook test`.
fn fence_language(source: &str) -> &'static str {
    match Path::new(source).extension().and_then(|e| e.to_str()) {
        Some("rs") => "rust,ignore",
        Some("js") => "js",
        Some("html") => "html",
        Some("toml") => "toml",
        _ => "text",
    }
}

/// Every problem with the listings of one chapter. `chapter_from_root` is its path from the root.
pub fn check(text: &str, chapter_from_root: &Path, sources: &mut Sources) -> Vec<Problem> {
    let problem = |line: usize, what: String| Problem {
        file: chapter_from_root.to_path_buf(),
        line: line + 1,
        what,
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut problems: Vec<Problem> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.contains(INCLUDE))
        .map(|(i, _)| {
            problem(
                i,
                "an mdBook include: a forge shows it as an empty block".into(),
            )
        })
        .collect();
    let listings = match find_listings(&lines) {
        Ok(listings) => listings,
        Err((line, what)) => {
            problems.push(problem(line, what));
            return problems;
        }
    };
    let label = chapter_label(chapter_from_root);
    let to_root = path_to_root(chapter_from_root);
    problems.extend(
        references_to_missing_listings(&lines, label.as_deref(), listings.len())
            .into_iter()
            .map(|(line, what)| problem(line, what)),
    );
    for (number, listing) in listings.iter().enumerate() {
        let where_from = format!("{}:{}", listing.source, listing.anchor);
        match sources.region(&listing.source, &listing.anchor) {
            Ok(region) if region == listing.code => {}
            Ok(_) => problems.push(problem(
                listing.marker,
                format!("listing {where_from} differs from its anchored region"),
            )),
            Err(why) => problems.push(problem(listing.marker, why)),
        }
        let fence = format!("{}```{}", listing.indent, fence_language(&listing.source));
        if lines[listing.marker + 1] != fence {
            problems.push(problem(
                listing.marker + 1,
                format!("the fence should be `{fence}`"),
            ));
        }
        let expected_caption = listing.caption_text.as_ref().map(|text| {
            let label = listing_label(label.as_deref(), number);
            caption(&listing.indent, &label, text, &listing.source, &to_root)
        });
        match expected_caption {
            Some(expected) if lines[listing.close + 1] == expected => {}
            Some(expected) => problems.push(problem(
                listing.close + 1,
                format!("the caption should read `{expected}`"),
            )),
            None => problems.push(problem(
                listing.close + 1,
                format!("listing {where_from} has no caption line (`*Listing N-M: ...*`)"),
            )),
        }
    }
    problems
}

/// Prose that names a listing of this chapter ("listing 15-1") that does not exist: the numbers move
/// when a listing is added, and the text must move with them. Captions are not prose.
fn references_to_missing_listings(
    lines: &[&str],
    chapter: Option<&str>,
    count: usize,
) -> Vec<(usize, String)> {
    let Some(chapter) = chapter else {
        return Vec::new();
    };
    let prefix = format!("isting {chapter}-");
    let mut missing = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("*Listing ") {
            continue;
        }
        for (at, _) in line.match_indices(&prefix) {
            let digits: String = line[at + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let number: usize = digits.parse().unwrap_or(0);
            if number == 0 || number > count {
                missing.push((
                    index,
                    format!("the text names listing {chapter}-{digits}, which does not exist"),
                ));
            }
        }
    }
    missing
}

/// "4-2" for the second listing of chapter 4; "2" on a page without a number.
fn listing_label(chapter: Option<&str>, index: usize) -> String {
    match chapter {
        Some(chapter) => format!("{chapter}-{}", index + 1),
        None => (index + 1).to_string(),
    }
}

/// The chapter with every include turned into a listing and every listing made true: code from its
/// anchored region, the fence's language, the caption's number and link. Captions are kept, or
/// written from the anchor's name when missing.
pub fn bless(
    text: &str,
    chapter_from_root: &Path,
    sources: &mut Sources,
) -> Result<String, String> {
    let text = includes_to_markers(text, chapter_from_root);
    let lines: Vec<&str> = text.lines().collect();
    let listings = find_listings(&lines)
        .map_err(|(line, what)| format!("{}:{}: {what}", chapter_from_root.display(), line + 1))?;
    let label = chapter_label(chapter_from_root);
    let to_root = path_to_root(chapter_from_root);
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut next = 0;
    for (number, listing) in listings.iter().enumerate() {
        out.extend(lines[next..=listing.marker].iter().map(|l| l.to_string()));
        let indent = &listing.indent;
        out.push(format!("{indent}```{}", fence_language(&listing.source)));
        let region = sources
            .region(&listing.source, &listing.anchor)
            .map_err(|why| {
                format!(
                    "{}:{}: {why}",
                    chapter_from_root.display(),
                    listing.marker + 1
                )
            })?;
        for line in region {
            out.push(if line.is_empty() {
                line
            } else {
                format!("{indent}{line}")
            });
        }
        out.push(format!("{indent}```"));
        let text = listing
            .caption_text
            .clone()
            .unwrap_or_else(|| format!("`{}`", listing.anchor));
        let label = listing_label(label.as_deref(), number);
        out.push(caption(indent, &label, &text, &listing.source, &to_root));
        next = listing.close + 1 + usize::from(listing.caption_text.is_some());
    }
    out.extend(lines[next..].iter().map(|l| l.to_string()));
    let mut result = out.join("\n");
    if text.ends_with('\n') {
        result.push('\n');
    }
    Ok(result)
}

/// Replaces each fenced include directive by a marker before its fence (the code itself is then
/// filled in by [`bless`]).
fn includes_to_markers(text: &str, chapter_from_root: &Path) -> String {
    let chapter_dir = chapter_from_root.parent().unwrap_or(Path::new(""));
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let directive = trimmed
            .strip_prefix(INCLUDE)
            .and_then(|rest| rest.strip_suffix("}}"));
        let Some(directive) = directive else {
            out.push(line.to_string());
            continue;
        };
        let Some((path, anchor)) = directive.trim().rsplit_once(':') else {
            out.push(line.to_string());
            continue;
        };
        let source = normalise(&chapter_dir.join(path));
        // The fence opened on the line before; the marker goes before the fence.
        let fence_indent = lines
            .get(index.wrapping_sub(1))
            .map(|fence| &fence[..fence.len() - fence.trim_start().len()])
            .unwrap_or("");
        let fence = out.pop().unwrap_or_default();
        out.push(format!(
            "{fence_indent}{MARKER_OPEN}{source}:{anchor}{MARKER_CLOSE}"
        ));
        out.push(fence);
        // A placeholder line: bless replaces everything between the fences.
        out.push(format!("{fence_indent}..."));
    }
    let mut result = out.join("\n");
    if text.ends_with('\n') {
        result.push('\n');
    }
    result
}

/// `a/b/../c` as `a/c`, with `/` separators.
fn normalise(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "fn main() {\n    // ANCHOR: all\n    let a = 1;\n    // ANCHOR: inner\n    let b = 2;\n    // ANCHOR_END: inner\n}\n// ANCHOR_END: all\n";

    #[test]
    fn a_region_is_the_lines_between_its_anchors_without_nested_anchors() {
        assert_eq!(
            anchored_lines(SOURCE, "all").unwrap(),
            ["    let a = 1;", "    let b = 2;", "}"]
        );
        assert_eq!(anchored_lines(SOURCE, "inner").unwrap(), ["    let b = 2;"]);
        assert_eq!(anchored_lines(SOURCE, "missing"), None);
        // A prefix of another anchor's name is not that anchor.
        assert_eq!(anchored_lines(SOURCE, "al"), None);
    }

    #[test]
    fn labels_come_from_the_file_name() {
        assert_eq!(
            chapter_label(Path::new("tutorials/04-long-poll.md")).as_deref(),
            Some("4")
        );
        assert_eq!(
            chapter_label(Path::new("tutorials/exercises/ch12.md")).as_deref(),
            Some("E12")
        );
        assert_eq!(chapter_label(Path::new("tutorials/glossary.md")), None);
    }
}
