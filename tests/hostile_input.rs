//! Hostile bytes over real sockets: random garbage, mutated requests, and broken WebSocket frames after a
//! valid upgrade. Each costs only its own connection; afterwards the server still serves everyone else.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use common::*;

/// A small deterministic generator (xorshift64*), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const VALID_REQUESTS: &[&[u8]] = &[
    b"GET /poll/t?after=0 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"POST /publish/t HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /publish/t HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /jsonp/t?after=0&callback=cb HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /sse/t?after=0 HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 3\r\n\r\n",
    b"GET /ws/echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
];

/// One hostile input of a kind chosen by the generator.
fn hostile_input(rng: &mut Rng) -> Vec<u8> {
    let valid = VALID_REQUESTS[rng.below(VALID_REQUESTS.len())].to_vec();
    match rng.below(4) {
        0 => {
            let len = 1 + rng.below(2048);
            rng.bytes(len)
        }
        1 => {
            // A valid request with a few bytes flipped.
            let mut bytes = valid;
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            bytes
        }
        2 => {
            // A valid request cut short, then garbage.
            let cut = rng.below(valid.len());
            let mut bytes = valid[..cut].to_vec();
            let garbage_len = rng.below(512);
            bytes.extend(rng.bytes(garbage_len));
            bytes
        }
        _ => {
            // A valid WebSocket upgrade followed by random "frames".
            let mut bytes = VALID_REQUESTS[5].to_vec();
            let garbage_len = 1 + rng.below(1024);
            bytes.extend(rng.bytes(garbage_len));
            bytes
        }
    }
}

fn send_and_drain(addr: SocketAddr, input: &[u8]) {
    let mut stream = connect(addr);
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    // The server may close early (it refused the input): a failed write is an acceptable outcome.
    if stream.write_all(input).is_ok() {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut sink = [0u8; 4096];
    while let Ok(n) = stream.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

#[test]
fn random_and_mutated_inputs_cost_only_their_own_connection() {
    let server = server_with(|config| config.hold_timeout = Duration::from_millis(100));
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for round in 0..300 {
        let input = hostile_input(&mut rng);
        send_and_drain(server.addr, &input);
        if round % 50 == 0 {
            assert_still_serving(server.addr);
        }
    }
    assert_still_serving(server.addr);
    assert!(
        wait_until(Duration::from_secs(5), || server
            .connection_count()
            .unwrap()
            == 0),
        "every hostile connection was closed and forgotten"
    );
    assert_eq!(
        server.subscriber_count("t").unwrap(),
        0,
        "and left no subscription behind"
    );
    assert_eq!(
        server.handle.internal_errors().unwrap(),
        0,
        "no input reached a panic"
    );
}
