//! Every operator and action against a plain-Rust reference, on random inputs.

mod common;

use common::ctx;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(48)
}

fn records() -> impl Strategy<Value = Vec<(u8, i32)>> {
    proptest::collection::vec((0u8..16, any::<i32>()), 0..120)
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn map_keeps_order(data in proptest::collection::vec(any::<i64>(), 0..200), parts in 1usize..6) {
        let out = ctx().parallelize(data.clone(), parts).map(|x| x.wrapping_mul(3) ^ 1).collect().unwrap();
        let expected: Vec<i64> = data.iter().map(|x| x.wrapping_mul(3) ^ 1).collect();
        prop_assert_eq!(out.value, expected);
        prop_assert_eq!(out.stats.records_in, data.len() as u64);
        prop_assert_eq!(out.stats.records_out, data.len() as u64);
        prop_assert_eq!(out.stats.tasks, parts);
        prop_assert_eq!(out.stats.stages, 1);
    }

    #[test]
    fn filter_keeps_order(data in proptest::collection::vec(any::<u32>(), 0..200), parts in 1usize..6, m in 1u32..5) {
        let out = ctx().parallelize(data.clone(), parts).filter(move |x| x % m == 0).collect().unwrap();
        let expected: Vec<u32> = data.into_iter().filter(|x| x % m == 0).collect();
        prop_assert_eq!(out.stats.records_out, expected.len() as u64);
        prop_assert_eq!(out.value, expected);
    }

    #[test]
    fn flat_map_expands_in_order(data in proptest::collection::vec(0u16..50, 0..100), parts in 1usize..6) {
        let out = ctx().parallelize(data.clone(), parts).flat_map(|x| (0..x % 5).map(move |i| (x, i))).collect().unwrap();
        let expected: Vec<(u16, u16)> = data.iter().flat_map(|&x| (0..x % 5).map(move |i| (x, i))).collect();
        prop_assert_eq!(out.value, expected);
    }

    #[test]
    fn map_async_awaits_each_record(data in proptest::collection::vec(any::<i32>(), 0..100), parts in 1usize..5) {
        let out = ctx()
            .parallelize(data.clone(), parts)
            .map_async(|x| async move {
                // A future that is pending once before it is ready.
                neptune_runtime::yield_now().await;
                x as i64 * 2
            })
            .collect()
            .unwrap();
        let expected: Vec<i64> = data.iter().map(|&x| x as i64 * 2).collect();
        prop_assert_eq!(out.value, expected);
    }

    #[test]
    fn key_by_pairs_records_with_keys(data in proptest::collection::vec(any::<u32>(), 0..100), parts in 1usize..5) {
        let out = ctx().parallelize(data.clone(), parts).key_by(|x| x % 7).collect().unwrap();
        let expected: Vec<(u32, u32)> = data.iter().map(|&x| (x % 7, x)).collect();
        prop_assert_eq!(out.value, expected);
    }

    #[test]
    fn union_concatenates(a in proptest::collection::vec(any::<u8>(), 0..60), b in proptest::collection::vec(any::<u8>(), 0..60), pa in 1usize..4, pb in 1usize..4) {
        let left = ctx().parallelize(a.clone(), pa);
        let right = ctx().parallelize(b.clone(), pb);
        let both = left.union(&right);
        prop_assert_eq!(both.partitions(), pa + pb);
        let expected: Vec<u8> = a.into_iter().chain(b).collect();
        prop_assert_eq!(both.collect().unwrap().value, expected);
    }

    #[test]
    fn repartition_keeps_every_record(data in proptest::collection::vec(any::<u16>(), 0..200), from in 1usize..5, to in 1usize..7) {
        let ds = ctx().parallelize(data.clone(), from).repartition(to);
        prop_assert_eq!(ds.partitions(), to);
        let out = ds.collect().unwrap();
        prop_assert_eq!(out.stats.stages, 2);
        prop_assert_eq!(out.stats.tasks, from + to);
        prop_assert_eq!(out.stats.shuffle_records, data.len() as u64);
        prop_assert_eq!(sorted(out.value), sorted(data));
    }

    #[test]
    fn reduce_by_key_matches_a_fold(data in records(), parts in 1usize..5, out_parts in 1usize..5) {
        let out = ctx()
            .parallelize(data.clone(), parts)
            .map(|(k, v)| (k, v as i64))
            .reduce_by_key_into(out_parts, |a, b| a.wrapping_add(b))
            .collect()
            .unwrap();
        let mut expected: HashMap<u8, i64> = HashMap::new();
        for (k, v) in &data {
            let e = expected.entry(*k).or_insert(0);
            *e = e.wrapping_add(*v as i64);
        }
        prop_assert_eq!(sorted(out.value), sorted(expected.into_iter().collect()));
    }

    #[test]
    fn group_by_key_gathers_every_value(data in records(), parts in 1usize..5) {
        let out = ctx().parallelize(data.clone(), parts).group_by_key().collect().unwrap();
        let got: Vec<(u8, Vec<i32>)> = sorted(out.value.into_iter().map(|(k, vs)| (k, sorted(vs))).collect());
        let mut expected: BTreeMap<u8, Vec<i32>> = BTreeMap::new();
        for (k, v) in data {
            expected.entry(k).or_default().push(v);
        }
        let expected: Vec<(u8, Vec<i32>)> = expected.into_iter().map(|(k, vs)| (k, sorted(vs))).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn join_matches_nested_loops(left in records(), right in records(), pl in 1usize..4, pr in 1usize..4) {
        let l = ctx().parallelize(left.clone(), pl);
        let r = ctx().parallelize(right.clone(), pr).map(|(k, v)| (k, v as i64 * 2));
        let out = l.join(&r).collect().unwrap();
        let mut expected = Vec::new();
        for (k, v) in &left {
            for (k2, w) in &right {
                if k == k2 {
                    expected.push((*k, (*v, *w as i64 * 2)));
                }
            }
        }
        prop_assert_eq!(out.stats.stages, 3);
        prop_assert_eq!(sorted(out.value), sorted(expected));
    }

    #[test]
    fn count_and_reduce_match(data in proptest::collection::vec(any::<i32>(), 0..200), parts in 1usize..6) {
        let ds = ctx().parallelize(data.clone(), parts);
        prop_assert_eq!(ds.count().unwrap().value, data.len() as u64);
        let sum = ds.map(|x| x as i64).reduce(|a, b| a + b).unwrap().value;
        let expected = (!data.is_empty()).then(|| data.iter().map(|&x| x as i64).sum::<i64>());
        prop_assert_eq!(sum, expected);
    }

    #[test]
    fn for_each_sees_every_record(data in proptest::collection::vec(any::<i32>(), 0..200), parts in 1usize..6) {
        let total = Arc::new(AtomicI64::new(0));
        let t = total.clone();
        ctx().parallelize(data.clone(), parts).for_each(move |x| { t.fetch_add(x as i64, Ordering::Relaxed); }).unwrap();
        prop_assert_eq!(total.load(Ordering::Relaxed), data.iter().map(|&x| x as i64).sum::<i64>());
        let seen = Arc::new(AtomicI64::new(0));
        let s = seen.clone();
        ctx()
            .parallelize(data.clone(), parts)
            .for_each_async(move |_| {
                let s = s.clone();
                async move { s.fetch_add(1, Ordering::Relaxed); }
            })
            .unwrap();
        prop_assert_eq!(seen.load(Ordering::Relaxed), data.len() as i64);
    }

    #[test]
    fn range_and_generate_cover_their_inputs(start in 0u64..1000, len in 0u64..500, parts in 1usize..7) {
        let out = ctx().range(start..start + len, parts).collect().unwrap();
        prop_assert_eq!(out.value, (start..start + len).collect::<Vec<_>>());
        let gen = ctx().generate(parts, move |p| (0..len % 13).map(move |i| (p, i))).collect().unwrap();
        let expected: Vec<(usize, u64)> = (0..parts).flat_map(|p| (0..len % 13).map(move |i| (p, i))).collect();
        prop_assert_eq!(gen.value, expected);
    }
}

#[test]
fn empty_inputs_give_empty_outputs() {
    let empty: Vec<(u8, i32)> = Vec::new();
    let ds = ctx().parallelize(empty, 3);
    assert_eq!(ds.reduce_by_key(|a, b| a + b).count().unwrap().value, 0);
    assert_eq!(ds.group_by_key().count().unwrap().value, 0);
    assert_eq!(ds.join(&ds).count().unwrap().value, 0);
    assert_eq!(ds.reduce(|a, _| a).unwrap().value, None);
}

#[test]
fn a_dataset_serves_many_jobs() {
    let ds = ctx()
        .parallelize((0..100u32).collect::<Vec<_>>(), 4)
        .map(|x| x * 2);
    for _ in 0..3 {
        assert_eq!(ds.count().unwrap().value, 100);
    }
    let sums: Vec<_> = (0..4).map(|_| ds.job().reduce(|a, b| a + b)).collect();
    for s in sums {
        assert_eq!(s.wait().unwrap().value, Some(9900));
    }
}
