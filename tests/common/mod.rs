//! Helpers shared by the wire-level tests: a server on an ephemeral loopback port and raw HTTP over TCP.
#![allow(dead_code)]

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

/// Reads one response (Content-Length or chunked body; none for HEAD when `head` is set).
pub fn read_response(stream: &mut TcpStream, head: bool) -> RawResponse {
    let mut buf = Vec::new();
    let (status, headers, head_len) = loop {
        let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut parsed_headers);
        if let httparse::Status::Complete(len) = parsed.parse(&buf).expect("valid response head") {
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
            break (parsed.code.unwrap(), headers, len);
        }
        read_more(stream, &mut buf);
    };
    let mut rest = buf.split_off(head_len);
    let response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if head || status == 101 || status == 204 || status == 304 {
        return response;
    }
    if response
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let body = read_chunked(stream, &mut rest);
        return RawResponse { body, ..response };
    }
    let length: usize = response
        .header("Content-Length")
        .expect("a length")
        .parse()
        .unwrap();
    while rest.len() < length {
        read_more(stream, &mut rest);
    }
    rest.truncate(length);
    RawResponse {
        body: rest,
        ..response
    }
}

fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).expect("read");
    assert!(
        n > 0,
        "connection closed early; got {:?}",
        String::from_utf8_lossy(buf)
    );
    buf.extend_from_slice(&chunk[..n]);
}

fn read_chunked(stream: &mut TcpStream, rest: &mut Vec<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
                break pos;
            }
            read_more(stream, rest);
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                .unwrap();
        while rest.len() < line_end + 2 + size + 2 {
            read_more(stream, rest);
        }
        body.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
        rest.drain(..line_end + 2 + size + 2);
        if size == 0 {
            return body;
        }
    }
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
        format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
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
