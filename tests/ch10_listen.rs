//! Chapter 10's Chromium capture is what Chromium sends today.
//!
//! `tutorials/10-ws-frames.md` shows the output of `cargo run --example 10_ws_frames -- --listen` while
//! headless Chromium ran the page printed just above it: the upgrade request, the 101 answer, and each
//! frame the browser sent, decoded field by field (RFC 6455 §5.2). This test replays that scene:
//!
//! 1. it starts the example with `--listen 0` (the system picks a free port, the example prints it);
//! 2. it serves the chapter's page, as printed, from a one-page server on loopback, with the page's
//!    `ws://127.0.0.1:9001/` pointed at the example's real port. A page served over HTTP gives the
//!    upgrade request a real `Origin` (a `data:` URL would send `Origin: null`);
//! 3. headless Chromium opens the page, which sends four messages, waits for their echoes and closes
//!    with 1000 "bye"; the example then ends by itself;
//! 4. the example's output and the chapter's block are compared line by line after [`normalise`].
//!
//! What changes from run to run is replaced by a placeholder on both sides: ports, the browser's
//! version in `User-Agent`, `Sec-WebSocket-Key` and `-Accept` (a random nonce and its hash, §4.1 and
//! §4.2.2), every masking key and the masked bytes it produces (§5.3). Everything else must be equal:
//! every header name and the order Chromium sends them in, each frame's first two bytes, its FIN, RSV,
//! opcode, MASK and length fields, the unmasked payloads and the close code. A line `...` in the
//! chapter stands for any number of lines (the chapter shortens frames that repeat the pattern). The
//! accept value is not lost to normalisation: it is checked against the key it answers.
//!
//! Chromium is found as in `browser.rs`: without it the test prints SKIPPED and passes, except under
//! `CI`, where it fails.

#[path = "browser/support.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use pushlab::ws::handshake::accept_key;
use support::{chromium_or_skip, Browser};

/// The sentence that introduces the capture in the chapter; the page is the `html` block before it.
const CAPTURE_INTRO: &str = "This is what Chromium";
/// The address the chapter's page connects to, replaced by the example's real one.
const PAGE_WS_ADDR: &str = "127.0.0.1:9001";
/// How long Chromium may take to start, run the page and close (a bound that stops a hung run, not a
/// measurement).
const RUN_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn chromium_sends_what_chapter_10_shows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chapter = chapter(root);
    let page = chapter_page(&chapter);
    let shown = chapter_capture(&chapter);
    let Some(chromium) = chromium_or_skip() else {
        println!(
            "SKIPPED chromium_sends_what_chapter_10_shows: no Chromium to run chapter 10's page"
        );
        return;
    };
    let example = build_example(root);

    let mut listener = Command::new(&example)
        .args(["--listen", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", example.display()));
    let mut stdout = BufReader::new(listener.stdout.take().expect("stdout is piped"));
    let mut first_line = String::new();
    let _ = stdout.read_line(&mut first_line);
    let Some(ws_addr) = first_line
        .trim_end()
        .strip_prefix("listening on ws://")
        .and_then(|rest| rest.strip_suffix('/'))
        .and_then(|addr| addr.parse::<SocketAddr>().ok())
    else {
        stop(&mut listener);
        panic!("the example did not say where it listens: {first_line:?}");
    };
    // The rest of the output is read as it comes, so the example never blocks on a full pipe.
    let rest_of_output = thread::spawn(move || {
        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        rest
    });

    let page_server = PageServer::start(page.replace(PAGE_WS_ADDR, &ws_addr.to_string()));
    // `Accept-Language` would follow the machine's language; the chapter's run was in English.
    let browser = Browser::start_with(
        &chromium,
        &format!("http://{}/", page_server.addr),
        &["--accept-lang=en-US,en"],
    );
    let ended = wait_for_exit(&mut listener, RUN_LIMIT);
    drop(browser);
    drop(page_server);
    if !ended {
        stop(&mut listener);
    }
    let output = first_line + &rest_of_output.join().expect("the reader thread ends");
    assert!(
        ended,
        "the example did not end within {RUN_LIMIT:?}; it printed:\n{output}"
    );

    let output: Vec<&str> = output.lines().collect();
    check_accept_answers_key(&output);
    let expected: Vec<String> = shown.iter().map(|line| normalise(line)).collect();
    let printed: Vec<String> = output.iter().map(|line| normalise(line)).collect();
    assert!(
        matches_with_elisions(&expected, &printed),
        "chapter 10's capture no longer matches what Chromium sends.\n--- chapter (normalised) ---\n{}\n\
         --- this run (normalised) ---\n{}\n--- this run ---\n{}",
        expected.join("\n"),
        printed.join("\n"),
        output.join("\n")
    );
}

/// `Sec-WebSocket-Accept` is normalised away, so its one rule is checked here: it is the key's hash
/// (RFC 6455 §4.2.2).
fn check_accept_answers_key(output: &[&str]) {
    let value = |name: &str| {
        output
            .iter()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} line in:\n{}", output.join("\n")))
    };
    let key = value("Sec-WebSocket-Key: ");
    assert_eq!(value("Sec-WebSocket-Accept: "), accept_key(key));
}

