//! A minimal blocking HTTP/1.1 client: write a request, read a response head, read the body.
//!
//! # The three ways a response body ends (RFC 9112 §6.3)
//!
//! 1. Responses to `HEAD`, and `1xx`, `204` and `304` responses, have no body at all.
//! 2. `Transfer-Encoding: chunked`: the body is a series of chunks, each `<hex size>\r\n<bytes>\r\n`,
//!    ended by a chunk of size zero and an optional trailer section (RFC 9112 §7.1). This is how a
//!    server sends a body whose length it does not know: every held stream in pushlab is one.
//! 3. `Content-Length: N`: exactly N bytes follow. Otherwise the body runs until the server closes the
//!    connection.
//!
//! [`HttpConnection::read_response`] reads a whole response; [`HttpConnection::into_stream`] reads the
//! head and then hands out the body of a held response piece by piece, as it arrives
//! ([`ResponseStream::next_chunk`]). The chunked decoding is sans-IO ([`decode_chunk`]): bytes in,
//! a chunk or "incomplete" out.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Read and write timeout of the convenience functions: longer than the server's default long-poll
/// hold (20 s), so that a held request is answered before the client gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest response head accepted, in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Most header fields in a response head.
pub const MAX_HEADERS: usize = 64;

/// Largest body (or single chunk) accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A whole response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, transfer coding removed.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
    /// The body as UTF-8 text.
    pub fn text(&self) -> io::Result<&str> {
        std::str::from_utf8(&self.body).map_err(|_| invalid_data("response body is not UTF-8"))
    }
}

/// A response head: status and header fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// How the body is delimited (RFC 9112 §6.3), given the request method.
    fn body_framing(&self, request_method: &str) -> io::Result<BodyFraming> {
        if request_method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&self.status)
            || self.status == 204
            || self.status == 304
        {
            return Ok(BodyFraming::None);
        }
        if let Some(codings) = self.header("transfer-encoding") {
            // RFC 9112 §6.3: chunked must be the final coding; anything else runs until close.
            let last = codings.rsplit(',').next().unwrap_or_default().trim();
            return Ok(if last.eq_ignore_ascii_case("chunked") {
                BodyFraming::Chunked
            } else {
                BodyFraming::UntilClose
            });
        }
        match self.header("content-length") {
            Some(value) => value
                .trim()
                .parse::<u64>()
                .map(BodyFraming::Length)
                .map_err(|_| invalid_data("invalid Content-Length")),
            None => Ok(BodyFraming::UntilClose),
        }
    }
}

/// How a response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyFraming {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn invalid_data(reason: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.to_string())
}

/// Appends a request to `out`: request line, `Host`, the given header fields, `Content-Length` when
/// there is a body or the method is `POST`, a blank line and the body. Refuses a path or header with
/// a CR, LF or NUL, which would let a value inject header lines.
pub fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let fields = headers.iter().flat_map(|(n, v)| [*n, *v]);
    if [method, path, host]
        .into_iter()
        .chain(fields)
        .any(|s| s.contains(['\r', '\n', '\0']))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "CR, LF or NUL in a request line or header",
        ));
    }
    out.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if !body.is_empty() || method.eq_ignore_ascii_case("POST") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(())
}

/// Percent-encodes `value` for a query string: everything but `A-Z a-z 0-9 - . _ ~` (RFC 3986 §2.3)
/// becomes `%XX`.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What [`decode_chunk`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkStatus {
    /// Not a whole chunk yet; nothing consumed.
    Incomplete,
    /// One chunk's data, and how many bytes of the buffer it took (size line and CRLF included).
    Chunk {
        /// The chunk's data.
        data: Vec<u8>,
        /// Bytes of the buffer used.
        consumed: usize,
    },
    /// The last chunk (`0`) and its trailer section: the body is complete.
    Last {
        /// Bytes of the buffer used.
        consumed: usize,
    },
}

