//! RESP2, the Redis serialization protocol, as sans-IO code: commands encoded into a `Vec<u8>`, replies
//! parsed from whatever bytes have arrived so far.
//!
//! # RESP in one page (the specification's sections, in its words' order)
//!
//! **RESP protocol description.** Every value starts with one byte that says its type and ends with
//! CRLF (`\r\n`). A client sends a command as an array of bulk strings and reads one reply per command,
//! in order.
//!
//! | first byte | type (spec section)  | example on the wire             | value here               |
//! |------------|----------------------|---------------------------------|--------------------------|
//! | `+`        | Simple strings       | `+OK\r\n`                       | [`Reply::Simple`]        |
//! | `-`        | Simple errors        | `-ERR unknown command\r\n`      | [`Reply::Error`]         |
//! | `:`        | Integers             | `:1000\r\n`                     | [`Reply::Integer`]       |
//! | `$`        | Bulk strings         | `$5\r\nhello\r\n`               | [`Reply::Bulk`]          |
//! | `$-1`      | Null bulk strings    | `$-1\r\n`                       | [`Reply::Null`]          |
//! | `*`        | Arrays               | `*2\r\n:1\r\n:2\r\n`            | [`Reply::Array`]         |
//! | `*-1`      | Null arrays          | `*-1\r\n`                       | [`Reply::Null`]          |
//!
//! **Nested arrays**: an array's elements are any values, arrays included (an `XREAD` reply is four
//! levels deep). A bulk string is *binary safe*: its length comes first, so its bytes may contain CRLF.
//!
//! **Sending commands to a Redis server**: a command is an array of bulk strings, name first
//! (`*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n`); [`encode_command`] writes one.
//!
//! **Multiple commands and pipelining**: a client may send several commands without waiting, and
//! Redis answers them in the order sent. So a buffer may hold several replies, or one and a half:
//! [`ReplyParser::parse`] takes one complete reply off the front and says how many bytes it used.
//!
//! # Theory of operation of the parser
//!
//! Bytes arrive in arbitrary pieces. The parser keeps a stack of the arrays it is inside; each call
//! consumes only *complete* elements (a whole line, or a whole bulk string with its CRLF) and pushes
//! them into the innermost array; an element that is not all there consumes nothing ("need more bytes"
//! is not an error, design rule 2), so the caller keeps those bytes and calls again when more arrive.
//! Because consumed elements are kept in the stack, a 10,000-entry `XRANGE` reply arriving in many reads
//! is scanned once, not once per read.
//!
//! Everything a server could make grow is bounded ([`RespLimits`]): a line, a bulk string, an array's
//! length, the nesting depth. A reply over a limit is a [`RespError`], after which the connection's
//! byte stream cannot be trusted and must be closed.

use std::fmt;

/// What the parser accepts: every size a reply could otherwise grow without bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RespLimits {
    /// Longest simple string, error or integer line, CRLF excluded.
    pub max_line_bytes: usize,
    /// Longest bulk string. (Redis allows 512 MiB; a pushlab message is at most tens of KiB.)
    pub max_bulk_bytes: usize,
    /// Most elements in one array.
    pub max_array_len: usize,
    /// Deepest nesting of arrays (an `XREAD` reply needs 4).
    pub max_depth: usize,
    /// Most bytes of one whole reply, nested elements included (the other limits bound its shape; this
    /// bounds its size: a million elements of a megabyte each would otherwise pass).
    pub max_reply_bytes: usize,
}

impl Default for RespLimits {
    fn default() -> Self {
        RespLimits {
            max_line_bytes: 4 * 1024,
            max_bulk_bytes: 1024 * 1024,
            max_array_len: 1024 * 1024,
            max_depth: 8,
            max_reply_bytes: 64 * 1024 * 1024,
        }
    }
}

