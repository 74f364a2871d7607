//! A small blocking WebSocket client on `std::net`, for tests, tutorials and the comparison lab.
//!
//! It is the same sans-IO [`WsProtocol`] as the server's, in the client role, driven by blocking reads
//! and writes instead of an event loop: [`Client::recv`] reads from the socket until the protocol has an
//! event, and writes whatever the protocol queued (pongs, close answers) on the way. The socket, the
//! clock and `/dev/urandom` are used here, never in [`crate::ws`], which stays sans-IO.
//!
//! The opening handshake (§4.1) is written by hand here: a GET with a random 16-byte key, and a check of
//! the `101` answer, `Upgrade`, `Connection`, the `Sec-WebSocket-Accept` value (which must be the hash of
//! our key, §4.2.2) and the subprotocol, which must be one we offered.
//!
//! Masking keys and the handshake key come from `/dev/urandom`, read one block at a time.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::ws::close;
use crate::ws::handshake::{accept_key, WEBSOCKET_VERSION};
use crate::ws::mask_key::{HashMaskKeys, MaskKeySource};
use crate::ws::{Event, Role, WsConfig, WsProtocol};

/// The most bytes of response head the client accepts before giving up.
const MAX_RESPONSE_HEAD_BYTES: usize = 16 * 1024;
/// How many bytes one socket read asks for.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// How to connect: extra headers, subprotocols to offer, limits.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Extra request header fields, e.g. `("Origin", "http://127.0.0.1:8080")`.
    pub headers: Vec<(String, String)>,
    /// Subprotocols to offer in `Sec-WebSocket-Protocol`, in order of preference.
    pub subprotocols: Vec<String>,
    /// Protocol settings; `max_message_bytes` bounds what [`Client::recv`] accepts.
    pub config: WsConfig,
    /// How long one blocking read may wait (`None`: forever). Default 30 seconds.
    pub read_timeout: Option<Duration>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            headers: Vec::new(),
            subprotocols: Vec::new(),
            config: WsConfig::default(),
            read_timeout: Some(Duration::from_secs(30)),
        }
    }
}

/// A connected client.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    protocol: WsProtocol,
    /// Bytes read but not yet consumed by the protocol start at `input_start`.
    input: Vec<u8>,
    input_start: usize,
    output: Vec<u8>,
    subprotocol: Option<String>,
}

impl Client {
    /// Connects to `addr`, sends the opening handshake for `path` (e.g. `/ws/echo`) and checks the answer.
    pub fn connect(addr: SocketAddr, path: &str) -> io::Result<Client> {
        Client::connect_with(addr, path, &ClientOptions::default())
    }

    /// Like [`Client::connect`], with extra headers, subprotocols and limits.
    pub fn connect_with(
        addr: SocketAddr,
        path: &str,
        options: &ClientOptions,
    ) -> io::Result<Client> {
        let mut keys = UrandomMaskKeys::open()?;
        let nonce: Vec<u8> = (0..4).flat_map(|_| keys.next_mask_key()).collect();
        let key = BASE64.encode(nonce);
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(options.read_timeout)?;
        stream.set_nodelay(true)?;
        stream.write_all(handshake_request(addr, path, &key, options).as_bytes())?;
        let (head, rest) = read_response_head(&mut stream)?;
        let subprotocol = check_response(&head, &key, &options.subprotocols)?;
        let mut protocol = WsProtocol::new(Role::Client, &options.config, Instant::now());
        protocol.set_mask_key_source(Box::new(keys));
        Ok(Client {
            stream,
            protocol,
            input: rest,
            input_start: 0,
            output: Vec::new(),
            subprotocol,
        })
    }

