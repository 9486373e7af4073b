//! The application's live view (`--ui ADDR`): one [`neptune::ui`] server for all the
//! runs of a command line, shown each run's context in turn, with the application's
//! own metrics beside the engine's.
//!
//! The application's families, all read by the same scrape:
//!
//! | family | what |
//! |---|---|
//! | `neptune_app_model_version` | the latest published model version (gauge) |
//! | `neptune_app_model_accuracy` | the latest model's accuracy on a held-out sample (gauge) |
//! | `neptune_app_stream_accuracy` | share of scored events labelled right so far (gauge) |
//! | `neptune_app_events_scored_total` | events the stream scored (counter) |
//! | `neptune_app_model_staleness_seconds` | per micro-batch: the age of the model version it scored with (histogram) |

use crate::live::LiveUi;
use neptune::dataflow::Context;
use neptune::ui::prometheus_client::metrics::counter::Counter;
use neptune::ui::prometheus_client::metrics::gauge::Gauge;
use neptune::ui::prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use neptune::ui::prometheus_client::registry::Registry;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Publication times kept to look a scored version's age up: a micro-batch scores
/// with a version a few passes old at most.
const PUBLISHED_KEPT: usize = 256;

/// The application's own metrics. Cheap to clone (shared counters); updated whether or
/// not a UI serves them.
#[derive(Clone, Debug)]
pub struct AppMetrics {
    model_version: Gauge,
    model_accuracy: Gauge<f64, AtomicU64>,
    stream_accuracy: Gauge<f64, AtomicU64>,
    events_scored: Counter,
    scored_right: Arc<AtomicU64>,
    staleness: Histogram,
    /// (version, when it was published), newest last.
    published: Arc<Mutex<VecDeque<(u64, Instant)>>>,
}

impl Default for AppMetrics {
    fn default() -> AppMetrics {
        AppMetrics {
            model_version: Gauge::default(),
            model_accuracy: Gauge::default(),
            stream_accuracy: Gauge::default(),
            events_scored: Counter::default(),
            scored_right: Arc::default(),
            // 100 µs to about 3.3 s: a model is a pass or a few old.
            staleness: Histogram::new(exponential_buckets(1e-4, 2.0, 16)),
            published: Arc::default(),
        }
    }
}

impl AppMetrics {
    /// A run starts: its model is version 0, published now.
    pub fn run_started(&self, at: Instant) {
        let mut published = self.lock();
        published.clear();
        published.push_back((0, at));
        self.model_version.set(0);
    }

    /// The trainer published `version` now.
    pub fn published(&self, version: u64) {
        let mut published = self.lock();
        if published.len() == PUBLISHED_KEPT {
            published.pop_front();
        }
        published.push_back((version, Instant::now()));
        self.model_version.set(version as i64);
    }

    /// A micro-batch scored `events`, `right` of them right, with model `version`.
    pub fn scored(&self, events: u64, right: u64, version: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.events_scored.inc_by(events);
        let right = self.scored_right.fetch_add(right, Relaxed) + right;
        let total = self.events_scored.get().max(1);
        self.stream_accuracy.set(right as f64 / total as f64);
        let at = self
            .lock()
            .iter()
            .rev()
            .find(|(v, _)| *v == version)
            .map(|(_, at)| *at);
        if let Some(at) = at {
            self.staleness.observe(at.elapsed().as_secs_f64());
        }
    }

    /// The latest model's accuracy on the held-out sample.
    pub fn model_accuracy(&self, accuracy: f64) {
        self.model_accuracy.set(accuracy);
    }

    /// Adds the application's families to `registry`.
    pub fn register(self, r: &mut Registry) {
        r.register(
            "neptune_app_model_version",
            "The latest published model version",
            self.model_version,
        );
        r.register(
            "neptune_app_model_accuracy",
            "The latest model's accuracy on a held-out sample",
            self.model_accuracy,
        );
        r.register(
            "neptune_app_stream_accuracy",
            "Share of scored events the model in use labelled right",
            self.stream_accuracy,
        );
        r.register(
            "neptune_app_events_scored",
            "Events the stream scored",
            self.events_scored,
        );
        r.register(
            "neptune_app_model_staleness_seconds",
            "Per micro-batch: the age of the model version it scored with",
            self.staleness,
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, Instant)>> {
        self.published.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The live view of a command line's runs: a UI once the first run's context exists
/// (when `--ui` asked for one), and the application's metrics.
pub struct Live {
    ui: LiveUi,
    metrics: AppMetrics,
}

impl Live {
    /// A live view serving at `addr` (none: metrics only).
    pub fn new(addr: Option<SocketAddr>) -> Live {
        let metrics = AppMetrics::default();
        let m = metrics.clone();
        Live {
            ui: LiveUi::new(addr).with_metrics(move |r| m.register(r)),
            metrics,
        }
    }

    /// Whether a UI was asked for.
    pub fn serving(&self) -> bool {
        self.ui.serving()
    }

    /// Where the UI listens, once the first run started it.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.ui.local_addr()
    }

    /// The application's metrics.
    pub fn metrics(&self) -> &AppMetrics {
        &self.metrics
    }

    /// Shows `ctx` from now on: starts the UI with it the first time (printing its
    /// address on standard error), then switches the UI to it.
    pub fn show(&self, ctx: &Context) -> Result<(), String> {
        self.ui.show_context(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_is_the_age_of_the_version_scored_with() {
        let m = AppMetrics::default();
        let start = Instant::now();
        m.run_started(start);
        m.published(1);
        m.scored(10, 9, 1);
        m.scored(10, 10, 0);
        // A version nobody published (a later run's, say) is not observed.
        m.scored(5, 0, 42);
        assert_eq!(m.events_scored.get(), 25);
        assert_eq!(m.model_version.get(), 1);
        assert!((m.stream_accuracy.get() - 19.0 / 25.0).abs() < 1e-9);
        let mut registry = Registry::default();
        m.clone().register(&mut registry);
        let mut text = String::new();
        neptune::ui::prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "neptune_app_model_staleness_seconds_count 2",
            "neptune_app_events_scored_total 25",
            "neptune_app_model_version 1",
        ] {
            assert!(text.contains(line), "{line} missing from {text}");
        }
    }

    #[test]
    fn only_the_latest_publications_are_kept() {
        let m = AppMetrics::default();
        m.run_started(Instant::now());
        for v in 1..=(PUBLISHED_KEPT as u64 + 10) {
            m.published(v);
        }
        assert_eq!(m.lock().len(), PUBLISHED_KEPT);
        assert_eq!(m.lock().back().unwrap().0, PUBLISHED_KEPT as u64 + 10);
    }
}
