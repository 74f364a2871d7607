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
