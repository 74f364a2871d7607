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
//!
//! # A queue of buffers, written with one system call
//!
//! The bytes wait in a queue of buffers, not in one growing `Vec`:
//!
//! ```text
//!   front (partly written)                                   back (open: small pieces append here)
//!   [ 101 head | frame head ] [ 64 KiB echo payload, handed over ] [ frame head | frame | ... ]
//!          ^ written
//! ```
//!
//! - Small pieces (heads, frames, chunks) are appended to the open buffer at the back. A buffer is closed
//!   once it holds [`BUFFER_BYTES`], so no buffer is ever grown (and copied) past that by small pieces.
//! - A large payload the connection already owns, such as a WebSocket message being echoed, is *handed
//!   over* ([`Output::send_owned`]): the `Vec` itself joins the queue, and its bytes are never copied in
//!   user space (a small one, up to [`SMALL_PAYLOAD_BYTES`], is copied to the back buffer instead). Echoing 64 KiB then costs the kernel's two copies (in and out of the socket) and the
//!   one pass that unmasked it, not three more copies into and around an output buffer.
//! - An echo can do better still: [`crate::ws::WsProtocol::echo_in_place`] turns the client's frame into
//!   its echo inside the read buffer, and the queue takes that range of the read buffer
//!   ([`Output::send_from_input`]). After the piece of work that queued it, the read buffer is *lent*:
//!   frozen behind an `Arc` that the queue shares ([`Output::pin_input`]), while the connection reads on
//!   into another buffer. A lent buffer goes back to the server's pool once the socket has taken every
//!   range of it (see `Core::pin_echoes`), so an echo costs no allocation, no zeroing and no copy.
//! - The socket takes the front of the queue with one vectored write (`writev(2)`, at most
//!   [`MAX_WRITE_SLICES`] buffers at once, see [`Output::unwritten_slices`]), or with `send(2)` when
//!   there is only one buffer, the usual case for a pushed message or an answer (the event loop says
//!   why); buffers written out are freed as the socket takes them, so nothing is moved to make room.
//! - An idle connection holds no queue at all: `Output` is then a null pointer and a counter, and the
//!   queue is taken by the first byte queued and given up when the last one is written. A queue given
//!   up goes to a few spares kept for reuse (at most [`MAX_SPARE_QUEUES`], each with a small buffer),
//!   so a broadcast reuses one warm queue for a thousand subscribers instead of allocating and freeing
//!   two blocks of memory for each.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::ops::Range;
use std::sync::Arc;

/// A buffer that small pieces are appended to is closed once it holds this much: the next piece starts
/// a new one. (A piece is appended whole, so a buffer may end larger by one piece.)
pub const BUFFER_BYTES: usize = 64 * 1024;

/// A payload handed over ([`Output::send_owned`]) of at most this many bytes is copied into the back
/// buffer rather than queued as a buffer of its own: for a 32-byte echo, a copy is cheaper than the
/// extra allocation and write slice.
pub const SMALL_PAYLOAD_BYTES: usize = 4 * 1024;

/// The most buffers one vectored write hands the socket (Linux allows 1,024; a few dozen already fill
/// a socket's send buffer).
pub const MAX_WRITE_SLICES: usize = 32;

/// At most this many emptied queues are kept for reuse (see the module docs).
pub const MAX_SPARE_QUEUES: usize = 16;

/// An emptied queue keeps its back buffer for reuse only up to this capacity: one message's worth,
/// not a 64 KiB buffer that carried a replay.
pub const MAX_SPARE_BACK_BYTES: usize = 4 * 1024;

/// An emptied queue keeps its list of closed buffers for reuse only up to this many slots.
pub const MAX_SPARE_CHUNKS: usize = 16;

