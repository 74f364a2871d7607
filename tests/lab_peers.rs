//! The npm reference servers, started by [`Peer::start`] and read with the crate's own clients: for
//! every door a peer offers, four messages published with `POST /publish/{topic}` arrive in order,
//! with the ids the publishes returned: one published before the client subscribes (replayed, the
//! client asks from `after=0`) and three after (delivered live).
//!
//! The Node `http` + `ws` peer speaks pushlab's URL contract, so the door clients in
//! `pushlab::client` read it unchanged. SockJS wraps every transport in its own session framing (`o`
//! open, `h` heartbeat, `a["..",..]` messages), so its doors are read with
//! [`pushlab::client::sockjs::SockjsClient`], the same client the lab uses; each SockJS message is
//! pushlab's `{"id":N,"data":".."}`.
//!
//! The last test runs the lab itself with `--peers` and checks that both peers have a complete row
//! for every door they offer, measured in the same run as pushlab's.
//!
//! Without `node` and `npm` the tests print that they skipped; with `CI` set they fail instead.

mod lab_support;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use pushlab::client::json;
use pushlab::client::poll::long_poll;
use pushlab::client::sockjs::{SockjsClient, Transport};
use pushlab::client::sse::SseClient;
use pushlab::client::stream::XhrStreamClient;
use pushlab::client::ws::Client as WsClient;
use pushlab::client::{publish, PushEvent, ReceivedMessage};
use pushlab::lab::peers::{Door, Peer, PeerKind};
use pushlab::ws::Event;

/// How long any one read may wait before the test fails.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Messages published per door.
const MESSAGES: usize = 3;

/// Reads after the last message before giving up: heartbeats and framing may come between messages.
const MAX_READS: usize = 100;

/// Whether node and npm are here; prints the skip, and under `CI` fails instead.
fn node_or_skip(test: &str) -> bool {
    if Peer::available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: node and npm are not installed, and CI must run this test"
    );
    println!("SKIPPED {test}: node and npm are not installed");
    false
}

/// Something that yields the messages of one door, in the order they arrived.
trait Subscriber {
    /// The messages that the next read brings (maybe none: a heartbeat, framing, an empty poll).
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>>;
}

/// Publishes one message, subscribes with `open` from `after=0` (everything the fresh topic has),
/// publishes [`MESSAGES`] more and checks that all arrive, in order: the first from the replay, the
/// rest as they are published.
fn assert_delivers_in_order(
    peer: &Peer,
    door: Door,
    open: impl FnOnce(SocketAddr, &str) -> io::Result<Box<dyn Subscriber>>,
) {
    let name = peer.kind().name();
    let topic = format!("{name}-{door:?}");
    let mut expected = Vec::new();
    let mut publish_one = |n: usize| {
        let data = format!("message {n} on {door:?}");
        let id = publish(peer.addr(), &topic, &data).expect("publish");
        expected.push(ReceivedMessage { id, data });
    };
    publish_one(0);
    let mut subscriber = open(peer.addr(), &topic)
        .unwrap_or_else(|error| panic!("{door:?} on {name}: cannot subscribe: {error}"));
    for n in 1..=MESSAGES {
        publish_one(n);
    }
    let mut received = Vec::new();
    for _ in 0..MAX_READS {
        if received.len() >= expected.len() {
            break;
        }
        let messages = subscriber
            .read()
            .unwrap_or_else(|error| panic!("{door:?} on {name}: {error}"));
        received.extend(messages);
    }
    assert_eq!(received, expected, "{door:?} on {name}");
}

fn message(event: PushEvent) -> Option<ReceivedMessage> {
    match event {
        PushEvent::Message(message) => Some(message),
        _ => None,
    }
}

// ---- pushlab's own door clients, for the Node http + ws peer ----

struct XhrStream(XhrStreamClient);

impl Subscriber for XhrStream {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        let event = self.0.next_event()?.ok_or(io::ErrorKind::UnexpectedEof)?;
        Ok(message(event).into_iter().collect())
    }
}

struct Sse(SseClient);

