//! The wire transcripts in the chapters are what the examples print today.
//!
//! Each chapter shows real output of its numbered example: requests, responses, chunks, frames. This
//! test runs every example that a chapter quotes, normalises what changes from run to run (dates,
//! ports, ids, session ids: see `transcripts/normalise.rs`), and compares each marked block (see
//! `transcripts/book.rs` for the marker) with the scenes it names. Durations are measurements, so they
//! are compared as "a duration", and a block keeps the values it was measured with.
//!
//! ```text
//! cargo test --test transcripts                                  # check
//! PUSHLAB_TRANSCRIPTS=write cargo test --test transcripts        # regenerate the blocks that differ
//! ```
//!
//! Chapter 1's example is a server that waits for curl. The test plays curl for it: it replays the
//! exact requests curl sent for the chapter ([`CURL_REQUESTS`]), so the transcript of what the server
//! received and sent is checked like every other.
//!
//! Blocks that show a `$ curl` command against the demo server or an example are checked by running that
//! command (see [`CurlBlock`]), and the byte counts and durations the prose quotes must appear in the
//! chapter's checked blocks (see [`NUMBERS_NOT_FROM_A_RUN`]). Neither is regenerated: a difference is
//! shown, and the chapter is corrected by hand.
//!
//! Regenerating rewrites only blocks whose text (durations aside) changed; where a block's new text has
//! as many durations as the old one, the old measurements are kept, so the prose around it stays true.
//!
//! Some examples race on purpose (a publisher thread against a poller, to show that nothing is lost).
//! The order of those events is part of what the chapter explains, and a loaded machine can reorder
//! them; so an example whose output does not match is run again, up to [`RUNS`] times, and the check
//! fails only when no run matches. A change in what the code sends fails every run.

#[path = "transcripts/book.rs"]
mod book;
#[path = "transcripts/normalise.rs"]
mod normalise;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use book::Block;
use normalise::{durations, mask_durations, normalise, with_durations};

/// How many runs an example gets to print what the book shows.
const RUNS: usize = 3;
/// How long one run may take before it is stopped (the slowest example takes about 3 s).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Set to `write` to regenerate the blocks instead of checking them.
const WRITE_VAR: &str = "PUSHLAB_TRANSCRIPTS";

#[test]
fn every_marked_transcript_is_what_its_example_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chapters = chapters(&root.join("tutorials"));
    let mut blocks_by_run: BTreeMap<(String, Vec<String>, bool), Vec<Block>> = BTreeMap::new();
    for (name, text) in &chapters {
        for block in book::blocks(name, text).unwrap_or_else(|e| panic!("{e}")) {
            let key = (block.example.clone(), block.args.clone(), block.stdout_only);
            blocks_by_run.entry(key).or_default().push(block);
        }
    }
    assert!(
        blocks_by_run.len() >= 10,
        "only {} example runs are quoted: a marker was lost",
        blocks_by_run.len()
    );
    let examples = build_examples(root);
    let writing = std::env::var(WRITE_VAR).is_ok_and(|v| v == "write");

    let mut failures = Vec::new();
    let mut replacements: Vec<(Block, String)> = Vec::new();
    for ((example, args, stdout_only), blocks) in &blocks_by_run {
        if example.as_str() == "17_scaling_out"
            && !pushlab::redis::process::RedisProcess::available()
        {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not installed, and CI must run chapter 17's example"
            );
            println!("SKIPPED {example}'s transcripts: redis-server is not installed");
            continue;
        }
        let mut mismatches = Vec::new();
        for run in 1..=RUNS {
            let output = normalise(&run_example(&examples.join(example), args, *stdout_only));
            mismatches = blocks
                .iter()
                .filter_map(|block| match block.expected(&output) {
                    Ok(expected) if same_but_durations(&block.text, &expected) => None,
                    Ok(expected) => Some((block.clone(), Ok(expected))),
                    Err(error) => Some((block.clone(), Err(error))),
                })
                .collect();
            // Writing takes the first run that prints every scene the book asks for.
            let scenes_missing = mismatches.iter().any(|(_, expected)| expected.is_err());
            if mismatches.is_empty() || (writing && !scenes_missing) {
                break;
            }
            println!("{example} {args:?}: run {run} differs from the book");
        }
        for (block, expected) in mismatches {
            let at = format!("{}:{}", block.chapter, block.marker_line);
            match expected {
                Err(error) => failures.push(error),
                Ok(expected) if writing => {
                    println!("{at}: rewritten from {example}");
                    let kept = durations(&block.text);
                    let new = match durations(&expected).len() == kept.len() {
                        true => with_durations(&expected, &kept),
                        false => expected,
                    };
                    replacements.push((block, new));
                }
                Ok(expected) => failures.push(format!(
                    "{at}: the block differs from what {example} prints now\n{}",
                    first_difference(&block.text, &expected)
                )),
            }
        }
    }
    if writing {
        write_chapters(root, &chapters, &replacements);
    }
    assert!(
        failures.is_empty(),
        "{} transcript(s) no longer match; regenerate with `{WRITE_VAR}=write cargo test --test \
         transcripts` and read the diff:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn same_but_durations(a: &str, b: &str) -> bool {
    mask_durations(a) == mask_durations(b)
}