/// One reply from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`: a short status, never containing CR or LF.
    Simple(String),
    /// `-ERR ...`: the command failed; the first word is the error's kind (`ERR`, `WRONGTYPE`, ...).
    Error(String),
    /// `:42`: a signed 64-bit integer.
    Integer(i64),
    /// `$5\r\nhello`: binary-safe bytes.
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`: no value (a missing key, a blocking read that timed out).
    Null,
    /// `*N`: N values, any of them arrays.
    Array(Vec<Reply>),
}

impl Reply {
    /// The bytes of a bulk or simple string; `None` for any other type.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(bytes) => Some(bytes),
            Reply::Simple(text) => Some(text.as_bytes()),
            _ => None,
        }
    }

    /// The text of a bulk or simple string that is UTF-8; `None` otherwise.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes()
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
    }

    /// The elements of an array; `None` for any other type.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// A reply that breaks the protocol or a limit. The byte stream is out of step after it: the
/// connection must be closed (and, for pushlab, reconnected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RespError {
    /// The first byte of a value is none of `+ - : $ *`.
    UnknownType(u8),
    /// A line ends in a bare LF or CR, or a bulk string is not followed by CRLF.
    MissingCrlf,
    /// A length or integer is not a decimal number that fits in 64 bits.
    BadNumber,
    /// A simple string or error is not UTF-8.
    NotUtf8,
    /// A line is longer than `max_line_bytes`.
    LineTooLong,
    /// A bulk string is longer than `max_bulk_bytes`.
    BulkTooLong,
    /// An array has more than `max_array_len` elements.
    ArrayTooLong,
    /// Arrays nest deeper than `max_depth`.
    TooDeep,
    /// One reply is larger than `max_reply_bytes`.
    ReplyTooLong,
}

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RespError::UnknownType(byte) => write!(
                f,
                "RESP: a value starts with byte 0x{byte:02x}, which is no type"
            ),
            RespError::MissingCrlf => {
                f.write_str("RESP: a line or bulk string does not end in CRLF")
            }
            RespError::BadNumber => {
                f.write_str("RESP: a length or integer is not a 64-bit decimal number")
            }
            RespError::NotUtf8 => f.write_str("RESP: a simple string or error is not UTF-8"),
            RespError::LineTooLong => f.write_str("RESP: a line is longer than the client accepts"),
            RespError::BulkTooLong => {
                f.write_str("RESP: a bulk string is longer than the client accepts")
            }
            RespError::ArrayTooLong => {
                f.write_str("RESP: an array has more elements than the client accepts")
            }
            RespError::TooDeep => f.write_str("RESP: arrays nest deeper than the client accepts"),
            RespError::ReplyTooLong => {
                f.write_str("RESP: a reply is larger than the client accepts")
            }
        }
    }
}

impl std::error::Error for RespError {}

/// Appends one command, an array of bulk strings, to `out` ("Sending commands to a Redis server").
///
/// ```
/// let mut out = Vec::new();
/// pushlab::redis::resp::encode_command(&[b"GET", b"key"], &mut out);
/// assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
/// ```
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// An array being filled: how many elements it still needs, and those it has.
#[derive(Debug)]
struct OpenArray {
    remaining: usize,
    items: Vec<Reply>,
}

/// The incremental reply parser (see the module docs). One per connection; it carries a half-read
/// reply from one call to the next.
#[derive(Debug, Default)]
pub struct ReplyParser {
    limits: RespLimits,
    /// The arrays the parser is inside, outermost first.
    open: Vec<OpenArray>,
    /// Bytes of the reply being read that earlier calls consumed.
    reply_bytes: usize,
}

/// One step of the parser: a whole element, or the news that its bytes are not all there.
enum Element {
    /// An element of `len` bytes (header, payload and CRLF) that is complete.
    Value(Reply, usize),
    /// An array header `*N` of `len` bytes, with N > 0 elements to follow.
    ArrayStart(usize, usize),
    /// The element's bytes are not all in the buffer yet.
    Incomplete,
}

impl ReplyParser {
    /// A parser with these limits.
    pub fn new(limits: RespLimits) -> ReplyParser {
        ReplyParser {
            limits,
            open: Vec::new(),
            reply_bytes: 0,
        }
    }

