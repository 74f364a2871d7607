//! Autobahn sections 1 (framing), 2 (ping/pong), 3 (reserved bits) and 4 (reserved opcodes).

use crate::support::*;
use pushlab::ws::Event;

/// The payload lengths around each length encoding boundary (§5.2: 125 | 126 → 16-bit | 65536 → 64-bit).
const LENGTHS: [usize; 7] = [0, 125, 126, 127, 128, 65535, 65536];

mod section1_framing {
    use super::*;

    #[test]
    fn text_of_every_boundary_length() {
        for len in LENGTHS {
            let payload = "*".repeat(len);
            expect_events(&text(payload.as_bytes()), &[Event::Text(payload)], b"");
        }
    }

    #[test]
    fn binary_of_every_boundary_length() {
        for len in LENGTHS {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            expect_events(&binary(&payload), &[Event::Binary(payload)], b"");
        }
    }

    #[test]
    fn non_minimal_length_encodings_are_accepted() {
        // 3 bytes announced in the 16-bit and in the 64-bit form (§5.2 binds senders to the minimal
        // form; receivers accept both).
        let masked = {
            let mut payload = *b"abc";
            pushlab::ws::frame::apply_mask(&mut payload, KEY, 0);
            payload
        };
        let frame16 = [&[FIN | TEXT, 0x80 | 126, 0, 3][..], &KEY, &masked].concat();
        let frame64 = [
            &[FIN | TEXT, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 3][..],
            &KEY,
            &masked,
        ]
        .concat();
        for frame in [frame16, frame64] {
            expect_events(&frame, &[Event::Text("abc".to_string())], b"");
        }
    }

    #[test]
    fn several_frames_in_one_read_come_out_one_event_per_call() {
        let input = [text(b"one"), binary(b"two"), text(b"three")].concat();
        let mut server = server();
        let mut out = Vec::new();
        let first = server
            .read(&input, &mut out, std::time::Instant::now())
            .unwrap();
        assert_eq!(first.event, Some(Event::Text("one".to_string())));
        assert_eq!(first.consumed, text(b"one").len());
        expect_events(
            &input,
            &[
                Event::Text("one".into()),
                Event::Binary(b"two".to_vec()),
                Event::Text("three".into()),
            ],
            b"",
        );
    }

    #[test]
    fn unmasked_client_frame_is_a_protocol_error() {
        // RFC 6455 §5.1: the server closes on an unmasked frame from a client.
        expect_failure(&server_frame(FIN | TEXT, b"Hello"), 1002, &[]);
    }

    #[test]
    fn length_with_the_most_significant_bit_set_is_a_protocol_error() {
        let frame = [FIN | BINARY, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1];
        expect_failure(&frame, 1002, &[]);
    }

    #[test]
    fn incomplete_frame_consumes_nothing_until_the_header_is_whole() {
        let frame = binary(&[9; 300]);
        let mut server = server();
        let mut out = Vec::new();
        let now = std::time::Instant::now();
        for cut in 0..8 {
            // 8 bytes of header (2 + 2 length + 4 key): nothing consumed before it is whole.
            assert_eq!(
                server.read(&frame[..cut], &mut out, now).unwrap().consumed,
                0,
                "cut {cut}"
            );
        }
        assert_eq!(server.read(&frame[..8], &mut out, now).unwrap().consumed, 8);
    }
}

mod section2_ping_pong {
    use super::*;

    #[test]
    fn ping_is_answered_with_the_same_payload() {
        for payload in [
            &b""[..],
            b"Hello, world!",
            &[0xFE; 125],
            &[0x00, 0xFF, 0x80, 0x7F],
        ] {
            expect_events(
                &raw_frame(FIN | PING, payload),
                &[Event::Ping(payload.to_vec())],
                &server_frame(FIN | PONG, payload),
            );
        }
    }

    #[test]
    fn ping_over_125_bytes_is_a_protocol_error() {
        // RFC 6455 §5.5: control frame payloads are at most 125 bytes.
        expect_failure(&raw_frame(FIN | PING, &[b'x'; 126]), 1002, &[]);
    }

    #[test]
    fn unsolicited_pong_needs_no_answer() {
        expect_events(&raw_frame(FIN | PONG, b""), &[Event::Pong(Vec::new())], b"");
        expect_events(
            &raw_frame(FIN | PONG, b"unsolicited"),
            &[Event::Pong(b"unsolicited".to_vec())],
            b"",
        );
    }

    #[test]
    fn unsolicited_pong_then_ping() {
        let input = [
            raw_frame(FIN | PONG, b"pong"),
            raw_frame(FIN | PING, b"ping"),
        ]
        .concat();
        expect_events(
            &input,
            &[Event::Pong(b"pong".to_vec()), Event::Ping(b"ping".to_vec())],
            &server_frame(FIN | PONG, b"ping"),
        );
    }

    #[test]
    fn ten_pings_get_ten_pongs_in_order() {
        let input: Vec<u8> = (0..10u8)
            .flat_map(|i| raw_frame(FIN | PING, &[i; 3]))
            .collect();
        let events: Vec<Event> = (0..10u8).map(|i| Event::Ping(vec![i; 3])).collect();
        let out: Vec<u8> = (0..10u8)
            .flat_map(|i| server_frame(FIN | PONG, &[i; 3]))
            .collect();
        expect_events(&input, &events, &out);
    }
}

mod section3_reserved_bits {
    use super::*;

    const RSV: [u8; 7] = [0x40, 0x20, 0x10, 0x60, 0x50, 0x30, 0x70];

    #[test]
    fn reserved_bits_on_any_frame_fail_the_connection() {
        // RFC 6455 §5.2: RSV1–3 MUST be 0 unless an extension defines them; none is negotiated.
        for rsv in RSV {
            for opcode in [TEXT, BINARY, PING, PONG, CLOSE] {
                expect_failure(&raw_frame(FIN | rsv | opcode, b""), 1002, &[]);
            }
        }
    }

    #[test]
    fn messages_before_the_bad_frame_are_delivered_and_nothing_after() {
        // Autobahn 3.2: a good text, a text with RSV2, then a ping that must not be answered.
        let input = [
            text(b"Hello"),
            raw_frame(FIN | 0x20 | TEXT, b"Hello"),
            raw_frame(FIN | PING, b""),
        ]
        .concat();
        let run = expect_failure(&input, 1002, &[Event::Text("Hello".to_string())]);
        assert_eq!(run.frames().len(), 1, "only the close, no pong");
    }
}

mod section4_reserved_opcodes {
    use super::*;

    const RESERVED: [u8; 10] = [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF];

    #[test]
    fn reserved_opcodes_fail_the_connection() {
        // RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the
        // WebSocket Connection_."
        for opcode in RESERVED {
            expect_failure(&raw_frame(FIN | opcode, b""), 1002, &[]);
            expect_failure(
                &raw_frame(FIN | opcode, b"reserved opcode payload"),
                1002,
                &[],
            );
        }
    }

    #[test]
    fn reserved_opcode_after_a_good_message() {
        for opcode in RESERVED {
            let input = [
                text(b"ok"),
                raw_frame(FIN | opcode, b""),
                raw_frame(FIN | PING, b""),
            ]
            .concat();
            expect_failure(&input, 1002, &[Event::Text("ok".to_string())]);
        }
    }
}