/// The first line where the book and the run part, for the failure message.
fn first_difference(book: &str, run: &str) -> String {
    let (book, run) = (mask_durations(book), mask_durations(run));
    let (book_lines, run_lines): (Vec<&str>, Vec<&str>) =
        (book.lines().collect(), run.lines().collect());
    let line = (0..book_lines.len().max(run_lines.len()))
        .find(|&i| book_lines.get(i) != run_lines.get(i))
        .unwrap_or(0);
    format!(
        "  line {} of the block\n  book: {}\n  run:  {}",
        line + 1,
        book_lines.get(line).unwrap_or(&"(the block ends)"),
        run_lines.get(line).unwrap_or(&"(the output ends)")
    )
}

/// Every chapter: (file name, text), in order.
fn chapters(dir: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("tutorials/ is readable")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("a chapter is UTF-8");
            (name, text)
        })
        .collect();
    found.sort();
    found
}

fn write_chapters(root: &Path, chapters: &[(String, String)], replacements: &[(Block, String)]) {
    for (name, text) in chapters {
        let mine: Vec<(&Block, String)> = replacements
            .iter()
            .filter(|(block, _)| block.chapter == *name)
            .map(|(block, new)| (block, new.clone()))
            .collect();
        if !mine.is_empty() {
            let path = root.join("tutorials").join(name);
            std::fs::write(&path, book::rewrite(text, &mine)).expect("the chapter is writable");
        }
    }
}

/// Builds the examples with the profile and target directory of this test, and returns where they
/// are. (Cargo builds this test's own targets, not the examples, for `cargo test --test transcripts`;
/// building them here also means a changed example is never checked from a stale binary.)
fn build_examples(root: &Path) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/transcripts-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
    let profile = profile_dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet", "--examples", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    match profile.as_ref() {
        "debug" => {}
        "release" => {
            cargo.arg("--release");
        }
        other => {
            cargo.args(["--profile", other]);
        }
    }
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "the examples do not build");
    profile_dir.join("examples")
}

/// One run of an example: standard output and standard error in the order they were written (the
/// server's log lines on standard error are part of some transcripts), or standard output alone.
fn run_example(path: &Path, args: &[String], stdout_only: bool) -> String {
    // One pipe for both streams, so their lines interleave as they did on the terminal.
    let redirect = if stdout_only { "2>/dev/null" } else { "2>&1" };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec \"$0\" \"$@\" {redirect}"))
        .arg(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first_line = String::new();
    let driver = driver_for(path);
    if driver.is_some() {
        // The example waits for clients: its first line says where.
        let _ = stdout.read_line(&mut first_line);
    }
    let listening = listening_addr(&first_line);
    let reader = std::thread::spawn(move || {
        let mut output = first_line.into_bytes();
        let _ = stdout.read_to_end(&mut output);
        output
    });
    let started = Instant::now();
    if let Some(drive) = driver {
        match listening {
            Some(addr) => drive(addr),
            None => {
                let _ = child.kill();
                panic!("{} did not say where it listens", path.display());
            }
        }
    }
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {args:?} ran longer than {RUN_TIMEOUT:?}",
                path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = reader.join().expect("the reader thread ends");
    let output = String::from_utf8(output).expect("examples print UTF-8");
    assert!(
        status.success(),
        "{} {args:?} failed: {status}\n{output}",
        path.display()
    );
    output
}

/// The requests curl 7.88.1 sent to chapter 1's server (`curl http://127.0.0.1:8081/hello` and
/// `curl -d hello=world http://127.0.0.1:8081/publish/chat`), replayed byte for byte: chapter 1 shows
/// what its server prints when a client sends them.
const CURL_REQUESTS: [&[u8]; 2] = [
    b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    b"POST /publish/chat HTTP/1.1\r\nHost: 127.0.0.1:8081\r\nUser-Agent: curl/7.88.1\r\n\
      Accept: */*\r\nContent-Length: 11\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n\
      hello=world",
];

