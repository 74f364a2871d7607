//! The classic UTF-8 stress cases (as Autobahn section 6 sends them), split at every position, and a
//! property test against `std::str::from_utf8`.

use super::*;
use proptest::prelude::*;

/// What a byte string must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Valid UTF-8.
    Valid,
    /// Fails at this byte index: the first byte after which no valid continuation exists.
    FailAt(usize),
    /// Every byte is a valid prefix, but the text stops inside a code point: fails at `finish`.
    Truncated,
}
use Expect::*;

/// "κόσμε", the Greek word the UTF-8 stress test opens with (11 bytes).
const KOSME: &[u8] = b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";

fn cases() -> Vec<(Vec<u8>, Expect)> {
    let kosme_then = |tail: &[u8]| [KOSME, tail, b"edited"].concat();
    vec![
        (b"".to_vec(), Valid),
        (
            b"Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!".to_vec(),
            Valid,
        ),
        (KOSME.to_vec(), Valid),
        // The first possible sequence of each length.
        (b"\x00".to_vec(), Valid),
        (b"\xC2\x80".to_vec(), Valid),
        (b"\xE0\xA0\x80".to_vec(), Valid),
        (b"\xF0\x90\x80\x80".to_vec(), Valid),
        // The last possible sequence of each length, and other boundaries.
        (b"\x7F".to_vec(), Valid),
        (b"\xDF\xBF".to_vec(), Valid),
        (b"\xEF\xBF\xBF".to_vec(), Valid), // U+FFFF, a noncharacter: valid
        (b"\xEF\xBF\xBE".to_vec(), Valid), // U+FFFE
        (b"\xF4\x8F\xBF\xBF".to_vec(), Valid), // U+10FFFF
        (b"\xED\x9F\xBF".to_vec(), Valid), // U+D7FF, just below the surrogates
        (b"\xEE\x80\x80".to_vec(), Valid), // U+E000, just above
        (b"\xEF\xBF\xBD".to_vec(), Valid), // U+FFFD
        // Above U+10FFFF.
        (b"\xF4\x90\x80\x80".to_vec(), FailAt(1)),
        (b"\xF7\xBF\xBF\xBF".to_vec(), FailAt(0)),
        (b"\xF8\x88\x80\x80\x80".to_vec(), FailAt(0)),
        (b"\xFC\x84\x80\x80\x80\x80".to_vec(), FailAt(0)),
        // Fail fast in the middle of a text: the rest must not be waited for.
        (kosme_then(b"\xF4\x90\x80\x80"), FailAt(12)),
        (kosme_then(b"\xED\xA0\x80"), FailAt(12)),
        (kosme_then(b"\x80"), FailAt(11)),
        // Unexpected continuation bytes.
        (b"\x80".to_vec(), FailAt(0)),
        (b"\xBF".to_vec(), FailAt(0)),
        (b"\x80\xBF\x80\xBF".to_vec(), FailAt(0)),
        (b"a\x80".to_vec(), FailAt(1)),
        (b"\xC2\x80\x80".to_vec(), FailAt(2)),
        // Lonely start characters followed by a space.
        (b"\xC0 ".to_vec(), FailAt(0)),
        (b"\xDF ".to_vec(), FailAt(1)),
        (b"\xE0 ".to_vec(), FailAt(1)),
        (b"\xEF\xBF ".to_vec(), FailAt(2)),
        (b"\xF0 ".to_vec(), FailAt(1)),
        (b"\xF4\x8F\xBF ".to_vec(), FailAt(3)),
        // Sequences with the last byte missing: every prefix is fine, the end is not.
        (b"\xC2".to_vec(), Truncated),
        (b"\xE0\xA0".to_vec(), Truncated),
        (b"\xF0\x90\x80".to_vec(), Truncated),
        (b"\xF4\x8F\xBF".to_vec(), Truncated),
        ([KOSME, b"\xE1\xBD"].concat(), Truncated),
        // Bytes that never appear.
        (b"\xFE".to_vec(), FailAt(0)),
        (b"\xFF".to_vec(), FailAt(0)),
        (b"\xFE\xFE\xFF\xFF".to_vec(), FailAt(0)),
        (b"\xC0".to_vec(), FailAt(0)),
        (b"\xC1".to_vec(), FailAt(0)),
        (b"\xF5".to_vec(), FailAt(0)),
        // Overlong encodings of "/" and of the largest overlong values.
        (b"\xC0\xAF".to_vec(), FailAt(0)),
        (b"\xE0\x80\xAF".to_vec(), FailAt(1)),
        (b"\xF0\x80\x80\xAF".to_vec(), FailAt(1)),
        (b"\xC1\xBF".to_vec(), FailAt(0)),
        (b"\xE0\x9F\xBF".to_vec(), FailAt(1)),
        (b"\xF0\x8F\xBF\xBF".to_vec(), FailAt(1)),
        (b"\xE0\x80".to_vec(), FailAt(1)),
        // Single UTF-16 surrogates.
        (b"\xED\xA0\x80".to_vec(), FailAt(1)),
        (b"\xED\xAD\xBF".to_vec(), FailAt(1)),
        (b"\xED\xAE\x80".to_vec(), FailAt(1)),
        (b"\xED\xAF\xBF".to_vec(), FailAt(1)),
        (b"\xED\xB0\x80".to_vec(), FailAt(1)),
        (b"\xED\xBF\xBF".to_vec(), FailAt(1)),
        // Paired surrogates, as CESU-8 would write U+10000.
        (b"\xED\xA0\x80\xED\xB0\x80".to_vec(), FailAt(1)),
        (b"\xED\xAF\xBF\xED\xBF\xBF".to_vec(), FailAt(1)),
    ]
}

