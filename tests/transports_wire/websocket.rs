//! WebSocket on a topic, with `tungstenite` as an independent client.

use super::*;

type Ws = tungstenite::WebSocket<TcpStream>;

fn ws_connect(addr: SocketAddr, path: &str) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
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
