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
/// `payload_bytes` in flight. Any failure of the connection fails the row.
pub fn pipelined_throughput(
    addr: SocketAddr,
    payload_bytes: usize,
    window: usize,
    duration: Duration,
) -> io::Result<f64> {
    let outcome = pipelined(addr, 1, payload_bytes, window, duration, IO_TIMEOUT)?;
    match outcome.first_failure {
        Some(failure) => Err(io::Error::other(failure)),
        None => Ok(outcome.bytes_per_second()),
    }
}

/// What a pipelined run measured.
#[derive(Debug)]
pub struct PipelineOutcome {
    /// Payload bytes echoed back, over all connections.
    pub echoed_bytes: u64,
    /// The run's wall time: its whole duration, even when every connection failed before the end.
    pub elapsed: Duration,
    /// Connections that failed: an I/O error, the server closing, or a frame that is not the echo.
    pub errors: usize,
    /// Connections that waited longer than the echo timeout for an echo while messages were in flight.
    pub timeouts: usize,
    /// What went wrong first, to print.
    pub first_failure: Option<String>,
}

impl PipelineOutcome {
    /// Echoed payload bytes per second of the run.
    pub fn bytes_per_second(&self) -> f64 {
        self.echoed_bytes as f64 / self.elapsed.as_secs_f64()
    }
}

/// One connection of a pipelined run: a non-blocking socket with a window of messages in flight.
struct Pipelined {
    stream: mio::net::TcpStream,
    frames: FrameBuffer,
    in_flight: usize,
    /// How much of the frame being written has gone out (0: none is being written).
    frame_offset: usize,
    last_echo: Instant,
}

impl Pipelined {
    /// Writes while the window has room and reads every echo that has arrived, until neither can
    /// progress (the socket is edge-triggered: the next event comes only after a `WouldBlock`, or
    /// after an echo frees room in the window, which this loop sees itself). Returns the bytes echoed.
    fn drive(&mut self, frame: &[u8], payload_bytes: usize, window: usize) -> io::Result<u64> {
        let mut echoed = 0u64;
        loop {
            let mut progressed = false;
            // Finish the frame being written, and start new ones while the window has room.
            while self.frame_offset > 0 || self.in_flight < window {
                match self.stream.write(&frame[self.frame_offset..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        if self.frame_offset == 0 {
                            self.in_flight += 1;
                        }
                        self.frame_offset = (self.frame_offset + n) % frame.len();
                        progressed = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // Every echo that has arrived frees a slot of the window.
            loop {
                match self.frames.next_frame(&mut self.stream) {
                    Ok((_, len)) if len == payload_bytes => {
                        echoed += len as u64;
                        self.in_flight = self.in_flight.saturating_sub(1);
                        self.last_echo = Instant::now();
                        progressed = true;
                    }
                    Ok(_) => return Err(invalid("echo of the wrong length")),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if !progressed {
                return Ok(echoed);
            }
        }
    }
}

/// Pipelined echo over `connections` connections, each keeping `window` messages of `payload_bytes`
/// in flight, for `duration`.
///
/// One thread drives every connection through one `mio` poll (non-blocking, edge-triggered): on each
/// event it writes while the window has room and reads every echo that has arrived. Threads would share
/// the load generator's one core and make the figure depend on how the scheduler interleaves them.
///
/// A connection that fails, or that has waited `echo_timeout` for an echo with messages in flight
/// ("timeout waiting for echo"), is counted, closed, and takes no further part; the others go on.
/// Only connecting (and the first echo each connection checks) fails the whole run.
pub fn pipelined(
    addr: SocketAddr,
    connections: usize,
    payload_bytes: usize,
    window: usize,
    duration: Duration,
    echo_timeout: Duration,
) -> io::Result<PipelineOutcome> {
    let mut poll = Poll::new()?;
    let mut live: Vec<Option<Pipelined>> = Vec::with_capacity(connections);
    for index in 0..connections {
        let EchoClient { stream, frames } = EchoClient::connect(addr, payload_bytes)?;
        stream.set_nonblocking(true)?;
        let mut stream = mio::net::TcpStream::from_std(stream);
        poll.registry().register(
            &mut stream,
            Token(index),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        live.push(Some(Pipelined {
            stream,
            frames,
            in_flight: 0,
            frame_offset: 0,
            last_echo: Instant::now(),
        }));
    }
    let (frame, _) = client_frame(payload_bytes);
    let mut outcome = PipelineOutcome {
        echoed_bytes: 0,
        elapsed: Duration::ZERO,
        errors: 0,
        timeouts: 0,
        first_failure: None,
    };
    let mut events = Events::with_capacity(connections.max(8));
    let start = Instant::now();
    let deadline = start + duration;
    for slot in live.iter_mut() {
        slot.as_mut()
            .expect("every connection is live at the start")
            .last_echo = start;
    }
    let mut ready: Vec<usize> = (0..connections).collect();
    for _ in 0..MAX_ITERATIONS {
        for &index in &ready {
            let Some(connection) = live[index].as_mut() else {
                continue;
            };
            match connection.drive(&frame, payload_bytes, window) {
                Ok(echoed) => outcome.echoed_bytes += echoed,
                Err(error) => {
                    live[index] = None;
                    outcome.errors += 1;
                    outcome
                        .first_failure
                        .get_or_insert(format!("connection {index}: {error}"));
                }
            }
        }
        let now = Instant::now();
        for (index, slot) in live.iter_mut().enumerate() {
            let stalled_with = slot
                .as_ref()
                .filter(|connection| {
                    connection.in_flight > 0 && now - connection.last_echo > echo_timeout
                })
                .map(|connection| connection.in_flight);
            if let Some(in_flight) = stalled_with {
                *slot = None;
                outcome.timeouts += 1;
                outcome.first_failure.get_or_insert(format!(
                    "connection {index}: timeout waiting for echo ({} s, {in_flight} in flight)",
                    echo_timeout.as_secs_f64()
                ));
            }
        }
        if now >= deadline || live.iter().all(Option::is_none) {
            break;
        }
        // Wake at least every 100 ms to look for stalled connections.
        let wait = deadline
            .saturating_duration_since(now)
            .min(Duration::from_millis(100));
        poll.poll(&mut events, Some(wait))?;
        ready.clear();
        ready.extend(events.iter().map(|event| event.token().0));
    }
    // A run that lost every connection early still counts its whole duration: it echoed nothing after.
    outcome.elapsed = start.elapsed().max(duration);
    Ok(outcome)
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
