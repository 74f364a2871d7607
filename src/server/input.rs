//! A connection's input buffer: bytes read from the socket and not yet parsed.
//!
//! # Theory of operation
//!
//! The buffer's `storage` is laid out as
//!
//! ```text
//!   0            start            end                 storage.len()
//!   | consumed   | unread          | room for the next read |
//! ```
//!
//! - **Reads land in place.** The socket is read straight into the room at the end, with no staging
//!   buffer to copy from. Safe Rust only reads into initialized bytes, so `storage` is zero-filled when
//!   it grows and its length is its whole size: `end`, not `storage.len()`, says where the data stops.
//! - **Consuming is O(1).** A parser that takes many messages out of one read only moves `start`; the
//!   bytes after it stay where they are. The unread bytes move to the front (compaction) only when the
//!   room left is too small for a read, so each byte is moved at most once per read, not once per
//!   message taken before it.
//! - **An idle connection holds no buffer.** Once the caller has processed what it read, it
//!   [parks](InputBuffer::park) the buffer: empty storage goes back to the server's single spare, which
//!   the next connection to read borrows ([`InputBuffer::room`]). A buffer is therefore not allocated
//!   and zeroed for every read, and 5,000 idle connections cost no buffer at all. A connection that
//!   keeps part of a message keeps it in a buffer of about its size plus one read's room
//!   (`PARKED_ROOM_BYTES`), not in a big one. The room matters: without it, each next read would
//!   move the leftover into the spare and back out again, a copy of everything pending per packet,
//!   which a client trickling a large message one byte at a time could turn into a lot of work.
//!   A leftover of a few bytes (`SMALL_LEFTOVER_BYTES`, typically the start of the next WebSocket
//!   frame on a busy connection) is the exception: it is kept alone, and the next read moves it back
//!   into the big spare, a copy of those few bytes rather than of a whole read.
//! - **A buffer can be lent to the output.** An echo made in place in the read buffer is written from
//!   there (see [`crate::server::output`]): the storage is then [lent](InputBuffer::lend_storage) behind
//!   an `Arc`, frozen, and the connection goes on in fresh storage, taking its unread bytes along
//!   (usually a few: the start of the next frame).

/// The least room a read asks for; storage is made at least this much larger than the unread bytes.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Size of a new storage: room for a read of [`READ_CHUNK_BYTES`] after a partial 64 KiB frame without
/// growing, and room for a few reads between compactions.
const NEW_STORAGE_BYTES: usize = 4 * READ_CHUNK_BYTES;

/// The largest storage worth keeping as the spare (a buffer grown for one huge message is dropped).
const MAX_SPARE_BYTES: usize = 16 * READ_CHUNK_BYTES;

/// Below this much room (or the limit, if smaller), a read first makes [`READ_CHUNK_BYTES`] of room.
const MIN_READ_ROOM_BYTES: usize = READ_CHUNK_BYTES / 4;

/// Room left after the unread bytes when a parked buffer is made smaller: the next read fits without
/// moving them again.
const PARKED_ROOM_BYTES: usize = READ_CHUNK_BYTES;

/// Leftovers up to this size are parked in a buffer of exactly their size (moving them costs less than
/// holding, or later moving, a read's worth of room).
const SMALL_LEFTOVER_BYTES: usize = 1024;

/// Whether a storage of `len` bytes, lent and written out, is worth keeping for reuse (the same bound as
/// for the spare: a buffer grown for one huge message is dropped).
pub fn worth_reusing(len: usize) -> bool {
    (READ_CHUNK_BYTES..=MAX_SPARE_BYTES).contains(&len)
}

/// Unread bytes and the storage they live in (see the module docs).
#[derive(Debug, Default)]
pub struct InputBuffer {
    /// Every byte initialized; `storage[start..end]` is unread, `storage[end..]` is room.
    storage: Vec<u8>,
    /// Where the unread bytes start.
    start: usize,
    /// Where the unread bytes end.
    end: usize,
}

