//! Frame builders and the feeding driver shared by every section.

#![allow(dead_code)]

use std::time::Instant;

use pushlab::ws::frame::{apply_mask, decode_header, FrameHeader, Opcode};
use pushlab::ws::{Event, Role, WsConfig, WsError, WsProtocol};

/// The masking key every test client frame uses (the one from RFC 6455 §5.7).
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub const FIN: u8 = 0x80;
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// Any frame, valid or not: `first_byte` is FIN, RSV and opcode bits as they go on the wire. Masked with
/// [`KEY`], as a client sends, using the shortest length encoding.
pub fn raw_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first_byte];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=65535 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&KEY);
    let start = frame.len();
    frame.extend_from_slice(payload);
    apply_mask(&mut frame[start..], KEY, 0);
    frame
}

/// A final text frame from a client.
pub fn text(payload: &[u8]) -> Vec<u8> {
    raw_frame(FIN | TEXT, payload)
}

/// A final binary frame from a client.
pub fn binary(payload: &[u8]) -> Vec<u8> {
    raw_frame(FIN | BINARY, payload)
}

/// A close frame from a client with `code` and `reason`.
pub fn close_frame(code: u16, reason: &[u8]) -> Vec<u8> {
    raw_frame(FIN | CLOSE, &[&code.to_be_bytes()[..], reason].concat())
}

pub fn server() -> WsProtocol {
    server_with(&WsConfig::default())
}

pub fn server_with(config: &WsConfig) -> WsProtocol {
    WsProtocol::new(Role::Server, config, Instant::now())
}

/// What a server made of some input.
#[derive(Debug)]
pub struct Run {
    /// Events in order.
    pub events: Vec<Event>,
    /// Everything the server wrote.
    pub out: Vec<u8>,
    /// The error that ended the run, if any.
    pub error: Option<WsError>,
    /// Input bytes never consumed.
    pub unconsumed: usize,
    /// How many input bytes had been handed to the server when the error came.
    pub bytes_given_at_error: Option<usize>,
}

impl Run {
    /// The frames the server wrote, unmasked, checking that a server never masks (§5.1).
    pub fn frames(&self) -> Vec<(FrameHeader, Vec<u8>)> {
        decode_frames(&self.out, None)
    }

    /// The close code in the server's last frame, which must be a close.
    pub fn close_code_sent(&self) -> Option<u16> {
        let frames = self.frames();
        let (header, payload) = frames.last()?;
        assert_eq!(
            header.opcode,
            Opcode::Close,
            "last frame sent is not a close"
        );
        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]))
    }
}

/// Decodes back-to-back frames; `mask_expected` says whether they must be masked.
pub fn decode_frames(mut bytes: &[u8], mask_expected: Option<bool>) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (header, header_len) = decode_header(bytes)
            .expect("valid frame")
            .expect("whole frame");
        let end = header_len + header.payload_len as usize;
        let mut payload = bytes[header_len..end].to_vec();
        match (header.mask, mask_expected) {
            (Some(_), None) => panic!("a server frame is masked"),
            (None, Some(true)) => panic!("a client frame is not masked"),
            _ => {}
        }
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((header, payload));
        bytes = &bytes[end..];
    }
    frames
}

/// Feeds `input` to `protocol` in pieces of `piece_bytes`, like the event loop: append, call `read` until
/// it makes no progress, drop what was consumed. Stops at the first error.
pub fn feed(protocol: &mut WsProtocol, input: &[u8], piece_bytes: usize) -> Run {
    let mut run = Run {
        events: Vec::new(),
        out: Vec::new(),
        error: None,
        unconsumed: 0,
        bytes_given_at_error: None,
    };
    let mut buffer: Vec<u8> = Vec::new();
    let mut given = 0;
    for piece in input.chunks(piece_bytes.max(1)) {
        buffer.extend_from_slice(piece);
        given += piece.len();
        loop {
            match protocol.read(&buffer, &mut run.out, Instant::now()) {
                Ok(outcome) => {
                    assert!(outcome.consumed <= buffer.len());
                    buffer.drain(..outcome.consumed);
                    let progressed = outcome.consumed > 0 || outcome.event.is_some();
                    run.events.extend(outcome.event);
                    if !progressed {
                        break;
                    }
                }
                Err(error) => {
                    run.error = Some(error);
                    run.bytes_given_at_error = Some(given);
                    run.unconsumed = buffer.len() + input.len() - given;
                    return run;
                }
            }
        }
    }
    run.unconsumed = buffer.len();
    run
}

/// The three ways every case is fed: whole, one byte at a time, and in 7-byte pieces (which split
/// headers, masking keys and code points at odd places).
pub const PIECE_SIZES: [usize; 3] = [usize::MAX, 1, 7];

/// Runs `input` through a fresh server in every piece size, checking that all agree, and returns one run.
pub fn run_all_ways(input: &[u8]) -> Run {
    run_all_ways_with(&WsConfig::default(), input)
}

pub fn run_all_ways_with(config: &WsConfig, input: &[u8]) -> Run {
    let mut runs = PIECE_SIZES.iter().map(|&size| {
        feed(
            &mut server_with(config),
            input,
            size.min(input.len().max(1)),
        )
    });
    let first = runs.next().expect("at least one way");
    for other in runs {
        assert_eq!(other.events, first.events, "events differ by piece size");
        assert_eq!(other.out, first.out, "output differs by piece size");
        assert_eq!(other.error, first.error, "error differs by piece size");
    }
    first
}

/// Asserts that `input` is accepted and produces `events`, with the server writing `expected_out`.
pub fn expect_events(input: &[u8], events: &[Event], expected_out: &[u8]) {
    let run = run_all_ways(input);
    assert_eq!(run.error, None);
    assert_eq!(run.events, events);
    assert_eq!(run.out, expected_out);
    assert_eq!(run.unconsumed, 0);
}

/// Asserts that `input` fails the connection with `code` after delivering `events_before`, and that the
/// server wrote a close frame with that code as its last frame.
pub fn expect_failure(input: &[u8], code: u16, events_before: &[Event]) -> Run {
    let run = run_all_ways(input);
    let error = run
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("no error; events {:?}", run.events));
    assert_eq!(error.close_code, code, "{error}");
    assert_eq!(run.events, events_before);
    assert_eq!(run.close_code_sent(), Some(code));
    run
}

/// An unmasked frame as the server writes it.
pub fn server_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first_byte];
    match payload.len() {
        len @ 0..=125 => frame.push(len as u8),
        len @ 126..=65535 => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// The close the server echoes for a close with `code` (§5.5.1: echo the code, no reason).
pub fn server_close(code: u16) -> Vec<u8> {
    server_frame(FIN | CLOSE, &code.to_be_bytes())
}
