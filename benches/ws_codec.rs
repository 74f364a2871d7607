//! WebSocket codec throughput, side by side with tungstenite's codec.
//!
//! Run with `cargo bench --bench ws_codec`. Plain `std::time`: each row runs a fixed amount of work
//! for each side, alternating the two sides run after run (so neither always goes first into a cold
//! cache or a fresh allocator), and reports the median of the runs. It needs no benchmark framework.
//! The numbers compare the two codecs on one machine; they are not absolute truths.
//!
//! Both sides do the same work per row:
//! - mask: XOR a payload in place (tungstenite's masking is private, so the row compares against the
//!   byte-at-a-time definition of §5.3; tungstenite's mask shows up in the masked encode row).
//! - decode header: one 14-byte header (64-bit length, masked) from a buffer.
//! - encode: header + payload (masked for the client role) written into a warm output buffer, from
//!   distinct payload buffers (tungstenite's `Frame::format` takes each payload by value).
//! - read: a stream of masked client frames turned into messages by the server side (pushlab's
//!   `WsProtocol::read`, tungstenite's `WebSocket::read` over an in-memory stream): header decode,
//!   unmasking, copying into the message, and UTF-8 validation for text.

use std::hint::black_box;
use std::io::Cursor;
use std::time::Instant;

use pushlab::ws::frame::{apply_mask, decode_header, encode_frame, Opcode};
use pushlab::ws::{Event, Role, WsConfig, WsProtocol};
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};
use tungstenite::protocol::{Role as TungsteniteRole, WebSocket};
use tungstenite::Message;

/// Timed runs per side (plus one untimed warm-up each).
const RUNS: usize = 9;
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Seconds of one run of `work` on a fresh value from `setup` (the setup is not timed).
fn time_once<S>(setup: &mut impl FnMut() -> S, work: &mut impl FnMut(S)) -> f64 {
    let state = setup();
    let start = Instant::now();
    work(state);
    start.elapsed().as_secs_f64()
}

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

/// Median seconds of pushlab's `ours` and the other side's `theirs`, runs alternating.
fn compare<A, B>(
    mut setup_ours: impl FnMut() -> A,
    mut ours: impl FnMut(A),
    mut setup_theirs: impl FnMut() -> B,
    mut theirs: impl FnMut(B),
) -> (f64, f64) {
    time_once(&mut setup_ours, &mut ours);
    time_once(&mut setup_theirs, &mut theirs);
    let mut ours_seconds = Vec::with_capacity(RUNS);
    let mut theirs_seconds = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        ours_seconds.push(time_once(&mut setup_ours, &mut ours));
        theirs_seconds.push(time_once(&mut setup_theirs, &mut theirs));
    }
    (median(ours_seconds), median(theirs_seconds))
}

/// One table row: a rate for pushlab and for the other side, higher is better.
struct Row {
    operation: &'static str,
    unit: &'static str,
    pushlab: f64,
    other: f64,
    other_name: &'static str,
}

fn gigabytes_per_second(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / seconds / 1e9
}

fn mask_row(operation: &'static str, start: usize) -> Row {
    let payload_bytes = 64 * 1024;
    let rounds = 2_000;
    let work_bytes = payload_bytes * rounds;
    let mut ours_data = vec![0x5Au8; payload_bytes + 1];
    let mut bytewise_data = ours_data.clone();
    let (ours, bytewise) = compare(
        || (),
        |()| {
            for round in 0..rounds {
                apply_mask(
                    black_box(&mut ours_data[start..start + payload_bytes]),
                    KEY,
                    round,
                );
            }
        },
        || (),
        |()| {
            for round in 0..rounds {
                let slice = black_box(&mut bytewise_data[start..start + payload_bytes]);
                for (i, byte) in slice.iter_mut().enumerate() {
                    *byte ^= KEY[(i + round) % 4];
                }
            }
        },
    );
    assert_eq!(ours_data, bytewise_data, "both sides masked alike");
    Row {
        operation,
        unit: "GB/s",
        pushlab: gigabytes_per_second(work_bytes, ours),
        other: gigabytes_per_second(work_bytes, bytewise),
        other_name: "bytewise",
    }
}

fn header_row() -> Row {
    let mut frame = Vec::new();
    encode_frame(
        true,
        Opcode::Binary,
        &vec![0; 70_000],
        Some(KEY),
        &mut frame,
    );
    let header = &frame[..14];
    let count = 1_000_000;
    let (ours, theirs) = compare(
        || (),
        |()| {
            for _ in 0..count {
                black_box(decode_header(black_box(header)).ok());
            }
        },
        || (),
        |()| {
            for _ in 0..count {
                let mut cursor = Cursor::new(black_box(header));
                black_box(FrameHeader::parse(&mut cursor).ok());
            }
        },
    );
    Row {
        operation: "decode 14-byte header",
        unit: "M/s",
        pushlab: count as f64 / ours / 1e6,
        other: count as f64 / theirs / 1e6,
        other_name: "tungstenite",
    }
}

