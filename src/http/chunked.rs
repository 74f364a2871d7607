//! The chunked transfer coding (RFC 9112 §7.1): decoder for request bodies, encoder for streams.
//!
//! A chunked body lets a sender start before it knows the total length, which is what every streaming
//! door of pushlab (XHR streaming, the iframe forever frame, SSE) relies on. On the wire:
//!
//! ```text
//! 5\r\n            chunk-size in hexadecimal, then CRLF
//! hello\r\n        exactly that many bytes of data, then CRLF
//! 1a;name=v\r\n    a size may carry extensions after `;`, which are ignored
//! ...26 bytes...\r\n
//! 0\r\n            the last chunk has size zero
//! Trailer: x\r\n   optional trailer fields
//! \r\n             an empty line ends the body
//! ```
//!
//! The decoder is sans-IO like the rest of [`crate::http`]: it looks at a buffer and says either
//! "incomplete" (nothing consumed) or "here is the body and the number of bytes it took". It is also
//! stateful: a [`ChunkedDecoder`] remembers where it stopped (inside a size line, a chunk's data, the CRLF
//! after it, or the trailer section) and the body decoded so far, so a body that arrives over many reads
//! is decoded once, not once per read. [`decode_chunked`] is the one-shot form for a buffer at hand.

use crate::http::percent::hex_value;
use crate::http::HttpError;

/// Longest chunk-size line (size, extensions, CRLF) accepted. Extensions carry nothing pushlab uses, so
/// a long line is only a way to make the server buffer bytes.
pub const MAX_CHUNK_SIZE_LINE_BYTES: usize = 1024;

/// Largest trailer section (after the last chunk) accepted, in bytes; larger answers 431.
pub const MAX_TRAILER_BYTES: usize = 8 * 1024;

/// The most bytes [`encode_chunk`] adds around its data: up to 16 hex digits of size and two CRLFs.
pub const CHUNK_FRAMING_BYTES: usize = 16 + 2 + 2;

/// Appends one chunk holding `data` to `out` (nothing if `data` is empty: an empty chunk ends the body).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF, chunk-size = 1*HEXDIG.
    let mut line = SizeLineBytes::default();
    out.extend_from_slice(line.of(data.len()));
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// A chunk's size line, `chunk-size CRLF` in lower-case hexadecimal, built on the stack: every pushed
/// message of a stream gets one, so it is written without `format!` and its allocation.
#[derive(Default)]
pub struct SizeLineBytes {
    bytes: [u8; 18],
}

impl SizeLineBytes {
    /// The size line of a chunk of `size` bytes, e.g. `1a\r\n` for 26.
    pub fn of(&mut self, size: usize) -> &[u8] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // 16 hex digits hold any usize; CRLF follows them.
        let end = self.bytes.len() - 2;
        let mut start = end;
        let mut rest = size;
        loop {
            start -= 1;
            if let Some(digit) = self.bytes.get_mut(start) {
                *digit = HEX.get(rest % 16).copied().unwrap_or(b'0');
            }
            rest /= 16;
            if rest == 0 || start == 0 {
                break;
            }
        }
        if let Some(crlf) = self.bytes.get_mut(end..) {
            crlf.copy_from_slice(b"\r\n");
        }
        self.bytes.get(start..).unwrap_or_default()
    }
}

/// Appends the last chunk (`0\r\n\r\n`) that ends a chunked body.
pub fn encode_last_chunk(out: &mut Vec<u8>) {
    // RFC 9112 §7.1: last-chunk = 1*("0") [ chunk-ext ] CRLF, then an empty trailer section and CRLF.
    out.extend_from_slice(b"0\r\n\r\n");
}

/// Result of decoding a chunked body.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkedStatus {
    /// The body is not complete yet.
    Incomplete,
    /// The whole body (trailers skipped) and the bytes it took.
    Complete {
        /// Decoded body.
        body: Vec<u8>,
        /// Bytes of the input used, trailer section included.
        consumed: usize,
    },
}

/// Decodes a whole chunked body from the start of `buf`, refusing one over `max_body_bytes` (413).
///
/// A fresh [`ChunkedDecoder`] used once: convenient when the whole input is at hand.
pub fn decode_chunked(buf: &[u8], max_body_bytes: usize) -> Result<ChunkedStatus, HttpError> {
    ChunkedDecoder::new().decode(buf, max_body_bytes)
}