thread_local! {
    /// Queues written out, kept for the next connection that queues bytes on this thread (the event
    /// loop's). A broadcast queues and writes one message per subscriber, a thousand in a row: with
    /// these, that is one queue taken and given back a thousand times, warm in the cache, instead of
    /// two allocations and two frees per subscriber. Bounded by [`MAX_SPARE_QUEUES`] and
    /// [`MAX_SPARE_BACK_BYTES`] and [`MAX_SPARE_CHUNKS`], so the spares hold under 100 KiB, however
    /// many connections there are and whatever they queued.
    // Boxed on purpose: a box is what an `Output` holds, so a spare goes back to one as it is.
    #[allow(clippy::vec_box)]
    static SPARE_QUEUES: RefCell<Vec<Box<Queue>>> = const { RefCell::new(Vec::new()) };
}

/// An empty queue: a spare if there is one, else a new one.
fn spare_queue() -> Box<Queue> {
    SPARE_QUEUES
        .with(|spares| spares.borrow_mut().pop())
        .unwrap_or_default()
}

/// Keeps an emptied queue for [`spare_queue`], unless enough are kept already.
fn keep_spare_queue(mut queue: Box<Queue>) {
    queue.reset();
    SPARE_QUEUES.with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() < MAX_SPARE_QUEUES {
            spares.push(queue);
        }
    });
}

/// Bytes queued for one connection, and how many of them the socket has taken.
#[derive(Debug, Default)]
pub struct Output {
    /// The bytes waiting for the socket; `None` while nothing waits (see the module docs).
    queue: Option<Box<Queue>>,
    /// Bytes written to the socket over the connection's life (for "is the peer reading at all?").
    total_written: u64,
    /// A piece was refused since the last [`Output::take_refused`]: someone waits for room.
    refused: bool,
}

/// One buffer of the queue that nothing more is appended to.
#[derive(Debug)]
enum Chunk {
    /// Bytes the queue owns: a full buffer, or a payload handed over whole.
    Owned(Vec<u8>),
    /// A range of the connection's read buffer, queued by [`Output::send_from_input`]; it becomes
    /// `Lent` at the end of the piece of work that queued it ([`Output::pin_input`]), before any write.
    InInput(Range<usize>),
    /// A range of a read buffer lent to the queue.
    Lent(Arc<Vec<u8>>, Range<usize>),
}

impl Chunk {
    /// The bytes to write (none for a range not yet pinned).
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(bytes) => bytes,
            Chunk::InInput(_) => &[],
            Chunk::Lent(storage, range) => storage.get(range.clone()).unwrap_or_default(),
        }
    }

    /// How many bytes it queues.
    fn len(&self) -> usize {
        match self {
            Chunk::Owned(bytes) => bytes.len(),
            Chunk::InInput(range) | Chunk::Lent(_, range) => range.len(),
        }
    }

    /// Bytes of memory it holds on its own: a lent range counts its length, since the rest of its
    /// read buffer is shared with other ranges and with the server's pool.
    fn footprint(&self) -> usize {
        match self {
            Chunk::Owned(bytes) => bytes.capacity(),
            Chunk::InInput(range) | Chunk::Lent(_, range) => range.len(),
        }
    }
}

/// The buffers of a connection that has bytes waiting, in the order they go out: `closed`, then `back`.
#[derive(Debug, Default)]
struct Queue {
    /// Buffers nothing more is appended to: full ones, payloads handed over whole, ranges of read buffers.
    closed: VecDeque<Chunk>,
    /// The open buffer small pieces are appended to.
    back: Vec<u8>,
    /// How much of the first buffer (the front of `closed`, or `back` when `closed` is empty) has been
    /// written.
    front_written: usize,
    /// Bytes queued and not yet written, over every buffer.
    pending: usize,
}

impl Queue {
    /// Empties a queue whose bytes were all written, keeping a small back buffer's storage.
    fn reset(&mut self) {
        self.closed.clear();
        if self.closed.capacity() > MAX_SPARE_CHUNKS {
            // A client that had half a million tiny echoes queued leaves a list that large behind.
            self.closed = VecDeque::new();
        }
        self.back.clear();
        if self.back.capacity() > MAX_SPARE_BACK_BYTES {
            self.back = Vec::new();
        }
        self.front_written = 0;
        self.pending = 0;
    }

