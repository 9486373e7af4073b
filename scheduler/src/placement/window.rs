//! `MetricsWindow`: an executor's memory metrics over its last W heartbeats, as mean
//! and standard deviation per metric, bucketed.
//!
//! **Bucketing.** A metric's windowed value is its mean plus one standard deviation
//! (a pessimistic estimate: an executor whose memory swings is treated as if it were
//! at the top of its swing). That value falls in a power-of-two bucket:
//! bucket 0 holds values below 1, bucket `k ≥ 1` holds `[2^(k-1), 2^k)`. Executors
//! within a factor of two of each other share a bucket and count as equally pressured,
//! so small noise between heartbeats does not reorder them; load then decides.

use std::collections::VecDeque;

/// Default number of heartbeats a window keeps.
pub const DEFAULT_WINDOW: usize = 8;

/// A memory metric a window keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Bytes in use.
    MemoryInUse,
    /// Bytes spilled to storage.
    BytesSpilled,
    /// Bytes allocated per second.
    AllocChurn,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Metric; 3] = [
        Metric::MemoryInUse,
        Metric::BytesSpilled,
        Metric::AllocChurn,
    ];

    fn index(self) -> usize {
        match self {
            Metric::MemoryInUse => 0,
            Metric::BytesSpilled => 1,
            Metric::AllocChurn => 2,
        }
    }
}

/// Mean and population standard deviation of a metric over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation (divided by the count, not count − 1).
    pub std: f64,
}

impl Stat {
    /// Mean and population standard deviation of `values` (zeros when empty).
    pub fn of(values: impl Iterator<Item = u64> + Clone) -> Stat {
        let n = values.clone().count();
        if n == 0 {
            return Stat::default();
        }
        let mean = values.clone().map(|v| v as f64).sum::<f64>() / n as f64;
        let var = values.map(|v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        Stat {
            mean,
            std: var.sqrt(),
        }
    }

    /// The bucket of `mean + std` (see the module's documentation).
    pub fn bucket(&self) -> u32 {
        bucket_of(self.mean + self.std)
    }
}

/// The power-of-two bucket of `value`: 0 below 1, else `floor(log2(value)) + 1`.
///
/// ```
/// use neptune_scheduler::placement::bucket_of;
/// assert_eq!(bucket_of(0.0), 0);
/// assert_eq!(bucket_of(1.0), 1);
/// assert_eq!(bucket_of(3.9), 2);
/// assert_eq!(bucket_of(4.0), 3);
/// ```
pub fn bucket_of(value: f64) -> u32 {
    if value.is_nan() || value < 1.0 {
        return 0;
    }
    if value >= 2f64.powi(64) {
        return 65;
    }
    let v = value as u64; // floor, in 1..2^64
    64 - v.leading_zeros()
}

/// An executor's memory pressure: the bucket of each metric. Ordered by spilling
/// first (an executor that spills is under more pressure than any that does not),
/// then memory in use, then allocation churn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemoryPressure {
    /// Bucket of bytes spilled.
    pub spilled: u32,
    /// Bucket of bytes in use.
    pub in_use: u32,
    /// Bucket of allocation churn.
    pub churn: u32,
}

impl MemoryPressure {
    /// The pressure of single values (no window).
    pub fn of_values(in_use: u64, spilled: u64, churn: u64) -> MemoryPressure {
        MemoryPressure {
            spilled: bucket_of(spilled as f64),
            in_use: bucket_of(in_use as f64),
            churn: bucket_of(churn as f64),
        }
    }
}

/// The last W samples of an executor's memory metrics.
///
/// ```
/// use neptune_scheduler::placement::{Metric, MetricsWindow};
/// let mut w = MetricsWindow::new(2);
/// w.push(10, 0, 0);
/// w.push(20, 0, 0);
/// w.push(40, 0, 0); // 10 falls out
/// let s = w.stat(Metric::MemoryInUse);
/// assert_eq!((s.mean, s.std), (30.0, 10.0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsWindow {
    capacity: usize,
    /// `[in_use, spilled, churn]` per heartbeat, oldest first.
    samples: VecDeque<[u64; 3]>,
}