/// Decodes one chunked body across reads, looking at every byte once.
///
/// # Theory of operation
///
/// The caller keeps the body's bytes in its buffer and calls [`ChunkedDecoder::decode`] after each
/// read with all of them: the bytes of the previous call plus the new ones at the end. The decoder
/// remembers how far it got (`decoded_bytes`), what it was in the middle of (`ChunkState`), and the
/// body decoded so far, so each call starts exactly where the previous one stopped. A body that
/// trickles in one byte at a time therefore costs time proportional to its length, not to its length
/// squared, as it would if every call started again from the first byte.
///
/// Every rule is decided on the byte that breaks it, so the verdict (and the moment it comes) is the
/// same however the input is split. After an error the decoder must not be used again: the
/// connection is answered with the error's status and closed.
#[derive(Debug, Default)]
pub struct ChunkedDecoder {
    /// Bytes at the start of the input already decoded; the next call resumes here.
    decoded_bytes: usize,
    /// Where in the chunked grammar the next byte falls.
    state: ChunkState,
    /// The chunk data decoded so far.
    body: Vec<u8>,
    /// Every input byte the decoder has looked at, over its whole life (for the linearity test).
    examined_bytes: usize,
}

/// Where the decoder stands in `chunked-body = *chunk last-chunk trailer-section CRLF` (RFC 9112 §7.1).
#[derive(Debug)]
enum ChunkState {
    /// Inside a size line, `chunk-size [ chunk-ext ] CRLF`.
    SizeLine(SizeLine),
    /// Inside chunk-data, with this many bytes still to come.
    Data {
        /// Bytes of the current chunk not yet arrived.
        remaining_bytes: usize,
    },
    /// After chunk-data, which must be followed by exactly CRLF; `seen_cr` once the CR is in.
    DataEnd {
        /// Whether the CR has been seen (the LF is next).
        seen_cr: bool,
    },
    /// After the last chunk: trailer field lines, then an empty line (RFC 9112 §7.1.2).
    Trailer {
        /// Bytes of the trailer section in complete lines so far.
        section_bytes: usize,
        /// Where in the current line.
        line: TrailerLine,
    },
    /// The body is complete and has been handed out.
    Done,
}

impl Default for ChunkState {
    fn default() -> Self {
        ChunkState::SizeLine(SizeLine::default())
    }
}

/// A size line read so far.
#[derive(Debug, Default)]
struct SizeLine {
    /// The chunk size from the hex digits so far.
    size: u64,
    /// Hex digits so far.
    digit_count: usize,
    /// Bytes of the line so far.
    line_bytes: usize,
    /// Which part of the line the next byte belongs to.
    part: SizeLinePart,
}

/// The parts of `chunk-size [ chunk-ext ] CRLF`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum SizeLinePart {
    /// `1*HEXDIG`.
    #[default]
    Digits,
    /// Optional whitespace (BWS) before the first `;` of the extensions.
    BeforeExtensions,
    /// The extensions, from the first `;`.
    Extensions,
    /// The CR has been seen; only LF may follow.
    Cr,
}

/// Where the decoder stands in one trailer line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrailerLine {
    /// At the first byte of a line.
    Start,
    /// The line began with CR: it is the empty line that ends the body if LF follows.
    StartCr,
    /// Inside a field line.
    Field {
        /// Bytes of the line so far.
        line_bytes: usize,
        /// Index of the first `:` in the line, if one has arrived.
        first_colon: Option<usize>,
        /// Whether the last byte was CR.
        last_was_cr: bool,
    },
}

