//! Autobahn section 9: limits and performance. Sizes as the suite uses them; no timing assertions
//! (speed is measured by the benchmarks), but every case is bounded in size.

use crate::support::*;
use pushlab::ws::{Event, WsConfig};

const SIXTEEN_MIB: usize = 16 * 1024 * 1024;

#[test]
fn sixteen_mib_binary_message_in_one_frame() {
    let payload: Vec<u8> = (0..SIXTEEN_MIB).map(|i| (i % 253) as u8).collect();
    let frame = binary(&payload);
    // Fed in 64 KiB reads, like a socket would deliver it.
    let run = feed(&mut server(), &frame, 64 * 1024);
    assert_eq!(run.error, None);
    assert_eq!(run.events.len(), 1);
    assert!(matches!(&run.events[0], Event::Binary(data) if *data == payload));
}

#[test]
fn sixteen_mib_text_message_in_one_frame() {
    let payload = "κόσμε-".repeat(SIXTEEN_MIB / "κόσμε-".len());
    let frame = text(payload.as_bytes());
    let run = feed(&mut server(), &frame, 64 * 1024);
    assert_eq!(run.error, None);
    assert!(matches!(&run.events[..], [Event::Text(received)] if *received == payload));
}

#[test]
fn message_in_65536_fragments() {
    // Autobahn 9.5.x/9.6.x go up to 65,536 fragments per message; there is no cap on the count.
    let fragments: usize = 65_536;
    let mut input = raw_frame(BINARY, &[0; 16]);
    for i in 1..fragments {
        let fin = if i == fragments - 1 { FIN } else { 0 };
        input.extend(raw_frame(fin | CONTINUATION, &[(i % 256) as u8; 16]));
    }
    let run = feed(&mut server(), &input, 64 * 1024);
    assert_eq!(run.error, None);
    assert!(matches!(&run.events[..], [Event::Binary(data)] if data.len() == fragments * 16));
}

#[test]
fn text_message_in_65536_one_byte_fragments() {
    let fragments = 65_536;
    let mut input = raw_frame(TEXT, b"a");
    for i in 1..fragments {
        let fin = if i == fragments - 1 { FIN } else { 0 };
        input.extend(raw_frame(fin | CONTINUATION, b"a"));
    }
    let run = feed(&mut server(), &input, 64 * 1024);
    assert_eq!(run.error, None);
    assert!(matches!(&run.events[..], [Event::Text(text)] if text.len() == fragments));
}

#[test]
fn message_over_the_limit_fails_from_its_header_alone() {
    let config = WsConfig {
        max_message_bytes: 1000,
        ..WsConfig::default()
    };
    let frame = binary(&[0; 1001]);
    // Only the header (2 + 2 + 4 bytes) is given: the announced length is enough to refuse.
    let run = feed(&mut server_with(&config), &frame[..8], usize::MAX);
    assert_eq!(run.error.as_ref().map(|e| e.close_code), Some(1009));
    assert_eq!(run.close_code_sent(), Some(1009));
    // Exactly the limit is fine.
    let run = feed(&mut server_with(&config), &binary(&[0; 1000]), usize::MAX);
    assert_eq!(run.error, None);
}

#[test]
fn huge_announced_length_fails_without_buffering() {
    // 2^62 bytes announced: refused at once with 1009.
    let mut frame = vec![FIN | BINARY, 0x80 | 127];
    frame.extend_from_slice(&(1u64 << 62).to_be_bytes());
    frame.extend_from_slice(&KEY);
    let run = run_all_ways(&frame);
    assert_eq!(run.error.as_ref().map(|e| e.close_code), Some(1009));
}

#[test]
fn limit_counts_all_fragments_together() {
    let config = WsConfig {
        max_message_bytes: 1000,
        ..WsConfig::default()
    };
    let input = [
        raw_frame(TEXT, &[b'a'; 600]),
        raw_frame(FIN | CONTINUATION, &[b'a'; 401]),
    ]
    .concat();
    let run = run_all_ways_with(&config, &input);
    assert_eq!(run.error.as_ref().map(|e| e.close_code), Some(1009));
    let input = [
        raw_frame(TEXT, &[b'a'; 600]),
        raw_frame(FIN | CONTINUATION, &[b'a'; 400]),
    ]
    .concat();
    let run = run_all_ways_with(&config, &input);
    assert_eq!(run.error, None);
    assert_eq!(run.events, [Event::Text("a".repeat(1000))]);
}
