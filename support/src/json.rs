//! JSON lines as the harnesses' tests read them.

/// The keys of the JSON object `line`, sorted: what a test compares with the keys a
/// harness's JSON lines have always had. Panics, naming the line, if it is not an
/// object.
pub fn sorted_keys(line: &str) -> Vec<String> {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {line}"));
    let mut keys: Vec<String> = object.keys().cloned().collect();
    keys.sort_unstable();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_sorted() {
        assert_eq!(
            sorted_keys(r#"{"b":1,"a":{"z":0},"c":null}"#),
            ["a", "b", "c"]
        );
    }

    #[test]
    #[should_panic(expected = "not a JSON object: [1]")]
    fn an_array_is_refused() {
        sorted_keys("[1]");
    }
}