/// What one byte did to a size line.
enum SizeLineStep {
    /// The line goes on.
    More,
    /// The line ended (this byte was its LF), announcing a chunk of this size.
    Ended(u64),
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes as much of the chunked body at the start of `input` as has arrived.
    ///
    /// `input` must be the bytes given last time plus any new ones at the end (for the first call,
    /// everything after the head). Returns [`ChunkedStatus::Incomplete`] until the empty line after
    /// the last chunk has arrived, then the body and the bytes it took; anything after that belongs to
    /// the next request and is not looked at. A body over `max_body_bytes` is refused with 413 at the
    /// size line that announces too much, before the data is uploaded (RFC 9110 §15.5.14).
    pub fn decode(
        &mut self,
        input: &[u8],
        max_body_bytes: usize,
    ) -> Result<ChunkedStatus, HttpError> {
        let Some(new) = input.get(self.decoded_bytes..) else {
            return Err(HttpError::new(
                500,
                "chunked decoder given fewer bytes than it already decoded (caller bug)",
            ));
        };
        let mut pos = 0;
        while let Some(&byte) = new.get(pos) {
            if let ChunkState::Data { remaining_bytes } = &mut self.state {
                // Chunk data is copied in bulk: as much as has arrived, up to the chunk's end.
                let available = new.get(pos..).unwrap_or_default();
                let take = (*remaining_bytes).min(available.len());
                self.body
                    .extend_from_slice(available.get(..take).unwrap_or_default());
                *remaining_bytes -= take;
                if *remaining_bytes == 0 {
                    self.state = ChunkState::DataEnd { seen_cr: false };
                }
                pos += take;
                self.examined_bytes += take;
                continue;
            }
            pos += 1;
            self.examined_bytes += 1;
            if self.step(byte, max_body_bytes)? {
                let consumed = self.decoded_bytes + pos;
                self.decoded_bytes = consumed;
                self.state = ChunkState::Done;
                let body = std::mem::take(&mut self.body);
                return Ok(ChunkedStatus::Complete { body, consumed });
            }
        }
        self.decoded_bytes += pos;
        Ok(ChunkedStatus::Incomplete)
    }

    /// How many input bytes this decoder has looked at since it was made: exposed so that a test can
    /// prove the decoding linear in the input, however it is split.
    #[doc(hidden)]
    pub fn examined_bytes(&self) -> usize {
        self.examined_bytes
    }

    /// Takes one byte outside chunk data; returns whether it ended the body.
    fn step(&mut self, byte: u8, max_body_bytes: usize) -> Result<bool, HttpError> {
        match &mut self.state {
            ChunkState::SizeLine(line) => {
                if let SizeLineStep::Ended(size) = line.step(byte)? {
                    self.state = self.after_size_line(size, max_body_bytes)?;
                }
                Ok(false)
            }
            ChunkState::Data { .. } => Ok(false), // handled in bulk by `decode`
            ChunkState::DataEnd { seen_cr } => {
                // RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
                match (*seen_cr, byte) {
                    (false, b'\r') => *seen_cr = true,
                    (true, b'\n') => self.state = ChunkState::default(),
                    _ => {
                        return Err(HttpError::new(
                            400,
                            "chunk data not followed by CRLF (RFC 9112 §7.1)",
                        ))
                    }
                }
                Ok(false)
            }
            ChunkState::Trailer {
                section_bytes,
                line,
            } => trailer_step(section_bytes, line, byte),
            ChunkState::Done => Err(HttpError::new(
                500,
                "chunked decoder used after its body was complete (caller bug)",
            )),
        }
    }

    /// What follows a size line announcing `size` bytes.
    fn after_size_line(&self, size: u64, max_body_bytes: usize) -> Result<ChunkState, HttpError> {
        // RFC 9112 §7.1: last-chunk = 1*("0") [ chunk-ext ] CRLF, then the trailer section.
        if size == 0 {
            return Ok(ChunkState::Trailer {
                section_bytes: 0,
                line: TrailerLine::Start,
            });
        }
        // RFC 9110 §15.5.14: refuse as soon as the size is announced, before the data is uploaded.
        let room_bytes = max_body_bytes.saturating_sub(self.body.len());
        match usize::try_from(size) {
            Ok(remaining_bytes) if remaining_bytes <= room_bytes => {
                Ok(ChunkState::Data { remaining_bytes })
            }
            _ => Err(HttpError::new(
                413,
                "chunked body exceeds the largest body accepted",
            )),
        }
    }
}