impl Default for MetricsWindow {
    fn default() -> MetricsWindow {
        MetricsWindow::new(DEFAULT_WINDOW)
    }
}

impl MetricsWindow {
    /// An empty window of the last `capacity` heartbeats (at least one).
    pub fn new(capacity: usize) -> MetricsWindow {
        let capacity = capacity.max(1);
        MetricsWindow {
            capacity,
            samples: VecDeque::with_capacity(capacity),
        }
    }

    /// Adds one heartbeat's values, dropping the oldest beyond the capacity.
    pub fn push(&mut self, in_use: u64, spilled: u64, churn: u64) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back([in_use, spilled, churn]);
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True before the first sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// W, the most samples held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Mean and standard deviation of `metric` over the window.
    pub fn stat(&self, metric: Metric) -> Stat {
        let i = metric.index();
        Stat::of(self.samples.iter().map(move |s| s[i]))
    }

    /// The bucket of `metric` (of its mean plus one standard deviation).
    pub fn bucket(&self, metric: Metric) -> u32 {
        self.stat(metric).bucket()
    }

    /// The bucketed pressure over the window.
    pub fn pressure(&self) -> MemoryPressure {
        MemoryPressure {
            spilled: self.bucket(Metric::BytesSpilled),
            in_use: self.bucket(Metric::MemoryInUse),
            churn: self.bucket(Metric::AllocChurn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    proptest! {
        #[test]
        fn window_matches_a_naive_reference(
            cap in 1usize..12,
            values in proptest::collection::vec((any::<u32>(), any::<u64>(), 0u64..1_000), 0..40),
        ) {
            let mut w = MetricsWindow::new(cap);
            for &(a, b, c) in &values {
                w.push(a as u64, b, c);
            }
            let tail = &values[values.len().saturating_sub(cap)..];
            prop_assert_eq!(w.len(), tail.len());
            let columns: [Vec<f64>; 3] = [
                tail.iter().map(|t| t.0 as f64).collect(),
                tail.iter().map(|t| t.1 as f64).collect(),
                tail.iter().map(|t| t.2 as f64).collect(),
            ];
            for (m, col) in Metric::ALL.into_iter().zip(&columns) {
                let s = w.stat(m);
                if col.is_empty() {
                    prop_assert_eq!(s, Stat::default());
                    continue;
                }
                let n = col.len() as f64;
                let mean = col.iter().sum::<f64>() / n;
                let var = col.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                prop_assert!(close(s.mean, mean), "{:?} mean {} vs {}", m, s.mean, mean);
                // The std of huge values carries the mean's rounding error.
                let tol = 1e-6 * mean.abs().max(1.0);
                prop_assert!((s.std - var.sqrt()).abs() <= tol, "{:?} std {} vs {}", m, s.std, var.sqrt());
            }
        }

        #[test]
        fn buckets_are_monotonic_and_double(v in 1u64..(1 << 62)) {
            let b = bucket_of(v as f64);
            prop_assert!(b >= 1);
            prop_assert!(bucket_of((v as f64) * 2.0) == b + 1);
            prop_assert!(bucket_of((v - 1) as f64) <= b);
        }
    }

    #[test]
    fn constant_series_has_zero_std_and_bucket_of_its_value() {
        let mut w = MetricsWindow::new(4);
        for _ in 0..10 {
            w.push(1000, 0, 5);
        }
        let s = w.stat(Metric::MemoryInUse);
        assert_eq!((s.mean, s.std), (1000.0, 0.0));
        assert_eq!(
            w.pressure(),
            MemoryPressure {
                spilled: 0,
                in_use: 10,
                churn: 3
            }
        );
        assert_eq!(w.pressure(), MemoryPressure::of_values(1000, 0, 5));
    }

    #[test]
    fn spilling_outranks_memory_in_use() {
        let spills = MemoryPressure::of_values(10, 1, 0);
        let big = MemoryPressure::of_values(1 << 40, 0, 1 << 30);
        assert!(spills > big);
    }
}
