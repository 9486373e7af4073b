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