/// Feeds `pieces` in order; returns the index of the piece whose `feed` failed, if one did.
fn first_failing_piece(validator: &mut Utf8Validator, pieces: &[&[u8]]) -> Option<usize> {
    pieces
        .iter()
        .position(|piece| validator.feed(piece).is_err())
}

/// Checks one case fed as `pieces`, whose concatenation is `bytes`.
fn check_pieces(bytes: &[u8], expect: Expect, pieces: &[&[u8]]) {
    let mut validator = Utf8Validator::new();
    let failed_piece = first_failing_piece(&mut validator, pieces);
    match expect {
        Valid => {
            assert_eq!(failed_piece, None, "{bytes:02X?} split as {pieces:02X?}");
            assert_eq!(
                validator.finish(),
                Ok(()),
                "{bytes:02X?} split as {pieces:02X?}"
            );
        }
        Truncated => {
            assert_eq!(failed_piece, None, "{bytes:02X?} split as {pieces:02X?}");
            assert_eq!(
                validator.finish(),
                Err(InvalidUtf8),
                "{bytes:02X?} split as {pieces:02X?}"
            );
        }
        FailAt(index) => {
            let piece_of_index = piece_containing(pieces, index);
            assert_eq!(
                failed_piece,
                Some(piece_of_index),
                "{bytes:02X?} split as {pieces:02X?}"
            );
            assert_eq!(validator.finish(), Err(InvalidUtf8));
            assert_eq!(
                validator.feed(b"a"),
                Err(InvalidUtf8),
                "a failed validator stays failed"
            );
        }
    }
}

/// Which piece holds byte `index` of the concatenation (empty pieces hold nothing).
fn piece_containing(pieces: &[&[u8]], index: usize) -> usize {
    let mut end = 0;
    for (i, piece) in pieces.iter().enumerate() {
        end += piece.len();
        if index < end {
            return i;
        }
    }
    panic!("index {index} beyond the input");
}

#[test]
fn the_cases_agree_with_std() {
    for (bytes, expect) in cases() {
        let std_ok = std::str::from_utf8(&bytes).is_ok();
        assert_eq!(std_ok, expect == Valid, "{bytes:02X?}");
        if let FailAt(index) = expect {
            assert_eq!(expected_fail_index(&bytes), Some(index), "{bytes:02X?}");
        }
    }
}

