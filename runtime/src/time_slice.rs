//! Short kernel time slices for threads that must run the moment they wake.
//!
//! A thread that sleeps most of the time and then has a little urgent work (the driver
//! thread firing a timer, a thread releasing stream work) competes with the slots for
//! the cores. When every core is busy with Batch work, Linux's EEVDF scheduler lets the
//! running thread finish its slice (about 3 ms on a 2-core machine) before the woken
//! one runs, unless the woken one asked for a shorter slice: since Linux 6.12 a thread
//! with a shorter slice than the running one preempts it on wake-up. That wait is the
//! difference between a Stream task that starts within microseconds and one that starts
//! milliseconds late, so the driver thread asks for [`SHORT_SLICE`] when it starts.
//!
//! A short slice does not raise a thread's share of the CPU (its weight is unchanged);
//! it only makes the kernel switch to it, and away from it, sooner.
//!
//! A short slice is a request, and the kernel does not always grant it at once: with
//! the slots at a higher nice value, a woken thread was still seen waiting 3–4 ms for a
//! tick. A process that must hand stream work on within a millisecond on a loaded
//! machine may opt in, with [`allow_realtime`], to running those threads under
//! `SCHED_FIFO` at the lowest real-time priority: the kernel then runs them the moment
//! they wake, ahead of every fair-scheduled thread. The runtime's urgent threads call
//! [`make_urgent`], which applies the real-time policy when the process opted in and the
//! system permits it (root, `CAP_SYS_NICE` or `RLIMIT_RTPRIO`), and the short slice
//! otherwise. It is off by default: a real-time thread that spins would take a core
//! from everything else (the kernel's real-time throttling leaves the others 5%), so
//! only threads that sleep between short bursts are made urgent.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// The shortest slice Linux accepts (100 µs): for threads that wake, do a little work
/// and sleep again.
pub const SHORT_SLICE: Duration = Duration::from_micros(100);

/// The longest slice Linux accepts (100 ms).
const LONGEST_SLICE: Duration = Duration::from_millis(100);

/// Asks the kernel to give the calling thread time slices of `slice` (clamped to
/// 100 µs ..= 100 ms; zero restores the kernel's default).
///
/// Only the slice changes: the thread keeps its policy and nice value. On Linux 6.12 and
/// later a thread with a shorter slice preempts busy threads as soon as it wakes;
/// earlier kernels accept the request and ignore it.
///
/// # Errors
///
/// `Unsupported` on systems other than Linux and for threads under a real-time or
/// deadline policy (whose slices the kernel sets otherwise); the system's error when the
/// kernel refuses.
///
/// ```
/// use neptune_runtime::time_slice::{set_time_slice, SHORT_SLICE};
///
/// std::thread::spawn(|| {
///     // A thread that releases stream work on a schedule.
///     if let Err(e) = set_time_slice(SHORT_SLICE) {
///         eprintln!("cannot shorten this thread's slice: {e}");
///     }
/// })
/// .join()
/// .unwrap();
/// ```
pub fn set_time_slice(slice: Duration) -> io::Result<()> {
    let slice = if slice.is_zero() {
        slice
    } else {
        slice.clamp(SHORT_SLICE, LONGEST_SLICE)
    };
    imp::set(slice)
}

/// The real-time priority [`make_urgent`] gives (the lowest: urgent threads preempt
/// fair-scheduled ones, and yield to every other real-time thread of the system).
pub const URGENT_PRIORITY: u8 = 1;

/// Whether [`make_urgent`] may use the real-time policy in this process.
static REALTIME: AtomicBool = AtomicBool::new(false);

/// Lets (`true`) or stops (`false`) [`make_urgent`] putting this process's urgent
/// threads under the real-time policy. Threads already made urgent keep what they got;
/// set it before building runtimes and contexts. A local cluster's executor processes
/// inherit the setting.
pub fn allow_realtime(allow: bool) {
    REALTIME.store(allow, Relaxed);
}

/// Whether [`allow_realtime`] is on in this process.
pub fn realtime_allowed() -> bool {
    REALTIME.load(Relaxed)
}

/// What [`make_urgent`] did to the calling thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    /// `SCHED_FIFO` at [`URGENT_PRIORITY`].
    Realtime,
    /// The fair scheduler with [`SHORT_SLICE`].
    ShortSlice,
    /// Nothing: the system refused both (or is not Linux).
    Unchanged,
}

impl Urgency {
    /// A name for reports: `realtime`, `short_slice` or `unchanged`.
    pub fn name(self) -> &'static str {
        match self {
            Urgency::Realtime => "realtime",
            Urgency::ShortSlice => "short_slice",
            Urgency::Unchanged => "unchanged",
        }
    }
}

