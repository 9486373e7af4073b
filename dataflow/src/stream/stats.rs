//! `StreamStats`: what a stream did.

use super::window::EventTime;
use std::time::Duration;

/// What a stream did so far (from [`StreamHandle::stats`](super::StreamHandle::stats))
/// or in all (from [`StreamHandle::stop`](super::StreamHandle::stop) and
/// [`wait`](super::StreamHandle::wait)).
///
/// Latencies are kept as raw samples, 8 bytes per micro-batch and per fired window,
/// so that quantiles are exact.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct StreamStats {
    /// Micro-batches run (a trigger that brought no record runs none).
    pub micro_batches: u64,
    /// Records the source delivered.
    pub records_in: u64,
    /// Results handed to the sink (records, or window results including updates).
    pub records_out: u64,
    /// Per micro-batch, microseconds from its trigger time to the return of its
    /// sink's `emit` (its results emitted). The trigger time is when the trigger was
    /// due, so a micro-batch delayed by the one before it counts the delay.
    pub batch_latencies_us: Vec<u64>,
    /// For each micro-batch, in order: the published values its plan builder read and
    /// the versions it found (see [`JobStats::published`](crate::JobStats::published));
    /// empty for micro-batches whose pipeline read none through a builder.
    pub published: Vec<Vec<(String, u64)>>,
    /// Per window fired by the watermark, microseconds from the window's end (event
    /// time, read as milliseconds since the UNIX epoch) to the return of the sink's
    /// `emit` that received its results; 0 if the window ends in the future. Windows
    /// fired because the stream ended are not counted.
    pub window_latencies_us: Vec<u64>,
    /// Windows fired (by the watermark or at the end of the stream).
    pub windows_fired: u64,
    /// Window results emitted again because late records changed them.
    pub window_updates: u64,
    /// Late records (one per window they were added to) that were still within the
    /// allowed lateness and updated their window.
    pub late_accepted: u64,
    /// Late records (one per window they belonged to) that came after their window's
    /// allowed lateness: counted, not added.
    pub late_dropped: u64,
    /// The watermark, once a record was seen.
    pub watermark: Option<EventTime>,
    /// Time since the stream started.
    pub elapsed: Duration,
}

/// The `q`-quantile (nearest rank) of unsorted samples, `None` if there are none.
fn quantile(samples: &[u64], q: f64) -> Option<u64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    let (_, nth, _) = v.select_nth_unstable(rank - 1);
    Some(*nth)
}

impl StreamStats {
    /// The `q`-quantile (`0.0..=1.0`, nearest rank) of the micro-batch latencies.
    ///
    /// ```
    /// let mut stats = neptune_dataflow::stream::StreamStats::default();
    /// assert_eq!(stats.batch_latency(0.5), None);
    /// stats.batch_latencies_us = vec![30, 10, 20, 40];
    /// assert_eq!(stats.batch_latency(0.5), Some(std::time::Duration::from_micros(20)));
    /// assert_eq!(stats.batch_latency(1.0), Some(std::time::Duration::from_micros(40)));
    /// ```
    pub fn batch_latency(&self, q: f64) -> Option<Duration> {
        quantile(&self.batch_latencies_us, q).map(Duration::from_micros)
    }

    /// The `q`-quantile (nearest rank) of the window emission latencies.
    pub fn window_latency(&self, q: f64) -> Option<Duration> {
        quantile(&self.window_latencies_us, q).map(Duration::from_micros)
    }

    /// Records in per second of elapsed time.
    pub fn records_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.records_in as f64 / secs
        } else {
            0.0
        }
    }
}
