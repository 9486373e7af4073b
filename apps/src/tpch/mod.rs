//! TPC-H Q1 and Q6 as batch jobs over LINEITEM generated in-process with `tpchgen`,
//! checked against the same queries computed by a single-threaded loop.
//!
//! ```text
//! neptune run tpch [--sf 0.1] [--slots N[,N…]] [--partitions P] [--rounds R] [--json]
//!     [--cluster local:N] [--report FILE] [--ui ADDR]
//! ```
//!
//! (`cargo run --release --example tpch -- …` runs the same.)
//!
//! With `--cluster local:N` the queries run on N executor processes of this program
//! (`--slots` each), built by name (`tpch-q1`, `tpch-q6`): each task generates its
//! part of LINEITEM where it runs, so the engine's times include generation there.
//!
//! The table is generated once and held in memory; both versions of each query read
//! the same rows. Timings alternate engine and loop (A B A B …) for `--rounds` rounds
//! and report medians, so that both see the same machine. The answers must be equal to
//! the last digit (money is exact fixed point), or the program fails.
//!
//! `--slots` may name several slot counts (`1,2,4`): the queries then run on a context
//! of each in turn, one line per query and slot count. `--report FILE` writes one
//! self-contained HTML page with the settings, the figures, a plot of engine against
//! loop per query and slot count, and the answers. `--ui ADDR` serves the live UI
//! ([`neptune::ui`]) at `ADDR` (port 0 picks one; the address is printed on standard
//! error), following each slot count's context, with the executors' timeline on.

pub mod queries;

use crate::cluster::local_cluster;
use crate::html::{self, Section};
use crate::live::LiveUi;
use crate::plot::{self, BarChart, Bars};
use crate::progress::Progress;
use clap::Parser;
use neptune::dataflow::{Context, Dataset};
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use neptune_support::stats::{median, round};
use serde::Serialize;
use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// What [`compare`] measured: medians in ms, whether every run agreed, and the last
/// answer.
struct Compared<T> {
    engine_ms: f64,
    loop_ms: f64,
    agree: bool,
    answer: T,
}

/// Runs `engine` and `reference` alternately, one unmeasured warm-up round then
/// `rounds` measured ones, calling `done` after each round.
fn compare<T: PartialEq>(
    rounds: usize,
    mut engine: impl FnMut() -> Result<T, String>,
    mut reference: impl FnMut() -> T,
    mut done: impl FnMut(),
) -> Result<Compared<T>, String> {
    let (mut e_ms, mut r_ms) = (Vec::new(), Vec::new());
    let mut agree = true;
    let mut last = None;
    for round in 0..=rounds {
        let t = Instant::now();
        let e = engine()?;
        let e_time = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let r = reference();
        let r_time = t.elapsed().as_secs_f64() * 1e3;
        if round > 0 {
            e_ms.push(e_time);
            r_ms.push(r_time);
        }
        agree &= e == r;
        last = Some(r);
        done();
    }
    Ok(Compared {
        engine_ms: median(e_ms),
        loop_ms: median(r_ms),
        agree,
        answer: last.expect("at least one round"),
    })
}

/// TPC-H Q1 and Q6 as batch jobs over LINEITEM generated in-process, checked against
/// the same queries computed by a single-threaded loop.
#[derive(Parser, Debug)]
#[command(name = "tpch")]
pub struct Args {
    /// TPC-H scale factor (SF 1 is about 6 million LINEITEM rows).
    #[arg(long, value_name = "SF", default_value_t = 0.1, value_parser = positive_f64)]
    sf: f64,
    /// Slots (of each executor process with --cluster), one per core by default; a
    /// comma-separated list runs the queries with each in turn.
    #[arg(long, value_name = "N[,N…]", value_delimiter = ',', default_values_t = [available_cores()], value_parser = at_least_one::<usize>)]
    slots: Vec<usize>,
    /// Partitions of LINEITEM [default: 2 × slots].
    #[arg(long, value_name = "P", value_parser = at_least_one::<usize>)]
    partitions: Option<usize>,
    /// Measured rounds of each query, alternating engine and loop (after one warm-up).
    #[arg(long, value_name = "R", default_value_t = 3, value_parser = at_least_one::<usize>)]
    rounds: usize,
    /// Print one JSON object per query instead of a table.
    #[arg(long)]
    json: bool,
    /// Run the queries on N executor processes of this program (`local:N`, N > 0).
    #[arg(long, value_name = "local:N", value_parser = local_cluster)]
    cluster: Option<usize>,
    /// Also write a self-contained HTML report (settings, figures, plot) to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Serve the live UI of the run's contexts at ADDR (HOST:PORT; port 0 picks one).
    #[arg(long, value_name = "ADDR", value_parser = crate::live::addr)]
    ui: Option<SocketAddr>,
}

