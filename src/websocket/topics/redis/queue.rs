//! A queue bounded in messages and in bytes, between a side that must
//! never wait (a publish, the reader of the Redis connection) and a task
//! that may: what does not fit is refused, and the caller counts it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// The sending side.
pub(super) struct Tx<T> {
    tx: mpsc::Sender<(T, usize)>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The receiving side.
pub(super) struct Rx<T> {
    rx: mpsc::Receiver<(T, usize)>,
    bytes: Arc<AtomicUsize>,
}

/// A queue of at most `messages` items (at least one) and `max_bytes`
/// bytes, as the caller measures them.
pub(super) fn bounded<T>(messages: usize, max_bytes: usize) -> (Tx<T>, Rx<T>) {
    let (tx, rx) = mpsc::channel(messages.max(1));
    let bytes = Arc::new(AtomicUsize::new(0));
    (
        Tx {
            tx,
            bytes: bytes.clone(),
            max_bytes,
        },
        Rx { rx, bytes },
    )
}

impl<T> Tx<T> {
    /// The messages queued.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues `item` of `len` bytes; `false` (and the item dropped) when
    /// either bound would be passed or the receiver is gone.
    pub(super) fn try_push(&self, item: T, len: usize) -> bool {
        let reserved = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                queued.checked_add(len).filter(|&n| n <= self.max_bytes)
            });
        if reserved.is_err() {
            return false;
        }
        match self.tx.try_send((item, len)) {
            Ok(()) => true,
            Err(_) => {
                self.bytes.fetch_sub(len, Ordering::AcqRel);
                false
            }
        }
    }
}

impl<T> Rx<T> {
    /// Up to `limit` items, waiting for the first; an empty `batch` once
    /// every sender is gone. Cancel-safe.
    pub(super) async fn recv_many(&mut self, batch: &mut Vec<T>, limit: usize) {
        let mut taken = Vec::with_capacity(limit.min(self.rx.len().max(1)));
        self.rx.recv_many(&mut taken, limit).await;
        let mut released = 0;
        batch.extend(taken.into_iter().map(|(item, len)| {
            released += len;
            item
        }));
        self.bytes.fetch_sub(released, Ordering::AcqRel);
    }

    /// The next item; `None` once every sender is gone. Cancel-safe.
    pub(super) async fn recv(&mut self) -> Option<T> {
        let (item, len) = self.rx.recv().await?;
        self.bytes.fetch_sub(len, Ordering::AcqRel);
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_bounds_hold_and_room_comes_back() {
        let (tx, mut rx) = bounded::<u32>(3, 100);
        assert!(tx.try_push(1, 60));
        assert!(!tx.try_push(2, 41), "past the bytes");
        assert!(tx.try_push(3, 40));
        assert!(tx.try_push(4, 0));
        assert!(!tx.try_push(5, 0), "past the messages");
        assert!(!tx.try_push(6, 101), "larger than the whole bound");
        assert_eq!(rx.recv().await, Some(1));
        assert!(tx.try_push(7, 60), "room again, in messages and bytes");
        let mut batch = Vec::new();
        rx.recv_many(&mut batch, 10).await;
        assert_eq!(batch, [3, 4, 7]);
        assert!(tx.try_push(8, 100));
        drop(tx);
        assert_eq!(rx.recv().await, Some(8));
        assert_eq!(rx.recv().await, None);
        let mut batch = Vec::new();
        rx.recv_many(&mut batch, 10).await;
        assert!(batch.is_empty());
    }

    #[test]
    fn a_gone_receiver_refuses() {
        let (tx, rx) = bounded::<u32>(3, 100);
        drop(rx);
        assert!(!tx.try_push(1, 1));
        assert_eq!(tx.bytes.load(Ordering::Acquire), 0);
    }
}
