//! The layering of the crate, checked: protocol code never reaches up.
//!
//! # Why the layers matter
//!
//! pushlab is built from the socket up (see the map in `src/lib.rs`): the event loop in `server` owns
//! every socket and the clock; under it, `http` and `ws` turn bytes into values and values into bytes;
//! `transport` frames a message for each door; `hub` keeps the topics. Design rule 1 says protocol code
//! does no I/O: it is *sans-IO*, so every rule it enforces can be tested with a byte vector, fuzzed
//! directly, and reused by a client as well as by the server (the blocking WebSocket client in
//! `client::ws` drives the very same `ws::WsProtocol` as the server does).
//!
//! That only stays true while the lower layers do not import the upper ones. The day `ws` imports from
//! `server` (even only for a settings struct), the codec can no longer be built, read or tested without
//! the event loop, and the next import is one step away from a socket. So each layer owns its limits
//! (`http::HttpLimits`, `ws::WsConfig`, the hub's limits) and `server::Config` composes them, and this
//! test reads the source and fails, naming file and line, when an import points the wrong way:
//!
//! | files               | may not import from                                   |
//! |---------------------|-------------------------------------------------------|
//! | `src/http/`         | `server`, `transport`, `client`, `lab`                |
//! | `src/ws/`           | `server`, `transport`, `hub`, `client`, `lab`         |
//! | `src/transport/`    | `server`, `client`, `lab`                             |
//! | `src/hub/`          | `server`, `transport`, `http`, `ws`, `client`, `lab`  |
//! | `src/redis/`        | `server`, `transport`, `http`, `ws`, `client`, `lab`, `channel` |
//! | `src/json.rs`       | anything in the crate (it is the leaf every layer may use) |
//! | `src/lab/`          | `transport`, `channel` (it is the top: it drives the server from outside, through clients) |
//!
//! # How the source is read
//!
//! Without a parser dependency, and just well enough for import paths: comments, string literals and
//! character literals are blanked out first (so a doc link such as `[Config][crate::server::config]` or
//! a string that mentions a path never counts), then every path that starts with `crate::` or with one or
//! more `super::` is followed, brace groups (`use crate::{a::X, b::Y}`) included. `super` is resolved
//! against the file's module path and any inline `mod name { .. }` around it, so
//! `super::super::server` inside `src/hub/x/y.rs` counts as `crate::server`. A name re-exported at the
//! crate root (`crate::Config`) counts as the module it comes from, read from `src/lib.rs`.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// One layer and the top-level modules it may not import from.
struct Rule {
    /// The files the rule covers: a directory (ending in `/`) or one file, relative to the crate root.
    files: &'static str,
    /// Top-level modules of the crate the files may not use; [`ANYTHING`] forbids every other module.
    forbidden: &'static [&'static str],
    /// Why, in a few words, for the failure message.
    why: &'static str,
}

/// Marks a rule that forbids every module of the crate but the file's own.
const ANYTHING: &str = "*";

const RULES: &[Rule] = &[
    Rule {
        files: "src/http/",
        forbidden: &["server", "transport", "client", "lab"],
        why: "the HTTP parser is sans-IO and owns its limits (http::HttpLimits)",
    },
    Rule {
        files: "src/ws/",
        forbidden: &["server", "transport", "hub", "client", "lab"],
        why: "the WebSocket codec is sans-IO and owns its settings (ws::WsConfig)",
    },
    Rule {
        files: "src/transport/",
        forbidden: &["server", "client", "lab"],
        why: "a door frames messages; the server calls it, never the other way round",
    },
    Rule {
        files: "src/hub/",
        forbidden: &["server", "transport", "http", "ws", "client", "lab"],
        why: "the hub knows nothing of HTTP, WebSocket, doors or the event loop",
    },
    Rule {
        files: "src/redis/",
        forbidden: &[
            "server",
            "transport",
            "http",
            "ws",
            "client",
            "lab",
            "channel",
        ],
        why:
            "the Redis backend speaks RESP and feeds the hub; the server drives it, not the reverse",
    },
    Rule {
        files: "src/json.rs",
        forbidden: &[ANYTHING],
        why: "the shared JSON writer is a leaf that every layer may use",
    },
    Rule {
        files: "src/lab/",
        forbidden: &["transport", "channel"],
        why: "the lab measures the doors from outside, through the clients, as a browser would",
    },
];

