//! pushlab behind a real nginx, over real sockets: which doors still deliver in real time when the
//! proxy buffers responses.
//!
//! Each test starts a server in this process, an nginx child in front of it ([`Nginx::start`]) in one
//! buffering mode, and the crate's own clients against nginx's port. What is asserted:
//!
//! | door | `proxy_buffering off` | nginx default (`on`) | `on`, `X-Accel-Buffering` ignored |
//! |---|---|---|---|
//! | SSE, XHR stream, iframe | delivered | delivered: the door sends `X-Accel-Buffering: no` | delivered: each chunk is passed on |
//! | long poll | delivered | delivered (a whole response) | delivered |
//! | WebSocket | delivered | delivered (an upgraded connection is never buffered) | delivered |
//!
//! "Delivered" waits as long as it takes, up to a failure timeout: no test bounds how fast. Why even
//! the last column delivers is in the docs of [`pushlab::lab::nginx`]: nginx passes on each chunk of an
//! HTTP/1.1 chunked response as it completes, buffering or not.
//!
//! Without nginx the tests print that they skipped; with `CI` set they fail instead.

mod common;

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
