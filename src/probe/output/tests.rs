//! The parser on the shapes it accepts and the ways it refuses.

use super::*;

fn rows_of(json: &str) -> Vec<Row> {
    let docs = parse(json.as_bytes()).unwrap();
    assert_eq!(docs.len(), 1);
    docs.into_iter().next().unwrap().rows.to_rows()
}

#[test]
fn array_of_objects_and_single_object() {
    let rows = rows_of(r#"[{"Name":"a","Port":22,"Up":true,"Gone":null},{"Name":"b"}]"#);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["Port"], "22");
    assert_eq!(rows[0]["Up"], "true");
    assert!(!rows[0].contains_key("Gone"));
    assert_eq!(rows_of(r#"{"Stage":"PreProd"}"#)[0]["Stage"], "PreProd");
    assert_eq!(rows_of("[]").len(), 0);
    assert_eq!(rows_of(r#"{"F":1.5,"E":-2e3}"#)[0]["F"], "1.5");
}

#[test]
fn ssm_agent_documents() {
    let docs = parse(
        br#"{"SchemaVersion":"1.0","TypeName":"Custom:RackInfo","Content":{"RackLocation":"Bay B"}}"#,
    )
    .unwrap();
    assert_eq!(docs[0].type_name.as_deref(), Some("Custom:RackInfo"));
    assert_eq!(docs[0].schema_version.as_deref(), Some("1.0"));
    assert_eq!(docs[0].rows.to_rows()[0]["RackLocation"], "Bay B");

    let docs = parse(
        br#"[{"TypeName":"Custom:A","Content":[{"X":"1"},{"X":"2"}]},{"TypeName":"Custom:B","Content":[]}]"#,
    )
    .unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].rows.len(), 2);
    assert_eq!(docs[1].type_name.as_deref(), Some("Custom:B"));
}

#[test]
fn hostile_output_is_named() {
    assert_eq!(parse(b"  \n"), Err(OutputError::Empty));
    assert_eq!(
        parse(b"{\"a\":\"\xff\"}"),
        Err(OutputError::NotUtf8 { offset: 6 })
    );
    let e = parse(b"[{\"a\":1},{\"b\":").unwrap_err();
    assert!(matches!(e, OutputError::InvalidJson { line: 1, .. }), "{e}");
    let e = parse(br#"[{"a":1},{"b":2},{"c":3},{"ports":[22]}]"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "$[3].ports holds an array; attribute values must be strings, numbers or booleans, not nested values"
    );
    let e = parse(br#"{"TypeName":"Custom:A","Content":[{"x":{"y":1}}]}"#).unwrap_err();
    assert!(
        e.to_string().starts_with("$.Content[0].x holds an object"),
        "{e}"
    );
    // A key that is not a plain name is quoted: a newline in it cannot split the message.
    let e = parse(b"{\"a\\nb.c\":[1]}").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"$["a\nb.c"] holds an array; attribute values must be strings, numbers or booleans, not nested values"#
    );
    assert!(matches!(parse(b"42"), Err(OutputError::NotAnObject { .. })));
    assert!(matches!(
        parse(b"[1,2]"),
        Err(OutputError::NotAnObject { .. })
    ));
    assert!(matches!(
        parse(br#"{"TypeName":7,"Content":[]}"#),
        Err(OutputError::DocumentField {
            key: "TypeName",
            ..
        })
    ));
}

fn rows_json(n: usize) -> String {
    let rows: Vec<String> = (0..n).map(|i| format!(r#"{{"N":"{i}"}}"#)).collect();
    format!("[{}]", rows.join(","))
}

fn row_json(attributes: usize) -> String {
    let pairs: Vec<String> = (0..attributes).map(|i| format!(r#""A{i}":"v""#)).collect();
    format!("{{{}}}", pairs.join(","))
}

#[test]
fn row_count_is_refused_at_the_first_row_over_the_limit() {
    assert_eq!(rows_of(&rows_json(10_000)).len(), 10_000);
    // Garbage after the row over the limit is never read.
    let over = format!("{},{{", &rows_json(10_001)[..rows_json(10_001).len() - 1]);
    let e = parse_with_type(over.as_bytes(), Some("Custom:T")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "for Custom:T: 10001 rows, over the limit of 10000; reading stopped there"
    );
    let e = parse(rows_json(10_001).as_bytes()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "at $: 10001 rows, over the limit of 10000; reading stopped there"
    );
    // A document names its own type, wherever its TypeName stands among its keys.
    let content = rows_json(10_001);
    for text in [
        format!(r#"{{"TypeName":"Custom:D","Content":{content}}}"#),
        format!(r#"{{"Content":{content},"TypeName":"Custom:D"}}"#),
        format!(
            r#"[{{"TypeName":"Custom:A","Content":[]}},{{"TypeName":"Custom:D","Content":{content}}}]"#
        ),
    ] {
        let e = parse_with_type(text.as_bytes(), Some("Custom:T")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("for Custom:D: 10001 rows, over the limit of 10000"),
            "{e}"
        );
    }
}

#[test]
fn attribute_limits_are_checked_as_attributes_arrive() {
    assert_eq!(rows_of(&row_json(50))[0].len(), 50);
    let e = parse_with_type(row_json(51).as_bytes(), Some("Custom:T")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "for Custom:T: row 0 has 51 attributes, over the limit of 50; reading stopped there"
    );
    let e = parse(format!("[{{}},{}]", row_json(1_000)).as_bytes()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("at $[1]: row 1 has 51 attributes"),
        "{e}"
    );
    // Null attributes are dropped, and a key given again is one attribute: neither counts.
    let nulls: Vec<String> = (0..100).map(|i| format!(r#""Z{i}":null"#)).collect();
    let text = format!(
        "{},{}}}",
        &row_json(50)[..row_json(50).len() - 1],
        nulls.join(",")
    );
    assert_eq!(rows_of(&text)[0].len(), 50);
    assert_eq!(
        rows_of(r#"{"a":"1","a":"2","b":"x","b":null}"#)[0],
        Row::from([("a".to_owned(), "2".to_owned())])
    );

    let name = |n: usize| "n".repeat(n);
    assert!(parse(format!(r#"{{"{}":"v"}}"#, name(64)).as_bytes()).is_ok());
    let e = parse_with_type(
        format!(r#"{{"{}":"v"}}"#, name(65)).as_bytes(),
        Some("Custom:T"),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "for Custom:T: row 0 attribute name `{}` is 65 characters long, over the limit of 64; reading stopped there",
            name(65)
        )
    );
    // A dropped attribute's name is not one.
    assert!(parse(format!(r#"{{"{}":null}}"#, name(65)).as_bytes()).is_ok());

    assert!(parse(format!(r#"{{"V":"{}"}}"#, "€".repeat(4096)).as_bytes()).is_ok());
    for value in ["v".repeat(4097), format!("\\n{}", "€".repeat(4096))] {
        let e = parse(format!(r#"[{{"V":"{value}"}}]"#).as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at $[0]: row 0 attribute `V` has a value of 4097 characters, over the limit of 4096; reading stopped there"
        );
    }
    // Context is one row, under the same limits.
    let text = format!(
        r#"{{"TypeName":"Custom:C","Content":[],"Context":{}}}"#,
        row_json(51)
    );
    let e = parse(text.as_bytes()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("for Custom:C: Context has 51 attributes"),
        "{e}"
    );
}

#[test]
fn a_long_name_in_a_message_is_one_bounded_line() {
    let name = format!("a\n{}", "b".repeat(10_000));
    let text = format!(r#"{{{}:"v"}}"#, serde_json::Value::from(name.as_str()));
    let e = parse(text.as_bytes()).unwrap_err().to_string();
    assert!(!e.contains('\n') && e.len() < 400, "{e}");
    assert!(e.contains("is 10002 characters long"), "{e}");
}

#[test]
fn the_first_object_is_a_document_only_with_type_name_and_content() {
    let docs =
        parse(br#"{"Content":[{"x":"1"}],"Extra":{"deep":[1]},"TypeName":"Custom:A"}"#).unwrap();
    assert_eq!(docs[0].type_name.as_deref(), Some("Custom:A"));
    assert_eq!(docs[0].rows.to_rows()[0]["x"], "1");
    // What a document ignores may break every row rule.
    let long = "v".repeat(5_000);
    let text = format!(r#"{{"Extra":"{long}","TypeName":"Custom:A","Content":null}}"#);
    assert!(parse(text.as_bytes()).unwrap()[0].rows.is_empty());
    let text = format!(
        r#"{{{},"TypeName":"Custom:A","Content":[]}}"#,
        &row_json(60)[1..row_json(60).len() - 1]
    );
    assert!(parse(text.as_bytes()).is_ok());

    // Without both keys it is a row, and `Content` or `Context` just attributes.
    let e = parse(br#"{"Content":[1]}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "$.Content holds an array; attribute values must be strings, numbers or booleans, not nested values"
    );
    let rows = rows_of(r#"{"TypeName":"x","Context":3}"#);
    assert_eq!(rows[0].get("Context").map(String::as_str), Some("3"));
    let rows = rows_of(r#"[{"TypeName":"x"},{"TypeName":"y","Content":"z"}]"#);
    assert_eq!(rows.len(), 2);

    // A document's fields are judged in the order they always were, not the text's.
    let e = parse(br#"{"Content":[1],"SchemaVersion":2,"TypeName":7}"#).unwrap_err();
    assert!(
        matches!(
            e,
            OutputError::DocumentField {
                key: "TypeName",
                ..
            }
        ),
        "{e}"
    );
    let e = parse(br#"{"Content":[1],"SchemaVersion":2,"TypeName":"Custom:A"}"#).unwrap_err();
    assert!(
        matches!(
            e,
            OutputError::DocumentField {
                key: "SchemaVersion",
                ..
            }
        ),
        "{e}"
    );
    let e = parse(br#"{"Context":[],"Content":[1],"TypeName":"Custom:A"}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "$.Content[0] is a number; expected a JSON object or an array of objects"
    );
}

#[test]
fn a_syntax_error_anywhere_is_reported_before_a_problem_of_shape() {
    let e = parse(br#"[{"a":[1]},{"#).unwrap_err();
    assert!(matches!(e, OutputError::InvalidJson { .. }), "{e}");
    // Nesting past serde_json's limit reads as it did when the output was read whole.
    let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let whole = |text: &str| invalid_json(&serde_json::from_str::<Value>(text).unwrap_err());
    assert_eq!(parse(deep.as_bytes()), Err(whole(&deep)));
    let deep = "[".repeat(100_000);
    assert_eq!(parse(deep.as_bytes()), Err(whole(&deep)));
    assert!(
        whole(&deep)
            .to_string()
            .ends_with("recursion limit exceeded")
    );
}

#[test]
fn numbers_read_as_serde_json_prints_them() {
    let text =
        r#"{"a":1,"b":-2,"c":1.0,"d":1e3,"e":18446744073709551615,"f":-0.0,"g":1.5e-7,"h":false}"#;
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    let row = &rows_of(text)[0];
    for (key, v) in value.as_object().unwrap() {
        assert_eq!(row[key], v.to_string(), "{key}");
    }
}

/// Numbers and booleans become the text serde_json prints for them, the longest included
/// (their text is kept in a fixed buffer while a row is read).
#[test]
fn the_longest_numbers_keep_their_whole_text() {
    let text = r#"{"a":-1.7976931348623157e308,"b":-9223372036854775808,"c":18446744073709551615,"d":5e-324,"e":false,"f":-2.2250738585072014e-308}"#;
    let expected: Row = match serde_json::from_str::<serde_json::Value>(text).unwrap() {
        serde_json::Value::Object(map) => {
            map.into_iter().map(|(k, v)| (k, v.to_string())).collect()
        }
        _ => unreachable!(),
    };
    assert_eq!(rows_of(text), vec![expected]);
}

/// The rows of an array of flat objects of strings (or null), read as maps by serde_json.
fn maps_of(text: &str) -> Vec<Row> {
    serde_json::from_str::<Vec<serde_json::Map<String, Value>>>(text)
        .unwrap()
        .into_iter()
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect()
        })
        .collect()
}

/// Canonical rows as `Rows` writes them from maps, searching every string for bytes to escape.
fn canonical_of(rows: &[Row]) -> Vec<u8> {
    Rows::from(rows).finish("Custom:T", true).unwrap().content
}

#[test]
fn rows_are_put_in_key_order_whatever_order_their_keys_come_in() {
    // The same keys in another order, a key dropped by null, a key given twice, new keys, and
    // back to the first order: each row's bytes are those of its map.
    let text = r#"[
        {"b":"1","a":"2","c":"3"},
        {"b":"4","a":"5","c":"6"},
        {"c":"7","a":"8","b":"9"},
        {"b":"10","a":null,"c":"11"},
        {"b":"12","a":"13","c":"14","a":"15"},
        {"z":"16","y":"17"},
        {"b":"18","a":"19","c":"20"}
    ]"#;
    let docs = parse(text.as_bytes()).unwrap();
    let expected = maps_of(text);
    let streamed = docs.into_iter().next().unwrap().rows;
    assert_eq!(streamed.to_rows(), expected);
    assert_eq!(
        streamed.finish("Custom:T", true).unwrap().content,
        canonical_of(&expected)
    );
}

#[test]
fn escaped_names_and_values_are_escaped_again_and_plain_ones_copied() {
    // Escape sequences in the text give strings that must be escaped again on the way out
    // (quote, backslash, control characters), or not (`\u00e9` is plain UTF-8 once read).
    let text = r#"[{"plain":"value","n":-1.5,"t":true,"q\"uote":"back\\slash\ttab\u0001","e\u00e9":"\u00e9"}]"#;
    let rows = parse(text.as_bytes())
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
        .rows;
    let content = rows.finish("Custom:T", true).unwrap().content;
    assert_eq!(
        String::from_utf8(content).unwrap(),
        r#"[{"eé":"é","n":"-1.5","plain":"value","q\"uote":"back\\slash\ttab\u0001","t":"true"}]"#
    );
}

#[test]
fn a_row_with_the_last_rows_names_leaves_the_checks_of_later_names_whole() {
    // Rows whose names are the last row's are not checked by name again; a name spelled
    // differently later must still be refused, and at the row the checks from maps name.
    for text in [
        r#"[{"A":"1","b":"2"},{"A":"3","b":"4"},{"a":"5"}]"#,
        r#"[{"A":"1"},{"A":"2"},{"B":"3"},{"B":"4"},{"A":"5"},{"b":"6"}]"#,
        r#"[{},{},{"A":"1"},{"A":"2"},{"x":"3","a":"4"}]"#,
        r#"[{"A":"1","C":"2"},{"C":"3","A":"4"},{"A":"5","C":"6"},{"c":"7"}]"#,
    ] {
        let streamed = parse(text.as_bytes())
            .unwrap()
            .into_iter()
            .next()
            .unwrap()
            .rows;
        let expected = Rows::from(maps_of(text).as_slice()).finish("Custom:T", false);
        let got = streamed.finish("Custom:T", false);
        assert!(
            matches!(
                got,
                Err(crate::inventory::ItemError::AttributeSpelling { .. })
            ),
            "{text}: {got:?}"
        );
        assert_eq!(got, expected, "{text}");
    }
}
