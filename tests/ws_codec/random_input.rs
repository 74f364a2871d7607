//! Random input, in the spirit of a fuzzer but on stable Rust and inside `cargo test`: whatever bytes a
//! client sends, the server's protocol must neither panic nor hang, must agree with itself however the
//! bytes are split into reads, and must end a connection it refuses with exactly one close frame whose
//! code is one of those RFC 6455 §7.4.1 gives for a peer's fault: 1002, 1007, 1008 or 1009.
//!
//! Two generators: plain random bytes (which mostly die at the first header), and random *frames*:
//! well-formed headers with random FIN, RSV bits, opcodes (reserved ones included), lengths, masking and
//! payloads, including close payloads with random codes and text with random bytes. The second reaches
//! the deep states: fragmentation, interleaved control frames, UTF-8 across fragments, close handling.

use proptest::prelude::*;

use pushlab::ws::frame::Opcode;
use pushlab::ws::WsConfig;

use crate::support::*;

/// The close codes a server may send when the client broke a rule.
const PEER_FAULT_CODES: [u16; 4] = [1002, 1007, 1008, 1009];

/// Small limits, so that random input also reaches the size checks.
fn small_config() -> WsConfig {
    WsConfig {
        max_message_bytes: 300,
        ..WsConfig::default()
    }
}

/// One random frame as a client might (mis)send it.
fn any_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),                            // FIN
        prop_oneof![9 => Just(0u8), 1 => 1u8..8], // RSV bits: mostly clear
        prop_oneof![
            Just(CONTINUATION),
            Just(TEXT),
            Just(BINARY),
            Just(CLOSE),
            Just(PING),
            Just(PONG),
            3u8..8,   // reserved data opcodes
            11u8..16  // reserved control opcodes
        ],
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..40),
            1 => prop::collection::vec(any::<u8>(), 120..400),
            // Text-like payloads: valid UTF-8, sometimes cut inside a character by the frame boundary.
            2 => "\\PC{0,20}".prop_map(String::into_bytes),
            // Close payloads with a random code and maybe a reason.
            2 => (any::<u16>(), "\\PC{0,5}").prop_map(|(code, reason)| {
                [&code.to_be_bytes()[..], reason.as_bytes()].concat()
            }),
        ],
        prop_oneof![19 => Just(true), 1 => Just(false)], // masked, as a client must
    )
        .prop_map(|(fin, rsv, opcode, payload, masked)| {
            let first_byte = (u8::from(fin) << 7) | (rsv << 4) | opcode;
            let mut frame = raw_frame(first_byte, &payload);
            if !masked {
                // Clear the MASK bit and take the key out; the payload goes on the wire unmasked.
                let header_len = frame.len() - payload.len();
                frame[1] &= 0x7f;
                frame.truncate(header_len - 4);
                frame.extend_from_slice(&payload);
            }
            frame
        })
}

/// The checks every run must pass, whatever it was fed.
fn check_run(run: &Run) -> Result<(), TestCaseError> {
    let frames = run.frames(); // panics if the server wrote a masked or broken frame
    let closes: Vec<_> = frames
        .iter()
        .filter(|(header, _)| header.opcode == Opcode::Close)
        .collect();
    prop_assert!(closes.len() <= 1, "more than one close sent: {:?}", frames);
    if let Some(error) = &run.error {
        prop_assert!(
            PEER_FAULT_CODES.contains(&error.close_code),
            "unexpected close code {} ({})",
            error.close_code,
            error.reason
        );
        prop_assert_eq!(run.close_code_sent(), Some(error.close_code));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_and_refusals_carry_a_peer_fault_code(
        bytes in prop::collection::vec(any::<u8>(), 0..600)
    ) {
        let run = run_all_ways_with(&small_config(), &bytes);
        check_run(&run)?;
    }

    #[test]
    fn random_frames_never_panic_and_refusals_carry_a_peer_fault_code(
        frames in prop::collection::vec(any_frame(), 1..12)
    ) {
        let input = frames.concat();
        let run = run_all_ways_with(&small_config(), &input);
        check_run(&run)?;
        // Nothing is left half-read unless the input itself ended inside a frame, which whole
        // generated frames never do, or an error ended the run.
        if run.error.is_none() {
            prop_assert_eq!(run.unconsumed, 0);
        }
    }
}