/// The client an example needs, for an example that is a server waiting for one (chapter 1's).
fn driver_for(path: &Path) -> Option<fn(SocketAddr)> {
    let name = path.file_name()?.to_str()?;
    (name == "01_raw_http").then_some(replay_curl_requests as fn(SocketAddr))
}

/// Sends each of [`CURL_REQUESTS`] on its own connection and reads the answer to its end (the
/// example answers `Connection: close`).
fn replay_curl_requests(addr: SocketAddr) {
    for request in CURL_REQUESTS {
        let mut socket = TcpStream::connect(addr).expect("the example listens");
        socket
            .set_read_timeout(Some(RUN_TIMEOUT))
            .expect("a read timeout");
        socket.write_all(request).expect("send a request");
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer).expect("read the answer");
    }
}

/// `127.0.0.1:PORT` from a line like `listening on http://127.0.0.1:PORT/ ; ...`.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let after = line.split("http://").nth(1)?;
    after.split('/').next()?.parse().ok()
}

/// Numbers in a chapter's prose that are not read from one of its runs: limits and defaults of the
/// code, schedules the text sets, and rules of the RFCs. Each is (chapter prefix, number, unit).
const NUMBERS_NOT_FROM_A_RUN: &[(&str, &str, &str)] = &[
    // The intervals a reader is asked to try.
    ("03-", "100", "ms"),
    // pushlab.js's backoff settings (chapter 12 shows them).
    ("04-", "250", "ms"),
    ("12-", "250", "ms"),
    ("12-", "500", "ms"),
    // The quiet-topic test of tests/browser.rs.
    ("12-", "300", "ms"),
    // The example's publish schedule, in the list of pauses it starts with.
    ("07-", "900", "ms"),
    // The iframe door's framing, counted in the text (and computed from the door's code by
    // `the_sizes_the_text_counts_are_the_doors_framing`).
    ("06-", "7", "bytes"),
    ("06-", "34", "bytes"),
    ("06-", "75", "bytes"),
    // Long polling, for comparison (chapter 4's run: 297).
    ("07-", "300", "bytes"),
    // SSE's framing, counted in the text from story 1's 33-byte event (`21` in hex, above), and
    // computed from the door's code by `the_sizes_the_text_counts_are_the_doors_framing`.
    ("08-", "39", "bytes"),
    ("08-", "7", "bytes"),
    ("08-", "7", "byte"),
    // The length byte of the text frame curl shows in hex (`81 23`).
    ("11-", "35", "bytes"),
    // RFC 6455 §5.2 and §5.5.
    ("10-", "14", "bytes"),
    ("10-", "14", "byte"),
    ("10-", "125", "bytes"),
    ("11-", "125", "bytes"),
    // The Redis link's first reconnect delay (`redis::link::MIN_BACKOFF`).
    ("17-", "50", "ms"),
    // The measurement's payload, fixed in `examples/17_scaling_out.rs`.
    ("17-", "64", "bytes"),
    // Reruns quoted to show how far single p99s move on a shared machine; only the first run's files
    // are kept.
    ("14-", "28.8", "ms"),
    // The resolution of a CPU reading: one 10 ms tick of `/proc` over 200,000 deliveries.
    ("14-", "0.05", "ms"),
    // RFC 6455 §5.2: a client's frame header carries a 4-byte masking key, a server's does not.
    ("15-", "4", "bytes"),
];

/// The units of the numbers a run prints: sizes and short durations.
const RUN_UNITS: [&str; 4] = ["bytes", "byte", "µs", "ms"];

