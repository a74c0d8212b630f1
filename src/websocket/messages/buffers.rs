//! Buffers lent by the thread: one read and one write buffer kept per
//! thread between uses, so that a connection holds a buffer only while a
//! message passes (an idle one holds none) and a busy one does not
//! allocate and free one per message, as uWebSockets keeps one receive
//! buffer per event loop.
//!
//! A connection borrows the thread's buffer when it starts to read or
//! write and gives it back, empty, when it is about to wait or has written
//! everything; on a multi-threaded runtime it may give it back to another
//! worker's slot, which only moves the buffer. A buffer still shared with
//! a message the handler holds is lent again only once the message is
//! gone ([`BytesMut::try_reclaim`]); until then only the room behind the
//! message is lent, which is this buffer's own.

use std::cell::Cell;
use std::thread::LocalKey;

use bytes::BytesMut;

/// The largest buffer a thread keeps: a larger one (after a large message)
/// is freed, so a thread holds at most twice this.
const KEEP_MAX: usize = 128 * 1024;

/// Which of the thread's two buffers.
pub(crate) type Slot = LocalKey<Cell<Option<BytesMut>>>;

thread_local! {
    /// The buffer frames are read into.
    pub(crate) static READ: Cell<Option<BytesMut>> = const { Cell::new(None) };
    /// The buffer frames are encoded into.
    pub(crate) static WRITE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// Makes `buf` (which holds no allocation) the thread's buffer of `slot`
/// when that one has room for `additional` bytes without copying;
/// otherwise leaves `buf` empty for `reserve` to allocate.
pub(crate) fn borrow(slot: &'static Slot, buf: &mut BytesMut, additional: usize) {
    debug_assert_eq!(buf.capacity(), 0);
    // `try_with`: a connection dropped while its thread ends allocates.
    if let Ok(Some(mut lent)) = slot.try_with(Cell::take) {
        if lent.try_reclaim(additional) {
            *buf = lent;
        }
    }
}

/// Gives `buf` back to the thread's `slot` if it is empty, leaving no
/// allocation behind; keeps nothing over [`KEEP_MAX`], and one buffer per
/// slot (the larger).
pub(crate) fn give_back(slot: &'static Slot, buf: &mut BytesMut) {
    if !buf.is_empty() || buf.capacity() == 0 {
        return;
    }
    let buf = std::mem::take(buf);
    if buf.capacity() > KEEP_MAX {
        return;
    }
    let _ = slot.try_with(|cell| {
        let kept = cell.take();
        cell.set(match kept {
            Some(kept) if kept.capacity() >= buf.capacity() => Some(kept),
            _ => Some(buf),
        });
    });
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, Bytes};

    use super::*;

    #[test]
    fn a_buffer_given_back_is_lent_again_without_allocating() {
        let mut buf = BytesMut::with_capacity(4096);
        buf.put_slice(b"frame");
        let ptr = buf.as_ptr();
        buf.clear();
        give_back(&READ, &mut buf);
        assert_eq!(buf.capacity(), 0, "nothing is held after giving back");
        let mut next = BytesMut::new();
        borrow(&READ, &mut next, 1024);
        assert_eq!(next.as_ptr(), ptr, "the same allocation");
        assert!(next.capacity() >= 1024);
    }

    #[test]
    fn a_buffer_shared_with_a_live_message_lends_only_its_own_room() {
        let mut buf = BytesMut::with_capacity(4096);
        buf.put_slice(b"payload");
        let message: Bytes = buf.split_to(7).freeze();
        give_back(&WRITE, &mut buf);
        let mut next = BytesMut::new();
        borrow(&WRITE, &mut next, 16);
        next.put_slice(b"overwritten?");
        assert_eq!(&message[..], b"payload", "the message is untouched");
        let mut more = BytesMut::new();
        give_back(&WRITE, &mut next.split_off(0));
        borrow(&WRITE, &mut more, 1 << 20);
        assert_eq!(more.capacity(), 0, "too small: the borrower allocates");
    }

    #[test]
    fn a_buffer_with_data_or_too_large_is_not_kept() {
        let mut buf = BytesMut::with_capacity(64);
        buf.put_slice(b"x");
        give_back(&READ, &mut buf);
        assert_eq!(&buf[..], b"x", "a buffer with data stays with its owner");
        let mut large = BytesMut::with_capacity(KEEP_MAX + 1);
        give_back(&READ, &mut large);
        assert_eq!(large.capacity(), 0);
        let mut next = BytesMut::new();
        borrow(&READ, &mut next, 1);
        assert!(next.capacity() <= KEEP_MAX);
    }
}