/// Imports that break a rule today, allowed until the change that fixes them lands: (files, path).
/// The test fails if an entry no longer matches anything, so a stale one cannot linger.
const TEMPORARY_ALLOWANCES: &[(&[&str], &str)] = &[];

#[test]
fn no_layer_imports_from_a_layer_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let violations = check_crate(root);
    let mut report = String::new();
    for violation in &violations.broken {
        report.push_str(&format!("{violation}\n"));
    }
    for (files, path) in &violations.stale_allowances {
        report.push_str(&format!(
            "TEMPORARY_ALLOWANCES: {files:?} no longer import `{path}`; delete the allowance\n"
        ));
    }
    assert!(report.is_empty(), "layering broken:\n{report}");
}

/// What [`check_crate`] found.
struct Findings {
    /// Imports that break a rule and are not allowed.
    broken: Vec<Violation>,
    /// Allowances that matched nothing.
    stale_allowances: Vec<(&'static [&'static str], &'static str)>,
}

/// An import that breaks a rule.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    /// The file, relative to the crate root, with `/` separators.
    file: String,
    /// 1-based line of the path.
    line: usize,
    /// The path as resolved from the crate root, e.g. `crate::server::config::WsConfig`.
    path: String,
    /// The rule's reason.
    why: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: uses `{}`: {}",
            self.file, self.line, self.path, self.why
        )
    }
}

/// Checks every `.rs` file under `root/src` against [`RULES`].
fn check_crate(root: &Path) -> Findings {
    let lib = fs::read_to_string(root.join("src/lib.rs")).expect("src/lib.rs is readable");
    let root_aliases = root_reexports(&lib);
    let mut files = Vec::new();
    collect_rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut broken = Vec::new();
    let mut allowance_used = vec![false; TEMPORARY_ALLOWANCES.len()];
    for file in files {
        let relative = file
            .strip_prefix(root)
            .expect("found under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let Some(rule) = RULES.iter().find(|rule| covers(rule, &relative)) else {
            continue;
        };
        let source = fs::read_to_string(&file).expect("source files are readable");
        let module = module_path(&relative);
        for reference in crate_paths(&source, &module, &root_aliases) {
            if !breaks(rule, &module, &reference.segments) {
                continue;
            }
            let path = format!("crate::{}", reference.segments.join("::"));
            let allowance = TEMPORARY_ALLOWANCES.iter().position(|(files, allowed)| {
                files.contains(&relative.as_str()) && *allowed == path
            });
            match allowance {
                Some(index) => allowance_used[index] = true,
                None => broken.push(Violation {
                    file: relative.clone(),
                    line: reference.line,
                    path,
                    why: rule.why,
                }),
            }
        }
    }
    let stale_allowances = TEMPORARY_ALLOWANCES
        .iter()
        .zip(allowance_used)
        .filter(|(_, used)| !used)
        .map(|(allowance, _)| *allowance)
        .collect();
    Findings {
        broken,
        stale_allowances,
    }
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn covers(rule: &Rule, file: &str) -> bool {
    if rule.files.ends_with('/') {
        file.starts_with(rule.files)
    } else {
        file == rule.files
    }
}

/// Whether a path (segments after `crate::`) used in module `module` breaks `rule`. A layer may always
/// use itself.
fn breaks(rule: &Rule, module: &[String], segments: &[String]) -> bool {
    let Some(target) = segments.first() else {
        return false;
    };
    if module.first() == Some(target) {
        return false;
    }
    rule.forbidden
        .iter()
        .any(|forbidden| *forbidden == ANYTHING || forbidden == target)
}

/// The module path of a file: `src/ws/frame/tests.rs` is `ws::frame::tests`, `src/hub/mod.rs` is `hub`.
fn module_path(file: &str) -> Vec<String> {
    let inside = file.trim_start_matches("src/").trim_end_matches(".rs");
    let mut segments: Vec<String> = inside.split('/').map(str::to_string).collect();
    if segments
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        segments.pop();
    }
    segments
}