/// Every byte count and short duration that the prose of chapters 1 to 13 and 15 quotes appears in one
/// of the chapter's checked blocks (a transcript or a listing), in decimal or, for a chunk, as its hex
/// size line; or it is a number the text sets itself ([`NUMBERS_NOT_FROM_A_RUN`]). So when the code
/// changes what a run prints, the prose that quotes the old number fails with the block. Chapters 14
/// and 16 quote the comparison lab: their numbers must be in `benches/results/lab/`; chapter 17's costs
/// quote `benches/results/scaling-out.md`.
#[test]
fn numbers_in_the_prose_come_from_checked_blocks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut unbacked = Vec::new();
    for (name, text) in chapters(&root.join("tutorials")) {
        let numbered = name.as_bytes().first().is_some_and(u8::is_ascii_digit);
        if !numbered {
            continue;
        }
        let (prose, mut checked) = prose_and_checked_blocks(&text);
        if name.starts_with("14-") || name.starts_with("16-") {
            // The lab's chapters quote its results files, whose tables `tests/lab_in_the_book.rs`
            // holds to the chapters' tables.
            checked.push_str(&lab_results(root));
        }
        if name.starts_with("17-") {
            // Chapter 17's costs quote its measured runs, held to its tables by
            // `tests/lab_in_the_book.rs`.
            checked.push_str(
                &std::fs::read_to_string(root.join("benches/results/scaling-out.md"))
                    .expect("benches/results/scaling-out.md"),
            );
        }
        for (line_number, line) in prose {
            for (number, unit) in numbers_with_units(line) {
                let exempt = NUMBERS_NOT_FROM_A_RUN
                    .iter()
                    .any(|&(chapter, n, u)| name.starts_with(chapter) && n == number && u == unit);
                if !exempt && !appears_in(&number, unit, &checked) {
                    unbacked.push(format!("{name}:{line_number}: {number} {unit}"));
                }
            }
        }
    }
    assert!(
        unbacked.is_empty(),
        "numbers in the prose that no checked block shows (quote the block, or say why in \
         NUMBERS_NOT_FROM_A_RUN):\n{}",
        unbacked.join("\n")
    );
}

/// The text of every Markdown file of the comparison lab's results.
fn lab_results(root: &Path) -> String {
    let mut folders = vec![root.join("benches/results/lab")];
    let mut text = String::new();
    while let Some(folder) = folders.pop() {
        for path in std::fs::read_dir(&folder)
            .expect("a results folder")
            .flatten()
            .map(|entry| entry.path())
        {
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                text.push_str(&std::fs::read_to_string(&path).expect("readable"));
            }
        }
    }
    text
}

/// The check can fail: a byte count that the block does not show is caught, the one it shows is not.
#[test]
fn a_number_no_block_shows_is_caught() {
    let chapter =
        "Prose: 186 bytes, and 187 bytes, and 33 bytes.\n\n<!-- transcript: x scene 1 -->\n\
                   ```text\n---- response, 186 bytes ----\n21\\r\\n\n```\n";
    let (prose, checked) = prose_and_checked_blocks(chapter);
    let found: Vec<(String, &str)> = prose
        .iter()
        .flat_map(|(_, line)| numbers_with_units(line))
        .filter(|(number, unit)| !appears_in(number, unit, &checked))
        .collect();
    assert_eq!(found, [("187".to_string(), "bytes")]);
}

/// The prose lines of a chapter, numbered from 1, and the text of its checked blocks.
fn prose_and_checked_blocks(text: &str) -> (Vec<(usize, &str)>, String) {
    let lines: Vec<&str> = text.lines().collect();
    let (mut prose, mut checked) = (Vec::new(), String::new());
    let (mut in_fence, mut fence_checked, mut in_comment) = (false, false, false);
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") {
            let marker = i
                .checked_sub(1)
                .and_then(|before| lines.get(before))
                .map(|before| before.trim_start())
                .unwrap_or("");
            fence_checked = !in_fence
                && (marker.starts_with("<!-- transcript:") || marker.starts_with("<!-- listing:"));
            in_fence = !in_fence;
        } else if in_fence {
            if fence_checked {
                checked.push_str(line);
                checked.push('\n');
            }
        } else if in_comment || line.trim_start().starts_with("<!--") {
            in_comment = !line.contains("-->");
        } else {
            prose.push((i + 1, *line));
        }
    }
    (prose, checked)
}

/// `(number, unit)` for each `186 bytes`, `186-byte`, `1,173 bytes`, `411.2 µs` in a line of prose.
fn numbers_with_units(line: &str) -> Vec<(String, &'static str)> {
    let chars: Vec<char> = line.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_number = chars[i].is_ascii_digit()
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '.'));
        if !starts_number {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == ',' || chars[i] == '.') {
            i += 1;
        }
        let number: String = chars[start..i]
            .iter()
            .filter(|c| **c != ',')
            .collect::<String>()
            .trim_end_matches(['.', ','])
            .to_string();
        let after: String = chars[i..].iter().collect();
        let after = after
            .strip_prefix(' ')
            .or_else(|| after.strip_prefix('-'))
            .unwrap_or(&after);
        let unit = RUN_UNITS.iter().find(|unit| {
            after.starts_with(*unit)
                && !after[unit.len()..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric)
        });
        if let Some(unit) = unit {
            found.push((number, *unit));
        }
    }
    found
}