/// One query at one slot count: its `--json` line, and a row of the table and the
/// report.
#[derive(Serialize, Debug, Default, Clone, PartialEq)]
struct QueryReport {
    /// `q1` or `q6`.
    query: &'static str,
    sf: f64,
    /// LINEITEM rows.
    rows: usize,
    slots: usize,
    partitions: usize,
    /// Medians over the measured rounds, to 0.01 ms.
    engine_ms: f64,
    loop_ms: f64,
    /// Loop over engine, to 0.001.
    speedup: f64,
    /// Whether the engine's answer equalled the loop's in every round.
    results_match: bool,
}

impl QueryReport {
    fn new(query: &'static str, run: &Run, compared: &Compared<impl PartialEq>) -> QueryReport {
        QueryReport {
            query,
            sf: run.sf,
            rows: run.rows,
            slots: run.slots,
            partitions: run.partitions,
            engine_ms: round(compared.engine_ms, 2),
            loop_ms: round(compared.loop_ms, 2),
            speedup: round(compared.loop_ms / compared.engine_ms, 3),
            results_match: compared.agree,
        }
    }

    fn text(&self) -> String {
        format!(
            "  {}: engine {:>8.2} ms   single-threaded loop {:>8.2} ms   speedup {:.2}x   {}",
            self.query,
            self.engine_ms,
            self.loop_ms,
            self.speedup,
            if self.results_match {
                "results match"
            } else {
                "RESULTS DIFFER"
            }
        )
    }

    const HEADERS: [&'static str; 7] = [
        "query",
        "slots",
        "partitions",
        "engine ms",
        "loop ms",
        "speedup",
        "results",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.query.to_owned(),
            self.slots.to_string(),
            self.partitions.to_string(),
            format!("{:.2}", self.engine_ms),
            format!("{:.2}", self.loop_ms),
            format!("{:.3}", self.speedup),
            if self.results_match {
                "match"
            } else {
                "DIFFER"
            }
            .to_owned(),
        ]
    }
}

/// What one slot count's run shares with its lines.
struct Run {
    sf: f64,
    rows: usize,
    slots: usize,
    partitions: usize,
}

