//! Files: CSV and JSON lines in, clear errors on bad records, skip mode, saving.

mod common;

use common::{ctx, TempDir};
use neptune_dataflow::{BadRecord, DataflowError, Format};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Sale {
    item: String,
    qty: u32,
    price: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Address {
    city: String,
    zip: u32,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Person {
    name: String,
    age: u8,
    address: Address,
}

fn bad_record(err: DataflowError) -> BadRecord {
    match err {
        DataflowError::BadRecord(b) => b,
        other => panic!("expected a bad record, got {other:?}"),
    }
}

#[test]
fn csv_records_are_read_by_header_name_with_quoting() {
    let dir = TempDir::new("csv-read");
    let path = dir.file(
        "sales.csv",
        "price,item,qty\n2.5,apple,3\n10,\"melon, large\",1\n0.25,\"say \"\"hi\"\"\",12\n",
    );
    let sales = ctx().read(&path).csv::<Sale>().unwrap();
    assert_eq!(sales.partitions(), 1);
    let out = sales.collect().unwrap();
    assert_eq!(
        out.value,
        vec![
            Sale {
                item: "apple".into(),
                qty: 3,
                price: 2.5
            },
            Sale {
                item: "melon, large".into(),
                qty: 1,
                price: 10.0
            },
            Sale {
                item: "say \"hi\"".into(),
                qty: 12,
                price: 0.25
            },
        ]
    );
    assert_eq!(out.stats.records_in, 3);
    assert_eq!(out.stats.skipped_bad_records, 0);
}

#[test]
fn a_bad_csv_field_names_file_line_and_field() {
    let dir = TempDir::new("csv-bad");
    let path = dir.file(
        "sales.csv",
        "item,qty,price\napple,3,2.5\npear,three,1.0\nfig,1,1\n",
    );
    let err = ctx()
        .read(&path)
        .csv::<Sale>()
        .unwrap()
        .collect()
        .unwrap_err();
    let text = err.to_string();
    let bad = bad_record(err);
    assert_eq!(bad.format, Format::Csv);
    assert_eq!(bad.file, path);
    assert_eq!(bad.line, 3);
    assert_eq!(bad.field.as_deref(), Some("qty"));
    assert!(
        text.contains("sales.csv:3: field `qty`: invalid digit"),
        "{text}"
    );
}

#[test]
fn a_csv_record_with_the_wrong_number_of_fields_is_reported() {
    let dir = TempDir::new("csv-len");
    let path = dir.file("sales.csv", "item,qty,price\napple,3,2.5\n\"pear\",3\n");
    let bad = bad_record(
        ctx()
            .read(&path)
            .csv::<Sale>()
            .unwrap()
            .count()
            .unwrap_err(),
    );
    assert_eq!(bad.line, 3);
    assert_eq!(bad.field, None);
    assert_eq!(bad.message, "the record has 2 fields, the header has 3");
}

#[test]
fn a_missing_csv_column_is_named() {
    let dir = TempDir::new("csv-missing");
    let path = dir.file("sales.csv", "item,qty\napple,3\n");
    let bad = bad_record(
        ctx()
            .read(&path)
            .csv::<Sale>()
            .unwrap()
            .count()
            .unwrap_err(),
    );
    assert_eq!((bad.line, bad.field.as_deref()), (2, Some("price")));
    assert!(
        bad.message.contains("missing field `price`"),
        "{}",
        bad.message
    );
}

#[test]
fn csv_delimiter_can_be_chosen() {
    let dir = TempDir::new("csv-delim");
    let path = dir.file("sales.tsv", "item\tqty\tprice\nkiwi\t2\t0.5\n");
    let sales = ctx()
        .read(&path)
        .delimiter(b'\t')
        .csv::<Sale>()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        sales.value,
        vec![Sale {
            item: "kiwi".into(),
            qty: 2,
            price: 0.5
        }]
    );
}

#[test]
fn skip_mode_counts_and_samples_bad_csv_records() {
    let dir = TempDir::new("csv-skip");
    let path = dir.file(
        "sales.csv",
        "item,qty,price\na,1,1\nb,x,1\nc,2,2\nd,3\ne,3,3\nf,3,y\n",
    );
    let out = ctx()
        .read(&path)
        .skip_bad_records()
        .csv::<Sale>()
        .unwrap()
        .collect()
        .unwrap();
    let items: Vec<&str> = out.value.iter().map(|s| s.item.as_str()).collect();
    assert_eq!(items, ["a", "c", "e"]);
    assert_eq!(out.stats.records_in, 3);
    assert_eq!(out.stats.skipped_bad_records, 3);
    let lines: Vec<(u64, Option<&str>)> = out
        .stats
        .bad_record_samples
        .iter()
        .map(|b| (b.line, b.field.as_deref()))
        .collect();
    assert_eq!(lines, [(3, Some("qty")), (5, None), (7, Some("price"))]);
}

#[test]
fn json_lines_are_read_with_blank_lines_passed_over() {
    let dir = TempDir::new("json-read");
    let path = dir.file(
        "people.jsonl",
        "{\"name\":\"ada\",\"age\":36,\"address\":{\"city\":\"London\",\"zip\":1}}\n\n  \r\n{\"name\":\"bob\",\"age\":7,\"address\":{\"city\":\"Paris\",\"zip\":75}}\r\n",
    );
    let out = ctx()
        .read(&path)
        .json_lines::<Person>()
        .unwrap()
        .collect()
        .unwrap();
    let names: Vec<&str> = out.value.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ada", "bob"]);
    assert_eq!(out.value[1].address.zip, 75);
}

#[test]
fn a_bad_json_field_names_file_line_and_field_path() {
    let dir = TempDir::new("json-bad");
    let path = dir.file(
        "people.jsonl",
        "{\"name\":\"ada\",\"age\":36,\"address\":{\"city\":\"London\",\"zip\":1}}\n\n{\"name\":\"bob\",\"age\":7,\"address\":{\"city\":\"Paris\",\"zip\":\"75\"}}\n",
    );
    let err = ctx()
        .read(&path)
        .json_lines::<Person>()
        .unwrap()
        .collect()
        .unwrap_err();
    let text = err.to_string();
    let bad = bad_record(err);
    assert_eq!(bad.format, Format::JsonLines);
    assert_eq!(bad.file, path);
    assert_eq!(bad.line, 3);
    assert_eq!(bad.field.as_deref(), Some("address.zip"));
    assert!(
        bad.message
            .starts_with("invalid type: string \"75\", expected u32"),
        "{}",
        bad.message
    );
    assert!(
        text.contains("people.jsonl:3: field `address.zip`: invalid type"),
        "{text}"
    );
}

#[test]
fn json_syntax_errors_missing_fields_and_trailing_text_are_reported() {
    let dir = TempDir::new("json-kinds");
    let cases = [
        (
            "{\"name\":\"ada\",\"age\":3",
            None,
            "EOF while parsing an object",
        ),
        (
            "{\"name\":\"ada\",\"address\":{\"city\":\"x\",\"zip\":1}}",
            Some("age"),
            "missing field `age`",
        ),
        (
            "{\"name\":\"ada\",\"age\":300,\"address\":{\"city\":\"x\",\"zip\":1}}",
            Some("age"),
            "invalid value",
        ),
        (
            "{\"name\":\"a\",\"age\":3,\"address\":{\"city\":\"x\",\"zip\":1}} extra",
            None,
            "trailing characters",
        ),
    ];
    for (i, (line, field, message)) in cases.into_iter().enumerate() {
        let path = dir.file(&format!("case{i}.jsonl"), &format!("\n{line}\n"));
        let bad = bad_record(
            ctx()
                .read(&path)
                .json_lines::<Person>()
                .unwrap()
                .count()
                .unwrap_err(),
        );
        assert_eq!(bad.line, 2, "case {i}");
        assert_eq!(bad.field.as_deref(), field, "case {i}: {}", bad.message);
        assert!(bad.message.contains(message), "case {i}: {}", bad.message);
    }
}

#[test]
fn skip_mode_counts_bad_json_lines() {
    let dir = TempDir::new("json-skip");
    let path = dir.file("nums.jsonl", "1\n2\n\"three\"\n4\n{\n5\n");
    let out = ctx()
        .read(&path)
        .skip_bad_records()
        .json_lines::<u32>()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(out.value, [1, 2, 4, 5]);
    assert_eq!(out.stats.skipped_bad_records, 2);
    let lines: Vec<u64> = out
        .stats
        .bad_record_samples
        .iter()
        .map(|b| b.line)
        .collect();
    assert_eq!(lines, [3, 5]);
}

#[test]
fn a_directory_is_read_one_partition_per_visible_file_in_name_order() {
    let dir = TempDir::new("dir-read");
    dir.file("b.jsonl", "3\n4\n");
    dir.file("a.jsonl", "1\n2\n");
    dir.file(".hidden", "not json");
    dir.file("_SUCCESS", "");
    let ds = ctx().read(dir.path()).json_lines::<u8>().unwrap();
    assert_eq!(ds.partitions(), 2);
    assert_eq!(ds.collect().unwrap().value, [1, 2, 3, 4]);
}

#[test]
fn a_missing_path_is_an_io_error_naming_it() {
    let dir = TempDir::new("missing");
    let path = dir.path().join("nope.csv");
    match ctx().read(&path).csv::<Sale>() {
        Err(DataflowError::Io { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn saved_json_lines_and_csv_read_back_the_same() {
    let dir = TempDir::new("save");
    let people: Vec<Person> = (0..25u8)
        .map(|i| Person {
            name: format!("p{i}, \"q\""),
            age: i,
            address: Address {
                city: "c".into(),
                zip: i as u32 * 10,
            },
        })
        .collect();
    let ds = ctx().parallelize(people.clone(), 3);
    let json_dir = dir.path().join("json");
    let saved = ds.save_json_lines(&json_dir).unwrap();
    assert_eq!(saved.records, 25);
    assert_eq!(saved.files.len(), 3);
    assert!(saved.files[0].ends_with("part-00000.jsonl"));
    let back = ctx()
        .read(&json_dir)
        .json_lines::<Person>()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(back.value, people);

    let sales: Vec<Sale> = (0..10u32)
        .map(|i| Sale {
            item: format!("item, {i}"),
            qty: i,
            price: i as f64 / 4.0,
        })
        .collect();
    let csv_dir = dir.path().join("csv");
    ctx()
        .parallelize(sales.clone(), 4)
        .save_csv(&csv_dir)
        .unwrap();
    let back = ctx()
        .read(&csv_dir)
        .csv::<Sale>()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(back.value, sales);

    // A second save into the same directory is refused.
    match ds.save_json_lines(&json_dir) {
        Err(DataflowError::OutputExists(p)) => assert_eq!(p, json_dir),
        other => panic!("expected OutputExists, got {other:?}"),
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Order {
    id: u32,
    lines: Vec<Line>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
struct Line {
    sku: String,
    price: f64,
}

#[test]
fn a_bad_json_field_inside_an_array_is_named_by_its_path() {
    let dir = TempDir::new("json-array");
    let path = dir.file(
        "orders.jsonl",
        "{\"id\":1,\"lines\":[{\"sku\":\"a\",\"price\":1.5},{\"sku\":\"b\",\"price\":\"free\"}]}\n",
    );
    let bad = bad_record(
        ctx()
            .read(&path)
            .json_lines::<Order>()
            .unwrap()
            .count()
            .unwrap_err(),
    );
    assert_eq!(
        (bad.line, bad.field.as_deref()),
        (1, Some("lines[1].price"))
    );
}

#[test]
fn invalid_utf8_in_a_csv_field_names_the_field() {
    let dir = TempDir::new("csv-utf8");
    let path = dir.path().join("sales.csv");
    std::fs::write(&path, b"item,qty,price\nok,1,1\n\xff\xfe,2,2\n").unwrap();
    let bad = bad_record(
        ctx()
            .read(&path)
            .csv::<Sale>()
            .unwrap()
            .count()
            .unwrap_err(),
    );
    assert_eq!((bad.line, bad.field.as_deref()), (3, Some("item")));
    assert!(bad.message.contains("invalid UTF-8"), "{}", bad.message);
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Padded {
    id: u64,
    pad: String,
}

fn padded(id: u64) -> Padded {
    Padded {
        id,
        pad: format!("{id:>96}"),
    }
}

/// Files larger than a chunk each way (the writers hand 256 KiB at a time to the
/// blocking pool, the readers read 1 MiB or 4096 records at a time) come back whole
/// and in order.
#[test]
fn files_of_many_chunks_are_saved_and_read_in_order() {
    const N: u64 = 30_000;
    let dir = TempDir::new("chunks");
    let ds = ctx().range(0..N, 2).map(padded);
    let expected: Vec<Padded> = (0..N).map(padded).collect();

    let json_dir = dir.path().join("json");
    let saved = ds.save_json_lines(&json_dir).unwrap();
    assert_eq!(saved.records, N);
    let size = std::fs::metadata(&saved.files[0]).unwrap().len();
    assert!(
        size > 1 << 20,
        "a part of {size} bytes is not several chunks"
    );
    let back = ctx().read(&json_dir).json_lines::<Padded>().unwrap();
    assert_eq!(back.collect().unwrap().value, expected);

    let csv_dir = dir.path().join("csv");
    ds.save_csv(&csv_dir).unwrap();
    let text = std::fs::read_to_string(csv_dir.join("part-00001.csv")).unwrap();
    assert_eq!(
        text.matches("id,pad").count(),
        1,
        "one header line per file"
    );
    let back = ctx().read(&csv_dir).csv::<Padded>().unwrap();
    assert_eq!(back.collect().unwrap().value, expected);
}

/// A bad record several chunks into a file is reported at its own line, after every
/// good record before it.
#[test]
fn a_bad_record_after_many_chunks_is_reported_at_its_line() {
    let dir = TempDir::new("late-bad");
    let path = dir.path().join("late.jsonl");
    let mut text = String::new();
    for id in 0..20_000u64 {
        text.push_str(&serde_json::to_string(&padded(id)).unwrap());
        text.push('\n');
        if id == 15_000 {
            text.push_str("{\"id\": \"fifteen thousand\", \"pad\": \"\"}\n");
        }
    }
    std::fs::write(&path, text).unwrap();
    let err = ctx()
        .read(&path)
        .json_lines::<Padded>()
        .unwrap()
        .count()
        .unwrap_err();
    let bad = bad_record(err);
    assert_eq!((bad.line, bad.field.as_deref()), (15_002, Some("id")));

    let n = ctx()
        .read(&path)
        .skip_bad_records()
        .json_lines::<Padded>()
        .unwrap()
        .count()
        .unwrap();
    assert_eq!((*n, n.stats.skipped_bad_records), (20_000, 1));
}

/// The bytes this process's threads named `prefix…` have read and written so far
/// (`rchar` and `wchar` of Linux's per-thread I/O accounting), by thread id and
/// name.
#[cfg(target_os = "linux")]
fn thread_io(prefix: &str) -> std::collections::HashMap<String, (String, u64, u64)> {
    let mut threads = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = entry.unwrap().path();
        let (Ok(name), Ok(io)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("io")),
        ) else {
            continue; // The thread exited meanwhile.
        };
        let name = name.trim_end().to_owned();
        if !name.starts_with(prefix) {
            continue;
        }
        let field = |key: &str| {
            io.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().parse::<u64>().unwrap())
                .unwrap()
        };
        let tid = dir.file_name().unwrap().to_string_lossy().into_owned();
        threads.insert(tid, (name, field("rchar:"), field("wchar:")));
    }
    threads
}

/// What the slot threads and the blocking threads of executor 0 of a context whose
/// threads are named `prefix` read and wrote between two [`thread_io`] snapshots:
/// `[slots, pool]`, each `(read, written)`.
#[cfg(target_os = "linux")]
fn io_by_role(
    prefix: &str,
    before: &std::collections::HashMap<String, (String, u64, u64)>,
    after: &std::collections::HashMap<String, (String, u64, u64)>,
) -> [(u64, u64); 2] {
    let mut totals = [(0, 0); 2];
    for (tid, (name, read, written)) in after {
        let (read0, written0) = before.get(tid).map_or((0, 0), |t| (t.1, t.2));
        // Thread names are cut at 15 bytes: `PREFIX-e0-N` and `PREFIX-e0-blocking`.
        let role = &name[prefix.len()..];
        let i = if role.chars().all(|c| c.is_ascii_digit()) {
            0
        } else if role.starts_with("bl") {
            1
        } else {
            continue;
        };
        totals[i].0 += read - read0;
        totals[i].1 += written - written0;
    }
    totals
}

/// A save's writes and a read's reads happen on the executor's blocking threads, not
/// on its slots: measured by the kernel's count of the bytes each thread read and
/// wrote.
#[cfg(target_os = "linux")]
#[test]
fn file_io_runs_on_the_blocking_pool_not_on_slots() {
    if std::fs::read_to_string("/proc/thread-self/io").is_err() {
        eprintln!("skipped: no per-thread I/O accounting in /proc");
        return;
    }
    const N: u64 = 20_000;
    const PREFIX: &str = "offslot-e0-";
    let ctx = neptune_dataflow::Context::builder()
        .thread_name("offslot")
        .executors(1)
        .slots_per_executor(2)
        .build()
        .unwrap();
    let dir = TempDir::new("offslot");
    let out = dir.path().join("out");

    let before = thread_io(PREFIX);
    let saved = ctx
        .range(0..N, 2)
        .map(padded)
        .save_json_lines(&out)
        .unwrap();
    let after = thread_io(PREFIX);
    let bytes: u64 = saved
        .files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(bytes > 2 << 20, "only {bytes} bytes written");
    let [(_, slots_wrote), (_, pool_wrote)] = io_by_role(PREFIX, &before, &after);
    assert!(
        slots_wrote < bytes / 8,
        "the slots wrote {slots_wrote} bytes of a {bytes}-byte save"
    );
    // And the count works: the bytes were written by someone.
    assert!(
        pool_wrote >= bytes,
        "the blocking threads wrote {pool_wrote} of the {bytes} bytes saved"
    );

    let before = thread_io(PREFIX);
    let n = ctx
        .read(&out)
        .json_lines::<Padded>()
        .unwrap()
        .count()
        .unwrap();
    let after = thread_io(PREFIX);
    assert_eq!(*n, N);
    let [(slots_read, _), (pool_read, _)] = io_by_role(PREFIX, &before, &after);
    assert!(
        slots_read < bytes / 8,
        "the slots read {slots_read} bytes of {bytes} bytes of files"
    );
    assert!(
        pool_read >= bytes,
        "the blocking threads read {pool_read} of the {bytes} bytes of the files"
    );
}
