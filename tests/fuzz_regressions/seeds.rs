//! The seed corpus: the fuzzer's starting points, made from the test vectors the project's tests
//! already use, so that a run starts from real requests, chunked bodies, frames, event streams and
//! UTF-8 cases instead of from nothing.
//!
//! The vectors are the string and byte-string literals of the test files named below, read straight
//! from their source: when a test gains a vector, `fuzz/run.sh --seeds` picks it up. Each target gets
//! the literals that are its kind of input (a request has `HTTP/1.`, a chunked body starts with a hex
//! size, ...), framed the way its property reads input (most targets take a first byte that says where
//! to split the rest). The WebSocket and server-core seeds are built from those literals too, as masked
//! client frames and as event sequences. A seed is named by the SHA-1 of its bytes, as libFuzzer names
//! its inputs, so the same vector is one file.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use pushlab::ws::frame::{encode_frame, Opcode};
use sha1::{Digest, Sha1};

use super::properties::connection_core::{event, REQUESTS};

/// Literals longer than this are left out: seeds should be small.
const MAX_SEED_BYTES: usize = 1024;

/// The mask of the client frames in the seeds (any mask will do; the fuzzer changes it).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Test files whose literals are HTTP requests or chunked bodies.
const HTTP_SOURCES: [&str; 6] = [
    "tests/http_parser.rs",
    "tests/http_parser/decoder.rs",
    "tests/http_parser/errors.rs",
    "tests/hostile_input.rs",
    "tests/server_core.rs",
    "tests/transports_wire/polls.rs",
];

/// Test files whose literals are WebSocket payloads.
const WS_SOURCES: [&str; 5] = [
    "tests/ws_codec/close.rs",
    "tests/ws_codec/fragmentation.rs",
    "tests/ws_codec/framing.rs",
    "tests/ws_codec/limits.rs",
    "tests/ws_codec/in_memory.rs",
];

/// Payloads that try to leave their container, for the encoders (the test files add their own).
const HOSTILE_PAYLOADS: [&str; 10] = [
    "</script><script>alert(1)</script>",
    "</SCRIPT\t>",
    "<!--<script>",
    "\u{2028}\u{2029}",
    "x\ndata: forged\nid: 999\n\n",
    "x\r\nevent: reset\r\rid: 1",
    "\"});alert(1);//",
    "\\u003c/script\\u003e",
    "\0\u{1}\u{1f}\u{7f}",
    "",
];

/// Writes every target's seeds into `repo/fuzz/corpus/<target>/`, replacing what was there; returns
/// how many each target got.
pub fn write_seed_corpus(repo: &Path) -> Vec<(&'static str, usize)> {
    seed_corpus(repo)
        .into_iter()
        .map(|(target, seeds)| {
            let dir = repo.join("fuzz/corpus").join(target);
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("the corpus folder can be made");
            for seed in &seeds {
                let name = hex(&Sha1::digest(seed));
                fs::write(dir.join(name), seed).expect("a seed can be written");
            }
            (target, seeds.len())
        })
        .collect()
}

/// Every target's seeds, without duplicates.
pub fn seed_corpus(repo: &Path) -> Vec<(&'static str, BTreeSet<Vec<u8>>)> {
    let http = literals_of(repo, &HTTP_SOURCES);
    let requests: Vec<Vec<u8>> = http
        .iter()
        .filter(|l| contains(l, b"HTTP/1.") && l.len() <= MAX_SEED_BYTES)
        .cloned()
        .collect();
    let chunked_bodies: Vec<Vec<u8>> = http
        .iter()
        .filter(|l| l.first().is_some_and(u8::is_ascii_hexdigit) && contains(l, b"\r\n"))
        .cloned()
        .chain(requests.iter().filter_map(|r| body_of_chunked(r)))
        .collect();
    let ws_payloads: Vec<Vec<u8>> = literals_of(repo, &WS_SOURCES)
        .into_iter()
        .filter(|l| l.len() <= 125)
        .collect();
    let utf8 = literals_of(repo, &["tests/ws_codec/utf8.rs"]);
    let sse = literals_of(
        repo,
        &["tests/sse_parser.rs", "tests/transports_wire/sse.rs"],
    );
    let mut payloads: Vec<Vec<u8>> = HOSTILE_PAYLOADS
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    payloads.extend(literals_of(repo, &["tests/hostile_input.rs"]));
    payloads.retain(|p| p.len() <= 256);
    // Every payload as a text frame; the first few also as the other kinds of frame.
    let frames: Vec<Vec<u8>> = ws_payloads
        .iter()
        .enumerate()
        .flat_map(|(index, p)| {
            client_frames(p)
                .into_iter()
                .take(if index < 16 { 5 } else { 1 })
        })
        .collect();
    vec![
        ("http_request", with_split_byte(&requests)),
        ("chunked_body", with_split_byte(&chunked_bodies)),
        ("ws_server", with_split_byte(&ws_sessions(&frames, &utf8))),
        ("utf8_validator", with_split_byte(&utf8)),
        ("sse_stream", with_split_byte(&sse)),
        ("connection_core", core_stories(&ws_payloads)),
        ("push_encoders", encoder_inputs(&payloads)),
    ]
}

