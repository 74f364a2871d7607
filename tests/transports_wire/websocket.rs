//! WebSocket on a topic, with `tungstenite` as an independent client.

use super::*;

type Ws = tungstenite::WebSocket<TcpStream>;

fn ws_connect(addr: SocketAddr, path: &str) -> Ws {
    ws_handshake(addr, path, TcpStream::connect(addr).unwrap())
}

/// The opening handshake of `path` on a connected `stream`.
fn ws_handshake(addr: SocketAddr, path: &str, stream: TcpStream) -> Ws {
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let (socket, response) = tungstenite::client(format!("ws://{addr}{path}"), stream)
        .map_err(|e| e.to_string())
        .unwrap();
    assert_eq!(response.status(), 101);
    socket
}

fn ws_text(socket: &mut Ws) -> String {
    loop {
        match socket.read().expect("ws read") {
            tungstenite::Message::Text(text) => return text,
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

fn ws_message(socket: &mut Ws) -> ReceivedMessage {
    let text = ws_text(socket);
    let value = pushlab::client::json::parse(&text).unwrap();
    message_of(PushEvent::from_json(&value).unwrap_or_else(|| panic!("not a message: {text}")))
}

#[test]
fn websocket_replays_pushes_and_publishes() {
    let server = start(test_config());
    let ids = publish_many(server.addr, "t", "m", 2);
    let mut socket = ws_connect(server.addr, &door_path("ws", "t", Some(0), &[]));
    assert_eq!(
        ws_message(&mut socket),
        ReceivedMessage {
            id: ids[0],
            data: "m 0".into()
        }
    );
    assert_eq!(ws_message(&mut socket).id, ids[1]);
    let id = publish(server.addr, "t", HOSTILE).unwrap();
    assert_eq!(
        ws_message(&mut socket),
        ReceivedMessage {
            id,
            data: HOSTILE.into()
        }
    );
    // A text frame from the client is published to the topic, and comes back as a message.
    socket
        .send(tungstenite::Message::Text("from the socket".into()))
        .unwrap();
    let echoed = ws_message(&mut socket);
    assert_eq!(
        (echoed.id, echoed.data.as_str()),
        (id + 1, "from the socket")
    );
    let batch = short_poll(server.addr, "t", Some(id)).unwrap();
    assert_eq!(batch.messages, vec![echoed]);
}

#[test]
fn websocket_reset_frame_then_oldest_kept() {
    let server = start_with_short_log();
    let ids = publish_many(server.addr, "t", "m", 10);
    let mut socket = ws_connect(server.addr, &door_path("ws", "t", Some(ids[0]), &[]));
    assert_eq!(
        ws_text(&mut socket),
        format!("{{\"reset\":true,\"last\":{}}}", ids[4])
    );
    for id in &ids[5..] {
        assert_eq!(ws_message(&mut socket).id, *id);
    }
}

#[test]
fn websocket_disconnect_removes_the_subscriber() {
    let server = start(test_config());
    let mut socket = ws_connect(server.addr, "/ws/t");
    wait_for_subscribers(&server, "t", 1);
    socket.close(None).unwrap();
    drop(socket);
    wait_for_subscribers(&server, "t", 0);
    // Without a close handshake too.
    let socket = ws_connect(server.addr, "/ws/t");
    wait_for_subscribers(&server, "t", 1);
    drop(socket);
    wait_for_subscribers(&server, "t", 0);
}

/// A WebSocket client whose socket has a small receive buffer (set before connecting, so the window
/// stays small): the server's writes to it soon stop part-way through a frame. `std` cannot set
/// `SO_RCVBUF`; tokio's `TcpSocket` (a dev-dependency) can, and hands back a std socket.
fn ws_connect_with_small_window(addr: SocketAddr, path: &str) -> Ws {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4 * 1024).unwrap();
    let stream = runtime.block_on(socket.connect(addr)).unwrap();
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    ws_handshake(addr, path, stream)
}

/// A broadcast to many WebSockets, none of which reads while it goes on. The server writes each
/// subscriber that waits at the head the one frame it encoded for all of them (see
/// `Core::deliver_next`); as sockets fill, a write stops part-way through a frame, the rest is
/// queued, and the next messages go behind it. Every subscriber, the one with a tiny window
/// included, then reads every message once, in order, intact.
#[test]
fn a_broadcast_reaches_every_websocket_in_order_through_full_sockets() {
    const READERS: usize = 6;
    // Frames of about 50 KB: a write that meets a full socket buffer stops part-way through one.
    const MESSAGES: usize = 60;
    let server = start(test_config());
    let mut sockets: Vec<Ws> = (0..READERS)
        .map(|_| ws_connect(server.addr, "/ws/b"))
        .collect();
    sockets.push(ws_connect_with_small_window(server.addr, "/ws/b"));
    wait_for_subscribers(&server, "b", READERS + 1);

    let data = |i: usize| format!("{i} {HOSTILE} {}", "x".repeat(50_000 + i));
    let ids: Vec<u64> = (0..MESSAGES)
        .map(|i| server.publish("b", &data(i)).expect("publish"))
        .collect();
    for (n, socket) in sockets.iter_mut().enumerate() {
        for (i, id) in ids.iter().enumerate() {
            let message = ws_message(socket);
            assert_eq!(message.id, *id, "subscriber {n}, message {i}");
            assert_eq!(message.data, data(i), "subscriber {n}, message {i}");
        }
    }
}