/// Decodes one chunk from the start of `buf` (RFC 9112 §7.1):
/// `chunk-size [; extensions] CRLF chunk-data CRLF`, or `0 CRLF *(trailer-field CRLF) CRLF`.
/// A bare LF is accepted as a line end, as most clients do.
pub fn decode_chunk(buf: &[u8], max_chunk_bytes: usize) -> io::Result<ChunkStatus> {
    let Some((size_line, mut pos)) = take_line(buf, 0)? else {
        return Ok(ChunkStatus::Incomplete);
    };
    let size = parse_chunk_size(size_line)?;
    if size == 0 {
        // Trailer section: lines until an empty one.
        loop {
            match take_line(buf, pos)? {
                None => return Ok(ChunkStatus::Incomplete),
                Some((line, next)) => {
                    pos = next;
                    if line.is_empty() {
                        return Ok(ChunkStatus::Last { consumed: pos });
                    }
                }
            }
        }
    }
    if size > max_chunk_bytes as u64 {
        return Err(invalid_data("chunk larger than the client accepts"));
    }
    // `size` is at most `max_chunk_bytes`, so it fits in usize.
    let end = pos
        .checked_add(size as usize)
        .ok_or_else(|| invalid_data("chunk too large"))?;
    let Some(data) = buf.get(pos..end) else {
        return Ok(ChunkStatus::Incomplete);
    };
    // RFC 9112 §7.1: chunk-data is followed by CRLF.
    let consumed = match buf.get(end..).unwrap_or_default() {
        [b'\r', b'\n', ..] => end + 2,
        [b'\n', ..] => end + 1,
        [] | [b'\r'] => return Ok(ChunkStatus::Incomplete),
        _ => return Err(invalid_data("chunk data not followed by CRLF")),
    };
    Ok(ChunkStatus::Chunk {
        data: data.to_vec(),
        consumed,
    })
}

/// The line starting at `start` (without its CRLF or LF) and the position after it; `None` when no line
/// end has arrived yet. A line longer than 4 KiB is refused.
fn take_line(buf: &[u8], start: usize) -> io::Result<Option<(&[u8], usize)>> {
    const MAX_LINE_BYTES: usize = 4096;
    let rest = buf.get(start..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\n') {
        Some(lf) => {
            let line = rest.get(..lf).unwrap_or_default();
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Ok(Some((line, start + lf + 1)))
        }
        None if rest.len() > MAX_LINE_BYTES => {
            Err(invalid_data("chunk size or trailer line too long"))
        }
        None => Ok(None),
    }
}

/// `chunk-size = 1*HEXDIG`, optionally followed by `;extensions`, which are ignored.
fn parse_chunk_size(line: &[u8]) -> io::Result<u64> {
    let hex = line.split(|&b| b == b';').next().unwrap_or_default();
    let hex = std::str::from_utf8(hex)
        .map_err(|_| invalid_data("invalid chunk size"))?
        .trim();
    if hex.is_empty() || hex.len() > 15 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid_data("invalid chunk size"));
    }
    u64::from_str_radix(hex, 16).map_err(|_| invalid_data("invalid chunk size"))
}

/// One client connection: a socket and the bytes read from it but not used yet.
#[derive(Debug)]
pub struct HttpConnection {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
    /// The method of the request whose response is read next (a `HEAD` answer has no body).
    last_method: String,
}

