//! The per-slot timeline: what each slot ran, and which tasks sat parked on it, over a
//! short recent window (see [`Builder::timeline`](crate::Builder::timeline)).
//!
//! Each slot writes its own bounded ring of spans; it is the only writer. The ring sits
//! behind a mutex that the slot takes once per poll, after it, and a snapshot takes
//! only long enough to copy the ring, so a reader never holds a slot up for more than
//! that copy. Parked tasks are not written as they park: their parking's start is in
//! the suspended queue's entry already (`Parking`), so a snapshot reads the open
//! Paused spans there, and the slot writes the closed one when it takes the task back.
//! Off (the default), there is no ring and the slot's only cost is a branch on a
//! field it reads anyway.

use crate::task::{Class, Parking, TaskId};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What a [`Span`] shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// The slot polled a Stream task (back-to-back polls of one task make one span).
    Stream,
    /// The slot polled a Batch task (back-to-back polls of one task make one span).
    Batch,
    /// The task sat parked in this slot's suspended queue, from its park to its resume.
    Paused,
}

impl SpanKind {
    /// The kind of a poll of a task of `class`.
    pub fn of(class: Class) -> SpanKind {
        match class {
            Class::Stream => SpanKind::Stream,
            Class::Batch => SpanKind::Batch,
        }
    }

    /// The kind's lower-case name (`stream`, `batch`, `paused`).
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Stream => "stream",
            SpanKind::Batch => "batch",
            SpanKind::Paused => "paused",
        }
    }
}

/// One interval on a slot's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// What happened.
    pub kind: SpanKind,
    /// The task it happened to.
    pub task: TaskId,
    /// When it began, from [`Timeline::origin`].
    pub start: Duration,
    /// When it ended, from [`Timeline::origin`] (at least `start`). For an open span,
    /// [`Timeline::now`].
    pub end: Duration,
    /// Still going at snapshot time: a task parked now (Paused spans only; a poll in
    /// progress does not show until it returns).
    pub open: bool,
}

impl Span {
    /// `end - start`.
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// One slot's spans.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotTimeline {
    /// The slot's index.
    pub slot: usize,
    /// Its spans, sorted by start. Poll spans never overlap each other; Paused spans
    /// overlap the polls of other tasks.
    pub spans: Vec<Span>,
}

/// A snapshot of every slot's recent spans (see [`Builder::timeline`](crate::Builder::timeline)).
#[derive(Clone, Debug)]
pub struct Timeline {
    /// When the runtime started: every span's `start` and `end` count from here.
    pub origin: Instant,
    /// When the snapshot was taken, from `origin`; no span ends after it.
    pub now: Duration,
    /// One entry per slot, in slot order; empty when the timeline is off.
    pub slots: Vec<SlotTimeline>,
}

impl Timeline {
    /// Every span of every slot, with its slot.
    pub fn spans(&self) -> impl Iterator<Item = (usize, &Span)> {
        self.slots
            .iter()
            .flat_map(|s| s.spans.iter().map(move |span| (s.slot, span)))
    }
}

/// A span as the ring keeps it: instants in ns on the runtime clock.
#[derive(Clone, Copy)]
struct RawSpan {
    kind: SpanKind,
    task: TaskId,
    start: u64,
    end: u64,
}

/// One slot's ring: the newest `cap` spans.
struct Ring {
    spans: VecDeque<RawSpan>,
    cap: usize,
}

impl Ring {
    fn push(&mut self, span: RawSpan) {
        if self.spans.len() == self.cap {
            self.spans.pop_front();
        }
        self.spans.push_back(span);
    }
}

/// Every slot's ring, and the runtime's start.
pub(crate) struct Recorder {
    origin: Instant,
    /// `origin` on the runtime clock (ns).
    origin_ns: u64,
    /// Std's mutex even under loom: the slot holds it for a few stores, with no model
    /// step inside, and it synchronises nothing the models check.
    rings: Box<[Mutex<Ring>]>,
}