impl InputBuffer {
    /// The bytes read and not yet consumed.
    pub fn unread(&self) -> &[u8] {
        self.storage.get(self.start..self.end).unwrap_or_default()
    }

    /// The unread bytes, writable (a parser may rewrite bytes in place, e.g. to unmask them).
    pub fn unread_mut(&mut self) -> &mut [u8] {
        self.storage
            .get_mut(self.start..self.end)
            .unwrap_or_default()
    }

    /// How many bytes are unread.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether every byte read has been consumed.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes of storage held (for tests and memory accounting).
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Where bytes `range` of [`InputBuffer::unread`] lie in the storage: what a range queued with
    /// [`crate::server::output::Output::send_from_input`] is measured in.
    pub fn storage_range(&self, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        self.start + range.start..self.start + range.end
    }

    /// Lends the storage (ranges of it wait in the output), frozen behind an `Arc`, and goes on in
    /// `fresh` storage, into which the unread bytes move (it grows if it is too small for them).
    pub fn lend_storage(&mut self, mut fresh: Vec<u8>) -> std::sync::Arc<Vec<u8>> {
        let unread_len = self.len();
        if fresh.len() < unread_len {
            fresh.resize(unread_len, 0);
        }
        if let Some(front) = fresh.get_mut(..unread_len) {
            front.copy_from_slice(self.unread());
        }
        self.start = 0;
        self.end = unread_len;
        std::sync::Arc::new(std::mem::replace(&mut self.storage, fresh))
    }

