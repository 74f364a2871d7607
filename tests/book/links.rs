//! Links: every relative link in the book resolves, in the Markdown a forge shows and in the HTML that
//! mdBook renders.
//!
//! In the Markdown, a link is `[text](target)` or `![alt](target)` outside code; its path is relative
//! to the chapter and must name a file of the repository, and its `#fragment` must name a heading of
//! the target page (by mdBook's rule for heading ids, which GitHub's matches for plain headings) or an
//! element with that `id`. In the HTML, `href` and `src` attributes are checked the same way against
//! the ids of the rendered pages. The book is rendered to `book/` at the repository root, so a link
//! that leaves the book (`../examples/04_long_poll.rs`) lands on the repository's own file, in a
//! checkout and in the rendered book alike.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use super::listings::Problem;

/// A link's target: a path (empty for the same page) and a fragment (empty for none).
fn split_target(target: &str) -> (&str, &str) {
    match target.split_once('#') {
        Some((path, fragment)) => (path, fragment),
        None => (target, ""),
    }
}

/// Whether a target leaves the repository: another scheme, or an absolute URL.
fn is_external(target: &str) -> bool {
    target.contains("://")
        || ["mailto:", "javascript:", "data:", "//"]
            .iter()
            .any(|prefix| target.starts_with(prefix))
}

/// The id mdBook gives a heading with this text: lowercase, alphanumerics, `_` and `-` kept, spaces
/// made `-`, everything else dropped.
pub fn heading_id(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c)
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// A heading's text as rendered: code spans and emphasis unwrapped, links reduced to their text.
fn rendered_heading_text(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    while let Some(start) = rest.find("](") {
        text.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start + 2..).unwrap_or("");
        rest = after
            .find(')')
            .map_or("", |end| after.get(end + 1..).unwrap_or(""));
    }
    text.push_str(rest);
    text.chars()
        .filter(|c| !matches!(c, '`' | '*' | '[' | ']'))
        .collect()
}

/// The lines of a Markdown text that are prose: not inside a fenced code block, and not inside an
/// HTML comment that spans lines (which no reader sees).
fn prose_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut in_fence = false;
    let mut in_comment = false;
    text.lines().enumerate().filter(move |(_, line)| {
        if in_comment {
            in_comment = !line.contains("-->");
            return false;
        }
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            return false;
        }
        if !in_fence && line.trim_start().starts_with("<!--") && !line.contains("-->") {
            in_comment = true;
            return false;
        }
        !in_fence
    })
}

/// The ids a Markdown page offers to fragments: its headings' and explicit `id="..."` attributes.
pub fn markdown_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (_, line) in prose_lines(text) {
        if let Some(heading) = line.strip_prefix('#') {
            let id = heading_id(&rendered_heading_text(heading.trim_start_matches('#')));
            // mdBook numbers a repeated heading id: `id`, `id-1`, `id-2`.
            let count = seen.entry(id.clone()).or_insert(0);
            ids.insert(if *count == 0 {
                id
            } else {
                format!("{id}-{count}")
            });
            *count += 1;
        }
        ids.extend(attribute_values(line, "id"));
    }
    ids
}

/// Every value of `attribute="..."` in a line of Markdown or an HTML tag (whitespace before it, so that
/// `id` does not match `data-id`).
fn attribute_values(text: &str, attribute: &str) -> Vec<String> {
    let needle = format!("{attribute}=\"");
    let mut values = Vec::new();
    let mut searched = 0;
    while let Some(found) = text.get(searched..).and_then(|rest| rest.find(&needle)) {
        let start = searched + found;
        let value_start = start + needle.len();
        let after = text.get(value_start..).unwrap_or("");
        let Some(end) = after.find('"') else { break };
        let preceded_by_space = text
            .get(..start)
            .and_then(|before| before.chars().last())
            .is_some_and(char::is_whitespace);
        if preceded_by_space {
            values.push(after.get(..end).unwrap_or("").to_string());
        }
        searched = value_start + end;
    }
    values
}

