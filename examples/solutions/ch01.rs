//! Chapter 1, raw HTTP: model answers.

/// Exercise 1.1: where the head of a request ends, i.e. the index just after the first `\r\n\r\n`
/// (RFC 9112 §2.1), or `None` while the blank line has not arrived. Bytes after it belong to the body
/// or to the next request.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|start| start + 4)
}

/// Exercise 1.2: the body length a head announces. `Ok(None)` without `Content-Length`; several
/// `Content-Length` fields that agree are one; fields that differ, or a value that is not a decimal
/// number, are an error (a `400`, RFC 9112 §6.3).
pub fn content_length(head: &str) -> Result<Option<usize>, String> {
    let mut found: Option<usize> = None;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let value = value.trim();
        let length = match value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
            true => value.parse().map_err(|_| format!("{value} is too large"))?,
            false => return Err(format!("Content-Length {value:?} is not a number")),
        };
        if found.is_some_and(|earlier| earlier != length) {
            return Err("two Content-Length fields that differ".to_string());
        }
        found = Some(length);
    }
    Ok(found)
}

/// Exercise 1.3: one chunk of a chunked body (RFC 9112 §7.1): the size in hexadecimal, CRLF, the
/// data, CRLF. An empty `data` is the last chunk, `0\r\n\r\n`.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    // After the data of a chunk, or after the last chunk's size line (no trailer fields follow).
    out.extend_from_slice(b"\r\n");
    out
}