// ---------------------------------------------------------------------------------------------
// The chapter's page and capture
// ---------------------------------------------------------------------------------------------

fn chapter(root: &Path) -> String {
    let path = root.join("tutorials/10-ws-frames.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The page the capture was made with: the last `html` block before [`CAPTURE_INTRO`].
fn chapter_page(chapter: &str) -> String {
    let (before, _) = chapter
        .split_once(CAPTURE_INTRO)
        .expect("chapter 10 introduces its Chromium capture");
    let page = before
        .rsplit_once("```html\n")
        .and_then(|(_, page)| page.split_once("```"))
        .map(|(page, _)| page.to_string())
        .expect("an html block comes before the capture");
    assert!(
        page.contains(&format!("ws://{PAGE_WS_ADDR}/")),
        "the page connects to ws://{PAGE_WS_ADDR}/, the example's default address:\n{page}"
    );
    page
}

/// The capture's lines, after the `$ cargo run` line that shows the command.
fn chapter_capture(chapter: &str) -> Vec<String> {
    let (_, after) = chapter
        .split_once(CAPTURE_INTRO)
        .expect("chapter 10 introduces its Chromium capture");
    let block = after
        .split_once("```text\n")
        .and_then(|(_, block)| block.split_once("\n```"))
        .map(|(block, _)| block)
        .expect("a text block follows the introduction");
    let mut lines = block.lines();
    assert_eq!(
        lines.next(),
        Some("$ cargo run --example 10_ws_frames -- --listen"),
        "the capture starts with its command"
    );
    lines.map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// Normalising and comparing
// ---------------------------------------------------------------------------------------------

/// One line with what changes from run to run replaced by a placeholder (see the module docs).
fn normalise(line: &str) -> String {
    // A frame's first two bytes say FIN, opcode, MASK and the 7-bit length; the rest of the line is
    // the extended length, the masking key and masked bytes, all covered by the decoded lines.
    if let Some(bytes) = line.strip_prefix("frame from the client: ") {
        let first_two: Vec<&str> = bytes.split(' ').take(2).collect();
        return format!(
            "frame from the client: {} <key, masked bytes>",
            first_two.join(" ")
        );
    }
    const RANDOM: [(&str, &str); 4] = [
        ("Sec-WebSocket-Key: ", "<nonce>"),
        ("Sec-WebSocket-Accept: ", "<hash of the nonce>"),
        ("  masking key    = ", "<random key>"),
        ("  payload (wire) = ", "<masked bytes>"),
    ];
    for (prefix, placeholder) in RANDOM {
        if line.starts_with(prefix) {
            return format!("{prefix}{placeholder}");
        }
    }
    let line = replace_after(line, "127.0.0.1:", "<port>", |c| c.is_ascii_digit());
    replace_after(&line, "Chrome/", "<version>", |c| {
        c.is_ascii_digit() || c == '.'
    })
}

/// `line` with every run of characters for which `part_of` holds, right after `marker`, replaced by
/// `placeholder`.
fn replace_after(line: &str, marker: &str, placeholder: &str, part_of: fn(char) -> bool) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(marker) {
        let (before, from_marker) = rest.split_at(at + marker.len());
        out.push_str(before);
        let value_len = from_marker
            .find(|c: char| !part_of(c))
            .unwrap_or(from_marker.len());
        if value_len > 0 {
            out.push_str(placeholder);
        }
        rest = &from_marker[value_len..];
    }
    out + rest
}

/// Whether `output` is `expected`, where an expected line `...` (indented or not) stands for any
/// number of lines.
fn matches_with_elisions(expected: &[String], output: &[String]) -> bool {
    match expected.split_first() {
        None => output.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=output.len()).any(|skip| matches_with_elisions(rest, &output[skip..]))
        }
        Some((first, rest)) => output
            .split_first()
            .is_some_and(|(line, more)| line == first && matches_with_elisions(rest, more)),
    }
}

