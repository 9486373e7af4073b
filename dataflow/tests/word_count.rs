//! Multi-stage jobs: word count and what follows a shuffle.

mod common;

use common::ctx;
use neptune_dataflow::{Context, Dataset, JobId, StageId, StageKind, TaskId};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};

fn words(lines: &Dataset<String>) -> Dataset<(String, u64)> {
    lines
        .flat_map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|w| (w, 1u64))
        .reduce_by_key(|a, b| a + b)
}

fn reference(lines: &[String]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for w in lines.iter().flat_map(|l| l.split_whitespace()) {
        *counts.entry(w.to_owned()).or_insert(0) += 1;
    }
    counts
}

/// How `parallelize` cuts `len` records into `parts` partitions.
fn chunk(len: usize, parts: usize, p: usize) -> std::ops::Range<usize> {
    len * p / parts..len * (p + 1) / parts
}

fn text() -> impl Strategy<Value = Vec<String>> {
    let word = prop::sample::select(vec![
        "the", "a", "rose", "is", "neptune", "stream", "batch", "x",
    ]);
    let line = proptest::collection::vec(word, 0..12).prop_map(|ws| ws.join(" "));
    proptest::collection::vec(line, 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn word_count_matches_and_combines_before_the_shuffle(lines in text(), parts in 1usize..5) {
        let out = words(&ctx().parallelize(lines.clone(), parts)).collect().unwrap();
        let got: BTreeMap<String, u64> = out.value.into_iter().collect();
        prop_assert_eq!(&got, &reference(&lines));
        prop_assert_eq!(out.stats.stages, 2);
        prop_assert_eq!(out.stats.tasks, 2 * parts);
        prop_assert_eq!(out.stats.records_in, lines.len() as u64);
        // Partial aggregation: each map task ships one record per distinct word.
        let shipped: usize = (0..parts)
            .map(|p| {
                lines[chunk(lines.len(), parts, p)]
                    .iter()
                    .flat_map(|l| l.split_whitespace())
                    .collect::<HashSet<_>>()
                    .len()
            })
            .sum();
        prop_assert_eq!(out.stats.shuffle_records, shipped as u64);
    }

    #[test]
    fn three_stages_words_grouped_by_count(lines in text(), parts in 1usize..4) {
        let by_count = words(&ctx().parallelize(lines.clone(), parts))
            .map(|(w, n)| (n, w))
            .group_by_key_into(3)
            .map(|(n, mut ws)| {
                ws.sort();
                (n, ws)
            });
        let job = by_count.job().collect();
        let stages = job.stages();
        prop_assert_eq!(stages.len(), 3);
        prop_assert_eq!(stages[0].parents.len(), 0);
        prop_assert_eq!(&stages[1].parents, &vec![stages[0].id]);
        prop_assert_eq!(&stages[2].parents, &vec![stages[1].id]);
        prop_assert!(matches!(stages[2].kind, StageKind::Result));
        let out = job.wait().unwrap();
        prop_assert_eq!(out.stats.tasks, parts + parts + 3);
        let mut expected: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for (w, n) in reference(&lines) {
            expected.entry(n).or_default().push(w);
        }
        let got: BTreeMap<u64, Vec<String>> = out.value.into_iter().collect();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn stage_and_task_ids_follow_the_plan() {
    // A context of its own, so that dataset, shuffle and job numbers start at 0.
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(2)
        .build()
        .unwrap();
    let lines = ctx.parallelize(vec!["b a".to_owned(), "a".to_owned()], 2);
    let counts = words(&lines);
    assert_eq!(counts.name(), "reduce_by_key#3");
    let job = counts.job().count();
    let names: Vec<String> = job.stages().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["map#2>shuffle#0", "reduce_by_key#3>count@job-0"]);
    let answer = job.wait().unwrap();
    assert_eq!(answer.value, 2);
    let job = counts.job().count();
    let answer = job.wait().unwrap();
    assert_eq!(answer.stats.job, JobId(1));
    assert_eq!(answer.stats.tasks, 4);
    assert_eq!(answer.stats.tasks_per_executor, [4]);
}

#[test]
fn task_ids_name_job_stage_and_partition() {
    let ctx = Context::builder()
        .executors(1)
        .slots_per_executor(1)
        .build()
        .unwrap();
    let job = ctx.range(0..10, 3).job().count();
    // The driver launches the stage right after submission.
    common::wait_for("the tasks to launch", || job.tasks().len() == 3);
    let mut ids: Vec<TaskId> = job.tasks().into_iter().map(|t| t.id).collect();
    ids.sort();
    let expected: Vec<TaskId> = (0..3)
        .map(|p| TaskId {
            job: JobId(0),
            stage: StageId(0),
            partition: p,
        })
        .collect();
    assert_eq!(ids, expected);
    for t in job.tasks() {
        assert_eq!(t.handle.name(), Some(t.id.to_string().as_str()));
    }
    assert_eq!(job.wait().unwrap().value, 10);
}

#[test]
fn a_long_pipeline_after_two_shuffles() {
    // Sum of squares per residue, then the residues whose sum is even, repartitioned.
    let out = ctx()
        .range(0..10_000, 4)
        .key_by(|x| x % 10)
        .map(|(k, x)| (k, x * x))
        .reduce_by_key(|a, b| a + b)
        .filter(|(_, s)| s % 2 == 0)
        .repartition(2)
        .map(|(k, _)| k)
        .collect()
        .unwrap();
    let mut got = out.value;
    got.sort();
    let expected: Vec<u64> = (0..10)
        .filter(|k| {
            (0..10_000u64)
                .filter(|x| x % 10 == *k)
                .map(|x| x * x)
                .sum::<u64>()
                % 2
                == 0
        })
        .collect();
    assert_eq!(got, expected);
    assert_eq!(out.stats.stages, 3);
}