impl HttpConnection {
    /// Connects to `addr` with `timeout` for connecting, every read and every write.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<HttpConnection> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(HttpConnection {
            stream,
            host: addr.to_string(),
            buf: Vec::new(),
            last_method: String::new(),
        })
    }

    /// The socket, e.g. to shut it down from a test.
    pub fn socket(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends one request (see [`write_request`]).
    pub fn send_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        let mut out = Vec::with_capacity(256 + body.len());
        write_request(&mut out, method, path, &self.host, headers, body)?;
        self.last_method = method.to_string();
        self.stream.write_all(&out)
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream. Retries when interrupted.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf
                        .extend_from_slice(chunk.get(..n).unwrap_or_default());
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads a response head, parsed with `httparse`.
    pub fn read_head(&mut self) -> io::Result<ResponseHead> {
        loop {
            if let Some((head, consumed)) = parse_head(&self.buf)? {
                self.buf.drain(..consumed);
                return Ok(head);
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(invalid_data("response head too large"));
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before a response head",
                ));
            }
        }
    }

    /// Reads a whole response: head and body. The connection can carry another request afterwards
    /// unless the body ran until close.
    pub fn read_response(&mut self) -> io::Result<HttpResponse> {
        let head = self.read_head()?;
        let framing = head.body_framing(&self.last_method)?;
        let body = match framing {
            BodyFraming::None => Vec::new(),
            BodyFraming::Length(length) => self.read_exact_body(length)?,
            BodyFraming::Chunked => self.read_chunked_body()?,
            BodyFraming::UntilClose => self.read_until_close()?,
        };
        Ok(HttpResponse {
            status: head.status,
            headers: head.headers,
            body,
        })
    }

    fn read_exact_body(&mut self, length: u64) -> io::Result<Vec<u8>> {
        if length > MAX_BODY_BYTES as u64 {
            return Err(invalid_data("response body too large"));
        }
        let length = length as usize;
        while self.buf.len() < length {
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside the body",
                ));
            }
        }
        Ok(self.buf.drain(..length).collect())
    }

    fn read_chunked_body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        while let Some(chunk) = self.next_chunk()? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(invalid_data("response body too large"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn read_until_close(&mut self) -> io::Result<Vec<u8>> {
        while self.fill()? > 0 {
            if self.buf.len() > MAX_BODY_BYTES {
                return Err(invalid_data("response body too large"));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// The next chunk of a chunked body; `None` after the last chunk.
    fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            match decode_chunk(&self.buf, MAX_BODY_BYTES)? {
                ChunkStatus::Chunk { data, consumed } => {
                    self.buf.drain(..consumed);
                    return Ok(Some(data));
                }
                ChunkStatus::Last { consumed } => {
                    self.buf.drain(..consumed);
                    return Ok(None);
                }
                ChunkStatus::Incomplete => {
                    if self.fill()? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed inside a chunked body",
                        ));
                    }
                }
            }
        }
    }

    /// Reads the head of a held response and returns a reader for its body.
    pub fn into_stream(mut self) -> io::Result<ResponseStream> {
        let head = self.read_head()?;
        let framing = head.body_framing(&self.last_method)?;
        let remaining = match framing {
            BodyFraming::Length(length) => length,
            _ => 0,
        };
        Ok(ResponseStream {
            head,
            connection: self,
            framing,
            remaining,
            done: framing == BodyFraming::None,
        })
    }
}

/// Parses a response head from the start of `buf`: `None` if it is not complete yet.
fn parse_head(buf: &[u8]) -> io::Result<Option<(ResponseHead, usize)>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    match response.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(consumed)) => {
            let status = response
                .code
                .ok_or_else(|| invalid_data("no status code"))?;
            let headers = response
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).trim().to_string(),
                    )
                })
                .collect();
            Ok(Some((ResponseHead { status, headers }, consumed)))
        }
        Err(e) => Err(invalid_data(&format!("invalid response head: {e}"))),
    }
}

/// The body of a held response, read as it arrives.
#[derive(Debug)]
pub struct ResponseStream {
    /// The response head.
    pub head: ResponseHead,
    connection: HttpConnection,
    framing: BodyFraming,
    /// Bytes left of a `Content-Length` body.
    remaining: u64,
    done: bool,
}

impl ResponseStream {
    /// The socket, e.g. to shut it down from a test.
    pub fn socket(&self) -> &TcpStream {
        self.connection.socket()
    }

    /// The next piece of the body, blocking until it arrives; `None` when the body is complete.
    /// For a chunked body each piece is exactly one chunk as the server wrote it; otherwise it is
    /// whatever one read returned.
    pub fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let piece = match self.framing {
            BodyFraming::None => None,
            BodyFraming::Chunked => self.connection.next_chunk()?,
            BodyFraming::Length(_) => self.next_counted_piece()?,
            BodyFraming::UntilClose => self.next_raw_piece()?,
        };
        self.done = piece.is_none();
        Ok(piece)
    }

    fn next_counted_piece(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        if self.connection.buf.is_empty() && self.connection.fill()? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside the body",
            ));
        }
        let take = self
            .connection
            .buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.remaining -= take as u64;
        Ok(Some(self.connection.buf.drain(..take).collect()))
    }

    fn next_raw_piece(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.connection.buf.is_empty() && self.connection.fill()? == 0 {
            return Ok(None);
        }
        Ok(Some(std::mem::take(&mut self.connection.buf)))
    }
}

/// Sends one request on a new connection (with `Connection: close`) and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let mut connection = HttpConnection::connect(addr, timeout)?;
    let mut all_headers = headers.to_vec();
    all_headers.push(("Connection", "close"));
    connection.send_request(method, path, &all_headers, body)?;
    connection.read_response()
}

/// `GET path` on a new connection, with [`DEFAULT_TIMEOUT`].
pub fn get(addr: SocketAddr, path: &str) -> io::Result<HttpResponse> {
    request(addr, "GET", path, &[], b"", DEFAULT_TIMEOUT)
}

