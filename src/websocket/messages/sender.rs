//! The outgoing queue shared by a socket and its [`Sender`] handles, bounded
//! in bytes and in messages, and the `Sender` itself.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use futures_sink::Sink;

use super::error::{Error, TrySendError};
use super::message::{check_sendable, Message};
use crate::websocket::proto::Prepared;

/// What one queued message counts against the send buffer besides its
/// payload: its queue slot and frame header, and what its `Bytes` holds.
/// So that a flood of empty messages is bounded too (65,536 fit in the
/// default 4 MiB).
pub(crate) const MESSAGE_OVERHEAD: usize = 64;

/// What a [`Sender`](super::Sender) asks of its connection, whatever the
/// IO type.
pub(crate) trait Drive: Send + Sync {
    /// Drives the connection until the message numbered `seq` is written
    /// and flushed (`u64::MAX`: until nothing is left to write).
    fn poll_written(&self, cx: &mut Context<'_>, seq: u64) -> Poll<Result<(), Error>>;

    /// Sends `prepared` from the calling task, when no handle is driving
    /// the connection and nothing else is queued or being written (so no
    /// task waits for this write, and nothing jumps a queue): `true` when
    /// the connection took it (written, or left to the connection's tasks,
    /// woken, when the socket is full); `false` when it did not, and the
    /// caller queues it.
    fn send_now(&self, prepared: &Arc<Prepared>) -> bool;
}

/// The queue between handles and the connection that writes it.
#[derive(Debug)]
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    /// The queue was found empty by the connection's [`pop`](Self::pop),
    /// which registered its waker, and nobody has taken the lock since:
    /// the next `pop` answers without the lock (the connection looks once
    /// per write, and the queue is empty nearly every time). Set only by
    /// that `pop`, cleared by every lock; whoever queues a message takes
    /// the lock, so a `pop` that read it just before is woken by that push
    /// (or, for the connection's own pushes, looks again next).
    idle: AtomicBool,
}

/// What waits in the queue: a message of this connection's own, or a frame
/// encoded once for many connections (a topic's publish).
#[derive(Debug)]
pub(crate) enum Outgoing {
    Message(Message),
    Prepared(Arc<Prepared>),
}

impl Outgoing {
    fn cost(&self) -> usize {
        let len = match self {
            Outgoing::Message(message) => message.len(),
            Outgoing::Prepared(prepared) => prepared.len(),
        };
        len.saturating_add(MESSAGE_OVERHEAD)
    }
}

/// Why a message was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Full,
    Closed,
}

/// Called when the queue closes: takes the connection out of the topics it
/// subscribed to.
pub(crate) struct OnClose(Box<dyn FnOnce() + Send>);

impl OnClose {
    pub(crate) fn new(f: impl FnOnce() + Send + 'static) -> Self {
        Self(Box::new(f))
    }
}

impl std::fmt::Debug for OnClose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnClose")
    }
}

#[derive(Debug)]
struct Queue {
    /// Each message with its sequence number.
    messages: VecDeque<(u64, Outgoing)>,
    /// What the queued messages count: payload plus [`MESSAGE_OVERHEAD`].
    bytes: usize,
    /// Most bytes counted; one message is always let in.
    limit: usize,
    /// The sequence number of the next message queued (or encoded
    /// straight away by the socket's own `send`).
    next_seq: u64,
    /// No more messages: a Close was queued or sent, the peer's Close
    /// arrived, or the connection is gone.
    closed: bool,
    /// The connection, woken when a message is queued.
    wake: Option<Waker>,
    /// Handles waiting for room.
    waiting: Vec<Waker>,
    /// Run once when the queue closes (the topics' unsubscribe), each with
    /// the token that cancels it.
    on_close: Vec<(u64, OnClose)>,
    next_token: u64,
}

impl Queue {
    fn has_room(&self) -> bool {
        self.bytes == 0 || self.bytes < self.limit
    }

