//! The load generator: one small blocking WebSocket client, the same for every server.
//!
//! It is kept as cheap as a client can be, so that the server is what the numbers measure: each message
//! is encoded and masked once, before the clock starts (a fixed masking key, which the servers cannot
//! tell from a fresh one: §5.3 asks for unpredictable keys to protect proxies, not servers), and echoes
//! are read by header only, their payload skipped. The frame codec is pushlab's own
//! (`pushlab::ws::frame`). Every connection checks one echo byte for byte before it is used for load.
//!
//! Every loop stops at a deadline and after a maximum count, whichever comes first.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use pushlab::ws::frame::{decode_header, encode_frame, Opcode, MAX_HEADER_BYTES};

/// The masking key of every client frame.
const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The largest echo frame the client accepts.
const MAX_FRAME_BYTES: usize = 1024 * 1024 + MAX_HEADER_BYTES;
/// A cap on any one load loop's iterations, besides its deadline.
const MAX_ITERATIONS: u64 = 100_000_000;
/// How long one blocking read or write may wait before the run is declared stuck.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn invalid(reason: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason.into())
}

/// One masked binary frame carrying `payload_bytes` bytes (a repeating pattern), ready to write.
pub fn client_frame(payload_bytes: usize) -> (Vec<u8>, Vec<u8>) {
    let payload: Vec<u8> = (0..payload_bytes).map(|i| (i % 251) as u8).collect();
    let mut frame = Vec::new();
    encode_frame(true, Opcode::Binary, &payload, Some(MASK_KEY), &mut frame);
    (frame, payload)
}

/// A connected WebSocket client on a blocking socket.
#[derive(Debug)]
pub struct EchoClient {
    stream: TcpStream,
    frames: FrameBuffer,
}

/// Received bytes, cut into server frames. It reads from any source, so the same code serves a
/// blocking socket and a non-blocking one (where a read that would block surfaces as `WouldBlock`, with
/// every byte already received kept for the next call).
#[derive(Debug)]
struct FrameBuffer {
    /// Received bytes not yet consumed live in `buffer[start..end]`.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

impl EchoClient {
    /// Connects, performs the opening handshake for `/ws/echo`, and checks one echo of `payload_bytes`.
    pub fn connect(addr: SocketAddr, payload_bytes: usize) -> io::Result<EchoClient> {
        let mut client = EchoClient::handshake(addr)?;
        let (frame, payload) = client_frame(payload_bytes);
        client.send(&frame)?;
        let echoed = client.recv_payload()?;
        if echoed != payload {
            return Err(invalid("the echo differs from the message sent"));
        }
        Ok(client)
    }

    /// Connects and performs the opening handshake only (RFC 6455 §4.1), leaving the connection idle.
    pub fn handshake(addr: SocketAddr) -> io::Result<EchoClient> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        // The RFC 6455 §1.3 example key: the servers check its form, not its freshness.
        let request = format!(
            "GET /ws/echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes())?;
        let mut frames = FrameBuffer {
            buffer: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        };
        let head_end = loop {
            let received = &frames.buffer[..frames.end];
            if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if frames.end >= 16 * 1024 {
                return Err(invalid("response head too long"));
            }
            frames.fill(&mut stream)?;
        };
        if !frames.buffer.starts_with(b"HTTP/1.1 101") {
            let head = String::from_utf8_lossy(&frames.buffer[..head_end]).into_owned();
            return Err(invalid(format!("handshake refused: {head}")));
        }
        // Whatever followed the head is the start of the first frame.
        frames.start = head_end;
        Ok(EchoClient { stream, frames })
    }

    /// Writes pre-encoded frame bytes.
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.stream.write_all(frame)
    }

    /// Reads the next frame, which must be a whole binary message; returns its payload length.
    pub fn recv_len(&mut self) -> io::Result<usize> {
        let (_, payload_len) = self.frames.next_frame(&mut self.stream)?;
        Ok(payload_len)
    }

    /// Reads the next frame, which must be a whole binary message; returns a copy of its payload.
    pub fn recv_payload(&mut self) -> io::Result<Vec<u8>> {
        let (payload_start, payload_len) = self.frames.next_frame(&mut self.stream)?;
        Ok(self.frames.buffer[payload_start..payload_start + payload_len].to_vec())
    }
}

impl FrameBuffer {
    /// Returns (where the payload starts in `buffer`, its length) of the next frame, reading from
    /// `source` as needed; the frame counts as consumed.
    fn next_frame(&mut self, source: &mut impl Read) -> io::Result<(usize, usize)> {
        loop {
            let received = &self.buffer[self.start..self.end];
            let header = decode_header(received).map_err(|e| invalid(e.to_string()))?;
            let wanted = match header {
                Some((header, header_len)) => {
                    if header.opcode != Opcode::Binary || !header.fin || header.mask.is_some() {
                        return Err(invalid(format!("unexpected frame {header:?}")));
                    }
                    let payload_len = usize::try_from(header.payload_len)
                        .map_err(|_| invalid("frame too large"))?;
                    let frame_len = header_len + payload_len;
                    if received.len() >= frame_len {
                        let payload_start = self.start + header_len;
                        self.start += frame_len;
                        return Ok((payload_start, payload_len));
                    }
                    frame_len
                }
                None => MAX_HEADER_BYTES,
            };
            self.make_room(wanted)?;
            self.fill(source)?;
        }
    }