/// Makes the calling thread run as soon as it wakes, as far as this process allows
/// (see the [module's docs](self)): the real-time policy when [`allow_realtime`] is on
/// and the system permits it, else [`SHORT_SLICE`]. For threads that sleep most of the
/// time and hand on stream work when they wake (timers, I/O, triggers, job drivers).
///
/// ```
/// use neptune_runtime::time_slice::{make_urgent, Urgency};
///
/// let got = std::thread::spawn(make_urgent).join().unwrap();
/// // Real time only when the process opted in.
/// assert_ne!(got, Urgency::Realtime);
/// ```
pub fn make_urgent() -> Urgency {
    urgent(realtime_allowed())
}

fn urgent(realtime: bool) -> Urgency {
    if realtime && set_realtime(URGENT_PRIORITY).is_ok() {
        return Urgency::Realtime;
    }
    match set_time_slice(SHORT_SLICE) {
        Ok(()) => Urgency::ShortSlice,
        Err(_) => Urgency::Unchanged,
    }
}

/// Puts the calling thread under `SCHED_FIFO` at `priority` (1 ..= 99). Threads it
/// starts afterwards do not inherit it (the kernel's reset-on-fork flag is set): they
/// start under the fair scheduler at nice 0.
///
/// # Errors
///
/// `InvalidInput` for a priority outside 1 ..= 99; `Unsupported` off Linux; the
/// system's error (usually `PermissionDenied`) when the kernel refuses.
pub fn set_realtime(priority: u8) -> io::Result<()> {
    if !(1..=99).contains(&priority) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("real-time priority {priority} is outside 1..=99"),
        ));
    }
    imp::set_realtime(priority)
}

/// Whether the calling thread runs under a real-time policy (`SCHED_FIFO` or
/// `SCHED_RR`); `false` off Linux.
pub fn is_realtime() -> bool {
    imp::is_realtime()
}

/// The calling thread's slice as the kernel reports it: `None` where the kernel does
/// not report one (before Linux 6.12, or off Linux).
pub fn time_slice() -> Option<Duration> {
    imp::get()
}

/// Sets the calling thread's nice value (its CPU weight against other threads; higher
/// is lower priority; Linux keeps one per thread).
///
/// A thread may always raise its own nice value; lowering it needs `CAP_SYS_NICE` or a
/// matching `RLIMIT_NICE`, so a thread that raised it usually cannot come back.
///
/// # Errors
///
/// `Unsupported` off Linux; the system's error when the kernel refuses.
pub fn set_nice(nice: i32) -> io::Result<()> {
    imp::set_nice(nice)
}

