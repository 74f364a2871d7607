//! Frame codec tests: the RFC 6455 §5.7 example frames, every header fed whole, byte by byte and with
//! trailing bytes, and the mask against a byte-at-a-time reference.

use super::*;
use proptest::prelude::*;

/// RFC 6455 §5.7: "A single-frame unmasked text message".
const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
/// RFC 6455 §5.7: "A single-frame masked text message".
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
/// RFC 6455 §5.7: "A fragmented unmasked text message", first and second fragment.
const FRAGMENT_HEL: [u8; 5] = [0x01, 0x03, 0x48, 0x65, 0x6c];
const FRAGMENT_LO: [u8; 4] = [0x80, 0x02, 0x6c, 0x6f];
/// RFC 6455 §5.7: "Unmasked Ping request and masked Ping response".
const UNMASKED_PING: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const MASKED_PONG: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
/// RFC 6455 §5.7: "256 bytes binary message in a single unmasked frame" (header only).
const BINARY_256_HEADER: [u8; 4] = [0x82, 0x7E, 0x01, 0x00];
/// RFC 6455 §5.7: "64KiB binary message in a single unmasked frame" (header only).
const BINARY_64K_HEADER: [u8; 10] = [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn header(fin: bool, opcode: Opcode, mask: Option<[u8; 4]>, payload_len: u64) -> FrameHeader {
    FrameHeader {
        fin,
        opcode,
        mask,
        payload_len,
    }
}

/// Decodes `bytes` whole, with trailing bytes, and checks that every strict prefix is "need more".
fn assert_decodes(bytes: &[u8], expected: FrameHeader, expected_len: usize) {
    assert_eq!(
        decode_header(bytes),
        Ok(Some((expected, expected_len))),
        "{bytes:02x?}"
    );
    let mut with_trailing = bytes.to_vec();
    with_trailing.extend_from_slice(&[0xFF; 20]);
    assert_eq!(
        decode_header(&with_trailing),
        Ok(Some((expected, expected_len)))
    );
    for cut in 0..expected_len {
        assert_eq!(
            decode_header(&bytes[..cut]),
            Ok(None),
            "prefix of {cut} bytes of {bytes:02x?}"
        );
    }
}

#[test]
fn rfc_unmasked_hello() {
    assert_decodes(&UNMASKED_HELLO, header(true, Opcode::Text, None, 5), 2);
    let mut out = Vec::new();
    encode_frame(true, Opcode::Text, b"Hello", None, &mut out);
    assert_eq!(out, UNMASKED_HELLO);
}

#[test]
fn rfc_masked_hello() {
    assert_decodes(
        &MASKED_HELLO,
        header(true, Opcode::Text, Some(RFC_KEY), 5),
        6,
    );
    let mut payload = MASKED_HELLO[6..].to_vec();
    apply_mask(&mut payload, RFC_KEY, 0);
    assert_eq!(payload, b"Hello");
    let mut out = Vec::new();
    encode_frame(true, Opcode::Text, b"Hello", Some(RFC_KEY), &mut out);
    assert_eq!(out, MASKED_HELLO);
}

#[test]
fn rfc_fragmented_hello() {
    assert_decodes(&FRAGMENT_HEL, header(false, Opcode::Text, None, 3), 2);
    assert_decodes(&FRAGMENT_LO, header(true, Opcode::Continuation, None, 2), 2);
    let mut out = Vec::new();
    encode_frame(false, Opcode::Text, b"Hel", None, &mut out);
    encode_frame(true, Opcode::Continuation, b"lo", None, &mut out);
    assert_eq!(out, [FRAGMENT_HEL.as_slice(), &FRAGMENT_LO].concat());
}

#[test]
fn rfc_ping_and_masked_pong() {
    assert_decodes(&UNMASKED_PING, header(true, Opcode::Ping, None, 5), 2);
    assert_decodes(
        &MASKED_PONG,
        header(true, Opcode::Pong, Some(RFC_KEY), 5),
        6,
    );
    let mut out = Vec::new();
    encode_frame(true, Opcode::Pong, b"Hello", Some(RFC_KEY), &mut out);
    assert_eq!(out, MASKED_PONG);
}

#[test]
fn rfc_256_byte_binary_header() {
    assert_decodes(
        &BINARY_256_HEADER,
        header(true, Opcode::Binary, None, 256),
        4,
    );
    let mut out = Vec::new();
    encode_frame(true, Opcode::Binary, &[7; 256], None, &mut out);
    assert_eq!(&out[..4], BINARY_256_HEADER);
    assert_eq!(out.len(), 4 + 256);
}

#[test]
fn rfc_64k_binary_header() {
    assert_decodes(
        &BINARY_64K_HEADER,
        header(true, Opcode::Binary, None, 65536),
        10,
    );
    let mut out = Vec::new();
    encode_frame(true, Opcode::Binary, &vec![7; 65536], None, &mut out);
    assert_eq!(&out[..10], BINARY_64K_HEADER);
    assert_eq!(out.len(), 10 + 65536);
}

#[test]
fn length_boundaries_use_the_shortest_encoding_and_round_trip() {
    for (len, header_len) in [
        (0, 2),
        (125, 2),
        (126, 4),
        (127, 4),
        (128, 4),
        (65535, 4),
        (65536, 10),
    ] {
        for mask in [None, Some(RFC_KEY)] {
            let payload = vec![0x5A; len];
            let mut out = Vec::new();
            encode_frame(true, Opcode::Binary, &payload, mask, &mut out);
            let expected_header_len = header_len + if mask.is_some() { 4 } else { 0 };
            assert_decodes(
                &out,
                header(true, Opcode::Binary, mask, len as u64),
                expected_header_len,
            );
            let mut decoded = out[expected_header_len..].to_vec();
            if let Some(key) = mask {
                apply_mask(&mut decoded, key, 0);
            }
            assert_eq!(decoded, payload, "length {len}");
        }
    }
}

#[test]
fn non_minimal_lengths_are_accepted() {
    // 5 in the 16-bit form and in the 64-bit form: longer than needed, still valid (§5.2 asks the sender
    // for the minimal form; a receiver has no reason to refuse the others).
    assert_decodes(&[0x82, 126, 0, 5], header(true, Opcode::Binary, None, 5), 4);
    assert_decodes(
        &[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5],
        header(true, Opcode::Binary, None, 5),
        10,
    );
}

#[test]
fn largest_64_bit_length_is_accepted_by_the_header() {
    let bytes = [0x82, 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    assert_decodes(
        &bytes,
        header(true, Opcode::Binary, None, i64::MAX as u64),
        10,
    );
}

#[test]
fn most_significant_length_bit_is_a_protocol_error() {
    let bytes = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1];
    assert_eq!(decode_header(&bytes).map_err(|e| e.close_code), Err(1002));
}

#[test]
fn reserved_bits_are_protocol_errors() {
    for rsv in [0x40, 0x20, 0x10, 0x70] {
        let error = decode_header(&[0x81 | rsv, 0x00]).unwrap_err();
        assert_eq!(error.close_code, 1002, "rsv {rsv:#x}");
    }
}

#[test]
fn reserved_opcodes_are_protocol_errors() {
    for opcode in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let error = decode_header(&[0x80 | opcode, 0x00]).unwrap_err();
        assert_eq!(error.close_code, 1002, "opcode {opcode:#x}");
    }
}

