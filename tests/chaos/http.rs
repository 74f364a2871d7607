//! The client's side of HTTP/1.1, sans-IO: responses cut out of a byte stream that arrives in any
//! pieces, one after another on a keep-alive connection.
//!
//! `pushlab::client::http` reads responses from a blocking socket; a fake client has no socket, only
//! bytes handed over by the fake network, so this module does the same work incrementally: the head
//! with `httparse`, then the body by its framing (RFC 9112 §6.3): `Content-Length` bytes, or chunks
//! decoded by the crate's own [`decode_chunk`] (RFC 9112 §7.1). A `101 Switching Protocols` ends HTTP
//! on the connection: the bytes after its head are WebSocket frames ([`ResponseReader::take_rest`]).

use pushlab::client::http::{decode_chunk, ChunkStatus, ResponseHead, MAX_BODY_BYTES, MAX_HEADERS};

/// One piece of a response.
#[derive(Debug, PartialEq, Eq)]
pub enum Part {
    /// The head: status code and header fields.
    Head(ResponseHead),
    /// Body bytes (a whole `Content-Length` body, or one chunk's data).
    Body(Vec<u8>),
    /// The response is complete; the next bytes begin the next response.
    End,
}

/// How the body of the current response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Waiting for a head.
    Head,
    /// `Content-Length`: this many bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The body was handed out; `End` comes next.
    Ended,
    /// A `101`: HTTP is over on this connection.
    Upgraded,
}

/// Cuts responses out of the bytes fed to it (see the module docs).
#[derive(Debug)]
pub struct ResponseReader {
    buffer: Vec<u8>,
    framing: Framing,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader {
            buffer: Vec::new(),
            framing: Framing::Head,
        }
    }
}

impl ResponseReader {
    /// Bytes that arrived.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete part, `Ok(None)` when more bytes are needed, `Err` for bytes that are not a
    /// response.
    pub fn next_part(&mut self) -> Result<Option<Part>, String> {
        match self.framing {
            Framing::Head => self.head(),
            Framing::Length(length) => {
                if self.buffer.len() < length {
                    return Ok(None);
                }
                self.framing = Framing::Ended;
                Ok(Some(Part::Body(self.buffer.drain(..length).collect())))
            }
            Framing::Chunked => match decode_chunk(&self.buffer, MAX_BODY_BYTES) {
                Ok(ChunkStatus::Incomplete) => Ok(None),
                Ok(ChunkStatus::Chunk { data, consumed }) => {
                    self.buffer.drain(..consumed);
                    Ok(Some(Part::Body(data)))
                }
                Ok(ChunkStatus::Last { consumed }) => {
                    self.buffer.drain(..consumed);
                    self.framing = Framing::Head;
                    Ok(Some(Part::End))
                }
                Err(error) => Err(format!("bad chunk: {error}")),
            },
            Framing::Ended => {
                self.framing = Framing::Head;
                Ok(Some(Part::End))
            }
            Framing::Upgraded => Ok(None),
        }
    }

    /// After a `101`: the bytes that followed the head (the first WebSocket frames).
    pub fn take_rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffer)
    }

    fn head(&mut self) -> Result<Option<Part>, String> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut fields);
        let consumed = match response.parse(&self.buffer) {
            Ok(httparse::Status::Partial) => return Ok(None),
            Ok(httparse::Status::Complete(consumed)) => consumed,
            Err(error) => return Err(format!("bad response head: {error}")),
        };
        let head = ResponseHead {
            status: response.code.unwrap_or(0),
            headers: response
                .headers
                .iter()
                .map(|field| {
                    let value = String::from_utf8_lossy(field.value).into_owned();
                    (field.name.to_string(), value)
                })
                .collect(),
        };
        self.framing = if head.status == 101 {
            Framing::Upgraded
        } else if head
            .header("transfer-encoding")
            .is_some_and(|value| value.ends_with("chunked"))
        {
            Framing::Chunked
        } else {
            let length = head.header("content-length").unwrap_or_default();
            Framing::Length(length.trim().parse().map_err(|_| {
                format!("a response without chunks needs a Content-Length, got {length:?}")
            })?)
        };
        self.buffer.drain(..consumed);
        Ok(Some(Part::Head(head)))
    }
}

#[test]
fn two_responses_in_one_piece_then_one_byte_at_a_time() {
    let wire: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\
        HTTP/1.1 200 OK\r\nContent-Type: text/x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let head = |headers: &[(&str, &str)]| {
        Part::Head(ResponseHead {
            status: 200,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        })
    };
    let expected = vec![
        head(&[("Content-Length", "2")]),
        Part::Body(b"hi".to_vec()),
        Part::End,
        head(&[("Content-Type", "text/x"), ("Transfer-Encoding", "chunked")]),
        Part::Body(b"abc".to_vec()),
        Part::End,
    ];
    let mut reader = ResponseReader::default();
    reader.feed(wire);
    let mut parts = Vec::new();
    while let Some(part) = reader.next_part().unwrap() {
        parts.push(part);
    }
    assert_eq!(parts, expected);
    let mut reader = ResponseReader::default();
    let mut parts = Vec::new();
    for byte in wire {
        reader.feed(std::slice::from_ref(byte));
        while let Some(part) = reader.next_part().unwrap() {
            parts.push(part);
        }
    }
    assert_eq!(parts, expected);
}