#[test]
fn cases_fed_whole() {
    for (bytes, expect) in cases() {
        check_pieces(&bytes, expect, &[&bytes]);
    }
}

#[test]
fn cases_fed_one_byte_at_a_time() {
    for (bytes, expect) in cases() {
        let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
        check_pieces(&bytes, expect, &pieces);
    }
}

#[test]
fn cases_split_at_every_position() {
    for (bytes, expect) in cases() {
        for cut in 0..=bytes.len() {
            let (head, tail) = bytes.split_at(cut);
            check_pieces(&bytes, expect, &[head, tail]);
        }
    }
}

#[test]
fn cases_split_at_every_pair_of_positions() {
    for (bytes, expect) in cases() {
        for first in 0..=bytes.len() {
            for second in first..=bytes.len() {
                let pieces = [&bytes[..first], &bytes[first..second], &bytes[second..]];
                check_pieces(&bytes, expect, &pieces);
            }
        }
    }
}

#[test]
fn empty_feeds_keep_an_open_code_point_open() {
    let mut validator = Utf8Validator::new();
    assert_eq!(validator.feed(b"\xF0\x90"), Ok(()));
    assert!(!validator.is_on_boundary());
    assert_eq!(validator.feed(b""), Ok(()));
    assert_eq!(validator.feed(b"\x80"), Ok(()));
    assert_eq!(validator.feed(b"\x80"), Ok(()));
    assert!(validator.is_on_boundary());
    assert_eq!(validator.finish(), Ok(()));
}

/// The first index `i` such that `bytes[..=i]` is not the prefix of any valid UTF-8, found the slow way:
/// a prefix is still possible when std either accepts it or only complains that it ends too early.
fn expected_fail_index(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find(|&i| match std::str::from_utf8(&bytes[..=i]) {
        Ok(_) => false,
        Err(error) => error.error_len().is_some(),
    })
}

/// Byte strings that are mostly UTF-8 with damage in them, and plain random bytes.
fn text_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let damaged = (
        any::<String>(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(text, damage)| {
            let mut bytes = text.into_bytes();
            for (at, byte) in damage {
                let position = at.index(bytes.len() + 1);
                bytes.insert(position, byte);
            }
            bytes
        });
    let high_bytes = prop::collection::vec(0x80u8..=0xFF, 0..12);
    prop_oneof![
        damaged,
        prop::collection::vec(any::<u8>(), 0..48),
        high_bytes
    ]
}

/// Splits `bytes` at the given cut points (taken modulo the length, sorted).
fn split_at_cuts<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut positions: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
    positions.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for position in positions {
        pieces.push(&bytes[start..position]);
        start = position;
    }
    pieces.push(&bytes[start..]);
    pieces
}

proptest! {
    #[test]
    fn agrees_with_std_in_any_pieces(
        bytes in text_like_bytes(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let pieces = split_at_cuts(&bytes, &cuts);
        let mut validator = Utf8Validator::new();
        let failed_piece = first_failing_piece(&mut validator, &pieces);
        match std::str::from_utf8(&bytes) {
            Ok(_) => {
                prop_assert_eq!(failed_piece, None);
                prop_assert_eq!(validator.finish(), Ok(()));
            }
            Err(error) => match error.error_len() {
                // An invalid sequence: the piece holding the first impossible byte fails, no later
                // (that byte is at most the one after the `error_len` bytes std names) and no sooner.
                Some(length) => {
                    let fail_index = expected_fail_index(&bytes);
                    prop_assert!(fail_index.is_some());
                    let fail_index = fail_index.unwrap_or_default();
                    prop_assert!(fail_index <= error.valid_up_to() + length);
                    prop_assert_eq!(failed_piece, Some(piece_containing(&pieces, fail_index)));
                }
                // Only truncated at the end: every feed passes, finish fails.
                None => {
                    prop_assert_eq!(failed_piece, None);
                    prop_assert_eq!(validator.finish(), Err(InvalidUtf8));
                }
            },
        }
    }
}