    /// Parses from `buf`, which starts where the previous call's consumed bytes ended. Returns how many
    /// bytes it consumed (the caller drops them) and the reply if one was completed. `(n, None)` means
    /// "call again with more bytes"; whatever was consumed is kept inside the parser.
    pub fn parse(&mut self, buf: &[u8]) -> Result<(usize, Option<Reply>), RespError> {
        let mut consumed = 0;
        loop {
            let rest = buf.get(consumed..).unwrap_or_default();
            let element = self.element(rest)?;
            let taken = match &element {
                Element::Value(_, len) | Element::ArrayStart(_, len) => *len,
                Element::Incomplete => 0,
            };
            if self.reply_bytes + consumed + taken > self.limits.max_reply_bytes {
                return Err(RespError::ReplyTooLong);
            }
            let (mut value, len) = match element {
                Element::Incomplete => {
                    self.reply_bytes += consumed;
                    return Ok((consumed, None));
                }
                Element::ArrayStart(count, len) => {
                    if self.open.len() >= self.limits.max_depth {
                        return Err(RespError::TooDeep);
                    }
                    self.open.push(OpenArray {
                        remaining: count,
                        // Capacity grows as elements arrive: a header alone cannot make us allocate.
                        items: Vec::new(),
                    });
                    consumed += len;
                    continue;
                }
                Element::Value(value, len) => (value, len),
            };
            consumed += len;
            // Hand the value to the innermost open array; a filled array becomes a value in turn.
            loop {
                let Some(innermost) = self.open.last_mut() else {
                    self.reply_bytes = 0;
                    return Ok((consumed, Some(value)));
                };
                innermost.items.push(value);
                innermost.remaining -= 1;
                if innermost.remaining > 0 {
                    break;
                }
                let Some(done) = self.open.pop() else {
                    break;
                };
                value = Reply::Array(done.items);
            }
        }
    }

    /// The element at the start of `buf`, or `Incomplete`.
    fn element(&self, buf: &[u8]) -> Result<Element, RespError> {
        let Some((&kind, _)) = buf.split_first() else {
            return Ok(Element::Incomplete);
        };
        let Some((line, line_len)) = self.line(buf)? else {
            return Ok(Element::Incomplete);
        };
        // `line` is the text after the type byte, without CRLF; `line_len` counts both.
        match kind {
            b'+' => Ok(Element::Value(Reply::Simple(utf8(line)?), line_len)),
            b'-' => Ok(Element::Value(Reply::Error(utf8(line)?), line_len)),
            b':' => Ok(Element::Value(Reply::Integer(integer(line)?), line_len)),
            b'$' => self.bulk(buf, line, line_len),
            b'*' => match length(line)? {
                None => Ok(Element::Value(Reply::Null, line_len)),
                Some(0) => Ok(Element::Value(Reply::Array(Vec::new()), line_len)),
                Some(n) if n > self.limits.max_array_len => Err(RespError::ArrayTooLong),
                Some(n) => Ok(Element::ArrayStart(n, line_len)),
            },
            other => Err(RespError::UnknownType(other)),
        }
    }

    /// A bulk string whose header `$N` is `line` (`line_len` bytes with its CRLF).
    fn bulk(&self, buf: &[u8], line: &[u8], line_len: usize) -> Result<Element, RespError> {
        let Some(n) = length(line)? else {
            return Ok(Element::Value(Reply::Null, line_len));
        };
        if n > self.limits.max_bulk_bytes {
            return Err(RespError::BulkTooLong);
        }
        // `n` is at most `max_bulk_bytes`, so the sum cannot overflow.
        let total = line_len + n + 2;
        let Some(payload_and_crlf) = buf.get(line_len..total) else {
            return Ok(Element::Incomplete);
        };
        let Some((payload, b"\r\n")) = payload_and_crlf.split_at_checked(n) else {
            return Err(RespError::MissingCrlf);
        };
        Ok(Element::Value(Reply::Bulk(payload.to_vec()), total))
    }

    /// The first line of `buf` after its type byte, and the length of the whole line with its CRLF;
    /// `None` while the CRLF has not arrived.
    fn line<'b>(&self, buf: &'b [u8]) -> Result<Option<(&'b [u8], usize)>, RespError> {
        let after_type = buf.get(1..).unwrap_or_default();
        let scan_len = after_type.len().min(self.limits.max_line_bytes + 2);
        let window = after_type.get(..scan_len).unwrap_or_default();
        let found = match window.iter().position(|&b| b == b'\r' || b == b'\n') {
            Some(at) => {
                let (line, end) = after_type.split_at(at);
                match end {
                    [b'\r', b'\n', ..] => Some((line, at + 3)),
                    // A CR as the last byte so far: its LF may be in the next read.
                    [b'\r'] => None,
                    _ => return Err(RespError::MissingCrlf),
                }
            }
            None if after_type.len() > self.limits.max_line_bytes => {
                return Err(RespError::LineTooLong)
            }
            None => None,
        };
        match found {
            Some((line, _)) if line.len() > self.limits.max_line_bytes => {
                Err(RespError::LineTooLong)
            }
            other => Ok(other),
        }
    }
}

/// A simple string's or error's text.
fn utf8(line: &[u8]) -> Result<String, RespError> {
    String::from_utf8(line.to_vec()).map_err(|_| RespError::NotUtf8)
}