/// Each input behind a first byte that splits it in the middle (the fuzzer moves the split).
fn with_split_byte(inputs: &[Vec<u8>]) -> BTreeSet<Vec<u8>> {
    inputs
        .iter()
        .filter(|input| input.len() <= MAX_SEED_BYTES)
        .map(|input| {
            let mut seed = vec![(input.len() / 2).min(255) as u8];
            seed.extend_from_slice(input);
            seed
        })
        .collect()
}

/// The body after the head of a request that says `Transfer-Encoding: chunked`.
fn body_of_chunked(request: &[u8]) -> Option<Vec<u8>> {
    if !contains(request, b"chunked") {
        return None;
    }
    let at = request.windows(4).position(|w| w == b"\r\n\r\n")?;
    let body = &request[at + 4..];
    (!body.is_empty()).then(|| body.to_vec())
}

/// Masked client frames carrying `payload`: as text, binary, ping, a close with a code, and a text
/// message in two fragments.
fn client_frames(payload: &[u8]) -> Vec<Vec<u8>> {
    let frame = |fin, opcode, payload: &[u8]| {
        let mut out = Vec::new();
        encode_frame(fin, opcode, payload, Some(MASK), &mut out);
        out
    };
    let half = payload.len() / 2;
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(&payload[..payload.len().min(123)]);
    vec![
        frame(true, Opcode::Text, payload),
        frame(true, Opcode::Binary, payload),
        frame(true, Opcode::Ping, payload),
        frame(true, Opcode::Close, &close),
        [
            frame(false, Opcode::Text, &payload[..half]),
            frame(true, Opcode::Continuation, &payload[half..]),
        ]
        .concat(),
    ]
}

/// What the WebSocket server target reads: single frames, and text messages of the UTF-8 vectors (a
/// valid or invalid message each).
fn ws_sessions(frames: &[Vec<u8>], utf8: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut sessions = frames.to_vec();
    for text in utf8.iter().filter(|t| t.len() <= 125) {
        let mut out = Vec::new();
        encode_frame(true, Opcode::Text, text, Some(MASK), &mut out);
        sessions.push(out);
    }
    sessions
}

/// Event sequences for the server core (see `connection_core`'s `event` module): for every door, a
/// client connects, opens it, a message is published, the clock passes a heartbeat, the client reads
/// all, then hangs up; WebSocket doors also get frames of the test payloads.
fn core_stories(ws_payloads: &[Vec<u8>]) -> BTreeSet<Vec<u8>> {
    let read_all = [event::READ, 0, 0xff, 0xff];
    let mut stories = BTreeSet::new();
    for template in 0..REQUESTS.len() as u8 {
        let mut story = vec![event::ACCEPT, event::REQUEST, template, 0, 2, b'h', b'i', 0];
        story.extend_from_slice(&read_all);
        story.extend_from_slice(&[event::PUBLISH, 0, 4, b'n', b'e', b'w', b's']);
        story.extend_from_slice(&read_all);
        story.extend_from_slice(&[event::CLOCK, 40]);
        story.extend_from_slice(&read_all);
        story.extend_from_slice(&[event::READABLE, 0, event::HANG_UP, 0]);
        stories.insert(story);
    }
    let ws_topic = REQUESTS
        .iter()
        .position(|r| r.starts_with("GET /ws/{topic}"))
        .unwrap_or(0) as u8;
    let ws_echo = REQUESTS
        .iter()
        .position(|r| r.starts_with("GET /ws/echo"))
        .unwrap_or(0) as u8;
    for payload in ws_payloads.iter().filter(|p| p.len() < 64).take(16) {
        for (door, first_byte) in [(ws_topic, 0x81), (ws_echo, 0x81), (ws_echo, 0x89)] {
            let mut story = vec![event::ACCEPT, event::REQUEST, door, 1, 0, 0];
            story.extend_from_slice(&read_all);
            story.extend_from_slice(&[event::FRAME, first_byte, payload.len() as u8]);
            story.extend_from_slice(payload);
            story.push(0);
            story.extend_from_slice(&read_all);
            stories.insert(story);
        }
    }
    stories
}

