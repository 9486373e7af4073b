//! Join correctness, and datasets read twice from one shuffle.

mod common;

use common::ctx;

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn join_pairs_every_match_including_duplicates() {
    let users = ctx().parallelize(
        vec![
            (1, "ada".to_owned()),
            (2, "bob".to_owned()),
            (3, "cy".to_owned()),
            (1, "ada2".to_owned()),
        ],
        2,
    );
    let orders = ctx().parallelize(vec![(1, 10), (1, 11), (3, 30), (4, 40)], 3);
    let out = users.join(&orders).collect().unwrap();
    assert_eq!(
        sorted(out.value),
        vec![
            (1, ("ada".to_owned(), 10)),
            (1, ("ada".to_owned(), 11)),
            (1, ("ada2".to_owned(), 10)),
            (1, ("ada2".to_owned(), 11)),
            (3, ("cy".to_owned(), 30)),
        ]
    );
    assert_eq!(out.stats.stages, 3);
    assert_eq!(out.stats.tasks, 2 + 3 + 3);
}

#[test]
fn join_with_an_empty_side_is_empty() {
    let some = ctx().parallelize(vec![(1u8, 1u8)], 1);
    let none = ctx().parallelize(Vec::<(u8, u8)>::new(), 2);
    assert!(some.join(&none).collect().unwrap().value.is_empty());
    assert!(none.join(&some).collect().unwrap().value.is_empty());
}

#[test]
fn join_into_chooses_the_partitions() {
    let a = ctx().range(0..100, 3).key_by(|x| x % 10);
    let b = ctx().range(0..10, 1).map(|x| (x, x * 100));
    let joined = a.join_into(&b, 5);
    assert_eq!(joined.partitions(), 5);
    let out = joined.map(|(k, (x, y))| (k, x, y)).collect().unwrap();
    let expected: Vec<(u64, u64, u64)> = (0..100).map(|x| (x % 10, x, (x % 10) * 100)).collect();
    assert_eq!(sorted(out.value), sorted(expected));
}

#[test]
fn a_self_join_reads_one_shuffle_twice() {
    let sums = ctx()
        .parallelize(vec![('a', 1), ('b', 2), ('a', 3)], 2)
        .reduce_by_key(|x, y| x + y);
    let job = sums.join(&sums).job().collect();
    // The reduce_by_key shuffle is written once and read by both join sides.
    assert_eq!(job.stages().len(), 4);
    let out = job.wait().unwrap();
    assert_eq!(sorted(out.value), vec![('a', (4, 4)), ('b', (2, 2))]);
}

#[test]
fn a_union_of_a_dataset_with_itself_reads_its_shuffle_twice() {
    let counts = ctx()
        .parallelize(vec![(1, 1), (2, 1), (1, 1)], 2)
        .reduce_by_key(|a, b| a + b);
    let twice = counts.union(&counts);
    assert_eq!(twice.partitions(), 4);
    let out = twice.collect().unwrap();
    assert_eq!(out.stats.stages, 2);
    assert_eq!(sorted(out.value), vec![(1, 2), (1, 2), (2, 1), (2, 1)]);
}

#[test]
fn join_keys_can_be_strings() {
    let left = ctx().parallelize(vec!["x:1", "y:2", "x:3"], 2).map(|s| {
        let (k, v) = s.split_once(':').unwrap();
        (k.to_owned(), v.parse::<u32>().unwrap())
    });
    let right = ctx().parallelize(vec![("x".to_owned(), 'X')], 1);
    let out = left.join(&right).collect().unwrap();
    assert_eq!(
        sorted(out.value),
        vec![("x".to_owned(), (1, 'X')), ("x".to_owned(), (3, 'X'))]
    );
}
