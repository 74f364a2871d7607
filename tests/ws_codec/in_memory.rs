//! A client protocol and a server protocol connected back to back: each one's output is the other's input.

use std::time::Instant;

use crate::support::decode_frames;
use pushlab::ws::{Event, Role, WsConfig, WsProtocol};

/// Hands everything in `bytes` to `to`; returns the events, writing `to`'s answers into `answers`.
fn deliver(to: &mut WsProtocol, bytes: &mut Vec<u8>, answers: &mut Vec<u8>) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let outcome = to
            .read(bytes, answers, Instant::now())
            .expect("no protocol error between peers");
        bytes.drain(..outcome.consumed);
        let progressed = outcome.consumed > 0 || outcome.event.is_some();
        events.extend(outcome.event);
        if !progressed {
            return events;
        }
    }
}

fn pair() -> (WsProtocol, WsProtocol) {
    let config = WsConfig::default();
    (
        WsProtocol::new(Role::Client, &config, Instant::now()),
        WsProtocol::new(Role::Server, &config, Instant::now()),
    )
}

#[test]
fn messages_both_ways() {
    let (mut client, mut server) = pair();
    let mut to_server = Vec::new();
    let mut to_client = Vec::new();
    client.send_text("Hello", &mut to_server);
    client.send_binary(&[0, 1, 2, 255], &mut to_server);
    assert!(decode_frames(&to_server, Some(true))
        .iter()
        .all(|(header, _)| header.mask.is_some()));
    let events = deliver(&mut server, &mut to_server, &mut to_client);
    assert_eq!(
        events,
        [
            Event::Text("Hello".into()),
            Event::Binary(vec![0, 1, 2, 255])
        ]
    );
    // The server echoes, unmasked; the client accepts it.
    for event in events {
        match event {
            Event::Text(text) => server.send_text(&text, &mut to_client),
            Event::Binary(data) => server.send_binary(&data, &mut to_client),
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut nothing = Vec::new();
    let echoed = deliver(&mut client, &mut to_client, &mut nothing);
    assert_eq!(
        echoed,
        [
            Event::Text("Hello".into()),
            Event::Binary(vec![0, 1, 2, 255])
        ]
    );
    assert!(nothing.is_empty());
}

#[test]
fn ping_pong_both_ways() {
    let (mut client, mut server) = pair();
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    client.send_ping(b"from client", &mut to_server);
    assert_eq!(
        deliver(&mut server, &mut to_server, &mut to_client),
        [Event::Ping(b"from client".to_vec())]
    );
    let mut nothing = Vec::new();
    assert_eq!(
        deliver(&mut client, &mut to_client, &mut nothing),
        [Event::Pong(b"from client".to_vec())]
    );
    server.send_ping(b"from server", &mut to_client);
    assert_eq!(
        deliver(&mut client, &mut to_client, &mut to_server),
        [Event::Ping(b"from server".to_vec())]
    );
    assert_eq!(
        deliver(&mut server, &mut to_server, &mut nothing),
        [Event::Pong(b"from server".to_vec())]
    );
}

#[test]
fn closing_handshake_started_by_the_client() {
    let (mut client, mut server) = pair();
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    client.close(1000, "done", &mut to_server, Instant::now());
    assert!(client.close_sent() && !client.is_closed());
    let events = deliver(&mut server, &mut to_server, &mut to_client);
    assert_eq!(
        events,
        [Event::Close {
            code: Some(1000),
            reason: "done".into()
        }]
    );
    assert!(server.is_closed());
    let mut nothing = Vec::new();
    let events = deliver(&mut client, &mut to_client, &mut nothing);
    assert_eq!(
        events,
        [Event::Close {
            code: Some(1000),
            reason: String::new()
        }]
    );
    assert!(client.is_closed());
    assert!(nothing.is_empty());
}

#[test]
fn closing_handshake_started_by_the_server() {
    let (mut client, mut server) = pair();
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    server.close(1001, "going away", &mut to_client, Instant::now());
    let events = deliver(&mut client, &mut to_client, &mut to_server);
    assert_eq!(
        events,
        [Event::Close {
            code: Some(1001),
            reason: "going away".into()
        }]
    );
    let mut nothing = Vec::new();
    let events = deliver(&mut server, &mut to_server, &mut nothing);
    assert_eq!(
        events,
        [Event::Close {
            code: Some(1001),
            reason: String::new()
        }]
    );
    assert!(client.is_closed() && server.is_closed());
}

#[test]
fn wrong_masking_is_refused_both_ways() {
    let (mut client, mut server) = pair();
    let (mut client_bytes, mut server_bytes) = (Vec::new(), Vec::new());
    client.send_text("masked", &mut client_bytes);
    server.send_text("unmasked", &mut server_bytes);
    // A server's frame fed to another server: unmasked, refused (§5.1).
    let (_, mut other_server) = pair();
    let mut out = Vec::new();
    let error = other_server
        .read(&server_bytes, &mut out, Instant::now())
        .unwrap_err();
    assert_eq!(error.close_code, 1002);
    // A client's frame fed to another client: masked, refused (§5.1).
    let (mut other_client, _) = pair();
    let error = other_client
        .read(&client_bytes, &mut out, Instant::now())
        .unwrap_err();
    assert_eq!(error.close_code, 1002);
}

#[test]
fn client_error_close_is_masked() {
    let (mut client, _) = pair();
    let mut out = Vec::new();
    // A reserved opcode from the "server".
    let error = client
        .read(&[0x83, 0x00], &mut out, Instant::now())
        .unwrap_err();
    assert_eq!(error.close_code, 1002);
    let frames = decode_frames(&out, Some(true));
    assert_eq!(&frames[0].1[..2], &1002u16.to_be_bytes());
}