impl Subscriber for Sse {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        let event = self.0.next_event()?.ok_or(io::ErrorKind::UnexpectedEof)?;
        let id = event
            .last_event_id
            .parse()
            .map_err(|_| io::ErrorKind::InvalidData)?;
        Ok(vec![ReceivedMessage {
            id,
            data: event.data,
        }])
    }
}

/// Long polling: ask, and ask again after the last id received.
struct LongPoll {
    addr: SocketAddr,
    topic: String,
    after: Option<u64>,
}

impl Subscriber for LongPoll {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        let batch = long_poll(self.addr, &self.topic, self.after, READ_TIMEOUT)?;
        self.after = Some(batch.last);
        Ok(batch.messages)
    }
}

/// A WebSocket whose text frames are each one JSON object.
struct WebSocket(WsClient);

impl WebSocket {
    fn connect(addr: SocketAddr, path: &str) -> io::Result<Box<dyn Subscriber>> {
        let mut client = WsClient::connect(addr, path)?;
        client.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(Box::new(WebSocket(client)))
    }
}

impl Subscriber for WebSocket {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        match self.0.recv()? {
            Event::Text(text) => Ok(json_message(&text)?.into_iter().collect()),
            Event::Close { .. } => Err(io::ErrorKind::UnexpectedEof.into()),
            _ => Ok(Vec::new()),
        }
    }
}

fn json_message(text: &str) -> io::Result<Option<ReceivedMessage>> {
    let value = json::parse(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(PushEvent::from_json(&value).and_then(message))
}

/// The door's client from `after=0`.
fn node_subscriber(door: Door, addr: SocketAddr, topic: &str) -> io::Result<Box<dyn Subscriber>> {
    Ok(match door {
        Door::LongPoll => Box::new(LongPoll {
            addr,
            topic: topic.to_string(),
            after: Some(0),
        }),
        Door::XhrStream => Box::new(XhrStream(XhrStreamClient::connect(
            addr,
            topic,
            Some(0),
            READ_TIMEOUT,
        )?)),
        Door::Sse => Box::new(Sse(SseClient::connect(
            addr,
            &format!("/sse/{topic}?after=0"),
            None,
            READ_TIMEOUT,
        )?)),
        Door::WebSocket => WebSocket::connect(addr, &format!("/ws/{topic}?after=0"))?,
        other => panic!("the Node peer does not offer {other:?}"),
    })
}

#[test]
fn node_http_ws_delivers_in_order_on_every_door() {
    if !node_or_skip("node_http_ws_delivers_in_order_on_every_door") {
        return;
    }
    let peer = Peer::start(PeerKind::NodeHttpWs).expect("the Node peer starts");
    assert!(peer.pid() > 0);
    for &door in PeerKind::NodeHttpWs.doors() {
        assert_delivers_in_order(&peer, door, |addr, topic| {
            node_subscriber(door, addr, topic)
        });
    }
}

// ---- SockJS: its transports, through the crate's SockJS client ----

/// One SockJS session; each read is one poll, one chunk or event of a stream, or one frame.
struct Sockjs(SockjsClient);

impl Subscriber for Sockjs {
    fn read(&mut self) -> io::Result<Vec<ReceivedMessage>> {
        self.0.next_messages()
    }
}

/// The SockJS transport that stands for `door`, on a fresh session named by the topic, with the
/// topic and `after=0` in the query (SockJS owns the path).
fn sockjs_subscriber(door: Door, addr: SocketAddr, topic: &str) -> io::Result<Box<dyn Subscriber>> {
    let transport = match door {
        Door::LongPoll => Transport::XhrPolling,
        Door::XhrStream => Transport::XhrStreaming,
        Door::Sse => Transport::EventSource,
        Door::Iframe => Transport::Htmlfile,
        Door::Jsonp => Transport::JsonpPolling,
        Door::WebSocket => Transport::WebSocket,
    };
    let query = format!("topic={topic}&after=0");
    let client = SockjsClient::open(addr, "/sockjs", topic, transport, &query, READ_TIMEOUT)?;
    Ok(Box::new(Sockjs(client)))
}

#[test]
fn sockjs_delivers_in_order_on_every_door() {
    if !node_or_skip("sockjs_delivers_in_order_on_every_door") {
        return;
    }
    let peer = Peer::start(PeerKind::Sockjs).expect("the SockJS peer starts");
    for &door in PeerKind::Sockjs.doors() {
        assert_delivers_in_order(&peer, door, |addr, topic| {
            sockjs_subscriber(door, addr, topic)
        });
    }
}

/// Both peers can run at once, each on its own port and process, and each stops with its value.
#[test]
fn peers_run_side_by_side_and_stop_on_drop() {
    if !node_or_skip("peers_run_side_by_side_and_stop_on_drop") {
        return;
    }
    let node = Peer::start(PeerKind::NodeHttpWs).expect("the Node peer starts");
    let sockjs = Peer::start(PeerKind::Sockjs).expect("the SockJS peer starts");
    assert_ne!(node.addr(), sockjs.addr());
    assert!(node.addr().ip().is_loopback() && sockjs.addr().ip().is_loopback());
    let pid = node.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let addr = node.addr();
    drop(node);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens on {addr}"
    );
    assert!(publish(sockjs.addr(), "still-there", "x").is_ok());
}