/// The inline link targets in a line of prose, code spans left out.
fn markdown_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    // Code spans: drop everything between backtick pairs.
    let prose: String = line
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(" ");
    let mut rest = prose.as_str();
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split_whitespace().next().unwrap_or("");
        targets.push(target.to_string());
        rest = &after[end..];
    }
    // Reference definitions: `[name]: target`.
    if let Some(definition) = prose.trim_start().strip_prefix('[') {
        if let Some((_, target)) = definition.split_once("]: ") {
            targets.push(target.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    targets
}

/// `dir/../x` as a clean path; `None` when it climbs above the root.
fn resolve(base_dir: &Path, path: &str) -> Option<PathBuf> {
    let joined = base_dir.join(path);
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for part in joined.components() {
        match part {
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(name) => parts.push(name),
            _ => {}
        }
    }
    Some(parts.iter().collect())
}

/// Every broken link in the Markdown pages `pages` (paths from `root`).
pub fn check_markdown(root: &Path, pages: &[PathBuf]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut ids_of: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for page in pages {
        let Ok(text) = fs::read_to_string(root.join(page)) else {
            continue;
        };
        let page_dir = page.parent().unwrap_or(Path::new(""));
        for (index, line) in prose_lines(&text) {
            for target in markdown_targets(line) {
                if target.is_empty() || is_external(&target) {
                    continue;
                }
                let (path, fragment) = split_target(&target);
                let file = if path.is_empty() {
                    Some(page.clone())
                } else {
                    resolve(page_dir, path)
                };
                let problem = |what: String| Problem {
                    file: page.clone(),
                    line: index + 1,
                    what,
                };
                let Some(file) = file.filter(|file| root.join(file).exists()) else {
                    problems.push(problem(format!("link to `{target}`: no such file")));
                    continue;
                };
                // SUMMARY.md names the pages themselves, README.md included.
                let is_summary = page.ends_with("SUMMARY.md");
                let other_markdown =
                    !path.is_empty() && file.extension().is_some_and(|e| e == "md");
                if other_markdown && !is_summary && !renders_as_page(&file) {
                    problems.push(problem(format!(
                        "link to `{target}`: mdBook turns a link to a .md file into one to a .html \
                         page, and this file is not a page of the book"
                    )));
                    continue;
                }
                let is_markdown = file.extension().is_some_and(|e| e == "md");
                if fragment.is_empty() || !is_markdown {
                    continue;
                }
                let ids = ids_of.entry(file.clone()).or_insert_with(|| {
                    markdown_ids(&fs::read_to_string(root.join(&file)).unwrap_or_default())
                });
                if !ids.contains(fragment) {
                    problems.push(problem(format!(
                        "link to `{target}`: no heading with that id"
                    )));
                }
            }
        }
    }
    problems
}

/// Whether mdBook renders this Markdown file (a path from the root) as a page of the same name: the
/// pages of `tutorials/`, except a `README.md` in any of its folders, which becomes that folder's
/// `index.html` while a link to it still points to `README.html`.
fn renders_as_page(file: &Path) -> bool {
    file.starts_with("tutorials") && file.file_name().is_some_and(|name| name != "README.md")
}

/// Every broken `href` or `src` in the rendered book at `book_dir`, a folder of `root`.
pub fn check_html(root: &Path, book_dir: &Path) -> Vec<Problem> {
    let mut pages = Vec::new();
    collect_files(book_dir, "html", &mut pages);
    let mut problems = Vec::new();
    let mut ids_of: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for page in &pages {
        let Ok(html) = fs::read_to_string(page) else {
            continue;
        };
        let page_dir = page.parent().unwrap_or(book_dir);
        for (index, tag) in tags(&html) {
            let targets = attribute_values(tag, "href")
                .into_iter()
                .chain(attribute_values(tag, "src"));
            for target in targets {
                if target.is_empty() || target == "#" || is_external(&target) {
                    continue;
                }
                let (path, fragment) = split_target(&target);
                // Assets carry a cache-busting query (`?v=...`); the file is the path before it.
                let path = path.split('?').next().unwrap_or(path);
                let page_from_root = page.strip_prefix(root).unwrap_or(page).to_path_buf();
                let problem = |what: String| Problem {
                    file: page_from_root.clone(),
                    line: index + 1,
                    what,
                };
                let file = if path.is_empty() {
                    Some(page.clone())
                } else {
                    resolve(page_dir, path).map(|file| Path::new("/").join(file))
                };
                let Some(file) = file.filter(|file| file.exists()) else {
                    problems.push(problem(format!("link to `{target}`: no such file")));
                    continue;
                };
                let is_html = file.extension().is_some_and(|e| e == "html");
                if fragment.is_empty() || !is_html {
                    continue;
                }
                let ids = ids_of
                    .entry(file.clone())
                    .or_insert_with(|| html_ids(&fs::read_to_string(&file).unwrap_or_default()));
                if !ids.contains(fragment) {
                    problems.push(problem(format!(
                        "link to `{target}`: no element with that id"
                    )));
                }
            }
        }
    }
    problems
}

/// The `id` attributes of an HTML page.
fn html_ids(html: &str) -> BTreeSet<String> {
    tags(html)
        .flat_map(|(_, tag)| attribute_values(tag, "id"))
        .collect()
}

/// Every tag of an HTML page (`<a href="...">`, whitespace before each attribute) with the index of
/// its line. Markup shown as text is escaped (`&lt;a href=...`), so it is not a tag and not a link.
fn tags(html: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = html;
    let mut line = 0;
    std::iter::from_fn(move || {
        let start = rest.find('<')?;
        let end = start + rest.get(start..)?.find('>')?;
        let tag = rest.get(start..end)?;
        line += rest.get(..start)?.matches('\n').count();
        let at = line;
        line += tag.matches('\n').count();
        rest = rest.get(end..)?;
        Some((at, tag))
    })
}

/// Every file under `dir` whose name ends in `.extension`.
pub fn collect_files(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_ids_follow_mdbooks_rule() {
        assert_eq!(heading_id(" On the wire "), "on-the-wire");
        assert_eq!(
            heading_id(&rendered_heading_text("4. Long polling: the server waits")),
            "4-long-polling-the-server-waits"
        );
        assert_eq!(
            heading_id(&rendered_heading_text("The `after` cursor, [again](x.md)")),
            "the-after-cursor-again"
        );
    }

    #[test]
    fn escaped_markup_is_not_a_tag_and_data_id_is_not_id() {
        let html = "<p id=\"a\">&lt;a href=\"/x\"&gt;</p>\n<a\n href=\"b.html#c\" data-id=\"z\">";
        let found: Vec<(usize, Vec<String>)> = tags(html)
            .map(|(line, tag)| (line, attribute_values(tag, "href")))
            .filter(|(_, hrefs)| !hrefs.is_empty())
            .collect();
        assert_eq!(found, [(1, vec!["b.html#c".to_string()])]);
        assert_eq!(html_ids(html), BTreeSet::from(["a".to_string()]));
    }

    #[test]
    fn targets_skip_code_spans_and_keep_fragments() {
        assert_eq!(
            markdown_targets("see [a](b.md#c) and `[x](not-a-link)` and ![i](../d.svg)"),
            ["b.md#c", "../d.svg"]
        );
        assert_eq!(markdown_targets("[ref]: ../src/lib.rs"), ["../src/lib.rs"]);
    }
}
