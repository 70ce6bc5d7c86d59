//! Boundary tests for every PutInventory rule (at the limit passes, one over fails naming the
//! limit) and the ContentHash properties.

use super::*;

fn row(pairs: &[(&str, &str)]) -> Row {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn raw(type_name: &str, rows: Vec<Row>) -> RawItem {
    RawItem {
        type_name: type_name.into(),
        schema_version: "1.0".into(),
        capture_time: "2026-11-27T10:00:00Z".into(),
        rows,
        context: None,
        keep_order: false,
    }
}

fn err(raw: RawItem) -> String {
    Item::new(raw)
        .expect_err("item should be refused")
        .to_string()
}

#[test]
fn type_name_length_counts_characters() {
    let at_limit = format!("Custom:{}", "a".repeat(93));
    assert_eq!(at_limit.chars().count(), 100);
    assert!(Item::new(raw(&at_limit, vec![])).is_ok());

    let over = format!("Custom:{}", "a".repeat(94));
    let msg = err(raw(&over, vec![]));
    assert!(msg.contains("101 characters"), "{msg}");
    assert!(msg.contains("limit of 100"), "{msg}");

    // 93 three-byte characters: 286 bytes, but 100 characters.
    let multibyte = format!("Custom:{}", "€".repeat(93));
    assert!(multibyte.len() > 100);
    assert!(Item::new(raw(&multibyte, vec![])).is_ok());
    let multibyte_over = format!("Custom:{}", "€".repeat(94));
    assert!(err(raw(&multibyte_over, vec![])).contains("limit of 100"));
}

#[test]
fn type_name_prefix() {
    assert!(err(raw("Stage", vec![])).contains("must start with `Custom:`"));
    let aws = err(raw("AWS:Application", vec![]));
    assert!(aws.contains("SSM Agent"), "{aws}");
    assert!(err(raw("custom:Stage", vec![])).contains("must start with"));
    assert!(err(raw("Custom:", vec![])).contains("nothing after"));
    assert!(err(raw("", vec![])).contains("empty"));
    assert!(Item::new(raw("Custom:S", vec![])).is_ok());
}

#[test]
fn rows_limit() {
    let at_limit = (0..10_000).map(|i| row(&[("N", &i.to_string())])).collect();
    assert!(Item::new(raw("Custom:Rows", at_limit)).is_ok());
    let over = (0..10_001).map(|i| row(&[("N", &i.to_string())])).collect();
    let msg = err(raw("Custom:Rows", over));
    assert!(msg.contains("10001 rows"), "{msg}");
    assert!(msg.contains("limit of 10000"), "{msg}");
    assert!(msg.contains("Custom:Rows"), "{msg}");
}

#[test]
fn attributes_per_row_limit() {
    let names: Vec<String> = (0..51).map(|i| format!("A{i:02}")).collect();
    let make = |n: usize| -> Row { names[..n].iter().map(|k| (k.clone(), "v".into())).collect() };
    assert!(Item::new(raw("Custom:Attrs", vec![make(1), make(50)])).is_ok());
    let msg = err(raw("Custom:Attrs", vec![make(1), make(51)]));
    assert!(msg.contains("row 1 has 51 attributes"), "{msg}");
    assert!(msg.contains("limit of 50"), "{msg}");
}

#[test]
fn attribute_name_length() {
    let name64 = "n".repeat(64);
    assert!(Item::new(raw("Custom:Names", vec![row(&[(&name64, "v")])])).is_ok());
    let name65 = "n".repeat(65);
    let msg = err(raw(
        "Custom:Names",
        vec![row(&[("a", "b")]), row(&[(&name65, "v")])],
    ));
    assert!(msg.contains("row 1 attribute name"), "{msg}");
    assert!(msg.contains("65 characters"), "{msg}");
    assert!(msg.contains("limit of 64"), "{msg}");

    let wide64 = "ü".repeat(64);
    assert!(Item::new(raw("Custom:Names", vec![row(&[(&wide64, "v")])])).is_ok());
    let wide65 = "ü".repeat(65);
    assert!(err(raw("Custom:Names", vec![row(&[(&wide65, "v")])])).contains("limit of 64"));

    let msg = err(raw("Custom:Names", vec![row(&[("", "v")])]));
    assert!(msg.contains("empty name"), "{msg}");
}

#[test]
fn attribute_value_length() {
    let v4096 = "x".repeat(4096);
    assert!(Item::new(raw("Custom:Values", vec![row(&[("V", &v4096)])])).is_ok());
    let v4097 = "x".repeat(4097);
    let msg = err(raw("Custom:Values", vec![row(&[("V", &v4097)])]));
    assert!(msg.contains("row 0 attribute `V`"), "{msg}");
    assert!(msg.contains("4097 characters"), "{msg}");
    assert!(msg.contains("limit of 4096"), "{msg}");

    // 4,096 four-byte characters are 16 KiB but still within the limit.
    let emoji4096 = "🦀".repeat(4096);
    assert!(Item::new(raw("Custom:Values", vec![row(&[("V", &emoji4096)])])).is_ok());
    let emoji4097 = "🦀".repeat(4097);
    assert!(err(raw("Custom:Values", vec![row(&[("V", &emoji4097)])])).contains("limit of 4096"));
    assert!(Item::new(raw("Custom:Values", vec![row(&[("V", "")])])).is_ok());
}

#[test]
fn one_spelling_per_attribute_name() {
    let msg = err(raw(
        "Custom:Pkg",
        vec![row(&[("Vendor", "a")]), row(&[("vendor", "b")])],
    ));
    assert!(msg.contains("row 1"), "{msg}");
    assert!(
        msg.contains("`vendor`") && msg.contains("`Vendor`"),
        "{msg}"
    );
    // Within one row too.
    assert!(
        err(raw(
            "Custom:Pkg",
            vec![row(&[("Vendor", "a"), ("VENDOR", "b")])]
        ))
        .contains("spells")
    );
    // The same spelling in many rows is fine.
    assert!(
        Item::new(raw(
            "Custom:Pkg",
            vec![row(&[("Vendor", "a")]), row(&[("Vendor", "b")])]
        ))
        .is_ok()
    );
}

#[test]
fn schema_version_pattern() {
    for good in ["1.0", "0.1", "123456.654321", "1.000000"] {
        let mut r = raw("Custom:S", vec![]);
        r.schema_version = good.into();
        assert!(Item::new(r).is_ok(), "{good}");
    }
    for bad in [
        "1",
        "1.",
        ".1",
        "1.0.0",
        "1234567.0",
        "0.1234567",
        "a.b",
        "1,0",
        "",
        " 1.0",
        "١.٠",
    ] {
        let mut r = raw("Custom:S", vec![]);
        r.schema_version = bad.into();
        let msg = err(r);
        assert!(msg.contains("SchemaVersion"), "{bad}: {msg}");
        assert!(msg.contains("1 to 6 digits"), "{bad}: {msg}");
    }
}

#[test]
fn capture_time_pattern() {
    for good in [
        "2000-01-01T00:00:00Z",
        "2099-12-31T23:59:59Z",
        "2026-02-30T12:00:00Z",
    ] {
        let mut r = raw("Custom:S", vec![]);
        r.capture_time = good.into();
        assert!(Item::new(r).is_ok(), "{good}");
    }
    for bad in [
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:60Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.000Z",
        "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00+00:00",
    ] {
        let mut r = raw("Custom:S", vec![]);
        r.capture_time = bad.into();
        let msg = err(r);
        assert!(msg.contains("CaptureTime"), "{bad}: {msg}");
    }
}

#[test]
fn context_is_refused_on_custom_types() {
    let mut r = raw("Custom:S", vec![]);
    r.context = Some([("a".to_string(), "b".to_string())].into());
    let msg = err(r);
    assert!(msg.contains("Context"), "{msg}");
    assert!(msg.contains("Custom:S"), "{msg}");
}

#[test]
fn errors_name_their_type() {
    let e = Item::new(raw("Custom:Pkg", vec![row(&[("", "v")])])).unwrap_err();
    assert_eq!(e.type_name(), Some("Custom:Pkg"));
}

fn hash_of(rows: Vec<Row>, keep_order: bool) -> String {
    let mut r = raw("Custom:H", rows);
    r.keep_order = keep_order;
    Item::new(r).unwrap().content_hash().to_string()
}

#[test]
fn known_hash_vector() {
    let h = hash_of(vec![row(&[("Stage", "PreProd")])], false);
    assert_eq!(h, "Rj1EYYBMiRLsd5ATYE2hUw==");
    assert_eq!(h.len(), CONTENT_HASH_LEN);
    assert_eq!(
        canonical::canonical_content(&[row(&[("Stage", "PreProd")])]),
        br#"[{"Stage":"PreProd"}]"#
    );
}

#[test]
fn hash_ignores_key_and_row_order_but_not_values() {
    let a = row(&[("Name", "nginx"), ("Version", "1.24")]);
    let b = row(&[("Name", "curl"), ("Version", "8.0")]);
    let base = hash_of(vec![a.clone(), b.clone()], false);
    assert_eq!(base, hash_of(vec![b.clone(), a.clone()], false));
    // Keys are a map: inserting in another order gives the same row.
    let a_rev: Row = [("Version", "1.24"), ("Name", "nginx")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(base, hash_of(vec![b.clone(), a_rev], false));

    let changed = row(&[("Name", "nginx"), ("Version", "1.25")]);
    assert_ne!(base, hash_of(vec![changed, b.clone()], false));
    let renamed = row(&[("Name", "nginx"), ("Versions", "1.24")]);
    assert_ne!(base, hash_of(vec![renamed, b.clone()], false));
    assert_ne!(base, hash_of(vec![a.clone()], false));
    assert_ne!(hash_of(vec![], false), base);
    for h in [&base, &hash_of(vec![], false)] {
        assert_eq!(h.len(), 24);
    }
}

#[test]
fn keep_order_makes_row_order_significant() {
    let a = row(&[("Step", "1")]);
    let b = row(&[("Step", "2")]);
    assert_ne!(
        hash_of(vec![a.clone(), b.clone()], true),
        hash_of(vec![b.clone(), a.clone()], true)
    );
    let kept = Item::new(RawItem {
        keep_order: true,
        ..raw("Custom:O", vec![b.clone(), a.clone()])
    })
    .unwrap();
    assert_eq!(kept.content(), &[b, a]);
}

#[test]
fn escapes_do_not_collide() {
    // A value holding what looks like a row separator must not hash like two rows.
    let one = hash_of(vec![row(&[("A", "1\"},{\"A\":\"2")])], false);
    let two = hash_of(vec![row(&[("A", "1")]), row(&[("A", "2")])], false);
    assert_ne!(one, two);
}

#[test]
fn capture_time_format() {
    let t = time::macros::datetime!(2026-03-04 05:06:07.89 UTC);
    assert_eq!(format_capture_time(t), "2026-03-04T05:06:07Z");
    assert!(validate::is_capture_time(&capture_time_now()));
}

#[test]
fn a_row_with_the_last_rows_names_has_its_values_checked_and_later_names_compared() {
    use validate::RowChecker;
    let long = "x".repeat(limits::MAX_ATTRIBUTE_VALUE_CHARS + 1);
    let mut checker = RowChecker::default();
    checker.row(0, 2).unwrap();
    checker.attribute(0, 0, "Name", "a").unwrap();
    checker.attribute(0, 1, "Size", "1").unwrap();
    // Names as the last row's: values are still checked, and the count.
    checker.row_as_last(1, 2).unwrap();
    checker.attribute(1, 0, "Name", "b").unwrap();
    let e = checker.attribute(1, 1, "Size", &long).unwrap_err();
    assert!(matches!(e, ItemError::ValueTooLong { row: 1, .. }), "{e}");
    assert!(matches!(
        checker.row_as_last(2, limits::MAX_ATTRIBUTES_PER_ROW + 1),
        Err(ItemError::TooManyAttributes { row: 2, .. })
    ));
    // After rows taken as the last one's, a name spelled differently is still refused.
    checker.row_as_last(3, 2).unwrap();
    checker.attribute(3, 0, "Name", "c").unwrap();
    checker.attribute(3, 1, "Size", "2").unwrap();
    checker.row(4, 1).unwrap();
    let e = checker.attribute(4, 0, "size", "3").unwrap_err();
    assert!(
        matches!(&e, ItemError::AttributeSpelling { row: 4, first, .. } if first == "Size"),
        "{e}"
    );
}
