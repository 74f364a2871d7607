//! The XHR streaming client: one held response, cut into JSON lines.
//!
//! This is what a page does in `xhr.onprogress`: keep what has arrived, cut off every complete line,
//! parse it, and keep the unfinished rest for the next read. Chunk boundaries mean nothing: a line
//! may arrive in several pieces, and one piece may hold several lines.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::http::{self, ResponseStream};
use super::json;
use super::{door_path, invalid_data, PushEvent};

/// Longest line accepted, in bytes; a longer one is an error rather than unbounded buffering.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Splits a byte stream into lines and reads each as a [`PushEvent`]. Sans-IO: feed it bytes.
#[derive(Debug, Default)]
pub struct NdjsonDecoder {
    partial: Vec<u8>,
}

impl NdjsonDecoder {
    /// Appends `bytes` and returns the events of every line they complete, in order. Lines that are
    /// neither message, reset nor heartbeat (the padding) give nothing.
    pub fn feed(&mut self, bytes: &[u8]) -> io::Result<Vec<PushEvent>> {
        self.partial.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(newline) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=newline).collect();
            let text = std::str::from_utf8(&line).map_err(|_| invalid_data("line is not UTF-8"))?;
            let text = text.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                continue;
            }
            let value = json::parse(text).map_err(invalid_data)?;
            events.extend(PushEvent::from_json(&value));
        }
        if self.partial.len() > MAX_LINE_BYTES {
            return Err(invalid_data("line too long"));
        }
        Ok(events)
    }

    /// Bytes of an unfinished line.
    pub fn pending_bytes(&self) -> usize {
        self.partial.len()
    }
}

/// A connected `GET /stream/{topic}`.
#[derive(Debug)]
pub struct XhrStreamClient {
    response: ResponseStream,
    decoder: NdjsonDecoder,
    queue: VecDeque<PushEvent>,
}

impl XhrStreamClient {
    /// Opens the stream after `after`, checking the status and `Content-Type`.
    pub fn connect(
        addr: SocketAddr,
        topic: &str,
        after: Option<u64>,
        timeout: Duration,
    ) -> io::Result<XhrStreamClient> {
        let response =
            http::open_stream(addr, &door_path("stream", topic, after, &[]), &[], timeout)?;
        if response.head.status != 200 {
            return Err(io::Error::other(format!("HTTP {}", response.head.status)));
        }
        if !response
            .head
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/x-ndjson"))
        {
            return Err(invalid_data("not an application/x-ndjson response"));
        }
        Ok(XhrStreamClient {
            response,
            decoder: NdjsonDecoder::default(),
            queue: VecDeque::new(),
        })
    }

    /// The response, e.g. to read its head or shut its socket.
    pub fn response(&self) -> &ResponseStream {
        &self.response
    }

    /// The next event, blocking until it arrives; `None` when the server ended the response.
    pub fn next_event(&mut self) -> io::Result<Option<PushEvent>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            match self.response.next_chunk()? {
                Some(bytes) => self.queue.extend(self.decoder.feed(&bytes)?),
                None => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ReceivedMessage;

    const STREAM: &[u8] = b"{\"padding\":\"      \"}\n{\"id\":1,\"data\":\"a\\nb\"}\n{\"heartbeat\":true}\n{\"reset\":true,\"last\":5}\r\n{\"id\":6,\"data\":\"\\u003c\"}\n";

    fn expected() -> Vec<PushEvent> {
        vec![
            PushEvent::Message(ReceivedMessage {
                id: 1,
                data: "a\nb".into(),
            }),
            PushEvent::Heartbeat,
            PushEvent::Reset { last: 5 },
            PushEvent::Message(ReceivedMessage {
                id: 6,
                data: "<".into(),
            }),
        ]
    }

    #[test]
    fn whole_and_byte_by_byte() {
        assert_eq!(NdjsonDecoder::default().feed(STREAM).unwrap(), expected());
        let mut decoder = NdjsonDecoder::default();
        let mut events = Vec::new();
        for byte in STREAM {
            events.extend(decoder.feed(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(events, expected());
    }

    #[test]
    fn split_at_every_position() {
        for split in 0..=STREAM.len() {
            let mut decoder = NdjsonDecoder::default();
            let mut events = decoder.feed(&STREAM[..split]).unwrap();
            events.extend(decoder.feed(&STREAM[split..]).unwrap());
            assert_eq!(events, expected(), "split at {split}");
            assert_eq!(decoder.pending_bytes(), 0);
        }
    }

    #[test]
    fn unfinished_line_waits_and_bad_line_fails() {
        let mut decoder = NdjsonDecoder::default();
        assert!(decoder.feed(b"{\"id\":1,").unwrap().is_empty());
        assert_eq!(decoder.pending_bytes(), 8);
        assert!(NdjsonDecoder::default().feed(b"{oops}\n").is_err());
    }
}
