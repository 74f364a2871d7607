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

/// Exercise 13.3: a token bucket of publishes, counted as pushlab's `server::rate` counts them: in
/// thousandths of a token, in integers, with time in milliseconds from the bucket's start.
pub struct Bucket {
    /// Tokens added per second.
    rate: u64,
    /// The most thousandths of a token the bucket holds.
    capacity_milli: u64,
    /// Thousandths of a token left at `updated_ms`.
    milli_tokens: u64,
    updated_ms: u64,
}

impl Bucket {
    /// A full bucket of `burst` tokens (at least one), refilled at `rate` tokens a second (at least one).
    pub fn new(rate: u32, burst: u32) -> Bucket {
        let capacity_milli = u64::from(burst.max(1)) * 1000;
        Bucket {
            rate: u64::from(rate.max(1)),
            capacity_milli,
            milli_tokens: capacity_milli,
            updated_ms: 0,
        }
    }

    /// Takes one token at `now_ms`, or says in how many milliseconds the next one is there (what
    /// `Retry-After` is made from, rounded up to seconds).
    pub fn take(&mut self, now_ms: u64) -> Result<(), u64> {
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms);
        // `rate` tokens a second is `rate` thousandths a millisecond. After a long silence the
        // product overflows a u64: saturating, it just means "full".
        let refill = elapsed_ms.saturating_mul(self.rate);
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(refill)
            .min(self.capacity_milli);
        self.updated_ms = now_ms;
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            return Ok(());
        }
        Err((1000 - self.milli_tokens).div_ceil(self.rate))
    }
}
