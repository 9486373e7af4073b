//! TPC-H Q1 and Q6 as batch jobs over LINEITEM generated in-process with `tpchgen`,
//! checked against the same queries computed by a single-threaded loop.
//!
//! ```text
//! neptune run tpch [--sf 0.1] [--slots N] [--partitions P] [--rounds R] [--json]
//!     [--cluster local:N]
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

pub mod queries;

use crate::cluster::local_cluster;
use clap::Parser;
use neptune::dataflow::{Context, Dataset};
use neptune_support::args::{at_least_one, available_cores, positive_f64};
use neptune_support::stats::median;
use std::process::ExitCode;
use std::time::Instant;

/// Runs `engine` and `reference` alternately, one unmeasured warm-up round then
/// `rounds` measured ones; medians in ms, and whether every run agreed.
fn compare<T: PartialEq>(
    rounds: usize,
    mut engine: impl FnMut() -> T,
    mut reference: impl FnMut() -> T,
) -> (f64, f64, bool, T) {
    let (mut e_ms, mut r_ms) = (Vec::new(), Vec::new());
    let mut agree = true;
    let mut last = None;
    for round in 0..=rounds {
        let t = Instant::now();
        let e = engine();
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
    }
    (
        median(e_ms),
        median(r_ms),
        agree,
        last.expect("at least one round"),
    )
}

/// TPC-H Q1 and Q6 as batch jobs over LINEITEM generated in-process, checked against
/// the same queries computed by a single-threaded loop.
#[derive(Parser, Debug)]
#[command(name = "tpch")]
pub struct Args {
    /// TPC-H scale factor (SF 1 is about 6 million LINEITEM rows).
    #[arg(long, value_name = "SF", default_value_t = 0.1, value_parser = positive_f64)]
    sf: f64,
    /// Slots (of each executor process with --cluster), one per core by default.
    #[arg(long, value_name = "N", default_value_t = available_cores(), value_parser = at_least_one::<usize>)]
    slots: usize,
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
}

/// Runs the queries as `args` say and prints the figures; fails if the engine's
/// answers differ from the loop's. With `--cluster`, the program must have called
/// [`main_or_executor`](neptune::dataflow::cluster::main_or_executor) with
/// [`crate::builders`] first: its executor processes run the queries' plans.
pub fn main(args: Args) -> ExitCode {
    let Args {
        sf,
        slots,
        partitions,
        rounds,
        json,
        cluster,
    } = args;
    let partitions = partitions.unwrap_or(2 * slots);

    let t = Instant::now();
    let rows = queries::generate(sf, available_cores());
    let gen_ms = t.elapsed().as_secs_f64() * 1e3;
    let n = rows.len();
    let builder = Context::builder()
        .slots_per_executor(slots)
        .builders(crate::builders());
    let builder = match cluster {
        Some(n) => builder.local_cluster(n),
        None => builder.executors(1),
    };
    let ctx = match builder.build() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("tpch: {e}");
            return ExitCode::FAILURE;
        }
    };
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
        None => queries::q1_engine(&lineitem).expect("Q1 job"),
        Some(_) => {
            let q1: Dataset<((u8, u8), queries::Q1Sums)> =
                ctx.build("tpch-q1", (sf, partitions)).expect("Q1's plan");
            queries::q1_answer(q1.collect().expect("Q1 job").into_value())
        }
    };
    let q6_engine = || match cluster {
        None => queries::q6_engine(&lineitem).expect("Q6 job"),
        Some(_) => {
            let q6: Dataset<((), i64)> = ctx.build("tpch-q6", (sf, partitions)).expect("Q6's plan");
            q6.collect().expect("Q6 job").first().map_or(0, |r| r.1)
        }
    };
    let (q1_e, q1_r, q1_ok, q1) = compare(rounds, q1_engine, || queries::q1_reference(&rows));
    let (q6_e, q6_r, q6_ok, q6) = compare(rounds, q6_engine, || queries::q6_reference(&rows));

    for (query, engine_ms, loop_ms, ok) in [("q1", q1_e, q1_r, q1_ok), ("q6", q6_e, q6_r, q6_ok)] {
        if json {
            println!(
                "{{\"query\":\"{query}\",\"sf\":{sf},\"rows\":{n},\"slots\":{slots},\"partitions\":{partitions},\"engine_ms\":{engine_ms:.2},\"loop_ms\":{loop_ms:.2},\"speedup\":{:.3},\"results_match\":{ok}}}",
                loop_ms / engine_ms
            );
        } else {
            println!(
                "  {query}: engine {engine_ms:>8.2} ms   single-threaded loop {loop_ms:>8.2} ms   speedup {:.2}x   {}",
                loop_ms / engine_ms,
                if ok { "results match" } else { "RESULTS DIFFER" }
            );
        }
    }
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
    if q1_ok && q6_ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("tpch: the engine's answers differ from the reference loop's");
        ExitCode::FAILURE
    }
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
            (c.sf, c.slots, c.partitions),
            (0.1, available_cores(), None)
        );
        assert_eq!((c.rounds, c.cluster), (3, None));
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
        ])
        .unwrap();
        assert!(c.json);
        assert_eq!((c.sf, c.slots, c.partitions), (0.01, 2, Some(8)));
        assert_eq!(c.cluster, Some(3));
        assert_refused::<Args>(&[
            &["--jsno"][..],
            &["--sf", "0"],
            &["--sf", "big"],
            &["--slots", "0"],
            &["--partitions", "0"],
            &["--rounds", "0"],
            &["--cluster", "local:0"],
            &["--cluster", "3"],
            &["--cluster", "remote:3"],
        ]);
    }
}