    /// The subprotocol the server chose, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Changes how long one blocking read may wait.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.protocol.send_text(text, &mut self.output);
        self.flush()
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
        self.protocol.send_binary(data, &mut self.output);
        self.flush()
    }

    /// Sends a ping.
    pub fn send_ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.protocol.send_ping(payload, &mut self.output);
        self.flush()
    }

    /// Writes `bytes` to the socket as they are, bypassing the protocol: for conformance tests that send
    /// frames a correct client never would.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Blocks until the next event (pings are answered automatically and also returned).
    ///
    /// A frame that breaks the protocol is answered with a close frame and reported as
    /// [`io::ErrorKind::InvalidData`]; the server closing TCP as [`io::ErrorKind::UnexpectedEof`].
    pub fn recv(&mut self) -> io::Result<Event> {
        loop {
            let unread = self.input.get(self.input_start..).unwrap_or_default();
            let result = self.protocol.read(unread, &mut self.output, Instant::now());
            let flushed = self.flush();
            let outcome =
                result.map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            // Once closed, the server may already have dropped TCP (§7.1.1: it closes first), so a
            // failed write of our close answer must not hide the close it answers.
            if !self.protocol.is_closed() {
                flushed?;
            }
            self.input_start += outcome.consumed;
            if let Some(event) = outcome.event {
                return Ok(event);
            }
            if outcome.consumed == 0 {
                self.read_more()?;
            }
        }
    }

    /// Sends a close frame with `code` and waits for the server's close.
    ///
    /// Messages that arrive in between are dropped. A server that closes TCP without a close frame
    /// still ends the call without error.
    pub fn close(&mut self, code: u16) -> io::Result<()> {
        self.protocol
            .close(code, "", &mut self.output, Instant::now());
        self.flush()?;
        while !self.protocol.is_closed() {
            match self.recv() {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Sends a normal close (1000) and waits for the answer.
    pub fn close_normal(&mut self) -> io::Result<()> {
        self.close(close::NORMAL)
    }

    /// Whether both close frames have crossed.
    pub fn is_closed(&self) -> bool {
        self.protocol.is_closed()
    }

    /// Waits for the server to close TCP, which it does first after the closing handshake (§7.1.1).
    /// Bytes that still arrive are discarded.
    pub fn wait_for_eof(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 512];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(error) => return Err(error),
            }
        }
    }

    /// Writes everything the protocol queued.
    fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let result = self.stream.write_all(&self.output);
        self.output.clear();
        result
    }

    /// One blocking read into the input buffer; end of stream is an error (a message was expected).
    fn read_more(&mut self) -> io::Result<()> {
        // Drop consumed bytes first, so the buffer never holds more than one unread frame and a chunk.
        self.input.drain(..self.input_start.min(self.input.len()));
        self.input_start = 0;
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection",
                    ))
                }
                Ok(read) => {
                    self.input
                        .extend_from_slice(chunk.get(..read).unwrap_or_default());
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

/// The opening handshake (§4.1).
fn handshake_request(addr: SocketAddr, path: &str, key: &str, options: &ClientOptions) -> String {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {WEBSOCKET_VERSION}\r\n"
    );
    if !options.subprotocols.is_empty() {
        request.push_str(&format!(
            "Sec-WebSocket-Protocol: {}\r\n",
            options.subprotocols.join(", ")
        ));
    }
    for (name, value) in &options.headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request
}

