//! Event-time windows: tumbling and sliding, a watermark, and allowed lateness.
//!
//! Every record carries an event time ([`EventTime`], milliseconds). A window is the
//! half-open interval `[start, end)`; windows start at multiples of the *slide* (from
//! time 0) and last *size* (tumbling windows: slide = size), so a record belongs to
//! `size / slide` windows.
//!
//! - The **watermark** is the largest event time seen so far minus the allowed
//!   *delay* (out-of-orderness): the stream assumes no record older than it is still
//!   to come. It only moves forward, once per micro-batch, after the micro-batch's
//!   records are counted.
//! - A window **fires** (its results are emitted, one per key) once the watermark
//!   reaches its end.
//! - A record for a window that already fired is **late**. Within the allowed
//!   *lateness* (the watermark has not passed `end + lateness`) it is still added to
//!   the window, and the window's result for its key is emitted again, marked as an
//!   update. Beyond it the window's state is gone: the record is counted in
//!   [`StreamStats::late_dropped`](super::StreamStats::late_dropped), never silently
//!   lost.
//! - When the stream ends (its source is finished, or it is stopped), every window
//!   still open fires, as if the watermark had jumped to the end of time.
//!
//! Whether a record is late is decided against the watermark of the micro-batches
//! before its own: records of one micro-batch are never late with respect to each
//! other.

use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;
use std::time::Duration;

/// An event time, in milliseconds (since the UNIX epoch for wall-clock times; any
/// origin works for windows, but the windows' emission latency is measured against the
/// wall clock).
pub type EventTime = i64;

/// One window: event times `start <= t < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// First event time in the window.
    pub start: EventTime,
    /// First event time after the window.
    pub end: EventTime,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How a stream's records are grouped in event time: the windows' size and slide, the
/// watermark's delay and the allowed lateness.
///
/// ```
/// use neptune_dataflow::stream::{Window, Windows};
/// use std::time::Duration;
///
/// let tumbling = Windows::tumbling(Duration::from_secs(10));
/// assert_eq!(tumbling.assign(12_345).collect::<Vec<_>>(), [Window { start: 10_000, end: 20_000 }]);
///
/// let sliding = Windows::sliding(Duration::from_secs(10), Duration::from_secs(5))
///     .watermark_delay(Duration::from_millis(500))
///     .allowed_lateness(Duration::from_secs(30));
/// let starts: Vec<i64> = sliding.assign(12_345).map(|w| w.start).collect();
/// assert_eq!(starts, [10_000, 5_000]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Windows {
    size: i64,
    slide: i64,
    delay: i64,
    lateness: i64,
}

impl Windows {
    /// Back-to-back windows of `size`, no delay, no lateness.
    ///
    /// # Panics
    /// If `size` is under a millisecond.
    pub fn tumbling(size: Duration) -> Windows {
        Windows::sliding(size, size)
    }

    /// Windows of `size` starting every `slide`, no delay, no lateness.
    ///
    /// # Panics
    /// If `size` or `slide` is under a millisecond, or `slide` is longer than `size`
    /// (records between windows would belong to none).
    pub fn sliding(size: Duration, slide: Duration) -> Windows {
        let (size, slide) = (millis(size), millis(slide));
        assert!(
            size >= 1 && slide >= 1,
            "window size and slide must be at least 1 ms"
        );
        assert!(
            slide <= size,
            "a window slide ({slide} ms) longer than its size ({size} ms) leaves gaps"
        );
        Windows {
            size,
            slide,
            delay: 0,
            lateness: 0,
        }
    }

    /// The watermark trails the largest event time seen by `delay`: records up to that
    /// much out of order are on time.
    pub fn watermark_delay(mut self, delay: Duration) -> Windows {
        self.delay = millis(delay);
        self
    }