    /// Closes the back buffer (if it holds anything): what is appended next starts a new one.
    fn close_back(&mut self) {
        if !self.back.is_empty() {
            self.closed
                .push_back(Chunk::Owned(std::mem::take(&mut self.back)));
        }
    }

    /// Runs `write` on the back buffer, first closing it if it is full, and counts what it appended.
    fn append<T>(&mut self, len_hint: usize, write: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        if self.back.len() >= BUFFER_BYTES {
            self.close_back();
        }
        self.back.reserve(len_hint);
        let before = self.back.len();
        let result = write(&mut self.back);
        self.pending += self.back.len().saturating_sub(before);
        result
    }

    /// Appends `payload` as a buffer of its own, without copying it; a small one is copied into the
    /// back buffer instead, which costs less than a buffer and a write slice of its own.
    fn hand_over(&mut self, payload: Vec<u8>) {
        if payload.len() <= SMALL_PAYLOAD_BYTES {
            self.append(payload.len(), |back| back.extend_from_slice(&payload));
            return;
        }
        self.close_back();
        self.pending += payload.len();
        self.closed.push_back(Chunk::Owned(payload));
    }

    /// The bytes of every buffer, in order, up to the first range not yet pinned (nothing after it may
    /// go out before it).
    fn buffers(&self) -> impl Iterator<Item = &[u8]> {
        let ready = self
            .closed
            .iter()
            .take_while(|chunk| !matches!(chunk, Chunk::InInput(_)));
        let back_is_next = ready.clone().count() == self.closed.len();
        ready
            .map(Chunk::bytes)
            .chain(back_is_next.then_some(self.back.as_slice()))
    }

    /// Records that the socket took `count` more bytes (at most `pending`): drops the buffers written out.
    fn wrote(&mut self, count: usize) {
        let mut count = count.min(self.pending);
        self.pending -= count;
        while count > 0 {
            let Some(front) = self.closed.front() else {
                // The back buffer is the front one; `count <= pending` keeps this within it.
                self.front_written += count;
                return;
            };
            let left_in_front = front.len().saturating_sub(self.front_written);
            if count < left_in_front {
                self.front_written += count;
                return;
            }
            count -= left_in_front;
            self.closed.pop_front();
            self.front_written = 0;
        }
    }
}

/// The queue has reached its budget: nothing was appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget;