/// The HTML report: the settings, every line as a table row, engine against loop per
/// query and slot count, and the answers.
fn report_page(
    meta: &str,
    settings: &[(&str, String)],
    lines: &[QueryReport],
    q1: &[queries::Q1Row],
    q6: i64,
) -> Result<String, plot::PlotError> {
    let settings: Vec<Vec<String>> = settings
        .iter()
        .map(|(k, v)| vec![(*k).to_owned(), v.clone()])
        .collect();
    let rows: Vec<Vec<String>> = lines.iter().map(QueryReport::cells).collect();
    let groups = lines
        .iter()
        .map(|l| {
            let plural = if l.slots == 1 { "" } else { "s" };
            format!("{} ({} slot{plural})", l.query, l.slots)
        })
        .collect();
    let mut chart = BarChart::new(
        "TPC-H: the engine against a single-threaded loop",
        "time per run (median)",
        groups,
        vec![
            Bars {
                name: "engine".into(),
                values: lines.iter().map(|l| Some(l.engine_ms * 1e3)).collect(),
            },
            Bars {
                name: "single-threaded loop".into(),
                values: lines.iter().map(|l| Some(l.loop_ms * 1e3)).collect(),
            },
        ],
    );
    // In µs, so that the axis reads µs, ms or s as the times need.
    chart.label = plot::short_us;
    chart.notes = lines.iter().map(|l| format!("{:.2}x", l.speedup)).collect();
    let width = (200 + 110 * lines.len() as u32).max(600);
    let svg = chart.svg(width, 420)?;
    let answers: Vec<Vec<String>> = q1
        .iter()
        .map(|r| {
            vec![
                r.returnflag.to_string(),
                r.linestatus.to_string(),
                r.sums.qty.to_string(),
                queries::fixed(r.sums.base_price as i128, 2),
                queries::fixed(r.sums.disc_price, 4),
                queries::fixed(r.sums.charge, 6),
                format!("{:.2}", r.avg_qty),
                format!("{:.2}", r.avg_price),
                format!("{:.4}", r.avg_disc),
                r.sums.count.to_string(),
            ]
        })
        .collect();
    let answers = html::table(
        &[
            "flag",
            "status",
            "sum_qty",
            "sum_base_price",
            "sum_disc_price",
            "sum_charge",
            "avg_qty",
            "avg_price",
            "avg_disc",
            "count",
        ],
        &answers,
    ) + &format!(
        "<p>Q6 revenue: {}</p>\n",
        html::esc(&queries::fixed(q6 as i128, 4))
    );
    Ok(html::page(
        "TPC-H Q1 and Q6 on Neptune",
        meta,
        &[
            Section {
                heading: "Settings".into(),
                html: html::table(&["setting", "value"], &settings),
            },
            Section {
                heading: "Results".into(),
                html: html::table(&QueryReport::HEADERS, &rows)
                    + &html::figure(
                        &svg,
                        "median time per run; the note over each group is the loop's time over the engine's",
                    ),
            },
            Section {
                heading: "Answers".into(),
                html: answers,
            },
        ],
    ))
}