    /// Marks the first `count` unread bytes as consumed. Nothing moves.
    pub fn consume(&mut self, count: usize) {
        self.start += count.min(self.len());
        if self.start == self.end {
            // Empty: the next read can use the whole storage.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Consumes everything.
    pub fn clear(&mut self) {
        self.consume(self.len());
    }

    /// Room for the next read, at most `limit` bytes (0 when `limit` is 0). When less than
    /// `MIN_READ_ROOM_BYTES` is left, [`READ_CHUNK_BYTES`] of room is made first (up to `limit`),
    /// borrowing `spare` when this buffer has too little storage of its own. Write into it, then call [`InputBuffer::filled`].
    pub fn room(&mut self, limit: usize, spare: &mut Vec<u8>) -> &mut [u8] {
        let wanted = limit.min(READ_CHUNK_BYTES);
        // Room is made only when what is left is small: otherwise a connection holding part of a
        // message would move it for every read that leaves a little less than a full chunk of room.
        if self.storage.len() - self.end < limit.min(MIN_READ_ROOM_BYTES) {
            self.make_room(wanted, limit, spare);
        }
        let end = self.end;
        let room = self.storage.get_mut(end..).unwrap_or_default();
        let room_len = room.len().min(limit);
        room.get_mut(..room_len).unwrap_or_default()
    }

    /// Records that the first `count` bytes of the room returned by [`InputBuffer::room`] were read.
    pub fn filled(&mut self, count: usize) {
        self.end = (self.end + count).min(self.storage.len());
    }

    /// After processing: hands empty storage back to `spare`, and moves a few leftover bytes out of a
    /// big storage into one of their size, so that a connection waiting in the middle of a message
    /// holds about what it was sent, not a whole read buffer.
    pub fn park(&mut self, spare: &mut Vec<u8>) {
        if self.is_empty() {
            let storage = std::mem::take(&mut self.storage);
            offer_spare(storage, spare);
        } else if self.len() <= SMALL_LEFTOVER_BYTES && self.storage.len() > self.len() {
            // A few bytes (the start of the next frame or request, as a busy connection's reads
            // usually end): keep just them, and let the big storage go back to the spare for the next
            // read, which moves them back into it. Keeping them with room for a read instead would
            // make that read land here, in a buffer too small for the next, and the move to the spare
            // would then carry the whole read, not these few bytes.
            let kept = self.unread().to_vec();
            self.start = 0;
            self.end = kept.len();
            let storage = std::mem::replace(&mut self.storage, kept);
            offer_spare(storage, spare);
        } else if self.storage.len() > 2 * self.len() + PARKED_ROOM_BYTES {
            // More than twice what is kept (the growth factor of a Vec), plus a read's room: move the
            // unread bytes into a buffer of their size plus that room. Once moved, they stay until the
            // data waiting here halves again, so a slow sender costs no copy per packet.
            let unread_len = self.len();
            let mut smaller = vec![0; unread_len + PARKED_ROOM_BYTES];
            if let Some(front) = smaller.get_mut(..unread_len) {
                front.copy_from_slice(self.unread());
            }
            self.start = 0;
            self.end = unread_len;
            let storage = std::mem::replace(&mut self.storage, smaller);
            offer_spare(storage, spare);
        }
    }

    /// Gets `wanted` bytes of room after `end`: by moving the unread bytes into the spare, or to the
    /// front of this storage, or by growing it, never past `limit` bytes of room (growth writes zeros,
    /// so every byte of storage is resident memory).
    fn make_room(&mut self, wanted: usize, limit: usize, spare: &mut Vec<u8>) {
        let needed = self.len() + wanted;
        if self.storage.len() < needed && spare.len() >= needed {
            // The spare is big enough and ours is not: move the unread bytes there and swap.
            let unread_len = self.len();
            if let Some(front) = spare.get_mut(..unread_len) {
                front.copy_from_slice(self.unread());
            }
            std::mem::swap(&mut self.storage, spare);
            self.start = 0;
            self.end = unread_len;
            // What we had is now the spare; a tiny one is not worth keeping.
            if spare.len() < READ_CHUNK_BYTES {
                *spare = Vec::new();
            }
            return;
        }
        if self.start > 0 {
            // Compaction: one move of the unread bytes, at most once per read.
            self.storage.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.storage.len() < needed {
            let most = self.len().saturating_add(limit);
            let new_len = needed.max(NEW_STORAGE_BYTES.max(self.storage.len() * 2).min(most));
            self.storage.resize(new_len, 0);
        }
    }
}

/// Keeps `storage` as the server's spare if there is none yet and it is worth keeping; drops it otherwise.
fn offer_spare(storage: Vec<u8>, spare: &mut Vec<u8>) {
    if spare.is_empty() && worth_reusing(storage.len()) {
        *spare = storage;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `bytes` into `input`, as many reads as the room asks, the way
    /// `Connection::read_available` does.
    fn read(input: &mut InputBuffer, mut bytes: &[u8], spare: &mut Vec<u8>) {
        while !bytes.is_empty() {
            let room = input.room(usize::MAX, spare);
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
            input.filled(n);
            bytes = &bytes[n..];
        }
    }

    #[test]
    fn consuming_moves_nothing_and_an_empty_buffer_starts_over() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        read(&mut input, b"hello world", &mut spare);
        let storage_start = input.unread().as_ptr();
        input.consume(6);
        assert_eq!(input.unread(), b"world");
        // Still the same storage, read from an offset: no bytes were moved.
        assert_eq!(input.unread().as_ptr(), storage_start.wrapping_add(6));
        input.consume(100);
        assert!(input.is_empty());
        assert_eq!((input.start, input.end), (0, 0));
    }

    #[test]
    fn reads_append_after_the_unread_bytes() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        read(&mut input, b"abc", &mut spare);
        input.consume(1);
        read(&mut input, b"def", &mut spare);
        assert_eq!(input.unread(), b"bcdef");
    }

    #[test]
    fn room_is_bounded_by_the_limit() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        assert!(input.room(0, &mut spare).is_empty());
        assert_eq!(input.room(10, &mut spare).len(), 10);
        assert!(input.room(usize::MAX, &mut spare).len() >= READ_CHUNK_BYTES);
    }

    #[test]
    fn compaction_moves_the_unread_bytes_to_the_front_when_room_runs_out() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        let first: Vec<u8> = (0..NEW_STORAGE_BYTES).map(|i| i as u8).collect();
        read(&mut input, &first, &mut spare);
        input.consume(NEW_STORAGE_BYTES - 10);
        // No room left at the end: the 10 unread bytes move to the front, and no storage is added.
        read(&mut input, b"next", &mut spare);
        assert_eq!(input.capacity(), NEW_STORAGE_BYTES);
        assert_eq!(input.start, 0);
        assert_eq!(&input.unread()[..10], &first[NEW_STORAGE_BYTES - 10..]);
        assert_eq!(&input.unread()[10..], b"next");
    }

