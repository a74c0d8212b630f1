//! [`Tasks`]: connection tasks that can be waited for, and ended at once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::AbortHandle;
use tokio_util::task::TaskTracker;

/// Tasks that each serve one connection: the handlers of upgraded
/// connections (one set per layer), and `serve`'s HTTP connections.
///
/// Ending one aborts it: tokio drops its future where it awaits, and the
/// connection's IO with it, so its socket is closed. Each task's abort
/// handle is kept from its spawn to its end, and removed by the task itself
/// as it ends (a JoinSet would keep finished tasks until reaped, and there
/// is no loop here to reap them). A shared `CancellationToken` selected on
/// by each task would need no map, but costs a waiter of 112 bytes in every
/// task for as long as it runs; this costs about 40 (the entry and the
/// guard), which counts when idle connections are measured in KiB.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    tracker: TaskTracker,
    running: Arc<Mutex<Running>>,
}

#[derive(Debug, Default)]
struct Running {
    next: u64,
    /// The abort handle of each task still running; `None` from the spawn
    /// until the spawner stores it (the task may be over by then).
    handles: HashMap<u64, Option<AbortHandle>>,
    aborted: bool,
}

/// Held by a task: takes its entry out of `Running` when the task ends or
/// is aborted.
struct Registered {
    running: Arc<Mutex<Running>>,
    key: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.running).handles.remove(&self.key);
    }
}

fn lock(running: &Mutex<Running>) -> MutexGuard<'_, Running> {
    // Nothing panics while holding the lock; a poisoned map is still whole.
    running.lock().unwrap_or_else(|e| e.into_inner())
}

impl Tasks {
    /// Spawns `task`, tracked until it ends or is aborted. After
    /// [`abort`](Self::abort), `task` is dropped without being run.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let key = {
            let mut running = lock(&self.running);
            if running.aborted {
                return;
            }
            let key = running.next;
            running.next += 1;
            running.handles.insert(key, None);
            key
        };
        let registered = Registered {
            running: self.running.clone(),
            key,
        };
        let handle = self.tracker.spawn(async move {
            let _registered = registered;
            task.await;
        });
        let mut running = lock(&self.running);
        if running.aborted {
            // `abort` came between the two locks and found no handle.
            handle.abort();
        } else if let Some(slot) = running.handles.get_mut(&key) {
            *slot = Some(handle.abort_handle());
        }
    }

    /// How many tasks are running.
    pub(crate) fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Resolves once no task is running.
    pub(crate) async fn wait(&self) {
        // A TaskTracker's `wait` resolves only once it is closed; closing
        // does not stop it tracking tasks spawned later.
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Ends every task running now, and drops every one spawned from now
    /// on unrun; resolves once all are gone, with how many were running.
    pub(crate) async fn abort(&self) -> usize {
        let running = self.len();
        let handles: Vec<AbortHandle> = {
            let mut running = lock(&self.running);
            running.aborted = true;
            running
                .handles
                .values_mut()
                .filter_map(Option::take)
                .collect()
        };
        // Outside the lock, which each task takes as it ends.
        for handle in handles {
            handle.abort();
        }
        self.wait().await;
        running
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Sets its flag when dropped.
    struct Dropped(Arc<AtomicBool>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }

    #[tokio::test]
    async fn abort_drops_what_runs_and_what_comes_after() {
        let tasks = Tasks::default();
        let first = Arc::new(AtomicBool::new(false));
        let guard = Dropped(first.clone());
        tasks.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks.abort().await, 1);
        assert!(
            first.load(Ordering::Acquire),
            "the task's future was dropped"
        );
        assert_eq!(tasks.len(), 0);

        let late = Arc::new(AtomicBool::new(false));
        let guard = Dropped(late.clone());
        let ran = Arc::new(AtomicBool::new(false));
        let ran_too = ran.clone();
        tasks.spawn(async move {
            let _guard = guard;
            ran_too.store(true, Ordering::Release);
        });
        tasks.wait().await;
        assert!(late.load(Ordering::Acquire));
        assert!(
            !ran.load(Ordering::Acquire),
            "a task spawned after the abort never runs"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_take_their_abort_handles_along_when_they_end() {
        let tasks = Tasks::default();
        for i in 0..1000 {
            // Some end before their spawner stores the handle, some after.
            tasks.spawn(async move {
                if i % 2 == 0 {
                    tokio::task::yield_now().await;
                }
            });
        }
        tasks.wait().await;
        assert!(lock(&tasks.running).handles.is_empty());
    }
}