/// Runs the queries as `args` say and prints the figures; fails if the engine's
/// answers differ from the loop's. With `--cluster`, the program must have called
/// [`main_or_executor`](neptune::dataflow::cluster::main_or_executor) with
/// [`crate::builders`] first: its executor processes run the queries' plans.
pub fn main(args: Args) -> ExitCode {
    // Created before the run, so that a path that cannot be written fails at once
    // rather than after it.
    let report = match args.report.as_ref().map(|p| (p, File::create(p))) {
        None => None,
        Some((_, Ok(file))) => Some(file),
        Some((path, Err(e))) => {
            eprintln!("tpch: cannot write the report to {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    match run(args, report) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("tpch: the engine's answers differ from the reference loop's");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tpch: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the queries at every slot count; whether every answer matched.
fn run(args: Args, report: Option<File>) -> Result<bool, String> {
    let Args {
        sf,
        slots: slot_counts,
        partitions,
        rounds,
        json,
        cluster,
        report: report_path,
        ui: ui_addr,
    } = args;
    // One UI for the whole run: it follows each slot count's context.
    let live = LiveUi::new(ui_addr);

    let t = Instant::now();
    let rows = queries::generate(sf, available_cores());
    let gen_ms = t.elapsed().as_secs_f64() * 1e3;
    let n = rows.len();

    let progress = Progress::new((slot_counts.len() * 2 * (rounds + 1)) as u64, "tpch rounds");
    let mut steps = 0u64;
    let mut lines = Vec::new();
    let mut answers = None;
    for &slots in &slot_counts {
        let partitions = partitions.unwrap_or(2 * slots);
        let mut builder = Context::builder()
            .slots_per_executor(slots)
            .builders(crate::builders());
        builder = match cluster {
            Some(n) => builder.local_cluster(n),
            None => builder.executors(1),
        };
        let ctx = builder
            .timeline(live.timeline_spans())
            .build()
            .map_err(|e| e.to_string())?;
        live.show_context(&ctx)?;
        let lineitem = queries::dataset(&ctx, rows.clone(), partitions);
        if !json {
            let place = match cluster {
                Some(n) => format!("a local cluster of {n} executor processes x {slots} slots"),
                None => format!("{slots} slots"),
            };
            println!(
                "TPC-H at SF {sf}: {n} LINEITEM rows generated in {gen_ms:.0} ms; {place}, {partitions} partitions, {rounds} rounds"
            );
        }

        let q1_engine = || match cluster {
            None => queries::q1_engine(&lineitem).map_err(|e| format!("Q1 job: {e}")),
            Some(_) => {
                let q1: Dataset<((u8, u8), queries::Q1Sums)> = ctx
                    .build("tpch-q1", (sf, partitions))
                    .map_err(|e| format!("Q1's plan: {e}"))?;
                let out = q1.collect().map_err(|e| format!("Q1 job: {e}"))?;
                Ok(queries::q1_answer(out.into_value()))
            }
        };
        let q6_engine = || match cluster {
            None => queries::q6_engine(&lineitem).map_err(|e| format!("Q6 job: {e}")),
            Some(_) => {
                let q6: Dataset<((), i64)> = ctx
                    .build("tpch-q6", (sf, partitions))
                    .map_err(|e| format!("Q6's plan: {e}"))?;
                let out = q6.collect().map_err(|e| format!("Q6 job: {e}"))?;
                Ok(out.first().map_or(0, |r| r.1))
            }
        };
        let mut tick = |query: &str| {
            steps += 1;
            progress.set(steps, format!("{slots} slots, {query}"));
        };
        let q1 = compare(
            rounds,
            q1_engine,
            || queries::q1_reference(&rows),
            || tick("q1"),
        )?;
        let q6 = compare(
            rounds,
            q6_engine,
            || queries::q6_reference(&rows),
            || tick("q6"),
        )?;

        let shared = Run {
            sf,
            rows: n,
            slots,
            partitions,
        };
        for line in [
            QueryReport::new("q1", &shared, &q1),
            QueryReport::new("q6", &shared, &q6),
        ] {
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&line).map_err(|e| e.to_string())?
                );
            } else {
                println!("{}", line.text());
            }
            lines.push(line);
        }
        answers = Some((q1.answer, q6.answer));
    }
    progress.finish(format!("{} lines", lines.len()));
    let (q1, q6) = answers.ok_or("no slot count to run the queries with")?;
    if !json {
        println!("  Q1:");
        println!("    flag status        sum_qty      sum_base_price        sum_disc_price            sum_charge  avg_qty  avg_price avg_disc   count");
        for r in &q1 {
            println!(
                "    {}    {}      {:>12} {:>19} {:>21} {:>21} {:>8.2} {:>10.2} {:>8.4} {:>7}",
                r.returnflag,
                r.linestatus,
                r.sums.qty,
                queries::fixed(r.sums.base_price as i128, 2),
                queries::fixed(r.sums.disc_price, 4),
                queries::fixed(r.sums.charge, 6),
                r.avg_qty,
                r.avg_price,
                r.avg_disc,
                r.sums.count
            );
        }
        println!("  Q6: revenue {}", queries::fixed(q6 as i128, 4));
    }
    if let (Some(mut file), Some(path)) = (report, report_path) {
        let slots = slot_counts
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let settings = [
            ("scale factor", sf.to_string()),
            ("LINEITEM rows", n.to_string()),
            ("generated in (ms)", format!("{gen_ms:.0}")),
            ("slots", slots),
            (
                "partitions",
                partitions.map_or("2 × slots".to_owned(), |p| p.to_string()),
            ),
            ("rounds", rounds.to_string()),
            (
                "mode",
                cluster.map_or("local".to_owned(), |n| {
                    format!("a local cluster of {n} executor processes")
                }),
            ),
        ];
        let meta = format!("SF {sf}, {n} LINEITEM rows; slots {}", settings[3].1);
        let page = report_page(&meta, &settings, &lines, &q1, q6).map_err(|e| e.to_string())?;
        file.write_all(page.as_bytes())
            .map_err(|e| format!("cannot write the report to {}: {e}", path.display()))?;
    }
    Ok(lines.iter().all(|l| l.results_match))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use neptune_support::args::assert_refused;

    #[test]
    fn cli() {
        Args::command().debug_assert();
        let c = Args::try_parse_from(["tpch"]).unwrap();
        assert!(!c.json);
        assert_eq!(
            (c.sf, c.slots.as_slice(), c.partitions),
            (0.1, &[available_cores()][..], None)
        );
        assert_eq!((c.rounds, c.cluster), (3, None));
        assert_eq!((c.report, c.ui), (None, None));
        let c = Args::try_parse_from([
            "tpch",
            "--json",
            "--sf=0.01",
            "--slots",
            "2",
            "--partitions",
            "8",
            "--cluster",
            "local:3",
            "--report",
            "tpch.html",
            "--ui",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!(
            (c.sf, c.slots.as_slice(), c.partitions),
            (0.01, &[2][..], Some(8))
        );
        assert_eq!(c.cluster, Some(3));
        assert_eq!(c.report, Some(PathBuf::from("tpch.html")));
        assert_eq!(c.ui, Some("127.0.0.1:0".parse().unwrap()));
        let c = Args::try_parse_from(["tpch", "--slots=1,2,4"]).unwrap();
        assert_eq!(c.slots, [1, 2, 4]);
        assert_refused::<Args>(&[
            &["--jsno"][..],
            &["--sf", "0"],
            &["--sf", "big"],
            &["--slots", "0"],
            &["--slots", "1,0"],
            &["--slots="],
            &["--partitions", "0"],
            &["--rounds", "0"],
            &["--cluster", "local:0"],
            &["--cluster", "3"],
            &["--cluster", "remote:3"],
            &["--ui", "nowhere"],
            &["--ui", "127.0.0.1"],
            &["--report"],
        ]);
    }

    #[test]
    fn a_query_line_has_the_keys_it_always_had() {
        let line = QueryReport {
            query: "q1",
            speedup: round(2.345_67, 3),
            ..QueryReport::default()
        };
        let text = serde_json::to_string(&line).unwrap();
        let keys = neptune_support::json::sorted_keys(&text);
        let mut old = [
            "query",
            "sf",
            "rows",
            "slots",
            "partitions",
            "engine_ms",
            "loop_ms",
            "speedup",
            "results_match",
        ];
        old.sort_unstable();
        assert_eq!(keys, old);
        assert!(text.starts_with(r#"{"query":"q1","#) && text.contains(r#""speedup":2.346,"#));
    }

    /// Two slot counts with the UI following both contexts and a report: one line per
    /// query and slot count, and a page with the table and an inline plot.
    #[test]
    fn two_slot_counts_serve_one_ui_and_write_the_report() {
        let dir = neptune_support::temp::TempDir::new("tpch-report");
        let path = dir.path().join("tpch.html");
        let args = Args::try_parse_from([
            "tpch",
            "--json",
            "--sf=0.001",
            "--slots=1,2",
            "--rounds=1",
            "--ui=127.0.0.1:0",
            "--report",
            path.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(main(args), ExitCode::SUCCESS);
        let page = std::fs::read_to_string(&path).unwrap();
        for part in [
            "<h2>Settings</h2>",
            "<h2>Results</h2>",
            "<table>",
            "q6 (2 slots)",
            "Q6 revenue",
        ] {
            assert!(page.contains(part), "{part} missing");
        }
        assert_eq!(page.matches("<svg").count(), 1);
        // A row per query and slot count.
        assert_eq!(page.matches("<td>q1</td>").count(), 2);
    }

    #[test]
    fn a_report_that_cannot_be_written_is_refused() {
        let dir = neptune_support::temp::TempDir::new("tpch-report");
        let path = dir.path().join("no-such-dir").join("tpch.html");
        let args = Args::try_parse_from([
            "tpch",
            "--sf=0.001",
            "--slots=1",
            "--rounds=1",
            "--report",
            path.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(main(args), ExitCode::FAILURE);
        assert!(!path.exists());
    }
}
