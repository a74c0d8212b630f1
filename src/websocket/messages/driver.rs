//! One connection shared by its handles: the [`Conn`] under a lock, and the
//! tasks waiting on it.
//!
//! Any handle that is polled (the socket's `recv` or `send`, a
//! [`Receiver`](super::Receiver), a [`Sender`](super::Sender)) takes the
//! lock and drives the connection: it writes what is queued, reads what
//! has arrived (data messages wait for the receiving handle), answers
//! Pings, runs the keepalive and write timers and sends Close 1001 on
//! shutdown. So either half of a split socket makes progress alone, as
//! tokio-tungstenite's and futures' `BiLock`-based halves do, without a
//! task per connection (which would cost memory while idle and a task hop
//! per message).
//!
//! The connection registers one waker of its own with the IO, the timer
//! and the queue: [`Waiters`], which wakes every task that polled a handle
//! since the last wake-up. A task is never lost because another task
//! polled after it (what `futures::StreamExt::split`, or a reader and a
//! writer task, would otherwise do to a single waker slot).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use tokio::io::{AsyncRead, AsyncWrite};

use super::conn::Conn;
use super::error::Error;
use super::sender::{Drive, Shared};
use crate::websocket::proto::Prepared;

/// The tasks to wake when the connection can make progress.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// The first task inline (most connections have one), more after it.
    list: Mutex<(Option<Waker>, Vec<Waker>)>,
    /// Set by a wake-up (the IO, the timer, the shutdown signal or the
    /// queue), taken by the next poll: it looks at the timers then, even if
    /// the task woken was busy elsewhere (a ticker between two sends).
    woken: AtomicBool,
}

impl Waiters {
    fn register(&self, waker: &Waker) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let (first, more) = &mut *list;
        match first {
            Some(w) if w.will_wake(waker) => {}
            None => *first = Some(waker.clone()),
            Some(_) if more.iter().any(|w| w.will_wake(waker)) => {}
            Some(_) => more.push(waker.clone()),
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let (first, more) =
            std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()));
        first.into_iter().chain(more).for_each(Waker::wake);
    }
}

pub(crate) struct Driver<S> {
    /// The send queue, reached without the connection's lock.
    pub(crate) shared: Arc<Shared>,
    conn: Mutex<Conn<S>>,
    waiters: Arc<Waiters>,
    /// `waiters` as a waker: what the IO, the timer and the queue hold.
    waker: Waker,
}

impl<S> std::fmt::Debug for Driver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl<S> Driver<S> {
    pub(crate) fn new(conn: Conn<S>) -> Arc<Self> {
        let waiters = Arc::new(Waiters::default());
        Arc::new(Self {
            shared: conn.shared.clone(),
            conn: Mutex::new(conn),
            waker: Waker::from(waiters.clone()),
            waiters,
        })
    }

    /// Runs `f` on the connection for the task of `cx`, which is woken when
    /// the connection can make progress again.
    pub(crate) fn enter<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Conn<S>, &mut Context<'_>) -> R,
    ) -> R {
        // Registered before polling: a wake-up that comes while the lock is
        // held finds this task in the list.
        self.waiters.register(cx.waker());
        let mut own = Context::from_waker(&self.waker);
        let mut conn = self.lock();
        if self.waiters.woken.swap(false, Ordering::AcqRel) {
            conn.look_at_timers();
        }
        f(&mut conn, &mut own)
    }

    fn lock(&self) -> MutexGuard<'_, Conn<S>> {
        // A panic in a poll leaves the connection in a state the next poll
        // can read: every field is changed by plain assignments.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Drive for Driver<S> {
    fn poll_written(&self, cx: &mut Context<'_>, seq: u64) -> Poll<Result<(), Error>> {
        self.enter(cx, |conn, cx| conn.poll_written(cx, seq))
    }

    fn send_now(&self, prepared: &Arc<Prepared>) -> bool {
        // A handle polling the connection writes the queue itself.
        let mut conn = match self.conn.try_lock() {
            Ok(conn) => conn,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        // The connection's own waker: what the IO wakes when the write can
        // go on is the connection's tasks, not the caller.
        let mut own = Context::from_waker(&self.waker);
        match conn.send_now(prepared, &mut own) {
            None => false,
            Some(true) => true,
            Some(false) => {
                // Taken, not all written: the connection's tasks go on
                // (and run the write timeout).
                drop(conn);
                self.waker.wake_by_ref();
                true
            }
        }
    }
}
