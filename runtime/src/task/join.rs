//! `JoinHandle`: awaits a task's output; `JoinError`: why there is none.

use super::raw::RawTask;
use super::{TaskHandle, TaskId};
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// An owned permission to await a task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task was cancelled or
/// panicked. Dropping it detaches the task (it keeps running); [`abort`](Self::abort)
/// cancels it.
///
/// ```
/// let rt = neptune_runtime::Runtime::new().unwrap();
/// let out = rt.block_on(async {
///     let h = neptune_runtime::spawn(async { 6 * 7 });
///     h.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
pub struct JoinHandle<T> {
    raw: Option<RawTask>,
    _out: PhantomData<T>,
}

// SAFETY: the JoinHandle only moves a `T` out of the task (T: Send is required at spawn)
// and touches the rest of the task through its atomic protocol.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` allows nothing but reading the id and making handles.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    pub(crate) fn new(raw: RawTask) -> JoinHandle<T> {
        JoinHandle {
            raw: Some(raw),
            _out: PhantomData,
        }
    }

    fn raw(&self) -> RawTask {
        self.raw.expect("JoinHandle used after drop")
    }

    /// Cancels the task: its future is dropped at its next scheduling point (right away
    /// if it is idle or paused). Awaiting the handle then gives a cancelled `JoinError`,
    /// unless the task finished first.
    pub fn abort(&self) {
        self.raw().cancel();
    }

    /// A handle to pause, resume, cancel or inspect the task.
    pub fn task(&self) -> TaskHandle {
        TaskHandle::new(self.raw().add_ref())
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.raw().header().id
    }

    /// Whether the task has finished (completed, panicked or cancelled).
    pub fn is_finished(&self) -> bool {
        self.raw().header().state.load().is_complete()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        let raw = self.raw();
        // SAFETY: `out` has the task's output type: a JoinHandle<T> is only made for a
        // task whose future outputs T.
        unsafe { raw.try_read_output(&mut out as *mut _ as *mut (), cx.waker()) };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            // SAFETY: called once; the JoinHandle's reference is given up.
            unsafe { raw.drop_join_handle() };
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .finish()
    }
}

/// Why a task produced no output.
pub struct JoinError {
    id: TaskId,
    repr: Repr,
}

enum Repr {
    Cancelled,
    // std's Mutex makes the payload Sync without requiring it of the payload.
    Panic(std::sync::Mutex<Box<dyn Any + Send + 'static>>),
}

impl JoinError {
    pub(crate) fn cancelled(id: TaskId) -> JoinError {
        JoinError {
            id,
            repr: Repr::Cancelled,
        }
    }

    pub(crate) fn panic(id: TaskId, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            id,
            repr: Repr::Panic(std::sync::Mutex::new(payload)),
        }
    }

    /// True if the task was cancelled (by `abort`, `TaskHandle::cancel`, a policy, or
    /// runtime shutdown).
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// True if the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p.into_inner().unwrap_or_else(|e| e.into_inner())),
            _ => Err(self),
        }
    }

    /// The id of the task that failed.
    pub fn id(&self) -> TaskId {
        self.id
    }

    fn panic_message(&self) -> Option<String> {
        let Repr::Panic(p) = &self.repr else {
            return None;
        };
        let p = p.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = p.downcast_ref::<&'static str>() {
            Some((*s).to_owned())
        } else {
            p.downcast_ref::<String>().cloned()
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "task {} was cancelled", self.id),
            Repr::Panic(_) => match self.panic_message() {
                Some(m) => write!(f, "task {} panicked with message {m:?}", self.id),
                None => write!(f, "task {} panicked", self.id),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => write!(f, "JoinError::Cancelled({})", self.id),
            Repr::Panic(_) => write!(
                f,
                "JoinError::Panic({}, {:?})",
                self.id,
                self.panic_message()
            ),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e)
    }
}