/// Locks a ring, ignoring poisoning (a panic cannot leave a ring half-written).
fn lock_ring(m: &Mutex<Ring>) -> MutexGuard<'_, Ring> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recorder {
    /// Rings of `spans_per_slot` spans for `slots` slots; `None` for 0 (off).
    pub(crate) fn new(slots: usize, spans_per_slot: usize) -> Option<Recorder> {
        if spans_per_slot == 0 {
            return None;
        }
        let origin = Instant::now();
        Some(Recorder {
            origin_ns: crate::clock::now_ns(),
            origin,
            rings: (0..slots)
                .map(|_| {
                    Mutex::new(Ring {
                        spans: VecDeque::with_capacity(spans_per_slot),
                        cap: spans_per_slot,
                    })
                })
                .collect(),
        })
    }

    fn rel(&self, ns: u64) -> Duration {
        Duration::from_nanos(ns.saturating_sub(self.origin_ns))
    }

    /// A snapshot. `parking(i)` locks slot `i`'s parking lock, which is taken before
    /// the ring (the order the slot takes them in when it takes tasks back), so that a
    /// resumed task shows exactly once: in the resumed queue or in the ring.
    pub(crate) fn snapshot<'a>(
        &self,
        parking: impl Fn(usize) -> crate::sync::MutexGuard<'a, Parking>,
    ) -> Timeline {
        struct Copied {
            spans: Vec<Span>,
            open: Vec<(TaskId, u64)>,
        }
        let copied: Vec<Copied> = self
            .rings
            .iter()
            .enumerate()
            .map(|(i, ring)| {
                let parking = parking(i);
                let ring = lock_ring(ring);
                let mut spans = Vec::with_capacity(
                    ring.spans.len() + parking.suspended.len() + parking.resumed.len(),
                );
                spans.extend(ring.spans.iter().map(|s| self.span(s, false)));
                drop(ring);
                spans.extend(parking.resumed.iter().map(|r| {
                    self.span(
                        &RawSpan {
                            kind: SpanKind::Paused,
                            task: r.task.header().id,
                            start: r.since,
                            end: r.until,
                        },
                        false,
                    )
                }));
                let open = parking
                    .suspended
                    .iter()
                    .map(|p| (p.task.header().id, p.since))
                    .collect();
                Copied { spans, open }
            })
            .collect();
        // Read after every copy: no recorded span ends after it.
        let now_ns = crate::clock::now_ns();
        let slots = copied
            .into_iter()
            .enumerate()
            .map(|(slot, c)| {
                let mut spans = c.spans;
                spans.extend(c.open.into_iter().map(|(task, since)| {
                    self.span(
                        &RawSpan {
                            kind: SpanKind::Paused,
                            task,
                            start: since,
                            end: now_ns.max(since),
                        },
                        true,
                    )
                }));
                spans.sort_by_key(|s| (s.start, s.end));
                SlotTimeline { slot, spans }
            })
            .collect();
        Timeline {
            origin: self.origin,
            now: self.rel(now_ns),
            slots,
        }
    }

    fn span(&self, s: &RawSpan, open: bool) -> Span {
        Span {
            kind: s.kind,
            task: s.task,
            start: self.rel(s.start),
            end: self.rel(s.end.max(s.start)),
            open,
        }
    }
}

/// A slot's side of the recorder: writes that slot's ring.
pub(crate) struct SlotRecorder {
    /// The task whose poll span is the last in the ring, while the next poll of that
    /// task would follow it directly (no sleep, no other span, in between).
    extend: Option<TaskId>,
}

impl SlotRecorder {
    pub(crate) fn new() -> SlotRecorder {
        SlotRecorder { extend: None }
    }

    /// A poll of `task` (of `class`) from `start` to `end` (ns): extends the last span
    /// if it is the previous poll of the same task, else adds one.
    pub(crate) fn poll(
        &mut self,
        rec: &Recorder,
        slot: usize,
        task: TaskId,
        class: Class,
        start: u64,
        end: u64,
    ) {
        let mut ring = lock_ring(&rec.rings[slot]);
        if self.extend == Some(task) {
            if let Some(last) = ring.spans.back_mut() {
                last.end = end;
                return;
            }
        }
        ring.push(RawSpan {
            kind: SpanKind::of(class),
            task,
            start,
            end,
        });
        self.extend = Some(task);
    }

    /// The slot goes to sleep: its next poll starts a span of its own.
    pub(crate) fn gap(&mut self) {
        self.extend = None;
    }

    /// The slot takes back the tasks of its resumed queue: each one's parking becomes a
    /// closed Paused span. Called with the parking lock held (see `Recorder::snapshot`).
    pub(crate) fn resumed(&mut self, rec: &Recorder, slot: usize, parking: &Parking) {
        if parking.resumed.is_empty() {
            return;
        }
        let mut ring = lock_ring(&rec.rings[slot]);
        for r in &parking.resumed {
            ring.push(RawSpan {
                kind: SpanKind::Paused,
                task: r.task.header().id,
                start: r.since,
                end: r.until,
            });
        }
        self.extend = None;
    }
}
