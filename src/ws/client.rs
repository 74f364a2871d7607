//! A small blocking WebSocket client on `std::net`, for tests, tutorials and the comparison lab.

use std::io;
use std::net::{SocketAddr, TcpStream};

use crate::ws::Event;

/// A connected client.
#[derive(Debug)]
pub struct Client {
    _stream: TcpStream,
}

impl Client {
    /// Connects to `addr`, sends the opening handshake for `path` (e.g. `/ws/echo`) and checks the answer.
    pub fn connect(addr: SocketAddr, path: &str) -> io::Result<Client> {
        let _ = (addr, path);
        todo!()
    }
    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        let _ = text;
        todo!()
    }
    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
        let _ = data;
        todo!()
    }
    /// Blocks until the next event (pings are answered automatically and also returned).
    pub fn recv(&mut self) -> io::Result<Event> {
        todo!()
    }
    /// Sends a close frame with `code` and waits for the server's close.
    pub fn close(&mut self, code: u16) -> io::Result<()> {
        let _ = code;
        todo!()
    }
}