    /// Makes sure a frame of `frame_len` bytes fits in the buffer from `start` on.
    fn make_room(&mut self, frame_len: usize) -> io::Result<()> {
        if frame_len > MAX_FRAME_BYTES {
            return Err(invalid("frame too large"));
        }
        if self.buffer.len() - self.start < frame_len {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buffer.len() < frame_len {
                self.buffer.resize(frame_len, 0);
            }
        }
        Ok(())
    }

    /// One read into the free end of the buffer.
    fn fill(&mut self, source: &mut impl Read) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        loop {
            match source.read(&mut self.buffer[self.end..]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Row (a): round trips per second on one connection, one message in flight.
pub fn round_trips_one(
    addr: SocketAddr,
    payload_bytes: usize,
    duration: Duration,
) -> io::Result<f64> {
    let mut client = EchoClient::connect(addr, payload_bytes)?;
    let (frame, _) = client_frame(payload_bytes);
    let start = Instant::now();
    let deadline = start + duration;
    let mut round_trips = 0u64;
    while round_trips < MAX_ITERATIONS && Instant::now() < deadline {
        client.send(&frame)?;
        if client.recv_len()? != payload_bytes {
            return Err(invalid("echo of the wrong length"));
        }
        round_trips += 1;
    }
    Ok(round_trips as f64 / start.elapsed().as_secs_f64())
}

/// Row (b): round trips per second over `connections` connections, one message in flight on each,
/// driven by `threads` threads that each write to all their connections, then read all the echoes.
pub fn round_trips_many(
    addr: SocketAddr,
    connections: usize,
    threads: usize,
    payload_bytes: usize,
    duration: Duration,
) -> io::Result<f64> {
    let mut groups: Vec<Vec<EchoClient>> = (0..threads).map(|_| Vec::new()).collect();
    for i in 0..connections {
        groups[i % threads].push(EchoClient::connect(addr, payload_bytes)?);
    }
    let start_line = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = groups
        .into_iter()
        .map(|mut group| {
            let start_line = Arc::clone(&start_line);
            thread::spawn(move || -> io::Result<u64> {
                let (frame, _) = client_frame(payload_bytes);
                start_line.wait();
                let deadline = Instant::now() + duration;
                let mut round_trips = 0u64;
                while round_trips < MAX_ITERATIONS && Instant::now() < deadline {
                    for client in group.iter_mut() {
                        client.send(&frame)?;
                    }
                    for client in group.iter_mut() {
                        if client.recv_len()? != payload_bytes {
                            return Err(invalid("echo of the wrong length"));
                        }
                    }
                    round_trips += group.len() as u64;
                }
                Ok(round_trips)
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    let mut total = 0u64;
    for worker in workers {
        total += worker
            .join()
            .map_err(|_| invalid("load thread panicked"))??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Row (c): echoed payload bytes per second on one connection with `window` messages of
/// `payload_bytes` in flight.
///
/// One thread drives the connection through a `mio` poll (non-blocking, edge-triggered): it writes
/// while the window has room, reads every echo that has arrived, and waits only when neither can
/// progress. A writer thread and a reader thread would share the load generator's one core and make
/// the row depend on how the scheduler interleaves them.
pub fn pipelined_throughput(
    addr: SocketAddr,
    payload_bytes: usize,
    window: usize,
    duration: Duration,
) -> io::Result<f64> {
    let EchoClient { stream, mut frames } = EchoClient::connect(addr, payload_bytes)?;
    stream.set_nonblocking(true)?;
    let mut stream = mio::net::TcpStream::from_std(stream);
    let mut poll = Poll::new()?;
    poll.registry().register(
        &mut stream,
        Token(0),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    let mut events = Events::with_capacity(8);
    let (frame, _) = client_frame(payload_bytes);
    let mut in_flight = 0usize;
    let mut frame_offset = 0usize;
    let mut echoed_bytes = 0u64;
    let start = Instant::now();
    let deadline = start + duration;
    for _ in 0..MAX_ITERATIONS {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let mut progressed = false;
        // Finish the frame being written, and start new ones while the window has room.
        while frame_offset > 0 || in_flight < window {
            match stream.write(&frame[frame_offset..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    if frame_offset == 0 {
                        in_flight += 1;
                    }
                    frame_offset = (frame_offset + n) % frame.len();
                    progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Every echo that has arrived frees a slot of the window.
        loop {
            match frames.next_frame(&mut stream) {
                Ok((_, len)) if len == payload_bytes => {
                    echoed_bytes += len as u64;
                    in_flight = in_flight.saturating_sub(1);
                    progressed = true;
                }
                Ok(_) => return Err(invalid("echo of the wrong length")),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !progressed {
            poll.poll(&mut events, Some(deadline.saturating_duration_since(now)))?;
        }
    }
    Ok(echoed_bytes as f64 / start.elapsed().as_secs_f64())
}

/// Row (d): opens `count` connections that complete the handshake and then stay idle.
pub fn open_idle(addr: SocketAddr, count: usize) -> io::Result<Vec<EchoClient>> {
    (0..count).map(|_| EchoClient::handshake(addr)).collect()
}

/// Sends one `payload_bytes` message on each connection and reads its echo, one connection at a time.
pub fn echo_once_each(clients: &mut [EchoClient], payload_bytes: usize) -> io::Result<()> {
    let (frame, _) = client_frame(payload_bytes);
    for client in clients {
        client.send(&frame)?;
        if client.recv_len()? != payload_bytes {
            return Err(invalid("echo of the wrong length"));
        }
    }
    Ok(())
}