    /// Adds `message`: always when `force` (a Sink that was told there was
    /// room, a Close), else only if it fits; otherwise registers `waker`
    /// (if any) and gives the message back.
    fn enqueue(
        &mut self,
        message: Message,
        waker: Option<&Waker>,
        force: bool,
    ) -> Result<u64, TrySendError> {
        match self.enqueue_outgoing(Outgoing::Message(message), waker, force) {
            Ok(seq) => Ok(seq),
            Err((Outgoing::Message(message), Refused::Full)) => Err(TrySendError::full(message)),
            Err((Outgoing::Message(message), Refused::Closed)) => {
                Err(TrySendError::closed(message))
            }
            Err((Outgoing::Prepared(_), _)) => unreachable!("a message was queued"),
        }
    }

    fn enqueue_outgoing(
        &mut self,
        outgoing: Outgoing,
        waker: Option<&Waker>,
        force: bool,
    ) -> Result<u64, (Outgoing, Refused)> {
        if self.closed {
            return Err((outgoing, Refused::Closed));
        }
        let cost = outgoing.cost();
        if !force && self.bytes > 0 && self.bytes.saturating_add(cost) > self.limit {
            if let Some(waker) = waker {
                if !self.waiting.iter().any(|w| w.will_wake(waker)) {
                    self.waiting.push(waker.clone());
                }
            }
            return Err((outgoing, Refused::Full));
        }
        // RFC 6455 §5.5.1: nothing is sent after a Close, so nothing is
        // taken after one either.
        if matches!(outgoing, Outgoing::Message(Message::Close(_))) {
            self.closed = true;
        }
        self.bytes = self.bytes.saturating_add(cost);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.messages.push_back((seq, outgoing));
        Ok(seq)
    }
}