/// Names that `src/lib.rs` brings into the crate root with `use`, mapped to the module they come from
/// (`pub use server::config::Config;` makes `crate::Config` count as `crate::server`). The crate's
/// own modules (`pub mod server;`) keep their names.
fn root_reexports(lib: &str) -> HashMap<String, String> {
    let tokens = tokenize(&blank_comments_and_literals(lib));
    let modules: Vec<&str> = tokens
        .windows(2)
        .filter(|pair| pair[0].text == "mod")
        .map(|pair| pair[1].text.as_str())
        .collect();
    let mut aliases = HashMap::new();
    for (index, token) in tokens.iter().enumerate() {
        if token.text != "use" {
            continue;
        }
        let mut paths = Vec::new();
        parse_tree(&tokens, index + 1, Vec::new(), None, &mut paths);
        for (path, _) in paths {
            if let [first, .., last] = path.as_slice() {
                if !modules.contains(&last.as_str()) {
                    aliases.insert(last.clone(), first.clone());
                }
            }
        }
    }
    aliases
}

/// A path into the crate found in a file.
#[derive(Debug, PartialEq, Eq)]
struct CratePath {
    /// Segments after `crate::`, e.g. `["server", "config", "WsConfig"]`.
    segments: Vec<String>,
    /// 1-based line where the path starts.
    line: usize,
}

