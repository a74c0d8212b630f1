//! [`SlowConsumer::Wait`](super::SlowConsumer::Wait): a publish waits, up to
//! each subscriber's deadline, for room in the queues that were full.

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use crate::websocket::messages::sender::{Refused, Shared};
use crate::websocket::proto::Prepared;

/// Queues `prepared` on each of `waits` as room comes, all at once; closes
/// with 1013 those still full at their deadline. Returns (delivered,
/// closed).
pub(super) async fn room(
    prepared: &Arc<Prepared>,
    waits: Vec<(Arc<Shared>, Duration)>,
) -> (usize, usize) {
    let now = Instant::now();
    let mut waits: Vec<(Arc<Shared>, Instant)> = waits
        .into_iter()
        .map(|(queue, wait)| (queue, now + wait))
        .collect();
    let (mut delivered, mut closed) = (0, 0);
    let mut sleep = Box::pin(tokio::time::sleep_until(now));
    poll_fn(|cx| {
        let now = Instant::now();
        waits.retain(|(queue, deadline)| {
            match queue.push_prepared(prepared.clone(), Some(cx.waker())) {
                Ok(_) => {
                    delivered += 1;
                    false
                }
                Err(Refused::Closed) => false,
                Err(Refused::Full) if *deadline <= now => {
                    super::close_slow(queue);
                    closed += 1;
                    false
                }
                Err(Refused::Full) => true,
            }
        });
        match waits.iter().map(|(_, deadline)| *deadline).min() {
            None => Poll::Ready(()),
            Some(next) => {
                // Woken by the first deadline, or by room (the queue keeps
                // this task's waker until it pops a message).
                sleep.as_mut().reset(next);
                if sleep.as_mut().poll(cx).is_ready() {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    })
    .await;
    (delivered, closed)
}
