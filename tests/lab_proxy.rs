//! pushlab behind a real nginx, over real sockets: which doors still deliver in real time when the
//! proxy buffers responses.
//!
//! Each test starts a server in this process, an nginx child in front of it ([`Nginx::start`]) in one
//! buffering mode, and the crate's own clients against nginx's port. What is asserted:
//!
//! | door | `proxy_buffering off` | nginx default (`on`) | `on`, `X-Accel-Buffering` ignored |
//! |---|---|---|---|
//! | SSE, XHR stream, iframe | delivered | delivered: the door sends `X-Accel-Buffering: no` | delivered while nginx's buffers are empty; after a backlog, the last message is held back |
//! | long poll | delivered | delivered (a whole response) | delivered |
//! | WebSocket | delivered | delivered (an upgraded connection is never buffered) | delivered |
//!
//! "Delivered" waits as long as it takes, up to a failure timeout: no test bounds how fast. "Held
//! back" is "not arrived after a generous wait", then proof that it was held, not lost: more bytes
//! fill nginx's buffer and it arrives. Why the last column mostly delivers is in the docs of
//! [`pushlab::lab::nginx`]: nginx passes on each chunk of an HTTP/1.1 chunked response as it
//! completes, until a backlog has made it spill to a temp file.
//!
//! The last test runs the lab itself, `pushlab lab --quick --proxy nginx`, and checks that its table
//! is complete: every door behind every nginx mode, beside the direct run, nothing lost.
//!
//! Without nginx the tests print that they skipped; with `CI` set they fail instead.

mod common;
mod lab_support;

use std::io;
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use pushlab::client::iframe::IframeClient;
use pushlab::client::poll::long_poll;
use pushlab::client::sse::SseClient;
use pushlab::client::stream::XhrStreamClient;
use pushlab::client::ws::Client as WsClient;
use pushlab::client::{publish, PushEvent, ReceivedMessage};
use pushlab::lab::nginx::{Buffering, Nginx};
use pushlab::server::RunningServer;
use pushlab::ws::Event;

/// How long a message that should arrive may take before the test fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a held-back message is given to arrive anyway: generous, so that a slow machine cannot
/// pass a "held" check by being slow to deliver.
const HOLD_WAIT: Duration = Duration::from_secs(2);

/// Whether nginx is here; prints the skip, and under `CI` fails instead.
fn nginx_or_skip(test: &str) -> bool {
    if Nginx::available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: nginx is not installed, and CI must run this test (apt-get install nginx-light)"
    );
    println!("SKIPPED {test}: nginx is not installed (apt-get install nginx-light)");
    false
}

fn server() -> RunningServer {
    common::server()
}

fn proxy(server: &RunningServer, buffering: Buffering) -> Nginx {
    Nginx::start(server.addr, buffering).expect("nginx starts")
}

/// One held response of a streaming door, read through the crate's client for that door.
enum Stream {
    Xhr(XhrStreamClient),
    Iframe(IframeClient),
    Sse(SseClient),
}

#[derive(Clone, Copy, Debug)]
enum StreamDoor {
    Xhr,
    Iframe,
    Sse,
}

const STREAM_DOORS: [StreamDoor; 3] = [StreamDoor::Xhr, StreamDoor::Iframe, StreamDoor::Sse];

impl Stream {
    /// Opens `door` on `topic` from now on.
    fn open(door: StreamDoor, addr: SocketAddr, topic: &str) -> io::Result<Stream> {
        Ok(match door {
            StreamDoor::Xhr => Stream::Xhr(XhrStreamClient::connect(
                addr,
                topic,
                None,
                DELIVERY_TIMEOUT,
            )?),
            StreamDoor::Iframe => Stream::Iframe(IframeClient::connect(
                addr,
                topic,
                None,
                "onMessage",
                DELIVERY_TIMEOUT,
            )?),
            StreamDoor::Sse => Stream::Sse(SseClient::connect(
                addr,
                &format!("/sse/{topic}"),
                None,
                DELIVERY_TIMEOUT,
            )?),
        })
    }

    fn socket(&self) -> &std::net::TcpStream {
        match self {
            Stream::Xhr(client) => client.response().socket(),
            Stream::Iframe(client) => client.response().socket(),
            Stream::Sse(client) => client.response().socket(),
        }
    }

    fn set_read_timeout(&self, timeout: Duration) {
        let socket = self.socket();
        socket
            .set_read_timeout(Some(timeout))
            .expect("set a read timeout");
    }

