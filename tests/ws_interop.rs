//! Interoperability with an independent implementation: `tungstenite` as a client of pushlab's
//! `/ws/echo`, and a `tungstenite` server for pushlab's client.
//!
//! The first half needs the whole server (`pushlab::server::spawn`); the second runs on the WebSocket
//! code alone.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::thread;
use std::time::Duration;

use pushlab::client::ws::{Client, ClientOptions};
use pushlab::server::RunningServer;
use pushlab::ws::Event;
use pushlab::Config;
use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A tungstenite echo server for one connection; returns its address and the thread.
// tungstenite's handshake callback type has a large error variant; it is not ours to shrink.
#[allow(clippy::result_large_err)]
fn tungstenite_echo_server(
    subprotocol: Option<&'static str>,
) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let choose_subprotocol = |request: &Request, mut response: Response| {
            let offered = request
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok());
            if let (Some(chosen), Some(offered)) = (subprotocol, offered) {
                if offered.split(',').any(|p| p.trim() == chosen) {
                    response
                        .headers_mut()
                        .insert("Sec-WebSocket-Protocol", chosen.parse().unwrap());
                }
            }
            Ok(response)
        };
        let mut socket = tungstenite::accept_hdr(stream, choose_subprotocol).unwrap();
        loop {
            match socket.read() {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                    socket.send(message).unwrap()
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    (addr, handle)
}

mod our_client_against_tungstenite {
    use super::*;

    #[test]
    fn echo_text_and_binary_of_boundary_lengths() {
        let (addr, server) = tungstenite_echo_server(None);
        let mut client = Client::connect(addr, "/echo").unwrap();
        for len in [0, 125, 126, 65535, 65536, 1 << 20] {
            let text = "é".repeat(len / 2);
            client.send_text(&text).unwrap();
            assert_eq!(client.recv().unwrap(), Event::Text(text));
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            client.send_binary(&data).unwrap();
            assert_eq!(client.recv().unwrap(), Event::Binary(data));
        }
        client.close(1000).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn ping_is_answered_by_tungstenite() {
        let (addr, server) = tungstenite_echo_server(None);
        let mut client = Client::connect(addr, "/echo").unwrap();
        client.send_ping(b"are you there").unwrap();
        assert_eq!(
            client.recv().unwrap(),
            Event::Pong(b"are you there".to_vec())
        );
        client.close(1000).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn subprotocol_is_negotiated() {
        let (addr, server) = tungstenite_echo_server(Some("pushlab.v1"));
        let options = ClientOptions {
            subprotocols: vec!["chat".to_string(), "pushlab.v1".to_string()],
            ..ClientOptions::default()
        };
        let mut client = Client::connect_with(addr, "/echo", &options).unwrap();
        assert_eq!(client.subprotocol(), Some("pushlab.v1"));
        client.close(1000).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn tungstenite_closing_first_is_echoed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            let mut socket = tungstenite::accept(stream).unwrap();
            socket.send(Message::Text("bye".into())).unwrap();
            socket
                .close(Some(tungstenite::protocol::CloseFrame {
                    code: CloseCode::Away,
                    reason: "shutting down".into(),
                }))
                .unwrap();
            // tungstenite reports the end of the closing handshake as ConnectionClosed.
            loop {
                match socket.read() {
                    Err(tungstenite::Error::ConnectionClosed) => return true,
                    Err(_) => return false,
                    Ok(_) => {}
                }
            }
        });
        let mut client = Client::connect(addr, "/").unwrap();
        assert_eq!(client.recv().unwrap(), Event::Text("bye".to_string()));
        assert_eq!(
            client.recv().unwrap(),
            Event::Close {
                code: Some(1001),
                reason: "shutting down".to_string()
            }
        );
        assert!(client.is_closed());
        assert!(
            server.join().unwrap(),
            "tungstenite saw a clean closing handshake"
        );
    }
}

mod tungstenite_against_our_server {
    use super::*;

    /// One pushlab server for the whole file.
    fn server_addr() -> SocketAddr {
        static SERVER: OnceLock<RunningServer> = OnceLock::new();
        SERVER
            .get_or_init(|| {
                let config = Config {
                    addr: "127.0.0.1:0".parse().unwrap(),
                    ..Config::default()
                };
                pushlab::server::spawn(config).expect("server starts")
            })
            .addr
    }

    fn connect_to_echo() -> tungstenite::WebSocket<TcpStream> {
        let stream = TcpStream::connect(server_addr()).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        let url = format!("ws://{}/ws/echo", server_addr());
        let (socket, response) = tungstenite::client(url.as_str(), stream).expect("handshake");
        assert_eq!(response.status(), 101);
        socket
    }

    #[test]
    fn echo_text_and_binary() {
        let mut socket = connect_to_echo();
        for len in [0, 125, 126, 65535, 65536, 1 << 20] {
            let text = "x".repeat(len);
            socket.send(Message::Text(text.clone())).unwrap();
            assert_eq!(socket.read().unwrap(), Message::Text(text));
            let data: Vec<u8> = (0..len).map(|i| (i % 256) as u8).collect();
            socket.send(Message::Binary(data.clone())).unwrap();
            assert_eq!(socket.read().unwrap(), Message::Binary(data));
        }
    }

    #[test]
    fn ping_gets_pong() {
        let mut socket = connect_to_echo();
        socket.send(Message::Ping(b"hi".to_vec())).unwrap();
        assert_eq!(socket.read().unwrap(), Message::Pong(b"hi".to_vec()));
    }

    #[test]
    fn closing_handshake_ends_cleanly() {
        let mut socket = connect_to_echo();
        socket.close(None).unwrap();
        let end = loop {
            match socket.read() {
                Ok(_) => {}
                Err(error) => break error,
            }
        };
        assert!(
            matches!(end, tungstenite::Error::ConnectionClosed),
            "{end:?}"
        );
    }
}