/// `pushlab lab --quick --peers`: beside pushlab's seven rows, a complete row for every door each peer
/// offers (SockJS's named by its transport) and for the floor's five (`--peers` implies `--floor`),
/// nothing lost, and the side-by-side table has every door.
#[test]
fn the_lab_measures_the_peers_in_the_same_run() {
    if !node_or_skip("the_lab_measures_the_peers_in_the_same_run") {
        return;
    }
    let out = lab_support::scratch_dir("lab-peers");
    let (output, stdout) = lab_support::run_lab(&["--quick", "--seed", "17", "--peers"], &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "lab failed:\n{stdout}\n{stderr}");
    let rows = lab_support::main_table(&stdout);
    let expected: [(&str, &[&str]); 4] = [
        ("pushlab", &lab_support::DOORS),
        ("floor", &lab_support::FLOOR_DOORS),
        (
            "node http + ws",
            &["long poll", "XHR stream", "SSE", "WebSocket"],
        ),
        ("sockjs-node", lab_support::peer_doors()),
    ];
    let total: usize = expected.iter().map(|(_, doors)| doors.len()).sum();
    assert_eq!(rows.len(), total, "{stdout}");
    for (server, doors) in expected {
        for door in doors {
            lab_support::assert_complete(lab_support::find_row(&rows, door, server), 30);
        }
    }
    assert_eq!(
        lab_support::find_row(&rows, "SSE", "sockjs-node").get("server"),
        "sockjs-node (eventsource)"
    );
    let side_by_side = stdout
        .split("#### fanout: side by side")
        .nth(1)
        .expect("a side-by-side table");
    for door in lab_support::DOORS {
        assert!(side_by_side.contains(&format!("| {door} |")), "{door}");
    }
    // Every door a peer offers has a line against the best peer: six cells after the door, the
    // floor's `-` where it has no such door.
    let against = stdout
        .split("#### fanout: against the best peer")
        .nth(1)
        .expect("a table against the best peer");
    for &door in lab_support::peer_doors() {
        let line = against
            .lines()
            .find(|line| line.starts_with(&format!("| {door} |")))
            .unwrap_or_else(|| panic!("no line for {door}:\n{against}"));
        let row = lab_support::cells(line);
        assert_eq!(row.len(), 7, "{line}");
        let floor_has = lab_support::FLOOR_DOORS.contains(&door);
        assert_eq!(row[3] != "-", floor_has, "{line}");
        // The requests per 1,000 messages of pushlab and of the cheapest peer: two numbers.
        let requests: Vec<&str> = row[6].split(" · ").collect();
        assert_eq!(requests.len(), 2, "{line}");
        for count in requests {
            assert!(count.parse::<f64>().is_ok(), "{line}");
        }
    }
}