/// The calling thread's nice value (`None` off Linux).
pub fn nice() -> Option<i32> {
    imp::nice()
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::time::Duration;

    /// `struct sched_attr` of `<linux/sched/types.h>` (version 1, 56 bytes).
    #[repr(C)]
    #[derive(Default)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
        util_min: u32,
        util_max: u32,
    }

    const SCHED_OTHER: u32 = 0;
    const SCHED_FIFO: u32 = 1;
    const SCHED_RR: u32 = 2;
    const SCHED_BATCH: u32 = 3;
    const SCHED_IDLE: u32 = 5;
    /// Keep the thread's utilisation clamps as they are.
    const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
    /// Threads started by this one start under the fair scheduler.
    const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
    const SCHED_FLAG_UTIL_CLAMP: u64 = 0x60;

    fn current() -> io::Result<SchedAttr> {
        let mut attr = SchedAttr::default();
        let size = std::mem::size_of::<SchedAttr>() as u32;
        // SAFETY: `attr` is a writable `sched_attr` of `size` bytes, as the call
        // requires; pid 0 names the calling thread.
        let r = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut attr, size, 0) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(attr)
    }

    pub(super) fn set(slice: Duration) -> io::Result<()> {
        let mut attr = current()?;
        if !matches!(attr.policy, SCHED_OTHER | SCHED_BATCH | SCHED_IDLE) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the thread is not under the fair scheduler",
            ));
        }
        attr.size = std::mem::size_of::<SchedAttr>() as u32;
        attr.runtime = slice.as_nanos() as u64;
        attr.flags &= !(SCHED_FLAG_KEEP_PARAMS | SCHED_FLAG_UTIL_CLAMP);
        // SAFETY: `attr` is a fully initialised `sched_attr` whose `size` field is its
        // size; the kernel only reads it. pid 0 names the calling thread.
        let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn set_realtime(priority: u8) -> io::Result<()> {
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy: SCHED_FIFO,
            flags: SCHED_FLAG_RESET_ON_FORK,
            priority: u32::from(priority),
            ..SchedAttr::default()
        };
        // SAFETY: `attr` is a fully initialised `sched_attr` whose `size` field is its
        // size; the kernel only reads it. pid 0 names the calling thread.
        let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(super) fn is_realtime() -> bool {
        current().is_ok_and(|a| matches!(a.policy, SCHED_FIFO | SCHED_RR))
    }

    pub(super) fn get() -> Option<Duration> {
        let attr = current().ok()?;
        (attr.runtime > 0).then(|| Duration::from_nanos(attr.runtime))
    }

    pub(super) fn set_nice(nice: i32) -> io::Result<()> {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        // SAFETY: plain integer arguments; with a thread id Linux changes that thread
        // only.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    pub(super) fn nice() -> Option<i32> {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        // getpriority returns the nice value itself, and -1 both as a value and as the
        // error: errno tells them apart.
        // SAFETY: writing errno of the calling thread.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: plain integer arguments.
        let n = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) };
        (n != -1 || io::Error::last_os_error().raw_os_error() == Some(0)).then_some(n)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::time::Duration;

    pub(super) fn set(_slice: Duration) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "time slices can only be set on Linux",
        ))
    }

    pub(super) fn get() -> Option<Duration> {
        None
    }

    pub(super) fn set_realtime(_priority: u8) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "real-time policies can only be set on Linux",
        ))
    }

    pub(super) fn is_realtime() -> bool {
        false
    }

    pub(super) fn set_nice(_nice: i32) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "per-thread nice values can only be set on Linux",
        ))
    }

    pub(super) fn nice() -> Option<i32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case runs on its own thread, so the test runner's threads keep their slice.
    fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sets_clamps_and_restores_the_slice() {
        on_thread(|| {
            let default = time_slice();
            set_time_slice(SHORT_SLICE).unwrap();
            // Kernels that report slices (6.12 and later) report the one asked for.
            if default.is_some() {
                assert_eq!(time_slice(), Some(SHORT_SLICE));
                set_time_slice(Duration::from_nanos(1)).unwrap();
                assert_eq!(time_slice(), Some(SHORT_SLICE), "clamped up");
                set_time_slice(Duration::from_secs(5)).unwrap();
                assert_eq!(time_slice(), Some(LONGEST_SLICE), "clamped down");
                set_time_slice(Duration::ZERO).unwrap();
                assert_eq!(time_slice(), default, "zero restores the default");
            }
        });
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sets_the_calling_threads_nice_value_only() {
        let here = nice();
        let (set, other) = on_thread(move || {
            // Raising one's own nice value needs no privilege.
            set_nice(7).unwrap();
            let other = on_thread(nice);
            (nice(), other)
        });
        assert_eq!(set, Some(7));
        // A thread started afterwards inherits it; the test's own thread is untouched.
        assert_eq!(other, Some(7));
        assert_eq!(nice(), here);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn keeps_the_nice_value() {
        on_thread(|| {
            // Raising one's own nice value needs no privilege.
            set_nice(5).unwrap();
            let before = nice();
            set_time_slice(SHORT_SLICE).unwrap();
            let after = nice();
            assert_eq!(before, Some(5));
            assert_eq!(after, Some(5));
        });
    }

    /// Real time when asked and permitted, the short slice otherwise; threads the
    /// urgent thread starts are not real-time.
    #[cfg(target_os = "linux")]
    #[test]
    fn urgent_threads_are_realtime_only_when_asked_and_permitted() {
        let (got, realtime, child) = on_thread(|| {
            let got = urgent(true);
            (got, is_realtime(), on_thread(is_realtime))
        });
        // Whether this system permits it is what a probe of the call itself says.
        let permitted = on_thread(|| set_realtime(URGENT_PRIORITY).is_ok());
        if permitted {
            assert_eq!(got, Urgency::Realtime);
            assert!(realtime);
        } else {
            assert_ne!(got, Urgency::Realtime);
            assert!(!realtime);
        }
        assert!(!child, "reset on fork");
        let (got, realtime) = on_thread(|| (urgent(false), is_realtime()));
        assert_ne!(got, Urgency::Realtime);
        assert!(!realtime);
        if time_slice().is_some() {
            assert_eq!(got, Urgency::ShortSlice);
        }
        assert_eq!(
            set_realtime(0).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
        assert_eq!(
            set_realtime(100).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
    }

    #[cfg(not(target_os = "linux"))]
    #[test]
    fn unsupported_elsewhere() {
        let err = set_time_slice(SHORT_SLICE).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        assert_eq!(time_slice(), None);
    }
}
