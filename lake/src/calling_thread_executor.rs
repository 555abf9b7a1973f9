//! The Delta kernel's task executor for reading a table's log: futures are polled on the
//! thread that waits for them.
//!
//! The kernel is synchronous: it reads a log through iterators whose every item (a file's
//! bytes, a batch of decoded actions) it asks its executor to `block_on`. deltalake runs
//! the kernel on a blocking thread of the Tokio runtime and gives it an executor
//! (`TokioMultiThreadExecutor`) that spawns each of those futures as a task on the runtime
//! and waits for its answer on a channel: two thread wake-ups per item. Loading a table of
//! a checkpoint and 99 commits asks for several hundred items, each a few microseconds of
//! work, and the wake-ups were a fifth of a cold `weir sql` process's time.
//! [`CallingThreadExecutor`] polls the future on the waiting thread itself, inside the
//! runtime's context, so the reads the future makes (`spawn_blocking`, timers, sockets)
//! still run on the runtime. On a worker thread of the runtime it first hands the worker's
//! other tasks to another thread (`block_in_place`), as deltalake's executor does. A wait
//! inside a future the thread is already polling is run as deltalake's executor runs every
//! one: spawned on the runtime, its answer waited for on a channel.

use std::future::Future;

use delta_kernel::DeltaResult;
use delta_kernel_default_engine::executor::TaskExecutor;
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::runtime::{EnterGuard, Handle};

/// A kernel task executor that polls `block_on`'s future on the calling thread, in the
/// context of a multi-threaded Tokio runtime (module docs). It must not be used with a
/// current-thread runtime: `block_on` from inside that runtime's own thread would block
/// the only thread that drives its reads.
#[derive(Debug, Clone)]
pub struct CallingThreadExecutor {
    handle: Handle,
}

impl CallingThreadExecutor {
    /// The executor of the multi-threaded runtime behind `handle`.
    pub fn new(handle: Handle) -> Self {
        Self { handle }
    }
}

impl TaskExecutor for CallingThreadExecutor {
    type Guard<'a> = EnterGuard<'a>;

    fn block_on<T>(&self, task: T) -> T::Output
    where
        T: Future + Send + 'static,
        T::Output: Send + 'static,
    {
        let _context = self.handle.enter();
        // Off a worker thread (a blocking thread, or no runtime at all) `block_in_place`
        // runs the closure as it is; on a worker it moves the worker's queue to another
        // thread first.
        match futures::executor::enter() {
            Ok(entered) => {
                drop(entered);
                tokio::task::block_in_place(|| futures::executor::block_on(task))
            }
            // This thread is already polling a future that waits for this one: the task
            // runs on the runtime and the thread waits for its answer.
            Err(_) => {
                let (sender, receiver) = std::sync::mpsc::channel();
                self.handle.spawn(async move {
                    // The receiver waits until the answer comes.
                    let _ = sender.send(task.await);
                });
                tokio::task::block_in_place(|| receiver.recv())
                    .expect("the runtime runs a spawned task to its end")
            }
        }
    }

    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handle.spawn(task);
    }

    fn spawn_blocking<T, R>(&self, task: T) -> BoxFuture<'_, DeltaResult<R>>
    where
        T: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle
            .spawn_blocking(task)
            .map(|joined| joined.map_err(delta_kernel::Error::join_failure))
            .boxed()
    }

    fn enter(&self) -> EnterGuard<'_> {
        self.handle.enter()
    }
}

#[cfg(test)]
mod tests {
    use std::thread;
    use std::time::Duration;

    use super::*;

    /// A future that needs the runtime: a blocking task, a timer and a spawned task.
    async fn uses_the_runtime() -> u64 {
        let blocking = tokio::task::spawn_blocking(|| 20).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let spawned = tokio::spawn(async { 22 }).await.unwrap();
        blocking + spawned
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polls_on_the_blocking_thread_that_waits() {
        let executor = CallingThreadExecutor::new(Handle::current());
        let (waiting, polling, answer) = tokio::task::spawn_blocking(move || {
            let waiting = thread::current().id();
            let (polling, answer) = executor.block_on(async {
                let polling = thread::current().id();
                (polling, uses_the_runtime().await)
            });
            (waiting, polling, answer)
        })
        .await
        .unwrap();
        assert_eq!(polling, waiting);
        assert_eq!(answer, 42);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_on_a_worker_thread_without_stalling_its_tasks() {
        let executor = CallingThreadExecutor::new(Handle::current());
        // Every worker blocks in turn while a task it queued has to run for it to go on.
        let waits = (0..4).map(|_| {
            let executor = executor.clone();
            tokio::spawn(async move {
                let queued = tokio::spawn(uses_the_runtime());
                executor.block_on(async move { queued.await.unwrap() })
            })
        });
        for wait in waits {
            assert_eq!(wait.await.unwrap(), 42);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_inside_a_future_it_polls() {
        let executor = CallingThreadExecutor::new(Handle::current());
        let answer = tokio::task::spawn_blocking(move || {
            let inner = executor.clone();
            executor.block_on(async move { inner.block_on(uses_the_runtime()) + 1 })
        })
        .await
        .unwrap();
        assert_eq!(answer, 43);
    }

    #[test]
    fn waits_on_a_thread_outside_the_runtime() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let executor = CallingThreadExecutor::new(runtime.handle().clone());
        let answer = thread::spawn(move || executor.block_on(uses_the_runtime()))
            .join()
            .unwrap();
        assert_eq!(answer, 42);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn spawns_onto_the_runtime() {
        let executor = CallingThreadExecutor::new(Handle::current());
        let (sender, receiver) = tokio::sync::oneshot::channel();
        executor.spawn(async move { sender.send(uses_the_runtime().await).unwrap() });
        assert_eq!(receiver.await.unwrap(), 42);
        assert_eq!(executor.spawn_blocking(|| 42).await.unwrap(), 42);
    }
}