impl Output {
    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.queue.as_ref().map_or(0, |queue| queue.pending)
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
        let result = self.queue().append(0, write);
        self.forget_empty_queue();
        Ok(result)
    }

    /// Like [`Output::send`], for a piece with a payload the caller owns: `write` appends what goes
    /// before the payload (a frame header) and returns the payload, which then joins the queue as a
    /// buffer of its own, not copied (see the module docs). `None` from `write`: nothing follows.
    pub fn send_owned(
        &mut self,
        budget: usize,
        write: impl FnOnce(&mut Vec<u8>) -> Option<Vec<u8>>,
    ) -> Result<(), OverBudget> {
        if !self.has_room(budget) {
            self.refused = true;
            return Err(OverBudget);
        }
        let queue = self.queue();
        if let Some(payload) = queue.append(0, write) {
            queue.hand_over(payload);
        }
        self.forget_empty_queue();
        Ok(())
    }

    /// Queues bytes `range` of the connection's read buffer (an echo made in place there), checked
    /// against `budget` as [`Output::send`] does. The range must be pinned with [`Output::pin_input`]
    /// before anything is written: until then the socket is handed nothing from it onwards.
    pub fn send_from_input(
        &mut self,
        budget: usize,
        range: Range<usize>,
    ) -> Result<(), OverBudget> {
        if !self.has_room(budget) {
            self.refused = true;
            return Err(OverBudget);
        }
        if range.is_empty() {
            return Ok(());
        }
        let queue = self.queue();
        queue.close_back();
        queue.pending += range.len();
        queue.closed.push_back(Chunk::InInput(range));
        Ok(())
    }

    /// Whether ranges of the read buffer wait to be pinned ([`Output::pin_input`]).
    pub fn awaits_input(&self) -> bool {
        self.queue.as_ref().is_some_and(|queue| {
            queue
                .closed
                .iter()
                .any(|chunk| matches!(chunk, Chunk::InInput(_)))
        })
    }

    /// Makes every range queued by [`Output::send_from_input`] a share of `storage`, the read buffer
    /// those ranges were taken from, now lent (see the module docs).
    pub fn pin_input(&mut self, storage: &Arc<Vec<u8>>) {
        let Some(queue) = &mut self.queue else {
            return;
        };
        for chunk in queue.closed.iter_mut() {
            if let Chunk::InInput(range) = chunk {
                *chunk = Chunk::Lent(Arc::clone(storage), range.clone());
            }
        }
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
        let result = self.queue().append(len, write);
        self.forget_empty_queue();
        Ok(result)
    }

    /// The one exception to the budget: the small piece that *ends* what the connection sends (the last
    /// chunk of a response, a WebSocket close frame), queued even at the budget, since without it the
    /// client would wait for the rest of a response that never comes. It adds a bounded few bytes, once.
    pub fn send_final(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        self.queue().append(0, write);
        self.forget_empty_queue();
    }

    /// Writes a piece straight to the socket with `write` (one slice; returns how much the socket
    /// took, `WouldBlock` when full), for a piece that is the only thing to send: what the socket does
    /// not take is queued, to go on its next writable edge. The broadcast's shortcut: a pushed message
    /// that finds its subscriber's queue empty goes out in one system call, taking no queue and copying
    /// nothing (the usual path queues it and then writes the queue).
    ///
    /// That nothing waits is the caller's to check (as [`Output::send_piece`], this lets a piece go
    /// alone whatever the budget): a piece that finds bytes waiting is not written but queued behind
    /// them, so the order holds. An error other than `WouldBlock` (or a socket that takes nothing) is
    /// handed back with nothing queued: the connection is lost.
    pub fn write_through(
        &mut self,
        piece: &[u8],
        mut write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<()> {
        let mut written = 0;
        while self.pending() == 0 && written < piece.len() {
            let rest = piece.get(written..).unwrap_or_default();
            match write(&[IoSlice::new(rest)]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n.min(rest.len()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.total_written += written as u64;
        let rest = piece.get(written..).unwrap_or_default();
        if !rest.is_empty() {
            self.queue()
                .append(rest.len(), |out| out.extend_from_slice(rest));
        }
        Ok(())
    }

    /// The queue, taken from the spares (or allocated) if nothing was waiting.
    fn queue(&mut self) -> &mut Queue {
        self.queue.get_or_insert_with(spare_queue)
    }

    /// Gives the queue back to the spares once nothing waits in it: written out, or a writer queued
    /// nothing after all (a closed WebSocket sends no more frames).
    fn forget_empty_queue(&mut self) {
        if self.pending() == 0 {
            if let Some(queue) = self.queue.take() {
                keep_spare_queue(queue);
            }
        }
    }

    /// Fills `slices` with the bytes waiting for the socket, front first, one slice per buffer, and
    /// returns how many it filled (0 when nothing waits). Hand them to one vectored write.
    pub fn unwritten_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let Some(queue) = &self.queue else {
            return 0;
        };
        let mut filled = 0;
        let mut skip = queue.front_written;
        let buffers = queue.buffers().filter(|buffer| !buffer.is_empty());
        for (slice, buffer) in slices.iter_mut().zip(buffers) {
            *slice = IoSlice::new(buffer.get(skip..).unwrap_or_default());
            skip = 0;
            filled += 1;
        }
        filled
    }

    /// The bytes waiting for the socket, copied into one `Vec` (for tests and `--trace`).
    pub fn unwritten(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.pending());
        let Some(queue) = &self.queue else {
            return bytes;
        };
        let mut skip = queue.front_written;
        for buffer in queue.buffers() {
            bytes.extend_from_slice(buffer.get(skip..).unwrap_or_default());
            skip = 0;
        }
        bytes
    }

    /// Records that the socket took `count` more bytes. Buffers written out are dropped, and once
    /// everything is written the queue itself is, so an idle connection holds nothing.
    pub fn wrote(&mut self, count: usize) {
        let Some(queue) = &mut self.queue else {
            return;
        };
        let count = count.min(queue.pending);
        queue.wrote(count);
        self.total_written += count as u64;
        self.forget_empty_queue();
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

    /// Bytes of memory the queue holds (its buffers' capacity and its own bookkeeping), for the global
    /// budget.
    pub fn footprint(&self) -> usize {
        self.queue.as_ref().map_or(0, |queue| {
            let closed: usize = queue.closed.iter().map(Chunk::footprint).sum();
            let buffers = closed + queue.back.capacity();
            let slots = queue.closed.capacity() * std::mem::size_of::<Chunk>();
            buffers + slots + std::mem::size_of::<Queue>()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slices `unwritten_slices` hands out, as byte vectors.
    fn slices(output: &Output) -> Vec<Vec<u8>> {
        let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
        let count = output.unwritten_slices(&mut slices);
        slices[..count].iter().map(|s| s.to_vec()).collect()
    }

    /// The address of the output's queue, if it has one.
    fn queue_address(output: &Output) -> Option<*const Queue> {
        output.queue.as_deref().map(|queue| queue as *const Queue)
    }

    /// How many emptied queues this thread keeps.
    fn spare_count() -> usize {
        SPARE_QUEUES.with(|spares| spares.borrow().len())
    }

    #[test]
    fn a_queue_written_out_is_the_next_outputs_queue_and_keeps_no_large_buffer() {
        let mut first = Output::default();
        first
            .send_piece(1024, 94, |out| out.extend_from_slice(&[7; 94]))
            .unwrap();
        let address = queue_address(&first);
        first.wrote(94);
        assert_eq!(
            queue_address(&first),
            None,
            "an empty output holds no queue"
        );
        let mut second = Output::default();
        second
            .send_piece(1024, 10, |out| out.extend_from_slice(&[8; 10]))
            .unwrap();
        assert_eq!(
            queue_address(&second),
            address,
            "the same queue, not a new one"
        );
        assert_eq!(
            second.unwritten(),
            vec![8; 10],
            "and nothing of the first one's bytes"
        );

        // A queue that carried a large buffer comes back without it.
        let mut large = Output::default();
        large
            .send(usize::MAX, |out| out.extend_from_slice(&[1; 64 * 1024]))
            .unwrap();
        large.wrote(64 * 1024);
        assert_next_queue_holds_little();

        // And one that held thousands of small echoes (each a range of its own) comes back without
        // their list.
        let mut echoes = Output::default();
        for start in 0..10_000 {
            echoes
                .send_from_input(usize::MAX, start..start + 1)
                .unwrap();
        }
        echoes.pin_input(&Arc::new(vec![0; 10_001]));
        echoes.wrote(10_000);
        assert_eq!(echoes.pending(), 0);
        assert_next_queue_holds_little();
    }

    /// The next output to queue a byte takes the spare given back last: it must hold little memory.
    fn assert_next_queue_holds_little() {
        let mut next = Output::default();
        next.send_piece(1024, 1, |out| out.push(2)).unwrap();
        let footprint = next.footprint();
        assert!(footprint < MAX_SPARE_BACK_BYTES + 1024, "{footprint}");
    }

    #[test]
    fn at_most_max_spare_queues_are_kept() {
        let mut outputs: Vec<Output> = (0..MAX_SPARE_QUEUES + 4)
            .map(|_| Output::default())
            .collect();
        for output in &mut outputs {
            output
                .send_piece(1024, 3, |out| out.extend_from_slice(b"abc"))
                .unwrap();
        }
        for output in &mut outputs {
            output.wrote(3);
        }
        assert_eq!(spare_count(), MAX_SPARE_QUEUES);
    }

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
    fn a_handed_over_payload_is_queued_without_a_copy() {
        let mut output = Output::default();
        output
            .send(100, |out| out.extend_from_slice(b"head"))
            .unwrap();
        let len = SMALL_PAYLOAD_BYTES + 1;
        let payload = vec![7u8; len];
        let payload_at = payload.as_ptr();
        output
            .send_owned(100, |out| {
                out.extend_from_slice(b"|frame header|");
                Some(payload)
            })
            .unwrap();
        assert_eq!(output.pending(), 4 + 14 + len);
        let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
        assert_eq!(output.unwritten_slices(&mut slices), 2);
        assert_eq!(&*slices[0], b"head|frame header|");
        assert_eq!(slices[1].as_ptr(), payload_at, "the payload's own buffer");
        assert_eq!(slices[1].len(), len);
    }

    #[test]
    fn a_small_payload_is_copied_behind_its_header() {
        let mut output = Output::default();
        output
            .send_owned(100, |out| {
                out.push(b'H');
                Some(b"tiny".to_vec())
            })
            .unwrap();
        assert_eq!(slices(&output), [&b"Htiny"[..]], "one buffer, one slice");
    }

    #[test]
    fn partial_writes_move_through_the_buffers_in_order() {
        let mut output = Output::default();
        let big: Vec<u8> = (0..SMALL_PAYLOAD_BYTES + 5).map(|i| i as u8).collect();
        output
            .send(usize::MAX, |out| out.extend_from_slice(b"abc"))
            .unwrap();
        output
            .send_owned(usize::MAX, |out| {
                out.push(b'H');
                Some(big.clone())
            })
            .unwrap();
        output
            .send(usize::MAX, |out| out.extend_from_slice(b"ij"))
            .unwrap();
        let mut all = b"abcH".to_vec();
        all.extend_from_slice(&big);
        all.extend_from_slice(b"ij");
        assert_eq!(output.unwritten(), all);
        assert_eq!(slices(&output), [&b"abcH"[..], &big[..], b"ij"]);
        output.wrote(5);
        assert_eq!(slices(&output), [&big[1..], b"ij"]);
        output.wrote(big.len() - 1);
        assert_eq!(slices(&output), [&b"ij"[..]]);
        output.wrote(1);
        output.send(usize::MAX, |out| out.push(b'k')).unwrap();
        assert_eq!(slices(&output), [&b"jk"[..]]);
        output.wrote(2);
        assert_eq!(
            (output.pending(), output.total_written()),
            (0, all.len() as u64 + 1)
        );
    }

    /// A piece written through goes to the socket with no queue taken; a short write queues only
    /// the rest, `WouldBlock` all of it, `Interrupted` is tried again; an error queues nothing; and a
    /// piece that finds bytes waiting is queued behind them, not written.
    #[test]
    fn a_piece_written_through_queues_only_what_the_socket_did_not_take() {
        let mut output = Output::default();
        let mut calls = 0;
        output
            .write_through(b"abcdef", |slices| {
                calls += 1;
                Ok(slices[0].len())
            })
            .unwrap();
        assert_eq!((calls, output.pending(), output.total_written()), (1, 0, 6));
        assert!(queue_address(&output).is_none(), "no queue taken");

        let mut answers = vec![
            Err(io::ErrorKind::WouldBlock.into()),
            Ok(2),
            Err(io::ErrorKind::Interrupted.into()),
        ];
        output
            .write_through(b"ghijk", |_| answers.pop().unwrap())
            .unwrap();
        assert_eq!(output.unwritten(), b"ijk", "the rest, queued");
        assert_eq!(output.total_written(), 8);

        output
            .write_through(b"lm", |_| panic!("bytes wait: nothing is written"))
            .unwrap();
        assert_eq!(output.unwritten(), b"ijklm", "queued behind, in order");

        let mut fresh = Output::default();
        let full = fresh.write_through(b"no", |_| Err(io::ErrorKind::WouldBlock.into()));
        assert!(full.is_ok());
        assert_eq!(fresh.unwritten(), b"no");

        let mut broken = Output::default();
        let failed = broken.write_through(b"x", |_| Err(io::ErrorKind::BrokenPipe.into()));
        assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        let closed = broken.write_through(b"x", |_| Ok(0));
        assert_eq!(closed.unwrap_err().kind(), io::ErrorKind::WriteZero);
        assert_eq!(broken.pending(), 0, "a lost connection queues nothing");
    }

    #[test]
    fn small_pieces_start_a_new_buffer_once_one_is_full() {
        let mut output = Output::default();
        let piece = vec![1u8; 1000];
        let pieces = BUFFER_BYTES / piece.len() + 2;
        for _ in 0..pieces {
            output
                .send(usize::MAX, |out| out.extend_from_slice(&piece))
                .unwrap();
        }
        assert_eq!(output.pending(), pieces * piece.len());
        assert_eq!(slices(&output).len(), 2, "one full buffer, then a new one");
        assert!(slices(&output)[0].len() <= BUFFER_BYTES + piece.len());
    }

    #[test]
    fn a_range_of_the_read_buffer_goes_out_from_the_buffer_itself_once_pinned() {
        let mut output = Output::default();
        output
            .send(100, |out| out.extend_from_slice(b"pong"))
            .unwrap();
        output.send_from_input(100, 2..7).unwrap();
        output
            .send(100, |out| out.extend_from_slice(b"tail"))
            .unwrap();
        assert_eq!(output.pending(), 4 + 5 + 4);
        assert!(output.awaits_input());
        assert_eq!(
            slices(&output),
            [&b"pong"[..]],
            "nothing from the unpinned range onwards"
        );
        let storage = Arc::new(b"..echo!..".to_vec());
        output.pin_input(&storage);
        assert!(!output.awaits_input());
        assert_eq!(slices(&output), [&b"pong"[..], b"echo!", b"tail"]);
        let mut io_slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
        output.unwritten_slices(&mut io_slices);
        assert_eq!(
            io_slices[1].as_ptr(),
            storage[2..].as_ptr(),
            "written from the read buffer"
        );
        assert_eq!(Arc::strong_count(&storage), 2);
        output.wrote(5);
        assert_eq!(output.unwritten(), b"cho!tail");
        output.wrote(4);
        assert_eq!(
            Arc::strong_count(&storage),
            1,
            "written out: the buffer is free again"
        );
        assert_eq!(output.unwritten(), b"tail");
    }

    #[test]
    fn a_range_of_the_read_buffer_is_refused_at_the_budget() {
        let mut output = Output::default();
        output
            .send(4, |out| out.extend_from_slice(b"full"))
            .unwrap();
        assert_eq!(output.send_from_input(4, 0..10), Err(OverBudget));
        assert!(output.take_refused());
        assert!(!output.awaits_input());
        assert_eq!(output.pending(), 4);
    }

    #[test]
    fn a_writer_that_queues_nothing_leaves_no_queue() {
        let mut output = Output::default();
        output.send_owned(10, |_| None).unwrap();
        output.send_final(|_| ());
        assert_eq!((output.pending(), output.footprint()), (0, 0));
    }

    #[test]
    fn written_out_storage_is_given_back() {
        let mut output = Output::default();
        output
            .send(usize::MAX, |out| out.extend_from_slice(&[1; 1000]))
            .unwrap();
        output
            .send_owned(usize::MAX, |_| Some(vec![2; 5000]))
            .unwrap();
        assert!(output.footprint() >= 6000);
        output.wrote(6000);
        assert_eq!((output.pending(), output.footprint()), (0, 0));
        assert_eq!(output.total_written(), 6000);
    }
}