/// Whether `number` stands in `checked` as a whole number, or, for a byte count, as a chunk's hex
/// size line (`21\r\n` for 33 bytes).
fn appears_in(number: &str, unit: &str, checked: &str) -> bool {
    let whole = checked.match_indices(number).any(|(at, _)| {
        let before = checked[..at].chars().next_back();
        let after = checked[at + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
    });
    let as_chunk_size = unit.starts_with("byte")
        && number.parse::<u64>().is_ok_and(|n| {
            let size_line = format!("{n:x}\\r\\n");
            checked.lines().any(|line| line.trim_start() == size_line)
        });
    whole || as_chunk_size
}

// ---- what curl shows ----

/// The addresses the chapters' curl commands name; the check points them at the server it started.
const BOOK_ADDRESSES: [&str; 4] = [
    "127.0.0.1:8081",
    "127.0.0.1:8082",
    "127.0.0.1:18080",
    "127.0.0.1:8080",
];

/// A curl block: `<!-- curl: SERVER -->` over a ` ```text ` fence whose first line is `$ curl ...`,
/// then what curl printed. SERVER is `demo` (the `pushlab` binary with `--trace`, as a reader starts
/// it), optionally with a message to publish (`demo, publish "DATA" on TOPIC after N ms`), or an example
/// and its arguments (`01_raw_http --requests 1`). Either is started with `--addr 127.0.0.1:0` and
/// stopped after curl if it is still running. A line `...` in the block stands for any lines of the
/// output. With `-v`, the block shows what curl prints on both streams, without its `*` notes on the
/// connection. A later block marked `<!-- curl trace -->` shows the demo server's trace of that run.
struct CurlBlock {
    at: String,
    server: String,
    command: String,
    expected: Vec<String>,
    /// The demo server's `--trace` during the run, when a block marked `<!-- curl trace -->` follows.
    trace: Option<Vec<String>>,
}

fn curl_blocks(chapter: &str, text: &str) -> Vec<CurlBlock> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "<!-- curl trace -->" {
            let trace = lines[i + 2..]
                .iter()
                .take_while(|line| **line != "```")
                .map(|line| line.to_string())
                .collect();
            let last: Option<&mut CurlBlock> = found.last_mut();
            last.unwrap_or_else(|| panic!("{chapter}:{}: a trace needs a curl block", i + 1))
                .trace = Some(trace);
            continue;
        }
        let Some(server) = line
            .trim()
            .strip_prefix("<!-- curl:")
            .and_then(|rest| rest.strip_suffix("-->"))
        else {
            continue;
        };
        let at = format!("{chapter}:{}", i + 1);
        assert_eq!(lines.get(i + 1), Some(&"```text"), "{at}: no fence");
        let first = lines
            .get(i + 2)
            .and_then(|first| first.strip_prefix("$ "))
            .unwrap_or_else(|| panic!("{at}: the block does not start with `$ curl`"));
        // A long command goes on over lines that end in `\`, as in a shell.
        let mut command = first.to_string();
        let mut next = i + 3;
        while let Some(continued) = command.strip_suffix('\\') {
            command = format!("{continued} {}", lines.get(next).unwrap_or(&"").trim());
            next += 1;
        }
        let expected = lines[next..]
            .iter()
            .take_while(|line| **line != "```")
            .map(|line| line.to_string())
            .collect();
        found.push(CurlBlock {
            at,
            server: server.trim().to_string(),
            command,
            expected,
            trace: None,
        });
    }
    found
}

/// Whether curl's output matches the block, `...` standing for any lines.
fn matches_with_elisions(expected: &[String], output: &[String]) -> bool {
    match expected.split_first() {
        None => output.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=output.len()).any(|skip| matches_with_elisions(rest, &output[skip..]))
        }
        Some((first, rest)) => output
            .split_first()
            .is_some_and(|(line, more)| line == first && matches_with_elisions(rest, more)),
    }
}