    /// Keeps each window's state for `lateness` after it fires, so that late records
    /// still update it.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Windows {
        self.lateness = millis(lateness);
        self
    }

    /// The windows' length.
    pub fn size(&self) -> Duration {
        Duration::from_millis(self.size as u64)
    }

    /// The time between window starts.
    pub fn slide(&self) -> Duration {
        Duration::from_millis(self.slide as u64)
    }

    /// The watermark's delay.
    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay as u64)
    }

    /// The allowed lateness.
    pub fn lateness(&self) -> Duration {
        Duration::from_millis(self.lateness as u64)
    }

    /// The window starting at `start`.
    pub fn window(&self, start: EventTime) -> Window {
        Window {
            start,
            end: start.saturating_add(self.size),
        }
    }

    /// The windows holding event time `t`, latest first.
    pub fn assign(&self, t: EventTime) -> impl Iterator<Item = Window> {
        let last = t.div_euclid(self.slide) * self.slide;
        let this = *self;
        (0..)
            .map(move |i| last - i * this.slide)
            .take_while(move |&s| s.saturating_add(this.size) > t)
            .map(move |s| this.window(s))
    }

    /// Whether a window is gone (its state dropped) once the watermark is `watermark`.
    fn expired(&self, w: Window, watermark: Option<EventTime>) -> bool {
        watermark.is_some_and(|wm| w.end.saturating_add(self.lateness) <= wm)
    }
}

/// One window's result for one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowResult<K, V> {
    /// The window.
    pub window: Window,
    /// The key.
    pub key: K,
    /// Every value of the key in the window, merged.
    pub value: V,
    /// False when the window fires; true when a late record changed the result
    /// afterwards and it is emitted again (it replaces the earlier one).
    pub update: bool,
}

/// As `{"start":…,"end":…,"key":…,"value":…,"update":…}`.
impl<K: Serialize, V: Serialize> Serialize for WindowResult<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("WindowResult", 5)?;
        st.serialize_field("start", &self.window.start)?;
        st.serialize_field("end", &self.window.end)?;
        st.serialize_field("key", &self.key)?;
        st.serialize_field("value", &self.value)?;
        st.serialize_field("update", &self.update)?;
        st.end()
    }
}

/// What a micro-batch job computes per (window, key): the merged value, with how many
/// records went in, and the largest event time among them. Records too late for their
/// window are gathered under no key, counted in `dropped`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Partial<V> {
    pub(crate) value: Option<V>,
    pub(crate) records: u64,
    pub(crate) dropped: u64,
    pub(crate) max_time: EventTime,
}

impl<V> Partial<V> {
    pub(crate) fn merge(self, other: Partial<V>, f: &(impl Fn(V, V) -> V + ?Sized)) -> Partial<V> {
        Partial {
            value: match (self.value, other.value) {
                (Some(a), Some(b)) => Some(f(a, b)),
                (a, None) => a,
                (None, b) => b,
            },
            records: self.records + other.records,
            dropped: self.dropped + other.dropped,
            max_time: self.max_time.max(other.max_time),
        }
    }
}

/// A (window start, key) slot of a micro-batch's job, `None` for records too late.
pub(crate) type Slot<K> = Option<(EventTime, K)>;

/// The (slot, partial) records one input record becomes: one per window holding its
/// event time, key and value cloned for all but the last.
pub(crate) struct Assigned<K, V> {
    windows: Windows,
    watermark: Option<EventTime>,
    time: EventTime,
    /// Window starts still to produce, latest first.
    next_start: EventTime,
    record: Option<(K, V)>,
}

impl<K, V> Assigned<K, V> {
    pub(crate) fn new(
        windows: Windows,
        watermark: Option<EventTime>,
        key: K,
        time: EventTime,
        value: V,
    ) -> Self {
        Assigned {
            windows,
            watermark,
            time,
            next_start: time.div_euclid(windows.slide) * windows.slide,
            record: Some((key, value)),
        }
    }
}

impl<K: Clone, V: Clone> Iterator for Assigned<K, V> {
    type Item = (Slot<K>, Partial<V>);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next_start;
        let w = self.windows.window(start);
        if w.end <= self.time || self.record.is_none() {
            self.record = None;
            return None;
        }
        self.next_start = start - self.windows.slide;
        let last = self.windows.window(self.next_start).end <= self.time;
        let (key, value) = if last {
            self.record.take().expect("checked above")
        } else {
            self.record.clone().expect("checked above")
        };
        let time = self.time;
        Some(if self.windows.expired(w, self.watermark) {
            (
                None,
                Partial {
                    value: None,
                    records: 0,
                    dropped: 1,
                    max_time: time,
                },
            )
        } else {
            (
                Some((start, key)),
                Partial {
                    value: Some(value),
                    records: 1,
                    dropped: 0,
                    max_time: time,
                },
            )
        })
    }
}

/// One window's state, on the stream's thread.
struct Pane<K, V> {
    fired: bool,
    values: HashMap<K, V>,
    /// Keys whose result changed after the window fired, to emit again.
    dirty: HashSet<K>,
}

