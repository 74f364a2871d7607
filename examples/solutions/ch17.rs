//! Chapter 17, scaling out: model answers.

/// Exercise 17.1: one Redis command in RESP2, as an array of bulk strings ("Sending commands to a
/// Redis server"): `*<count>\r\n`, then for each argument `$<length>\r\n<bytes>\r\n`. The lengths
/// are in bytes, and an argument may hold any bytes (CR, LF and NUL included): the length says where
/// it ends, so nothing is escaped.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A reply of one of the five flat types (no arrays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flat {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$5\r\nhello\r\n`
    Bulk(Vec<u8>),
    /// `$-1\r\n`
    Null,
}

/// Exercise 17.2: parses one flat reply at the start of `buf`. `Some((reply, bytes used))` when it is
/// all there; `None` when more bytes are needed (or, to keep the exercise short, when the bytes are
/// not a flat reply). A bulk string is read by its length, never by looking for CRLF, since its bytes
/// may contain CRLF.
pub fn parse_flat(buf: &[u8]) -> Option<(Flat, usize)> {
    let line_end = buf.windows(2).position(|pair| pair == b"\r\n")?;
    let (kind, rest) = buf.get(..line_end)?.split_first()?;
    let line = std::str::from_utf8(rest).ok()?;
    let after_line = line_end + 2;
    match kind {
        b'+' => Some((Flat::Simple(line.to_string()), after_line)),
        b'-' => Some((Flat::Error(line.to_string()), after_line)),
        b':' => Some((Flat::Integer(line.parse().ok()?), after_line)),
        b'$' if line == "-1" => Some((Flat::Null, after_line)),
        b'$' => {
            let len: usize = line.parse().ok()?;
            let end = after_line.checked_add(len)?;
            if buf.get(end..end.checked_add(2)?)? != b"\r\n" {
                return None;
            }
            Some((Flat::Bulk(buf.get(after_line..end)?.to_vec()), end + 2))
        }
        _ => None,
    }
}

/// Exercise 17.3: the wire id of a topic's stream entry. pushlab adds every entry with the explicit
/// id `N-0`, where `N` is the message's id on the wire; anything else in a topic's stream was not
/// written by pushlab and has no wire id. `N` must also be a number JavaScript holds exactly
/// (at most 2^53), since `pushlab.js` reads ids as numbers.
pub fn wire_id(entry_id: &str) -> Option<u64> {
    let (milliseconds, sequence) = entry_id.split_once('-')?;
    if sequence != "0" || !milliseconds.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id: u64 = milliseconds.parse().ok()?;
    (id <= 1 << 53).then_some(id)
}
