//! Chapter 13, security: model answers.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// Exercise 13.1: whether a `Host` value names this server in a way DNS rebinding cannot fake: an IP
/// address literal (`127.0.0.1:8080`, `[::1]:8080`) or `localhost`, with or without a port and a
/// trailing dot. Any other name is answered 421 before a route runs.
pub fn host_allowed(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.parse::<IpAddr>().is_ok() || name.eq_ignore_ascii_case("localhost")
}

/// Exercise 13.2: sends raw request bytes to a server and returns the status code of its answer, to
/// play an attack against the real thing.
pub fn status_of(addr: SocketAddr, request: &[u8]) -> io::Result<u16> {
    let mut socket = TcpStream::connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    socket.write_all(request)?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // The status line is all we need: `HTTP/1.1 403 Forbidden\r\n`.
    while !head.ends_with(b"\r\n") && socket.read(&mut byte)? == 1 {
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not a status line: {line:?}")))
}
