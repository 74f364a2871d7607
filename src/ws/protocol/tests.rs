//! State machine tests that look at private state: deadlines, the closing handshake, buffers released.
//! The frame-by-frame conformance cases live in `tests/ws_codec.rs`.

use super::*;
use crate::ws::close;
use crate::ws::mask_key::FixedMaskKey;
use std::time::Duration;

fn config() -> WsConfig {
    WsConfig {
        ping_interval: Duration::from_secs(30),
        pong_timeout: Duration::from_secs(10),
        close_timeout: Duration::from_secs(5),
        ..WsConfig::default()
    }
}

/// A frame as a client sends it: masked with a fixed key.
fn client_frame(fin: bool, opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(fin, opcode, payload, Some([1, 2, 3, 4]), &mut out);
    out
}

fn decode_all(mut bytes: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut frames = Vec::new();
    while let Ok(Some((header, header_len))) = decode_header(bytes) {
        let end = header_len + header.payload_len as usize;
        let mut payload = bytes[header_len..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((header, payload));
        bytes = &bytes[end..];
    }
    assert!(bytes.is_empty(), "trailing bytes {bytes:02x?}");
    frames
}

#[test]
fn keep_alive_ping_then_dead_peer() {
    let start = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), start);
    let mut out = Vec::new();
    assert_eq!(
        server.next_deadline(),
        Some(start + Duration::from_secs(30))
    );
    // Too early: nothing happens.
    assert!(!server.on_timeout(start + Duration::from_secs(29), &mut out));
    assert!(out.is_empty());
    // Ping due.
    let ping_at = start + Duration::from_secs(30);
    assert!(!server.on_timeout(ping_at, &mut out));
    let frames = decode_all(&out);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0.opcode, Opcode::Ping);
    assert_eq!(frames[0].0.mask, None);
    assert_eq!(
        server.next_deadline(),
        Some(ping_at + Duration::from_secs(10))
    );
    // No answer within the pong timeout: dead.
    out.clear();
    assert!(!server.on_timeout(ping_at + Duration::from_secs(9), &mut out));
    assert!(server.on_timeout(ping_at + Duration::from_secs(10), &mut out));
    assert!(out.is_empty(), "no close frame to a dead peer");
    assert!(server.is_closed());
    assert_eq!(server.next_deadline(), None);
}

#[test]
fn any_traffic_from_the_peer_answers_the_keep_alive() {
    let start = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), start);
    let mut out = Vec::new();
    let ping_at = start + Duration::from_secs(30);
    assert!(!server.on_timeout(ping_at, &mut out));
    let heard_at = ping_at + Duration::from_secs(3);
    let pong = client_frame(true, Opcode::Pong, b"");
    let outcome = server.read(&pong, &mut out, heard_at).unwrap();
    assert_eq!(
        outcome,
        ReadOutcome {
            consumed: pong.len(),
            event: Some(Event::Pong(Vec::new()))
        }
    );
    assert_eq!(
        server.next_deadline(),
        Some(heard_at + Duration::from_secs(30))
    );
    assert!(!server.on_timeout(ping_at + Duration::from_secs(10), &mut out));
    assert!(!server.is_closed());
}

#[test]
fn a_partial_frame_counts_as_traffic() {
    let start = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), start);
    let frame = client_frame(true, Opcode::Binary, &[0; 100]);
    let later = start + Duration::from_secs(20);
    let outcome = server.read(&frame[..50], &mut Vec::new(), later).unwrap();
    assert_eq!(outcome.consumed, 50);
    assert_eq!(
        server.next_deadline(),
        Some(later + Duration::from_secs(30))
    );
}