impl SizeLine {
    /// Takes one byte of `chunk-size [ chunk-ext ] CRLF` (RFC 9112 §7.1).
    // The chunk size is a number from the wire: arithmetic here is checked, never a wrap or a panic
    // ("No panic from the network" in the crate docs).
    #[cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]
    fn step(&mut self, byte: u8) -> Result<SizeLineStep, HttpError> {
        self.line_bytes = self.line_bytes.saturating_add(1);
        if self.part == SizeLinePart::Cr {
            // The line ends with CRLF; a CR followed by anything else would hide a line ending.
            return match byte {
                b'\n' => Ok(SizeLineStep::Ended(self.size)),
                _ => Err(bad_extension()),
            };
        }
        if byte == b'\n' {
            if self.digit_count == 0 {
                return Err(not_hexadecimal());
            }
            // RFC 9112 §7.1: the line ends with CRLF; a bare LF is refused (lenient parsers disagree
            // on it, which is a smuggling vector).
            return Err(HttpError::new(
                400,
                "chunk size line not ended by CRLF (RFC 9112 §7.1)",
            ));
        }
        self.part = match (self.part, byte) {
            // 1*HEXDIG: the value must fit in 64 bits (leading zeros are allowed).
            (SizeLinePart::Digits, digit) if digit.is_ascii_hexdigit() => {
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(u64::from(hex_value(digit).unwrap_or(0))))
                    .ok_or(HttpError::new(400, "chunk size overflows (RFC 9112 §7.1)"))?;
                self.digit_count = self.digit_count.saturating_add(1);
                SizeLinePart::Digits
            }
            (SizeLinePart::Digits, _) if self.digit_count == 0 => return Err(not_hexadecimal()),
            // RFC 9112 §7.1.1: `chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )`.
            // A recipient "MUST ignore unrecognized chunk extensions", so only their outline is
            // checked: optional whitespace, then `;`, and no control characters.
            (SizeLinePart::Digits | SizeLinePart::BeforeExtensions, b' ' | b'\t') => {
                SizeLinePart::BeforeExtensions
            }
            (SizeLinePart::Digits | SizeLinePart::BeforeExtensions, b';') => {
                SizeLinePart::Extensions
            }
            (_, b'\r') => SizeLinePart::Cr,
            (SizeLinePart::Extensions, b'\t' | b' '..=b'~' | 0x80..=0xff) => {
                SizeLinePart::Extensions
            }
            _ => return Err(bad_extension()),
        };
        // Stop a client that streams an endless size line: extensions carry nothing pushlab uses.
        if self.line_bytes >= MAX_CHUNK_SIZE_LINE_BYTES {
            return Err(HttpError::new(400, "chunk size line too long"));
        }
        Ok(SizeLineStep::More)
    }
}

fn not_hexadecimal() -> HttpError {
    HttpError::new(400, "chunk size is not hexadecimal (RFC 9112 §7.1)")
}

fn bad_extension() -> HttpError {
    HttpError::new(400, "invalid chunk size or extension (RFC 9112 §7.1.1)")
}

fn trailer_too_large() -> HttpError {
    HttpError::new(431, "trailer section too large (RFC 6585 §5)")
}

