//! Randomised checks: no input panics the parser, and no split of a valid request changes the result,
//! nor does decoding it across reads with one `RequestDecoder` rather than in one call.

use super::decoder::decode_reads;
use super::{feed_in_pieces, small_limits};
use proptest::prelude::*;
use pushlab::http::chunked::encode_chunk;
use pushlab::http::{parse_request, HttpLimits, ParseStatus, Request};

/// How a generated request frames its body.
#[derive(Clone, Debug)]
enum Framing {
    None,
    Length,
    Chunked(Vec<usize>),
}

/// A valid request as bytes, with the method, path and body it must parse to.
#[derive(Clone, Debug)]
struct ValidRequest {
    bytes: Vec<u8>,
    method: String,
    path: String,
    body: Vec<u8>,
}

fn valid_request() -> impl Strategy<Value = ValidRequest> {
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]);
    let path = "(/[a-zA-Z0-9._~%-]{0,12}){1,3}";
    let query = prop::option::of("[a-z0-9=&+%]{0,20}");
    let headers = prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,24}"), 0..6);
    let body = prop::collection::vec(any::<u8>(), 0..80);
    let framing = prop_oneof![
        Just(Framing::None),
        Just(Framing::Length),
        prop::collection::vec(1usize..20, 0..6).prop_map(Framing::Chunked),
    ];
    (method, path, query, headers, body, framing).prop_map(
        |(method, path, query, headers, body, framing)| {
            let mut bytes = format!("{method} {path}").into_bytes();
            if let Some(query) = query {
                bytes.extend_from_slice(format!("?{query}").as_bytes());
            }
            bytes.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n");
            for (name, value) in headers {
                let lowercase = name.to_ascii_lowercase();
                if lowercase != "content-length"
                    && lowercase != "transfer-encoding"
                    && lowercase != "host"
                {
                    bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                }
            }
            let body = match framing {
                Framing::None => {
                    bytes.extend_from_slice(b"\r\n");
                    Vec::new()
                }
                Framing::Length => {
                    bytes.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    bytes.extend_from_slice(&body);
                    body
                }
                Framing::Chunked(sizes) => {
                    bytes.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    let mut rest = body.as_slice();
                    for size in sizes {
                        let (chunk, tail) = rest.split_at(size.min(rest.len()));
                        encode_chunk(chunk, &mut bytes);
                        rest = tail;
                    }
                    encode_chunk(rest, &mut bytes);
                    bytes.extend_from_slice(b"0\r\n\r\n");
                    body
                }
            };
            ValidRequest {
                bytes,
                method: method.to_string(),
                path,
                body,
            }
        },
    )
}

fn complete(bytes: &[u8], limits: &HttpLimits) -> Option<(Request, usize)> {
    match parse_request(bytes, limits) {
        Ok(ParseStatus::Complete { request, consumed }) => Some((request, consumed)),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_request(&bytes, &HttpLimits::default());
        let _ = parse_request(&bytes, &small_limits());
    }

    #[test]
    fn random_heads_never_panic(
        fields in prop::collection::vec(prop::collection::vec(
            prop::sample::select(b"aZ09-:; ,\t\r\n\x00\xff/?=%\"".to_vec()), 0..40), 0..10),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = b"POST /x HTTP/1.1\r\nHost: h\r\n".to_vec();
        for field in fields {
            bytes.extend_from_slice(&field);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&body);
        for end in 0..=bytes.len() {
            let _ = parse_request(&bytes[..end], &small_limits());
        }
    }

    #[test]
    fn random_chunked_bodies_never_panic(body in prop::collection::vec(
        prop::sample::select(b"0123456789abcdefABCDEFxyz;= \t\r\n".to_vec()), 0..200)) {
        let mut bytes = b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        bytes.extend_from_slice(&body);
        let _ = parse_request(&bytes, &small_limits());
        let _ = parse_request(&bytes, &HttpLimits::default());
    }

    #[test]
    fn valid_requests_parse_to_what_was_sent(request in valid_request()) {
        let parsed = complete(&request.bytes, &HttpLimits::default());
        let (parsed, consumed) = parsed.ok_or_else(|| TestCaseError::fail("not complete"))?;
        prop_assert_eq!(consumed, request.bytes.len());
        prop_assert_eq!(&parsed.method, &request.method);
        prop_assert_eq!(&parsed.path, &request.path);
        prop_assert_eq!(&parsed.body, &request.body);
    }

    #[test]
    fn splitting_a_valid_request_never_changes_the_result(
        request in valid_request(),
        split in any::<prop::sample::Index>(),
        piece_bytes in 1usize..17,
        trailing in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let limits = HttpLimits::default();
        let bytes = &request.bytes;
        let whole = complete(bytes, &limits).map(|(request, _)| request);
        prop_assert!(whole.is_some());
        let split = split.index(bytes.len());
        prop_assert_eq!(parse_request(&bytes[..split], &limits), Ok(ParseStatus::Incomplete));
        let expected = whole.into_iter().collect::<Vec<_>>();
        prop_assert_eq!(&feed_in_pieces(bytes, piece_bytes, &limits), &expected);
        let mut pipelined = bytes.clone();
        pipelined.extend_from_slice(&trailing);
        let with_trailing = complete(&pipelined, &limits);
        prop_assert_eq!(with_trailing, Some((expected[0].clone(), bytes.len())));
    }

    #[test]
    fn pipelined_valid_requests_come_out_in_order(
        requests in prop::collection::vec(valid_request(), 1..4),
        piece_bytes in 1usize..40,
    ) {
        let limits = HttpLimits::default();
        let stream: Vec<u8> = requests.iter().flat_map(|r| r.bytes.clone()).collect();
        let parsed = feed_in_pieces(&stream, piece_bytes, &limits);
        let paths: Vec<&str> = parsed.iter().map(|r| r.path.as_str()).collect();
        let expected: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
        prop_assert_eq!(paths, expected);
        let bodies: Vec<&[u8]> = parsed.iter().map(|r| r.body.as_slice()).collect();
        let expected: Vec<&[u8]> = requests.iter().map(|r| r.body.as_slice()).collect();
        prop_assert_eq!(bodies, expected);
    }

    #[test]
    fn a_decoder_fed_in_random_reads_agrees_with_one_read(
        requests in prop::collection::vec(valid_request(), 1..4),
        trailing in prop::collection::vec(any::<u8>(), 0..32),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let limits = HttpLimits::default();
        let mut stream: Vec<u8> = requests.iter().flat_map(|r| r.bytes.clone()).collect();
        stream.extend_from_slice(&trailing);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let whole = decode_reads(&stream, &[], &limits);
        prop_assert!(whole.0.len() >= requests.len());
        prop_assert_eq!(decode_reads(&stream, &cuts, &limits), whole);
    }

    #[test]
    fn a_decoder_fed_random_chunked_bytes_in_random_reads_agrees_with_one_read(
        body in prop::collection::vec(
            prop::sample::select(b"0123456789abcdefABCDEFxyz:;= \t\r\n".to_vec()), 0..200),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut stream = b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        stream.extend_from_slice(&body);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        for limits in [small_limits(), HttpLimits::default()] {
            let whole = decode_reads(&stream, &[], &limits);
            prop_assert_eq!(decode_reads(&stream, &cuts, &limits), whole);
        }
    }
}