/// Inputs of the encoders' target: a callback, an id, and the payloads separated by `0xFF`.
fn encoder_inputs(payloads: &[Vec<u8>]) -> BTreeSet<Vec<u8>> {
    let callbacks: [&[u8]; 3] = [b"onChat", b"app.push.receive", b"alert(1)//"];
    payloads
        .iter()
        .zip(callbacks.iter().cycle())
        .zip([0u64, 1043, u64::MAX].iter().cycle())
        .map(|((payload, callback), id)| {
            let mut input = vec![callback.len() as u8];
            input.extend_from_slice(callback);
            input.extend_from_slice(&id.to_be_bytes());
            input.extend_from_slice(payload);
            input
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The string and byte-string literals of the files (relative to `repo`), unescaped, without
/// duplicates or empty ones.
fn literals_of(repo: &Path, files: &[&str]) -> Vec<Vec<u8>> {
    let mut seen = BTreeSet::new();
    for file in files {
        let source = fs::read_to_string(repo.join(file)).unwrap_or_default();
        seen.extend(literals(&source));
    }
    seen.into_iter().filter(|l| !l.is_empty()).collect()
}

/// The literals of Rust source `text`: `"..."` and `b"..."` with their escapes (`\n`, `\r`, `\t`, `\0`,
/// `\\`, `\"`, `\'`, `\xHH`, `\u{...}`, and a line continuation), and raw `r"..."`/`r#"..."#`.
/// Comments are skipped, and so is the character literal `'"'`.
fn literals(text: &str) -> Vec<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at += bytes[at..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(bytes.len() - at);
            }
            b'\'' if bytes.get(at + 2) == Some(&b'\'') => at += 3,
            b'\'' if bytes.get(at + 1) == Some(&b'\\') && bytes.get(at + 3) == Some(&b'\'') => {
                at += 4
            }
            b'r' if bytes.get(at + 1) == Some(&b'#') || bytes.get(at + 1) == Some(&b'"') => {
                let hashes = bytes[at + 1..].iter().take_while(|&&b| b == b'#').count();
                if bytes.get(at + 1 + hashes) != Some(&b'"') {
                    at += 1;
                    continue;
                }
                let start = at + 2 + hashes;
                let close: Vec<u8> = std::iter::once(b'"').chain(vec![b'#'; hashes]).collect();
                let end = bytes[start..]
                    .windows(close.len())
                    .position(|w| w == close.as_slice())
                    .map_or(bytes.len(), |p| start + p);
                found.push(bytes[start..end].to_vec());
                at = end + close.len();
            }
            b'"' => {
                let (literal, end) = unescape(bytes, at + 1);
                found.push(literal);
                at = end;
            }
            _ => at += 1,
        }
    }
    found
}

/// The literal starting at `start` (just after its opening quote), unescaped, and where it ends.
fn unescape(bytes: &[u8], start: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut at = start;
    while let Some(&b) = bytes.get(at) {
        at += 1;
        match b {
            b'"' => return (out, at),
            b'\\' => {
                let escaped = bytes.get(at).copied().unwrap_or(b'\\');
                at += 1;
                match escaped {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'0' => out.push(0),
                    b'x' => {
                        let digits = std::str::from_utf8(bytes.get(at..at + 2).unwrap_or_default());
                        out.push(u8::from_str_radix(digits.unwrap_or("0"), 16).unwrap_or(0));
                        at += 2;
                    }
                    b'u' => {
                        let end = bytes[at..]
                            .iter()
                            .position(|&b| b == b'}')
                            .map_or(at, |p| at + p);
                        let digits =
                            std::str::from_utf8(&bytes[(at + 1).min(end)..end]).unwrap_or("");
                        let ch = u32::from_str_radix(digits, 16)
                            .ok()
                            .and_then(char::from_u32);
                        out.extend_from_slice(ch.unwrap_or('?').to_string().as_bytes());
                        at = end + 1;
                    }
                    b'\n' => {
                        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
                            at += 1;
                        }
                    }
                    other => out.push(other),
                }
            }
            other => out.push(other),
        }
    }
    (out, at)
}