// ---------------------------------------------------------------------------------------------
// The example, the page's server
// ---------------------------------------------------------------------------------------------

/// Builds `10_ws_frames` with this test's profile and target directory and returns its path. (Cargo
/// does not build examples for `cargo test --test ch10_listen`; building here also means a changed
/// example is never run from a stale binary.)
fn build_example(root: &Path) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/ch10_listen-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--quiet",
            "--example",
            "10_ws_frames",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    match profile_dir.file_name().unwrap_or_default().to_str() {
        Some("debug") => {}
        Some("release") => {
            cargo.arg("--release");
        }
        other => {
            cargo.args(["--profile", other.unwrap_or("dev")]);
        }
    }
    assert!(
        cargo.status().expect("cargo runs").success(),
        "examples/10_ws_frames.rs does not build"
    );
    profile_dir.join("examples/10_ws_frames")
}

/// Waits for `child` to end by itself, up to `limit`; whether it did.
fn wait_for_exit(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Stops the example this test started (by its own process handle).
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Serves one page at every path but `/favicon.ico` (404), on a free loopback port, until dropped.
struct PageServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PageServer {
    fn start(page: String) -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        // Non-blocking accept, so the thread sees `stopping` and ends when the test is done.
        listener.set_nonblocking(true).expect("non-blocking accept");
        let stopping = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stopping);
        let thread = thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &page),
                    Err(_) => thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        PageServer {
            addr,
            stopping,
            thread: Some(thread),
        }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request on `stream` with the page (or 404 for the favicon) and closes it.
fn serve(mut stream: TcpStream, page: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => head.extend_from_slice(&chunk[..read]),
        }
    }
    let (status, body) = match head.starts_with(b"GET /favicon.ico ") {
        true => ("404 Not Found", ""),
        false => ("200 OK", page),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// The comparison itself, without a browser
// ---------------------------------------------------------------------------------------------

#[test]
fn normalising_keeps_what_the_chapter_teaches_and_hides_what_is_random() {
    assert_eq!(
        normalise("frame from the client: 81 fe 00 7e 25 8a e0 4d ... (134 bytes)"),
        "frame from the client: 81 fe <key, masked bytes>"
    );
    assert_eq!(
        normalise("connection from 127.0.0.1:39896"),
        "connection from 127.0.0.1:<port>"
    );
    assert_eq!(
        normalise("User-Agent: Mozilla/5.0 (X11) HeadlessChrome/156.0.0.0 Safari/537.36"),
        "User-Agent: Mozilla/5.0 (X11) HeadlessChrome/<version> Safari/537.36"
    );
    assert_eq!(
        normalise("  masking key    = 43 4e 2f 7f"),
        "  masking key    = <random key>"
    );
    // Decoded fields and payloads are kept as they are.
    for kept in [
        "  payload        = 48 65 6c 6c 6f",
        "    opcode = 0x8    (close)",
        "  close code     = 1000, reason \"bye\"",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ] {
        assert_eq!(normalise(kept), kept);
    }
}

#[test]
fn the_chapter_capture_matches_itself_and_not_a_changed_payload() {
    let chapter = chapter(Path::new(env!("CARGO_MANIFEST_DIR")));
    let shown: Vec<String> = chapter_capture(&chapter)
        .iter()
        .map(|line| normalise(line))
        .collect();
    // The block with its elisions filled by one frame of 126 "x"s still matches...
    let mut filled: Vec<String> = Vec::new();
    for line in &shown {
        if line.trim() == "..." {
            filled.push("  payload length = 126 bytes".to_string());
        } else {
            filled.push(line.clone());
        }
    }
    assert!(matches_with_elisions(&shown, &filled));
    // ...but a payload, a close code or a header that differs does not.
    for (from, to) in [
        ("\"Hello\"", "\"Hellp\""),
        ("close code     = 1000", "close code     = 1001"),
        ("Pragma: no-cache", "X-Pragma: no-cache"),
    ] {
        let changed: Vec<String> = filled.iter().map(|line| line.replace(from, to)).collect();
        assert_ne!(changed, filled, "{from} is in the chapter's block");
        assert!(
            !matches_with_elisions(&shown, &changed),
            "{from} -> {to} went unnoticed"
        );
    }
}
