//! [`Tasks`]: connection tasks that can be waited for, and ended at once.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Tasks that each serve one connection: the handlers of upgraded
/// connections (one set per layer), and `serve`'s HTTP connections.
///
/// Ending one drops its future inside the task, at the point where it
/// awaits: the connection's IO goes with it, so its socket is closed. A
/// JoinSet or a list of abort handles would do the same, but needs reaping
/// as tasks end; a shared token costs one waiter per task and nothing after,
/// and a task spawned after [`abort`](Self::abort) (a switch that was
/// already under way) ends at once.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    tracker: TaskTracker,
    abort: CancellationToken,
}

impl Tasks {
    /// Spawns `task`, tracked until it ends or is aborted.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let abort = self.abort.clone();
        self.tracker.spawn(async move {
            // Dropped here on abort, before the tracker counts the task gone.
            let _ = abort.run_until_cancelled(task).await;
        });
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

    /// Ends every task running now, and every one spawned from now on;
    /// resolves once all are gone, with how many were running.
    pub(crate) async fn abort(&self) -> usize {
        let running = self.len();
        self.abort.cancel();
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
}