/// Reads until the blank line that ends the response head; returns the head and any bytes after it
/// (frames the server sent right after its 101).
fn read_response_head(stream: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_RESPONSE_HEAD_BYTES {
            return Err(invalid("handshake response head too large"));
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during the handshake",
                ))
            }
            Ok(read) => buffer.extend_from_slice(chunk.get(..read).unwrap_or_default()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Checks the server's answer (§4.1, "the client MUST validate the server's response"); returns the
/// chosen subprotocol.
fn check_response(
    head: &[u8],
    key: &str,
    offered_subprotocols: &[String],
) -> io::Result<Option<String>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(invalid("malformed handshake response")),
    }
    let status = response.code.unwrap_or(0);
    if status != 101 {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("server refused the WebSocket handshake with status {status}"),
        ));
    }
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .and_then(|header| std::str::from_utf8(header.value).ok())
            .map(str::trim)
    };
    if !header("Upgrade").is_some_and(|value| value.eq_ignore_ascii_case("websocket")) {
        return Err(invalid("101 without Upgrade: websocket"));
    }
    let connection_upgrade = header("Connection").is_some_and(|value| {
        value
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
    });
    if !connection_upgrade {
        return Err(invalid("101 without Connection: Upgrade"));
    }
    // §4.1: "If the |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of the
    // concatenation of the |Sec-WebSocket-Key| ... the client MUST _Fail the WebSocket Connection_".
    if header("Sec-WebSocket-Accept") != Some(accept_key(key).as_str()) {
        return Err(invalid("wrong Sec-WebSocket-Accept"));
    }
    // §4.1: extensions and subprotocols "not present in the client's handshake" fail the connection.
    if header("Sec-WebSocket-Extensions").is_some() {
        return Err(invalid("server accepted an extension we did not offer"));
    }
    match header("Sec-WebSocket-Protocol") {
        None => Ok(None),
        Some(chosen) if offered_subprotocols.iter().any(|offered| offered == chosen) => {
            Ok(Some(chosen.to_string()))
        }
        Some(_) => Err(invalid("server chose a subprotocol we did not offer")),
    }
}

fn invalid(reason: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

/// Masking keys from `/dev/urandom`, read a block at a time rather than one system call per frame.
#[derive(Debug)]
struct UrandomMaskKeys {
    file: File,
    block: [u8; 256],
    used_bytes: usize,
    /// Only if a refill read fails: keys stay unpredictable (see [`HashMaskKeys`]).
    fallback: HashMaskKeys,
}

impl UrandomMaskKeys {
    fn open() -> io::Result<Self> {
        let mut file = File::open("/dev/urandom")?;
        let mut block = [0u8; 256];
        file.read_exact(&mut block)?;
        Ok(UrandomMaskKeys {
            file,
            block,
            used_bytes: 0,
            fallback: HashMaskKeys::new(),
        })
    }
}

impl MaskKeySource for UrandomMaskKeys {
    fn next_mask_key(&mut self) -> [u8; 4] {
        if self.used_bytes + 4 > self.block.len() {
            if self.file.read_exact(&mut self.block).is_err() {
                return self.fallback.next_mask_key();
            }
            self.used_bytes = 0;
        }
        let mut key = [0u8; 4];
        if let Some(bytes) = self.block.get(self.used_bytes..self.used_bytes + 4) {
            key.copy_from_slice(bytes);
        }
        self.used_bytes += 4;
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urandom_keys_refill_their_block() {
        let mut keys = UrandomMaskKeys::open().unwrap();
        let drawn: Vec<[u8; 4]> = (0..200).map(|_| keys.next_mask_key()).collect();
        // 200 keys span more than three blocks of 64; all-equal keys would mean a refill bug.
        let distinct: std::collections::HashSet<_> = drawn.iter().collect();
        assert!(distinct.len() > 190);
        assert!(keys.used_bytes <= keys.block.len());
    }

    #[test]
    fn response_checks() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let good =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(check_response(good.as_bytes(), key, &[]).unwrap(), None);
        let wrong_accept = good.replace("s3pP", "AAAA");
        assert!(check_response(wrong_accept.as_bytes(), key, &[]).is_err());
        let refused = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
        let error = check_response(refused.as_bytes(), key, &[]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        assert!(error.to_string().contains("403"));
        let with_protocol = good.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
        assert!(check_response(with_protocol.as_bytes(), key, &[]).is_err());
        let offered = ["chat".to_string()];
        assert_eq!(
            check_response(with_protocol.as_bytes(), key, &offered)
                .unwrap()
                .as_deref(),
            Some("chat")
        );
        let with_extension = good.replace(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        );
        assert!(check_response(with_extension.as_bytes(), key, &[]).is_err());
    }
}