/// `POST path` with `body` on a new connection, with [`DEFAULT_TIMEOUT`].
pub fn post(addr: SocketAddr, path: &str, body: &[u8]) -> io::Result<HttpResponse> {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "text/plain; charset=utf-8")],
        body,
        DEFAULT_TIMEOUT,
    )
}

/// Opens a held response: sends `GET path` with `headers` and reads the head.
pub fn open_stream(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> io::Result<ResponseStream> {
    let mut connection = HttpConnection::connect(addr, timeout)?;
    connection.send_request("GET", path, headers, b"")?;
    connection.into_stream()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            "POST",
            "/publish/t",
            "127.0.0.1:1",
            &[("X-A", "b")],
            b"hi",
        )
        .unwrap();
        assert_eq!(out, b"POST /publish/t HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-A: b\r\nContent-Length: 2\r\n\r\nhi");
        let mut out = Vec::new();
        write_request(&mut out, "GET", "/", "h", &[], b"").unwrap();
        assert_eq!(out, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    }

    #[test]
    fn request_refuses_injection() {
        let mut out = Vec::new();
        assert!(write_request(&mut out, "GET", "/a\r\nX: y", "h", &[], b"").is_err());
        assert!(write_request(
            &mut out,
            "GET",
            "/",
            "h",
            &[("Last-Event-ID", "1\nX: y")],
            b""
        )
        .is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode("a.b_c-d~1"), "a.b_c-d~1");
        assert_eq!(percent_encode("alert(1); x"), "alert%281%29%3B%20x");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn chunks_whole_and_incomplete() {
        let body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        let ChunkStatus::Chunk { data, consumed } = decode_chunk(body, 100).unwrap() else {
            panic!()
        };
        assert_eq!((data.as_slice(), consumed), (&b"hello"[..], 10));
        let rest = &body[consumed..];
        let ChunkStatus::Chunk { data, consumed } = decode_chunk(rest, 100).unwrap() else {
            panic!()
        };
        assert_eq!(data, b" world");
        let rest = &rest[consumed..];
        assert_eq!(
            decode_chunk(rest, 100).unwrap(),
            ChunkStatus::Last {
                consumed: rest.len() - 4
            }
        );
        // Every strict prefix of a chunk is incomplete, never an error.
        for end in 0..10 {
            assert_eq!(
                decode_chunk(&body[..end], 100).unwrap(),
                ChunkStatus::Incomplete,
                "{end}"
            );
        }
        for end in 0..rest.len() - 4 {
            assert_eq!(
                decode_chunk(&rest[..end], 100).unwrap(),
                ChunkStatus::Incomplete,
                "{end}"
            );
        }
    }

    #[test]
    fn chunk_errors() {
        assert!(decode_chunk(b"zz\r\n", 100).is_err());
        assert!(decode_chunk(b"\r\n", 100).is_err());
        assert!(decode_chunk(b"3\r\nabcX\r\n", 100).is_err());
        assert!(decode_chunk(b"65\r\n", 100).is_err()); // 101 > 100
        assert!(decode_chunk(b"fffffffffffffffff\r\n", usize::MAX).is_err());
        assert!(decode_chunk(&[b'1'; 5000], 100).is_err());
    }

    #[test]
    fn head_and_framing() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip, chunked\r\n\r\nbody";
        let (head, consumed) = parse_head(raw).unwrap().unwrap();
        assert_eq!(consumed, raw.len() - 4);
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-type"), Some("text/plain"));
        assert_eq!(head.body_framing("GET").unwrap(), BodyFraming::Chunked);
        assert_eq!(head.body_framing("HEAD").unwrap(), BodyFraming::None);
        assert!(parse_head(&raw[..20]).unwrap().is_none());
        let (head, _) = parse_head(b"HTTP/1.1 204 No Content\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.body_framing("GET").unwrap(), BodyFraming::None);
        let (head, _) = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.body_framing("GET").unwrap(), BodyFraming::Length(12));
        let (head, _) = parse_head(b"HTTP/1.1 200 OK\r\n\r\n").unwrap().unwrap();
        assert_eq!(head.body_framing("GET").unwrap(), BodyFraming::UntilClose);
        let (head, _) = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(head.body_framing("GET").is_err());
        assert!(parse_head(b"HTTP/1.1 2x0 OK\r\n\r\n").is_err());
    }
}