impl Shared {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                bytes: 0,
                limit,
                next_seq: 1,
                closed: false,
                wake: None,
                waiting: Vec::new(),
                on_close: Vec::new(),
                next_token: 0,
            }),
            idle: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves the queue consistent: every
        // change is a single push or pop.
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        self.idle.store(false, Ordering::Release);
        queue
    }

    /// Queues `message` (see [`Queue::enqueue`]) and wakes the connection;
    /// its sequence number.
    pub(crate) fn push(
        &self,
        message: Message,
        waker: Option<&Waker>,
        force: bool,
    ) -> Result<u64, TrySendError> {
        let mut queue = self.lock();
        let seq = queue.enqueue(message, waker, force)?;
        let wake = queue.wake.take();
        drop(queue);
        if let Some(wake) = wake {
            wake.wake();
        }
        Ok(seq)
    }

    /// The sequence number of a message the connection sends at once,
    /// past the queue: only while the queue is open and empty, so that it
    /// goes after everything taken before it.
    pub(crate) fn next_seq_if_empty(&self) -> Option<u64> {
        let mut queue = self.lock();
        if queue.closed || !queue.messages.is_empty() {
            return None;
        }
        let seq = queue.next_seq;
        queue.next_seq += 1;
        Some(seq)
    }

    /// Queues a frame encoded once for many connections (a topic's
    /// publish) if it fits, and wakes the connection; with `waker`,
    /// registers it for room when full.
    pub(crate) fn push_prepared(
        &self,
        prepared: Arc<Prepared>,
        waker: Option<&Waker>,
    ) -> Result<u64, Refused> {
        let mut queue = self.lock();
        let seq = queue
            .enqueue_outgoing(Outgoing::Prepared(prepared), waker, false)
            .map_err(|(_, why)| why)?;
        let wake = queue.wake.take();
        drop(queue);
        if let Some(wake) = wake {
            wake.wake();
        }
        Ok(seq)
    }

    /// Runs `f` when the queue closes; the token that cancels it, or
    /// `None` (and `f` is not kept) when it is closed already.
    pub(crate) fn on_close(&self, f: OnClose) -> Option<u64> {
        let mut queue = self.lock();
        if queue.closed {
            return None;
        }
        let token = queue.next_token;
        queue.next_token += 1;
        queue.on_close.push((token, f));
        Some(token)
    }

    /// Forgets the `on_close` call of `token`.
    pub(crate) fn cancel_on_close(&self, token: u64) {
        let mut queue = self.lock();
        if let Some(i) = queue.on_close.iter().position(|(t, _)| *t == token) {
            drop(queue.on_close.swap_remove(i));
        }
        if queue.on_close.is_empty() && queue.on_close.capacity() > 4 {
            queue.on_close = Vec::new();
        }
    }

    /// How many `on_close` calls wait (the topics' churn test).
    #[cfg(test)]
    pub(crate) fn on_close_len(&self) -> usize {
        self.lock().on_close.len()
    }

    /// The socket's own `send`: when `take_back` and nothing is queued, a
    /// sequence number and the message back, for the socket to encode at
    /// once (nothing to keep in order behind); otherwise queues it as
    /// [`push`](Self::push) does, without waking the connection, which is
    /// the caller and writes next.
    pub(crate) fn push_own(
        &self,
        message: Message,
        waker: &Waker,
        take_back: bool,
    ) -> Result<(u64, Option<Message>), TrySendError> {
        let mut queue = self.lock();
        if take_back && !queue.closed && queue.messages.is_empty() {
            if matches!(message, Message::Close(_)) {
                queue.closed = true;
            }
            let seq = queue.next_seq;
            queue.next_seq += 1;
            return Ok((seq, Some(message)));
        }
        queue
            .enqueue(message, Some(waker), false)
            .map(|seq| (seq, None))
    }

    /// Queues a Close the connection sends itself (an answer, a shutdown),
    /// past the limit, unless a Close is already queued.
    pub(crate) fn push_close(&self, message: Message) {
        let _ = self.lock().enqueue(message, None, true);
    }

    /// The next message to write with its sequence number, and whether
    /// more wait behind it; or `None` after registering `waker` for the
    /// next push. `waker` is the connection's own, the same at every call
    /// (its registration is what the lock-free answer relies on).
    pub(crate) fn pop(&self, waker: &Waker) -> Option<(u64, Outgoing, bool)> {
        if self.idle.load(Ordering::Acquire) {
            return None;
        }
        let mut queue = self.lock();
        let Some((seq, message)) = queue.messages.pop_front() else {
            if queue.messages.capacity() > 16 {
                queue.messages = VecDeque::new();
            }
            if !queue.wake.as_ref().is_some_and(|w| w.will_wake(waker)) {
                queue.wake = Some(waker.clone());
            }
            self.idle.store(true, Ordering::Release);
            return None;
        };
        queue.bytes = queue.bytes.saturating_sub(message.cost());
        let more = !queue.messages.is_empty();
        let waiting = std::mem::take(&mut queue.waiting);
        drop(queue);
        waiting.into_iter().for_each(Waker::wake);
        Some((seq, message, more))
    }

    /// Whether the queue takes another message now; registers `waker` for
    /// when it does if not.
    pub(crate) fn poll_room(&self, waker: &Waker) -> Poll<Result<(), Error>> {
        let mut queue = self.lock();
        if queue.closed {
            return Poll::Ready(Err(Error::Closed));
        }
        if queue.has_room() {
            return Poll::Ready(Ok(()));
        }
        if !queue.waiting.iter().any(|w| w.will_wake(waker)) {
            queue.waiting.push(waker.clone());
        }
        Poll::Pending
    }

    /// The sequence number of the last message taken.
    pub(crate) fn last_seq(&self) -> u64 {
        self.lock().next_seq - 1
    }

    /// Refuses further messages and wakes every waiting handle; with
    /// `drop_queued`, also drops what is queued (the connection is gone, or
    /// failed: RFC 6455 §7.1.7 sends nothing after the Close that names
    /// the failure).
    pub(crate) fn close(&self, drop_queued: bool) {
        let mut queue = self.lock();
        queue.closed = true;
        if drop_queued {
            queue.messages = VecDeque::new();
            queue.bytes = 0;
        }
        let waiting = std::mem::take(&mut queue.waiting);
        let on_close = std::mem::take(&mut queue.on_close);
        drop(queue);
        waiting.into_iter().for_each(Waker::wake);
        // Outside the lock: these take the topics' table.
        on_close.into_iter().for_each(|(_, f)| (f.0)());
    }

    /// Ends a subscriber too slow for its topic: drops what it has not
    /// taken yet (stale by now; a `send` waiting for one of those returns
    /// `Closed`) and queues `message`, its Close (RFC 6455 §7.4.1: 1013, try
    /// again later), so that its memory goes at once.
    pub(crate) fn push_slow_close(&self, message: Message) {
        let mut queue = self.lock();
        queue.messages = VecDeque::new();
        queue.bytes = 0;
        let _ = queue.enqueue(message, None, true);
        let wake = queue.wake.take();
        drop(queue);
        if let Some(wake) = wake {
            wake.wake();
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// A cheap, cloneable handle that sends messages on a
/// [`WebSocket`](super::WebSocket) from any task: chat rooms, fan-out, a
/// ticker.
///
/// The queue is bounded by
/// [`WebSocketConfig::max_write_buffer_size`](crate::websocket::FrameLimits::max_write_buffer_size)
/// bytes, each message counting its payload and 64 bytes more.
/// [`send`](Self::send) waits for room, then writes until its message is
/// on the wire; [`try_send`](Self::try_send) queues without waiting and
/// gives the message back when there is no room. A `Sender` makes the
/// connection progress by itself whenever it is polled (writing, answering
/// Pings, keepalive, the write timeout), whether or not the
/// [`Receiver`](super::Receiver) is being polled; a message queued with
/// `try_send` is written by the next poll of any handle (`recv`, `send`,
/// [`flush`](Self::flush)).
///
/// The connection lives while the [`WebSocket`](super::WebSocket) or its
/// [`Receiver`](super::Receiver) does: once that is dropped, a `Sender`
/// returns [`Error::Closed`].
///
/// As a [`Sink`], `poll_ready` says there is room only when the next
/// message will be taken: after it, `start_send` never drops the message
/// (it may take the queue past its bound by that one message). `poll_flush`
/// writes until every message sent through this handle is on the wire.
///
/// ```
/// use tower_upgrade::websocket::{Message, Sender};
///
/// async fn broadcast(room: &[Sender], text: &str) {
///     for member in room {
///         // A member whose buffer is full misses this message.
///         let _ = member.try_send(Message::text(text.to_owned()));
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Sender {
    pub(crate) shared: Arc<Shared>,
    pub(crate) driver: Weak<dyn Drive>,
    /// The sequence number of the last message this handle queued.
    last: u64,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// The connection, while it lives (the topics write to it directly).
    pub(crate) fn driver(&self) -> Weak<dyn Drive> {
        self.driver.clone()
    }

    pub(crate) fn new(shared: Arc<Shared>, driver: Weak<dyn Drive>) -> Self {
        Self {
            shared,
            driver,
            last: 0,
        }
    }

    /// Queues `message`, waiting while the send buffer is full, then
    /// writes until it is on the wire (not waiting for messages other
    /// handles queued after it).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the connection is closing or closed (the
    /// peer's Close arrived, a Close was sent); [`Error::InvalidCloseCode`]
    /// for a Close whose code may not be sent; IO errors and the write
    /// timeout.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        check_sendable(&message)?;
        let mut message = Some(message);
        let seq = poll_fn(|cx| {
            let next = message.take().expect("polled after completion");
            match self.shared.push(next, Some(cx.waker()), false) {
                Ok(seq) => Poll::Ready(Ok(seq)),
                // Closed: the Close owed goes out first (see
                // `Conn::poll_closed`), then the error.
                Err(e) if e.is_closed() => {
                    message = Some(e.into_message());
                    match self.poll_written(cx, u64::MAX) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(_) => Poll::Ready(Err(Error::Closed)),
                    }
                }
                Err(e) => {
                    message = Some(e.into_message());
                    // Full: writing makes room.
                    match self.poll_written(cx, u64::MAX) {
                        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        _ => Poll::Pending,
                    }
                }
            }
        })
        .await?;
        poll_fn(|cx| self.poll_written(cx, seq)).await
    }

    /// Writes until every message queued before this call (through any
    /// handle) is on the wire.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] when the connection is gone; IO errors and the
    /// write timeout.
    pub async fn flush(&self) -> Result<(), Error> {
        let seq = self.shared.last_seq();
        poll_fn(|cx| self.poll_written(cx, seq)).await
    }

    /// Queues `message` if there is room. It is written by the next poll of
    /// any handle of the connection.
    ///
    /// # Errors
    ///
    /// The message comes back in the error when the buffer is full or the
    /// connection closed, or for a Close whose code may not be sent (as a
    /// closed error: nothing was queued).
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        let message = message.into();
        if check_sendable(&message).is_err() {
            return Err(TrySendError::closed(message));
        }
        self.shared.push(message, None, false).map(drop)
    }

    /// Whether the connection no longer takes messages.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Drives the connection until the message numbered `seq` is written
    /// (`u64::MAX`: until the queue has room or nothing is left to write).
    fn poll_written(&self, cx: &mut Context<'_>, seq: u64) -> Poll<Result<(), Error>> {
        match self.driver.upgrade() {
            Some(driver) => driver.poll_written(cx, seq),
            None => Poll::Ready(Err(Error::Closed)),
        }
    }
}

