//! TPC-H Q1 and Q6 as dataflow jobs give exactly the answers of the single-threaded
//! reference loops, at a tiny scale factor.

#[path = "../examples/tpch/queries.rs"]
mod queries;

use neptune::dataflow::Context;

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