/// Takes one byte of the trailer section (RFC 9112 §7.1.2): field lines, then an empty line. Trailer
/// fields are checked for shape and discarded: pushlab gives them no meaning ("a recipient MAY ...
/// discard" them). Returns whether the byte ended the body.
fn trailer_step(
    section_bytes: &mut usize,
    line: &mut TrailerLine,
    byte: u8,
) -> Result<bool, HttpError> {
    match *line {
        TrailerLine::Start => match byte {
            b'\r' => *line = TrailerLine::StartCr,
            // RFC 9112 §5.2: obsolete line folding is refused in trailers as in headers.
            b' ' | b'\t' => {
                return Err(HttpError::new(
                    400,
                    "obsolete line folding in trailer (RFC 9112 §5.2)",
                ))
            }
            _ => {
                *line = TrailerLine::Field {
                    line_bytes: 0,
                    first_colon: None,
                    last_was_cr: false,
                };
                return trailer_step(section_bytes, line, byte);
            }
        },
        TrailerLine::StartCr => match byte {
            b'\n' => return Ok(true),
            _ => {
                return Err(HttpError::new(
                    400,
                    "bad CRLF after the last chunk (RFC 9112 §7.1)",
                ))
            }
        },
        TrailerLine::Field {
            line_bytes,
            first_colon,
            last_was_cr,
        } => {
            let line_bytes = line_bytes + 1;
            if *section_bytes + line_bytes > MAX_TRAILER_BYTES {
                return Err(trailer_too_large());
            }
            if byte == b'\n' {
                // field-line = field-name ":" OWS field-value OWS, ended by CRLF.
                let well_formed = last_was_cr && first_colon.is_some_and(|colon| colon > 0);
                if !well_formed {
                    return Err(HttpError::new(
                        400,
                        "malformed trailer field (RFC 9112 §7.1.2)",
                    ));
                }
                *section_bytes += line_bytes;
                *line = TrailerLine::Start;
            } else {
                let first_colon = match first_colon {
                    None if byte == b':' => Some(line_bytes - 1),
                    other => other,
                };
                *line = TrailerLine::Field {
                    line_bytes,
                    first_colon,
                    last_was_cr: byte == b'\r',
                };
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_lines_are_lower_case_hex_from_zero_to_the_largest_size() {
        for size in [
            0usize,
            1,
            9,
            10,
            15,
            16,
            26,
            255,
            4096,
            0xdead_beef,
            usize::MAX,
        ] {
            let mut line = SizeLineBytes::default();
            assert_eq!(line.of(size), format!("{size:x}\r\n").as_bytes(), "{size}");
        }
    }

    fn decode(bytes: &[u8]) -> Result<ChunkedStatus, HttpError> {
        decode_chunked(bytes, 64)
    }

    fn complete(body: &[u8], consumed: usize) -> Result<ChunkedStatus, HttpError> {
        Ok(ChunkedStatus::Complete {
            body: body.to_vec(),
            consumed,
        })
    }

    fn status(bytes: &[u8]) -> u16 {
        decode(bytes).err().map_or(0, |e| e.status)
    }

    #[test]
    fn encodes_chunks_with_hex_sizes() {
        let mut out = Vec::new();
        encode_chunk(b"hello", &mut out);
        encode_chunk(b"", &mut out);
        encode_chunk(&[b'x'; 26], &mut out);
        encode_last_chunk(&mut out);
        let mut expected = b"5\r\nhello\r\n1a\r\n".to_vec();
        expected.extend_from_slice(&[b'x'; 26]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(out, expected);
    }

    #[test]
    fn encoded_chunks_decode_back() {
        let mut out = Vec::new();
        encode_chunk(b"push", &mut out);
        encode_chunk(b"lab", &mut out);
        encode_last_chunk(&mut out);
        assert_eq!(decode(&out), complete(b"pushlab", out.len()));
    }

    #[test]
    fn rfc9112_7_1_decodes_sizes_in_either_case_and_ignores_extensions() {
        let wire =
            b"A;name=value\r\n0123456789\r\n0b ; x ; y=\"q\"\r\nhello world\r\n000\r\n\r\nNEXT";
        assert_eq!(
            decode(wire),
            complete(b"0123456789hello world", wire.len() - 4)
        );
    }

    #[test]
    fn rfc9112_7_1_2_trailers_are_skipped() {
        let wire = b"3\r\nabc\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n";
        assert_eq!(decode(wire), complete(b"abc", wire.len()));
    }

    #[test]
    fn empty_body_is_just_the_last_chunk() {
        assert_eq!(decode(b"0\r\n\r\n"), complete(b"", 5));
    }

    #[test]
    fn incomplete_at_every_prefix() {
        let wire = b"3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
        for end in 0..wire.len() {
            assert_eq!(
                decode(&wire[..end]),
                Ok(ChunkedStatus::Incomplete),
                "prefix of {end} bytes"
            );
        }
        assert_eq!(decode(wire), complete(b"abc0123456789abcdef", wire.len()));
    }

    #[test]
    fn rfc9112_7_1_size_overflow_is_400() {
        assert_eq!(status(b"10000000000000000\r\n"), 400);
        assert_eq!(status(b"ffffffffffffffffff"), 400);
        // Leading zeros are not an overflow.
        let wire = b"00000000000000000000001\r\na\r\n0\r\n\r\n";
        assert_eq!(decode(wire), complete(b"a", wire.len()));
    }

    #[test]
    fn rfc9112_7_1_missing_or_bad_crlf_is_400() {
        assert_eq!(status(b"3\r\nabcX\r\n0\r\n\r\n"), 400);
        assert_eq!(status(b"3\r\nabc\rX"), 400);
        assert_eq!(
            status(b"3\nabc\r\n0\r\n\r\n"),
            400,
            "bare LF after the size"
        );
        assert_eq!(status(b"0\r\n\rX"), 400);
        assert_eq!(status(b"0\r\nno-colon\r\n\r\n"), 400);
        assert_eq!(status(b"0\r\n folded\r\n\r\n"), 400);
    }

    #[test]
    fn rfc9112_7_1_size_must_be_hex() {
        assert_eq!(status(b"g\r\n"), 400, "decided before the CRLF");
        assert_eq!(status(b"\r\n"), 400);
        assert_eq!(status(b"-1\r\n"), 400);
        assert_eq!(status(b"0x5\r\n"), 400);
        assert_eq!(status(b"5 5\r\n"), 400);
        assert_eq!(status(b"5\r5"), 400, "a CR inside the size line");
        assert_eq!(status(b"5\r;x"), 400, "a CR before the extensions");
        assert_eq!(status(b"5;a\rb\r\n"), 400, "a CR inside the extensions");
    }

    #[test]
    fn rfc9110_15_5_14_over_limit_is_413_before_the_data() {
        assert_eq!(decode_chunked(b"40\r\n", 64), Ok(ChunkedStatus::Incomplete));
        assert_eq!(
            decode_chunked(b"41\r\n", 64).map_err(|e| e.status),
            Err(413)
        );
        assert_eq!(decode_chunked(b"20\r\n", 64), Ok(ChunkedStatus::Incomplete));
        let mut wire = b"20\r\n".to_vec();
        wire.extend_from_slice(&[b'a'; 32]);
        wire.extend_from_slice(b"\r\n21\r\n");
        assert_eq!(decode_chunked(&wire, 64).map_err(|e| e.status), Err(413));
    }

    #[test]
    fn long_size_line_and_trailer_are_bounded() {
        let mut line = b"1;".to_vec();
        line.resize(MAX_CHUNK_SIZE_LINE_BYTES, b'x');
        assert_eq!(status(&line), 400);
        let mut trailer = b"0\r\nX: ".to_vec();
        trailer.resize(MAX_TRAILER_BYTES + 8, b'y');
        assert_eq!(status(&trailer), 431);
    }

    /// One decoder fed `wire` in two reads split at `split`, then the rest: its final answer.
    fn decode_in_two_reads(wire: &[u8], split: usize) -> Result<ChunkedStatus, HttpError> {
        let mut decoder = ChunkedDecoder::new();
        match decoder.decode(&wire[..split], 64)? {
            ChunkedStatus::Incomplete => decoder.decode(wire, 64),
            complete => Ok(complete),
        }
    }

    #[test]
    fn a_decoder_resumed_at_any_split_agrees_with_one_call() {
        let wires: [&[u8]; 8] = [
            b"3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\nNEXT",
            b"A;name=value\r\n0123456789\r\n0b ; x\r\nhello world\r\n000\r\n\r\n",
            b"3\r\nabcX\r\n0\r\n\r\n",
            b"5;a\rb\r\n",
            b"0\r\nno-colon\r\n\r\n",
            b"20\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n21\r\n",
            b"ffffffffffffffffff",
            b"0\r\n folded\r\n\r\n",
        ];
        for wire in wires {
            let whole = decode(wire);
            for split in 0..=wire.len() {
                assert_eq!(
                    decode_in_two_reads(wire, split),
                    whole,
                    "{wire:?} split at {split}"
                );
            }
            // One byte at a time: every answer until the last is the one-call answer for that prefix.
            let mut decoder = ChunkedDecoder::new();
            for end in 0..=wire.len() {
                let answer = decoder.decode(&wire[..end], 64);
                assert_eq!(answer, decode(&wire[..end]), "{wire:?} at {end}");
                if answer != Ok(ChunkedStatus::Incomplete) {
                    break;
                }
            }
        }
    }

    #[test]
    fn a_shorter_input_than_before_is_an_error() {
        let mut decoder = ChunkedDecoder::new();
        assert_eq!(
            decoder.decode(b"3\r\nab", 64),
            Ok(ChunkedStatus::Incomplete)
        );
        assert_eq!(decoder.decode(b"3", 64).map_err(|e| e.status), Err(500));
    }
}