/// Runs a chapter's curl command against `addr` and returns what it printed, normalised.
fn run_curl(command: &str, addr: SocketAddr) -> String {
    let book_addr = BOOK_ADDRESSES
        .into_iter()
        .find(|book_addr| command.contains(book_addr))
        .unwrap_or("127.0.0.1:8080");
    let command = command.replace(book_addr, &addr.to_string());
    let verbose = command.split_whitespace().any(|word| word == "-v");
    // A stream never ends: its command says how long curl listens; anything else gets 10 s.
    let time_limit = match command.contains("--max-time") {
        true => "",
        false => "--max-time 10 ",
    };
    // The options go right after `curl`, as the command may pipe curl's output on.
    let command = command.replacen(
        "curl ",
        &format!("curl {time_limit}--no-progress-meter "),
        1,
    );
    let redirect = if verbose { "2>&1" } else { "" };
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{command} {redirect}"))
        .output()
        .expect("sh runs");
    // The server's address as the book's command named it (curl prints it in `Host`).
    let text = String::from_utf8_lossy(&output.stdout)
        .replace("\r\n", "\n")
        .replace(&addr.to_string(), book_addr);
    let text: Vec<String> = text
        .lines()
        .filter(|line| !(verbose && is_curl_note(line)))
        .map(with_book_curl_version)
        .collect();
    normalise(&(text.join("\n") + "\n"))
}

/// What `curl -v` says about the transfer rather than what went over it: `* Connected to ...`, and
/// `{ [35 bytes data]` when its output is not a terminal.
fn is_curl_note(line: &str) -> bool {
    line.starts_with("* ") || line.starts_with("{ [") || line.starts_with("} [")
}

/// The chapters show curl 7.88.1's `User-Agent`; another version's is made to read the same.
fn with_book_curl_version(line: &str) -> String {
    match line.split_once("User-Agent: curl/") {
        Some((before, _version)) => format!("{before}User-Agent: curl/7.88.1"),
        None => line.to_string(),
    }
}

/// A block's lines with dates and ids made to stand still as a run's are, and without the spaces at
/// their ends (which an editor removes from a chapter, and `curl -v` leaves after `>`).
fn normalised_lines(text: &str) -> Vec<String> {
    normalise(text)
        .trim_end()
        .lines()
        .map(|line| line.trim_end().to_string())
        .collect()
}

