//! The blocking client's runtime: a current-thread tokio runtime driven by a thread of its own,
//! on which callers' threads wait (`Handle::block_on`), and [`Held`], which keeps a value of the
//! async API together with that runtime.
//!
//! The driver thread sits in `Runtime::block_on` for the runtime's whole life, so the I/O and
//! timer drivers and the tasks the client spawns (connections, lease keep-alives, batched
//! gets, health probes) run whether or not a caller is waiting. A caller's future runs on the
//! caller's own thread, so any number of threads can wait on one client at once. It is the
//! shape of `reqwest::blocking` (a runtime on a thread of its own), with the futures polled on
//! the callers' threads instead of sent to the driver, so they need be neither `Send` nor
//! `'static`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// The runtime every handle of one blocking client shares; it stops when the last one goes.
pub(crate) struct Runtime {
    handle: Handle,
    /// Dropped or fired, it ends the driver thread, which drops the runtime there.
    stop: Option<oneshot::Sender<()>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// Where the calling thread is, for waiting on the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Here {
    /// A plain thread: it may wait.
    Outside,
    /// Inside an async runtime (a task, `Runtime::block_on`, or a `spawn_blocking` closure of
    /// one): a blocking wait would stall the runtime's thread, and tokio forbids starting
    /// another runtime's `block_on` there.
    InAsyncRuntime,
    /// A thread-local destructor at thread exit, where tokio's context is gone: entering a
    /// runtime would panic.
    TearingDown,
}

fn here() -> Here {
    match Handle::try_current() {
        Ok(_) => Here::InAsyncRuntime,
        Err(e) if e.is_thread_local_destroyed() => Here::TearingDown,
        Err(_) => Here::Outside,
    }
}

/// Why a call cannot wait here, if it cannot.
fn refusal(call: &'static str) -> Option<Error> {
    match here() {
        Here::Outside => None,
        Here::InAsyncRuntime => Some(Error::BlockingInAsync { call }),
        Here::TearingDown => Some(Error::invalid(format!(
            "{call} was called from a thread-local destructor, after the async runtime's context was torn down"
        ))),
    }
}

impl Runtime {
    /// Starts the runtime and its driver thread.
    ///
    /// # Errors
    /// [`Error::BlockingInAsync`] inside an async runtime; [`Error::Io`] if the runtime or
    /// its thread cannot be made.
    pub(crate) fn start(call: &'static str) -> Result<Arc<Runtime>> {
        if let Some(refused) = refusal(call) {
            return Err(refused);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("etcdgw-blocking")
            .build()
            .map_err(|source| Error::Io { source })?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("etcdgw-blocking".into())
            .spawn(move || {
                // Fired or dropped, either way the client is gone.
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Dropping it here, outside any async context, ends its tasks and connections.
                drop(runtime);
            })
            .map_err(|source| Error::Io { source })?;
        Ok(Arc::new(Runtime {
            handle,
            stop: Some(stop),
        }))
    }

    /// Runs `future` to completion on the caller's thread while the driver thread serves its
    /// I/O, timers and tasks.
    ///
    /// # Errors
    /// [`Error::BlockingInAsync`] naming `call` inside an async runtime: then the future is
    /// dropped unpolled, so nothing was sent.
    pub(crate) fn block_on<F: Future>(&self, call: &'static str, future: F) -> Result<F::Output> {
        if let Some(refused) = refusal(call) {
            return Err(refused);
        }
        Ok(self.handle.block_on(future))
    }

    /// Runs a call of the async API to completion; see [`block_on`](Self::block_on).
    pub(crate) fn run<T>(
        &self,
        call: &'static str,
        future: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.block_on(call, future)?
    }

    /// Makes this runtime the current one while `f` runs, so that what `f` drops can start
    /// its clean-up there (a guard's release, a watch's close) without waiting for it.
    /// During thread teardown, where no runtime can be entered, `f` runs as it is (what it
    /// drops cleans up without a runtime, or not at all: a lease then runs out on its own).
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        if here() == Here::TearingDown {
            return f();
        }
        let _entered = self.handle.enter();
        f()
    }

    /// Whether a blocking wait may happen on this thread.
    pub(crate) fn may_block(&self) -> bool {
        here() == Here::Outside
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Never joined: the last handle may be dropped inside an async context, where waiting
        // for the thread would block; the thread ends on its own.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A value of the async API held by a blocking handle, with the runtime its background work
/// runs on: it is dropped inside that runtime, so that its clean-up (a watch's close, a
/// guard's release in the background) finds the runtime it needs.
pub(crate) struct Held<T> {
    value: Option<T>,
    pub(crate) rt: Arc<Runtime>,
}

impl<T> Held<T> {
    pub(crate) fn new(value: T, rt: Arc<Runtime>) -> Self {
        Held {
            value: Some(value),
            rt,
        }
    }

    /// The value; `None` only after [`take`](Self::take).
    pub(crate) fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// The value, mutably; `None` only after [`take`](Self::take).
    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        self.value.as_mut()
    }

    /// Takes the value out, for a call that consumes it; the caller drops what is left
    /// inside the runtime if it must.
    pub(crate) fn take(&mut self) -> Option<T> {
        self.value.take()
    }
}

impl<T: fmt::Debug> fmt::Debug for Held<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => value.fmt(f),
            None => f.write_str("<released>"),
        }
    }
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            self.rt.enter(|| drop(value));
        }
    }
}

/// The error of a handle whose value was already consumed (a guard unlocked, a stream whose
/// consuming call ran): it cannot happen through the public API, which consumes the handle
/// too, but is a typed error rather than a panic.
pub(crate) fn released(what: &str) -> Error {
    Error::invalid(format!("{what} was already released"))
}
