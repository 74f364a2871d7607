//! Lesson 2: the smallest event loop that serves many clients at once, on one thread.
//!
//! Run it:   cargo run --example 02_event_loop            (serves on 127.0.0.1:8082 until Ctrl-C)
//!           cargo run --example 02_event_loop -- --demo  (also starts 100 clients, prints what happened, exits)
//!           cargo run --example 02_event_loop -- --addr 127.0.0.1:9002 [--demo]
//!
//! Lesson 1 answered one client at a time: while it waited for one browser, every other waited too. Here
//! one thread asks the kernel "which of my sockets can make progress?" (`epoll` on Linux, through `mio`),
//! and does only the work that will not block. That is the shape of pushlab's real loop in
//! `src/server/event_loop.rs`, without the protocols.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

// ANCHOR: state
/// Each client's own buffers: readiness says "you may read now", not "here is a whole request", so what
/// was read so far must wait somewhere until the rest arrives.
struct Client {
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
}

const LISTENER: Token = Token(0);
// ANCHOR_END: state

fn main() -> io::Result<()> {
    let (addr, demo) = parse_args()?;

    // ANCHOR: setup
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut clients: HashMap<Token, Client> = HashMap::new();
    let mut next_token = 1;
    // ANCHOR_END: setup

    let addr = listener.local_addr()?;
    println!("listening on http://{addr}/");
    let demo_clients = if demo {
        Some(std::thread::spawn(move || run_demo_clients(addr, 100)))
    } else {
        None
    };
    let mut served = 0usize;
    let mut most_at_once = 0usize;

    let mut events = Events::with_capacity(256);
    loop {
        // ANCHOR: wait
        // Sleep until at least one socket is ready (or a second passes, to check on the demo).
        poll.poll(&mut events, Some(Duration::from_secs(1)))?;
        // ANCHOR_END: wait
        for event in events.iter() {
            if event.token() == LISTENER {
                // ANCHOR: accept
                // Edge-triggered readiness: one event may stand for many waiting clients, so accept until
                // the kernel says WouldBlock ("drain readiness").
                loop {
                    match listener.accept() {
                        Ok((mut stream, _peer)) => {
                            let token = Token(next_token);
                            next_token += 1;
                            poll.registry().register(
                                &mut stream,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            clients.insert(
                                token,
                                Client {
                                    stream,
                                    input: Vec::new(),
                                    output: Vec::new(),
                                },
                            );
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                most_at_once = most_at_once.max(clients.len());
                // ANCHOR_END: accept
                continue;
            }
            let token = event.token();
            let Some(client) = clients.get_mut(&token) else {
                continue;
            };
            let done = serve(client)?;
            if done {
                // Dropping the stream closes the socket; mio forgets it.
                clients.remove(&token);
                served += 1;
            }
        }
        if let Some(handle) = &demo_clients {
            if handle.is_finished() {
                break;
            }
        }
    }
    if let Some(handle) = demo_clients {
        let elapsed = handle.join().expect("demo clients")?;
        println!("served {served} clients in {elapsed:?}; at most {most_at_once} were connected at once, all on one thread");
    }
    Ok(())
}

// ANCHOR: serve
/// Does whatever work this client allows without blocking. Returns true when it is finished.
fn serve(client: &mut Client) -> io::Result<bool> {
    // Read everything the kernel has for us.
    let mut chunk = [0u8; 4096];
    loop {
        match client.stream.read(&mut chunk) {
            Ok(0) => return Ok(true), // the client hung up
            Ok(n) => client.input.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(true),
        }
    }
    // A whole request head has arrived once the blank line is there: queue the answer (once).
    let head_complete = client.input.windows(4).any(|w| w == b"\r\n\r\n");
    if head_complete && client.output.is_empty() {
        let body = "hello from a one-thread event loop\n";
        client.output = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        client.input.clear();
    }
    // Write as much as the kernel takes; a partial write leaves the rest for the next writable event.
    while !client.output.is_empty() {
        match client.stream.write(&client.output) {
            Ok(n) => {
                client.output.drain(..n);
                if client.output.is_empty() {
                    return Ok(true); // answered: close (lesson 1's protocol, kept simple)
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(true),
        }
    }
    Ok(false)
}
// ANCHOR_END: serve

/// `--demo`: `count` blocking clients connect first (all at once), then each sends a request and reads the
/// answer. A one-client-at-a-time server could not even accept them all before answering the first.
fn run_demo_clients(addr: SocketAddr, count: usize) -> io::Result<Duration> {
    let start = Instant::now();
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        streams.push(std::net::TcpStream::connect(addr)?);
    }
    for stream in &mut streams {
        stream.write_all(b"GET / HTTP/1.1\r\nHost: demo\r\n\r\n")?;
    }
    for stream in &mut streams {
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        assert!(
            answer.starts_with("HTTP/1.1 200 OK"),
            "unexpected answer: {answer}"
        );
    }
    Ok(start.elapsed())
}

/// `--addr HOST:PORT` and `--demo`. Without `--addr` the server takes 127.0.0.1:8082, or with `--demo`
/// a free port (the demo's clients are told the address the kernel picked).
fn parse_args() -> io::Result<(SocketAddr, bool)> {
    let usage = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "usage: [--addr HOST:PORT] [--demo]",
        )
    };
    let (mut addr, mut demo) = (None, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => demo = true,
            "--addr" => {
                let value = args.next().ok_or_else(usage)?;
                addr = Some(value.parse().map_err(|_| usage())?);
            }
            _ => return Err(usage()),
        }
    }
    let default_port = if demo { 0 } else { 8082 };
    let addr = addr.unwrap_or(SocketAddr::from(([127, 0, 0, 1], default_port)));
    Ok((addr, demo))
}
