//! Where a request body ends (RFC 9112 §6): the rules that keep a server and a proxy in agreement.
//!
//! HTTP/1.1 sends requests back to back on one connection, so the receiver must know exactly where each
//! body ends. There are three answers, in this order (RFC 9112 §6.3):
//!
//! 1. `Transfer-Encoding: chunked`: the body is a series of chunks, each prefixed with its size, ended by
//!    a chunk of size zero (see [`crate::http::chunked`]);
//! 2. `Content-Length: N`: the body is the next N bytes;
//! 3. neither: a request has no body at all.
//!
//! Any ambiguity is refused rather than guessed. If two servers in a chain pick different answers for
//! the same bytes (one trusts `Content-Length`, the other `Transfer-Encoding`), the bytes one of them
//! takes for a body are a *second request* to the other: this is request smuggling (RFC 9112 §11.2).
// `Content-Length` is a number from the wire: arithmetic here is checked or saturating, never
// a wrap or a panic ("No panic from the network" in the crate docs).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use crate::http::request::Header;
use crate::http::HttpError;

/// How the body of one request is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body (RFC 9112 §6.3 rule 7: a request with neither header has length zero).
    Empty,
    /// Exactly this many bytes follow the head.
    Length(usize),
    /// A chunked body follows the head.
    Chunked,
}

/// Decides the framing of a request from its version and header fields, before any body byte is read,
/// so that an oversized `Content-Length` is refused at once (413) instead of after the upload.
pub(crate) fn body_framing(
    version: u8,
    headers: &[Header],
    max_body_bytes: usize,
) -> Result<BodyFraming, HttpError> {
    let has_transfer_encoding = headers.iter().any(|h| is_named(h, "transfer-encoding"));
    let content_length = content_length(headers)?;
    if has_transfer_encoding {
        // RFC 9112 §6.1: "A server MAY reject a request that contains both Content-Length and
        // Transfer-Encoding"; §11.2: it is the classic smuggling vector, so we always do.
        if content_length.is_some() {
            return Err(HttpError::new(
                400,
                "Transfer-Encoding together with Content-Length (RFC 9112 §6.1, request smuggling)",
            ));
        }
        // RFC 9112 §6.1: a Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
        if version == 0 {
            return Err(HttpError::new(
                400,
                "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)",
            ));
        }
        check_transfer_codings(headers)?;
        return Ok(BodyFraming::Chunked);
    }
    match content_length {
        None => Ok(BodyFraming::Empty),
        // RFC 9110 §15.5.14: 413 as soon as the declared length is known, without reading the body.
        Some(length) => match usize::try_from(length) {
            Ok(length) if length <= max_body_bytes => Ok(BodyFraming::Length(length)),
            _ => Err(HttpError::new(
                413,
                "Content-Length exceeds the largest body accepted",
            )),
        },
    }
}

/// Checks the list of transfer codings: `chunked`, once, and nothing else.
fn check_transfer_codings(headers: &[Header]) -> Result<(), HttpError> {
    let mut chunked_count = 0u32;
    for header in headers.iter().filter(|h| is_named(h, "transfer-encoding")) {
        // RFC 9110 §5.6.1: empty elements of a comma-separated list are ignored.
        for element in list_elements(&header.value) {
            // RFC 9110 §10.1.4: a coding may carry parameters after `;`; the name is what matters.
            let name = element
                .split(|&b| b == b';')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            if name.eq_ignore_ascii_case(b"chunked") {
                chunked_count = chunked_count.saturating_add(1);
            } else {
                // RFC 9112 §6.1: "A server that receives a request message with a transfer coding it
                // does not understand SHOULD respond with 501 (Not Implemented)". chunked is the only
                // coding pushlab knows, so this also covers a final coding other than chunked
                // (RFC 9112 §6.3 rule 4: the body length could not be determined).
                return Err(HttpError::new(
                    501,
                    "transfer coding other than chunked (RFC 9112 §6.1)",
                ));
            }
        }
    }
    match chunked_count {
        0 => Err(HttpError::new(
            400,
            "empty Transfer-Encoding (RFC 9112 §6.1)",
        )),
        // RFC 9112 §6.1: "A sender MUST NOT apply the chunked transfer coding more than once".
        1 => Ok(()),
        _ => Err(HttpError::new(
            400,
            "chunked applied more than once (RFC 9112 §6.1)",
        )),
    }
}

