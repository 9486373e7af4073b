//! The `tracing` feature: every task gets one `runtime.spawn` span, with tokio's fields
//! plus its class, entered around each of its polls.
//!
//! A minimal in-test subscriber records spans, their fields, and how often each was
//! entered; a probe inside each task records which span was entered on its thread at
//! every poll. (Built only with `--features tracing`: see `[[test]]` in Cargo.toml.)

use futures::channel::oneshot;
use neptune_runtime::{Builder, Runtime, SpawnOptions, TaskId, TaskState};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What the subscriber saw of one span.
#[derive(Clone, Debug, Default)]
struct SpanRec {
    name: &'static str,
    target: &'static str,
    /// Created with `parent: None`.
    root: bool,
    fields: HashMap<&'static str, String>,
    enters: usize,
    exits: usize,
    /// Handles not yet closed (clones count).
    handles: usize,
}

/// Spans by id (id `n` at index `n - 1`). Spans of every test in this binary land here;
/// each test finds its own by task id.
static SPANS: Mutex<Vec<SpanRec>> = Mutex::new(Vec::new());

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Fields<'a>(&'a mut HashMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }
}

/// The subscriber: records into `SPANS` and `ENTERED`.
struct Recorder;

fn with_span<R>(id: &Id, f: impl FnOnce(&mut SpanRec) -> R) -> R {
    let mut spans = SPANS.lock().unwrap();
    f(&mut spans[id.into_u64() as usize - 1])
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut rec = SpanRec {
            name: attrs.metadata().name(),
            target: attrs.metadata().target(),
            root: attrs.is_root(),
            handles: 1,
            ..SpanRec::default()
        };
        attrs.record(&mut Fields(&mut rec.fields));
        let mut spans = SPANS.lock().unwrap();
        spans.push(rec);
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, id: &Id, values: &Record<'_>) {
        with_span(id, |s| values.record(&mut Fields(&mut s.fields)));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, id: &Id) {
        with_span(id, |s| s.enters += 1);
        ENTERED.with(|e| e.borrow_mut().push(id.into_u64()));
    }

    fn exit(&self, id: &Id) {
        with_span(id, |s| s.exits += 1);
        ENTERED.with(|e| {
            let top = e.borrow_mut().pop();
            assert_eq!(top, Some(id.into_u64()), "spans exit in the order entered");
        });
    }

    fn clone_span(&self, id: &Id) -> Id {
        with_span(id, |s| s.handles += 1);
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        with_span(&id, |s| {
            s.handles -= 1;
            s.handles == 0
        })
    }
}

/// Installs the recorder as the process's subscriber (once per test binary).
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| tracing::subscriber::set_global_default(Recorder).unwrap());
}

/// Per poll, the innermost span entered on the polling thread (by id), if any.
type Seen = Arc<Mutex<Vec<Option<u64>>>>;

/// Wraps a task's future: at every poll, records the span entered on the polling thread.
struct Probe<F> {
    inner: Pin<Box<F>>,
    seen: Seen,
}

impl<F: Future> Future for Probe<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let current = ENTERED.with(|e| e.borrow().last().copied());
        self.seen.lock().unwrap().push(current);
        self.inner.as_mut().poll(cx)
    }
}

/// `future` with a probe; the second value lists what each poll saw.
fn probe<F: Future>(future: F) -> (Probe<F>, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let probe = Probe {
        inner: Box::pin(future),
        seen: seen.clone(),
    };
    (probe, seen)
}

/// The one span recorded for task `id`, with the span's id.
fn span_of(id: TaskId) -> (u64, SpanRec) {
    let id = id.as_u64().to_string();
    let spans = SPANS.lock().unwrap();
    let mut mine = spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.fields.get("task.id") == Some(&id));
    let (i, span) = mine.next().expect("a span for the task");
    assert!(mine.next().is_none(), "one span per task");
    (i as u64 + 1, span.clone())
}

fn runtime() -> Runtime {
    Builder::new().slots(2).build().expect("runtime starts")
}

/// Checks the span of a finished task: named and placed like tokio's, with `fields`,
/// entered once per poll (each poll saw it as the current span) and once more while
/// the future was dropped, and closed.
fn check_finished(span_id: u64, span: &SpanRec, seen: &[Option<u64>], fields: &[(&str, &str)]) {
    assert_eq!(span.name, "runtime.spawn");
    assert_eq!(span.target, "neptune_runtime::task");
    assert!(span.root, "a task's span has no parent");
    for (k, v) in fields {
        assert_eq!(
            span.fields.get(k).map(String::as_str),
            Some(*v),
            "field {k}"
        );
    }
    assert!(
        seen.iter().all(|s| *s == Some(span_id)),
        "every poll ran inside the task's span: {seen:?} (span {span_id})"
    );
    // `tracing::Instrumented` enters the span once more to drop the future.
    assert_eq!(span.enters, seen.len() + 1, "{span:?}");
    assert_eq!(span.exits, span.enters, "{span:?}");
    assert_eq!(
        span.handles, 0,
        "the span closes when the task finishes: {span:?}"
    );
}

#[test]
fn each_task_gets_a_runtime_spawn_span_entered_on_every_poll() {
    install();
    let rt = runtime();

    let (stream, stream_seen) = probe(async {
        for _ in 0..5 {
            neptune_runtime::yield_now().await;
        }
        7
    });
    let stream = rt.spawn_with(SpawnOptions::stream().name("ticker"), stream);
    let stream_id = stream.id();
    let (batch, batch_seen) = probe(async { 1 });
    let batch = rt.spawn(batch);
    let batch_id = batch.id();
    assert_eq!(
        rt.block_on(async { stream.await.unwrap() + batch.await.unwrap() }),
        8
    );

    let stream_polls = stream_seen.lock().unwrap().clone();
    assert_eq!(stream_polls.len(), 6, "five yields, then the output");
    let (sid, sspan) = span_of(stream_id);
    check_finished(
        sid,
        &sspan,
        &stream_polls,
        &[
            ("kind", "task"),
            ("task.name", "ticker"),
            ("class", "stream"),
        ],
    );
    let batch_polls = batch_seen.lock().unwrap().clone();
    let (bid, bspan) = span_of(batch_id);
    check_finished(
        bid,
        &bspan,
        &batch_polls,
        &[("kind", "task"), ("task.name", ""), ("class", "batch")],
    );
    assert_ne!(sspan.fields["task.id"], bspan.fields["task.id"]);
}

#[test]
fn a_paused_task_is_not_entered_until_resumed() {
    install();
    let rt = runtime();
    let (tx, rx) = oneshot::channel::<u32>();
    let (fut, seen) = probe(async move { rx.await.unwrap() });
    let join = rt.spawn_with(SpawnOptions::batch().name("waiter"), fut);
    let id = join.id();
    let task = join.task();

    let deadline = Instant::now() + Duration::from_secs(10);
    while task.state() != TaskState::Idle {
        assert!(Instant::now() < deadline, "the task waits on its channel");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(task.pause());
    tx.send(5).unwrap();
    // The wake is remembered, not acted on: no poll, so no entry.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(task.state(), TaskState::Paused);
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(span_of(id).1.enters, 1);

    assert!(task.resume());
    assert_eq!(rt.block_on(join).unwrap(), 5);
    let (span_id, span) = span_of(id);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "one poll before the pause, one after the resume"
    );
    check_finished(
        span_id,
        &span,
        &seen,
        &[
            ("kind", "task"),
            ("task.name", "waiter"),
            ("class", "batch"),
        ],
    );
}
