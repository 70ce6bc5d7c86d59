use super::*;
use proptest::prelude::*;

fn canonicalize(type_name: &str, rows: Vec<Row>, keep_order: bool) -> Result<Canonical, ItemError> {
    Rows::from(&rows[..]).finish(type_name, keep_order)
}

/// Rows already in canonical order become the Content as they are, and are the same Content
/// as when they come in another order.
#[test]
fn rows_in_order_are_not_copied_and_give_the_same_content() {
    let row = |name: &str| -> Row { [("Name".to_owned(), name.to_owned())].into_iter().collect() };
    let sorted = canonicalize("Custom:T", vec![row("a"), row("b"), row("c")], false).unwrap();
    let shuffled = canonicalize("Custom:T", vec![row("c"), row("a"), row("b")], false).unwrap();
    assert_eq!(sorted, shuffled);
    assert_eq!(
        sorted.content,
        br#"[{"Name":"a"},{"Name":"b"},{"Name":"c"}]"#
    );
    assert_eq!(
        canonicalize("Custom:T", vec![], false).unwrap().content,
        b"[]"
    );
    let kept = canonicalize("Custom:T", vec![row("c"), row("a")], true).unwrap();
    assert_eq!(kept.content, br#"[{"Name":"c"},{"Name":"a"}]"#);
}

#[test]
fn escapes_as_serde_json_does() {
    let row: Row = [
        ("q\"uote".to_owned(), "back\\slash".to_owned()),
        (
            "ctl".to_owned(),
            "\u{0}\u{8}\u{9}\n\u{b}\u{c}\r\u{1f}\u{7f}".to_owned(),
        ),
        ("ünï".to_owned(), "€ \u{1F600} /".to_owned()),
        (String::new(), String::new()),
    ]
    .into_iter()
    .collect();
    assert_eq!(row_json(&row), serde_json::to_vec(&row).unwrap());
    assert_eq!(row_json(&Row::new()), b"{}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The hand-written writer is serde_json, byte for byte, on any text.
    #[test]
    fn row_json_is_serde_json(
        row in prop::collection::btree_map("(?s).{0,8}", "(?s).{0,24}", 0..6),
    ) {
        prop_assert_eq!(row_json(&row), serde_json::to_vec(&row).unwrap());
    }

    /// The word-at-a-time search finds what a byte-by-byte search finds.
    #[test]
    fn first_escape_is_exact(bytes in prop::collection::vec(
        prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..=0xff], 0..40)) {
        prop_assert_eq!(first_escape(&bytes), bytes.iter().position(|&b| needs_escape(b)));
    }

    /// The keyed sort orders rows by their canonical bytes, like sorting the bytes does.
    #[test]
    fn rows_are_sorted_by_their_bytes(
        rows in prop::collection::vec(
            prop::collection::btree_map("[ab]{1,2}", "[ab]{0,12}", 0..3), 0..12),
    ) {
        let canonical = canonicalize("Custom:T", rows.clone(), false).unwrap();
        let mut expected: Vec<Vec<u8>> = rows.iter().map(row_json).collect();
        expected.sort();
        let expected = [b"[".to_vec(), expected.join(&b","[..]), b"]".to_vec()].concat();
        prop_assert_eq!(canonical.content, expected);
    }

    /// Checking on the way gives the first error `check_rows` gives, or none when it
    /// gives none.
    #[test]
    fn errors_are_those_of_check_rows(
        rows in prop::collection::vec(
            prop::collection::btree_map(
                prop_oneof![
                    Just("Name".to_owned()), Just("name".to_owned()), Just("Port".to_owned()),
                    Just(String::new()), Just("N".repeat(65)),
                ],
                prop_oneof![Just("v".to_owned()), Just("v".repeat(4097))],
                0..4,
            ),
            0..5,
        ),
    ) {
        let expected = super::super::validate::check_rows("Custom:T", &rows).err();
        prop_assert_eq!(canonicalize("Custom:T", rows.clone(), false).err(), expected);
    }

    /// The bytes are the canonical rows, in byte order or as given with `keep_order`.
    #[test]
    fn the_bytes_are_the_canonical_rows(
        rows in prop::collection::vec(
            prop::collection::btree_map("[a-c]{1,2}", "(?s).{0,6}", 0..3), 0..6),
        keep_order in any::<bool>(),
    ) {
        let canonical = canonicalize("Custom:T", rows.clone(), keep_order).unwrap();
        let mut in_order = rows.clone();
        if !keep_order {
            in_order.sort_by_key(row_json);
        }
        prop_assert_eq!(canonical.content, canonical_content(&in_order));
    }
}
