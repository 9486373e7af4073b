//! `CountingAllocator`: a global allocator that counts; `AllocSampler`: allocation
//! rates between samples.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// A [`GlobalAlloc`] that counts bytes in use, allocations, frees,
/// reallocations and bytes allocated in total.
///
/// Install it in the executable (never in a library):
///
/// ```
/// use neptune_scheduler::metrics::CountingAllocator;
///
/// #[global_allocator]
/// static ALLOC: CountingAllocator = CountingAllocator::new();
///
/// let before = ALLOC.snapshot();
/// let v = vec![0u8; 4096];
/// assert!(ALLOC.snapshot().allocations > before.allocations);
/// drop(v);
/// ```
///
/// Counters are relaxed atomics (one `fetch_add` each per call): every figure is exact
/// once the threads that allocate are synchronised with the reader, and a snapshot taken
/// while they run is a blend of nearby instants. Bytes are the sizes requested in each
/// [`Layout`], not what the system allocator rounds them up to.
///
/// It wraps [`System`] by default, or any other global allocator with
/// [`wrap`](Self::wrap) (the applications wrap mimalloc).
#[derive(Debug, Default)]
pub struct CountingAllocator<A = System> {
    in_use: AtomicU64,
    allocations: AtomicU64,
    frees: AtomicU64,
    reallocations: AtomicU64,
    allocated: AtomicU64,
    inner: A,
}

/// What reports allocation counters: a [`CountingAllocator`] of any inner allocator.
pub trait AllocCounters: Send + Sync {
    /// The counters now.
    fn snapshot(&self) -> AllocSnapshot;
}

impl<A: Send + Sync> AllocCounters for CountingAllocator<A> {
    fn snapshot(&self) -> AllocSnapshot {
        CountingAllocator::snapshot(self)
    }
}

impl std::fmt::Debug for dyn AllocCounters + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}

static PROCESS: std::sync::OnceLock<&'static dyn AllocCounters> = std::sync::OnceLock::new();

/// Names the process's `#[global_allocator]` as the one heartbeats report (first call
/// wins); call it at the start of `main`.
pub fn count_process_allocations(alloc: &'static dyn AllocCounters) {
    let _ = PROCESS.set(alloc);
}

/// The allocator named by [`count_process_allocations`], if any.
pub fn process_allocator() -> Option<&'static dyn AllocCounters> {
    PROCESS.get().copied()
}

/// The counters of a [`CountingAllocator`] at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocSnapshot {
    /// Bytes allocated and not yet freed.
    pub in_use: u64,
    /// Allocations made (`alloc` and `alloc_zeroed`).
    pub allocations: u64,
    /// Blocks freed (`dealloc`).
    pub frees: u64,
    /// Blocks resized (`realloc`).
    pub reallocations: u64,
    /// Bytes allocated in total, counting the new size of each reallocation.
    pub allocated_bytes: u64,
}

impl AllocSnapshot {
    /// Blocks allocated and not yet freed.
    pub fn live_blocks(&self) -> u64 {
        self.allocations.saturating_sub(self.frees)
    }
}

impl CountingAllocator {
    /// A counting allocator over [`System`] with every counter at zero.
    pub const fn new() -> CountingAllocator {
        CountingAllocator::wrap(System)
    }
}

impl<A> CountingAllocator<A> {
    /// A counting allocator over `inner`, every counter at zero.
    pub const fn wrap(inner: A) -> CountingAllocator<A> {
        CountingAllocator {
            in_use: AtomicU64::new(0),
            allocations: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            reallocations: AtomicU64::new(0),
            allocated: AtomicU64::new(0),
            inner,
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> AllocSnapshot {
        AllocSnapshot {
            in_use: self.in_use.load(Relaxed),
            allocations: self.allocations.load(Relaxed),
            frees: self.frees.load(Relaxed),
            reallocations: self.reallocations.load(Relaxed),
            allocated_bytes: self.allocated.load(Relaxed),
        }
    }

    /// Bytes in use now.
    pub fn in_use(&self) -> u64 {
        self.in_use.load(Relaxed)
    }

    #[inline]
    fn allocated(&self, size: usize) {
        self.allocations.fetch_add(1, Relaxed);
        self.allocated.fetch_add(size as u64, Relaxed);
        self.in_use.fetch_add(size as u64, Relaxed);
    }
}

// SAFETY: every method forwards to the inner allocator with the caller's arguments
// unchanged and only adds counting, which neither allocates nor touches the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            self.allocated(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            self.allocated(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.inner.dealloc(ptr, layout) };
        self.frees.fetch_add(1, Relaxed);
        self.in_use.fetch_sub(layout.size() as u64, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            self.reallocations.fetch_add(1, Relaxed);
            self.allocated.fetch_add(new_size as u64, Relaxed);
            // Add before subtracting so the gauge never dips below what is in use.
            self.in_use.fetch_add(new_size as u64, Relaxed);
            self.in_use.fetch_sub(layout.size() as u64, Relaxed);
        }
        p
    }
}

