//! `run mw1 --ui ADDR`: the live view of the rows as they run. Each Neptune row's
//! runtime is shown in turn (a bare runtime: slots, tasks by class and state with the
//! parked Batch tasks, suspensions, stream latency, timeline); the tokio rows have no
//! Neptune runtime, so the engine's figures stay those of the last Neptune row while
//! they run. Beside them, the application's families say which row runs:
//!
//! | family | what |
//! |---|---|
//! | `neptune_app_mw1_row` | 1, labelled with the row running now (`row`) |
//! | `neptune_app_mw1_row_seconds` | seconds since the row started (gauge) |
//! | `neptune_app_mw1_batch_units_total` | batch units the row's tasks did, killed attempts' included (counter) |
//! | `neptune_app_mw1_rows_done_total` | rows finished so far (counter) |

use super::workload::BatchShared;
use crate::live::LiveUi;
use neptune::runtime::Handle;
use neptune::ui::prometheus_client::collector::Collector;
use neptune::ui::prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use neptune::ui::prometheus_client::metrics::MetricType;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The row running now.
struct RowNow {
    name: String,
    started: Instant,
    batch: Arc<BatchShared>,
}

/// What the collector reads at each scrape.
#[derive(Default)]
struct Rows {
    now: Option<RowNow>,
    done: u64,
}

/// The UI of an MW-1 run, if `--ui` asked for one.
pub struct Live {
    ui: LiveUi,
    rows: Arc<Mutex<Rows>>,
}

impl Live {
    /// A live view serving at `addr` (none: nothing is served).
    pub fn new(addr: Option<SocketAddr>) -> Live {
        let rows = Arc::new(Mutex::new(Rows::default()));
        let collector = RowCollector(rows.clone());
        Live {
            ui: LiveUi::new(addr).with_metrics(move |r| r.register_collector(Box::new(collector))),
            rows,
        }
    }

    /// Spans per slot a row's runtime keeps for the timeline page.
    pub fn timeline_spans(&self) -> usize {
        self.ui.timeline_spans()
    }

    /// Row `name` starts, on `runtime` (none for a tokio row), its batch tasks
    /// counting into `batch`.
    pub fn row_started(
        &self,
        name: &str,
        runtime: Option<&Handle>,
        batch: &Arc<BatchShared>,
    ) -> Result<(), String> {
        if !self.ui.serving() {
            return Ok(());
        }
        lock(&self.rows).now = Some(RowNow {
            name: name.to_owned(),
            started: Instant::now(),
            batch: batch.clone(),
        });
        match runtime {
            Some(rt) => self.ui.show_runtime(rt),
            None => Ok(()),
        }
    }

    /// The row that ran ends.
    pub fn row_ended(&self) {
        let mut rows = lock(&self.rows);
        if rows.now.take().is_some() {
            rows.done += 1;
        }
    }
}

fn lock(m: &Mutex<Rows>) -> std::sync::MutexGuard<'_, Rows> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes the application's families at each scrape.
struct RowCollector(Arc<Mutex<Rows>>);

impl fmt::Debug for RowCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowCollector").finish_non_exhaustive()
    }
}

impl Collector for RowCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let (now, done) = {
            let rows = lock(&self.0);
            let now = rows.now.as_ref().map(|r| {
                (
                    r.name.clone(),
                    r.started.elapsed().as_secs_f64(),
                    r.batch.units.0.load(Relaxed),
                )
            });
            (now, rows.done)
        };
        encoder
            .encode_descriptor(
                "neptune_app_mw1_rows_done",
                "Rows finished so far",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, u64, f64>(&done, None)?;
        let Some((name, seconds, units)) = now else {
            return Ok(());
        };
        let labels = vec![("row", name)];
        encoder
            .encode_descriptor(
                "neptune_app_mw1_row",
                "1, labelled with the row running now",
                None,
                MetricType::Gauge,
            )?
            .encode_family(&labels)?
            .encode_gauge(&1i64)?;
        encoder
            .encode_descriptor(
                "neptune_app_mw1_row_seconds",
                "Seconds since the row running now started",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&seconds)?;
        encoder
            .encode_descriptor(
                "neptune_app_mw1_batch_units",
                "Batch units the running row's tasks did, killed attempts' included",
                None,
                MetricType::Counter,
            )?
            .encode_counter::<NoLabelSet, u64, f64>(&units, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neptune::ui::prometheus_client::encoding::text::encode;
    use neptune::ui::prometheus_client::registry::Registry;

    #[test]
    fn the_row_running_now_is_labelled_and_finished_rows_counted() {
        let rows = Arc::new(Mutex::new(Rows::default()));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(RowCollector(rows.clone())));
        let text = |r: &Registry| {
            let mut t = String::new();
            encode(&mut t, r).unwrap();
            t
        };
        assert!(text(&registry).contains("neptune_app_mw1_rows_done_total 0"));
        assert!(!text(&registry).contains("neptune_app_mw1_row{"));

        let batch = BatchShared::new();
        batch.units.0.store(42, Relaxed);
        lock(&rows).now = Some(RowNow {
            name: "fair".to_owned(),
            started: Instant::now(),
            batch,
        });
        let t = text(&registry);
        assert!(t.contains(r#"neptune_app_mw1_row{row="fair"} 1"#), "{t}");
        assert!(t.contains("neptune_app_mw1_batch_units_total 42"), "{t}");
        assert!(t.contains("neptune_app_mw1_row_seconds "), "{t}");
    }
}
