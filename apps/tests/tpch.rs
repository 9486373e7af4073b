//! TPC-H Q1 and Q6 as dataflow jobs give exactly the answers of the single-threaded
//! reference loops, at a tiny scale factor.

use neptune::dataflow::cluster::main_or_executor;
use neptune::dataflow::{Context, Dataset};
use neptune_apps::tpch::queries;

/// Not a test of its own: the entry point of this binary's executor processes.
#[test]
fn executor_entry() {
    main_or_executor(&neptune_apps::builders());
}

#[test]
fn q1_and_q6_on_two_and_three_executor_processes_equal_the_reference_loops() {
    let (sf, parts) = (0.01, 4);
    let rows = queries::generate(sf, parts);
    let (q1_expected, q6_expected) = (queries::q1_reference(&rows), queries::q6_reference(&rows));
    for n in [2, 3] {
        let ctx = Context::builder()
            .builders(neptune_apps::builders())
            .local_cluster(n)
            .local_cluster_command(
                None,
                vec![
                    "executor_entry".into(),
                    "--exact".into(),
                    "--nocapture".into(),
                ],
            )
            .build()
            .unwrap();
        let q1: Dataset<((u8, u8), queries::Q1Sums)> = ctx.build("tpch-q1", (sf, parts)).unwrap();
        let q1 = q1.collect().unwrap();
        assert!(
            q1.stats
                .tasks_per_executor
                .iter()
                .filter(|&&t| t > 0)
                .count()
                > 1
        );
        assert_eq!(queries::q1_answer(q1.into_value()), q1_expected);
        let q6: Dataset<((), i64)> = ctx.build("tpch-q6", (sf, parts)).unwrap();
        assert_eq!(*q6.collect().unwrap(), [((), q6_expected)]);
    }
}

#[test]
fn q1_and_q6_match_the_reference_loops() {
    let rows = queries::generate(0.01, 2);
    assert!(rows.len() > 50_000, "{} rows", rows.len());
    let ctx = Context::builder()
        .executors(2)
        .slots_per_executor(1)
        .build()
        .unwrap();
    let lineitem = queries::dataset(&ctx, rows.clone(), 5);

    let q1 = queries::q1_engine(&lineitem).unwrap();
    assert_eq!(q1, queries::q1_reference(&rows));
    // The four groups of Q1 (A-F, N-F, N-O, R-F), and the filter kept most rows.
    let groups: Vec<(char, char)> = q1.iter().map(|r| (r.returnflag, r.linestatus)).collect();
    assert_eq!(groups, [('A', 'F'), ('N', 'F'), ('N', 'O'), ('R', 'F')]);
    let counted: u64 = q1.iter().map(|r| r.sums.count).sum();
    assert!(counted > rows.len() as u64 * 9 / 10 && counted < rows.len() as u64);

    let q6 = queries::q6_engine(&lineitem).unwrap();
    assert_eq!(q6, queries::q6_reference(&rows));
    assert!(q6 > 0);
}

#[test]
fn generation_does_not_depend_on_the_thread_count() {
    assert_eq!(queries::generate(0.001, 1), queries::generate(0.001, 3));
}

#[test]
fn civil_dates() {
    assert_eq!(queries::days_from_civil(1970, 1, 1), 0);
    assert_eq!(queries::days_from_civil(1992, 1, 1), 8035);
    assert_eq!(queries::days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(queries::fixed(-12_345, 2), "-123.45");
}
