//! Helpers shared by the wire-level tests: a server on an ephemeral loopback port and raw HTTP over TCP.
#![allow(dead_code)]

pub mod redis;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pushlab::server::{spawn, RunningServer};
use pushlab::Config;

/// A config listening on an ephemeral loopback port, without the clock ticking into tests.
pub fn test_config() -> Config {
    Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        clock_interval: None,
        ..Config::default()
    }
}

/// A server with the test config.
pub fn server() -> RunningServer {
    spawn(test_config()).expect("server starts")
}

/// A server with a config changed by `change`.
pub fn server_with(change: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = test_config();
    change(&mut config);
    spawn(config).expect("server starts")
}

/// A connected socket with a read timeout, so a broken server fails the test instead of hanging it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response (Content-Length or chunked body; none for HEAD when `head` is set). It reads exactly
/// the bytes of this response, so pipelined responses that follow stay in the socket for the next call.
pub fn read_response(stream: &mut TcpStream, head: bool) -> RawResponse {
    let head_bytes = read_line_block(stream);
    let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut parsed_headers);
    let status = parsed.parse(&head_bytes).expect("valid response head");
    assert!(
        status.is_complete(),
        "incomplete head: {}",
        String::from_utf8_lossy(&head_bytes)
    );
    let headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect::<Vec<_>>();
    let status = parsed.code.unwrap();
    let response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if head || status < 200 || status == 204 || status == 304 {
        return response;
    }
    if response
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let body = read_chunked(stream);
        return RawResponse { body, ..response };
    }
    let length: usize = response
        .header("Content-Length")
        .expect("a length")
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).expect("the whole body");
    RawResponse { body, ..response }
}

/// Reads one byte at a time up to and including the first empty line (`\r\n\r\n`).
fn read_line_block(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    while !buf.ends_with(b"\r\n\r\n") {
        buf.push(read_byte(stream, &buf));
    }
    buf
}

fn read_byte(stream: &mut TcpStream, so_far: &[u8]) -> u8 {
    let mut byte = [0u8; 1];
    let n = stream.read(&mut byte).expect("read");
    assert!(
        n == 1,
        "connection closed early; got {:?}",
        String::from_utf8_lossy(so_far)
    );
    byte[0]
}

/// Reads one CRLF-terminated line, without the CRLF.
pub fn read_line(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    while !buf.ends_with(b"\r\n") {
        buf.push(read_byte(stream, &buf));
    }
    buf.truncate(buf.len() - 2);
    String::from_utf8(buf).expect("an ASCII line")
}

/// Reads one chunk of a chunked body: `Some(data)`, or `None` for the last chunk (trailers skipped).
pub fn read_chunk(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let size_line = read_line(stream);
    let size =
        usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16).expect("hex size");
    if size == 0 {
        while !read_line(stream).is_empty() {}
        return None;
    }
    let mut data = vec![0; size + 2];
    stream.read_exact(&mut data).expect("chunk data");
    assert!(data.ends_with(b"\r\n"), "a chunk ends with CRLF");
    data.truncate(size);
    Some(data)
}

fn read_chunked(stream: &mut TcpStream) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(chunk) = read_chunk(stream) {
        body.extend_from_slice(&chunk);
    }
    body
}

/// Sends `request` on a new connection and reads one response.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    read_response(&mut stream, request.starts_with(b"HEAD"))
}

/// A plain GET on a new connection.
pub fn get(addr: SocketAddr, path: &str) -> RawResponse {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Reads until the server closes the connection; returns everything read.
pub fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("read failed before close: {e}"),
        }
    }
}

/// Polls `condition` until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    condition()
}

/// The server still answers a normal request (asserted after every hostile input).
pub fn assert_still_serving(addr: SocketAddr) {
    let response = get(addr, "/poll/health?after=0");
    assert_eq!(
        response.status, 200,
        "the server must keep serving everyone else"
    );
}