/// What merging one micro-batch, or firing windows, counted.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WindowCounts {
    pub(crate) late_accepted: u64,
    pub(crate) late_dropped: u64,
    pub(crate) windows_fired: u64,
    pub(crate) updates: u64,
}

/// Every open window's results so far, and the watermark.
pub(crate) struct WindowState<K, V> {
    windows: Windows,
    panes: BTreeMap<EventTime, Pane<K, V>>,
    max_time: Option<EventTime>,
    watermark: Option<EventTime>,
}

impl<K: Hash + Eq + Clone, V: Clone> WindowState<K, V> {
    pub(crate) fn new(windows: Windows) -> Self {
        WindowState {
            windows,
            panes: BTreeMap::new(),
            max_time: None,
            watermark: None,
        }
    }

    /// The watermark: `None` until a record was seen.
    pub(crate) fn watermark(&self) -> Option<EventTime> {
        self.watermark
    }

    /// Merges a micro-batch's partial results.
    pub(crate) fn absorb(
        &mut self,
        partials: Vec<(Slot<K>, Partial<V>)>,
        f: &(impl Fn(V, V) -> V + ?Sized),
    ) -> WindowCounts {
        let mut counts = WindowCounts::default();
        for (slot, partial) in partials {
            self.max_time = Some(
                self.max_time
                    .map_or(partial.max_time, |m| m.max(partial.max_time)),
            );
            counts.late_dropped += partial.dropped;
            let (Some((start, key)), Some(value)) = (slot, partial.value) else {
                continue;
            };
            let window = self.windows.window(start);
            if self.watermark.is_some_and(|wm| window.end <= wm) {
                counts.late_accepted += partial.records;
            }
            let pane = self.panes.entry(start).or_insert_with(|| Pane {
                fired: false,
                values: HashMap::new(),
                dirty: HashSet::new(),
            });
            let merged = match pane.values.remove(&key) {
                Some(old) => f(old, value),
                None => value,
            };
            if pane.fired {
                pane.dirty.insert(key.clone());
            }
            pane.values.insert(key, merged);
        }
        counts
    }

    /// Moves the watermark to the largest event time seen minus the delay, or to the
    /// end of time when `end_of_input`; emits every window it passes and the updates of
    /// fired windows, and drops the windows past their lateness. `fired` receives the
    /// end of each window that fired.
    pub(crate) fn advance(
        &mut self,
        end_of_input: bool,
        out: &mut Vec<WindowResult<K, V>>,
        mut fired: impl FnMut(EventTime),
    ) -> WindowCounts {
        let mut counts = WindowCounts::default();
        let candidate = if end_of_input {
            Some(EventTime::MAX)
        } else {
            self.max_time.map(|m| m.saturating_sub(self.windows.delay))
        };
        if let Some(c) = candidate {
            self.watermark = Some(self.watermark.map_or(c, |w| w.max(c)));
        }
        let Some(wm) = self.watermark else {
            return counts;
        };
        for (&start, pane) in self.panes.iter_mut() {
            let window = self.windows.window(start);
            if pane.fired {
                for key in pane.dirty.drain() {
                    let value = pane.values[&key].clone();
                    out.push(WindowResult {
                        window,
                        key,
                        value,
                        update: true,
                    });
                    counts.updates += 1;
                }
            } else if window.end <= wm {
                pane.fired = true;
                counts.windows_fired += 1;
                if !end_of_input {
                    fired(window.end);
                }
                for (key, value) in &pane.values {
                    out.push(WindowResult {
                        window,
                        key: key.clone(),
                        value: value.clone(),
                        update: false,
                    });
                }
            }
        }
        let windows = self.windows;
        self.panes
            .retain(|&start, _| !windows.expired(windows.window(start), Some(wm)));
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assigned_matches_assign() {
        let w = Windows::sliding(Duration::from_millis(10), Duration::from_millis(3));
        for t in -25..25 {
            let expected: Vec<EventTime> = w.assign(t).map(|w| w.start).collect();
            let got: Vec<EventTime> = Assigned::new(w, None, 'k', t, 1u32)
                .map(|(slot, _)| slot.expect("not late").0)
                .collect();
            assert_eq!(got, expected, "t = {t}");
            assert!(expected.iter().all(|&s| s <= t && t < s + 10));
            assert_eq!(expected.len(), if t.rem_euclid(3) == 0 { 4 } else { 3 });
        }
    }
}
