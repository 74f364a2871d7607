//! Autobahn section 6: UTF-8 handling (RFC 6455 §5.6, §8.1).

use crate::support::*;
use pushlab::ws::Event;

/// "κόσμε", the word the classic UTF-8 stress test opens with.
const KOSME: &[u8] = b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";

fn valid_texts() -> Vec<Vec<u8>> {
    vec![
        b"".to_vec(),
        KOSME.to_vec(),
        b"Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!".to_vec(),
        b"\x00".to_vec(),
        b"\xC2\x80".to_vec(),
        b"\xE0\xA0\x80".to_vec(),
        b"\xF0\x90\x80\x80".to_vec(),
        b"\x7F\xDF\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF".to_vec(),
        b"\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBD".to_vec(),
        // Noncharacters U+FFFE, U+FFFF, U+1FFFE are valid.
        b"\xEF\xBF\xBE\xEF\xBF\xBF\xF0\x9F\xBF\xBE".to_vec(),
    ]
}

/// Invalid texts with the index of the first byte that makes them impossible (`None`: only the end is
/// wrong, a truncated sequence).
fn invalid_texts() -> Vec<(Vec<u8>, Option<usize>)> {
    vec![
        ([KOSME, b"\xED\xA0\x80edited"].concat(), Some(12)),
        ([KOSME, b"\xF4\x90\x80\x80edited"].concat(), Some(12)),
        (b"\x80".to_vec(), Some(0)),
        (b"\xBF\x80".to_vec(), Some(0)),
        (b"\xC0\xAF".to_vec(), Some(0)),
        (b"\xC1\xBF".to_vec(), Some(0)),
        (b"\xE0\x80\xAF".to_vec(), Some(1)),
        (b"\xF0\x80\x80\xAF".to_vec(), Some(1)),
        (b"\xF8\x88\x80\x80\x80".to_vec(), Some(0)),
        (b"\xFE\xFE\xFF\xFF".to_vec(), Some(0)),
        (b"\xED\xA0\x80".to_vec(), Some(1)),
        (b"\xED\xBF\xBF".to_vec(), Some(1)),
        (b"\xED\xA0\x80\xED\xB0\x80".to_vec(), Some(1)),
        (b"\xF4\x90\x80\x80".to_vec(), Some(1)),
        (b"\xDF ".to_vec(), Some(1)),
        (b"\xC2".to_vec(), None),
        (b"\xE0\xA0".to_vec(), None),
        (b"\xF0\x90\x80".to_vec(), None),
        ([KOSME, b"\xE1\xBD"].concat(), None),
    ]
}

#[test]
fn valid_texts_in_one_frame() {
    for bytes in valid_texts() {
        let expected = String::from_utf8(bytes.clone()).unwrap();
        expect_events(&text(&bytes), &[Event::Text(expected)], b"");
    }
}

#[test]
fn valid_texts_split_into_two_fragments_at_every_position() {
    for bytes in valid_texts() {
        let expected = String::from_utf8(bytes.clone()).unwrap();
        for cut in 0..=bytes.len() {
            let input = [
                raw_frame(TEXT, &bytes[..cut]),
                raw_frame(FIN | CONTINUATION, &bytes[cut..]),
            ]
            .concat();
            expect_events(&input, &[Event::Text(expected.clone())], b"");
        }
    }
}

#[test]
fn valid_texts_in_one_fragment_per_byte() {
    for bytes in valid_texts() {
        let expected = String::from_utf8(bytes.clone()).unwrap();
        let mut input = raw_frame(TEXT, b"");
        for byte in &bytes {
            input.extend(raw_frame(CONTINUATION, &[*byte]));
        }
        input.extend(raw_frame(FIN | CONTINUATION, b""));
        expect_events(&input, &[Event::Text(expected)], b"");
    }
}

#[test]
fn invalid_texts_close_with_1007() {
    for (bytes, _) in invalid_texts() {
        expect_failure(&text(&bytes), 1007, &[]);
        for cut in 0..=bytes.len() {
            let input = [
                raw_frame(TEXT, &bytes[..cut]),
                raw_frame(FIN | CONTINUATION, &bytes[cut..]),
            ]
            .concat();
            expect_failure(&input, 1007, &[]);
        }
    }
}

#[test]
fn invalid_binary_is_fine() {
    for (bytes, _) in invalid_texts() {
        expect_events(&binary(&bytes), &[Event::Binary(bytes.clone())], b"");
    }
}

#[test]
fn invalid_text_fails_at_the_first_impossible_byte_within_a_frame() {
    // Fed one byte at a time, the error must come with the byte that makes the text impossible, not
    // when the frame or message ends (Autobahn 6.4.x: fail fast).
    for (bytes, fail_index) in invalid_texts() {
        let Some(fail_index) = fail_index else {
            continue;
        };
        let frame = text(&bytes);
        let header_len = frame.len() - bytes.len();
        let run = feed(&mut server(), &frame, 1);
        assert_eq!(run.error.as_ref().map(|e| e.close_code), Some(1007));
        assert_eq!(
            run.bytes_given_at_error,
            Some(header_len + fail_index + 1),
            "{bytes:02X?}"
        );
    }
}

#[test]
fn invalid_text_fails_before_the_message_ends() {
    // The first fragment already holds the impossible bytes; the final fragment never needs to arrive.
    let first = raw_frame(TEXT, &[KOSME, b"\xF4\x90"].concat());
    let run = feed(&mut server(), &first, usize::MAX);
    assert_eq!(run.error.as_ref().map(|e| e.close_code), Some(1007));
    // A code point split across fragments is judged when its next byte arrives.
    let input = [
        raw_frame(TEXT, b"ok \xED"),
        raw_frame(CONTINUATION, b"\xA0\x80"),
    ]
    .concat();
    let run = feed(&mut server(), &input, 1);
    assert_eq!(run.error.as_ref().map(|e| e.close_code), Some(1007));
    assert_eq!(
        run.bytes_given_at_error,
        Some(raw_frame(TEXT, b"ok \xED").len() + 6 + 1)
    );
}

#[test]
fn truncated_text_fails_at_the_end_of_the_message() {
    let input = [
        raw_frame(TEXT, b"\xE2\x82"),
        raw_frame(FIN | CONTINUATION, b""),
    ]
    .concat();
    let run = feed(&mut server(), &input, 1);
    assert_eq!(run.error.as_ref().map(|e| e.close_code), Some(1007));
    assert_eq!(run.bytes_given_at_error, Some(input.len()));
}