impl Sink<Message> for Sender {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if let Poll::Ready(ready) = self.shared.poll_room(cx.waker()) {
                return Poll::Ready(ready);
            }
            // Full: write, which makes room (or fails).
            match self.poll_written(cx, u64::MAX) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        check_sendable(&message)?;
        // `poll_ready` saw room: the message is taken, even if another
        // handle filled the queue since.
        let this = self.get_mut();
        this.last = this
            .shared
            .push(message, None, true)
            .map_err(|_| Error::Closed)?;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.last == 0 {
            return Poll::Ready(Ok(()));
        }
        self.poll_written(cx, self.last)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.as_mut().poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_bytes_and_messages_and_gives_the_message_back() {
        let shared = Shared::new(10 + 2 * MESSAGE_OVERHEAD);
        let push = |m| shared.push(m, None, false);
        // One message is always let in, even over the limit.
        push(Message::binary(vec![0; 200])).unwrap();
        let refused = push(Message::text("x")).unwrap_err();
        assert!(!refused.is_closed());
        assert_eq!(refused.into_message(), Message::text("x"));
        assert!(shared.pop(Waker::noop()).is_some());
        push(Message::text("12345")).unwrap();
        push(Message::text("12345")).unwrap();
        assert!(push(Message::text("1")).is_err());
        // A forced push (a Sink told there was room) is never refused.
        assert!(shared.push(Message::text("1"), None, true).is_ok());
        shared.close(true);
        assert!(push(Message::text("1")).unwrap_err().is_closed());
    }

    #[test]
    fn empty_messages_count_too() {
        let shared = Shared::new(64 * 1024);
        let taken = (0..1_000_000)
            .take_while(|_| {
                shared
                    .push(Message::binary(Vec::new()), None, false)
                    .is_ok()
            })
            .count();
        assert_eq!(taken, 64 * 1024 / MESSAGE_OVERHEAD);
    }

    #[test]
    fn nothing_is_taken_after_a_close() {
        let shared = Shared::new(1 << 20);
        shared.push(Message::text("last"), None, false).unwrap();
        shared.push(Message::Close(None), None, false).unwrap();
        let refused = shared.push(Message::text("late"), None, false).unwrap_err();
        assert!(refused.is_closed());
        // What was taken before the Close stays, in order.
        let message = |o| match o {
            Outgoing::Message(m) => m,
            Outgoing::Prepared(_) => panic!("a prepared frame"),
        };
        assert_eq!(
            message(shared.pop(Waker::noop()).unwrap().1),
            Message::text("last")
        );
        assert_eq!(
            message(shared.pop(Waker::noop()).unwrap().1),
            Message::Close(None)
        );
    }
}