/// The value of the `Content-Length` field(s), if any.
///
/// RFC 9110 §8.6: `Content-Length = 1*DIGIT`. A recipient may accept several fields, or a comma list,
/// when every value is the same number; values that differ are an unrecoverable framing error
/// (RFC 9112 §6.3 rule 5), and so is anything that is not a decimal number that fits in 64 bits.
fn content_length(headers: &[Header]) -> Result<Option<u64>, HttpError> {
    let mut length = None;
    for header in headers.iter().filter(|h| is_named(h, "content-length")) {
        for element in header.value.split(|&b| b == b',') {
            let value = parse_decimal(element.trim_ascii()).ok_or(HttpError::new(
                400,
                "Content-Length is not a decimal number (RFC 9110 §8.6)",
            ))?;
            match length {
                Some(previous) if previous != value => {
                    return Err(HttpError::new(
                        400,
                        "several Content-Length values that differ (RFC 9112 §6.3)",
                    ))
                }
                _ => length = Some(value),
            }
        }
    }
    Ok(length)
}

/// Parses `1*DIGIT` into a u64: `None` when empty, not all digits, or too large.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |total, &digit| {
        let value = char::from(digit).to_digit(10)?;
        total.checked_mul(10)?.checked_add(u64::from(value))
    })
}

/// The non-empty, trimmed elements of a comma-separated field value (RFC 9110 §5.6.1).
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|element| !element.is_empty())
}

/// Whether `header` is named `lowercase_name` (field names are case-insensitive, RFC 9110 §5.1).
pub(crate) fn is_named(header: &Header, lowercase_name: &str) -> bool {
    header.name.eq_ignore_ascii_case(lowercase_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Vec<Header> {
        fields
            .iter()
            .map(|(name, value)| Header {
                name: name.to_string(),
                value: value.as_bytes().to_vec(),
            })
            .collect()
    }

    fn framing(fields: &[(&str, &str)]) -> Result<BodyFraming, HttpError> {
        body_framing(1, &headers(fields), 100)
    }

    fn status(result: Result<BodyFraming, HttpError>) -> u16 {
        result.err().map_or(0, |e| e.status)
    }

    #[test]
    fn rfc9112_6_3_no_length_field_means_no_body() {
        assert_eq!(framing(&[("Host", "x")]), Ok(BodyFraming::Empty));
    }

    #[test]
    fn content_length_and_identical_duplicates() {
        assert_eq!(
            framing(&[("Content-Length", "5")]),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            framing(&[("content-length", "5"), ("CONTENT-LENGTH", "5")]),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            framing(&[("Content-Length", "5, 5,5")]),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            framing(&[("Content-Length", "007")]),
            Ok(BodyFraming::Length(7))
        );
    }

    #[test]
    fn rfc9112_6_3_differing_content_lengths_are_400() {
        assert_eq!(
            status(framing(&[("Content-Length", "5"), ("Content-Length", "6")])),
            400
        );
        assert_eq!(status(framing(&[("Content-Length", "5, 6")])), 400);
    }

    #[test]
    fn rfc9110_8_6_content_length_must_be_digits() {
        for bad in [
            "",
            "-1",
            "+5",
            "5a",
            "0x10",
            "1 2",
            "5,",
            "18446744073709551616",
        ] {
            assert_eq!(status(framing(&[("Content-Length", bad)])), 400, "{bad:?}");
        }
    }

    #[test]
    fn rfc9110_15_5_14_content_length_over_limit_is_413() {
        assert_eq!(
            framing(&[("Content-Length", "100")]),
            Ok(BodyFraming::Length(100))
        );
        assert_eq!(status(framing(&[("Content-Length", "101")])), 413);
        assert_eq!(
            status(framing(&[("Content-Length", "18446744073709551615")])),
            413
        );
    }

    #[test]
    fn rfc9112_6_1_transfer_codings() {
        assert_eq!(
            framing(&[("Transfer-Encoding", "chunked")]),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            framing(&[("Transfer-Encoding", "Chunked ")]),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            status(framing(&[("Transfer-Encoding", "gzip, chunked")])),
            501
        );
        assert_eq!(
            status(framing(&[("Transfer-Encoding", "chunked, gzip")])),
            501
        );
        assert_eq!(status(framing(&[("Transfer-Encoding", "identity")])), 501);
        assert_eq!(
            status(framing(&[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "chunked")
            ])),
            400
        );
        assert_eq!(status(framing(&[("Transfer-Encoding", "")])), 400);
        assert_eq!(
            status(framing(&[
                ("Transfer-Encoding", "chunked"),
                ("Content-Length", "5")
            ])),
            400
        );
        assert_eq!(
            status(body_framing(
                0,
                &headers(&[("Transfer-Encoding", "chunked")]),
                100
            )),
            400
        );
    }
}