#[test]
fn close_timeout_after_our_close() {
    let start = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), start);
    let mut out = Vec::new();
    let closed_at = start + Duration::from_secs(1);
    server.close(close::GOING_AWAY, "bye", &mut out, closed_at);
    assert!(server.close_sent());
    assert!(!server.is_closed());
    let frames = decode_all(&out);
    assert_eq!(frames[0].0.opcode, Opcode::Close);
    assert_eq!(frames[0].1, b"\x03\xE9bye");
    assert_eq!(
        server.next_deadline(),
        Some(closed_at + Duration::from_secs(5))
    );
    assert!(!server.on_timeout(closed_at + Duration::from_secs(4), &mut out));
    assert!(server.on_timeout(closed_at + Duration::from_secs(5), &mut out));
    assert!(server.is_closed());
}

#[test]
fn nothing_is_sent_after_close() {
    let now = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let mut out = Vec::new();
    server.close(close::NORMAL, "", &mut out, now);
    let after_close = out.len();
    server.send_text("late", &mut out);
    server.send_binary(b"late", &mut out);
    server.send_ping(b"late", &mut out);
    server.close(close::NORMAL, "again", &mut out, now);
    assert_eq!(out.len(), after_close);
    // A ping from the peer while we wait for its close: reported, not answered.
    let ping = client_frame(true, Opcode::Ping, b"p");
    let outcome = server.read(&ping, &mut out, now).unwrap();
    assert_eq!(outcome.event, Some(Event::Ping(b"p".to_vec())));
    assert_eq!(out.len(), after_close);
}

#[test]
fn peer_close_after_ours_completes_the_handshake_without_a_second_close() {
    let now = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let mut out = Vec::new();
    server.close(close::NORMAL, "", &mut out, now);
    out.clear();
    // Data still arriving before the peer's close is delivered (§5.5.1 lets the peer finish).
    let text = client_frame(true, Opcode::Text, b"last words");
    let outcome = server.read(&text, &mut out, now).unwrap();
    assert_eq!(outcome.event, Some(Event::Text("last words".to_string())));
    let close = client_frame(true, Opcode::Close, &close::NORMAL.to_be_bytes());
    let outcome = server.read(&close, &mut out, now).unwrap();
    assert_eq!(
        outcome.event,
        Some(Event::Close {
            code: Some(1000),
            reason: String::new()
        })
    );
    assert!(out.is_empty());
    assert!(server.is_closed());
    // Anything after is discarded.
    let outcome = server.read(b"garbage", &mut out, now).unwrap();
    assert_eq!(
        outcome,
        ReadOutcome {
            consumed: 7,
            event: None
        }
    );
}

#[test]
fn error_after_our_close_sends_no_second_close() {
    let now = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let mut out = Vec::new();
    server.close(close::NORMAL, "", &mut out, now);
    out.clear();
    let error = server
        .read(&[0x83, 0x80, 0, 0, 0, 0], &mut out, now)
        .unwrap_err();
    assert_eq!(error.close_code, 1002);
    assert!(out.is_empty());
    assert!(server.is_closed());
}

#[test]
fn message_buffer_is_released_after_each_message() {
    let now = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let mut out = Vec::new();
    let first = client_frame(false, Opcode::Binary, &[1; 1000]);
    server.read(&first, &mut out, now).unwrap();
    assert!(server
        .message
        .as_ref()
        .is_some_and(|m| m.payload.len() == 1000));
    let last = client_frame(true, Opcode::Continuation, &[2; 10]);
    let outcome = server.read(&last, &mut out, now).unwrap();
    assert!(matches!(outcome.event, Some(Event::Binary(ref data)) if data.len() == 1010));
    assert!(server.message.is_none());
    assert_eq!(server.reading, Reading::FrameStart);
}