#[test]
fn every_opcode_round_trips_through_its_bits() {
    for bits in 0..16 {
        if let Some(opcode) = Opcode::from_bits(bits) {
            assert_eq!(opcode.bits(), bits);
            assert_eq!(opcode.is_control(), bits >= 8);
        }
    }
}

#[test]
fn control_frame_rules_are_checked_on_the_header() {
    // 126 bytes of ping payload announced: refused before the payload arrives.
    assert_eq!(
        decode_header(&[0x89, 126]).map_err(|e| e.close_code),
        Err(1002)
    );
    assert_eq!(
        decode_header(&[0x89, 0x7D]),
        Ok(Some((header(true, Opcode::Ping, None, 125), 2)))
    );
    // A ping without FIN: control frames are never fragmented.
    assert_eq!(
        decode_header(&[0x09, 0x00]).map_err(|e| e.close_code),
        Err(1002)
    );
    assert_eq!(
        decode_header(&[0x08, 0x00]).map_err(|e| e.close_code),
        Err(1002)
    );
}

#[test]
fn mask_with_offset_continues_the_key_phase() {
    let payload: Vec<u8> = (0..=255).collect();
    let mut whole = payload.clone();
    apply_mask(&mut whole, RFC_KEY, 0);
    for cut in 0..payload.len() {
        let mut pieces = payload.clone();
        let (head, tail) = pieces.split_at_mut(cut);
        apply_mask(head, RFC_KEY, 0);
        apply_mask(tail, RFC_KEY, cut);
        assert_eq!(pieces, whole, "cut at {cut}");
    }
}

fn reference_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

proptest! {
    #[test]
    fn mask_matches_the_bytewise_definition(
        data in prop::collection::vec(any::<u8>(), 0..100),
        key in any::<[u8; 4]>(),
        offset in 0usize..16,
        start in 0usize..8,
    ) {
        // Slicing from `start` gives every alignment of the head.
        let start = start.min(data.len());
        let mut fast = data.clone();
        apply_mask(&mut fast[start..], key, offset);
        let mut slow = data.clone();
        reference_mask(&mut slow[start..], key, offset);
        prop_assert_eq!(fast, slow);
    }

    #[test]
    fn extend_unmasked_matches_copy_then_mask(
        before in prop::collection::vec(any::<u8>(), 0..10),
        data in prop::collection::vec(any::<u8>(), 0..300),
        key in any::<[u8; 4]>(),
        offset in 0usize..16,
    ) {
        let mut fused = before.clone();
        extend_unmasked(&mut fused, &data, key, offset);
        let mut slow = data.clone();
        reference_mask(&mut slow, key, offset);
        let mut expected = before;
        expected.extend_from_slice(&slow);
        prop_assert_eq!(fused, expected);
    }

    #[test]
    fn any_header_round_trips(
        fin in any::<bool>(),
        opcode_index in 0usize..3,
        len in prop_oneof![0usize..300, 65530usize..65600, Just(1 << 20)],
        mask in any::<Option<[u8; 4]>>(),
    ) {
        let opcode = [Opcode::Continuation, Opcode::Text, Opcode::Binary][opcode_index];
        let mut out = Vec::new();
        encode_header(fin, opcode, len, mask, &mut out);
        prop_assert_eq!(decode_header(&out), Ok(Some((header(fin, opcode, mask, len as u64), out.len()))));
    }
}