fn encode_row(operation: &'static str, mask: Option<[u8; 4]>) -> Row {
    let payload_bytes = 64 * 1024;
    let frames = 256;
    let work_bytes = payload_bytes * frames;
    // Both sides get distinct payload buffers (tungstenite takes each by value) and write into one warm
    // output buffer that is emptied after each frame, as a connection's buffer is after each write.
    let setup = || {
        let payloads: Vec<Vec<u8>> = (0..frames)
            .map(|i| vec![i as u8 | 1; payload_bytes])
            .collect();
        let mut out = vec![0u8; payload_bytes + 14];
        out.clear();
        (payloads, out)
    };
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Binary),
        mask,
        ..FrameHeader::default()
    };
    let (ours, theirs) = compare(
        setup,
        |(payloads, mut out): (Vec<Vec<u8>>, Vec<u8>)| {
            for payload in payloads {
                out.clear();
                encode_frame(true, Opcode::Binary, &payload, mask, &mut out);
                black_box(&out);
            }
        },
        setup,
        |(payloads, mut out): (Vec<Vec<u8>>, Vec<u8>)| {
            for payload in payloads {
                out.clear();
                Frame::from_payload(header.clone(), payload)
                    .format(&mut out)
                    .ok();
                black_box(&out);
            }
        },
    );
    Row {
        operation,
        unit: "GB/s",
        pushlab: gigabytes_per_second(work_bytes, ours),
        other: gigabytes_per_second(work_bytes, theirs),
        other_name: "tungstenite",
    }
}

/// `count` masked client frames of `payload`, back to back.
fn client_stream(opcode: Opcode, payload: &[u8], count: usize) -> Vec<u8> {
    let mut stream = Vec::with_capacity((payload.len() + 14) * count);
    for _ in 0..count {
        encode_frame(true, opcode, payload, Some(KEY), &mut stream);
    }
    stream
}

fn read_row(operation: &'static str, opcode: Opcode, payload: &[u8], count: usize) -> Row {
    let stream = client_stream(opcode, payload, count);
    let config = WsConfig::default();
    let (ours, theirs) = compare(
        || WsProtocol::new(Role::Server, &config, Instant::now()),
        |mut protocol: WsProtocol| {
            let mut input = stream.as_slice();
            let mut out = Vec::new();
            let mut messages = 0;
            while let Ok(outcome) = protocol.read(input, &mut out, Instant::now()) {
                input = &input[outcome.consumed..];
                match outcome.event {
                    Some(Event::Text(_) | Event::Binary(_)) => messages += 1,
                    Some(_) => {}
                    None if outcome.consumed == 0 => break,
                    None => {}
                }
            }
            assert_eq!(messages, count);
        },
        || WebSocket::from_raw_socket(Cursor::new(stream.clone()), TungsteniteRole::Server, None),
        |mut socket: WebSocket<Cursor<Vec<u8>>>| {
            let mut messages = 0;
            while let Ok(message) = socket.read() {
                if matches!(message, Message::Text(_) | Message::Binary(_)) {
                    messages += 1;
                }
            }
            assert_eq!(messages, count);
        },
    );
    let work_bytes = payload.len() * count;
    let (unit, pushlab, other) = if payload.len() >= 1024 {
        (
            "GB/s",
            gigabytes_per_second(work_bytes, ours),
            gigabytes_per_second(work_bytes, theirs),
        )
    } else {
        (
            "M msg/s",
            count as f64 / ours / 1e6,
            count as f64 / theirs / 1e6,
        )
    };
    Row {
        operation,
        unit,
        pushlab,
        other,
        other_name: "tungstenite",
    }
}

fn main() {
    let text_payload = "κόσμε, hello, world! "
        .repeat(1024 * 1024 / 24)
        .into_bytes();
    let rows = [
        mask_row("mask 64 KiB, aligned", 0),
        mask_row("mask 64 KiB, odd start", 1),
        header_row(),
        encode_row("encode 64 KiB, server (unmasked)", None),
        encode_row("encode 64 KiB, client (masked)", Some(KEY)),
        read_row(
            "read 1 MiB binary messages",
            Opcode::Binary,
            &vec![7; 1024 * 1024],
            32,
        ),
        read_row("read 1 MiB text messages", Opcode::Text, &text_payload, 32),
        read_row(
            "read 16-byte binary messages",
            Opcode::Binary,
            &[7; 16],
            200_000,
        ),
    ];
    println!(
        "{:<34} {:>8} {:>9} {:>9} {:>12} {:>7}",
        "operation", "unit", "pushlab", "other", "other is", "ratio"
    );
    for row in rows {
        println!(
            "{:<34} {:>8} {:>9.2} {:>9.2} {:>12} {:>6.2}x",
            row.operation,
            row.unit,
            row.pushlab,
            row.other,
            row.other_name,
            row.pushlab / row.other
        );
    }
    println!("(median of {RUNS} alternating runs; ratio = pushlab / other, above 1 means pushlab is faster)");
}