    #[test]
    fn storage_grows_when_the_unread_bytes_need_it() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        let big = vec![7u8; NEW_STORAGE_BYTES];
        read(&mut input, &big, &mut spare);
        read(&mut input, b"more", &mut spare);
        assert!(input.capacity() >= NEW_STORAGE_BYTES + READ_CHUNK_BYTES);
        assert_eq!(input.len(), NEW_STORAGE_BYTES + 4);
        assert!(input.unread().ends_with(b"\x07more"));
    }

    #[test]
    fn empty_storage_goes_to_the_spare_and_the_next_reader_borrows_it() {
        let mut spare = Vec::new();
        let mut first = InputBuffer::default();
        read(&mut first, b"request", &mut spare);
        first.clear();
        first.park(&mut spare);
        assert_eq!(first.capacity(), 0, "an idle connection holds no storage");
        assert_eq!(spare.len(), NEW_STORAGE_BYTES);
        let spare_at = spare.as_ptr();
        let mut second = InputBuffer::default();
        read(&mut second, b"xyz", &mut spare);
        assert_eq!(second.unread(), b"xyz");
        assert_eq!(second.unread().as_ptr(), spare_at, "the same storage, lent");
        assert!(spare.is_empty());
    }

    #[test]
    fn a_few_leftover_bytes_are_kept_alone_and_move_back_into_the_spare() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        read(&mut input, b"a frame and half of the next", &mut spare);
        input.consume(11);
        input.park(&mut spare);
        assert_eq!(input.unread(), b" half of the next");
        assert_eq!(input.capacity(), input.len(), "just the leftover");
        assert_eq!(spare.len(), NEW_STORAGE_BYTES, "the big storage went back");
        // The next read goes into the big spare, taking the few bytes along: a read's worth of room.
        let room = input.room(usize::MAX, &mut spare).len();
        assert!(room >= READ_CHUNK_BYTES);
        assert_eq!(input.capacity(), NEW_STORAGE_BYTES);
        assert!(spare.is_empty());
        read(&mut input, b"!", &mut spare);
        assert_eq!(input.unread(), b" half of the next!");
    }

    #[test]
    fn a_larger_leftover_moves_out_of_a_big_storage_with_room_for_a_read() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        let leftover = vec![5u8; 2 * SMALL_LEFTOVER_BYTES];
        read(&mut input, b"0123456789", &mut spare);
        read(&mut input, &leftover, &mut spare);
        input.consume(10);
        input.park(&mut spare);
        assert_eq!(input.unread(), &leftover[..]);
        assert_eq!(input.capacity(), input.len() + PARKED_ROOM_BYTES);
        assert_eq!(spare.len(), NEW_STORAGE_BYTES, "the big storage went back");
        // The next read fits in the room kept: the spare stays where it is, the leftover does not move.
        let leftover_at = input.unread().as_ptr();
        read(&mut input, b"!", &mut spare);
        assert_eq!(input.unread().as_ptr(), leftover_at);
        assert_eq!(spare.len(), NEW_STORAGE_BYTES);
    }

    #[test]
    fn a_slow_sender_costs_no_copy_per_packet() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        // 40 KiB of a message that is not whole yet, then one byte per packet.
        read(&mut input, &vec![7u8; 40 * 1024], &mut spare);
        input.park(&mut spare);
        let kept_at = input.unread().as_ptr();
        for _ in 0..1000 {
            read(&mut input, b"x", &mut spare);
            input.park(&mut spare);
            assert_eq!(
                input.unread().as_ptr(),
                kept_at,
                "the pending bytes were moved"
            );
        }
        assert_eq!(input.len(), 40 * 1024 + 1000);
        assert!(input.capacity() <= 2 * input.len() + PARKED_ROOM_BYTES);
    }

    #[test]
    fn growth_stops_at_the_limit() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        let limit = 300 * 1024;
        let mut total = 0;
        while total < limit {
            let room = input.room(limit - total, &mut spare);
            let n = room.len();
            room.fill(1);
            input.filled(n);
            total += n;
        }
        assert_eq!(input.len(), limit);
        assert!(
            input.capacity() <= limit,
            "zero-filled storage is resident: it must not double past what may be held ({})",
            input.capacity()
        );
    }

    #[test]
    fn a_mostly_full_storage_is_kept_when_parked() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        read(&mut input, &vec![1u8; 2 * READ_CHUNK_BYTES], &mut spare);
        input.park(&mut spare);
        assert_eq!(
            input.capacity(),
            NEW_STORAGE_BYTES,
            "half full: kept as it is"
        );
        assert!(spare.is_empty());
    }

    #[test]
    fn a_huge_storage_is_not_kept_as_the_spare() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        read(&mut input, &vec![1u8; 4 * MAX_SPARE_BYTES], &mut spare);
        input.clear();
        input.park(&mut spare);
        assert!(spare.is_empty());
        assert_eq!(input.capacity(), 0);
    }

    #[test]
    fn a_lent_storage_keeps_its_bytes_and_reading_goes_on_in_fresh_storage() {
        let mut spare = Vec::new();
        let mut input = InputBuffer::default();
        read(&mut input, b"abcdefgh", &mut spare);
        input.consume(3);
        assert_eq!(input.storage_range(1..3), 4..6);
        input.consume(3);
        let fresh = vec![0u8; READ_CHUNK_BYTES];
        let fresh_at = fresh.as_ptr();
        let lent = input.lend_storage(fresh);
        assert_eq!(
            &lent[..8],
            b"abcdefgh",
            "the lent bytes stay where they are"
        );
        assert_eq!(input.unread(), b"gh", "the unread bytes moved along");
        assert_eq!(input.unread().as_ptr(), fresh_at);
        read(&mut input, b"ij", &mut spare);
        assert_eq!(input.unread(), b"ghij");
        // Fresh storage too small for the unread bytes grows to hold them.
        let _ = input.lend_storage(Vec::new());
        assert_eq!(input.unread(), b"ghij");
    }

    /// Any sequence of reads and consumes leaves exactly the bytes not yet consumed, in order.
    #[test]
    fn split_reads_and_consumes_keep_the_byte_stream() {
        let stream: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for read_len in [1, 7, 1000, READ_CHUNK_BYTES - 1, READ_CHUNK_BYTES + 3] {
            let mut spare = Vec::new();
            let mut input = InputBuffer::default();
            let mut consumed = 0;
            for (i, piece) in stream.chunks(read_len).enumerate() {
                read(&mut input, piece, &mut spare);
                assert_eq!(input.unread(), &stream[consumed..consumed + input.len()]);
                let take = (input.len() / 2).max(i % 3).min(input.len());
                input.consume(take);
                consumed += take;
                if i % 5 == 0 {
                    input.park(&mut spare);
                }
            }
            assert_eq!(input.unread(), &stream[consumed..]);
        }
    }
}
