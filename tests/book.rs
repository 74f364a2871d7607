//! The course as a book: what a reader sees must be what the code is.
//!
//! - Every listing in `tutorials/` is byte for byte the anchored region of the source file it names
//!   (`ANCHOR: name` ... `ANCHOR_END: name`, as mdBook reads them), its fence says its language, and
//!   its caption carries the right number ("Listing 4-2") and a link to the file; the text names
//!   only listings that exist.
//! - No chapter keeps an mdBook include directive, which a forge or an editor shows as an empty block.
//! - Every page of the course is in `tutorials/SUMMARY.md`, and every chapter opens with what the
//!   reader will be able to do and closes with a summary.
//! - Every relative link and `#fragment` resolves, in the Markdown and, when mdBook is installed, in
//!   the rendered HTML.
//!
//! When a listing's source changes, rewrite the chapters with
//!
//! ```text
//! BLESS=1 cargo test --test book
//! ```
//!
//! and read the diff: the code in the chapter changed, and the prose around it may have to follow.
//! Without mdBook the rendering test prints that it skipped; with `CI` set it fails instead.

mod book {
    pub mod links;
    pub mod listings;
}

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use book::links;
use book::listings::{self, Problem, Sources};

/// The mdBook version the book is built and checked with (`.ci/run` installs this one).
const MDBOOK_VERSION: &str = "0.5.4";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The book's pages: every Markdown file under `tutorials/`, as paths from the repository root.
fn pages() -> Vec<PathBuf> {
    let mut pages = Vec::new();
    links::collect_files(&root().join("tutorials"), "md", &mut pages);
    pages
        .into_iter()
        .filter_map(|page| page.strip_prefix(root()).ok().map(Path::to_path_buf))
        .collect()
}

/// The numbered chapters (`tutorials/NN-name.md`).
fn chapters() -> Vec<PathBuf> {
    pages()
        .into_iter()
        .filter(|page| page.parent() == Some(Path::new("tutorials")))
        .filter(|page| {
            let name = page.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.len() > 3 && name.as_bytes()[..2].iter().all(u8::is_ascii_digit)
        })
        .collect()
}

fn report(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}\n"))
        .collect()
}

#[test]
fn every_listing_is_its_anchored_region() {
    let mut sources = Sources::new(&root());
    let bless = std::env::var_os("BLESS").is_some();
    let mut problems = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(root().join(&page)).expect("a page of the book");
        if bless {
            let blessed =
                listings::bless(&text, &page, &mut sources).unwrap_or_else(|e| panic!("{e}"));
            if blessed != text {
                fs::write(root().join(&page), &blessed).expect("rewrite the page");
                println!("rewrote {}", page.display());
            }
            problems.extend(listings::check(&blessed, &page, &mut sources));
        } else {
            problems.extend(listings::check(&text, &page, &mut sources));
        }
    }
    assert!(
        problems.is_empty(),
        "the book's listings are out of date (rewrite them with `BLESS=1 cargo test --test book`, \
         then read the diff):\n{}",
        report(&problems)
    );
}

/// The check can fail: a listing changed by one byte, or pointing to a missing anchor, is caught.
#[test]
fn a_listing_that_drifts_is_caught() {
    if std::env::var_os("BLESS").is_some() {
        // The chapter may be being rewritten by the blessing test at this moment.
        println!("a_listing_that_drifts_is_caught: not run while blessing");
        return;
    }
    let mut sources = Sources::new(&root());
    let page = Path::new("tutorials/04-long-poll.md");
    let text = fs::read_to_string(root().join(page)).expect("chapter 4");
    assert!(listings::check(&text, page, &mut sources).is_empty());
    let first_code_line = text
        .lines()
        .skip_while(|line| !line.starts_with("<!-- listing: "))
        .nth(2)
        .expect("chapter 4 has a listing");
    let drifted = text.replacen(first_code_line, &format!("{first_code_line} "), 1);
    let problems = listings::check(&drifted, page, &mut sources);
    assert_eq!(problems.len(), 1, "{}", report(&problems));
    assert!(problems[0]
        .what
        .contains("differs from its anchored region"));
    let missing = text.replacen(":config -->", ":no_such_anchor -->", 1);
    let problems = listings::check(&missing, page, &mut sources);
    assert!(problems
        .iter()
        .any(|p| p.what.contains("no anchor `no_such_anchor`")));
    let renumbered = text.replacen("*Listing 4-1:", "*Listing 4-7:", 1);
    assert_eq!(listings::check(&renumbered, page, &mut sources).len(), 1);
    let named = format!("{text}\nAs listing 4-99 shows.\n");
    assert_eq!(listings::check(&named, page, &mut sources).len(), 1);
}

#[test]
fn every_page_is_in_the_summary() {
    let summary = without_comments(
        &fs::read_to_string(root().join("tutorials/SUMMARY.md")).expect("SUMMARY.md"),
    );
    let missing: Vec<String> = pages()
        .iter()
        .filter_map(|page| page.strip_prefix("tutorials").ok())
        .filter(|page| *page != Path::new("SUMMARY.md"))
        .map(|page| page.display().to_string())
        .filter(|page| !summary.contains(&format!("]({page})")))
        .collect();
    assert!(
        missing.is_empty(),
        "pages missing from tutorials/SUMMARY.md: {missing:?} (a chapter's exercises go right under \
         it, as `  - [Exercises](exercises/chNN.md)`)"
    );
}

