//! A connection's output queue and the one choke point every outgoing byte passes: the output budget.
//!
//! # Why one choke point
//!
//! A push server writes on its own initiative: replays, live messages, heartbeats, WebSocket pings and
//! echoes, error answers. If any one of those paths appends to the queue without looking at its size, a
//! client that stops reading (a phone in a tunnel, or an attacker with a 4 KiB receive window) makes the
//! server's memory grow without bound. So nothing appends to [`Output`] except [`Output::send`], which
//! refuses while the bytes not yet written have reached the connection's budget
//! (`Config::max_pending_output_bytes`). What a refusal means is decided by the caller, by kind:
//!
//! - a **subscriber** stops pulling messages from the topic log. Its replay is a cursor into the log, not
//!   a copy, so waiting costs nothing; it resumes when the socket drains ([`Output::has_room`]);
//! - an **echo** or a pipelined request stops being *read*: the client's own bytes wait in its socket,
//!   where TCP flow control slows the client down (backpressure);
//! - a **heartbeat** or **ping** that finds the queue still full, with nothing written since the last one,
//!   proves the peer is not reading: it is dropped with its door's signal (WebSocket close 1008).
//!
//! The one piece that ends a response or a WebSocket goes even at the budget ([`Output::send_final`]).
//! A piece that is accepted is appended whole. Messages a subscriber pulls go through
//! [`Output::send_piece`], which knows the piece's size and queues it only if it fits, so a subscriber's
//! queue never passes the budget (a single message larger than the budget goes alone). Other pieces
//! (answers, echoes) are checked by [`Output::send`] before they are written, so the queue can pass the
//! budget by at most one of them.

/// Bytes queued for one connection, and how many of them the socket has taken.
#[derive(Debug, Default)]
pub struct Output {
    /// Queued bytes; `bytes[written..]` still waits for the socket.
    bytes: Vec<u8>,
    /// How much of `bytes` has been written.
    written: usize,
    /// Bytes written to the socket over the connection's life (for "is the peer reading at all?").
    total_written: u64,
    /// A piece was refused since the last [`Output::take_refused`]: someone waits for room.
    refused: bool,
}

/// The queue has reached its budget: nothing was appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget;