/// Allocation rates between consecutive samples of a [`CountingAllocator`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AllocRate {
    /// Bytes in use at the sample.
    pub in_use: u64,
    /// Bytes allocated per second since the previous sample (allocation churn).
    pub bytes_per_sec: f64,
    /// Allocations (and reallocations) per second since the previous sample.
    pub allocs_per_sec: f64,
    /// Time since the previous sample (zero for the first sample).
    pub interval: Duration,
}

/// Samples a [`CountingAllocator`] and turns counter deltas into rates.
///
/// ```
/// use neptune_scheduler::metrics::{AllocSampler, CountingAllocator};
/// use std::time::{Duration, Instant};
///
/// static COUNTS: CountingAllocator = CountingAllocator::new();
/// let mut sampler = AllocSampler::new(&COUNTS);
/// let t0 = Instant::now();
/// assert_eq!(sampler.sample_at(t0).bytes_per_sec, 0.0); // first sample: no rate yet
/// ```
#[derive(Debug)]
pub struct AllocSampler<'a> {
    alloc: &'a dyn AllocCounters,
    last: Option<(Instant, AllocSnapshot)>,
}

impl<'a> AllocSampler<'a> {
    /// A sampler of `alloc` (usually the `#[global_allocator]` static).
    pub fn new(alloc: &'a dyn AllocCounters) -> AllocSampler<'a> {
        AllocSampler { alloc, last: None }
    }

    /// The allocator sampled.
    pub fn allocator(&self) -> &'a dyn AllocCounters {
        self.alloc
    }

    /// Samples now.
    pub fn sample(&mut self) -> AllocRate {
        self.sample_at(Instant::now())
    }

    /// Samples, taking `now` as the time of the sample. The first sample has zero rates.
    pub fn sample_at(&mut self, now: Instant) -> AllocRate {
        let snap = self.alloc.snapshot();
        let rate = match self.last {
            Some((then, prev)) => {
                let interval = now.saturating_duration_since(then);
                let secs = interval.as_secs_f64();
                let per_sec = |d: u64| if secs > 0.0 { d as f64 / secs } else { 0.0 };
                let allocs = (snap.allocations + snap.reallocations)
                    .saturating_sub(prev.allocations + prev.reallocations);
                AllocRate {
                    in_use: snap.in_use,
                    bytes_per_sec: per_sec(
                        snap.allocated_bytes.saturating_sub(prev.allocated_bytes),
                    ),
                    allocs_per_sec: per_sec(allocs),
                    interval,
                }
            }
            None => AllocRate {
                in_use: snap.in_use,
                ..AllocRate::default()
            },
        };
        self.last = Some((now, snap));
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_alloc_realloc_and_free_without_being_global() {
        let a = CountingAllocator::new();
        let layout = Layout::from_size_align(100, 8).unwrap();
        // SAFETY: a non-zero layout; the block is freed with the layout it has.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(a.in_use(), 100);
            let p = a.realloc(p, layout, 300);
            assert!(!p.is_null());
            assert_eq!(a.in_use(), 300);
            let z = a.alloc_zeroed(layout);
            assert_eq!(*z, 0);
            a.dealloc(z, layout);
            a.dealloc(p, Layout::from_size_align(300, 8).unwrap());
        }
        let s = a.snapshot();
        assert_eq!(
            s,
            AllocSnapshot {
                in_use: 0,
                allocations: 2,
                frees: 2,
                reallocations: 1,
                allocated_bytes: 500,
            }
        );
        assert_eq!(s.live_blocks(), 0);
    }

    #[test]
    fn sampler_reports_rates_over_the_interval() {
        let a = CountingAllocator::new();
        let mut s = AllocSampler::new(&a);
        let t0 = Instant::now();
        s.sample_at(t0);
        let layout = Layout::from_size_align(1000, 8).unwrap();
        for _ in 0..4 {
            // SAFETY: as above.
            unsafe { a.dealloc(a.alloc(layout), layout) };
        }
        let r = s.sample_at(t0 + Duration::from_millis(500));
        assert_eq!(r.interval, Duration::from_millis(500));
        assert_eq!(r.bytes_per_sec, 8000.0);
        assert_eq!(r.allocs_per_sec, 8.0);
        assert_eq!(r.in_use, 0);
        // A zero interval gives zero rates, not infinities.
        let r = s.sample_at(t0 + Duration::from_millis(500));
        assert_eq!(r.bytes_per_sec, 0.0);
    }
}