#[test]
fn client_masks_with_its_key_source() {
    let now = Instant::now();
    let mut client = WsProtocol::new(Role::Client, &config(), now);
    client.set_mask_key_source(Box::new(FixedMaskKey([0x37, 0xfa, 0x21, 0x3d])));
    let mut out = Vec::new();
    client.send_text("Hello", &mut out);
    // RFC 6455 §5.7, "A single-frame masked text message".
    assert_eq!(
        out,
        [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    );
}

#[test]
fn close_reason_is_cut_on_a_character_boundary() {
    let now = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let mut out = Vec::new();
    let reason = "é".repeat(100); // 200 bytes
    server.close(close::NORMAL, &reason, &mut out, now);
    let frames = decode_all(&out);
    assert_eq!(frames[0].1.len(), 2 + 122);
    assert!(std::str::from_utf8(&frames[0].1[2..]).is_ok());
}

#[test]
fn the_message_buffer_is_sized_from_the_frame_header_but_never_far_ahead_of_the_bytes() {
    let now = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let mut out = Vec::new();
    // Half of a 100,000-byte frame has arrived: the buffer already has room for all of it.
    let frame = client_frame(true, Opcode::Binary, &[9; 100_000]);
    let half = frame.len() / 2;
    let outcome = server.read(&frame[..half], &mut out, now).unwrap();
    assert_eq!(outcome.consumed, half);
    let capacity = server.message.as_ref().map(|m| m.payload.capacity());
    assert_eq!(
        capacity,
        Some(100_000),
        "one allocation for the whole frame"
    );
    let outcome = server.read(&frame[half..], &mut out, now).unwrap();
    assert!(matches!(outcome.event, Some(Event::Binary(ref data)) if data == &[9; 100_000]));

    // A header announcing 10 MiB with nothing behind it reserves one read's worth, not 10 MiB.
    let mut announced = Vec::new();
    encode_header(
        true,
        Opcode::Binary,
        10 << 20,
        Some([1, 2, 3, 4]),
        &mut announced,
    );
    server.read(&announced, &mut out, now).unwrap();
    let capacity = server.message.as_ref().map_or(0, |m| m.payload.capacity());
    assert!(capacity <= RESERVE_AHEAD_BYTES, "{capacity}");
}

#[test]
fn an_owned_payload_is_given_back_behind_its_header() {
    let now = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let mut out = Vec::new();
    let payload = vec![7u8; 300];
    let payload_at = payload.as_ptr();
    let back = server.send_binary_owned(payload, &mut out).unwrap();
    assert_eq!(
        out,
        [0x82, 126, 0x01, 0x2c],
        "the header alone: binary, 300 bytes"
    );
    assert_eq!(back.as_ptr(), payload_at, "the same buffer, not a copy");
    assert_eq!(back, [7u8; 300]);

    // A client masks the payload it gives back, in place (RFC 6455 §5.7's masked "Hello").
    let mut client = WsProtocol::new(Role::Client, &config(), now);
    client.set_mask_key_source(Box::new(FixedMaskKey([0x37, 0xfa, 0x21, 0x3d])));
    let mut out = Vec::new();
    let back = client
        .send_text_owned("Hello".to_string(), &mut out)
        .unwrap();
    out.extend_from_slice(&back);
    assert_eq!(
        out,
        [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
    );

    // §5.5.1: no data frame after our close.
    let mut out = Vec::new();
    server.close(close::NORMAL, "", &mut out, now);
    let closed_len = out.len();
    assert_eq!(server.send_binary_owned(vec![1], &mut out), None);
    assert_eq!(out.len(), closed_len);
}

/// The echo shortcut: each length encoding (7-bit, 16-bit, 64-bit), text and binary. The echo frame is
/// exactly the frame a server would encode for the same message, and it lies in the input, right
/// before the next frame's bytes, which are left alone.
#[test]
fn a_whole_message_becomes_its_own_echo_in_place() {
    let now = Instant::now();
    for (size, opcode) in [
        (0, Opcode::Binary),
        (125, Opcode::Text),
        (126, Opcode::Binary),
        (65_535, Opcode::Text),
        (65_536, Opcode::Binary),
    ] {
        let mut server = WsProtocol::new(Role::Server, &config(), now);
        let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        let mut input = client_frame(true, opcode, &payload);
        let frame_len = input.len();
        input.extend_from_slice(b"\x82\x85next");
        let mut out = Vec::new();
        let echo = server
            .echo_in_place(&mut input, &mut out, now)
            .unwrap()
            .expect("a whole message is echoed in place");
        let mut expected = Vec::new();
        encode_frame(true, opcode, &payload, None, &mut expected);
        assert_eq!(echo.consumed, frame_len);
        assert_eq!(echo.frame, 4..frame_len, "our header is 4 bytes shorter");
        assert!(input[echo.frame.clone()] == expected[..], "size {size}");
        assert_eq!(&input[frame_len..], b"\x82\x85next");
        assert!(out.is_empty());
    }
}

#[test]
fn the_echo_shortcut_leaves_everything_else_to_read() {
    let now = Instant::now();
    let whole = client_frame(true, Opcode::Binary, b"hello");
    let cases: [(&str, Vec<u8>); 4] = [
        ("a frame not whole yet", whole[..whole.len() - 1].to_vec()),
        (
            "a first fragment",
            client_frame(false, Opcode::Binary, b"he"),
        ),
        ("a control frame", client_frame(true, Opcode::Ping, b"hi")),
        ("a broken header", vec![0x83, 0x80, 0, 0, 0, 0]),
    ];
    for (what, bytes) in cases {
        let mut server = WsProtocol::new(Role::Server, &config(), now);
        let mut input = bytes.clone();
        let echo = server.echo_in_place(&mut input, &mut Vec::new(), now);
        assert_eq!(echo, Ok(None), "{what}");
        assert_eq!(input, bytes, "{what}: the input is untouched");
    }
    // Closing: no data frame goes out after our close (§5.5.1).
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    server.close(close::NORMAL, "", &mut Vec::new(), now);
    let mut input = whole.clone();
    assert_eq!(
        server.echo_in_place(&mut input, &mut Vec::new(), now),
        Ok(None)
    );
    // A message larger than the limit is left to `read`, which answers 1009.
    let mut small = config();
    small.max_message_bytes = 4;
    let mut server = WsProtocol::new(Role::Server, &small, now);
    let mut input = whole.clone();
    assert_eq!(
        server.echo_in_place(&mut input, &mut Vec::new(), now),
        Ok(None)
    );
    // Inside a fragmented message, the next frame belongs to it.
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let first = client_frame(false, Opcode::Text, b"he");
    let outcome = server.read(&first, &mut Vec::new(), now).unwrap();
    assert_eq!(outcome.consumed, first.len());
    let mut input = client_frame(true, Opcode::Continuation, b"llo");
    assert_eq!(
        server.echo_in_place(&mut input, &mut Vec::new(), now),
        Ok(None)
    );
}

#[test]
fn text_that_is_not_utf8_fails_the_in_place_echo_with_1007() {
    let now = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), now);
    let mut input = client_frame(true, Opcode::Text, b"ok \xff");
    let mut out = Vec::new();
    let error = server.echo_in_place(&mut input, &mut out, now).unwrap_err();
    assert_eq!(error.close_code, close::INVALID_PAYLOAD);
    assert!(server.is_closed());
    let frames = decode_all(&out);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0.opcode, Opcode::Close);
    assert_eq!(frames[0].1[..2], close::INVALID_PAYLOAD.to_be_bytes());
}

#[test]
fn an_echo_in_place_counts_as_traffic() {
    let start = Instant::now();
    let mut server = WsProtocol::new(Role::Server, &config(), start);
    let later = start + Duration::from_secs(20);
    let mut input = client_frame(true, Opcode::Binary, b"x");
    assert!(server
        .echo_in_place(&mut input, &mut Vec::new(), later)
        .unwrap()
        .is_some());
    assert_eq!(
        server.next_deadline(),
        Some(later + Duration::from_secs(30))
    );
}