/// Every path into the crate that the code of a file (in module `module`) names, resolved from the
/// crate root: `crate::...` paths and `super::...` paths, in `use` items and in expressions alike.
fn crate_paths(
    source: &str,
    module: &[String],
    root_aliases: &HashMap<String, String>,
) -> Vec<CratePath> {
    let tokens = tokenize(&blank_comments_and_literals(source));
    let mut found = Vec::new();
    // Inline modules (`mod tests { .. }`) open below the file's module: (name, brace depth inside).
    let mut inline_modules: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        let after_path_separator = index > 0 && tokens[index - 1].text == "::";
        match token.text.as_str() {
            "{" => depth += 1,
            "}" => {
                if inline_modules
                    .last()
                    .is_some_and(|(_, inside)| *inside == depth)
                {
                    inline_modules.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if text_at(&tokens, index + 2) == Some("{") => {
                if let Some(name) = text_at(&tokens, index + 1) {
                    inline_modules.push((name.to_string(), depth + 1));
                }
            }
            "crate" if !after_path_separator && text_at(&tokens, index + 1) == Some("::") => {
                let mut paths = Vec::new();
                parse_tree(&tokens, index + 2, Vec::new(), None, &mut paths);
                for (segments, line) in paths {
                    found.push(CratePath {
                        segments: resolve_alias(segments, root_aliases),
                        line,
                    });
                }
            }
            "super" if !after_path_separator && text_at(&tokens, index + 1) == Some("::") => {
                // `super::super::x`: climb once per `super` from the current module.
                let mut current: Vec<String> = module.to_vec();
                current.extend(inline_modules.iter().map(|(name, _)| name.clone()));
                let mut next = index;
                while text_at(&tokens, next) == Some("super")
                    && text_at(&tokens, next + 1) == Some("::")
                {
                    current.pop();
                    next += 2;
                }
                let mut paths = Vec::new();
                parse_tree(&tokens, next, current, None, &mut paths);
                for (segments, line) in paths {
                    found.push(CratePath {
                        segments: resolve_alias(segments, root_aliases),
                        line,
                    });
                }
                index = next;
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    found
}

fn resolve_alias(mut segments: Vec<String>, root_aliases: &HashMap<String, String>) -> Vec<String> {
    if let Some(module) = segments.first().and_then(|first| root_aliases.get(first)) {
        segments.insert(0, module.clone());
    }
    segments
}

fn text_at(tokens: &[Token], index: usize) -> Option<&str> {
    tokens.get(index).map(|token| token.text.as_str())
}

/// A path found by [`parse_tree`]: its segments, and the line of its first segment after the prefix.
type FoundPath = (Vec<String>, usize);

/// Reads a path or use tree starting at `index` (just after `crate::`, or after the last `super::`)
/// and appends every full path it names, each prefixed with `prefix`. Returns the index after it.
fn parse_tree(
    tokens: &[Token],
    mut index: usize,
    prefix: Vec<String>,
    mut line: Option<usize>,
    out: &mut Vec<FoundPath>,
) -> usize {
    let mut path = prefix;
    loop {
        let here = tokens.get(index).map(|token| token.line);
        match text_at(tokens, index) {
            Some("{") => {
                // A group: each item is a tree of its own with the same prefix.
                index += 1;
                loop {
                    match text_at(tokens, index) {
                        Some("}") => return index + 1,
                        Some(",") => index += 1,
                        None => return index,
                        Some(_) => index = parse_tree(tokens, index, path.clone(), line, out),
                    }
                }
            }
            Some(text) if is_identifier(text) && text != "self" => {
                path.push(text.to_string());
                line = line.or(here);
                index += 1;
                if text_at(tokens, index) == Some("::") {
                    index += 1;
                    continue;
                }
                out.push((path, line.unwrap_or_default()));
                return index;
            }
            // `self`, `*`, or a path that stopped early: the prefix is what is used.
            _ => {
                out.push((path, line.or(here).unwrap_or_default()));
                return index + 1;
            }
        }
    }
}

fn is_identifier(text: &str) -> bool {
    text.starts_with(|c: char| c.is_alphabetic() || c == '_')
}

/// A token of code: an identifier or keyword, `::`, or one punctuation character.
#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
}

/// Splits code (comments and literals already blanked) into identifiers, `::` and single punctuation
/// characters, each with its line.
fn tokenize(code: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = code.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let mut text = String::from(c);
            while let Some(&next) = chars.peek() {
                if !(next.is_alphanumeric() || next == '_') {
                    break;
                }
                text.push(next);
                chars.next();
            }
            tokens.push(Token { text, line });
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            tokens.push(Token {
                text: "::".to_string(),
                line,
            });
        } else if !c.is_whitespace() {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
        }
    }
    tokens
}

/// The source with every comment, string literal and character literal replaced by spaces (newlines
/// kept, so line numbers stay right). Just enough of Rust's lexical grammar for this test: line and
/// nested block comments, `"..."` and `b"..."` with escapes, raw strings `r#"..."#`, and character
/// literals told apart from lifetimes.
fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        // A literal may follow a `b` (byte string, byte) but no other part of an identifier.
        let identifier_char = |at: usize| chars[at].is_alphanumeric() || chars[at] == '_';
        let literal_may_start = i == 0
            || !identifier_char(i - 1)
            || (chars[i - 1] == 'b' && (i < 2 || !identifier_char(i - 2)));
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut nesting = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nesting += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nesting -= 1;
                    out.push_str("  ");
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && literal_may_start && matches!(next, Some('"') | Some('#')) && {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            chars.get(i + 1 + hashes) == Some(&'"')
        } {
            // Raw string: `r`, n hashes, `"`, then anything up to `"` and n hashes.
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            let closing: Vec<char> = format!("\"{}", "#".repeat(hashes)).chars().collect();
            let start = i + 2 + hashes;
            let end = (start..chars.len())
                .find(|&at| chars[at..].starts_with(&closing))
                .map_or(chars.len(), |at| at + closing.len());
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&escaped) = chars.get(i) {
                    out.push(blank(escaped));
                }
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && literal_may_start {
            // A character literal is `'x'` or `'\..'`; anything else after `'` is a lifetime or label.
            let end = if next == Some('\\') {
                // The escaped character is at `i + 2`, so the closing quote is at `i + 3` or later.
                (i + 3..chars.len())
                    .find(|&at| chars[at] == '\'')
                    .map(|at| at + 1)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 3)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.extend(chars[i..end].iter().map(|&c| blank(c)));
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

// The checker checked: each case is a way an import can be written, or a way it can only seem to be.

fn rule_for(files: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|rule| rule.files == files)
        .expect("a rule for these files")
}

fn paths_in(source: &str, module: &[&str]) -> Vec<String> {
    let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
    let aliases = HashMap::from([("Config".to_string(), "server".to_string())]);
    crate_paths(source, &module, &aliases)
        .into_iter()
        .map(|path| format!("{}@{}", path.segments.join("::"), path.line))
        .collect()
}

#[test]
fn finds_use_items_and_paths_in_expressions() {
    let source =
        "use crate::server::config::WsConfig;\nfn f() { crate::transport::json::reset_json(1); }\n";
    assert_eq!(
        paths_in(source, &["ws", "protocol"]),
        [
            "server::config::WsConfig@1",
            "transport::json::reset_json@2"
        ]
    );
}

#[test]
fn finds_paths_inside_groups_over_several_lines() {
    let source =
        "use crate::{\n    http::Request,\n    server::{config::HttpLimits, Config},\n};\n";
    assert_eq!(
        paths_in(source, &["ws", "handshake"]),
        [
            "http::Request@2",
            "server::config::HttpLimits@3",
            "server::Config@3"
        ]
    );
}

#[test]
fn resolves_super_against_the_module_and_inline_modules() {
    // In `hub::topic`, `super` is `hub` and `super::super` is the crate root.
    assert_eq!(
        paths_in(
            "use super::super::server::config::HubLimits;",
            &["hub", "topic"]
        ),
        ["server::config::HubLimits@1"]
    );
    assert_eq!(
        paths_in("use super::{Message, Replay};", &["hub", "topic"]),
        ["hub::Message@1", "hub::Replay@1"]
    );
    // Inside `mod tests { .. }` of `hub::topic`, `super::super` is only `hub`.
    assert_eq!(
        paths_in(
            "mod tests {\n    use super::super::Message;\n}\nuse super::super::ws::X;\n",
            &["hub", "topic"]
        ),
        ["hub::Message@2", "ws::X@4"]
    );
}

#[test]
fn root_reexports_count_as_their_module() {
    assert_eq!(
        paths_in("use crate::Config;", &["http", "request"]),
        ["server::Config@1"]
    );
    let aliases =
        root_reexports("pub mod server;\npub use server::config::Config;\nuse x::server;\n");
    assert_eq!(aliases.get("Config").map(String::as_str), Some("server"));
    assert_eq!(aliases.get("server"), None);
}

#[test]
fn comments_docs_and_strings_do_not_count() {
    let source = r##"
//! See [`Config`][crate::server::config::Config].
/// Links to [`crate::transport::json`].
// use crate::server::config::WsConfig;
/* use crate::server::Server; /* nested */ crate::hub::Hub */
const A: &str = "use crate::server::config::WsConfig;";
const B: &str = r#"crate::server "quoted" ::x"#;
const C: char = '"';
const D: &[u8] = br"\";
const E: u8 = b'"';
const F: char = '\'';
fn f<'a>(x: &'a str) -> &'a str { x }
use crate::ws::frame;
"##;
    assert_eq!(paths_in(source, &["ws", "protocol"]), ["ws::frame@13"]);
}

#[test]
fn a_bad_import_is_reported_with_file_line_and_path() {
    let ws = rule_for("src/ws/");
    let module = module_path("src/ws/protocol.rs");
    assert_eq!(module, ["ws", "protocol"]);
    let paths = crate_paths(
        "\nuse crate::server::config::WsConfig;\n",
        &module,
        &HashMap::new(),
    );
    assert!(breaks(ws, &module, &paths[0].segments));
    assert_eq!(paths[0].line, 2);
    // `pub(super)` is a visibility, not a path.
    assert!(crate_paths("pub(super) fn f() {}", &module, &HashMap::new()).is_empty());
    // A layer may use itself and the layers below it.
    assert!(!breaks(
        ws,
        &module,
        &["ws".to_string(), "frame".to_string()]
    ));
    assert!(!breaks(ws, &module, &["http".to_string()]));
    // The JSON writer may use nothing in the crate but itself.
    let json = rule_for("src/json.rs");
    let json_module = module_path("src/json.rs");
    assert!(breaks(json, &json_module, &["hub".to_string()]));
    assert!(!breaks(
        json,
        &json_module,
        &["json".to_string(), "tests".to_string()]
    ));
}