/// The text without its HTML comments (`<!-- ... -->`), which mdBook ignores.
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

/// Each chapter opens with what the reader will be able to do and closes with a summary: the first
/// and last second-level headings (a chapter's own exercises may follow its summary).
#[test]
fn every_chapter_opens_with_its_goals_and_closes_with_a_summary() {
    let mut problems = Vec::new();
    for chapter in chapters() {
        let text = fs::read_to_string(root().join(&chapter)).expect("a chapter");
        let headings: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("## "))
            .collect();
        if headings.first() != Some(&"## What you will be able to do") {
            problems.push(format!(
                "{}: first section is not its goals",
                chapter.display()
            ));
        }
        let closing = match headings.as_slice() {
            [.., summary, "## Exercises"] => Some(*summary),
            [.., last] => Some(*last),
            [] => None,
        };
        if closing != Some("## Summary") {
            problems.push(format!(
                "{}: last section is not its summary",
                chapter.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_markdown_link_resolves() {
    let problems = links::check_markdown(&root(), &pages());
    assert!(problems.is_empty(), "broken links:\n{}", report(&problems));
}

/// The link check can fail: a page with a wrong file, a wrong fragment and a missing image has three
/// problems.
#[test]
fn a_broken_link_is_caught() {
    let dir = root().join("target").join("book-link-selftest");
    fs::create_dir_all(&dir).expect("a scratch folder");
    fs::write(
        dir.join("page.md"),
        "# A page\n\n## On the wire\n\n[ok](#on-the-wire) [bad](#on-the-air) [gone](nope.md)\n\n\
         ![a figure that is not there](figures/nope.svg)\n",
    )
    .expect("a scratch page");
    let page = dir
        .strip_prefix(root())
        .expect("under the root")
        .join("page.md");
    let problems = links::check_markdown(&root(), &[page]);
    assert_eq!(problems.len(), 3, "{}", report(&problems));
    fs::remove_dir_all(&dir).expect("remove the scratch folder");
}

/// mdBook's installed version, or `None` when it is not on the PATH.
fn mdbook_version() -> Option<String> {
    let output = Command::new("mdbook").arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `mdbook build` renders the book to `book/`, and every link of every rendered page resolves.
#[test]
fn the_rendered_book_builds_and_its_links_resolve() {
    let Some(version) = mdbook_version() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "mdBook is not installed, and CI must render the book \
             (cargo install mdbook --version {MDBOOK_VERSION} --locked --no-default-features --features search)"
        );
        println!("SKIPPED the_rendered_book_builds_and_its_links_resolve: mdBook is not installed");
        return;
    };
    assert!(
        version.ends_with(MDBOOK_VERSION),
        "the book is checked with mdBook {MDBOOK_VERSION}, found `{version}`"
    );
    let output = Command::new("mdbook")
        .arg("build")
        .current_dir(root())
        .output()
        .expect("run mdbook build");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "mdbook build failed:\n{log}");
    // mdBook reports includes it cannot resolve and other soft failures as warnings.
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(
        warnings.is_empty(),
        "mdbook build warned:\n{}",
        warnings.join("\n")
    );
    let book = root().join("book");
    assert!(book.join("index.html").exists(), "no book/index.html");
    // The HTML check can fail: a page with a link to a missing file, one to a missing id, and an
    // image that is not there.
    let scratch = book.join("link-selftest.html");
    fs::write(
        &scratch,
        "<a href=\"nope.html\"></a><a href=\"index.html#no-such-id\"></a>\
         <img src=\"figures/nope.svg\" alt=\"\">",
    )
    .expect("a scratch page");
    let caught = links::check_html(&root(), &book)
        .into_iter()
        .filter(|problem| problem.file.ends_with("link-selftest.html"))
        .count();
    assert_eq!(caught, 3);
    fs::remove_file(&scratch).expect("remove the scratch page");
    let problems = links::check_html(&root(), &book);
    assert!(
        problems.is_empty(),
        "broken links in the rendered book:\n{}",
        report(&problems)
    );
    // `mdbook test` compiles every Rust fence that is not marked `ignore`: listings are parts of
    // files, not whole programs, so none may be left unmarked.
    let output = Command::new("mdbook")
        .arg("test")
        .current_dir(root())
        .output()
        .expect("run mdbook test");
    assert!(
        output.status.success(),
        "mdbook test failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Chapter 1 says how long its example is: the lines of code, to the nearest ten, and all its lines.
#[test]
fn chapter_1_states_the_length_of_its_example() {
    let example = fs::read_to_string(root().join("examples/01_raw_http.rs")).expect("the example");
    let all_lines = example.lines().count();
    let code_lines = example
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .count();
    let rounded = (code_lines + 5) / 10 * 10;
    let chapter = fs::read_to_string(root().join("tutorials/01-raw-http.md")).expect("chapter 1");
    let prose = chapter.split_whitespace().collect::<Vec<_>>().join(" ");
    let stated = format!("about {rounded} lines of code ({all_lines} with its comments)");
    assert!(prose.contains(&stated), "chapter 1 should say `{stated}`");
}