/// What curl prints against the demo server and chapter 1's example is what the chapters show: every
/// block marked `<!-- curl: ... -->` runs the real curl against a fresh server.
#[test]
fn every_curl_block_is_what_curl_prints() {
    let curl_here = Command::new("curl").arg("--version").output().is_ok();
    if !curl_here {
        assert!(
            std::env::var_os("CI").is_none(),
            "curl is not installed, and CI must run this test"
        );
        println!("SKIPPED every_curl_block_is_what_curl_prints: curl is not installed");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let blocks: Vec<CurlBlock> = chapters(&root.join("tutorials"))
        .iter()
        .flat_map(|(name, text)| curl_blocks(name, text))
        .collect();
    assert!(
        blocks.len() >= 5,
        "only {} curl blocks: a marker was lost",
        blocks.len()
    );
    let examples = build_examples(root);
    let mut failures = Vec::new();
    for block in &blocks {
        let printed = match block.server.as_str() {
            demo if demo == "demo" || demo.starts_with("demo, publish ") => {
                let (printed, trace) = curl_the_demo_server(demo, &block.command);
                if let Some(book_trace) = &block.trace {
                    let trace = normalised_lines(&trace);
                    if !matches_with_elisions(&normalised_lines(&book_trace.join("\n")), &trace) {
                        failures.push(format!(
                            "{}: the server's trace was\n{}",
                            block.at,
                            trace.join("\n")
                        ));
                    }
                }
                printed
            }
            example => {
                let mut words = example.split_whitespace();
                let name = words.next().unwrap_or_default();
                let args: Vec<&str> = words.collect();
                curl_example(&examples.join(name), &args, &block.command)
            }
        };
        let printed = normalised_lines(&printed);
        let expected = normalised_lines(&block.expected.join("\n"));
        if !matches_with_elisions(&expected, &printed) {
            failures.push(format!(
                "{}: curl printed\n{}\nthe book shows\n{}",
                block.at,
                printed.join("\n"),
                expected.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs a curl block against the demo server as a reader starts it, `pushlab --trace`, on a port the
/// system picks, with the marker's message published by curl as from a second terminal. Returns what
/// curl printed and the server's trace, with the server's address as the book names it.
fn curl_the_demo_server(marker: &str, command: &str) -> (String, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_pushlab"))
        .args(["--addr", "127.0.0.1:0", "--trace"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the demo server starts");
    let mut stdout = BufReader::new(server.stdout.take().expect("stdout is piped"));
    let mut first_line = String::new();
    let _ = stdout.read_line(&mut first_line);
    let Some(addr) = listening_addr(&first_line) else {
        let _ = server.kill();
        panic!("the demo server did not say where it listens: {first_line:?}");
    };
    // The trace as it grows, so that a delayed publish can wait for curl's request to arrive.
    let trace = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let trace_reader = {
        let trace = trace.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stdout.read_line(&mut line).is_ok_and(|read| read > 0) {
                trace.lock().expect("no reader panics").push_str(&line);
                line.clear();
            }
        })
    };
    let publish = delayed_publish(marker).map(|(topic, data, delay)| {
        let publish = format!("curl -s -o /dev/null -d '{data}' http://{addr}/publish/{topic}");
        match delay.is_zero() {
            // "after 0 ms": already in the log when curl connects.
            true => {
                run_curl(&publish, addr);
                None
            }
            // "after N ms": N ms after the server has curl's request, as a reader watching the
            // trace would publish (a loaded machine may be slow to start curl).
            false => {
                let trace = trace.clone();
                Some(std::thread::spawn(move || {
                    let arrived = || trace.lock().expect("no reader panics").contains("\n<- ");
                    let started = Instant::now();
                    while !arrived() && started.elapsed() < RUN_TIMEOUT {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    std::thread::sleep(delay);
                    run_curl(&publish, addr);
                }))
            }
        }
    });
    let printed = run_curl(command, addr);
    if let Some(Some(publisher)) = publish {
        publisher.join().expect("the publisher ends");
    }
    // The server is this test's own child: stopped by its handle.
    let _ = server.kill();
    let _ = server.wait();
    trace_reader.join().expect("the trace reader ends");
    let trace = trace.lock().expect("no reader panics").clone();
    let book_addr = BOOK_ADDRESSES
        .into_iter()
        .find(|book_addr| command.contains(book_addr))
        .unwrap_or("127.0.0.1:8080");
    (printed, trace.replace(&addr.to_string(), book_addr))
}

/// `demo, publish "DATA" on TOPIC after N ms`: a message a second terminal publishes while curl waits
/// (after 0 ms: before curl connects).
fn delayed_publish(server: &str) -> Option<(String, String, Duration)> {
    let rest = server.strip_prefix("demo, publish \"")?;
    let (data, rest) = rest.split_once("\" on ")?;
    let (topic, rest) = rest.split_once(" after ")?;
    let millis = rest.strip_suffix(" ms")?.parse().ok()?;
    Some((
        topic.to_string(),
        data.to_string(),
        Duration::from_millis(millis),
    ))
}

/// Starts an example on a port the system picks, runs the curl command against it, and stops it (by
/// its own process handle) if it did not end by itself.
fn curl_example(example: &Path, args: &[&str], command: &str) -> String {
    let mut child = Command::new(example)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", example.display()));
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first_line = String::new();
    let _ = stdout.read_line(&mut first_line);
    let Some(addr) = listening_addr(&first_line) else {
        let _ = child.kill();
        panic!("{} did not say where it listens", example.display());
    };
    let printed = run_curl(command, addr);
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    printed
}

#[test]
fn a_curl_block_may_have_a_message_published_while_curl_waits() {
    assert_eq!(
        delayed_publish("demo, publish \"hello, long poll\" on chat after 1000 ms"),
        Some((
            "chat".to_string(),
            "hello, long poll".to_string(),
            Duration::from_millis(1000)
        ))
    );
    assert_eq!(delayed_publish("demo"), None);
}

#[test]
fn an_elision_stands_for_any_lines() {
    let lines = |text: &str| -> Vec<String> { text.lines().map(str::to_string).collect() };
    let output = lines("HTTP/1.1 421\nDate: x\nServer: y\n\n421 body");
    assert!(matches_with_elisions(
        &lines("HTTP/1.1 421\n...\n421 body"),
        &output
    ));
    assert!(!matches_with_elisions(
        &lines("HTTP/1.1 421\n...\n400 body"),
        &output
    ));
    assert!(!matches_with_elisions(&lines("HTTP/1.1 421"), &output));
}

/// The introduction's table of the doors quotes each chapter's run: every number in its latency, bytes
/// and requests columns (sizes in KiB aside, which are limits) appears in a checked block of the door's
/// chapter, or is one the chapter's text counts itself ([`NUMBERS_NOT_FROM_A_RUN`]).
#[test]
fn the_introductions_table_quotes_the_chapters_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chapters = chapters(&root.join("tutorials"));
    let checked_of = |prefix: &str| -> String {
        let (_, text) = chapters
            .iter()
            .find(|(name, _)| name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no chapter {prefix}"));
        prose_and_checked_blocks(text).1
    };
    let doors = [
        ("| short polling |", "03-"),
        ("| long polling |", "04-"),
        ("| JSONP |", "05-"),
        ("| iframe |", "06-"),
        ("| XHR stream |", "07-"),
        ("| SSE |", "08-"),
        ("| WebSocket |", "11-"),
    ];
    let intro =
        std::fs::read_to_string(root.join("tutorials/README.md")).expect("the introduction");
    let mut unbacked = Vec::new();
    for (row_start, chapter) in doors {
        let row = intro
            .lines()
            .find(|line| line.starts_with(row_start))
            .unwrap_or_else(|| panic!("the table has no row `{row_start}`"));
        let checked = checked_of(chapter);
        // Columns 2 to 4: latency, bytes per message, requests.
        for cell in row.split('|').skip(2).take(3) {
            for number in numbers_not_in_kib(cell) {
                let counted_in_the_text = NUMBERS_NOT_FROM_A_RUN
                    .iter()
                    .any(|&(prefix, n, _)| prefix == chapter && n == number);
                if !counted_in_the_text && !appears_in(&number, "", &checked) {
                    unbacked.push(format!("{row_start} {number} (chapter {chapter})"));
                }
            }
        }
    }
    assert!(
        unbacked.is_empty(),
        "numbers in the introduction's table that the chapter's run does not show:\n{}",
        unbacked.join("\n")
    );
}

/// Every number in a table cell, except a size in KiB (`1.2 KiB`, `128 KiB`: limits, not results).
fn numbers_not_in_kib(cell: &str) -> Vec<String> {
    let words: Vec<&str> = cell.split_whitespace().collect();
    words
        .iter()
        .enumerate()
        .filter(|(i, _)| words.get(i + 1).is_none_or(|next| !next.starts_with("KiB")))
        .flat_map(|(_, word)| word.split(|c: char| !c.is_ascii_digit() && c != '.'))
        .map(|number| number.trim_matches('.'))
        .filter(|number| !number.is_empty())
        .map(str::to_string)
        .collect()
}

/// The sizes chapters 6 and 8 count in their text are what the doors' own framing writes: the
/// iframe's script around the JSON and its chunk, an event's bytes and its chunk, and the price of a
/// payload's extra line.
#[test]
fn the_sizes_the_text_counts_are_the_doors_framing() {
    use pushlab::hub::Message;
    use pushlab::transport::{iframe::IframeStream, sse::SseStream, StreamFormat};
    let message = |data: &str| Message {
        id: normalise::FIXED_FIRST_ID,
        data: data.to_string(),
        json: pushlab::json::message_json(normalise::FIXED_FIRST_ID, data),
    };
    let chunk_of = |payload: &[u8]| {
        let mut chunk = Vec::new();
        pushlab::http::chunked::encode_chunk(payload, &mut chunk);
        chunk.len()
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let words_of = |chapter: &str| -> String {
        let text =
            std::fs::read_to_string(root.join("tutorials").join(chapter)).expect("a chapter");
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    };

    let iframe = IframeStream::new("onNews").expect("a valid callback");
    let hello = message("hello");
    let mut script = Vec::new();
    iframe.message(&hello, &mut script);
    let around_the_json = script.len() - hello.json.len();
    let chunk = chunk_of(&script);
    let chapter_6 = words_of("06-iframe.md");
    for stated in [
        format!("({around_the_json} bytes with this callback) around the JSON: {chunk} bytes for the message `hello`"),
        // A script under 256 bytes has a two-digit size line; a longer one (an escaped message), three.
        format!(
            "(size line and CRLF, {}–{} bytes)",
            chunk - script.len(),
            chunk_of(&[b' '; 256]) - 256
        ),
    ] {
        assert!(chapter_6.contains(&stated), "chapter 6 should say `{stated}`");
    }

    let sse = SseStream { retry_ms: 500 };
    let framed = |data: &str| {
        let mut event = Vec::new();
        sse.message(&message(data), &mut event);
        event
    };
    let story = framed("story 1");
    let extra_line = framed("a\nb").len() - framed("ab").len();
    let chapter_8 = words_of("08-sse.md");
    for stated in [
        format!(
            "**Overhead per message: {} bytes** for the 7-byte payload `story 1`",
            chunk_of(&story)
        ),
        format!("A multi-line payload pays {extra_line} bytes (`data: ` and `\\n`) per extra line"),
    ] {
        assert!(
            chapter_8.contains(&stated),
            "chapter 8 should say `{stated}`"
        );
    }
}