impl Output {
    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.bytes.len() - self.written
    }

    /// Whether another piece may be queued under `budget`.
    pub fn has_room(&self, budget: usize) -> bool {
        self.pending() < budget
    }

    /// The one way to queue bytes: runs `write` on the queue if the bytes waiting are below `budget`,
    /// and returns what it returned; otherwise queues nothing.
    pub fn send<T>(
        &mut self,
        budget: usize,
        write: impl FnOnce(&mut Vec<u8>) -> T,
    ) -> Result<T, OverBudget> {
        if !self.has_room(budget) {
            self.refused = true;
            return Err(OverBudget);
        }
        self.reuse_written_front(0);
        Ok(write(&mut self.bytes))
    }

    /// Queues a piece of at most `len` bytes (a message with its framing) only if it fits under `budget`
    /// whole, or if nothing else is queued (so a single piece larger than the budget still goes, alone).
    /// Subscribers pull messages through this: their queue never holds more than the budget.
    pub fn send_piece<T>(
        &mut self,
        budget: usize,
        len: usize,
        write: impl FnOnce(&mut Vec<u8>) -> T,
    ) -> Result<T, OverBudget> {
        let pending = self.pending();
        if pending > 0 && pending.saturating_add(len) > budget {
            self.refused = true;
            return Err(OverBudget);
        }
        self.reuse_written_front(len);
        Ok(write(&mut self.bytes))
    }

    /// Before the storage would grow for `len` more bytes, moves the unwritten bytes to its front,
    /// so that the memory a queue holds is what waits to be written, not also what already went out.
    /// (The move costs at most the budget, and happens only instead of a reallocation.)
    fn reuse_written_front(&mut self, len: usize) {
        let would_grow = self.bytes.len() + len.max(1) > self.bytes.capacity();
        if self.written > 0 && would_grow {
            self.bytes.drain(..self.written);
            self.written = 0;
        }
        if len > 0 {
            self.bytes.reserve_exact(len);
        }
    }

    /// The one exception to the budget: the small piece that *ends* what the connection sends (the last
    /// chunk of a response, a WebSocket close frame), queued even at the budget, since without it the
    /// client would wait for the rest of a response that never comes. It adds a bounded few bytes, once.
    pub fn send_final(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.bytes);
    }

    /// The bytes waiting for the socket.
    pub fn unwritten(&self) -> &[u8] {
        self.bytes.get(self.written..).unwrap_or_default()
    }

    /// Records that the socket took `count` more bytes. Once everything is written the storage is given
    /// back, so an idle connection costs almost nothing.
    pub fn wrote(&mut self, count: usize) {
        self.written = (self.written + count).min(self.bytes.len());
        self.total_written += count as u64;
        if self.written == self.bytes.len() {
            self.bytes = Vec::new();
            self.written = 0;
        } else if self.written > 64 * 1024 && self.written * 2 > self.bytes.len() {
            // Drop the written front once it is large, so appending does not grow the storage forever.
            self.bytes.drain(..self.written);
            self.written = 0;
        }
    }

    /// Whether a piece was refused since the last call, and forgets it: the writer that was refused
    /// must be given another go once the socket has taken bytes.
    pub fn take_refused(&mut self) -> bool {
        std::mem::take(&mut self.refused)
    }

    /// Bytes written over the connection's life.
    pub fn total_written(&self) -> u64 {
        self.total_written
    }

    /// Bytes of memory the queue holds (its capacity), for the global budget.
    pub fn footprint(&self) -> usize {
        self.bytes.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_the_budget_and_accepts_again_after_a_write() {
        let mut output = Output::default();
        assert_eq!(
            output.send(10, |out| out.extend_from_slice(b"0123456789")),
            Ok(())
        );
        assert_eq!(output.send(10, |out| out.push(b'x')), Err(OverBudget));
        assert!(output.take_refused(), "the refusal is remembered");
        assert!(!output.take_refused(), "once");
        assert_eq!(output.pending(), 10);
        output.wrote(4);
        assert_eq!(output.unwritten(), b"456789");
        assert!(output.send(10, |out| out.push(b'x')).is_ok());
        assert_eq!(output.unwritten(), b"456789x");
    }

    #[test]
    fn a_piece_is_appended_whole_so_the_overshoot_is_one_piece() {
        let mut output = Output::default();
        output
            .send(4, |out| out.extend_from_slice(&[0; 3]))
            .unwrap();
        output
            .send(4, |out| out.extend_from_slice(&[0; 100]))
            .unwrap();
        assert_eq!(output.pending(), 103);
        assert!(!output.has_room(4));
    }

    #[test]
    fn a_sized_piece_goes_only_if_it_fits_whole_or_goes_alone() {
        let mut output = Output::default();
        output
            .send_piece(10, 6, |out| out.extend_from_slice(&[0; 6]))
            .unwrap();
        assert_eq!(
            output.send_piece(10, 6, |_| ()),
            Err(OverBudget),
            "6 + 6 > 10"
        );
        assert!(output
            .send_piece(10, 4, |out| out.extend_from_slice(&[0; 4]))
            .is_ok());
        output.wrote(10);
        assert!(
            output
                .send_piece(10, 50, |out| out.extend_from_slice(&[0; 50]))
                .is_ok(),
            "an empty queue takes one piece larger than the budget"
        );
    }

    #[test]
    fn the_written_front_is_reused_before_the_storage_grows() {
        let mut output = Output::default();
        output
            .send(usize::MAX, |out| {
                out.reserve_exact(100);
                out.extend_from_slice(&[1; 100]);
            })
            .unwrap();
        let capacity = output.footprint();
        output.wrote(60);
        output
            .send_piece(usize::MAX, capacity - 40, |out| {
                out.extend_from_slice(&vec![2; capacity - 40])
            })
            .unwrap();
        assert_eq!(
            output.footprint(),
            capacity,
            "no growth: the 60 written bytes made room"
        );
        assert_eq!(output.pending(), capacity);
    }

    #[test]
    fn written_out_storage_is_given_back() {
        let mut output = Output::default();
        output
            .send(usize::MAX, |out| out.extend_from_slice(&[1; 1000]))
            .unwrap();
        output.wrote(1000);
        assert_eq!((output.pending(), output.footprint()), (0, 0));
        assert_eq!(output.total_written(), 1000);
    }
}
