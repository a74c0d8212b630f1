//! The outgoing queue shared by a socket and its [`Sender`] handles,
//! bounded in bytes.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_sink::Sink;

use super::error::{Error, TrySendError};
use super::message::Message;

/// The queue between handles and the socket that writes it.
#[derive(Debug)]
pub(crate) struct Shared {
    queue: Mutex<Queue>,
}

#[derive(Debug)]
struct Queue {
    messages: VecDeque<Message>,
    /// Payload bytes queued.
    bytes: usize,
    /// Most payload bytes queued; one message is always let in.
    limit: usize,
    /// No more messages: the socket sent its Close or is gone.
    closed: bool,
    /// The socket's task, woken when a message is queued.
    socket: Option<Waker>,
    /// Handles waiting for room.
    waiting: Vec<Waker>,
}

impl Queue {
    /// Adds `message` if there is room; otherwise registers `waker` (if
    /// any) and gives it back.
    fn enqueue(&mut self, message: Message, waker: Option<&Waker>) -> Result<(), TrySendError> {
        if self.closed {
            return Err(TrySendError::closed(message));
        }
        let len = message.len();
        if self.bytes > 0 && self.bytes + len > self.limit {
            if let Some(waker) = waker {
                if !self.waiting.iter().any(|w| w.will_wake(waker)) {
                    self.waiting.push(waker.clone());
                }
            }
            return Err(TrySendError::full(message));
        }
        self.bytes += len;
        self.messages.push_back(message);
        Ok(())
    }
}

impl Shared {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                bytes: 0,
                limit,
                closed: false,
                socket: None,
                waiting: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves the queue consistent: every
        // change is a single push or pop.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `message`; when the queue is full, registers `waker` (if any)
    /// and gives the message back.
    pub(crate) fn push(&self, message: Message, waker: Option<&Waker>) -> Result<(), TrySendError> {
        let mut queue = self.lock();
        queue.enqueue(message, waker)?;
        let socket = queue.socket.take();
        drop(queue);
        if let Some(socket) = socket {
            socket.wake();
        }
        Ok(())
    }

    /// The socket's own `send`: `Ok(Some(message))` when `take_back` and
    /// nothing is queued, so the socket encodes it at once (nothing to keep
    /// in order behind); otherwise queues it as [`push`](Self::push) does,
    /// without waking the socket, which is the caller and writes next.
    pub(crate) fn push_own(
        &self,
        message: Message,
        waker: &Waker,
        take_back: bool,
    ) -> Result<Option<Message>, TrySendError> {
        let mut queue = self.lock();
        if take_back && !queue.closed && queue.messages.is_empty() {
            return Ok(Some(message));
        }
        queue.enqueue(message, Some(waker)).map(|()| None)
    }

    /// Queues a message past the limit: a Close the socket sends itself.
    pub(crate) fn push_unbounded(&self, message: Message) {
        let mut queue = self.lock();
        if !queue.closed {
            queue.bytes += message.len();
            queue.messages.push_back(message);
        }
    }

    /// The next message to write, or `None` after registering the socket's
    /// `waker` for the next push.
    pub(crate) fn pop(&self, waker: &Waker) -> Option<Message> {
        let mut queue = self.lock();
        let Some(message) = queue.messages.pop_front() else {
            if queue.messages.capacity() > 16 {
                queue.messages = VecDeque::new();
            }
            if !queue.socket.as_ref().is_some_and(|w| w.will_wake(waker)) {
                queue.socket = Some(waker.clone());
            }
            return None;
        };
        queue.bytes -= message.len();
        let waiting = std::mem::take(&mut queue.waiting);
        drop(queue);
        waiting.into_iter().for_each(Waker::wake);
        Some(message)
    }

    /// Whether the queue takes another message now.
    pub(crate) fn has_room(&self) -> bool {
        let queue = self.lock();
        queue.bytes < queue.limit
    }

    /// Refuses further messages, drops the queued ones and wakes every
    /// waiting handle.
    pub(crate) fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        queue.messages = VecDeque::new();
        queue.bytes = 0;
        let waiting = std::mem::take(&mut queue.waiting);
        drop(queue);
        waiting.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// A cheap, cloneable handle that queues messages on a
/// [`WebSocket`](super::WebSocket) from any task: chat rooms, fan-out.
///
/// The queue is bounded by
/// [`WebSocketConfig::max_write_buffer_size`](crate::websocket::FrameLimits::max_write_buffer_size)
/// bytes of payload: [`send`](Self::send) waits for room,
/// [`try_send`](Self::try_send) gives the message back. The socket's reading
/// side writes the queue: keep calling [`recv`](super::WebSocket::recv) (or
/// polling the [`Receiver`](super::Receiver)) for messages to leave.
///
/// As a [`Sink`], `poll_flush` completes once the message is queued, not
/// written.
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
#[derive(Clone, Debug)]
pub struct Sender {
    pub(crate) shared: Arc<Shared>,
}

impl Sender {
    /// Queues `message`, waiting while the send buffer is full.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the connection is closing or closed.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), Error> {
        let mut message = Some(message.into());
        poll_fn(|cx| {
            let next = message.take().expect("polled after completion");
            match self.shared.push(next, Some(cx.waker())) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(e) if e.is_closed() => Poll::Ready(Err(Error::Closed)),
                Err(e) => {
                    message = Some(e.into_message());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Queues `message` if there is room.
    ///
    /// # Errors
    ///
    /// The message comes back in the error when the buffer is full or the
    /// connection closed.
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), TrySendError> {
        self.shared.push(message.into(), None)
    }

    /// Whether the connection no longer takes messages.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    fn poll_room(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut queue = self.shared.lock();
        if queue.closed {
            return Poll::Ready(Err(Error::Closed));
        }
        if queue.bytes < queue.limit {
            return Poll::Ready(Ok(()));
        }
        if !queue.waiting.iter().any(|w| w.will_wake(cx.waker())) {
            queue.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Sink<Message> for Sender {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        // `poll_ready` found room; another handle may have taken it since,
        // so this one message may go past the limit.
        let mut queue = self.shared.lock();
        if queue.closed {
            return Err(Error::Closed);
        }
        queue.bytes += message.len();
        queue.messages.push_back(message);
        let socket = queue.socket.take();
        drop(queue);
        if let Some(socket) = socket {
            socket.wake();
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_bytes_and_gives_the_message_back() {
        let shared = Shared::new(10);
        let sender = Sender {
            shared: shared.clone(),
        };
        // One message is always let in, even over the limit.
        sender.try_send(Message::binary(vec![0; 20])).unwrap();
        let refused = sender.try_send(Message::text("x")).unwrap_err();
        assert!(!refused.is_closed());
        assert_eq!(refused.into_message(), Message::text("x"));
        assert!(shared.pop(Waker::noop()).is_some());
        sender.try_send(Message::text("12345")).unwrap();
        sender.try_send(Message::text("12345")).unwrap();
        assert!(sender.try_send(Message::text("1")).is_err());
        shared.close();
        assert!(sender.try_send(Message::text("1")).unwrap_err().is_closed());
    }
}