/// A signed decimal integer: an optional `-`, then at least one digit.
fn integer(line: &[u8]) -> Result<i64, RespError> {
    let (negative, digits) = match line.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, line),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(RespError::BadNumber);
    }
    let mut value: i64 = 0;
    for &digit in digits {
        let digit = i64::from(digit - b'0');
        // Accumulate negatively so that i64::MIN, whose magnitude i64::MAX cannot hold, parses too.
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_sub(digit))
            .ok_or(RespError::BadNumber)?;
    }
    if negative {
        Ok(value)
    } else {
        value.checked_neg().ok_or(RespError::BadNumber)
    }
}

/// A bulk string's or array's length: `-1` is the null value (`None`), other negatives are errors.
fn length(line: &[u8]) -> Result<Option<usize>, RespError> {
    match integer(line)? {
        -1 => Ok(None),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| RespError::BadNumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Parses `bytes` fed in pieces of `piece` bytes, the way reads would deliver them.
    fn parse_in_pieces(bytes: &[u8], piece: usize) -> Result<Vec<Reply>, RespError> {
        let mut parser = ReplyParser::default();
        let mut buffer = Vec::new();
        let mut replies = Vec::new();
        for chunk in bytes.chunks(piece) {
            buffer.extend_from_slice(chunk);
            loop {
                let (used, reply) = parser.parse(&buffer)?;
                buffer.drain(..used);
                match reply {
                    Some(reply) => replies.push(reply),
                    None => break,
                }
            }
        }
        assert!(buffer.is_empty(), "bytes left over: {buffer:?}");
        Ok(replies)
    }

    fn parse_one(bytes: &[u8]) -> Result<Reply, RespError> {
        let (used, reply) = ReplyParser::default().parse(bytes)?;
        assert_eq!(used, bytes.len());
        Ok(reply.expect("a whole reply"))
    }

    /// An `XREAD` reply as Redis sends it: streams, each with entries of an id and field-value pairs.
    const XREAD_REPLY: &[u8] = b"*1\r\n*2\r\n$7\r\npl:chat\r\n*2\r\n\
*2\r\n$6\r\n1001-0\r\n*2\r\n$1\r\nd\r\n$5\r\nhello\r\n\
*2\r\n$6\r\n1002-0\r\n*2\r\n$1\r\nd\r\n$6\r\na\r\nb\xc3\xa9\r\n";

    fn xread_value() -> Reply {
        let entry = |id: &str, data: &[u8]| {
            Reply::Array(vec![
                Reply::Bulk(id.into()),
                Reply::Array(vec![Reply::Bulk(b"d".to_vec()), Reply::Bulk(data.to_vec())]),
            ])
        };
        Reply::Array(vec![Reply::Array(vec![
            Reply::Bulk(b"pl:chat".to_vec()),
            Reply::Array(vec![
                entry("1001-0", b"hello"),
                entry("1002-0", "a\r\nbé".as_bytes()),
            ]),
        ])])
    }

    #[test]
    fn every_type_parses_whole() {
        assert_eq!(parse_one(b"+OK\r\n"), Ok(Reply::Simple("OK".into())));
        assert_eq!(
            parse_one(b"-ERR unknown command 'FOO'\r\n"),
            Ok(Reply::Error("ERR unknown command 'FOO'".into()))
        );
        assert_eq!(parse_one(b":1000\r\n"), Ok(Reply::Integer(1000)));
        assert_eq!(parse_one(b":-7\r\n"), Ok(Reply::Integer(-7)));
        assert_eq!(
            parse_one(b":-9223372036854775808\r\n"),
            Ok(Reply::Integer(i64::MIN))
        );
        assert_eq!(
            parse_one(b"$5\r\nhello\r\n"),
            Ok(Reply::Bulk(b"hello".to_vec()))
        );
        assert_eq!(parse_one(b"$0\r\n\r\n"), Ok(Reply::Bulk(Vec::new())));
        assert_eq!(parse_one(b"$-1\r\n"), Ok(Reply::Null));
        assert_eq!(parse_one(b"*-1\r\n"), Ok(Reply::Null));
        assert_eq!(parse_one(b"*0\r\n"), Ok(Reply::Array(Vec::new())));
        assert_eq!(
            parse_one(b"*3\r\n:1\r\n$-1\r\n+x\r\n"),
            Ok(Reply::Array(vec![
                Reply::Integer(1),
                Reply::Null,
                Reply::Simple("x".into())
            ]))
        );
        assert_eq!(parse_one(XREAD_REPLY), Ok(xread_value()));
    }

    #[test]
    fn a_bulk_string_is_binary_safe() {
        assert_eq!(
            parse_one(b"$4\r\n\r\n\r\n\r\n"),
            Ok(Reply::Bulk(b"\r\n\r\n".to_vec()))
        );
    }

    #[test]
    fn byte_by_byte_gives_the_same_reply() {
        assert_eq!(parse_in_pieces(XREAD_REPLY, 1), Ok(vec![xread_value()]));
    }

    #[test]
    fn split_at_every_point_gives_the_same_reply() {
        for split in 0..=XREAD_REPLY.len() {
            let mut parser = ReplyParser::default();
            let (first, second) = XREAD_REPLY.split_at(split);
            let (used, reply) = parser.parse(first).unwrap();
            assert!(used <= first.len());
            if split < XREAD_REPLY.len() {
                assert_eq!(reply, None, "a reply from {split} bytes");
            }
            let mut rest = first[used..].to_vec();
            rest.extend_from_slice(second);
            let reply = match reply {
                Some(reply) => reply,
                None => {
                    let (used, reply) = parser.parse(&rest).unwrap();
                    assert_eq!(used, rest.len(), "split at {split}");
                    reply.unwrap()
                }
            };
            assert_eq!(reply, xread_value(), "split at {split}");
        }
    }

    #[test]
    fn incomplete_consumes_nothing_of_the_unfinished_element() {
        let mut parser = ReplyParser::default();
        assert_eq!(parser.parse(b"$5\r\nhel"), Ok((0, None)));
        assert_eq!(parser.parse(b"+OK\r"), Ok((0, None)));
        assert_eq!(parser.parse(b""), Ok((0, None)));
        // Inside an array, the whole elements are taken and the half one is left.
        assert_eq!(parser.parse(b"*2\r\n:1\r\n:2"), Ok((8, None)));
        assert_eq!(
            parser.parse(b":2\r\n"),
            Ok((
                4,
                Some(Reply::Array(vec![Reply::Integer(1), Reply::Integer(2)]))
            ))
        );
    }

    #[test]
    fn pipelined_replies_come_out_one_at_a_time_in_order() {
        let bytes = b"+OK\r\n:1\r\n$3\r\nabc\r\n*1\r\n*0\r\n-ERR no\r\n+PONG";
        let mut parser = ReplyParser::default();
        let mut at = 0;
        let mut replies = Vec::new();
        while let (used, Some(reply)) = parser.parse(&bytes[at..]).unwrap() {
            at += used;
            replies.push(reply);
        }
        assert_eq!(
            replies,
            vec![
                Reply::Simple("OK".into()),
                Reply::Integer(1),
                Reply::Bulk(b"abc".to_vec()),
                Reply::Array(vec![Reply::Array(Vec::new())]),
                Reply::Error("ERR no".into()),
            ]
        );
        assert_eq!(&bytes[at..], b"+PONG", "the unfinished reply stays");
        for piece in [1, 2, 3, 7] {
            assert_eq!(parse_in_pieces(&bytes[..at], piece).unwrap(), replies);
        }
    }

    #[test]
    fn broken_replies_are_errors_that_name_the_rule() {
        let cases: &[(&[u8], RespError)] = &[
            (b"?x\r\n", RespError::UnknownType(b'?')),
            (b"+OK\n", RespError::MissingCrlf),
            (b"+O\rK\r\n", RespError::MissingCrlf),
            (b"$3\r\nabcd\r\n", RespError::MissingCrlf),
            (b":12a\r\n", RespError::BadNumber),
            (b":\r\n", RespError::BadNumber),
            (b":-\r\n", RespError::BadNumber),
            (b":9223372036854775808\r\n", RespError::BadNumber),
            (b"$-2\r\n", RespError::BadNumber),
            (b"*-5\r\n", RespError::BadNumber),
            (b"+\xff\r\n", RespError::NotUtf8),
        ];
        for (bytes, error) in cases {
            assert_eq!(
                ReplyParser::default().parse(bytes),
                Err(error.clone()),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn every_limit_holds() {
        let limits = RespLimits {
            max_line_bytes: 8,
            max_bulk_bytes: 4,
            max_array_len: 2,
            max_depth: 2,
            max_reply_bytes: 1024,
        };
        let parse = |bytes: &[u8]| ReplyParser::new(limits.clone()).parse(bytes);
        assert_eq!(parse(b"+12345678\r\n").map(|r| r.0), Ok(11));
        assert_eq!(parse(b"+123456789\r\n"), Err(RespError::LineTooLong));
        // A line without its end is refused as soon as it is too long, not when the CRLF comes.
        assert_eq!(parse(b"+123456789"), Err(RespError::LineTooLong));
        assert_eq!(parse(b"$5\r\n"), Err(RespError::BulkTooLong));
        assert_eq!(parse(b"*3\r\n"), Err(RespError::ArrayTooLong));
        assert_eq!(parse(b"*1\r\n*1\r\n:1\r\n").map(|r| r.0), Ok(12));
        assert_eq!(parse(b"*1\r\n*1\r\n*1\r\n"), Err(RespError::TooDeep));
    }

    #[test]
    fn a_reply_is_bounded_as_a_whole_across_calls() {
        let limits = RespLimits {
            max_reply_bytes: 20,
            ..RespLimits::default()
        };
        let mut parser = ReplyParser::new(limits);
        // 4 + 3 * 7 = 25 bytes in all, fed one element at a time: refused once past 20.
        assert_eq!(parser.parse(b"*3\r\n"), Ok((4, None)));
        assert_eq!(parser.parse(b":1234\r\n"), Ok((7, None)));
        assert_eq!(parser.parse(b":1234\r\n"), Ok((7, None)));
        assert_eq!(parser.parse(b":1234\r\n"), Err(RespError::ReplyTooLong));
        // A reply within the bound resets the count for the next one.
        let mut parser = ReplyParser::new(RespLimits {
            max_reply_bytes: 20,
            ..RespLimits::default()
        });
        for _ in 0..5 {
            assert_eq!(parser.parse(b"*2\r\n:1\r\n:2\r\n").map(|r| r.0), Ok(12));
        }
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        encode_command(&["XADD", "pl:chat", "1001-0", "d", "a\r\nb"], &mut out);
        assert_eq!(
            out,
            b"*5\r\n$4\r\nXADD\r\n$7\r\npl:chat\r\n$6\r\n1001-0\r\n$1\r\nd\r\n$4\r\na\r\nb\r\n"
        );
        // An encoded command is itself valid RESP: the parser reads it back.
        assert_eq!(
            parse_one(&out),
            Ok(Reply::Array(
                ["XADD", "pl:chat", "1001-0", "d", "a\r\nb"]
                    .iter()
                    .map(|arg| Reply::Bulk(arg.as_bytes().to_vec()))
                    .collect()
            ))
        );
    }

    /// A reply as a server writes it: the parser's inverse, for the property tests.
    fn encode_reply(reply: &Reply, out: &mut Vec<u8>) {
        match reply {
            Reply::Simple(text) => out.extend_from_slice(format!("+{text}\r\n").as_bytes()),
            Reply::Error(text) => out.extend_from_slice(format!("-{text}\r\n").as_bytes()),
            Reply::Integer(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
            Reply::Null => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(bytes) => {
                out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(items) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                for item in items {
                    encode_reply(item, out);
                }
            }
        }
    }

    /// Any reply, nested up to four arrays deep.
    fn any_reply() -> impl Strategy<Value = Reply> {
        let leaf = prop_oneof![
            "[a-zA-Z0-9 _-]{0,20}".prop_map(Reply::Simple),
            "[a-zA-Z0-9 _-]{0,20}".prop_map(Reply::Error),
            any::<i64>().prop_map(Reply::Integer),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(Reply::Bulk),
            Just(Reply::Null),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop::collection::vec(inner, 0..8).prop_map(Reply::Array)
        })
    }

    proptest! {
        #[test]
        fn any_reply_comes_back_whatever_the_pieces(reply in any_reply(), piece in 1usize..17) {
            let mut bytes = Vec::new();
            encode_reply(&reply, &mut bytes);
            prop_assert_eq!(parse_in_pieces(&bytes, piece), Ok(vec![reply]));
        }

        #[test]
        fn random_bytes_end_in_a_reply_an_error_or_a_wait(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            // No panic, and the parser never claims more bytes than it was given.
            let mut parser = ReplyParser::default();
            let mut at = 0;
            while let Ok((used, reply)) = parser.parse(&bytes[at..]) {
                prop_assert!(used <= bytes.len() - at);
                at += used;
                if reply.is_none() {
                    break;
                }
            }
        }
    }
}
