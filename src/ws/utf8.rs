//! Incremental UTF-8 validation that fails fast (RFC 6455 §8.1, RFC 3629).
//!
//! A text message must be valid UTF-8 as a whole (§5.6), yet it arrives in fragments (§5.4) and each
//! fragment in TCP segments, so a code point may be split anywhere. The validator keeps the few bits of
//! state that a split code point needs and checks each byte as it arrives.
//!
//! §8.1 asks the receiver to _Fail the WebSocket Connection_ with 1007 when it finds invalid UTF-8. Doing
//! it at the first byte that makes the text impossible ("fail fast"), rather than at the end of the
//! message, stops a peer from making the server buffer a message it will refuse anyway.
//!
//! Which bytes may follow which is RFC 3629 §4 (also Table 3-7 of the Unicode Standard):
//!
//! | first byte | second byte | third | fourth | why the second byte is narrowed        |
//! |------------|-------------|-------|--------|----------------------------------------|
//! | 00–7F      |             |       |        | ASCII                                  |
//! | C2–DF      | 80–BF       |       |        | C0, C1 could only start overlongs      |
//! | E0         | **A0**–BF   | 80–BF |        | E0 80–9F would be overlong             |
//! | E1–EC      | 80–BF       | 80–BF |        |                                        |
//! | ED         | 80–**9F**   | 80–BF |        | ED A0–BF are surrogates U+D800–U+DFFF  |
//! | EE–EF      | 80–BF       | 80–BF |        |                                        |
//! | F0         | **90**–BF   | 80–BF | 80–BF  | F0 80–8F would be overlong             |
//! | F1–F3      | 80–BF       | 80–BF | 80–BF  |                                        |
//! | F4         | 80–**8F**   | 80–BF | 80–BF  | F4 90 and up would be above U+10FFFF   |
//!
//! Bytes 80–C1 and F5–FF never start a code point. Noncharacters such as U+FFFE and U+FFFF are valid.
//!
//! The table is all the state machine knows. For speed, runs of input that start on a code point
//! boundary go through `std::str::from_utf8`, which checks the same table many bytes at a time; only a
//! code point split across two pieces goes through the byte-at-a-time path.

/// Where the validator stands between two bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// On a code point boundary: the text so far is complete, valid UTF-8.
    #[default]
    Boundary,
    /// Inside a code point: `remaining` continuation bytes to come, the next one in `lo..=hi`.
    Inside {
        /// Continuation bytes still expected (1 to 3).
        remaining: u8,
        /// Smallest allowed value of the next byte.
        lo: u8,
        /// Largest allowed value of the next byte.
        hi: u8,
    },
    /// A byte made the text impossible; every later call fails too.
    Failed,
}

/// Validates UTF-8 fed in pieces that may split a code point anywhere.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    state: State,
}

/// The bytes seen so far cannot begin valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl std::fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl std::error::Error for InvalidUtf8 {}

/// The state after a first byte (the table in the module docs, first two columns).
fn after_lead_byte(byte: u8) -> State {
    let inside = |remaining, lo, hi| State::Inside { remaining, lo, hi };
    match byte {
        0x00..=0x7F => State::Boundary,
        0xC2..=0xDF => inside(1, 0x80, 0xBF),
        0xE0 => inside(2, 0xA0, 0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => inside(2, 0x80, 0xBF),
        0xED => inside(2, 0x80, 0x9F),
        0xF0 => inside(3, 0x90, 0xBF),
        0xF1..=0xF3 => inside(3, 0x80, 0xBF),
        0xF4 => inside(3, 0x80, 0x8F),
        // 80–BF: a continuation byte with nothing to continue; C0, C1: overlong; F5–FF: above U+10FFFF.
        _ => State::Failed,
    }
}

/// One step of the state machine.
fn step(state: State, byte: u8) -> State {
    match state {
        State::Boundary => after_lead_byte(byte),
        State::Inside { remaining, lo, hi } if (lo..=hi).contains(&byte) => match remaining {
            1 => State::Boundary,
            _ => State::Inside {
                remaining: remaining - 1,
                lo: 0x80,
                hi: 0xBF,
            },
        },
        State::Inside { .. } | State::Failed => State::Failed,
    }
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece; fails as soon as the text so far cannot be a prefix of valid UTF-8.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), InvalidUtf8> {
        let mut rest = bytes;
        // Finish a code point that an earlier piece left open, byte by byte.
        while let State::Inside { .. } = self.state {
            let Some((&byte, tail)) = rest.split_first() else {
                return Ok(());
            };
            self.state = step(self.state, byte);
            rest = tail;
        }
        if self.state == State::Failed {
            return Err(InvalidUtf8);
        }
        // On a boundary: check the bulk at once.
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            // `error_len() == None`: the piece ends inside a code point that may still be completed.
            Err(error) if error.error_len().is_none() => {
                let open_tail = rest.get(error.valid_up_to()..).unwrap_or_default();
                self.state = open_tail
                    .iter()
                    .fold(State::Boundary, |state, &byte| step(state, byte));
                match self.state {
                    State::Failed => Err(InvalidUtf8),
                    _ => Ok(()),
                }
            }
            Err(_) => {
                self.state = State::Failed;
                Err(InvalidUtf8)
            }
        }
    }

    /// Ends the text: fails if it stops inside a code point.
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        match self.state {
            State::Boundary => Ok(()),
            State::Inside { .. } | State::Failed => Err(InvalidUtf8),
        }
    }

    /// Whether the text so far ends on a code point boundary (nothing split is pending).
    pub fn is_on_boundary(&self) -> bool {
        self.state == State::Boundary
    }
}

#[cfg(test)]
mod tests;