    fn set_receive_buffer(&self, bytes: usize) {
        let socket = socket2::SockRef::from(self.socket());
        socket.set_recv_buffer_size(bytes).expect("set SO_RCVBUF");
    }

    /// The next message, skipping heartbeats; an error when the read times out or the stream ends.
    fn next_message(&mut self) -> io::Result<ReceivedMessage> {
        loop {
            let event = match self {
                Stream::Xhr(client) => client.next_event()?,
                Stream::Iframe(client) => client.next_event()?,
                Stream::Sse(client) => {
                    let event = client.next_event()?;
                    event.map(|event| {
                        PushEvent::Message(ReceivedMessage {
                            id: event.last_event_id.parse().unwrap_or(0),
                            data: event.data,
                        })
                    })
                }
            };
            match event {
                Some(PushEvent::Message(message)) => return Ok(message),
                Some(_) => continue,
                None => return Err(io::ErrorKind::UnexpectedEof.into()),
            }
        }
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Opens `door` through nginx, publishes one message and reads it back.
fn assert_stream_delivers(door: StreamDoor, buffering: Buffering) {
    let server = server();
    let nginx = proxy(&server, buffering);
    let topic = format!("live-{door:?}");
    let mut stream = Stream::open(door, nginx.addr(), &topic).expect("the stream opens");
    let id = publish(nginx.addr(), &topic, "now").expect("publish through nginx");
    let message = stream
        .next_message()
        .unwrap_or_else(|error| panic!("{door:?} behind {buffering:?}: nothing arrived ({error})"));
    assert_eq!((message.id, message.data.as_str()), (id, "now"));
}

#[test]
fn streams_deliver_at_once_with_buffering_off() {
    if !nginx_or_skip("streams_deliver_at_once_with_buffering_off") {
        return;
    }
    for door in STREAM_DOORS {
        assert_stream_delivers(door, Buffering::Off);
    }
}

/// nginx's default buffers, and each streaming door answers with `X-Accel-Buffering: no`, which nginx
/// honours per response: the doors deliver in real time.
#[test]
fn streams_deliver_behind_default_buffering() {
    if !nginx_or_skip("streams_deliver_behind_default_buffering") {
        return;
    }
    for door in STREAM_DOORS {
        assert_stream_delivers(door, Buffering::Default);
    }
}

/// The same doors behind buffering that ignores `X-Accel-Buffering` (a proxy that does not know the
/// header) still deliver at once: the streams are chunked, and nginx passes on every complete chunk of
/// an HTTP/1.1 upstream response as it arrives, buffering or not. Several messages in a row arrive
/// one by one, each before the next is published.
#[test]
fn streams_deliver_even_when_the_header_is_ignored() {
    if !nginx_or_skip("streams_deliver_even_when_the_header_is_ignored") {
        return;
    }
    for door in STREAM_DOORS {
        let server = server();
        let nginx = proxy(&server, Buffering::IgnoreAccelHeader);
        let topic = format!("ignored-{door:?}");
        let mut stream = Stream::open(door, nginx.addr(), &topic).expect("the stream opens");
        for n in 0..3 {
            let data = format!("message {n}");
            let id = publish(nginx.addr(), &topic, &data).expect("publish");
            let message = stream.next_message().unwrap_or_else(|error| {
                panic!("{door:?}: message {n} did not arrive before the next was sent ({error})")
            });
            assert_eq!((message.id, message.data), (id, data));
        }
    }
}

/// A long poll answers with a whole response, which no buffering holds back.
#[test]
fn long_poll_works_in_every_mode() {
    if !nginx_or_skip("long_poll_works_in_every_mode") {
        return;
    }
    let server = server();
    for buffering in Buffering::ALL {
        let nginx = proxy(&server, buffering);
        let topic = format!("poll-{}", buffering.name());
        let head = publish(nginx.addr(), &topic, "before").expect("publish");
        let addr = nginx.addr();
        let poller = {
            let topic = topic.clone();
            thread::spawn(move || long_poll(addr, &topic, Some(head), DELIVERY_TIMEOUT))
        };
        // Whether the poll is already held or arrives after this, `after=head` gets the message.
        thread::sleep(Duration::from_millis(200));
        let id = publish(addr, &topic, "news").expect("publish");
        let batch = poller.join().unwrap().expect("long poll answers");
        let received: Vec<_> = batch
            .messages
            .iter()
            .map(|m| (m.id, m.data.as_str()))
            .collect();
        assert_eq!(received, [(id, "news")], "{buffering:?}");
        assert_eq!(batch.last, id);
    }
}

/// The upgrade passes through (`Upgrade` and `Connection` set for the upstream), and an upgraded
/// connection is relayed as it comes in both directions: a frame the client sends is published.
#[test]
fn websocket_works_in_every_mode() {
    if !nginx_or_skip("websocket_works_in_every_mode") {
        return;
    }
    let server = server();
    for buffering in Buffering::ALL {
        let nginx = proxy(&server, buffering);
        let topic = format!("ws-{}", buffering.name());
        let mut client = WsClient::connect(nginx.addr(), &format!("/ws/{topic}"))
            .expect("the upgrade passes through nginx");
        client.set_read_timeout(Some(DELIVERY_TIMEOUT)).unwrap();
        let published = publish(nginx.addr(), &topic, "by POST").expect("publish");
        client.send_text("by frame").unwrap();
        let mut received = Vec::new();
        while received.len() < 2 {
            match client.recv().expect("a frame") {
                Event::Text(text) => received.push(text),
                Event::Ping(_) | Event::Pong(_) => {}
                other => panic!("{buffering:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(
            received[0],
            format!(r#"{{"id":{published},"data":"by POST"}}"#)
        );
        assert_eq!(
            received[1],
            format!(r#"{{"id":{},"data":"by frame"}}"#, published + 1)
        );
        client.close_normal().unwrap();
    }
}

/// nginx runs as this process's child, from files in its own directory, which go with it.
#[test]
fn nginx_is_a_child_with_its_own_directory_and_stops_on_drop() {
    if !nginx_or_skip("nginx_is_a_child_with_its_own_directory_and_stops_on_drop") {
        return;
    }
    let server = server();
    let nginx = proxy(&server, Buffering::Default);
    let (pid, dir, addr) = (nginx.pid(), nginx.dir().to_path_buf(), nginx.addr());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let parent = status
        .lines()
        .find_map(|line| line.strip_prefix("PPid:"))
        .map(|ppid| ppid.trim().parse::<u32>().unwrap());
    assert_eq!(parent, Some(std::process::id()));
    assert!(dir.join("nginx.conf").is_file());
    drop(nginx);
    assert!(!dir.exists(), "its directory is removed");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens on {addr} any more"
    );
}

/// A client that stops reading for a moment, then reads again. With the header honoured (nginx's
/// default) the stream stays unbuffered and the last message published arrives with the backlog. With
/// the header ignored nginx spills the backlog to a temp file, and the last message waits in a
/// part-filled buffer behind it until more bytes fill that buffer: held back, not lost.
#[test]
fn after_a_backlog_buffering_holds_the_next_message_back() {
    if !nginx_or_skip("after_a_backlog_buffering_holds_the_next_message_back") {
        return;
    }
    for buffering in [Buffering::Default, Buffering::IgnoreAccelHeader] {
        let server = common::server_with(|config| {
            config.max_stream_bytes = 1 << 30;
            config.hub.max_bytes_per_topic = 64 << 20;
        });
        let nginx = proxy(&server, buffering);
        let mut stream = Stream::open(StreamDoor::Xhr, nginx.addr(), "backlog").expect("opens");
        // A small receive buffer, fixed (set after connecting, it also stops the kernel growing it),
        // so the bytes the sockets can hold do not depend on this machine's settings.
        stream.set_receive_buffer(64 * 1024);
        // The client reads nothing while the backlog is published: more than the loopback socket
        // buffers between nginx and the client hold, so nginx has to keep (or refuse) the rest.
        let piece = "y".repeat(BACKLOG_PIECE_BYTES);
        let mut backlog = Vec::new();
        for _ in 0..BACKLOG_PIECES {
            backlog.push(server.publish("backlog", &piece).expect("publish"));
        }
        let tail = server.publish("backlog", &piece).expect("publish");
        for &id in &backlog {
            let message = stream.next_message().expect("the backlog arrives");
            assert_eq!(message.id, id, "{buffering:?}: backlog in order");
        }
        stream.set_read_timeout(HOLD_WAIT);
        let after_wait = stream.next_message();
        if buffering == Buffering::Default {
            let message = after_wait.expect("with the header honoured the tail arrives");
            assert_eq!(message.id, tail);
            continue;
        }
        match after_wait {
            Err(error) if is_timeout(&error) => {}
            other => panic!("{buffering:?}: expected the tail held back, got {other:?}"),
        }
        // A fresh reader after the timeout would lose the stream, so the proof reads on the same
        // socket: the XHR client keeps its partial line across a timed-out read.
        for _ in 0..FILLER_PIECES {
            server.publish("backlog", &piece).expect("publish filler");
        }
        stream.set_read_timeout(DELIVERY_TIMEOUT);
        let message = stream.next_message().expect("the held tail arrives");
        assert_eq!(message.id, tail);
    }
}

/// The backlog: 256 messages of 32 KiB, 8 MiB in all: more than nginx's socket to the client can
/// hold (its send buffer grows to 4 MiB by default, `net.ipv4.tcp_wmem`) with the client's fixed at
/// 64 KiB. The tail is one more such message, published before the client reads again.
const BACKLOG_PIECES: usize = 256;
const BACKLOG_PIECE_BYTES: usize = 32 * 1024;

/// Filler after the held tail: 4 × 32 KiB fills any of nginx's buffers (`proxy_buffers 8 4k|8k`).
const FILLER_PIECES: usize = 4;

/// `pushlab lab --quick --proxy nginx`: a row for every door in each of nginx's three modes beside
/// the direct run, every column filled (nginx's CPU included), nothing lost, the table that sets
/// each mode against the direct run has every door with a verdict, and the slow reader's table has
/// every stream in every mode. How fast is not checked.
#[test]
fn the_lab_behind_nginx_fills_every_row_and_loses_nothing() {
    if !nginx_or_skip("the_lab_behind_nginx_fills_every_row_and_loses_nothing") {
        return;
    }
    let out = lab_support::scratch_dir("lab-proxy");
    let (output, stdout) =
        lab_support::run_lab(&["--quick", "--seed", "13", "--proxy", "nginx"], &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lab failed:\n{stdout}\n{stderr}");
    let rows = lab_support::main_table(&stdout);
    let servers = [
        "pushlab",
        "pushlab / nginx-default",
        "pushlab / nginx-buffering-off",
        "pushlab / nginx-ignore-accel",
    ];
    assert_eq!(rows.len(), 7 * servers.len(), "{stdout}");
    for server in servers {
        for door in lab_support::DOORS {
            let row = lab_support::find_row(&rows, door, server);
            lab_support::assert_complete(row, 30);
        }
    }
    let proxy_cpu = stdout
        .lines()
        .find(|line| line.starts_with("nginx's own CPU"))
        .expect("nginx's CPU is reported");
    assert_eq!(proxy_cpu.matches("nginx-").count(), 21, "{proxy_cpu}");

    let verdicts: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("#### fanout: behind nginx"))
        .filter(|line| line.starts_with("| ") && !line.starts_with("| door"))
        .take_while(|line| !line.is_empty())
        .collect();
    for door in lab_support::DOORS {
        let line = verdicts
            .iter()
            .find(|line| line.starts_with(&format!("| {door} |")))
            .unwrap_or_else(|| panic!("{door} missing behind nginx:\n{stdout}"));
        let verdict = lab_support::cells(line).pop().unwrap();
        assert!(!verdict.is_empty(), "{door}: no verdict");
    }
    // The slow reader: each streaming door behind each mode, with what happened to its tail (whether
    // it was held is `after_a_backlog_buffering_holds_the_next_message_back`'s to check).
    let slow_reader: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("### a slow reader behind nginx"))
        .filter(|line| line.starts_with("| ") && !line.starts_with("| door"))
        .collect();
    assert_eq!(slow_reader.len(), 3, "{stdout}");
    for line in slow_reader {
        let cells = lab_support::cells(line);
        assert_eq!(cells.len(), 4, "{line}");
        for cell in &cells[1..] {
            assert!(
                cell.starts_with("with the backlog") || cell.starts_with("held back"),
                "{line}"
            );
        }
    }
    let json = std::fs::read_to_string(out.join("fanout.json")).expect("fanout.json written");
    assert!(json.contains("\"server\":\"pushlab / nginx-ignore-accel\""));
    assert!(json.contains("\"slow_reader_behind_nginx\":[{"));
    for chart in ["fanout-nginx-default-latency.svg", "fanout-p99.svg"] {
        assert!(out.join(chart).is_file(), "{chart} written");
    }
}
